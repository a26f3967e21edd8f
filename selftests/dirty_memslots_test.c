// SPDX-License-Identifier: GPL-2.0
/*
 * Memslot changes while tracking: a slot created, deleted, moved or
 * re-flagged by the VMM between two rounds is reported (wholly dirty, or
 * removed) and then tracked exactly again; a slot the VMM logs for itself
 * keeps its dirty bits (lm reports it wholly dirty instead of taking
 * them); stopping turns logging off only where lm turned it on.
 */
#include "kselftest_harness.h"
#include "dirty_util.h"

#define NR_DATA_SLOTS	3
#define SLOT(i)		(DIRTY_FIRST_DATA_SLOT + (i))
#define SLOT_PAGES	(DIRTY_DATA_SLOT_SIZE >> PAGE_SHIFT)

FIXTURE(memslots) {
	struct dirty_vm dv;
};

FIXTURE_SETUP(memslots)
{
	REQUIRE_KVM();
	ASSERT_EQ(0, dirty_vm_create(&self->dv, 1, NR_DATA_SLOTS));
}

FIXTURE_TEARDOWN(memslots)
{
	if (self->dv.vm)
		dirty_vm_destroy(&self->dv);
}

/* KVM_SET_USER_MEMORY_REGION behind the library's back. */
static int set_region(struct dirty_vm *dv, uint32_t slot, uint64_t gpa,
		      uint64_t size, uint32_t flags, void *hva)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot, .flags = flags, .guest_phys_addr = gpa,
		.memory_size = size, .userspace_addr = (uintptr_t)hva,
	};

	return __vm_ioctl(dv->vm, KVM_SET_USER_MEMORY_REGION, &r) ? -errno : 0;
}

static void *slot_hva(struct dirty_vm *dv, unsigned int i)
{
	return vm_memslot(dv->vm, SLOT(i))->hva;
}

/* Sync a round and return it; fails the test on error. */
#define SYNC(dv, r) do {						\
	ASSERT_EQ(0, lm_nl_track_sync((dv)->nl, (dv)->id, (r)))		\
		TH_LOG("TRACK_SYNC: %s", lm_nl_extack((dv)->nl));	\
} while (0)

/*
 * Write @n pages from the start of data slot @i, sync, and check that the
 * round reports exactly them in that slot.
 */
static void __write_and_check(struct __test_metadata *_metadata,
			      struct dirty_vm *dv, unsigned int i, uint64_t n)
{
	static uint64_t gpas[64];
	static struct frame_set reported;
	struct lm_track_round r;
	const struct lm_track_slot *s;
	uint64_t k, nr;

	for (k = 0; k < n; k++)
		gpas[k] = dirty_data_gpa(i) + 2 * k * PAGE_SIZE;
	dirty_write_pages(dv, gpas, n, 0xabcd);
	SYNC(dv, &r);
	s = dirty_round_slot(&r, SLOT(i));
	ASSERT_NE(NULL, s);
	EXPECT_EQ(LM_TRACK_SLOT_LOGGED, s->state);
	EXPECT_EQ(n, s->dirty);
	lm_track_round_free(&r);
	ASSERT_EQ(0, dirty_get_set(dv->nl, dv->id, &reported, &nr, NULL));
	for (k = 0; k < SLOT_PAGES; k++) {
		uint64_t gfn = (dirty_data_gpa(i) >> PAGE_SHIFT) + k;

		ASSERT_EQ(k % 2 == 0 && k / 2 < n,
			  frame_set_has(&reported, gfn))
			TH_LOG("slot %u page %lu", SLOT(i), k);
	}
}

#define write_and_check(dv, i, n) __write_and_check(_metadata, dv, i, n)

static uint32_t listed_flags(struct dirty_vm *dv, uint32_t slot)
{
	struct lm_vm_list list;
	uint32_t flags = ~0u;
	size_t i;

	if (!lm_nl_list(dv->nl, true, dv->id, &list) && list.nr_vms == 1)
		for (i = 0; i < list.vms[0].nr_memslots; i++)
			if (list.vms[0].memslots[i].id == slot)
				flags = list.vms[0].memslots[i].flags;
	lm_vm_list_free(&list);
	return flags;
}

TEST_F(memslots, added)
{
	struct dirty_vm *dv = &self->dv;
	struct lm_track_round r;
	const struct lm_track_slot *s;

	/* Slot 12 goes away before tracking and comes back during it. */
	ASSERT_EQ(0, set_region(dv, SLOT(2), dirty_data_gpa(2), 0, 0,
				slot_hva(dv, 2)));
	ASSERT_EQ(0, lm_nl_track_start(dv->nl, dv->id));
	SYNC(dv, &r);
	EXPECT_EQ(NULL, dirty_round_slot(&r, SLOT(2)));
	lm_track_round_free(&r);

	ASSERT_EQ(0, set_region(dv, SLOT(2), dirty_data_gpa(2),
				DIRTY_DATA_SLOT_SIZE, 0, slot_hva(dv, 2)));
	SYNC(dv, &r);
	s = dirty_round_slot(&r, SLOT(2));
	ASSERT_NE(NULL, s);
	EXPECT_EQ(LM_TRACK_SLOT_NEW, s->state);
	EXPECT_EQ(SLOT_PAGES, s->dirty);
	EXPECT_EQ(SLOT_PAGES, s->pages);
	lm_track_round_free(&r);

	/* From the next round on it is tracked page by page. */
	write_and_check(dv, 2, 5);
	write_and_check(dv, 0, 3);
	ASSERT_EQ(0, lm_nl_track_stop(dv->nl, dv->id));
}

TEST_F(memslots, removed)
{
	struct dirty_vm *dv = &self->dv;
	struct lm_track_round r;
	const struct lm_track_slot *s;
	size_t i;

	ASSERT_EQ(0, lm_nl_track_start(dv->nl, dv->id));
	SYNC(dv, &r);
	lm_track_round_free(&r);
	ASSERT_EQ(0, set_region(dv, SLOT(1), dirty_data_gpa(1), 0, 0,
				slot_hva(dv, 1)));

	SYNC(dv, &r);
	s = NULL;
	for (i = 0; i < r.nr_slots; i++)
		if (r.slots[i].id == SLOT(1))
			s = &r.slots[i];
	ASSERT_NE(NULL, s);
	EXPECT_EQ(LM_TRACK_SLOT_REMOVED, s->state);
	EXPECT_EQ(0, s->dirty);
	lm_track_round_free(&r);

	/* Reported once; the other slots go on exactly. */
	SYNC(dv, &r);
	for (i = 0; i < r.nr_slots; i++)
		EXPECT_NE(SLOT(1), r.slots[i].id);
	lm_track_round_free(&r);
	write_and_check(dv, 0, 4);
	write_and_check(dv, 2, 4);
	ASSERT_EQ(0, lm_nl_track_stop(dv->nl, dv->id));
}

TEST_F(memslots, moved)
{
	struct dirty_vm *dv = &self->dv;
	uint64_t new_gpa = dirty_data_gpa(1) + DIRTY_DATA_SLOT_SIZE;
	struct lm_track_round r;
	const struct lm_track_slot *s;

	ASSERT_EQ(0, lm_nl_track_start(dv->nl, dv->id));
	SYNC(dv, &r);
	lm_track_round_free(&r);
	/* Into the hole after it: KVM_MR_MOVE keeps id and memory. */
	ASSERT_EQ(0, set_region(dv, SLOT(1), new_gpa, DIRTY_DATA_SLOT_SIZE, 0,
				slot_hva(dv, 1)));
	SYNC(dv, &r);
	s = dirty_round_slot(&r, SLOT(1));
	ASSERT_NE(NULL, s);
	EXPECT_EQ(LM_TRACK_SLOT_NEW, s->state);
	EXPECT_EQ(new_gpa >> PAGE_SHIFT, s->gfn);
	EXPECT_EQ(SLOT_PAGES, s->dirty);
	lm_track_round_free(&r);

	SYNC(dv, &r);
	s = dirty_round_slot(&r, SLOT(1));
	ASSERT_NE(NULL, s);
	EXPECT_EQ(LM_TRACK_SLOT_LOGGED, s->state);
	EXPECT_EQ(0, s->dirty);
	lm_track_round_free(&r);
	write_and_check(dv, 0, 6);
	ASSERT_EQ(0, lm_nl_track_stop(dv->nl, dv->id));
}

TEST_F(memslots, reflagged)
{
	struct dirty_vm *dv = &self->dv;
	struct lm_track_round r;
	const struct lm_track_slot *s;

	ASSERT_EQ(0, lm_nl_track_start(dv->nl, dv->id));
	EXPECT_EQ(KVM_MEM_LOG_DIRTY_PAGES, listed_flags(dv, SLOT(0)));
	write_and_check(dv, 0, 2);

	/* The VMM rewrites the flags it knows of: logging is dropped. */
	ASSERT_EQ(0, set_region(dv, SLOT(0), dirty_data_gpa(0),
				DIRTY_DATA_SLOT_SIZE, 0, slot_hva(dv, 0)));
	EXPECT_EQ(0, listed_flags(dv, SLOT(0)));
	SYNC(dv, &r);
	s = dirty_round_slot(&r, SLOT(0));
	ASSERT_NE(NULL, s);
	EXPECT_EQ(LM_TRACK_SLOT_NEW, s->state);
	EXPECT_EQ(SLOT_PAGES, s->dirty);
	lm_track_round_free(&r);

	/* lm turned logging on again: writes are seen one by one. */
	EXPECT_EQ(KVM_MEM_LOG_DIRTY_PAGES, listed_flags(dv, SLOT(0)));
	write_and_check(dv, 0, 7);
	ASSERT_EQ(0, lm_nl_track_stop(dv->nl, dv->id));
	EXPECT_EQ(0, listed_flags(dv, SLOT(0)));
}

TEST_F(memslots, vmm_logged)
{
	struct dirty_vm *dv = &self->dv;
	uint64_t bitmap[SLOT_PAGES / 64];
	uint64_t gpas[8], k;
	struct lm_track_round r;
	const struct lm_track_slot *s;

	/* The VMM logs slot 11 itself, and has harvested it once. */
	vm_set_memslot_flags(dv->vm, SLOT(1), KVM_MEM_LOG_DIRTY_PAGES);
	vm_get_dirty_log(dv->vm, SLOT(1), bitmap);

	ASSERT_EQ(0, lm_nl_track_start(dv->nl, dv->id));
	for (k = 0; k < 8; k++)
		gpas[k] = dirty_data_gpa(1) + 3 * k * PAGE_SIZE;
	dirty_write_pages(dv, gpas, 8, 1);

	SYNC(dv, &r);
	s = dirty_round_slot(&r, SLOT(1));
	ASSERT_NE(NULL, s);
	EXPECT_EQ(LM_TRACK_SLOT_VMM_LOGGED, s->state);
	EXPECT_EQ(SLOT_PAGES, s->dirty);
	lm_track_round_free(&r);
	SYNC(dv, &r);
	s = dirty_round_slot(&r, SLOT(1));
	ASSERT_NE(NULL, s);
	EXPECT_EQ(SLOT_PAGES, s->dirty);
	lm_track_round_free(&r);

	/* The VMM's own log still has exactly its pages: none were taken. */
	vm_get_dirty_log(dv->vm, SLOT(1), bitmap);
	for (k = 0; k < SLOT_PAGES; k++)
		ASSERT_EQ(k % 3 == 0 && k / 3 < 8,
			  (bitmap[k / 64] >> (k % 64)) & 1)
			TH_LOG("page %lu of the VMM's slot", k);

	/* Other slots are tracked as usual. */
	write_and_check(dv, 0, 3);

	/* Stopping leaves the VMM's logging on, and turns lm's off. */
	ASSERT_EQ(0, lm_nl_track_stop(dv->nl, dv->id));
	EXPECT_EQ(KVM_MEM_LOG_DIRTY_PAGES, listed_flags(dv, SLOT(1)));
	EXPECT_EQ(0, listed_flags(dv, SLOT(0)));
	EXPECT_EQ(0, listed_flags(dv, SLOT(2)));
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * Exactness of dirty tracking: between two rounds the guest writes a
 * seeded random set of data pages, and nothing else of the data slots;
 * every written page must be reported (zero misses), and no data page that
 * was not written may be (the guest's own stack and ucall pages, outside
 * the data slots, are the only other pages it writes: they are counted as
 * spurious and printed). 32 rounds, with 1 and 2 vCPUs writing in
 * parallel, data in 1 and 4 memslots, with KVM's manual dirty-log
 * protection off and on.
 */
#include "kselftest_harness.h"
#include "dirty_util.h"

#define ROUNDS		32
#define PAGES_PER_ROUND	1024
#define SEED		0x1f2e3d4c5b6a7988ULL

FIXTURE(exact) {
	struct dirty_vm dv;
};

FIXTURE_VARIANT(exact) {
	unsigned int nr_vcpus;
	unsigned int nr_slots;
	uint64_t manual_protect;	/* KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 */
};

FIXTURE_VARIANT_ADD(exact, one_vcpu_one_slot) {
	.nr_vcpus = 1, .nr_slots = 1,
};

FIXTURE_VARIANT_ADD(exact, two_vcpus_one_slot) {
	.nr_vcpus = 2, .nr_slots = 1,
};

FIXTURE_VARIANT_ADD(exact, one_vcpu_four_slots) {
	.nr_vcpus = 1, .nr_slots = 4,
};

FIXTURE_VARIANT_ADD(exact, two_vcpus_four_slots) {
	.nr_vcpus = 2, .nr_slots = 4,
};

FIXTURE_VARIANT_ADD(exact, manual_protect) {
	.nr_vcpus = 2, .nr_slots = 4,
	.manual_protect = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE,
};

FIXTURE_VARIANT_ADD(exact, manual_protect_initially_set) {
	.nr_vcpus = 2, .nr_slots = 2,
	.manual_protect = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE |
			  KVM_DIRTY_LOG_INITIALLY_SET,
};

FIXTURE_SETUP(exact)
{
	REQUIRE_KVM();
	self->dv.vm = NULL;
}

FIXTURE_TEARDOWN(exact)
{
	if (self->dv.vm)
		dirty_vm_destroy(&self->dv);
}

static bool in_data_slot(const struct dirty_vm *dv, uint64_t gfn)
{
	uint64_t gpa = gfn << PAGE_SHIFT;
	unsigned int i;

	for (i = 0; i < dv->nr_data_slots; i++)
		if (gpa >= dirty_data_gpa(i) &&
		    gpa < dirty_data_gpa(i) + DIRTY_DATA_SLOT_SIZE)
			return true;
	return false;
}

TEST_F(exact, rounds)
{
	struct dirty_vm *dv = &self->dv;
	static uint64_t gpas[PAGES_PER_ROUND];
	static struct frame_set written, reported;
	uint64_t rng = SEED, written_total = 0, reported_total = 0;
	uint64_t missed = 0, spurious = 0, nr, round;
	struct lm_track_round r;
	unsigned int i;
	uint64_t gfn;

	ASSERT_EQ(0, dirty_vm_create(dv, variant->nr_vcpus, variant->nr_slots));
	if (variant->manual_protect) {
		struct kvm_enable_cap cap = {
			.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
			.args[0] = variant->manual_protect,
		};
		int allowed = __kvm_ioctl(dv->vm, KVM_CHECK_EXTENSION,
					  KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);

		if ((allowed & variant->manual_protect) !=
		    variant->manual_protect)
			SKIP(return, "KVM lacks manual protect mode %#lx",
			     variant->manual_protect);
		vm_ioctl(dv->vm, KVM_ENABLE_CAP, &cap);
	}

	ASSERT_EQ(0, lm_nl_track_start(dv->nl, dv->id))
		TH_LOG("TRACK_START: %s", lm_nl_extack(dv->nl));

	/* Round 1: whatever happened before; initially-set reports all. */
	ASSERT_EQ(0, lm_nl_track_sync(dv->nl, dv->id, &r))
		TH_LOG("TRACK_SYNC: %s", lm_nl_extack(dv->nl));
	EXPECT_EQ(1, r.round);
	EXPECT_EQ(variant->manual_protect != 0, r.manual_protect);
	if (variant->manual_protect & KVM_DIRTY_LOG_INITIALLY_SET)
		EXPECT_EQ(r.pages, r.dirty);
	lm_track_round_free(&r);

	for (i = 0; i < ROUNDS; i++) {
		dirty_choose_pages(dv, &rng, gpas, PAGES_PER_ROUND, &written);
		dirty_write_pages(dv, gpas, PAGES_PER_ROUND, i + 1);

		ASSERT_EQ(0, lm_nl_track_sync(dv->nl, dv->id, &r))
			TH_LOG("TRACK_SYNC: %s", lm_nl_extack(dv->nl));
		ASSERT_EQ(i + 2, r.round);
		ASSERT_EQ(0, dirty_get_set(dv->nl, dv->id, &reported, &nr,
					   &round))
			TH_LOG("TRACK_GET: %s", lm_nl_extack(dv->nl));
		ASSERT_EQ(r.round, round);
		/* The sync's count and the dump agree. */
		ASSERT_EQ(r.dirty, nr);
		lm_track_round_free(&r);

		for (gfn = 0; gfn < DIRTY_NR_FRAMES; gfn++) {
			bool w = frame_set_has(&written, gfn);
			bool rep = frame_set_has(&reported, gfn);

			if (w && !rep) {
				missed++;
				TH_LOG("round %u: page %#lx written, not reported",
				       i + 2, gfn << PAGE_SHIFT);
			}
			/* Data pages are written only when chosen. */
			if (!w && rep && in_data_slot(dv, gfn)) {
				missed++;
				TH_LOG("round %u: data page %#lx reported, not written",
				       i + 2, gfn << PAGE_SHIFT);
			}
		}
		spurious += nr - PAGES_PER_ROUND;
		written_total += PAGES_PER_ROUND;
		reported_total += nr;
	}

	TH_LOG("%u rounds: %lu pages written, %lu reported, %lu missed, %lu spurious (%.3f%%: guest stack and ucall pages)",
	       ROUNDS, written_total, reported_total, missed, spurious,
	       100.0 * spurious / reported_total);
	ASSERT_EQ(0, missed);
	ASSERT_EQ(0, lm_nl_track_stop(dv->nl, dv->id))
		TH_LOG("TRACK_STOP: %s", lm_nl_extack(dv->nl));
}

TEST_HARNESS_MAIN

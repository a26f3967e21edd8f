/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the dirty tracking tests (dirty_*_test.c): a guest whose data
 * pages are written by page-writer vCPUs exactly when the test says so,
 * spread over one or several memslots; the VM attached to lm; and the set
 * of pages a round reported, as a bitmap over guest frames.
 *
 * Include after kselftest_harness.h.
 */
#ifndef DIRTY_UTIL_H
#define DIRTY_UTIL_H

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/kvm.h>
#include <linux/lm.h>

#include "lm_nl.h"
#include "lmkvm.h"

#define DIRTY_MAX_VCPUS		2
#define DIRTY_MAX_DATA_SLOTS	4
/* Data slots: 8 MiB each, from 32 MiB on, with 8 MiB holes between. */
#define DIRTY_DATA_START	(32 * MiB)
#define DIRTY_DATA_SLOT_SIZE	(8 * MiB)
#define DIRTY_DATA_STRIDE	(16 * MiB)
#define DIRTY_FIRST_DATA_SLOT	10
#define DIRTY_MEM_END		(DIRTY_DATA_START + \
				 DIRTY_MAX_DATA_SLOTS * DIRTY_DATA_STRIDE)
#define DIRTY_NR_FRAMES		(DIRTY_MEM_END >> PAGE_SHIFT)

struct dirty_vm {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpus[DIRTY_MAX_VCPUS];
	unsigned int nr_vcpus;
	unsigned int nr_data_slots;
	struct lm_nl *nl;
	uint32_t id;
};

static inline uint64_t dirty_data_gpa(unsigned int slot)
{
	return DIRTY_DATA_START + slot * DIRTY_DATA_STRIDE;
}

/* Pages available for writing: all of every data slot. */
static inline uint64_t dirty_nr_data_pages(const struct dirty_vm *dv)
{
	return dv->nr_data_slots * (DIRTY_DATA_SLOT_SIZE >> PAGE_SHIFT);
}

static inline uint64_t dirty_data_page(const struct dirty_vm *dv, uint64_t i)
{
	uint64_t per_slot = DIRTY_DATA_SLOT_SIZE >> PAGE_SHIFT;

	(void)dv;
	return dirty_data_gpa(i / per_slot) + (i % per_slot) * PAGE_SIZE;
}

/*
 * A guest in long mode: slot 0 and slot 1 as vm_create() makes them (page
 * tables, program image, vCPU stacks), then @nr_data_slots data slots,
 * and @nr_vcpus page writers.
 */
static inline struct kvm_vm *dirty_guest_create(unsigned int nr_vcpus,
						unsigned int nr_data_slots,
						struct kvm_vcpu **vcpus)
{
	struct kvm_vm *vm = vm_create_barebones();
	unsigned int i;

	vm_add_memslot(vm, 0, 0, LM_LOWMEM_END, 0);
	vm_add_memslot(vm, 1, LM_MAINMEM_START,
		       DIRTY_DATA_START - LM_MAINMEM_START, 0);
	for (i = 0; i < nr_data_slots; i++)
		vm_add_memslot(vm, DIRTY_FIRST_DATA_SLOT + i, dirty_data_gpa(i),
			       DIRTY_DATA_SLOT_SIZE, 0);
	vm_setup_long_mode(vm);
	for (i = 0; i < nr_vcpus; i++)
		vcpus[i] = vcpu_add_page_writer(vm, i);
	return vm;
}

/* Create the guest and attach it to lm (this process is its VMM). */
static inline int dirty_vm_create(struct dirty_vm *dv, unsigned int nr_vcpus,
				  unsigned int nr_data_slots)
{
	int ret;

	memset(dv, 0, sizeof(*dv));
	dv->nr_vcpus = nr_vcpus;
	dv->nr_data_slots = nr_data_slots;
	dv->vm = dirty_guest_create(nr_vcpus, nr_data_slots, dv->vcpus);
	/* Run every vCPU once, so that its code and stack are mapped. */
	for (unsigned int i = 0; i < nr_vcpus; i++) {
		uint64_t gpa = dirty_data_gpa(0);

		vcpu_write_pages(dv->vcpus[i], &gpa, 1, 0, 0);
	}
	ret = lm_nl_open(&dv->nl);
	if (ret)
		return ret;
	return lm_nl_attach(dv->nl, dv->vm->fd, 0, &dv->id);
}

static inline void dirty_vm_destroy(struct dirty_vm *dv)
{
	if (dv->nl) {
		if (dv->id)
			lm_nl_detach(dv->nl, dv->id);
		lm_nl_close(dv->nl);
	}
	vm_free(dv->vm);
	memset(dv, 0, sizeof(*dv));
}

struct dirty_writer {
	struct kvm_vcpu *vcpu;
	const uint64_t *gpas;
	uint64_t nr;
	uint64_t value;
};

static inline void *dirty_writer_thread(void *arg)
{
	struct dirty_writer *w = arg;

	vcpu_write_pages(w->vcpu, w->gpas, w->nr, w->value, 0);
	return NULL;
}

/* Have the guest write @gpas, shared out between the vCPUs, in parallel. */
static inline void dirty_write_pages(struct dirty_vm *dv, const uint64_t *gpas,
				     uint64_t nr, uint64_t value)
{
	struct dirty_writer w[DIRTY_MAX_VCPUS];
	pthread_t threads[DIRTY_MAX_VCPUS];
	uint64_t share = (nr + dv->nr_vcpus - 1) / dv->nr_vcpus, done = 0;
	unsigned int i;

	for (i = 0; i < dv->nr_vcpus; i++) {
		w[i].vcpu = dv->vcpus[i];
		w[i].gpas = gpas + done;
		w[i].nr = nr - done < share ? nr - done : share;
		w[i].value = value;
		done += w[i].nr;
		TEST_ASSERT(!pthread_create(&threads[i], NULL,
					    dirty_writer_thread, &w[i]),
			    "pthread_create");
	}
	for (i = 0; i < dv->nr_vcpus; i++)
		pthread_join(threads[i], NULL);
}

/* A bitmap over the guest frames below DIRTY_MEM_END. */
struct frame_set {
	uint64_t bits[DIRTY_NR_FRAMES / 64];
};

static inline void frame_set_add(struct frame_set *s, uint64_t gfn)
{
	if (gfn < DIRTY_NR_FRAMES)
		s->bits[gfn / 64] |= 1ULL << (gfn % 64);
}

static inline bool frame_set_has(const struct frame_set *s, uint64_t gfn)
{
	return gfn < DIRTY_NR_FRAMES && (s->bits[gfn / 64] >> (gfn % 64)) & 1;
}

/* xorshift64*: the tests' seeded choice of pages. */
static inline uint64_t dirty_rand(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * 0x2545f4914f6cdd1dULL;
}

/* Choose @nr distinct data pages at random into @gpas and @chosen. */
static inline void dirty_choose_pages(const struct dirty_vm *dv, uint64_t *rng,
				      uint64_t *gpas, uint64_t nr,
				      struct frame_set *chosen)
{
	uint64_t total = dirty_nr_data_pages(dv), n = 0;

	memset(chosen, 0, sizeof(*chosen));
	while (n < nr) {
		uint64_t gpa = dirty_data_page(dv, dirty_rand(rng) % total);

		if (frame_set_has(chosen, gpa >> PAGE_SHIFT))
			continue;
		frame_set_add(chosen, gpa >> PAGE_SHIFT);
		gpas[n++] = gpa;
	}
}

/*
 * The pages TRACK_GET reports for the last round, into @set; their count
 * into *@nr. Frames beyond the test's layout are counted but not stored.
 */
static inline int dirty_get_set(struct lm_nl *nl, uint32_t id,
				struct frame_set *set, uint64_t *nr,
				uint64_t *round)
{
	struct lm_track_dirty dirty;
	size_t i;
	int ret;

	memset(set, 0, sizeof(*set));
	*nr = 0;
	ret = lm_nl_track_get(nl, id, &dirty);
	if (!ret) {
		for (i = 0; i < dirty.nr_runs; i++) {
			uint64_t gfn;

			for (gfn = dirty.runs[i].gfn;
			     gfn < dirty.runs[i].gfn + dirty.runs[i].npages;
			     gfn++)
				frame_set_add(set, gfn);
			*nr += dirty.runs[i].npages;
		}
		if (round)
			*round = dirty.round;
	}
	lm_track_dirty_free(&dirty);
	return ret;
}

static inline const struct lm_track_slot *
dirty_round_slot(const struct lm_track_round *r, uint32_t id)
{
	size_t i;

	for (i = 0; i < r->nr_slots; i++)
		if (r->slots[i].id == id && r->slots[i].as_id == 0 &&
		    r->slots[i].state != LM_TRACK_SLOT_REMOVED)
			return &r->slots[i];
	return NULL;
}

#define REQUIRE_KVM()							\
do {									\
	if (!kvm_available())						\
		SKIP(return, "/dev/kvm is not available");		\
} while (0)

#endif /* DIRTY_UTIL_H */

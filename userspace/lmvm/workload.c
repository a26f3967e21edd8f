// SPDX-License-Identifier: GPL-2.0
/*
 * Setting up the guest's workload: the shared page and each vCPU's share of
 * the workload pages.
 *
 * Workload pages are all guest memory above the program image and the vCPU
 * stacks: the rest of the main memslot, then the memslot above 4 GiB. They
 * are split into one contiguous share per vCPU, so that every page has
 * exactly one writer and its stamp can be checked against that writer's
 * counters.
 */
#include "lmvm.h"

const char *const lmvm_workload_names[LMVM_NR_WORKLOADS] = {
	[LMVM_IDLE] = "idle",
	[LMVM_SWEEP] = "sweep",
	[LMVM_RANDOM] = "random",
	[LMVM_HOTSET] = "hotset",
};

struct lmvm_shared *shared_page(struct lmvm *lm)
{
	return addr_gpa2hva(lm->vm, LMVM_SHARED_GPA);
}

/*
 * --fill=random: every word of the page after its stamp from xorshift64,
 * seeded by the page's address: no compressor finds anything to take.
 */
static void fill_random(uint64_t *page, uint64_t gpa)
{
	uint64_t x = gpa * 0x9e3779b97f4a7c15ULL | 1;
	unsigned int i;

	for (i = 2; i < PAGE_SIZE / 8; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		page[i] = x;
	}
}

/*
 * --fill: data in every workload page, written from here before any vCPU
 * runs (a guest's first touch of a page is a nested fault under TCG). The
 * stamp at the start of the page stays the workload's: ones go to the
 * last word, random data to the words after the stamp. mixed makes random
 * the pages of every other 2 MiB and every other page in between: memory
 * a compressor can halve, next to memory it cannot shrink at all. @n is
 * the index of the range's first page among all workload pages.
 */
static void fill_range(struct kvm_vm *vm, enum lmvm_fill fill,
		       const struct lmvm_range *r, uint64_t n)
{
	uint64_t p;

	for (p = 0; p < r->nr_pages; p++, n++) {
		uint64_t gpa = r->gpa + p * PAGE_SIZE;
		uint64_t *page = addr_gpa2hva(vm, gpa);
		bool random = fill == LMVM_FILL_RANDOM ||
			      (fill == LMVM_FILL_MIXED &&
			       (!(n / 512 % 2) || n % 2));

		if (random)
			fill_random(page, gpa);
		else
			page[PAGE_SIZE / 8 - 1] = ~0ULL;
	}
}

/*
 * Called after every vCPU was created (their stacks come from vm_alloc()).
 * With --incoming only the vCPUs' entry points are set: the shared page
 * and all the rest of memory arrive with the saved state.
 */
void workload_setup(struct lmvm *lm)
{
	struct lmvm_shared *sh = shared_page(lm);
	struct kvm_vm *vm = lm->vm;
	struct kvm_memslot *high = vm_memslot(vm, 2);
	uint64_t n = lm->cfg.nr_vcpus, i, pps;

	for (i = 0; i < n; i++)
		vcpu_args_set(lm->vcpus[i].vcpu, 2, LMVM_SHARED_GPA, i);
	if (lm->cfg.incoming)
		return;

	memset(sh, 0, sizeof(*sh));
	sh->magic = LMVM_SHARED_MAGIC;
	sh->workload = lm->cfg.workload;
	sh->nr_vcpus = n;
	sh->tsc_khz = vm_tsc_khz(vm);
	pps = lm->cfg.rate_mib * (MiB / PAGE_SIZE) / n;
	sh->tsc_per_page = pps ? sh->tsc_khz * 1000 / pps : 0;
	sh->prefault = lm->cfg.prefault;
	sh->hotset_pages = lm->cfg.hotset_size / PAGE_SIZE / n;
	if (!sh->hotset_pages)
		sh->hotset_pages = 1;

	/* the first free guest page: nothing is vm_alloc()ed after this */
	sh->ranges[0].gpa = vm->alloc_next;
	sh->ranges[0].nr_pages = (vm->alloc_end - vm->alloc_next) / PAGE_SIZE;
	sh->nr_ranges = 1;
	if (high) {
		sh->ranges[1].gpa = high->gpa;
		sh->ranges[1].nr_pages = high->size / PAGE_SIZE;
		sh->nr_ranges = 2;
	}
	for (i = 0; i < sh->nr_ranges; i++) {
		if (lm->cfg.fill)
			fill_range(vm, lm->cfg.fill, &sh->ranges[i],
				   sh->total_pages);
		sh->total_pages += sh->ranges[i].nr_pages;
	}

	for (i = 0; i < n; i++) {
		struct lmvm_vcpu_counters *c = &sh->vcpu[i];

		c->first_page = sh->total_pages * i / n;
		c->nr_pages = sh->total_pages * (i + 1) / n - c->first_page;
		c->generation = 1;
		c->rng = (lm->cfg.seed + 1) * 0x9e3779b97f4a7c15ULL ^
			 (i + 1) * 0xbf58476d1ce4e5b9ULL;
		if (!c->rng)
			c->rng = 1;
	}
}

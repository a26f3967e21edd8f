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
 * --fill: data in every workload page, written from here before any vCPU
 * runs. The last word, as --prefault's store: the stamp at the start of
 * the page stays the workload's.
 */
static void fill_range(struct kvm_vm *vm, const struct lmvm_range *r)
{
	uint64_t p;

	for (p = 0; p < r->nr_pages; p++) {
		uint64_t *page = addr_gpa2hva(vm, r->gpa + p * PAGE_SIZE);

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
		sh->total_pages += sh->ranges[i].nr_pages;
		if (lm->cfg.fill)
			fill_range(vm, &sh->ranges[i]);
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

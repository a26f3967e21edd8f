// SPDX-License-Identifier: GPL-2.0
/*
 * Looking at guest memory from outside: a digest per memslot, and the
 * consistency of every workload page with its writer's counters.
 *
 * Both run with the vCPUs parked, so the guest's stores and its counters
 * are from the same instant.
 */
#include <stdio.h>

#include "lmvm.h"

static inline uint64_t rotl64(uint64_t x, int r)
{
	return x << r | x >> (64 - r);
}

/* A fast 64-bit digest, not cryptographic: good at catching differences. */
uint64_t hash64(const void *buf, size_t len, uint64_t seed)
{
	const uint64_t *w = buf;
	const unsigned char *tail;
	uint64_t h = seed ^ len;
	size_t i;

	for (i = 0; i < len / 8; i++) {
		h ^= rotl64(w[i] * 0x87c37b91114253d5ULL, 31) *
		     0x4cf5ad432745937fULL;
		h = rotl64(h, 27) * 5 + 0x52dce729;
	}
	tail = (const unsigned char *)buf + (len & ~7UL);
	for (i = 0; i < (len & 7); i++)
		h = (h ^ tail[i]) * 0x100000001b3ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

void mem_checksum(struct lmvm *lm, char *out, size_t len)
{
	struct kvm_vm *vm = lm->vm;
	size_t n = snprintf(out, len, "ok");
	unsigned int i;

	for (i = 0; i < vm->nr_memslots && n < len; i++) {
		struct kvm_memslot *ms = &vm->memslots[i];

		n += snprintf(out + n, len - n, " slot%u=%016llx", ms->slot,
			      (unsigned long long)hash64(ms->hva, ms->size, 0));
	}
}

static struct lmvm_stamp *stamp_of(struct kvm_vm *vm,
				   const struct lmvm_shared *sh,
				   uint64_t index, uint64_t *gpa)
{
	uint64_t i;

	for (i = 0; i < sh->nr_ranges; i++) {
		if (index < sh->ranges[i].nr_pages) {
			*gpa = sh->ranges[i].gpa + index * PAGE_SIZE;
			return __addr_gpa2hva(vm, *gpa);
		}
		index -= sh->ranges[i].nr_pages;
	}
	return NULL;
}

/* The range of generations page 'j' of a share may carry; 0: never written. */
static void expected_generations(const struct lmvm_shared *sh,
				 const struct lmvm_vcpu_counters *c,
				 uint64_t j, uint64_t *lo, uint64_t *hi)
{
	uint64_t limit = c->nr_pages, g, cursor;

	switch (sh->workload) {
	case LMVM_HOTSET:
		if (sh->hotset_pages < limit)
			limit = sh->hotset_pages;
		/* fall through */
	case LMVM_SWEEP:
		/* see run_passes(): the position is pages_written */
		g = c->pages_written / limit + 1;
		cursor = c->pages_written % limit;
		if (j >= limit) {
			*lo = *hi = 0;
		} else if (j < cursor) {
			*lo = *hi = g;
		} else if (j == cursor) {
			/* stamped, pages_written not yet moved */
			*lo = g - 1;
			*hi = g;
		} else {
			*lo = *hi = g - 1;
		}
		break;
	case LMVM_RANDOM:
		*lo = 0;
		*hi = c->pages_written + 1;
		break;
	default:
		*lo = *hi = 0;
	}
}

int mem_verify(struct lmvm *lm, char *out, size_t len)
{
	const struct lmvm_shared *sh = shared_page(lm);
	uint64_t checked = 0, stamped = 0, v, j;

	if (sh->magic != LMVM_SHARED_MAGIC || sh->nr_ranges > LMVM_MAX_RANGES ||
	    sh->nr_vcpus != lm->cfg.nr_vcpus ||
	    sh->workload >= LMVM_NR_WORKLOADS) {
		snprintf(out, len, "error: verify: the shared page at %#llx is not lmvm's",
			 LMVM_SHARED_GPA);
		return -1;
	}
	for (v = 0; v < sh->nr_vcpus; v++) {
		const struct lmvm_vcpu_counters *c = &sh->vcpu[v];

		if (c->first_page + c->nr_pages > sh->total_pages ||
		    !c->nr_pages ||
		    (sh->workload == LMVM_HOTSET && !sh->hotset_pages)) {
			snprintf(out, len, "error: verify: counters of vCPU %llu are corrupt",
				 (unsigned long long)v);
			return -1;
		}
		for (j = 0; j < c->nr_pages; j++) {
			uint64_t gpa, lo, hi;
			struct lmvm_stamp *s;

			s = stamp_of(lm->vm, sh, c->first_page + j, &gpa);
			if (!s) {
				snprintf(out, len, "error: verify: workload page %llu is outside guest memory",
					 (unsigned long long)(c->first_page + j));
				return -1;
			}
			checked++;
			expected_generations(sh, c, j, &lo, &hi);
			if (!s->pfn && !s->generation) {
				if (lo == 0)
					continue;
				snprintf(out, len, "error: verify: page %#llx (vCPU %llu, index %llu) was never written, expected generation %llu",
					 (unsigned long long)gpa,
					 (unsigned long long)v,
					 (unsigned long long)j,
					 (unsigned long long)lo);
				return -1;
			}
			stamped++;
			if (s->pfn != gpa / PAGE_SIZE) {
				snprintf(out, len, "error: verify: page %#llx (vCPU %llu, index %llu) has a bad stamp (pfn %#llx, generation %llu)",
					 (unsigned long long)gpa,
					 (unsigned long long)v,
					 (unsigned long long)j,
					 (unsigned long long)s->pfn,
					 (unsigned long long)s->generation);
				return -1;
			}
			if (s->generation < (lo ? lo : 1) ||
			    s->generation > hi) {
				snprintf(out, len, "error: verify: page %#llx (vCPU %llu, index %llu) has generation %llu, expected %llu..%llu (the vCPU wrote %llu pages)",
					 (unsigned long long)gpa,
					 (unsigned long long)v,
					 (unsigned long long)j,
					 (unsigned long long)s->generation,
					 (unsigned long long)lo,
					 (unsigned long long)hi,
					 (unsigned long long)c->pages_written);
				return -1;
			}
		}
	}
	snprintf(out, len, "ok pages=%llu stamped=%llu",
		 (unsigned long long)checked, (unsigned long long)stamped);
	return 0;
}

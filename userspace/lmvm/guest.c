// SPDX-License-Identifier: GPL-2.0
/*
 * The guest side of lmvm: the workloads, run by every vCPU in 64-bit mode.
 *
 * A vCPU owns a contiguous share of the workload pages and keeps all of its
 * state in its counters in the shared page, updating them after every page
 * it writes. Its stores are therefore consistent with its counters whenever
 * the vCPU is out of KVM_RUN, which is what "verify" checks, and the
 * workload carries on from the same point after its memory and registers
 * were saved and loaded elsewhere.
 *
 * Rates are paced by the guest's own clock: page n of a vCPU is due
 * tsc_per_page TSC ticks after page n - 1; a vCPU that falls behind (it
 * was paused, or its host did not run it) catches up at most 100 ms worth
 * of pages, so a pause does not turn into a burst, and counts the pages it
 * dropped in late_pages, so the host can tell a vCPU that was not run from
 * pacing that is wrong.
 */
#include "lmkvm_guest.h"
#include "guest_abi.h"

static uint64_t page_gpa(struct lmvm_shared *sh, uint64_t index)
{
	uint64_t i;

	for (i = 0; i < sh->nr_ranges; i++) {
		if (index < sh->ranges[i].nr_pages)
			return sh->ranges[i].gpa + (index << 12);
		index -= sh->ranges[i].nr_pages;
	}
	GUEST_ASSERT(!"workload page index out of range");
	return 0;
}

typedef uint64_t u64x2 __attribute__((vector_size(16)));

/*
 * One SSE store: a vCPU stops only between instructions, so whenever it is
 * paused (for verify, or for good at a migration's switch) every stamp is
 * whole.
 */
static void stamp_page(struct lmvm_shared *sh, uint64_t index,
		       uint64_t generation)
{
	uint64_t gpa = page_gpa(sh, index);
	u64x2 stamp = { gpa >> 12, generation };

	asm volatile("movdqa %1, %0" : "=m"(*(u64x2 *)gpa) : "x"(stamp));
}

static void pace(struct lmvm_shared *sh, volatile struct lmvm_vcpu_counters *c)
{
	uint64_t now = guest_rdtsc(), max_lag = sh->tsc_khz * 100, late;

	if (!sh->tsc_per_page)
		return;
	if (now > c->next_tsc + max_lag) {
		/* not run for a while: drop what is older than max_lag */
		late = (now - max_lag - c->next_tsc) / sh->tsc_per_page;
		c->late_pages += late;
		c->next_tsc += late * sh->tsc_per_page;
	}
	while (guest_rdtsc() < c->next_tsc)
		guest_pause();
	c->next_tsc += sh->tsc_per_page;
}

/*
 * sweep and hotset: pass after pass over the first 'limit' pages. The
 * position is pages_written alone, so one store moves it: the pass in
 * progress is pages_written / limit + 1 and the next page's index
 * pages_written % limit; cursor, generation and iterations follow for
 * readers, but verify trusts only pages_written.
 */
static void run_passes(struct lmvm_shared *sh,
		       volatile struct lmvm_vcpu_counters *c, uint64_t limit)
{
	for (;;) {
		uint64_t n = c->pages_written;

		pace(sh, c);
		stamp_page(sh, c->first_page + n % limit, n / limit + 1);
		c->pages_written = ++n;
		c->cursor = n % limit;
		c->generation = n / limit + 1;
		c->iterations = n / limit;
	}
}

static void run_random(struct lmvm_shared *sh,
		       volatile struct lmvm_vcpu_counters *c)
{
	for (;;) {
		uint64_t x = c->rng;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		c->rng = x;
		pace(sh, c);
		/* the generation of a random write is its sequence number */
		stamp_page(sh, c->first_page + x % c->nr_pages,
			   c->pages_written + 1);
		c->pages_written++;
		if (!(c->pages_written % 64))
			c->iterations++;
	}
}

/*
 * --fill=random: every word of the page after its stamp from xorshift64,
 * seeded by the page's address: no compressor finds anything to take.
 */
static void fill_random(uint64_t gpa)
{
	volatile uint64_t *p = (volatile uint64_t *)gpa;
	uint64_t x = gpa * 0x9e3779b97f4a7c15ULL | 1;
	unsigned int i;

	for (i = 2; i < 4096 / 8; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = x;
	}
}

/*
 * --prefault: touch every page of the share once, the way a guest that
 * zeroes its memory at boot does, so that the workload's rates are not
 * those of first-touch faults. The store goes to the last word of the
 * page, which stays zero; the stamp at its start is left alone. --fill
 * stores ones there instead, for any workload, idle included: memory
 * full of data, all of which a migration must send. --fill=random makes
 * the rest of the page (all but the stamp) random, --fill=mixed does so
 * for the pages of every other 2 MiB of the share and for every other
 * page in between: memory a compressor can halve, next to memory it
 * cannot shrink at all.
 */
static void prefault(struct lmvm_shared *sh,
		     volatile struct lmvm_vcpu_counters *c)
{
	while (c->prefaulted < c->nr_pages) {
		uint64_t n = c->prefaulted;
		uint64_t gpa = page_gpa(sh, c->first_page + n);
		int random = sh->fill == LMVM_FILL_RANDOM ||
			      (sh->fill == LMVM_FILL_MIXED &&
			       (!(n / 512 % 2) || n % 2));

		if (random)
			fill_random(gpa);
		else
			((volatile uint64_t *)gpa)[4096 / 8 - 1] =
				sh->fill ? ~0ULL : 0;
		c->prefaulted++;
	}
}

void lmvm_guest_main(struct lmvm_shared *sh, uint64_t vcpu_id)
{
	volatile struct lmvm_vcpu_counters *c = &sh->vcpu[vcpu_id];
	uint64_t hot;

	GUEST_ASSERT_EQ(sh->magic, LMVM_SHARED_MAGIC);
	if (!c->pages_written && !c->iterations) {
		guest_puts("lmvm guest: vCPU ");
		guest_put_u64(vcpu_id);
		guest_puts(" up, ");
		guest_put_u64(c->nr_pages);
		guest_puts(" pages\n");
	}
	if ((sh->prefault && sh->workload != LMVM_IDLE) || sh->fill)
		prefault(sh, c);
	switch (sh->workload) {
	case LMVM_SWEEP:
		run_passes(sh, c, c->nr_pages);
		break;
	case LMVM_HOTSET:
		hot = sh->hotset_pages < c->nr_pages ? sh->hotset_pages :
						       c->nr_pages;
		run_passes(sh, c, hot);
		break;
	case LMVM_RANDOM:
		run_random(sh, c);
		break;
	}
	/* idle, and anything unknown: sleep until the host stops us */
	for (;;)
		asm volatile("cli; hlt");
}

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What lmvm and its guest share: the workload page at a fixed guest
 * physical address, and the stamp every workload write leaves in a page.
 *
 * Both are plain little-endian memory of the guest, so they travel with
 * guest memory (through a state file or a migration) and a checker that
 * knows this header can verify a guest's memory from outside. See
 * Documentation/lmvm.rst.
 */
#ifndef _LMVM_GUEST_ABI_H
#define _LMVM_GUEST_ABI_H

#include <stdint.h>

/* In memslot 0, below the legacy hole, above the page tables. */
#define LMVM_SHARED_GPA		0x80000ULL
#define LMVM_SHARED_SIZE	0x2000ULL
#define LMVM_SHARED_MAGIC	0x45524148534d564cULL	/* "LVMSHARE" */
#define LMVM_MAX_VCPUS		32
#define LMVM_MAX_RANGES		2

/* What --fill writes to every page (lmvm_shared.fill). */
enum lmvm_fill {
	LMVM_FILL_NONE,
	LMVM_FILL_ONES,		/* the page's last word all ones */
	LMVM_FILL_RANDOM,	/* all but the stamp pseudo-random */
	LMVM_FILL_MIXED,	/* 2 MiB random, 2 MiB half ones, in turn */
};

enum lmvm_workload {
	LMVM_IDLE,	/* halts; writes nothing */
	LMVM_SWEEP,	/* every page of its share in order, pass after pass */
	LMVM_RANDOM,	/* pseudo-random pages of its share */
	LMVM_HOTSET,	/* the first pages of its share, pass after pass */
	LMVM_NR_WORKLOADS,
};

/*
 * The stamp at the start of a page written by a workload, stored by a
 * single 16-byte instruction so that a paused vCPU never leaves half of
 * one. A page never written is all zero.
 */
struct lmvm_stamp {
	uint64_t pfn;		/* guest physical address >> 12 */
	uint64_t generation;
};

/* A vCPU's workload state; the guest updates it after every page. */
struct lmvm_vcpu_counters {
	uint64_t first_page;	/* its share: workload page indexes */
	uint64_t nr_pages;	/*   [first_page, first_page + nr_pages) */
	uint64_t iterations;	/* completed passes (random: 64-page rounds) */
	uint64_t pages_written;
	uint64_t generation;	/* sweep/hotset: the pass in progress */
	uint64_t cursor;	/* sweep/hotset: next index in the pass */
	uint64_t rng;		/* random: xorshift64 state */
	uint64_t next_tsc;	/* pacing: when the next page is due */
	uint64_t prefaulted;	/* pages of its share touched at start */
	uint64_t late_pages;	/* pacing: pages dropped, the vCPU ran late */
};

/* One contiguous run of workload pages in guest physical memory. */
struct lmvm_range {
	uint64_t gpa;
	uint64_t nr_pages;
};

struct lmvm_shared {
	uint64_t magic;
	uint64_t workload;		/* enum lmvm_workload */
	uint64_t nr_vcpus;
	uint64_t tsc_khz;		/* the guest's TSC, as KVM reports it */
	uint64_t tsc_per_page;		/* per vCPU; 0: as fast as possible */
	uint64_t hotset_pages;		/* per vCPU */
	uint64_t nr_ranges;
	struct lmvm_range ranges[LMVM_MAX_RANGES];
	uint64_t total_pages;		/* sum of the ranges */
	uint64_t prefault;		/* touch every page before working */
	uint64_t fill;			/* ... with data: enum lmvm_fill */
	uint64_t reserved[4];
	struct lmvm_vcpu_counters vcpu[LMVM_MAX_VCPUS];
};

_Static_assert(sizeof(struct lmvm_shared) <= LMVM_SHARED_SIZE,
	       "shared page too large");

void lmvm_guest_main(struct lmvm_shared *sh, uint64_t vcpu_id);

#endif /* _LMVM_GUEST_ABI_H */

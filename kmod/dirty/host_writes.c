// SPDX-License-Identifier: GPL-2.0
/*
 * Writes to guest memory that KVM's dirty log cannot see: those made
 * through a host mapping of it rather than through the guest's page
 * tables (QEMU's device emulation, vhost kthreads on QEMU's mm, a
 * vhost-user backend). KVM's own writes mark its log themselves.
 * Documentation/dirty-tracking.rst, "Host writes", says why this way.
 *
 * Guest memory in a shared shmem mapping (memfd, tmpfs, /dev/shm) can be
 * written from the host only through a PTE of some process mapping the
 * page. folio_mkclean() visits every such PTE through the reverse map and,
 * under its page table lock, clears it, flushes the TLBs, and sets it back
 * write-protected and clean; it counts the PTEs that were writable or
 * dirty. That is an atomic test-and-clear of "may have been written since
 * the last clean": a write after it faults (do_wp_page(), which for shmem
 * just makes the PTE writable and dirty again) and is found next round.
 *
 * Each round walks the host pages behind the slots lm logs, once even
 * where slots alias the same memory (SMM's address space over the RAM),
 * and marks the pages found in the bitmap of every logged slot that maps
 * them, next to what KVM's log reported.
 *
 * folio_mkclean() costs an rmap walk and fires MMU notifiers on every
 * shared mapping of the page, whatever its PTE: KVM then zaps its own
 * mapping of the page, and the guest faults it back in. The walk calls it
 * only where the VMM's page table alone proves the page clean: the VMM's
 * PTE is present and clean, and no other mapping can have written the page
 * (skip_clean_ptes()). A PTE's dirty bit is set by any write through it
 * (reclaim relies on that as much as lm does: it is how a written shmem
 * page is known to need swapping out), and only cleaning clears it, so a
 * clean PTE has not been written since the last walk, writable or not: a
 * writable clean PTE is what a read fault, or lm's own read of the page
 * for sending, maps on shmem, and it is left alone rather than reported.
 */

#include "compat.h"
#include "internal.h"
#include "pte_walk.h"

#include <linux/bitmap.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/pagemap.h>
#include <linux/rmap.h>
#include <linux/sched.h>
#include <linux/shmem_fs.h>
#include <linux/timekeeping.h>

/*
 * A module parameter, not a netlink flag: turning it off makes migration
 * inexact, which no API user should be able to ask for per session; only
 * root can, for a whole host, to measure its cost or to show that the
 * tests catch what it catches. Sampled at TRACK_START (and MIGRATE).
 */
static bool track_host_writes = true;
module_param(track_host_writes, bool, 0644);
MODULE_PARM_DESC(track_host_writes,
		 "Track guest memory written through host mappings (QEMU devices, vhost); off makes migration of such VMs inexact (default: on)");

bool lm_dirty_host_writes_wanted(void)
{
	return READ_ONCE(track_host_writes);
}

struct host_walk {
	struct lm_dirty *d;
	/* Mark the pages found (not at TRACK_START: it only cleans). */
	bool record;
	u64 found;
	u64 only_host;
};

static unsigned long slot_end(const struct lm_dirty_slot *s)
{
	return s->hva + (s->npages << PAGE_SHIFT);
}

/* Mark the page at @hva written in every logged slot that maps it. */
static void mark_hva(struct host_walk *w, unsigned long hva)
{
	struct lm_dirty *d = w->d;
	bool logged = false;
	unsigned int i;

	if (!w->record)
		return;
	for (i = 0; i < d->nr_slots; i++) {
		struct lm_dirty_slot *s = &d->slots[i];

		if (!s->logged_by_lm || hva < s->hva || hva >= slot_end(s))
			continue;
		logged |= __test_and_set_bit((hva - s->hva) >> PAGE_SHIFT,
					     d->buf.kaddr + s->bitmap_off);
	}
	w->found++;
	if (!logged)
		w->only_host++;
}

/*
 * Of the @n pages from @addr on (within one page table), clear in @check
 * those the VMM's PTEs prove clean: present and clean, and no other
 * mapping of the page can have been written. That holds when
 * the page is mapped nowhere else (mapcount 1), or, without looking at
 * the page, when the VMM's mapping is the only one of the file that may
 * ever write (i_mmap_writable counts the shared mappings that may: a
 * read-only observer does not count). Takes the page table lock once.
 * Without a page table there (nothing mapped yet, or a shmem huge page,
 * which folio_mkclean() handles) every page is left to check.
 */
static void skip_clean_ptes(struct vm_area_struct *vma, unsigned long addr,
			    unsigned int n, unsigned long *check)
{
	bool sole_writer = (vma->vm_flags & VM_MAYWRITE) &&
		atomic_read(&vma->vm_file->f_mapping->i_mmap_writable) == 1;
	spinlock_t *ptl;
	pte_t *ptep;
	unsigned int i;

	bitmap_fill(check, n);
	ptep = lm_pte_table_lock(vma->vm_mm, addr, &ptl, NULL);
	if (!ptep)
		return;
	for (i = 0; i < n; i++) {
		pte_t pte = ptep_get(ptep + i);
		struct page *page;

		if (!pte_present(pte) || pte_dirty(pte))
			continue;
		if (!sole_writer) {
			if (!pfn_valid(pte_pfn(pte)))
				continue;
			/* Mapped by this PTE, under its lock: it cannot go. */
			page = pfn_to_page(pte_pfn(pte));
			if (PageCompound(page) || page_mapcount(page) != 1)
				continue;
		}
		__clear_bit(i, check);
	}
	pte_unmap_unlock(ptep, ptl);
}

/*
 * Test and clean the page of @vma at @addr through every mapping of it.
 * A page not in the page cache was never written, or was punched out (see
 * "Limits"); one swapped out is reported: the PTEs that said whether it
 * was written went with it.
 */
static void check_page(struct host_walk *w, struct vm_area_struct *vma,
		       unsigned long addr, unsigned long start,
		       unsigned long end)
{
	pgoff_t index = linear_page_index(vma, addr), i;
	struct folio *folio;

	folio = lm_filemap_lock_entry(vma->vm_file->f_mapping, index);
	if (!folio)
		return;
	if (xa_is_value(folio)) {
		mark_hva(w, addr);
		return;
	}
	if (folio_mkclean(folio)) {
		/* The folio was written somewhere: all its pages count. */
		for (i = folio->index; i < folio->index + folio_nr_pages(folio);
		     i++) {
			unsigned long hva = vma->vm_start +
				((i - vma->vm_pgoff) << PAGE_SHIFT);

			if (i >= vma->vm_pgoff && hva >= start && hva < end)
				mark_hva(w, hva);
		}
	}
	folio_unlock(folio);
	folio_put(folio);
}

/* [@addr, @end) lies in @vma and in one page table. */
static void walk_block(struct host_walk *w, struct vm_area_struct *vma,
		       unsigned long addr, unsigned long end)
{
	DECLARE_BITMAP(check, PTRS_PER_PTE);
	unsigned int n = (end - addr) >> PAGE_SHIFT, i;

	skip_clean_ptes(vma, addr, n, check);
	for_each_set_bit(i, check, n)
		check_page(w, vma, addr + ((unsigned long)i << PAGE_SHIFT),
			   addr, end);
}

/*
 * Walk the VMM's mappings over [@start, @end), one page table at a time
 * under mmap_lock (read), so that the VMM's own mmap calls wait for one
 * block at most. Private mappings (anonymous memory: lmvm's) are no
 * host-visible writer's concern and skipped; shared mappings of anything
 * but shmem are refused (see "Limits").
 */
static int walk_range(struct host_walk *w, unsigned long start,
		      unsigned long end, const char **why)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	unsigned long addr, next;
	int ret = 0;

	for (addr = start; addr < end; addr = next) {
		mmap_read_lock(mm);
		vma = find_vma(mm, addr);
		if (!vma || vma->vm_start >= end) {
			mmap_read_unlock(mm);
			break;
		}
		addr = max(addr, vma->vm_start);
		next = min(end, vma->vm_end);
		if ((vma->vm_flags & VM_SHARED) && vma->vm_file) {
			if (shmem_mapping(vma->vm_file->f_mapping)) {
				next = min(pmd_addr_end(addr, end), next);
				walk_block(w, vma, addr, next);
			} else {
				*why = "Guest memory is a shared mapping of a file that is not shmem (hugetlbfs, a disk file): lm cannot track host writes to it (module parameter track_host_writes)";
				ret = -EOPNOTSUPP;
			}
		}
		mmap_read_unlock(mm);
		if (ret)
			break;
		cond_resched();
	}
	return ret;
}

/*
 * Walk every page of the logged slots once: for slot j, only the parts of
 * it that no earlier logged slot covers (aliases share host pages).
 */
static int walk_slots(struct host_walk *w, const char **why)
{
	struct lm_dirty *d = w->d;
	unsigned int i, j;
	int ret;

	for (j = 0; j < d->nr_slots; j++) {
		const struct lm_dirty_slot *s = &d->slots[j];
		unsigned long cur = s->hva, next;
		bool covered;

		if (!s->logged_by_lm)
			continue;
		while (cur < slot_end(s)) {
			next = slot_end(s);
			covered = false;
			for (i = 0; i < j && !covered; i++) {
				const struct lm_dirty_slot *t = &d->slots[i];

				if (!t->logged_by_lm)
					continue;
				if (t->hva <= cur && cur < slot_end(t)) {
					cur = slot_end(t);
					covered = true;
				} else if (t->hva > cur && t->hva < next) {
					next = t->hva;
				}
			}
			if (covered)
				continue;
			ret = walk_range(w, cur, next, why);
			if (ret)
				return ret;
			cur = next;
		}
	}
	return 0;
}

/*
 * Clean every host page of the logged slots, so that the first round
 * reports host writes made after TRACK_START only. Runs on the worker with
 * the VMM's mm in use.
 */
int lm_dirty_host_start(struct lm_dirty *d, const char **why)
{
	struct host_walk w = { .d = d };

	return walk_slots(&w, why);
}

/*
 * Add the pages written through host mappings since the last walk to the
 * bitmaps KVM just filled (after KVM_CLEAR_DIRTY_LOG, which reads them).
 * Runs on the worker with the VMM's mm in use.
 */
int lm_dirty_host_harvest(struct lm_dirty *d, const char **why)
{
	struct host_walk w = { .d = d, .record = true };
	u64 start = ktime_get_ns();
	int ret;

	ret = walk_slots(&w, why);
	d->host_dirty = w.found;
	d->host_only = w.only_host;
	d->host_ns = ktime_get_ns() - start;
	return ret;
}

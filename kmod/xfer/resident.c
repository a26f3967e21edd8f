// SPDX-License-Identifier: GPL-2.0
/*
 * Which guest pages hold nothing: of a range of the VMM's addresses, the
 * pages no memory backs, found without faulting, pinning or allocating
 * anything ("holes").
 *
 * Reading a page through a pin (pages_tx.c, pages_rx.c) faults it in. For
 * private anonymous memory a read fault maps the shared zero page, still a
 * fault and a pin per page; for shmem (memfd, /dev/shm: QEMU's usual RAM
 * backends) and hugetlbfs it allocates a page-cache page, so that reading
 * all of a guest's memory allocates all of it. A hole is sent as a zero
 * run without being read, and left alone on the destination, where it
 * already reads as zero.
 *
 * A page is a hole when its VMA is
 *  - private anonymous memory, and nothing is mapped there (pte_none, or
 *    no page table at all), or the shared zero page is. Anything else in
 *    the PTE (a page, a swap or migration entry, a marker) or at the PMD
 *    (a transparent huge page, the huge zero page, a THP being migrated)
 *    is read as before;
 *  - a shared mapping of shmem, and the file's page cache has no entry at
 *    its index. A folio is data, a value entry a page swapped out. The
 *    PTEs need no look: a shared mapping maps page-cache pages only;
 *  - a shared mapping of hugetlbfs, and its huge page is not in the file's
 *    page cache (hugetlbfs pages are never swapped out). 6.1 indexes it
 *    by huge page (linear_page_index() knows); 6.7 changed that, and is
 *    not covered (compat.h).
 * Nothing else is: private file mappings (their holes read as the file),
 * VM_IO/VM_PFNMAP/VM_MIXEDMAP memory, a VMA armed with userfaultfd (a
 * missing page is its handler's to fill: postcopy), DAX, disk files.
 *
 * The answer holds at the time of the look, under mmap_lock (read): a
 * page found empty may be written right after. Why that is safe is the
 * callers' to say: tx_range(), rx_zero_run().
 */

#include "internal.h"
#include "compat.h"
#include "pte_walk.h"

#include <linux/bitmap.h>
#include <linux/hugetlb.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/moduleparam.h>
#include <linux/pagemap.h>
#include <linux/sched.h>
#include <linux/shmem_fs.h>
#include <linux/userfaultfd_k.h>
#include <linux/xarray.h>

/*
 * A module parameter, as track_host_writes is: off, lm reads every page
 * as it did before holes were looked for, which allocates all of a shmem
 * or hugetlbfs guest's memory on both sides. Only root can ask for that,
 * for a whole host: to measure what holes save, and to show that the
 * tests catch the allocation.
 */
static bool skip_holes = true;
module_param(skip_holes, bool, 0644);
MODULE_PARM_DESC(skip_holes,
		 "Send guest pages no memory backs as zero without reading them, and leave them alone on the destination; off reads them, which allocates all of shmem or hugetlbfs guest memory (default: on)");

/* The bits of @holes from @base's page on are the pages from @addr. */
static void set_holes(unsigned long *holes, unsigned long base,
		      unsigned long addr, unsigned long end)
{
	bitmap_set(holes, (addr - base) >> PAGE_SHIFT,
		   (end - addr) >> PAGE_SHIFT);
}

/* Private anonymous memory: nothing mapped, or the shared zero page. */
static void anon_holes(struct vm_area_struct *vma, unsigned long addr,
		       unsigned long end, unsigned long *holes,
		       unsigned long base)
{
	unsigned long next;

	for (; addr < end; addr = next) {
		unsigned long bit = (addr - base) >> PAGE_SHIFT;
		unsigned int i, n;
		spinlock_t *ptl;
		pte_t *ptep;
		bool none;

		next = pmd_addr_end(addr, end);
		ptep = lm_pte_table_lock(vma->vm_mm, addr, &ptl, &none);
		if (!ptep) {
			if (none)
				set_holes(holes, base, addr, next);
			continue;
		}
		n = (next - addr) >> PAGE_SHIFT;
		for (i = 0; i < n; i++) {
			pte_t pte = ptep_get(ptep + i);

			if (pte_none(pte) ||
			    (pte_present(pte) && is_zero_pfn(pte_pfn(pte))))
				__set_bit(bit + i, holes);
		}
		pte_unmap_unlock(ptep, ptl);
	}
}

/*
 * Shared shmem: no entry in the page cache. One lookup per entry found,
 * and one for all the empty indexes before it: memory the guest never
 * touched costs one lookup per range.
 */
static void shmem_holes(struct vm_area_struct *vma, unsigned long addr,
			unsigned long end, unsigned long *holes,
			unsigned long base)
{
	struct xarray *xa = &vma->vm_file->f_mapping->i_pages;
	pgoff_t first = linear_page_index(vma, addr);
	pgoff_t last = first + ((end - addr) >> PAGE_SHIFT) - 1;
	unsigned long bit = (addr - base) >> PAGE_SHIFT;
	pgoff_t cur, found;

	for (cur = first; cur <= last; cur = found + 1) {
		/*
		 * The lowest index from @cur on that an entry covers (a large
		 * folio's covers several): none below it, from @cur.
		 */
		found = cur;
		if (!xa_find(xa, &found, last, XA_PRESENT))
			found = last + 1;
		bitmap_set(holes, bit + (cur - first), found - cur);
	}
}

#if LM_HAVE_HUGETLB_HOLES
/* Shared hugetlbfs: the huge page is not in the page cache. */
static void hugetlb_holes(struct vm_area_struct *vma, unsigned long addr,
			  unsigned long end, unsigned long *holes,
			  unsigned long base)
{
	struct xarray *xa = &vma->vm_file->f_mapping->i_pages;
	unsigned long size = vma_kernel_pagesize(vma), next;

	for (; addr < end; addr = next) {
		next = min(ALIGN_DOWN(addr, size) + size, end);
		if (!xa_load(xa, linear_page_index(vma, addr)))
			set_holes(holes, base, addr, next);
	}
}
#endif

/* [@addr, @end) lies in @vma. */
static void vma_holes(struct vm_area_struct *vma, unsigned long addr,
		      unsigned long end, unsigned long *holes,
		      unsigned long base)
{
	if (userfaultfd_armed(vma) ||
	    (vma->vm_flags & (VM_IO | VM_PFNMAP | VM_MIXEDMAP)))
		return;
	if (vma_is_anonymous(vma) && !(vma->vm_flags & VM_SHARED)) {
		anon_holes(vma, addr, end, holes, base);
		return;
	}
	if (!(vma->vm_flags & VM_SHARED) || !vma->vm_file)
		return;
	if (shmem_mapping(vma->vm_file->f_mapping))
		shmem_holes(vma, addr, end, holes, base);
#if LM_HAVE_HUGETLB_HOLES
	else if (is_vm_hugetlb_page(vma))
		hugetlb_holes(vma, addr, end, holes, base);
#endif
}

/*
 * Of the @n pages of the current mm (the VMM's: the transfer thread uses
 * it) from @hva on, set in @holes those that are holes; clear the others.
 * Returns how many are. Addresses that nothing maps are not holes: reading
 * them fails as it did. Takes mmap_lock for reading, once.
 */
u32 lm_xfer_find_holes(unsigned long hva, u32 n, unsigned long *holes)
{
	unsigned long addr = hva, end = hva + ((unsigned long)n << PAGE_SHIFT);
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;

	bitmap_zero(holes, n);
	if (!READ_ONCE(skip_holes) || !n)
		return 0;
	mmap_read_lock(mm);
	while (addr < end) {
		vma = find_vma(mm, addr);
		if (!vma || vma->vm_start >= end)
			break;
		addr = max(addr, vma->vm_start);
		vma_holes(vma, addr, min(end, vma->vm_end), holes, hva);
		addr = min(end, vma->vm_end);
	}
	mmap_read_unlock(mm);
	return bitmap_weight(holes, n);
}

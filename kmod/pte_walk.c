// SPDX-License-Identifier: GPL-2.0
/*
 * Reading the VMM's page tables without faulting anything in.
 */

#include "pte_walk.h"

#include <linux/mm.h>
#include <linux/mmap_lock.h>

/*
 * The page table of @mm that maps @addr, mapped and locked at @addr's
 * entry (pte_unmap_unlock() it), or NULL if there is none. Then *@none,
 * if given, tells why: true if nothing at all is mapped there (an empty
 * entry at some level above the PTEs: no page table was ever needed), false
 * for a huge mapping (THP, shmem THP, hugetlbfs) or an entry the walk does
 * not know (a migrating THP): the caller must not take those for empty.
 *
 * With mmap_lock held, a page table cannot be freed or collapsed into a
 * huge page (both take it for writing); an empty PMD may become a huge one
 * (an anonymous THP fault takes it for reading), which is a change after
 * the look like any other. follow_pte() would do, but it must not be
 * called where a huge PMD may be (a VM_BUG_ON in 6.1).
 */
pte_t *lm_pte_table_lock(struct mm_struct *mm, unsigned long addr,
			 spinlock_t **ptl, bool *none)
{
	bool empty = true;
	pgd_t *pgd;
	p4d_t *p4d;
	pud_t *pud;
	pmd_t *pmd, pmdval;

	mmap_assert_locked(mm);
	pgd = pgd_offset(mm, addr);
	if (pgd_none(*pgd))
		goto out;
	empty = false;
	if (pgd_bad(*pgd))
		goto out;
	p4d = p4d_offset(pgd, addr);
	empty = p4d_none(*p4d);
	if (empty || p4d_bad(*p4d))
		goto out;
	pud = pud_offset(p4d, addr);
	empty = pud_none(*pud);
	if (empty || pud_leaf(*pud) || pud_bad(*pud))
		goto out;
	pmd = pmd_offset(pud, addr);
	pmdval = READ_ONCE(*pmd);
	empty = pmd_none(pmdval);
	if (empty || pmd_leaf(pmdval) || pmd_bad(pmdval))
		goto out;
	return pte_offset_map_lock(mm, pmd, addr, ptl);

out:
	if (none)
		*none = empty;
	return NULL;
}

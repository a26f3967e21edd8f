/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reading the VMM's page tables without faulting anything in: shared by
 * host-write tracking (kmod/dirty/host_writes.c) and the search for
 * unbacked guest pages (kmod/xfer/resident.c).
 */
#ifndef _LM_PTE_WALK_H
#define _LM_PTE_WALK_H

#include <linux/mm_types.h>
#include <linux/pgtable.h>
#include <linux/spinlock.h>

pte_t *lm_pte_table_lock(struct mm_struct *mm, unsigned long addr,
			 spinlock_t **ptl, bool *none);

#endif /* _LM_PTE_WALK_H */

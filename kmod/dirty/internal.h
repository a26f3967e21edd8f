/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Dirty tracking internals, shared by the files of kmod/dirty/.
 *
 * Locking: every field of struct lm_dirty is used under vm->lock, which the
 * netlink handlers hold for the whole of a command, including while the
 * worker runs a job for them. The worker never takes vm->lock. KVM's own
 * locks (slots_lock, mmu_lock, mmap_lock of the VMM) nest inside it.
 */
#ifndef _LM_DIRTY_INTERNAL_H
#define _LM_DIRTY_INTERNAL_H

#include "dirty.h"

#include <linux/kvm_host.h>
#include <linux/types.h>

struct kthread_worker;
struct lm_vm;
struct mm_struct;
struct page;

/*
 * The bitmaps KVM's dirty-log ioctls write into. KVM_GET_DIRTY_LOG copies
 * to a user pointer, so they live in a small shared memory object mapped
 * into the VMM's address space, which lm reads through its own kernel
 * mapping of the same pages: no copy beyond KVM's own.
 *
 * Layout: page 0 holds the ioctl arguments (struct kvm_dirty_log, struct
 * kvm_clear_dirty_log), the bitmaps follow, one per logged slot, each at
 * lm_dirty_slot.bitmap_off. The mapping is followed by an inaccessible
 * guard large enough for the bitmap of the largest possible slot, so that
 * a slot replaced by a larger one between two ioctls can only make KVM
 * fault, never write over the VMM's memory.
 */
struct lm_dirty_buf {
	struct file *file;
	struct page **pages;
	unsigned long nr_pages;
	void *kaddr;
	unsigned long uaddr;	/* in the VMM's address space, 0 if unmapped */
	size_t size;		/* bytes mapped at uaddr (the guard excluded) */
};

#define LM_DIRTY_BUF_GET_LOG	0
#define LM_DIRTY_BUF_CLEAR_LOG	64
#define LM_DIRTY_BUF_BITMAPS	PAGE_SIZE

struct lm_dirty_slot {
	u16 as_id;
	u16 id;
	gfn_t base_gfn;
	unsigned long npages;
	unsigned long hva;
	/* KVM_MEM_* flags of the slot as lm last saw or set them. */
	u32 flags;
	/* enum lm_track_slot_state in the current round. */
	u32 state;
	/* lm turned logging on: it harvests this slot and turns it off. */
	bool logged_by_lm;
	/* The slot changed during the round's harvest: report it whole. */
	bool changed;
	size_t bitmap_off;
	u64 dirty;
};

struct lm_dirty {
	struct lm_vm *vm;
	/*
	 * Started by a live migration, whose rounds it feeds: TRACK_SYNC,
	 * TRACK_GET and TRACK_STOP from netlink would take or end them.
	 */
	bool migration;
	struct kthread_worker *worker;
	struct lm_dirty_buf buf;

	/* The VM's memslots, ordered by address space, then slot id. */
	struct lm_dirty_slot *slots;
	unsigned int nr_slots;
	/* Slots deleted since the previous round, reported once. */
	struct lm_dirty_slot *removed;
	unsigned int nr_removed;
	/* Memslot generation of each address space when last reconciled. */
	u64 generation[KVM_ADDRESS_SPACE_NUM];

	u64 round;
	u64 pages;
	u64 dirty;
	u64 harvest_ns;
	bool manual_protect;
	/*
	 * Host writes (host_writes.c) are tracked in this session, and what
	 * the last round found: pages written through host mappings, of
	 * which KVM's log had none, and the time the walk took.
	 */
	bool host_writes;
	u64 host_dirty;
	u64 host_only;
	u64 host_ns;
	/* A round failed after taking bits from KVM: report all next time. */
	bool lost;
	/* The slots changed: the buffer must be laid out again. */
	bool stale_layout;
};

/* buffer.c: run on the worker with the VMM's mm in use. */
int lm_dirty_buf_map(struct lm_dirty_buf *buf, size_t size);
void lm_dirty_buf_unmap(struct lm_dirty_buf *buf, bool mm_alive);
bool lm_dirty_buf_intact(const struct lm_dirty_buf *buf);

/* slots.c: under no lock but vm->lock; they take kvm->slots_lock. */
int lm_dirty_slots_reconcile(struct lm_dirty *d, bool initial);
void lm_dirty_slots_check(struct lm_dirty *d);
void lm_dirty_slots_restore(struct lm_dirty *d);
size_t lm_dirty_slots_layout(struct lm_dirty *d);
bool lm_dirty_slot_whole(const struct lm_dirty *d,
			 const struct lm_dirty_slot *slot);

/* harvest.c: jobs run on the worker. */
int lm_dirty_harvest(struct lm_dirty *d, const char **why);

/* host_writes.c: run on the worker with the VMM's mm in use. */
bool lm_dirty_host_writes_wanted(void);
int lm_dirty_host_start(struct lm_dirty *d, const char **why);
int lm_dirty_host_harvest(struct lm_dirty *d, const char **why);

/* track.c (and the public calls of dirty.h) */
struct mm_struct *lm_dirty_get_mm(struct lm_dirty *d);
void lm_dirty_put_mm(struct mm_struct *mm);

#endif /* _LM_DIRTY_INTERNAL_H */

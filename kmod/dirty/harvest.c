// SPDX-License-Identifier: GPL-2.0
/*
 * One round of dirty tracking, run on the VM's tracking worker.
 *
 * The harvest goes through KVM's own dirty-log ioctls, issued on the VM
 * file with the VMM's address space adopted (kthread_use_mm()), because
 * KVM serves VM ioctls only to its VM's mm. That keeps every detail of a
 * correct harvest inside KVM: flushing the vCPUs' hardware logs (Intel
 * PML), taking the bits and write-protecting their pages under mmu_lock,
 * and flushing the TLBs before the bitmap is handed out. What the host
 * wrote through its own mappings, which KVM does not log, is added to the
 * same bitmaps afterwards (host_writes.c).
 */

#include "internal.h"
#include "vm.h"

#include <linux/bitmap.h>
#include <linux/fs.h>
#include <linux/kvm.h>
#include <linux/lm.h>
#include <linux/sched/mm.h>
#include <linux/timekeeping.h>

static long vm_ioctl(struct lm_dirty *d, unsigned int cmd, unsigned long uoff)
{
	struct file *file = d->vm->file;

	return file->f_op->unlocked_ioctl(file, cmd, d->buf.uaddr + uoff);
}

/*
 * Take one slot's log into its bitmap and re-protect its pages: in one
 * step (KVM_GET_DIRTY_LOG), or, when the VMM enabled manual protection,
 * by clearing exactly the bits just read (KVM_CLEAR_DIRTY_LOG). Either
 * way a page written after its bit was taken faults and is logged again.
 * Returns 1 if the slot is not what lm thinks any more.
 */
static int harvest_slot(struct lm_dirty *d, struct lm_dirty_slot *s,
			bool manual)
{
	struct kvm_dirty_log *get = d->buf.kaddr + LM_DIRTY_BUF_GET_LOG;
	struct kvm_clear_dirty_log *clear = d->buf.kaddr + LM_DIRTY_BUF_CLEAR_LOG;
	void __user *bitmap = (void __user *)(d->buf.uaddr + s->bitmap_off);
	long ret;

	*get = (struct kvm_dirty_log) {
		.slot = (u32)s->as_id << 16 | s->id,
		.dirty_bitmap = bitmap,
	};
	ret = vm_ioctl(d, KVM_GET_DIRTY_LOG, LM_DIRTY_BUF_GET_LOG);
	if (ret == -ENOENT || ret == -EINVAL)
		return 1;
	if (ret || !manual)
		return ret;

	*clear = (struct kvm_clear_dirty_log) {
		.slot = (u32)s->as_id << 16 | s->id,
		.first_page = 0,
		.num_pages = s->npages,
		.dirty_bitmap = bitmap,
	};
	ret = vm_ioctl(d, KVM_CLEAR_DIRTY_LOG, LM_DIRTY_BUF_CLEAR_LOG);
	if (ret == -ENOENT || ret == -EINVAL)
		return 1;
	return ret;
}

static int harvest_slots(struct lm_dirty *d, const char **why)
{
	unsigned int i;
	int ret;

	if (!lm_dirty_buf_intact(&d->buf))
		goto err_buf;
	d->manual_protect = READ_ONCE(d->vm->kvm->manual_dirty_log_protect);
	for (i = 0; i < d->nr_slots; i++) {
		struct lm_dirty_slot *s = &d->slots[i];

		if (!s->logged_by_lm)
			continue;
		ret = harvest_slot(d, s, d->manual_protect);
		if (ret < 0) {
			*why = "KVM failed to hand over a dirty log";
			return ret;
		}
		if (ret)
			s->changed = true;
	}
	if (!lm_dirty_buf_intact(&d->buf))
		goto err_buf;
	return 0;

err_buf:
	*why = "The VMM unmapped or replaced lm's dirty log buffer";
	return -EFAULT;
}

static void count_dirty(struct lm_dirty *d)
{
	unsigned int i;

	d->pages = 0;
	d->dirty = 0;
	for (i = 0; i < d->nr_slots; i++) {
		struct lm_dirty_slot *s = &d->slots[i];

		if (lm_dirty_slot_whole(d, s))
			s->dirty = s->npages;
		else if (s->state == LM_TRACK_SLOT_LOGGED)
			s->dirty = bitmap_weight(d->buf.kaddr + s->bitmap_off,
						 s->npages);
		else
			s->dirty = 0;
		d->pages += s->npages;
		d->dirty += s->dirty;
	}
}

/* Replace the buffer by one laid out for the current slots. */
static int relayout(struct lm_dirty *d)
{
	struct lm_dirty_buf old = d->buf;
	int ret;

	ret = lm_dirty_buf_map(&d->buf, lm_dirty_slots_layout(d));
	if (ret) {
		d->buf = old;
		return ret;
	}
	lm_dirty_buf_unmap(&old, true);
	d->stale_layout = false;
	return 0;
}

/*
 * Close the current round. Runs with the VMM's mm in use. Whatever fails
 * after KVM may have handed bits over sets d->lost, so the next round that
 * succeeds reports everything: a failed round never loses a page.
 */
int lm_dirty_harvest(struct lm_dirty *d, const char **why)
{
	unsigned int i;
	u64 start;
	int ret;

	for (i = 0; i < d->nr_slots; i++) {
		if (d->slots[i].state == LM_TRACK_SLOT_NEW)
			d->slots[i].state = LM_TRACK_SLOT_LOGGED;
		d->slots[i].changed = false;
	}
	d->nr_removed = 0;

	start = ktime_get_ns();
	ret = lm_dirty_slots_reconcile(d, false);
	if (ret) {
		*why = "Cannot turn dirty logging on for a new memslot";
		goto err_lost;
	}
	if (d->stale_layout) {
		ret = relayout(d);
		if (ret) {
			*why = "Cannot map the dirty log buffer into the VMM";
			goto err_lost;
		}
	}

	ret = harvest_slots(d, why);
	if (ret)
		goto err_lost;
	if (d->host_writes) {
		ret = lm_dirty_host_harvest(d, why);
		if (ret)
			goto err_lost;
	}
	lm_dirty_slots_check(d);
	count_dirty(d);
	d->harvest_ns = ktime_get_ns() - start;
	d->lost = false;
	d->round++;
	return 0;

err_lost:
	d->lost = true;
	return ret;
}

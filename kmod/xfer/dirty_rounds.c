// SPDX-License-Identifier: GPL-2.0
/*
 * Live migration's view of dirty tracking: the pages to send in the next
 * round, as one bitmap per unit of the transfer's layout (a slot, or keyed
 * by backing a RAM backing, where each slot's harvest lands at the place
 * the slot maps in it: aliases of a page all mark the one page).
 *
 * Each harvest (a TRACK_SYNC round of kmod/dirty/) is ORed into these
 * bitmaps under vm->lock, and sending a round clears what it sent, so a
 * page written at any time after tracking started is in the bitmaps until
 * a copy of it taken after that write has been sent. vm->lock is held for
 * the harvest only: sending never holds it. kmod/dirty/dirty.h is the
 * whole interface between the two parts.
 */

#include "internal.h"
#include "vm.h"
#include "dirty/dirty.h"

#include <linux/bitmap.h>
#include <linux/kvm_host.h>
#include <linux/slab.h>

/*
 * Whether a slot's harvest can be ORed into its unit's bitmap as is: the
 * slot is the whole unit. The tracker writes whole words, and fills the
 * last one up to its bit count only, so a slot at any other place of its
 * unit is harvested aside first.
 */
static bool dirty_direct(const struct lm_xfer *x, const struct lm_xfer_slot *s)
{
	return s->backing == LM_XFER_NO_BACKING ||
	       (!s->backing_off &&
		s->npages == x->layout.units[s->backing].npages);
}

/* Harvest slot @s into its unit's bitmap; the tracker's count or -errno. */
static long dirty_collect_slot(struct lm_xfer *x, const struct lm_xfer_slot *s)
{
	unsigned long *map = x->dirty_maps[s->backing];
	unsigned long first, end;
	long got;

	if (dirty_direct(x, s))
		return lm_dirty_collect(x->vm, s->as_id, s->gpa >> PAGE_SHIFT,
					s->npages, s->hva, map);
	bitmap_zero(x->dirty_scratch, s->npages);
	got = lm_dirty_collect(x->vm, s->as_id, s->gpa >> PAGE_SHIFT,
			       s->npages, s->hva, x->dirty_scratch);
	if (got <= 0)
		return got;
	for (first = find_first_bit(x->dirty_scratch, s->npages);
	     first < s->npages;
	     first = find_next_bit(x->dirty_scratch, s->npages, end)) {
		end = find_next_zero_bit(x->dirty_scratch, s->npages, first);
		bitmap_set(map, s->backing_off + first, end - first);
	}
	return got;
}

int lm_xfer_dirty_start(struct lm_xfer *x)
{
	struct lm_vm *vm = x->vm;
	const char *why = "Cannot start dirty tracking";
	u64 scratch = 0;
	u32 i;
	int ret;

	x->dirty_maps = kcalloc(x->layout.nr_units, sizeof(*x->dirty_maps),
				GFP_KERNEL);
	if (!x->dirty_maps)
		return -ENOMEM;
	/*
	 * Sized by guest memory: 8 MiB for a 256 GiB slot, past what kmalloc
	 * can give (bitmap_zalloc() warned and failed above 128 GiB).
	 */
	for (i = 0; i < x->layout.nr_units; i++) {
		x->dirty_maps[i] = kvcalloc(BITS_TO_LONGS(x->layout.units[i].npages),
					    sizeof(long), GFP_KERNEL_ACCOUNT);
		if (!x->dirty_maps[i])
			return -ENOMEM;
	}
	for (i = 0; i < x->layout.nr_slots; i++)
		if (!dirty_direct(x, &x->layout.slots[i]))
			scratch = max(scratch, x->layout.slots[i].npages);
	if (scratch) {
		x->dirty_scratch = kvcalloc(BITS_TO_LONGS(scratch),
					    sizeof(long), GFP_KERNEL_ACCOUNT);
		if (!x->dirty_scratch)
			return -ENOMEM;
	}

	mutex_lock(&vm->lock);
	if (vm->dead) {
		ret = -ENODEV;
		why = "The VM was detached";
	} else {
		ret = lm_dirty_start(vm, true, &why);
		/*
		 * QEMU enables KVM's manual protection with every bit initially
		 * set: the first harvest would report all of memory, which round
		 * 0 is about to send anyway, and resend it in round 1. Take
		 * those bits now, before round 0 reads a page; this harvest also
		 * write-protects what INITIALLY_SET left writable.
		 */
		if (!ret && READ_ONCE(vm->kvm->manual_dirty_log_protect) &
			    KVM_DIRTY_LOG_INITIALLY_SET) {
			ret = lm_dirty_sync(vm, &why);
			if (ret)
				lm_dirty_stop(vm);
		}
	}
	x->tracking = !ret;
	mutex_unlock(&vm->lock);
	if (ret)
		lm_xfer_fail(x, ret, LM_WIRE_REASON_INTERNAL, "%s", why);
	return ret;
}

/*
 * Harvest one round into the bitmaps; *@dirty is then the number of pages
 * the next round has to send. A slot the tracker reports whole (new,
 * re-flagged, or logged by the VMM itself) is sent whole; a slot that
 * disappeared or moved fails the migration: the destination's layout was
 * checked against the old one. Keyed by backing, slots in private memory
 * are the VMM's to move and not harvested.
 */
int lm_xfer_dirty_collect(struct lm_xfer *x, u64 *dirty)
{
	struct lm_vm *vm = x->vm;
	const char *why = "Dirty tracking failed";
	long got;
	u32 i;
	int ret;

	mutex_lock(&vm->lock);
	if (vm->dead || !x->tracking) {
		ret = -ENODEV;
		why = "The VM was detached";
		goto out_unlock;
	}
	ret = lm_dirty_sync(vm, &why);
	if (ret)
		goto out_unlock;
	*dirty = 0;
	for (i = 0; i < x->layout.nr_slots; i++) {
		const struct lm_xfer_slot *s = &x->layout.slots[i];

		if (s->backing == LM_XFER_NO_BACKING)
			continue;
		got = dirty_collect_slot(x, s);
		if (got < 0) {
			ret = got;
			why = got == -ENOENT ?
			      "A memory slot changed during the migration" :
			      "Cannot read the dirty log";
			goto out_unlock;
		}
	}
	for (i = 0; i < x->layout.nr_units; i++)
		*dirty += bitmap_weight(x->dirty_maps[i],
					x->layout.units[i].npages);
out_unlock:
	mutex_unlock(&vm->lock);
	if (ret)
		lm_xfer_fail(x, ret, ret == -ENODEV ? LM_WIRE_REASON_VM_GONE :
			     LM_WIRE_REASON_INTERNAL, "%s", why);
	return ret;
}

/* Stop the tracking we started; a detached VM's teardown does it itself. */
void lm_xfer_dirty_stop(struct lm_xfer *x)
{
	struct lm_vm *vm = x->vm;
	u32 i;

	if (x->tracking) {
		mutex_lock(&vm->lock);
		if (!vm->dead)
			lm_dirty_stop(vm);
		mutex_unlock(&vm->lock);
		x->tracking = false;
	}
	if (x->dirty_maps) {
		for (i = 0; i < x->layout.nr_units; i++)
			kvfree(x->dirty_maps[i]);
		kfree(x->dirty_maps);
		x->dirty_maps = NULL;
	}
	kvfree(x->dirty_scratch);
	x->dirty_scratch = NULL;
}

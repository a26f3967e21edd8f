// SPDX-License-Identifier: GPL-2.0
/*
 * Live migration's view of dirty tracking: the pages to send in the next
 * round, as one bitmap per slot of the transfer's layout.
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
#include <linux/slab.h>

int lm_xfer_dirty_start(struct lm_xfer *x)
{
	struct lm_vm *vm = x->vm;
	const char *why = "Cannot start dirty tracking";
	u32 i;
	int ret;

	x->dirty_maps = kcalloc(x->layout.nr_slots, sizeof(*x->dirty_maps),
				GFP_KERNEL);
	if (!x->dirty_maps)
		return -ENOMEM;
	/*
	 * Sized by guest memory: 8 MiB for a 256 GiB slot, past what kmalloc
	 * can give (bitmap_zalloc() warned and failed above 128 GiB).
	 */
	for (i = 0; i < x->layout.nr_slots; i++) {
		x->dirty_maps[i] = kvcalloc(BITS_TO_LONGS(x->layout.slots[i].npages),
					    sizeof(long), GFP_KERNEL_ACCOUNT);
		if (!x->dirty_maps[i])
			return -ENOMEM;
	}

	mutex_lock(&vm->lock);
	if (vm->dead) {
		ret = -ENODEV;
		why = "The VM was detached";
	} else {
		ret = lm_dirty_start(vm, &why);
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
 * checked against the old one.
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

		got = lm_dirty_collect(vm, s->as_id, s->gpa >> PAGE_SHIFT,
				       s->npages, s->hva, x->dirty_maps[i]);
		if (got < 0) {
			ret = got;
			why = got == -ENOENT ?
			      "A memory slot changed during the migration" :
			      "Cannot read the dirty log";
			goto out_unlock;
		}
		*dirty += bitmap_weight(x->dirty_maps[i], s->npages);
	}
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
		for (i = 0; i < x->layout.nr_slots; i++)
			kvfree(x->dirty_maps[i]);
		kfree(x->dirty_maps);
		x->dirty_maps = NULL;
	}
}

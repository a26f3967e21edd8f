// SPDX-License-Identifier: GPL-2.0
/*
 * Following the VM's memslots: which slots exist, which lm logs, which
 * changed since the previous round.
 *
 * Every memslot update bumps the generation of its address space, under
 * kvm->slots_lock. lm records the generations after its own updates; a
 * different one later means the VMM changed something, and the slots are
 * compared one by one with what lm recorded. A slot is logged by lm only
 * in the incarnation lm turned logging on in: a slot created, moved or
 * re-flagged by the VMM is new to lm.
 */

#include "internal.h"
#include "vm.h"

#include <linux/bsearch.h>
#include <linux/lm.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/sort.h>

static int slot_cmp(const void *a, const void *b)
{
	const struct lm_dirty_slot *x = a, *y = b;

	if (x->as_id != y->as_id)
		return x->as_id < y->as_id ? -1 : 1;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return 0;
}

static struct lm_dirty_slot *find_slot(struct lm_dirty *d, u16 as_id, u16 id)
{
	struct lm_dirty_slot key = { .as_id = as_id, .id = id };

	return bsearch(&key, d->slots, d->nr_slots, sizeof(key), slot_cmp);
}

/* Does the KVM memslot still look as lm recorded it? */
static bool slot_same(const struct lm_dirty_slot *s,
		      const struct kvm_memory_slot *m)
{
	return m && m->base_gfn == s->base_gfn && m->npages == s->npages &&
	       m->userspace_addr == s->hva && m->flags == s->flags;
}

static bool generations_changed(struct lm_dirty *d)
{
	int as_id;

	lockdep_assert_held(&d->vm->kvm->slots_lock);
	for (as_id = 0; as_id < KVM_ADDRESS_SPACE_NUM; as_id++)
		if (__kvm_memslots(d->vm->kvm, as_id)->generation !=
		    d->generation[as_id])
			return true;
	return false;
}

static void record_generations(struct lm_dirty *d)
{
	int as_id;

	for (as_id = 0; as_id < KVM_ADDRESS_SPACE_NUM; as_id++)
		d->generation[as_id] =
			__kvm_memslots(d->vm->kvm, as_id)->generation;
}

static unsigned int count_user_slots(struct kvm *kvm)
{
	struct kvm_memory_slot *m;
	unsigned int n = 0;
	int as_id, bkt;

	for (as_id = 0; as_id < KVM_ADDRESS_SPACE_NUM; as_id++)
		kvm_for_each_memslot(m, bkt, __kvm_memslots(kvm, as_id))
			if (m->id < KVM_USER_MEM_SLOTS)
				n++;
	return n;
}

/* Turn logging on (@on) or off on the KVM memslot @s describes. */
static int set_logging(struct kvm *kvm, struct lm_dirty_slot *s, bool on)
{
	struct kvm_userspace_memory_region mem = {
		.slot = (u32)s->as_id << 16 | s->id,
		.guest_phys_addr = (u64)s->base_gfn << PAGE_SHIFT,
		.memory_size = (u64)s->npages << PAGE_SHIFT,
		.userspace_addr = s->hva,
		.flags = on ? s->flags | KVM_MEM_LOG_DIRTY_PAGES :
			      s->flags & ~KVM_MEM_LOG_DIRTY_PAGES,
	};
	int ret;

	ret = __kvm_set_memory_region(kvm, &mem);
	if (!ret)
		s->flags = mem.flags;
	return ret;
}

/* Classify a slot lm has not seen in this incarnation. */
static void slot_init(struct lm_dirty_slot *s, const struct kvm_memory_slot *m,
		      bool initial)
{
	s->as_id = m->as_id;
	s->id = m->id;
	s->base_gfn = m->base_gfn;
	s->npages = m->npages;
	s->hva = m->userspace_addr;
	s->flags = m->flags;
	s->logged_by_lm = false;
	s->changed = false;
	s->dirty = 0;
	if (m->flags & KVM_MEM_READONLY)
		s->state = LM_TRACK_SLOT_READONLY;
	else if (m->flags & KVM_MEM_LOG_DIRTY_PAGES)
		s->state = LM_TRACK_SLOT_VMM_LOGGED;
	else
		s->state = initial ? LM_TRACK_SLOT_LOGGED : LM_TRACK_SLOT_NEW;
}

/*
 * Bring d->slots in line with the VM's memslots at the start of a round
 * (@initial: at TRACK_START) and turn logging on where it is missing.
 * d->stale_layout is set when the bitmaps need a new buffer. On failure the
 * slot list is left unchanged, except that slots lm turned logging on for
 * stay in it (so that stopping turns it off again).
 */
int lm_dirty_slots_reconcile(struct lm_dirty *d, bool initial)
{
	struct kvm *kvm = d->vm->kvm;
	struct lm_dirty_slot *slots, *removed, *old;
	unsigned int n = 0, nr_removed = 0, count, i;
	struct kvm_memory_slot *m;
	int as_id, bkt, ret = 0;

	mutex_lock(&kvm->slots_lock);
	if (!initial && !generations_changed(d)) {
		mutex_unlock(&kvm->slots_lock);
		return 0;
	}

	count = count_user_slots(kvm);
	slots = kvcalloc(count, sizeof(*slots), GFP_KERNEL);
	removed = kvcalloc(d->nr_slots, sizeof(*removed), GFP_KERNEL);
	if (!slots || !removed) {
		ret = -ENOMEM;
		goto err_free;
	}

	for (as_id = 0; as_id < KVM_ADDRESS_SPACE_NUM; as_id++) {
		kvm_for_each_memslot(m, bkt, __kvm_memslots(kvm, as_id)) {
			struct lm_dirty_slot *s = &slots[n];

			if (m->id >= KVM_USER_MEM_SLOTS)
				continue;
			old = find_slot(d, m->as_id, m->id);
			if (old && slot_same(old, m)) {
				*s = *old;
				s->changed = false;
			} else {
				slot_init(s, m, initial);
				d->stale_layout = true;
			}
			n++;
		}
	}
	sort(slots, n, sizeof(*slots), slot_cmp, NULL);

	for (i = 0; i < d->nr_slots; i++) {
		old = &d->slots[i];
		if (bsearch(old, slots, n, sizeof(*old), slot_cmp))
			continue;
		removed[nr_removed] = *old;
		removed[nr_removed].state = LM_TRACK_SLOT_REMOVED;
		removed[nr_removed].dirty = 0;
		nr_removed++;
		d->stale_layout = true;
	}

	/*
	 * Memslots are not walked any more: changing them is safe now. A slot
	 * that fails stays unlogged and reported whole, and the error is
	 * returned once every other slot has been handled.
	 */
	for (i = 0; i < n; i++) {
		struct lm_dirty_slot *s = &slots[i];
		int err;

		if (s->logged_by_lm || s->state == LM_TRACK_SLOT_READONLY ||
		    s->state == LM_TRACK_SLOT_VMM_LOGGED)
			continue;
		err = set_logging(kvm, s, true);
		if (err) {
			ret = ret ?: err;
			continue;
		}
		s->logged_by_lm = true;
	}
	record_generations(d);
	mutex_unlock(&kvm->slots_lock);

	kvfree(d->slots);
	kvfree(d->removed);
	d->slots = slots;
	d->nr_slots = n;
	d->removed = removed;
	d->nr_removed = nr_removed;
	/* Slots that could not be logged force a retry next round. */
	if (ret)
		memset(d->generation, 0, sizeof(d->generation));
	return ret;

err_free:
	mutex_unlock(&kvm->slots_lock);
	kvfree(removed);
	kvfree(slots);
	return ret;
}

/*
 * After a harvest: if the VMM changed memslots while it ran, the bitmaps
 * of the slots it changed may not be theirs. Those slots are reported
 * whole; the next round's reconciliation takes them up again.
 */
void lm_dirty_slots_check(struct lm_dirty *d)
{
	struct kvm *kvm = d->vm->kvm;
	unsigned int i;

	mutex_lock(&kvm->slots_lock);
	if (generations_changed(d)) {
		for (i = 0; i < d->nr_slots; i++) {
			struct lm_dirty_slot *s = &d->slots[i];
			struct kvm_memslots *ms = __kvm_memslots(kvm, s->as_id);

			if (!slot_same(s, id_to_memslot(ms, s->id)))
				s->changed = true;
		}
	}
	mutex_unlock(&kvm->slots_lock);
}

/*
 * Turn logging off on every slot lm turned it on, unless the VMM has
 * changed the slot since (it then owns its flags again).
 */
void lm_dirty_slots_restore(struct lm_dirty *d)
{
	struct kvm *kvm = d->vm->kvm;
	unsigned int i;

	mutex_lock(&kvm->slots_lock);
	for (i = 0; i < d->nr_slots; i++) {
		struct lm_dirty_slot *s = &d->slots[i];
		struct kvm_memslots *ms = __kvm_memslots(kvm, s->as_id);
		int err;

		if (!s->logged_by_lm || !slot_same(s, id_to_memslot(ms, s->id)))
			continue;
		err = set_logging(kvm, s, false);
		if (err)
			pr_warn("VM %u: cannot turn dirty logging off on slot %u:%u: %d\n",
				d->vm->id, s->as_id, s->id, err);
		s->logged_by_lm = false;
	}
	mutex_unlock(&kvm->slots_lock);
}

/* Give every logged slot its place in the buffer; returns the size. */
size_t lm_dirty_slots_layout(struct lm_dirty *d)
{
	size_t off = LM_DIRTY_BUF_BITMAPS;
	unsigned int i;

	for (i = 0; i < d->nr_slots; i++) {
		struct lm_dirty_slot *s = &d->slots[i];

		s->bitmap_off = off;
		if (s->logged_by_lm)
			off += BITS_TO_LONGS(s->npages) * sizeof(long);
	}
	return off;
}

/* Is every page of @slot to be reported dirty in this round? */
bool lm_dirty_slot_whole(const struct lm_dirty *d,
			 const struct lm_dirty_slot *s)
{
	switch (s->state) {
	case LM_TRACK_SLOT_NEW:
	case LM_TRACK_SLOT_VMM_LOGGED:
		return true;
	case LM_TRACK_SLOT_LOGGED:
		return d->lost || s->changed || !s->logged_by_lm;
	default:
		return false;
	}
}

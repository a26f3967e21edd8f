// SPDX-License-Identifier: GPL-2.0
/*
 * The VM's layout: its memory slots and vCPU count, read once when a
 * transfer starts, sent as CONFIG by the source and checked against its
 * own by the destination. Only slots the VMM created are moved; KVM's
 * private slots (id >= KVM_USER_MEM_SLOTS) belong to each host's KVM.
 *
 * What is moved are the layout's units. In slot mode each slot is one.
 * Keyed by backing, the units are the VMM's shared file mappings that
 * slots map into: a running QEMU pc machine and a fresh one have different
 * slots over the same RAM (the firmware re-maps the legacy ROM area, and
 * aliases RAM in SMRAM), but the same RAM backend of the same size. Slots
 * in private memory are left to the VMM: QEMU's stream with x-ignore-shared
 * carries exactly what is not shared.
 */

#include "internal.h"
#include "vm.h"

#include <linux/kvm_host.h>
#include <linux/mm.h>
#include <linux/slab.h>

static bool layout_wanted(const struct kvm_memory_slot *slot)
{
	return slot->id < KVM_USER_MEM_SLOTS && slot->npages;
}

static struct lm_xfer_unit *layout_add_unit(struct lm_xfer_layout *layout,
					    unsigned long hva, u64 npages)
{
	struct lm_xfer_unit *u = &layout->units[layout->nr_units++];

	u->hva = hva;
	u->npages = npages;
	u->first = layout->total_pages;
	layout->total_pages += npages;
	return u;
}

/* Slot mode: every slot is moved as itself. */
static int layout_slot_units(struct lm_xfer *x)
{
	struct lm_xfer_layout *layout = &x->layout;
	u32 i;

	for (i = 0; i < layout->nr_slots; i++) {
		struct lm_xfer_slot *s = &layout->slots[i];

		layout_add_unit(layout, s->hva, s->npages);
		s->backing = i;
		s->backing_off = 0;
	}
	return 0;
}

/*
 * Keyed by backing: find the VMA of each slot in the VMM's address space
 * (the thread runs on it). Aliases of one backing, by several slots or
 * even several mappings of the same file range, are one unit. The slots
 * are in address space, then guest-physical order, so units come in the
 * order of the lowest address mapping them, as CONFIG wants.
 */
static int layout_backings(struct lm_xfer *x)
{
	struct lm_xfer_layout *layout = &x->layout;
	struct mm_struct *mm = x->mm;
	int ret = 0;
	u32 i, j;

	mmap_read_lock(mm);
	for (i = 0; i < layout->nr_slots; i++) {
		struct lm_xfer_slot *s = &layout->slots[i];
		struct vm_area_struct *vma = vma_lookup(mm, s->hva);
		struct lm_xfer_unit *u = NULL;
		unsigned long pgoff;
		u64 npages;

		/* Private memory, e.g. QEMU's ROM blocks: QEMU moves it. */
		if (!vma || !vma->vm_file || !(vma->vm_flags & VM_SHARED))
			continue;
		if (s->npages > (vma->vm_end - s->hva) >> PAGE_SHIFT) {
			lm_xfer_fail(x, -EINVAL, LM_WIRE_REASON_INTERNAL,
				     "Memory slot at %#llx (space %u) spans several mappings",
				     s->gpa, s->as_id);
			ret = -EINVAL;
			goto out_unlock;
		}
		pgoff = vma->vm_pgoff;
		npages = (vma->vm_end - vma->vm_start) >> PAGE_SHIFT;
		for (j = 0; j < layout->nr_units; j++) {
			if (layout->units[j].file == vma->vm_file &&
			    layout->units[j].pgoff == pgoff &&
			    layout->units[j].npages == npages) {
				u = &layout->units[j];
				break;
			}
		}
		if (!u) {
			u = layout_add_unit(layout, vma->vm_start, npages);
			u->file = vma->vm_file;
			u->pgoff = pgoff;
		}
		s->backing = u - layout->units;
		s->backing_off = (s->hva - vma->vm_start) >> PAGE_SHIFT;
	}
	if (!layout->nr_units) {
		lm_xfer_fail(x, -EINVAL, LM_WIRE_REASON_INTERNAL,
			     "No memory slot is in a shared mapping of the VMM");
		ret = -EINVAL;
	}
out_unlock:
	mmap_read_unlock(mm);
	return ret;
}

int lm_xfer_layout_read(struct lm_xfer *x)
{
	struct lm_xfer_layout *layout = &x->layout;
	struct kvm *kvm = x->vm->kvm;
	struct kvm_memory_slot *slot;
	u32 n = 0, as_id;
	int bkt, idx, ret = 0;

	idx = srcu_read_lock(&kvm->srcu);
	for (as_id = 0; as_id < KVM_ADDRESS_SPACE_NUM; as_id++)
		kvm_for_each_memslot(slot, bkt, __kvm_memslots(kvm, as_id))
			n += layout_wanted(slot);
	if (!n || n > LM_WIRE_MAX_SLOTS) {
		lm_xfer_fail(x, -EINVAL, LM_WIRE_REASON_INTERNAL,
			     "The VM has %u memory slots (1 to %u supported)",
			     n, LM_WIRE_MAX_SLOTS);
		ret = -EINVAL;
		goto out_unlock;
	}
	layout->slots = kcalloc(n, sizeof(*layout->slots), GFP_KERNEL);
	if (!layout->slots) {
		lm_xfer_fail(x, -ENOMEM, LM_WIRE_REASON_INTERNAL,
			     "Out of memory");
		ret = -ENOMEM;
		goto out_unlock;
	}

	/* Address space, then guest-physical order: the gfn tree's order. */
	for (as_id = 0; as_id < KVM_ADDRESS_SPACE_NUM; as_id++) {
		struct kvm_memslots *slots = __kvm_memslots(kvm, as_id);
		struct rb_node *node;

		for (node = rb_first(&slots->gfn_tree); node;
		     node = rb_next(node)) {
			struct lm_xfer_slot *s;

			slot = container_of(node, struct kvm_memory_slot,
					    gfn_node[slots->node_idx]);
			if (!layout_wanted(slot) || layout->nr_slots == n)
				continue;
			s = &layout->slots[layout->nr_slots++];
			s->as_id = as_id;
			s->flags = slot->flags & KVM_MEM_READONLY ?
				   LM_WIRE_SLOT_READONLY : 0;
			s->gpa = (u64)slot->base_gfn << PAGE_SHIFT;
			s->npages = slot->npages;
			s->hva = slot->userspace_addr;
			s->backing = LM_XFER_NO_BACKING;
		}
	}
	layout->nr_vcpus = atomic_read(&kvm->online_vcpus);
out_unlock:
	srcu_read_unlock(&kvm->srcu, idx);
	if (ret)
		return ret;

	/* At most one unit per slot, in either mode. */
	layout->units = kcalloc(layout->nr_slots, sizeof(*layout->units),
				GFP_KERNEL);
	if (!layout->units) {
		lm_xfer_fail(x, -ENOMEM, LM_WIRE_REASON_INTERNAL,
			     "Out of memory");
		return -ENOMEM;
	}
	layout->by_backing = x->by_backing;
	ret = layout->by_backing ? layout_backings(x) : layout_slot_units(x);
	if (ret)
		return ret;
	spin_lock(&x->lock);
	x->stats.total_pages = layout->total_pages;
	spin_unlock(&x->lock);
	return 0;
}

void lm_xfer_layout_free(struct lm_xfer_layout *layout)
{
	kfree(layout->units);
	kfree(layout->slots);
	memset(layout, 0, sizeof(*layout));
}

/* The same size as a slot's: CONFIG's length check holds for both. */
static_assert(sizeof(struct lm_wire_backing) == sizeof(struct lm_wire_slot));

size_t lm_xfer_config_size(const struct lm_xfer_layout *layout)
{
	return sizeof(struct lm_wire_config) +
	       layout->nr_units * sizeof(struct lm_wire_slot);
}

void lm_xfer_config_encode(const struct lm_xfer_layout *layout, u32 mode,
			   void *buf)
{
	struct lm_wire_config *config = buf;
	struct lm_wire_slot *slot = buf + sizeof(*config);
	struct lm_wire_backing *backing = buf + sizeof(*config);
	u32 i;

	memset(buf, 0, lm_xfer_config_size(layout));
	config->page_size = cpu_to_le32(PAGE_SIZE);
	config->nr_vcpus = cpu_to_le32(layout->nr_vcpus);
	config->nr_slots = cpu_to_le32(layout->nr_units);
	config->mode = cpu_to_le32(mode);
	config->total_pages = cpu_to_le64(layout->total_pages);
	if (layout->by_backing) {
		for (i = 0; i < layout->nr_units; i++, backing++)
			backing->size = cpu_to_le64(layout->units[i].npages <<
						    PAGE_SHIFT);
		return;
	}
	for (i = 0; i < layout->nr_slots; i++, slot++) {
		slot->as_id = cpu_to_le32(layout->slots[i].as_id);
		slot->flags = cpu_to_le32(layout->slots[i].flags);
		slot->gpa = cpu_to_le64(layout->slots[i].gpa);
		slot->size = cpu_to_le64(layout->slots[i].npages << PAGE_SHIFT);
	}
}

/*
 * What makes a CONFIG well-formed, before it is compared with our VM: the
 * entries are those of a real layout in the source's page size (aligned,
 * not empty, sorted, not overlapping), every reserved field and unknown
 * flag is 0, and total_pages is their sum. Returns the reason to refuse it
 * with, LM_WIRE_REASON_PROTOCOL or 0.
 */
static int config_wellformed(struct lm_xfer *x,
			     const struct lm_wire_config *config,
			     char *msg, size_t msg_len)
{
	const struct lm_wire_slot *slot = (const void *)(config + 1);
	const struct lm_wire_backing *backing = (const void *)(config + 1);
	u32 page_size = le32_to_cpu(config->page_size);
	u32 i, nr = le32_to_cpu(config->nr_slots);
	u32 mode = le32_to_cpu(config->mode);
	u64 pages = 0, end = 0;

	if (mode != LM_WIRE_MODE_QUICK && mode != LM_WIRE_MODE_LIVE) {
		snprintf(msg, msg_len, "CONFIG mode %u unknown", mode);
		return LM_WIRE_REASON_PROTOCOL;
	}
	if (mode == LM_WIRE_MODE_LIVE && !(x->features & LM_WIRE_F_ROUNDS)) {
		snprintf(msg, msg_len, "CONFIG live mode without ROUNDS");
		return LM_WIRE_REASON_PROTOCOL;
	}
	if (page_size < 512 || !is_power_of_2(page_size)) {
		snprintf(msg, msg_len, "CONFIG page size %u", page_size);
		return LM_WIRE_REASON_PROTOCOL;
	}
	if (!le32_to_cpu(config->nr_vcpus)) {
		snprintf(msg, msg_len, "CONFIG without vCPUs");
		return LM_WIRE_REASON_PROTOCOL;
	}
	for (i = 0; i < nr; i++) {
		u64 size, gpa = 0;
		u32 as_id = 0;

		if (x->by_backing) {
			size = le64_to_cpu(backing[i].size);
			if (backing[i].reserved[0] || backing[i].reserved[1] ||
			    backing[i].reserved[2])
				goto reserved;
		} else {
			size = le64_to_cpu(slot[i].size);
			gpa = le64_to_cpu(slot[i].gpa);
			as_id = le32_to_cpu(slot[i].as_id);
			if (slot[i].reserved ||
			    le32_to_cpu(slot[i].flags) & ~LM_WIRE_SLOT_READONLY)
				goto reserved;
		}
		if (!size || size & (page_size - 1) || gpa & (page_size - 1)) {
			snprintf(msg, msg_len,
				 "CONFIG entry %u: size %#llx at %#llx", i, size,
				 gpa);
			return LM_WIRE_REASON_PROTOCOL;
		}
		/* Sorted by address space, then address; no overlap. */
		if (!x->by_backing && i &&
		    (as_id < le32_to_cpu(slot[i - 1].as_id) ||
		     (as_id == le32_to_cpu(slot[i - 1].as_id) && gpa < end))) {
			snprintf(msg, msg_len,
				 "CONFIG slot %u out of order or overlapping", i);
			return LM_WIRE_REASON_PROTOCOL;
		}
		if (!x->by_backing && gpa + size < gpa) {
			snprintf(msg, msg_len, "CONFIG slot %u wraps around", i);
			return LM_WIRE_REASON_PROTOCOL;
		}
		end = gpa + size;
		/* At most 1024 entries of < 2^64 bytes: no overflow. */
		pages += size / page_size;
	}
	if (le64_to_cpu(config->total_pages) != pages) {
		snprintf(msg, msg_len, "CONFIG total_pages %llu, entries %llu",
			 le64_to_cpu(config->total_pages), pages);
		return LM_WIRE_REASON_PROTOCOL;
	}
	return 0;

reserved:
	snprintf(msg, msg_len, "CONFIG entry %u: reserved bits set", i);
	return LM_WIRE_REASON_PROTOCOL;
}

/* The rest of lm_xfer_config_check() for backings; @config is well-formed. */
static int config_check_backings(const struct lm_xfer_layout *layout,
				 const struct lm_wire_config *config,
				 u32 *detail, char *msg, size_t msg_len)
{
	const struct lm_wire_backing *backing = (const void *)(config + 1);
	u32 i, nr = le32_to_cpu(config->nr_slots);

	if (nr != layout->nr_units) {
		snprintf(msg, msg_len, "RAM backings: source %u, destination %u",
			 nr, layout->nr_units);
		return LM_WIRE_REASON_NR_SLOTS;
	}
	for (i = 0; i < nr; i++, backing++) {
		u64 size = le64_to_cpu(backing->size);
		u64 ours = layout->units[i].npages << PAGE_SHIFT;

		*detail = i;
		if (size != ours) {
			snprintf(msg, msg_len,
				 "RAM backing %u size: source %#llx, destination %#llx",
				 i, size, ours);
			return LM_WIRE_REASON_SLOT;
		}
	}
	*detail = 0;
	return 0;
}

/*
 * Check the source's CONFIG (@len bytes at @buf) against our layout.
 * Returns 0 or an enum lm_wire_reason, with @detail and @msg saying what
 * differs, in words an operator can act on. A malformed CONFIG is refused
 * (PROTOCOL) before anything is compared.
 */
int lm_xfer_config_check(struct lm_xfer *x, const void *buf, size_t len,
			 u32 *detail, char *msg, size_t msg_len)
{
	const struct lm_xfer_layout *layout = &x->layout;
	const struct lm_wire_config *config = buf;
	const struct lm_wire_slot *slot = buf + sizeof(*config);
	u32 i, nr_slots;
	int reason;

	*detail = 0;
	if (len < sizeof(*config))
		goto malformed;
	nr_slots = le32_to_cpu(config->nr_slots);
	if (!nr_slots || nr_slots > LM_WIRE_MAX_SLOTS ||
	    len != sizeof(*config) + nr_slots * sizeof(*slot))
		goto malformed;
	reason = config_wellformed(x, config, msg, msg_len);
	if (reason)
		return reason;
	x->mode = le32_to_cpu(config->mode);

	if (le32_to_cpu(config->page_size) != PAGE_SIZE) {
		snprintf(msg, msg_len, "Page size: source %u, destination %lu",
			 le32_to_cpu(config->page_size), PAGE_SIZE);
		return LM_WIRE_REASON_PAGE_SIZE;
	}
	if (le32_to_cpu(config->nr_vcpus) != layout->nr_vcpus) {
		snprintf(msg, msg_len, "vCPUs: source %u, destination %u",
			 le32_to_cpu(config->nr_vcpus), layout->nr_vcpus);
		return LM_WIRE_REASON_VCPUS;
	}
	if (layout->by_backing)
		return config_check_backings(layout, config, detail, msg,
					     msg_len);
	if (nr_slots != layout->nr_slots) {
		snprintf(msg, msg_len,
			 "Memory slots: source %u, destination %u",
			 nr_slots, layout->nr_slots);
		return LM_WIRE_REASON_NR_SLOTS;
	}
	/* One difference per message: it must fit in an ABORT. */
	for (i = 0; i < nr_slots; i++, slot++) {
		const struct lm_xfer_slot *ours = &layout->slots[i];
		u64 size = le64_to_cpu(slot->size);

		*detail = i;
		if (le32_to_cpu(slot->as_id) != ours->as_id) {
			snprintf(msg, msg_len,
				 "Slot %u address space: source %u, destination %u",
				 i, le32_to_cpu(slot->as_id), ours->as_id);
			return LM_WIRE_REASON_SLOT;
		}
		if (le64_to_cpu(slot->gpa) != ours->gpa) {
			snprintf(msg, msg_len,
				 "Slot %u base: source %#llx, destination %#llx",
				 i, le64_to_cpu(slot->gpa), ours->gpa);
			return LM_WIRE_REASON_SLOT;
		}
		if (size != ours->npages << PAGE_SHIFT) {
			snprintf(msg, msg_len,
				 "Slot %u size: source %#llx, destination %#llx",
				 i, size, ours->npages << PAGE_SHIFT);
			return LM_WIRE_REASON_SLOT;
		}
		if (le32_to_cpu(slot->flags) != ours->flags) {
			snprintf(msg, msg_len,
				 "Slot %u flags: source %#x, destination %#x",
				 i, le32_to_cpu(slot->flags), ours->flags);
			return LM_WIRE_REASON_SLOT;
		}
	}
	*detail = 0;
	return 0;

malformed:
	snprintf(msg, msg_len, "Malformed CONFIG frame of %zu bytes", len);
	return LM_WIRE_REASON_PROTOCOL;
}

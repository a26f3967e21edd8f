// SPDX-License-Identifier: GPL-2.0
/*
 * The "lm" generic netlink family: the whole control interface of the
 * module. uapi/linux/lm.h documents every command and attribute.
 *
 * Each command has its own policy, listing exactly the attributes it takes;
 * with strict validation (the default for a new family) anything else in a
 * request is rejected before a handler runs.
 */

#include "dirty/dirty.h"
#include "xfer/xfer.h"
#include "compat.h"
#include "netlink.h"
#include "version.h"
#include "vm.h"

#include <linux/file.h>
#include <linux/kvm_host.h>
#include <linux/lm.h>
#include <linux/pid.h>
#include <linux/rbtree.h>
#include <linux/sched/mm.h>
#include <linux/utsname.h>
#include <net/genetlink.h>
#include <net/sock.h>

static const struct nla_policy attach_policy[LM_A_MAX + 1] = {
	[LM_A_VM_FD]	= { .type = NLA_U32 },
	[LM_A_VM_PID]	= NLA_POLICY_MIN(NLA_U32, 1),
};

static const struct nla_policy vm_id_policy[LM_A_MAX + 1] = {
	[LM_A_VM_ID]	= NLA_POLICY_MIN(NLA_U32, 1),
};

static int get_info(struct sk_buff *skb, struct genl_info *info)
{
	struct sk_buff *reply;
	void *hdr;

	reply = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!reply)
		return -ENOMEM;
	hdr = genlmsg_put_reply(reply, info, &lm_genl_family, 0,
				LM_CMD_GET_INFO);
	if (!hdr)
		goto err_free_reply;
	if (nla_put_string(reply, LM_A_INFO_MODULE_VERSION, LM_MODULE_VERSION) ||
	    nla_put_u32(reply, LM_A_INFO_WIRE_VERSION, LM_WIRE_VERSION) ||
	    nla_put_u64_64bit(reply, LM_A_INFO_FEATURES,
			      LM_FEATURE_ATTACH | LM_FEATURE_DIRTY_TRACK |
			      LM_FEATURE_MIGRATE | LM_FEATURE_COMPRESS,
			      LM_A_PAD) ||
	    nla_put_string(reply, LM_A_INFO_KERNEL_RELEASE,
			   init_utsname()->release))
		goto err_free_reply;
	genlmsg_end(reply, hdr);
	return genlmsg_reply(reply, info);

err_free_reply:
	nlmsg_free(reply);
	return -EMSGSIZE;
}

/*
 * The VMM owning @kvm: the process named by LM_A_VM_PID, or the caller. It
 * must be the thread group whose address space the VM was created in, so
 * that later work done "as the VMM" (dirty-log harvesting) is done on the
 * right memory.
 */
static struct pid *vm_owner(struct kvm *kvm, struct genl_info *info)
{
	struct nlattr *attr = info->attrs[LM_A_VM_PID];
	struct task_struct *task;
	struct mm_struct *mm;
	struct pid *owner;
	bool owns;

	if (!attr) {
		if (current->mm != kvm->mm) {
			GENL_SET_ERR_MSG(info, "The caller is not the VM's owner: give its VMM's pid");
			return ERR_PTR(-EINVAL);
		}
		return get_task_pid(current, PIDTYPE_TGID);
	}

	rcu_read_lock();
	task = pid_task(find_vpid(nla_get_u32(attr)), PIDTYPE_PID);
	if (task)
		get_task_struct(task);
	rcu_read_unlock();
	if (!task) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr, "No such process");
		return ERR_PTR(-ESRCH);
	}
	/*
	 * Attaching hands the caller the VMM's guest memory: it needs the
	 * right to ptrace the VMM. Asked before anything else is said about
	 * the process, so that it learns nothing of one it may not ptrace.
	 */
	if (!lm_may_ptrace(task)) {
		put_task_struct(task);
		NL_SET_ERR_MSG_ATTR(info->extack, attr,
				    "Not allowed to ptrace this process");
		return ERR_PTR(-EPERM);
	}

	mm = get_task_mm(task);
	owns = mm && mm == kvm->mm;
	if (mm)
		mmput(mm);
	owner = owns ? get_task_pid(task, PIDTYPE_TGID) : NULL;
	put_task_struct(task);
	if (!owner) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr,
				    "This process is not the VMM of the VM");
		return ERR_PTR(-EINVAL);
	}
	return owner;
}

static int attach(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *fd_attr = info->attrs[LM_A_VM_FD];
	struct sk_buff *reply;
	struct pid *owner;
	struct lm_vm *vm;
	struct file *file;
	void *hdr;
	int ret;

	if (lm_nl_missing(info, LM_A_VM_FD))
		return -EINVAL;

	/* Allocated first: once attached, replying must not fail. */
	reply = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!reply)
		return -ENOMEM;

	file = fget(nla_get_u32(fd_attr));
	if (!file) {
		NL_SET_ERR_MSG_ATTR(info->extack, fd_attr,
				    "Not an open file descriptor");
		ret = -EBADF;
		goto err_free_reply;
	}
	if (!file_is_kvm(file)) {
		NL_SET_ERR_MSG_ATTR(info->extack, fd_attr,
				    "Not a KVM VM file descriptor");
		ret = -EINVAL;
		goto err_put_file;
	}

	owner = vm_owner(file->private_data, info);
	if (IS_ERR(owner)) {
		ret = PTR_ERR(owner);
		goto err_put_file;
	}

	vm = lm_vm_attach(file, owner, genl_info_net(info), info->extack);
	if (IS_ERR(vm)) {
		ret = PTR_ERR(vm);
		goto err_put_owner;
	}

	hdr = genlmsg_put_reply(reply, info, &lm_genl_family, 0, LM_CMD_ATTACH);
	/* Cannot fail: a fresh NLMSG_GOODSIZE message has room for this. */
	nla_put_u32(reply, LM_A_VM_ID, vm->id);
	genlmsg_end(reply, hdr);
	pr_debug("attached VM %u (owner %d)\n", vm->id, pid_nr(owner));

	lm_vm_put(vm);
	put_pid(owner);
	fput(file);
	return genlmsg_reply(reply, info);

err_put_owner:
	put_pid(owner);
err_put_file:
	fput(file);
err_free_reply:
	nlmsg_free(reply);
	return ret;
}

static int detach(struct sk_buff *skb, struct genl_info *info)
{
	if (lm_nl_missing(info, LM_A_VM_ID))
		return -EINVAL;
	return lm_vm_detach(nla_get_u32(info->attrs[LM_A_VM_ID]), info->extack);
}

/*
 * Add one memslot to the LM_A_VM_MEMSLOTS nest @slots. A nest's length is
 * 16 bits, so the nest counts as full before it would overflow that.
 */
static int put_memslot(struct sk_buff *skb, struct nlattr *slots, int index,
		       const struct kvm_memory_slot *slot)
{
	struct nlattr *nest;

	nest = nla_nest_start(skb, index);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u32(skb, LM_MEMSLOT_A_ID, (u16)slot->id) ||
	    nla_put_u32(skb, LM_MEMSLOT_A_AS_ID, slot->as_id) ||
	    nla_put_u64_64bit(skb, LM_MEMSLOT_A_GPA,
			      (u64)slot->base_gfn << PAGE_SHIFT,
			      LM_MEMSLOT_A_PAD) ||
	    nla_put_u64_64bit(skb, LM_MEMSLOT_A_SIZE,
			      (u64)slot->npages << PAGE_SHIFT,
			      LM_MEMSLOT_A_PAD) ||
	    nla_put_u32(skb, LM_MEMSLOT_A_FLAGS, slot->flags) ||
	    nla_put_u64_64bit(skb, LM_MEMSLOT_A_HVA, slot->userspace_addr,
			      LM_MEMSLOT_A_PAD) ||
	    skb_tail_pointer(skb) - (unsigned char *)slots > U16_MAX) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

/*
 * Fill one LIST message for @vm with its memslots from number *@cursor on,
 * in address-space then guest-physical order. Returns 0 when every slot
 * fitted, -EMSGSIZE when the message is full: if it holds at least one
 * slot it is kept and *@cursor says where the next message resumes.
 */
static int put_vm(struct sk_buff *skb, u32 portid, u32 seq, int flags,
		  struct lm_vm *vm, unsigned long *cursor)
{
	struct kvm *kvm = vm->kvm;
	unsigned long index = 0, put = 0;
	struct nlattr *slots_nest;
	int as_id, srcu_idx, ret = 0;
	void *hdr;

	hdr = genlmsg_put(skb, portid, seq, &lm_genl_family, flags, LM_CMD_LIST);
	if (!hdr)
		return -EMSGSIZE;
	if (nla_put_u32(skb, LM_A_VM_ID, vm->id) ||
	    nla_put_u32(skb, LM_A_VM_PID, pid_vnr(vm->owner)) ||
	    nla_put_u8(skb, LM_A_VM_OWNER_ALIVE,
		       atomic_read(&kvm->mm->mm_users) > 0) ||
	    nla_put_u32(skb, LM_A_VM_NR_VCPUS,
			atomic_read(&kvm->online_vcpus)))
		goto err_cancel;

	slots_nest = nla_nest_start(skb, LM_A_VM_MEMSLOTS);
	if (!slots_nest)
		goto err_cancel;

	srcu_idx = srcu_read_lock(&kvm->srcu);
	for (as_id = 0; as_id < KVM_ADDRESS_SPACE_NUM && !ret; as_id++) {
		struct kvm_memslots *slots = __kvm_memslots(kvm, as_id);
		struct kvm_memory_slot *slot;
		struct rb_node *node;

		for (node = rb_first(&slots->gfn_tree); node;
		     node = rb_next(node), index++) {
			if (index < *cursor)
				continue;
			slot = container_of(node, struct kvm_memory_slot,
					    gfn_node[slots->node_idx]);
			ret = put_memslot(skb, slots_nest, index, slot);
			if (ret)
				break;
			put++;
		}
	}
	srcu_read_unlock(&kvm->srcu, srcu_idx);

	if (ret && !put)
		goto err_cancel;
	nla_nest_end(skb, slots_nest);
	genlmsg_end(skb, hdr);
	if (ret)
		*cursor += put;
	return ret;

err_cancel:
	genlmsg_cancel(skb, hdr);
	return -EMSGSIZE;
}

static int list_one(struct sk_buff *skb, struct genl_info *info)
{
	unsigned long cursor = 0;
	struct sk_buff *reply;
	struct lm_vm *vm;
	int ret;

	if (lm_nl_missing(info, LM_A_VM_ID))
		return -EINVAL;
	vm = lm_vm_get(nla_get_u32(info->attrs[LM_A_VM_ID]));
	if (!vm) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[LM_A_VM_ID],
				    "No attached VM has this id");
		return -ENOENT;
	}

	/* Room for a full memslot nest, the most one message can carry. */
	reply = genlmsg_new(U16_MAX + NLMSG_GOODSIZE, GFP_KERNEL);
	if (!reply) {
		ret = -ENOMEM;
		goto out_put_vm;
	}
	ret = put_vm(reply, info->snd_portid, info->snd_seq, 0, vm, &cursor);
	if (ret) {
		/* Thousands of memslots: only a dump can carry them all. */
		GENL_SET_ERR_MSG(info, "The VM has too many memslots for one message: list it with a dump");
		nlmsg_free(reply);
		goto out_put_vm;
	}
	ret = genlmsg_reply(reply, info);
out_put_vm:
	lm_vm_put(vm);
	return ret;
}

/*
 * Dump cursor: cb->args[0] is the id of the VM being listed, cb->args[1]
 * the first memslot of it still to send. LM_A_VM_ID narrows the dump to
 * one VM (an unknown id gives an empty dump; the non-dump form reports it).
 */
static int list_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct nlattr *only = lm_genl_dump_attrs(cb)[LM_A_VM_ID];
	u32 portid = NETLINK_CB(cb->skb).portid;
	u32 seq = cb->nlh->nlmsg_seq;
	u32 id = max_t(u32, cb->args[0], 1);
	struct lm_vm *vm;
	int ret = 0;

	if (only)
		id = max_t(u32, id, nla_get_u32(only));
	while ((vm = lm_vm_get_next(&id))) {
		if (only && id != nla_get_u32(only)) {
			lm_vm_put(vm);
			break;
		}
		/* A VM the caller may not act on is not listed to it. */
		if (!lm_vm_visible(vm, sock_net(cb->skb->sk))) {
			lm_vm_put(vm);
			cb->args[1] = 0;
			id++;
			continue;
		}
		ret = put_vm(skb, portid, seq, NLM_F_MULTI, vm, &cb->args[1]);
		lm_vm_put(vm);
		if (ret)
			break;
		cb->args[1] = 0;
		id++;
	}
	cb->args[0] = id;

	/* A VM that does not fit even alone in an empty message is an error. */
	if (ret && !skb->len)
		return ret;
	return skb->len;
}

/* genl_ops.internal_flags: the command names a VM by LM_A_VM_ID. */
#define LM_NL_VM	BIT(0)

/*
 * Every request naming a VM (LM_A_VM_ID) is authorised here, before its
 * handler runs: the caller must ask from the VM's network namespace and
 * may ptrace its VMM (kmod/authority.c). Ids are never reused, so the VM
 * the handler then looks up is the one authorised. An unknown id is left
 * to the handler, which reports it.
 */
static int lm_genl_pre_doit(const struct lm_genl_pre_doit_ops *ops,
			    struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *id;
	struct lm_vm *vm;
	int ret;

	/*
	 * Only ops flagged LM_NL_VM have LM_A_VM_ID in their attribute table:
	 * GET_INFO's, without a policy, is shorter than that.
	 */
	if (!(ops->internal_flags & LM_NL_VM))
		return 0;
	id = info->attrs[LM_A_VM_ID];
	if (!id)
		return 0;
	vm = lm_vm_get(nla_get_u32(id));
	if (!vm)
		return 0;
	ret = lm_vm_authorize(vm, genl_info_net(info), info->extack);
	lm_vm_put(vm);
	return ret;
}

/*
 * Dumps do not pass through pre_doit; TRACK_GET asks at every step of its
 * dump, since the caller's credentials may change between two reads.
 */
static int track_get_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct nlattr *id = lm_genl_dump_attrs(cb)[LM_A_VM_ID];
	struct lm_vm *vm;
	int ret;

	vm = id ? lm_vm_get(nla_get_u32(id)) : NULL;
	if (vm) {
		ret = lm_vm_authorize(vm, sock_net(cb->skb->sk), cb->extack);
		lm_vm_put(vm);
		if (ret)
			return ret;
	}
	return lm_dirty_nl_get_dump(skb, cb);
}

static const struct genl_ops lm_genl_ops[] = {
	{
		.cmd	= LM_CMD_GET_INFO,
		.doit	= get_info,
		/* No policy: the core rejects every attribute. */
	},
	{
		.cmd	= LM_CMD_ATTACH,
		.doit	= attach,
		.policy	= attach_policy,
		.maxattr = LM_A_MAX,
		.flags	= GENL_ADMIN_PERM,
	},
	{
		.cmd	= LM_CMD_DETACH,
		.doit	= detach,
		.policy	= vm_id_policy,
		.maxattr = LM_A_MAX,
		.flags	= GENL_ADMIN_PERM,
		.internal_flags = LM_NL_VM,
	},
	{
		.cmd	= LM_CMD_LIST,
		.doit	= list_one,
		.dumpit	= list_dump,
		.policy	= vm_id_policy,
		.maxattr = LM_A_MAX,
		.flags	= GENL_ADMIN_PERM,
		.internal_flags = LM_NL_VM,
	},
	{
		.cmd	= LM_CMD_TRACK_START,
		.doit	= lm_dirty_nl_start,
		.policy	= vm_id_policy,
		.maxattr = LM_A_MAX,
		.flags	= GENL_ADMIN_PERM,
		.internal_flags = LM_NL_VM,
	},
	{
		.cmd	= LM_CMD_TRACK_SYNC,
		.doit	= lm_dirty_nl_sync,
		.policy	= vm_id_policy,
		.maxattr = LM_A_MAX,
		.flags	= GENL_ADMIN_PERM,
		.internal_flags = LM_NL_VM,
	},
	{
		.cmd	= LM_CMD_TRACK_GET,
		.dumpit	= track_get_dump,
		.policy	= vm_id_policy,
		.maxattr = LM_A_MAX,
		.flags	= GENL_ADMIN_PERM,
		.internal_flags = LM_NL_VM,
	},
	{
		.cmd	= LM_CMD_TRACK_STOP,
		.doit	= lm_dirty_nl_stop,
		.policy	= vm_id_policy,
		.maxattr = LM_A_MAX,
		.flags	= GENL_ADMIN_PERM,
		.internal_flags = LM_NL_VM,
	},
	{
		.cmd	= LM_CMD_LISTEN,
		.doit	= lm_xfer_nl_listen,
		.policy	= lm_xfer_listen_policy,
		.maxattr = LM_A_MAX,
		.flags	= GENL_ADMIN_PERM,
		.internal_flags = LM_NL_VM,
	},
	{
		.cmd	= LM_CMD_MIGRATE,
		.doit	= lm_xfer_nl_migrate,
		.policy	= lm_xfer_migrate_policy,
		.maxattr = LM_A_MAX,
		.flags	= GENL_ADMIN_PERM,
		.internal_flags = LM_NL_VM,
	},
	{
		.cmd	= LM_CMD_SWITCHOVER,
		.doit	= lm_xfer_nl_switchover,
		.policy	= lm_xfer_switchover_policy,
		.maxattr = LM_A_MAX,
		.flags	= GENL_ADMIN_PERM,
		.internal_flags = LM_NL_VM,
	},
	{
		.cmd	= LM_CMD_COMPLETE,
		.doit	= lm_xfer_nl_complete,
		.policy	= lm_xfer_complete_policy,
		.maxattr = LM_A_MAX,
		.flags	= GENL_ADMIN_PERM,
		.internal_flags = LM_NL_VM,
	},
	{
		.cmd	= LM_CMD_CANCEL,
		.doit	= lm_xfer_nl_cancel,
		.policy	= lm_xfer_vm_policy,
		.maxattr = LM_A_MAX,
		.flags	= GENL_ADMIN_PERM,
		.internal_flags = LM_NL_VM,
	},
	{
		.cmd	= LM_CMD_STATUS,
		.doit	= lm_xfer_nl_status,
		.policy	= lm_xfer_vm_policy,
		.maxattr = LM_A_MAX,
		.flags	= GENL_ADMIN_PERM,
		.internal_flags = LM_NL_VM,
	},
};

/*
 * Transfer progress (LM_CMD_EVENT), sent in the network namespace of the
 * transfer only. Joining needs CAP_NET_ADMIN over that namespace: the
 * events tell which VMs migrate where.
 */
static const struct genl_multicast_group lm_genl_mcgrps[] = {
	[LM_GENL_MCGRP_XFER] = { .name = LM_MCGRP_XFER_NAME,
				 .flags = GENL_MCAST_CAP_NET_ADMIN },
};

struct genl_family lm_genl_family __ro_after_init = {
	.name		= LM_GENL_NAME,
	.version	= LM_GENL_VERSION,
	.maxattr	= LM_A_MAX,
	.module		= THIS_MODULE,
	.netnsok	= true,
	/* Every command takes its own locks; none needs genl_mutex. */
	.parallel_ops	= true,
	.pre_doit	= lm_genl_pre_doit,
	.ops		= lm_genl_ops,
	.n_ops		= ARRAY_SIZE(lm_genl_ops),
	.mcgrps		= lm_genl_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(lm_genl_mcgrps),
};

int __init lm_genl_init(void)
{
	return genl_register_family(&lm_genl_family);
}

void lm_genl_uninit(void)
{
	genl_unregister_family(&lm_genl_family);
}

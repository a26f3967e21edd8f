// SPDX-License-Identifier: GPL-2.0
/*
 * LM_CMD_TRACK_*: the netlink face of dirty tracking (uapi/linux/lm.h).
 * The family's ops table in kmod/netlink.c points here; each handler
 * holds vm->lock for the whole command.
 */

#include "compat.h"
#include "dirty.h"
#include "internal.h"
#include "netlink.h"
#include "vm.h"

#include <linux/lm.h>
#include <net/genetlink.h>

/* The VM named by LM_A_VM_ID, attached and locked, or an ERR_PTR. */
static struct lm_vm *lock_vm(struct nlattr **attrs,
			     struct netlink_ext_ack *extack)
{
	struct nlattr *id = attrs[LM_A_VM_ID];
	struct lm_vm *vm;

	if (!id) {
		NL_SET_ERR_MSG(extack, "Missing VM id (LM_A_VM_ID)");
		return ERR_PTR(-EINVAL);
	}
	vm = lm_vm_get(nla_get_u32(id));
	if (!vm) {
		NL_SET_ERR_MSG_ATTR(extack, id, "No attached VM has this id");
		return ERR_PTR(-ENOENT);
	}
	mutex_lock(&vm->lock);
	if (vm->dead) {
		mutex_unlock(&vm->lock);
		lm_vm_put(vm);
		NL_SET_ERR_MSG_ATTR(extack, id, "The VM has been detached");
		return ERR_PTR(-ENOENT);
	}
	return vm;
}

/*
 * The tracking code explains its failures with string literals chosen at
 * run time; NL_SET_ERR_MSG() wants the literal itself, so set it here.
 */
static void set_err_msg(struct netlink_ext_ack *extack, const char *why)
{
	if (extack && why)
		extack->_msg = why;
}

static void unlock_vm(struct lm_vm *vm)
{
	mutex_unlock(&vm->lock);
	lm_vm_put(vm);
}

/* A migration's rounds are its own: nobody else may harvest or stop them. */
static int check_not_migrating(struct lm_vm *vm, struct netlink_ext_ack *extack)
{
	if (vm->dirty && vm->dirty->migration) {
		NL_SET_ERR_MSG(extack, "A live migration of this VM owns its dirty tracking");
		return -EBUSY;
	}
	return 0;
}

int lm_dirty_nl_start(struct sk_buff *skb, struct genl_info *info)
{
	const char *why = NULL;
	struct lm_vm *vm;
	int ret;

	vm = lock_vm(info->attrs, info->extack);
	if (IS_ERR(vm))
		return PTR_ERR(vm);
	ret = lm_dirty_start(vm, false, &why);
	if (ret)
		set_err_msg(info->extack, why);
	unlock_vm(vm);
	return ret;
}

int lm_dirty_nl_stop(struct sk_buff *skb, struct genl_info *info)
{
	struct lm_vm *vm;
	int ret;

	vm = lock_vm(info->attrs, info->extack);
	if (IS_ERR(vm))
		return PTR_ERR(vm);
	ret = check_not_migrating(vm, info->extack);
	if (ret)
		goto out_unlock;
	ret = lm_dirty_stop(vm);
	if (ret)
		GENL_SET_ERR_MSG(info, "Dirty tracking does not run on this VM");
out_unlock:
	unlock_vm(vm);
	return ret;
}

static int put_slot(struct sk_buff *skb, int type,
		    const struct lm_dirty_slot *s)
{
	struct nlattr *nest;

	nest = nla_nest_start(skb, type);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u32(skb, LM_TRACK_SLOT_A_ID, s->id) ||
	    nla_put_u32(skb, LM_TRACK_SLOT_A_AS_ID, s->as_id) ||
	    nla_put_u64_64bit(skb, LM_TRACK_SLOT_A_GFN, s->base_gfn,
			      LM_TRACK_SLOT_A_PAD) ||
	    nla_put_u64_64bit(skb, LM_TRACK_SLOT_A_PAGES, s->npages,
			      LM_TRACK_SLOT_A_PAD) ||
	    nla_put_u64_64bit(skb, LM_TRACK_SLOT_A_DIRTY, s->dirty,
			      LM_TRACK_SLOT_A_PAD) ||
	    nla_put_u32(skb, LM_TRACK_SLOT_A_STATE, s->state)) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

/* Room for one slot nest in a reply: six attributes, padding included. */
#define SLOT_NEST_SIZE (nla_total_size(0) + 3 * nla_total_size(sizeof(u32)) + \
			3 * nla_total_size_64bit(sizeof(u64)))

static int put_round(struct sk_buff *skb, struct lm_vm *vm)
{
	struct lm_dirty *d = vm->dirty;
	struct nlattr *slots;
	unsigned int i;

	if (nla_put_u32(skb, LM_A_VM_ID, vm->id) ||
	    nla_put_u64_64bit(skb, LM_A_TRACK_ROUND, d->round, LM_A_PAD) ||
	    nla_put_u64_64bit(skb, LM_A_TRACK_PAGES, d->pages, LM_A_PAD) ||
	    nla_put_u64_64bit(skb, LM_A_TRACK_DIRTY, d->dirty, LM_A_PAD) ||
	    nla_put_u64_64bit(skb, LM_A_TRACK_HARVEST_NS, d->harvest_ns,
			      LM_A_PAD) ||
	    nla_put_u8(skb, LM_A_TRACK_MANUAL_PROTECT, !!d->manual_protect) ||
	    nla_put_u8(skb, LM_A_TRACK_HOST_WRITES, d->host_writes))
		return -EMSGSIZE;
	if (d->host_writes &&
	    (nla_put_u64_64bit(skb, LM_A_TRACK_HOST_DIRTY, d->host_dirty,
			       LM_A_PAD) ||
	     nla_put_u64_64bit(skb, LM_A_TRACK_HOST_ONLY, d->host_only,
			       LM_A_PAD) ||
	     nla_put_u64_64bit(skb, LM_A_TRACK_HOST_NS, d->host_ns, LM_A_PAD)))
		return -EMSGSIZE;
	slots = nla_nest_start(skb, LM_A_TRACK_SLOTS);
	if (!slots)
		return -EMSGSIZE;
	for (i = 0; i < d->nr_slots; i++)
		if (put_slot(skb, i, &d->slots[i]))
			return -EMSGSIZE;
	for (i = 0; i < d->nr_removed; i++)
		if (put_slot(skb, d->nr_slots + i, &d->removed[i]))
			return -EMSGSIZE;
	nla_nest_end(skb, slots);
	return 0;
}

int lm_dirty_nl_sync(struct sk_buff *skb, struct genl_info *info)
{
	const char *why = NULL;
	struct sk_buff *reply;
	struct lm_dirty *d;
	struct lm_vm *vm;
	void *hdr;
	int ret;

	vm = lock_vm(info->attrs, info->extack);
	if (IS_ERR(vm))
		return PTR_ERR(vm);
	ret = check_not_migrating(vm, info->extack);
	if (ret)
		goto out_unlock;
	ret = lm_dirty_sync(vm, &why);
	if (ret) {
		set_err_msg(info->extack, why);
		goto out_unlock;
	}

	d = vm->dirty;
	reply = genlmsg_new(NLMSG_GOODSIZE +
			    (size_t)(d->nr_slots + d->nr_removed) * SLOT_NEST_SIZE,
			    GFP_KERNEL);
	if (!reply) {
		ret = -ENOMEM;
		goto out_unlock;
	}
	hdr = genlmsg_put_reply(reply, info, &lm_genl_family, 0,
				LM_CMD_TRACK_SYNC);
	if (!hdr || put_round(reply, vm)) {
		nlmsg_free(reply);
		ret = -EMSGSIZE;
		goto out_unlock;
	}
	genlmsg_end(reply, hdr);
	ret = genlmsg_reply(reply, info);

out_unlock:
	unlock_vm(vm);
	return ret;
}

/*
 * Put the dirty runs of @s from page *@next on into @runs, at most @max.
 * Returns the number of runs; *@next is where to resume (s->npages when
 * the slot is done).
 */
static size_t collect_runs(const struct lm_dirty *d,
			   const struct lm_dirty_slot *s,
			   unsigned long *next, struct lm_gfn_run *runs,
			   size_t max)
{
	const unsigned long *bitmap = d->buf.kaddr + s->bitmap_off;
	unsigned long first, end;
	size_t n = 0;

	if (lm_dirty_slot_whole(d, s)) {
		if (*next < s->npages && max) {
			runs[n].gfn = s->base_gfn + *next;
			runs[n++].npages = s->npages - *next;
		}
		*next = s->npages;
		return n;
	}
	if (s->state != LM_TRACK_SLOT_LOGGED) {
		*next = s->npages;
		return 0;
	}
	while (n < max) {
		first = find_next_bit(bitmap, s->npages, *next);
		if (first >= s->npages) {
			*next = s->npages;
			break;
		}
		end = find_next_zero_bit(bitmap, s->npages, first);
		runs[n].gfn = s->base_gfn + first;
		runs[n++].npages = end - first;
		*next = end;
	}
	return n;
}

static int put_slot_runs(struct sk_buff *skb, struct netlink_callback *cb,
			 struct lm_vm *vm, const struct lm_dirty_slot *s)
{
	struct lm_dirty *d = vm->dirty;
	unsigned long next = cb->args[1];
	struct lm_gfn_run *runs;
	struct nlattr *attr;
	size_t max, n;
	void *hdr;

	hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			  &lm_genl_family, NLM_F_MULTI, LM_CMD_TRACK_GET);
	if (!hdr)
		return -EMSGSIZE;
	genl_dump_check_consistent(cb, hdr);
	if (nla_put_u32(skb, LM_A_VM_ID, vm->id) ||
	    nla_put_u64_64bit(skb, LM_A_TRACK_ROUND, d->round, LM_A_PAD) ||
	    put_slot(skb, LM_A_TRACK_SLOT, s))
		goto err_cancel;

	/* Leave room for the attribute header and the message's end. */
	if (skb_tailroom(skb) < nla_total_size(sizeof(*runs)) + NLA_ALIGNTO)
		goto err_cancel;
	max = (skb_tailroom(skb) - nla_total_size(0) - NLA_ALIGNTO) /
	      sizeof(*runs);
	attr = nla_reserve(skb, LM_A_TRACK_RUNS, max * sizeof(*runs));
	if (!attr)
		goto err_cancel;
	runs = nla_data(attr);
	n = collect_runs(d, s, &next, runs, max);
	/* Give back the part of the reservation the runs did not use. */
	attr->nla_len = nla_attr_size(n * sizeof(*runs));
	nlmsg_trim(skb, (u8 *)runs + NLA_ALIGN(n * sizeof(*runs)));
	genlmsg_end(skb, hdr);

	cb->args[1] = next;
	return next < s->npages ? -EMSGSIZE : 0;

err_cancel:
	genlmsg_cancel(skb, hdr);
	return -EMSGSIZE;
}

/*
 * TRACK_GET dump cursor: cb->args[0] is the slot being sent, cb->args[1]
 * the first page of it still to send. cb->seq is the round, so a round
 * closed in the middle of a dump flags it NLM_F_DUMP_INTR. The VM id is
 * checked here rather than in a start callback: on 6.1 only errors of the
 * dump itself carry an extack message.
 */
int lm_dirty_nl_get_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct nlattr **attrs = lm_genl_dump_attrs(cb);
	struct lm_dirty *d;
	struct lm_vm *vm;
	int ret = 0;

	vm = lock_vm(attrs, cb->extack);
	if (IS_ERR(vm))
		return PTR_ERR(vm);
	ret = check_not_migrating(vm, cb->extack);
	if (ret)
		goto out_unlock;
	d = vm->dirty;
	if (!d) {
		NL_SET_ERR_MSG(cb->extack, "Dirty tracking does not run on this VM");
		ret = -ENOENT;
		goto out_unlock;
	}
	if (!d->round) {
		NL_SET_ERR_MSG(cb->extack, "No round has been synced yet");
		ret = -ENODATA;
		goto out_unlock;
	}
	cb->seq = d->round;

	while (cb->args[0] < d->nr_slots) {
		ret = put_slot_runs(skb, cb, vm, &d->slots[cb->args[0]]);
		if (ret)
			break;
		cb->args[0]++;
		cb->args[1] = 0;
	}
	/* A full message is not an error: the dump goes on in the next one. */
	if (ret == -EMSGSIZE && skb->len)
		ret = 0;
	if (!ret)
		ret = skb->len;

out_unlock:
	unlock_vm(vm);
	return ret;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * lm_nl: the lm generic netlink family over libnl-genl.
 *
 * Every request goes through lm_nl_transact(): it sends one message and
 * reads replies until the kernel's ack, its error, or the end of a dump.
 * libnl's own error reporting is not used for kernel errors because it
 * flattens errnos into NLE_* codes and drops the extended ack; instead the
 * error callbacks keep the errno and parse the ack's NLMSGERR_ATTR_* TLVs
 * (the socket asks for them with NETLINK_EXT_ACK, and for capped acks with
 * NETLINK_CAP_ACK so the kernel does not echo our request back).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/genetlink.h>
#include <linux/netlink.h>

#include <netlink/cache.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/family.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include <linux/lm.h>

#include "lm_nl.h"

/* Asked for; the kernel caps it at net.core.rmem_max (208 KiB default). */
#define LM_NL_RCVBUF (1 << 20)

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

struct lm_nl {
	struct nl_sock *sock;
	int family;
	unsigned int family_version;

	/* State of the request in flight, and its outcome. */
	bool done;
	int err;
	char extack[256];
	int extack_missing_type;
	int extack_offset;
};

struct lm_nl_request {
	struct lm_nl *nl;
	/* Called for every reply carrying data; returns 0 or -errno. */
	int (*parse)(struct nlmsghdr *nlh, void *arg);
	void *arg;
	unsigned int nr_replies;
	/* First failure of parse(): reported once the request is over. */
	int parse_err;
};

static void lm_nl_reset(struct lm_nl *nl)
{
	nl->done = false;
	nl->err = 0;
	nl->extack[0] = '\0';
	nl->extack_missing_type = -1;
	nl->extack_offset = -1;
}

/* Read the NLMSGERR_ATTR_* TLVs at @tlvs, @len bytes, of an ack or DONE. */
static void lm_nl_parse_extack(struct lm_nl *nl, const struct nlmsghdr *nlh,
			       const void *tlvs, long len)
{
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS) || len <= 0)
		return;
	if (nla_parse(tb, NLMSGERR_ATTR_MAX, (struct nlattr *)tlvs, len, NULL))
		return;
	if (tb[NLMSGERR_ATTR_MSG])
		nla_strlcpy(nl->extack, tb[NLMSGERR_ATTR_MSG],
			    sizeof(nl->extack));
	if (tb[NLMSGERR_ATTR_MISS_TYPE] &&
	    nla_len(tb[NLMSGERR_ATTR_MISS_TYPE]) >= 4)
		nl->extack_missing_type =
			nla_get_u32(tb[NLMSGERR_ATTR_MISS_TYPE]);
	if (tb[NLMSGERR_ATTR_OFFS] && nla_len(tb[NLMSGERR_ATTR_OFFS]) >= 4)
		nl->extack_offset = nla_get_u32(tb[NLMSGERR_ATTR_OFFS]);
}

static int lm_nl_on_error(struct sockaddr_nl *who, struct nlmsgerr *e,
			  void *arg)
{
	struct lm_nl_request *req = arg;
	/* libnl hands us the payload; the header sits right before it. */
	struct nlmsghdr *nlh = (struct nlmsghdr *)((char *)e - NLMSG_HDRLEN);
	const char *end = (const char *)nlh + nlh->nlmsg_len;
	const char *tlvs = (const char *)(e + 1);

	(void)who;
	/* Without NLM_F_CAPPED the kernel echoed our request's payload. */
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		tlvs += NLMSG_ALIGN(e->msg.nlmsg_len - NLMSG_HDRLEN);

	req->nl->err = e->error;
	lm_nl_parse_extack(req->nl, nlh, tlvs, end - tlvs);
	req->nl->done = true;
	return NL_STOP;
}

static int lm_nl_on_ack(struct nl_msg *msg, void *arg)
{
	struct lm_nl_request *req = arg;

	(void)msg;
	req->nl->done = true;
	return NL_STOP;
}

/* End of a dump: NLMSG_DONE carries the dump's errno and maybe an extack. */
static int lm_nl_on_finish(struct nl_msg *msg, void *arg)
{
	struct lm_nl_request *req = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	int err;

	if (nlmsg_datalen(nlh) >= (int)sizeof(err)) {
		memcpy(&err, nlmsg_data(nlh), sizeof(err));
		req->nl->err = err;
		lm_nl_parse_extack(req->nl, nlh,
				   (char *)nlmsg_data(nlh) + NLMSG_ALIGN(sizeof(err)),
				   nlmsg_datalen(nlh) - (long)NLMSG_ALIGN(sizeof(err)));
	}
	req->nl->done = true;
	return NL_STOP;
}

static int lm_nl_on_reply(struct nl_msg *msg, void *arg)
{
	struct lm_nl_request *req = arg;
	int err;

	req->nr_replies++;
	if (!req->parse || req->parse_err)
		return NL_OK;
	err = req->parse(nlmsg_hdr(msg), req->arg);
	if (err)
		req->parse_err = err;
	/* Keep reading: a dump must be drained to its end either way. */
	return NL_OK;
}

static int lm_nl_errno(int nlerr)
{
	switch (-nlerr) {
	case NLE_NOMEM:
		/* Also what libnl makes of ENOBUFS: replies were dropped. */
		return -ENOMEM;
	case NLE_PERM:
		return -EPERM;
	case NLE_AGAIN:
		return -EAGAIN;
	case NLE_INTR:
		return -EINTR;
	case NLE_MSGSIZE:
		return -EMSGSIZE;
	default:
		return -EPROTO;
	}
}

/* Send @msg (consumed) and collect its replies. Returns 0 or -errno. */
static int lm_nl_transact(struct lm_nl *nl, struct nl_msg *msg,
			  int (*parse)(struct nlmsghdr *, void *), void *arg,
			  unsigned int *nr_replies)
{
	struct lm_nl_request req = {
		.nl = nl,
		.parse = parse,
		.arg = arg,
	};
	struct nl_cb *cb;
	int ret;

	lm_nl_reset(nl);
	cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!cb) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, lm_nl_on_reply, &req);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, lm_nl_on_ack, &req);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, lm_nl_on_finish, &req);
	nl_cb_err(cb, NL_CB_CUSTOM, lm_nl_on_error, &req);

	ret = nl_send_auto(nl->sock, msg);
	nlmsg_free(msg);
	if (ret < 0) {
		nl->err = lm_nl_errno(ret);
		goto out_put_cb;
	}

	while (!nl->done) {
		ret = nl_recvmsgs(nl->sock, cb);
		if (ret < 0 && !nl->done) {
			nl->err = lm_nl_errno(ret);
			break;
		}
	}
	if (!nl->err && req.parse_err)
		nl->err = req.parse_err;
	if (nr_replies)
		*nr_replies = req.nr_replies;

out_put_cb:
	nl_cb_put(cb);
	return nl->err;
}

static struct nl_msg *lm_nl_new_request(struct lm_nl *nl, uint8_t cmd,
					int flags)
{
	struct nl_msg *msg = nlmsg_alloc();

	if (!msg)
		return NULL;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, nl->family, 0, flags,
			 cmd, LM_GENL_VERSION)) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

/* lm_nl_transact() for a request answered by exactly one message. */
static int lm_nl_transact_one(struct lm_nl *nl, struct nl_msg *msg,
			      int (*parse)(struct nlmsghdr *, void *),
			      void *arg)
{
	unsigned int nr_replies;
	int ret;

	ret = lm_nl_transact(nl, msg, parse, arg, &nr_replies);
	if (!ret && nr_replies != 1)
		ret = -EPROTO;
	return ret;
}

/*
 * A request naming VM @id and nothing else; with @parse, answered by one
 * message, otherwise by an ack alone.
 */
static int lm_nl_vm_request(struct lm_nl *nl, uint8_t cmd, uint32_t id,
			    int (*parse)(struct nlmsghdr *, void *), void *arg)
{
	struct nl_msg *msg;

	msg = lm_nl_new_request(nl, cmd, 0);
	if (!msg)
		return -ENOMEM;
	if (nla_put_u32(msg, LM_A_VM_ID, id)) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	if (parse)
		return lm_nl_transact_one(nl, msg, parse, arg);
	return lm_nl_transact(nl, msg, NULL, NULL, NULL);
}

int lm_nl_open(struct lm_nl **nlp)
{
	struct genl_family *family;
	struct nl_cache *cache;
	int one = 1;
	struct lm_nl *nl;
	int ret;

	nl = calloc(1, sizeof(*nl));
	if (!nl)
		return -ENOMEM;
	lm_nl_reset(nl);

	nl->sock = nl_socket_alloc();
	if (!nl->sock) {
		ret = -ENOMEM;
		goto err_free_nl;
	}
	ret = genl_connect(nl->sock);
	if (ret) {
		ret = lm_nl_errno(ret);
		goto err_free_sock;
	}
	/*
	 * Replies may exceed a page: let libnl size its buffer. A big reply
	 * also needs room in the socket's receive queue for the ack behind
	 * it, which the kernel drops (and we get -ENOBUFS) when the queue is
	 * over its limit: libnl's default of 32 KiB is too small.
	 */
	nl_socket_enable_msg_peek(nl->sock);
	nl_socket_set_buffer_size(nl->sock, LM_NL_RCVBUF, 0);
	/* Old kernels lack these options; errors then lose their text only. */
	setsockopt(nl_socket_get_fd(nl->sock), SOL_NETLINK, NETLINK_EXT_ACK,
		   &one, sizeof(one));
	setsockopt(nl_socket_get_fd(nl->sock), SOL_NETLINK, NETLINK_CAP_ACK,
		   &one, sizeof(one));

	/*
	 * genl_ctrl_resolve() gives the id only; the controller's list of
	 * families has the version too.
	 */
	ret = genl_ctrl_alloc_cache(nl->sock, &cache);
	if (ret) {
		ret = lm_nl_errno(ret);
		goto err_free_sock;
	}
	family = genl_ctrl_search_by_name(cache, LM_GENL_NAME);
	nl_cache_free(cache);
	if (!family) {
		ret = -ENOENT;
		goto err_free_sock;
	}
	nl->family = genl_family_get_id(family);
	nl->family_version = genl_family_get_version(family);
	genl_family_put(family);

	*nlp = nl;
	return 0;

err_free_sock:
	nl_socket_free(nl->sock);
err_free_nl:
	free(nl);
	return ret;
}

void lm_nl_close(struct lm_nl *nl)
{
	if (!nl)
		return;
	nl_socket_free(nl->sock);
	free(nl);
}

unsigned int lm_nl_family_version(const struct lm_nl *nl)
{
	return nl->family_version;
}

const char *lm_nl_extack(const struct lm_nl *nl)
{
	return nl->extack;
}

int lm_nl_extack_missing_type(const struct lm_nl *nl)
{
	return nl->extack_missing_type;
}

int lm_nl_extack_offset(const struct lm_nl *nl)
{
	return nl->extack_offset;
}

static struct nla_policy lm_nl_policy[LM_A_MAX + 1] = {
	[LM_A_INFO_MODULE_VERSION]	= { .type = NLA_STRING },
	[LM_A_INFO_WIRE_VERSION]	= { .type = NLA_U32 },
	[LM_A_INFO_FEATURES]		= { .type = NLA_U64 },
	[LM_A_INFO_KERNEL_RELEASE]	= { .type = NLA_STRING },
	[LM_A_VM_ID]			= { .type = NLA_U32 },
	[LM_A_VM_PID]			= { .type = NLA_U32 },
	[LM_A_VM_OWNER_ALIVE]		= { .type = NLA_U8 },
	[LM_A_VM_NR_VCPUS]		= { .type = NLA_U32 },
	[LM_A_VM_MEMSLOTS]		= { .type = NLA_NESTED },
};

static struct nla_policy lm_nl_memslot_policy[LM_MEMSLOT_A_MAX + 1] = {
	[LM_MEMSLOT_A_ID]		= { .type = NLA_U32 },
	[LM_MEMSLOT_A_AS_ID]		= { .type = NLA_U32 },
	[LM_MEMSLOT_A_GPA]		= { .type = NLA_U64 },
	[LM_MEMSLOT_A_SIZE]		= { .type = NLA_U64 },
	[LM_MEMSLOT_A_FLAGS]		= { .type = NLA_U32 },
	[LM_MEMSLOT_A_HVA]		= { .type = NLA_U64 },
};

static int lm_nl_parse_info(struct nlmsghdr *nlh, void *arg)
{
	struct nlattr *tb[LM_A_MAX + 1];
	struct lm_info *info = arg;

	if (genlmsg_parse(nlh, 0, tb, LM_A_MAX, lm_nl_policy))
		return -EPROTO;
	if (!tb[LM_A_INFO_MODULE_VERSION] || !tb[LM_A_INFO_WIRE_VERSION] ||
	    !tb[LM_A_INFO_FEATURES] || !tb[LM_A_INFO_KERNEL_RELEASE])
		return -EPROTO;
	nla_strlcpy(info->module_version, tb[LM_A_INFO_MODULE_VERSION],
		    sizeof(info->module_version));
	info->wire_version = nla_get_u32(tb[LM_A_INFO_WIRE_VERSION]);
	info->features = nla_get_u64(tb[LM_A_INFO_FEATURES]);
	nla_strlcpy(info->kernel_release, tb[LM_A_INFO_KERNEL_RELEASE],
		    sizeof(info->kernel_release));
	return 0;
}

int lm_nl_get_info(struct lm_nl *nl, struct lm_info *info)
{
	struct nl_msg *msg;

	memset(info, 0, sizeof(*info));
	msg = lm_nl_new_request(nl, LM_CMD_GET_INFO, 0);
	if (!msg)
		return -ENOMEM;
	return lm_nl_transact_one(nl, msg, lm_nl_parse_info, info);
}

static int lm_nl_parse_vm_id(struct nlmsghdr *nlh, void *arg)
{
	struct nlattr *tb[LM_A_MAX + 1];
	uint32_t *id = arg;

	if (genlmsg_parse(nlh, 0, tb, LM_A_MAX, lm_nl_policy))
		return -EPROTO;
	if (!tb[LM_A_VM_ID])
		return -EPROTO;
	*id = nla_get_u32(tb[LM_A_VM_ID]);
	return 0;
}

int lm_nl_attach(struct lm_nl *nl, int vm_fd, pid_t pid, uint32_t *id)
{
	struct nl_msg *msg;
	uint32_t new_id;
	int ret;

	msg = lm_nl_new_request(nl, LM_CMD_ATTACH, 0);
	if (!msg)
		return -ENOMEM;
	if (nla_put_u32(msg, LM_A_VM_FD, vm_fd) ||
	    (pid && nla_put_u32(msg, LM_A_VM_PID, pid))) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	ret = lm_nl_transact_one(nl, msg, lm_nl_parse_vm_id, &new_id);
	if (!ret && id)
		*id = new_id;
	return ret;
}

int lm_nl_detach(struct lm_nl *nl, uint32_t id)
{
	return lm_nl_vm_request(nl, LM_CMD_DETACH, id, NULL, NULL);
}

static int lm_nl_parse_memslot(struct nlattr *nest, struct lm_memslot *slot)
{
	struct nlattr *tb[LM_MEMSLOT_A_MAX + 1];

	if (nla_parse_nested(tb, LM_MEMSLOT_A_MAX, nest, lm_nl_memslot_policy))
		return -EPROTO;
	if (!tb[LM_MEMSLOT_A_ID] || !tb[LM_MEMSLOT_A_AS_ID] ||
	    !tb[LM_MEMSLOT_A_GPA] || !tb[LM_MEMSLOT_A_SIZE] ||
	    !tb[LM_MEMSLOT_A_FLAGS] || !tb[LM_MEMSLOT_A_HVA])
		return -EPROTO;
	slot->id = nla_get_u32(tb[LM_MEMSLOT_A_ID]);
	slot->as_id = nla_get_u32(tb[LM_MEMSLOT_A_AS_ID]);
	slot->gpa = nla_get_u64(tb[LM_MEMSLOT_A_GPA]);
	slot->size = nla_get_u64(tb[LM_MEMSLOT_A_SIZE]);
	slot->flags = nla_get_u32(tb[LM_MEMSLOT_A_FLAGS]);
	slot->hva = nla_get_u64(tb[LM_MEMSLOT_A_HVA]);
	return 0;
}

static int lm_nl_parse_vm(struct nlmsghdr *nlh, void *arg)
{
	struct lm_vm_list *list = arg;
	struct nlattr *tb[LM_A_MAX + 1];
	struct lm_memslot *slots;
	struct lm_vm_info *vm;
	struct nlattr *nest;
	size_t nr_new = 0;
	uint32_t id;
	int rem, ret;

	if (genlmsg_parse(nlh, 0, tb, LM_A_MAX, lm_nl_policy))
		return -EPROTO;
	if (!tb[LM_A_VM_ID])
		return -EPROTO;
	id = nla_get_u32(tb[LM_A_VM_ID]);

	/* A continuation repeats the id of the VM it continues. */
	if (list->nr_vms && list->vms[list->nr_vms - 1].id == id) {
		vm = &list->vms[list->nr_vms - 1];
	} else {
		vm = realloc(list->vms, (list->nr_vms + 1) * sizeof(*vm));
		if (!vm)
			return -ENOMEM;
		list->vms = vm;
		vm = &list->vms[list->nr_vms++];
		memset(vm, 0, sizeof(*vm));
		vm->id = id;
	}

	if (tb[LM_A_VM_PID])
		vm->pid = nla_get_u32(tb[LM_A_VM_PID]);
	if (tb[LM_A_VM_OWNER_ALIVE])
		vm->owner_alive = nla_get_u8(tb[LM_A_VM_OWNER_ALIVE]);
	if (tb[LM_A_VM_NR_VCPUS])
		vm->nr_vcpus = nla_get_u32(tb[LM_A_VM_NR_VCPUS]);
	if (!tb[LM_A_VM_MEMSLOTS])
		return 0;

	nla_for_each_nested(nest, tb[LM_A_VM_MEMSLOTS], rem)
		nr_new++;
	if (!nr_new)
		return 0;
	slots = realloc(vm->memslots,
			(vm->nr_memslots + nr_new) * sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	vm->memslots = slots;
	nla_for_each_nested(nest, tb[LM_A_VM_MEMSLOTS], rem) {
		ret = lm_nl_parse_memslot(nest,
					  &vm->memslots[vm->nr_memslots]);
		if (ret)
			return ret;
		vm->nr_memslots++;
	}
	return 0;
}

static int lm_nl_list_request(struct lm_nl *nl, int flags, bool one,
			      uint32_t id, struct lm_vm_list *list)
{
	struct nl_msg *msg;

	lm_vm_list_free(list);
	msg = lm_nl_new_request(nl, LM_CMD_LIST, flags);
	if (!msg)
		return -ENOMEM;
	if (one && nla_put_u32(msg, LM_A_VM_ID, id)) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	return lm_nl_transact(nl, msg, lm_nl_parse_vm, list, NULL);
}

/*
 * Only a dump splits a VM's memslots over as many messages as they need,
 * so one VM is listed with a dump too. A dump narrowed to an unknown id is
 * merely empty: the plain request then gets the kernel's own verdict.
 */
int lm_nl_list(struct lm_nl *nl, bool one, uint32_t id,
	       struct lm_vm_list *list)
{
	int ret;

	memset(list, 0, sizeof(*list));
	ret = lm_nl_list_request(nl, NLM_F_DUMP, one, id, list);
	if (ret || !one || list->nr_vms)
		return ret;
	return lm_nl_list_request(nl, 0, true, id, list);
}

int lm_nl_list_get(struct lm_nl *nl, uint32_t id, struct lm_vm_list *list)
{
	memset(list, 0, sizeof(*list));
	return lm_nl_list_request(nl, 0, true, id, list);
}

void lm_vm_list_free(struct lm_vm_list *list)
{
	size_t i;

	for (i = 0; i < list->nr_vms; i++)
		free(list->vms[i].memslots);
	free(list->vms);
	memset(list, 0, sizeof(*list));
}

int lm_nl_request_raw(struct lm_nl *nl, uint8_t cmd, bool dump,
		      const void *attrs, size_t len, unsigned int *nr_replies)
{
	struct nl_msg *msg;

	msg = lm_nl_new_request(nl, cmd, dump ? NLM_F_DUMP : 0);
	if (!msg)
		return -ENOMEM;
	if (len && nlmsg_append(msg, (void *)attrs, len, 0)) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	return lm_nl_transact(nl, msg, NULL, NULL, nr_replies);
}

/* Dirty tracking */

static struct nla_policy lm_nl_track_slot_policy[LM_TRACK_SLOT_A_MAX + 1] = {
	[LM_TRACK_SLOT_A_ID]	= { .type = NLA_U32 },
	[LM_TRACK_SLOT_A_AS_ID]	= { .type = NLA_U32 },
	[LM_TRACK_SLOT_A_GFN]	= { .type = NLA_U64 },
	[LM_TRACK_SLOT_A_PAGES]	= { .type = NLA_U64 },
	[LM_TRACK_SLOT_A_DIRTY]	= { .type = NLA_U64 },
	[LM_TRACK_SLOT_A_STATE]	= { .type = NLA_U32 },
};

int lm_nl_track_start(struct lm_nl *nl, uint32_t id)
{
	return lm_nl_vm_request(nl, LM_CMD_TRACK_START, id, NULL, NULL);
}

int lm_nl_track_stop(struct lm_nl *nl, uint32_t id)
{
	return lm_nl_vm_request(nl, LM_CMD_TRACK_STOP, id, NULL, NULL);
}

static int lm_nl_parse_track_slot(struct nlattr *nest,
				  struct lm_track_slot *slot)
{
	struct nlattr *tb[LM_TRACK_SLOT_A_MAX + 1];

	if (nla_parse_nested(tb, LM_TRACK_SLOT_A_MAX, nest,
			     lm_nl_track_slot_policy))
		return -EPROTO;
	if (!tb[LM_TRACK_SLOT_A_ID] || !tb[LM_TRACK_SLOT_A_AS_ID] ||
	    !tb[LM_TRACK_SLOT_A_GFN] || !tb[LM_TRACK_SLOT_A_PAGES] ||
	    !tb[LM_TRACK_SLOT_A_DIRTY] || !tb[LM_TRACK_SLOT_A_STATE])
		return -EPROTO;
	slot->id = nla_get_u32(tb[LM_TRACK_SLOT_A_ID]);
	slot->as_id = nla_get_u32(tb[LM_TRACK_SLOT_A_AS_ID]);
	slot->gfn = nla_get_u64(tb[LM_TRACK_SLOT_A_GFN]);
	slot->pages = nla_get_u64(tb[LM_TRACK_SLOT_A_PAGES]);
	slot->dirty = nla_get_u64(tb[LM_TRACK_SLOT_A_DIRTY]);
	slot->state = nla_get_u32(tb[LM_TRACK_SLOT_A_STATE]);
	return 0;
}

/* Append one slot to a growing array. */
static int lm_nl_add_track_slot(struct nlattr *nest,
				struct lm_track_slot **slots, size_t *nr)
{
	struct lm_track_slot *grown;

	grown = realloc(*slots, (*nr + 1) * sizeof(**slots));
	if (!grown)
		return -ENOMEM;
	*slots = grown;
	if (lm_nl_parse_track_slot(nest, &grown[*nr]))
		return -EPROTO;
	(*nr)++;
	return 0;
}

static int lm_nl_parse_track_round(struct nlmsghdr *nlh, void *arg)
{
	struct lm_track_round *round = arg;
	struct nlattr *tb[LM_A_MAX + 1];
	struct nlattr *nest;
	int rem, ret;

	if (genlmsg_parse(nlh, 0, tb, LM_A_MAX, NULL))
		return -EPROTO;
	if (!tb[LM_A_VM_ID] || !tb[LM_A_TRACK_ROUND] ||
	    !tb[LM_A_TRACK_PAGES] || !tb[LM_A_TRACK_DIRTY] ||
	    !tb[LM_A_TRACK_HARVEST_NS] || !tb[LM_A_TRACK_SLOTS])
		return -EPROTO;
	round->vm_id = nla_get_u32(tb[LM_A_VM_ID]);
	round->round = nla_get_u64(tb[LM_A_TRACK_ROUND]);
	round->pages = nla_get_u64(tb[LM_A_TRACK_PAGES]);
	round->dirty = nla_get_u64(tb[LM_A_TRACK_DIRTY]);
	round->harvest_ns = nla_get_u64(tb[LM_A_TRACK_HARVEST_NS]);
	if (tb[LM_A_TRACK_MANUAL_PROTECT])
		round->manual_protect = nla_get_u8(tb[LM_A_TRACK_MANUAL_PROTECT]);
	if (tb[LM_A_TRACK_HOST_WRITES])
		round->host_writes = nla_get_u8(tb[LM_A_TRACK_HOST_WRITES]);
	if (tb[LM_A_TRACK_HOST_DIRTY])
		round->host_dirty = nla_get_u64(tb[LM_A_TRACK_HOST_DIRTY]);
	if (tb[LM_A_TRACK_HOST_ONLY])
		round->host_only = nla_get_u64(tb[LM_A_TRACK_HOST_ONLY]);
	if (tb[LM_A_TRACK_HOST_NS])
		round->host_ns = nla_get_u64(tb[LM_A_TRACK_HOST_NS]);
	nla_for_each_nested(nest, tb[LM_A_TRACK_SLOTS], rem) {
		ret = lm_nl_add_track_slot(nest, &round->slots,
					   &round->nr_slots);
		if (ret)
			return ret;
	}
	return 0;
}

int lm_nl_track_sync(struct lm_nl *nl, uint32_t id,
		     struct lm_track_round *round)
{
	memset(round, 0, sizeof(*round));
	return lm_nl_vm_request(nl, LM_CMD_TRACK_SYNC, id,
				lm_nl_parse_track_round, round);
}

void lm_track_round_free(struct lm_track_round *round)
{
	free(round->slots);
	memset(round, 0, sizeof(*round));
}

static int lm_nl_parse_track_dirty(struct nlmsghdr *nlh, void *arg)
{
	struct lm_track_dirty *dirty = arg;
	struct nlattr *tb[LM_A_MAX + 1];
	struct lm_track_slot slot;
	struct lm_gfn_run *runs;
	size_t n;
	int ret;

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		return -EAGAIN;
	if (genlmsg_parse(nlh, 0, tb, LM_A_MAX, NULL))
		return -EPROTO;
	if (!tb[LM_A_TRACK_ROUND] || !tb[LM_A_TRACK_SLOT] ||
	    !tb[LM_A_TRACK_RUNS])
		return -EPROTO;
	dirty->round = nla_get_u64(tb[LM_A_TRACK_ROUND]);

	/* A slot continued from the previous message is not repeated. */
	if (lm_nl_parse_track_slot(tb[LM_A_TRACK_SLOT], &slot))
		return -EPROTO;
	if (!dirty->nr_slots || dirty->slots[dirty->nr_slots - 1].id != slot.id ||
	    dirty->slots[dirty->nr_slots - 1].as_id != slot.as_id) {
		ret = lm_nl_add_track_slot(tb[LM_A_TRACK_SLOT], &dirty->slots,
					   &dirty->nr_slots);
		if (ret)
			return ret;
	}

	if (nla_len(tb[LM_A_TRACK_RUNS]) % sizeof(*runs))
		return -EPROTO;
	n = nla_len(tb[LM_A_TRACK_RUNS]) / sizeof(*runs);
	if (!n)
		return 0;
	runs = realloc(dirty->runs, (dirty->nr_runs + n) * sizeof(*runs));
	if (!runs)
		return -ENOMEM;
	dirty->runs = runs;
	memcpy(&runs[dirty->nr_runs], nla_data(tb[LM_A_TRACK_RUNS]),
	       n * sizeof(*runs));
	dirty->nr_runs += n;
	return 0;
}

int lm_nl_track_get(struct lm_nl *nl, uint32_t id,
		    struct lm_track_dirty *dirty)
{
	struct nl_msg *msg;

	memset(dirty, 0, sizeof(*dirty));
	msg = lm_nl_new_request(nl, LM_CMD_TRACK_GET, NLM_F_DUMP);
	if (!msg)
		return -ENOMEM;
	if (nla_put_u32(msg, LM_A_VM_ID, id)) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	return lm_nl_transact(nl, msg, lm_nl_parse_track_dirty, dirty, NULL);
}

void lm_track_dirty_free(struct lm_track_dirty *dirty)
{
	free(dirty->runs);
	free(dirty->slots);
	memset(dirty, 0, sizeof(*dirty));
}

/* Migration. */

static struct nla_policy lm_nl_xfer_policy[LM_A_MAX + 1] = {
	[LM_A_VM_ID]			= { .type = NLA_U32 },
	[LM_A_XFER_PORT]		= { .type = NLA_U16 },
	[LM_A_XFER_ROLE]		= { .type = NLA_U32 },
	[LM_A_XFER_MODE]		= { .type = NLA_U32 },
	[LM_A_XFER_PHASE]		= { .type = NLA_U32 },
	[LM_A_XFER_ROUND]		= { .type = NLA_U32 },
	[LM_A_XFER_DIRTY_PAGES]		= { .type = NLA_U64 },
	[LM_A_XFER_PAGES]		= { .type = NLA_U64 },
	[LM_A_XFER_ZERO_PAGES]		= { .type = NLA_U64 },
	[LM_A_XFER_HOLE_PAGES]		= { .type = NLA_U64 },
	[LM_A_XFER_TOTAL_PAGES]		= { .type = NLA_U64 },
	[LM_A_XFER_BYTES]		= { .type = NLA_U64 },
	[LM_A_XFER_STATE_SIZE]		= { .type = NLA_U64 },
	[LM_A_XFER_ELAPSED_NS]		= { .type = NLA_U64 },
	[LM_A_XFER_STOPCOPY_NS]		= { .type = NLA_U64 },
	[LM_A_XFER_CPU_NS]		= { .type = NLA_U64 },
	[LM_A_XFER_REASON]		= { .type = NLA_U32 },
	[LM_A_XFER_ERRNO]		= { .type = NLA_U32 },
	[LM_A_XFER_MESSAGE]		= { .type = NLA_STRING },
	[LM_A_XFER_FAILED_PHASE]	= { .type = NLA_U32 },
	[LM_A_XFER_COMPRESS]		= { .type = NLA_U32 },
	[LM_A_XFER_DATA_BYTES]		= { .type = NLA_U64 },
	[LM_A_XFER_WIRE_DATA_BYTES]	= { .type = NLA_U64 },
	[LM_A_XFER_ZSTD_BATCHES]	= { .type = NLA_U64 },
};

static uint32_t lm_nl_u32(struct nlattr **tb, int type)
{
	return tb[type] ? nla_get_u32(tb[type]) : 0;
}

static uint64_t lm_nl_u64(struct nlattr **tb, int type)
{
	return tb[type] ? nla_get_u64(tb[type]) : 0;
}

static int lm_nl_parse_xfer_status(struct nlmsghdr *nlh, void *arg)
{
	struct lm_xfer_status *st = arg;
	struct nlattr *tb[LM_A_MAX + 1];

	if (genlmsg_parse(nlh, 0, tb, LM_A_MAX, lm_nl_xfer_policy))
		return -EPROTO;
	if (!tb[LM_A_VM_ID] || !tb[LM_A_XFER_PHASE])
		return -EPROTO;
	memset(st, 0, sizeof(*st));
	st->vm_id = lm_nl_u32(tb, LM_A_VM_ID);
	st->role = lm_nl_u32(tb, LM_A_XFER_ROLE);
	st->mode = lm_nl_u32(tb, LM_A_XFER_MODE);
	st->phase = lm_nl_u32(tb, LM_A_XFER_PHASE);
	st->round = lm_nl_u32(tb, LM_A_XFER_ROUND);
	st->dirty_pages = lm_nl_u64(tb, LM_A_XFER_DIRTY_PAGES);
	st->pages = lm_nl_u64(tb, LM_A_XFER_PAGES);
	st->zero_pages = lm_nl_u64(tb, LM_A_XFER_ZERO_PAGES);
	st->hole_pages = lm_nl_u64(tb, LM_A_XFER_HOLE_PAGES);
	st->total_pages = lm_nl_u64(tb, LM_A_XFER_TOTAL_PAGES);
	st->bytes = lm_nl_u64(tb, LM_A_XFER_BYTES);
	st->state_size = lm_nl_u64(tb, LM_A_XFER_STATE_SIZE);
	st->elapsed_ns = lm_nl_u64(tb, LM_A_XFER_ELAPSED_NS);
	st->stopcopy_ns = lm_nl_u64(tb, LM_A_XFER_STOPCOPY_NS);
	st->cpu_ns = lm_nl_u64(tb, LM_A_XFER_CPU_NS);
	st->compress = lm_nl_u32(tb, LM_A_XFER_COMPRESS);
	st->data_bytes = lm_nl_u64(tb, LM_A_XFER_DATA_BYTES);
	st->wire_data_bytes = lm_nl_u64(tb, LM_A_XFER_WIRE_DATA_BYTES);
	st->zstd_batches = lm_nl_u64(tb, LM_A_XFER_ZSTD_BATCHES);
	st->reason = lm_nl_u32(tb, LM_A_XFER_REASON);
	st->err = lm_nl_u32(tb, LM_A_XFER_ERRNO);
	st->failed_phase = lm_nl_u32(tb, LM_A_XFER_FAILED_PHASE);
	if (tb[LM_A_XFER_MESSAGE])
		nla_strlcpy(st->message, tb[LM_A_XFER_MESSAGE],
			    sizeof(st->message));
	return 0;
}

static int lm_nl_parse_port(struct nlmsghdr *nlh, void *arg)
{
	struct nlattr *tb[LM_A_MAX + 1];
	uint16_t *port = arg;

	if (genlmsg_parse(nlh, 0, tb, LM_A_MAX, lm_nl_xfer_policy))
		return -EPROTO;
	if (!tb[LM_A_XFER_PORT])
		return -EPROTO;
	*port = nla_get_u16(tb[LM_A_XFER_PORT]);
	return 0;
}

int lm_nl_listen(struct lm_nl *nl, uint32_t id, const void *addr,
		 size_t addr_len, uint16_t port, int state_fd,
		 uint32_t recv_method, uint16_t *bound_port)
{
	const struct lm_listen_opts opts = { .recv_method = recv_method };

	return lm_nl_listen_opts(nl, id, addr, addr_len, port, state_fd, &opts,
				 bound_port);
}

int lm_nl_listen_opts(struct lm_nl *nl, uint32_t id, const void *addr,
		      size_t addr_len, uint16_t port, int state_fd,
		      const struct lm_listen_opts *o, uint16_t *bound_port)
{
	struct nl_msg *msg;
	uint16_t bound = 0;
	int ret;

	msg = lm_nl_new_request(nl, LM_CMD_LISTEN, 0);
	if (!msg)
		return -ENOMEM;
	if (nla_put_u32(msg, LM_A_VM_ID, id) ||
	    (o->sock_fd > 0 ? nla_put_u32(msg, LM_A_XFER_SOCK_FD, o->sock_fd) :
	     nla_put(msg, LM_A_XFER_ADDR, addr_len, addr) ||
	     nla_put_u16(msg, LM_A_XFER_PORT, port)) ||
	    ((o->sock_fd <= 0 || o->insecure) &&
	     nla_put_flag(msg, LM_A_XFER_INSECURE)) ||
	    nla_put_u32(msg, LM_A_XFER_STATE_FD, state_fd) ||
	    (o->recv_method &&
	     nla_put_u32(msg, LM_A_XFER_RECV_METHOD, o->recv_method)) ||
	    (o->key_by_backing &&
	     nla_put_flag(msg, LM_A_XFER_KEY_BY_BACKING))) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	ret = lm_nl_transact_one(nl, msg, lm_nl_parse_port, &bound);
	if (!ret && bound_port)
		*bound_port = bound;
	return ret;
}

int lm_nl_migrate(struct lm_nl *nl, uint32_t id, const void *addr,
		  size_t addr_len, uint16_t port,
		  const struct lm_migrate_opts *o)
{
	struct nl_msg *msg;

	msg = lm_nl_new_request(nl, LM_CMD_MIGRATE, 0);
	if (!msg)
		return -ENOMEM;
	if (nla_put_u32(msg, LM_A_VM_ID, id) ||
	    (o->sock_fd > 0 ? nla_put_u32(msg, LM_A_XFER_SOCK_FD, o->sock_fd) :
	     nla_put(msg, LM_A_XFER_ADDR, addr_len, addr) ||
	     nla_put_u16(msg, LM_A_XFER_PORT, port)) ||
	    ((o->sock_fd <= 0 || o->insecure) &&
	     nla_put_flag(msg, LM_A_XFER_INSECURE)) ||
	    (o->mode && nla_put_u32(msg, LM_A_XFER_MODE, o->mode)) ||
	    (o->send_method &&
	     nla_put_u32(msg, LM_A_XFER_SEND_METHOD, o->send_method)) ||
	    (o->no_data_crc && nla_put_flag(msg, LM_A_XFER_NO_DATA_CRC)) ||
	    (o->max_rounds &&
	     nla_put_u32(msg, LM_A_XFER_MAX_ROUNDS, o->max_rounds)) ||
	    (o->max_downtime_ms &&
	     nla_put_u32(msg, LM_A_XFER_MAX_DOWNTIME_MS, o->max_downtime_ms)) ||
	    (o->bandwidth &&
	     nla_put_u64(msg, LM_A_XFER_BANDWIDTH, o->bandwidth)) ||
	    (o->key_by_backing &&
	     nla_put_flag(msg, LM_A_XFER_KEY_BY_BACKING)) ||
	    (o->compress &&
	     nla_put_u32(msg, LM_A_XFER_COMPRESS, o->compress)) ||
	    (o->compress_level &&
	     nla_put_u32(msg, LM_A_XFER_COMPRESS_LEVEL, o->compress_level))) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	return lm_nl_transact(nl, msg, NULL, NULL, NULL);
}

static int lm_nl_vm_u32_request(struct lm_nl *nl, uint8_t cmd, uint32_t id,
				int type, bool with_value, uint32_t value)
{
	struct nl_msg *msg;

	msg = lm_nl_new_request(nl, cmd, 0);
	if (!msg)
		return -ENOMEM;
	if (nla_put_u32(msg, LM_A_VM_ID, id) ||
	    (with_value && nla_put_u32(msg, type, value))) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	return lm_nl_transact(nl, msg, NULL, NULL, NULL);
}

int lm_nl_switchover(struct lm_nl *nl, uint32_t id, int state_fd)
{
	return lm_nl_vm_u32_request(nl, LM_CMD_SWITCHOVER, id,
				    LM_A_XFER_STATE_FD, true, state_fd);
}

int lm_nl_complete(struct lm_nl *nl, uint32_t id, uint32_t reason)
{
	return lm_nl_vm_u32_request(nl, LM_CMD_COMPLETE, id, LM_A_XFER_REASON,
				    reason != 0, reason);
}

int lm_nl_cancel(struct lm_nl *nl, uint32_t id)
{
	return lm_nl_vm_request(nl, LM_CMD_CANCEL, id, NULL, NULL);
}

int lm_nl_xfer_status(struct lm_nl *nl, uint32_t id,
		      struct lm_xfer_status *st)
{
	memset(st, 0, sizeof(*st));
	return lm_nl_vm_request(nl, LM_CMD_STATUS, id, lm_nl_parse_xfer_status,
				st);
}

int lm_nl_events_open(struct lm_nl **evp)
{
	struct lm_nl *ev;
	int grp, ret;

	ret = lm_nl_open(&ev);
	if (ret)
		return ret;
	grp = genl_ctrl_resolve_grp(ev->sock, LM_GENL_NAME, LM_MCGRP_XFER_NAME);
	if (grp < 0) {
		ret = grp == -NLE_OBJ_NOTFOUND ? -ENOENT : lm_nl_errno(grp);
		goto err_close;
	}
	/* Events are not replies: they carry no sequence number of ours. */
	nl_socket_disable_seq_check(ev->sock);
	ret = nl_socket_add_membership(ev->sock, grp);
	if (ret) {
		ret = lm_nl_errno(ret);
		goto err_close;
	}
	*evp = ev;
	return 0;

err_close:
	lm_nl_close(ev);
	return ret;
}

struct lm_nl_event {
	struct lm_xfer_status *st;
	int err;
	bool got;
};

static int lm_nl_no_seq_check(struct nl_msg *msg, void *arg)
{
	(void)msg, (void)arg;
	return NL_OK;
}

static int lm_nl_on_event(struct nl_msg *msg, void *arg)
{
	struct lm_nl_event *event = arg;
	struct genlmsghdr *ghdr = nlmsg_data(nlmsg_hdr(msg));

	if (ghdr->cmd != LM_CMD_EVENT)
		return NL_OK;
	event->err = lm_nl_parse_xfer_status(nlmsg_hdr(msg), event->st);
	event->got = true;
	return NL_STOP;
}

int lm_nl_event_wait(struct lm_nl *ev, int timeout_ms,
		     struct lm_xfer_status *st)
{
	struct lm_nl_event event = { .st = st };
	struct pollfd pfd = {
		.fd = nl_socket_get_fd(ev->sock),
		.events = POLLIN,
	};
	struct nl_cb *cb;
	int ret;

	ret = poll(&pfd, 1, timeout_ms);
	if (ret < 0)
		return -errno;
	if (!ret)
		return -ETIMEDOUT;
	cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!cb)
		return -ENOMEM;
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, lm_nl_on_event, &event);
	/* A fresh callback set checks sequence numbers again: not here. */
	nl_cb_set(cb, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, lm_nl_no_seq_check, NULL);
	ret = nl_recvmsgs(ev->sock, cb);
	nl_cb_put(cb);
	if (ret < 0 && !event.got)
		return lm_nl_errno(ret);
	if (!event.got)
		return -EAGAIN;
	return event.err;
}

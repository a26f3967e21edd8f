// SPDX-License-Identifier: GPL-2.0
/*
 * Netlink commands of the transfer engine (uapi/linux/lm.h documents them).
 *
 * The connection is the requester's socket, checked in sock.c; or, in the
 * insecure form, a socket created here, in the requester's context and
 * network namespace, so that address errors (a port in use, no such
 * address) are reported to the requester at once with an extack message;
 * the thread then does the blocking part (accept, connect, the transfer
 * itself).
 */

#include "internal.h"
#include "xfer.h"
#include "netlink.h"
#include "vm.h"

#include <linux/file.h>
#include <linux/fs.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/kvm_host.h>
#include <linux/net.h>
#include <net/genetlink.h>
#include <net/sock.h>

const struct nla_policy lm_xfer_listen_policy[LM_A_MAX + 1] = {
	[LM_A_VM_ID]		= NLA_POLICY_MIN(NLA_U32, 1),
	[LM_A_XFER_ADDR]	= { .type = NLA_BINARY, .len = 16 },
	[LM_A_XFER_PORT]	= { .type = NLA_U16 },
	[LM_A_XFER_STATE_FD]	= { .type = NLA_U32 },
	[LM_A_XFER_RECV_METHOD]	= NLA_POLICY_MAX(NLA_U32, __LM_RECV_MAX - 1),
	[LM_A_XFER_KEY_BY_BACKING] = { .type = NLA_FLAG },
	[LM_A_XFER_SOCK_FD]	= { .type = NLA_U32 },
	[LM_A_XFER_INSECURE]	= { .type = NLA_FLAG },
};

const struct nla_policy lm_xfer_migrate_policy[LM_A_MAX + 1] = {
	[LM_A_VM_ID]		= NLA_POLICY_MIN(NLA_U32, 1),
	[LM_A_XFER_ADDR]	= { .type = NLA_BINARY, .len = 16 },
	[LM_A_XFER_PORT]	= NLA_POLICY_MIN(NLA_U16, 1),
	[LM_A_XFER_MODE]	= NLA_POLICY_RANGE(NLA_U32, LM_WIRE_MODE_QUICK,
						   LM_WIRE_MODE_LIVE),
	[LM_A_XFER_SEND_METHOD]	= NLA_POLICY_MAX(NLA_U32, __LM_SEND_MAX - 1),
	[LM_A_XFER_NO_DATA_CRC]	= { .type = NLA_FLAG },
	[LM_A_XFER_MAX_ROUNDS]	= NLA_POLICY_MAX(NLA_U32, 10000),
	[LM_A_XFER_MAX_DOWNTIME_MS] = NLA_POLICY_RANGE(NLA_U32, 1, 30000),
	[LM_A_XFER_BANDWIDTH]	= { .type = NLA_U64 },
	[LM_A_XFER_KEY_BY_BACKING] = { .type = NLA_FLAG },
	[LM_A_XFER_SOCK_FD]	= { .type = NLA_U32 },
	[LM_A_XFER_INSECURE]	= { .type = NLA_FLAG },
	[LM_A_XFER_COMPRESS]	= NLA_POLICY_MAX(NLA_U32, __LM_COMPRESS_MAX - 1),
	[LM_A_XFER_COMPRESS_LEVEL] = NLA_POLICY_RANGE(NLA_U32,
						      LM_COMPRESS_LEVEL_MIN,
						      LM_COMPRESS_LEVEL_MAX),
};

const struct nla_policy lm_xfer_switchover_policy[LM_A_MAX + 1] = {
	[LM_A_VM_ID]		= NLA_POLICY_MIN(NLA_U32, 1),
	[LM_A_XFER_STATE_FD]	= { .type = NLA_U32 },
};

const struct nla_policy lm_xfer_complete_policy[LM_A_MAX + 1] = {
	[LM_A_VM_ID]		= NLA_POLICY_MIN(NLA_U32, 1),
	[LM_A_XFER_REASON]	= NLA_POLICY_MAX(NLA_U32,
						 __LM_WIRE_REASON_MAX - 1),
};

const struct nla_policy lm_xfer_vm_policy[LM_A_MAX + 1] = {
	[LM_A_VM_ID]		= NLA_POLICY_MIN(NLA_U32, 1),
};

static int xfer_parse_addr(struct genl_info *info, struct sockaddr_storage *ss)
{
	struct nlattr *addr = info->attrs[LM_A_XFER_ADDR];
	u16 port = nla_get_u16(info->attrs[LM_A_XFER_PORT]);

	memset(ss, 0, sizeof(*ss));
	if (nla_len(addr) == 4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, nla_data(addr), 4);
		return sizeof(*sin);
	}
	if (nla_len(addr) == 16) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, nla_data(addr), 16);
		return sizeof(*sin6);
	}
	NL_SET_ERR_MSG_ATTR(info->extack, addr,
			    "Address must be 4 (IPv4) or 16 (IPv6) bytes");
	return -EINVAL;
}

/* A regular file opened for @mode, from the requester's file table. */
static struct file *xfer_state_file(struct genl_info *info, fmode_t mode)
{
	struct nlattr *attr = info->attrs[LM_A_XFER_STATE_FD];
	struct file *file = fget(nla_get_u32(attr));

	if (!file) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr,
				    "Not an open file descriptor");
		return ERR_PTR(-EBADF);
	}
	if (!S_ISREG(file_inode(file)->i_mode) || !(file->f_mode & mode)) {
		if (mode == FMODE_READ)
			NL_SET_ERR_MSG_ATTR(info->extack, attr,
					    "State: not a regular file open for reading");
		else
			NL_SET_ERR_MSG_ATTR(info->extack, attr,
					    "State: not a regular file open for writing");
		fput(file);
		return ERR_PTR(-EINVAL);
	}
	return file;
}

static struct lm_vm *xfer_get_vm(struct genl_info *info)
{
	struct lm_vm *vm = lm_vm_get(nla_get_u32(info->attrs[LM_A_VM_ID]));

	if (!vm)
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[LM_A_VM_ID],
				    "No attached VM has this id");
	return vm;
}

/*
 * Install @x on @vm and start it. On failure the caller still owns @x, and
 * with it the sockets and files it holds, to free with lm_xfer_free().
 */
static int xfer_install(struct lm_vm *vm, struct lm_xfer *x,
			struct genl_info *info)
{
	struct lm_xfer *old;
	int ret;

	mutex_lock(&vm->lock);
	ret = lm_xfer_start(vm, x, &old, info->extack);
	mutex_unlock(&vm->lock);
	if (old)
		lm_xfer_free(old);
	return ret;
}

static int xfer_new_socket(struct lm_xfer *x, struct genl_info *info,
			   struct socket **sockp)
{
	int ret;

	/* A user socket: it holds its namespace and passes the LSM checks. */
	ret = __sock_create(x->net, x->addr.ss_family, SOCK_STREAM,
			    IPPROTO_TCP, sockp, 0);
	if (ret)
		GENL_SET_ERR_MSG(info, "Cannot create a TCP socket");
	return ret;
}

/* The insecure form of LISTEN: lm binds and listens itself. */
static int xfer_listen(struct lm_xfer *x, struct genl_info *info,
		       struct socket **sockp)
{
	struct socket *sock;
	int len, ret;

	len = xfer_parse_addr(info, &x->addr);
	if (len < 0)
		return len;
	ret = xfer_new_socket(x, info, &sock);
	if (ret)
		return ret;
	x->listen_sock = sock;
	sock_set_reuseaddr(sock->sk);
	ret = kernel_bind(sock, (struct sockaddr *)&x->addr, len);
	if (ret) {
		GENL_SET_ERR_MSG(info, "Cannot bind to this address and port");
		return ret;
	}
	ret = kernel_listen(sock, 1);
	if (ret) {
		GENL_SET_ERR_MSG(info, "Cannot listen");
		return ret;
	}
	*sockp = sock;
	return 0;
}

int lm_xfer_nl_listen(struct sk_buff *skb, struct genl_info *info)
{
	struct sockaddr_storage bound;
	struct sk_buff *reply;
	struct socket *sock;
	struct lm_xfer *x;
	struct lm_vm *vm;
	struct file *file;
	void *hdr;
	int ret;

	if (lm_nl_missing(info, LM_A_VM_ID) ||
	    lm_nl_missing(info, LM_A_XFER_STATE_FD))
		return -EINVAL;
	vm = xfer_get_vm(info);
	if (!vm)
		return -ENOENT;
	/* Received memory replaces the guest's: there must be none yet. */
	if (lm_xfer_vcpus_have_run(vm->kvm)) {
		GENL_SET_ERR_MSG(info, "The VM has run: only a VM that never entered the guest can receive one");
		ret = -EBUSY;
		goto out_put_vm;
	}
	ret = -ENOMEM;
	x = lm_xfer_alloc(vm, info, LM_WIRE_ROLE_DESTINATION);
	if (!x)
		goto out_put_vm;
	if (info->attrs[LM_A_XFER_RECV_METHOD])
		x->recv_method = nla_get_u32(info->attrs[LM_A_XFER_RECV_METHOD]);
	x->by_backing = nla_get_flag(info->attrs[LM_A_XFER_KEY_BY_BACKING]);
	file = xfer_state_file(info, FMODE_WRITE);
	if (IS_ERR(file)) {
		ret = PTR_ERR(file);
		goto err_free_xfer;
	}
	x->state_file = file;
	/* From here on the socket is the transfer's: lm_xfer_free() closes it. */
	ret = lm_xfer_take_sock(x, info);
	if (ret)
		goto err_free_xfer;
	if (x->sock) {
		sock = x->sock;
	} else {
		ret = xfer_listen(x, info, &sock);
		if (ret)
			goto err_free_xfer;
	}
	ret = kernel_getsockname(sock, (struct sockaddr *)&bound);
	if (ret < 0)
		goto err_free_xfer;

	ret = -ENOMEM;
	reply = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!reply)
		goto err_free_xfer;
	hdr = genlmsg_put_reply(reply, info, &lm_genl_family, 0, LM_CMD_LISTEN);
	if (!hdr || nla_put_u32(reply, LM_A_VM_ID, vm->id) ||
	    nla_put_u16(reply, LM_A_XFER_PORT,
			ntohs(((struct sockaddr_in *)&bound)->sin_port)))
		goto err_free_reply;
	genlmsg_end(reply, hdr);

	/* A busy VM (EBUSY) must not keep the port we just bound. */
	ret = xfer_install(vm, x, info);
	if (ret)
		goto err_free_reply;
	lm_vm_put(vm);
	return genlmsg_reply(reply, info);

err_free_reply:
	nlmsg_free(reply);
err_free_xfer:
	lm_xfer_free(x);
out_put_vm:
	lm_vm_put(vm);
	return ret;
}

int lm_xfer_nl_migrate(struct sk_buff *skb, struct genl_info *info)
{
	struct lm_xfer *x;
	struct lm_vm *vm;
	int ret;

	if (lm_nl_missing(info, LM_A_VM_ID))
		return -EINVAL;
	vm = xfer_get_vm(info);
	if (!vm)
		return -ENOENT;
	ret = -ENOMEM;
	x = lm_xfer_alloc(vm, info, LM_WIRE_ROLE_SOURCE);
	if (!x)
		goto out_put_vm;
	x->mode = LM_WIRE_MODE_QUICK;
	if (info->attrs[LM_A_XFER_MODE])
		x->mode = nla_get_u32(info->attrs[LM_A_XFER_MODE]);
	/* The pre-copy needs KVM's dirty log, which a dirty-ring VM lacks. */
	if (x->mode == LM_WIRE_MODE_LIVE && READ_ONCE(vm->kvm->dirty_ring_size)) {
		NL_SET_ERR_MSG(info->extack,
			       "The VM uses KVM's dirty ring: only a quick migration can move it");
		ret = -EOPNOTSUPP;
		goto err_free_xfer;
	}
	x->max_rounds = 30;
	if (info->attrs[LM_A_XFER_MAX_ROUNDS])
		x->max_rounds = nla_get_u32(info->attrs[LM_A_XFER_MAX_ROUNDS]);
	x->max_downtime_ns = 300 * NSEC_PER_MSEC;
	if (info->attrs[LM_A_XFER_MAX_DOWNTIME_MS])
		x->max_downtime_ns = (u64)NSEC_PER_MSEC *
			nla_get_u32(info->attrs[LM_A_XFER_MAX_DOWNTIME_MS]);
	if (info->attrs[LM_A_XFER_SEND_METHOD])
		x->send_method = nla_get_u32(info->attrs[LM_A_XFER_SEND_METHOD]);
	if (info->attrs[LM_A_XFER_BANDWIDTH])
		x->bandwidth = nla_get_u64(info->attrs[LM_A_XFER_BANDWIDTH]);
	x->no_data_crc = nla_get_flag(info->attrs[LM_A_XFER_NO_DATA_CRC]);
	x->by_backing = nla_get_flag(info->attrs[LM_A_XFER_KEY_BY_BACKING]);
	if (info->attrs[LM_A_XFER_COMPRESS])
		x->compress = nla_get_u32(info->attrs[LM_A_XFER_COMPRESS]);
	x->compress_level = LM_COMPRESS_LEVEL_DEFAULT;
	if (info->attrs[LM_A_XFER_COMPRESS_LEVEL]) {
		/* A level of nothing is a mistake worth telling. */
		if (x->compress != LM_COMPRESS_ZSTD) {
			NL_SET_ERR_MSG_ATTR(info->extack,
					    info->attrs[LM_A_XFER_COMPRESS_LEVEL],
					    "A compression level needs LM_A_XFER_COMPRESS zstd");
			ret = -EINVAL;
			goto err_free_xfer;
		}
		x->compress_level =
			nla_get_u32(info->attrs[LM_A_XFER_COMPRESS_LEVEL]);
	}
	/* From here on the socket is the transfer's: lm_xfer_free() closes it. */
	ret = lm_xfer_take_sock(x, info);
	if (ret)
		goto err_free_xfer;
	if (!x->sock) {
		ret = xfer_parse_addr(info, &x->addr);
		if (ret < 0)
			goto err_free_xfer;
		ret = xfer_new_socket(x, info, &x->sock);
		if (ret)
			goto err_free_xfer;
	}
	/* tls_sw_sendmsg() refuses MSG_ZEROCOPY. */
	if (x->secure && x->send_method == LM_SEND_ZEROCOPY) {
		NL_SET_ERR_MSG_ATTR(info->extack,
				    info->attrs[LM_A_XFER_SEND_METHOD],
				    "MSG_ZEROCOPY does not work on a kTLS socket: use sendpage or copy");
		ret = -EOPNOTSUPP;
		goto err_free_xfer;
	}
	ret = xfer_install(vm, x, info);
	if (ret)
		goto err_free_xfer;
	lm_vm_put(vm);
	return 0;

err_free_xfer:
	lm_xfer_free(x);
out_put_vm:
	lm_vm_put(vm);
	return ret;
}

/* The transfer of the requested VM, with vm->lock held on success. */
static struct lm_xfer *xfer_lock(struct genl_info *info, struct lm_vm **vmp)
{
	struct lm_xfer *x;
	struct lm_vm *vm;

	if (lm_nl_missing(info, LM_A_VM_ID))
		return ERR_PTR(-EINVAL);
	vm = xfer_get_vm(info);
	if (!vm)
		return ERR_PTR(-ENOENT);
	mutex_lock(&vm->lock);
	x = lm_xfer_of(vm, info);
	if (!x) {
		mutex_unlock(&vm->lock);
		lm_vm_put(vm);
		return ERR_PTR(-ENOENT);
	}
	*vmp = vm;
	return x;
}

static void xfer_unlock(struct lm_vm *vm)
{
	mutex_unlock(&vm->lock);
	lm_vm_put(vm);
}

int lm_xfer_nl_switchover(struct sk_buff *skb, struct genl_info *info)
{
	struct lm_xfer *x;
	struct lm_vm *vm;
	struct file *file;
	int ret = 0;

	if (lm_nl_missing(info, LM_A_XFER_STATE_FD))
		return -EINVAL;
	x = xfer_lock(info, &vm);
	if (IS_ERR(x))
		return PTR_ERR(x);
	file = xfer_state_file(info, FMODE_READ);
	if (IS_ERR(file)) {
		ret = PTR_ERR(file);
		goto out_unlock;
	}
	spin_lock(&x->lock);
	if (x->role != LM_WIRE_ROLE_SOURCE || x->switchover ||
	    x->stats.phase != LM_PHASE_WAIT_SWITCHOVER) {
		spin_unlock(&x->lock);
		fput(file);
		GENL_SET_ERR_MSG(info, "The transfer is not waiting for a switchover");
		ret = -EINVAL;
		goto out_unlock;
	}
	x->state_file = file;
	x->switchover = true;
	spin_unlock(&x->lock);
	wake_up_all(&x->wait);
out_unlock:
	xfer_unlock(vm);
	return ret;
}

int lm_xfer_nl_complete(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *reason = info->attrs[LM_A_XFER_REASON];
	struct lm_xfer *x;
	struct lm_vm *vm;
	int ret = 0;

	x = xfer_lock(info, &vm);
	if (IS_ERR(x))
		return PTR_ERR(x);
	spin_lock(&x->lock);
	if (x->role != LM_WIRE_ROLE_DESTINATION || x->completed ||
	    x->stats.phase != LM_PHASE_COMMIT) {
		spin_unlock(&x->lock);
		GENL_SET_ERR_MSG(info, "The transfer is not waiting for a verdict");
		ret = -EINVAL;
		goto out_unlock;
	}
	x->complete_reason = reason ? nla_get_u32(reason) : 0;
	x->completed = true;
	spin_unlock(&x->lock);
	wake_up_all(&x->wait);
out_unlock:
	xfer_unlock(vm);
	return ret;
}

int lm_xfer_nl_cancel(struct sk_buff *skb, struct genl_info *info)
{
	struct lm_xfer *x;
	struct lm_vm *vm;
	int ret = 0;

	x = xfer_lock(info, &vm);
	if (IS_ERR(x))
		return PTR_ERR(x);
	if (lm_xfer_running(x)) {
		lm_xfer_cancel_vm(vm, LM_WIRE_REASON_CANCELLED);
	} else {
		GENL_SET_ERR_MSG(info, "The transfer has already ended");
		ret = -ENOENT;
	}
	xfer_unlock(vm);
	return ret;
}

int lm_xfer_nl_status(struct sk_buff *skb, struct genl_info *info)
{
	struct sk_buff *reply;
	struct lm_xfer *x;
	struct lm_vm *vm;
	void *hdr;
	int ret;

	reply = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!reply)
		return -ENOMEM;
	x = xfer_lock(info, &vm);
	if (IS_ERR(x)) {
		nlmsg_free(reply);
		return PTR_ERR(x);
	}
	hdr = genlmsg_put_reply(reply, info, &lm_genl_family, 0, LM_CMD_STATUS);
	ret = !hdr ? -EMSGSIZE : lm_xfer_fill_stats(reply, x);
	xfer_unlock(vm);
	if (ret) {
		nlmsg_free(reply);
		return ret;
	}
	genlmsg_end(reply, hdr);
	return genlmsg_reply(reply, info);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Transfers: lifetime, cancellation, progress reporting, and the cleanup
 * when the netlink socket that started a transfer goes away.
 */

#include "internal.h"
#include "xfer.h"
#include "netlink.h"
#include "vm.h"

#include <linux/file.h>
#include <linux/hashtable.h>
#include <linux/kthread.h>
#include <linux/kvm_host.h>
#include <linux/net.h>
#include <linux/netlink.h>
#include <linux/sched/mm.h>
#include <linux/sched/cputime.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <net/genetlink.h>
#include <net/net_namespace.h>
#include <net/sock.h>

/*
 * Transfers by the netlink port that started them, for the release
 * notifier: every generic netlink socket closed on the host calls it, and
 * it must not take every VM's lock to find the rare transfer that socket
 * owns. A transfer is in the table from its start to lm_xfer_free(); the
 * table's mutex nests inside vm->lock, and the notifier takes only it.
 */
static DEFINE_HASHTABLE(xfer_owners, 6);
static DEFINE_MUTEX(xfer_owners_lock);

void lm_xfer_set_phase(struct lm_xfer *x, u32 phase)
{
	spin_lock(&x->lock);
	x->stats.phase = phase;
	spin_unlock(&x->lock);
	lm_xfer_notify(x);
}

/*
 * Record why the transfer failed. The first failure wins: later ones are
 * usually its consequences (a closed socket after a refused CONFIG), and
 * so is any failure once the transfer was cancelled (cancelling shuts the
 * socket down under the thread's feet).
 */
void lm_xfer_fail(struct lm_xfer *x, int err, u32 reason, const char *fmt, ...)
{
	va_list ap;

	spin_lock(&x->lock);
	if (!x->stats.err && x->cancel_reason) {
		x->stats.failed_phase = x->stats.phase;
		x->stats.err = -ECANCELED;
		x->stats.reason = x->cancel_reason;
		strscpy(x->stats.message,
			x->cancel_reason == LM_WIRE_REASON_VM_GONE ?
			"The VM was detached" : "Cancelled",
			sizeof(x->stats.message));
	}
	if (!x->stats.err) {
		x->stats.failed_phase = x->stats.phase;
		x->stats.err = err;
		x->stats.reason = reason;
		va_start(ap, fmt);
		vscnprintf(x->stats.message, sizeof(x->stats.message), fmt, ap);
		va_end(ap);
	}
	spin_unlock(&x->lock);
}

void lm_xfer_account(struct lm_xfer *x, u64 pages, u64 zero_pages,
		     u64 hole_pages, u64 bytes)
{
	spin_lock(&x->lock);
	x->stats.pages += pages;
	x->stats.zero_pages += zero_pages;
	x->stats.hole_pages += hole_pages;
	x->stats.bytes += bytes;
	spin_unlock(&x->lock);
}

/* @data bytes of page data went as @wire bytes, compressed if @zstd. */
void lm_xfer_account_data(struct lm_xfer *x, u64 data, u64 wire, bool zstd)
{
	spin_lock(&x->lock);
	x->stats.data_bytes += data;
	x->stats.wire_data_bytes += wire;
	x->stats.zstd_batches += zstd;
	spin_unlock(&x->lock);
}

u32 lm_xfer_cancelled(struct lm_xfer *x)
{
	return READ_ONCE(x->cancel_reason);
}

static void xfer_snapshot(struct lm_xfer *x, struct lm_xfer_stats *st)
{
	spin_lock(&x->lock);
	*st = x->stats;
	spin_unlock(&x->lock);
	if (x->start_ns)
		st->elapsed_ns = ktime_get_ns() - x->start_ns;
}

int lm_xfer_fill_stats(struct sk_buff *skb, struct lm_xfer *x)
{
	struct lm_xfer_stats st;

	xfer_snapshot(x, &st);
	if (nla_put_u32(skb, LM_A_VM_ID, x->vm->id) ||
	    nla_put_u32(skb, LM_A_XFER_ROLE, x->role) ||
	    nla_put_u32(skb, LM_A_XFER_MODE, x->mode) ||
	    nla_put_u32(skb, LM_A_XFER_PHASE, st.phase) ||
	    nla_put_u32(skb, LM_A_XFER_ROUND, st.round) ||
	    nla_put_u64_64bit(skb, LM_A_XFER_DIRTY_PAGES, st.dirty_pages,
			      LM_A_PAD) ||
	    nla_put_u64_64bit(skb, LM_A_XFER_PAGES, st.pages, LM_A_PAD) ||
	    nla_put_u64_64bit(skb, LM_A_XFER_ZERO_PAGES, st.zero_pages,
			      LM_A_PAD) ||
	    nla_put_u64_64bit(skb, LM_A_XFER_HOLE_PAGES, st.hole_pages,
			      LM_A_PAD) ||
	    nla_put_u64_64bit(skb, LM_A_XFER_TOTAL_PAGES, st.total_pages,
			      LM_A_PAD) ||
	    nla_put_u64_64bit(skb, LM_A_XFER_BYTES, st.bytes, LM_A_PAD) ||
	    nla_put_u64_64bit(skb, LM_A_XFER_STATE_SIZE, st.state_size,
			      LM_A_PAD) ||
	    nla_put_u64_64bit(skb, LM_A_XFER_ELAPSED_NS, st.elapsed_ns,
			      LM_A_PAD) ||
	    nla_put_u64_64bit(skb, LM_A_XFER_STOPCOPY_NS, st.stopcopy_ns,
			      LM_A_PAD) ||
	    nla_put_u64_64bit(skb, LM_A_XFER_CPU_NS, st.cpu_ns, LM_A_PAD) ||
	    nla_put_u64_64bit(skb, LM_A_XFER_DATA_BYTES, st.data_bytes,
			      LM_A_PAD) ||
	    nla_put_u64_64bit(skb, LM_A_XFER_WIRE_DATA_BYTES,
			      st.wire_data_bytes, LM_A_PAD) ||
	    nla_put_u64_64bit(skb, LM_A_XFER_ZSTD_BATCHES, st.zstd_batches,
			      LM_A_PAD) ||
	    nla_put_u32(skb, LM_A_XFER_COMPRESS, x->compress))
		return -EMSGSIZE;
	if (st.err &&
	    (nla_put_u32(skb, LM_A_XFER_REASON, st.reason) ||
	     nla_put_u32(skb, LM_A_XFER_ERRNO, -st.err) ||
	     nla_put_string(skb, LM_A_XFER_MESSAGE, st.message) ||
	     nla_put_u32(skb, LM_A_XFER_FAILED_PHASE, st.failed_phase)))
		return -EMSGSIZE;
	return 0;
}

/* Multicast the transfer's progress to LM_MCGRP_XFER in its namespace. */
void lm_xfer_notify(struct lm_xfer *x)
{
	struct sk_buff *skb;
	void *hdr;

	if (x->task == current) {
		spin_lock(&x->lock);
		x->stats.cpu_ns = current->se.sum_exec_runtime;
		spin_unlock(&x->lock);
	}
	skb = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!skb)
		return;
	hdr = genlmsg_put(skb, 0, 0, &lm_genl_family, 0, LM_CMD_EVENT);
	if (!hdr || lm_xfer_fill_stats(skb, x)) {
		nlmsg_free(skb);
		return;
	}
	genlmsg_end(skb, hdr);
	/* Nobody listening (-ESRCH) is not an error. */
	genlmsg_multicast_netns(&lm_genl_family, x->net, skb, 0,
				LM_GENL_MCGRP_XFER, GFP_KERNEL);
}

/*
 * Make @sock the transfer's socket, so that cancelling can shut it down.
 * Fails if the transfer was cancelled meanwhile; the caller still owns
 * @sock then.
 */
int lm_xfer_publish_sock(struct lm_xfer *x, struct socket *sock,
			 bool listening)
{
	int ret = 0;

	mutex_lock(&x->sock_lock);
	if (lm_xfer_cancelled(x))
		ret = -ECANCELED;
	else if (listening)
		x->listen_sock = sock;
	else
		x->sock = sock;
	mutex_unlock(&x->sock_lock);
	return ret;
}

void lm_xfer_release_socks(struct lm_xfer *x)
{
	struct socket *sock, *listen_sock;
	struct file *sock_file;

	mutex_lock(&x->sock_lock);
	sock = x->sock;
	sock_file = x->sock_file;
	listen_sock = x->listen_sock;
	x->sock = NULL;
	x->sock_file = NULL;
	x->listen_sock = NULL;
	mutex_unlock(&x->sock_lock);
	/* The requester's socket belongs to its file: drop our reference. */
	if (sock_file)
		fput(sock_file);
	else if (sock)
		sock_release(sock);
	if (listen_sock)
		sock_release(listen_sock);
}

/*
 * Ask the thread to stop. It may be blocked in accept, connect, send or
 * receive: shutting the sockets down wakes it with an error, and waiting
 * on x->wait is woken directly.
 */
static void xfer_cancel(struct lm_xfer *x, u32 reason)
{
	spin_lock(&x->lock);
	if (!x->cancel_reason)
		x->cancel_reason = reason;
	spin_unlock(&x->lock);
	wake_up_all(&x->wait);

	mutex_lock(&x->sock_lock);
	if (x->listen_sock)
		kernel_sock_shutdown(x->listen_sock, SHUT_RDWR);
	if (x->sock)
		kernel_sock_shutdown(x->sock, SHUT_RDWR);
	mutex_unlock(&x->sock_lock);
}

bool lm_xfer_running(struct lm_xfer *x)
{
	u32 phase;

	spin_lock(&x->lock);
	phase = x->stats.phase;
	spin_unlock(&x->lock);
	return phase != LM_PHASE_DONE && phase != LM_PHASE_FAILED;
}

/*
 * Give the failure @err of the thread a reason and a message, unless one
 * was recorded where it happened, and tell the peer why we stop when the
 * failure is ours and the connection still works.
 */
void lm_xfer_finish_error(struct lm_xfer *x, int err)
{
	u32 cancelled = lm_xfer_cancelled(x);
	struct lm_xfer_stats st;

	if (cancelled)
		lm_xfer_fail(x, -ECANCELED, cancelled, "Cancelled");
	else if (err == -EAGAIN || err == -ETIMEDOUT)
		lm_xfer_fail(x, -ETIMEDOUT, LM_WIRE_REASON_TIMEOUT,
			     "The peer stopped answering");
	else if (err == -ECONNRESET || err == -EPIPE || err == -ENOTCONN ||
		 err == -ESHUTDOWN)
		lm_xfer_fail(x, err, LM_WIRE_REASON_CONNECTION,
			     "The connection to the peer was lost");
	else
		lm_xfer_fail(x, err, LM_WIRE_REASON_INTERNAL,
			     "Local error %d", err);

	spin_lock(&x->lock);
	st = x->stats;
	spin_unlock(&x->lock);
	if (!x->sock || x->abort_sent || cancelled ||
	    st.err == -ECONNABORTED || st.reason == LM_WIRE_REASON_CONNECTION ||
	    st.reason == LM_WIRE_REASON_TIMEOUT)
		return;
	/* Do not wait long on a peer that stopped reading. */
	WRITE_ONCE(x->sock->sk->sk_sndtimeo, HZ);
	lm_wire_send_abort(x, st.reason, 0, st.message);
}

/*
 * Adopt the VMM's address space and allocate what the thread needs. The
 * mm_users reference keeps the guest memory mapped even if the VMM exits
 * mid-transfer; the thread drops it as soon as it ends.
 */
int lm_xfer_thread_setup(struct lm_xfer *x)
{
	struct mm_struct *mm = x->vm->kvm->mm;

	x->start_ns = ktime_get_ns();
	if (!mmget_not_zero(mm)) {
		lm_xfer_fail(x, -ESRCH, LM_WIRE_REASON_VM_GONE,
			     "The VMM has exited");
		return -ESRCH;
	}
	x->mm = mm;
	kthread_use_mm(mm);

	x->buf = kvmalloc(LM_XFER_BUF_SIZE, GFP_KERNEL);
	x->pages = kcalloc(LM_WIRE_MAX_BATCH_PAGES, sizeof(*x->pages),
			   GFP_KERNEL);
	if (!x->buf || !x->pages) {
		lm_xfer_fail(x, -ENOMEM, LM_WIRE_REASON_INTERNAL,
			     "Out of memory");
		return -ENOMEM;
	}
	return lm_xfer_layout_read(x);
}

/* Undo lm_xfer_thread_setup() and everything the thread left behind. */
void lm_xfer_thread_cleanup(struct lm_xfer *x)
{
	struct file *state_file;

	lm_xfer_vcpus_unlock(x);
	lm_xfer_release_socks(x);
	lm_xfer_tx_uninit(x);
	lm_xfer_zstd_free(x);
	if (x->mm) {
		kthread_unuse_mm(x->mm);
		mmput(x->mm);
		x->mm = NULL;
	}
	kvfree(x->covered);
	x->covered = NULL;
	lm_xfer_layout_free(&x->layout);
	kfree(x->pages);
	x->pages = NULL;
	kvfree(x->buf);
	x->buf = NULL;

	spin_lock(&x->lock);
	state_file = x->state_file;
	x->state_file = NULL;
	x->stats.phase = x->stats.err ? LM_PHASE_FAILED : LM_PHASE_DONE;
	spin_unlock(&x->lock);
	if (state_file)
		fput(state_file);
	lm_xfer_notify(x);
	/*
	 * Nothing of the transfer uses its namespace any more (the owner
	 * check only compares it): let a deleted namespace go, and with it
	 * the VM (vm_net_pre_exit()), while the finished transfer stays for
	 * STATUS.
	 */
	put_net(x->net);
	x->net_put = true;
	if (x->stats.err)
		pr_info("VM %u: %s transfer failed: %s (%d)\n", x->vm->id,
			x->role == LM_WIRE_ROLE_SOURCE ? "outgoing" : "incoming",
			x->stats.message, x->stats.err);
}

struct lm_xfer *lm_xfer_alloc(struct lm_vm *vm, struct genl_info *info,
			      u32 role)
{
	struct lm_xfer *x;

	x = kzalloc(sizeof(*x), GFP_KERNEL_ACCOUNT);
	if (!x)
		return NULL;
	kref_get(&vm->ref);
	x->vm = vm;
	x->net = get_net(genl_info_net(info));
	x->portid = info->snd_portid;
	x->role = role;
	mutex_init(&x->sock_lock);
	spin_lock_init(&x->lock);
	init_waitqueue_head(&x->wait);
	return x;
}

/*
 * Free a transfer whose thread has ended, was cancelled, or never started,
 * and everything it still holds. The thread releases its sockets and its
 * state file itself when it ends; but kthread_stop() on a thread that has
 * not run yet (DETACH right after LISTEN) wakes it only to exit without
 * calling lm_xfer_*_thread(), and a transfer that failed to start never
 * had a thread: their sockets, one of them maybe bound and listening,
 * each with a reference on its network namespace, are closed here.
 */
void lm_xfer_free(struct lm_xfer *x)
{
	if (x->owned) {
		mutex_lock(&xfer_owners_lock);
		hash_del(&x->owner_node);
		mutex_unlock(&xfer_owners_lock);
	}
	if (x->task) {
		kthread_stop(x->task);
		put_task_struct(x->task);
	}
	lm_xfer_release_socks(x);
	if (x->state_file)
		fput(x->state_file);
	if (!x->net_put)
		put_net(x->net);
	lm_vm_put(x->vm);
	mutex_destroy(&x->sock_lock);
	kfree(x);
}

/*
 * Start the thread of a new transfer and install it as vm->xfer (vm->lock
 * held), replacing a finished one. The old one is returned in *@old for
 * the caller to free after dropping vm->lock.
 */
int lm_xfer_start(struct lm_vm *vm, struct lm_xfer *x, struct lm_xfer **old,
		  struct netlink_ext_ack *extack)
{
	int (*fn)(void *data);
	struct task_struct *task;

	lockdep_assert_held(&vm->lock);
	*old = NULL;
	if (vm->dead) {
		NL_SET_ERR_MSG(extack, "The VM is being detached");
		return -ENOENT;
	}
	if (vm->xfer && lm_xfer_running(vm->xfer)) {
		NL_SET_ERR_MSG(extack, "A transfer of this VM is in progress");
		return -EBUSY;
	}

	fn = x->role == LM_WIRE_ROLE_SOURCE ? lm_xfer_source_thread :
					       lm_xfer_destination_thread;
	x->stats.phase = x->role == LM_WIRE_ROLE_SOURCE ? LM_PHASE_CONNECTING :
							   LM_PHASE_LISTENING;
	task = kthread_create(fn, x, "lm-%s/%u",
			      x->role == LM_WIRE_ROLE_SOURCE ? "tx" : "rx",
			      vm->id);
	if (IS_ERR(task)) {
		NL_SET_ERR_MSG(extack, "Cannot start the transfer thread");
		return PTR_ERR(task);
	}
	/* Held until lm_xfer_free(): kthread_stop() after the thread ended. */
	x->task = get_task_struct(task);
	*old = vm->xfer;
	vm->xfer = x;
	mutex_lock(&xfer_owners_lock);
	hash_add(xfer_owners, &x->owner_node, x->portid);
	x->owned = true;
	mutex_unlock(&xfer_owners_lock);
	wake_up_process(task);
	return 0;
}

/* The transfer of @vm, referenced through @vm->lock by the caller. */
struct lm_xfer *lm_xfer_of(struct lm_vm *vm, struct genl_info *info)
{
	lockdep_assert_held(&vm->lock);
	if (!vm->xfer || vm->dead) {
		GENL_SET_ERR_MSG(info, "The VM has no transfer");
		return NULL;
	}
	return vm->xfer;
}

void lm_xfer_cancel_vm(struct lm_vm *vm, u32 reason)
{
	lockdep_assert_held(&vm->lock);
	if (vm->xfer)
		xfer_cancel(vm->xfer, reason);
}

void lm_xfer_teardown(struct lm_vm *vm)
{
	struct lm_xfer *x;

	mutex_lock(&vm->lock);
	x = vm->xfer;
	vm->xfer = NULL;
	mutex_unlock(&vm->lock);
	if (!x)
		return;
	/* The thread takes vm->lock (to harvest dirty logs): not held here. */
	xfer_cancel(x, LM_WIRE_REASON_VM_GONE);
	lm_xfer_free(x);
}

/*
 * A netlink socket was closed: cancel the transfers it started. A killed
 * lmctl must not leave a source waiting for a SWITCHOVER that never comes,
 * nor a destination for a COMPLETE.
 */
static int xfer_netlink_event(struct notifier_block *nb, unsigned long event,
			      void *ptr)
{
	struct netlink_notify *n = ptr;
	struct lm_xfer *x;

	if (event != NETLINK_URELEASE || n->protocol != NETLINK_GENERIC ||
	    !n->portid)
		return NOTIFY_DONE;

	/* NETLINK_URELEASE is called in process context: a mutex will do. */
	mutex_lock(&xfer_owners_lock);
	hash_for_each_possible(xfer_owners, x, owner_node, n->portid)
		if (x->portid == n->portid && net_eq(x->net, n->net) &&
		    lm_xfer_running(x))
			xfer_cancel(x, LM_WIRE_REASON_CANCELLED);
	mutex_unlock(&xfer_owners_lock);
	return NOTIFY_DONE;
}

static struct notifier_block xfer_netlink_notifier = {
	.notifier_call = xfer_netlink_event,
};

int lm_xfer_init(void)
{
	return netlink_register_notifier(&xfer_netlink_notifier);
}

void lm_xfer_uninit(void)
{
	netlink_unregister_notifier(&xfer_netlink_notifier);
}

// SPDX-License-Identifier: GPL-2.0
/*
 * The destination side of a transfer: accept one connection, answer the
 * handshake, check CONFIG against our own VM, receive memory into it and
 * the state blob into lmctl's file, then wait for lmctl to load the state
 * and resume the VM (COMPLETE) and tell the source.
 *
 * Every frame is checked before it is acted on; a COMMIT is refused unless
 * every page of guest memory arrived and the state is whole.
 */

#include "internal.h"

#include <linux/bitmap.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kthread.h>
#include <linux/net.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <net/sock.h>
#include <net/tcp.h>

static int destination_accept(struct lm_xfer *x)
{
	struct socket *sock;
	int ret;

	/* lmctl accepted the connection itself. */
	if (!x->listen_sock)
		goto out_set_timeouts;
	ret = kernel_accept(x->listen_sock, &sock, 0);
	if (ret) {
		lm_xfer_fail(x, ret, LM_WIRE_REASON_CONNECTION,
			     "Accepting the connection failed");
		return ret;
	}
	ret = lm_xfer_publish_sock(x, sock, false);
	if (ret) {
		sock_release(sock);
		return ret;
	}
	/* One source per LISTEN: stop listening at once. */
	mutex_lock(&x->sock_lock);
	sock = x->listen_sock;
	x->listen_sock = NULL;
	mutex_unlock(&x->sock_lock);
	sock_release(sock);

out_set_timeouts:
	WRITE_ONCE(x->sock->sk->sk_sndtimeo, LM_XFER_TIMEOUT);
	WRITE_ONCE(x->sock->sk->sk_rcvtimeo, LM_XFER_TIMEOUT);
	tcp_sock_set_nodelay(x->sock->sk);
	return 0;
}

static int destination_config(struct lm_xfer *x)
{
	struct lm_wire_ack ack = {};
	char msg[sizeof_field(struct lm_wire_abort, message) * 2];
	u32 seq = x->rx_seq, reason, detail;
	size_t len;
	int ret;

	ret = lm_wire_expect(x, LM_WIRE_CONFIG, x->buf, LM_XFER_BUF_SIZE, &len);
	if (ret)
		return ret;
	reason = lm_xfer_config_check(x, x->buf, len, &detail, msg, sizeof(msg));
	if (reason) {
		lm_xfer_fail(x, -EINVAL, reason, "Layout mismatch: %s", msg);
		lm_wire_send_abort(x, reason, detail, msg);
		return -EINVAL;
	}
	ack.type = cpu_to_le32(LM_WIRE_CONFIG);
	ack.seq = cpu_to_le32(seq);
	return lm_wire_send(x, LM_WIRE_ACK, &ack, sizeof(ack), false);
}

static int destination_round_end(struct lm_xfer *x,
				 const struct lm_wire_hdr *hdr, bool *final)
{
	struct lm_wire_round_end end;
	size_t len = le32_to_cpu(hdr->len);
	int ret;

	ret = lm_wire_recv_payload(x, hdr, &end, sizeof(end));
	if (ret)
		return ret;
	if (len != sizeof(end))
		goto malformed;
	*final = le32_to_cpu(end.flags) & LM_WIRE_ROUND_FINAL;
	spin_lock(&x->lock);
	x->stats.round = le32_to_cpu(end.round);
	spin_unlock(&x->lock);
	lm_xfer_set_phase(x, *final ? LM_PHASE_STATE : LM_PHASE_PRECOPY);
	return 0;

malformed:
	lm_xfer_fail(x, -EPROTO, LM_WIRE_REASON_PROTOCOL,
		     "Malformed ROUND_END frame");
	return -EPROTO;
}

/* A STATE chunk: in order, within the announced total, into the file. */
static int destination_state(struct lm_xfer *x, const struct lm_wire_hdr *hdr,
			     u64 *total, u64 *got)
{
	struct lm_wire_state *chunk = x->buf;
	size_t len = le32_to_cpu(hdr->len), n;
	loff_t pos;
	ssize_t put;
	int ret;

	ret = lm_wire_recv_payload(x, hdr, x->buf, LM_XFER_BUF_SIZE);
	if (ret)
		return ret;
	if (len <= sizeof(*chunk))
		goto malformed;
	n = len - sizeof(*chunk);
	if (!*got)
		*total = le64_to_cpu(chunk->total);
	if (n > LM_WIRE_MAX_STATE_CHUNK || *total > LM_WIRE_MAX_STATE ||
	    le64_to_cpu(chunk->total) != *total ||
	    le64_to_cpu(chunk->offset) != *got || n > *total - *got)
		goto malformed;
	pos = *got;
	put = kernel_write(x->state_file, x->buf + sizeof(*chunk), n, &pos);
	if (put != n) {
		lm_xfer_fail(x, put < 0 ? put : -EIO, LM_WIRE_REASON_STATE,
			     "Cannot write the state file");
		return put < 0 ? put : -EIO;
	}
	*got += n;
	spin_lock(&x->lock);
	x->stats.state_size = *got;
	spin_unlock(&x->lock);
	return 0;

malformed:
	lm_xfer_fail(x, -EPROTO, LM_WIRE_REASON_PROTOCOL,
		     "Malformed STATE frame");
	return -EPROTO;
}

static int destination_check_commit(struct lm_xfer *x,
				    const struct lm_wire_hdr *hdr,
				    u64 state_total, u64 state_got)
{
	struct lm_wire_commit commit;
	u64 pages, missing;
	int ret;

	ret = lm_wire_recv_payload(x, hdr, &commit, sizeof(commit));
	if (ret)
		return ret;
	if (le32_to_cpu(hdr->len) != sizeof(commit)) {
		lm_xfer_fail(x, -EPROTO, LM_WIRE_REASON_PROTOCOL,
			     "Malformed COMMIT frame");
		return -EPROTO;
	}
	spin_lock(&x->lock);
	pages = x->stats.pages;
	spin_unlock(&x->lock);
	missing = x->layout.total_pages -
		  bitmap_weight(x->covered, x->layout.total_pages);
	if (missing || le64_to_cpu(commit.pages) != pages ||
	    !state_got || state_got != state_total ||
	    le64_to_cpu(commit.state_size) != state_got) {
		lm_xfer_fail(x, -EPROTO, LM_WIRE_REASON_INCOMPLETE,
			     "COMMIT with %llu pages never received, %llu/%llu pages and %llu/%llu state bytes",
			     missing, pages, le64_to_cpu(commit.pages),
			     state_got, le64_to_cpu(commit.state_size));
		return -EPROTO;
	}
	return 0;
}

static int destination_unexpected(struct lm_xfer *x, u16 type)
{
	lm_xfer_fail(x, -EPROTO, LM_WIRE_REASON_PROTOCOL,
		     "Unexpected %s frame", lm_wire_type_name(type));
	return -EPROTO;
}

/* Receive frames until COMMIT. */
static int destination_receive(struct lm_xfer *x)
{
	u64 state_total = 0, state_got = 0;
	struct lm_wire_hdr hdr;
	bool final = false;
	int ret;

	lm_xfer_set_phase(x, x->mode == LM_WIRE_MODE_LIVE ? LM_PHASE_PRECOPY :
							     LM_PHASE_STOPCOPY);
	for (;;) {
		u16 type;

		if (lm_xfer_cancelled(x))
			return -ECANCELED;
		ret = lm_wire_recv_hdr(x, &hdr);
		if (ret)
			return ret;
		type = le16_to_cpu(hdr.type);
		if (type == LM_WIRE_COMMIT && final)
			return destination_check_commit(x, &hdr, state_total,
							state_got);
		if (type == LM_WIRE_ABORT)
			return lm_wire_expect_abort(x, &hdr);
		if (type == LM_WIRE_PAGES && !final)
			ret = lm_xfer_recv_pages(x, &hdr);
		else if (type == LM_WIRE_ROUND_END && !final)
			ret = destination_round_end(x, &hdr, &final);
		else if (type == LM_WIRE_STATE && final)
			ret = destination_state(x, &hdr, &state_total,
						&state_got);
		else
			ret = destination_unexpected(x, type);
		if (ret)
			return ret;
		cond_resched();
	}
}

/* Wait for lmctl's verdict on the resume, and pass it on. */
static int destination_complete(struct lm_xfer *x, u32 commit_seq)
{
	struct lm_wire_ack ack = {};
	u32 reason;

	/* Every page is in: the VMM loads the state and runs the guest. */
	lm_xfer_vcpus_unlock(x);
	lm_xfer_set_phase(x, LM_PHASE_COMMIT);
	wait_event_interruptible_timeout(x->wait, READ_ONCE(x->completed) ||
					 lm_xfer_cancelled(x) ||
					 kthread_should_stop(),
					 LM_XFER_TIMEOUT);
	if (lm_xfer_cancelled(x) || kthread_should_stop())
		return -ECANCELED;
	if (!READ_ONCE(x->completed)) {
		lm_xfer_fail(x, -ETIMEDOUT, LM_WIRE_REASON_TIMEOUT,
			     "No COMPLETE within %d s", LM_XFER_TIMEOUT / HZ);
		return -ETIMEDOUT;
	}
	spin_lock(&x->lock);
	reason = x->complete_reason;
	spin_unlock(&x->lock);
	if (reason) {
		lm_xfer_fail(x, -ECANCELED, reason,
			     "The destination VMM could not take over the VM");
		return -ECANCELED;
	}
	ack.type = cpu_to_le32(LM_WIRE_COMMIT);
	ack.seq = cpu_to_le32(commit_seq);
	return lm_wire_send(x, LM_WIRE_ACK, &ack, sizeof(ack), false);
}

static int destination_run(struct lm_xfer *x)
{
	u32 commit_seq;
	int ret;

	/* One bit per guest page: kvmalloc, as for any size of guest. */
	x->covered = kvcalloc(BITS_TO_LONGS(x->layout.total_pages),
			      sizeof(long), GFP_KERNEL_ACCOUNT);
	if (!x->covered)
		return -ENOMEM;
	ret = destination_accept(x);
	if (ret)
		return ret;
	lm_xfer_set_phase(x, LM_PHASE_HANDSHAKE);
	ret = lm_wire_handshake_destination(x);
	if (ret)
		return ret;
	lm_xfer_set_phase(x, LM_PHASE_CONFIG);
	ret = destination_config(x);
	if (ret)
		return ret;
	ret = lm_xfer_vcpus_lock(x, "a VM receiving a migration must not run");
	if (ret)
		return ret;
	ret = destination_receive(x);
	if (ret)
		return ret;
	commit_seq = x->rx_seq - 1;
	return destination_complete(x, commit_seq);
}

int lm_xfer_destination_thread(void *data)
{
	struct lm_xfer *x = data;
	int ret;

	ret = lm_xfer_thread_setup(x);
	if (!ret)
		ret = destination_run(x);
	if (ret)
		lm_xfer_finish_error(x, ret);
	lm_xfer_thread_cleanup(x);
	return ret;
}

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
#include <linux/stdarg.h>
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
	lm_wire_set_timeouts(x);
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
		lm_xfer_fail(x, -EINVAL, reason, "%s%s",
			     reason == LM_WIRE_REASON_PROTOCOL ? "" :
			     "Layout mismatch: ", msg);
		lm_wire_send_abort(x, reason, detail, msg);
		return -EINVAL;
	}
	ack.type = cpu_to_le32(LM_WIRE_CONFIG);
	ack.seq = cpu_to_le32(seq);
	return lm_wire_send(x, LM_WIRE_ACK, &ack, sizeof(ack), false);
}

/* What the destination has received so far, checked against each frame. */
struct destination_rx {
	u32 rounds;		/* ROUND_END frames */
	bool final;		/* the last was FINAL */
	u64 round_pages;	/* x->stats.pages at the start of the round */
	u64 round_zero;		/* x->stats.zero_pages at the start of it */
	u64 state_total;
	u64 state_got;
};

static __printf(2, 3)
int destination_malformed(struct lm_xfer *x, const char *fmt, ...)
{
	char why[64];
	va_list args;

	va_start(args, fmt);
	vsnprintf(why, sizeof(why), fmt, args);
	va_end(args);
	lm_xfer_fail(x, -EPROTO, LM_WIRE_REASON_PROTOCOL, "Frame %u: %s",
		     x->rx_seq - 1, why);
	return -EPROTO;
}

/*
 * A ROUND_END: numbered from 0 without gaps, one only (round 0, FINAL) in
 * quick mode, no unknown flag, and its page counts those the round had.
 */
static int destination_round_end(struct lm_xfer *x,
				 const struct lm_wire_hdr *hdr,
				 struct destination_rx *rx)
{
	struct lm_wire_round_end end;
	u64 pages, zero;
	u32 flags, round;
	int ret;

	ret = lm_wire_recv_payload(x, hdr, &end, sizeof(end));
	if (ret)
		return ret;
	if (le32_to_cpu(hdr->len) != sizeof(end))
		return destination_malformed(x, "ROUND_END of %u bytes",
					     le32_to_cpu(hdr->len));
	flags = le32_to_cpu(end.flags);
	round = le32_to_cpu(end.round);
	if (flags & ~LM_WIRE_ROUND_FINAL)
		return destination_malformed(x, "ROUND_END flags %#x", flags);
	if (round != rx->rounds)
		return destination_malformed(x, "ROUND_END of round %u, not %u",
					     round, rx->rounds);
	if (x->mode == LM_WIRE_MODE_QUICK && !(flags & LM_WIRE_ROUND_FINAL))
		return destination_malformed(x, "quick mode ROUND_END not FINAL");
	spin_lock(&x->lock);
	pages = x->stats.pages - rx->round_pages;
	zero = x->stats.zero_pages - rx->round_zero;
	rx->round_pages = x->stats.pages;
	rx->round_zero = x->stats.zero_pages;
	x->stats.round = round;
	spin_unlock(&x->lock);
	if (le64_to_cpu(end.pages) != pages ||
	    le64_to_cpu(end.zero_pages) != zero)
		return destination_malformed(x, "round %u of %llu/%llu pages, not %llu/%llu",
					     round, le64_to_cpu(end.pages),
					     le64_to_cpu(end.zero_pages), pages,
					     zero);
	rx->rounds++;
	rx->final = flags & LM_WIRE_ROUND_FINAL;
	lm_xfer_set_phase(x, rx->final ? LM_PHASE_STATE : LM_PHASE_PRECOPY);
	return 0;
}

/* A STATE chunk: in order, within the announced total, into the file. */
static int destination_state(struct lm_xfer *x, const struct lm_wire_hdr *hdr,
			     struct destination_rx *rx)
{
	struct lm_wire_state *chunk = x->buf;
	size_t len = le32_to_cpu(hdr->len), n;
	u64 total, offset;
	loff_t pos;
	ssize_t put;
	int ret;

	ret = lm_wire_recv_payload(x, hdr, x->buf, LM_XFER_BUF_SIZE);
	if (ret)
		return ret;
	if (len <= sizeof(*chunk))
		return destination_malformed(x, "STATE without data");
	n = len - sizeof(*chunk);
	total = le64_to_cpu(chunk->total);
	offset = le64_to_cpu(chunk->offset);
	if (!rx->state_got) {
		if (total > LM_WIRE_MAX_STATE) {
			lm_xfer_fail(x, -EFBIG, LM_WIRE_REASON_STATE,
				     "State of %llu bytes (at most %u)", total,
				     LM_WIRE_MAX_STATE);
			return -EFBIG;
		}
		rx->state_total = total;
	}
	if (n > LM_WIRE_MAX_STATE_CHUNK)
		return destination_malformed(x, "STATE chunk of %zu bytes", n);
	if (total != rx->state_total)
		return destination_malformed(x, "STATE total %llu, was %llu",
					     total, rx->state_total);
	if (offset != rx->state_got || n > total - rx->state_got)
		return destination_malformed(x, "STATE chunk [%llu, +%zu) of %llu, expected at %llu",
					     offset, n, total, rx->state_got);
	pos = rx->state_got;
	put = kernel_write(x->state_file, x->buf + sizeof(*chunk), n, &pos);
	if (put != n) {
		lm_xfer_fail(x, put < 0 ? put : -EIO, LM_WIRE_REASON_STATE,
			     "Cannot write the state file");
		return put < 0 ? put : -EIO;
	}
	rx->state_got += n;
	spin_lock(&x->lock);
	x->stats.state_size = rx->state_got;
	spin_unlock(&x->lock);
	return 0;
}

/*
 * COMMIT: well-formed, counting the ROUND_ENDs sent, then complete (every
 * page, the whole state), and the last thing the source sent.
 */
static int destination_check_commit(struct lm_xfer *x,
				    const struct lm_wire_hdr *hdr,
				    const struct destination_rx *rx)
{
	struct lm_wire_commit commit;
	u64 pages, missing;
	int ret;

	ret = lm_wire_recv_payload(x, hdr, &commit, sizeof(commit));
	if (ret)
		return ret;
	if (le32_to_cpu(hdr->len) != sizeof(commit))
		return destination_malformed(x, "COMMIT of %u bytes",
					     le32_to_cpu(hdr->len));
	if (commit.reserved || commit.reserved2)
		return destination_malformed(x, "COMMIT reserved field not 0");
	if (le32_to_cpu(commit.rounds) != rx->rounds)
		return destination_malformed(x, "COMMIT of %u rounds, not %u",
					     le32_to_cpu(commit.rounds),
					     rx->rounds);
	spin_lock(&x->lock);
	pages = x->stats.pages;
	spin_unlock(&x->lock);
	missing = x->layout.total_pages -
		  bitmap_weight(x->covered, x->layout.total_pages);
	if (missing || le64_to_cpu(commit.pages) != pages ||
	    !rx->state_got || rx->state_got != rx->state_total ||
	    le64_to_cpu(commit.state_size) != rx->state_got) {
		lm_xfer_fail(x, -EPROTO, LM_WIRE_REASON_INCOMPLETE,
			     "COMMIT with %llu pages never received, %llu/%llu pages and %llu/%llu state bytes",
			     missing, pages, le64_to_cpu(commit.pages),
			     rx->state_got, le64_to_cpu(commit.state_size));
		return -EPROTO;
	}
	/* Nothing follows COMMIT: a source that sends more is broken. */
	if (lm_wire_rx_pending(x))
		return destination_malformed(x, "bytes after COMMIT");
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
	struct destination_rx rx = {};
	struct lm_wire_hdr hdr;
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
		if (type == LM_WIRE_COMMIT && rx.final)
			return destination_check_commit(x, &hdr, &rx);
		if (type == LM_WIRE_ABORT)
			return lm_wire_expect_abort(x, &hdr);
		if (type == LM_WIRE_PAGES && !rx.final)
			ret = lm_xfer_recv_pages(x, &hdr);
		else if (type == LM_WIRE_ROUND_END && !rx.final)
			ret = destination_round_end(x, &hdr, &rx);
		else if (type == LM_WIRE_STATE && rx.final)
			ret = destination_state(x, &hdr, &rx);
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
	/* The source may compress: buffers for a whole batch, once. */
	if (x->features & LM_WIRE_F_ZSTD) {
		x->compress = LM_COMPRESS_ZSTD;
		ret = lm_xfer_zstd_init(x, 0);
		if (ret)
			return ret;
	}
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

// SPDX-License-Identifier: GPL-2.0
/*
 * The source side of a transfer: connect, handshake, CONFIG, wait for the
 * VM to be paused (SWITCHOVER), then memory, state, COMMIT, and the
 * destination's verdict.
 *
 * The source VM is only ever read: whatever fails, it is left as it was,
 * and lmctl may resume it unless the destination acknowledged COMMIT.
 */

#include "internal.h"
#include "downtime.h"

#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/net.h>
#include <linux/sched.h>
#include <net/sock.h>
#include <net/tcp.h>

/* Connect with a short timeout, then allow the peer its peer_timeout. */
static int source_connect(struct lm_xfer *x)
{
	struct sock *sk = x->sock->sk;
	int len = x->addr.ss_family == AF_INET ? sizeof(struct sockaddr_in) :
						  sizeof(struct sockaddr_in6);
	int ret;

	/* lmctl connected the socket itself. */
	if (x->sock_file)
		goto out_set_timeouts;
	WRITE_ONCE(sk->sk_sndtimeo, LM_XFER_CONNECT_TIMEOUT);
	ret = kernel_connect(x->sock, (struct sockaddr *)&x->addr, len, 0);
	/* A blocking connect out of time is still "in progress". */
	if (ret == -EINPROGRESS) {
		lm_xfer_fail(x, -ETIMEDOUT, LM_WIRE_REASON_CONNECTION,
			     "No answer from the destination within %d s",
			     LM_XFER_CONNECT_TIMEOUT / HZ);
		return -ETIMEDOUT;
	}
	if (ret) {
		lm_xfer_fail(x, ret, LM_WIRE_REASON_CONNECTION,
			     "Cannot connect to the destination");
		return ret;
	}
out_set_timeouts:
	lm_wire_set_timeouts(x);
	tcp_sock_set_nodelay(sk);
	return 0;
}

static int source_config(struct lm_xfer *x)
{
	struct lm_wire_ack ack;
	u32 seq = x->tx_seq;
	size_t len;
	int ret;

	lm_xfer_config_encode(&x->layout, x->mode, x->buf);
	ret = lm_wire_send(x, LM_WIRE_CONFIG, x->buf,
			   lm_xfer_config_size(&x->layout), false);
	if (ret)
		return ret;
	ret = lm_wire_expect(x, LM_WIRE_ACK, &ack, sizeof(ack), &len);
	if (ret)
		return ret;
	if (len != sizeof(ack) || le32_to_cpu(ack.type) != LM_WIRE_CONFIG ||
	    le32_to_cpu(ack.seq) != seq || ack.reserved) {
		lm_xfer_fail(x, -EPROTO, LM_WIRE_REASON_PROTOCOL,
			     "The destination acknowledged something else than CONFIG");
		return -EPROTO;
	}
	return 0;
}

/*
 * The destination has nothing to say until COMMIT: anything readable now
 * (an ABORT, the end of the connection) means it gave up.
 */
static bool source_peer_spoke(struct lm_xfer *x)
{
	struct sock *sk = x->sock->sk;

	/* kTLS may hold a whole record off the TCP queue: ask it. */
	return READ_ONCE(sk->sk_err) ||
	       (READ_ONCE(sk->sk_shutdown) & RCV_SHUTDOWN) ||
	       !skb_queue_empty_lockless(&sk->sk_receive_queue) ||
	       sk_is_readable(sk);
}

/*
 * Wait until lmctl paused the VM and handed over its state, watching the
 * connection meanwhile: a destination that goes away is reported at once,
 * not when the source VM has already been paused for nothing.
 */
static int source_wait_switchover(struct lm_xfer *x)
{
	unsigned long deadline = jiffies + LM_XFER_TIMEOUT;

	lm_xfer_set_phase(x, LM_PHASE_WAIT_SWITCHOVER);
	while (!READ_ONCE(x->switchover) && time_before(jiffies, deadline)) {
		wait_event_interruptible_timeout(x->wait,
						 READ_ONCE(x->switchover) ||
						 lm_xfer_cancelled(x) ||
						 kthread_should_stop(),
						 HZ / 10);
		if (lm_xfer_cancelled(x) || kthread_should_stop())
			return -ECANCELED;
		if (source_peer_spoke(x)) {
			struct lm_wire_ack ack;

			/* An ABORT is reported with its reason; else EOF. */
			return lm_wire_expect(x, LM_WIRE_ABORT, &ack,
					      sizeof(ack), NULL) ?: -EPROTO;
		}
	}
	if (!READ_ONCE(x->switchover)) {
		lm_xfer_fail(x, -ETIMEDOUT, LM_WIRE_REASON_TIMEOUT,
			     "No SWITCHOVER within %d s", LM_XFER_TIMEOUT / HZ);
		return -ETIMEDOUT;
	}
	x->switchover_ns = ktime_get_ns();
	/*
	 * The VM is paused for us until the transfer ends: past COMMIT only
	 * its outcome tells lmctl whether the VM may run here again, and an
	 * unloaded lm could not tell it. Unloading is refused until then
	 * (at most the peer's timeout once it stops answering). Before the
	 * switchover, unloading cancels, and the VM never stopped running.
	 */
	__module_get(THIS_MODULE);
	x->module_held = true;
	return 0;
}

/*
 * One round: all of memory (@whole), or the pages of the dirty bitmaps.
 * The final round (the guest paused) checksums the page data. *@bytes and
 * *@ns, if given, return what the round sent and how long it took.
 */
static int source_send_round(struct lm_xfer *x, u32 round, bool whole,
			     bool final, u64 *round_bytes, u64 *round_ns)
{
	struct lm_wire_round_end end = {};
	u64 start = ktime_get_ns(), pages, zero, bytes;
	bool data_crc = final && !x->no_data_crc;
	u32 i;
	int ret;

	spin_lock(&x->lock);
	pages = x->stats.pages;
	zero = x->stats.zero_pages;
	bytes = x->stats.bytes;
	x->stats.round = round;
	spin_unlock(&x->lock);

	for (i = 0; i < x->layout.nr_units; i++) {
		ret = whole ? lm_xfer_send_unit(x, i, data_crc) :
			      lm_xfer_send_dirty(x, i, data_crc);
		if (ret)
			return ret;
	}

	spin_lock(&x->lock);
	end.round = cpu_to_le32(round);
	end.flags = cpu_to_le32(final ? LM_WIRE_ROUND_FINAL : 0);
	end.pages = cpu_to_le64(x->stats.pages - pages);
	end.zero_pages = cpu_to_le64(x->stats.zero_pages - zero);
	end.bytes = cpu_to_le64(x->stats.bytes - bytes);
	if (round_bytes)
		*round_bytes = x->stats.bytes - bytes;
	spin_unlock(&x->lock);
	end.duration_ns = cpu_to_le64(ktime_get_ns() - start);
	if (round_ns)
		*round_ns = ktime_get_ns() - start;
	ret = lm_wire_send(x, LM_WIRE_ROUND_END, &end, sizeof(end), false);
	if (!ret)
		lm_xfer_notify(x);
	return ret;
}

/*
 * What a page of data costs on the wire now, in bytes: PAGE_SIZE, or less
 * by the compression ratio the last round achieved, whose page data was
 * @data bytes before and @wire after compression (deltas of the stats).
 */
static u64 source_page_cost(u64 data, u64 wire)
{
	if (!data || wire >= data)
		return PAGE_SIZE;
	return max_t(u64, 1, div64_u64(wire * PAGE_SIZE, data));
}

static void source_data_bytes(struct lm_xfer *x, u64 *data, u64 *wire)
{
	spin_lock(&x->lock);
	*data = x->stats.data_bytes;
	*wire = x->stats.wire_data_bytes;
	spin_unlock(&x->lock);
}

static void source_set_dirty(struct lm_xfer *x, u32 round, u64 dirty)
{
	spin_lock(&x->lock);
	x->stats.round = round;
	x->stats.dirty_pages = dirty;
	spin_unlock(&x->lock);
}

/*
 * Live pre-copy: all of memory while the guest runs, then rounds of the
 * pages it dirtied meanwhile, until sending what is left would take less
 * than the downtime budget at the bandwidth the last round achieved, or
 * the round limit is reached. What the last harvest found stays in the
 * bitmaps for the final round.
 */
static int source_precopy(struct lm_xfer *x)
{
	u64 bytes, ns, dirty, estimate_ns, data0, wire0, data, wire;
	u32 round = 0;
	int ret;

	ret = lm_xfer_dirty_start(x);
	if (ret)
		return ret;
	lm_xfer_set_phase(x, LM_PHASE_PRECOPY);
	/* Only the guest running is paced: the paused one waits for us. */
	x->pacing = true;
	x->pace_start_ns = ktime_get_ns();
	x->pace_bytes = 0;
	source_data_bytes(x, &data0, &wire0);
	ret = source_send_round(x, round, true, false, &bytes, &ns);
	for (;;) {
		if (ret)
			return ret;
		ret = lm_xfer_dirty_collect(x, &dirty);
		if (ret)
			return ret;
		source_set_dirty(x, round + 1, dirty);
		/* Compressed, the rest should shrink as the last round did. */
		source_data_bytes(x, &data, &wire);
		estimate_ns = lm_xfer_downtime_ns(dirty,
						  source_page_cost(data - data0,
								   wire - wire0),
						  bytes, ns);
		data0 = data;
		wire0 = wire;
		if (estimate_ns <= x->max_downtime_ns ||
		    round >= x->max_rounds) {
			x->pacing = false;
			return 0;
		}
		if (lm_xfer_cancelled(x))
			return -ECANCELED;
		round++;
		ret = source_send_round(x, round, false, false, &bytes, &ns);
	}
}

static int source_send_state(struct lm_xfer *x)
{
	struct lm_wire_state *chunk = x->buf;
	struct file *file = x->state_file;
	loff_t size = i_size_read(file_inode(file)), pos = 0;
	int ret;

	if (size <= 0 || size > LM_WIRE_MAX_STATE) {
		lm_xfer_fail(x, -EFBIG, LM_WIRE_REASON_STATE,
			     "State of %lld bytes (1 to %u supported)", size,
			     LM_WIRE_MAX_STATE);
		return -EFBIG;
	}
	lm_xfer_set_phase(x, LM_PHASE_STATE);
	while (pos < size) {
		size_t n = min_t(loff_t, size - pos, LM_WIRE_MAX_STATE_CHUNK);
		loff_t at = pos;
		ssize_t got;

		chunk->total = cpu_to_le64(size);
		chunk->offset = cpu_to_le64(pos);
		got = kernel_read(file, x->buf + sizeof(*chunk), n, &at);
		if (got != n) {
			lm_xfer_fail(x, got < 0 ? got : -EIO,
				     LM_WIRE_REASON_STATE,
				     "Cannot read the state file");
			return got < 0 ? got : -EIO;
		}
		ret = lm_wire_send(x, LM_WIRE_STATE, chunk,
				   sizeof(*chunk) + n, true);
		if (ret)
			return ret;
		pos += n;
	}
	spin_lock(&x->lock);
	x->stats.state_size = size;
	spin_unlock(&x->lock);
	return 0;
}

static int source_commit(struct lm_xfer *x)
{
	struct lm_wire_commit commit = {};
	struct lm_wire_ack ack;
	u32 seq = x->tx_seq;
	size_t len;
	int ret;

	spin_lock(&x->lock);
	commit.pages = cpu_to_le64(x->stats.pages);
	commit.state_size = cpu_to_le64(x->stats.state_size);
	commit.rounds = cpu_to_le32(x->stats.round + 1);
	spin_unlock(&x->lock);
	ret = lm_wire_send(x, LM_WIRE_COMMIT, &commit, sizeof(commit), false);
	if (ret)
		return ret;
	lm_xfer_set_phase(x, LM_PHASE_COMMIT);
	ret = lm_wire_expect(x, LM_WIRE_ACK, &ack, sizeof(ack), &len);
	if (ret)
		return ret;
	if (len != sizeof(ack) || le32_to_cpu(ack.type) != LM_WIRE_COMMIT ||
	    le32_to_cpu(ack.seq) != seq || ack.reserved) {
		lm_xfer_fail(x, -EPROTO, LM_WIRE_REASON_PROTOCOL,
			     "The destination acknowledged something else than COMMIT");
		return -EPROTO;
	}
	spin_lock(&x->lock);
	x->stats.stopcopy_ns = ktime_get_ns() - x->switchover_ns;
	spin_unlock(&x->lock);
	return 0;
}

static int source_run(struct lm_xfer *x)
{
	int ret;

	ret = source_connect(x);
	if (ret)
		return ret;
	lm_xfer_set_phase(x, LM_PHASE_HANDSHAKE);
	ret = lm_wire_handshake_source(x);
	if (ret)
		return ret;
	lm_xfer_set_phase(x, LM_PHASE_CONFIG);
	ret = source_config(x);
	if (ret)
		return ret;

	if (x->mode == LM_WIRE_MODE_LIVE) {
		ret = source_precopy(x);
		if (ret)
			return ret;
	}
	ret = source_wait_switchover(x);
	if (ret)
		return ret;
	/* Until the end: the last dirty pages and the state stay the last. */
	ret = lm_xfer_vcpus_lock(x, "pause it before the switchover");
	if (ret)
		return ret;
	lm_xfer_set_phase(x, LM_PHASE_STOPCOPY);
	if (x->mode == LM_WIRE_MODE_LIVE) {
		u64 dirty;

		/* The guest is paused: this harvest is the last one. */
		ret = lm_xfer_dirty_collect(x, &dirty);
		if (!ret) {
			u32 round = x->stats.round;

			source_set_dirty(x, round, dirty);
			ret = source_send_round(x, round, false, true, NULL,
						NULL);
		}
	} else {
		ret = source_send_round(x, 0, true, true, NULL, NULL);
	}
	if (ret)
		return ret;
	ret = source_send_state(x);
	if (ret)
		return ret;
	return source_commit(x);
}

int lm_xfer_source_thread(void *data)
{
	struct lm_xfer *x = data;
	bool held;
	int ret;

	ret = lm_xfer_thread_setup(x);
	if (!ret)
		ret = lm_xfer_tx_init(x);
	/* Once for the whole transfer: no allocation per batch. */
	if (!ret && x->compress == LM_COMPRESS_ZSTD)
		ret = lm_xfer_zstd_init(x, x->compress_level);
	if (!ret)
		ret = source_run(x);
	/* A destination that gave up mid-stream may have said why. */
	if (ret == -EPIPE || ret == -ECONNRESET)
		ret = lm_wire_salvage_abort(x) ?: ret;
	if (ret)
		lm_xfer_finish_error(x, ret);
	lm_xfer_dirty_stop(x);
	held = x->module_held;
	lm_xfer_thread_cleanup(x);
	/*
	 * Only a return is left of our text: whoever unloads lm stops this
	 * thread first (kthread_stop() on VM teardown) and waits for it.
	 */
	if (held)
		module_put(THIS_MODULE);
	return ret;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Frames of the wire protocol (uapi/linux/lm_wire.h): sending, receiving
 * and checking them, and the HELLO exchange.
 *
 * Every received header is checked (its CRC, its sequence number, its
 * length against the limits) before any byte of its payload is trusted;
 * a bad frame ends the transfer with an ABORT naming what was wrong.
 */

#include "internal.h"

#include <linux/crc32c.h>
#include <linux/moduleparam.h>
#include <linux/net.h>
#include <linux/uio.h>
#include <net/sock.h>

/*
 * How long a peer may stay silent, in seconds: a blocked send or receive
 * gives up after that (LM_WIRE_REASON_TIMEOUT). 60 by default; a slow or
 * lossy link may need more, a test of a stalled peer less. It must stay
 * above the time a switchover takes (the source is silent meanwhile).
 */
static unsigned int peer_timeout = 60;

static int peer_timeout_set(const char *val, const struct kernel_param *kp)
{
	return param_set_uint_minmax(val, kp, 1, 3600);
}

static const struct kernel_param_ops peer_timeout_ops = {
	.set = peer_timeout_set,
	.get = param_get_uint,
};

module_param_cb(peer_timeout, &peer_timeout_ops, &peer_timeout, 0644);
MODULE_PARM_DESC(peer_timeout,
		 "Seconds a migration peer may stay silent (1-3600, default 60)");

/* Applied to a connected socket; later transfers see a new value. */
void lm_wire_set_timeouts(struct lm_xfer *x)
{
	long timeo = (long)READ_ONCE(peer_timeout) * HZ;

	WRITE_ONCE(x->sock->sk->sk_sndtimeo, timeo);
	WRITE_ONCE(x->sock->sk->sk_rcvtimeo, timeo);
}

u32 lm_wire_crc(const void *buf, size_t len)
{
	return ~crc32c(~0U, buf, len);
}

static int wire_sendmsg(struct lm_xfer *x, struct kvec *vec, size_t nr,
			size_t len, bool more)
{
	struct msghdr msg = { .msg_flags = more ? MSG_MORE : 0 };
	int ret;

	ret = kernel_sendmsg(x->sock, &msg, vec, nr, len);
	if (ret < 0)
		return ret;
	/* A blocking send only stops short when interrupted. */
	return ret == len ? 0 : -EPIPE;
}

static void wire_fill_hdr(struct lm_xfer *x, struct lm_wire_hdr *hdr,
			  u16 type, size_t len, u32 payload_crc)
{
	hdr->type = cpu_to_le16(type);
	hdr->flags = 0;
	hdr->len = cpu_to_le32(len);
	hdr->seq = cpu_to_le32(x->tx_seq++);
	hdr->payload_crc = cpu_to_le32(payload_crc);
	hdr->hdr_crc = cpu_to_le32(lm_wire_crc(hdr, 16));
	hdr->reserved = 0;
}

/* Send a frame whose payload is @payload; @more if more follows at once. */
int lm_wire_send(struct lm_xfer *x, u16 type, const void *payload, size_t len,
		 bool more)
{
	struct lm_wire_hdr hdr;
	struct kvec vec[2] = {
		{ .iov_base = &hdr, .iov_len = sizeof(hdr) },
		{ .iov_base = (void *)payload, .iov_len = len },
	};
	int ret;

	wire_fill_hdr(x, &hdr, type, len, lm_wire_crc(payload, len));
	ret = wire_sendmsg(x, vec, len ? 2 : 1, sizeof(hdr) + len, more);
	if (!ret)
		lm_xfer_account(x, 0, 0, 0, sizeof(hdr) + len);
	return ret;
}

/*
 * Send the header and descriptor of a PAGES frame whose page data (@data
 * bytes) the caller sends next.
 */
int lm_wire_send_pages_desc(struct lm_xfer *x, const void *desc,
			    size_t desc_len, size_t data)
{
	struct lm_wire_hdr hdr;
	struct kvec vec[2] = {
		{ .iov_base = &hdr, .iov_len = sizeof(hdr) },
		{ .iov_base = (void *)desc, .iov_len = desc_len },
	};
	int ret;

	wire_fill_hdr(x, &hdr, LM_WIRE_PAGES, desc_len + data,
		      lm_wire_crc(desc, desc_len));
	ret = wire_sendmsg(x, vec, 2, sizeof(hdr) + desc_len, true);
	if (!ret)
		lm_xfer_account(x, 0, 0, 0, sizeof(hdr) + desc_len);
	return ret;
}

/* Best effort: the connection may be what failed. */
int lm_wire_send_abort(struct lm_xfer *x, u32 reason, u32 detail,
		       const char *message)
{
	struct lm_wire_abort abort = {
		.reason = cpu_to_le32(reason),
		.detail = cpu_to_le32(detail),
	};

	/*
	 * What went wrong (a layout, slot sizes, page numbers) is told only
	 * to a peer that proved it holds the key: on a plain socket, anybody
	 * may be listening or connecting. The reason code goes either way.
	 */
	if (!x->secure)
		message = "Refused (details only over an authenticated connection)";
	strncpy(abort.message, message, sizeof(abort.message) - 1);
	x->abort_sent = true;
	return lm_wire_send(x, LM_WIRE_ABORT, &abort, sizeof(abort), false);
}

int lm_wire_recv_exact(struct lm_xfer *x, void *buf, size_t len)
{
	struct kvec vec = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = {};
	int ret;

	ret = kernel_recvmsg(x->sock, &msg, &vec, 1, len, MSG_WAITALL);
	if (ret < 0)
		return ret;
	if (ret != len)
		return -ECONNRESET;	/* the peer closed the connection */
	lm_xfer_account(x, 0, 0, 0, len);
	return 0;
}

static const char *const wire_type_names[] = {
	[LM_WIRE_HELLO] = "HELLO",	[LM_WIRE_CONFIG] = "CONFIG",
	[LM_WIRE_ACK] = "ACK",		[LM_WIRE_PAGES] = "PAGES",
	[LM_WIRE_ROUND_END] = "ROUND_END", [LM_WIRE_STATE] = "STATE",
	[LM_WIRE_COMMIT] = "COMMIT",	[LM_WIRE_ABORT] = "ABORT",
};

const char *lm_wire_type_name(u16 type)
{
	if (type < ARRAY_SIZE(wire_type_names) && wire_type_names[type])
		return wire_type_names[type];
	return "unknown";
}

/* Receive and check a frame header. */
int lm_wire_recv_hdr(struct lm_xfer *x, struct lm_wire_hdr *hdr)
{
	u16 type;
	int ret;

	ret = lm_wire_recv_exact(x, hdr, sizeof(*hdr));
	if (ret)
		return ret;
	if (le32_to_cpu(hdr->hdr_crc) != lm_wire_crc(hdr, 16)) {
		lm_xfer_fail(x, -EBADMSG, LM_WIRE_REASON_CRC,
			     "Frame header %u: CRC mismatch", x->rx_seq);
		return -EBADMSG;
	}
	type = le16_to_cpu(hdr->type);
	if (le32_to_cpu(hdr->seq) != x->rx_seq) {
		lm_xfer_fail(x, -EPROTO, LM_WIRE_REASON_PROTOCOL,
			     "Frame %u arrived where %u was expected",
			     le32_to_cpu(hdr->seq), x->rx_seq);
		return -EPROTO;
	}
	x->rx_seq++;
	if (type < LM_WIRE_HELLO || type > LM_WIRE_ABORT ||
	    le32_to_cpu(hdr->len) > LM_WIRE_MAX_FRAME) {
		lm_xfer_fail(x, -EPROTO, LM_WIRE_REASON_PROTOCOL,
			     "Malformed frame header (type %u, length %u)",
			     type, le32_to_cpu(hdr->len));
		return -EPROTO;
	}
	if (hdr->flags || hdr->reserved) {
		lm_xfer_fail(x, -EPROTO, LM_WIRE_REASON_PROTOCOL,
			     "%s frame header: flags %#x, reserved %#x: not 0",
			     lm_wire_type_name(type), le16_to_cpu(hdr->flags),
			     le32_to_cpu(hdr->reserved));
		return -EPROTO;
	}
	return 0;
}

/* Receive a whole payload of at most @size bytes and check its CRC. */
int lm_wire_recv_payload(struct lm_xfer *x, const struct lm_wire_hdr *hdr,
			 void *buf, size_t size)
{
	size_t len = le32_to_cpu(hdr->len);
	int ret;

	if (len > size) {
		lm_xfer_fail(x, -EPROTO, LM_WIRE_REASON_PROTOCOL,
			     "%s frame of %zu bytes is too long",
			     lm_wire_type_name(le16_to_cpu(hdr->type)), len);
		return -EPROTO;
	}
	ret = lm_wire_recv_exact(x, buf, len);
	if (ret)
		return ret;
	if (lm_wire_crc(buf, len) != le32_to_cpu(hdr->payload_crc)) {
		lm_xfer_fail(x, -EBADMSG, LM_WIRE_REASON_CRC,
			     "%s frame: payload CRC mismatch",
			     lm_wire_type_name(le16_to_cpu(hdr->type)));
		return -EBADMSG;
	}
	return 0;
}

/* The peer gave up: keep its reason and message as ours. */
static int wire_peer_aborted(struct lm_xfer *x, const void *buf, size_t len)
{
	const struct lm_wire_abort *abort = buf;
	char message[sizeof(abort->message) + 1];
	u32 reason;

	if (len != sizeof(*abort)) {
		lm_xfer_fail(x, -EPROTO, LM_WIRE_REASON_PROTOCOL,
			     "Malformed ABORT from the peer");
		return -EPROTO;
	}
	reason = le32_to_cpu(abort->reason);
	/* All 64 bytes may be text: the NUL is ours. */
	memcpy(message, abort->message, sizeof(abort->message));
	message[sizeof(abort->message)] = '\0';
	/* CONNECTION is a local report, never a peer's: not known either. */
	if (!reason || reason >= LM_WIRE_REASON_CONNECTION) {
		lm_xfer_fail(x, -ECONNABORTED, LM_WIRE_REASON_PROTOCOL,
			     "Peer aborted with unknown reason %u: %s", reason,
			     message);
		return -ECONNABORTED;
	}
	lm_xfer_fail(x, -ECONNABORTED, reason, "Peer aborted: %s", message);
	return -ECONNABORTED;
}

/*
 * Receive the next frame, which must be of @type (or an ABORT, whose
 * message becomes the transfer's error), into @buf of @size bytes.
 */
int lm_wire_expect(struct lm_xfer *x, u16 type, void *buf, size_t size,
		   size_t *len)
{
	struct lm_wire_hdr hdr;
	u16 got;
	int ret;

	ret = lm_wire_recv_hdr(x, &hdr);
	if (ret)
		return ret;
	got = le16_to_cpu(hdr.type);
	if (got == LM_WIRE_ABORT)
		return lm_wire_expect_abort(x, &hdr);
	if (got != type) {
		lm_xfer_fail(x, -EPROTO, LM_WIRE_REASON_PROTOCOL,
			     "Expected a %s frame, got %s",
			     lm_wire_type_name(type), lm_wire_type_name(got));
		return -EPROTO;
	}
	ret = lm_wire_recv_payload(x, &hdr, buf, size);
	if (!ret && len)
		*len = le32_to_cpu(hdr.len);
	return ret;
}

int lm_wire_expect_abort(struct lm_xfer *x, const struct lm_wire_hdr *hdr)
{
	int ret = lm_wire_recv_payload(x, hdr, x->buf, LM_XFER_BUF_SIZE);

	return ret ?: wire_peer_aborted(x, x->buf, le32_to_cpu(hdr->len));
}

/*
 * Keying by backing is a choice of the transfer: offered only when made.
 * A destination can always decompress; a source offers zstd only when it
 * compresses, so that a destination allocates nothing for it otherwise.
 */
static u64 wire_features(const struct lm_xfer *x)
{
	u64 features = LM_WIRE_F_ZERO_PAGES | LM_WIRE_F_DATA_CRC |
		       LM_WIRE_F_ROUNDS;

	if (x->by_backing)
		features |= LM_WIRE_F_BY_BACKING;
	if (x->role == LM_WIRE_ROLE_DESTINATION ||
	    x->compress == LM_COMPRESS_ZSTD)
		features |= LM_WIRE_F_ZSTD;
	return features;
}

static void wire_hello(struct lm_wire_hello *hello, u32 role, u64 features,
		       u32 reason)
{
	memset(hello, 0, sizeof(*hello));
	hello->magic = cpu_to_le32(LM_WIRE_MAGIC);
	hello->version = cpu_to_le32(LM_WIRE_VERSION);
	hello->features = cpu_to_le64(features);
	hello->role = cpu_to_le32(role);
	hello->reason = cpu_to_le32(reason);
}

/*
 * A send failed because the peer closed or reset the connection: it may
 * have said why just before. An ABORT already waiting in our receive
 * queue (data received before a reset stays readable) becomes the cause
 * of the failure, rather than "connection lost"; nothing waits for one.
 * Returns -ECONNABORTED if it found one, else 0.
 */
int lm_wire_salvage_abort(struct lm_xfer *x)
{
	struct {
		struct lm_wire_hdr hdr;
		struct lm_wire_abort abort;
	} __packed f;
	struct kvec vec = { .iov_base = &f, .iov_len = sizeof(f) };
	struct msghdr msg = {};
	int ret;

	if (!x->sock)
		return 0;
	ret = kernel_recvmsg(x->sock, &msg, &vec, 1, sizeof(f),
			     MSG_DONTWAIT | MSG_WAITALL);
	if (ret != sizeof(f) ||
	    le32_to_cpu(f.hdr.hdr_crc) != lm_wire_crc(&f.hdr, 16) ||
	    le16_to_cpu(f.hdr.type) != LM_WIRE_ABORT ||
	    le32_to_cpu(f.hdr.seq) != x->rx_seq ||
	    le32_to_cpu(f.hdr.len) != sizeof(f.abort) ||
	    le32_to_cpu(f.hdr.payload_crc) != lm_wire_crc(&f.abort,
							  sizeof(f.abort)))
		return 0;
	x->rx_seq++;
	return wire_peer_aborted(x, &f.abort, sizeof(f.abort));
}

/* Whether bytes from the peer wait to be read; does not wait or consume. */
bool lm_wire_rx_pending(struct lm_xfer *x)
{
	char byte;
	struct kvec vec = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {};

	return kernel_recvmsg(x->sock, &msg, &vec, 1, 1,
			      MSG_DONTWAIT | MSG_PEEK) > 0;
}

/* A reason a peer may send: 1 to 17. */
static bool wire_reason_known(u32 reason)
{
	return reason && reason < LM_WIRE_REASON_CONNECTION;
}

int lm_wire_handshake_source(struct lm_xfer *x)
{
	struct lm_wire_hello hello;
	const char *why = NULL;
	u64 features;
	size_t len;
	u32 reason;
	int ret;

	wire_hello(&hello, LM_WIRE_ROLE_SOURCE, wire_features(x), 0);
	ret = lm_wire_send(x, LM_WIRE_HELLO, &hello, sizeof(hello), false);
	if (ret)
		return ret;
	ret = lm_wire_expect(x, LM_WIRE_HELLO, &hello, sizeof(hello), &len);
	if (ret)
		return ret;
	reason = le32_to_cpu(hello.reason);
	features = le64_to_cpu(hello.features);
	if (len != sizeof(hello) || le32_to_cpu(hello.magic) != LM_WIRE_MAGIC) {
		reason = LM_WIRE_REASON_MAGIC;
		why = "The destination does not speak lm's protocol";
	} else if (reason) {
		if (!wire_reason_known(reason))
			reason = LM_WIRE_REASON_PROTOCOL;
	} else if (hello.reserved) {
		reason = LM_WIRE_REASON_PROTOCOL;
		why = "The destination's HELLO has reserved bits set";
	} else if (le32_to_cpu(hello.role) != LM_WIRE_ROLE_DESTINATION) {
		reason = LM_WIRE_REASON_ROLE;
		why = "The peer is not a destination";
	} else if (le32_to_cpu(hello.version) != LM_WIRE_VERSION) {
		reason = LM_WIRE_REASON_VERSION;
		why = "The destination chose a protocol version we do not speak";
	} else if (features & ~wire_features(x)) {
		reason = LM_WIRE_REASON_PROTOCOL;
		why = "The destination chose features it was not offered";
	} else if ((features & LM_WIRE_F_REQUIRED) != LM_WIRE_F_REQUIRED) {
		reason = LM_WIRE_REASON_FEATURES;
		why = "The destination lacks a required feature";
	} else if (x->by_backing && !(features & LM_WIRE_F_BY_BACKING)) {
		/* A destination that does not know the bit just leaves it out. */
		reason = LM_WIRE_REASON_FEATURES;
		why = "The destination does not key pages by RAM backing";
	} else if (x->mode == LM_WIRE_MODE_LIVE &&
		   !(features & LM_WIRE_F_ROUNDS)) {
		reason = LM_WIRE_REASON_FEATURES;
		why = "The destination cannot take several rounds (live mode)";
	} else if (x->compress == LM_COMPRESS_ZSTD &&
		   !(features & LM_WIRE_F_ZSTD)) {
		/* The operator chose compression for a link too slow without. */
		reason = LM_WIRE_REASON_FEATURES;
		why = "The destination cannot decompress zstd (--compress)";
	}
	if (reason && !why) {
		lm_xfer_fail(x, -ECONNREFUSED, reason,
			     "The destination refused the handshake (reason %u)",
			     reason);
		return -ECONNREFUSED;
	}
	if (reason) {
		lm_xfer_fail(x, -ECONNREFUSED, reason, "%s", why);
		return -ECONNREFUSED;
	}
	x->features = features;
	return 0;
}

/*
 * The checks, in the order protocol.rst gives: the first that fails is the
 * reason of the refusing HELLO.
 */
static u32 wire_check_source_hello(struct lm_xfer *x,
				   const struct lm_wire_hello *hello,
				   size_t len, const char **why)
{
	u64 features = le64_to_cpu(hello->features);

	if (len != sizeof(*hello) ||
	    le32_to_cpu(hello->magic) != LM_WIRE_MAGIC) {
		*why = "Refused a peer that does not speak lm's protocol";
		return LM_WIRE_REASON_MAGIC;
	}
	if (hello->reason || hello->reserved) {
		*why = "Refused a source HELLO with reason or reserved set";
		return LM_WIRE_REASON_PROTOCOL;
	}
	if (le32_to_cpu(hello->version) < LM_WIRE_VERSION) {
		*why = "Refused a source of an older protocol version";
		return LM_WIRE_REASON_VERSION;
	}
	if (le32_to_cpu(hello->role) != LM_WIRE_ROLE_SOURCE) {
		*why = "Refused a peer that is not a source";
		return LM_WIRE_REASON_ROLE;
	}
	if ((features & LM_WIRE_F_REQUIRED) != LM_WIRE_F_REQUIRED) {
		*why = "Refused a source lacking a required feature";
		return LM_WIRE_REASON_FEATURES;
	}
	/* The two layouts are of different kinds: nothing would match. */
	if (!(features & LM_WIRE_F_BY_BACKING) != !x->by_backing) {
		*why = x->by_backing ?
		       "Refused a source that does not key pages by RAM backing" :
		       "Refused a source that keys pages by RAM backing";
		return LM_WIRE_REASON_FEATURES;
	}
	return 0;
}

int lm_wire_handshake_destination(struct lm_xfer *x)
{
	struct lm_wire_hello hello;
	const char *why = NULL;
	u32 reason;
	size_t len;
	u64 features;
	int ret;

	/* A first frame that is not a HELLO is answered with an ABORT. */
	ret = lm_wire_expect(x, LM_WIRE_HELLO, &hello, sizeof(hello), &len);
	if (ret)
		return ret;
	reason = wire_check_source_hello(x, &hello, len, &why);
	/* Unknown bits of a newer source are left out of the answer. */
	features = le64_to_cpu(hello.features) & wire_features(x);

	wire_hello(&hello, LM_WIRE_ROLE_DESTINATION, features, reason);
	ret = lm_wire_send(x, LM_WIRE_HELLO, &hello, sizeof(hello), false);
	if (reason) {
		/* The refusing HELLO says it all: no ABORT follows. */
		x->abort_sent = true;
		lm_xfer_fail(x, -ECONNREFUSED, reason, "%s", why);
		return -ECONNREFUSED;
	}
	x->features = features;
	return ret;
}

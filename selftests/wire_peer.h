/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A peer of lm's migration protocol played by a test, written from
 * Documentation/protocol.rst and uapi/linux/lm_wire.h alone, so that the
 * tests check the module against the document rather than against its own
 * code: CRC-32C, frames sent and received over a blocking TCP socket,
 * the HELLO and CONFIG a source would send, and waiting on the phase of a
 * transfer over netlink.
 *
 * Shared by migrate_engine_test (peers that misbehave in one precise way)
 * and wire_fuzz_test (peers that misbehave at random). Include after
 * kselftest_harness.h.
 */
#ifndef WIRE_PEER_H
#define WIRE_PEER_H

#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/lm.h>
#include <linux/lm_wire.h>

#include "lm_nl.h"

#define PAGE		4096ULL

/* A memory slot of a test VM: guest physical base and size in bytes. */
struct slot_def {
	uint64_t gpa;
	uint64_t size;
};

/* CRC-32C, bit by bit: the reference the document gives. */
static inline uint32_t crc32c(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t crc = 0xffffffff;
	int k;

	while (len--) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78 : crc >> 1;
	}
	return ~crc;
}

/* A peer played by the test: a blocking TCP socket and its counters. */
struct peer {
	int fd;
	uint32_t tx_seq;
	uint32_t rx_seq;
};

/*
 * Send one frame: a correct header (next seq, header CRC) with
 * @payload_crc as given, so that a caller can send a wrong one or, for
 * PAGES, the CRC of the descriptor only. 0 or -errno.
 */
static inline int peer_send(struct peer *p, uint16_t type, const void *payload,
			    size_t len, uint32_t payload_crc)
{
	struct lm_wire_hdr hdr = {
		.type = htole16(type),
		.len = htole32(len),
		.seq = htole32(p->tx_seq++),
		.payload_crc = htole32(payload_crc),
	};

	hdr.hdr_crc = htole32(crc32c(&hdr, 16));
	if (send(p->fd, &hdr, sizeof(hdr), MSG_MORE) != sizeof(hdr))
		return -errno;
	if (len && send(p->fd, payload, len, 0) != (ssize_t)len)
		return -errno;
	return 0;
}

/* Send one frame whose payload CRC covers the whole payload. */
static inline int peer_send_frame(struct peer *p, uint16_t type,
				  const void *payload, size_t len)
{
	return peer_send(p, type, payload, len, crc32c(payload, len));
}

/* Receive exactly @len bytes; -ECONNRESET if the peer closed first. */
static inline int recv_all(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(fd, (char *)buf + got, len - got, 0);

		if (n <= 0)
			return n ? -errno : -ECONNRESET;
		got += n;
	}
	return 0;
}

/*
 * Receive a whole frame into @buf (@size bytes); checks both CRCs and the
 * sequence number, as a receiver must. 0, -EBADMSG or -errno.
 */
static inline int peer_recv(struct peer *p, struct lm_wire_hdr *hdr, void *buf,
			    size_t size)
{
	int ret = recv_all(p->fd, hdr, sizeof(*hdr));

	if (ret)
		return ret;
	if (le32toh(hdr->hdr_crc) != crc32c(hdr, 16) ||
	    le32toh(hdr->seq) != p->rx_seq++ || le32toh(hdr->len) > size)
		return -EBADMSG;
	ret = recv_all(p->fd, buf, le32toh(hdr->len));
	if (ret)
		return ret;
	if (le16toh(hdr->type) != LM_WIRE_PAGES &&
	    crc32c(buf, le32toh(hdr->len)) != le32toh(hdr->payload_crc))
		return -EBADMSG;
	return 0;
}

/* Connect to a destination listening on loopback @port. */
static inline int peer_connect(struct peer *p, uint16_t port)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};

	memset(p, 0, sizeof(*p));
	p->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (p->fd < 0)
		return -errno;
	return connect(p->fd, (struct sockaddr *)&sin, sizeof(sin)) ? -errno : 0;
}

/* The HELLO of a version 1 peer of @role with the required features. */
static inline void hello_fill(struct lm_wire_hello *h, uint32_t role)
{
	memset(h, 0, sizeof(*h));
	h->magic = htole32(LM_WIRE_MAGIC);
	h->version = htole32(1);
	h->features = htole64(LM_WIRE_F_ZERO_PAGES | LM_WIRE_F_DATA_CRC);
	h->role = htole32(role);
}

/*
 * The CONFIG a quick-mode source of one vCPU and these @nr slots (address
 * space 0, writable) would send, into @buf; returns its length.
 */
static inline size_t config_fill(const struct slot_def *slots, unsigned int nr,
				 void *buf)
{
	struct lm_wire_config *c = buf;
	struct lm_wire_slot *s = (void *)(c + 1);
	uint64_t pages = 0;
	unsigned int i;

	memset(buf, 0, sizeof(*c) + nr * sizeof(*s));
	for (i = 0; i < nr; i++) {
		s[i].gpa = htole64(slots[i].gpa);
		s[i].size = htole64(slots[i].size);
		pages += slots[i].size / PAGE;
	}
	c->page_size = htole32(PAGE);
	c->nr_vcpus = htole32(1);
	c->nr_slots = htole32(nr);
	c->mode = htole32(LM_WIRE_MODE_QUICK);
	c->total_pages = htole64(pages);
	return sizeof(*c) + nr * sizeof(*s);
}

/*
 * Poll STATUS of VM @id every millisecond until @phase or a final phase,
 * for at most @ms milliseconds; the last status in *st. 0, -ETIMEDOUT or
 * STATUS's -errno.
 */
static inline int wait_phase_ms(struct lm_nl *nl, uint32_t id, uint32_t phase,
				struct lm_xfer_status *st, int ms)
{
	int i, ret;

	for (i = 0; i < ms; i++) {
		ret = lm_nl_xfer_status(nl, id, st);
		if (ret)
			return ret;
		if (st->phase == phase || st->phase == LM_PHASE_DONE ||
		    st->phase == LM_PHASE_FAILED)
			return 0;
		usleep(1000);
	}
	return -ETIMEDOUT;
}

/* The same, for at most 30 s. */
static inline int wait_phase(struct lm_nl *nl, uint32_t id, uint32_t phase,
			     struct lm_xfer_status *st)
{
	return wait_phase_ms(nl, id, phase, st, 30000);
}

#endif /* WIRE_PEER_H */

// SPDX-License-Identifier: GPL-2.0
/*
 * wire_relay: a TCP relay between an lm source and its destination that
 * plays one fault of the network, for selftests/migrate_faults_test.sh.
 * It understands just enough of the wire protocol (uapi/linux/lm_wire.h)
 * to find a frame in the source's stream:
 *
 *   wire_relay LISTEN_IP:PORT TARGET_IP:PORT [stall TYPE | cut TYPE |
 *                                             corrupt WHAT | blackhole]
 *
 *   stall TYPE     forward everything up to the first frame of TYPE (HELLO,
 *                  CONFIG, PAGES, ROUND_END, STATE, COMMIT) from the source,
 *                  then nothing more in either direction, reading nothing:
 *                  both connections stay up, their windows fill. A peer
 *                  that stopped answering, as a dead host behind a live
 *                  link or a hung middlebox looks.
 *   cut TYPE       the same, but at that frame (not passed on) reset both
 *                  connections, as a link that goes down or a firewall
 *                  that drops the connection does.
 *   blackhole      accept nothing: the listening socket's queue is kept
 *                  full, so that the source's SYNs are dropped unanswered
 *                  (a host that is down, a firewall that drops).
 *   corrupt WHAT   flip one bit of the source's stream, CRCs left as they
 *                  were: "data", the last byte of the page data of the first
 *                  PAGES frame with DATA_CRC and data (the guest paused);
 *                  "desc", a byte of the first PAGES descriptor; "state",
 *                  the last byte of the first STATE frame.
 *
 * One connection, then it exits once either side has closed and what it
 * sent is passed on. It says "listening" on standard error when the
 * source may connect, and what it did, as "relay: stalled at ..." or
 * "relay: corrupted ...". Bounded: it gives up after 300 s.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/lm_wire.h>

#define LIMIT_S		300

static const char *const types[] = {
	[LM_WIRE_HELLO] = "HELLO",		[LM_WIRE_CONFIG] = "CONFIG",
	[LM_WIRE_ACK] = "ACK",			[LM_WIRE_PAGES] = "PAGES",
	[LM_WIRE_ROUND_END] = "ROUND_END",	[LM_WIRE_STATE] = "STATE",
	[LM_WIRE_COMMIT] = "COMMIT",		[LM_WIRE_ABORT] = "ABORT",
};

static void die(const char *what)
{
	fprintf(stderr, "relay: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void parse_addr(const char *s, struct sockaddr_in *sin)
{
	char host[64];
	const char *colon = strrchr(s, ':');

	if (!colon || colon - s >= (long)sizeof(host)) {
		fprintf(stderr, "relay: bad address %s\n", s);
		exit(2);
	}
	memcpy(host, s, colon - s);
	host[colon - s] = '\0';
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
		fprintf(stderr, "relay: bad address %s\n", s);
		exit(2);
	}
}

static bool read_all(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);

		if (n <= 0)
			return false;
		got += n;
	}
	return true;
}

static bool write_all(int fd, const void *buf, size_t len)
{
	size_t put = 0;

	while (put < len) {
		ssize_t n = send(fd, (const char *)buf + put, len - put,
				 MSG_NOSIGNAL);

		if (n <= 0)
			return false;
		put += n;
	}
	return true;
}

/* Copy what @from has (one read) to @to; false once @from is done. */
static bool pass(int from, int to)
{
	static char buf[65536];
	ssize_t n = read(from, buf, sizeof(buf));

	return n > 0 && write_all(to, buf, n);
}

int main(int argc, char **argv)
{
	struct sockaddr_in lsin, tsin;
	int lfd, src, dst, stall = 0, cut = 0, one = 1;
	const char *corrupt = NULL;
	bool done_fault = false;
	uint8_t *frame;
	unsigned int nr = 0;

	if (argc == 4 && !strcmp(argv[3], "blackhole")) {
		struct sockaddr_in sin;
		int fill;

		parse_addr(argv[1], &sin);
		alarm(LIMIT_S);
		lfd = socket(AF_INET, SOCK_STREAM, 0);
		fill = socket(AF_INET, SOCK_STREAM, 0);
		/* A backlog of 0 holds one connection: ours, never accepted. */
		if (lfd < 0 || fill < 0 ||
		    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
		    bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) ||
		    listen(lfd, 0) ||
		    connect(fill, (struct sockaddr *)&sin, sizeof(sin)))
			die("blackhole");
		fprintf(stderr, "relay: listening on %s, a blackhole\n", argv[1]);
		for (;;)
			pause();
	}
	if (argc != 3 && argc != 5) {
		fprintf(stderr, "usage: %s LISTEN_IP:PORT TARGET_IP:PORT [stall TYPE | cut TYPE | corrupt data|desc|state | blackhole]\n",
			argv[0]);
		return 2;
	}
	parse_addr(argv[1], &lsin);
	parse_addr(argv[2], &tsin);
	if (argc == 5 && (!strcmp(argv[3], "stall") || !strcmp(argv[3], "cut"))) {
		int t;

		for (t = LM_WIRE_HELLO; t <= LM_WIRE_ABORT; t++)
			if (!strcmp(argv[4], types[t]))
				break;
		if (t > LM_WIRE_ABORT) {
			fprintf(stderr, "relay: unknown frame type %s\n", argv[4]);
			return 2;
		}
		if (argv[3][0] == 's')
			stall = t;
		else
			cut = t;
	} else if (argc == 5 && !strcmp(argv[3], "corrupt") &&
		   (!strcmp(argv[4], "data") || !strcmp(argv[4], "desc") ||
		    !strcmp(argv[4], "state"))) {
		corrupt = argv[4];
	} else if (argc == 5) {
		fprintf(stderr, "relay: unknown fault %s %s\n", argv[3], argv[4]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	alarm(LIMIT_S);
	frame = malloc(sizeof(struct lm_wire_hdr) + LM_WIRE_MAX_FRAME);
	if (!frame)
		die("malloc");

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&lsin, sizeof(lsin)) || listen(lfd, 1))
		die("listen");
	fprintf(stderr, "relay: listening on %s for %s\n", argv[1], argv[2]);
	src = accept(lfd, NULL, NULL);
	if (src < 0)
		die("accept");
	close(lfd);
	dst = socket(AF_INET, SOCK_STREAM, 0);
	if (dst < 0 || connect(dst, (struct sockaddr *)&tsin, sizeof(tsin)))
		die("connect");
	setsockopt(src, IPPROTO_TCP, 1 /* TCP_NODELAY */, &one, sizeof(one));
	setsockopt(dst, IPPROTO_TCP, 1 /* TCP_NODELAY */, &one, sizeof(one));

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = src, .events = POLLIN },
			{ .fd = dst, .events = POLLIN },
		};
		struct lm_wire_hdr *hdr = (void *)frame;
		uint8_t *payload = frame + sizeof(*hdr);
		uint32_t len;
		uint16_t type;

		if (poll(pfd, 2, -1) < 0)
			die("poll");
		/* The destination's frames pass as they are. */
		if (pfd[1].revents && !pass(dst, src))
			break;
		if (!pfd[0].revents)
			continue;
		/* The source's, frame by frame. */
		if (!read_all(src, hdr, sizeof(*hdr)))
			break;
		len = le32toh(hdr->len);
		type = le16toh(hdr->type);
		if (len > LM_WIRE_MAX_FRAME || !read_all(src, payload, len)) {
			/* Not a frame we can parse: pass what came, then stop. */
			write_all(dst, hdr, sizeof(*hdr));
			break;
		}
		nr++;
		if (stall && type == stall) {
			fprintf(stderr, "relay: stalled at %s, frame %u of the source\n",
				types[type], nr - 1);
			/* Hold both connections, read nothing, until killed. */
			for (;;)
				pause();
		}
		if (cut && type == cut) {
			struct linger rst = { .l_onoff = 1, .l_linger = 0 };

			fprintf(stderr, "relay: cut at %s, frame %u of the source\n",
				types[type], nr - 1);
			setsockopt(src, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
			setsockopt(dst, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst));
			close(src);
			close(dst);
			free(frame);
			return 0;
		}
		if (corrupt && !done_fault) {
			const struct lm_wire_pages *p = (const void *)payload;
			bool pages = type == LM_WIRE_PAGES && len >= sizeof(*p);

			if (!strcmp(corrupt, "data") && pages &&
			    le32toh(p->flags) & LM_WIRE_PAGES_DATA_CRC &&
			    p->nr_data) {
				payload[len - 1] ^= 0x10;
				done_fault = true;
			} else if (!strcmp(corrupt, "desc") && pages) {
				payload[8] ^= 0x01;	/* nr_pages */
				done_fault = true;
			} else if (!strcmp(corrupt, "state") &&
				   type == LM_WIRE_STATE && len) {
				payload[len - 1] ^= 0x10;
				done_fault = true;
			}
			if (done_fault)
				fprintf(stderr, "relay: corrupted %s frame %u of the source (%s)\n",
					types[type], nr - 1, corrupt);
		}
		if (!write_all(dst, frame, sizeof(*hdr) + len))
			break;
	}
	/*
	 * One side closed or failed: tell the destination, pass on what it
	 * still says (its ABORT) up to its end, then close the source's.
	 */
	shutdown(dst, SHUT_WR);
	while (pass(dst, src))
		;
	shutdown(src, SHUT_WR);
	close(src);
	close(dst);
	free(frame);
	return 0;
}

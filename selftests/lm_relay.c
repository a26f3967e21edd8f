// SPDX-License-Identifier: GPL-2.0
/*
 * lm-relay: the man in the middle of tls_test.sh, a plain TCP relay.
 *
 *   lm-relay record PORT ADDR DPORT FILE RECORDS
 *       accept one connection on 127.0.0.1:PORT, connect to ADDR:DPORT and
 *       copy both ways; what the client sent is written to FILE. Once the
 *       client sent RECORDS whole TLS records (its handshake: ClientHello
 *       and Finished), nothing more is forwarded, and both connections
 *       are closed a second later.
 *   lm-relay replay FILE ADDR DPORT
 *       connect to ADDR:DPORT, send FILE, and read whatever comes back until
 *       the peer closes (at most 20 s).
 *
 * IPv4 only; a helper of the tests, installed next to them, not a test.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "lm-relay: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int dial(const char *addr, const char *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_port = htons(atoi(port));
	if (fd < 0 || inet_pton(AF_INET, addr, &sin.sin_addr) != 1 ||
	    connect(fd, (struct sockaddr *)&sin, sizeof(sin)))
		die("connect");
	return fd;
}

static void write_all(int fd, const char *buf, ssize_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, buf, n);

		if (w < 0)
			die("write");
		buf += w;
		n -= w;
	}
}

static int record(char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int lfd, cfd, sfd, out, one = 1;
	bool live[2] = { true, true };
	long records = atol(argv[6]);
	size_t have = 0, need = 5;
	unsigned char hdr[5];
	char buf[65536];

	sin.sin_port = htons(atoi(argv[2]));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) ||
	    listen(lfd, 1))
		die("listen");
	out = open(argv[5], O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (out < 0)
		die(argv[5]);
	/* Ready: the test waits for this line. */
	printf("listening\n");
	fflush(stdout);
	cfd = accept(lfd, NULL, NULL);
	if (cfd < 0)
		die("accept");
	sfd = dial(argv[3], argv[4]);
	while (live[0] || live[1]) {
		struct pollfd pfd[2] = {
			{ live[0] ? cfd : -1, POLLIN, 0 },
			{ live[1] ? sfd : -1, POLLIN, 0 },
		};
		int i;

		if (poll(pfd, 2, -1) < 0)
			die("poll");
		for (i = 0; i < 2; i++) {
			int from = i ? sfd : cfd, to = i ? cfd : sfd;
			ssize_t n;

			if (!pfd[i].revents)
				continue;
			n = read(from, buf, sizeof(buf));
			if (n <= 0) {
				/* One direction ends: pass the end on. */
				shutdown(to, SHUT_WR);
				live[i] = false;
				continue;
			}
			if (i) {
				write_all(to, buf, n);
				continue;
			}
			/* Client bytes: up to the end of its RECORDS-th record. */
			for (ssize_t k = 0; k < n && records; k++) {
				if (have < 5)
					hdr[have] = buf[k];
				if (++have == 5)
					need = 5 + (hdr[3] << 8 | hdr[4]);
				if (have == need) {
					records--;
					have = 0;
					need = 5;
					if (!records)
						n = k + 1;
				}
			}
			write_all(out, buf, n);
			write_all(to, buf, n);
			if (!records) {
				/*
				 * Let the server finish its side (install its
				 * keys, hand the socket over) before the cut.
				 */
				close(out);
				sleep(1);
				return 0;
			}
		}
	}
	close(out);
	return 0;
}

static int replay(char **argv)
{
	char buf[65536];
	int in, fd;
	ssize_t n;

	in = open(argv[2], O_RDONLY);
	if (in < 0)
		die(argv[2]);
	fd = dial(argv[3], argv[4]);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (send(fd, buf, n, MSG_NOSIGNAL) != n)
			break;	/* the peer already gave up */
	shutdown(fd, SHUT_WR);
	alarm(20);
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 7 && !strcmp(argv[1], "record"))
		return record(argv);
	if (argc == 5 && !strcmp(argv[1], "replay"))
		return replay(argv);
	fprintf(stderr, "usage: lm-relay record PORT ADDR DPORT FILE RECORDS | replay FILE ADDR DPORT\n");
	return 2;
}

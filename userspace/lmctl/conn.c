// SPDX-License-Identifier: GPL-2.0
/*
 * The connection of a migration (conn.h).
 *
 * A peer is refused before a byte of the migration is exchanged: by its
 * address (--allow-from) right after accept(), by the TLS handshake
 * otherwise. lm is given the socket only after that, so an unwanted peer
 * never reaches the kernel, and the destination VM is never touched.
 * receive keeps waiting after a refusal: a stranger who connects first
 * must not end the operator's migration.
 */
/* POLLRDHUP */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "lmctl_err.h"

#define CONN_CONNECT_TIMEOUT_MS	10000

bool conn_parse_net(const char *s, struct conn_net *net)
{
	char host[64];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	uint32_t prefix;

	memset(net, 0, sizeof(*net));
	if (!n || n >= sizeof(host))
		return false;
	memcpy(host, s, n);
	host[n] = '\0';
	if (inet_pton(AF_INET, host, net->addr) == 1)
		net->family = AF_INET;
	else if (inet_pton(AF_INET6, host, net->addr) == 1)
		net->family = AF_INET6;
	else
		return false;
	net->prefix = net->family == AF_INET ? 32 : 128;
	if (slash) {
		if (!lmctl_parse_u32(slash + 1, net->prefix, &prefix))
			return false;
		net->prefix = prefix;
	}
	return true;
}

static bool conn_in_net(const struct conn_net *net, int family,
			const uint8_t *addr)
{
	unsigned int full = net->prefix / 8, rest = net->prefix % 8;

	if (family != net->family || memcmp(addr, net->addr, full))
		return false;
	return !rest || !((addr[full] ^ net->addr[full]) & (0xff00 >> rest));
}

/* The peer's address, IPv4-mapped IPv6 as IPv4; text in @text. */
static int conn_peer(const struct sockaddr_storage *ss, uint8_t *addr,
		     char *text, size_t len)
{
	const struct sockaddr_in6 *sin6 = (const void *)ss;
	const struct sockaddr_in *sin = (const void *)ss;
	char host[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		memcpy(addr, &sin6->sin6_addr.s6_addr[12], 4);
		inet_ntop(AF_INET, addr, host, sizeof(host));
		snprintf(text, len, "%s:%u", host, ntohs(sin6->sin6_port));
		return AF_INET;
	}
	if (ss->ss_family == AF_INET6) {
		memcpy(addr, &sin6->sin6_addr, 16);
		inet_ntop(AF_INET6, addr, host, sizeof(host));
		snprintf(text, len, "[%s]:%u", host, ntohs(sin6->sin6_port));
		return AF_INET6;
	}
	memcpy(addr, &sin->sin_addr, 4);
	inet_ntop(AF_INET, addr, host, sizeof(host));
	snprintf(text, len, "%s:%u", host, ntohs(sin->sin_port));
	return AF_INET;
}

static socklen_t conn_sockaddr(const struct xfer_addr *a,
			       struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->len == 4) {
		struct sockaddr_in *sin = (void *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(a->port);
		memcpy(&sin->sin_addr, a->addr, 4);
		return sizeof(*sin);
	}
	struct sockaddr_in6 *sin6 = (void *)ss;

	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(a->port);
	memcpy(&sin6->sin6_addr, a->addr, 16);
	return sizeof(*sin6);
}

/* Authenticate the peer of @fd (nothing to do with --insecure). */
static int conn_secure(int fd, const struct conn_opts *o, const char *peer,
		       bool server)
{
	if (!o->psk)
		return 0;
	return server ? tls_server(fd, o->psk, peer) :
			tls_client(fd, o->psk, peer);
}

int conn_connect(const struct xfer_addr *to, const struct conn_opts *o)
{
	struct sockaddr_storage ss;
	socklen_t len = conn_sockaddr(to, &ss);
	struct pollfd pfd;
	int fd, err = 0;

	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    IPPROTO_TCP);
	if (fd < 0) {
		lmctl_err("cannot create a TCP socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&ss, len) && errno != EINPROGRESS) {
		err = errno;
	} else {
		pfd = (struct pollfd){ fd, POLLOUT, 0 };
		if (poll(&pfd, 1, CONN_CONNECT_TIMEOUT_MS) != 1)
			err = errno == EINTR ? EINTR : ETIMEDOUT;
		else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err,
				    &(socklen_t){ sizeof(err) }))
			err = errno;
	}
	if (err) {
		lmctl_err("cannot connect to %s: %s", to->text, strerror(err));
		goto err_close;
	}
	/* Blocking again: OpenSSL, then the kernel, expect it. */
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)) {
		lmctl_err("fcntl: %s", strerror(errno));
		goto err_close;
	}
	if (conn_secure(fd, o, to->text, false))
		goto err_close;
	return fd;

err_close:
	close(fd);
	return -1;
}

int conn_listen(const struct xfer_addr *at, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t len = conn_sockaddr(at, &ss);
	static const int one = 1;
	int fd;

	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0) {
		lmctl_err("cannot create a TCP socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 4)) {
		lmctl_err("cannot listen on %s: %s", at->text, strerror(errno));
		close(fd);
		return -1;
	}
	len = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &len);
	*port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

static bool conn_allowed(const struct conn_opts *o, int family,
			 const uint8_t *addr)
{
	size_t i;

	if (!o->nr_allow)
		return true;
	for (i = 0; i < o->nr_allow; i++)
		if (conn_in_net(&o->allow[i], family, addr))
			return true;
	return false;
}

int conn_accept(int lfd, const struct conn_opts *o, int vmm_fd)
{
	for (;;) {
		struct pollfd pfd[2] = {
			{ lfd, POLLIN, 0 }, { vmm_fd, POLLRDHUP, 0 },
		};
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		char peer[INET6_ADDRSTRLEN + 16];
		uint8_t addr[16];
		int fd, family;

		if (poll(pfd, vmm_fd >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				return -EINTR;
			lmctl_err("poll: %s", strerror(errno));
			return -1;
		}
		if (vmm_fd >= 0 && pfd[1].revents)
			return -EPIPE;
		if (!pfd[0].revents)
			continue;
		fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR)
				return -EINTR;
			if (errno == ECONNABORTED || errno == EAGAIN)
				continue;
			lmctl_err("accept: %s", strerror(errno));
			return -1;
		}
		family = conn_peer(&ss, addr, peer, sizeof(peer));
		if (!conn_allowed(o, family, addr)) {
			lmctl_err("refused a connection from %s: not an address --allow-from names; still waiting",
				  peer);
			close(fd);
			continue;
		}
		if (conn_secure(fd, o, peer, true)) {
			lmctl_err("refused the connection from %s; still waiting",
				  peer);
			close(fd);
			continue;
		}
		return fd;
	}
}

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The connection of a migration, made by lmctl and handed to lm: TCP
 * connect, or listen and accept the one peer that is from an allowed
 * address and completes the TLS handshake (tls.h); or plain TCP when the
 * operator said --insecure.
 */
#ifndef LMCTL_CONN_H
#define LMCTL_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tls.h"
#include "xfer.h"

#define CONN_MAX_ALLOW	8

/* An --allow-from network: ADDR[/PREFIX]. */
struct conn_net {
	int family;		/* AF_INET or AF_INET6 */
	uint8_t addr[16];
	unsigned int prefix;
};

struct conn_opts {
	const struct tls_psk *psk;	/* NULL: --insecure, plain TCP */
	struct conn_net allow[CONN_MAX_ALLOW];
	size_t nr_allow;		/* 0: any peer address */
};

/* "ADDR" or "ADDR/PREFIX", IPv4 or IPv6; false if it is neither. */
bool conn_parse_net(const char *s, struct conn_net *net);

/* Connect to @to and authenticate it; a connected socket, or -1. */
int conn_connect(const struct xfer_addr *to, const struct conn_opts *o);

/* A socket listening on @at; its port in *@port. -1 after a message. */
int conn_listen(const struct xfer_addr *at, uint16_t *port);

/*
 * Accept connections on @lfd until one comes from an allowed address and
 * completes the handshake; every other is refused with a message and
 * closed, and waiting goes on. Returns the connected socket; -EINTR on a
 * signal, -EPIPE when @vmm_fd (if >= 0) is closed by the VMM, or -1.
 */
int conn_accept(int lfd, const struct conn_opts *o, int vmm_fd);

#endif /* LMCTL_CONN_H */

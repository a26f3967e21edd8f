/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The TLS 1.3 handshake that authenticates a migration's peer, and the
 * hand-over of its session keys to the kernel (kTLS), so that lm's
 * in-kernel stream is encrypted and integrity protected. The only file of
 * lmctl that knows the TLS library (Documentation/security.rst says why
 * TLS 1.3 with a pre-shared key, and why kTLS).
 */
#ifndef LMCTL_TLS_H
#define LMCTL_TLS_H

#include <stddef.h>
#include <stdint.h>

#define TLS_PSK_MAX_KEY		64
#define TLS_PSK_MAX_IDENTITY	128

struct tls_psk {
	char identity[TLS_PSK_MAX_IDENTITY + 1];
	uint8_t key[TLS_PSK_MAX_KEY];
	size_t key_len;
};

/*
 * Read a key file: one line "IDENTITY:HEXKEY" (lines starting with '#'
 * are comments), a key of 16 to 64 bytes. Refused, with a message, when
 * anyone but its owner may read it.
 */
int tls_psk_load(const char *path, struct tls_psk *psk);

/*
 * Run the handshake on the connected TCP socket @fd as the client (the
 * source) or the server (the destination), proving both ends hold @psk,
 * then install the session keys on @fd with TLS_TX and TLS_RX. 0 on
 * success; else -1 after a message naming @peer and what failed. Nothing
 * but the handshake is read or written: the first application record is
 * the kernel's.
 */
int tls_client(int fd, const struct tls_psk *psk, const char *peer);
int tls_server(int fd, const struct tls_psk *psk, const char *peer);

#endif /* LMCTL_TLS_H */

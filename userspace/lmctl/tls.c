// SPDX-License-Identifier: GPL-2.0
/*
 * TLS 1.3 with an external pre-shared key, by OpenSSL, then kTLS.
 *
 * The handshake is psk_dhe_ke only (OpenSSL's default: a PSK without an
 * ephemeral key exchange is refused), one cipher suite,
 * TLS_AES_128_GCM_SHA256, which the kernel's TLS layer implements. Each
 * side proves it holds the key (the client by the PSK binder, both by
 * their Finished messages) over both sides' fresh randoms and ECDHE
 * shares: a recorded handshake replayed to a new connection fails, and
 * recorded traffic cannot be decrypted later with the key.
 *
 * Then the kernel takes the session over: TCP_ULP "tls" and the traffic
 * keys of each direction in TLS_TX and TLS_RX. OpenSSL 3.0 has no call
 * that returns those keys, so they are derived here (RFC 8446 7.3) from
 * the traffic secrets its key log callback hands over. For the kernel to
 * start at record sequence 0 both ways, nothing may follow the handshake
 * through OpenSSL: no session tickets (none are sent), no middlebox
 * compatibility records, no read-ahead (OpenSSL reads exactly the records
 * of the handshake, so the peer's first kernel record stays in the
 * socket), and nothing left buffered: checked before the keys are given.
 *
 * The client also insists that the PSK was used: a server that answered
 * with a certificate instead (no certificate is ever configured here, so
 * only a foreign server would) is refused.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <linux/tls.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/ssl.h>

#include "lmctl_err.h"
#include "tls.h"

/* How long a handshake may take: a silent peer must not block receive. */
#define TLS_HANDSHAKE_TIMEOUT_S	10
/* TLS_AES_128_GCM_SHA256 (RFC 8446 B.4), and its secrets' size. */
static const unsigned char tls_suite_id[2] = { 0x13, 0x01 };
#define TLS_SECRET_LEN		32

struct tls_session {
	const struct tls_psk *psk;
	const char *peer;
	uint8_t client_secret[TLS_SECRET_LEN];
	uint8_t server_secret[TLS_SECRET_LEN];
	bool have_client, have_server;
	/* Server: the identity a client offered that is not ours. */
	char foreign_identity[TLS_PSK_MAX_IDENTITY + 1];
};

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* @n hex digits at @s into @out; false if any is not one. */
static bool unhex(const char *s, size_t n, uint8_t *out)
{
	size_t i;

	if (n % 2)
		return false;
	for (i = 0; i < n; i += 2) {
		int hi = hexval(s[i]), lo = hexval(s[i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i / 2] = hi << 4 | lo;
	}
	return true;
}

int tls_psk_load(const char *path, struct tls_psk *psk)
{
	char line[TLS_PSK_MAX_IDENTITY + 2 * TLS_PSK_MAX_KEY + 8];
	const char *colon;
	struct stat st;
	int ret = -1;
	size_t n;
	FILE *f;

	memset(psk, 0, sizeof(*psk));
	f = fopen(path, "re");
	if (!f) {
		lmctl_err("cannot open the key file %s: %s", path,
			  strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
		lmctl_err("the key file %s is not a regular file", path);
		goto out;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		lmctl_err("the key file %s may be read by others (mode %03o): chmod 600 it",
			  path, (unsigned int)(st.st_mode & 0777));
		goto out;
	}
	while (fgets(line, sizeof(line), f)) {
		n = strcspn(line, "\r\n");
		line[n] = '\0';
		if (!n || line[0] == '#')
			continue;
		colon = strrchr(line, ':');
		if (!colon || colon == line ||
		    colon - line > TLS_PSK_MAX_IDENTITY) {
			lmctl_err("key file %s: the line must be IDENTITY:HEXKEY, an identity of 1 to %d characters",
				  path, TLS_PSK_MAX_IDENTITY);
			goto out;
		}
		n = strlen(colon + 1);
		if (n < 32 || n > 2 * TLS_PSK_MAX_KEY ||
		    !unhex(colon + 1, n, psk->key)) {
			lmctl_err("key file %s: the key must be 16 to %d bytes in hexadecimal (e.g. from 'openssl rand -hex 32')",
				  path, TLS_PSK_MAX_KEY);
			goto out;
		}
		psk->key_len = n / 2;
		memcpy(psk->identity, line, colon - line);
		ret = 0;
		goto out;
	}
	lmctl_err("key file %s holds no IDENTITY:HEXKEY line", path);
out:
	explicit_bzero(line, sizeof(line));
	fclose(f);
	if (ret)
		explicit_bzero(psk, sizeof(*psk));
	return ret;
}

/* The key log line of each traffic secret: "LABEL <random> <secret>". */
static void tls_keylog(const SSL *ssl, const char *line)
{
	struct tls_session *t = SSL_get_app_data(ssl);
	static const char client[] = "CLIENT_TRAFFIC_SECRET_0 ";
	static const char server[] = "SERVER_TRAFFIC_SECRET_0 ";
	const char *secret;
	uint8_t *out;
	bool *have;

	if (!strncmp(line, client, sizeof(client) - 1)) {
		out = t->client_secret;
		have = &t->have_client;
	} else if (!strncmp(line, server, sizeof(server) - 1)) {
		out = t->server_secret;
		have = &t->have_server;
	} else {
		return;
	}
	secret = strrchr(line, ' ');
	if (secret && strlen(secret + 1) == 2 * TLS_SECRET_LEN)
		*have = unhex(secret + 1, 2 * TLS_SECRET_LEN, out);
}

/* The PSK as a TLS 1.3 session for OpenSSL to resume. */
static SSL_SESSION *tls_psk_session(SSL *ssl, const struct tls_psk *psk)
{
	const SSL_CIPHER *cipher = SSL_CIPHER_find(ssl, tls_suite_id);
	SSL_SESSION *sess = SSL_SESSION_new();

	if (!sess || !cipher ||
	    !SSL_SESSION_set1_master_key(sess, psk->key, psk->key_len) ||
	    !SSL_SESSION_set_cipher(sess, cipher) ||
	    !SSL_SESSION_set_protocol_version(sess, TLS1_3_VERSION)) {
		SSL_SESSION_free(sess);
		return NULL;
	}
	return sess;
}

static int tls_use_psk(SSL *ssl, const EVP_MD *md, const unsigned char **id,
		       size_t *id_len, SSL_SESSION **sessp)
{
	struct tls_session *t = SSL_get_app_data(ssl);
	SSL_SESSION *sess = tls_psk_session(ssl, t->psk);

	if (!sess)
		return 0;
	/* After a HelloRetryRequest: our suite's hash or nothing. */
	if (md && md != SSL_CIPHER_get_handshake_digest(SSL_SESSION_get0_cipher(sess))) {
		SSL_SESSION_free(sess);
		sess = NULL;
	}
	*sessp = sess;
	*id = (const unsigned char *)t->psk->identity;
	*id_len = sess ? strlen(t->psk->identity) : 0;
	return 1;
}

static int tls_find_psk(SSL *ssl, const unsigned char *id, size_t id_len,
			SSL_SESSION **sessp)
{
	struct tls_session *t = SSL_get_app_data(ssl);
	size_t i;

	*sessp = NULL;
	if (id_len != strlen(t->psk->identity) ||
	    memcmp(id, t->psk->identity, id_len)) {
		/* Printable, for the message; not trusted otherwise. */
		for (i = 0; i < id_len && i < TLS_PSK_MAX_IDENTITY; i++)
			t->foreign_identity[i] = id[i] >= 0x20 && id[i] < 0x7f ?
						 id[i] : '?';
		t->foreign_identity[i] = '\0';
		return 1;	/* no such key: the handshake fails */
	}
	*sessp = tls_psk_session(ssl, t->psk);
	return *sessp ? 1 : 0;
}

/* HKDF-Expand-Label(@secret, @label, "", @len) of RFC 8446 7.1. */
static int tls_expand_label(const uint8_t *secret, const char *label,
			    uint8_t *out, size_t len)
{
	uint8_t info[2 + 1 + 6 + 16 + 1];
	size_t label_len = strlen(label), n = 0;
	int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY, ret = -1;
	OSSL_PARAM params[5];
	EVP_KDF_CTX *kctx;
	EVP_KDF *kdf;

	info[n++] = len >> 8;
	info[n++] = len;
	info[n++] = 6 + label_len;
	memcpy(info + n, "tls13 ", 6);
	n += 6;
	memcpy(info + n, label, label_len);
	n += label_len;
	info[n++] = 0;

	kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	params[0] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						     "SHA256", 0);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
						      (void *)secret,
						      TLS_SECRET_LEN);
	params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
						      info, n);
	params[4] = OSSL_PARAM_construct_end();
	if (kctx && EVP_KDF_derive(kctx, out, len, params) > 0)
		ret = 0;
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return ret;
}

/* Give the kernel one direction's key, derived from its secret. */
static int tls_install(int fd, int dir, const uint8_t *secret)
{
	struct tls12_crypto_info_aes_gcm_128 ci = {
		.info.version = TLS_1_3_VERSION,
		.info.cipher_type = TLS_CIPHER_AES_GCM_128,
	};
	uint8_t iv[TLS_CIPHER_AES_GCM_128_SALT_SIZE +
		   TLS_CIPHER_AES_GCM_128_IV_SIZE];
	int ret = -1;

	/* TLS 1.3's 12-byte IV is the kernel's salt then its iv. */
	if (!tls_expand_label(secret, "key", ci.key, sizeof(ci.key)) &&
	    !tls_expand_label(secret, "iv", iv, sizeof(iv))) {
		memcpy(ci.salt, iv, sizeof(ci.salt));
		memcpy(ci.iv, iv + sizeof(ci.salt), sizeof(ci.iv));
		/* rec_seq 0: the first record after the handshake. */
		ret = setsockopt(fd, SOL_TLS, dir, &ci, sizeof(ci));
		if (ret)
			lmctl_err("cannot give the kernel the TLS %s key: %s%s",
				  dir == TLS_TX ? "send" : "receive",
				  strerror(errno), errno == ENOENT ?
				  " (no gcm(aes) in the kernel: modprobe gcm aesni-intel)" :
				  "");
	}
	explicit_bzero(&ci, sizeof(ci));
	explicit_bzero(iv, sizeof(iv));
	return ret;
}

static void tls_report(SSL *ssl, int ret, const struct tls_session *t,
		       bool server)
{
	unsigned long e = ERR_peek_last_error();
	const char *why = e ? ERR_reason_error_string(e) : NULL;

	if (server && t->foreign_identity[0]) {
		lmctl_err("refused %s: it offered the key identity '%s', not ours",
			  t->peer, t->foreign_identity);
		return;
	}
	if (!why && SSL_get_error(ssl, ret) == SSL_ERROR_SYSCALL)
		why = errno == EAGAIN || errno == EWOULDBLOCK ?
		      "it did not answer in time" :
		      errno ? strerror(errno) : "it closed the connection";
	lmctl_err("TLS handshake with %s failed: %s%s", t->peer,
		  why ? why : "unknown error",
		  e && (ERR_GET_REASON(e) == SSL_R_BINDER_DOES_NOT_VERIFY ||
			ERR_GET_REASON(e) == SSL_R_TLSV1_ALERT_DECRYPT_ERROR ||
			ERR_GET_REASON(e) == SSL_R_DIGEST_CHECK_FAILED) ?
		  " (not the same key on both sides?)" :
		  e && ERR_GET_REASON(e) == SSL_R_WRONG_VERSION_NUMBER ?
		  " (the peer does not speak TLS: --insecure on its side?)" :
		  "");
}

static SSL_CTX *tls_ctx(bool server)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() :
					    TLS_client_method());

	if (!ctx)
		return NULL;
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256") ||
	    !SSL_CTX_set_num_tickets(ctx, 0)) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_clear_options(ctx, SSL_OP_ENABLE_MIDDLEBOX_COMPAT);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_read_ahead(ctx, 0);
	SSL_CTX_set_keylog_callback(ctx, tls_keylog);
	if (server) {
		SSL_CTX_set_psk_find_session_callback(ctx, tls_find_psk);
	} else {
		SSL_CTX_set_psk_use_session_callback(ctx, tls_use_psk);
		/* No CA is trusted: a certificate instead of the PSK fails. */
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	return ctx;
}

static void tls_set_timeout(int fd, int seconds)
{
	struct timeval tv = { .tv_sec = seconds };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int tls_handshake(int fd, const struct tls_psk *psk, const char *peer,
			 bool server)
{
	struct tls_session t = { .psk = psk, .peer = peer };
	static const int one = 1;
	SSL_CTX *ctx;
	SSL *ssl = NULL;
	int ret = -1;

	/* A peer gone mid-handshake must not kill us with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	ERR_clear_error();
	ctx = tls_ctx(server);
	if (ctx)
		ssl = SSL_new(ctx);
	if (!ssl || !SSL_set_fd(ssl, fd)) {
		lmctl_err("cannot set up TLS: %s",
			  ERR_reason_error_string(ERR_peek_last_error()) ?:
			  "out of memory");
		goto out;
	}
	SSL_set_app_data(ssl, &t);
	tls_set_timeout(fd, TLS_HANDSHAKE_TIMEOUT_S);
	ret = server ? SSL_accept(ssl) : SSL_connect(ssl);
	if (ret != 1) {
		tls_report(ssl, ret, &t, server);
		ret = -1;
		goto out;
	}
	ret = -1;
	if (!SSL_session_reused(ssl)) {
		lmctl_err("refused %s: the handshake did not use our key",
			  peer);
		goto out;
	}
	if (SSL_has_pending(ssl) || !t.have_client || !t.have_server) {
		lmctl_err("refused %s: data after the TLS handshake", peer);
		goto out;
	}
	tls_set_timeout(fd, 0);
	if (setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls"))) {
		lmctl_err("cannot use kTLS on the connection to %s: %s%s", peer,
			  strerror(errno),
			  errno == ENOENT ? " (modprobe tls)" : "");
		goto out;
	}
	if (tls_install(fd, TLS_TX, server ? t.server_secret : t.client_secret) ||
	    tls_install(fd, TLS_RX, server ? t.client_secret : t.server_secret))
		goto out;
	/* Our peer is lm: records are never padded; decrypt in place. */
	setsockopt(fd, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &one, sizeof(one));
	ret = 0;
out:
	explicit_bzero(t.client_secret, sizeof(t.client_secret));
	explicit_bzero(t.server_secret, sizeof(t.server_secret));
	/* No SSL_shutdown(): the connection is the kernel's now. */
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	return ret;
}

int tls_client(int fd, const struct tls_psk *psk, const char *peer)
{
	return tls_handshake(fd, psk, peer, false);
}

int tls_server(int fd, const struct tls_psk *psk, const char *peer)
{
	return tls_handshake(fd, psk, peer, true);
}

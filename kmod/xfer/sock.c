// SPDX-License-Identifier: GPL-2.0
/*
 * The transfer's connection: taken from the requester, or made by lm.
 *
 * lmctl connects (or accepts) in userspace, authenticates the peer with a
 * TLS 1.3 handshake and installs the session keys with kTLS (TLS_TX and
 * TLS_RX), then passes the connected socket in LM_A_XFER_SOCK_FD. lm
 * takes a reference on the socket's file and checks what it got: a TCP
 * stream socket, established, in the requester's network namespace, with
 * kTLS installed in both directions. A socket without kTLS is refused
 * unless the request says LM_A_XFER_INSECURE. The file reference is the
 * transfer's until it ends: it is dropped with fput(), never with
 * sock_release(), since the requester's file owns the socket.
 *
 * The older form, LM_A_XFER_ADDR and LM_A_XFER_PORT, has lm create the
 * socket itself (bind and listen, or connect): such a socket is plain TCP
 * by construction, so that form needs LM_A_XFER_INSECURE as well.
 *
 * Documentation/security.rst explains why the handshake is in userspace.
 */

#include "internal.h"

#include <linux/file.h>
#include <linux/net.h>
#include <linux/string.h>
#include <net/genetlink.h>
#include <net/inet_connection_sock.h>
#include <net/sock.h>
#include <net/tcp_states.h>
#include <net/tls.h>

/*
 * kTLS installed both ways: the "tls" upper layer protocol with its TX and
 * RX configured (software or offloaded). Called with the socket locked:
 * setsockopt(TLS_TX/TLS_RX) changes the configuration under that lock.
 */
static bool xfer_sock_has_ktls(struct sock *sk)
{
	const struct inet_connection_sock *icsk = inet_csk(sk);
	const struct tls_context *ctx;

	if (!icsk->icsk_ulp_ops || strcmp(icsk->icsk_ulp_ops->name, "tls"))
		return false;
	ctx = tls_get_ctx(sk);
	return ctx && ctx->tx_conf != TLS_BASE && ctx->rx_conf != TLS_BASE;
}

/* Check the socket in LM_A_XFER_SOCK_FD and make it the transfer's. */
static int xfer_take_user_sock(struct lm_xfer *x, struct genl_info *info,
			       bool insecure)
{
	struct nlattr *attr = info->attrs[LM_A_XFER_SOCK_FD];
	struct socket *sock;
	struct sock *sk;
	bool ktls;
	int err;

	sock = sockfd_lookup(nla_get_u32(attr), &err);
	if (!sock) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr, "Not a socket");
		return err;
	}
	sk = sock->sk;
	if (sock->type != SOCK_STREAM || sk->sk_protocol != IPPROTO_TCP ||
	    (sk->sk_family != AF_INET && sk->sk_family != AF_INET6)) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr,
				    "Not a TCP socket");
		err = -EINVAL;
		goto err_put_sock;
	}
	if (!net_eq(sock_net(sk), x->net)) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr,
				    "The socket is in another network namespace");
		err = -EINVAL;
		goto err_put_sock;
	}
	lock_sock(sk);
	err = sk->sk_state == TCP_ESTABLISHED ? 0 : -ENOTCONN;
	ktls = !err && xfer_sock_has_ktls(sk);
	release_sock(sk);
	if (err) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr,
				    "The socket is not connected");
		goto err_put_sock;
	}
	if (!ktls && !insecure) {
		NL_SET_ERR_MSG_ATTR(info->extack, attr,
				    "The socket has no kTLS keys (TLS_TX and TLS_RX) and LM_A_XFER_INSECURE was not given");
		err = -EPERM;
		goto err_put_sock;
	}
	x->sock = sock;
	x->sock_file = sock->file;
	x->secure = ktls;
	return 0;

err_put_sock:
	sockfd_put(sock);
	return err;
}

/*
 * Take the connection LISTEN or MIGRATE names: the requester's socket in
 * LM_A_XFER_SOCK_FD (x->sock set, x->sock_file holding it), or, with
 * LM_A_XFER_INSECURE only, LM_A_XFER_ADDR and LM_A_XFER_PORT for lm to
 * make a plain TCP socket itself (x->sock left NULL for the caller).
 */
int lm_xfer_take_sock(struct lm_xfer *x, struct genl_info *info)
{
	bool insecure = nla_get_flag(info->attrs[LM_A_XFER_INSECURE]);

	if (info->attrs[LM_A_XFER_SOCK_FD]) {
		if (info->attrs[LM_A_XFER_ADDR] || info->attrs[LM_A_XFER_PORT]) {
			GENL_SET_ERR_MSG(info, "Give either a socket or an address and port, not both");
			return -EINVAL;
		}
		return xfer_take_user_sock(x, info, insecure);
	}
	if (!info->attrs[LM_A_XFER_ADDR] || !info->attrs[LM_A_XFER_PORT]) {
		GENL_SET_ERR_MSG(info, "Give a connected socket (LM_A_XFER_SOCK_FD), or an address and port");
		return -EINVAL;
	}
	if (!insecure) {
		GENL_SET_ERR_MSG(info, "A socket lm makes itself is plain TCP: LM_A_XFER_INSECURE is required");
		return -EPERM;
	}
	return 0;
}

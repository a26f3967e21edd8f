// SPDX-License-Identifier: GPL-2.0
/*
 * lmctl receive: the destination side of a migration.
 *
 *   attach the VM of a VMM started with --incoming; LISTEN with a state
 *   file; when lm has received memory, state and COMMIT, have the VMM load
 *   the state and resume, and tell lm (COMPLETE), which acknowledges the
 *   source. If the VMM cannot take the VM over, the source is told to keep
 *   it (ABORT) and this VM never runs.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/lm.h>
#include <linux/lm_wire.h>

#include "conn.h"
#include "vmm.h"
#include "xfer.h"

static void report(struct lmctl *ctx, const struct lm_xfer_status *st,
		   const char *checksum)
{
	if (ctx->json) {
		jw_object_begin(&ctx->out, NULL);
		jw_string(&ctx->out, "role", "destination");
		xfer_json_status(&ctx->out, st);
		if (checksum)
			jw_string(&ctx->out, "checksum", checksum);
		jw_object_end(&ctx->out);
		return;
	}
	printf("received vm %u: %llu pages (%llu zero, %llu unbacked), state %llu bytes, in %.3f s, receive thread CPU %.3f s\n",
	       st->vm_id, (unsigned long long)st->pages,
	       (unsigned long long)st->zero_pages,
	       (unsigned long long)st->hole_pages,
	       (unsigned long long)st->state_size, st->elapsed_ns / 1e9,
	       st->cpu_ns / 1e9);
	xfer_print_compression(st);
	if (checksum)
		printf("checksum before resume: %s\n", checksum);
}

int lmctl_cmd_receive(struct lmctl *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "control", required_argument, NULL, 'c' },
		{ "qmp", required_argument, NULL, 'Q' },
		{ "listen", required_argument, NULL, 'l' },
		{ "recv-method", required_argument, NULL, 'R' },
		{ "checksum", no_argument, NULL, 'k' },
		{ "handover", required_argument, NULL, 'H' },
		{ "paused", no_argument, NULL, 'P' },
		{ "psk-file", required_argument, NULL, 'K' },
		{ "insecure", no_argument, NULL, 'I' },
		{ "allow-from", required_argument, NULL, 'A' },
		{ }
	};
	char state_path[] = "/tmp/lm-state-rx-XXXXXX";
	int c, ret, state_fd = -1, status = LMCTL_EXIT_FAILURE;
	uint32_t pid = 0, method = 0, verdict;
	const char *control = NULL, *qmp = NULL, *listen = NULL, *handover = NULL;
	const char *psk_file = NULL;
	struct conn_opts copts = { 0 };
	int listen_fd = -1, sock_fd = -1;
	bool insecure = false;
	struct tls_psk psk;
	bool attached = false, checksum = false, leave_paused = false;
	char sum[sizeof(((struct vmm *)0)->reply)];
	struct vmm vmm = { .fd = -1 };
	struct lm_listen_opts lopts = { 0 };
	struct lm_nl *nl, *ev = NULL;
	struct lm_xfer_status st;
	struct xfer_addr addr;
	uint16_t port;
	uint32_t id;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":p:c:Q:l:R:kH:PK:IA:", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (!lmctl_parse_u32(optarg, INT_MAX, &pid) || !pid)
				return lmctl_usage_error(ctx, "invalid pid '%s'",
							 optarg);
			break;
		case 'c':
			control = optarg;
			break;
		case 'Q':
			qmp = optarg;
			break;
		case 'l':
			listen = optarg;
			break;
		case 'R':
			if (!strcmp(optarg, "pin"))
				method = LM_RECV_PIN;
			else if (!strcmp(optarg, "user"))
				method = LM_RECV_USER;
			else
				return lmctl_usage_error(ctx, "receive method must be pin or user, not '%s'",
							 optarg);
			break;
		case 'k':
			checksum = true;
			break;
		case 'H':
			handover = optarg;
			break;
		case 'P':
			leave_paused = true;
			break;
		case 'K':
			psk_file = optarg;
			break;
		case 'I':
			insecure = true;
			break;
		case 'A':
			if (copts.nr_allow == CONN_MAX_ALLOW)
				return lmctl_usage_error(ctx, "at most %d --allow-from",
							 CONN_MAX_ALLOW);
			if (!conn_parse_net(optarg, &copts.allow[copts.nr_allow++]))
				return lmctl_usage_error(ctx, "invalid --allow-from '%s' (ADDR or ADDR/PREFIX)",
							 optarg);
			break;
		case ':':
			return lmctl_usage_error(ctx, "option '%s' needs a value",
						 argv[optind - 1]);
		default:
			return lmctl_usage_error(ctx, "unknown option '%s'",
						 argv[optind - 1]);
		}
	}
	if (optind < argc)
		return lmctl_usage_error(ctx, "unexpected argument '%s'",
					 argv[optind]);
	if (!control == !qmp || !listen)
		return lmctl_usage_error(ctx, "--listen and one of --control (lmvm) or --qmp (QEMU) are required");
	if (checksum && qmp)
		return lmctl_usage_error(ctx, "--checksum needs lmvm: QEMU computes no digest of guest memory");
	if (!xfer_parse_addr(listen, true, &addr))
		return lmctl_usage_error(ctx, "invalid address '%s' (ADDR:PORT or [ADDR6]:PORT)",
					 listen);
	if (psk_file && insecure)
		return lmctl_usage_error(ctx, "--psk-file and --insecure exclude each other");
	if (!psk_file && !insecure)
		return lmctl_usage_error(ctx, "no --psk-file: give the key shared with the source, or --insecure for plain TCP that anyone on the path can read and alter");
	if (psk_file) {
		if (tls_psk_load(psk_file, &psk))
			return LMCTL_EXIT_FAILURE;
		copts.psk = &psk;
	}

	nl = lmctl_nl(ctx);
	if (!nl)
		return LMCTL_EXIT_FAILURE;
	xfer_catch_signals();
	if (lm_nl_events_open(&ev))
		ev = NULL;
	if (vmm_open(&vmm, qmp ? VMM_QEMU : VMM_LMVM, qmp ? qmp : control, pid))
		goto out;
	/* Received memory overwrites the guest's: it must not have run. */
	if (vmm.ops->prepare(&vmm, true))
		goto out;
	ctx->vmm_fd = vmm.fd;
	if (xfer_attach(ctx, vmm.pid, &id, &attached))
		goto out;
	state_fd = mkstemp(state_path);
	if (state_fd < 0) {
		lmctl_err("cannot create a state file: %s", strerror(errno));
		goto out;
	}
	/*
	 * QEMU's memslots over its RAM differ between a running VM and a
	 * fresh -incoming one (pc: PAM, SMRAM): move RAM by backing.
	 */
	listen_fd = conn_listen(&addr, &port);
	if (listen_fd < 0)
		goto out;
	/* Scripts wait for this line before starting the source. */
	fprintf(stderr, "lmctl: vm %u listening on port %u\n", id, port);
	/* Only an allowed, authenticated source gets as far as lm. */
	sock_fd = conn_accept(listen_fd, &copts, vmm.fd);
	close(listen_fd);
	if (sock_fd < 0) {
		if (sock_fd == -EINTR || sock_fd == -EPIPE)
			lmctl_err("wait for the source: %s",
				  xfer_wait_why(sock_fd));
		goto out;
	}
	lopts.recv_method = method;
	lopts.key_by_backing = vmm.kind == VMM_QEMU;
	lopts.sock_fd = sock_fd;
	lopts.insecure = insecure;
	ret = lm_nl_listen_opts(nl, id, NULL, 0, 0, state_fd, &lopts, &port);
	close(sock_fd);
	if (ret) {
		lmctl_fail(ctx, ret, NULL, "receive on %s for vm %u", addr.text,
			   id);
		goto out;
	}

	ret = xfer_wait(ctx, ev, id, XFER_PHASE(LM_PHASE_COMMIT), -1, false,
			&st);
	if (ret) {
		lmctl_fail(ctx, ret, xfer_wait_why(ret), "wait for the source");
		goto out_cancel;
	}
	if (st.phase != LM_PHASE_COMMIT) {
		lmctl_err("incoming migration failed in phase %s: %s (%s)",
			  xfer_phase_name(st.failed_phase), st.message,
			  xfer_reason_name(st.reason));
		goto out;
	}

	/* Everything is here: the VMM takes over, or the source keeps it. */
	verdict = LM_WIRE_REASON_NONE;
	if (vmm.ops->load(&vmm, state_fd, state_path))
		verdict = LM_WIRE_REASON_STATE;
	if (!verdict && checksum && vmm.ops->checksum(&vmm, sum, sizeof(sum)))
		verdict = LM_WIRE_REASON_RESUME;
	/* Storage is taken over before the guest can use it. */
	if (!verdict && handover && xfer_handover(handover, "destination", id))
		verdict = LM_WIRE_REASON_RESUME;
	/* Paused, the VM is ours all the same: the operator runs it. */
	if (!verdict && !leave_paused && vmm.ops->resume(&vmm))
		verdict = LM_WIRE_REASON_RESUME;
	ret = lm_nl_complete(nl, id, verdict);
	if (ret) {
		lmctl_fail(ctx, ret, NULL, "complete the migration of vm %u", id);
		goto out;
	}
	/*
	 * The verdict is given: whatever the VMM does now (a QEMU that failed
	 * to load exits), lm must still tell the source, or the source cannot
	 * tell a refusal from a lost acknowledgement and stays paused.
	 */
	ctx->vmm_fd = -1;
	ret = xfer_wait(ctx, ev, id, 0, -1, false, &st);
	if (ret) {
		lmctl_fail(ctx, ret, xfer_wait_why(ret), "wait for the acknowledgement");
		goto out;
	}
	if (verdict) {
		lmctl_err("the VMM could not take the VM over; the source keeps it");
		goto out;
	}
	if (st.phase != LM_PHASE_DONE) {
		lmctl_err("the VM runs here, but telling the source failed: %s; make sure the source stays paused",
			  st.message);
		status = LMCTL_EXIT_UNCERTAIN;
		goto out;
	}
	report(ctx, &st, checksum ? sum : NULL);
	status = LMCTL_EXIT_OK;
	goto out;

out_cancel:
	lm_nl_cancel(nl, id);
out:
	if (state_fd >= 0) {
		close(state_fd);
		unlink(state_path);
	}
	if (copts.psk)
		explicit_bzero(&psk, sizeof(psk));
	if (attached)
		lm_nl_detach(nl, id);
	ctx->vmm_fd = -1;
	vmm_close(&vmm);
	lm_nl_close(ev);
	return status;
}

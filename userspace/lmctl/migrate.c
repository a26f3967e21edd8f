// SPDX-License-Identifier: GPL-2.0
/*
 * lmctl migrate: the source side of a migration.
 *
 *   attach the VMM's VM; MIGRATE (lm connects, handshakes, sends CONFIG:
 *   a destination that refuses the layout stops us here, the VM never
 *   paused); have the VMM stop the VM and save its state (vmm.h: lmvm's
 *   control socket or QEMU's QMP); SWITCHOVER with the state file (lm
 *   sends memory, state and COMMIT); wait for the destination's verdict.
 *
 * On failure the VM is resumed here, unless COMMIT was sent and the
 * destination did not say it refused: then it may already run there, and
 * the VM stays paused for the operator to decide. Should lmctl die, its
 * guardian (guardian.c) does the same.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/lm.h>
#include <linux/lm_wire.h>

#include "guardian.h"
#include "vmm.h"
#include "conn.h"
#include "xfer.h"

static const char *const send_methods[] = {
	[LM_SEND_DEFAULT] = "default",
	[LM_SEND_SENDPAGE] = "sendpage",
	[LM_SEND_COPY] = "copy",
	[LM_SEND_ZEROCOPY] = "zerocopy",
};

static bool parse_send_method(const char *s, uint32_t *method)
{
	uint32_t i;

	for (i = 0; i < ARRAY_SIZE(send_methods); i++) {
		if (!strcmp(s, send_methods[i])) {
			*method = i;
			return true;
		}
	}
	return false;
}

/* "300ms", "2s" or a number of milliseconds, 1 ms to 30 s. */
static bool parse_ms(const char *s, uint32_t *ms)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (end == s)
		return false;
	if (!strcmp(end, "s"))
		v *= 1000;
	else if (*end && strcmp(end, "ms"))
		return false;
	if (!v || v > 30000)
		return false;
	*ms = v;
	return true;
}

/* "100M", "1G", "500K" or bytes: a rate in bytes per second (binary units). */
static bool parse_rate(const char *s, uint64_t *rate)
{
	char *end;
	unsigned long long v;
	unsigned int shift = 0;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return false;
	if (*end == 'K' || *end == 'k')
		shift = 10;
	else if (*end == 'M' || *end == 'm')
		shift = 20;
	else if (*end == 'G' || *end == 'g')
		shift = 30;
	if (shift)
		end++;
	if (*end || !v || v > (UINT64_MAX >> shift))
		return false;
	*rate = (uint64_t)v << shift;
	return true;
}

/*
 * --auto-converge, as QEMU does it: when a pre-copy round leaves a dirty
 * set more than half the size of the previous one, the guest dirties
 * memory about as fast as the link drains it and the rounds will not
 * converge; slow its vCPUs down through the VMM ("throttle PCT": they sleep
 * PCT% of the time), 20% first, 10% more after each such round, 99% at
 * most.
 */
struct converge {
	uint32_t round;		/* the last harvest seen */
	uint64_t dirty;		/* the pages it found dirty */
	uint32_t pct;		/* the guest's throttle */
};

static int converge_step(struct converge *c, struct vmm *vmm,
			 const struct lm_xfer_status *st, bool progress)
{
	uint32_t pct;

	if (st->phase != LM_PHASE_PRECOPY || st->round <= c->round)
		return 0;
	/* st->dirty_pages: what the harvest before round st->round found. */
	if (c->round && st->dirty_pages * 2 > c->dirty && c->pct < 99) {
		pct = c->pct ? c->pct + 10 : 20;
		if (pct > 99)
			pct = 99;
		if (vmm->ops->throttle(vmm, pct))
			return -1;
		c->pct = pct;
		fprintf(stderr, "%sround %u: %llu pages dirty (%llu before): guest throttled to %u%%\n",
			progress ? "\n" : "", st->round,
			(unsigned long long)st->dirty_pages,
			(unsigned long long)c->dirty, pct);
	}
	c->round = st->round;
	c->dirty = st->dirty_pages;
	return 0;
}

/*
 * xfer_wait() for the pre-copy, looking at each round's dirty set; 1 when
 * the VMM refused to be throttled (said already).
 */
static int wait_converging(struct lmctl *ctx, struct lm_nl *ev, uint32_t id,
			   struct vmm *vmm, struct converge *c,
			   bool progress, struct lm_xfer_status *st)
{
	int ret;

	for (;;) {
		ret = xfer_wait(ctx, ev, id,
				XFER_PHASE(LM_PHASE_WAIT_SWITCHOVER), 100,
				progress, st);
		if (ret != -ETIMEDOUT)
			return ret;
		if (converge_step(c, vmm, st, progress))
			return 1;
	}
}

/*
 * @save_ns of the downtime went to the VMM stopping and saving its state,
 * before lm's stop-and-copy (st->stopcopy_ns, SWITCHOVER to the
 * destination's acknowledgement that it runs the VM).
 */
static void report(struct lmctl *ctx, const struct lm_xfer_status *st,
		   uint64_t downtime_ns, uint64_t save_ns, uint64_t total_ns)
{
	if (ctx->json) {
		jw_object_begin(&ctx->out, NULL);
		jw_string(&ctx->out, "role", "source");
		jw_string(&ctx->out, "mode",
			    st->mode == LM_WIRE_MODE_LIVE ? "live" : "quick");
		xfer_json_status(&ctx->out, st);
		jw_u64(&ctx->out, "total_ns", total_ns);
		jw_u64(&ctx->out, "downtime_ns", downtime_ns);
		jw_u64(&ctx->out, "save_ns", save_ns);
		jw_u64(&ctx->out, "stopcopy_ns", st->stopcopy_ns);
		jw_u64(&ctx->out, "final_dirty_pages", st->dirty_pages);
		jw_object_end(&ctx->out);
		return;
	}
	printf("migrated vm %u (%s): %llu pages (%llu zero, %llu unbacked), %.1f MiB sent, state %llu bytes, %u round%s\n",
	       st->vm_id, st->mode == LM_WIRE_MODE_LIVE ? "live" : "quick",
	       (unsigned long long)st->pages,
	       (unsigned long long)st->zero_pages,
	       (unsigned long long)st->hole_pages, st->bytes / 1048576.0,
	       (unsigned long long)st->state_size, st->round + 1,
	       st->round ? "s" : "");
	printf("total %.3f s, downtime %.3f s (pause to resume acknowledged), send thread CPU %.3f s\n",
	       total_ns / 1e9, downtime_ns / 1e9, st->cpu_ns / 1e9);
	printf("the pause: %.3f s for the VMM to stop and save its state, %.3f s of stop-and-copy (last pages, state, COMMIT, the destination's load and resume)\n",
	       save_ns / 1e9, st->stopcopy_ns / 1e9);
	xfer_print_compression(st);
}

/* "zstd", "zstd:LEVEL" or "none". */
static bool parse_compress(const char *s, struct lm_migrate_opts *o)
{
	uint32_t level;

	if (!strcmp(s, "none")) {
		o->compress = LM_COMPRESS_NONE;
		o->compress_level = 0;
		return true;
	}
	if (strncmp(s, "zstd", 4))
		return false;
	if (s[4] == ':') {
		if (!lmctl_parse_u32(s + 5, LM_COMPRESS_LEVEL_MAX, &level) ||
		    level < LM_COMPRESS_LEVEL_MIN)
			return false;
		o->compress_level = level;
	} else if (s[4]) {
		return false;
	}
	o->compress = LM_COMPRESS_ZSTD;
	return true;
}

int lmctl_cmd_migrate(struct lmctl *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "control", required_argument, NULL, 'c' },
		{ "qmp", required_argument, NULL, 'Q' },
		{ "to", required_argument, NULL, 't' },
		{ "mode", required_argument, NULL, 'm' },
		{ "send-method", required_argument, NULL, 'S' },
		{ "max-rounds", required_argument, NULL, 'r' },
		{ "max-downtime", required_argument, NULL, 'd' },
		{ "handover", required_argument, NULL, 'H' },
		{ "bandwidth", required_argument, NULL, 'b' },
		{ "auto-converge", no_argument, NULL, 'a' },
		{ "no-progress", no_argument, NULL, 'q' },
		{ "psk-file", required_argument, NULL, 'K' },
		{ "insecure", no_argument, NULL, 'I' },
		{ "compress", required_argument, NULL, 'z' },
		{ }
	};
	const char *control = NULL, *qmp = NULL, *to = NULL, *handover = NULL;
	const char *psk_file = NULL;
	struct conn_opts copts = { 0 };
	bool insecure = false;
	struct tls_psk psk;
	int sock_fd = -1;
	uint32_t pid = 0, mode = LM_WIRE_MODE_LIVE, method = 0;
	struct lm_migrate_opts opts = { 0 };
	uint64_t t_start, t_pause = 0, t_saved = 0;
	char state_path[] = "/tmp/lm-state-tx-XXXXXX";
	int c, ret, state_fd = -1, status = LMCTL_EXIT_FAILURE;
	bool attached = false, paused = false, switched = false, progress;
	bool auto_converge = false;
	struct converge converge = { 0 };
	struct lm_nl *nl, *ev = NULL;
	struct lm_xfer_status st;
	struct vmm vmm = { .fd = -1 };
	struct guardian guard = { .fd = -1 };
	struct xfer_addr addr;
	uint32_t id;

	progress = isatty(STDERR_FILENO);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":p:c:Q:t:m:S:r:d:H:b:aqK:Iz:", longopts,
				NULL)) != -1) {
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
		case 't':
			to = optarg;
			break;
		case 'm':
			if (!strcmp(optarg, "quick"))
				mode = LM_WIRE_MODE_QUICK;
			else if (!strcmp(optarg, "live"))
				mode = LM_WIRE_MODE_LIVE;
			else
				return lmctl_usage_error(ctx, "mode must be quick or live, not '%s'",
							 optarg);
			break;
		case 'S':
			if (!parse_send_method(optarg, &method))
				return lmctl_usage_error(ctx, "unknown send method '%s'",
							 optarg);
			break;
		case 'r':
			if (!lmctl_parse_u32(optarg, 10000, &opts.max_rounds))
				return lmctl_usage_error(ctx, "invalid round count '%s' (0 to 10000)",
							 optarg);
			break;
		case 'd':
			if (!parse_ms(optarg, &opts.max_downtime_ms))
				return lmctl_usage_error(ctx, "invalid downtime '%s' (1ms to 30s, e.g. 300ms)",
							 optarg);
			break;
		case 'H':
			handover = optarg;
			break;
		case 'b':
			if (!parse_rate(optarg, &opts.bandwidth))
				return lmctl_usage_error(ctx, "invalid bandwidth '%s' (bytes per second, K, M or G suffix, e.g. 100M)",
							 optarg);
			break;
		case 'a':
			auto_converge = true;
			break;
		case 'q':
			progress = false;
			break;
		case 'K':
			psk_file = optarg;
			break;
		case 'I':
			insecure = true;
			break;
		case 'z':
			if (!parse_compress(optarg, &opts))
				return lmctl_usage_error(ctx, "invalid compression '%s' (none, zstd or zstd:LEVEL, LEVEL %d to %d)",
							 optarg, LM_COMPRESS_LEVEL_MIN,
							 LM_COMPRESS_LEVEL_MAX);
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
	if (!control == !qmp || !to)
		return lmctl_usage_error(ctx, "--to and one of --control (lmvm) or --qmp (QEMU) are required");
	if (!xfer_parse_addr(to, false, &addr))
		return lmctl_usage_error(ctx, "invalid destination '%s' (ADDR:PORT or [ADDR6]:PORT)",
					 to);
	if (ctx->json)
		progress = false;
	if (psk_file && insecure)
		return lmctl_usage_error(ctx, "--psk-file and --insecure exclude each other");
	if (!psk_file && !insecure)
		return lmctl_usage_error(ctx, "no --psk-file: give the key shared with the destination, or --insecure for plain TCP that anyone on the path can read and alter");
	if (psk_file) {
		if (tls_psk_load(psk_file, &psk))
			return LMCTL_EXIT_FAILURE;
		copts.psk = &psk;
	}

	nl = lmctl_nl(ctx);
	if (!nl)
		return LMCTL_EXIT_FAILURE;
	xfer_catch_signals();
	/* Without events we poll STATUS: slower to notice, still correct. */
	if (lm_nl_events_open(&ev))
		ev = NULL;
	if (vmm_open(&vmm, qmp ? VMM_QEMU : VMM_LMVM, qmp ? qmp : control, pid))
		goto out;
	if (auto_converge && mode == LM_WIRE_MODE_LIVE &&
	    vmm.kind == VMM_QEMU) {
		lmctl_err("--auto-converge throttles lmvm only: QEMU throttles its vCPUs in a migration of its own");
		goto out;
	}
	if (vmm.ops->prepare(&vmm, false))
		goto out;
	ctx->vmm_fd = vmm.fd;
	if (xfer_attach(ctx, vmm.pid, &id, &attached))
		goto out;
	if (guardian_start(&guard, &vmm, id, attached))
		goto out;

	t_start = xfer_now_ns();
	opts.mode = mode;
	opts.send_method = method;
	/* As receive does for QEMU: its slots differ from the destination's. */
	opts.key_by_backing = vmm.kind == VMM_QEMU;
	/* lm takes over the connection once the peer is authenticated. */
	sock_fd = conn_connect(&addr, &copts);
	if (sock_fd < 0)
		goto out;
	opts.sock_fd = sock_fd;
	opts.insecure = insecure;
	ret = lm_nl_migrate(nl, id, NULL, 0, 0, &opts);
	close(sock_fd);
	if (ret) {
		lmctl_fail(ctx, ret, NULL, "migrate vm %u to %s", id, addr.text);
		goto out;
	}
	if (auto_converge && mode == LM_WIRE_MODE_LIVE)
		ret = wait_converging(ctx, ev, id, &vmm, &converge, progress,
				      &st);
	else
		ret = xfer_wait(ctx, ev, id,
				XFER_PHASE(LM_PHASE_WAIT_SWITCHOVER), -1,
				progress, &st);
	if (ret > 0)
		goto out_cancel;
	if (ret) {
		lmctl_fail(ctx, ret, xfer_wait_why(ret),
			   "wait for the destination");
		goto out_cancel;
	}
	if (st.phase == LM_PHASE_FAILED) {
		lmctl_err("migration to %s failed in phase %s: %s (%s); the VM was not paused",
			  addr.text, xfer_phase_name(st.failed_phase),
			  st.message, xfer_reason_name(st.reason));
		goto out;
	}

	/* Switchover: from here on the guest is down. */
	state_fd = mkstemp(state_path);
	if (state_fd < 0) {
		lmctl_err("cannot create a state file: %s", strerror(errno));
		goto out_cancel;
	}
	if (guardian_pausing(&guard))
		goto out_cancel;
	t_pause = xfer_now_ns();
	/* Whatever happens from here, the guest may be stopped. */
	paused = true;
	if (vmm.ops->save(&vmm, state_fd, state_path))
		goto out_cancel;
	t_saved = xfer_now_ns();
	/* Storage moves now: the guest no longer writes to it. */
	if (handover && xfer_handover(handover, "source", id))
		goto out_cancel;
	ret = lm_nl_switchover(nl, id, state_fd);
	if (ret) {
		lmctl_fail(ctx, ret, NULL, "switch vm %u over", id);
		goto out_cancel;
	}
	switched = true;
	/*
	 * From here lm has the state and holds the guest's memory: a VMM
	 * that dies now does not take the VM with it, the transfer goes on
	 * and the destination runs it. Its death is no longer a reason to
	 * cancel.
	 */
	ctx->vmm_fd = -1;
	ret = xfer_wait(ctx, ev, id, 0, -1, progress, &st);
	if (ret) {
		lmctl_fail(ctx, ret, xfer_wait_why(ret),
			   "wait for the transfer");
		goto out_cancel;
	}
	if (st.phase == LM_PHASE_DONE) {
		/* The VM runs at the destination: it must never run here. */
		paused = false;
		report(ctx, &st, xfer_now_ns() - t_pause, t_saved - t_pause,
		       xfer_now_ns() - t_start);
		status = LMCTL_EXIT_OK;
		goto out;
	}

	lmctl_err("migration to %s failed in phase %s: %s (%s)", addr.text,
		  xfer_phase_name(st.failed_phase), st.message,
		  xfer_reason_name(st.reason));
	if (!xfer_may_resume(&st)) {
		lmctl_err("COMMIT was sent and the destination did not refuse it: it may run the VM; the VM stays paused here");
		paused = false;
		status = LMCTL_EXIT_UNCERTAIN;
	}
	goto out;

out_cancel:
	lm_nl_cancel(nl, id);
	/*
	 * The transfer may have gone too far to give the VM back. Once lm
	 * has the switchover, a transfer that cannot be read any more (the
	 * VM detached under us) may have sent COMMIT: as the guardian does,
	 * the VM then stays paused.
	 */
	if (paused) {
		ret = xfer_wait(ctx, NULL, id, 0, 10000, false, &st);
		if (ret ? switched : st.phase == LM_PHASE_DONE ||
				     !xfer_may_resume(&st)) {
			if (ret)
				lmctl_err("the transfer of vm %u cannot be read after the switchover (%s): COMMIT may have been sent",
					  id, xfer_wait_why(ret) ?: strerror(-ret));
			lmctl_err("the destination may run the VM: it stays paused here");
			paused = false;
			if (ret || st.phase != LM_PHASE_DONE)
				status = LMCTL_EXIT_UNCERTAIN;
		}
	}
out:
	/* A VM that runs here again runs at full speed. */
	if (converge.pct && status != LMCTL_EXIT_OK)
		vmm.ops->throttle(&vmm, 0);
	if (paused && !vmm.ops->resume(&vmm))
		lmctl_err("the VM runs here again");
	guardian_release(&guard);
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

// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers of the migrate, receive and status subcommands (see xfer.h).
 */
/* POLLRDHUP */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/lm.h>
#include <linux/lm_wire.h>

#include "xfer.h"

bool xfer_parse_addr(const char *s, bool port_may_be_zero,
		     struct xfer_addr *a)
{
	char host[64];
	const char *colon;
	uint32_t port;
	size_t n;

	memset(a, 0, sizeof(*a));
	snprintf(a->text, sizeof(a->text), "%s", s);
	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (!end || end[1] != ':')
			return false;
		n = end - s - 1;
		colon = end + 1;
		s++;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return false;
		n = colon - s;
	}
	if (!n || n >= sizeof(host))
		return false;
	memcpy(host, s, n);
	host[n] = '\0';
	if (!lmctl_parse_u32(colon + 1, 65535, &port) ||
	    (!port && !port_may_be_zero))
		return false;
	a->port = port;
	if (inet_pton(AF_INET, host, a->addr) == 1) {
		a->len = 4;
		return true;
	}
	if (inet_pton(AF_INET6, host, a->addr) == 1) {
		a->len = 16;
		return true;
	}
	return false;
}

int xfer_attach(struct lmctl *ctx, pid_t pid, uint32_t *id, bool *attached)
{
	struct lm_nl *nl = lmctl_nl(ctx);
	struct lm_vm_list list;
	int fd, ret;
	size_t i;

	*attached = false;
	if (!nl)
		return -1;
	fd = lmctl_grab_vm_fd(pid, -1);
	if (fd < 0)
		return -1;
	ret = lm_nl_attach(nl, fd, pid, id);
	close(fd);
	if (!ret) {
		*attached = true;
		return 0;
	}
	if (ret != -EEXIST)
		return lmctl_fail(ctx, ret, NULL, "attach the VM of pid %d",
				  (int)pid), -1;

	/* Attached before: use it, and leave it attached afterwards. */
	ret = lm_nl_list(nl, false, 0, &list);
	if (ret) {
		lm_vm_list_free(&list);
		return lmctl_fail(ctx, ret, NULL, "list attached VMs"), -1;
	}
	ret = -1;
	for (i = 0; i < list.nr_vms; i++) {
		if (list.vms[i].pid == (uint32_t)pid) {
			*id = list.vms[i].id;
			ret = 0;
			break;
		}
	}
	lm_vm_list_free(&list);
	if (ret)
		lmctl_err("the VM of pid %d is attached but not listed", (int)pid);
	return ret;
}

int xfer_handover(const char *cmd, const char *role, uint32_t id)
{
	char idbuf[16];
	int status;
	pid_t pid;

	snprintf(idbuf, sizeof(idbuf), "%u", id);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		lmctl_err("hand-over: fork: %s", strerror(errno));
		return -1;
	}
	if (!pid) {
		setenv("LM_ROLE", role, 1);
		setenv("LM_VM_ID", idbuf, 1);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			lmctl_err("hand-over: waitpid: %s", strerror(errno));
			return -1;
		}
	}
	if (WIFEXITED(status) && !WEXITSTATUS(status))
		return 0;
	if (WIFEXITED(status))
		lmctl_err("hand-over command '%s' failed with status %d", cmd,
			  WEXITSTATUS(status));
	else
		lmctl_err("hand-over command '%s' was killed by signal %d", cmd,
			  WTERMSIG(status));
	return -1;
}

uint64_t xfer_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static const char *const phase_names[] = {
	[LM_PHASE_NONE] = "none",
	[LM_PHASE_LISTENING] = "listening",
	[LM_PHASE_CONNECTING] = "connecting",
	[LM_PHASE_HANDSHAKE] = "handshake",
	[LM_PHASE_CONFIG] = "config",
	[LM_PHASE_PRECOPY] = "pre-copy",
	[LM_PHASE_WAIT_SWITCHOVER] = "wait-switchover",
	[LM_PHASE_STOPCOPY] = "stop-and-copy",
	[LM_PHASE_STATE] = "state",
	[LM_PHASE_COMMIT] = "commit",
	[LM_PHASE_DONE] = "done",
	[LM_PHASE_FAILED] = "failed",
};

const char *xfer_phase_name(uint32_t phase)
{
	if (phase < ARRAY_SIZE(phase_names) && phase_names[phase])
		return phase_names[phase];
	return "unknown";
}

static const char *const reason_names[] = {
	[LM_WIRE_REASON_NONE] = "none",
	[LM_WIRE_REASON_CANCELLED] = "cancelled",
	[LM_WIRE_REASON_MAGIC] = "not-lm",
	[LM_WIRE_REASON_VERSION] = "version",
	[LM_WIRE_REASON_FEATURES] = "features",
	[LM_WIRE_REASON_ROLE] = "role",
	[LM_WIRE_REASON_PAGE_SIZE] = "page-size",
	[LM_WIRE_REASON_VCPUS] = "vcpus",
	[LM_WIRE_REASON_NR_SLOTS] = "slot-count",
	[LM_WIRE_REASON_SLOT] = "slot",
	[LM_WIRE_REASON_PROTOCOL] = "protocol",
	[LM_WIRE_REASON_CRC] = "crc",
	[LM_WIRE_REASON_STATE] = "state",
	[LM_WIRE_REASON_RESUME] = "resume",
	[LM_WIRE_REASON_VM_GONE] = "vm-gone",
	[LM_WIRE_REASON_INTERNAL] = "internal",
	[LM_WIRE_REASON_TIMEOUT] = "timeout",
	[LM_WIRE_REASON_INCOMPLETE] = "incomplete",
	[LM_WIRE_REASON_CONNECTION] = "connection",
};

const char *xfer_reason_name(uint32_t reason)
{
	if (reason < ARRAY_SIZE(reason_names) && reason_names[reason])
		return reason_names[reason];
	return "unknown";
}

static void xfer_progress(const struct lm_xfer_status *st)
{
	double pct = st->total_pages ? 100.0 * st->pages / st->total_pages : 0;

	fprintf(stderr, "\r%-15s round %u  %6.1f%%  %llu/%llu pages (%llu zero)  %llu dirty  %.1f MiB  %.2f s   ",
		xfer_phase_name(st->phase), st->round, pct,
		(unsigned long long)st->pages,
		(unsigned long long)st->total_pages,
		(unsigned long long)st->zero_pages,
		(unsigned long long)st->dirty_pages, st->bytes / 1048576.0,
		st->elapsed_ns / 1e9);
}

/* What compression saved, one line, when the transfer compressed. */
void xfer_print_compression(const struct lm_xfer_status *st)
{
	if (st->compress != LM_COMPRESS_ZSTD)
		return;
	printf("page data %.1f MiB, %.1f MiB on the wire (zstd, %.2fx), %llu batches compressed\n",
	       st->data_bytes / 1048576.0, st->wire_data_bytes / 1048576.0,
	       st->wire_data_bytes ? (double)st->data_bytes / st->wire_data_bytes : 1.0,
	       (unsigned long long)st->zstd_batches);
}

static volatile sig_atomic_t xfer_interrupted;

static void xfer_on_signal(int sig)
{
	(void)sig;
	xfer_interrupted = 1;
}

void xfer_catch_signals(void)
{
	struct sigaction sa = { .sa_handler = xfer_on_signal };

	/* No SA_RESTART: poll() and usleep() return at once. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

const char *xfer_wait_why(int err)
{
	if (err == -EINTR)
		return "interrupted";
	if (err == -EPIPE)
		return "the VMM closed its socket: it exited";
	if (err == -ENOPKG)
		return "the lm module was unloaded, which cancelled the transfer";
	return NULL;
}

/* Has the VMM closed its end of @fd (it exited)? */
static bool vmm_gone(int fd)
{
	struct pollfd pfd = { fd, POLLRDHUP, 0 };

	return fd >= 0 && poll(&pfd, 1, 0) == 1 &&
	       (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* Is lm gone, or on its way out (its family is unregistered first)? */
static bool lm_unloading(void)
{
	char state[16] = "";
	FILE *f = fopen("/sys/module/lm/initstate", "r");

	if (!f)
		return true;
	if (!fgets(state, sizeof(state), f))
		state[0] = '\0';
	fclose(f);
	return !strncmp(state, "going", 5);
}

int xfer_wait(struct lmctl *ctx, struct lm_nl *ev, uint32_t id,
	      uint32_t mask, int timeout_ms, bool progress,
	      struct lm_xfer_status *st)
{
	uint64_t deadline = timeout_ms < 0 ? UINT64_MAX :
			    xfer_now_ns() + timeout_ms * 1000000ULL;
	struct lm_nl *nl = lmctl_nl(ctx);
	int ret;

	mask |= XFER_PHASE(LM_PHASE_DONE) | XFER_PHASE(LM_PHASE_FAILED);
	for (;;) {
		struct lm_xfer_status event;

		/* STATUS is the reference; events only wake us early. */
		ret = lm_nl_xfer_status(nl, id, st);
		/* Our family gone with the module: say so, not "no such file". */
		if (ret == -ENOENT && lm_unloading())
			return -ENOPKG;
		if (ret)
			return ret;
		if (progress)
			xfer_progress(st);
		if (st->phase < 32 && (mask & XFER_PHASE(st->phase)))
			break;
		if (xfer_now_ns() > deadline)
			return -ETIMEDOUT;
		if (vmm_gone(ctx->vmm_fd))
			return -EPIPE;
		if (xfer_interrupted) {
			xfer_interrupted = 0;
			if (progress)
				fputc('\n', stderr);
			return -EINTR;
		}
		if (ev) {
			ret = lm_nl_event_wait(ev, 200, &event);
			if (ret && ret != -ETIMEDOUT && ret != -EAGAIN &&
			    ret != -ENOMEM && ret != -EINTR)
				return ret;
		} else {
			usleep(20000);
		}
	}
	if (progress)
		fputc('\n', stderr);
	return 0;
}

bool xfer_may_resume(const struct lm_xfer_status *st)
{
	return st->failed_phase < LM_PHASE_COMMIT || st->err == ECONNABORTED;
}

void xfer_json_status(struct json *j, const struct lm_xfer_status *st)
{
	jw_u64(j, "vm", st->vm_id);
	jw_string(j, "phase", xfer_phase_name(st->phase));
	jw_u64(j, "round", st->round);
	jw_u64(j, "dirty_pages", st->dirty_pages);
	jw_u64(j, "pages", st->pages);
	jw_u64(j, "zero_pages", st->zero_pages);
	jw_u64(j, "hole_pages", st->hole_pages);
	jw_u64(j, "total_pages", st->total_pages);
	jw_u64(j, "bytes", st->bytes);
	jw_u64(j, "state_bytes", st->state_size);
	jw_u64(j, "elapsed_ns", st->elapsed_ns);
	jw_u64(j, "cpu_ns", st->cpu_ns);
	jw_string(j, "compress", st->compress == LM_COMPRESS_ZSTD ? "zstd" : "none");
	jw_u64(j, "data_bytes", st->data_bytes);
	jw_u64(j, "wire_data_bytes", st->wire_data_bytes);
	jw_u64(j, "zstd_batches", st->zstd_batches);
	if (st->phase == LM_PHASE_FAILED) {
		jw_string(j, "failed_phase", xfer_phase_name(st->failed_phase));
		jw_string(j, "reason", xfer_reason_name(st->reason));
		jw_u64(j, "errno", st->err);
		jw_string(j, "message", st->message);
	}
}

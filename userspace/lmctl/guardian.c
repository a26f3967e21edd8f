// SPDX-License-Identifier: GPL-2.0
/*
 * The guardian of a paused source VM.
 *
 * lmctl migrate pauses the source VM for the switchover and resumes it if
 * the migration fails. If lmctl itself dies while the VM is paused (killed,
 * out of memory, a crash), nobody would resume it, and the operator's VM
 * would stay down. So before pausing, lmctl forks a guardian: a process in
 * a session of its own that shares nothing with lmctl but a socket pair
 * (no netlink socket: lm cancels a transfer when the netlink socket that
 * started it closes, and that must happen when lmctl dies). The guardian
 * is started once the VM is attached, is told before lmctl pauses the VM,
 * and sleeps until lmctl either says the outcome is settled or dies, which
 * it sees as the end of file on the pair. Only then does it connect to the
 * VMM: QEMU's QMP socket serves one client at a time.
 *
 * Then the guardian waits for lm to end the transfer (the cancel above),
 * reads how it ended, and does what lmctl would have done: if the VM was
 * paused, resume it when the destination cannot run it (the transfer
 * failed before COMMIT, or the destination refused it), and leave it
 * paused, saying so, when the destination took it over or may have
 * (COMMIT sent, no answer): a VM must never run on two hosts. A VM that
 * lmctl attached is detached, which also ends its dirty logging.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/close_range.h>
#include <linux/lm.h>
#include <sys/syscall.h>

#include "guardian.h"
#include "vmm.h"
#include "xfer.h"

/* What lmctl tells the guardian: it is about to pause the VM, */
#define GUARDIAN_PAUSING	'P'
/* and the migration's outcome is handled. */
#define GUARDIAN_SETTLED	'S'
/* What the guardian tells lmctl once it can act. */
#define GUARDIAN_READY		'R'

/* How long lm may take to end a transfer whose requester is gone. */
#define GUARDIAN_WAIT_MS	60000
/* How long the VMM's socket may take to accept us once lmctl is gone. */
#define GUARDIAN_CONNECT_MS	10000

/* Wait for the transfer of @id to end; 0 with its status, else -errno. */
static int wait_transfer_end(struct lm_nl *nl, uint32_t id,
			     struct lm_xfer_status *st)
{
	uint64_t deadline = xfer_now_ns() + GUARDIAN_WAIT_MS * 1000000ULL;
	int ret;

	for (;;) {
		ret = lm_nl_xfer_status(nl, id, st);
		if (ret)
			return ret;
		if (st->phase == LM_PHASE_DONE || st->phase == LM_PHASE_FAILED)
			return 0;
		if (xfer_now_ns() > deadline)
			return -ETIMEDOUT;
		usleep(50000);
	}
}

/* A connection to the VMM lmctl had, once lmctl's is closed. */
static int reconnect(struct vmm *v, const struct vmm *was)
{
	uint64_t deadline = xfer_now_ns() + GUARDIAN_CONNECT_MS * 1000000ULL;

	while (vmm_open(v, was->kind, was->path, was->pid)) {
		if (xfer_now_ns() > deadline)
			return -1;
		usleep(100000);
	}
	return 0;
}

/* lmctl is gone: act for it. Returns the exit status. */
static int guard(const struct vmm *was, uint32_t id, bool paused, bool detach)
{
	struct vmm vmm = { .fd = -1 }, *v = &vmm;
	struct lm_xfer_status st;
	struct lm_nl *nl;
	int ret;

	ret = lm_nl_open(&nl);
	if (ret) {
		lmctl_err("guardian: cannot reach lm (%s)%s", strerror(-ret),
			  paused ? "; the VM stays paused" : "");
		return 1;
	}
	ret = wait_transfer_end(nl, id, &st);
	if ((!paused || (!ret && st.phase != LM_PHASE_DONE &&
			 xfer_may_resume(&st))) && reconnect(v, was)) {
		lmctl_err("guardian: lmctl migrate died and %s at %s does not answer: vm %u %s",
			  was->ops->name, was->path, id,
			  paused ? "stays paused" : "may stay throttled");
		ret = 1;
	} else if (!paused) {
		/* Auto-converge may have slowed the guest down. */
		v->ops->throttle(v, 0);
		lmctl_err("guardian: lmctl migrate died before pausing vm %u; it runs here as before",
			  id);
		ret = 0;
	} else if (ret) {
		lmctl_err("guardian: lmctl migrate died and the transfer of vm %u cannot be read (%s): the destination may run the VM; it stays paused here",
			  id, strerror(-ret));
	} else if (st.phase == LM_PHASE_DONE) {
		lmctl_err("guardian: lmctl migrate died after the destination took vm %u over; it stays paused here",
			  id);
	} else if (!xfer_may_resume(&st)) {
		lmctl_err("guardian: lmctl migrate died after COMMIT was sent (phase %s): the destination may run vm %u; it stays paused here",
			  xfer_phase_name(st.failed_phase), id);
		ret = 1;
	} else {
		v->ops->throttle(v, 0);
		ret = v->ops->resume(v);
		if (!ret)
			lmctl_err("guardian: lmctl migrate died in phase %s; vm %u runs here again",
				  xfer_phase_name(st.failed_phase), id);
	}
	if (detach)
		lm_nl_detach(nl, id);
	lm_nl_close(nl);
	vmm_close(v);
	return ret ? 1 : 0;
}

static void __attribute__((noreturn))
guardian_main(int fd, const struct vmm *was, uint32_t id, bool detach)
{
	char c = GUARDIAN_READY;
	bool paused = false;
	ssize_t n;
	int null;

	/*
	 * Only the pair and stderr stay open: lmctl's netlink sockets must
	 * close when lmctl dies, and a script reading lmctl's stdout must
	 * see its end then too.
	 */
	if (dup2(fd, 3) < 0)
		_exit(1);
	syscall(SYS_close_range, 4U, ~0U, 0U);
	fd = 3;
	null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		if (null > 3)
			close(null);
	}
	/* A signal meant for lmctl (^C, its process group) is not for us. */
	setsid();
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);

	if (send(fd, &c, 1, MSG_NOSIGNAL) != 1)
		_exit(1);
	for (;;) {
		n = recv(fd, &c, 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 1 && c == GUARDIAN_PAUSING) {
			paused = true;
			continue;
		}
		break;
	}
	if (n == 1 && c == GUARDIAN_SETTLED)
		_exit(0);
	_exit(guard(was, id, paused, detach));
}

int guardian_start(struct guardian *g, const struct vmm *vmm, uint32_t vm_id,
		   bool detach)
{
	int sv[2], status;
	char c;

	g->pid = -1;
	g->fd = -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		lmctl_err("cannot start the guardian: %s", strerror(errno));
		return -1;
	}
	/* Whatever lmctl has buffered must not be written twice. */
	fflush(stdout);
	fflush(stderr);
	g->pid = fork();
	if (g->pid < 0) {
		lmctl_err("cannot start the guardian: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (!g->pid)
		guardian_main(sv[1], vmm, vm_id, detach);
	close(sv[1]);
	g->fd = sv[0];
	if (recv(g->fd, &c, 1, 0) != 1 || c != GUARDIAN_READY) {
		lmctl_err("the guardian could not start");
		close(g->fd);
		g->fd = -1;
		waitpid(g->pid, &status, 0);
		g->pid = -1;
		return -1;
	}
	return 0;
}

int guardian_pausing(struct guardian *g)
{
	char c = GUARDIAN_PAUSING;

	if (send(g->fd, &c, 1, MSG_NOSIGNAL) != 1) {
		lmctl_err("the guardian is gone (%s): not pausing the VM",
			  strerror(errno));
		return -1;
	}
	return 0;
}

void guardian_release(struct guardian *g)
{
	char c = GUARDIAN_SETTLED;
	int status;

	if (g->fd < 0)
		return;
	send(g->fd, &c, 1, MSG_NOSIGNAL);
	close(g->fd);
	g->fd = -1;
	waitpid(g->pid, &status, 0);
	g->pid = -1;
}

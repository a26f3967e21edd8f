// SPDX-License-Identifier: GPL-2.0
/*
 * QEMU configurations lm cannot migrate exactly are refused by lmctl
 * before anything changes: the command fails naming the reason, the VM
 * stays as it was (running, or waiting for an incoming VM), and nothing is
 * attached to lm. Each variant starts one unmodified QEMU 7.2 (nested KVM,
 * lm-guest) with one such device or backend:
 *
 *  - a virtio balloon (it discards guest pages without writing them);
 *  - a second balloon, without an id (QOM's peripheral-anon container);
 *  - guest RAM in a private (share=off) backend, which QEMU's own stream
 *    would carry over lm's pages;
 *  - a vhost-user device (virtio-fs, with QEMU's virtiofsd as its
 *    backend): its state lives in another process;
 *  - KVM's dirty ring instead of its dirty log (refused by lm's MIGRATE
 *    for a live migration: the pre-copy needs the log);
 *  - with nothing refused, the same command gets past the checks (it then
 *    fails for want of a destination, at the connection), so the test
 *    can tell a refusal from any other failure.
 */
#include "kselftest_harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qemu_util.h"
#include "sh_util.h"

#define MEM_MIB		64

FIXTURE(qemu_refusal)
{
	struct qemu q;
	char err[128];
	pid_t virtiofsd;
	int listen_fd;			/* a destination that never answers */
	char to[32];
};

FIXTURE_VARIANT(qemu_refusal)
{
	const char *const *extra;
	const char *accel;
	bool listener;			/* refused by lm, once connected */
	bool virtiofs;			/* start virtiofsd for the device */
	bool private_ram;
	bool receive;			/* refused by receive, not migrate */
	const char *reason;		/* in lmctl's message; NULL: not refused */
	const char *status;		/* query-status before and after */
};

static const char *const balloon[] = {
	"-device", "virtio-balloon-pci,id=balloon0", NULL
};
#define VIRTIOFSD	"/usr/lib/qemu/virtiofsd"
#define VIRTIOFS_SOCK	"/tmp/lmrefusal-vfs.sock"
static const char *const vhost_user_fs[] = {
	"-chardev", "socket,id=vfs,path=" VIRTIOFS_SOCK,
	"-device", "vhost-user-fs-pci,chardev=vfs,tag=lm", NULL
};
static const char *const balloon_anon[] = {
	"-device", "virtio-balloon-pci", NULL
};

FIXTURE_VARIANT_ADD(qemu_refusal, balloon) {
	.extra = balloon, .reason = "balloon", .status = "running",
};
FIXTURE_VARIANT_ADD(qemu_refusal, balloon_no_id) {
	.extra = balloon_anon, .reason = "balloon", .status = "running",
};
FIXTURE_VARIANT_ADD(qemu_refusal, balloon_receive) {
	.extra = balloon, .receive = true, .reason = "balloon",
	.status = "inmigrate",
};
FIXTURE_VARIANT_ADD(qemu_refusal, private_ram) {
	.private_ram = true, .receive = true, .reason = "not shared",
	.status = "inmigrate",
};
FIXTURE_VARIANT_ADD(qemu_refusal, vhost_user) {
	.extra = vhost_user_fs, .virtiofs = true, .reason = "vhost-user",
	.status = "running",
};
FIXTURE_VARIANT_ADD(qemu_refusal, dirty_ring) {
	.accel = "kvm,dirty-ring-size=4096", .listener = true,
	.reason = "dirty ring", .status = "running",
};
FIXTURE_VARIANT_ADD(qemu_refusal, nothing_refused) {
	.status = "running",
};

FIXTURE_SETUP(qemu_refusal)
{
	struct qemu_opts o = {
		.mem_mib = MEM_MIB, .rate_mib = 1,
		.extra = variant->extra, .private_ram = variant->private_ram,
		.accel = variant->accel,
		.incoming = variant->receive,
	};

	self->listen_fd = -1;
	strcpy(self->to, "127.0.0.1:1");
	if (!qemu_available())
		SKIP(return, "QEMU or lm-guest not in this lab image");
	if (variant->listener) {
		struct sockaddr_in sin = { .sin_family = AF_INET,
					   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t len = sizeof(sin);

		self->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ASSERT_LE(0, self->listen_fd);
		ASSERT_EQ(0, bind(self->listen_fd, (struct sockaddr *)&sin, len));
		ASSERT_EQ(0, listen(self->listen_fd, 1));
		ASSERT_EQ(0, getsockname(self->listen_fd, (struct sockaddr *)&sin, &len));
		snprintf(self->to, sizeof(self->to), "127.0.0.1:%u", ntohs(sin.sin_port));
	}
	if (variant->virtiofs) {
		int i;

		if (access(VIRTIOFSD, X_OK))
			SKIP(return, VIRTIOFSD " not in this lab image");
		unlink(VIRTIOFS_SOCK);
		self->virtiofsd = spawn("mkdir -p /tmp/lmrefusal-share && exec " VIRTIOFSD
					" --socket-path=" VIRTIOFS_SOCK
					" -o source=/tmp/lmrefusal-share -o sandbox=chroot 2> /tmp/lmrefusal-vfsd.log");
		for (i = 0; i < 100 && access(VIRTIOFS_SOCK, F_OK); i++)
			usleep(50000);
		ASSERT_EQ(0, access(VIRTIOFS_SOCK, F_OK));
	}
	ASSERT_EQ(0, qemu_start_opts(&self->q, &o)) {
		qemu_print_serial(&self->q);
		TH_LOG("QEMU pid %d %s, qmp %d", self->q.pid,
		       self->q.pid > 0 && !kill(self->q.pid, 0) ? "alive" : "gone",
		       self->q.qmp);
		sh("ls -la %s; cat /tmp/lmrefusal-vfsd.log", self->q.dir);
	}
	snprintf(self->err, sizeof(self->err), "%s/lmctl.err", self->q.dir);
}

FIXTURE_TEARDOWN(qemu_refusal)
{
	unlink(self->err);
	if (self->listen_fd >= 0)
		close(self->listen_fd);
	qemu_stop(&self->q);
	if (self->virtiofsd > 0) {
		kill(self->virtiofsd, SIGTERM);
		waitpid(self->virtiofsd, NULL, 0);
		unlink(VIRTIOFS_SOCK);
	}
}

/* QEMU's run state ("running", "inmigrate", ...) into @buf. */
static void run_state(struct qemu *q, char *buf, size_t len)
{
	*buf = '\0';
	if (q->qmp >= 0 || !qemu_qmp_connect(q))
		qemu_status(q, buf, len);
	qemu_qmp_disconnect(q);
}

/* lmctl's messages, as TAP diagnostics, and whether one says @text. */
static bool said(const char *path, const char *text)
{
	show("lmctl", path);
	return file_has(path, text);
}

TEST_F_TIMEOUT(qemu_refusal, refused_untouched, 90)
{
	char cmd[512], state[64];
	int status;

	run_state(&self->q, state, sizeof(state));
	ASSERT_STREQ(variant->status, state);

	qemu_qmp_disconnect(&self->q);
	if (variant->receive)
		snprintf(cmd, sizeof(cmd),
			 "lmctl receive --qmp %s/qmp.sock --listen 127.0.0.1:0 --insecure 2> %s",
			 self->q.dir, self->err);
	else
		snprintf(cmd, sizeof(cmd),
			 "lmctl migrate --qmp %s/qmp.sock --to %s --insecure 2> %s",
			 self->q.dir, self->to, self->err);
	status = system(cmd);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_NE(0, WEXITSTATUS(status));
	/* Without a reason, past every check: it fails at the connection. */
	EXPECT_TRUE(said(self->err, variant->reason ? variant->reason :
			     "connect"));

	/* Nothing changed: same run state, nothing attached, guest alive. */
	run_state(&self->q, state, sizeof(state));
	EXPECT_STREQ(variant->status, state);
	EXPECT_EQ(0, system("lmctl list | grep -q 'no VMs attached'"));
	if (!variant->receive) {
		uint64_t before = qemu_guest(&self->q)->pages_written;

		usleep(300000);
		EXPECT_LT(before, qemu_guest(&self->q)->pages_written);
	}
}

TEST_HARNESS_MAIN

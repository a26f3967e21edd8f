// SPDX-License-Identifier: GPL-2.0
/*
 * An unmodified QEMU VM migrated by lmctl, live and quick, between two
 * network namespaces (the lab's two hosts, /lib/lab/netns.sh): QEMU 7.2
 * with nested KVM, 128 MiB of shared RAM, lm-guest writing 2 MiB/s, on a
 * microvm machine (live and quick) and on a pc machine (live), whose
 * firmware leaves the running source with other memory slots over its RAM
 * (PAM, SMRAM) than the fresh destination. lmctl drives both QEMUs over
 * QMP (--qmp); lm moves the RAM by its place in the RAM backend, QEMU's
 * own stream (x-ignore-shared) the device state and private ROM blocks.
 *
 *  - exact: with the destination taken over but left paused (lmctl
 *    receive --paused), its RAM file equals the source's, page for page:
 *    the source's guest has not run since its pause;
 *  - the guest goes on at the destination once continued, and never runs
 *    again at the source, which QEMU leaves in postmigrate;
 *  - the destination QEMU killed in the middle of the memory (live: in the
 *    pre-copy; quick: in the stop-and-copy): lmctl migrate fails, the
 *    source QEMU runs again with its guest writing, and nothing stays
 *    attached.
 */
#include "kselftest_harness.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmkvm.h"
#include "qemu_util.h"

#define NETNS_SH	"/lib/lab/netns.sh"
#define MEM_MIB		128
#define DST		"10.77.0.2:7000"

/* Run a shell command line; its exit status, or -1. */
static int __attribute__((format(printf, 1, 2))) sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int status;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	status = system(cmd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Start a shell command line in the background; its pid, or -1. */
static pid_t __attribute__((format(printf, 1, 2))) spawn(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	pid_t pid;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	pid = fork();
	if (!pid) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Print a file as TAP diagnostics. */
static void show(const char *what, const char *path)
{
	char line[512];
	FILE *f = fopen(path, "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		printf("# %s: %s", what, line);
	fclose(f);
	/* A failed assertion ends the test with _exit(): no stdio flush. */
	fflush(stdout);
}

static uint64_t pages_written(struct qemu *q)
{
	return qemu_guest(q)->pages_written;
}

FIXTURE(qemu_migrate)
{
	struct qemu src, dst;
	char work[64];
};

FIXTURE_VARIANT(qemu_migrate)
{
	const char *mode;
	const char *machine;
};

FIXTURE_VARIANT_ADD(qemu_migrate, live) {
	.mode = "live", .machine = "microvm"
};
FIXTURE_VARIANT_ADD(qemu_migrate, quick) {
	.mode = "quick", .machine = "microvm"
};
FIXTURE_VARIANT_ADD(qemu_migrate, pc_live) {
	.mode = "live", .machine = "pc"
};

FIXTURE_SETUP(qemu_migrate)
{
	struct qemu_opts src = { .mem_mib = MEM_MIB, .rate_mib = 2,
				 .machine = variant->machine, .netns = "lmsrc" };
	struct qemu_opts dst = { .mem_mib = MEM_MIB,
				 .machine = variant->machine,
				 .netns = "lmdst", .incoming = true };

	self->src.pid = self->dst.pid = -1;
	self->src.qmp = self->dst.qmp = -1;
	if (!kvm_available() || !qemu_available() || access(NETNS_SH, R_OK))
		SKIP(return, "needs /dev/kvm, " QEMU_BIN ", " QEMU_GUEST " and " NETNS_SH);
	strcpy(self->work, "/tmp/qemu_migrate.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->work));
	/* The migrations are authenticated and encrypted (TLS 1.3 PSK). */
	ASSERT_EQ(0, sh("(umask 077; echo lab:$(od -An -tx1 -N32 /dev/urandom | tr -d ' \\n') > %s/psk)",
			self->work));
	ASSERT_EQ(0, sh(". " NETNS_SH "; netns_setup"));
	ASSERT_EQ(0, qemu_start_opts(&self->src, &src)) {
		qemu_print_serial(&self->src);
	}
	ASSERT_EQ(0, qemu_start_opts(&self->dst, &dst));
}

FIXTURE_TEARDOWN(qemu_migrate)
{
	qemu_stop(&self->src);
	qemu_stop(&self->dst);
	sh(". " NETNS_SH "; netns_teardown");
	if (self->work[0])
		sh("rm -rf %s", self->work);
}

/*
 * lmctl receive for the destination QEMU, in the background; true once it
 * listens. Its exit status is collected by wait_receive().
 */
static pid_t start_receive(FIXTURE_DATA(qemu_migrate) *self, const char *args)
{
	char path[128], line[256];
	int i, status;
	pid_t pid;

	qemu_qmp_disconnect(&self->dst);
	pid = spawn("exec /usr/sbin/ip netns exec lmdst lmctl receive --qmp %s/qmp.sock --listen " DST
		    " --psk-file %s/psk %s > %s/recv.out 2> %s/recv.err",
		    self->dst.dir, self->work, args, self->work, self->work);
	snprintf(path, sizeof(path), "%s/recv.err", self->work);
	for (i = 0; i < 200; i++) {
		FILE *f = fopen(path, "r");
		bool listening = false;

		if (f) {
			while (fgets(line, sizeof(line), f))
				listening |= !!strstr(line, "listening");
			fclose(f);
		}
		if (listening)
			return pid;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			printf("# lmctl receive exited: status %#x\n", status);
			fflush(stdout);
			break;
		}
		usleep(50000);
	}
	show("receive", path);
	snprintf(path, sizeof(path), "%s/recv.out", self->work);
	show("receive", path);
	return -1;
}

static int wait_receive(pid_t pid)
{
	double deadline = qemu_now() + 60;
	int status;

	while (waitpid(pid, &status, WNOHANG) != pid) {
		if (qemu_now() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		usleep(50000);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Pages of guest memory that differ between the two QEMUs. */
static size_t pages_differing(FIXTURE_DATA(qemu_migrate) *self)
{
	const unsigned char *a = self->src.ram, *b = self->dst.ram;
	size_t n = 0, off;

	for (off = 0; off < self->src.ram_size; off += PAGE_SIZE)
		if (memcmp(a + off, b + off, PAGE_SIZE)) {
			if (n < 5)
				printf("# page at %#zx differs\n", off);
			n++;
		}
	fflush(stdout);
	return n;
}

TEST_F_TIMEOUT(qemu_migrate, exact_and_moved, 240)
{
	char path[128], status[64];
	uint64_t w0, w1;
	pid_t recv;
	int ret;

	recv = start_receive(self, "--paused");
	ASSERT_LT(0, recv);
	qemu_qmp_disconnect(&self->src);
	ret = sh("/usr/sbin/ip netns exec lmsrc lmctl migrate --qmp %s/qmp.sock --to " DST
		 " --psk-file %s/psk --mode %s > %s/migrate.out 2> %s/migrate.err",
		 self->src.dir, self->work, variant->mode, self->work,
		 self->work);
	snprintf(path, sizeof(path), "%s/migrate.out", self->work);
	show("migrate", path);
	snprintf(path, sizeof(path), "%s/migrate.err", self->work);
	show("migrate", path);
	EXPECT_EQ(0, ret);
	EXPECT_EQ(0, wait_receive(recv));
	snprintf(path, sizeof(path), "%s/recv.err", self->work);
	show("receive", path);

	ASSERT_EQ(0, qemu_qmp_connect(&self->src));
	ASSERT_EQ(0, qemu_qmp_connect(&self->dst));
	EXPECT_STREQ("postmigrate", qemu_status(&self->src, status, sizeof(status)));
	EXPECT_STREQ("paused", qemu_status(&self->dst, status, sizeof(status)));
	EXPECT_EQ(0, pages_differing(self)) {
		TH_LOG("the destination's memory differs from the source's at pause");
	}
	TH_LOG("%zu pages of guest memory compared, source and destination",
	       self->src.ram_size / PAGE_SIZE);

	ASSERT_EQ(0, qmp(&self->dst, "{\"execute\": \"cont\"}"));
	EXPECT_STREQ("running", qemu_status(&self->dst, status, sizeof(status)));
	w0 = pages_written(&self->dst);
	usleep(1000000);
	w1 = pages_written(&self->dst);
	TH_LOG("destination guest: %llu -> %llu pages written",
	       (unsigned long long)w0, (unsigned long long)w1);
	EXPECT_LT(w0, w1);
	w0 = pages_written(&self->src);
	usleep(500000);
	EXPECT_EQ(w0, pages_written(&self->src));
	EXPECT_EQ(0, sh("! /usr/sbin/ip netns exec lmsrc lmctl list | grep -q 'pid %d,'", self->src.pid));
}

/* Wait until the guest at @q stops writing: its VM is paused. */
static bool wait_guest_stopped(struct qemu *q, double seconds)
{
	double deadline = qemu_now() + seconds, since = qemu_now();
	uint64_t last = pages_written(q);

	while (qemu_now() < deadline) {
		usleep(50000);
		if (pages_written(q) != last) {
			last = pages_written(q);
			since = qemu_now();
		} else if (qemu_now() - since > 0.3) {
			return true;
		}
	}
	return false;
}

/*
 * The destination QEMU killed in the middle of the memory: in the live
 * pre-copy (paced so that it lasts), or in the quick migration's
 * stop-and-copy (once the source's guest has stopped). Either way the
 * source QEMU runs again (after stop-and-copy, QEMU's own migration had
 * completed: the VM goes from postmigrate back to running).
 */
TEST_F_TIMEOUT(qemu_migrate, destination_killed, 240)
{
	bool live = !strcmp(variant->mode, "live");
	char path[128], status[64];
	uint64_t w0;
	pid_t recv, mig;
	int ret;

	recv = start_receive(self, "");
	ASSERT_LT(0, recv);
	qemu_qmp_disconnect(&self->src);
	mig = spawn("exec /usr/sbin/ip netns exec lmsrc lmctl migrate --qmp %s/qmp.sock --to " DST
		    " --psk-file %s/psk --mode %s %s > %s/migrate.out 2> %s/migrate.err",
		    self->src.dir, self->work, variant->mode,
		    live ? "--bandwidth 4M" : "", self->work, self->work);
	if (live)
		usleep(1500000);
	else
		EXPECT_TRUE(wait_guest_stopped(&self->src, 30));
	kill(self->dst.pid, SIGKILL);
	waitpid(self->dst.pid, NULL, 0);
	self->dst.pid = -1;
	waitpid(mig, &ret, 0);
	wait_receive(recv);
	snprintf(path, sizeof(path), "%s/migrate.err", self->work);
	show("migrate", path);
	EXPECT_TRUE(WIFEXITED(ret) && WEXITSTATUS(ret) == 1);
	ASSERT_EQ(0, qemu_qmp_connect(&self->src));
	EXPECT_STREQ("running", qemu_status(&self->src, status, sizeof(status)));
	w0 = pages_written(&self->src);
	usleep(1000000);
	EXPECT_LT(w0, pages_written(&self->src));
	EXPECT_EQ(0, sh("! /usr/sbin/ip netns exec lmsrc lmctl list | grep -q 'pid %d,'", self->src.pid));
}

TEST_HARNESS_MAIN

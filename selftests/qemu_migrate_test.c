// SPDX-License-Identifier: GPL-2.0
/*
 * An unmodified QEMU VM migrated by lmctl, live and quick, between two
 * network namespaces (the lab's two hosts, /lib/lab/netns.sh): QEMU 7.2
 * with nested KVM, 128 MiB of shared RAM, lm-guest writing 2 MiB/s, on a
 * microvm machine (live and quick) and on pc and q35 machines (live), whose
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
 *    attached;
 *  - a state the destination cannot load (a device only the source has):
 *    the source QEMU runs again, told so by the destination;
 *  - pc live, with host writes: while the pre-copy runs, the test writes
 *    guest memory the guest never touches through its own writable
 *    mapping of the source's RAM file, as QEMU's device emulation or vhost
 *    write through QEMU's (the same kernel path, and KVM's dirty log sees
 *    neither). The destination must still equal the source; and with lm's
 *    host-write tracking switched off (pc_live_untracked) the same check
 *    must find exactly those pages differing;
 *  - untouched memory costs nothing: the RAM files are shmem, where a
 *    read fault allocates a page. After the migration neither side's file
 *    may hold many more pages (st_blocks) than the source's guest memory
 *    has non-zero pages (counted with pread(), which does not allocate):
 *    lm must send and receive unbacked pages without reading them. Its
 *    quick_holes_read variant switches that off (the module parameter
 *    skip_holes) and must find both files allocated whole.
 */
#include "kselftest_harness.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lm_nl.h"
#include "lmkvm.h"
#include "qemu_util.h"
#include "sh_util.h"

#define NETNS_SH	"/lib/lab/netns.sh"
#define MEM_MIB		128
#define DST		"10.77.0.2:7000"
/*
 * In plain TCP: what is tested here is QEMU's side, and the lab's emulated
 * AES-GCM (about 3 MiB/s) would make each migration minutes long.
 * tls_test.sh and migrate_quick_test.sh migrate encrypted.
 */
#define QEMU_MIGRATE_KEY	"--insecure"
#define KNOB		"/sys/module/lm/parameters/track_host_writes"
#define HOLES_KNOB	"/sys/module/lm/parameters/skip_holes"
/*
 * Pages a RAM file may hold beyond the guest's non-zero pages: those
 * written with zeros (firmware, lm-guest's own), ROMs QEMU copies into
 * RAM at reset. Reading all of it would allocate all MEM_MIB * 256.
 */
#define ALLOC_SLACK	1024
/* Where the host writes: between lm-guest's info page and its sweep. */
#define HOST_AREA	0x380000U
#define HOST_AREA_PAGES	64

static uint64_t pages_written(struct qemu *q)
{
	return qemu_guest(q)->pages_written;
}

/*
 * Writes guest memory through a writable mapping of the source's RAM file
 * while lm's transfer of it is in the pre-copy, and stops once it is not:
 * the source is paused only after that (LM_PHASE_WAIT_SWITCHOVER), as
 * QEMU stops its devices with the VM.
 */
struct host_writer {
	pthread_t thread;
	pid_t qemu_pid;
	unsigned char *ram;
	volatile bool stop;
	uint64_t writes;	/* in the pre-copy */
	const char *error;
};

static void *host_writer_main(void *arg)
{
	struct host_writer *w = arg;
	struct lm_xfer_status st;
	struct lm_vm_list list;
	uint32_t id = 0, gen = 0;
	struct lm_nl *nl;
	double deadline = qemu_now() + 120;
	int ns;

	/* lm's transfers are seen in the namespace they run in. */
	ns = open("/run/netns/lmsrc", O_RDONLY | O_CLOEXEC);
	if (ns < 0 || setns(ns, CLONE_NEWNET)) {
		w->error = "cannot enter netns lmsrc";
		return NULL;
	}
	close(ns);
	if (lm_nl_open(&nl)) {
		w->error = "cannot open lm's netlink family";
		return NULL;
	}
	while (!w->stop && qemu_now() < deadline) {
		if (!id) {
			if (!lm_nl_list(nl, false, 0, &list))
				for (size_t i = 0; i < list.nr_vms; i++)
					if (list.vms[i].pid == (uint32_t)w->qemu_pid)
						id = list.vms[i].id;
			lm_vm_list_free(&list);
		} else if (!lm_nl_xfer_status(nl, id, &st)) {
			if (st.phase > LM_PHASE_PRECOPY)
				break;
			if (st.phase == LM_PHASE_PRECOPY) {
				unsigned int page = ++gen % HOST_AREA_PAGES;
				volatile uint32_t *p = (void *)(w->ram + HOST_AREA +
						(size_t)page * PAGE_SIZE);

				p[gen % 1024] = 0x10570000 | gen;
				w->writes++;
			}
		}
		usleep(2000);
	}
	lm_nl_close(nl);
	return NULL;
}

static int set_knob(const char *knob, bool on)
{
	FILE *f = fopen(knob, "w");
	int ret;

	if (!f)
		return -1;
	ret = fputs(on ? "Y\n" : "N\n", f) < 0;
	return fclose(f) || ret ? -1 : 0;
}

/* A boolean module parameter's value: 1 (Y), 0 (N), -1 on error. */
static int get_knob(const char *knob)
{
	FILE *f = fopen(knob, "r");
	int c;

	if (!f)
		return -1;
	c = fgetc(f);
	fclose(f);
	return c == 'Y' ? 1 : c == 'N' ? 0 : -1;
}

FIXTURE(qemu_migrate)
{
	struct qemu src, dst;
	char work[64];
	struct host_writer writer;
	bool skipped;		/* by the setup: the test has nothing to do */
	int holes_was;		/* skip_holes before a control turned it off */
};

FIXTURE_VARIANT(qemu_migrate)
{
	const char *mode;
	const char *machine;
	bool host_writes;	/* the test writes guest memory in the pre-copy */
	bool untracked;		/* ... and lm does not track host writes */
	bool holes_read;	/* lm reads unbacked pages (skip_holes off) */
};

FIXTURE_VARIANT_ADD(qemu_migrate, live) {
	.mode = "live", .machine = "microvm"
};
FIXTURE_VARIANT_ADD(qemu_migrate, quick) {
	.mode = "quick", .machine = "microvm"
};
FIXTURE_VARIANT_ADD(qemu_migrate, pc_live) {
	.mode = "live", .machine = "pc", .host_writes = true
};
/* The negative control of pc_live's host writes; exact_and_moved only. */
FIXTURE_VARIANT_ADD(qemu_migrate, pc_live_untracked) {
	.mode = "live", .machine = "pc", .host_writes = true, .untracked = true
};
/* The negative control of the allocation check; exact_and_moved only. */
FIXTURE_VARIANT_ADD(qemu_migrate, quick_holes_read) {
	.mode = "quick", .machine = "microvm", .holes_read = true
};
/* PCIe, SMM with TSEG: other memory slots again; exactness only. */
FIXTURE_VARIANT_ADD(qemu_migrate, q35_live) {
	.mode = "live", .machine = "q35"
};

/*
 * The cases a variant does not run, decided before its QEMUs start (two
 * QEMUs cost seconds in the lab). The harness runs the test after a
 * skipped setup: self->skipped says so.
 */
static const char *not_run(const FIXTURE_VARIANT(qemu_migrate) *variant,
			   const char *test)
{
	if ((variant->untracked || variant->holes_read) &&
	    strcmp(test, "exact_and_moved"))
		return "a control: exact_and_moved only";
	if (!strcmp(variant->machine, "q35") &&
	    !strcmp(test, "destination_killed"))
		return "the same as pc's";
	if (strcmp(variant->machine, "pc") &&
	    !strcmp(test, "destination_cannot_load"))
		return "hot-plug: pc machine only";
	return NULL;
}

FIXTURE_SETUP(qemu_migrate)
{
	const char *why = not_run(variant, _metadata->name);
	struct qemu_opts src = { .mem_mib = MEM_MIB, .rate_mib = 2,
				 .machine = variant->machine, .netns = "lmsrc" };
	struct qemu_opts dst = { .mem_mib = MEM_MIB,
				 .machine = variant->machine,
				 .netns = "lmdst", .incoming = true };

	self->src.pid = self->dst.pid = -1;
	self->src.qmp = self->dst.qmp = -1;
	self->holes_was = -1;
	if (why) {
		self->skipped = true;
		SKIP(return, "%s", why);
	}
	if (!kvm_available() || !qemu_available() || access(NETNS_SH, R_OK)) {
		self->skipped = true;
		SKIP(return, "needs /dev/kvm, " QEMU_BIN ", " QEMU_GUEST " and " NETNS_SH);
	}
	strcpy(self->work, "/tmp/qemu_migrate.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->work));
	ASSERT_EQ(0, sh(". " NETNS_SH "; netns_setup"));
	ASSERT_EQ(0, qemu_start_opts(&self->src, &src)) {
		qemu_print_serial(&self->src);
	}
	ASSERT_EQ(0, qemu_start_opts(&self->dst, &dst));
	if (variant->untracked)
		ASSERT_EQ(0, set_knob(KNOB, false));
	if (variant->holes_read) {
		self->holes_was = get_knob(HOLES_KNOB);
		ASSERT_LE(0, self->holes_was);
		ASSERT_EQ(0, set_knob(HOLES_KNOB, false));
	}
}

FIXTURE_TEARDOWN(qemu_migrate)
{
	if (variant->untracked)
		set_knob(KNOB, true);
	if (variant->holes_read && self->holes_was >= 0)
		set_knob(HOLES_KNOB, self->holes_was);
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
		    " " QEMU_MIGRATE_KEY " %s > %s/recv.out 2> %s/recv.err",
		    self->dst.dir, args, self->work, self->work);
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

/*
 * Pages of guest memory that differ between the two QEMUs; *@host counts
 * those of them in the area the host writer writes.
 */
static size_t pages_differing(FIXTURE_DATA(qemu_migrate) *self, size_t *host)
{
	const unsigned char *a = self->src.ram, *b = self->dst.ram;
	size_t n = 0, off;

	*host = 0;
	for (off = 0; off < self->src.ram_size; off += PAGE_SIZE)
		if (memcmp(a + off, b + off, PAGE_SIZE)) {
			if (n < 5)
				printf("# page at %#zx differs\n", off);
			n++;
			*host += off >= HOST_AREA &&
				 off < HOST_AREA + HOST_AREA_PAGES * PAGE_SIZE;
		}
	fflush(stdout);
	return n;
}

/* Pages of QEMU's RAM file that hold memory, or -1. */
static long ram_allocated(struct qemu *q)
{
	char path[128];
	struct stat st;

	if (stat(qemu_file(q, "ram", path, sizeof(path)), &st))
		return -1;
	return st.st_blocks * 512 / PAGE_SIZE;
}

/*
 * Non-zero pages of QEMU's RAM file, read with pread(): on shmem a read
 * of a hole copies the zero page and allocates nothing. -1 on error.
 */
static long ram_nonzero(struct qemu *q)
{
	static const unsigned char zero[PAGE_SIZE];
	size_t chunk = 1 << 20, off, i;
	char path[128];
	long n = 0;
	char *buf;
	int fd;

	fd = open(qemu_file(q, "ram", path, sizeof(path)), O_RDONLY | O_CLOEXEC);
	buf = malloc(chunk);
	if (fd < 0 || !buf) {
		n = -1;
		goto out;
	}
	for (off = 0; off < q->ram_size && n >= 0; off += chunk) {
		if (pread(fd, buf, chunk, off) != (ssize_t)chunk) {
			n = -1;
			break;
		}
		for (i = 0; i < chunk; i += PAGE_SIZE)
			n += !!memcmp(buf + i, zero, PAGE_SIZE);
	}
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return n;
}

/*
 * After a migration, before anything maps the RAM files' pages: neither
 * side may have allocated memory the guest never wrote (see the top).
 */
static void check_allocation(struct __test_metadata *_metadata,
			     FIXTURE_DATA(qemu_migrate) *self, bool holes_read)
{
	long total = self->src.ram_size / PAGE_SIZE;
	long src = ram_allocated(&self->src), dst = ram_allocated(&self->dst);
	long data = ram_nonzero(&self->src);
	char path[128];

	snprintf(path, sizeof(path), "%s/migrate.out", self->work);
	TH_LOG("%ld pages of guest memory, %ld of them non-zero at the source; allocated: source %ld, destination %ld (skip_holes %s)",
	       total, data, src, dst,
	       get_knob(HOLES_KNOB) > 0 ? "on" : "off");
	ASSERT_LE(0, data);
	ASSERT_LE(0, src);
	ASSERT_LE(0, dst);
	if (holes_read) {
		/* The control: a pin for reading allocates every page. */
		EXPECT_LT(total - ALLOC_SLACK, src);
		EXPECT_LT(total - ALLOC_SLACK, dst);
		return;
	}
	EXPECT_GE(data + ALLOC_SLACK, src) {
		TH_LOG("the source allocated memory its guest never wrote");
	}
	EXPECT_GE(data + ALLOC_SLACK, dst) {
		TH_LOG("the destination allocated memory the guest never wrote");
	}
	/* lmctl migrate's count of pages sent without being read. */
	EXPECT_EQ(0, sh("grep -q ' unbacked)' %s && ! grep -q ' 0 unbacked)' %s",
			path, path));
}

TEST_F_TIMEOUT(qemu_migrate, exact_and_moved, 240)
{
	char path[128], status[64];
	size_t differing, host;
	uint64_t w0, w1;
	pid_t recv;
	int ret;

	if (self->skipped)
		return;
	recv = start_receive(self, "--paused");
	ASSERT_LT(0, recv);
	qemu_qmp_disconnect(&self->src);
	if (variant->host_writes) {
		self->writer.qemu_pid = self->src.pid;
		self->writer.ram = qemu_map_ram_rw(&self->src);
		ASSERT_NE(NULL, self->writer.ram);
		ASSERT_EQ(0, pthread_create(&self->writer.thread, NULL,
					    host_writer_main, &self->writer));
	}
	ret = sh("/usr/sbin/ip netns exec lmsrc lmctl migrate --qmp %s/qmp.sock --to " DST
		 " " QEMU_MIGRATE_KEY " --mode %s > %s/migrate.out 2> %s/migrate.err",
		 self->src.dir, variant->mode, self->work, self->work);
	snprintf(path, sizeof(path), "%s/migrate.out", self->work);
	show("migrate", path);
	snprintf(path, sizeof(path), "%s/migrate.err", self->work);
	show("migrate", path);
	EXPECT_EQ(0, ret);
	/*
	 * QEMU's dirty log starts with every bit set: taken before round 0,
	 * they must not make round 1 send all of memory again.
	 */
	EXPECT_EQ(0, sh("sed -n 's/.*): \\([0-9]*\\) pages.*/\\1/p' %s/migrate.out | awk '{ exit !($1 < %u) }'",
			self->work, MEM_MIB * 256 * 3 / 2));
	EXPECT_EQ(0, wait_receive(recv));
	snprintf(path, sizeof(path), "%s/recv.err", self->work);
	show("receive", path);
	if (variant->host_writes) {
		self->writer.stop = true;
		pthread_join(self->writer.thread, NULL);
		munmap(self->writer.ram, self->src.ram_size);
		EXPECT_EQ(NULL, self->writer.error) {
			TH_LOG("host writer: %s", self->writer.error);
		}
		TH_LOG("the host wrote %llu times into %u pages during the pre-copy, host-write tracking %s",
		       (unsigned long long)self->writer.writes, HOST_AREA_PAGES,
		       variant->untracked ? "off" : "on");
		EXPECT_LT(0, self->writer.writes);
	}
	/* Before pages_differing(), whose reads through mappings allocate. */
	check_allocation(_metadata, self, variant->holes_read);

	ASSERT_EQ(0, qemu_qmp_connect(&self->src));
	ASSERT_EQ(0, qemu_qmp_connect(&self->dst));
	EXPECT_STREQ("postmigrate", qemu_status(&self->src, status, sizeof(status)));
	EXPECT_STREQ("paused", qemu_status(&self->dst, status, sizeof(status)));
	differing = pages_differing(self, &host);
	if (variant->untracked) {
		/* Host writes after the full pass are lost, and only those. */
		TH_LOG("untracked host writes: %zu pages differ, %zu of them written by the host",
		       differing, host);
		EXPECT_LT(0, host);
		EXPECT_EQ(host, differing);
		return;
	}
	EXPECT_EQ(0, differing) {
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
 * stop-and-copy (once the source's guest has stopped). Guest memory is
 * filled first, so that either lasts. Either way the source QEMU runs
 * again (after stop-and-copy, QEMU's own migration had completed: the VM
 * goes from postmigrate back to running).
 */
TEST_F_TIMEOUT(qemu_migrate, destination_killed, 240)
{
	bool live = !strcmp(variant->mode, "live");
	char path[128], status[64];
	uint64_t w0;
	pid_t recv, mig;
	int ret;

	if (self->skipped)
		return;

	ASSERT_EQ(0, qemu_fill_ram(&self->src));
	recv = start_receive(self, "");
	ASSERT_LT(0, recv);
	qemu_qmp_disconnect(&self->src);
	mig = spawn("exec /usr/sbin/ip netns exec lmsrc lmctl migrate --qmp %s/qmp.sock --to " DST
		    " " QEMU_MIGRATE_KEY " --mode %s %s > %s/migrate.out 2> %s/migrate.err",
		    self->src.dir, variant->mode,
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

/*
 * A state the destination cannot load, after every page is in: a device
 * plugged into the source only (pc: PCI hot-plug) makes the destination
 * QEMU refuse QEMU's stream and exit. lmctl receive tells lm its verdict,
 * lm tells the source, and the source QEMU runs again; nothing stays
 * attached on either host.
 */
TEST_F_TIMEOUT(qemu_migrate, destination_cannot_load, 240)
{
	char path[128], status[64];
	uint64_t w0;
	pid_t recv;
	int ret;

	if (self->skipped)
		return;
	ASSERT_EQ(0, qmp(&self->src, "{\"execute\": \"device_add\", \"arguments\": {\"driver\": \"virtio-rng-pci\", \"id\": \"rng0\"}}"));
	recv = start_receive(self, "");
	ASSERT_LT(0, recv);
	qemu_qmp_disconnect(&self->src);
	ret = sh("/usr/sbin/ip netns exec lmsrc lmctl migrate --qmp %s/qmp.sock --to " DST
		 " " QEMU_MIGRATE_KEY " --mode %s > %s/migrate.out 2> %s/migrate.err",
		 self->src.dir, variant->mode, self->work, self->work);
	EXPECT_EQ(1, wait_receive(recv));
	snprintf(path, sizeof(path), "%s/recv.err", self->work);
	show("receive", path);
	snprintf(path, sizeof(path), "%s/migrate.err", self->work);
	show("migrate", path);
	/* Not 3 (unsure where the VM is): the destination refused it. */
	EXPECT_EQ(1, ret);
	/*
	 * Over a plain socket the ABORT's text is generic (the peer is not
	 * authenticated): the reason is the destination's to say.
	 */
	EXPECT_EQ(0, sh("grep -q 'Peer aborted' %s", path));
	EXPECT_EQ(0, sh("grep -q 'runs here again' %s", path));
	snprintf(path, sizeof(path), "%s/recv.err", self->work);
	EXPECT_EQ(0, sh("grep -q 'could not take the VM over' %s", path));
	ASSERT_EQ(0, qemu_qmp_connect(&self->src));
	EXPECT_STREQ("running", qemu_status(&self->src, status, sizeof(status)));
	w0 = pages_written(&self->src);
	usleep(1000000);
	EXPECT_LT(w0, pages_written(&self->src));
	EXPECT_EQ(0, sh("! /usr/sbin/ip netns exec lmsrc lmctl list | grep -q 'pid %d,'", self->src.pid));
	EXPECT_EQ(0, sh("/usr/sbin/ip netns exec lmdst lmctl list | grep -q 'no VMs attached'"));
}

TEST_HARNESS_MAIN

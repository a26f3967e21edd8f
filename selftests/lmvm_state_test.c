// SPDX-License-Identifier: GPL-2.0
/*
 * lmvm's saved state and control channel.
 *
 *  - Round trip through a file on one host: pause, save-state with memory,
 *    a second lmvm --incoming loads it; memory checksums match at the
 *    switch, the workload's counters resume from the saved values and
 *    advance, and verify passes on both sides.
 *  - Bad control commands, truncated, corrupted and foreign state files,
 *    and state files of a VM with another layout get a clear error, and
 *    lmvm keeps running.
 *  - verify catches a page with a wrong generation, a lost page and a
 *    page holding another page's contents.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "lmvm_util.h"
#include "kselftest_harness.h"

#define REQUIRE_KVM()							\
do {									\
	if (access("/dev/kvm", R_OK | W_OK))				\
		SKIP(return, "/dev/kvm is not available");		\
} while (0)

static void state_path(char *buf, size_t len, const char *what)
{
	snprintf(buf, len, "/tmp/lmvm-state-%d-%s", getpid(), what);
}

/* Per-vCPU page counters from a status line. */
static void vcpu_pages(const char *status, int vcpus, long long *out)
{
	char key[32];
	int i;

	for (i = 0; i < vcpus; i++) {
		snprintf(key, sizeof(key), "vcpu%d.pages", i);
		out[i] = lmvm_field(status, key);
	}
}

FIXTURE(roundtrip) {
	struct lmvm_proc src, dst;
	char file[128];
};

FIXTURE_VARIANT(roundtrip) {
	const char *args;
	int vcpus;
};

FIXTURE_VARIANT_ADD(roundtrip, sweep_2vcpu) {
	.args = "--mem 64M --vcpus 2 --workload sweep --rate 64",
	.vcpus = 2,
};

FIXTURE_VARIANT_ADD(roundtrip, random_1vcpu) {
	.args = "--mem 32M --vcpus 1 --workload random",
	.vcpus = 1,
};

FIXTURE_VARIANT_ADD(roundtrip, idle_2vcpu) {
	.args = "--mem 32M --vcpus 2 --workload idle",
	.vcpus = 2,
};

FIXTURE_SETUP(roundtrip)
{
	self->src.pid = self->dst.pid = 0;
	state_path(self->file, sizeof(self->file), "roundtrip");
}

FIXTURE_TEARDOWN(roundtrip)
{
	if (self->src.pid > 0)
		lmvm_stop(&self->src);
	if (self->dst.pid > 0)
		lmvm_stop(&self->dst);
	unlink(self->file);
}

TEST_F(roundtrip, save_load_resume)
{
	char reply[LMVM_REPLY_MAX], sum_src[LMVM_REPLY_MAX], args[256];
	long long saved[2], loaded[2], later[2];
	int i;

	REQUIRE_KVM();
	ASSERT_EQ(lmvm_start(&self->src, variant->args), 0);
	lmvm_sleep(2);

	ASSERT_EQ(lmvm_cmd(&self->src, reply, sizeof(reply), "pause"), 0);
	ASSERT_TRUE(lmvm_ok(reply)) TH_LOG("%s", reply);
	ASSERT_EQ(lmvm_cmd(&self->src, reply, sizeof(reply), "status"), 0);
	ASSERT_NE(strstr(reply, "state=paused"), NULL) TH_LOG("%s", reply);
	vcpu_pages(reply, variant->vcpus, saved);
	ASSERT_EQ(lmvm_cmd(&self->src, sum_src, sizeof(sum_src), "checksum"),
		  0);
	ASSERT_TRUE(lmvm_ok(sum_src)) TH_LOG("%s", sum_src);
	ASSERT_EQ(lmvm_cmd(&self->src, reply, sizeof(reply),
			   "save-state %s memory", self->file), 0);
	ASSERT_TRUE(lmvm_ok(reply)) TH_LOG("save-state: %s", reply);
	ASSERT_EQ(lmvm_cmd(&self->src, reply, sizeof(reply), "verify"), 0);
	ASSERT_TRUE(lmvm_ok(reply)) TH_LOG("source verify: %s", reply);
	/* saving changed nothing */
	ASSERT_EQ(lmvm_cmd(&self->src, reply, sizeof(reply), "checksum"), 0);
	ASSERT_STREQ(reply, sum_src);
	ASSERT_EQ(lmvm_stop(&self->src), 0);

	snprintf(args, sizeof(args), "%s --incoming", variant->args);
	ASSERT_EQ(lmvm_start(&self->dst, args), 0);
	ASSERT_EQ(lmvm_cmd(&self->dst, reply, sizeof(reply), "status"), 0);
	ASSERT_NE(strstr(reply, "state=incoming"), NULL) TH_LOG("%s", reply);
	/* nothing to resume yet */
	ASSERT_EQ(lmvm_cmd(&self->dst, reply, sizeof(reply), "resume"), 0);
	ASSERT_FALSE(lmvm_ok(reply)) TH_LOG("%s", reply);

	ASSERT_EQ(lmvm_cmd(&self->dst, reply, sizeof(reply), "load-state %s",
			   self->file), 0);
	ASSERT_TRUE(lmvm_ok(reply)) TH_LOG("load-state: %s", reply);
	ASSERT_EQ(lmvm_cmd(&self->dst, reply, sizeof(reply), "checksum"), 0);
	ASSERT_STREQ(reply, sum_src);
	ASSERT_EQ(lmvm_cmd(&self->dst, reply, sizeof(reply), "status"), 0);
	ASSERT_NE(strstr(reply, "state=paused"), NULL) TH_LOG("%s", reply);
	vcpu_pages(reply, variant->vcpus, loaded);
	for (i = 0; i < variant->vcpus; i++)
		ASSERT_EQ(loaded[i], saved[i]);
	ASSERT_EQ(lmvm_cmd(&self->dst, reply, sizeof(reply), "verify"), 0);
	ASSERT_TRUE(lmvm_ok(reply)) TH_LOG("destination verify: %s", reply);

	ASSERT_EQ(lmvm_cmd(&self->dst, reply, sizeof(reply), "resume"), 0);
	ASSERT_TRUE(lmvm_ok(reply)) TH_LOG("%s", reply);
	lmvm_sleep(1);
	ASSERT_EQ(lmvm_cmd(&self->dst, reply, sizeof(reply), "status"), 0);
	ASSERT_NE(strstr(reply, "state=running"), NULL) TH_LOG("%s", reply);
	vcpu_pages(reply, variant->vcpus, later);
	for (i = 0; i < variant->vcpus; i++) {
		if (strstr(variant->args, "idle")) {
			ASSERT_EQ(later[i], saved[i]);
		} else {
			ASSERT_GT(later[i], saved[i])
				TH_LOG("vCPU %d did not continue: %s", i,
				       reply);
		}
	}
	ASSERT_EQ(lmvm_cmd(&self->dst, reply, sizeof(reply), "verify"), 0);
	ASSERT_TRUE(lmvm_ok(reply)) TH_LOG("verify after resume: %s", reply);
	ASSERT_EQ(lmvm_stop(&self->dst), 0);
}

/* One VM that all the bad input is thrown at; it must stay healthy. */
FIXTURE(bad_input) {
	struct lmvm_proc vm;
	char good[128], bad[128];
};

FIXTURE_SETUP(bad_input)
{
	char reply[LMVM_REPLY_MAX];

	self->vm.pid = 0;
	REQUIRE_KVM();
	state_path(self->good, sizeof(self->good), "good");
	state_path(self->bad, sizeof(self->bad), "bad");
	ASSERT_EQ(lmvm_start(&self->vm,
			     "--mem 32M --vcpus 1 --workload sweep --rate 16"),
		  0);
	lmvm_sleep(1);
	ASSERT_EQ(lmvm_cmd(&self->vm, reply, sizeof(reply), "pause"), 0);
	/* with memory: loading it back later is a consistent step back */
	ASSERT_EQ(lmvm_cmd(&self->vm, reply, sizeof(reply),
			   "save-state %s memory", self->good), 0);
	ASSERT_TRUE(lmvm_ok(reply)) TH_LOG("%s", reply);
	ASSERT_EQ(lmvm_cmd(&self->vm, reply, sizeof(reply), "resume"), 0);
}

FIXTURE_TEARDOWN(bad_input)
{
	if (self->vm.pid > 0)
		EXPECT_EQ(lmvm_stop(&self->vm), 0);
	unlink(self->good);
	unlink(self->bad);
}

/* lmvm answers, runs, its memory verifies, and its workload advances. */
static void assert_healthy(struct __test_metadata *_metadata,
			   struct lmvm_proc *vm)
{
	char reply[LMVM_REPLY_MAX];
	long long p0, p1;

	ASSERT_EQ(lmvm_cmd(vm, reply, sizeof(reply), "resume"), 0);
	ASSERT_TRUE(lmvm_ok(reply)) TH_LOG("%s", reply);
	p0 = lmvm_status_field(vm, "pages");
	lmvm_sleep(0.3);
	p1 = lmvm_status_field(vm, "pages");
	ASSERT_GT(p1, p0);
	ASSERT_EQ(lmvm_cmd(vm, reply, sizeof(reply), "verify"), 0);
	ASSERT_TRUE(lmvm_ok(reply)) TH_LOG("%s", reply);
}

/* Expect an error reply containing 'what'. */
#define EXPECT_ERROR(vm, what, ...)					\
do {									\
	char __r[LMVM_REPLY_MAX];					\
									\
	ASSERT_EQ(lmvm_cmd(vm, __r, sizeof(__r), __VA_ARGS__), 0);	\
	ASSERT_EQ(strncmp(__r, "error: ", 7), 0) TH_LOG("%s", __r);	\
	ASSERT_NE(strstr(__r, what), NULL) TH_LOG("%s", __r);		\
	TH_LOG("%s", __r);						\
} while (0)

TEST_F(bad_input, bad_commands)
{
	char reply[LMVM_REPLY_MAX], line[3000];

	EXPECT_ERROR(&self->vm, "unknown command", "frobnicate");
	EXPECT_ERROR(&self->vm, "empty command", "   ");
	EXPECT_ERROR(&self->vm, "usage: pause", "pause now");
	EXPECT_ERROR(&self->vm, "usage: save-state", "save-state");
	EXPECT_ERROR(&self->vm, "too many arguments", "status a b c d e");
	EXPECT_ERROR(&self->vm, "unknown option", "save-state %s everything",
		     self->bad);
	/* the VM is running: state operations need a pause first */
	EXPECT_ERROR(&self->vm, "pause it first", "save-state %s", self->bad);
	EXPECT_ERROR(&self->vm, "pause it first", "load-state %s", self->good);

	/* binary garbage, and a line longer than lmvm accepts */
	ASSERT_EQ(lmvm_cmd_raw(self->vm.sock, "\x01\xff\x7f\n", 4, reply,
			       sizeof(reply)), 0);
	ASSERT_EQ(strncmp(reply, "error: ", 7), 0) TH_LOG("%s", reply);
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\n';
	ASSERT_EQ(lmvm_cmd_raw(self->vm.sock, line, sizeof(line), reply,
			       sizeof(reply)), 0);
	ASSERT_NE(strstr(reply, "too long"), NULL) TH_LOG("%s", reply);

	/* save-state into a directory that does not exist */
	ASSERT_EQ(lmvm_cmd(&self->vm, reply, sizeof(reply), "pause"), 0);
	EXPECT_ERROR(&self->vm, "No such file",
		     "save-state /nonexistent/dir/state");
	assert_healthy(_metadata, &self->vm);
}

static void copy_file(const char *from, const char *to, off_t truncate_at,
		      off_t flip_at)
{
	char buf[65536];
	int in = open(from, O_RDONLY), out;
	ssize_t n;

	out = open(to, O_RDWR | O_CREAT | O_TRUNC, 0600);
	while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, n) != n)
			break;
	if (truncate_at >= 0 && ftruncate(out, truncate_at))
		perror("ftruncate");
	if (flip_at >= 0) {
		unsigned char c;

		if (pread(out, &c, 1, flip_at) != 1 || (c ^= 0x40, 0) ||
		    pwrite(out, &c, 1, flip_at) != 1)
			perror("flip");
	}
	close(in);
	close(out);
}

TEST_F(bad_input, bad_state_files)
{
	char reply[LMVM_REPLY_MAX], sum[LMVM_REPLY_MAX];
	struct stat st;

	ASSERT_EQ(stat(self->good, &st), 0);
	ASSERT_EQ(lmvm_cmd(&self->vm, reply, sizeof(reply), "pause"), 0);
	ASSERT_EQ(lmvm_cmd(&self->vm, reply, sizeof(reply), "checksum"), 0);

	EXPECT_ERROR(&self->vm, "No such file", "load-state /nonexistent");
	EXPECT_ERROR(&self->vm, "not a regular file", "load-state /tmp");
	EXPECT_ERROR(&self->vm, "not an lmvm state file",
		     "load-state /proc/self/exe");

	copy_file(self->good, self->bad, 10, -1);
	EXPECT_ERROR(&self->vm, "truncated", "load-state %s", self->bad);
	copy_file(self->good, self->bad, st.st_size / 2, -1);
	EXPECT_ERROR(&self->vm, "truncated", "load-state %s", self->bad);
	copy_file(self->good, self->bad, st.st_size - 1, -1);
	EXPECT_ERROR(&self->vm, "truncated", "load-state %s", self->bad);

	copy_file(self->good, self->bad, -1, st.st_size / 2);
	EXPECT_ERROR(&self->vm, "corrupt", "load-state %s", self->bad);
	copy_file(self->good, self->bad, -1, 100);
	EXPECT_ERROR(&self->vm, "corrupt", "load-state %s", self->bad);
	/* byte 8 is the format version */
	copy_file(self->good, self->bad, -1, 8);
	EXPECT_ERROR(&self->vm, "unsupported format version", "load-state %s",
		     self->bad);
	copy_file(self->good, self->bad, -1, 0);
	EXPECT_ERROR(&self->vm, "not an lmvm state file", "load-state %s",
		     self->bad);

	/* nothing was loaded: memory is as it was */
	ASSERT_EQ(lmvm_cmd(&self->vm, sum, sizeof(sum), "checksum"), 0);
	ASSERT_STREQ(sum, reply);
	assert_healthy(_metadata, &self->vm);
}

TEST_F(bad_input, state_of_another_layout)
{
	char reply[LMVM_REPLY_MAX], file[128];
	struct lmvm_proc other;

	/* state of a VM with more memory, then of one with more vCPUs */
	state_path(file, sizeof(file), "other");
	ASSERT_EQ(lmvm_start(&other, "--mem 128M --vcpus 1 --workload idle"),
		  0);
	ASSERT_EQ(lmvm_cmd(&other, reply, sizeof(reply), "pause"), 0);
	ASSERT_EQ(lmvm_cmd(&other, reply, sizeof(reply), "save-state %s memory",
			   file), 0);
	ASSERT_TRUE(lmvm_ok(reply)) TH_LOG("%s", reply);
	ASSERT_EQ(lmvm_stop(&other), 0);

	ASSERT_EQ(lmvm_cmd(&self->vm, reply, sizeof(reply), "pause"), 0);
	EXPECT_ERROR(&self->vm, "128 MiB of memory, this one has 32 MiB",
		     "load-state %s", file);

	ASSERT_EQ(lmvm_start(&other, "--mem 32M --vcpus 2 --workload idle"),
		  0);
	ASSERT_EQ(lmvm_cmd(&other, reply, sizeof(reply), "pause"), 0);
	ASSERT_EQ(lmvm_cmd(&other, reply, sizeof(reply), "save-state %s",
			   file), 0);
	ASSERT_EQ(lmvm_stop(&other), 0);
	EXPECT_ERROR(&self->vm, "2 vCPUs, this one has 1", "load-state %s",
		     file);
	unlink(file);

	/* the VM's own state still loads, and it carries on */
	ASSERT_EQ(lmvm_cmd(&self->vm, reply, sizeof(reply), "load-state %s",
			   self->good), 0);
	ASSERT_TRUE(lmvm_ok(reply)) TH_LOG("%s", reply);
	assert_healthy(_metadata, &self->vm);
}

/*
 * Guest memory of a running lmvm, reached through /proc/PID/mem: the
 * mapping of a memslot is the anonymous mapping of exactly its size.
 */
static uint64_t find_mapping(pid_t pid, uint64_t size)
{
	unsigned long long start, end;
	char path[64], line[512];
	uint64_t found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%llx-%llx", &start, &end) == 2 &&
		    end - start == size && strstr(line, " rw-p "))
			found = start;
	fclose(f);
	return found;
}

static int guest_mem(pid_t pid, uint64_t hva, void *buf, size_t len,
		     bool write)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/mem", pid);
	fd = open(path, write ? O_RDWR : O_RDONLY);
	if (fd < 0)
		return -1;
	n = write ? pwrite(fd, buf, len, hva) : pread(fd, buf, len, hva);
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

/* verify must see a page that went wrong, as a bad migration would leave. */
TEST(verify_catches_bad_pages)
{
	uint64_t slot0, slot1, first, stamp[2], other[2], zero[2] = { 0, 0 };
	uint64_t shared[16];
	struct lmvm_proc vm;
	char reply[LMVM_REPLY_MAX];
	pid_t pid;

	REQUIRE_KVM();
	/* 32 MiB: memslot 1 is [1 MiB, 32 MiB), the shared page in slot 0 */
	ASSERT_EQ(lmvm_start(&vm, "--mem 32M --workload sweep --rate 16"), 0);
	lmvm_sleep(1.5);
	ASSERT_EQ(lmvm_cmd(&vm, reply, sizeof(reply), "pause"), 0);
	pid = vm.pid;
	slot1 = find_mapping(pid, 31 << 20);
	slot0 = find_mapping(pid, 640 << 10);
	if (!slot1 || !slot0) {
		/* mapped one after the other, the kernel merged the two */
		slot1 = find_mapping(pid, (31 << 20) + (640 << 10));
		slot0 = slot1 + (31 << 20);
	}
	ASSERT_NE(slot1, 0);
	/* shared page: magic, workload, nr_vcpus, tsc_khz, tsc_per_page,
	 * hotset_pages, nr_ranges, ranges[0].gpa, ... */
	ASSERT_EQ(guest_mem(pid, slot0 + 0x80000, shared, sizeof(shared),
			    false), 0);
	ASSERT_EQ(shared[0], 0x45524148534d564cULL);	/* the magic */
	first = shared[7];
	ASSERT_GE(first, 1 << 20);
	ASSERT_EQ(guest_mem(pid, slot1 + first - (1 << 20), stamp,
			    sizeof(stamp), false), 0);
	ASSERT_EQ(stamp[0], first >> 12);	/* pfn */
	ASSERT_EQ(stamp[1], 1);			/* first pass */
	ASSERT_EQ(guest_mem(pid, slot1 + first + 4096 - (1 << 20), other,
			    sizeof(other), false), 0);

	/* a stale or future generation */
	stamp[1] = 7;
	ASSERT_EQ(guest_mem(pid, slot1 + first - (1 << 20), stamp,
			    sizeof(stamp), true), 0);
	EXPECT_ERROR(&vm, "has generation 7", "verify");
	/* a page that lost its contents */
	ASSERT_EQ(guest_mem(pid, slot1 + first - (1 << 20), zero,
			    sizeof(zero), true), 0);
	EXPECT_ERROR(&vm, "never written", "verify");
	/* its neighbour's contents */
	ASSERT_EQ(guest_mem(pid, slot1 + first - (1 << 20), other,
			    sizeof(other), true), 0);
	EXPECT_ERROR(&vm, "bad stamp", "verify");

	/* put it back: all is well again */
	stamp[1] = 1;
	ASSERT_EQ(guest_mem(pid, slot1 + first - (1 << 20), stamp,
			    sizeof(stamp), true), 0);
	ASSERT_EQ(lmvm_cmd(&vm, reply, sizeof(reply), "verify"), 0);
	ASSERT_TRUE(lmvm_ok(reply)) TH_LOG("%s", reply);
	ASSERT_EQ(lmvm_stop(&vm), 0);
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * lmctl end to end: the installed tool (/usr/bin/lmctl, or $LMCTL) run the
 * way an operator runs it, against a VMM process that owns a real KVM VM.
 * Checks its output, human and JSON, and that every error exits non-zero
 * with a message that says what is wrong, including the kernel's.
 */
#include <signal.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <grp.h>

#include "kselftest_harness.h"
#include "lm_selftest.h"

#define MAX_ARGS 16

/* One run of lmctl: its exit status and what it printed. */
struct run {
	int status;		/* exit status, or 128 + signal */
	char out[8192];
	char err[4096];
};

static void read_all(int fd, char *buf, size_t size)
{
	ssize_t n = pread(fd, buf, size - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	close(fd);
}

/*
 * Run lmctl with the NULL-terminated arguments that follow, as @uid unless
 * it is 0. Returns false if it could not be run at all.
 */
static bool lmctl_as(struct run *r, uid_t uid, ...)
{
	const char *lmctl = getenv("LMCTL") ?: "/usr/bin/lmctl";
	char *argv[MAX_ARGS + 2] = { (char *)lmctl };
	int out, err, status, argc = 1;
	va_list ap;
	pid_t pid;

	va_start(ap, uid);
	while (argc <= MAX_ARGS && (argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);

	out = memfd_create("lmctl-stdout", MFD_CLOEXEC);
	err = memfd_create("lmctl-stderr", MFD_CLOEXEC);
	if (out < 0 || err < 0)
		return false;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0) {
		if (dup2(out, 1) < 0 || dup2(err, 2) < 0)
			_exit(126);
		if (uid && (setgroups(0, NULL) || setresgid(uid, uid, uid) ||
			    setresuid(uid, uid, uid)))
			_exit(126);
		execv(lmctl, argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		return false;
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) :
		    128 + WTERMSIG(status);
	read_all(out, r->out, sizeof(r->out));
	read_all(err, r->err, sizeof(r->err));
	return true;
}

#define lmctl(r, ...) lmctl_as(r, 0, __VA_ARGS__, NULL)

/* Run lmctl and check its exit status; log its output when it differs. */
#define LMCTL_EXPECT(r, want, ...) do {					\
	ASSERT_TRUE(lmctl(r, __VA_ARGS__));				\
	ASSERT_EQ(want, (r)->status) {					\
		TH_LOG("stdout: %s", (r)->out);				\
		TH_LOG("stderr: %s", (r)->err);				\
	}								\
} while (0)

#define ASSERT_HAS(haystack, needle) do {				\
	ASSERT_NE(NULL, strstr(haystack, needle)) {			\
		TH_LOG("\"%s\" not in: %s", needle, haystack);		\
	}								\
} while (0)

/* A VMM process running @nr_vms test VMs, and what it tells us of them. */
struct vmm {
	pid_t pid;
	int go;			/* write a byte: the VMM exits */
	int nr_vms;
	struct vmm_vm {
		int fd;
		uint64_t hva[TEST_NR_SLOTS];
	} vms[2];
};

static int vmm_start(struct vmm *vmm, int nr_vms)
{
	int to_parent[2], to_child[2];
	pid_t pid;

	memset(vmm, 0, sizeof(*vmm));
	if (pipe(to_parent) || pipe(to_child))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		struct test_vm vm[2];
		const char *what;
		char byte;
		int i, j;

		close(to_parent[0]);
		close(to_child[1]);
		vmm->nr_vms = nr_vms;
		for (i = 0; i < nr_vms; i++) {
			if (test_vm_create(&vm[i], &what))
				vmm->nr_vms = 0;
			vmm->vms[i].fd = vm[i].fd;
			for (j = 0; j < TEST_NR_SLOTS; j++)
				vmm->vms[i].hva[j] = (uintptr_t)vm[i].mem[j];
		}
		if (write(to_parent[1], vmm, sizeof(*vmm)) != sizeof(*vmm))
			_exit(1);
		if (read(to_child[0], &byte, 1) != 1)
			_exit(1);
		_exit(0);
	}
	close(to_parent[1]);
	close(to_child[0]);
	if (read(to_parent[0], vmm, sizeof(*vmm)) != sizeof(*vmm))
		vmm->nr_vms = 0;
	vmm->pid = pid;
	close(to_parent[0]);
	vmm->go = to_child[1];
	return 0;
}

static void vmm_stop(struct vmm *vmm)
{
	if (vmm->pid <= 0)
		return;
	if (write(vmm->go, "x", 1) != 1)
		kill(vmm->pid, SIGKILL);
	close(vmm->go);
	waitpid(vmm->pid, NULL, 0);
	vmm->pid = 0;
}

FIXTURE(lmctl) {
	struct vmm vmm;
	struct run r;
	char pid[16];
	char id[16];		/* the VM attached, or "" */
};

FIXTURE_SETUP(lmctl)
{
	ASSERT_EQ(0, lm_ensure_loaded());
	ASSERT_EQ(0, vmm_start(&self->vmm, 1));
	ASSERT_EQ(1, self->vmm.nr_vms);
	snprintf(self->pid, sizeof(self->pid), "%d", self->vmm.pid);
}

FIXTURE_TEARDOWN(lmctl)
{
	struct run r;

	if (self->id[0])
		lmctl(&r, "detach", "--vm", self->id);
	vmm_stop(&self->vmm);
	EXPECT_EQ(0, lm_ensure_loaded());
}

/* attach --pid with -j; the id goes to self->id. */
static void __attach_pid(struct __test_metadata *_metadata,
			 FIXTURE_DATA(lmctl) *self)
{
	unsigned int id;
	char want[64];

	LMCTL_EXPECT(&self->r, 0, "-j", "attach", "--pid", self->pid);
	ASSERT_EQ(1, sscanf(self->r.out, "{\"id\":%u,", &id)) {
		TH_LOG("attach -j printed: %s", self->r.out);
	}
	snprintf(self->id, sizeof(self->id), "%u", id);
	snprintf(want, sizeof(want), "{\"id\":%u,\"pid\":%s}\n", id,
		 self->pid);
	ASSERT_STREQ(want, self->r.out);
}

#define attach_pid() __attach_pid(_metadata, self)

TEST_F(lmctl, help)
{
	LMCTL_EXPECT(&self->r, 0, "--help");
	ASSERT_HAS(self->r.out, "usage: lmctl");
	ASSERT_HAS(self->r.out, "info");
	ASSERT_HAS(self->r.out, "attach");
	ASSERT_HAS(self->r.out, "detach");
	ASSERT_HAS(self->r.out, "list");

	LMCTL_EXPECT(&self->r, 0, "attach", "--help");
	ASSERT_HAS(self->r.out, "--pid PID");
	ASSERT_HAS(self->r.out, "--fd N");
	LMCTL_EXPECT(&self->r, 0, "list", "-h");
	ASSERT_HAS(self->r.out, "--vm ID");
}

TEST_F(lmctl, usage_errors)
{
	ASSERT_TRUE(lmctl_as(&self->r, 0, NULL));
	ASSERT_EQ(2, self->r.status);
	ASSERT_HAS(self->r.err, "usage: lmctl");
	LMCTL_EXPECT(&self->r, 2, "frobnicate");
	ASSERT_HAS(self->r.err, "unknown command 'frobnicate'");
	LMCTL_EXPECT(&self->r, 2, "--frob", "list");
	ASSERT_HAS(self->r.err, "unknown option '--frob'");
	LMCTL_EXPECT(&self->r, 2, "detach");
	ASSERT_HAS(self->r.err, "--vm ID");
	LMCTL_EXPECT(&self->r, 2, "detach", "--vm", "x1");
	ASSERT_HAS(self->r.err, "invalid VM id 'x1'");
	LMCTL_EXPECT(&self->r, 2, "detach", "--vm", "99999999999");
	LMCTL_EXPECT(&self->r, 2, "list", "--vm");
	ASSERT_HAS(self->r.err, "needs a value");
	LMCTL_EXPECT(&self->r, 2, "attach");
	LMCTL_EXPECT(&self->r, 2, "attach", "--pid", "-3");
	LMCTL_EXPECT(&self->r, 2, "attach", "--vm-fd", "3");
	LMCTL_EXPECT(&self->r, 2, "info", "extra");
}

TEST_F(lmctl, info)
{
	struct lm_info info;
	struct lm_nl *nl;
	char want[256];

	ASSERT_EQ(0, lm_nl_open(&nl));
	ASSERT_EQ(0, lm_nl_get_info(nl, &info));
	lm_nl_close(nl);

	LMCTL_EXPECT(&self->r, 0, "info");
	snprintf(want, sizeof(want), "module version:  %s\n",
		 info.module_version);
	ASSERT_HAS(self->r.out, want);
	/* Built from one tree: one version, so no warning about them. */
	snprintf(want, sizeof(want), "lmctl version:   %s\n",
		 info.module_version);
	ASSERT_HAS(self->r.out, want);
	ASSERT_STREQ("", self->r.err);
	snprintf(want, sizeof(want), "kernel release:  %s\n",
		 info.kernel_release);
	ASSERT_HAS(self->r.out, want);
	ASSERT_HAS(self->r.out, " attach");

	LMCTL_EXPECT(&self->r, 0, "-j", "info");
	snprintf(want, sizeof(want),
		 "{\"module_version\":\"%s\",\"wire_version\":%u,\"features_mask\":%llu,",
		 info.module_version, info.wire_version,
		 (unsigned long long)info.features);
	ASSERT_EQ(0, strncmp(want, self->r.out, strlen(want))) {
		TH_LOG("want %s... got %s", want, self->r.out);
	}
	snprintf(want, sizeof(want),
		 ",\"lmctl_version\":\"%s\",\"kernel_release\":\"%s\"}\n",
		 info.module_version, info.kernel_release);
	ASSERT_HAS(self->r.out, want);
}

TEST_F(lmctl, attach_list_detach)
{
	const struct vmm_vm *vm = &self->vmm.vms[0];
	char want[512], line[600];

	attach_pid();

	/* Human-readable: a header line per VM and a row per memslot. */
	LMCTL_EXPECT(&self->r, 0, "list");
	snprintf(want, sizeof(want), "vm %s: pid %s, 2 vCPUs, 2 memslots\n",
		 self->id, self->pid);
	ASSERT_HAS(self->r.out, want);
	snprintf(line, sizeof(line),
		 "     0  0 0x0000000000000000      2 MiB -                  0x%016llx\n",
		 (unsigned long long)vm->hva[0]);
	ASSERT_HAS(self->r.out, line);
	snprintf(line, sizeof(line),
		 "     5  0 0x0000000040000000    256 KiB dirty-log          0x%016llx\n",
		 (unsigned long long)vm->hva[1]);
	ASSERT_HAS(self->r.out, line);

	/* JSON: the whole VM, exactly. */
	snprintf(want, sizeof(want),
		 "{\"id\":%s,\"pid\":%s,\"owner_alive\":true,\"nr_vcpus\":2,\"memslots\":["
		 "{\"id\":0,\"as_id\":0,\"gpa\":0,\"size\":2097152,\"flags\":0,\"flag_names\":[],\"hva\":%llu},"
		 "{\"id\":5,\"as_id\":0,\"gpa\":1073741824,\"size\":262144,\"flags\":1,\"flag_names\":[\"dirty-log\"],\"hva\":%llu}]}",
		 self->id, self->pid, (unsigned long long)vm->hva[0],
		 (unsigned long long)vm->hva[1]);
	LMCTL_EXPECT(&self->r, 0, "-j", "list");
	ASSERT_EQ(0, strncmp("{\"vms\":[", self->r.out, 8));
	ASSERT_HAS(self->r.out, want);
	LMCTL_EXPECT(&self->r, 0, "list", "--vm", self->id, "--json");
	snprintf(line, sizeof(line), "{\"vms\":[%s]}\n", want);
	ASSERT_STREQ(line, self->r.out);

	/* Attached already. */
	LMCTL_EXPECT(&self->r, 1, "attach", "--pid", self->pid);
	ASSERT_HAS(self->r.err, "already attached");
	ASSERT_HAS(self->r.err, "lmctl: kernel: ");

	LMCTL_EXPECT(&self->r, 0, "detach", "--vm", self->id);
	snprintf(want, sizeof(want), "detached vm %s\n", self->id);
	ASSERT_STREQ(want, self->r.out);

	LMCTL_EXPECT(&self->r, 1, "detach", "--vm", self->id);
	ASSERT_HAS(self->r.err, "unknown VM id");
	ASSERT_HAS(self->r.err, "lmctl: kernel: ");
	LMCTL_EXPECT(&self->r, 1, "list", "--vm", self->id);
	ASSERT_HAS(self->r.err, "unknown VM id");
	ASSERT_HAS(self->r.err, "lmctl: kernel: ");
	self->id[0] = '\0';

	LMCTL_EXPECT(&self->r, 0, "-j", "list");
	ASSERT_EQ(NULL, strstr(self->r.out, want));
}

/* The VMM goes away while attached: list says so, detach still works. */
TEST_F(lmctl, vmm_exits)
{
	attach_pid();
	vmm_stop(&self->vmm);

	LMCTL_EXPECT(&self->r, 0, "list", "--vm", self->id);
	ASSERT_HAS(self->r.out, "(exited)");
	LMCTL_EXPECT(&self->r, 0, "-j", "list", "--vm", self->id);
	ASSERT_HAS(self->r.out, "\"owner_alive\":false");
	LMCTL_EXPECT(&self->r, 0, "detach", "--vm", self->id);
	self->id[0] = '\0';
}

TEST_F(lmctl, attach_errors)
{
	char pid[16];
	pid_t gone;

	/* This test program runs no VM. */
	snprintf(pid, sizeof(pid), "%d", getpid());
	LMCTL_EXPECT(&self->r, 1, "attach", "--pid", pid);
	ASSERT_HAS(self->r.err, "has no KVM VM");

	gone = fork();
	ASSERT_LE(0, gone);
	if (!gone)
		_exit(0);
	waitpid(gone, NULL, 0);
	snprintf(pid, sizeof(pid), "%d", gone);
	LMCTL_EXPECT(&self->r, 1, "attach", "--pid", pid);
	ASSERT_HAS(self->r.err, "no process with pid");

	/* lmctl's own descriptors: stdout is no VM, 77 is not open. */
	LMCTL_EXPECT(&self->r, 1, "attach", "--fd", "1");
	ASSERT_HAS(self->r.err, "lmctl: kernel: ");
	LMCTL_EXPECT(&self->r, 1, "attach", "--fd", "77");
	ASSERT_HAS(self->r.err, "not an open file descriptor");

	/* A descriptor of the VMM that is not its VM. */
	LMCTL_EXPECT(&self->r, 1, "attach", "--pid", self->pid, "--vm-fd",
		     "0");
	ASSERT_HAS(self->r.err, "lmctl: kernel: ");
	LMCTL_EXPECT(&self->r, 1, "attach", "--pid", self->pid, "--vm-fd",
		     "999");
	ASSERT_HAS(self->r.err, "has no fd 999");
}

/* A VM descriptor handed to lmctl by the VMM that runs it. */
TEST_F(lmctl, attach_inherited_fd)
{
	struct test_vm vm;
	char fd[16], pid[16];

	TEST_VM_CREATE(&vm);
	/* test_vm_create() opens with O_CLOEXEC; this one must pass exec. */
	ASSERT_EQ(0, fcntl(vm.fd, F_SETFD, 0));
	snprintf(fd, sizeof(fd), "%d", vm.fd);
	snprintf(pid, sizeof(pid), "%d", getpid());

	/* lmctl is not the VMM, so it must say who is. */
	LMCTL_EXPECT(&self->r, 1, "attach", "--fd", fd);
	ASSERT_HAS(self->r.err, "lmctl: kernel: ");
	LMCTL_EXPECT(&self->r, 0, "attach", "--fd", fd, "--pid", pid);
	ASSERT_EQ(1, sscanf(self->r.out, "attached vm %15s", self->id));
	LMCTL_EXPECT(&self->r, 0, "detach", "--vm", self->id);
	self->id[0] = '\0';
	test_vm_destroy(&vm);
}

/* A VMM with two VMs: lmctl will not guess which one is meant. */
TEST_F(lmctl, attach_vmm_with_two_vms)
{
	struct vmm two;
	char pid[16], fd[16];

	ASSERT_EQ(0, vmm_start(&two, 2));
	ASSERT_EQ(2, two.nr_vms) {
		vmm_stop(&two);
	}
	snprintf(pid, sizeof(pid), "%d", two.pid);
	snprintf(fd, sizeof(fd), "%d", two.vms[1].fd);

	LMCTL_EXPECT(&self->r, 1, "attach", "--pid", pid);
	ASSERT_HAS(self->r.err, "has 2 KVM VMs");
	ASSERT_HAS(self->r.err, "--vm-fd");

	LMCTL_EXPECT(&self->r, 0, "attach", "--pid", pid, "--vm-fd", fd);
	ASSERT_EQ(1, sscanf(self->r.out, "attached vm %15s", self->id));
	LMCTL_EXPECT(&self->r, 0, "-j", "list", "--vm", self->id);
	snprintf(fd, sizeof(fd), "%llu",
		 (unsigned long long)two.vms[1].hva[0]);
	ASSERT_HAS(self->r.out, fd);
	LMCTL_EXPECT(&self->r, 0, "detach", "--vm", self->id);
	self->id[0] = '\0';
	vmm_stop(&two);
}

TEST_F(lmctl, unprivileged)
{
	attach_pid();

	ASSERT_TRUE(lmctl_as(&self->r, 65534, "info", NULL));
	ASSERT_EQ(0, self->r.status);
	ASSERT_TRUE(lmctl_as(&self->r, 65534, "list", NULL));
	ASSERT_EQ(1, self->r.status);
	ASSERT_HAS(self->r.err, "permission denied");
	ASSERT_TRUE(lmctl_as(&self->r, 65534, "detach", "--vm", self->id,
			     NULL));
	ASSERT_EQ(1, self->r.status);
	ASSERT_HAS(self->r.err, "permission denied");
	/* Not even its own process: pidfd_getfd needs more than that. */
	ASSERT_TRUE(lmctl_as(&self->r, 65534, "attach", "--pid", self->pid,
			     NULL));
	ASSERT_EQ(1, self->r.status);
	TH_LOG("unprivileged attach: %s", self->r.err);
}

TEST_F(lmctl, module_not_loaded)
{
	ASSERT_EQ(0, lm_unload());
	LMCTL_EXPECT(&self->r, 1, "info");
	ASSERT_HAS(self->r.err, "lm kernel module is not loaded");
	LMCTL_EXPECT(&self->r, 1, "list");
	ASSERT_HAS(self->r.err, "lm kernel module is not loaded");
	ASSERT_EQ(0, lm_load());
	LMCTL_EXPECT(&self->r, 0, "info");
}

TEST_HARNESS_MAIN

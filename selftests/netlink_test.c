// SPDX-License-Identifier: GPL-2.0
/*
 * lm's generic netlink interface, command by command: good requests on a
 * real KVM VM report exactly what KVM holds, and every bad request (wrong
 * descriptor, unknown VM, wrong owner, unprivileged caller, missing or
 * malformed attributes) fails with the errno uapi/linux/lm.h documents and
 * an extack message saying why.
 */
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <grp.h>
#include <time.h>

#include "kselftest_harness.h"
#include "lm_selftest.h"

/* Ids and fds that nothing uses: requests naming them fail late, if at all. */
#define UNUSED_VM_ID	0x7ffffffeU
#define UNUSED_FD	0x7ffffff0U

FIXTURE(nl) {
	struct lm_nl *nl;
};

FIXTURE_SETUP(nl)
{
	ASSERT_EQ(0, lm_nl_open(&self->nl)) {
		TH_LOG("the lm generic netlink family is not there");
	}
}

FIXTURE_TEARDOWN(nl)
{
	lm_nl_close(self->nl);
}

TEST_F(nl, get_info)
{
	struct lm_info info;
	struct utsname uts;

	ASSERT_EQ(0, lm_nl_get_info(self->nl, &info));
	ASSERT_EQ(0, uname(&uts));
	EXPECT_STRNE("", info.module_version);
	EXPECT_EQ(LM_WIRE_VERSION, info.wire_version);
	EXPECT_TRUE(info.features & LM_FEATURE_ATTACH);
	EXPECT_STREQ(uts.release, info.kernel_release);
	TH_LOG("module %s, wire %u, features %#llx, kernel %s",
	       info.module_version, info.wire_version,
	       (unsigned long long)info.features, info.kernel_release);
}

TEST_F(nl, detach_unknown_id)
{
	ASSERT_NL_ERR(self->nl, ENOENT, lm_nl_detach(self->nl, UNUSED_VM_ID));
	/* Ids start at 1: 0 is out of the policy's range, not unknown. */
	ASSERT_NL_ERR(self->nl, ERANGE, lm_nl_detach(self->nl, 0));
	EXPECT_EQ(LM_REQ_ATTRS_OFFSET, lm_nl_extack_offset(self->nl));
}

TEST_F(nl, list_unknown_id)
{
	unsigned int nr_replies = 1;
	struct lm_vm_list list;
	struct attrs a = { };

	ASSERT_NL_ERR(self->nl, ENOENT,
		      lm_nl_list(self->nl, true, UNUSED_VM_ID, &list));
	lm_vm_list_free(&list);

	/* A dump narrowed to an unknown id is empty, not an error. */
	attrs_put_u32(&a, LM_A_VM_ID, UNUSED_VM_ID);
	ASSERT_EQ(0, lm_nl_request_raw(self->nl, LM_CMD_LIST, true, a.buf,
				       a.len, &nr_replies));
	EXPECT_EQ(0, nr_replies);
}

TEST_F(nl, attach_closed_fd)
{
	int fd = dup(0);

	ASSERT_LE(0, fd);
	close(fd);
	ASSERT_NL_ERR(self->nl, EBADF, lm_nl_attach(self->nl, fd, 0, NULL));
	ASSERT_NL_ERR(self->nl, EBADF,
		      lm_nl_attach(self->nl, UNUSED_FD, 0, NULL));
	ASSERT_NL_ERR(self->nl, EBADF, lm_nl_attach(self->nl, -1, 0, NULL));
}

TEST_F(nl, missing_attributes)
{
	struct attrs a = { };

	ASSERT_NL_ERR(self->nl, EINVAL,
		      lm_nl_request_raw(self->nl, LM_CMD_ATTACH, false, NULL, 0,
					NULL));
	EXPECT_EQ(LM_A_VM_FD, lm_nl_extack_missing_type(self->nl));

	ASSERT_NL_ERR(self->nl, EINVAL,
		      lm_nl_request_raw(self->nl, LM_CMD_DETACH, false, NULL, 0,
					NULL));
	EXPECT_EQ(LM_A_VM_ID, lm_nl_extack_missing_type(self->nl));

	/* The pid alone does not name a VM. */
	attrs_put_u32(&a, LM_A_VM_PID, getpid());
	ASSERT_NL_ERR(self->nl, EINVAL,
		      lm_nl_request_raw(self->nl, LM_CMD_ATTACH, false, a.buf,
					a.len, NULL));
	EXPECT_EQ(LM_A_VM_FD, lm_nl_extack_missing_type(self->nl));
}

/* Commands lm does not have are refused by the generic netlink core. */
TEST_F(nl, unknown_command)
{
	ASSERT_EQ(-EOPNOTSUPP,
		  lm_nl_request_raw(self->nl, LM_CMD_MAX + 1, false, NULL, 0,
				    NULL));
	ASSERT_EQ(-EOPNOTSUPP,
		  lm_nl_request_raw(self->nl, LM_CMD_UNSPEC, false, NULL, 0,
				    NULL));
}

/*
 * Malformed requests: each variant is one request with one thing wrong. A
 * valid-looking attribute the command needs comes first where it helps,
 * naming a descriptor or VM that does not exist: if the bad attribute got
 * through validation, the request would fail later with another errno.
 */
FIXTURE(malformed) {
	struct lm_nl *nl;
	struct attrs attrs;
	/* Offset of the bad attribute in the request, or -1. */
	int bad_offset;
};

FIXTURE_VARIANT(malformed) {
	uint8_t cmd;
	bool dump;
	/* The attribute the command needs, with an unused value; or 0. */
	uint16_t good_type;
	/* The bad attribute: its type and payload length. */
	uint16_t bad_type;
	uint16_t bad_len;
	/* Instead of a bad attribute, raw bytes after the good one. */
	const char *raw;
	size_t raw_len;
	/* The errno expected, when not EINVAL. */
	int err;
};

FIXTURE_VARIANT_ADD(malformed, attach_fd_u16) {
	.cmd = LM_CMD_ATTACH, .bad_type = LM_A_VM_FD, .bad_len = 2,
};

FIXTURE_VARIANT_ADD(malformed, attach_fd_u64) {
	.cmd = LM_CMD_ATTACH, .bad_type = LM_A_VM_FD, .bad_len = 8,
};

FIXTURE_VARIANT_ADD(malformed, attach_fd_empty) {
	.cmd = LM_CMD_ATTACH, .bad_type = LM_A_VM_FD, .bad_len = 0,
};

FIXTURE_VARIANT_ADD(malformed, attach_pid_u8) {
	.cmd = LM_CMD_ATTACH, .good_type = LM_A_VM_FD,
	.bad_type = LM_A_VM_PID, .bad_len = 1,
};

FIXTURE_VARIANT_ADD(malformed, attach_pid_zero) {
	/* Out of the policy's range: the core says -ERANGE. */
	.cmd = LM_CMD_ATTACH, .good_type = LM_A_VM_FD,
	.bad_type = LM_A_VM_PID, .bad_len = 4,	/* value 0 */
	.err = ERANGE,
};

FIXTURE_VARIANT_ADD(malformed, list_one_id_zero) {
	.cmd = LM_CMD_LIST, .bad_type = LM_A_VM_ID, .bad_len = 4,
	.err = ERANGE,
};

FIXTURE_VARIANT_ADD(malformed, attach_unknown_attr) {
	.cmd = LM_CMD_ATTACH, .good_type = LM_A_VM_FD,
	.bad_type = LM_A_MAX + 1, .bad_len = 4,
};

FIXTURE_VARIANT_ADD(malformed, attach_attr_type_zero) {
	.cmd = LM_CMD_ATTACH, .good_type = LM_A_VM_FD,
	.bad_type = LM_A_UNSPEC, .bad_len = 4,
};

FIXTURE_VARIANT_ADD(malformed, attach_pad_attr) {
	.cmd = LM_CMD_ATTACH, .good_type = LM_A_VM_FD,
	.bad_type = LM_A_PAD, .bad_len = 4,
};

FIXTURE_VARIANT_ADD(malformed, attach_with_vm_id) {
	.cmd = LM_CMD_ATTACH, .good_type = LM_A_VM_FD,
	.bad_type = LM_A_VM_ID, .bad_len = 4,
};

FIXTURE_VARIANT_ADD(malformed, attach_with_info_attr) {
	.cmd = LM_CMD_ATTACH, .good_type = LM_A_VM_FD,
	.bad_type = LM_A_INFO_FEATURES, .bad_len = 8,
};

FIXTURE_VARIANT_ADD(malformed, attach_trailing_bytes) {
	.cmd = LM_CMD_ATTACH, .good_type = LM_A_VM_FD,
	.raw = "\x01\x02\x03", .raw_len = 3,
};

FIXTURE_VARIANT_ADD(malformed, attach_attr_past_end) {
	/* nla_len says 16 bytes, 8 follow. */
	.cmd = LM_CMD_ATTACH, .good_type = LM_A_VM_FD,
	.raw = "\x10\x00\x08\x00\x00\x00\x00\x00", .raw_len = 8,
};

FIXTURE_VARIANT_ADD(malformed, attach_attr_len_below_header) {
	.cmd = LM_CMD_ATTACH, .good_type = LM_A_VM_FD,
	.raw = "\x02\x00\x08\x00", .raw_len = 4,
};

FIXTURE_VARIANT_ADD(malformed, detach_id_u64) {
	.cmd = LM_CMD_DETACH, .bad_type = LM_A_VM_ID, .bad_len = 8,
};

FIXTURE_VARIANT_ADD(malformed, detach_id_empty) {
	.cmd = LM_CMD_DETACH, .bad_type = LM_A_VM_ID, .bad_len = 0,
};

FIXTURE_VARIANT_ADD(malformed, detach_unknown_attr) {
	.cmd = LM_CMD_DETACH, .good_type = LM_A_VM_ID,
	.bad_type = LM_A_MAX + 1, .bad_len = 4,
};

FIXTURE_VARIANT_ADD(malformed, detach_with_vm_fd) {
	.cmd = LM_CMD_DETACH, .good_type = LM_A_VM_ID,
	.bad_type = LM_A_VM_FD, .bad_len = 4,
};

FIXTURE_VARIANT_ADD(malformed, detach_trailing_bytes) {
	.cmd = LM_CMD_DETACH, .good_type = LM_A_VM_ID,
	.raw = "\xff\xff", .raw_len = 2,
};

FIXTURE_VARIANT_ADD(malformed, list_id_u16) {
	.cmd = LM_CMD_LIST, .dump = true,
	.bad_type = LM_A_VM_ID, .bad_len = 2,
};

FIXTURE_VARIANT_ADD(malformed, list_one_id_u16) {
	.cmd = LM_CMD_LIST, .bad_type = LM_A_VM_ID, .bad_len = 2,
};

FIXTURE_VARIANT_ADD(malformed, list_with_vm_fd) {
	.cmd = LM_CMD_LIST, .dump = true,
	.bad_type = LM_A_VM_FD, .bad_len = 4,
};

FIXTURE_VARIANT_ADD(malformed, list_with_memslots) {
	/* A reply attribute is no request attribute. */
	.cmd = LM_CMD_LIST, .dump = true,
	.bad_type = LM_A_VM_MEMSLOTS, .bad_len = 0,
};

FIXTURE_VARIANT_ADD(malformed, list_unknown_attr) {
	.cmd = LM_CMD_LIST, .dump = true,
	.bad_type = 1000, .bad_len = 4,
};

FIXTURE_VARIANT_ADD(malformed, get_info_with_vm_id) {
	.cmd = LM_CMD_GET_INFO, .bad_type = LM_A_VM_ID, .bad_len = 4,
};

FIXTURE_VARIANT_ADD(malformed, get_info_with_info_attr) {
	.cmd = LM_CMD_GET_INFO, .bad_type = LM_A_INFO_WIRE_VERSION,
	.bad_len = 4,
};

FIXTURE_SETUP(malformed)
{
	static const unsigned char zeros[16];

	ASSERT_EQ(0, lm_nl_open(&self->nl));
	if (variant->good_type == LM_A_VM_FD)
		attrs_put_u32(&self->attrs, LM_A_VM_FD, UNUSED_FD);
	else if (variant->good_type == LM_A_VM_ID)
		attrs_put_u32(&self->attrs, LM_A_VM_ID, UNUSED_VM_ID);

	self->bad_offset = -1;
	if (variant->raw) {
		attrs_put_raw(&self->attrs, variant->raw, variant->raw_len);
	} else {
		self->bad_offset = LM_REQ_ATTRS_OFFSET + self->attrs.len;
		attrs_put(&self->attrs, variant->bad_type, zeros,
			  variant->bad_len);
	}
}

FIXTURE_TEARDOWN(malformed)
{
	lm_nl_close(self->nl);
}

TEST_F(malformed, rejected)
{
	ASSERT_NL_ERR(self->nl, variant->err ?: EINVAL,
		      lm_nl_request_raw(self->nl, variant->cmd, variant->dump,
					self->attrs.buf, self->attrs.len,
					NULL));
	if (self->bad_offset >= 0)
		EXPECT_EQ(self->bad_offset, lm_nl_extack_offset(self->nl));
}

/* A real VM, with the layout of test_vm_create(). */
FIXTURE(vm) {
	struct lm_nl *nl;
	struct test_vm vm;
	uint32_t id;		/* attached as, or 0 */
};

FIXTURE_SETUP(vm)
{
	ASSERT_EQ(0, lm_nl_open(&self->nl));
	TEST_VM_CREATE(&self->vm);
}

FIXTURE_TEARDOWN(vm)
{
	if (self->id)
		lm_nl_detach(self->nl, self->id);
	test_vm_destroy(&self->vm);
	lm_nl_close(self->nl);
}

TEST_F(vm, attach_list_detach)
{
	struct lm_vm_list list;
	struct lm_vm_info *info;

	ASSERT_EQ(0, lm_nl_attach(self->nl, self->vm.fd, 0, &self->id)) {
		TH_LOG("ATTACH: %s", lm_nl_extack(self->nl));
	}
	ASSERT_NE(0, self->id);

	/* LIST of this VM: exactly what was set up, owned by us. */
	ASSERT_EQ(0, list_one(self->nl, self->id, &list, &info)) {
		TH_LOG("LIST: %s", lm_nl_extack(self->nl));
	}
	EXPECT_TRUE(info->owner_alive);
	check_vm_layout(info, &self->vm, getpid());
	lm_vm_list_free(&list);

	/* The dump of every VM holds it the same. */
	ASSERT_EQ(0, lm_nl_list(self->nl, false, 0, &list));
	info = find_vm(&list, self->id);
	ASSERT_NE(NULL, info);
	EXPECT_TRUE(info->owner_alive);
	check_vm_layout(info, &self->vm, getpid());
	lm_vm_list_free(&list);

	ASSERT_EQ(0, lm_nl_detach(self->nl, self->id));

	ASSERT_NL_ERR(self->nl, ENOENT,
		      list_one(self->nl, self->id, &list, &info));
	lm_vm_list_free(&list);
	ASSERT_EQ(0, lm_nl_list(self->nl, false, 0, &list));
	EXPECT_EQ(NULL, find_vm(&list, self->id));
	lm_vm_list_free(&list);
	ASSERT_NL_ERR(self->nl, ENOENT, lm_nl_detach(self->nl, self->id));
	self->id = 0;

	/* Detached, the VM is the VMM's alone again and can come back. */
	ASSERT_EQ(0, lm_nl_attach(self->nl, self->vm.fd, 0, &self->id));
}

TEST_F(vm, attach_twice)
{
	uint32_t id = 0;
	int dup_fd;

	ASSERT_EQ(0, lm_nl_attach(self->nl, self->vm.fd, 0, &self->id));
	ASSERT_NL_ERR(self->nl, EEXIST,
		      lm_nl_attach(self->nl, self->vm.fd, 0, &id));

	/* Another descriptor of the same VM is still the same VM. */
	dup_fd = dup(self->vm.fd);
	ASSERT_LE(0, dup_fd);
	ASSERT_NL_ERR(self->nl, EEXIST,
		      lm_nl_attach(self->nl, dup_fd, getpid(), &id));
	close(dup_fd);
}

TEST_F(vm, attach_with_own_pid)
{
	struct lm_vm_list list;
	struct lm_vm_info *info;

	ASSERT_EQ(0, lm_nl_attach(self->nl, self->vm.fd, getpid(),
				  &self->id));
	ASSERT_EQ(0, list_one(self->nl, self->id, &list, &info));
	check_vm_layout(info, &self->vm, getpid());
	lm_vm_list_free(&list);
}

/* lm's reference keeps the VM when the VMM closes every descriptor. */
TEST_F(vm, outlives_vmm_fds)
{
	struct lm_vm_list list;
	struct lm_vm_info *info;
	int i;

	ASSERT_EQ(0, lm_nl_attach(self->nl, self->vm.fd, 0, &self->id));
	for (i = 0; i < TEST_NR_VCPUS; i++) {
		close(self->vm.vcpu_fd[i]);
		self->vm.vcpu_fd[i] = -1;
	}
	close(self->vm.fd);
	self->vm.fd = -1;

	ASSERT_EQ(0, list_one(self->nl, self->id, &list, &info));
	EXPECT_TRUE(info->owner_alive);
	check_vm_layout(info, &self->vm, getpid());
	lm_vm_list_free(&list);

	ASSERT_EQ(0, lm_nl_detach(self->nl, self->id));
	self->id = 0;
}

TEST_F(vm, attach_non_kvm_fds)
{
	int null_fd, event_fd;

	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, null_fd);
	event_fd = eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, event_fd);

	ASSERT_NL_ERR(self->nl, EINVAL,
		      lm_nl_attach(self->nl, null_fd, 0, NULL));
	ASSERT_NL_ERR(self->nl, EINVAL,
		      lm_nl_attach(self->nl, event_fd, 0, NULL));
	/* /dev/kvm itself and a vCPU: KVM files, but not a VM. */
	ASSERT_NL_ERR(self->nl, EINVAL,
		      lm_nl_attach(self->nl, self->vm.kvm_fd, 0, NULL));
	ASSERT_NL_ERR(self->nl, EINVAL,
		      lm_nl_attach(self->nl, self->vm.vcpu_fd[0], 0, NULL));

	close(event_fd);
	close(null_fd);
}

/* A child that waits to be killed; its pid names a process that runs. */
static pid_t spawn_sleeper(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		pause();
		_exit(0);
	}
	return pid;
}

TEST_F(vm, attach_pid_not_owner)
{
	pid_t child = spawn_sleeper();

	ASSERT_LT(0, child);
	/* The child shares nothing of our address space after fork. */
	ASSERT_NL_ERR(self->nl, EINVAL,
		      lm_nl_attach(self->nl, self->vm.fd, child, NULL));
	ASSERT_NL_ERR(self->nl, EINVAL,
		      lm_nl_attach(self->nl, self->vm.fd, 1, NULL));
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
}

TEST_F(vm, attach_pid_gone)
{
	pid_t child = fork();

	ASSERT_LE(0, child);
	if (child == 0)
		_exit(0);
	ASSERT_EQ(child, waitpid(child, NULL, 0));

	ASSERT_NL_ERR(self->nl, ESRCH,
		      lm_nl_attach(self->nl, self->vm.fd, child, NULL));
}

/* What a child saw, sent back over a pipe. */
struct child_result {
	int step;		/* how far it got; see the tests */
	int err[4];
	char extack[4][128];
};

static void child_report(int fd, struct child_result *r)
{
	if (write(fd, r, sizeof(*r)) != sizeof(*r))
		_exit(2);
	_exit(0);
}

static void child_record(struct child_result *r, int i, struct lm_nl *nl,
			 int err)
{
	r->err[i] = err;
	snprintf(r->extack[i], sizeof(r->extack[i]), "%s",
		 nl ? lm_nl_extack(nl) : "");
}

/* Wait for the child and read its result; false if it died instead. */
static bool child_collect(pid_t child, int fd, struct child_result *r)
{
	int status;
	bool ok;

	ok = read(fd, r, sizeof(*r)) == sizeof(*r);
	close(fd);
	if (waitpid(child, &status, 0) != child)
		return false;
	return ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/*
 * A forked child holds the VM's descriptor but not the VM's address space:
 * without LM_A_VM_PID it may not attach the VM as its own.
 */
TEST_F(vm, attach_caller_not_owner)
{
	struct child_result r = { };
	int pipefd[2];
	pid_t child;

	ASSERT_EQ(0, pipe(pipefd));
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		struct lm_nl *nl;

		close(pipefd[0]);
		r.step = 1;
		if (!lm_nl_open(&nl)) {
			child_record(&r, 0, nl,
				     lm_nl_attach(nl, self->vm.fd, 0, NULL));
			lm_nl_close(nl);
			r.step = 2;
		}
		child_report(pipefd[1], &r);
	}
	close(pipefd[1]);
	ASSERT_TRUE(child_collect(child, pipefd[0], &r));
	ASSERT_EQ(2, r.step);
	EXPECT_EQ(-EINVAL, r.err[0]);
	EXPECT_STRNE("", r.extack[0]);
	TH_LOG("ATTACH by a child: %d \"%s\"", r.err[0], r.extack[0]);
}

/*
 * An unprivileged caller (uid 65534, no capabilities) may ask GET_INFO and
 * nothing else: ATTACH, DETACH and LIST are -EPERM. The generic netlink
 * core checks GENL_ADMIN_PERM before the family sees the request, so these
 * errors carry no extack message (the core sets none in 6.1).
 */
TEST_F(vm, unprivileged)
{
	struct child_result r = { };
	int pipefd[2];
	pid_t child;

	ASSERT_EQ(0, lm_nl_attach(self->nl, self->vm.fd, 0, &self->id));

	ASSERT_EQ(0, pipe(pipefd));
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		struct lm_vm_list list;
		struct lm_info info;
		struct lm_nl *nl;
		gid_t gid = 65534;
		uid_t uid = 65534;
		char line[128];
		FILE *status;

		close(pipefd[0]);
		if (setgroups(0, NULL) || setresgid(gid, gid, gid) ||
		    setresuid(uid, uid, uid))
			child_report(pipefd[1], &r);
		r.step = 1;

		/* No capability may be left in the effective set. */
		status = fopen("/proc/self/status", "r");
		if (!status)
			child_report(pipefd[1], &r);
		while (fgets(line, sizeof(line), status))
			if (!strcmp(line, "CapEff:\t0000000000000000\n"))
				r.step = 2;
		fclose(status);
		if (r.step != 2)
			child_report(pipefd[1], &r);

		if (lm_nl_open(&nl))
			child_report(pipefd[1], &r);
		r.step = 3;
		child_record(&r, 0, nl, lm_nl_get_info(nl, &info));
		child_record(&r, 1, nl,
			     lm_nl_attach(nl, self->vm.fd, 0, NULL));
		child_record(&r, 2, nl, lm_nl_detach(nl, self->id));
		child_record(&r, 3, nl, lm_nl_list(nl, false, 0, &list));
		lm_vm_list_free(&list);
		lm_nl_close(nl);
		r.step = 4;
		child_report(pipefd[1], &r);
	}
	close(pipefd[1]);
	ASSERT_TRUE(child_collect(child, pipefd[0], &r));
	ASSERT_EQ(4, r.step) {
		TH_LOG("step %d: 1 setresuid, 2 capabilities, 3 netlink",
		       r.step + 1);
	}
	EXPECT_EQ(0, r.err[0]);
	EXPECT_EQ(-EPERM, r.err[1]);
	EXPECT_EQ(-EPERM, r.err[2]);
	EXPECT_EQ(-EPERM, r.err[3]);

	/* And the VM is still attached, untouched. */
	{
		struct lm_vm_list list;
		struct lm_vm_info *info;

		ASSERT_EQ(0, list_one(self->nl, self->id, &list, &info));
		check_vm_layout(info, &self->vm, getpid());
		lm_vm_list_free(&list);
	}
}

/*
 * x86's second address space (SMM) is reported as such, after the first:
 * a slot there keeps its id, and its as_id says where it lives.
 */
TEST_F(vm, smm_address_space)
{
	struct kvm_userspace_memory_region region;
	struct lm_vm_list list;
	struct lm_vm_info *info;
	void *smram;

	if (ioctl(self->vm.kvm_fd, KVM_CHECK_EXTENSION,
		  KVM_CAP_MULTI_ADDRESS_SPACE) < 2)
		SKIP(return, "KVM has a single address space here");
	smram = mmap(NULL, SZ_256K, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, smram);
	region = (struct kvm_userspace_memory_region) {
		.slot = 1 << 16 | 2,
		.guest_phys_addr = 0xa0000,
		.memory_size = SZ_256K,
		.userspace_addr = (uintptr_t)smram,
	};
	ASSERT_EQ(0, ioctl(self->vm.fd, KVM_SET_USER_MEMORY_REGION, &region));

	ASSERT_EQ(0, lm_nl_attach(self->nl, self->vm.fd, 0, &self->id));
	ASSERT_EQ(0, list_one(self->nl, self->id, &list, &info));
	ASSERT_EQ(TEST_NR_SLOTS + 1, info->nr_memslots);
	EXPECT_EQ(0, info->memslots[TEST_NR_SLOTS - 1].as_id);
	EXPECT_EQ(2, info->memslots[TEST_NR_SLOTS].id);
	EXPECT_EQ(1, info->memslots[TEST_NR_SLOTS].as_id);
	EXPECT_EQ(0xa0000, info->memslots[TEST_NR_SLOTS].gpa);
	EXPECT_EQ(SZ_256K, info->memslots[TEST_NR_SLOTS].size);
	EXPECT_EQ((uintptr_t)smram, info->memslots[TEST_NR_SLOTS].hva);
	lm_vm_list_free(&list);
}

/*
 * Several VMMs attach and detach their VMs over and over while others
 * list every VM: ids and lifetimes must hold up (no error but the ones a
 * race explains, and no kernel complaint, which the lab watches for).
 */
#define RACE_VMMS	3
#define RACE_LISTERS	2
#define RACE_SECONDS	4

static int race_vmm(void)
{
	struct lm_vm_list list;
	struct lm_vm_info *info;
	struct test_vm vm;
	const char *what;
	struct lm_nl *nl;
	uint32_t id;
	int rounds = 0;
	time_t end;

	if (test_vm_create(&vm, &what) || lm_nl_open(&nl))
		return 1;
	/* From here: creating the VM can take seconds on a loaded host. */
	end = time(NULL) + RACE_SECONDS;
	while (time(NULL) < end) {
		if (lm_nl_attach(nl, vm.fd, 0, &id))
			return 2;
		if (list_one(nl, id, &list, &info) ||
		    info->nr_memslots != TEST_NR_SLOTS)
			return 3;
		lm_vm_list_free(&list);
		if (lm_nl_detach(nl, id))
			return 4;
		rounds++;
	}
	return rounds ? 0 : 5;
}

static int race_lister(void)
{
	struct lm_vm_list list;
	struct lm_nl *nl;
	time_t end = time(NULL) + RACE_SECONDS;
	size_t i;

	if (lm_nl_open(&nl))
		return 1;
	while (time(NULL) < end) {
		if (lm_nl_list(nl, false, 0, &list))
			return 2;
		/* Whatever is listed is listed whole. */
		for (i = 0; i < list.nr_vms; i++)
			if (list.vms[i].nr_memslots != TEST_NR_SLOTS ||
			    list.vms[i].nr_vcpus != TEST_NR_VCPUS)
				return 3;
		lm_vm_list_free(&list);
	}
	return 0;
}

TEST_F_TIMEOUT(nl, attach_detach_list_race, 60)
{
	pid_t pids[RACE_VMMS + RACE_LISTERS];
	int i, status;

	for (i = 0; i < RACE_VMMS + RACE_LISTERS; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (!pids[i])
			_exit(i < RACE_VMMS ? race_vmm() : race_lister());
	}
	for (i = 0; i < RACE_VMMS + RACE_LISTERS; i++) {
		ASSERT_EQ(pids[i], waitpid(pids[i], &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status)) {
			TH_LOG("%s %d: status %#x",
			       i < RACE_VMMS ? "VMM" : "lister", i, status);
		}
	}
}

/*
 * A VM with more memslots than one message holds: LIST of all VMs splits
 * it over several messages (the reader merges them), LIST of this one VM
 * must still report it whole.
 */
#define MANY_SLOTS 2500

TEST_F_TIMEOUT(nl, many_memslots, 300)
{
	struct kvm_userspace_memory_region region;
	unsigned int nr_replies = 0;
	struct lm_vm_list list;
	struct lm_vm_info *info;
	int kvm_fd, vm_fd, i, ret;
	uint32_t id = 0;
	char *mem;

	kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, kvm_fd);
	vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	ASSERT_LE(0, vm_fd);
	mem = mmap(NULL, MANY_SLOTS * SZ_4K, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mem);
	/* Every other page of guest memory, so no two slots touch. */
	for (i = 0; i < MANY_SLOTS; i++) {
		region = (struct kvm_userspace_memory_region) {
			.slot = i,
			.guest_phys_addr = 2 * i * SZ_4K,
			.memory_size = SZ_4K,
			.userspace_addr = (uintptr_t)(mem + i * SZ_4K),
		};
		ASSERT_EQ(0, ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &region));
	}
	ASSERT_EQ(0, lm_nl_attach(self->nl, vm_fd, 0, &id));

	ASSERT_EQ(0, lm_nl_list(self->nl, false, 0, &list)) {
		TH_LOG("LIST dump: %s", lm_nl_extack(self->nl));
	}
	info = find_vm(&list, id);
	ASSERT_NE(NULL, info);
	ASSERT_EQ(MANY_SLOTS, info->nr_memslots);
	for (i = 0; i < MANY_SLOTS; i++) {
		ASSERT_EQ((uint32_t)i, info->memslots[i].id);
		ASSERT_EQ(2 * i * SZ_4K, info->memslots[i].gpa);
		ASSERT_EQ(SZ_4K, info->memslots[i].size);
		ASSERT_EQ((uintptr_t)(mem + i * SZ_4K), info->memslots[i].hva);
	}
	lm_vm_list_free(&list);

	/* It did take more than one message. */
	ASSERT_EQ(0, lm_nl_request_raw(self->nl, LM_CMD_LIST, true, NULL, 0,
				       &nr_replies));
	EXPECT_LT(1, nr_replies);
	TH_LOG("%d memslots in %u dump messages", MANY_SLOTS, nr_replies);

	ASSERT_EQ(0, list_one(self->nl, id, &list, &info)) {
		TH_LOG("LIST of one VM: %s", lm_nl_extack(self->nl));
	}
	EXPECT_EQ(MANY_SLOTS, info->nr_memslots);
	lm_vm_list_free(&list);

	/*
	 * The plain request answers in one message: it must hold every slot
	 * or fail with a reason, never cut the list short.
	 */
	ret = lm_nl_list_get(self->nl, id, &list);
	if (ret) {
		EXPECT_STRNE("", lm_nl_extack(self->nl));
		TH_LOG("LIST of one VM, not as a dump: %s (\"%s\")",
		       strerror(-ret), lm_nl_extack(self->nl));
	} else {
		ASSERT_EQ(1, list.nr_vms);
		EXPECT_EQ(MANY_SLOTS, list.vms[0].nr_memslots);
	}
	lm_vm_list_free(&list);

	EXPECT_EQ(0, lm_nl_detach(self->nl, id));
	close(vm_fd);
	munmap(mem, MANY_SLOTS * SZ_4K);
	close(kvm_fd);
}

TEST_HARNESS_MAIN

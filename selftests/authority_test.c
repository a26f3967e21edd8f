// SPDX-License-Identifier: GPL-2.0
/*
 * Who may act on an attached VM (Documentation/security.rst): only a
 * caller asking from the VM's network namespace who may ptrace its VMM.
 *
 * The test process creates and attaches a VM, so it is the VMM; a forked
 * child then takes another identity and tries every command on the VM:
 *
 * - uid 1000 keeping only CAP_NET_ADMIN: past the family's admin check,
 *   but it may not ptrace a root VMM (-EPERM);
 * - uid 0 keeping only CAP_NET_ADMIN: the same uid as the VMM, but fewer
 *   capabilities than it, so it may not ptrace it either (-EPERM);
 * - full root in a network namespace of its own: the VM is not there for
 *   it (-ENOENT).
 *
 * Each is refused with its errno and extack message and does not see the
 * VM in LIST, while root in the VM's namespace can still do everything.
 * Also: a detached VM's id names nothing even after later attaches, and
 * only CAP_NET_ADMIN may join the "xfer" multicast group.
 */
#include <grp.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <linux/capability.h>
#include <linux/genetlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>

#include "kselftest_harness.h"
#include "lm_selftest.h"

enum identity {
	ID_USER_NETADMIN,	/* uid 1000, CAP_NET_ADMIN only */
	ID_ROOT_NETADMIN,	/* uid 0, CAP_NET_ADMIN only */
	ID_OTHER_NETNS,		/* uid 0, all capabilities, another netns */
	ID_USER,		/* uid 1000, no capabilities */
};

/* Keep only the capabilities in @mask, effective and permitted. */
static int keep_caps(uint64_t mask)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2] = { };

	data[0].effective = data[0].permitted = (uint32_t)mask;
	data[1].effective = data[1].permitted = (uint32_t)(mask >> 32);
	return syscall(SYS_capset, &hdr, data) ? -errno : 0;
}

/* Become uid/gid 1000, keeping the capabilities in @mask; 0 or -errno. */
static int become_user(uint64_t mask)
{
	const uid_t id = 1000;

	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) || setgroups(0, NULL) ||
	    setresgid(id, id, id) || setresuid(id, id, id))
		return -errno;
	return keep_caps(mask);
}

static int become(enum identity who)
{
	switch (who) {
	case ID_USER_NETADMIN:
		return become_user(1ULL << CAP_NET_ADMIN);
	case ID_ROOT_NETADMIN:
		return keep_caps(1ULL << CAP_NET_ADMIN);
	case ID_OTHER_NETNS:
		return unshare(CLONE_NEWNET) ? -errno : 0;
	case ID_USER:
		return become_user(0);
	}
	return -EINVAL;
}

/* Every command naming a VM, as the child tries them. */
enum {
	C_LIST,
	C_TRACK_START,
	C_TRACK_SYNC,
	C_TRACK_GET,
	C_TRACK_STOP,
	C_LISTEN,
	C_MIGRATE,
	C_SWITCHOVER,
	C_COMPLETE,
	C_CANCEL,
	C_STATUS,
	C_DETACH,
	C_NR
};

static const char *const cmd_name[C_NR] = {
	"LIST", "TRACK_START", "TRACK_SYNC", "TRACK_GET", "TRACK_STOP",
	"LISTEN", "MIGRATE", "SWITCHOVER", "COMPLETE", "CANCEL", "STATUS",
	"DETACH",
};

/* What the child saw, in memory shared with the test. */
struct outcome {
	int setup;		/* become()'s result, then lm_nl_open()'s */
	int err[C_NR];
	char extack[C_NR][128];
	int attach_err;		/* ATTACH of the VM by the VMM's pid */
	char attach_extack[128];
	int dump_err;		/* LIST as a dump */
	bool dump_shows_vm;
	bool done;
};

static void record(struct lm_nl *nl, struct outcome *o, int i, int err)
{
	o->err[i] = err;
	snprintf(o->extack[i], sizeof(o->extack[i]), "%s", lm_nl_extack(nl));
}

/* Try every command on VM @id as the child. */
static void try_all(struct lm_nl *nl, uint32_t id, int vm_fd, pid_t vmm,
		    struct outcome *o)
{
	struct in_addr lo = { htonl(INADDR_LOOPBACK) };
	struct lm_migrate_opts opts = { .mode = 0 };
	struct lm_track_dirty dirty = { };
	struct lm_track_round round = { };
	struct lm_xfer_status st;
	struct lm_vm_list list;
	int state_fd;
	size_t i;

	state_fd = memfd_create("state", 0);

	o->attach_err = lm_nl_attach(nl, vm_fd, vmm, NULL);
	snprintf(o->attach_extack, sizeof(o->attach_extack), "%s",
		 lm_nl_extack(nl));

	o->dump_err = lm_nl_list(nl, false, 0, &list);
	if (!o->dump_err) {
		for (i = 0; i < list.nr_vms; i++)
			if (list.vms[i].id == id)
				o->dump_shows_vm = true;
		lm_vm_list_free(&list);
	}

	record(nl, o, C_LIST, lm_nl_list(nl, true, id, &list));
	if (!o->err[C_LIST])
		lm_vm_list_free(&list);
	record(nl, o, C_TRACK_START, lm_nl_track_start(nl, id));
	record(nl, o, C_TRACK_SYNC, lm_nl_track_sync(nl, id, &round));
	lm_track_round_free(&round);
	record(nl, o, C_TRACK_GET, lm_nl_track_get(nl, id, &dirty));
	lm_track_dirty_free(&dirty);
	record(nl, o, C_TRACK_STOP, lm_nl_track_stop(nl, id));
	record(nl, o, C_LISTEN, lm_nl_listen(nl, id, &lo, sizeof(lo), 0,
					     state_fd, 0, NULL));
	record(nl, o, C_MIGRATE, lm_nl_migrate(nl, id, &lo, sizeof(lo), 9,
					       &opts));
	record(nl, o, C_SWITCHOVER, lm_nl_switchover(nl, id, state_fd));
	record(nl, o, C_COMPLETE, lm_nl_complete(nl, id, 0));
	record(nl, o, C_CANCEL, lm_nl_cancel(nl, id));
	record(nl, o, C_STATUS, lm_nl_xfer_status(nl, id, &st));
	record(nl, o, C_DETACH, lm_nl_detach(nl, id));
	if (state_fd >= 0)
		close(state_fd);
}

/* Fork a child that becomes @who and tries everything on VM @id. */
static bool run_as(enum identity who, uint32_t id, int vm_fd,
		   struct outcome *o)
{
	pid_t vmm = getpid(), child;
	int status;

	memset(o, 0, sizeof(*o));
	child = fork();
	if (child < 0)
		return false;
	if (child == 0) {
		struct lm_nl *nl;

		o->setup = become(who);
		if (!o->setup)
			o->setup = lm_nl_open(&nl);
		if (!o->setup) {
			try_all(nl, id, vm_fd, vmm, o);
			lm_nl_close(nl);
		}
		o->done = true;
		_exit(0);
	}
	return waitpid(child, &status, 0) == child && WIFEXITED(status) &&
	       o->done;
}

FIXTURE(vm) {
	struct lm_nl *nl;
	struct test_vm vm;
	uint32_t id;
	struct outcome *o;
};

FIXTURE_VARIANT(vm) {
	enum identity who;
	int err;		/* of every command */
	const char *extack;
	/* ATTACH of the VM by pid: the ptrace check, or -EEXIST. */
	int attach_err;
	const char *attach_extack;
};

FIXTURE_VARIANT_ADD(vm, user_with_net_admin) {
	.who = ID_USER_NETADMIN,
	.err = EPERM,
	.extack = "Not allowed to ptrace the VMM of this VM",
	.attach_err = EPERM,
	.attach_extack = "Not allowed to ptrace this process",
};

FIXTURE_VARIANT_ADD(vm, root_with_net_admin_only) {
	.who = ID_ROOT_NETADMIN,
	.err = EPERM,
	.extack = "Not allowed to ptrace the VMM of this VM",
	.attach_err = EPERM,
	.attach_extack = "Not allowed to ptrace this process",
};

FIXTURE_VARIANT_ADD(vm, root_in_other_netns) {
	.who = ID_OTHER_NETNS,
	.err = ENOENT,
	.extack = "No attached VM has this id",
	/* It may ptrace the VMM; the VM is attached already. */
	.attach_err = EEXIST,
	.attach_extack = "VM is already attached",
};

FIXTURE_SETUP(vm)
{
	self->o = mmap(NULL, sizeof(*self->o), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->o);
	ASSERT_EQ(0, lm_nl_open(&self->nl));
	TEST_VM_CREATE(&self->vm);
	ASSERT_EQ(0, lm_nl_attach(self->nl, self->vm.fd, 0, &self->id));
}

FIXTURE_TEARDOWN(vm)
{
	if (self->id)
		lm_nl_detach(self->nl, self->id);
	test_vm_destroy(&self->vm);
	lm_nl_close(self->nl);
	munmap(self->o, sizeof(*self->o));
}

/* Root, the VMM itself, in the VM's namespace, may do everything. */
static void root_does_everything(struct __test_metadata *_metadata,
				 struct lm_nl *nl, uint32_t id,
				 const struct test_vm *vm)
{
	struct in_addr lo = { htonl(INADDR_LOOPBACK) };
	struct lm_track_dirty dirty = { };
	struct lm_track_round round = { };
	struct lm_vm_info *info;
	struct lm_xfer_status st;
	struct lm_vm_list list;
	int state_fd;

	ASSERT_EQ(0, list_one(nl, id, &list, &info));
	check_vm_layout(info, vm, getpid());
	lm_vm_list_free(&list);
	ASSERT_EQ(0, lm_nl_list(nl, false, 0, &list));
	EXPECT_NE(NULL, find_vm(&list, id));
	lm_vm_list_free(&list);

	EXPECT_EQ(0, lm_nl_track_start(nl, id));
	EXPECT_EQ(0, lm_nl_track_sync(nl, id, &round));
	lm_track_round_free(&round);
	EXPECT_EQ(0, lm_nl_track_get(nl, id, &dirty));
	lm_track_dirty_free(&dirty);
	EXPECT_EQ(0, lm_nl_track_stop(nl, id));

	state_fd = memfd_create("state", 0);
	ASSERT_LE(0, state_fd);
	EXPECT_EQ(0, lm_nl_listen(nl, id, &lo, sizeof(lo), 0, state_fd, 0,
				  NULL)) {
		TH_LOG("LISTEN: %s", lm_nl_extack(nl));
	}
	EXPECT_EQ(0, lm_nl_xfer_status(nl, id, &st));
	EXPECT_EQ(LM_PHASE_LISTENING, st.phase);
	EXPECT_EQ(0, lm_nl_cancel(nl, id));
	close(state_fd);
}

TEST_F(vm, refused)
{
	struct outcome *o = self->o;
	int i;

	ASSERT_TRUE(run_as(variant->who, self->id, self->vm.fd, o));
	ASSERT_EQ(0, o->setup) {
		TH_LOG("becoming the caller: %s", strerror(-o->setup));
	}

	EXPECT_EQ(-variant->attach_err, o->attach_err);
	EXPECT_STREQ(variant->attach_extack, o->attach_extack);
	TH_LOG("ATTACH: %d \"%s\"", o->attach_err, o->attach_extack);

	/* A dump lists nothing the caller may not act on. */
	EXPECT_EQ(0, o->dump_err);
	EXPECT_FALSE(o->dump_shows_vm);

	for (i = 0; i < C_NR; i++) {
		EXPECT_EQ(-variant->err, o->err[i]) {
			TH_LOG("%s: %d \"%s\"", cmd_name[i], o->err[i],
			       o->extack[i]);
		}
		EXPECT_STREQ(variant->extack, o->extack[i]) {
			TH_LOG("%s: extack \"%s\"", cmd_name[i], o->extack[i]);
		}
	}

	/* Nothing happened to the VM, and its owner can still do it all. */
	root_does_everything(_metadata, self->nl, self->id, &self->vm);
	EXPECT_EQ(0, lm_nl_detach(self->nl, self->id));
	self->id = 0;
}

/*
 * A caller with the same credentials as the VMM (here: the VMM's own
 * child, still root with every capability) may act on the VM.
 */
TEST_F(vm, same_credentials_allowed)
{
	struct outcome *o = self->o;
	pid_t child;
	int status;

	memset(o, 0, sizeof(*o));
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		struct lm_track_round round = { };
		struct lm_nl *nl;

		o->setup = lm_nl_open(&nl);
		if (!o->setup) {
			record(nl, o, C_TRACK_START,
			       lm_nl_track_start(nl, self->id));
			record(nl, o, C_TRACK_SYNC,
			       lm_nl_track_sync(nl, self->id, &round));
			lm_track_round_free(&round);
			record(nl, o, C_TRACK_STOP,
			       lm_nl_track_stop(nl, self->id));
			record(nl, o, C_DETACH, lm_nl_detach(nl, self->id));
			lm_nl_close(nl);
		}
		o->done = true;
		_exit(0);
	}
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_TRUE(o->done);
	ASSERT_EQ(0, o->setup);
	EXPECT_EQ(0, o->err[C_TRACK_START]);
	EXPECT_EQ(0, o->err[C_TRACK_SYNC]);
	EXPECT_EQ(0, o->err[C_TRACK_STOP]);
	EXPECT_EQ(0, o->err[C_DETACH]);
	self->id = 0;
}

/*
 * The id of a detached VM names nothing, even once other VMs were
 * attached since: with ids reused, it would name the newest.
 */
TEST(stale_id)
{
	struct test_vm a, b;
	uint32_t id_a, id_b, id_c;
	struct lm_vm_list list;
	struct lm_nl *nl;

	ASSERT_EQ(0, lm_nl_open(&nl));
	TEST_VM_CREATE(&a);
	TEST_VM_CREATE(&b);
	ASSERT_EQ(0, lm_nl_attach(nl, a.fd, 0, &id_a));
	ASSERT_EQ(0, lm_nl_detach(nl, id_a));
	ASSERT_EQ(0, lm_nl_attach(nl, b.fd, 0, &id_b));
	EXPECT_GT(id_b, id_a);

	ASSERT_NL_ERR(nl, ENOENT, lm_nl_detach(nl, id_a));
	ASSERT_NL_ERR(nl, ENOENT, lm_nl_list(nl, true, id_a, &list));
	ASSERT_NL_ERR(nl, ENOENT, lm_nl_track_start(nl, id_a));
	/* Re-attaching the first VM gives it a new id, too. */
	ASSERT_EQ(0, lm_nl_attach(nl, a.fd, 0, &id_c));
	EXPECT_GT(id_c, id_b);
	ASSERT_NL_ERR(nl, ENOENT, lm_nl_detach(nl, id_a));

	EXPECT_EQ(0, lm_nl_detach(nl, id_b));
	EXPECT_EQ(0, lm_nl_detach(nl, id_c));
	test_vm_destroy(&a);
	test_vm_destroy(&b);
	lm_nl_close(nl);
}

/* The id of the "xfer" multicast group, resolved as root. */
static int xfer_group(void)
{
	struct nl_sock *sock = nl_socket_alloc();
	int grp = -ENOMEM;

	if (!sock)
		return grp;
	grp = genl_connect(sock);
	if (!grp)
		grp = genl_ctrl_resolve_grp(sock, LM_GENL_NAME,
					    LM_MCGRP_XFER_NAME);
	nl_socket_free(sock);
	return grp;
}

/* Join group @grp as @who (or as we are, if @who < 0): 0 or -errno. */
static int join_as(int who, int grp)
{
	int *ret, fd, status, result;
	pid_t child;

	ret = mmap(NULL, sizeof(*ret), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ret == MAP_FAILED)
		return -ENOMEM;
	*ret = -EINTR;
	child = fork();
	if (child == 0) {
		if (who >= 0 && become(who)) {
			*ret = -ECHILD;
			_exit(0);
		}
		fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC,
			    NETLINK_GENERIC);
		if (fd < 0) {
			*ret = -errno;
			_exit(0);
		}
		*ret = setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP,
				  &grp, sizeof(grp)) ? -errno : 0;
		close(fd);
		_exit(0);
	}
	if (child < 0 || waitpid(child, &status, 0) != child)
		*ret = -ECHILD;
	result = *ret;
	munmap(ret, sizeof(*ret));
	return result;
}

/* Transfer events are for CAP_NET_ADMIN only. */
TEST(xfer_group_needs_net_admin)
{
	int grp = xfer_group();

	ASSERT_LT(0, grp) {
		TH_LOG("resolving the xfer group: %d", grp);
	}
	EXPECT_EQ(-EPERM, join_as(ID_USER, grp));
	EXPECT_EQ(0, join_as(ID_USER_NETADMIN, grp));
	EXPECT_EQ(0, join_as(-1, grp));
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * lm.ko's life cycle: unloading with no VM, with VMs attached (whose last
 * reference lm may hold), and after a VMM exited with its VM attached;
 * then loading again. Every VM lm held must be gone once it lets go: every
 * KVM file (/dev/kvm, a VM, a vCPU) and every live VM pins KVM's vendor
 * module, so kvm_amd's (or kvm_intel's) reference count back where it was
 * says that nothing leaked, and above it that a VM is still alive. A VM
 * attached from a network namespace that goes away is detached with it.
 * Every test leaves lm loaded.
 */
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "lm_selftest.h"

/* References held on KVM's vendor module, or -1 if there is none. */
static int kvm_vendor_refcnt(void)
{
	static const char *const paths[] = {
		"/sys/module/kvm_amd/refcnt",
		"/sys/module/kvm_intel/refcnt",
	};
	unsigned int i;
	int refcnt;
	FILE *f;

	for (i = 0; i < ARRAY_SIZE(paths); i++) {
		f = fopen(paths[i], "r");
		if (!f)
			continue;
		if (fscanf(f, "%d", &refcnt) != 1)
			refcnt = -1;
		fclose(f);
		return refcnt;
	}
	return -1;
}

/*
 * The count once it settles on @want: the last fput() of a VM may be
 * deferred to task work or a workqueue; give it two seconds.
 */
static int kvm_vendor_refcnt_settle(int want)
{
	int i, refcnt = kvm_vendor_refcnt();

	for (i = 0; i < 200 && refcnt != want; i++) {
		usleep(10000);
		refcnt = kvm_vendor_refcnt();
	}
	return refcnt;
}

FIXTURE(module) {
	struct lm_nl *nl;
	int refcnt;		/* of KVM's vendor module, with no test VM */
};

FIXTURE_SETUP(module)
{
	struct lm_vm_list list;
	size_t i;

	ASSERT_EQ(0, lm_ensure_loaded());
	ASSERT_EQ(0, lm_nl_open(&self->nl));
	/* Start from no attached VM, whatever ran before. */
	ASSERT_EQ(0, lm_nl_list(self->nl, false, 0, &list));
	for (i = 0; i < list.nr_vms; i++)
		lm_nl_detach(self->nl, list.vms[i].id);
	lm_vm_list_free(&list);
	self->refcnt = kvm_vendor_refcnt();
	ASSERT_LE(0, self->refcnt) {
		TH_LOG("no kvm_amd or kvm_intel module");
	}
}

FIXTURE_TEARDOWN(module)
{
	lm_nl_close(self->nl);
	EXPECT_EQ(0, lm_ensure_loaded());
}

/* Unload and load lm.ko again, checking both took effect. */
static void __reload(struct __test_metadata *_metadata, struct lm_nl **nl)
{
	struct lm_info info;
	int ret;

	lm_nl_close(*nl);
	*nl = NULL;
	ret = lm_unload();
	ASSERT_EQ(0, ret) {
		TH_LOG("delete_module(lm): %s", strerror(-ret));
	}
	ASSERT_FALSE(lm_loaded());
	ASSERT_EQ(-ENOENT, lm_nl_open(nl));

	ret = lm_load();
	ASSERT_EQ(0, ret) {
		TH_LOG("finit_module(%s): %s", getenv("LM_KO"), strerror(-ret));
	}
	ASSERT_EQ(0, lm_nl_open(nl));
	ASSERT_EQ(0, lm_nl_get_info(*nl, &info));
}

#define reload(nl) __reload(_metadata, nl)

TEST_F(module, unload_idle)
{
	struct lm_vm_list list;

	reload(&self->nl);
	ASSERT_EQ(0, lm_nl_list(self->nl, false, 0, &list));
	EXPECT_EQ(0, list.nr_vms);
	lm_vm_list_free(&list);
	EXPECT_EQ(self->refcnt, kvm_vendor_refcnt());
}

/* A socket bound to the family when lm goes finds it gone, cleanly. */
TEST_F(module, unload_under_open_socket)
{
	struct lm_info info;
	struct lm_nl *old;

	ASSERT_EQ(0, lm_nl_open(&old));
	ASSERT_EQ(0, lm_unload());
	EXPECT_EQ(-ENOENT, lm_nl_get_info(old, &info));
	lm_nl_close(old);
	ASSERT_EQ(0, lm_load());
}

/*
 * Two attached VMs: lm holds the only reference on one, the VMM still has
 * the other. Unloading releases the first VM and leaves the second to its
 * VMM, working; loaded again, lm knows neither.
 */
TEST_F(module, unload_with_vms_attached)
{
	struct test_vm orphan, kept;
	struct lm_vm_list list;
	uint32_t orphan_id, kept_id;
	int with_kept;

	TEST_VM_CREATE(&kept);
	with_kept = kvm_vendor_refcnt();
	TEST_VM_CREATE(&orphan);
	ASSERT_EQ(0, lm_nl_attach(self->nl, orphan.fd, 0, &orphan_id));
	ASSERT_EQ(0, lm_nl_attach(self->nl, kept.fd, 0, &kept_id));

	/* Closing every descriptor leaves the VM alive: lm holds it. */
	test_vm_destroy(&orphan);
	usleep(100000);
	ASSERT_LT(with_kept, kvm_vendor_refcnt());

	reload(&self->nl);
	/* The orphan is destroyed; the kept VM remains, working. */
	EXPECT_EQ(with_kept, kvm_vendor_refcnt_settle(with_kept));
	EXPECT_LT(0, ioctl(kept.fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY));

	ASSERT_EQ(0, lm_nl_list(self->nl, false, 0, &list));
	EXPECT_EQ(0, list.nr_vms);
	lm_vm_list_free(&list);

	/* The VMM can attach its VM to the new lm. */
	ASSERT_EQ(0, lm_nl_attach(self->nl, kept.fd, 0, &kept_id));
	ASSERT_EQ(0, lm_nl_detach(self->nl, kept_id));
	test_vm_destroy(&kept);
	EXPECT_EQ(self->refcnt, kvm_vendor_refcnt_settle(self->refcnt));
}

/*
 * A VMM that creates the test VM, attaches it itself and exits when told:
 * *id gets the VM id, *pid the VMM; write a byte to *go to end it.
 */
static int spawn_vmm_in(bool own_netns, pid_t *pid, uint32_t *id, int *go)
{
	int to_parent[2], to_child[2];
	char byte;

	if (pipe(to_parent) || pipe(to_child))
		return -errno;
	*pid = fork();
	if (*pid < 0)
		return -errno;
	if (*pid == 0) {
		struct test_vm vm;
		const char *what;
		struct lm_nl *nl;
		uint32_t vm_id = 0;

		close(to_parent[0]);
		close(to_child[1]);
		if (own_netns && unshare(CLONE_NEWNET))
			_exit(1);
		if (!test_vm_create(&vm, &what) && !lm_nl_open(&nl))
			lm_nl_attach(nl, vm.fd, 0, &vm_id);
		if (write(to_parent[1], &vm_id, sizeof(vm_id)) != sizeof(vm_id))
			_exit(1);
		/* Exit with the VM still open: the kernel closes it. */
		if (read(to_child[0], &byte, 1) != 1)
			_exit(1);
		_exit(0);
	}
	close(to_parent[1]);
	close(to_child[0]);
	if (read(to_parent[0], id, sizeof(*id)) != sizeof(*id))
		*id = 0;
	close(to_parent[0]);
	*go = to_child[1];
	return 0;
}

static int spawn_vmm(pid_t *pid, uint32_t *id, int *go)
{
	return spawn_vmm_in(false, pid, id, go);
}

static void end_vmm(pid_t pid, int go)
{
	if (write(go, "x", 1) != 1)
		kill(pid, SIGKILL);
	close(go);
	waitpid(pid, NULL, 0);
}

TEST_F(module, vmm_exits_while_attached)
{
	struct lm_vm_list list;
	struct lm_vm_info *info;
	uint32_t id;
	pid_t vmm;
	int go;

	ASSERT_EQ(0, spawn_vmm(&vmm, &id, &go));
	ASSERT_NE(0, id) {
		end_vmm(vmm, go);
	}

	ASSERT_EQ(0, list_one(self->nl, id, &list, &info));
	EXPECT_EQ((uint32_t)vmm, info->pid);
	EXPECT_TRUE(info->owner_alive);
	lm_vm_list_free(&list);

	end_vmm(vmm, go);
	/* The VMM's files are closed; its VM lives on, held by lm. */
	usleep(100000);
	EXPECT_LT(self->refcnt, kvm_vendor_refcnt());

	ASSERT_EQ(0, list_one(self->nl, id, &list, &info));
	EXPECT_EQ((uint32_t)vmm, info->pid);
	EXPECT_FALSE(info->owner_alive);
	EXPECT_EQ(TEST_NR_VCPUS, info->nr_vcpus);
	ASSERT_EQ(TEST_NR_SLOTS, info->nr_memslots);
	EXPECT_EQ(test_slots[0].gpa, info->memslots[0].gpa);
	EXPECT_EQ(test_slots[1].size, info->memslots[1].size);
	lm_vm_list_free(&list);

	ASSERT_EQ(0, lm_nl_detach(self->nl, id));
	EXPECT_EQ(self->refcnt, kvm_vendor_refcnt_settle(self->refcnt));
	ASSERT_NL_ERR(self->nl, ENOENT, list_one(self->nl, id, &list, &info));
	lm_vm_list_free(&list);
}

/*
 * A VM is visible only in the network namespace it was attached from:
 * when that namespace goes away (here with the VMM, its only process),
 * lm detaches the VM instead of keeping it, unreachable, until unload.
 */
TEST_F(module, netns_gone_detaches)
{
	uint32_t id;
	pid_t vmm;
	int go, i;

	ASSERT_EQ(0, spawn_vmm_in(true, &vmm, &id, &go));
	ASSERT_NE(0, id) {
		end_vmm(vmm, go);
	}
	EXPECT_LT(self->refcnt, kvm_vendor_refcnt());
	end_vmm(vmm, go);
	/* The namespace is cleaned up from a workqueue, after RCU. */
	for (i = 0; i < 50 && kvm_vendor_refcnt() != self->refcnt; i++)
		usleep(200000);
	EXPECT_EQ(self->refcnt, kvm_vendor_refcnt()) {
		TH_LOG("the VM of a deleted network namespace is still alive");
	}
}

TEST_F(module, unload_after_vmm_exit)
{
	uint32_t id;
	pid_t vmm;
	int go;

	ASSERT_EQ(0, spawn_vmm(&vmm, &id, &go));
	end_vmm(vmm, go);
	ASSERT_NE(0, id);
	usleep(100000);
	EXPECT_LT(self->refcnt, kvm_vendor_refcnt());

	reload(&self->nl);
	EXPECT_EQ(self->refcnt, kvm_vendor_refcnt_settle(self->refcnt));
}

/* Over and over, to make a small leak or a stale state visible. */
TEST_F_TIMEOUT(module, reload_cycles, 120)
{
	uint32_t id;
	pid_t vmm;
	int i, go;

	for (i = 0; i < 10; i++) {
		ASSERT_EQ(0, spawn_vmm(&vmm, &id, &go));
		ASSERT_NE(0, id) {
			end_vmm(vmm, go);
		}
		if (i & 1)
			end_vmm(vmm, go);
		reload(&self->nl);
		if (!(i & 1))
			end_vmm(vmm, go);
		ASSERT_EQ(self->refcnt,
			  kvm_vendor_refcnt_settle(self->refcnt)) {
			TH_LOG("cycle %d", i);
		}
	}
}

TEST_HARNESS_MAIN

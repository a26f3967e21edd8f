/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the tests of lm's netlink interface and of the module's
 * life cycle: a KVM VM with a known memory layout made with raw KVM ioctls
 * (so that what LIST reports can be compared with what was set), netlink
 * attributes encoded by hand (so that requests can be malformed on
 * purpose), loading and unloading lm.ko, and assertions on the kernel's
 * errno together with its extack.
 *
 * Include after kselftest_harness.h.
 */
#ifndef LM_SELFTEST_H
#define LM_SELFTEST_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/kvm.h>
#include <linux/lm.h>
#include <linux/netlink.h>

#include "lm_nl.h"

#define SZ_4K	0x1000ULL
#define SZ_256K	0x40000ULL
#define SZ_2M	0x200000ULL
#define SZ_1G	0x40000000ULL

/*
 * The layout of test_vm_create(): two slots at distinct guest addresses,
 * of distinct sizes, one with dirty logging, with ids that are not simply
 * 0 and 1; and two vCPUs.
 */
struct test_slot {
	uint32_t id;
	uint64_t gpa;
	uint64_t size;
	uint32_t flags;
};

static const struct test_slot test_slots[] = {
	{ .id = 0, .gpa = 0,		.size = SZ_2M,	 .flags = 0 },
	{ .id = 5, .gpa = SZ_1G,	.size = SZ_256K,
	  .flags = KVM_MEM_LOG_DIRTY_PAGES },
};

#define TEST_NR_SLOTS	2
#define TEST_NR_VCPUS	2

struct test_vm {
	int kvm_fd;
	int fd;
	int vcpu_fd[TEST_NR_VCPUS];
	void *mem[TEST_NR_SLOTS];
};

static inline void test_vm_destroy(struct test_vm *vm)
{
	int i;

	for (i = 0; i < TEST_NR_VCPUS; i++)
		if (vm->vcpu_fd[i] >= 0)
			close(vm->vcpu_fd[i]);
	for (i = 0; i < TEST_NR_SLOTS; i++)
		if (vm->mem[i] && vm->mem[i] != MAP_FAILED)
			munmap(vm->mem[i], test_slots[i].size);
	if (vm->fd >= 0)
		close(vm->fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	vm->fd = vm->kvm_fd = -1;
}

/* Create the VM described above; 0 or -errno (and *what names the step). */
static inline int test_vm_create(struct test_vm *vm, const char **what)
{
	struct kvm_userspace_memory_region region;
	int i, err;

	memset(vm, 0, sizeof(*vm));
	vm->fd = -1;
	for (i = 0; i < TEST_NR_VCPUS; i++)
		vm->vcpu_fd[i] = -1;

	*what = "open /dev/kvm";
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		goto err;
	*what = "KVM_CREATE_VM";
	vm->fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->fd < 0)
		goto err;

	for (i = 0; i < TEST_NR_SLOTS; i++) {
		*what = "mmap";
		vm->mem[i] = mmap(NULL, test_slots[i].size,
				  PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (vm->mem[i] == MAP_FAILED)
			goto err;
		region = (struct kvm_userspace_memory_region) {
			.slot = test_slots[i].id,
			.flags = test_slots[i].flags,
			.guest_phys_addr = test_slots[i].gpa,
			.memory_size = test_slots[i].size,
			.userspace_addr = (uintptr_t)vm->mem[i],
		};
		*what = "KVM_SET_USER_MEMORY_REGION";
		if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region))
			goto err;
	}
	for (i = 0; i < TEST_NR_VCPUS; i++) {
		*what = "KVM_CREATE_VCPU";
		vm->vcpu_fd[i] = ioctl(vm->fd, KVM_CREATE_VCPU, i);
		if (vm->vcpu_fd[i] < 0)
			goto err;
	}
	return 0;

err:
	err = -errno;
	test_vm_destroy(vm);
	return err;
}

#define TEST_VM_CREATE(vm) do {						\
	const char *__what;						\
	int __ret = test_vm_create(vm, &__what);			\
									\
	ASSERT_EQ(0, __ret) {						\
		TH_LOG("%s: %s", __what, strerror(-__ret));		\
	}								\
} while (0)

/* Check that LIST's view of @vm is exactly the layout that was set. */
static inline void __check_vm_layout(struct __test_metadata *_metadata,
				     const struct lm_vm_info *info,
				     const struct test_vm *vm, pid_t owner)
{
	size_t i;

	EXPECT_EQ((uint32_t)owner, info->pid);
	EXPECT_EQ(TEST_NR_VCPUS, info->nr_vcpus);
	ASSERT_EQ(TEST_NR_SLOTS, info->nr_memslots);
	/* LIST orders slots by address space, then guest address. */
	for (i = 0; i < TEST_NR_SLOTS; i++) {
		const struct lm_memslot *s = &info->memslots[i];

		EXPECT_EQ(test_slots[i].id, s->id);
		EXPECT_EQ(0, s->as_id);
		EXPECT_EQ(test_slots[i].gpa, s->gpa);
		EXPECT_EQ(test_slots[i].size, s->size);
		EXPECT_EQ(test_slots[i].flags, s->flags);
		EXPECT_EQ((uintptr_t)vm->mem[i], s->hva);
	}
}

#define check_vm_layout(info, vm, owner) \
	__check_vm_layout(_metadata, info, vm, owner)

/* The VM @id of LIST (one VM), into *info; 0 or -errno. */
static inline int list_one(struct lm_nl *nl, uint32_t id,
			   struct lm_vm_list *list, struct lm_vm_info **info)
{
	int ret = lm_nl_list(nl, true, id, list);

	*info = NULL;
	if (ret)
		return ret;
	if (list->nr_vms != 1 || list->vms[0].id != id)
		return -EPROTO;
	*info = &list->vms[0];
	return 0;
}

/* Find VM @id in a full dump; NULL if it is not there. */
static inline struct lm_vm_info *find_vm(struct lm_vm_list *list,
					 uint32_t id)
{
	size_t i;

	for (i = 0; i < list->nr_vms; i++)
		if (list->vms[i].id == id)
			return &list->vms[i];
	return NULL;
}

/*
 * @expr, a call on @nl, must fail with -@err and an extack message. The
 * message is logged so that the TAP output shows what users would see.
 */
#define ASSERT_NL_ERR(nl, err, expr) do {				\
	int __ret = (expr);						\
									\
	ASSERT_EQ(-(err), __ret) {					\
		TH_LOG("%s: got %d (%s), extack \"%s\"", #expr, __ret,	\
		       strerror(-__ret), lm_nl_extack(nl));		\
	}								\
	ASSERT_STRNE("", lm_nl_extack(nl)) {				\
		TH_LOG("%s: %s, without an extack message", #expr,	\
		       strerror(err));					\
	}								\
	TH_LOG("%s: %s: \"%s\"", #expr, strerror(err),		\
	       lm_nl_extack(nl));					\
} while (0)

/* Netlink attributes, encoded by hand. */
struct attrs {
	unsigned char buf[512];
	size_t len;
};

/* Append an attribute of @type holding @len bytes (padded to 4). */
static inline void attrs_put(struct attrs *a, uint16_t type,
			     const void *data, size_t len)
{
	struct nlattr nla = {
		.nla_len = NLA_HDRLEN + len,
		.nla_type = type,
	};

	memcpy(a->buf + a->len, &nla, sizeof(nla));
	memcpy(a->buf + a->len + NLA_HDRLEN, data, len);
	memset(a->buf + a->len + NLA_HDRLEN + len, 0,
	       NLA_ALIGN(len) - len);
	a->len += NLA_HDRLEN + NLA_ALIGN(len);
}

static inline void attrs_put_u32(struct attrs *a, uint16_t type, uint32_t value)
{
	attrs_put(a, type, &value, sizeof(value));
}

/* Append bytes as they are: broken headers, trailing garbage. */
static inline void attrs_put_raw(struct attrs *a, const void *data,
				 size_t len)
{
	memcpy(a->buf + a->len, data, len);
	a->len += len;
}

/* Where a request's attributes start, for extack offsets. */
#define LM_REQ_ATTRS_OFFSET (NLMSG_HDRLEN + 4 /* genlmsghdr */)

/* lm.ko, unloaded and loaded with the raw syscalls to see their errno. */
static inline int lm_unload(void)
{
	return syscall(SYS_delete_module, "lm", O_NONBLOCK) ? -errno : 0;
}

static inline int lm_load(void)
{
	const char *ko = getenv("LM_KO");
	int fd, ret;

	fd = open(ko ? ko : "/lib/lm/lm.ko", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, "", 0) ? -errno : 0;
	close(fd);
	return ret;
}

static inline bool lm_loaded(void)
{
	return access("/sys/module/lm", F_OK) == 0;
}

/* Make sure lm is loaded again, whatever a test did; 0 or -errno. */
static inline int lm_ensure_loaded(void)
{
	int ret;

	if (lm_loaded())
		return 0;
	ret = lm_load();
	return ret == -EEXIST ? 0 : ret;
}

#endif /* LM_SELFTEST_H */

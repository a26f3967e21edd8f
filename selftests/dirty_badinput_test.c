// SPDX-License-Identifier: GPL-2.0
/*
 * Bad input to the TRACK commands: unknown and detached VM ids, a missing
 * id, tracking started twice, syncing, getting and stopping without a
 * session, getting before the first round, a VM that uses KVM's dirty
 * ring, and guest memory in a shared mapping whose host writes lm cannot
 * track (hugetlbfs). Each gets its errno and an extack message, and the
 * session in force (if any) is unharmed.
 */
#include "kselftest_harness.h"

#include <fcntl.h>
#include <sys/mman.h>

#include "dirty_util.h"
#include "lm_selftest.h"

#define UNKNOWN_ID	999999

FIXTURE(bad) {
	struct dirty_vm dv;
};

FIXTURE_SETUP(bad)
{
	REQUIRE_KVM();
	ASSERT_EQ(0, dirty_vm_create(&self->dv, 1, 1));
}

FIXTURE_TEARDOWN(bad)
{
	if (self->dv.vm)
		dirty_vm_destroy(&self->dv);
}

TEST_F(bad, unknown_id)
{
	struct lm_nl *nl = self->dv.nl;
	struct lm_track_dirty d;
	struct lm_track_round r;

	ASSERT_NL_ERR(nl, ENOENT, lm_nl_track_start(nl, UNKNOWN_ID));
	ASSERT_NL_ERR(nl, ENOENT, lm_nl_track_sync(nl, UNKNOWN_ID, &r));
	lm_track_round_free(&r);
	ASSERT_NL_ERR(nl, ENOENT, lm_nl_track_get(nl, UNKNOWN_ID, &d));
	lm_track_dirty_free(&d);
	ASSERT_NL_ERR(nl, ENOENT, lm_nl_track_stop(nl, UNKNOWN_ID));
}

TEST_F(bad, detached_id)
{
	struct dirty_vm *dv = &self->dv;
	struct lm_track_round r;
	uint32_t id = dv->id;

	ASSERT_EQ(0, lm_nl_detach(dv->nl, id));
	dv->id = 0;
	ASSERT_NL_ERR(dv->nl, ENOENT, lm_nl_track_start(dv->nl, id));
	ASSERT_NL_ERR(dv->nl, ENOENT, lm_nl_track_sync(dv->nl, id, &r));
	lm_track_round_free(&r);
	ASSERT_NL_ERR(dv->nl, ENOENT, lm_nl_track_stop(dv->nl, id));
}

TEST_F(bad, missing_id)
{
	static const uint8_t cmds[] = {
		LM_CMD_TRACK_START, LM_CMD_TRACK_SYNC, LM_CMD_TRACK_STOP,
	};
	struct lm_nl *nl = self->dv.nl;
	size_t i;

	for (i = 0; i < sizeof(cmds); i++)
		ASSERT_NL_ERR(nl, EINVAL,
			      lm_nl_request_raw(nl, cmds[i], false, NULL, 0,
						NULL));
	ASSERT_NL_ERR(nl, EINVAL,
		      lm_nl_request_raw(nl, LM_CMD_TRACK_GET, true, NULL, 0,
					NULL));
}

TEST_F(bad, not_started)
{
	struct dirty_vm *dv = &self->dv;
	struct lm_track_dirty d;
	struct lm_track_round r;

	ASSERT_NL_ERR(dv->nl, ENOENT, lm_nl_track_sync(dv->nl, dv->id, &r));
	lm_track_round_free(&r);
	ASSERT_NL_ERR(dv->nl, ENOENT, lm_nl_track_get(dv->nl, dv->id, &d));
	lm_track_dirty_free(&d);
	ASSERT_NL_ERR(dv->nl, ENOENT, lm_nl_track_stop(dv->nl, dv->id));
}

TEST_F(bad, started_twice)
{
	struct dirty_vm *dv = &self->dv;
	struct lm_track_dirty d;
	struct lm_track_round r;

	ASSERT_EQ(0, lm_nl_track_start(dv->nl, dv->id));
	ASSERT_NL_ERR(dv->nl, EBUSY, lm_nl_track_start(dv->nl, dv->id));
	/* No round yet: nothing to get. */
	ASSERT_NL_ERR(dv->nl, ENODATA, lm_nl_track_get(dv->nl, dv->id, &d));
	lm_track_dirty_free(&d);

	/* The first session is intact. */
	ASSERT_EQ(0, lm_nl_track_sync(dv->nl, dv->id, &r));
	EXPECT_EQ(1, r.round);
	lm_track_round_free(&r);
	ASSERT_EQ(0, lm_nl_track_stop(dv->nl, dv->id));
	ASSERT_NL_ERR(dv->nl, ENOENT, lm_nl_track_stop(dv->nl, dv->id));

	/* And a new one starts from round 1. */
	ASSERT_EQ(0, lm_nl_track_start(dv->nl, dv->id));
	ASSERT_EQ(0, lm_nl_track_sync(dv->nl, dv->id, &r));
	EXPECT_EQ(1, r.round);
	lm_track_round_free(&r);
	ASSERT_EQ(0, lm_nl_track_stop(dv->nl, dv->id));
}

TEST(dirty_ring)
{
	struct kvm_enable_cap cap = { .cap = KVM_CAP_DIRTY_LOG_RING };
	struct kvm_vm *vm;
	struct lm_nl *nl;
	uint32_t id;
	int size;

	REQUIRE_KVM();
	vm = vm_create_barebones();
	size = __kvm_ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_DIRTY_LOG_RING);
	if (size <= 0) {
		vm_free(vm);
		SKIP(return, "KVM has no dirty ring");
	}
	cap.args[0] = 4096 * sizeof(struct kvm_dirty_gfn) < (unsigned int)size ?
		      4096 * sizeof(struct kvm_dirty_gfn) : (unsigned int)size;
	vm_ioctl(vm, KVM_ENABLE_CAP, &cap);
	vm_add_memslot(vm, 0, 0, 2 * MiB, 0);

	ASSERT_EQ(0, lm_nl_open(&nl));
	ASSERT_EQ(0, lm_nl_attach(nl, vm->fd, 0, &id));
	ASSERT_NL_ERR(nl, EOPNOTSUPP, lm_nl_track_start(nl, id));
	ASSERT_EQ(0, lm_nl_detach(nl, id));
	lm_nl_close(nl);
	vm_free(vm);
}

#define NR_HUGEPAGES	"/proc/sys/vm/nr_hugepages"
#define HOST_WRITES	"/sys/module/lm/parameters/track_host_writes"

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -1;
	ret = write(fd, text, strlen(text)) == (ssize_t)strlen(text) ? 0 : -1;
	close(fd);
	return ret;
}

/*
 * Guest memory in a shared hugetlbfs mapping: lm cannot track host writes
 * to it (folio_mkclean() is for page-cache pages), so TRACK_START refuses
 * it, and accepts it once host-write tracking is switched off.
 */
TEST(hugetlb_backing)
{
	struct kvm_userspace_memory_region region = {
		.memory_size = 2 * MiB,
	};
	char saved[32] = "0";
	struct lm_track_round r;
	struct kvm_vm *vm;
	struct lm_nl *nl;
	void *mem = MAP_FAILED;
	uint32_t id;
	int fd, n;

	REQUIRE_KVM();
	fd = open(NR_HUGEPAGES, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, saved, sizeof(saved) - 1);
		saved[n > 0 ? n : 0] = '\0';
		close(fd);
	}
	if (atoi(saved) < 1)
		write_file(NR_HUGEPAGES, "1");
	fd = memfd_create("hugetlb-guest", MFD_CLOEXEC | MFD_HUGETLB);
	if (fd >= 0 && !ftruncate(fd, 2 * MiB))
		mem = mmap(NULL, 2 * MiB, PROT_READ | PROT_WRITE, MAP_SHARED,
			   fd, 0);
	if (fd >= 0)
		close(fd);
	if (mem == MAP_FAILED) {
		write_file(NR_HUGEPAGES, saved);
		SKIP(return, "no 2 MiB huge page for a hugetlbfs memfd");
	}
	vm = vm_create_barebones();
	region.userspace_addr = (uintptr_t)mem;
	vm_ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region);

	ASSERT_EQ(0, lm_nl_open(&nl));
	ASSERT_EQ(0, lm_nl_attach(nl, vm->fd, 0, &id));
	ASSERT_NL_ERR(nl, EOPNOTSUPP, lm_nl_track_start(nl, id));
	/* Nothing stayed behind: the VM can be tracked without host writes. */
	ASSERT_EQ(0, write_file(HOST_WRITES, "N"));
	EXPECT_EQ(0, lm_nl_track_start(nl, id));
	EXPECT_EQ(0, write_file(HOST_WRITES, "Y"));
	EXPECT_EQ(0, lm_nl_track_sync(nl, id, &r));
	EXPECT_FALSE(r.host_writes);
	lm_track_round_free(&r);
	EXPECT_EQ(0, lm_nl_track_stop(nl, id));
	EXPECT_EQ(0, lm_nl_detach(nl, id));
	lm_nl_close(nl);
	vm_free(vm);
	munmap(mem, 2 * MiB);
	write_file(NR_HUGEPAGES, saved);
}

TEST_HARNESS_MAIN

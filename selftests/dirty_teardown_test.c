// SPDX-License-Identifier: GPL-2.0
/*
 * Tracking sessions that end other than by TRACK_STOP: the VMM killed
 * while rounds are being synced, the VM detached, lm.ko unloaded. Each
 * must end cleanly (the lab's log check catches oopses, warnings and
 * leaks), give clear errors afterwards, and leave a still-running VM with
 * logging turned off.
 */
#include "kselftest_harness.h"
#include "dirty_util.h"
#include "lm_selftest.h"

#include <sys/prctl.h>

/* A VMM in a child process: tracked by lm, its guest writing forever. */
struct child_vmm {
	pid_t pid;
	uint32_t id;
};

static void child_main(int fd)
{
	static uint64_t gpas[64];
	struct dirty_vm dv;
	uint64_t v = 0, k;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (dirty_vm_create(&dv, 1, 1) || lm_nl_track_start(dv.nl, dv.id))
		_exit(1);
	if (write(fd, &dv.id, sizeof(dv.id)) != sizeof(dv.id))
		_exit(1);
	for (k = 0; k < 64; k++)
		gpas[k] = dirty_data_gpa(0) + k * PAGE_SIZE;
	for (;;)
		dirty_write_pages(&dv, gpas, 64, v++);
}

static int child_vmm_start(struct child_vmm *c)
{
	int fds[2];

	if (pipe(fds))
		return -errno;
	c->pid = fork();
	if (c->pid < 0)
		return -errno;
	if (!c->pid) {
		close(fds[0]);
		child_main(fds[1]);
	}
	close(fds[1]);
	if (read(fds[0], &c->id, sizeof(c->id)) != sizeof(c->id)) {
		close(fds[0]);
		return -EIO;
	}
	close(fds[0]);
	return 0;
}

static void child_vmm_kill(struct child_vmm *c)
{
	if (c->pid > 0) {
		kill(c->pid, SIGKILL);
		waitpid(c->pid, NULL, 0);
		c->pid = 0;
	}
}

struct killer {
	pid_t pid;
	useconds_t delay;
};

static void *killer_thread(void *arg)
{
	struct killer *k = arg;

	usleep(k->delay);
	kill(k->pid, SIGKILL);
	return NULL;
}

FIXTURE(teardown) {
	struct child_vmm child;
	struct lm_nl *nl;
};

FIXTURE_SETUP(teardown)
{
	REQUIRE_KVM();
	ASSERT_EQ(0, lm_ensure_loaded());
	ASSERT_EQ(0, lm_nl_open(&self->nl));
}

FIXTURE_TEARDOWN(teardown)
{
	child_vmm_kill(&self->child);
	if (self->nl)
		lm_nl_close(self->nl);
	/* Whatever happened, the next test finds lm loaded. */
	lm_ensure_loaded();
}

/* The VMM dies while rounds are being synced in a loop. */
TEST_F(teardown, vmm_killed)
{
	struct child_vmm *c = &self->child;
	struct lm_track_round r;
	struct killer k;
	pthread_t thread;
	unsigned int rounds = 0;
	int ret;

	ASSERT_EQ(0, child_vmm_start(c));
	for (; rounds < 3; rounds++) {
		ASSERT_EQ(0, lm_nl_track_sync(self->nl, c->id, &r))
			TH_LOG("TRACK_SYNC: %s", lm_nl_extack(self->nl));
		lm_track_round_free(&r);
	}

	k = (struct killer){ .pid = c->pid, .delay = 20000 };
	ASSERT_EQ(0, pthread_create(&thread, NULL, killer_thread, &k));
	do {
		ret = lm_nl_track_sync(self->nl, c->id, &r);
		lm_track_round_free(&r);
		rounds++;
	} while (!ret && rounds < 100000);
	pthread_join(thread, NULL);
	waitpid(c->pid, NULL, 0);
	c->pid = 0;
	TH_LOG("VMM killed after %u rounds: \"%s\"", rounds,
	       lm_nl_extack(self->nl));
	ASSERT_EQ(-ESRCH, ret);

	/* The session and the VM stay until they are stopped and detached. */
	ASSERT_NL_ERR(self->nl, ESRCH, lm_nl_track_sync(self->nl, c->id, &r));
	lm_track_round_free(&r);
	ASSERT_EQ(0, lm_nl_track_stop(self->nl, c->id));
	ASSERT_EQ(0, lm_nl_detach(self->nl, c->id));
}

/* The VMM dies, and the VM is detached without stopping first. */
TEST_F(teardown, vmm_killed_then_detach)
{
	struct child_vmm *c = &self->child;
	struct lm_track_round r;

	ASSERT_EQ(0, child_vmm_start(c));
	ASSERT_EQ(0, lm_nl_track_sync(self->nl, c->id, &r));
	lm_track_round_free(&r);
	child_vmm_kill(c);
	ASSERT_EQ(0, lm_nl_detach(self->nl, c->id));
	ASSERT_NL_ERR(self->nl, ENOENT, lm_nl_track_sync(self->nl, c->id, &r));
	lm_track_round_free(&r);
}

static bool slot_logging(struct dirty_vm *dv, uint32_t slot)
{
	uint64_t bitmap[DIRTY_DATA_SLOT_SIZE >> PAGE_SHIFT >> 6];
	struct kvm_dirty_log log = { .slot = slot, .dirty_bitmap = bitmap };

	/* KVM answers ENOENT for a slot without a dirty log. */
	return !__vm_ioctl(dv->vm, KVM_GET_DIRTY_LOG, &log);
}

TEST_F(teardown, detach)
{
	struct lm_track_round r;
	struct dirty_vm dv;
	uint64_t gpa = dirty_data_gpa(0);

	ASSERT_EQ(0, dirty_vm_create(&dv, 2, 2));
	ASSERT_EQ(0, lm_nl_track_start(dv.nl, dv.id));
	dirty_write_pages(&dv, &gpa, 1, 1);
	ASSERT_EQ(0, lm_nl_track_sync(dv.nl, dv.id, &r));
	lm_track_round_free(&r);
	ASSERT_TRUE(slot_logging(&dv, DIRTY_FIRST_DATA_SLOT));

	ASSERT_EQ(0, lm_nl_detach(dv.nl, dv.id));
	ASSERT_NL_ERR(dv.nl, ENOENT, lm_nl_track_sync(dv.nl, dv.id, &r));
	lm_track_round_free(&r);
	ASSERT_NL_ERR(dv.nl, ENOENT, lm_nl_track_stop(dv.nl, dv.id));
	dv.id = 0;

	/* The VM runs on, with logging off again. */
	EXPECT_FALSE(slot_logging(&dv, DIRTY_FIRST_DATA_SLOT));
	EXPECT_FALSE(slot_logging(&dv, DIRTY_FIRST_DATA_SLOT + 1));
	dirty_write_pages(&dv, &gpa, 1, 2);
	dirty_vm_destroy(&dv);
}

/* Unloading lm ends every session: a live VMM's and a dead one's. */
TEST_F(teardown, rmmod)
{
	struct child_vmm *c = &self->child;
	struct lm_track_round r;
	struct dirty_vm dv;
	uint64_t gpa = dirty_data_gpa(0);
	uint32_t dead_id;

	ASSERT_EQ(0, child_vmm_start(c));
	dead_id = c->id;
	child_vmm_kill(c);
	ASSERT_EQ(0, dirty_vm_create(&dv, 1, 2));
	ASSERT_EQ(0, lm_nl_track_start(dv.nl, dv.id));
	dirty_write_pages(&dv, &gpa, 1, 1);
	ASSERT_EQ(0, lm_nl_track_sync(dv.nl, dv.id, &r));
	lm_track_round_free(&r);
	TH_LOG("unloading lm with VM %u (live VMM) and VM %u (dead VMM) tracked",
	       dv.id, dead_id);

	ASSERT_EQ(0, lm_unload());
	dv.id = 0;
	EXPECT_FALSE(slot_logging(&dv, DIRTY_FIRST_DATA_SLOT));
	dirty_write_pages(&dv, &gpa, 1, 2);
	dirty_vm_destroy(&dv);

	ASSERT_EQ(0, lm_load());
	lm_nl_close(self->nl);
	self->nl = NULL;
	ASSERT_EQ(0, lm_nl_open(&self->nl));
	ASSERT_NL_ERR(self->nl, ENOENT, lm_nl_track_sync(self->nl, dead_id, &r));
	lm_track_round_free(&r);
}

TEST_HARNESS_MAIN

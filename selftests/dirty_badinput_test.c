// SPDX-License-Identifier: GPL-2.0
/*
 * Bad input to the TRACK commands: unknown and detached VM ids, a missing
 * id, tracking started twice, syncing, getting and stopping without a
 * session, getting before the first round, and a VM that uses KVM's dirty
 * ring. Each gets its errno and an extack message, and the session in
 * force (if any) is unharmed.
 */
#include "kselftest_harness.h"
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

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * lm's dirty tracking of a VM run by an unmodified QEMU.
 *
 * QEMU differs from lmvm in what lm must cope with: it enables KVM's
 * manual dirty-log protection with every bit initially set, keeps its RAM
 * in SMM's address space too (a second set of memslots over the same
 * memory), and splits low memory into slots around the legacy ROM and VGA
 * holes. lm-guest (selftests/guest/) sweeps its memory at a known pace.
 *
 * Round after round, the VM is stopped through QMP, lm closes a round, and
 * the test snapshots all of guest memory through QEMU's shared RAM file;
 * then the VM runs on. Every page whose content changed between two
 * snapshots must be in the round between them: lm may over-report, never
 * miss. A page-count floor makes sure the guest really ran meanwhile.
 */
#include "kselftest_harness.h"

#include <stdlib.h>
#include <string.h>

#include "lm_nl.h"
#include "lmkvm.h"
#include "qemu_util.h"

#define MEM_MIB		128
#define ROUNDS		8

FIXTURE(qemu)
{
	struct qemu q;
	struct lm_nl *nl;
	uint32_t id;
	int vm_fd;
	unsigned char *snap[2];
	uint8_t *dirty;		/* one byte a guest frame below MEM_MIB */
};

FIXTURE_SETUP(qemu)
{
	size_t size = (size_t)MEM_MIB << 20;

	memset(self, 0, sizeof(*self));
	self->vm_fd = -1;
	if (!kvm_available() || !qemu_available())
		SKIP(return, "needs /dev/kvm, " QEMU_BIN " and " QEMU_GUEST);
	ASSERT_EQ(0, qemu_start(&self->q, MEM_MIB, 10)) {
		qemu_print_serial(&self->q);
		TH_LOG("QEMU did not start with lm-guest running");
	}
	self->vm_fd = qemu_vm_fd(&self->q);
	ASSERT_LE(0, self->vm_fd);
	ASSERT_EQ(0, lm_nl_open(&self->nl));
	ASSERT_EQ(0, lm_nl_attach(self->nl, self->vm_fd, self->q.pid, &self->id));
	self->snap[0] = malloc(size);
	self->snap[1] = malloc(size);
	self->dirty = calloc(size / PAGE_SIZE, 1);
	ASSERT_TRUE(self->snap[0] && self->snap[1] && self->dirty);
}

FIXTURE_TEARDOWN(qemu)
{
	if (self->nl) {
		if (self->id)
			lm_nl_detach(self->nl, self->id);
		lm_nl_close(self->nl);
	}
	if (self->vm_fd >= 0)
		close(self->vm_fd);
	qemu_stop(&self->q);
	free(self->snap[0]);
	free(self->snap[1]);
	free(self->dirty);
}

/* Stop the VM, close a round, keep its dirty pages, snapshot memory. */
static void stopped_round(struct __test_metadata *_metadata,
			  FIXTURE_DATA(qemu) *self, unsigned char *snap,
			  struct lm_track_round *round)
{
	size_t nr_frames = ((size_t)MEM_MIB << 20) / PAGE_SIZE;
	struct lm_track_dirty d;
	char status[64];

	ASSERT_EQ(0, qmp(&self->q, "{\"execute\": \"stop\"}"));
	ASSERT_STREQ("paused", qemu_status(&self->q, status, sizeof(status)));
	ASSERT_EQ(0, lm_nl_track_sync(self->nl, self->id, round));
	ASSERT_EQ(0, lm_nl_track_get(self->nl, self->id, &d));
	memset(self->dirty, 0, nr_frames);
	for (size_t i = 0; i < d.nr_runs; i++)
		for (uint64_t gfn = d.runs[i].gfn;
		     gfn < d.runs[i].gfn + d.runs[i].npages; gfn++)
			if (gfn < nr_frames)
				self->dirty[gfn] = 1;
	lm_track_dirty_free(&d);
	memcpy(snap, self->q.ram, (size_t)MEM_MIB << 20);
	ASSERT_EQ(0, qmp(&self->q, "{\"execute\": \"cont\"}"));
}

TEST_F_TIMEOUT(qemu, rounds_miss_no_write, 120)
{
	size_t nr_frames = ((size_t)MEM_MIB << 20) / PAGE_SIZE;
	uint64_t changed_all = 0, missed_all = 0, spurious_all = 0;
	bool manual = false, smm = false;
	struct lm_track_round round;
	int r;

	ASSERT_EQ(0, lm_nl_track_start(self->nl, self->id));
	stopped_round(_metadata, self, self->snap[0], &round);
	manual = round.manual_protect;
	for (size_t i = 0; i < round.nr_slots; i++)
		smm |= round.slots[i].as_id == 1;
	lm_track_round_free(&round);
	TH_LOG("QEMU's memslots: manual protect %s, SMM address space %s",
	       manual ? "on" : "off", smm ? "present" : "absent");
	EXPECT_TRUE(manual);

	for (r = 1; r <= ROUNDS; r++) {
		unsigned char *prev = self->snap[(r - 1) % 2];
		unsigned char *cur = self->snap[r % 2];
		uint64_t changed = 0, missed = 0, reported = 0;

		usleep(300000);
		stopped_round(_metadata, self, cur, &round);
		lm_track_round_free(&round);
		for (size_t gfn = 0; gfn < nr_frames; gfn++) {
			bool diff = memcmp(prev + gfn * PAGE_SIZE,
					   cur + gfn * PAGE_SIZE, PAGE_SIZE);

			reported += self->dirty[gfn];
			changed += diff;
			if (diff && !self->dirty[gfn]) {
				if (missed < 5)
					TH_LOG("round %d: gfn 0x%zx changed, not reported",
					       r, gfn);
				missed++;
			}
		}
		TH_LOG("round %d: %llu pages changed, %llu reported, %llu missed",
		       r, (unsigned long long)changed,
		       (unsigned long long)reported, (unsigned long long)missed);
		changed_all += changed;
		missed_all += missed;
		spurious_all += reported - (changed - missed);
	}
	TH_LOG("%d rounds: %llu pages changed, %llu missed, %llu reported unchanged",
	       ROUNDS, (unsigned long long)changed_all,
	       (unsigned long long)missed_all,
	       (unsigned long long)spurious_all);
	/* 10 MiB/s for 0.3 s is 768 pages a round; TCG may run it slower. */
	EXPECT_LT(ROUNDS * 50, changed_all);
	EXPECT_EQ(0, missed_all);
	EXPECT_EQ(0, lm_nl_track_stop(self->nl, self->id));
}

TEST_HARNESS_MAIN

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
 * the test snapshots all of guest memory by reading QEMU's shared RAM file
 * (with read(), so that no mapping but QEMU's has the pages mapped, as in
 * production, and the harvest times logged mean something);
 * then the VM runs on. Every page whose content changed between two
 * snapshots must be in the round between them: lm may over-report, never
 * miss. A page-count floor makes sure the guest really ran meanwhile.
 *
 * While the guest runs, the test also writes guest memory the guest never
 * touches through a second, writable mapping of the RAM file, as QEMU's
 * device emulation or a vhost(-user) backend would: KVM's log cannot see
 * those writes, lm's host-write tracking must. With it switched off (the
 * module parameter track_host_writes, for one more tracking session on
 * the same VM) the same oracle must find those pages missing.
 */
#include "kselftest_harness.h"

#include <stdlib.h>
#include <string.h>

#include "lm_nl.h"
#include "lmkvm.h"
#include "qemu_util.h"

#define MEM_MIB		128
#define ROUNDS		8
#define KNOB_OFF_ROUNDS	2
#define KNOB		"/sys/module/lm/parameters/track_host_writes"
/* Where the host writes: between lm-guest's info page and its sweep. */
#define HOST_AREA	0x380000U
#define HOST_AREA_PAGES	64
#define HOST_PAGES	8	/* written a round, a different 8 each time */

FIXTURE(qemu)
{
	struct qemu q;
	struct lm_nl *nl;
	uint32_t id;
	int vm_fd;
	unsigned char *snap[2];
	uint8_t *dirty;		/* one byte a guest frame below MEM_MIB */
	unsigned char *host;	/* the RAM file, mapped writable */
	unsigned int host_gen;	/* host_write() calls so far */
};

/* Switch host-write tracking on or off for the next tracking session. */
static int set_knob(bool on)
{
	FILE *f = fopen(KNOB, "w");
	int ret;

	if (!f)
		return -1;
	ret = fputs(on ? "Y\n" : "N\n", f) < 0;
	return fclose(f) || ret ? -1 : 0;
}

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
	self->host = qemu_map_ram_rw(&self->q);
	ASSERT_NE(NULL, self->host);
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
	if (self->host)
		munmap(self->host, self->q.ram_size);
	set_knob(true);
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
	ASSERT_EQ(0, qemu_read_ram(&self->q, snap));
	ASSERT_EQ(0, qmp(&self->q, "{\"execute\": \"cont\"}"));
}

/*
 * Write HOST_PAGES pages of the host area through the test's writable
 * mapping, as a device would: a different set every round, a new value
 * each time (no two calls write the same value to the same place).
 */
static void host_write(FIXTURE_DATA(qemu) *self)
{
	unsigned int gen = ++self->host_gen;

	for (unsigned int i = 0; i < HOST_PAGES; i++) {
		unsigned int page = (gen * HOST_PAGES + i) % HOST_AREA_PAGES;
		volatile uint32_t *p = (void *)(self->host + HOST_AREA +
						(size_t)page * PAGE_SIZE);

		p[i] = 0x10570000 | gen;
	}
}

struct oracle {
	uint64_t changed, missed, spurious, host_missed, host_found, host_only;
	uint64_t harvest_ns, host_ns;
	bool host_writes;
};

/*
 * Run @rounds rounds of the oracle in a tracking session started here,
 * with the test writing through its mapping while the guest runs.
 */
static void run_oracle(struct __test_metadata *_metadata,
		       FIXTURE_DATA(qemu) *self, const char *what, int rounds,
		       struct oracle *o)
{
	size_t nr_frames = ((size_t)MEM_MIB << 20) / PAGE_SIZE;
	struct lm_track_round round;
	int r;

	memset(o, 0, sizeof(*o));
	ASSERT_EQ(0, lm_nl_track_start(self->nl, self->id));
	stopped_round(_metadata, self, self->snap[0], &round);
	o->host_writes = round.host_writes;
	lm_track_round_free(&round);

	for (r = 1; r <= rounds; r++) {
		unsigned char *prev = self->snap[(r - 1) % 2];
		unsigned char *cur = self->snap[r % 2];
		uint64_t changed = 0, missed = 0, reported = 0, host_missed = 0;

		usleep(150000);
		host_write(self);
		usleep(150000);
		stopped_round(_metadata, self, cur, &round);
		o->host_found += round.host_dirty;
		o->host_only += round.host_only;
		o->harvest_ns += round.harvest_ns;
		o->host_ns += round.host_ns;
		lm_track_round_free(&round);
		for (size_t gfn = 0; gfn < nr_frames; gfn++) {
			bool diff = memcmp(prev + gfn * PAGE_SIZE,
					   cur + gfn * PAGE_SIZE, PAGE_SIZE);
			bool host = gfn >= HOST_AREA / PAGE_SIZE &&
				    gfn < HOST_AREA / PAGE_SIZE + HOST_AREA_PAGES;

			reported += self->dirty[gfn];
			changed += diff;
			if (diff && !self->dirty[gfn]) {
				if (missed < 3)
					TH_LOG("%s round %d: gfn 0x%zx changed, not reported",
					       what, r, gfn);
				missed++;
				host_missed += host;
			}
		}
		TH_LOG("%s round %d: %llu pages changed, %llu reported, %llu missed (%llu written by the host)",
		       what, r, (unsigned long long)changed,
		       (unsigned long long)reported, (unsigned long long)missed,
		       (unsigned long long)host_missed);
		o->changed += changed;
		o->missed += missed;
		o->host_missed += host_missed;
		o->spurious += reported - (changed - missed);
	}
	TH_LOG("%s, %d rounds: %llu pages changed, %llu missed, %llu reported unchanged; host-write tracking %s: %llu found, %llu not in KVM's log; harvest %.2f ms a round, of which host writes %.2f ms",
	       what, rounds, (unsigned long long)o->changed,
	       (unsigned long long)o->missed, (unsigned long long)o->spurious,
	       o->host_writes ? "on" : "off",
	       (unsigned long long)o->host_found,
	       (unsigned long long)o->host_only,
	       o->harvest_ns / 1e6 / rounds, o->host_ns / 1e6 / rounds);
	EXPECT_EQ(0, lm_nl_track_stop(self->nl, self->id));
}

TEST_F_TIMEOUT(qemu, rounds_miss_no_write, 120)
{
	bool manual = false, smm = false;
	struct lm_track_round round;
	struct oracle o;

	/* The memslots as QEMU sets them up, seen in one round. */
	ASSERT_EQ(0, lm_nl_track_start(self->nl, self->id));
	stopped_round(_metadata, self, self->snap[0], &round);
	manual = round.manual_protect;
	for (size_t i = 0; i < round.nr_slots; i++)
		smm |= round.slots[i].as_id == 1;
	lm_track_round_free(&round);
	ASSERT_EQ(0, lm_nl_track_stop(self->nl, self->id));
	TH_LOG("QEMU's memslots: manual protect %s, SMM address space %s",
	       manual ? "on" : "off", smm ? "present" : "absent");
	EXPECT_TRUE(manual);

	run_oracle(_metadata, self, "tracked", ROUNDS, &o);
	EXPECT_TRUE(o.host_writes);
	/* 10 MiB/s for 0.3 s is 768 pages a round; TCG may run it slower. */
	EXPECT_LT(ROUNDS * 50, o.changed);
	EXPECT_EQ(0, o.missed);
	/* The guest never writes the host area: only the host tracking can. */
	EXPECT_LE(ROUNDS * HOST_PAGES, o.host_only);

	/* The same oracle must catch host writes when lm does not track them. */
	ASSERT_EQ(0, set_knob(false));
	run_oracle(_metadata, self, "host writes untracked", KNOB_OFF_ROUNDS,
		   &o);
	EXPECT_EQ(0, set_knob(true));
	EXPECT_FALSE(o.host_writes);
	EXPECT_EQ(KNOB_OFF_ROUNDS * HOST_PAGES, o.missed);
	EXPECT_EQ(o.missed, o.host_missed);
}

TEST_HARNESS_MAIN

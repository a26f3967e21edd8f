// SPDX-License-Identifier: GPL-2.0
/*
 * lmvm's workloads under nested KVM: every workload with one and two vCPUs,
 * from 64 MiB to 1 GiB of guest memory. Each must leave memory that passes
 * "verify", make progress (or, idle, none), and run at its target rate:
 * within 20%, unless the lab cannot go that fast at all, in which case the
 * ceiling is measured and reported. First touches of guest pages are slow
 * in the lab (each is a nested page fault under emulation), so rates are
 * measured with --prefault, once the guest has touched all its memory.
 */
#include "lmvm_util.h"
#include "kselftest_harness.h"

#define RATE_TOLERANCE	0.20
#define WARMUP_SECONDS	2.0
#define MEASURE_SECONDS	3.0

FIXTURE(lmvm) {
	struct lmvm_proc vm;
};

FIXTURE_VARIANT(lmvm) {
	const char *workload;
	int vcpus;
	int mem_mib;
	int rate_mib;		/* 0: no rate check */
	const char *extra;
};

FIXTURE_VARIANT_ADD(lmvm, idle_1vcpu_64m) {
	.workload = "idle", .vcpus = 1, .mem_mib = 64,
};

FIXTURE_VARIANT_ADD(lmvm, idle_2vcpu_1g) {
	.workload = "idle", .vcpus = 2, .mem_mib = 1024,
};

FIXTURE_VARIANT_ADD(lmvm, sweep_1vcpu_64m) {
	.workload = "sweep", .vcpus = 1, .mem_mib = 64, .rate_mib = 32,
};

FIXTURE_VARIANT_ADD(lmvm, sweep_2vcpu_64m) {
	.workload = "sweep", .vcpus = 2, .mem_mib = 64, .rate_mib = 32,
};

FIXTURE_VARIANT_ADD(lmvm, sweep_2vcpu_1g) {
	.workload = "sweep", .vcpus = 2, .mem_mib = 1024,
};

FIXTURE_VARIANT_ADD(lmvm, random_1vcpu_64m) {
	.workload = "random", .vcpus = 1, .mem_mib = 64, .rate_mib = 32,
	.extra = "--seed 7",
};

FIXTURE_VARIANT_ADD(lmvm, random_2vcpu_64m) {
	.workload = "random", .vcpus = 2, .mem_mib = 64, .rate_mib = 32,
};

FIXTURE_VARIANT_ADD(lmvm, random_1vcpu_1g) {
	.workload = "random", .vcpus = 1, .mem_mib = 1024,
};

FIXTURE_VARIANT_ADD(lmvm, hotset_1vcpu_64m) {
	.workload = "hotset", .vcpus = 1, .mem_mib = 64,
	.extra = "--hotset 4M",
};

FIXTURE_VARIANT_ADD(lmvm, hotset_2vcpu_1g) {
	.workload = "hotset", .vcpus = 2, .mem_mib = 1024,
	.extra = "--hotset 16M",
};

FIXTURE_SETUP(lmvm)
{
	char args[256];

	if (access("/dev/kvm", R_OK | W_OK))
		SKIP(return, "/dev/kvm is not available");
	/* rates are measured past first-touch faults: --prefault */
	snprintf(args, sizeof(args),
		 "--workload %s --vcpus %d --mem %dM --rate %d %s %s",
		 variant->workload, variant->vcpus, variant->mem_mib,
		 variant->rate_mib, variant->rate_mib ? "--prefault" : "",
		 variant->extra ? variant->extra : "");
	ASSERT_EQ(lmvm_start(&self->vm, args), 0)
		TH_LOG("lmvm %s did not start", args);
}

FIXTURE_TEARDOWN(lmvm)
{
	if (self->vm.pid > 0)
		EXPECT_EQ(lmvm_stop(&self->vm), 0);
}

/*
 * Wait until every vCPU is past its prefault (its workload has written a
 * page), then a little more; false after a minute.
 */
static bool wait_warm(struct lmvm_proc *p, int vcpus)
{
	char reply[LMVM_REPLY_MAX], key[32];
	double deadline = lmvm_now() + 60;
	int i;

	while (lmvm_now() < deadline) {
		if (lmvm_cmd(p, reply, sizeof(reply), "status"))
			return false;
		for (i = 0; i < vcpus; i++) {
			snprintf(key, sizeof(key), "vcpu%d.pages", i);
			if (lmvm_field(reply, key) <= 0)
				break;
		}
		if (i == vcpus) {
			lmvm_sleep(1);
			return true;
		}
		lmvm_sleep(0.2);
	}
	return false;
}

/*
 * MiB/s of pages dirtied over 'seconds', from the status counters, and of
 * pages the paced guest dropped because its vCPUs were not run in time.
 */
static double measure_rate(struct lmvm_proc *p, double seconds, double *late)
{
	long long p0, p1, l0, l1;
	double t0, t1, mib = 4096.0 / (1 << 20);

	t0 = lmvm_now();
	p0 = lmvm_status_field(p, "pages");
	l0 = lmvm_status_field(p, "late_pages");
	lmvm_sleep(seconds);
	t1 = lmvm_now();
	p1 = lmvm_status_field(p, "pages");
	l1 = lmvm_status_field(p, "late_pages");
	if (p0 < 0 || p1 < 0 || l0 < 0 || l1 < 0)
		return -1;
	if (late)
		*late = (l1 - l0) * mib / (t1 - t0);
	return (p1 - p0) * mib / (t1 - t0);
}

TEST_F(lmvm, runs_and_verifies)
{
	char reply[LMVM_REPLY_MAX];
	double rate, late = 0;
	long long pages;
	int i;

	if (variant->rate_mib) {
		ASSERT_TRUE(wait_warm(&self->vm, variant->vcpus));
	} else {
		lmvm_sleep(WARMUP_SECONDS);
	}
	/* verify while running: lmvm pauses around it, then goes on */
	ASSERT_EQ(lmvm_cmd(&self->vm, reply, sizeof(reply), "verify"), 0);
	ASSERT_TRUE(lmvm_ok(reply)) TH_LOG("verify: %s", reply);
	ASSERT_EQ(lmvm_cmd(&self->vm, reply, sizeof(reply), "status"), 0);
	ASSERT_NE(strstr(reply, "state=running"), NULL) TH_LOG("%s", reply);
	pages = lmvm_field(reply, "pages");
	if (!strcmp(variant->workload, "idle")) {
		ASSERT_EQ(pages, 0);
	} else {
		ASSERT_GT(pages, 0) TH_LOG("no progress: %s", reply);
		/* every vCPU works */
		for (i = 0; i < variant->vcpus; i++) {
			char key[32];

			snprintf(key, sizeof(key), "vcpu%d.pages", i);
			ASSERT_GT(lmvm_field(reply, key), 0)
				TH_LOG("vCPU %d idle: %s", i, reply);
		}
	}

	rate = measure_rate(&self->vm, MEASURE_SECONDS, &late);
	ASSERT_GE(rate, 0);
	TH_LOG("%s, %d vCPU(s), %d MiB: %.1f MiB/s dirtied (target %s%d)",
	       variant->workload, variant->vcpus, variant->mem_mib, rate,
	       variant->rate_mib ? "" : "unlimited: ", variant->rate_mib);

	if (variant->rate_mib) {
		double target = variant->rate_mib, ceiling;

		EXPECT_LE(rate, target * (1 + RATE_TOLERANCE))
			TH_LOG("rate %.1f MiB/s above target %.0f", rate,
			       target);
		if (rate < target * (1 - RATE_TOLERANCE) &&
		    rate + late >= target * (1 - RATE_TOLERANCE)) {
			/*
			 * The pacing was right, the lab did not run the
			 * vCPUs often enough (an overloaded machine): that
			 * is the ceiling the lab allowed.
			 */
			TH_LOG("lab ceiling: vCPUs not run in time, %.1f MiB/s of the target dropped",
			       late);
		} else if (rate < target * (1 - RATE_TOLERANCE)) {
			/* find out what the lab allows without pacing */
			struct lmvm_proc fast;
			char args[256];

			snprintf(args, sizeof(args),
				 "--workload %s --vcpus %d --mem %dM --prefault %s",
				 variant->workload, variant->vcpus,
				 variant->mem_mib,
				 variant->extra ? variant->extra : "");
			ASSERT_EQ(lmvm_start(&fast, args), 0);
			ASSERT_TRUE(wait_warm(&fast, variant->vcpus));
			ceiling = measure_rate(&fast, MEASURE_SECONDS, NULL);
			lmvm_stop(&fast);
			TH_LOG("lab ceiling: %.1f MiB/s unpaced", ceiling);
			/* pacing may only lose to a ceiling near the target */
			EXPECT_LT(ceiling, target * (1 + RATE_TOLERANCE))
				TH_LOG("paced %.1f MiB/s, target %.0f, unpaced %.1f",
				       rate, target, ceiling);
		}
	}

	ASSERT_EQ(lmvm_cmd(&self->vm, reply, sizeof(reply), "verify"), 0);
	ASSERT_TRUE(lmvm_ok(reply)) TH_LOG("verify: %s", reply);
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * The live pre-copy's downtime estimate, lm_xfer_downtime_ns() of
 * kmod/xfer/downtime.h, compiled here as it is in the module, at guest
 * sizes from a few MiB to 16 TiB: the estimate must be the exact quotient
 * (within one nanosecond) whenever that fits in 64 bits, and saturate
 * otherwise. Its 64-bit product used to wrap from about 2^64 / 4112 / round
 * duration on, making a TiB-sized guest switch over after its first round.
 *
 * The header needs five kernel names; they are given their kernel
 * meaning here with compiler built-ins and a 128-bit product.
 */
#include <stdint.h>

#include "kselftest_harness.h"

typedef uint64_t u64;
#define U64_MAX				UINT64_MAX
#define check_mul_overflow(a, b, d)	__builtin_mul_overflow(a, b, d)
#define check_add_overflow(a, b, d)	__builtin_add_overflow(a, b, d)

static inline u64 mul_u64_u64_div_u64(u64 a, u64 b, u64 c)
{
	return (unsigned __int128)a * b / c;
}

#include "../kmod/xfer/downtime.h"

#define PAGE		4096ULL
#define WIRE_PAGE	(PAGE + 16)
#define MiB		(1ULL << 20)
#define GiB		(1ULL << 30)
#define TiB		(1ULL << 40)
#define NS		1000000000ULL

/* The exact estimate, saturated, by 128-bit arithmetic alone. */
static u64 reference(u64 dirty, u64 bytes, u64 ns)
{
	unsigned __int128 est;

	if (!bytes)
		return 0;
	est = (unsigned __int128)dirty * WIRE_PAGE * ns / bytes;
	return est > U64_MAX ? U64_MAX : (u64)est;
}

/* Round 0 of a @size guest at @rate bytes/s with all of it dirty again. */
static void whole_guest(struct __test_metadata *_metadata, u64 size, u64 rate)
{
	u64 pages = size / PAGE;
	u64 bytes = pages * PAGE;
	u64 ns = bytes / rate * NS;
	u64 est = lm_xfer_downtime_ns(pages, PAGE, bytes, ns);

	/* Sending it again takes as long as round 0 did, and then some. */
	EXPECT_LE(ns, est) {
		TH_LOG("%llu GiB at %llu MB/s: %llu ns estimated, round took %llu ns",
		       (unsigned long long)(size / GiB),
		       (unsigned long long)(rate / 1000000),
		       (unsigned long long)est, (unsigned long long)ns);
	}
	EXPECT_EQ(reference(pages, bytes, ns), est);
}

TEST(small_guest_exact)
{
	/* 256 MiB, a quarter dirty, 128 MiB sent in 0.5 s. */
	u64 dirty = 256 * MiB / PAGE / 4;

	EXPECT_EQ(dirty * WIRE_PAGE * (NS / 2) / (128 * MiB),
		  lm_xfer_downtime_ns(dirty, PAGE, 128 * MiB, NS / 2));
	EXPECT_EQ(0, lm_xfer_downtime_ns(0, PAGE, 128 * MiB, NS / 2));
}

TEST(nothing_sent)
{
	EXPECT_EQ(0, lm_xfer_downtime_ns(1000, PAGE, 0, NS));
}

/* 1 TiB all dirty again after a 1 TiB round of 1000 s (about 1.1 GB/s). */
TEST(one_tib_exact)
{
	u64 pages = TiB / PAGE;

	/* 2^28 pages * 4112 bytes * 10^12 ns / 2^40 bytes = 4112 / 4096 ks */
	EXPECT_EQ(1003906250000ULL,
		  lm_xfer_downtime_ns(pages, PAGE, TiB, 1000 * NS));
}

TEST(large_guests_whole)
{
	static const u64 sizes[] = { GiB, 64 * GiB, 256 * GiB, TiB, 4 * TiB,
				     16 * TiB };
	static const u64 rates[] = { 100000000ULL, 1250000000ULL,
				     12500000000ULL };
	unsigned int i, j;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (j = 0; j < sizeof(rates) / sizeof(rates[0]); j++)
			whole_guest(_metadata, sizes[i], rates[j]);
}

/* A dirty set above the 300 ms budget is never estimated below it. */
TEST(never_below_budget)
{
	u64 budget = 300 * 1000000ULL;
	u64 dirty;

	/* 1 GiB/s of round: 512 MiB of pages and more take over 0.5 s. */
	for (dirty = 1ULL << 17; dirty <= 1ULL << 40; dirty <<= 1) {
		u64 est = lm_xfer_downtime_ns(dirty, PAGE, 16 * GiB, 16 * NS);

		EXPECT_LT(budget, est) {
			TH_LOG("%llu dirty pages: %llu ns",
			       (unsigned long long)dirty,
			       (unsigned long long)est);
		}
		EXPECT_EQ(reference(dirty, 16 * GiB, 16 * NS), est);
	}
}

TEST(saturates)
{
	EXPECT_EQ(U64_MAX, lm_xfer_downtime_ns(U64_MAX, PAGE, 1, 1));
	EXPECT_EQ(U64_MAX, lm_xfer_downtime_ns(1ULL << 50, PAGE, 1, U64_MAX));
	/* Slow round, huge remainder: the 128-bit part alone must not trap. */
	EXPECT_EQ(reference(3, U64_MAX - 1, U64_MAX),
		  lm_xfer_downtime_ns(3, PAGE, U64_MAX - 1, U64_MAX));
	EXPECT_EQ(reference(1ULL << 44, 1ULL << 60, U64_MAX / 2),
		  lm_xfer_downtime_ns(1ULL << 44, PAGE, 1ULL << 60,
				      U64_MAX / 2));
}

TEST_HARNESS_MAIN

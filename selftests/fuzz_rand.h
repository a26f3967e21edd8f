/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fuzzers' seeded pseudo-random stream (wire_fuzz_test.c,
 * netlink_fuzz_test.c): splitmix64, small, and every seed gives a good
 * stream, so that a printed seed replays a run. One stream a program.
 */
#ifndef FUZZ_RAND_H
#define FUZZ_RAND_H

#include <stdint.h>

static uint64_t rnd_state;

static inline uint64_t rnd(void)
{
	uint64_t z = (rnd_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, n), n > 0. */
static inline uint32_t below(uint32_t n)
{
	return rnd() % n;
}

#endif /* FUZZ_RAND_H */

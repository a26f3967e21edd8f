/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The live pre-copy's downtime estimate, as a pure function.
 *
 * It lives in a header of its own, free of any other kernel interface, so
 * that selftests/xfer_downtime_test.c can compile it in userspace and try
 * it at sizes no lab VM can hold. The test defines the kernel names used
 * here (u64, U64_MAX, check_mul_overflow(), check_add_overflow() and
 * mul_u64_u64_div_u64()) before including it.
 */
#ifndef _LM_XFER_DOWNTIME_H
#define _LM_XFER_DOWNTIME_H

#ifdef __KERNEL__
#include <linux/limits.h>
#include <linux/math64.h>
#include <linux/overflow.h>
#include <linux/types.h>
#endif

/* Bytes a page costs on the wire beyond its data: its PAGES run entry. */
#define LM_XFER_PAGE_WIRE_OVERHEAD	16

/*
 * How long sending @dirty pages of @page_size bytes would take at the rate
 * of the last round, which sent @round_bytes in @round_ns; 0 if that round
 * sent nothing (no rate known: the pre-copy stops there, as it always has).
 *
 * dirty * (page_size + 16) * round_ns exceeds 64 bits for a TiB-sized
 * guest dirtied in a round of a few seconds: the product wrapped and made
 * a large guest switch over right after its first round with most of its
 * memory still to send. The bytes still to send are split by the round's
 * bytes, so that the one 128-bit product left (remainder times duration
 * over bytes) has a quotient below @round_ns: mul_u64_u64_div_u64() cannot
 * overflow (x86's divq would trap). Anything that does not fit saturates
 * to U64_MAX, which is above every downtime budget.
 */
static inline u64 lm_xfer_downtime_ns(u64 dirty, u64 page_size,
				      u64 round_bytes, u64 round_ns)
{
	u64 wire, whole, part, est;

	if (!round_bytes)
		return 0;
	if (check_mul_overflow(dirty, page_size + LM_XFER_PAGE_WIRE_OVERHEAD,
			       &wire))
		return U64_MAX;
	if (check_mul_overflow(wire / round_bytes, round_ns, &whole))
		return U64_MAX;
	part = mul_u64_u64_div_u64(wire % round_bytes, round_ns, round_bytes);
	if (check_add_overflow(whole, part, &est))
		return U64_MAX;
	return est;
}

#endif /* _LM_XFER_DOWNTIME_H */

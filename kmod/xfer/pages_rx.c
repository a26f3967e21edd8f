// SPDX-License-Identifier: GPL-2.0
/*
 * Receiving guest pages straight into the destination guest's memory.
 *
 * The thread runs on the destination VMM's mm. A PAGES frame's descriptor
 * is read and checked completely (CRC, unit, every run within the unit,
 * counts adding up to the frame length) before any page is touched. Then,
 * run by run:
 *
 * PIN   the run's guest pages are pinned for writing and the socket copies
 *       into them through a bio_vec; the checksum reads them back with a
 *       copy that survives a machine check (lm_xfer_copy_page()).
 * USER  the socket copies into the VMM's user addresses (as a read(2) by
 *       the VMM would); the checksum reads them back with copy_from_user,
 *       which x86 recovers from a machine check as a user access.
 *
 * A zero run leaves alone the guest pages no memory backs (resident.c):
 * they read as zero already. The others are pinned read-only, checked page
 * by page and cleared only where not already zero, so that memory the
 * destination never touched stays unallocated, on shmem and hugetlbfs as
 * on anonymous memory.
 *
 * A batch compressed with zstd (LM_WIRE_PAGES_ZSTD) is received whole into
 * a buffer of the transfer, decompressed into another, checked, and only
 * then copied into guest memory.
 */

#include "internal.h"

#include <linux/bitmap.h>
#include <linux/bvec.h>
#include <linux/crc32c.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/net.h>
#include <linux/pgtable.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/uio.h>

/* The descriptor, its runs and a batch's vector (or page), then the copy. */
static_assert(sizeof(struct lm_wire_pages) +
	      LM_WIRE_MAX_BATCH_PAGES * (sizeof(struct lm_wire_run) +
					 sizeof(struct bio_vec)) + PAGE_SIZE <=
	      LM_XFER_BOUNCE_OFFSET);

static int rx_fault(struct lm_xfer *x, u32 index, u64 page, int err)
{
	const char *unit = x->layout.by_backing ? "RAM backing" : "slot";

	if (err == -EHWPOISON)
		lm_xfer_fail(x, err, LM_WIRE_REASON_INTERNAL,
			     "Memory error in destination guest memory of %s %u at or after page %llu",
			     unit, index, page);
	else
		lm_xfer_fail(x, err, LM_WIRE_REASON_VM_GONE,
			     "Cannot write guest memory of %s %u at page %llu",
			     unit, index, page);
	return err;
}

static int rx_msg(struct lm_xfer *x, struct msghdr *msg, size_t len)
{
	int ret = sock_recvmsg(x->sock, msg, MSG_WAITALL);

	if (ret < 0)
		return ret;
	if (ret != len)
		return -ECONNRESET;
	lm_xfer_account(x, 0, 0, 0, len);
	return 0;
}

/*
 * Make @n guest pages zero, none of them a hole: look at them through a
 * read-only pin, and write only those that are not zero. The look is a
 * copy that survives a machine check (lm_xfer_copy_page()): destination
 * memory with a latent error fails the migration, not the host.
 */
static int rx_zero_pinned(struct lm_xfer *x, unsigned long hva, u32 n)
{
	void *bounce = x->buf + LM_XFER_BOUNCE_OFFSET;
	int pinned, ret = 0;
	u32 i;

	pinned = pin_user_pages_fast(hva, n, 0, x->pages);
	if (pinned != n) {
		if (pinned > 0)
			unpin_user_pages(x->pages, pinned);
		return pinned < 0 ? pinned : -EFAULT;
	}
	for (i = 0; i < n && !ret; i++) {
		bool zero = true;

		if (is_zero_pfn(page_to_pfn(x->pages[i])))
			continue;
		ret = lm_xfer_copy_page(x->pages[i], bounce);
		if (ret)
			break;
		zero = !memchr_inv(bounce, 0, PAGE_SIZE);
		if (!zero && clear_user((void __user *)hva + i * PAGE_SIZE,
					PAGE_SIZE))
			ret = -EFAULT;
	}
	unpin_user_pages(x->pages, n);
	return ret;
}

/*
 * Make @n guest pages zero (@n is at most LM_WIRE_MAX_BATCH_PAGES). Holes
 * are zero already and are not touched: a pin, even read-only, would
 * allocate them on shmem or hugetlbfs. Nothing else writes the
 * destination's guest memory while it receives (its vCPUs have not run),
 * so a hole found stays one. Adds @n to *@zero and the holes to *@nr_holes,
 * the frame's counts.
 */
static int rx_zero_run(struct lm_xfer *x, unsigned long hva, u32 n,
		       u32 *zero, u32 *nr_holes)
{
	DECLARE_BITMAP(holes, LM_WIRE_MAX_BATCH_PAGES);
	u32 i, end;
	int ret = 0;

	*zero += n;
	*nr_holes += lm_xfer_find_holes(hva, n, holes);
	for (i = find_first_zero_bit(holes, n); i < n && !ret;
	     i = find_next_zero_bit(holes, n, end)) {
		end = find_next_bit(holes, n, i);
		ret = rx_zero_pinned(x, hva + (unsigned long)i * PAGE_SIZE,
				     end - i);
	}
	return ret;
}

/*
 * The socket copies into the pinned pages; the CRC reads them back
 * through a copy that survives a machine check, as rx_zero_pinned()'s.
 */
static int rx_data_run_pin(struct lm_xfer *x, unsigned long hva, u32 n,
			   u32 *crc, bool data_crc, void *scratch)
{
	void *bounce = x->buf + LM_XFER_BOUNCE_OFFSET;
	struct bio_vec *bvec = scratch;
	struct msghdr msg = {};
	int pinned, ret;
	u32 i;

	pinned = pin_user_pages_fast(hva, n, FOLL_WRITE, x->pages);
	if (pinned != n) {
		if (pinned > 0)
			unpin_user_pages(x->pages, pinned);
		return pinned < 0 ? pinned : -EFAULT;
	}
	for (i = 0; i < n; i++) {
		bvec[i].bv_page = x->pages[i];
		bvec[i].bv_offset = 0;
		bvec[i].bv_len = PAGE_SIZE;
	}
	iov_iter_bvec(&msg.msg_iter, ITER_DEST, bvec, n, (size_t)n * PAGE_SIZE);
	ret = rx_msg(x, &msg, (size_t)n * PAGE_SIZE);
	for (i = 0; !ret && data_crc && i < n; i++) {
		ret = lm_xfer_copy_page(x->pages[i], bounce);
		if (!ret)
			*crc = crc32c(*crc, bounce, PAGE_SIZE);
	}
	unpin_user_pages_dirty_lock(x->pages, n, true);
	return ret;
}

static int rx_data_run_user(struct lm_xfer *x, unsigned long hva, u32 n,
			    u32 *crc, bool data_crc, void *scratch)
{
	size_t len = (size_t)n * PAGE_SIZE;
	struct msghdr msg = {};
	struct iovec iov;
	int ret;
	u32 i;

	ret = import_single_range(ITER_DEST, (void __user *)hva, len, &iov,
				  &msg.msg_iter);
	if (ret)
		return ret;
	ret = rx_msg(x, &msg, len);
	if (ret || !data_crc)
		return ret;
	for (i = 0; i < n; i++, hva += PAGE_SIZE) {
		if (copy_from_user(scratch, (void __user *)hva, PAGE_SIZE))
			return -EFAULT;
		*crc = crc32c(*crc, scratch, PAGE_SIZE);
	}
	return 0;
}

/*
 * Check a PAGES descriptor; returns the unit (slot or backing) it names or
 * NULL (and fails @x). Runs are in ascending order without overlap; in
 * quick mode every page comes once, so a page received before is refused
 * (live mode resends pages: the newest copy wins).
 */
static const struct lm_xfer_unit *rx_check_desc(struct lm_xfer *x,
						const struct lm_wire_hdr *hdr)
{
	const struct lm_wire_pages *desc = x->buf;
	const struct lm_wire_run *runs = x->buf + sizeof(*desc);
	u32 i, nr_runs, nr_pages, nr_data, flags, sum = 0, data = 0;
	const struct lm_xfer_unit *unit;
	bool once = x->mode == LM_WIRE_MODE_QUICK;
	const char *why;
	u64 end = 0, len;

	nr_runs = le32_to_cpu(desc->nr_runs);
	nr_pages = le32_to_cpu(desc->nr_pages);
	nr_data = le32_to_cpu(desc->nr_data);
	flags = le32_to_cpu(desc->flags);
	why = "no such slot";
	if (le32_to_cpu(desc->slot) >= x->layout.nr_units)
		goto malformed;
	unit = &x->layout.units[le32_to_cpu(desc->slot)];
	why = "unknown flags";
	if (flags & ~(LM_WIRE_PAGES_DATA_CRC | LM_WIRE_PAGES_ZSTD))
		goto malformed;
	why = "ZSTD without the ZSTD feature";
	if ((flags & LM_WIRE_PAGES_ZSTD) && !(x->features & LM_WIRE_F_ZSTD))
		goto malformed;
	why = "data_crc set without DATA_CRC";
	if (!(flags & LM_WIRE_PAGES_DATA_CRC) && desc->data_crc)
		goto malformed;
	for (i = 0; i < nr_runs; i++) {
		u64 first = le64_to_cpu(runs[i].first);
		u32 n = le32_to_cpu(runs[i].nr_pages);
		u32 run_flags = le32_to_cpu(runs[i].flags);

		why = "a run out of its slot";
		if (!n || n > LM_WIRE_MAX_BATCH_PAGES ||
		    first >= unit->npages || n > unit->npages - first)
			goto malformed;
		why = "unknown run flags";
		if (run_flags & ~LM_WIRE_RUN_ZERO)
			goto malformed;
		why = "runs out of order or overlapping";
		if (i && first < end)
			goto malformed;
		why = "a page sent twice in quick mode";
		if (once && x->covered &&
		    find_next_bit(x->covered, unit->first + first + n,
				  unit->first + first) < unit->first + first + n)
			goto malformed;
		end = first + n;
		sum += n;
		if (!(run_flags & LM_WIRE_RUN_ZERO))
			data += n;
	}
	why = "counts do not add up";
	if (sum != nr_pages || data != nr_data)
		goto malformed;
	/* What follows the runs: the page data, or it compressed. */
	len = le32_to_cpu(hdr->len) - sizeof(*desc) - nr_runs * sizeof(*runs);
	if (!(flags & LM_WIRE_PAGES_ZSTD)) {
		if (len != (u64)nr_data * PAGE_SIZE)
			goto malformed;
		return unit;
	}
	why = "ZSTD without page data";
	if (!nr_data)
		goto malformed;
	/* Compressed only to be smaller: also what our buffer holds. */
	why = "zstd data not smaller than the page data";
	if (len >= (u64)nr_data * PAGE_SIZE)
		goto malformed;
	why = "no zstd data";
	if (!len)
		goto malformed;
	return unit;

malformed:
	lm_xfer_fail(x, -EPROTO, LM_WIRE_REASON_PROTOCOL,
		     "Malformed PAGES frame %u: %s", x->rx_seq - 1, why);
	return NULL;
}

/*
 * The rest of a PAGES frame with LM_WIRE_PAGES_ZSTD, whose descriptor
 * (in x->buf) was checked: receive the zstd frame, decompress it whole and
 * check its CRC before any guest page is written, then copy each data run
 * to its place at the VMM's addresses (whatever the receive method: the
 * data is in a kernel buffer, not in the socket) and make the zero runs
 * zero.
 */
static int rx_zstd_batch(struct lm_xfer *x, const struct lm_wire_hdr *hdr,
			 const struct lm_xfer_unit *unit)
{
	const struct lm_wire_pages *desc = x->buf;
	const struct lm_wire_run *runs = x->buf + sizeof(*desc);
	u32 i, nr_runs = le32_to_cpu(desc->nr_runs), zero = 0, holes = 0;
	u32 nr_data = le32_to_cpu(desc->nr_data);
	size_t packed = le32_to_cpu(hdr->len) - sizeof(*desc) -
			nr_runs * sizeof(*runs);
	size_t off = 0;
	int ret;

	ret = lm_wire_recv_exact(x, lm_xfer_zstd_packed(x), packed);
	if (ret)
		return ret;
	ret = lm_xfer_zstd_decompress(x, packed, nr_data);
	if (ret)
		return ret;
	if ((le32_to_cpu(desc->flags) & LM_WIRE_PAGES_DATA_CRC) &&
	    lm_wire_crc(lm_xfer_zstd_page(x, 0), (size_t)nr_data * PAGE_SIZE) !=
	    le32_to_cpu(desc->data_crc)) {
		lm_xfer_fail(x, -EBADMSG, LM_WIRE_REASON_CRC,
			     "PAGES frame %u: page data CRC mismatch",
			     x->rx_seq - 1);
		return -EBADMSG;
	}
	for (i = 0; i < nr_runs; i++) {
		u64 first = le64_to_cpu(runs[i].first);
		u32 n = le32_to_cpu(runs[i].nr_pages);
		unsigned long hva = unit->hva + first * PAGE_SIZE;

		if (le32_to_cpu(runs[i].flags) & LM_WIRE_RUN_ZERO) {
			ret = rx_zero_run(x, hva, n, &zero, &holes);
		} else {
			ret = copy_to_user((void __user *)hva,
					   lm_xfer_zstd_page(x, off),
					   (size_t)n * PAGE_SIZE) ? -EFAULT : 0;
			off += n;
		}
		if (ret)
			return rx_fault(x, le32_to_cpu(desc->slot), first, ret);
		if (x->covered)
			bitmap_set(x->covered, unit->first + first, n);
	}
	lm_xfer_account(x, le32_to_cpu(desc->nr_pages), zero, holes, 0);
	lm_xfer_account_data(x, (u64)nr_data * PAGE_SIZE, packed, true);
	return 0;
}

/* Receive the rest of a PAGES frame whose header is @hdr. */
int lm_xfer_recv_pages(struct lm_xfer *x, const struct lm_wire_hdr *hdr)
{
	struct lm_wire_pages *desc = x->buf;
	struct lm_wire_run *runs = x->buf + sizeof(*desc);
	void *scratch = runs + LM_WIRE_MAX_BATCH_PAGES;
	const struct lm_xfer_unit *unit;
	u32 i, nr_runs, crc = ~0U, zero = 0, holes = 0;
	bool data_crc;
	u64 data;
	int ret;

	if (le32_to_cpu(hdr->len) < sizeof(*desc))
		goto malformed;
	ret = lm_wire_recv_exact(x, desc, sizeof(*desc));
	if (ret)
		return ret;
	nr_runs = le32_to_cpu(desc->nr_runs);
	if (!nr_runs || nr_runs > LM_WIRE_MAX_BATCH_PAGES ||
	    le32_to_cpu(desc->nr_pages) > LM_WIRE_MAX_BATCH_PAGES ||
	    le32_to_cpu(hdr->len) < sizeof(*desc) + nr_runs * sizeof(*runs))
		goto malformed;
	ret = lm_wire_recv_exact(x, runs, nr_runs * sizeof(*runs));
	if (ret)
		return ret;
	if (lm_wire_crc(desc, sizeof(*desc) + nr_runs * sizeof(*runs)) !=
	    le32_to_cpu(hdr->payload_crc)) {
		lm_xfer_fail(x, -EBADMSG, LM_WIRE_REASON_CRC,
			     "PAGES frame %u: descriptor CRC mismatch",
			     x->rx_seq - 1);
		return -EBADMSG;
	}
	unit = rx_check_desc(x, hdr);
	if (!unit)
		return -EPROTO;
	data_crc = le32_to_cpu(desc->flags) & LM_WIRE_PAGES_DATA_CRC;
	if (le32_to_cpu(desc->flags) & LM_WIRE_PAGES_ZSTD)
		return rx_zstd_batch(x, hdr, unit);

	for (i = 0; i < nr_runs; i++) {
		u64 first = le64_to_cpu(runs[i].first);
		u32 n = le32_to_cpu(runs[i].nr_pages);
		unsigned long hva = unit->hva + first * PAGE_SIZE;

		if (le32_to_cpu(runs[i].flags) & LM_WIRE_RUN_ZERO) {
			ret = rx_zero_run(x, hva, n, &zero, &holes);
			if (ret)
				return rx_fault(x, le32_to_cpu(desc->slot),
						first, ret);
		} else if (x->recv_method == LM_RECV_USER) {
			ret = rx_data_run_user(x, hva, n, &crc, data_crc,
					       scratch);
		} else {
			ret = rx_data_run_pin(x, hva, n, &crc, data_crc,
					      scratch);
		}
		if (ret == -EFAULT || ret == -EHWPOISON)
			return rx_fault(x, le32_to_cpu(desc->slot), first, ret);
		if (ret)
			return ret;
		if (x->covered)
			bitmap_set(x->covered, unit->first + first, n);
	}
	if (data_crc && ~crc != le32_to_cpu(desc->data_crc)) {
		lm_xfer_fail(x, -EBADMSG, LM_WIRE_REASON_CRC,
			     "PAGES frame %u: page data CRC mismatch",
			     x->rx_seq - 1);
		return -EBADMSG;
	}
	lm_xfer_account(x, le32_to_cpu(desc->nr_pages), zero, holes, 0);
	data = (u64)le32_to_cpu(desc->nr_data) * PAGE_SIZE;
	lm_xfer_account_data(x, data, data, false);
	return 0;

malformed:
	lm_xfer_fail(x, -EPROTO, LM_WIRE_REASON_PROTOCOL,
		     "Malformed PAGES frame %u", x->rx_seq - 1);
	return -EPROTO;
}

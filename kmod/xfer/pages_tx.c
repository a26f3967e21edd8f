// SPDX-License-Identifier: GPL-2.0
/*
 * Sending guest pages.
 *
 * The thread runs on the VMM's mm, so a slot's pages are found by the
 * VMM's own addresses. Of a batch of up to LM_WIRE_MAX_BATCH_PAGES, the
 * pages no memory backs (resident.c: never written, nothing allocated) are
 * zero without a look; the others are pinned, each read once to find the
 * zero pages (and to checksum the others while the guest is paused), then
 * the non-zero pages are handed to TCP:
 *
 * SENDPAGE  by reference, one sendpage per page; TCP takes its own page
 *           reference and reads the page when it transmits. The default:
 *           no copy on the sending side at all.
 * COPY      copied into socket buffers by one sendmsg over a kvec.
 * ZEROCOPY  sendmsg(MSG_ZEROCOPY) over a bio_vec with one completion for
 *           the whole transfer in msg_ubuf. TCP takes page references; the
 *           completion frees itself once the stack has let go of every
 *           buffer. Delivery to a local socket (veth, loopback) copies such
 *           buffers at reception (skb_orphan_frags_rx).
 *
 * Documentation/performance.rst has the measured cost of each.
 *
 * With zstd (LM_A_XFER_COMPRESS, compress.c), the pages are copied into
 * one buffer instead of being read in place, compressed together, and the
 * result sent by one sendmsg when it is smaller than the page data; a
 * batch that does not shrink goes by the method above.
 */

#include "internal.h"
#include "compat.h"

#include <linux/bitmap.h>
#include <linux/bvec.h>
#include <linux/crc32c.h>
#include <linux/highmem.h>
#include <linux/math64.h>
#include <linux/mm.h>
#include <linux/net.h>
#include <linux/pgtable.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include <net/sock.h>

/*
 * The MSG_ZEROCOPY completion must not be module text. Its last reference
 * is dropped by whoever frees the last skb holding one of our pages: an
 * ACK in softirq, the purge of an orphaned socket still sending after
 * its transfer ended (FIN_WAIT1 behind a closed window can last minutes),
 * long after lm.ko may have been unloaded. A callback of our own would
 * then jump into freed memory. Counting completions and waiting for them
 * in module exit is not enough either: the callback still runs its last
 * instructions in module text after the count that lets exit go on, and
 * unloading would wait on a peer that may never read.
 *
 * So the completion is the core's: msg_zerocopy_realloc() (what
 * SO_ZEROCOPY sockets get) allocates a ubuf_info whose callback is
 * msg_zerocopy_callback() in net/core, holding a reference on the socket
 * (not on the module) until the stack lets go of the last buffer. One is
 * taken per transfer and passed in msg_ubuf to every sendmsg(); its one
 * completion notice is queued on the socket's error queue, or dropped if
 * the socket is already closed, and freed with the socket.
 */
int lm_xfer_tx_init(struct lm_xfer *x)
{
	if (x->send_method == LM_SEND_DEFAULT)
		x->send_method = LM_SEND_SENDPAGE;
#if LM_HAVE_MSG_UBUF
	if (x->send_method == LM_SEND_ZEROCOPY) {
		struct sock *sk = x->sock->sk;
		struct ubuf_info *uarg;

		/* The size is only accounted to RLIMIT_MEMLOCK: not ours. */
		lock_sock(sk);
		uarg = msg_zerocopy_realloc(sk, 0, NULL);
		release_sock(sk);
		if (!uarg)
			return -ENOMEM;
		x->zc = uarg;
	}
#else
	if (x->send_method == LM_SEND_ZEROCOPY)
		return -EOPNOTSUPP;
#endif
	return 0;
}

void lm_xfer_tx_uninit(struct lm_xfer *x)
{
#if LM_HAVE_MSG_UBUF
	/* Our reference; buffers still queued keep the rest. */
	net_zcopy_put(x->zc);
#endif
	x->zc = NULL;
}

static int tx_sendpage(struct lm_xfer *x, struct page **pages,
		       const bool *zero, u32 n)
{
	u32 i;
	int ret;

	for (i = 0; i < n; i++) {
		size_t off = 0;

		if (zero[i])
			continue;
		while (off < PAGE_SIZE) {
			ret = lm_sock_sendpage(x->sock, pages[i], off,
					       PAGE_SIZE - off, MSG_MORE);
			if (ret <= 0)
				return ret ?: -EPIPE;
			off += ret;
		}
	}
	return 0;
}

/* COPY and ZEROCOPY: one sendmsg for the whole batch. */
static int tx_sendmsg(struct lm_xfer *x, struct page **pages,
		      const bool *zero, u32 n, u32 nr_data, void *scratch)
{
	struct msghdr msg = { .msg_flags = MSG_MORE };
	size_t len = (size_t)nr_data * PAGE_SIZE;
	u32 i, j = 0;
	int ret;

	if (x->send_method == LM_SEND_COPY) {
		struct kvec *vec = scratch;

		for (i = 0; i < n; i++) {
			if (zero[i])
				continue;
			vec[j].iov_base = page_address(pages[i]);
			vec[j++].iov_len = PAGE_SIZE;
		}
		iov_iter_kvec(&msg.msg_iter, ITER_SOURCE, vec, j, len);
	} else {
		struct bio_vec *bvec = scratch;

		for (i = 0; i < n; i++) {
			if (zero[i])
				continue;
			bvec[j].bv_page = pages[i];
			bvec[j].bv_offset = 0;
			bvec[j++].bv_len = PAGE_SIZE;
		}
		iov_iter_bvec(&msg.msg_iter, ITER_SOURCE, bvec, j, len);
#if LM_HAVE_MSG_UBUF
		msg.msg_flags |= MSG_ZEROCOPY;
		msg.msg_ubuf = x->zc;
#endif
	}
	ret = sock_sendmsg(x->sock, &msg);
	if (ret < 0)
		return ret;
	return ret == len ? 0 : -EPIPE;
}

/*
 * Keep the pre-copy to x->bandwidth bytes of page data per second: after
 * each batch, sleep until the bytes sent since pace_start_ns are due at
 * that rate. A sender that fell behind (harvesting, a slow link) restarts
 * its reckoning instead of bursting to catch up: the credit it may bank
 * is one batch.
 */
static int tx_pace(struct lm_xfer *x, u64 bytes)
{
	u64 now = ktime_get_ns(), due;

	if (!x->pacing || !x->bandwidth)
		return 0;
	x->pace_bytes += bytes;
	/* 128 bits in between: a large guest sends more than 2^64 / 10^9. */
	due = x->pace_start_ns + mul_u64_u64_div_u64(x->pace_bytes,
						     NSEC_PER_SEC,
						     x->bandwidth);
	if (now >= due) {
		if (now - due > div64_u64((u64)LM_WIRE_MAX_BATCH_PAGES *
					  PAGE_SIZE * NSEC_PER_SEC,
					  x->bandwidth)) {
			x->pace_start_ns = now;
			x->pace_bytes = 0;
		}
		return 0;
	}
	/* Cancelling wakes x->wait. */
	wait_event_interruptible_timeout(x->wait, lm_xfer_cancelled(x),
					 nsecs_to_jiffies(due - now) + 1);
	return lm_xfer_cancelled(x) ? -ECANCELED : 0;
}

/* tx_batch()'s descriptor, runs, zero flags and vector, then the copy. */
static_assert(sizeof(struct lm_wire_pages) +
	      LM_WIRE_MAX_BATCH_PAGES * (sizeof(struct lm_wire_run) + sizeof(bool) +
					 sizeof(struct kvec) +
					 sizeof(struct bio_vec)) + 64 <=
	      LM_XFER_BOUNCE_OFFSET);

/*
 * Copy a guest page to @bounce for the zero check and the CRC, with a copy
 * that survives a machine check: a latent memory error in guest memory
 * then fails the migration (the VMM gets SIGBUS if it touches the page),
 * where a plain kernel read of the page would panic the host. The copy
 * stays in the cache for the reads that follow. On the source the network
 * stack still reads the page itself when it sends it (sendpage), by then
 * just read whole; the destination checks and checksums its pages through
 * this copy too (pages_rx.c).
 */
int lm_xfer_copy_page(struct page *page, void *bounce)
{
	void *addr = kmap_local_page(page);
	unsigned long left = copy_mc_to_kernel(bounce, addr, PAGE_SIZE);

	kunmap_local(addr);
	return left ? -EHWPOISON : 0;
}

/* Send @len bytes of @buf, more of the frame or the next one to follow. */
static int tx_send_buf(struct lm_xfer *x, void *buf, size_t len)
{
	struct kvec vec = { .iov_base = buf, .iov_len = len };
	struct msghdr msg = { .msg_flags = MSG_MORE };
	int ret;

	ret = kernel_sendmsg(x->sock, &msg, &vec, 1, len);
	if (ret < 0)
		return ret;
	return ret == len ? 0 : -EPIPE;
}

/*
 * Send pages [@first, @first + @n) of unit @index as one PAGES frame. The
 * pages are pinned in x->pages, NULL for a hole (zero, not pinned); x->buf
 * holds the descriptor, the zero flags and the method's vector, one after
 * the other, and a copy of one page. Compressing, the copies of the
 * batch's data pages are kept one after the other in the zstd buffer
 * instead, to be compressed together; a batch that does not shrink is
 * sent from the pinned pages, as without compression.
 */
static int tx_batch(struct lm_xfer *x, u32 index, u64 first, u32 n,
		    bool data_crc)
{
	struct lm_wire_pages *desc = x->buf;
	struct lm_wire_run *runs = x->buf + sizeof(*desc);
	bool *zero = (void *)(runs + LM_WIRE_MAX_BATCH_PAGES);
	void *scratch = PTR_ALIGN((void *)(zero + LM_WIRE_MAX_BATCH_PAGES), 64);
	void *bounce = x->buf + LM_XFER_BOUNCE_OFFSET;
	u32 i, nr_runs = 0, nr_data = 0, nr_holes = 0, crc = ~0U, flags = 0;
	size_t data_len, packed = 0;
	int ret;

	for (i = 0; i < n; i++) {
		if (!x->pages[i]) {
			zero[i] = true;
			nr_holes++;
		} else if (is_zero_pfn(page_to_pfn(x->pages[i]))) {
			/* The shared zero page: skip_holes off, or mapped since. */
			zero[i] = true;
		} else {
			if (x->zstd)
				bounce = lm_xfer_zstd_page(x, nr_data);
			ret = lm_xfer_copy_page(x->pages[i], bounce);
			if (ret) {
				lm_xfer_fail(x, ret, LM_WIRE_REASON_INTERNAL,
					     "Memory error in guest page %llu of %s %u",
					     first + i, x->layout.by_backing ?
					     "RAM backing" : "slot", index);
				return ret;
			}
			zero[i] = !memchr_inv(bounce, 0, PAGE_SIZE);
			if (!zero[i] && data_crc)
				crc = crc32c(crc, bounce, PAGE_SIZE);
		}

		nr_data += !zero[i];
		if (i && zero[i] == zero[i - 1]) {
			le32_add_cpu(&runs[nr_runs - 1].nr_pages, 1);
			continue;
		}
		runs[nr_runs].first = cpu_to_le64(first + i);
		runs[nr_runs].nr_pages = cpu_to_le32(1);
		runs[nr_runs++].flags = cpu_to_le32(zero[i] ? LM_WIRE_RUN_ZERO : 0);
	}

	data_len = (size_t)nr_data * PAGE_SIZE;
	if (x->zstd)
		packed = lm_xfer_zstd_compress(x, nr_data);
	if (packed)
		flags |= LM_WIRE_PAGES_ZSTD;
	if (data_crc)
		flags |= LM_WIRE_PAGES_DATA_CRC;
	desc->slot = cpu_to_le32(index);
	desc->nr_runs = cpu_to_le32(nr_runs);
	desc->nr_pages = cpu_to_le32(n);
	desc->nr_data = cpu_to_le32(nr_data);
	desc->flags = cpu_to_le32(flags);
	desc->data_crc = cpu_to_le32(data_crc ? ~crc : 0);

	ret = lm_wire_send_pages_desc(x, desc, sizeof(*desc) +
				      nr_runs * sizeof(*runs),
				      packed ?: data_len);
	if (ret || !nr_data)
		goto out;
	if (packed)
		ret = tx_send_buf(x, lm_xfer_zstd_packed(x), packed);
	else if (x->send_method == LM_SEND_SENDPAGE)
		ret = tx_sendpage(x, x->pages, zero, n);
	else
		ret = tx_sendmsg(x, x->pages, zero, n, nr_data, scratch);
out:
	if (ret)
		return ret;
	lm_xfer_account(x, n, n - nr_data, nr_holes, packed ?: data_len);
	lm_xfer_account_data(x, data_len, packed ?: data_len, packed);
	/* The link carries what was compressed: that is what is paced. */
	return tx_pace(x, packed ?: data_len);
}

/*
 * Pin the @n pages from @hva on into x->pages, but for those set in
 * @holes, which get NULL. Returns how many pages from the first on are
 * ready, fewer than @n if a pin stopped short, or a negative errno if not
 * even the first page is.
 */
static int tx_pin(struct lm_xfer *x, unsigned long hva, u32 n,
		  const unsigned long *holes)
{
	u32 i = 0, end;
	int pinned;

	while (i < n) {
		if (test_bit(i, holes)) {
			end = find_next_zero_bit(holes, n, i);
			memset(x->pages + i, 0, (end - i) * sizeof(*x->pages));
			i = end;
			continue;
		}
		end = find_next_bit(holes, n, i);
		pinned = pin_user_pages_fast(hva + (unsigned long)i * PAGE_SIZE,
					     end - i, 0, x->pages + i);
		if (pinned <= 0)
			return i ?: pinned ?: -EFAULT;
		i += pinned;
		if (i < end)
			return i;
	}
	return n;
}

/* Unpin what tx_pin() pinned of the first @n pages of x->pages. */
static void tx_unpin(struct lm_xfer *x, u32 n)
{
	u32 i = 0, end;

	while (i < n) {
		for (; i < n && !x->pages[i]; i++)
			;
		for (end = i; end < n && x->pages[end]; end++)
			;
		if (end > i)
			unpin_user_pages(x->pages + i, end - i);
		i = end;
	}
}

/*
 * Send pages [@first, @end) of unit @index, in batches; returns 0 once all
 * were sent or a negative errno.
 *
 * Holes (lm_xfer_find_holes()) go as zero runs without being pinned: on
 * shmem and hugetlbfs a pin would allocate them, and the look costs less
 * than a fault and a pin on any memory. It tells what the memory holds at
 * the time of the look, as reading the page then would: zeros. What the
 * guest writes afterwards is the dirty log's to catch, as for any page
 * read while the guest runs:
 *
 *  - pre-copy: tracking started before round 0 (lm_xfer_dirty_start()).
 *    A guest write to a hole makes KVM fault the page in for writing, and
 *    KVM marks it in the dirty log when it maps it, before the write can
 *    land. A host write through a shared shmem mapping allocates the page
 *    with a dirty PTE, which the next harvest's host-write walk reports
 *    (kmod/dirty/host_writes.c). Either way the page is in a later
 *    round's bitmap and is read then. (Shmem writes not made through a
 *    page table, and host writes to private memory, are not tracked,
 *    whether the page was found empty or read: Documentation/
 *    dirty-tracking.rst, "Limits of host-write tracking".);
 *  - the final round and quick migration: the guest is paused, lm holds
 *    its vCPUs (no KVM fault is in flight) and the VMM has stopped its
 *    devices: nothing writes, and the look is the final word.
 *
 * A page that is no hole at the look but is emptied before the pin
 * (MADV_DONTNEED, a punched hole) is faulted in by the pin as before.
 */
static int tx_range(struct lm_xfer *x, u32 index, u64 first, u64 end,
		    bool data_crc)
{
	const struct lm_xfer_unit *unit = &x->layout.units[index];
	DECLARE_BITMAP(holes, LM_WIRE_MAX_BATCH_PAGES);
	int ret;

	while (first < end) {
		u32 n = min_t(u64, end - first, LM_WIRE_MAX_BATCH_PAGES);
		unsigned long hva = unit->hva + first * PAGE_SIZE;
		int got;

		if (lm_xfer_cancelled(x))
			return -ECANCELED;
		lm_xfer_find_holes(hva, n, holes);
		got = tx_pin(x, hva, n, holes);
		if (got <= 0) {
			lm_xfer_fail(x, got ?: -EFAULT,
				     LM_WIRE_REASON_VM_GONE,
				     "Cannot reach guest memory of %s %u at page %llu",
				     x->layout.by_backing ? "RAM backing" :
				     "slot", index, first);
			return got ?: -EFAULT;
		}
		ret = tx_batch(x, index, first, got, data_crc);
		tx_unpin(x, got);
		if (ret)
			return ret;
		first += got;
		cond_resched();
	}
	return 0;
}

/*
 * Send every page of unit @index, the guest paused if @data_crc. Keyed by
 * backing, that includes pages no slot maps now (RAM under the ROM of the
 * legacy area): the destination's slots may map them.
 */
int lm_xfer_send_unit(struct lm_xfer *x, u32 index, bool data_crc)
{
	return tx_range(x, index, 0, x->layout.units[index].npages, data_crc);
}

/* Send the pages of unit @index set in its dirty bitmap, and clear them. */
int lm_xfer_send_dirty(struct lm_xfer *x, u32 index, bool data_crc)
{
	unsigned long *map = x->dirty_maps[index];
	unsigned long npages = x->layout.units[index].npages;
	unsigned long first, end;
	int ret;

	for (first = find_first_bit(map, npages); first < npages;
	     first = find_next_bit(map, npages, end)) {
		end = find_next_zero_bit(map, npages, first);
		ret = tx_range(x, index, first, end, data_crc);
		if (ret)
			return ret;
		bitmap_clear(map, first, end - first);
	}
	return 0;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * zstd compression of PAGES batches (LM_WIRE_F_ZSTD, protocol.rst
 * "Compressed page data").
 *
 * Everything a transfer needs is allocated once, before its first page:
 * a batch of page data uncompressed (LM_WIRE_MAX_BATCH_PAGES pages), the
 * same again for the compressed bytes, and the zstd context's workspace.
 * Nothing is allocated per batch or per page, and the thread's cleanup
 * frees it all, whatever path the transfer ended by.
 *
 * The source compresses a batch into a buffer one byte shorter than its
 * page data, so that zstd itself gives up (dstSize_tooSmall) on a batch
 * that would not shrink: that batch goes as it would without compression.
 * The destination decompresses into a buffer of exactly the batch's page
 * data and refuses any other outcome; zstd's single-shot decoder reads no
 * more than the frame it is given and writes no more than that buffer,
 * whatever the bytes say.
 */

#include "internal.h"

#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/zstd.h>

#define ZSTD_BATCH_BYTES	((size_t)LM_WIRE_MAX_BATCH_PAGES * PAGE_SIZE)

struct lm_xfer_zstd {
	void *raw;		/* ZSTD_BATCH_BYTES: page data as in memory */
	void *packed;		/* ZSTD_BATCH_BYTES: the same, compressed */
	void *workspace;
	zstd_cctx *cctx;	/* source */
	zstd_dctx *dctx;	/* destination */
	zstd_parameters params;
};

/*
 * Allocate what compressing (the source, at @level) or decompressing (the
 * destination) needs; 0 or -ENOMEM, the transfer failed then.
 */
int lm_xfer_zstd_init(struct lm_xfer *x, int level)
{
	struct lm_xfer_zstd *z;
	size_t ws;

	z = kzalloc(sizeof(*z), GFP_KERNEL);
	if (!z)
		goto err_nomem;
	x->zstd = z;
	z->raw = kvmalloc(ZSTD_BATCH_BYTES, GFP_KERNEL);
	z->packed = kvmalloc(ZSTD_BATCH_BYTES, GFP_KERNEL);
	if (!z->raw || !z->packed)
		goto err_nomem;
	if (x->role == LM_WIRE_ROLE_SOURCE) {
		/* Tuned for a whole batch; smaller ones use the same. */
		z->params = zstd_get_params(level, ZSTD_BATCH_BYTES);
		ws = zstd_cctx_workspace_bound(&z->params.cParams);
	} else {
		ws = zstd_dctx_workspace_bound();
	}
	z->workspace = kvmalloc(ws, GFP_KERNEL);
	if (!z->workspace)
		goto err_nomem;
	if (x->role == LM_WIRE_ROLE_SOURCE) {
		z->cctx = zstd_init_cctx(z->workspace, ws);
		if (!z->cctx)
			goto err_nomem;
	} else {
		z->dctx = zstd_init_dctx(z->workspace, ws);
		if (!z->dctx)
			goto err_nomem;
	}
	return 0;

err_nomem:
	lm_xfer_fail(x, -ENOMEM, LM_WIRE_REASON_INTERNAL,
		     "Out of memory for zstd's buffers and context");
	return -ENOMEM;
}

void lm_xfer_zstd_free(struct lm_xfer *x)
{
	struct lm_xfer_zstd *z = x->zstd;

	if (!z)
		return;
	kvfree(z->workspace);
	kvfree(z->packed);
	kvfree(z->raw);
	kfree(z);
	x->zstd = NULL;
}

/* Where page @i of a batch's page data is kept, uncompressed. */
void *lm_xfer_zstd_page(struct lm_xfer *x, u32 i)
{
	return x->zstd->raw + (size_t)i * PAGE_SIZE;
}

/* The compressed bytes of the last lm_xfer_zstd_compress() or to receive. */
void *lm_xfer_zstd_packed(struct lm_xfer *x)
{
	return x->zstd->packed;
}

/*
 * Compress the first @nr_data pages of the raw buffer; returns the
 * compressed size, or 0 when it would not be smaller (or zstd failed: the
 * batch then goes uncompressed, which is always correct).
 */
size_t lm_xfer_zstd_compress(struct lm_xfer *x, u32 nr_data)
{
	struct lm_xfer_zstd *z = x->zstd;
	size_t len = (size_t)nr_data * PAGE_SIZE, ret;

	if (!nr_data)
		return 0;
	ret = zstd_compress_cctx(z->cctx, z->packed, len - 1, z->raw, len,
				 &z->params);
	return zstd_is_error(ret) ? 0 : ret;
}

/*
 * Decompress the @packed_len bytes of the packed buffer into the raw one,
 * which must then hold exactly @nr_data pages; 0, or -EPROTO with @x failed.
 */
int lm_xfer_zstd_decompress(struct lm_xfer *x, size_t packed_len, u32 nr_data)
{
	struct lm_xfer_zstd *z = x->zstd;
	size_t len = (size_t)nr_data * PAGE_SIZE, ret;

	ret = zstd_decompress_dctx(z->dctx, z->raw, len, z->packed, packed_len);
	if (zstd_is_error(ret)) {
		lm_xfer_fail(x, -EPROTO, LM_WIRE_REASON_PROTOCOL,
			     "PAGES frame %u: zstd data does not decompress (%s)",
			     x->rx_seq - 1, zstd_get_error_name(ret));
		return -EPROTO;
	}
	if (ret != len) {
		lm_xfer_fail(x, -EPROTO, LM_WIRE_REASON_PROTOCOL,
			     "PAGES frame %u: zstd data decompressed to %zu bytes, not %zu",
			     x->rx_seq - 1, ret, len);
		return -EPROTO;
	}
	return 0;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * A hostile source against a listening lm destination: many short
 * sessions, each a fresh LISTEN on a KVM VM of this process and one
 * connection over loopback TCP carrying a valid quick migration (HELLO,
 * CONFIG, PAGES, ROUND_END(FINAL), STATE, COMMIT) with one mutation:
 * random bytes, a truncated stream, oversized or wrong lengths, wrong
 * CRCs, a gap in the sequence numbers, frames reordered, duplicated or
 * dropped, out-of-range slots and pages, zero or huge run counts, bad
 * state totals, reserved fields set, or a field set to an edge value with
 * the CRCs made right so that the frame reaches the checks behind them.
 *
 * After each session the destination's transfer must have ended within a
 * few seconds: FAILED for a mutation that breaks the protocol, DONE only
 * for a valid session (whose memory must then be exactly what was sent).
 * Every memslot of the VM lies between guard pages of its own mapping,
 * filled with a pattern that must survive every session: a page written
 * outside the declared layout shows there. The console checker fails the
 * lab run on any oops or WARN the sessions cause.
 *
 * Bounded by WIRE_FUZZ_SECONDS (default 12) or WIRE_FUZZ_SESSIONS
 * (default 3000), whichever comes first. Session n draws from a PRNG
 * seeded by WIRE_FUZZ_SEED (printed) and n, so WIRE_FUZZ_SEED=s
 * WIRE_FUZZ_FIRST=n WIRE_FUZZ_SESSIONS=1 replays exactly one session.
 *
 * Half the sessions offer LM_WIRE_F_ZSTD and send most batches with data
 * compressed (LM_WIRE_PAGES_ZSTD): zstd frames (RFC 8878) of raw and RLE
 * blocks, made here from the format's description alone, which the
 * mutations then break like any other bytes.
 *
 * Then, not at random: fuzz.rules breaks one rule of protocol.rst per
 * session and checks the exact reason, message and answer each must get;
 * fuzz.hostile_destination plays a destination that breaks the rules of
 * HELLO and ACK against an lm source.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>
#include <linux/lm.h>
#include <linux/lm_wire.h>

#include "kselftest_harness.h"
#include "fuzz_rand.h"
#include "lm_nl.h"
#include "wire_peer.h"

#define MiB		(1ULL << 20)
#define GUARD		(4 * PAGE)
#define NR_SLOTS	2
#define MAX_FRAMES	64
static const uint8_t loopback[4] = { 127, 0, 0, 1 };

#define DEFAULT_SEED	0x6c6d66757a7a0001ULL

/* Small slots keep a session short under TCG; a hole between them. */
static const struct slot_def layout[NR_SLOTS] = {
	{ .gpa = 0,		.size = 6 * PAGE },
	{ .gpa = 1 * MiB,	.size = 10 * PAGE },
};

static void rnd_bytes(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len--)
		*p++ = rnd();
}

/* The guard byte at @off of slot @i's mapping: position-dependent. */
static uint8_t guard_byte(unsigned int i, size_t off)
{
	return 0xa5 ^ (uint8_t)(off * 31 + i * 7 + (off >> 8));
}

struct gvm {
	int kvm_fd;
	int fd;
	int vcpu_fd;
	uint8_t *area[NR_SLOTS];	/* guard, slot, guard */
	uint8_t *mem[NR_SLOTS];
	uint32_t id;
};

static size_t area_size(unsigned int i)
{
	return GUARD + layout[i].size + GUARD;
}

static int gvm_create(struct gvm *vm)
{
	unsigned int i;
	size_t off;

	memset(vm, 0, sizeof(*vm));
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return -errno;
	vm->fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->fd < 0)
		return -errno;
	for (i = 0; i < NR_SLOTS; i++) {
		struct kvm_userspace_memory_region region = {
			.slot = i,
			.guest_phys_addr = layout[i].gpa,
			.memory_size = layout[i].size,
		};

		vm->area[i] = mmap(NULL, area_size(i), PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (vm->area[i] == MAP_FAILED)
			return -errno;
		for (off = 0; off < area_size(i); off++)
			vm->area[i][off] = guard_byte(i, off);
		vm->mem[i] = vm->area[i] + GUARD;
		region.userspace_addr = (uintptr_t)vm->mem[i];
		if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region))
			return -errno;
	}
	vm->vcpu_fd = ioctl(vm->fd, KVM_CREATE_VCPU, 0);
	return vm->vcpu_fd < 0 ? -errno : 0;
}

static void gvm_destroy(struct gvm *vm)
{
	unsigned int i;

	for (i = 0; i < NR_SLOTS; i++)
		if (vm->area[i] && vm->area[i] != MAP_FAILED)
			munmap(vm->area[i], area_size(i));
	if (vm->vcpu_fd > 0)
		close(vm->vcpu_fd);
	if (vm->fd > 0)
		close(vm->fd);
	if (vm->kvm_fd > 0)
		close(vm->kvm_fd);
}

/* Offset of the first guard byte of slot @i that changed, or -1. */
static long guard_damage(const struct gvm *vm, unsigned int i)
{
	size_t off;

	for (off = 0; off < GUARD; off++)
		if (vm->area[i][off] != guard_byte(i, off))
			return off;
	for (off = GUARD + layout[i].size; off < area_size(i); off++)
		if (vm->area[i][off] != guard_byte(i, off))
			return off;
	return -1;
}

/* A frame to send; the header is made at serialization. */
struct frame {
	uint16_t type;
	uint16_t flags;		/* header flags, 0 unless mutated */
	uint32_t reserved;	/* header reserved, 0 unless mutated */
	uint8_t *data;
	size_t len;
	int64_t len_override;	/* header len instead of @len, if >= 0 */
	uint32_t pcrc_xor;	/* spoils the payload CRC */
	uint32_t hcrc_xor;	/* spoils the header CRC */
	int seq_delta;		/* a gap or a repeat from here on */
};

struct session {
	struct frame f[MAX_FRAMES];
	unsigned int nr;
	bool zstd;		/* offers ZSTD, compresses most data batches */
	/* What memory must hold after a valid session. */
	uint8_t image[NR_SLOTS][16 * PAGE];
	uint64_t pages, state_size;
};

static struct frame *add(struct session *s, uint16_t type, size_t len)
{
	struct frame *f = &s->f[s->nr++];

	memset(f, 0, sizeof(*f));
	f->type = type;
	f->len = len;
	f->data = calloc(1, len ? len : 1);
	f->len_override = -1;
	return f;
}

static void session_free(struct session *s)
{
	unsigned int i;

	for (i = 0; i < s->nr; i++)
		free(s->f[i].data);
	s->nr = 0;
}

/*
 * A zstd frame of the @len bytes at @src into @out, which has room for
 * 16 + len + len / 8 bytes; returns its size. RFC 8878: the magic number,
 * a frame header of one descriptor byte (no content size, no checksum,
 * no dictionary) and one window byte (128 KiB: exponent 7), then blocks
 * of at most 128 KiB, each with a 3-byte header (bit 0 last block, bits
 * 1-2 type: 0 raw, 1 RLE; bits 3-23 size): RLE for a run of 32 bytes or
 * more, raw for the rest. Nothing any decoder could misread.
 */
#define ZSTD_BLOCK_MAX	(128 * 1024)

static void zstd_block(uint8_t *out, size_t *at, unsigned int type,
		       size_t size, bool last)
{
	uint32_t h = last | type << 1 | (uint32_t)size << 3;

	out[(*at)++] = h;
	out[(*at)++] = h >> 8;
	out[(*at)++] = h >> 16;
}

static size_t zstd_pack(const uint8_t *src, size_t len, uint8_t *out)
{
	size_t at = 0, i = 0;

	memcpy(out, "\x28\xb5\x2f\xfd", 4);	/* 0xfd2fb528, little-endian */
	out[4] = 0;
	out[5] = 7 << 3;
	at = 6;
	if (!len)
		zstd_block(out, &at, 0, 0, true);
	while (i < len) {
		size_t run = 1, n;

		while (i + run < len && run < ZSTD_BLOCK_MAX &&
		       src[i + run] == src[i])
			run++;
		if (run >= 32) {
			zstd_block(out, &at, 1, run, i + run == len);
			out[at++] = src[i];
			i += run;
			continue;
		}
		/* Raw up to the next run of 32, or the block limit. */
		for (n = run; i + n < len && n < ZSTD_BLOCK_MAX; n++) {
			size_t r = 1;

			while (i + n + r < len && r < 32 &&
			       src[i + n + r] == src[i + n])
				r++;
			if (r >= 32)
				break;
		}
		zstd_block(out, &at, 0, n, i + n == len);
		memcpy(out + at, src + i, n);
		at += n;
		i += n;
	}
	return at;
}

/*
 * Compress the page data of PAGES frame @f (its descriptor stays; the
 * DATA_CRC is the uncompressed data's), as a source does: only if it
 * shrinks.
 */
static void compress_batch(struct frame *f)
{
	struct lm_wire_pages *bp = (void *)f->data;
	size_t desc = sizeof(*bp) + le32toh(bp->nr_runs) * 16;
	size_t data = f->len - desc, packed;
	uint8_t *out = malloc(16 + data + data / 8);

	packed = zstd_pack(f->data + desc, data, out);
	if (packed < data) {
		memcpy(f->data + desc, out, packed);
		f->len = desc + packed;
		bp->flags |= htole32(LM_WIRE_PAGES_ZSTD);
	}
	free(out);
}

/* One PAGES batch of slot @slot, pages [first, first + n), random runs. */
static void add_batch(struct session *s, unsigned int slot, uint64_t first,
		      uint32_t n)
{
	struct lm_wire_run runs[16];
	uint32_t nr_runs = 0, nr_data = 0, done = 0, k;
	struct lm_wire_pages *bp;
	struct frame *f;
	uint8_t *data;

	while (done < n) {
		uint32_t len = 1 + below(n - done);
		bool zero = below(3) == 0;

		if (nr_runs == 15)
			len = n - done;
		runs[nr_runs].first = htole64(first + done);
		runs[nr_runs].nr_pages = htole32(len);
		runs[nr_runs].flags = htole32(zero ? LM_WIRE_RUN_ZERO : 0);
		for (k = 0; k < len; k++) {
			uint8_t *page = s->image[slot] + (first + done + k) * PAGE;

			if (zero) {
				memset(page, 0, PAGE);
			} else {
				rnd_bytes(page, 64);
				memset(page + 64, (uint8_t)rnd(), PAGE - 64);
			}
		}
		if (!zero)
			nr_data += len;
		done += len;
		nr_runs++;
	}
	f = add(s, LM_WIRE_PAGES, sizeof(*bp) + nr_runs * sizeof(runs[0]) +
				  nr_data * PAGE);
	bp = (void *)f->data;
	bp->slot = htole32(slot);
	bp->nr_runs = htole32(nr_runs);
	bp->nr_pages = htole32(n);
	bp->nr_data = htole32(nr_data);
	bp->flags = htole32(LM_WIRE_PAGES_DATA_CRC);
	memcpy(bp + 1, runs, nr_runs * sizeof(runs[0]));
	data = (uint8_t *)(bp + 1) + nr_runs * sizeof(runs[0]);
	for (k = 0; k < nr_runs; k++) {
		uint32_t len = le32toh(runs[k].nr_pages);

		if (le32toh(runs[k].flags) & LM_WIRE_RUN_ZERO)
			continue;
		memcpy(data, s->image[slot] + le64toh(runs[k].first) * PAGE,
		       len * PAGE);
		data += len * PAGE;
	}
	bp->data_crc = htole32(crc32c((uint8_t *)(bp + 1) +
				      nr_runs * sizeof(runs[0]), nr_data * PAGE));
	s->pages += n;
	if (s->zstd && nr_data && below(4))
		compress_batch(f);
}

/*
 * A valid quick migration of the layout above, contents at random; with
 * @zstd, offering LM_WIRE_F_ZSTD and compressing most batches.
 */
static void session_build(struct session *s, bool zstd)
{
	struct lm_wire_round_end *re;
	struct lm_wire_commit *c;
	uint64_t total, off = 0, zero = 0;
	unsigned int i, k;
	struct frame *f;

	memset(s, 0, sizeof(*s));
	s->zstd = zstd;
	f = add(s, LM_WIRE_HELLO, sizeof(struct lm_wire_hello));
	hello_fill((void *)f->data, LM_WIRE_ROLE_SOURCE);
	if (zstd)
		((struct lm_wire_hello *)f->data)->features |=
			htole64(LM_WIRE_F_ZSTD);
	f = add(s, LM_WIRE_CONFIG, sizeof(struct lm_wire_config) +
				   NR_SLOTS * sizeof(struct lm_wire_slot));
	config_fill(layout, NR_SLOTS, f->data);
	for (i = 0; i < NR_SLOTS; i++) {
		uint32_t n = layout[i].size / PAGE, done = 0;

		while (done < n) {
			uint32_t len = 1 + below(n - done);

			add_batch(s, i, done, len);
			done += len;
		}
	}
	for (i = 0; i < s->nr; i++) {
		struct lm_wire_pages *bp = (void *)s->f[i].data;
		struct lm_wire_run *r = (void *)(bp + 1);

		if (s->f[i].type != LM_WIRE_PAGES)
			continue;
		for (k = 0; k < le32toh(bp->nr_runs); k++)
			if (le32toh(r[k].flags) & LM_WIRE_RUN_ZERO)
				zero += le32toh(r[k].nr_pages);
	}
	f = add(s, LM_WIRE_ROUND_END, sizeof(*re));
	re = (void *)f->data;
	re->flags = htole32(LM_WIRE_ROUND_FINAL);
	re->pages = htole64(s->pages);
	re->zero_pages = htole64(zero);
	re->duration_ns = htole64(1000);

	/* The state blob, in one to three chunks. */
	total = 1 + below(3000);
	s->state_size = total;
	while (off < total) {
		uint64_t len = below(3) ? total - off : 1 + below(total - off);
		struct lm_wire_state *st;

		f = add(s, LM_WIRE_STATE, sizeof(*st) + len);
		st = (void *)f->data;
		st->total = htole64(total);
		st->offset = htole64(off);
		rnd_bytes(st + 1, len);
		off += len;
	}
	f = add(s, LM_WIRE_COMMIT, sizeof(*c));
	c = (void *)f->data;
	c->pages = htole64(s->pages);
	c->state_size = htole64(total);
	c->rounds = htole32(1);
}

/* Indexes of the frames of @type, into @idx; their count. */
static unsigned int frames_of(const struct session *s, uint16_t type,
			      unsigned int *idx)
{
	unsigned int i, n = 0;

	for (i = 0; i < s->nr; i++)
		if (s->f[i].type == type)
			idx[n++] = i;
	return n;
}

static struct frame *pick(struct session *s, uint16_t type)
{
	unsigned int idx[MAX_FRAMES], n = frames_of(s, type, idx);

	return n ? &s->f[idx[below(n)]] : NULL;
}

static void put32(struct frame *f, size_t off, uint32_t v)
{
	if (off + 4 <= f->len)
		memcpy(f->data + off, &(uint32_t){ htole32(v) }, 4);
}

static void put64(struct frame *f, size_t off, uint64_t v)
{
	if (off + 8 <= f->len)
		memcpy(f->data + off, &(uint64_t){ htole64(v) }, 8);
}

static const uint32_t edge32[] = {
	0, 1, 2, 3, 511, 512, 513, 1023, 1024, 1025, 4095, 4096, 0x10000000,
	0x7fffffff, 0x80000000, 0xfffffff0, 0xffffffff,
};

static uint32_t any_edge32(void)
{
	return below(4) ? edge32[below(sizeof(edge32) / sizeof(edge32[0]))] :
			  (uint32_t)rnd();
}

static void move_frame(struct session *s, unsigned int from, unsigned int to)
{
	struct frame f = s->f[from];

	if (from > to)
		memmove(&s->f[to + 1], &s->f[to], (from - to) * sizeof(f));
	else
		memmove(&s->f[from], &s->f[from + 1], (to - from) * sizeof(f));
	s->f[to] = f;
}

/*
 * Mutations. @must: the session can no longer be a valid migration, so
 * the destination must fail it; the others may stay valid (a harmless
 * field, two batches swapped) and may end either way.
 */
enum mut {
	MUT_NONE,		/* the valid session */
	MUT_RANDOM_FRAME,	/* a frame's payload replaced by random bytes */
	MUT_GARBAGE,		/* random bytes between two frames */
	MUT_TRUNCATE,		/* the stream cut anywhere, then FIN */
	MUT_BITFLIP,		/* one bit of the stream, CRCs left alone */
	MUT_HDR_CRC,
	MUT_PAYLOAD_CRC,
	MUT_DATA_CRC,
	MUT_LEN,		/* header len wrong, CRCs right */
	MUT_SEQ,		/* a gap or a repeat */
	MUT_TYPE,		/* unknown frame type, or one a source never sends */
	MUT_MOVE_EARLY,		/* a frame before an earlier stage's frame */
	MUT_DROP,
	MUT_DUP,		/* a frame sent twice (e.g. COMMIT) */
	MUT_SWAP_PAGES,		/* two PAGES batches swapped: still valid */
	MUT_HDR_RESERVED,	/* header flags or reserved set */
	MUT_PAYLOAD_RESERVED,	/* a payload's reserved field set */
	MUT_HELLO,
	MUT_CONFIG,
	MUT_SLOT_INDEX,
	MUT_GFN,
	MUT_NR_RUNS,
	MUT_NR_PAGES,
	MUT_RUN,		/* a run of 0 or huge length, unknown flags */
	MUT_ROUND_END,
	MUT_STATE,
	MUT_COMMIT,
	MUT_FIELD,		/* any 32-bit word set to an edge value */
	MUT_NR
};

static const struct {
	const char *name;
	bool must;
} muts[MUT_NR] = {
	[MUT_NONE]		= { "none",		false },
	[MUT_RANDOM_FRAME]	= { "random_frame",	false },
	[MUT_GARBAGE]		= { "garbage",		true },
	[MUT_TRUNCATE]		= { "truncate",		true },
	[MUT_BITFLIP]		= { "bitflip",		true },
	[MUT_HDR_CRC]		= { "hdr_crc",		true },
	[MUT_PAYLOAD_CRC]	= { "payload_crc",	true },
	[MUT_DATA_CRC]		= { "data_crc",		true },
	[MUT_LEN]		= { "len",		true },
	[MUT_SEQ]		= { "seq",		true },
	[MUT_TYPE]		= { "type",		true },
	[MUT_MOVE_EARLY]	= { "move_early",	true },
	[MUT_DROP]		= { "drop",		true },
	[MUT_DUP]		= { "dup",		false },
	[MUT_SWAP_PAGES]	= { "swap_pages",	false },
	[MUT_HDR_RESERVED]	= { "hdr_reserved",	true },
	[MUT_PAYLOAD_RESERVED]	= { "payload_reserved",	true },
	[MUT_HELLO]		= { "hello",		false },
	[MUT_CONFIG]		= { "config",		false },
	[MUT_SLOT_INDEX]	= { "slot_index",	true },
	[MUT_GFN]		= { "gfn",		true },
	[MUT_NR_RUNS]		= { "nr_runs",		true },
	[MUT_NR_PAGES]		= { "nr_pages",		true },
	[MUT_RUN]		= { "run",		true },
	[MUT_ROUND_END]		= { "round_end",	false },
	[MUT_STATE]		= { "state",		true },
	[MUT_COMMIT]		= { "commit",		true },
	[MUT_FIELD]		= { "field",		false },
};

/* Stream-level mutations, applied to the serialized bytes. */
struct stream {
	uint8_t *buf;
	size_t len;
};

static void serialize(const struct session *s, struct stream *out)
{
	size_t total = 0, at = 0;
	uint32_t seq = 0;
	unsigned int i;

	for (i = 0; i < s->nr; i++)
		total += sizeof(struct lm_wire_hdr) + s->f[i].len;
	out->buf = malloc(total);
	for (i = 0; i < s->nr; i++) {
		const struct frame *f = &s->f[i];
		size_t crc_len = f->len;
		struct lm_wire_hdr hdr;

		seq += f->seq_delta;
		/* A PAGES CRC covers what the descriptor claims to be. */
		if (f->type == LM_WIRE_PAGES && f->len >= 24) {
			uint64_t runs = le32toh(((struct lm_wire_pages *)f->data)->nr_runs);

			crc_len = 24 + 16 * runs < f->len ? 24 + 16 * runs : f->len;
		}
		hdr = (struct lm_wire_hdr) {
			.type = htole16(f->type),
			.flags = htole16(f->flags),
			.len = htole32(f->len_override >= 0 ? (uint64_t)f->len_override : f->len),
			.seq = htole32(seq++),
			.payload_crc = htole32(crc32c(f->data, crc_len) ^ f->pcrc_xor),
			.reserved = htole32(f->reserved),
		};
		hdr.hdr_crc = htole32(crc32c(&hdr, 16) ^ f->hcrc_xor);
		memcpy(out->buf + at, &hdr, sizeof(hdr));
		memcpy(out->buf + at + sizeof(hdr), f->data, f->len);
		at += sizeof(hdr) + f->len;
	}
	out->len = total;
}

/* Offset in the stream where frame @n starts. */
static size_t frame_start(const struct session *s, unsigned int n)
{
	size_t at = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		at += sizeof(struct lm_wire_hdr) + s->f[i].len;
	return at;
}

/* Apply mutation @m; returns a short note of what was done. */
static const char *mutate(struct session *s, enum mut m, struct stream *st)
{
	static char note[96];
	unsigned int n = below(s->nr), i;
	struct frame *f = &s->f[n];

	note[0] = 0;
	switch (m) {
	case MUT_NONE:
	case MUT_GARBAGE:
	case MUT_TRUNCATE:
	case MUT_BITFLIP:
		break;
	case MUT_RANDOM_FRAME:
		free(f->data);
		f->len = below(4) ? below(128) : below(8192);
		f->data = malloc(f->len + 1);
		rnd_bytes(f->data, f->len);
		snprintf(note, sizeof(note), "frame %u, %zu bytes", n, f->len);
		break;
	case MUT_HDR_CRC:
		f->hcrc_xor = 1U << below(32);
		break;
	case MUT_PAYLOAD_CRC:
		f->pcrc_xor = 1U << below(32);
		break;
	case MUT_DATA_CRC:
		/* A batch with data: a zero-only batch has no data to check. */
		for (i = 0; i < s->nr; i++) {
			f = &s->f[(n + i) % s->nr];
			if (f->type == LM_WIRE_PAGES &&
			    ((struct lm_wire_pages *)f->data)->nr_data)
				break;
		}
		if (i == s->nr) {
			f->pcrc_xor = 1;
		} else {
			/* Data, or its zstd frame: what follows the runs. */
			struct lm_wire_pages *bp = (void *)f->data;
			size_t data = f->len - 24 - 16 * le32toh(bp->nr_runs);

			f->data[f->len - 1 - below(data < PAGE ? data : PAGE)] ^=
				1 << below(8);
		}
		break;
	case MUT_LEN: {
		static const int64_t lens[] = {
			0, 1, 15, 16, 23, 24, LM_WIRE_MAX_FRAME,
			LM_WIRE_MAX_FRAME + 1, 0xffffffff, 0x80000000,
		};
		int64_t v = below(2) ? lens[below(sizeof(lens) / sizeof(lens[0]))] :
				       (int64_t)f->len + (below(2) ? 1 : -1);

		if (v == (int64_t)f->len)
			v++;
		if (v < 0)
			v = 0xffffffff;
		f->len_override = v;
		snprintf(note, sizeof(note), "frame %u len %zu -> %lld", n, f->len,
			 (long long)v);
		break;
	}
	case MUT_SEQ:
		f->seq_delta = below(2) ? -1 - (int)below(2) : 1 + (int)below(1000);
		break;
	case MUT_TYPE: {
		static const uint16_t types[] = {
			0, LM_WIRE_ACK, 9, 100, 0x8000, 0xffff, LM_WIRE_HELLO,
			LM_WIRE_CONFIG,
		};
		uint16_t t = types[below(sizeof(types) / sizeof(types[0]))];

		/* HELLO and CONFIG again, past where they belong. */
		if ((t == LM_WIRE_HELLO || t == LM_WIRE_CONFIG) && n < 2)
			n = 2 + below(s->nr - 2);
		s->f[n].type = t;
		snprintf(note, sizeof(note), "frame %u type %u", n, t);
		break;
	}
	case MUT_MOVE_EARLY: {
		unsigned int to, k = 0;

		/*
		 * Frames come in stages (HELLO, CONFIG, PAGES, ROUND_END,
		 * STATE, COMMIT): a frame put before one of another type
		 * lands in an earlier stage, out of order.
		 */
		n = 1 + below(s->nr - 1);
		for (to = 0; to < n; to++)
			if (s->f[to].type != s->f[n].type)
				k++;
		k = below(k);
		for (to = 0; to < n; to++)
			if (s->f[to].type != s->f[n].type && !k--)
				break;
		snprintf(note, sizeof(note), "frame %u (type %u) to %u", n,
			 s->f[n].type, to);
		move_frame(s, n, to);
		break;
	}
	case MUT_DROP:
		snprintf(note, sizeof(note), "frame %u type %u", n, f->type);
		free(f->data);
		memmove(f, f + 1, (s->nr - n - 1) * sizeof(*f));
		s->nr--;
		break;
	case MUT_DUP:
		if (below(2))
			n = s->nr - 1;	/* COMMIT twice */
		memmove(&s->f[n + 1], &s->f[n], (s->nr - n) * sizeof(*f));
		s->nr++;
		s->f[n + 1].data = malloc(s->f[n].len + 1);
		memcpy(s->f[n + 1].data, s->f[n].data, s->f[n].len);
		snprintf(note, sizeof(note), "frame %u type %u", n, s->f[n].type);
		break;
	case MUT_SWAP_PAGES: {
		unsigned int idx[MAX_FRAMES], k = frames_of(s, LM_WIRE_PAGES, idx);
		unsigned int a = idx[below(k)], b = idx[below(k)];
		struct frame t = s->f[a];

		s->f[a] = s->f[b];
		s->f[b] = t;
		break;
	}
	case MUT_HDR_RESERVED:
		if (below(2))
			f->flags = 1 << below(16);
		else
			f->reserved = 1U << below(32);
		break;
	case MUT_PAYLOAD_RESERVED:
		switch (below(6)) {
		case 5: {
			struct lm_wire_pages *bp;

			f = pick(s, LM_WIRE_PAGES);
			bp = (void *)f->data;
			put32(f, 24 + 16 * below(le32toh(bp->nr_runs)) + 12,
			      2U << below(31));
			snprintf(note, sizeof(note), "run.flags unknown bit");
			break;
		}
		case 0:
			put64(&s->f[0], 24, 1ULL << below(64));
			snprintf(note, sizeof(note), "hello.reserved");
			break;
		case 1:
			put64(&s->f[1], 24 + 32 * below(NR_SLOTS) + 24,
			      1ULL << below(64));
			snprintf(note, sizeof(note), "slot.reserved");
			break;
		case 2:
			put32(&s->f[s->nr - 1], 20, 1U << below(32));
			snprintf(note, sizeof(note), "commit.reserved");
			break;
		case 3:
			put64(&s->f[s->nr - 1], 24, 1ULL << below(64));
			snprintf(note, sizeof(note), "commit.reserved2");
			break;
		default:
			put32(&s->f[1], 24 + 32 * below(NR_SLOTS) + 4,
			      2U << below(31));
			snprintf(note, sizeof(note), "slot.flags unknown bit");
			break;
		}
		break;
	case MUT_HELLO:
		i = below(5);
		put32(&s->f[0], (uint32_t[]){ 0, 4, 8, 16, 20 }[i], any_edge32());
		snprintf(note, sizeof(note), "hello word %u", i);
		break;
	case MUT_CONFIG:
		i = below(4 + 8 * NR_SLOTS);
		put32(&s->f[1], i * 4, any_edge32());
		snprintf(note, sizeof(note), "config word %u", i);
		break;
	case MUT_SLOT_INDEX:
		f = pick(s, LM_WIRE_PAGES);
		put32(f, 0, (uint32_t[]){ NR_SLOTS, NR_SLOTS + 1, 1023, 1024,
					  0x80000000, 0xffffffff }[below(6)]);
		break;
	case MUT_GFN: {
		struct lm_wire_pages *bp;
		struct lm_wire_run *r;
		uint64_t pages, v;

		f = pick(s, LM_WIRE_PAGES);
		bp = (void *)f->data;
		r = (void *)(bp + 1) + below(le32toh(bp->nr_runs)) * sizeof(*r);
		pages = layout[le32toh(bp->slot)].size / PAGE;
		switch (below(5)) {
		case 0:
			v = pages - le32toh(r->nr_pages) + 1 + below(4);
			break;
		case 1:
			v = pages + (1ULL << 52);
			break;
		case 2:
			v = ~0ULL - below(4);	/* first + nr_pages wraps */
			break;
		case 3:
			v = 1ULL << (32 + below(32));
			break;
		default:
			v = (uint64_t)(layout[1].gpa / PAGE);	/* a gfn, not an index */
			break;
		}
		r->first = htole64(v);
		snprintf(note, sizeof(note), "first %#llx of %llu pages",
			 (unsigned long long)v, (unsigned long long)pages);
		break;
	}
	case MUT_NR_RUNS: {
		uint32_t v = (uint32_t[]){ 0, 0xffffffff, 0x10000000, 0x0fffffff,
					   0x80000001, 513 }[below(6)];

		f = pick(s, LM_WIRE_PAGES);
		if (le32toh(((struct lm_wire_pages *)f->data)->nr_runs) + 1 < 16 &&
		    below(3) == 0)
			v = le32toh(((struct lm_wire_pages *)f->data)->nr_runs) + 1;
		put32(f, 4, v);
		snprintf(note, sizeof(note), "nr_runs %#x", v);
		break;
	}
	case MUT_NR_PAGES: {
		struct lm_wire_pages *bp;

		f = pick(s, LM_WIRE_PAGES);
		bp = (void *)f->data;
		if (below(2))
			put32(f, 8, (uint32_t[]){ 0, 513, 0xffffffff,
						  le32toh(bp->nr_pages) + 1 }[below(4)]);
		else
			put32(f, 12, (uint32_t[]){ le32toh(bp->nr_data) + 1,
						   le32toh(bp->nr_data) - 1,
						   0xffffffff }[below(3)]);
		break;
	}
	case MUT_RUN: {
		struct lm_wire_pages *bp;
		struct lm_wire_run *r;

		f = pick(s, LM_WIRE_PAGES);
		bp = (void *)f->data;
		r = (void *)(bp + 1) + below(le32toh(bp->nr_runs)) * sizeof(*r);
		{
			static const uint32_t bad[] = { 0, 513, 0x80000000, 0xffffffff };

			r->nr_pages = htole32(bad[below(4)]);
		}
		break;
	}
	case MUT_ROUND_END:
		f = pick(s, LM_WIRE_ROUND_END);
		i = below(12);
		put32(f, i * 4, any_edge32());
		snprintf(note, sizeof(note), "round_end word %u", i);
		break;
	case MUT_STATE: {
		struct lm_wire_state *sp;
		uint64_t v;

		f = pick(s, LM_WIRE_STATE);
		sp = (void *)f->data;
		switch (below(6)) {
		case 0:
			v = (uint64_t[]){ 0, LM_WIRE_MAX_STATE + 1ULL, ~0ULL,
					  le64toh(sp->total) + 1,
					  le64toh(sp->total) - 1 }[below(5)];
			if (v == le64toh(sp->total) - 1 && v == 0)
				v = ~0ULL;
			sp->total = htole64(v);
			break;
		case 1:
			v = le64toh(sp->offset) + 1 + below(2) * (~0ULL - 2);
			sp->offset = htole64(v);
			break;
		case 2:	/* a chunk without data */
			f->len = sizeof(*sp);
			break;
		case 3:	/* a chunk past the blob's end */
			sp->offset = htole64(le64toh(sp->total));
			break;
		case 4:	/* len beyond the chunk limit, announced only */
			f->len_override = sizeof(*sp) + LM_WIRE_MAX_STATE_CHUNK + 1;
			break;
		default: /* a chunk before the final round end */
			move_frame(s, f - s->f, 2 + below(f - s->f - 2));
			break;
		}
		break;
	}
	case MUT_COMMIT:
		f = &s->f[s->nr - 1];
		/* The totals the destination checks (rounds it may not). */
		if (below(2))
			put64(f, 0, s->pages + (below(2) ? 1 : -1));
		else
			put64(f, 8, s->state_size + (below(2) ? 1 : -1));
		break;
	case MUT_FIELD:
		f = &s->f[n];
		if (f->len >= 4) {
			i = below((f->len < 96 ? f->len : 96) / 4);
			put32(f, i * 4, any_edge32());
			snprintf(note, sizeof(note), "frame %u type %u word %u", n,
				 f->type, i);
		}
		break;
	case MUT_NR:
		break;
	}

	serialize(s, st);
	switch (m) {
	case MUT_GARBAGE: {
		size_t at = frame_start(s, n), len = 1 + below(below(4) ? 64 : 4096);
		uint8_t *buf = malloc(st->len + len);

		memcpy(buf, st->buf, at);
		rnd_bytes(buf + at, len);
		memcpy(buf + at + len, st->buf + at, st->len - at);
		free(st->buf);
		st->buf = buf;
		st->len += len;
		snprintf(note, sizeof(note), "%zu bytes before frame %u", len, n);
		break;
	}
	case MUT_TRUNCATE:
		st->len = below(st->len);
		snprintf(note, sizeof(note), "at byte %zu", st->len);
		break;
	case MUT_BITFLIP: {
		size_t at = rnd() % st->len;

		st->buf[at] ^= 1 << below(8);
		snprintf(note, sizeof(note), "byte %zu", at);
		break;
	}
	default:
		break;
	}
	return note;
}

/* Write all of @st; stops at the first error (the peer has closed). */
static size_t send_stream(int fd, const struct stream *st)
{
	size_t at = 0;

	while (at < st->len) {
		ssize_t n = send(fd, st->buf + at, st->len - at, MSG_NOSIGNAL);

		if (n <= 0)
			break;
		at += n;
	}
	return at;
}

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : def;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *const reason_name[__LM_WIRE_REASON_MAX] = {
	"NONE", "CANCELLED", "MAGIC", "VERSION", "FEATURES", "ROLE",
	"PAGE_SIZE", "VCPUS", "NR_SLOTS", "SLOT", "PROTOCOL", "CRC", "STATE",
	"RESUME", "VM_GONE", "INTERNAL", "TIMEOUT", "INCOMPLETE", "CONNECTION",
};

/* Outcome columns: FAILED by reason, then DONE. */
#define OUT_DONE	__LM_WIRE_REASON_MAX
#define OUT_NR		(OUT_DONE + 1)

FIXTURE(fuzz) {
	struct lm_nl *nl;
	struct gvm vm;
	int state_fd;
};

FIXTURE_SETUP(fuzz)
{
	int fd = open("/dev/kvm", O_RDWR);

	if (fd < 0)
		SKIP(return, "no /dev/kvm");
	close(fd);
	signal(SIGPIPE, SIG_IGN);
	ASSERT_EQ(0, lm_nl_open(&self->nl));
	ASSERT_EQ(0, gvm_create(&self->vm));
	ASSERT_EQ(0, lm_nl_attach(self->nl, self->vm.fd, 0, &self->vm.id));
	self->state_fd = memfd_create("lm-state", MFD_CLOEXEC);
	ASSERT_LE(0, self->state_fd);
}

FIXTURE_TEARDOWN(fuzz)
{
	if (!self->nl)
		return;
	lm_nl_detach(self->nl, self->vm.id);
	gvm_destroy(&self->vm);
	lm_nl_close(self->nl);
	if (self->state_fd >= 0)
		close(self->state_fd);
}

TEST_F_TIMEOUT(fuzz, sessions, 120)
{
	uint64_t seed = env_u64("WIRE_FUZZ_SEED", DEFAULT_SEED);
	uint64_t first = env_u64("WIRE_FUZZ_FIRST", 0);
	uint64_t max = env_u64("WIRE_FUZZ_SESSIONS", 3000);
	double seconds = env_u64("WIRE_FUZZ_SECONDS", 12), start = now();
	static unsigned long count[MUT_NR][OUT_NR];
	unsigned long busy = 0, sessions = 0, frames = 0, bytes = 0, accepted_must = 0;
	unsigned long zstd_sessions = 0, zstd_valid = 0;
	static struct session s;
	uint64_t n;
	int m, o;

	TH_LOG("seed %#llx (WIRE_FUZZ_SEED), sessions %llu.., at most %llu or %.0f s",
	       (unsigned long long)seed, (unsigned long long)first,
	       (unsigned long long)max, seconds);

	for (n = first; n < first + max && now() - start < seconds; n++) {
		struct lm_xfer_status st;
		struct timeval tv = { .tv_sec = 3 };
		struct stream stream;
		const char *note;
		struct peer p;
		uint16_t port;
		enum mut mut;
		size_t sent;
		unsigned int i;
		int ret;

		rnd_state = seed ^ (n * 0xd1342543de82ef95ULL);
		rnd();
		/* A valid session one time in eight, mutations evenly. */
		mut = below(8) ? 1 + below(MUT_NR - 1) : MUT_NONE;
		session_build(&s, below(2));
		note = mutate(&s, mut, &stream);

		ASSERT_EQ(0, ftruncate(self->state_fd, 0));
		/* The last transfer's thread may still be on its way out. */
		for (i = 0; i < 1000; i++) {
			ret = lm_nl_listen(self->nl, self->vm.id, loopback, 4, 0,
					   self->state_fd, 0, &port);
			if (ret != -EBUSY)
				break;
			busy++;
			usleep(1000);
		}
		ASSERT_EQ(0, ret) {
			TH_LOG("session %llu: LISTEN: %s", (unsigned long long)n,
			       lm_nl_extack(self->nl));
		}
		ASSERT_EQ(0, peer_connect(&p, port));
		setsockopt(p.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		sent = send_stream(p.fd, &stream);
		/*
		 * A valid source keeps the connection until the verdict; a
		 * broken one has nothing more to say: FIN, so that a
		 * destination still waiting for bytes sees the end.
		 */
		if (mut != MUT_NONE)
			shutdown(p.fd, SHUT_WR);
		ret = wait_phase_ms(self->nl, self->vm.id, LM_PHASE_COMMIT, &st, 5000);
		ASSERT_EQ(0, ret) {
			TH_LOG("session %llu (seed %#llx, %s %s): destination stuck in phase %u after %zu of %zu bytes",
			       (unsigned long long)n, (unsigned long long)seed,
			       muts[mut].name, note, st.phase, sent, stream.len);
		}
		if (st.phase == LM_PHASE_COMMIT) {
			ASSERT_EQ(0, lm_nl_complete(self->nl, self->vm.id, 0));
			ASSERT_EQ(0, wait_phase_ms(self->nl, self->vm.id,
						   LM_PHASE_DONE, &st, 5000));
		}
		o = st.phase == LM_PHASE_DONE ? OUT_DONE :
		    st.reason < __LM_WIRE_REASON_MAX ? (int)st.reason : 0;
		ASSERT_TRUE(st.phase == LM_PHASE_DONE || st.phase == LM_PHASE_FAILED);
		count[mut][o]++;
		sessions++;
		zstd_sessions += s.zstd;
		zstd_valid += s.zstd && mut == MUT_NONE;
		frames += s.nr;
		bytes += sent;
		close(p.fd);

		if (mut == MUT_NONE) {
			ASSERT_EQ(LM_PHASE_DONE, st.phase) {
				TH_LOG("session %llu: valid session failed: reason %u \"%s\"",
				       (unsigned long long)n, st.reason, st.message);
			}
			for (i = 0; i < NR_SLOTS; i++)
				ASSERT_EQ(0, memcmp(self->vm.mem[i], s.image[i],
						    layout[i].size)) {
					TH_LOG("session %llu: slot %u differs from what was sent",
					       (unsigned long long)n, i);
				}
		} else if (st.phase == LM_PHASE_DONE) {
			TH_LOG("session %llu: %s (%s) accepted", (unsigned long long)n,
			       muts[mut].name, note);
			if (muts[mut].must)
				accepted_must++;
		}
		for (i = 0; i < NR_SLOTS; i++) {
			long off = guard_damage(&self->vm, i);

			ASSERT_EQ(-1, off) {
				TH_LOG("session %llu (seed %#llx, %s %s): slot %u guard byte %ld written",
				       (unsigned long long)n, (unsigned long long)seed,
				       muts[mut].name, note, i, off);
			}
		}
		free(stream.buf);
		session_free(&s);
	}

	/* The table: sessions by mutation and outcome. */
	TH_LOG("%lu sessions, %lu frames, %lu bytes in %.1f s (LISTEN busy %lu times)",
	       sessions, frames, bytes, now() - start, busy);
	TH_LOG("%lu sessions compressed batches (LM_WIRE_F_ZSTD), %lu of them valid and migrated",
	       zstd_sessions, zstd_valid);
	{
		char line[512];
		int len;

		len = snprintf(line, sizeof(line), "%-17s", "mutation");
		for (o = 0; o < OUT_NR; o++)
			if (o == OUT_DONE || o == 0 || reason_name[o])
				len += snprintf(line + len, sizeof(line) - len, " %5.5s",
						o == OUT_DONE ? "DONE" : reason_name[o]);
		TH_LOG("%s", line);
		for (m = 0; m < MUT_NR; m++) {
			len = snprintf(line, sizeof(line), "%-17s", muts[m].name);
			for (o = 0; o < OUT_NR; o++)
				len += snprintf(line + len, sizeof(line) - len, " %5lu",
						count[m][o]);
			TH_LOG("%s", line);
		}
	}
	/* A mutation that breaks the protocol must never be committed. */
	EXPECT_EQ(0, accepted_must);
	EXPECT_LT(0, sessions);
	/* Every valid session migrated, compressed ones among them. */
	for (o = 0; o < OUT_DONE; o++)
		EXPECT_EQ(0, count[MUT_NONE][o]);
	if (sessions >= 100)
		EXPECT_LT(0, zstd_valid);

	/* The VM is still attached, with its layout. */
	{
		struct lm_vm_list list;

		ASSERT_EQ(0, lm_nl_list(self->nl, true, self->vm.id, &list));
		ASSERT_EQ(1, list.nr_vms);
		EXPECT_EQ(NR_SLOTS, list.vms[0].nr_memslots);
		lm_vm_list_free(&list);
	}
}

/*
 * The rules protocol.rst states, one by one: a valid session broken in one
 * precise way, and the answer the destination must give. Unlike the random
 * sessions above, each must fail with its own reason and message, the
 * peer must be told (a refusing HELLO or an ABORT with that reason), a
 * session broken before its first page must leave guest memory as it was,
 * and nothing may stay behind: the port stops listening once a source is
 * connected, the VM stays attached and no TCP socket is left over.
 */
struct rule {
	const char *name;
	void (*apply)(struct session *s);
	uint32_t reason;
	const char *text;	/* in the destination's message */
	bool early;		/* broken before any page: memory untouched */
	bool refused;		/* answered by a refusing HELLO, not ABORT */
	bool no_abort;		/* the peer's own ABORT: none comes back */
	unsigned int split;	/* the last @split frames sent 0.2 s later */
};

static unsigned int first_of(const struct session *s, uint16_t type)
{
	unsigned int i;

	for (i = 0; i < s->nr && s->f[i].type != type; i++)
		;
	return i;
}

/* A frame of @type and @len bytes inserted at @at; its data to fill. */
static struct frame *insert(struct session *s, unsigned int at, uint16_t type,
			    size_t len)
{
	struct frame *f;

	add(s, type, len);
	move_frame(s, s->nr - 1, at);
	f = &s->f[at];
	return f;
}

/*
 * A PAGES frame of slot 0 with these runs, inserted before the first PAGES
 * frame, each data page filled with 0x77, DATA_CRC right.
 */
static void insert_batch(struct session *s, const struct lm_wire_run *runs,
			 uint32_t nr)
{
	uint32_t i, pages = 0, data = 0;
	struct lm_wire_pages *bp;
	struct frame *f;

	for (i = 0; i < nr; i++) {
		pages += le32toh(runs[i].nr_pages);
		if (!(le32toh(runs[i].flags) & LM_WIRE_RUN_ZERO))
			data += le32toh(runs[i].nr_pages);
	}
	f = insert(s, first_of(s, LM_WIRE_PAGES), LM_WIRE_PAGES,
		   sizeof(*bp) + nr * sizeof(*runs) + data * PAGE);
	bp = (void *)f->data;
	bp->nr_runs = htole32(nr);
	bp->nr_pages = htole32(pages);
	bp->nr_data = htole32(data);
	bp->flags = htole32(LM_WIRE_PAGES_DATA_CRC);
	memcpy(bp + 1, runs, nr * sizeof(*runs));
	memset((uint8_t *)(bp + 1) + nr * sizeof(*runs), 0x77, data * PAGE);
	bp->data_crc = htole32(crc32c((uint8_t *)(bp + 1) + nr * sizeof(*runs),
				      data * PAGE));
}

static struct frame *frame_of(struct session *s, uint16_t type)
{
	return &s->f[first_of(s, type)];
}

static struct lm_wire_slot *slot_entry(struct session *s, unsigned int i)
{
	return (struct lm_wire_slot *)(s->f[1].data +
				       sizeof(struct lm_wire_config)) + i;
}

static void r_hello_reserved(struct session *s)
{
	put64(&s->f[0], 24, 1);
}

static void r_hello_reason(struct session *s)
{
	put32(&s->f[0], 20, 3);
}

/* KVM's KVM_MEM_READONLY is bit 1: not the protocol's read-only bit. */
static void r_slot_kvm_flag(struct session *s)
{
	slot_entry(s, 0)->flags = htole32(2);
}

static void r_slot_reserved(struct session *s)
{
	slot_entry(s, 1)->reserved = htole64(1);
}

static void r_no_vcpus(struct session *s)
{
	put32(&s->f[1], 4, 0);
}

static void r_no_slots(struct session *s)
{
	put32(&s->f[1], 8, 0);
	s->f[1].len = sizeof(struct lm_wire_config);
}

static void r_unsorted(struct session *s)
{
	struct lm_wire_slot t = *slot_entry(s, 0);

	*slot_entry(s, 0) = *slot_entry(s, 1);
	*slot_entry(s, 1) = t;
}

static void r_empty_slot(struct session *s)
{
	struct lm_wire_config *c = (void *)s->f[1].data;

	c->total_pages = htole64(le64toh(c->total_pages) -
				 le64toh(slot_entry(s, 1)->size) / PAGE);
	slot_entry(s, 1)->size = 0;
}

static void r_unaligned(struct session *s)
{
	slot_entry(s, 1)->gpa = htole64(le64toh(slot_entry(s, 1)->gpa) + 0x800);
}

static void r_total_pages(struct session *s)
{
	struct lm_wire_config *c = (void *)s->f[1].data;

	c->total_pages = htole64(le64toh(c->total_pages) + 1);
}

/* Our HELLO does not offer ROUNDS. */
static void r_live_no_rounds(struct session *s)
{
	put32(&s->f[1], 12, LM_WIRE_MODE_LIVE);
}

static void r_data_crc_no_flag(struct session *s)
{
	struct lm_wire_pages *bp = (void *)frame_of(s, LM_WIRE_PAGES)->data;

	bp->flags = 0;
	bp->data_crc = htole32(le32toh(bp->data_crc) | 1);
}

static void r_runs_unordered(struct session *s)
{
	const struct lm_wire_run runs[] = {
		{ .first = htole64(2), .nr_pages = htole32(1) },
		{ .first = htole64(0), .nr_pages = htole32(1) },
	};

	insert_batch(s, runs, 2);
}

static void r_runs_overlap(struct session *s)
{
	const struct lm_wire_run runs[] = {
		{ .first = htole64(0), .nr_pages = htole32(2) },
		{ .first = htole64(1), .nr_pages = htole32(1),
		  .flags = htole32(LM_WIRE_RUN_ZERO) },
	};

	insert_batch(s, runs, 2);
}

/* Page 0 of slot 0 twice: in a batch of its own, then in the session's. */
static void r_page_twice(struct session *s)
{
	const struct lm_wire_run run = { .nr_pages = htole32(1) };

	insert_batch(s, &run, 1);
}

static void r_round_number(struct session *s)
{
	put32(frame_of(s, LM_WIRE_ROUND_END), 0, 1);
}

static void r_round_not_final(struct session *s)
{
	put32(frame_of(s, LM_WIRE_ROUND_END), 4, 0);
}

static void r_round_flags(struct session *s)
{
	put32(frame_of(s, LM_WIRE_ROUND_END), 4, LM_WIRE_ROUND_FINAL | 2);
}

static void r_round_pages(struct session *s)
{
	struct lm_wire_round_end *re = (void *)frame_of(s, LM_WIRE_ROUND_END)->data;

	re->pages = htole64(le64toh(re->pages) + 1);
}

static void r_round_zero(struct session *s)
{
	struct lm_wire_round_end *re = (void *)frame_of(s, LM_WIRE_ROUND_END)->data;

	re->zero_pages = htole64(le64toh(re->zero_pages) + 1);
}

static void r_state_too_big(struct session *s)
{
	unsigned int i;

	for (i = 0; i < s->nr; i++)
		if (s->f[i].type == LM_WIRE_STATE)
			put64(&s->f[i], 0, LM_WIRE_MAX_STATE + 1ULL);
}

static void r_commit_rounds(struct session *s)
{
	put32(&s->f[s->nr - 1], 16, 2);
}

static void r_commit_rounds0(struct session *s)
{
	put32(&s->f[s->nr - 1], 16, 0);
}

static void r_commit_reserved(struct session *s)
{
	put32(&s->f[s->nr - 1], 20, 1);
}

static void r_commit_reserved2(struct session *s)
{
	put64(&s->f[s->nr - 1], 24, 1ULL << 63);
}

static void r_commit_twice(struct session *s)
{
	struct frame *f = add(s, LM_WIRE_COMMIT, s->f[s->nr - 1].len);

	memcpy(f->data, s->f[s->nr - 2].data, f->len);
}

static void r_abort_unknown(struct session *s)
{
	struct lm_wire_abort *a = (void *)insert(s, 2, LM_WIRE_ABORT,
						 sizeof(*a))->data;

	a->reason = htole32(99);
	snprintf(a->message, sizeof(a->message), "hostile");
}

/*
 * A compressed PAGES frame of slot 0 inserted before the first PAGES
 * frame, its HELLO offering ZSTD if @offer: one run of two data pages of
 * 0x77, DATA_CRC right for them, and for page data the zstd frame of
 * @plain bytes of 0x77 (2 pages: a valid batch), or the @packed bytes at
 * @raw if @raw.
 */
static void insert_zbatch(struct session *s, bool offer, size_t plain,
			  const void *raw, size_t packed)
{
	struct lm_wire_run run = { .nr_pages = htole32(2) };
	size_t size = plain > 2 * PAGE ? plain : 2 * PAGE, zlen;
	uint8_t *data = malloc(size), *z = malloc(16 + size + size / 8);
	struct lm_wire_pages *bp;
	struct frame *f;

	memset(data, 0x77, size);
	zlen = raw ? packed : zstd_pack(data, plain, z);
	f = insert(s, first_of(s, LM_WIRE_PAGES), LM_WIRE_PAGES,
		   sizeof(*bp) + sizeof(run) + zlen);
	bp = (void *)f->data;
	bp->nr_runs = htole32(1);
	bp->nr_pages = htole32(2);
	bp->nr_data = htole32(2);
	bp->flags = htole32(LM_WIRE_PAGES_DATA_CRC | LM_WIRE_PAGES_ZSTD);
	bp->data_crc = htole32(crc32c(data, 2 * PAGE));
	memcpy(bp + 1, &run, sizeof(run));
	memcpy((uint8_t *)(bp + 1) + sizeof(run), raw ? raw : z, zlen);
	if (offer)
		((struct lm_wire_hello *)s->f[0].data)->features |=
			htole64(LM_WIRE_F_ZSTD);
	free(data);
	free(z);
}

static void r_zstd_no_feature(struct session *s)
{
	insert_zbatch(s, false, 2 * PAGE, NULL, 0);
}

/* Not a zstd frame at all. */
static void r_zstd_garbage(struct session *s)
{
	static const uint8_t junk[] = "not a zstd frame, just text";

	insert_zbatch(s, true, 2 * PAGE, junk, sizeof(junk));
}

/* A zstd frame header, then a block of the reserved type 3. */
static void r_zstd_bad_block(struct session *s)
{
	static const uint8_t bad[] = {
		0x28, 0xb5, 0x2f, 0xfd, 0x00, 7 << 3, 1 | 3 << 1, 0, 0,
	};

	insert_zbatch(s, true, 2 * PAGE, bad, sizeof(bad));
}

/* A valid frame of one page where the batch has two. */
static void r_zstd_short(struct session *s)
{
	insert_zbatch(s, true, PAGE, NULL, 0);
}

/* A valid frame of three pages: more than the batch holds. */
static void r_zstd_long(struct session *s)
{
	insert_zbatch(s, true, 3 * PAGE, NULL, 0);
}

/* Two pages and a byte of data, "compressed" into two pages or more. */
static void r_zstd_not_smaller(struct session *s)
{
	static uint8_t big[2 * PAGE];

	memset(big, 0x77, sizeof(big));
	insert_zbatch(s, true, 2 * PAGE, big, sizeof(big));
}

static void r_zstd_empty(struct session *s)
{
	insert_zbatch(s, true, 2 * PAGE, "", 0);
}

/* ZSTD on a batch of zero pages only, with a frame of nothing. */
static void r_zstd_no_data(struct session *s)
{
	struct lm_wire_pages *bp;
	struct lm_wire_run *run;
	struct frame *f;

	insert_zbatch(s, true, 2 * PAGE, NULL, 0);
	f = &s->f[first_of(s, LM_WIRE_PAGES)];
	bp = (void *)f->data;
	run = (void *)(bp + 1);
	run->flags = htole32(LM_WIRE_RUN_ZERO);
	bp->nr_data = 0;
	bp->data_crc = 0;
}

/* The DATA_CRC of other data: it checks the decompressed pages. */
static void r_zstd_data_crc(struct session *s)
{
	struct lm_wire_pages *bp;

	insert_zbatch(s, true, 2 * PAGE, NULL, 0);
	bp = (void *)s->f[first_of(s, LM_WIRE_PAGES)].data;
	bp->data_crc ^= htole32(1);
}

static const struct rule rules[] = {
	{ .name = "hello_reserved", .apply = r_hello_reserved,
	  .reason = LM_WIRE_REASON_PROTOCOL, .text = "reason or reserved",
	  .early = true, .refused = true },
	{ .name = "hello_reason", .apply = r_hello_reason,
	  .reason = LM_WIRE_REASON_PROTOCOL, .text = "reason or reserved",
	  .early = true, .refused = true },
	{ .name = "slot_kvm_readonly_bit", .apply = r_slot_kvm_flag,
	  .reason = LM_WIRE_REASON_PROTOCOL, .text = "entry 0: reserved bits",
	  .early = true },
	{ .name = "slot_reserved", .apply = r_slot_reserved,
	  .reason = LM_WIRE_REASON_PROTOCOL, .text = "entry 1: reserved bits",
	  .early = true },
	{ .name = "config_no_vcpus", .apply = r_no_vcpus,
	  .reason = LM_WIRE_REASON_PROTOCOL, .text = "without vCPUs",
	  .early = true },
	{ .name = "config_no_slots", .apply = r_no_slots,
	  .reason = LM_WIRE_REASON_PROTOCOL, .text = "Malformed CONFIG",
	  .early = true },
	{ .name = "config_unsorted", .apply = r_unsorted,
	  .reason = LM_WIRE_REASON_PROTOCOL, .text = "out of order",
	  .early = true },
	{ .name = "config_empty_slot", .apply = r_empty_slot,
	  .reason = LM_WIRE_REASON_PROTOCOL, .text = "entry 1: size 0",
	  .early = true },
	{ .name = "config_unaligned", .apply = r_unaligned,
	  .reason = LM_WIRE_REASON_PROTOCOL, .text = "entry 1: size",
	  .early = true },
	{ .name = "config_total_pages", .apply = r_total_pages,
	  .reason = LM_WIRE_REASON_PROTOCOL, .text = "total_pages",
	  .early = true },
	{ .name = "config_live_without_rounds", .apply = r_live_no_rounds,
	  .reason = LM_WIRE_REASON_PROTOCOL, .text = "without ROUNDS",
	  .early = true },
	{ .name = "pages_data_crc_without_flag", .apply = r_data_crc_no_flag,
	  .reason = LM_WIRE_REASON_PROTOCOL, .text = "data_crc set",
	  .early = true },
	{ .name = "pages_runs_unordered", .apply = r_runs_unordered,
	  .reason = LM_WIRE_REASON_PROTOCOL, .text = "out of order",
	  .early = true },
	{ .name = "pages_runs_overlap", .apply = r_runs_overlap,
	  .reason = LM_WIRE_REASON_PROTOCOL, .text = "out of order",
	  .early = true },
	{ .name = "pages_page_twice_quick", .apply = r_page_twice,
	  .reason = LM_WIRE_REASON_PROTOCOL, .text = "sent twice" },
	{ .name = "round_end_round_1_quick", .apply = r_round_number,
	  .reason = LM_WIRE_REASON_PROTOCOL, .text = "round 1, not 0" },
	{ .name = "round_end_not_final_quick", .apply = r_round_not_final,
	  .reason = LM_WIRE_REASON_PROTOCOL, .text = "not FINAL" },
	{ .name = "round_end_unknown_flag", .apply = r_round_flags,
	  .reason = LM_WIRE_REASON_PROTOCOL, .text = "ROUND_END flags" },
	{ .name = "round_end_pages", .apply = r_round_pages,
	  .reason = LM_WIRE_REASON_PROTOCOL, .text = "pages, not" },
	{ .name = "round_end_zero_pages", .apply = r_round_zero,
	  .reason = LM_WIRE_REASON_PROTOCOL, .text = "pages, not" },
	{ .name = "state_over_limit", .apply = r_state_too_big,
	  .reason = LM_WIRE_REASON_STATE, .text = "at most" },
	{ .name = "commit_rounds_2", .apply = r_commit_rounds,
	  .reason = LM_WIRE_REASON_PROTOCOL, .text = "COMMIT of 2 rounds" },
	{ .name = "commit_rounds_0", .apply = r_commit_rounds0,
	  .reason = LM_WIRE_REASON_PROTOCOL, .text = "COMMIT of 0 rounds" },
	{ .name = "commit_reserved", .apply = r_commit_reserved,
	  .reason = LM_WIRE_REASON_PROTOCOL, .text = "COMMIT reserved" },
	{ .name = "commit_reserved2", .apply = r_commit_reserved2,
	  .reason = LM_WIRE_REASON_PROTOCOL, .text = "COMMIT reserved" },
	{ .name = "commit_twice", .apply = r_commit_twice,
	  .reason = LM_WIRE_REASON_PROTOCOL, .text = "after COMMIT",
	  .split = 2 },
	{ .name = "abort_unknown_reason", .apply = r_abort_unknown,
	  .reason = LM_WIRE_REASON_PROTOCOL, .text = "unknown reason 99",
	  .early = true, .no_abort = true },
	{ .name = "zstd_without_feature", .apply = r_zstd_no_feature,
	  .reason = LM_WIRE_REASON_PROTOCOL, .text = "ZSTD without the ZSTD feature",
	  .early = true },
	{ .name = "zstd_garbage", .apply = r_zstd_garbage,
	  .reason = LM_WIRE_REASON_PROTOCOL, .text = "does not decompress",
	  .early = true },
	{ .name = "zstd_reserved_block", .apply = r_zstd_bad_block,
	  .reason = LM_WIRE_REASON_PROTOCOL, .text = "does not decompress",
	  .early = true },
	{ .name = "zstd_decompresses_short", .apply = r_zstd_short,
	  .reason = LM_WIRE_REASON_PROTOCOL,
	  .text = "decompressed to 4096 bytes, not 8192", .early = true },
	{ .name = "zstd_decompresses_long", .apply = r_zstd_long,
	  .reason = LM_WIRE_REASON_PROTOCOL, .text = "does not decompress",
	  .early = true },
	{ .name = "zstd_not_smaller", .apply = r_zstd_not_smaller,
	  .reason = LM_WIRE_REASON_PROTOCOL, .text = "not smaller",
	  .early = true },
	{ .name = "zstd_empty", .apply = r_zstd_empty,
	  .reason = LM_WIRE_REASON_PROTOCOL, .text = "no zstd data",
	  .early = true },
	{ .name = "zstd_without_data", .apply = r_zstd_no_data,
	  .reason = LM_WIRE_REASON_PROTOCOL, .text = "ZSTD without page data",
	  .early = true },
	{ .name = "zstd_data_crc", .apply = r_zstd_data_crc,
	  .reason = LM_WIRE_REASON_CRC, .text = "page data CRC mismatch",
	  .early = true },
};

/* Whether all @len bytes at @p are @c. */
static bool mem_is(const uint8_t *p, int c, size_t len)
{
	while (len--)
		if (*p++ != (uint8_t)c)
			return false;
	return true;
}

/* TCP sockets in use on the host (/proc/net/sockstat), or -1. */
static int tcp_inuse(void)
{
	char line[256];
	FILE *f = fopen("/proc/net/sockstat", "r");
	int n = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "TCP: inuse %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* A second source on the port of a LISTEN whose source is connected. */
static int connect_again(uint16_t port)
{
	struct peer p;
	int ret = peer_connect(&p, port);

	if (p.fd >= 0)
		close(p.fd);
	return ret;
}

TEST_F_TIMEOUT(fuzz, rules, 60)
{
	int sockets = tcp_inuse();
	static struct session s;
	unsigned int r, i;

	for (r = 0; r < sizeof(rules) / sizeof(rules[0]); r++) {
		const struct rule *rule = &rules[r];
		struct timeval tv = { .tv_sec = 3 };
		uint32_t hello_reason = ~0U, abort_reason = 0;
		struct lm_xfer_status st;
		struct stream stream;
		struct lm_wire_hdr hdr;
		static uint8_t buf[256];
		size_t at;
		struct peer p;
		uint16_t port;
		int ret;

		rnd_state = DEFAULT_SEED;
		session_build(&s, false);
		rule->apply(&s);
		serialize(&s, &stream);
		for (i = 0; i < NR_SLOTS; i++)
			memset(self->vm.mem[i], 0x5a + i, layout[i].size);

		ASSERT_EQ(0, ftruncate(self->state_fd, 0));
		for (i = 0; i < 1000; i++) {
			ret = lm_nl_listen(self->nl, self->vm.id, loopback, 4, 0,
					   self->state_fd, 0, &port);
			if (ret != -EBUSY)
				break;
			usleep(1000);
		}
		ASSERT_EQ(0, ret);
		ASSERT_EQ(0, peer_connect(&p, port));
		setsockopt(p.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		setsockopt(p.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		/* One source per LISTEN: the port is closed once it is in. */
		ASSERT_EQ(0, wait_phase_ms(self->nl, self->vm.id,
					   LM_PHASE_HANDSHAKE, &st, 3000));
		EXPECT_EQ(-ECONNREFUSED, connect_again(port));

		at = rule->split ? frame_start(&s, s.nr - rule->split) : stream.len;
		send_stream(p.fd, &(struct stream){ stream.buf, at });
		if (rule->split) {
			usleep(200000);
			send_stream(p.fd, &(struct stream){ stream.buf + at,
							    stream.len - at });
		}
		shutdown(p.fd, SHUT_WR);
		/* What the destination answers, up to its ABORT or the end. */
		while (!peer_recv(&p, &hdr, buf, sizeof(buf))) {
			if (le16toh(hdr.type) == LM_WIRE_HELLO &&
			    hello_reason == ~0U)
				hello_reason = le32toh(((struct lm_wire_hello *)buf)->reason);
			if (le16toh(hdr.type) == LM_WIRE_ABORT) {
				abort_reason = le32toh(((struct lm_wire_abort *)buf)->reason);
				break;
			}
		}
		close(p.fd);

		ret = wait_phase_ms(self->nl, self->vm.id, LM_PHASE_COMMIT, &st,
				    5000);
		ASSERT_EQ(0, ret);
		if (st.phase == LM_PHASE_COMMIT) {
			ASSERT_EQ(0, lm_nl_complete(self->nl, self->vm.id, 0));
			ASSERT_EQ(0, wait_phase_ms(self->nl, self->vm.id,
						   LM_PHASE_DONE, &st, 5000));
		}
		TH_LOG("%-28s phase %u reason %2u hello %2d abort %2u \"%s\"",
		       rule->name, st.phase, st.reason, (int)hello_reason,
		       abort_reason, st.message);
		EXPECT_EQ(LM_PHASE_FAILED, st.phase);
		EXPECT_EQ(rule->reason, st.reason);
		EXPECT_NE(NULL, strstr(st.message, rule->text)) {
			TH_LOG("%s: the message does not say \"%s\"", rule->name,
			       rule->text);
		}
		if (rule->refused) {
			EXPECT_EQ(rule->reason, hello_reason);
		} else if (!rule->no_abort) {
			EXPECT_EQ(rule->reason, abort_reason);
		}
		for (i = 0; i < NR_SLOTS; i++) {
			EXPECT_EQ(-1, guard_damage(&self->vm, i));
			if (rule->early)
				EXPECT_TRUE(mem_is(self->vm.mem[i], 0x5a + i,
						   layout[i].size)) {
					TH_LOG("%s: slot %u written", rule->name, i);
				}
		}
		free(stream.buf);
		session_free(&s);
	}

	/* Still attached, with its layout; no socket left behind. */
	{
		struct lm_vm_list list;

		ASSERT_EQ(0, lm_nl_list(self->nl, true, self->vm.id, &list));
		ASSERT_EQ(1, list.nr_vms);
		EXPECT_EQ(NR_SLOTS, list.vms[0].nr_memslots);
		lm_vm_list_free(&list);
	}
	for (i = 0; i < 100 && tcp_inuse() != sockets; i++)
		usleep(10000);
	EXPECT_EQ(sockets, tcp_inuse());
}

/*
 * The same from the other end: a hostile destination answers the VM of
 * this process, migrated by lm, with a HELLO or an ACK broken in one way.
 * The source must fail with the rule's reason, say so to the peer with an
 * ABORT, and never go past CONFIG.
 */
struct dst_rule {
	const char *name;
	uint32_t mode;
	uint64_t features;	/* of the destination's HELLO */
	uint64_t reserved;	/* its reserved field */
	uint32_t hello_reason;	/* its reason */
	uint64_t ack_reserved;	/* if the HELLO passes: ACK(CONFIG)'s */
	uint32_t reason;
	const char *text;
};

#define F_REQ	(LM_WIRE_F_ZERO_PAGES | LM_WIRE_F_DATA_CRC)

static const struct dst_rule dst_rules[] = {
	{ "hello_reserved", LM_WIRE_MODE_QUICK, F_REQ, 1, 0, 0,
	  LM_WIRE_REASON_PROTOCOL, "reserved" },
	{ "features_not_offered", LM_WIRE_MODE_QUICK, F_REQ | 1ULL << 40, 0, 0,
	  0, LM_WIRE_REASON_PROTOCOL, "not offered" },
	{ "required_feature_missing", LM_WIRE_MODE_QUICK,
	  LM_WIRE_F_ZERO_PAGES, 0, 0, 0, LM_WIRE_REASON_FEATURES, "required" },
	{ "live_without_rounds", LM_WIRE_MODE_LIVE, F_REQ, 0, 0, 0,
	  LM_WIRE_REASON_FEATURES, "several rounds" },
	{ "refusal_unknown_reason", LM_WIRE_MODE_QUICK, F_REQ, 0, 200, 0,
	  LM_WIRE_REASON_PROTOCOL, "refused" },
	{ "ack_config_reserved", LM_WIRE_MODE_QUICK, F_REQ, 0, 0, 1,
	  LM_WIRE_REASON_PROTOCOL, "acknowledged something else" },
};

TEST_F_TIMEOUT(fuzz, hostile_destination, 60)
{
	unsigned int r;

	for (r = 0; r < sizeof(dst_rules) / sizeof(dst_rules[0]); r++) {
		const struct dst_rule *rule = &dst_rules[r];
		struct lm_migrate_opts opts = {
			.mode = rule->mode, .max_rounds = 1,
		};
		struct sockaddr_in sin = {
			.sin_family = AF_INET,
			.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
		};
		struct timeval tv = { .tv_sec = 3 };
		socklen_t sl = sizeof(sin);
		struct lm_xfer_status st;
		struct lm_wire_hello hello;
		struct lm_wire_hdr hdr;
		static uint8_t buf[65536];
		uint32_t abort_reason = 0;
		struct peer p = {};
		int lfd, i, ret;

		lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		ASSERT_LE(0, lfd);
		ASSERT_EQ(0, bind(lfd, (struct sockaddr *)&sin, sizeof(sin)));
		ASSERT_EQ(0, listen(lfd, 1));
		ASSERT_EQ(0, getsockname(lfd, (struct sockaddr *)&sin, &sl));
		for (i = 0; i < 1000; i++) {
			ret = lm_nl_migrate(self->nl, self->vm.id, loopback, 4,
					    ntohs(sin.sin_port), &opts);
			if (ret != -EBUSY)
				break;
			usleep(1000);
		}
		ASSERT_EQ(0, ret) {
			TH_LOG("MIGRATE: %s", lm_nl_extack(self->nl));
		}
		p.fd = accept(lfd, NULL, NULL);
		ASSERT_LE(0, p.fd);
		close(lfd);
		setsockopt(p.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		ASSERT_EQ(0, peer_recv(&p, &hdr, buf, sizeof(buf)));
		ASSERT_EQ(LM_WIRE_HELLO, le16toh(hdr.type));
		hello_fill(&hello, LM_WIRE_ROLE_DESTINATION);
		hello.features = htole64(rule->features);
		hello.reserved = htole64(rule->reserved);
		hello.reason = htole32(rule->hello_reason);
		ASSERT_EQ(0, peer_send_frame(&p, LM_WIRE_HELLO, &hello,
					     sizeof(hello)));
		if (rule->ack_reserved) {
			struct lm_wire_ack ack = {
				.type = htole32(LM_WIRE_CONFIG),
				.seq = htole32(1),
				.reserved = htole64(rule->ack_reserved),
			};

			ASSERT_EQ(0, peer_recv(&p, &hdr, buf, sizeof(buf)));
			ASSERT_EQ(LM_WIRE_CONFIG, le16toh(hdr.type));
			ASSERT_EQ(0, peer_send_frame(&p, LM_WIRE_ACK, &ack,
						     sizeof(ack)));
		}
		while (!peer_recv(&p, &hdr, buf, sizeof(buf)))
			if (le16toh(hdr.type) == LM_WIRE_ABORT) {
				abort_reason = le32toh(((struct lm_wire_abort *)buf)->reason);
				break;
			}
		close(p.fd);
		ASSERT_EQ(0, wait_phase_ms(self->nl, self->vm.id,
					   LM_PHASE_DONE, &st, 5000));
		TH_LOG("%-26s phase %u (failed in %u) reason %2u abort %2u \"%s\"",
		       rule->name, st.phase, st.failed_phase, st.reason,
		       abort_reason, st.message);
		EXPECT_EQ(LM_PHASE_FAILED, st.phase);
		EXPECT_EQ(rule->reason, st.reason);
		EXPECT_NE(NULL, strstr(st.message, rule->text));
		EXPECT_EQ(rule->reason, abort_reason);
		EXPECT_GE(LM_PHASE_CONFIG, st.failed_phase);
	}
}

TEST_HARNESS_MAIN

/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * lm: live migration of KVM virtual machines, done in the kernel.
 *
 * Migration wire protocol, version LM_WIRE_VERSION (below; linux/lm.h
 * defines it too, identically, for LM_A_INFO_WIRE_VERSION).
 * Documentation/protocol.rst is the normative description: it gives the
 * byte offset of every field, the order in which frames are exchanged and
 * the reason each malformed frame is refused with.
 *
 * Every field named reserved, and every flag bit not defined here, is sent
 * as 0 and refused by a receiver if not 0 (LM_WIRE_REASON_PROTOCOL); the
 * only exception is struct lm_wire_hello's features, whose unknown bits
 * are left out of the answer. Counts (ROUND_END's pages, COMMIT's rounds)
 * must be exactly what was sent.
 *
 * There is no keep-alive frame: a side gives up on a peer silent (or not
 * reading) for 60 s, lm's module parameter peer_timeout.
 *
 * Every multi-byte field is little-endian and every structure has a fixed
 * size with explicit padding, so the layout below is the layout on the wire
 * on every architecture. All checksums are CRC-32C (Castagnoli, as in iSCSI
 * and ext4: reflected, initial value 0xffffffff, final xor 0xffffffff; the
 * checksum of the nine bytes "123456789" is 0xe3069283).
 */

#ifndef _UAPI_LINUX_LM_WIRE_H
#define _UAPI_LINUX_LM_WIRE_H

#include <linux/types.h>

/* The version this header describes, in struct lm_wire_hello.version. */
#define LM_WIRE_VERSION		1

/* "lmwr" as bytes on the wire. */
#define LM_WIRE_MAGIC		0x72776d6cU

/*
 * Limits every implementation enforces on what it receives; a frame that
 * exceeds one is malformed (LM_WIRE_REASON_PROTOCOL).
 */
#define LM_WIRE_MAX_FRAME	(4U << 20)	/* payload bytes */
#define LM_WIRE_MAX_SLOTS	1024
#define LM_WIRE_MAX_BATCH_PAGES	512
#define LM_WIRE_MAX_STATE	(64U << 20)	/* whole state blob */
/* Data bytes of one STATE frame, after its struct lm_wire_state. */
#define LM_WIRE_MAX_STATE_CHUNK	(1U << 20)

/* Frame types, in struct lm_wire_hdr.type. */
enum lm_wire_type {
	LM_WIRE_HELLO		= 1,
	LM_WIRE_CONFIG		= 2,
	LM_WIRE_ACK		= 3,
	LM_WIRE_PAGES		= 4,
	LM_WIRE_ROUND_END	= 5,
	LM_WIRE_STATE		= 6,
	LM_WIRE_COMMIT		= 7,
	LM_WIRE_ABORT		= 8,
};

/*
 * Frame header, 24 bytes, in front of every frame.
 *
 * @type:	enum lm_wire_type.
 * @flags:	0; reserved for per-frame flags.
 * @len:	bytes of payload after the header (<= LM_WIRE_MAX_FRAME).
 * @seq:	frame number in this direction: 0 for the first frame a peer
 *		sends, then +1 per frame. A gap or repeat is a protocol error.
 * @payload_crc: CRC-32C of the payload; for PAGES frames, of the batch
 *		descriptor only (struct lm_wire_pages and its runs).
 * @hdr_crc:	CRC-32C of bytes 0..15 of this header.
 * @reserved:	0.
 */
struct lm_wire_hdr {
	__le16 type;		/*  0 */
	__le16 flags;		/*  2 */
	__le32 len;		/*  4 */
	__le32 seq;		/*  8 */
	__le32 payload_crc;	/* 12 */
	__le32 hdr_crc;		/* 16 */
	__le32 reserved;	/* 20 */
};

/* Feature bits, in struct lm_wire_hello.features. */
enum lm_wire_feature {
	/* PAGES runs may carry LM_WIRE_RUN_ZERO (no data for zero pages). */
	LM_WIRE_F_ZERO_PAGES	= 1ULL << 0,
	/* PAGES batches may carry LM_WIRE_PAGES_DATA_CRC. */
	LM_WIRE_F_DATA_CRC	= 1ULL << 1,
	/* Several rounds: a page may be sent again, the newest copy wins. */
	LM_WIRE_F_ROUNDS	= 1ULL << 2,
	/*
	 * Pages are keyed by their place in the VMM's shared RAM backings,
	 * not by memory slot: CONFIG lists struct lm_wire_backing entries and
	 * PAGES name a backing. Both sides must agree on it; a source offers
	 * it only when asked to, and a destination asked to refuses a source
	 * that does not offer it (and the other way round) with
	 * LM_WIRE_REASON_FEATURES.
	 */
	LM_WIRE_F_BY_BACKING	= 1ULL << 3,
	/*
	 * PAGES batches may carry their page data compressed with zstd
	 * (LM_WIRE_PAGES_ZSTD). A source offers it only when asked to
	 * compress, and gives up (LM_WIRE_REASON_FEATURES) if the
	 * destination's answer lacks it; a destination that knows it always
	 * accepts it.
	 */
	LM_WIRE_F_ZSTD		= 1ULL << 4,
};

/* Features every implementation of version 1 must accept. */
#define LM_WIRE_F_REQUIRED	(LM_WIRE_F_ZERO_PAGES | LM_WIRE_F_DATA_CRC)

enum lm_wire_role {
	LM_WIRE_ROLE_SOURCE	 = 1,
	LM_WIRE_ROLE_DESTINATION = 2,
};

/*
 * Why a peer refuses or aborts, in HELLO.reason and ABORT.reason.
 * 0 means no error.
 */
enum lm_wire_reason {
	LM_WIRE_REASON_NONE		= 0,
	LM_WIRE_REASON_CANCELLED	= 1,  /* the operator gave up */
	LM_WIRE_REASON_MAGIC		= 2,  /* not an lm peer */
	LM_WIRE_REASON_VERSION		= 3,  /* no common protocol version */
	LM_WIRE_REASON_FEATURES		= 4,  /* a required feature is missing */
	LM_WIRE_REASON_ROLE		= 5,  /* both ends are sources, ... */
	LM_WIRE_REASON_PAGE_SIZE	= 6,  /* CONFIG: page sizes differ */
	LM_WIRE_REASON_VCPUS		= 7,  /* CONFIG: vCPU counts differ */
	LM_WIRE_REASON_NR_SLOTS		= 8,  /* CONFIG: slot counts differ */
	LM_WIRE_REASON_SLOT		= 9,  /* CONFIG: a slot differs (detail) */
	LM_WIRE_REASON_PROTOCOL		= 10, /* malformed or unexpected frame */
	LM_WIRE_REASON_CRC		= 11, /* a checksum did not match */
	LM_WIRE_REASON_STATE		= 12, /* state blob rejected or too big */
	LM_WIRE_REASON_RESUME		= 13, /* destination could not resume */
	LM_WIRE_REASON_VM_GONE		= 14, /* the VM or its VMM went away */
	LM_WIRE_REASON_INTERNAL		= 15, /* local error (memory, I/O) */
	LM_WIRE_REASON_TIMEOUT		= 16, /* the peer stopped answering */
	LM_WIRE_REASON_INCOMPLETE	= 17, /* COMMIT before all memory came */
	LM_WIRE_REASON_CONNECTION	= 18, /* local only: connection lost */
	__LM_WIRE_REASON_MAX
};

/*
 * HELLO, 32 bytes. The source sends it first, with @reason 0; the
 * destination answers with its own HELLO, where @version is the version
 * both will speak, @features the features both will use (a subset of the
 * source's), and @reason non-zero if it refuses (it then closes the
 * connection; no ABORT follows). A first frame that is not a HELLO is
 * answered with an ABORT.
 */
struct lm_wire_hello {
	__le32 magic;		/*  0: LM_WIRE_MAGIC */
	__le32 version;		/*  4: highest version the sender speaks */
	__le64 features;	/*  8: enum lm_wire_feature bits */
	__le32 role;		/* 16: enum lm_wire_role */
	__le32 reason;		/* 20: enum lm_wire_reason, 0 = accepted */
	__le64 reserved;	/* 24: 0 */
};

enum lm_wire_mode {
	LM_WIRE_MODE_QUICK	= 1,	/* source paused before any page */
	LM_WIRE_MODE_LIVE	= 2,	/* pre-copy rounds, then stop-and-copy */
};

/* One memory slot in CONFIG, 32 bytes. */
struct lm_wire_slot {
	__le32 as_id;		/*  0: address space (x86: 1 = SMM) */
	__le32 flags;		/*  4: LM_WIRE_SLOT_*, other bits 0 */
	__le64 gpa;		/*  8: guest physical base, page aligned */
	__le64 size;		/* 16: bytes, a multiple of the page size */
	__le64 reserved;	/* 24: 0 */
};

/*
 * Read-only for the guest. The protocol's own bit, not KVM's flags: a
 * slot with KVM_MEM_READONLY (bit 1 of kvm_userspace_memory_region.flags)
 * is sent with this bit; KVM_MEM_LOG_DIRTY_PAGES (bit 0) is never sent.
 */
#define LM_WIRE_SLOT_READONLY	(1U << 0)

/*
 * One RAM backing in CONFIG under LM_WIRE_F_BY_BACKING, 32 bytes: a shared
 * file mapping of the VMM that memory slots map into (several may alias
 * parts of it), sent whole, including what no slot maps at the time.
 */
struct lm_wire_backing {
	__le64 size;		/*  0: bytes, a multiple of the page size */
	__le64 reserved[3];	/*  8: 0 */
};

/*
 * CONFIG, 24 bytes followed by @nr_slots struct lm_wire_slot, sorted by
 * address space then guest physical address. PAGES frames name a slot by
 * its index in this table. The destination answers with an ACK, or with an
 * ABORT naming the first difference it found.
 *
 * Well-formed first, or refused with LM_WIRE_REASON_PROTOCOL: 1 to 1024
 * entries, sizes non-zero and page-aligned, slots sorted without overlap,
 * @total_pages their sum, @nr_vcpus not 0, @mode live only with
 * LM_WIRE_F_ROUNDS. Then compared with the destination's own VM.
 *
 * Under LM_WIRE_F_BY_BACKING, @nr_slots struct lm_wire_backing follow
 * instead, in the order of the lowest guest physical address (address
 * space 0 first) that maps each; PAGES frames name a backing by its index
 * in this table and count pages from the backing's start.
 */
struct lm_wire_config {
	__le32 page_size;	/*  0: bytes, a power of two */
	__le32 nr_vcpus;	/*  4 */
	__le32 nr_slots;	/*  8: <= LM_WIRE_MAX_SLOTS (slots or backings) */
	__le32 mode;		/* 12: enum lm_wire_mode */
	__le64 total_pages;	/* 16: sum of the entries' sizes in pages */
	/* struct lm_wire_slot slots[nr_slots]; at offset 24 */
};

/* ACK, 16 bytes: the frame it acknowledges (CONFIG or COMMIT). */
struct lm_wire_ack {
	__le32 type;		/*  0: enum lm_wire_type acknowledged */
	__le32 seq;		/*  4: its header's seq */
	__le64 reserved;	/*  8: 0 */
};

/*
 * PAGES, a batch of pages of one slot: 24 bytes, @nr_runs struct
 * lm_wire_run (the descriptor, covered by the header's payload_crc), then
 * the data of every page of every run without LM_WIRE_RUN_ZERO, in run
 * order, page_size bytes each (or, with LM_WIRE_PAGES_ZSTD, that data
 * compressed). Runs are in ascending order without overlap; in quick mode
 * no page is sent twice.
 */
struct lm_wire_pages {
	__le32 slot;		/*  0: index in CONFIG's table (slot or backing) */
	__le32 nr_runs;		/*  4: >= 1 */
	__le32 nr_pages;	/*  8: sum of the runs' nr_pages, <= 512 */
	__le32 nr_data;		/* 12: pages followed by data */
	__le32 flags;		/* 16: LM_WIRE_PAGES_* */
	__le32 data_crc;	/* 20: CRC-32C of all page data if DATA_CRC, else 0 */
	/* struct lm_wire_run runs[nr_runs]; at offset 24 */
};

/*
 * The page data is checksummed. A sender sets this only when the pages
 * cannot change while they are sent (the guest is paused); in pre-copy
 * rounds a page may be rewritten while in flight, and is then dirty and
 * sent again. A receiver never requires it. Without data (zero runs only)
 * data_crc is the CRC of nothing, 0.
 */
#define LM_WIRE_PAGES_DATA_CRC	(1U << 0)

/*
 * Only with LM_WIRE_F_ZSTD: the page data is one zstd frame (RFC 8878)
 * that decompresses to exactly nr_data * page_size bytes, the page data
 * the batch would carry uncompressed. The frame's length is the rest of
 * the payload: len - 24 - 16 * nr_runs, from 1 to nr_data * page_size - 1
 * (a batch is compressed only when that makes it smaller); nr_data is at
 * least 1. Anything else, or a frame that zstd refuses or that
 * decompresses to another size, is LM_WIRE_REASON_PROTOCOL. data_crc
 * (with LM_WIRE_PAGES_DATA_CRC) is the CRC of the uncompressed page data:
 * it still checks what lands in guest memory.
 */
#define LM_WIRE_PAGES_ZSTD	(1U << 1)

/* A run of consecutive pages of a slot, 16 bytes. */
struct lm_wire_run {
	__le64 first;		/*  0: first page, from the slot (backing) start */
	__le32 nr_pages;	/*  8: >= 1 */
	__le32 flags;		/* 12: LM_WIRE_RUN_* */
};

#define LM_WIRE_RUN_ZERO	(1U << 0)	/* every page is zero: no data */

/*
 * ROUND_END, 48 bytes: the source finished a pass over memory. Rounds are
 * numbered from 0 without gaps; quick mode has round 0 only, FINAL. The
 * destination checks @pages and @zero_pages; the rest are statistics.
 */
struct lm_wire_round_end {
	__le32 round;		/*  0: 0 for the first (full) pass */
	__le32 flags;		/*  4: LM_WIRE_ROUND_* */
	__le64 pages;		/*  8: pages of the round's PAGES runs */
	__le64 zero_pages;	/* 16: of which in zero runs */
	__le64 bytes;		/* 24: bytes of the round's PAGES frames */
	__le64 duration_ns;	/* 32: time the round took on the source */
	__le64 dirty_pages;	/* 40: pages dirtied meanwhile (next round) */
};

/* The source is paused: this is the last round before STATE. */
#define LM_WIRE_ROUND_FINAL	(1U << 0)

/*
 * STATE, 16 bytes followed by 1 to LM_WIRE_MAX_STATE_CHUNK bytes of the
 * VMM's opaque CPU and device state blob; chunks come in order, without
 * gaps, after the final ROUND_END, each with the same @total (1 to
 * LM_WIRE_MAX_STATE; over it: LM_WIRE_REASON_STATE).
 */
struct lm_wire_state {
	__le64 total;		/*  0: size of the whole blob, <= MAX_STATE */
	__le64 offset;		/*  8: of this chunk in the blob */
	/* __u8 data[len - 16]; at offset 16 */
};

/*
 * COMMIT, 32 bytes: everything has been sent. The destination checks the
 * totals, loads the state, resumes the VM and answers ACK; or ABORT, and
 * then the source may run again. After sending COMMIT the source must not
 * resume the VM unless it receives ABORT: without an answer it cannot know
 * whether the destination runs it. Nothing follows COMMIT; after the ACK
 * the destination closes the connection.
 */
struct lm_wire_commit {
	__le64 pages;		/*  0: pages sent in all rounds (resent too) */
	__le64 state_size;	/*  8: bytes of state sent */
	__le32 rounds;		/* 16: ROUND_END frames sent, FINAL's too */
	__le32 reserved;	/* 20: 0 */
	__le64 reserved2;	/* 24: 0 */
};

/*
 * ABORT, 72 bytes: either side gives up, then closes the connection.
 * @detail depends on @reason (for LM_WIRE_REASON_SLOT, the slot index, or
 * the backing index under LM_WIRE_F_BY_BACKING);
 * @detail is 0 for other reasons. @message is a human-readable
 * explanation, NUL padded; it may fill all 64 bytes without a NUL. A
 * reason a receiver does not know (or 0, or CONNECTION) is reported as
 * LM_WIRE_REASON_PROTOCOL.
 */
struct lm_wire_abort {
	__le32 reason;		/*  0: enum lm_wire_reason */
	__le32 detail;		/*  4 */
	char message[64];	/*  8 */
};

#endif /* _UAPI_LINUX_LM_WIRE_H */

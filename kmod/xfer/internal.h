/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The transfer engine's insides, shared by the files of kmod/xfer/.
 *
 * A transfer (struct lm_xfer) is one migration of one attached VM, as its
 * source or its destination. It is created by MIGRATE or LISTEN and runs in
 * its own kthread, which owns the socket and adopts the VMM's address space
 * to reach guest memory by the VMM's own addresses. The netlink commands
 * that drive the phases (SWITCHOVER, COMPLETE, CANCEL) only set fields under
 * x->lock and wake the thread; STATUS and the events read a snapshot.
 *
 * Lifetime: vm->xfer (under vm->lock) owns the transfer. It is destroyed
 * when the VM is detached or a new transfer replaces a finished one:
 * destruction cancels, then kthread_stop()s the thread, which ends by
 * releasing its sockets, its files and the VMM's mm; lm_xfer_free() closes
 * what a thread that never ran (or a transfer that never started) holds.
 */
#ifndef _LM_XFER_INTERNAL_H
#define _LM_XFER_INTERNAL_H

#include <linux/lm.h>
#include <linux/lm_wire.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/socket.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/wait.h>

struct file;
struct genl_info;
struct netlink_ext_ack;
struct sk_buff;
struct lm_vm;
struct mm_struct;
struct net;
struct page;
struct socket;
struct task_struct;

/* A guest memory slot as the transfer sees it, fixed at its start. */
struct lm_xfer_slot {
	u32 as_id;
	u32 flags;		/* LM_WIRE_SLOT_* */
	u64 gpa;
	u64 npages;
	unsigned long hva;	/* in the VMM's address space */
	/* Keyed by backing: the unit it maps into, from which page on. */
	u32 backing;		/* LM_XFER_NO_BACKING: not moved by us */
	u64 backing_off;
};

#define LM_XFER_NO_BACKING	U32_MAX

/*
 * What PAGES frames name, CONFIG lists and the bitmaps are kept by: a
 * memory slot (slot mode: unit i is slot i), or a RAM backing, a shared
 * file mapping of the VMM memory slots map into (by_backing). @file and
 * @pgoff only tell backings apart while the layout is read (under the
 * VMM's mmap lock): no reference is held, they are never dereferenced.
 */
struct lm_xfer_unit {
	unsigned long hva;	/* in the VMM's address space */
	u64 npages;
	u64 first;		/* index of its first page among all units */
	const struct file *file;
	unsigned long pgoff;
};

struct lm_xfer_layout {
	bool by_backing;	/* LM_WIRE_F_BY_BACKING */
	u32 nr_vcpus;
	u32 nr_slots;
	u32 nr_units;
	u64 total_pages;	/* of all units */
	struct lm_xfer_slot *slots;
	struct lm_xfer_unit *units;
};

/* What STATUS and the events report; a consistent copy under x->lock. */
struct lm_xfer_stats {
	u32 phase;		/* enum lm_xfer_phase */
	u32 round;
	u64 pages;		/* pages sent or received, all rounds */
	u64 zero_pages;		/* of which as zero runs */
	u64 hole_pages;		/* of which unbacked: never read (resident.c) */
	u64 bytes;		/* wire bytes, both directions */
	u64 total_pages;
	u64 state_size;
	u32 reason;		/* enum lm_wire_reason of a failure */
	u32 failed_phase;	/* the phase the failure happened in */
	int err;		/* negative errno of a failure */
	u64 elapsed_ns;
	u64 stopcopy_ns;	/* switchover to COMMIT acknowledged */
	u64 dirty_pages;	/* live: pages the next round has to send */
	u64 cpu_ns;		/* CPU time of the transfer thread */
	/* Page data of the PAGES frames, as in memory and as on the wire. */
	u64 data_bytes;
	u64 wire_data_bytes;	/* smaller than data_bytes by compression */
	u64 zstd_batches;	/* PAGES frames with LM_WIRE_PAGES_ZSTD */
	char message[128];
};

struct lm_xfer {
	struct lm_vm *vm;	/* our reference */
	struct net *net;	/* of the requesting socket; referenced until */
	bool net_put;		/* the thread ends (then only compared) */
	u32 portid;		/* netlink socket that started it */
	/* In the table of transfers by portid (core.c), from its start. */
	struct hlist_node owner_node;
	bool owned;
	u32 role;		/* enum lm_wire_role */
	u32 mode;		/* enum lm_wire_mode */
	u32 send_method;	/* enum lm_xfer_send_method */
	u32 recv_method;	/* enum lm_xfer_recv_method */
	bool no_data_crc;	/* source: never set LM_WIRE_PAGES_DATA_CRC */
	bool by_backing;	/* LM_A_XFER_KEY_BY_BACKING */
	u32 max_rounds;		/* live: pre-copy rounds after the full one */
	u64 max_downtime_ns;	/* live: switch over below this estimate */
	u64 bandwidth;		/* pre-copy: bytes/s of page data, 0: any */
	u32 compress;		/* source: enum lm_xfer_compress */
	int compress_level;	/* source: zstd level */
	struct sockaddr_storage addr;
	struct task_struct *task;

	/* Sockets, published so that cancelling can shut them down. */
	struct mutex sock_lock;
	struct socket *sock;
	struct socket *listen_sock;
	/* x->sock is the requester's (sock.c): this file reference holds it. */
	struct file *sock_file;
	bool secure;		/* x->sock has kTLS: the peer is authenticated */

	spinlock_t lock;	/* the fields below */
	wait_queue_head_t wait;
	/* State blob: read from (source) or written to (destination). */
	struct file *state_file;
	bool switchover;	/* source: SWITCHOVER came, the VM is paused */
	bool completed;		/* destination: COMPLETE came */
	u32 complete_reason;	/* its verdict: 0 = resumed */
	u32 cancel_reason;	/* non-zero: stop as soon as possible */
	struct lm_xfer_stats stats;

	/* Thread-private from here on. */
	u64 start_ns;
	u64 switchover_ns;
	struct mm_struct *mm;	/* the VMM's, with mm_users held */
	struct lm_xfer_layout layout;
	u32 tx_seq;
	u32 rx_seq;
	u64 features;		/* LM_WIRE_F_*, as the handshake agreed */
	bool abort_sent;
	void *buf;		/* LM_XFER_BUF_SIZE bytes of scratch */
	struct page **pages;	/* LM_WIRE_MAX_BATCH_PAGES pointers */
	unsigned long *covered;	/* destination: pages received, per page */
	/* Source, live: pages to send in the next round, per layout unit. */
	unsigned long **dirty_maps;
	/* By backing: one slot's harvest, before it is put in its backing's. */
	unsigned long *dirty_scratch;
	bool tracking;		/* we started dirty tracking on the VM */
	/* Source: the VM paused for us, lm may not be unloaded (source.c). */
	bool module_held;
	u32 vcpus_locked;	/* vcpu->mutex held, vCPUs 0 to this - 1 */
	/* Source: pacing to x->bandwidth, while pacing is true. */
	bool pacing;
	u64 pace_start_ns;
	u64 pace_bytes;		/* sent since pace_start_ns */
	/* Source: the MSG_ZEROCOPY completion, if that method is used. */
	void *zc;
	/* LM_WIRE_F_ZSTD: buffers and context, from before the first page. */
	struct lm_xfer_zstd *zstd;
};

/* Scratch: a whole STATE chunk with its header fits. */
#define LM_XFER_BUF_SIZE	(LM_WIRE_MAX_STATE_CHUNK + 64)
/*
 * Where the page path keeps its copy of one guest page, on either side:
 * the last page of x->buf's first LM_WIRE_MAX_STATE_CHUNK bytes, past a
 * PAGES descriptor, its runs and the vectors of a batch.
 */
#define LM_XFER_BOUNCE_OFFSET	(LM_WIRE_MAX_STATE_CHUNK - PAGE_SIZE)
/*
 * How long lmctl may take for its part (a peer's silence: the module's
 * peer_timeout parameter, wire.c).
 */
#define LM_XFER_TIMEOUT		(60 * HZ)
#define LM_XFER_CONNECT_TIMEOUT	(10 * HZ)

/* core.c */
struct lm_xfer *lm_xfer_alloc(struct lm_vm *vm, struct genl_info *info,
			      u32 role);
void lm_xfer_free(struct lm_xfer *x);
int lm_xfer_start(struct lm_vm *vm, struct lm_xfer *x, struct lm_xfer **old,
		  struct netlink_ext_ack *extack);
struct lm_xfer *lm_xfer_of(struct lm_vm *vm, struct genl_info *info);
void lm_xfer_cancel_vm(struct lm_vm *vm, u32 reason);
bool lm_xfer_running(struct lm_xfer *x);
void lm_xfer_finish_error(struct lm_xfer *x, int err);
void lm_xfer_set_phase(struct lm_xfer *x, u32 phase);
void lm_xfer_fail(struct lm_xfer *x, int err, u32 reason, const char *fmt, ...)
	__printf(4, 5);
void lm_xfer_account(struct lm_xfer *x, u64 pages, u64 zero_pages,
		     u64 hole_pages, u64 bytes);
void lm_xfer_account_data(struct lm_xfer *x, u64 data, u64 wire, bool zstd);
void lm_xfer_notify(struct lm_xfer *x);
u32 lm_xfer_cancelled(struct lm_xfer *x);
int lm_xfer_publish_sock(struct lm_xfer *x, struct socket *sock,
			 bool listening);
void lm_xfer_release_socks(struct lm_xfer *x);
int lm_xfer_thread_setup(struct lm_xfer *x);

/* sock.c */
int lm_xfer_take_sock(struct lm_xfer *x, struct genl_info *info);

/* vcpus.c: the guest kept out of its vCPUs while lm owns its memory. */
struct kvm;
int lm_xfer_vcpus_lock(struct lm_xfer *x, const char *why);
void lm_xfer_vcpus_unlock(struct lm_xfer *x);
bool lm_xfer_vcpus_have_run(struct kvm *kvm);
void lm_xfer_thread_cleanup(struct lm_xfer *x);
int lm_xfer_fill_stats(struct sk_buff *skb, struct lm_xfer *x);

/* layout.c */
int lm_xfer_layout_read(struct lm_xfer *x);
void lm_xfer_layout_free(struct lm_xfer_layout *layout);
size_t lm_xfer_config_size(const struct lm_xfer_layout *layout);
void lm_xfer_config_encode(const struct lm_xfer_layout *layout, u32 mode,
			   void *buf);
int lm_xfer_config_check(struct lm_xfer *x, const void *buf, size_t len,
			 u32 *detail, char *msg, size_t msg_len);

/* wire.c */
u32 lm_wire_crc(const void *buf, size_t len);
int lm_wire_send(struct lm_xfer *x, u16 type, const void *payload,
		 size_t len, bool more);
int lm_wire_send_pages_desc(struct lm_xfer *x, const void *desc,
			    size_t desc_len, size_t data);
const char *lm_wire_type_name(u16 type);
int lm_wire_expect_abort(struct lm_xfer *x, const struct lm_wire_hdr *hdr);
int lm_wire_send_abort(struct lm_xfer *x, u32 reason, u32 detail,
		       const char *message);
int lm_wire_recv_exact(struct lm_xfer *x, void *buf, size_t len);
int lm_wire_recv_hdr(struct lm_xfer *x, struct lm_wire_hdr *hdr);
int lm_wire_recv_payload(struct lm_xfer *x, const struct lm_wire_hdr *hdr,
			 void *buf, size_t size);
int lm_wire_expect(struct lm_xfer *x, u16 type, void *buf, size_t size,
		   size_t *len);
int lm_wire_salvage_abort(struct lm_xfer *x);
bool lm_wire_rx_pending(struct lm_xfer *x);
void lm_wire_set_timeouts(struct lm_xfer *x);
int lm_wire_handshake_source(struct lm_xfer *x);
int lm_wire_handshake_destination(struct lm_xfer *x);

/* pages_tx.c */
int lm_xfer_copy_page(struct page *page, void *bounce);
int lm_xfer_tx_init(struct lm_xfer *x);
void lm_xfer_tx_uninit(struct lm_xfer *x);
int lm_xfer_send_unit(struct lm_xfer *x, u32 index, bool data_crc);
int lm_xfer_send_dirty(struct lm_xfer *x, u32 index, bool data_crc);

/* compress.c: zstd for PAGES batches (LM_WIRE_F_ZSTD). */
struct lm_xfer_zstd;
int lm_xfer_zstd_init(struct lm_xfer *x, int level);
void lm_xfer_zstd_free(struct lm_xfer *x);
void *lm_xfer_zstd_page(struct lm_xfer *x, u32 i);
void *lm_xfer_zstd_packed(struct lm_xfer *x);
size_t lm_xfer_zstd_compress(struct lm_xfer *x, u32 nr_data);
int lm_xfer_zstd_decompress(struct lm_xfer *x, size_t packed_len, u32 nr_data);

/* dirty_rounds.c */
int lm_xfer_dirty_start(struct lm_xfer *x);
int lm_xfer_dirty_collect(struct lm_xfer *x, u64 *dirty);
void lm_xfer_dirty_stop(struct lm_xfer *x);

/* resident.c: guest pages no memory backs, found without touching them. */
u32 lm_xfer_find_holes(unsigned long hva, u32 n, unsigned long *holes);

/* pages_rx.c */
int lm_xfer_recv_pages(struct lm_xfer *x, const struct lm_wire_hdr *hdr);

/* source.c, destination.c: the thread functions. */
int lm_xfer_source_thread(void *data);
int lm_xfer_destination_thread(void *data);

#endif /* _LM_XFER_INTERNAL_H */

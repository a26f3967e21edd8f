/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lm_nl: the lm generic netlink family, from userspace.
 *
 * This is the only interface between lm's userspace and libnl: lmctl and
 * the selftests talk to the module through these calls and never see a
 * libnl type. Every call returns 0 or a negative errno as the kernel sent it
 * (not a libnl error code), and keeps what the kernel said about a failure
 * (its extended ack) until the next call: see lm_nl_extack().
 *
 * Built into lmctl and, as liblmnl.a, into the selftests.
 */
#ifndef LM_NL_H
#define LM_NL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <linux/lm.h>

struct lm_nl;

/*
 * Open a generic netlink socket and resolve the "lm" family.
 * Returns -ENOENT when the family does not exist (the module is not loaded).
 */
int lm_nl_open(struct lm_nl **nlp);
void lm_nl_close(struct lm_nl *nl);

/*
 * The version the module registered the family with (LM_GENL_VERSION of
 * the module's uapi/linux/lm.h); callers compare it with their own.
 */
unsigned int lm_nl_family_version(const struct lm_nl *nl);

/*
 * The kernel's extack of the last failed call: its message ("" if it sent
 * none), and, when it named them, the type of a missing attribute and the
 * offset of the offending attribute in the request (-1 otherwise).
 */
const char *lm_nl_extack(const struct lm_nl *nl);
int lm_nl_extack_missing_type(const struct lm_nl *nl);
int lm_nl_extack_offset(const struct lm_nl *nl);

struct lm_info {
	char module_version[64];
	uint32_t wire_version;
	uint64_t features;		/* enum lm_feature bits */
	char kernel_release[65];
};

int lm_nl_get_info(struct lm_nl *nl, struct lm_info *info);

/*
 * Attach the KVM VM behind @vm_fd (a descriptor in this process). @pid is
 * the VMM owning the VM, or 0 when this process is the VMM. The VM's id
 * goes to *@id (may be NULL).
 */
int lm_nl_attach(struct lm_nl *nl, int vm_fd, pid_t pid, uint32_t *id);
int lm_nl_detach(struct lm_nl *nl, uint32_t id);

struct lm_memslot {
	uint32_t id;
	uint32_t as_id;
	uint64_t gpa;
	uint64_t size;
	uint32_t flags;			/* KVM_MEM_* */
	uint64_t hva;
};

struct lm_vm_info {
	uint32_t id;
	uint32_t pid;			/* 0: not visible in our pid namespace */
	bool owner_alive;
	uint32_t nr_vcpus;
	size_t nr_memslots;
	struct lm_memslot *memslots;
};

struct lm_vm_list {
	size_t nr_vms;
	struct lm_vm_info *vms;
};

/*
 * List the attached VMs, or only VM @id when @one is set (-ENOENT when no
 * VM has that id). Messages continuing a VM's memslot array are merged, so
 * each VM appears once. Free the result with lm_vm_list_free(), also after
 * a failure.
 */
int lm_nl_list(struct lm_nl *nl, bool one, uint32_t id,
	       struct lm_vm_list *list);
/* LIST of VM @id as a plain request (not a dump), for tests of that form. */
int lm_nl_list_get(struct lm_nl *nl, uint32_t id, struct lm_vm_list *list);
void lm_vm_list_free(struct lm_vm_list *list);

/*
 * Send command @cmd with @attrs (@len bytes of already encoded netlink
 * attributes, possibly malformed on purpose) right after the generic
 * netlink header, as a dump request if @dump. Replies are counted in
 * *@nr_replies (may be NULL) and otherwise ignored. For tests of the
 * kernel's input validation.
 */
int lm_nl_request_raw(struct lm_nl *nl, uint8_t cmd, bool dump,
		      const void *attrs, size_t len, unsigned int *nr_replies);

/*
 * Dirty tracking (LM_CMD_TRACK_*). A round's report: totals and, per
 * memslot, what it contributed (state is enum lm_track_slot_state).
 */
struct lm_track_slot {
	uint32_t id;
	uint32_t as_id;
	uint64_t gfn;
	uint64_t pages;
	uint64_t dirty;
	uint32_t state;
};

struct lm_track_round {
	uint32_t vm_id;
	uint64_t round;
	uint64_t pages;
	uint64_t dirty;
	uint64_t harvest_ns;
	bool manual_protect;
	bool host_writes;	/* host-write tracking on; then: */
	uint64_t host_dirty;	/* pages found written through host mappings */
	uint64_t host_only;	/* of which KVM's log had none */
	uint64_t host_ns;	/* time the host-write walk took */
	size_t nr_slots;
	struct lm_track_slot *slots;
};

/* The dirty pages of a round, as runs of frames in ascending slot order. */
struct lm_track_dirty {
	uint64_t round;
	size_t nr_runs;
	struct lm_gfn_run *runs;
	size_t nr_slots;
	struct lm_track_slot *slots;
};

int lm_nl_track_start(struct lm_nl *nl, uint32_t id);
int lm_nl_track_stop(struct lm_nl *nl, uint32_t id);
/* Close a round; free the report with lm_track_round_free(), always. */
int lm_nl_track_sync(struct lm_nl *nl, uint32_t id,
		     struct lm_track_round *round);
void lm_track_round_free(struct lm_track_round *round);
/*
 * The last synced round's dirty pages (-EAGAIN if a sync or stop cut the
 * dump short). Free with lm_track_dirty_free(), always.
 */
int lm_nl_track_get(struct lm_nl *nl, uint32_t id,
		    struct lm_track_dirty *dirty);
void lm_track_dirty_free(struct lm_track_dirty *dirty);

/*
 * Migration (LM_CMD_LISTEN..LM_CMD_STATUS). Addresses are 4 (IPv4) or 16
 * (IPv6) bytes in network order, ports in host order.
 */
struct lm_xfer_status {
	uint32_t vm_id;
	uint32_t role;			/* enum lm_wire_role */
	uint32_t mode;			/* enum lm_wire_mode */
	uint32_t phase;			/* enum lm_xfer_phase */
	uint32_t round;
	uint64_t dirty_pages;		/* live: left for the next round */
	uint64_t pages;
	uint64_t zero_pages;
	uint64_t hole_pages;		/* of the zero pages, unbacked: not read */
	uint64_t total_pages;
	uint64_t bytes;
	uint64_t state_size;
	uint64_t elapsed_ns;
	uint64_t stopcopy_ns;
	uint64_t cpu_ns;
	uint32_t compress;		/* enum lm_xfer_compress */
	uint64_t data_bytes;		/* page data, uncompressed */
	uint64_t wire_data_bytes;	/* the same as it went on the wire */
	uint64_t zstd_batches;		/* PAGES frames sent compressed */
	/* Set when the transfer failed (phase LM_PHASE_FAILED). */
	uint32_t reason;		/* enum lm_wire_reason */
	uint32_t err;			/* positive errno */
	uint32_t failed_phase;
	char message[160];
};

int lm_nl_listen(struct lm_nl *nl, uint32_t id, const void *addr,
		 size_t addr_len, uint16_t port, int state_fd,
		 uint32_t recv_method, uint16_t *bound_port);
/*
 * The connection of LISTEN and MIGRATE: with sock_fd > 0, that connected
 * TCP socket (LM_A_XFER_SOCK_FD), which the kernel refuses without kTLS
 * unless @insecure; else lm makes a plain TCP socket for the address and
 * port given (LM_A_XFER_ADDR, LM_A_XFER_PORT), which is always insecure:
 * these requests carry LM_A_XFER_INSECURE (tests and benchmarks).
 */

/* LISTEN's options; 0 (or false) leaves the kernel's default. */
struct lm_listen_opts {
	uint32_t recv_method;		/* enum lm_xfer_recv_method */
	bool key_by_backing;		/* LM_A_XFER_KEY_BY_BACKING */
	int sock_fd;			/* LM_A_XFER_SOCK_FD if > 0 */
	bool insecure;			/* with sock_fd: LM_A_XFER_INSECURE */
};

int lm_nl_listen_opts(struct lm_nl *nl, uint32_t id, const void *addr,
		      size_t addr_len, uint16_t port, int state_fd,
		      const struct lm_listen_opts *opts, uint16_t *bound_port);
/* MIGRATE's options; 0 (or false) leaves the kernel's default. */
struct lm_migrate_opts {
	uint32_t mode;			/* enum lm_wire_mode */
	uint32_t send_method;		/* enum lm_xfer_send_method */
	bool no_data_crc;
	uint32_t max_rounds;		/* live */
	uint32_t max_downtime_ms;	/* live */
	uint64_t bandwidth;		/* live pre-copy, bytes/s; 0: any */
	bool key_by_backing;		/* LM_A_XFER_KEY_BY_BACKING */
	int sock_fd;			/* LM_A_XFER_SOCK_FD if > 0 */
	bool insecure;			/* with sock_fd: LM_A_XFER_INSECURE */
	uint32_t compress;		/* enum lm_xfer_compress */
	uint32_t compress_level;	/* zstd level; 0: the kernel's */
};

int lm_nl_migrate(struct lm_nl *nl, uint32_t id, const void *addr,
		  size_t addr_len, uint16_t port,
		  const struct lm_migrate_opts *opts);
int lm_nl_switchover(struct lm_nl *nl, uint32_t id, int state_fd);
/* @reason: 0 when the destination VMM runs the VM, else why not. */
int lm_nl_complete(struct lm_nl *nl, uint32_t id, uint32_t reason);
int lm_nl_cancel(struct lm_nl *nl, uint32_t id);
int lm_nl_xfer_status(struct lm_nl *nl, uint32_t id,
		      struct lm_xfer_status *st);

/*
 * Transfer events: a second socket, subscribed to the "xfer" multicast
 * group. lm_nl_event_wait() returns 0 with the next event in *st,
 * -ETIMEDOUT after @timeout_ms (-1: no limit), or -errno. Events can be
 * lost when the socket's queue overflows: use STATUS as the reference.
 */
int lm_nl_events_open(struct lm_nl **evp);
int lm_nl_event_wait(struct lm_nl *ev, int timeout_ms,
		     struct lm_xfer_status *st);

#endif /* LM_NL_H */

/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * lm: live migration of KVM virtual machines, done in the kernel.
 *
 * Generic netlink API
 * ===================
 *
 * The module registers the generic netlink family LM_GENL_NAME ("lm"),
 * version LM_GENL_VERSION. The version changes only with an incompatible
 * change of a command or attribute: a tool of another version must not use
 * the family (lmctl refuses to). New commands and attributes keep it. The
 * release version (LM_A_INFO_MODULE_VERSION) is not part of the ABI. The
 * family is usable from every network namespace.
 * Every command but LM_CMD_GET_INFO requires CAP_NET_ADMIN in the initial
 * user namespace (GENL_ADMIN_PERM), whatever the caller's namespaces.
 *
 * Authority over a VM (Documentation/security.rst): a VM belongs to the
 * network namespace of the socket that attached it, and only a caller who
 * may ptrace its VMM may act on it. Every command naming a VM (LM_A_VM_ID)
 * is refused, before anything else about the VM is checked, with
 *   -ENOENT "No attached VM has this id" when asked on a socket of another
 *           network namespace: there the VM does not exist;
 *   -EPERM  "Not allowed to ptrace the VMM of this VM" when the caller may
 *           not ptrace the VMM (its real uid and gid are not all of the
 *           VMM's, or it has fewer capabilities, and it lacks
 *           CAP_SYS_PTRACE over the VMM), asked again at every command.
 * Once the VMM has exited, the credentials that attached the VM stand in
 * for it. When the network namespace a VM belongs to goes away, lm
 * detaches the VM (after a transfer still running in it has ended). A LIST dump shows only the VMs the caller may act on. VM ids are
 * never reused while the module is loaded: the id of a detached VM gets
 * -ENOENT, even after later attaches.
 *
 * Requests are validated strictly: unknown attributes, wrong lengths and
 * trailing garbage are rejected with -EINVAL, and values outside an
 * attribute's range (a VM id or pid of 0) with -ERANGE. Every error carries
 * an extended ack message saying what was wrong (and, for a missing
 * attribute, NLMSGERR_ATTR_MISS_TYPE naming it); tools should print it. The
 * one exception is -EPERM from the GENL_ADMIN_PERM check, which the generic
 * netlink core reports without a message.
 *
 * Attributes not listed for a command are rejected. "(required)" means the
 * command fails with -EINVAL and an extack message when it is missing.
 *
 * LM_CMD_GET_INFO
 *   Request: no attributes. Unprivileged.
 *   Reply:   LM_A_INFO_MODULE_VERSION   NLA_NUL_STRING, e.g. "0.1.0"
 *            LM_A_INFO_WIRE_VERSION     NLA_U32, migration protocol version
 *            LM_A_INFO_FEATURES         NLA_U64, bit mask of enum lm_feature
 *            LM_A_INFO_KERNEL_RELEASE   NLA_NUL_STRING, the running kernel
 *
 * LM_CMD_ATTACH
 *   Attach a KVM virtual machine to lm. lm takes its own reference on the
 *   VM's file, so the VM outlives its VMM's file descriptor until it is
 *   detached (or the module is unloaded).
 *   Request: LM_A_VM_FD    NLA_U32 (required): a file descriptor, in the
 *                          caller's file table, of a KVM VM (the fd that
 *                          KVM_CREATE_VM returned, "anon_inode:kvm-vm").
 *                          Anything else fails with -EBADF (not an open
 *                          fd) or -EINVAL (not a KVM VM).
 *            LM_A_VM_PID   NLA_U32 (optional): the pid, in the caller's
 *                          pid namespace, of the VMM owning the VM. The
 *                          caller must be allowed to ptrace it (-EPERM, "Not
 *                          allowed to ptrace this process") and it must be
 *                          the process whose address space the VM uses,
 *                          or -ESRCH / -EINVAL. Without it the caller itself
 *                          must be that process.
 *   Reply:   LM_A_VM_ID    NLA_U32, the id naming this VM in later commands:
 *                          greater than every id given before.
 *   Attaching a VM that is already attached fails with -EEXIST; once 2^31
 *   VMs were attached, ATTACH fails with -ENOSPC. The VM belongs from now on
 *   to the network namespace of the request's socket (see above).
 *
 * LM_CMD_DETACH
 *   Request: LM_A_VM_ID    NLA_U32 (required). Unknown ids: -ENOENT.
 *   Drops lm's reference; the VM is destroyed if nothing else holds it.
 *
 * LM_CMD_LIST
 *   As a dump (NLM_F_DUMP): lists every attached VM the caller may act
 *   on, or with LM_A_VM_ID only that one (an unknown id, or a VM the caller
 *   may not act on, gives an empty dump).
 *   Otherwise: LM_A_VM_ID (required) lists that VM (-ENOENT if unknown).
 *   Reply:   one or more messages per attached VM, each with
 *            LM_A_VM_ID           NLA_U32
 *            LM_A_VM_PID          NLA_U32, the owner's pid in the caller's
 *                                 pid namespace (0 if not visible there)
 *            LM_A_VM_OWNER_ALIVE  NLA_U8, 1 while the VMM's address space
 *                                 exists (0 once the VMM has exited)
 *            LM_A_VM_NR_VCPUS     NLA_U32
 *            LM_A_VM_MEMSLOTS     NLA_NESTED, an array of nests, each
 *                                 holding LM_MEMSLOT_A_* attributes:
 *              LM_MEMSLOT_A_ID     NLA_U32, slot id within its space
 *              LM_MEMSLOT_A_AS_ID  NLA_U32, address space (x86: 1 = SMM)
 *              LM_MEMSLOT_A_GPA    NLA_U64, guest physical base address
 *              LM_MEMSLOT_A_SIZE   NLA_U64, bytes
 *              LM_MEMSLOT_A_FLAGS  NLA_U32, KVM_MEM_* flags
 *              LM_MEMSLOT_A_HVA    NLA_U64, host virtual address in the
 *                                  VMM's address space
 *   Memslots come in address-space, then guest-physical order. In a dump,
 *   a VM with more memslots than fit in one message is continued in the
 *   next message with the same LM_A_VM_ID; readers merge them.
 *
 * Dirty tracking (LM_FEATURE_DIRTY_TRACK; Documentation/dirty-tracking.rst)
 *
 * A tracking session counts rounds: TRACK_START opens round 0, each
 * TRACK_SYNC closes the current round and reports the guest pages written
 * in it, that is since the previous TRACK_SYNC (or TRACK_START). A page
 * written by the guest is reported in the round it was written in or, if
 * written while a round was being harvested, in that round or the next.
 * Reports may include pages that were not written (a whole slot that
 * changed, see LM_TRACK_SLOT_*), never miss one the guest wrote.
 *
 * Host writes: pages written through a host mapping of guest memory (the
 * VMM's device emulation, vhost, another process sharing the memory),
 * which KVM's dirty log does not see, are reported the same way when the
 * memory is a shared shmem mapping (memfd, tmpfs, /dev/shm) of the VMM,
 * unless the module parameter track_host_writes was off when tracking
 * started (a debugging knob: migration is then inexact for VMMs whose
 * devices write guest memory). Private memory (anonymous, as lmvm's) is
 * not covered: only the VMM itself can write it from the host.
 *
 * LM_CMD_TRACK_START
 *   Request: LM_A_VM_ID (required).
 *   Turns KVM dirty logging on for every memslot of the VM. Fails with
 *   -EBUSY if tracking already runs on the VM, -EOPNOTSUPP if the VMM
 *   enabled KVM's dirty ring (KVM_CAP_DIRTY_LOG_RING), -ESRCH if the VMM
 *   has exited, -ENOENT for an unknown or detached VM, -EOPNOTSUPP if
 *   a slot lies in a shared mapping of a file that is not shmem
 *   (hugetlbfs, a disk file) while host writes are tracked.
 *
 * LM_CMD_TRACK_SYNC
 *   Request: LM_A_VM_ID (required).
 *   Fails with -EBUSY ("A live migration of this VM owns its dirty
 *   tracking") while a live migration of the VM tracks it, as TRACK_GET and
 *   TRACK_STOP do: its rounds are the migration's own.
 *   Harvests one round: KVM's dirty log of every slot is read and the pages
 *   write-protected again in the same step. Fails with -ENOENT when no
 *   tracking runs and -ESRCH once the VMM has exited. A failed round loses
 *   nothing: the next successful round reports every slot wholly dirty.
 *   Reply:   LM_A_VM_ID
 *            LM_A_TRACK_ROUND        NLA_U64, the round just closed (1, 2..)
 *            LM_A_TRACK_PAGES        NLA_U64, pages in all current slots
 *            LM_A_TRACK_DIRTY        NLA_U64, pages dirty in this round
 *            LM_A_TRACK_HARVEST_NS   NLA_U64, time spent harvesting KVM's
 *                                    logs and counting, in nanoseconds
 *            LM_A_TRACK_MANUAL_PROTECT NLA_U8, 1 if the VMM had enabled
 *                                    KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2
 *            LM_A_TRACK_HOST_WRITES  NLA_U8, 1 if host writes are tracked
 *                                    in this session; if so:
 *            LM_A_TRACK_HOST_DIRTY   NLA_U64, host pages found written
 *                                    through a host mapping (each counted
 *                                    once, whatever slots alias it; pages
 *                                    the guest wrote are among them, KVM
 *                                    faults those in dirty in the VMM's
 *                                    page table); they are in
 *                                    LM_A_TRACK_DIRTY and the runs
 *            LM_A_TRACK_HOST_ONLY    NLA_U64, of which KVM's dirty log had
 *                                    none (writes only the host made)
 *            LM_A_TRACK_HOST_NS      NLA_U64, of LM_A_TRACK_HARVEST_NS, the
 *                                    time the host-write walk took
 *            LM_A_TRACK_SLOTS        NLA_NESTED, an array of nests, one per
 *                                    memslot (and per slot deleted in this
 *                                    round), each with LM_TRACK_SLOT_A_*:
 *              LM_TRACK_SLOT_A_ID     NLA_U32, slot id within its space
 *              LM_TRACK_SLOT_A_AS_ID  NLA_U32, address space
 *              LM_TRACK_SLOT_A_GFN    NLA_U64, first guest frame number
 *              LM_TRACK_SLOT_A_PAGES  NLA_U64, pages in the slot
 *              LM_TRACK_SLOT_A_DIRTY  NLA_U64, pages dirty in this round
 *              LM_TRACK_SLOT_A_STATE  NLA_U32, enum lm_track_slot_state
 *
 * LM_CMD_TRACK_GET (dump)
 *   Request: LM_A_VM_ID (required).
 *   Dumps the dirty pages of the last round closed by TRACK_SYNC (-ENODATA
 *   before the first one). Each message holds LM_A_VM_ID, LM_A_TRACK_ROUND,
 *   LM_A_TRACK_SLOT (one nest of LM_TRACK_SLOT_A_*) and LM_A_TRACK_RUNS
 *   (NLA_BINARY): an array of struct lm_gfn_run, in ascending order. A slot
 *   with more runs than fit in one message continues in the next message
 *   with the same slot. If a TRACK_SYNC or TRACK_STOP intervenes, the dump
 *   is flagged NLM_F_DUMP_INTR (or ends with -ENOENT) and must be redone.
 *
 * LM_CMD_TRACK_STOP
 *   Request: LM_A_VM_ID (required).
 *   Ends tracking: logging is turned off again on the slots lm turned it on
 *   (slots the VMM logs itself are left as they are). -ENOENT when no
 *   tracking runs. DETACH and module unload stop tracking implicitly.
 *
 * Migration (LM_FEATURE_MIGRATE; Documentation/protocol.rst)
 *
 * A transfer moves one attached VM over TCP, in the network namespace of
 * the requesting socket, to or from a peer lm. lm moves memory; the VMM's
 * CPU and device state travels as an opaque blob that lmctl obtains from
 * the source VMM and hands to the destination VMM, by file descriptor. The
 * netlink socket that sent LISTEN or MIGRATE owns the transfer: when it is
 * closed (the tool exited or was killed) the transfer is cancelled. One
 * transfer per VM; a finished one stays visible to STATUS until the next.
 *
 * The connection (LISTEN and MIGRATE alike; Documentation/security.rst)
 *   LM_A_XFER_SOCK_FD   NLA_U32, a connected TCP socket in the requester's
 *                       file table and network namespace, which the tool
 *                       authenticated (TLS 1.3) and gave its session keys
 *                       (kTLS: TCP_ULP "tls", TLS_TX and TLS_RX). lm holds
 *                       a reference to its file until the transfer ends.
 *                       Refused: not a socket (-ENOTSOCK, -EBADF), not TCP
 *                       or in another namespace (-EINVAL), not connected
 *                       (-ENOTCONN), without kTLS both ways and without
 *                       LM_A_XFER_INSECURE (-EPERM).
 *   LM_A_XFER_ADDR, LM_A_XFER_PORT instead: lm listens (LISTEN) or connects
 *                       (MIGRATE) itself, over plain TCP: only with
 *                       LM_A_XFER_INSECURE (-EPERM otherwise).
 *   LM_A_XFER_INSECURE  NLA_FLAG: the requester accepts a connection
 *                       without authentication or encryption. lm's ABORT
 *                       frames then carry a generic message only.
 *
 * LM_CMD_LISTEN (destination)
 *   Request: LM_A_VM_ID          (required) a VM whose VMM created memory
 *                                and vCPUs but runs nothing yet
 *            the connection      (required) see above: LM_A_XFER_SOCK_FD,
 *                                or LM_A_XFER_ADDR, NLA_BINARY, 4 (IPv4)
 *                                or 16 (IPv6) bytes in network order, and
 *                                LM_A_XFER_PORT, NLA_U16, 0 picks a free
 *                                port
 *            LM_A_XFER_STATE_FD  (required) NLA_U32, a regular file opened
 *                                for writing: receives the state blob
 *            LM_A_XFER_RECV_METHOD NLA_U32, enum lm_xfer_recv_method
 *            LM_A_XFER_KEY_BY_BACKING NLA_FLAG, see "Keyed by backing"
 *   Reply:   LM_A_VM_ID, LM_A_XFER_PORT (the bound port; with a socket,
 *            its local port).
 *   Accepts one connection (none with a socket: it is the connection);
 *   pages land straight in guest memory. After
 *   COMMIT the phase is LM_PHASE_COMMIT: the tool loads the state into the
 *   VMM, resumes it and reports the outcome with COMPLETE.
 *
 * LM_CMD_MIGRATE (source)
 *   Request: LM_A_VM_ID, the connection (required; see above),
 *            LM_A_XFER_MODE      NLA_U32, enum lm_wire_mode (default quick)
 *            LM_A_XFER_SEND_METHOD NLA_U32, enum lm_xfer_send_method
 *                                (LM_SEND_ZEROCOPY on a kTLS socket:
 *                                -EOPNOTSUPP)
 *            LM_A_XFER_NO_DATA_CRC NLA_FLAG: do not checksum page data
 *                                (headers and descriptors still are);
 *                                for measuring what the checksum costs
 *            LM_A_XFER_MAX_ROUNDS  NLA_U32, live: dirty rounds after the
 *                                full one before switching over anyway
 *                                (default 30)
 *            LM_A_XFER_MAX_DOWNTIME_MS NLA_U32, 1 to 30000, live: switch
 *                                over once the dirty pages left would
 *                                take less than this at the last round's
 *                                bandwidth (default 300)
 *            LM_A_XFER_BANDWIDTH NLA_U64, bytes per second of page data
 *                                the pre-copy may send while the guest
 *                                runs (0 or absent: as fast as the link
 *                                goes). The stop-and-copy is never
 *                                limited: the guest is paused then. The
 *                                downtime estimate uses the bandwidth
 *                                measured, so it honours the limit.
 *            LM_A_XFER_KEY_BY_BACKING NLA_FLAG, see "Keyed by backing"
 *            LM_A_XFER_COMPRESS  NLA_U32, enum lm_xfer_compress (default
 *                                none): LM_COMPRESS_ZSTD compresses each
 *                                PAGES batch's page data with the
 *                                kernel's zstd and sends it compressed
 *                                when that makes it smaller. Negotiated
 *                                in the handshake: a destination that
 *                                cannot decompress fails the transfer
 *                                (LM_WIRE_REASON_FEATURES). The pre-copy
 *                                bandwidth limit then counts compressed
 *                                bytes: those are what the link carries
 *            LM_A_XFER_COMPRESS_LEVEL NLA_U32, zstd level,
 *                                LM_COMPRESS_LEVEL_MIN to _MAX (default
 *                                1); only with LM_COMPRESS_ZSTD (-EINVAL
 *                                otherwise)
 *   Live mode turns dirty tracking on (as TRACK_START; -EBUSY if it
 *   already runs) for the duration of the transfer; a VM using KVM's
 *   dirty ring is refused at once with -EOPNOTSUPP (quick mode moves it).
 *   Connects (unless given a socket), handshakes and sends CONFIG; a
 *   destination that refuses ends the transfer in LM_PHASE_FAILED with
 *   LM_A_XFER_REASON and its message.
 *   Then (after the pre-copy rounds in live mode) the phase is
 *   LM_PHASE_WAIT_SWITCHOVER: the tool pauses the VM, saves its state and
 *   sends SWITCHOVER.
 *
 * Keyed by backing (LM_A_XFER_KEY_BY_BACKING, on MIGRATE and LISTEN alike)
 *   Without the flag, guest memory is moved memory slot by memory slot and
 *   both VMs must have the same slots. With it, memory is moved by RAM
 *   backing: every shared file mapping of the VMM (MAP_SHARED, e.g. QEMU's
 *   memory-backend-file or memfd with share=on) that a memory slot of
 *   either address space maps into is sent whole, each page to the same
 *   offset of the destination's backing, whatever slots alias it (PAM,
 *   SMRAM) at the time. Slots in private memory (a VMM's ROM blocks) are
 *   not moved: the VMM's own state stream must carry them. The two sides
 *   must have the same number of backings, of the same sizes, in the
 *   order of the lowest guest physical address mapping each (address
 *   space 0 first); a difference fails the destination's CONFIG check.
 *   Both sides must be given the flag, or neither: otherwise the
 *   handshake fails (LM_WIRE_REASON_FEATURES). LM_A_XFER_TOTAL_PAGES then
 *   counts the backings' pages.
 *
 * LM_CMD_SWITCHOVER (source)
 *   Request: LM_A_VM_ID, LM_A_XFER_STATE_FD (required): the VM is paused
 *            and the file (opened for reading) holds its state blob.
 *   -EINVAL unless the transfer waits for it. The remaining memory, the
 *   state and COMMIT are sent; LM_PHASE_DONE once the destination
 *   acknowledged. After COMMIT the source must stay paused unless the
 *   transfer failed with a reason the destination sent (ABORT).
 *
 * LM_CMD_COMPLETE (destination)
 *   Request: LM_A_VM_ID (required), LM_A_XFER_REASON (NLA_U32, 0 or
 *            absent: the VMM loaded the state and runs the VM; otherwise
 *            enum lm_wire_reason, sent to the source in ABORT).
 *
 * LM_CMD_CANCEL
 *   Request: LM_A_VM_ID (required). Stops the transfer; the peer sees the
 *   connection close. -ENOENT when none runs.
 *
 * LM_CMD_STATUS
 *   Request: LM_A_VM_ID (required). -ENOENT if the VM never had a transfer.
 *   Reply:   LM_A_VM_ID
 *            LM_A_XFER_ROLE        NLA_U32, enum lm_wire_role
 *            LM_A_XFER_MODE        NLA_U32
 *            LM_A_XFER_PHASE       NLA_U32, enum lm_xfer_phase
 *            LM_A_XFER_ROUND       NLA_U32
 *            LM_A_XFER_DIRTY_PAGES NLA_U64, live: pages the next round
 *                                  has to send
 *            LM_A_XFER_PAGES       NLA_U64, pages sent/received
 *            LM_A_XFER_ZERO_PAGES  NLA_U64, of which zero (no data)
 *            LM_A_XFER_HOLE_PAGES  NLA_U64, of which no memory backed
 *                                  (never written): sent (source) or
 *                                  left (destination) without reading,
 *                                  pinning or allocating them
 *            LM_A_XFER_TOTAL_PAGES NLA_U64, guest memory in pages
 *            LM_A_XFER_BYTES       NLA_U64, wire bytes both ways
 *            LM_A_XFER_STATE_SIZE  NLA_U64
 *            LM_A_XFER_ELAPSED_NS  NLA_U64, since LISTEN/MIGRATE
 *            LM_A_XFER_STOPCOPY_NS NLA_U64, source: SWITCHOVER to ACK
 *            LM_A_XFER_CPU_NS      NLA_U64, CPU time of the transfer thread
 *            LM_A_XFER_COMPRESS    NLA_U32, enum lm_xfer_compress in use
 *                                  (the destination: as negotiated)
 *            LM_A_XFER_DATA_BYTES  NLA_U64, page data of the PAGES frames
 *                                  sent/received, uncompressed
 *            LM_A_XFER_WIRE_DATA_BYTES NLA_U64, the same as it went on the
 *                                  wire: smaller by what compression saved
 *                                  (equal without compression)
 *            LM_A_XFER_ZSTD_BATCHES NLA_U64, PAGES frames sent compressed
 *            LM_A_XFER_REASON      NLA_U32, enum lm_wire_reason (failed)
 *            LM_A_XFER_ERRNO       NLA_U32, positive errno (failed)
 *            LM_A_XFER_MESSAGE     NLA_NUL_STRING, why it failed
 *            LM_A_XFER_FAILED_PHASE NLA_U32, the phase it failed in: a
 *                                  source that failed in LM_PHASE_COMMIT
 *                                  without LM_A_XFER_ERRNO ECONNABORTED
 *                                  (the destination's ABORT) cannot know
 *                                  whether the destination runs the VM
 *
 * LM_CMD_EVENT
 *   Not a request: sent to the multicast group LM_MCGRP_XFER_NAME ("xfer")
 *   at every phase change and round end, with the attributes of STATUS,
 *   in the network namespace of the VM only. Joining the group needs
 *   CAP_NET_ADMIN over the socket's network namespace (-EPERM otherwise);
 *   every member there gets the events of every VM of the namespace.
 */

#ifndef _UAPI_LINUX_LM_H
#define _UAPI_LINUX_LM_H

#include <linux/types.h>

#define LM_GENL_NAME		"lm"
#define LM_GENL_VERSION		1

/*
 * Version of the migration wire protocol: lm_wire.h defines it as well,
 * identically, so that either header can be included alone.
 */
#define LM_WIRE_VERSION		1

enum lm_cmd {
	LM_CMD_UNSPEC,
	LM_CMD_GET_INFO,
	LM_CMD_ATTACH,
	LM_CMD_DETACH,
	LM_CMD_LIST,
	LM_CMD_TRACK_START,
	LM_CMD_TRACK_SYNC,
	LM_CMD_TRACK_GET,
	LM_CMD_TRACK_STOP,
	LM_CMD_LISTEN,
	LM_CMD_MIGRATE,
	LM_CMD_SWITCHOVER,
	LM_CMD_COMPLETE,
	LM_CMD_CANCEL,
	LM_CMD_STATUS,
	LM_CMD_EVENT,
	__LM_CMD_MAX
};
#define LM_CMD_MAX (__LM_CMD_MAX - 1)

/* Bits of LM_A_INFO_FEATURES: what this build of the module can do. */
enum lm_feature {
	LM_FEATURE_ATTACH	= 1 << 0,
	LM_FEATURE_DIRTY_TRACK	= 1 << 1,
	LM_FEATURE_MIGRATE	= 1 << 2,
	/* MIGRATE takes LM_A_XFER_COMPRESS; LISTEN decompresses zstd. */
	LM_FEATURE_COMPRESS	= 1 << 3,
};

enum lm_attr {
	LM_A_UNSPEC,
	LM_A_PAD,
	LM_A_INFO_MODULE_VERSION,
	LM_A_INFO_WIRE_VERSION,
	LM_A_INFO_FEATURES,
	LM_A_INFO_KERNEL_RELEASE,
	LM_A_VM_ID,
	LM_A_VM_FD,
	LM_A_VM_PID,
	LM_A_VM_OWNER_ALIVE,
	LM_A_VM_NR_VCPUS,
	LM_A_VM_MEMSLOTS,
	LM_A_TRACK_ROUND,
	LM_A_TRACK_PAGES,
	LM_A_TRACK_DIRTY,
	LM_A_TRACK_HARVEST_NS,
	LM_A_TRACK_MANUAL_PROTECT,
	LM_A_TRACK_SLOTS,
	LM_A_TRACK_SLOT,
	LM_A_TRACK_RUNS,
	LM_A_XFER_ADDR,
	LM_A_XFER_PORT,
	LM_A_XFER_MODE,
	LM_A_XFER_STATE_FD,
	LM_A_XFER_SEND_METHOD,
	LM_A_XFER_RECV_METHOD,
	LM_A_XFER_ROLE,
	LM_A_XFER_PHASE,
	LM_A_XFER_ROUND,
	LM_A_XFER_PAGES,
	LM_A_XFER_ZERO_PAGES,
	LM_A_XFER_TOTAL_PAGES,
	LM_A_XFER_BYTES,
	LM_A_XFER_STATE_SIZE,
	LM_A_XFER_ELAPSED_NS,
	LM_A_XFER_STOPCOPY_NS,
	LM_A_XFER_CPU_NS,
	LM_A_XFER_REASON,
	LM_A_XFER_ERRNO,
	LM_A_XFER_MESSAGE,
	LM_A_XFER_FAILED_PHASE,
	LM_A_XFER_NO_DATA_CRC,
	LM_A_XFER_MAX_ROUNDS,
	LM_A_XFER_MAX_DOWNTIME_MS,
	LM_A_XFER_DIRTY_PAGES,
	LM_A_XFER_BANDWIDTH,
	LM_A_XFER_KEY_BY_BACKING,
	LM_A_TRACK_HOST_WRITES,
	LM_A_TRACK_HOST_DIRTY,
	LM_A_TRACK_HOST_ONLY,
	LM_A_TRACK_HOST_NS,
	LM_A_XFER_SOCK_FD,		/* NLA_U32 */
	LM_A_XFER_INSECURE,		/* NLA_FLAG */
	LM_A_XFER_HOLE_PAGES,
	LM_A_XFER_COMPRESS,		/* NLA_U32, enum lm_xfer_compress */
	LM_A_XFER_COMPRESS_LEVEL,	/* NLA_U32 */
	LM_A_XFER_DATA_BYTES,		/* NLA_U64 */
	LM_A_XFER_WIRE_DATA_BYTES,	/* NLA_U64 */
	LM_A_XFER_ZSTD_BATCHES,		/* NLA_U64 */
	__LM_A_MAX
};
#define LM_A_MAX (__LM_A_MAX - 1)

enum lm_memslot_attr {
	LM_MEMSLOT_A_UNSPEC,
	LM_MEMSLOT_A_PAD,
	LM_MEMSLOT_A_ID,
	LM_MEMSLOT_A_AS_ID,
	LM_MEMSLOT_A_GPA,
	LM_MEMSLOT_A_SIZE,
	LM_MEMSLOT_A_FLAGS,
	LM_MEMSLOT_A_HVA,
	__LM_MEMSLOT_A_MAX
};
#define LM_MEMSLOT_A_MAX (__LM_MEMSLOT_A_MAX - 1)

enum lm_track_slot_attr {
	LM_TRACK_SLOT_A_UNSPEC,
	LM_TRACK_SLOT_A_PAD,
	LM_TRACK_SLOT_A_ID,
	LM_TRACK_SLOT_A_AS_ID,
	LM_TRACK_SLOT_A_GFN,
	LM_TRACK_SLOT_A_PAGES,
	LM_TRACK_SLOT_A_DIRTY,
	LM_TRACK_SLOT_A_STATE,
	__LM_TRACK_SLOT_A_MAX
};
#define LM_TRACK_SLOT_A_MAX (__LM_TRACK_SLOT_A_MAX - 1)

/*
 * How a memslot was tracked in a round (LM_TRACK_SLOT_A_STATE).
 *
 * LOGGED      harvested from KVM's dirty log: exactly the pages written.
 * NEW         created, moved, or re-flagged by the VMM (losing the logging
 *             flag) since the previous round: every page is reported dirty
 *             and the slot is logged from now on.
 * VMM_LOGGED  the VMM itself turned logging on for this slot and harvests
 *             it; lm leaves its log alone and reports every page dirty in
 *             every round.
 * READONLY    a KVM_MEM_READONLY slot: the guest cannot write it; never
 *             dirty.
 * REMOVED     deleted by the VMM in this round; reported once, no pages.
 */
enum lm_track_slot_state {
	LM_TRACK_SLOT_LOGGED,
	LM_TRACK_SLOT_NEW,
	LM_TRACK_SLOT_VMM_LOGGED,
	LM_TRACK_SLOT_READONLY,
	LM_TRACK_SLOT_REMOVED,
};

/* An element of LM_A_TRACK_RUNS: npages dirty pages from frame gfn on. */
struct lm_gfn_run {
	__u64 gfn;
	__u64 npages;
};

/* Multicast group of LM_CMD_EVENT. */
#define LM_MCGRP_XFER_NAME	"xfer"

/* Phases of a transfer (LM_A_XFER_PHASE), in the order they happen. */
enum lm_xfer_phase {
	LM_PHASE_NONE,
	LM_PHASE_LISTENING,		/* destination: waiting for the source */
	LM_PHASE_CONNECTING,		/* source: connecting */
	LM_PHASE_HANDSHAKE,
	LM_PHASE_CONFIG,		/* layout sent / being checked */
	LM_PHASE_PRECOPY,		/* live: rounds while the guest runs */
	LM_PHASE_WAIT_SWITCHOVER,	/* source: waiting for SWITCHOVER */
	LM_PHASE_STOPCOPY,		/* memory of the paused guest */
	LM_PHASE_STATE,			/* the state blob */
	LM_PHASE_COMMIT,		/* waiting for the resume verdict */
	LM_PHASE_DONE,
	LM_PHASE_FAILED,
};

/*
 * How the source hands pages to TCP (LM_A_XFER_SEND_METHOD); the default
 * is the fastest measured (Documentation/performance.rst). The others are
 * kept for measurement.
 */
enum lm_xfer_send_method {
	LM_SEND_DEFAULT,
	LM_SEND_SENDPAGE,	/* pinned pages by reference (sendpage) */
	LM_SEND_COPY,		/* pinned pages copied into socket buffers */
	LM_SEND_ZEROCOPY,	/* MSG_ZEROCOPY over a bio_vec */
	__LM_SEND_MAX
};

/*
 * How the source compresses page data (LM_A_XFER_COMPRESS). A batch goes
 * compressed only when that makes it smaller; otherwise as without.
 */
enum lm_xfer_compress {
	LM_COMPRESS_NONE,
	LM_COMPRESS_ZSTD,	/* the kernel's zstd, LM_WIRE_F_ZSTD */
	__LM_COMPRESS_MAX
};

/* LM_A_XFER_COMPRESS_LEVEL: zstd levels lm accepts, and its default. */
#define LM_COMPRESS_LEVEL_MIN		1
#define LM_COMPRESS_LEVEL_MAX		9
#define LM_COMPRESS_LEVEL_DEFAULT	1

/* How the destination lands pages in guest memory (LM_A_XFER_RECV_METHOD). */
enum lm_xfer_recv_method {
	LM_RECV_DEFAULT,
	LM_RECV_PIN,		/* pin the guest pages, receive into them */
	LM_RECV_USER,		/* receive into the VMM's user addresses */
	__LM_RECV_MAX
};

#endif /* _UAPI_LINUX_LM_H */

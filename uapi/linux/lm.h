/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * lm: live migration of KVM virtual machines, done in the kernel.
 *
 * Generic netlink API
 * ===================
 *
 * The module registers the generic netlink family LM_GENL_NAME ("lm"),
 * version LM_GENL_VERSION. The family is usable from every network namespace.
 * Every command that changes state requires CAP_NET_ADMIN in the user
 * namespace owning the caller's network namespace (GENL_ADMIN_PERM); so do
 * the commands that reveal another process's address space (LM_CMD_LIST).
 * Requests are validated strictly: unknown attributes, wrong lengths and
 * trailing garbage are rejected with -EINVAL. Every error carries an extended
 * ack message saying what was wrong; tools should print it.
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
 *                          pid namespace, of the VMM owning the VM. It must
 *                          be the process whose address space the VM uses,
 *                          or -ESRCH / -EINVAL. Without it the caller itself
 *                          must be that process.
 *   Reply:   LM_A_VM_ID    NLA_U32, the id naming this VM in later commands.
 *   Attaching a VM that is already attached fails with -EEXIST.
 *
 * LM_CMD_DETACH
 *   Request: LM_A_VM_ID    NLA_U32 (required). Unknown ids: -ENOENT.
 *   Drops lm's reference; the VM is destroyed if nothing else holds it.
 *
 * LM_CMD_LIST
 *   As a dump (NLM_F_DUMP): lists every attached VM, or with LM_A_VM_ID
 *   only that one (an unknown id gives an empty dump).
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
 */

#ifndef _UAPI_LINUX_LM_H
#define _UAPI_LINUX_LM_H

#define LM_GENL_NAME		"lm"
#define LM_GENL_VERSION		1

/* Version of the migration wire protocol (see lm_wire.h). */
#define LM_WIRE_VERSION		1

enum lm_cmd {
	LM_CMD_UNSPEC,
	LM_CMD_GET_INFO,
	LM_CMD_ATTACH,
	LM_CMD_DETACH,
	LM_CMD_LIST,
	__LM_CMD_MAX
};
#define LM_CMD_MAX (__LM_CMD_MAX - 1)

/* Bits of LM_A_INFO_FEATURES: what this build of the module can do. */
enum lm_feature {
	LM_FEATURE_ATTACH	= 1 << 0,
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

#endif /* _UAPI_LINUX_LM_H */

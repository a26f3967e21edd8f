/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lmvm's saved state: a versioned binary format, all little-endian, every
 * field of fixed size. Documentation/lmvm.rst describes it in full.
 *
 *   file    = header, sections...
 *   header  = 64 bytes (struct lmvm_state_header)
 *   section = 16-byte section header, payload, zero padding to 8 bytes
 *
 * The body digest (hash64() of every byte after the header) and the total
 * size in the header catch truncated and corrupted files before anything is
 * loaded. Payloads of the KVM_* sections are the x86-64 structures of
 * <linux/kvm.h>, whose layout is fixed by the KVM ABI (and little-endian
 * on x86); their sizes are checked on load. A state without memory is what
 * a migration carries opaquely next to the memory it sends itself.
 */
#ifndef _LMVM_STATE_FORMAT_H
#define _LMVM_STATE_FORMAT_H

#include <stdint.h>

#define LMVM_STATE_MAGIC	"LMVMSTAT"
#define LMVM_STATE_VERSION	1

#define LMVM_STATE_F_MEMORY	(1u << 0)	/* MEMORY sections present */

struct lmvm_state_header {
	char magic[8];		/* LMVM_STATE_MAGIC, not NUL terminated */
	uint32_t version;	/* LMVM_STATE_VERSION */
	uint32_t header_size;	/* sizeof(struct lmvm_state_header) */
	uint64_t file_size;	/* header and all sections */
	uint64_t body_digest;	/* hash64(body, file_size - header_size, 0) */
	uint32_t nr_sections;
	uint32_t flags;		/* LMVM_STATE_F_* */
	uint8_t reserved[24];	/* zero */
};

struct lmvm_state_section {
	uint32_t type;		/* enum lmvm_state_type */
	uint32_t index;		/* vCPU id, memslot id or irqchip id */
	uint64_t size;		/* payload bytes, before padding */
};

enum lmvm_state_type {
	/* the VM */
	LMVM_SEC_CONFIG		= 1,	/* struct lmvm_state_config */
	LMVM_SEC_CLOCK		= 2,	/* struct kvm_clock_data */
	LMVM_SEC_IRQCHIP	= 3,	/* struct kvm_irqchip, index: chip id */
	/* each vCPU, index: vCPU id */
	LMVM_SEC_REGS		= 16,	/* struct kvm_regs */
	LMVM_SEC_SREGS		= 17,	/* struct kvm_sregs */
	LMVM_SEC_XSAVE		= 18,	/* struct kvm_xsave */
	LMVM_SEC_XCRS		= 19,	/* struct kvm_xcrs */
	LMVM_SEC_MSRS		= 20,	/* struct kvm_msrs and its entries */
	LMVM_SEC_LAPIC		= 21,	/* struct kvm_lapic_state */
	LMVM_SEC_EVENTS		= 22,	/* struct kvm_vcpu_events */
	LMVM_SEC_MP_STATE	= 23,	/* struct kvm_mp_state */
	LMVM_SEC_DEBUGREGS	= 24,	/* struct kvm_debugregs */
	/* guest memory, index: memslot id */
	LMVM_SEC_MEMORY		= 32,	/* le64 gpa, le64 size, the bytes */
};

#define LMVM_STATE_MAX_MEMSLOTS	8

/* The VM's shape and the workload's parameters. */
struct lmvm_state_config {
	uint64_t mem_size;	/* --mem */
	uint32_t nr_vcpus;
	uint32_t workload;	/* enum lmvm_workload */
	uint64_t rate_mib;
	uint64_t seed;
	uint64_t hotset_size;
	uint64_t tsc_khz;	/* of the saving host's guest TSC */
	uint32_t nr_memslots;
	uint32_t reserved;
	struct {
		uint32_t slot;
		uint32_t flags;
		uint64_t gpa;
		uint64_t size;
	} memslots[LMVM_STATE_MAX_MEMSLOTS];
};

#endif /* _LMVM_STATE_FORMAT_H */

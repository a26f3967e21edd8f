/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers shared by the library's files, not part of its API. */
#ifndef _LMKVM_INTERNAL_H
#define _LMKVM_INTERNAL_H

#include "lmkvm.h"

/* Where vm_setup_long_mode() puts the CPU's tables (slot 0). */
#define SYS_GDT_GPA		0x1000ULL
#define SYS_TSS_GPA		0x2000ULL
#define SYS_IDT_GPA		0x3000ULL
#define SYS_PML4_GPA		0x10000ULL
#define SYS_PDPT_GPA		0x11000ULL
#define SYS_PD_GPA		0x12000ULL	/* one page per GiB */

#define GDT_SEL_CODE		0x08
#define GDT_SEL_DATA		0x10
#define GDT_SEL_TSS		0x18
#define GDT_ENTRIES		5

#define NR_EXCEPTION_VECTORS	32

struct kvm_cpuid2 *kvm_supported_cpuid(int kvm_fd);
void vcpu_setup_long_mode(struct kvm_vcpu *vcpu);
void vcpu_set_cpuid(struct kvm_vcpu *vcpu);

/* Guest side (guest_exceptions.c). */
extern char lm_exception_stubs[];	/* 32 stubs, 16 bytes apart */
#define EXCEPTION_STUB_SIZE	16
void lm_guest_return(void);		/* return address of guest_code */

#endif /* _LMKVM_INTERNAL_H */

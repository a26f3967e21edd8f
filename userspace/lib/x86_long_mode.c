// SPDX-License-Identifier: GPL-2.0
/*
 * x86-64 long mode for the guest: CPUID, page tables, GDT, TSS, IDT and the
 * control registers of every vCPU.
 *
 * The guest never changes privilege level, never switches page tables and
 * never takes an interrupt it did not ask for, so the tables are built once,
 * by the host, before the first vCPU runs:
 *
 *  - page tables map all guest physical memory 1:1 with 2 MiB pages, at
 *    least the first 4 GiB so the local APIC page is mapped too. Accessed
 *    and dirty bits are preset: the CPU never writes to the tables, and a
 *    dirty log shows only the guest's own stores;
 *  - the GDT holds one 64-bit code segment, one data segment and the TSS
 *    (required by VMX and SVM for a valid guest state, unused otherwise);
 *  - the IDT points the 32 exception vectors at stubs that report the
 *    exception to the host (guest_exceptions.c).
 */
#include <stdio.h>
#include <stdlib.h>

#include "lmkvm.h"
#include "internal.h"

#define PTE_PRESENT	(1ULL << 0)
#define PTE_WRITE	(1ULL << 1)
#define PTE_ACCESSED	(1ULL << 5)
#define PTE_DIRTY	(1ULL << 6)
#define PTE_LARGE	(1ULL << 7)

#define X86_CR0_PE	(1ULL << 0)
#define X86_CR0_MP	(1ULL << 1)
#define X86_CR0_ET	(1ULL << 4)
#define X86_CR0_NE	(1ULL << 5)
#define X86_CR0_WP	(1ULL << 16)
#define X86_CR0_PG	(1ULL << 31)
#define X86_CR4_PAE	(1ULL << 5)
#define X86_CR4_OSFXSR	(1ULL << 9)
#define X86_CR4_OSXMMEXCPT (1ULL << 10)
#define X86_CR4_OSXSAVE	(1ULL << 18)
#define EFER_LME	(1ULL << 8)
#define EFER_LMA	(1ULL << 10)

#define XFEATURE_MASK_FPSSE	0x3ULL
#define XFEATURE_MASK_YMM	0x4ULL
#define XFEATURE_MASK_AVX512	0xe0ULL

struct kvm_cpuid2 *kvm_supported_cpuid(int kvm_fd)
{
	int nent = 128;

	for (;;) {
		struct kvm_cpuid2 *cpuid;

		cpuid = calloc(1, sizeof(*cpuid) +
			       nent * sizeof(struct kvm_cpuid_entry2));
		if (!cpuid)
			return NULL;
		cpuid->nent = nent;
		if (!ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid))
			return cpuid;
		free(cpuid);
		if (errno != E2BIG || nent >= 4096)
			return NULL;
		nent *= 2;
	}
}

static struct kvm_cpuid_entry2 *cpuid_entry(struct kvm_cpuid2 *cpuid,
					    uint32_t leaf, uint32_t subleaf)
{
	uint32_t i;

	for (i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

		if (e->function == leaf &&
		    (!(e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) ||
		     e->index == subleaf))
			return e;
	}
	return NULL;
}

bool vm_cpuid_has(struct kvm_vm *vm, uint32_t leaf, uint32_t subleaf,
		  int reg, int bit)
{
	struct kvm_cpuid_entry2 *e = cpuid_entry(vm->cpuid, leaf, subleaf);
	uint32_t regs[4];

	if (!e)
		return false;
	regs[0] = e->eax;
	regs[1] = e->ebx;
	regs[2] = e->ecx;
	regs[3] = e->edx;
	return regs[reg] & (1u << bit);
}

static bool vm_has_xsave(struct kvm_vm *vm)
{
	return vm_cpuid_has(vm, 1, 0, 2, 26);
}

/* The XSAVE features the guest gets: whatever compiled code may use. */
static uint64_t guest_xcr0(struct kvm_vm *vm)
{
	struct kvm_cpuid_entry2 *e = cpuid_entry(vm->cpuid, 0xd, 0);
	uint64_t supported, xcr0;

	if (!e)
		return XFEATURE_MASK_FPSSE;
	supported = e->eax | ((uint64_t)e->edx << 32);
	xcr0 = supported & (XFEATURE_MASK_FPSSE | XFEATURE_MASK_YMM);
	if ((supported & XFEATURE_MASK_AVX512) == XFEATURE_MASK_AVX512 &&
	    (xcr0 & XFEATURE_MASK_YMM))
		xcr0 |= XFEATURE_MASK_AVX512;
	return xcr0;
}

static void build_page_tables(struct kvm_vm *vm)
{
	uint64_t end = vm_mem_end(vm), nr_gib, i;
	uint64_t *pml4, *pdpt;

	if (end < 4 * GiB)
		end = 4 * GiB;
	nr_gib = (end + GiB - 1) / GiB;
	TEST_ASSERT(nr_gib <= 512 &&
		    SYS_PD_GPA + nr_gib * PAGE_SIZE <= LM_LOWMEM_END,
		    "guest memory too large for the page tables (%llu GiB)",
		    (unsigned long long)nr_gib);

	pml4 = addr_gpa2hva(vm, SYS_PML4_GPA);
	pdpt = addr_gpa2hva(vm, SYS_PDPT_GPA);
	pml4[0] = SYS_PDPT_GPA | PTE_PRESENT | PTE_WRITE | PTE_ACCESSED;
	for (i = 0; i < nr_gib; i++) {
		uint64_t pd_gpa = SYS_PD_GPA + i * PAGE_SIZE;
		uint64_t *pd = addr_gpa2hva(vm, pd_gpa);
		unsigned int j;

		pdpt[i] = pd_gpa | PTE_PRESENT | PTE_WRITE | PTE_ACCESSED;
		for (j = 0; j < 512; j++)
			pd[j] = (i * GiB + j * 2 * MiB) | PTE_PRESENT |
				PTE_WRITE | PTE_ACCESSED | PTE_DIRTY |
				PTE_LARGE;
	}
	vm->pml4_gpa = SYS_PML4_GPA;
}

/* A segment descriptor: base 0, limit 4 GiB, 'access' and 'flags' bytes. */
static uint64_t gdt_flat_entry(uint8_t access, uint8_t flags)
{
	return 0xffffULL | ((uint64_t)access << 40) |
	       ((uint64_t)(0xf | flags << 4) << 48);
}

static void build_gdt_and_tss(struct kvm_vm *vm)
{
	uint64_t *gdt = addr_gpa2hva(vm, SYS_GDT_GPA);
	uint64_t tss = SYS_TSS_GPA, limit = 0x67;

	gdt[0] = 0;
	/* present, DPL 0, code, execute/read, accessed; G, L */
	gdt[GDT_SEL_CODE / 8] = gdt_flat_entry(0x9b, 0xa);
	/* present, DPL 0, data, read/write, accessed; G, D/B */
	gdt[GDT_SEL_DATA / 8] = gdt_flat_entry(0x93, 0xc);
	/* 16-byte system descriptor: present, 64-bit busy TSS */
	gdt[GDT_SEL_TSS / 8] = (limit & 0xffff) | (tss & 0xffffff) << 16 |
			       0x8bULL << 40 | (tss >> 24 & 0xff) << 56;
	gdt[GDT_SEL_TSS / 8 + 1] = tss >> 32;
	vm->gdt_gpa = SYS_GDT_GPA;
	vm->tss_gpa = SYS_TSS_GPA;
}

/* Point 'vector' at handler: a 64-bit interrupt gate, DPL 0. */
void vm_set_idt_entry(struct kvm_vm *vm, unsigned int vector, void *handler)
{
	uint64_t *idt = addr_gpa2hva(vm, SYS_IDT_GPA);
	uint64_t addr = (uint64_t)handler;

	TEST_ASSERT(vector < 256, "bad IDT vector %u", vector);
	idt[vector * 2] = (addr & 0xffff) | (uint64_t)GDT_SEL_CODE << 16 |
			  0x8eULL << 40 | (addr >> 16 & 0xffff) << 48;
	idt[vector * 2 + 1] = addr >> 32;
}

static void build_idt(struct kvm_vm *vm)
{
	unsigned int v;

	for (v = 0; v < NR_EXCEPTION_VECTORS; v++)
		vm_set_idt_entry(vm, v, lm_exception_stubs +
				 v * EXCEPTION_STUB_SIZE);
	vm->idt_gpa = SYS_IDT_GPA;
}

void vm_setup_long_mode(struct kvm_vm *vm)
{
	TEST_ASSERT(!vm->long_mode, "long mode set up twice");
	TEST_ASSERT(__addr_gpa2hva(vm, 0) &&
		    __addr_gpa2hva(vm, LM_LOWMEM_END - 1),
		    "long mode needs guest memory at [0, %#llx)", LM_LOWMEM_END);
	build_page_tables(vm);
	build_gdt_and_tss(vm);
	build_idt(vm);
	vm_copy_program_image(vm);
	vm->long_mode = true;
}

static void segment_flat(struct kvm_segment *s, uint16_t sel, bool code)
{
	*s = (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = sel,
		.type = code ? 11 : 3, .present = 1, .dpl = 0,
		.db = code ? 0 : 1, .s = 1, .l = code ? 1 : 0, .g = 1,
	};
}

void vcpu_setup_long_mode(struct kvm_vcpu *vcpu)
{
	struct kvm_vm *vm = vcpu->vm;
	struct kvm_sregs sregs;

	vcpu_sregs_get(vcpu, &sregs);
	segment_flat(&sregs.cs, GDT_SEL_CODE, true);
	segment_flat(&sregs.ds, GDT_SEL_DATA, false);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.tr = (struct kvm_segment){
		.base = vm->tss_gpa, .limit = 0x67, .selector = GDT_SEL_TSS,
		.type = 11, .present = 1,
	};
	sregs.ldt = (struct kvm_segment){ .type = 2, .unusable = 1 };
	sregs.gdt.base = vm->gdt_gpa;
	sregs.gdt.limit = GDT_ENTRIES * 8 - 1;
	sregs.idt.base = vm->idt_gpa;
	sregs.idt.limit = 256 * 16 - 1;

	sregs.cr0 = X86_CR0_PE | X86_CR0_MP | X86_CR0_ET | X86_CR0_NE |
		    X86_CR0_WP | X86_CR0_PG;
	sregs.cr3 = vm->pml4_gpa;
	sregs.cr4 = X86_CR4_PAE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT;
	if (vm_has_xsave(vm))
		sregs.cr4 |= X86_CR4_OSXSAVE;
	sregs.efer = EFER_LME | EFER_LMA;
	vcpu_sregs_set(vcpu, &sregs);

	if (vm_has_xsave(vm)) {
		struct kvm_xcrs xcrs = {
			.nr_xcrs = 1,
			.xcrs[0] = { .xcr = 0, .value = guest_xcr0(vm) },
		};

		vcpu_ioctl(vcpu, KVM_SET_XCRS, &xcrs);
	}
}

/* KVM_GET_SUPPORTED_CPUID, with this vCPU's APIC ID. */
void vcpu_set_cpuid(struct kvm_vcpu *vcpu)
{
	struct kvm_cpuid2 *src = vcpu->vm->cpuid, *cpuid;
	size_t size = sizeof(*src) + src->nent * sizeof(src->entries[0]);
	uint32_t i;

	cpuid = malloc(size);
	TEST_ASSERT(cpuid, "out of memory");
	memcpy(cpuid, src, size);
	for (i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

		if (e->function == 1)
			e->ebx = (e->ebx & 0x00ffffff) | vcpu->id << 24;
		else if (e->function == 0xb || e->function == 0x1f)
			e->edx = vcpu->id;
	}
	vcpu_ioctl(vcpu, KVM_SET_CPUID2, cpuid);
	free(cpuid);
}

uint64_t vm_tsc_khz(struct kvm_vm *vm)
{
	unsigned int i;

	for (i = 0; i < LM_MAX_VCPUS; i++)
		if (vm->vcpus[i])
			return vcpu_ioctl(vm->vcpus[i], KVM_GET_TSC_KHZ, 0);
	TEST_FAIL("KVM_GET_TSC_KHZ needs a vCPU");
}

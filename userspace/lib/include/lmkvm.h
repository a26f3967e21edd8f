/* SPDX-License-Identifier: GPL-2.0 */
/*
 * liblmkvm: build small x86-64 KVM virtual machines from C.
 *
 * Layers, from the bottom:
 *  - ioctl wrappers: __kvm_ioctl()/__vm_ioctl()/__vcpu_ioctl() return the
 *    ioctl's result (-1 with errno set on failure); kvm_ioctl()/vm_ioctl()/
 *    vcpu_ioctl() check it and fail the program with the ioctl's name and
 *    errno. Every other function follows the same rule: a leading "__"
 *    returns an error, the plain name fails the test.
 *  - VM and memory: vm_create_barebones(), vm_add_memslot(), addr_gpa2hva(),
 *    vm_alloc() (a bump allocator for guest memory above the program image).
 *  - x86-64 long mode: vm_setup_long_mode() builds identity-mapped page
 *    tables over all guest memory, a GDT, a TSS and an IDT with exception
 *    handlers, and copies the program image into the guest; vcpu_add()
 *    creates a vCPU already in 64-bit mode with a stack of its own.
 *  - vm_create(): all of the above with the PC-like memory layout below.
 *  - running: vcpu_run() enters the guest until it makes a ucall, handling
 *    serial output and reporting fatal exits (shutdown, failed entry,
 *    internal errors, unexpected exits) with a clear message.
 *
 * Guest physical memory of vm_create(mem) (all of it mapped 1:1):
 *
 *   slot 0  [0, 640 KiB)             page tables, GDT, IDT, TSS
 *           [640 KiB, 1 MiB)         hole (legacy VGA and BIOS)
 *   slot 1  [1 MiB, min(mem, 3 GiB)) program image at its link address,
 *                                    then vm_alloc(), then free memory
 *           [3 GiB, 4 GiB)           hole (PCI, LAPIC, IOAPIC)
 *   slot 2  [4 GiB, 4 GiB + rest)    only when mem > 3 GiB
 *
 * Programs using the library must be linked -static -no-pie (the guest runs
 * their image at its link address) and should compile guest code with
 * -mno-red-zone.
 */
#ifndef _LMKVM_H
#define _LMKVM_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>

#include "lmkvm_guest.h"

#define KiB		(1ULL << 10)
#define MiB		(1ULL << 20)
#define GiB		(1ULL << 30)
#define PAGE_SIZE	4096ULL
#define PAGE_SHIFT	12

#define LM_MAX_MEMSLOTS	8
#define LM_MAX_VCPUS	64

/* The memory layout of vm_create(). */
#define LM_LOWMEM_END		(640 * KiB)
#define LM_MAINMEM_START	(1 * MiB)
#define LM_PCI_HOLE_START	(3 * GiB)
#define LM_HIGHMEM_START	(4 * GiB)
#define LM_VCPU_STACK_SIZE	(64 * KiB)

/*
 * Test assertions. TEST_ASSERT() prints file, line, the failed expression,
 * errno and a message to stderr and exits with status 1, which fails a
 * kselftest-harness test (each test runs in a child process of its own).
 */
void __attribute__((noreturn, format(printf, 5, 6)))
test_assert_fail(const char *file, unsigned int line, const char *expr,
		 int err, const char *fmt, ...);

#define TEST_ASSERT(cond, fmt, ...)					\
do {									\
	if (!(cond))							\
		test_assert_fail(__FILE__, __LINE__, #cond, errno,	\
				 fmt, ##__VA_ARGS__);			\
} while (0)

#define TEST_FAIL(fmt, ...)						\
	test_assert_fail(__FILE__, __LINE__, NULL, 0, fmt, ##__VA_ARGS__)

struct kvm_memslot {
	uint32_t slot;
	uint32_t flags;		/* KVM_MEM_* */
	uint64_t gpa;
	uint64_t size;
	void *hva;
};

struct kvm_vcpu;

struct kvm_vm {
	int kvm_fd;		/* /dev/kvm */
	int fd;			/* the VM */
	int run_size;		/* KVM_GET_VCPU_MMAP_SIZE */
	unsigned int nr_memslots;
	struct kvm_memslot memslots[LM_MAX_MEMSLOTS];
	struct kvm_vcpu *vcpus[LM_MAX_VCPUS];
	unsigned int nr_vcpus;
	struct kvm_cpuid2 *cpuid;	/* KVM_GET_SUPPORTED_CPUID */

	/* Set up by vm_setup_long_mode(). */
	bool long_mode;
	uint64_t pml4_gpa;
	uint64_t gdt_gpa;
	uint64_t idt_gpa;
	uint64_t tss_gpa;
	uint64_t alloc_next;	/* vm_alloc(): next free guest address */
	uint64_t alloc_end;	/* end of the memslot vm_alloc() uses */

	/* Guest console output, by lines; by default written to stdout. */
	void (*serial_out)(struct kvm_vm *vm, const char *buf, size_t len);
	void *priv;		/* for the program using the library */
};

struct kvm_vcpu {
	struct kvm_vm *vm;
	uint32_t id;
	int fd;
	struct kvm_run *run;
	uint64_t stack_top;
	uint64_t mailbox_gva;	/* page writer, when used */
	uint64_t mailbox_entries;
	/* serial output, passed on a line at a time */
	size_t serial_len;
	char serial_buf[256];
};

/* ioctl wrappers */
#define __kvm_ioctl(vm, cmd, arg)	ioctl((vm)->kvm_fd, cmd, arg)
#define __vm_ioctl(vm, cmd, arg)	ioctl((vm)->fd, cmd, arg)
#define __vcpu_ioctl(vcpu, cmd, arg)	ioctl((vcpu)->fd, cmd, arg)

#define __checked_ioctl(fd, cmd, name, arg)				\
({									\
	int __r = ioctl(fd, cmd, arg);					\
	TEST_ASSERT(__r >= 0, "%s failed, rc %d", name, __r);		\
	__r;								\
})

#define kvm_ioctl(vm, cmd, arg)	__checked_ioctl((vm)->kvm_fd, cmd, #cmd, arg)
#define vm_ioctl(vm, cmd, arg)	__checked_ioctl((vm)->fd, cmd, #cmd, arg)
#define vcpu_ioctl(vcpu, cmd, arg) __checked_ioctl((vcpu)->fd, cmd, #cmd, arg)

/* /dev/kvm */
int __kvm_open(void);		/* fd or -errno */
int kvm_open(void);
bool kvm_available(void);	/* /dev/kvm opens and speaks API 12 */

/* VMs and their memory */
struct kvm_vm *__vm_create_barebones(int *err);
struct kvm_vm *vm_create_barebones(void);
struct kvm_vm *vm_create(uint64_t mem_size);
void vm_free(struct kvm_vm *vm);

/*
 * Anonymous memory at [gpa, gpa + size), in 4 KiB pages (MADV_NOHUGEPAGE:
 * see kvm.c); returns 0 or -errno.
 */
int __vm_add_memslot(struct kvm_vm *vm, uint32_t slot, uint64_t gpa,
		     uint64_t size, uint32_t flags);
void vm_add_memslot(struct kvm_vm *vm, uint32_t slot, uint64_t gpa,
		    uint64_t size, uint32_t flags);
int __vm_set_memslot_flags(struct kvm_vm *vm, uint32_t slot, uint32_t flags);
void vm_set_memslot_flags(struct kvm_vm *vm, uint32_t slot, uint32_t flags);
struct kvm_memslot *vm_memslot(struct kvm_vm *vm, uint32_t slot);
/*
 * KVM_GET_DIRTY_LOG into bitmap (one bit per page of the slot). Note that
 * KVM may report a page the guest only read, if the guest first mapped it
 * after logging was enabled: let the guest touch what it will use before
 * enabling the log when a test needs exact results.
 */
void vm_get_dirty_log(struct kvm_vm *vm, uint32_t slot, void *bitmap);
uint64_t vm_mem_size(struct kvm_vm *vm);	/* sum of all slots */
uint64_t vm_mem_end(struct kvm_vm *vm);		/* highest gpa + 1 */

/* Host view of guest memory; NULL when gpa is not backed by a memslot. */
void *__addr_gpa2hva(struct kvm_vm *vm, uint64_t gpa);
void *addr_gpa2hva(struct kvm_vm *vm, uint64_t gpa);
/* Guest virtual addresses are guest physical addresses (1:1 mapping). */
#define addr_gva2hva(vm, gva)	addr_gpa2hva(vm, (uint64_t)(gva))

/* Guest memory above the program image, page aligned; never freed. */
uint64_t vm_alloc(struct kvm_vm *vm, uint64_t size);

/* Copy a global of the program between host and guest. */
#define sync_global_to_guest(vm, g)					\
	memcpy(addr_gva2hva(vm, &(g)), &(g), sizeof(g))
#define sync_global_from_guest(vm, g)					\
	memcpy(&(g), addr_gva2hva(vm, &(g)), sizeof(g))

/* x86-64 long mode and the program image (after all memslots exist). */
void vm_setup_long_mode(struct kvm_vm *vm);
void vm_copy_program_image(struct kvm_vm *vm);
bool vm_cpuid_has(struct kvm_vm *vm, uint32_t leaf, uint32_t subleaf,
		  int reg, int bit);	/* reg: 0 eax, 1 ebx, 2 ecx, 3 edx */
uint64_t vm_tsc_khz(struct kvm_vm *vm);	/* KVM_GET_TSC_KHZ of vCPU 0 */
/* Point an IDT vector at a guest handler (an interrupt gate, DPL 0). */
void vm_set_idt_entry(struct kvm_vm *vm, unsigned int vector, void *handler);

/* vCPUs */
struct kvm_vcpu *vcpu_add(struct kvm_vm *vm, uint32_t id, void *guest_code);
struct kvm_vcpu *__vcpu_add(struct kvm_vm *vm, uint32_t id, int *err);
/* Up to six integer arguments for guest_code (System V registers). */
void vcpu_args_set(struct kvm_vcpu *vcpu, unsigned int n, ...);
void vcpu_set_entry(struct kvm_vcpu *vcpu, void *guest_code);
void vcpu_regs_get(struct kvm_vcpu *vcpu, struct kvm_regs *regs);
void vcpu_regs_set(struct kvm_vcpu *vcpu, struct kvm_regs *regs);
void vcpu_sregs_get(struct kvm_vcpu *vcpu, struct kvm_sregs *sregs);
void vcpu_sregs_set(struct kvm_vcpu *vcpu, struct kvm_sregs *sregs);

/*
 * Running. __vcpu_run() is one KVM_RUN: 0, or -errno (-EINTR when a signal
 * interrupted it). vcpu_run() loops on KVM_RUN, handling serial output,
 * until the guest makes a ucall, and returns the ucall's command with the
 * call copied into *uc (may be NULL). It fails the program on
 * UCALL_ABORT and UCALL_EXCEPTION (with the guest's message), on fatal
 * exits, and on unexpected ones. vcpu_run_ucall() is the same but returns
 * UCALL_ABORT and UCALL_EXCEPTION to the caller instead of failing, and
 * returns UCALL_NONE after KVM_RUN was interrupted by a signal.
 */
int __vcpu_run(struct kvm_vcpu *vcpu);
/*
 * Run until a ucall and return its command (>= 0), -EINTR when a signal
 * (or run->immediate_exit) interrupted KVM_RUN, or -EIO for an exit the
 * library cannot handle, described in why (for a VMM that must not exit).
 */
int __vcpu_run_ucall(struct kvm_vcpu *vcpu, struct ucall *uc, char *why,
		     size_t len);
uint64_t vcpu_run(struct kvm_vcpu *vcpu, struct ucall *uc);
uint64_t vcpu_run_ucall(struct kvm_vcpu *vcpu, struct ucall *uc);
/* The exit the vCPU stopped at, for messages: "KVM_EXIT_SHUTDOWN"... */
const char *exit_reason_str(uint32_t reason);
/* Describe a ucall (abort message, exception) into buf; returns buf. */
char *ucall_format(struct kvm_vm *vm, const struct ucall *uc, char *buf,
		   size_t len);
const char *exception_name(unsigned int vector);

/* Guest pages written on request: see struct page_writer_mailbox. */
struct kvm_vcpu *vcpu_add_page_writer(struct kvm_vm *vm, uint32_t id);
/*
 * Have the guest write 'value' into every page of gpas[] (the first 8 bytes,
 * or the whole page with PAGE_WRITER_FILL), then return. The writes are
 * done by the vCPU, so they go through KVM's dirty tracking like any guest
 * store.
 */
void vcpu_write_pages(struct kvm_vcpu *vcpu, const uint64_t *gpas,
		      uint64_t nr, uint64_t value, uint32_t flags);

#endif /* _LMKVM_H */

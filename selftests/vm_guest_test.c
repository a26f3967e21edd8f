// SPDX-License-Identifier: GPL-2.0
/*
 * 64-bit guests built with liblmkvm, run under (nested) KVM: memory written
 * by the guest is what the host reads, vCPUs run in parallel, the memory
 * layout is the documented one, the page writer dirties exactly the pages
 * it is given, and a guest that faults or fails an assertion is reported
 * rather than left hanging.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmkvm.h"
#include "kselftest_harness.h"

#define PATTERN_SEED	0x5eed0f1e5eed0f1eULL

static uint64_t pattern(uint64_t gpa)
{
	return gpa * 0x9e3779b97f4a7c15ULL ^ PATTERN_SEED;
}

/* A global: the guest sees the host's value at the time of vm_create(). */
static uint64_t guest_seed = PATTERN_SEED;

/* Guest: fill [start, start + size) with pattern(), using SSE on the way. */
static void guest_fill(uint64_t start, uint64_t size)
{
	volatile double x = 1.5;
	uint64_t gpa;

	GUEST_ASSERT_EQ(guest_seed, PATTERN_SEED);
	/* floating point compiles to SSE: must not fault */
	GUEST_ASSERT((uint64_t)(x * 4.0) == 6);
	for (gpa = start; gpa < start + size; gpa += 8)
		*(volatile uint64_t *)gpa = pattern(gpa);
	GUEST_SYNC(size);
}

static void check_pattern(struct __test_metadata *_metadata,
			  struct kvm_vm *vm, uint64_t start, uint64_t size)
{
	uint64_t gpa;

	for (gpa = start; gpa < start + size; gpa += 8) {
		uint64_t *p = addr_gpa2hva(vm, gpa);

		if (*p != pattern(gpa)) {
			ASSERT_EQ(*p, pattern(gpa))
				TH_LOG("guest memory at %#lx", gpa);
		}
	}
}

#define REQUIRE_KVM()							\
do {									\
	if (!kvm_available())						\
		SKIP(return, "/dev/kvm is not available");		\
} while (0)

TEST(guest_writes_pattern)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	uint64_t buf;

	REQUIRE_KVM();
	vm = vm_create(64 * MiB);
	buf = vm_alloc(vm, 4 * MiB);
	vcpu = vcpu_add(vm, 0, guest_fill);
	vcpu_args_set(vcpu, 2, buf, 4 * MiB);

	ASSERT_EQ(vcpu_run(vcpu, &uc), UCALL_SYNC);
	ASSERT_EQ(uc.args[0], 4 * MiB);
	check_pattern(_metadata, vm, buf, 4 * MiB);
	/* guest_fill returning ends the guest with UCALL_DONE */
	ASSERT_EQ(vcpu_run(vcpu, NULL), UCALL_DONE);
	vm_free(vm);
}

TEST(memory_layout)
{
	uint64_t mem = 3 * GiB + 64 * MiB, high = LM_HIGHMEM_START;
	struct kvm_memslot *ms;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;

	REQUIRE_KVM();
	/* guest memory is reserved lazily: only touched pages cost */
	vm = vm_create(mem);
	ASSERT_EQ(vm->nr_memslots, 3);
	ms = vm_memslot(vm, 0);
	ASSERT_EQ(ms->gpa, 0);
	ASSERT_EQ(ms->size, LM_LOWMEM_END);
	ms = vm_memslot(vm, 1);
	ASSERT_EQ(ms->gpa, LM_MAINMEM_START);
	ASSERT_EQ(ms->gpa + ms->size, LM_PCI_HOLE_START);
	ms = vm_memslot(vm, 2);
	ASSERT_EQ(ms->gpa, LM_HIGHMEM_START);
	ASSERT_EQ(ms->size, 64 * MiB);
	ASSERT_EQ(vm_mem_size(vm), mem - LM_MAINMEM_START + LM_LOWMEM_END);
	ASSERT_EQ(__addr_gpa2hva(vm, LM_LOWMEM_END), NULL);
	ASSERT_EQ(__addr_gpa2hva(vm, LM_PCI_HOLE_START), NULL);

	/* memory above 4 GiB is mapped and usable by the guest */
	vcpu = vcpu_add(vm, 0, guest_fill);
	vcpu_args_set(vcpu, 2, high + 60 * MiB, 64 * KiB);
	ASSERT_EQ(vcpu_run(vcpu, NULL), UCALL_SYNC);
	check_pattern(_metadata, vm, high + 60 * MiB, 64 * KiB);
	vm_free(vm);
}

struct vcpu_thread {
	struct kvm_vcpu *vcpu;
	uint64_t cmd;
	pthread_t thread;
};

static void *run_vcpu_thread(void *arg)
{
	struct vcpu_thread *t = arg;

	t->cmd = vcpu_run(t->vcpu, NULL);
	return NULL;
}

TEST(two_vcpus)
{
	struct vcpu_thread t[2];
	struct kvm_vm *vm;
	uint64_t buf;
	int i;

	REQUIRE_KVM();
	vm = vm_create(64 * MiB);
	buf = vm_alloc(vm, 8 * MiB);
	for (i = 0; i < 2; i++) {
		t[i].vcpu = vcpu_add(vm, i, guest_fill);
		vcpu_args_set(t[i].vcpu, 2, buf + i * 4 * MiB, 4 * MiB);
	}
	for (i = 0; i < 2; i++)
		ASSERT_EQ(pthread_create(&t[i].thread, NULL, run_vcpu_thread,
					 &t[i]), 0);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(pthread_join(t[i].thread, NULL), 0);
		ASSERT_EQ(t[i].cmd, UCALL_SYNC);
	}
	check_pattern(_metadata, vm, buf, 8 * MiB);
	vm_free(vm);
}

TEST(page_writer_dirties_listed_pages)
{
	uint64_t gpas[64], *bitmap, slot_pages, i, base;
	struct kvm_memslot *ms;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;

	REQUIRE_KVM();
	vm = vm_create(64 * MiB);
	vcpu = vcpu_add_page_writer(vm, 0);
	base = vm_alloc(vm, 16 * MiB);
	for (i = 0; i < 64; i++)
		gpas[i] = base + (i * 37 % 4096) * PAGE_SIZE;

	/*
	 * Let the guest touch its code, stack, mailbox and the target pages
	 * once before dirty logging starts: KVM may report a page dirty when
	 * the guest first maps it after logging was enabled, even by a read.
	 */
	vcpu_write_pages(vcpu, gpas, 64, 0, 0);

	/*
	 * Let the guest touch its code, stack, mailbox and the target pages
	 * once before dirty logging starts: KVM may report a page dirty when
	 * the guest first maps it after logging was enabled, even by a read.
	 */
	vcpu_write_pages(vcpu, gpas, 64, 0, 0);

	ms = vm_memslot(vm, 1);
	slot_pages = ms->size / PAGE_SIZE;
	bitmap = calloc(slot_pages / 64 + 1, 8);
	ASSERT_NE(bitmap, NULL);
	vm_set_memslot_flags(vm, 1, KVM_MEM_LOG_DIRTY_PAGES);
	vm_get_dirty_log(vm, 1, bitmap);		/* clears it */

	vcpu_write_pages(vcpu, gpas, 64, 0xabcdef, 0);
	for (i = 0; i < 64; i++)
		ASSERT_EQ(*(uint64_t *)addr_gpa2hva(vm, gpas[i]), 0xabcdef);

	vm_get_dirty_log(vm, 1, bitmap);
	for (i = 0; i < slot_pages; i++) {
		uint64_t gpa = ms->gpa + i * PAGE_SIZE;
		bool dirty = bitmap[i / 64] & (1ULL << (i % 64));
		bool listed = false, stack;
		int j;

		for (j = 0; j < 64; j++)
			listed |= gpas[j] == gpa;
		stack = gpa < vcpu->stack_top &&
			gpa >= vcpu->stack_top - LM_VCPU_STACK_SIZE;
		if (listed) {
			ASSERT_TRUE(dirty) TH_LOG("page %#lx not dirty", gpa);
		} else if (!stack) {
			ASSERT_FALSE(dirty) TH_LOG("page %#lx dirty", gpa);
		}
	}

	/* whole-page writes, and a second round */
	vcpu_write_pages(vcpu, gpas, 8, 0x1234, PAGE_WRITER_FILL);
	for (i = 0; i < PAGE_SIZE / 8; i++)
		ASSERT_EQ(((uint64_t *)addr_gpa2hva(vm, gpas[7]))[i], 0x1234);
	free(bitmap);
	vm_free(vm);
}

static void guest_ud2(void)
{
	asm volatile("ud2");
}

static void guest_page_fault(void)
{
	/* 1 TiB: above everything the page tables map */
	*(volatile uint64_t *)(1ULL << 40) = 1;
}

TEST(guest_exception_is_reported)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	char msg[256];

	REQUIRE_KVM();
	vm = vm_create(16 * MiB);
	vcpu = vcpu_add(vm, 0, guest_ud2);
	ASSERT_EQ(vcpu_run_ucall(vcpu, &uc), UCALL_EXCEPTION);
	ASSERT_EQ(uc.args[0], 6);			/* #UD */
	ASSERT_EQ(uc.args[2], (uint64_t)guest_ud2);	/* at the ud2 */
	/* entered again, the vCPU reports again instead of hanging */
	ASSERT_EQ(vcpu_run_ucall(vcpu, &uc), UCALL_EXCEPTION);
	TH_LOG("%s", ucall_format(vm, &uc, msg, sizeof(msg)));

	vcpu = vcpu_add(vm, 1, guest_page_fault);
	ASSERT_EQ(vcpu_run_ucall(vcpu, &uc), UCALL_EXCEPTION);
	ASSERT_EQ(uc.args[0], 14);			/* #PF */
	ASSERT_EQ(uc.args[1], 2);			/* write, not present */
	ASSERT_EQ(uc.args[3], 1ULL << 40);		/* cr2 */
	vm_free(vm);
}

static void guest_assert_fails(uint64_t v)
{
	GUEST_ASSERT_EQ(v, 41);
}

TEST(guest_assertion_is_reported)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	char msg[256];

	REQUIRE_KVM();
	vm = vm_create(16 * MiB);
	vcpu = vcpu_add(vm, 0, guest_assert_fails);
	vcpu_args_set(vcpu, 1, 42);
	ASSERT_EQ(vcpu_run_ucall(vcpu, &uc), UCALL_ABORT);
	ucall_format(vm, &uc, msg, sizeof(msg));
	TH_LOG("%s", msg);
	ASSERT_NE(strstr(msg, "v == 41: 0x2a != 0x29"), NULL);
	ASSERT_NE(strstr(msg, "vm_guest_test.c"), NULL);
	vm_free(vm);
}

static void guest_triple_fault(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) empty_idt = { 0, 0 };

	asm volatile("lidt %0; ud2" : : "m"(empty_idt));
}

TEST(triple_fault_is_reported)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;

	REQUIRE_KVM();
	vm = vm_create(16 * MiB);
	vcpu = vcpu_add(vm, 0, guest_triple_fault);
	ASSERT_EQ(__vcpu_run(vcpu), 0);
	ASSERT_EQ(vcpu->run->exit_reason, KVM_EXIT_SHUTDOWN)
		TH_LOG("exit %s", exit_reason_str(vcpu->run->exit_reason));
	vm_free(vm);
}

TEST_HARNESS_MAIN

// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/kvm, VMs and their memory slots.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/mman.h>

#include "lmkvm.h"
#include "internal.h"

int __kvm_open(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (ioctl(fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		close(fd);
		return -EINVAL;
	}
	return fd;
}

int kvm_open(void)
{
	int fd = __kvm_open();

	errno = fd < 0 ? -fd : 0;
	TEST_ASSERT(fd >= 0, "cannot open /dev/kvm (is kvm loaded?)");
	return fd;
}

bool kvm_available(void)
{
	int fd = __kvm_open();

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static void serial_to_stdout(struct kvm_vm *vm, const char *buf, size_t len)
{
	(void)vm;
	fwrite(buf, 1, len, stdout);
	fflush(stdout);
}

struct kvm_vm *__vm_create_barebones(int *err)
{
	struct kvm_vm *vm;
	int r;

	vm = calloc(1, sizeof(*vm));
	if (!vm) {
		*err = -ENOMEM;
		return NULL;
	}
	vm->serial_out = serial_to_stdout;

	vm->kvm_fd = __kvm_open();
	if (vm->kvm_fd < 0) {
		*err = vm->kvm_fd;
		goto err_free_vm;
	}
	vm->run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->run_size < (int)sizeof(struct kvm_run)) {
		*err = -errno;
		goto err_close_kvm;
	}
	vm->fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->fd < 0) {
		*err = -errno;
		goto err_close_kvm;
	}
	/*
	 * An in-kernel LAPIC (and PIC/IOAPIC) so that the guest's interrupt
	 * state is KVM's, can be saved with KVM_GET_LAPIC and so that HLT
	 * sleeps in the kernel instead of exiting to us.
	 */
	r = ioctl(vm->fd, KVM_CREATE_IRQCHIP, 0);
	if (r < 0) {
		*err = -errno;
		goto err_close_vm;
	}
	vm->cpuid = kvm_supported_cpuid(vm->kvm_fd);
	if (!vm->cpuid) {
		*err = -errno;
		goto err_close_vm;
	}
	return vm;

err_close_vm:
	close(vm->fd);
err_close_kvm:
	close(vm->kvm_fd);
err_free_vm:
	free(vm);
	return NULL;
}

struct kvm_vm *vm_create_barebones(void)
{
	struct kvm_vm *vm;
	int err = 0;

	vm = __vm_create_barebones(&err);
	errno = -err;
	TEST_ASSERT(vm, "creating a KVM VM failed");
	return vm;
}

/*
 * The PC-like layout documented in lmkvm.h: a small low slot for the CPU's
 * tables, the main slot from 1 MiB up to the PCI hole, and the rest above
 * 4 GiB.
 */
struct kvm_vm *vm_create(uint64_t mem_size)
{
	uint64_t main_end = mem_size < LM_PCI_HOLE_START ?
			    mem_size : LM_PCI_HOLE_START;
	struct kvm_vm *vm;

	TEST_ASSERT(mem_size >= 16 * MiB && !(mem_size & (2 * MiB - 1)),
		    "guest memory must be at least 16 MiB, in 2 MiB units (%llu)",
		    (unsigned long long)mem_size);
	vm = vm_create_barebones();
	vm_add_memslot(vm, 0, 0, LM_LOWMEM_END, 0);
	vm_add_memslot(vm, 1, LM_MAINMEM_START, main_end - LM_MAINMEM_START, 0);
	if (mem_size > main_end)
		vm_add_memslot(vm, 2, LM_HIGHMEM_START, mem_size - main_end, 0);
	vm_setup_long_mode(vm);
	return vm;
}

void vm_free(struct kvm_vm *vm)
{
	unsigned int i;

	if (!vm)
		return;
	for (i = 0; i < LM_MAX_VCPUS; i++) {
		struct kvm_vcpu *vcpu = vm->vcpus[i];

		if (!vcpu)
			continue;
		munmap(vcpu->run, vm->run_size);
		close(vcpu->fd);
		free(vcpu);
	}
	close(vm->fd);
	for (i = 0; i < vm->nr_memslots; i++)
		munmap(vm->memslots[i].hva, vm->memslots[i].size);
	close(vm->kvm_fd);
	free(vm->cpuid);
	free(vm);
}

struct kvm_memslot *vm_memslot(struct kvm_vm *vm, uint32_t slot)
{
	unsigned int i;

	for (i = 0; i < vm->nr_memslots; i++)
		if (vm->memslots[i].slot == slot)
			return &vm->memslots[i];
	return NULL;
}

static int set_user_memory_region(struct kvm_vm *vm, struct kvm_memslot *ms)
{
	struct kvm_userspace_memory_region region = {
		.slot = ms->slot,
		.flags = ms->flags,
		.guest_phys_addr = ms->gpa,
		.memory_size = ms->size,
		.userspace_addr = (uintptr_t)ms->hva,
	};

	return ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region) ? -errno : 0;
}

int __vm_add_memslot(struct kvm_vm *vm, uint32_t slot, uint64_t gpa,
		     uint64_t size, uint32_t flags)
{
	struct kvm_memslot *ms;
	void *hva;
	int r;

	if (vm->nr_memslots == LM_MAX_MEMSLOTS || vm_memslot(vm, slot))
		return -EEXIST;
	if (!size || (gpa | size) & (PAGE_SIZE - 1))
		return -EINVAL;
	hva = mmap(NULL, size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (hva == MAP_FAILED)
		return -errno;
	/*
	 * Small pages. With transparent huge pages, the first touch of each
	 * 2 MiB of guest memory clears a whole huge page: under the lab's
	 * emulation a guest writing random pages of 1 GiB then dirties 0.1
	 * MiB/s instead of 17, and MADV_HUGEPAGE even stalls the lab kernel
	 * (soft lockups). Dirty tracking is per 4 KiB page anyway.
	 */
	madvise(hva, size, MADV_NOHUGEPAGE);

	ms = &vm->memslots[vm->nr_memslots];
	*ms = (struct kvm_memslot){
		.slot = slot, .flags = flags, .gpa = gpa, .size = size,
		.hva = hva,
	};
	r = set_user_memory_region(vm, ms);
	if (r) {
		munmap(hva, size);
		return r;
	}
	vm->nr_memslots++;
	return 0;
}

void vm_add_memslot(struct kvm_vm *vm, uint32_t slot, uint64_t gpa,
		    uint64_t size, uint32_t flags)
{
	int r = __vm_add_memslot(vm, slot, gpa, size, flags);

	errno = -r;
	TEST_ASSERT(!r, "KVM_SET_USER_MEMORY_REGION of slot %u [%#llx, +%#llx) failed",
		    slot, (unsigned long long)gpa, (unsigned long long)size);
}

int __vm_set_memslot_flags(struct kvm_vm *vm, uint32_t slot, uint32_t flags)
{
	struct kvm_memslot *ms = vm_memslot(vm, slot);
	uint32_t old;
	int r;

	if (!ms)
		return -ENOENT;
	old = ms->flags;
	ms->flags = flags;
	r = set_user_memory_region(vm, ms);
	if (r)
		ms->flags = old;
	return r;
}

void vm_set_memslot_flags(struct kvm_vm *vm, uint32_t slot, uint32_t flags)
{
	int r = __vm_set_memslot_flags(vm, slot, flags);

	errno = -r;
	TEST_ASSERT(!r, "KVM_SET_USER_MEMORY_REGION (flags %#x) of slot %u failed",
		    flags, slot);
}

void vm_get_dirty_log(struct kvm_vm *vm, uint32_t slot, void *bitmap)
{
	struct kvm_dirty_log log = { .slot = slot, .dirty_bitmap = bitmap };

	vm_ioctl(vm, KVM_GET_DIRTY_LOG, &log);
}

uint64_t vm_mem_size(struct kvm_vm *vm)
{
	uint64_t size = 0;
	unsigned int i;

	for (i = 0; i < vm->nr_memslots; i++)
		size += vm->memslots[i].size;
	return size;
}

uint64_t vm_mem_end(struct kvm_vm *vm)
{
	uint64_t end = 0;
	unsigned int i;

	for (i = 0; i < vm->nr_memslots; i++) {
		struct kvm_memslot *ms = &vm->memslots[i];

		if (ms->gpa + ms->size > end)
			end = ms->gpa + ms->size;
	}
	return end;
}

void *__addr_gpa2hva(struct kvm_vm *vm, uint64_t gpa)
{
	unsigned int i;

	for (i = 0; i < vm->nr_memslots; i++) {
		struct kvm_memslot *ms = &vm->memslots[i];

		if (gpa >= ms->gpa && gpa - ms->gpa < ms->size)
			return (char *)ms->hva + (gpa - ms->gpa);
	}
	return NULL;
}

void *addr_gpa2hva(struct kvm_vm *vm, uint64_t gpa)
{
	void *hva = __addr_gpa2hva(vm, gpa);

	TEST_ASSERT(hva, "guest physical address %#llx is in no memslot",
		    (unsigned long long)gpa);
	return hva;
}

uint64_t vm_alloc(struct kvm_vm *vm, uint64_t size)
{
	uint64_t gpa = vm->alloc_next;

	size = (size + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	TEST_ASSERT(vm->long_mode && size <= vm->alloc_end - gpa,
		    "out of guest memory for vm_alloc(%llu)",
		    (unsigned long long)size);
	vm->alloc_next += size;
	return gpa;
}

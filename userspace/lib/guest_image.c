// SPDX-License-Identifier: GPL-2.0
/*
 * The guest runs the host program's image: copy every loadable segment of
 * the executable into guest memory at its link address. The program must be
 * static and not position independent, so the link address is the address
 * the segment has in the host process.
 */
#include <link.h>
#include <stdio.h>

#include "lmkvm.h"
#include "internal.h"

extern char __executable_start[], _end[];

static int copy_segments(struct dl_phdr_info *info, size_t size, void *data)
{
	struct kvm_vm *vm = data;
	int i;

	(void)size;
	/* The first object is the executable itself; skip the vDSO. */
	if (info->dlpi_addr || info->dlpi_name[0])
		return 0;
	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uint64_t start, end, gpa;

		if (ph->p_type != PT_LOAD)
			continue;
		start = ph->p_vaddr & ~(PAGE_SIZE - 1);
		end = (ph->p_vaddr + ph->p_memsz + PAGE_SIZE - 1) &
		      ~(PAGE_SIZE - 1);
		for (gpa = start; gpa < end; gpa += PAGE_SIZE) {
			void *hva = __addr_gpa2hva(vm, gpa);

			TEST_ASSERT(hva, "program segment at %#llx is outside guest memory (link with -static -no-pie)",
				    (unsigned long long)gpa);
			memcpy(hva, (void *)gpa, PAGE_SIZE);
		}
	}
	return 1;
}

void vm_copy_program_image(struct kvm_vm *vm)
{
	uint64_t image_end = ((uint64_t)_end + PAGE_SIZE - 1) &
			     ~(PAGE_SIZE - 1);
	struct kvm_memslot *ms = NULL;
	unsigned int i;

	TEST_ASSERT((uint64_t)__executable_start >= LM_LOWMEM_END,
		    "program image at %p overlaps the CPU tables; link with -static -no-pie",
		    __executable_start);
	TEST_ASSERT(dl_iterate_phdr(copy_segments, vm) == 1,
		    "no program headers for the executable");

	/* vm_alloc() hands out the rest of the memslot holding the image. */
	for (i = 0; i < vm->nr_memslots; i++)
		if ((uint64_t)__executable_start >= vm->memslots[i].gpa &&
		    image_end <= vm->memslots[i].gpa + vm->memslots[i].size)
			ms = &vm->memslots[i];
	TEST_ASSERT(ms, "no memslot holds the whole program image");
	vm->alloc_next = image_end;
	vm->alloc_end = ms->gpa + ms->size;
}

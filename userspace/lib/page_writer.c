// SPDX-License-Identifier: GPL-2.0
/*
 * The page writer: a vCPU that writes the guest pages the host lists, when
 * the host asks, so that tests of dirty tracking and migration can predict
 * exactly which pages a guest dirtied.
 *
 * Each request is one entry into the guest: the host fills the mailbox (a
 * few pages of guest memory private to the vCPU), runs the vCPU, and the
 * guest writes the pages and answers UCALL_SYNC with the number written.
 * The mailbox itself is written by the host only, through its mapping, so
 * it never shows in a dirty log; the guest's one store outside the listed
 * pages is on its own stack.
 */
#include <stdio.h>

#include "lmkvm.h"
#include "internal.h"

#define MAILBOX_SIZE	(64 * KiB)

void guest_page_writer_main(struct page_writer_mailbox *mb)
{
	for (;;) {
		uint64_t n = mb->nr_pages, value = mb->value, i;

		for (i = 0; i < n; i++) {
			volatile uint64_t *p = (uint64_t *)mb->gpa[i];

			if (mb->flags & PAGE_WRITER_FILL) {
				unsigned int j;

				for (j = 0; j < PAGE_SIZE / 8; j++)
					p[j] = value;
			} else {
				*p = value;
			}
		}
		GUEST_SYNC(n);
	}
}

struct kvm_vcpu *vcpu_add_page_writer(struct kvm_vm *vm, uint32_t id)
{
	struct kvm_vcpu *vcpu = vcpu_add(vm, id, guest_page_writer_main);

	vcpu->mailbox_gva = vm_alloc(vm, MAILBOX_SIZE);
	vcpu->mailbox_entries = (MAILBOX_SIZE -
				 sizeof(struct page_writer_mailbox)) /
				sizeof(uint64_t);
	vcpu_args_set(vcpu, 1, vcpu->mailbox_gva);
	return vcpu;
}

void vcpu_write_pages(struct kvm_vcpu *vcpu, const uint64_t *gpas,
		      uint64_t nr, uint64_t value, uint32_t flags)
{
	struct page_writer_mailbox *mb;
	uint64_t done = 0, i;

	TEST_ASSERT(vcpu->mailbox_gva,
		    "vCPU %u was not created by vcpu_add_page_writer()",
		    vcpu->id);
	mb = addr_gva2hva(vcpu->vm, vcpu->mailbox_gva);
	while (done < nr) {
		uint64_t n = nr - done;
		struct ucall uc;

		if (n > vcpu->mailbox_entries)
			n = vcpu->mailbox_entries;
		for (i = 0; i < n; i++) {
			uint64_t gpa = gpas[done + i];

			TEST_ASSERT(!(gpa & (PAGE_SIZE - 1)) &&
				    __addr_gpa2hva(vcpu->vm, gpa),
				    "page writer: %#llx is not a guest page",
				    (unsigned long long)gpa);
			mb->gpa[i] = gpa;
		}
		mb->nr_pages = n;
		mb->value = value;
		mb->flags = flags;
		TEST_ASSERT(vcpu_run(vcpu, &uc) == UCALL_SYNC &&
			    uc.args[0] == n,
			    "page writer: unexpected ucall %lu (%lu)",
			    uc.cmd, uc.args[0]);
		done += n;
	}
}

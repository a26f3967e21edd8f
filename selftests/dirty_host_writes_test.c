// SPDX-License-Identifier: GPL-2.0
/*
 * Host writes (Documentation/dirty-tracking.rst, "Host writes"): guest
 * memory written from the host, through the VMM's own mapping as device
 * emulation does, or through another process's mapping of the same
 * memory as a vhost-user backend does, is reported although KVM's log
 * cannot see it; nothing else is.
 *
 * The VM has no vCPU: KVM logs nothing, so every page a round reports is
 * one the host-write walk found, and the reports can be checked exactly.
 * Its memory is a shared memfd mapped by two memslots at different guest
 * addresses (as QEMU maps RAM in SMM's address space too): a page written
 * once is reported in both, and counted once. With the module parameter
 * track_host_writes off, the same writes are not reported at all.
 */
#include "kselftest_harness.h"

#include <fcntl.h>
#include <sys/mman.h>

#include "dirty_util.h"
#include "lm_selftest.h"

#define MEM_SIZE	(4 * MiB)
#define NR_PAGES	(MEM_SIZE / PAGE_SIZE)
#define ALIAS_GPA	(16 * MiB)
#define KNOB		"/sys/module/lm/parameters/track_host_writes"

FIXTURE(host) {
	struct kvm_vm *vm;
	struct lm_nl *nl;
	uint32_t id;
	int memfd;
	unsigned char *mem;	/* the VMM's mapping, both slots' memory */
};

static int set_knob(bool on)
{
	int fd = open(KNOB, O_WRONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -1;
	ret = write(fd, on ? "Y" : "N", 1) == 1 ? 0 : -1;
	close(fd);
	return ret;
}

static void add_slot(struct kvm_vm *vm, uint32_t slot, uint64_t gpa,
		     void *hva)
{
	struct kvm_userspace_memory_region region = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = MEM_SIZE,
		.userspace_addr = (uintptr_t)hva,
	};

	vm_ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region);
}

FIXTURE_SETUP(host)
{
	self->memfd = -1;
	REQUIRE_KVM();
	self->memfd = memfd_create("guest-ram", MFD_CLOEXEC);
	ASSERT_LE(0, self->memfd);
	ASSERT_EQ(0, ftruncate(self->memfd, MEM_SIZE));
	self->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
			 self->memfd, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
	/* A guest that has run: all its memory written once. */
	memset(self->mem, 0x5a, MEM_SIZE);
	self->vm = vm_create_barebones();
	add_slot(self->vm, 0, 0, self->mem);
	add_slot(self->vm, 1, ALIAS_GPA, self->mem);
	ASSERT_EQ(0, lm_nl_open(&self->nl));
	ASSERT_EQ(0, lm_nl_attach(self->nl, self->vm->fd, 0, &self->id));
}

FIXTURE_TEARDOWN(host)
{
	set_knob(true);
	if (self->nl) {
		if (self->id)
			lm_nl_detach(self->nl, self->id);
		lm_nl_close(self->nl);
	}
	vm_free(self->vm);
	if (self->mem && self->mem != MAP_FAILED)
		munmap(self->mem, MEM_SIZE);
	if (self->memfd >= 0)
		close(self->memfd);
}

/* Write one byte of each page of @pages (page numbers) through @map. */
static void host_write(unsigned char *map, const unsigned int *pages,
		       unsigned int n, unsigned char value)
{
	for (unsigned int i = 0; i < n; i++)
		((volatile unsigned char *)map)[pages[i] * PAGE_SIZE + 64] = value;
}

/*
 * Close a round: it must report exactly @pages (@n of them) in both
 * slots, found by the host-write walk and not by KVM.
 */
static void expect_round(struct __test_metadata *_metadata,
			 FIXTURE_DATA(host) *self, const unsigned int *pages,
			 unsigned int n)
{
	uint8_t want[2 * NR_PAGES] = { 0 }, got[2 * NR_PAGES] = { 0 };
	struct lm_track_dirty d;
	struct lm_track_round r;
	unsigned int i, wrong = 0;

	ASSERT_EQ(0, lm_nl_track_sync(self->nl, self->id, &r));
	EXPECT_TRUE(r.host_writes);
	EXPECT_EQ(n, r.host_dirty);
	EXPECT_EQ(n, r.host_only);
	EXPECT_EQ(2 * n, r.dirty);
	lm_track_round_free(&r);

	ASSERT_EQ(0, lm_nl_track_get(self->nl, self->id, &d));
	for (size_t k = 0; k < d.nr_runs; k++)
		for (uint64_t gfn = d.runs[k].gfn;
		     gfn < d.runs[k].gfn + d.runs[k].npages; gfn++) {
			uint64_t at = gfn < NR_PAGES ? gfn :
				      gfn - ALIAS_GPA / PAGE_SIZE + NR_PAGES;

			ASSERT_GT(2 * NR_PAGES, at);
			got[at] = 1;
		}
	lm_track_dirty_free(&d);
	for (i = 0; i < n; i++) {
		unsigned int page = pages[i] % NR_PAGES;

		want[page] = want[NR_PAGES + page] = 1;
	}
	for (i = 0; i < 2 * NR_PAGES; i++) {
		if (want[i] == got[i])
			continue;
		TH_LOG("slot %u page %u: %s", i / NR_PAGES, i % NR_PAGES,
		       want[i] ? "written, not reported" :
				 "reported, not written");
		wrong++;
	}
	EXPECT_EQ(0, wrong);
}

TEST_F(host, reported_in_every_alias)
{
	static const unsigned int first[] = { 0, 3, 511, 512, 700, 1023 };
	static const unsigned int second[] = { 3, 4, 5, 900 };
	unsigned char *other;

	ASSERT_EQ(0, lm_nl_track_start(self->nl, self->id));
	/* Written before START only: nothing to report. */
	expect_round(_metadata, self, NULL, 0);

	/* Through the VMM's own mapping, as its device emulation writes. */
	host_write(self->mem, first, 6, 1);
	expect_round(_metadata, self, first, 6);
	/* The walk cleaned them: not reported again. */
	expect_round(_metadata, self, NULL, 0);
	host_write(self->mem, first, 6, 2);
	expect_round(_metadata, self, first, 6);

	/* Through a second mapping, as a vhost-user backend writes. */
	other = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		     self->memfd, 0);
	ASSERT_NE(MAP_FAILED, other);
	host_write(other, second, 4, 3);
	expect_round(_metadata, self, second, 4);
	expect_round(_metadata, self, NULL, 0);
	host_write(other, second, 4, 4);
	host_write(self->mem, first, 6, 5);
	{
		static const unsigned int both[] = {
			0, 3, 4, 5, 511, 512, 700, 900, 1023,
		};

		expect_round(_metadata, self, both, 9);
	}
	munmap(other, MEM_SIZE);
	ASSERT_EQ(0, lm_nl_track_stop(self->nl, self->id));
}

TEST_F(host, unreported_with_the_knob_off)
{
	static const unsigned int pages[] = { 1, 2, 600 };
	struct lm_track_round r;

	ASSERT_EQ(0, set_knob(false));
	ASSERT_EQ(0, lm_nl_track_start(self->nl, self->id));
	ASSERT_EQ(0, set_knob(true));
	ASSERT_EQ(0, lm_nl_track_sync(self->nl, self->id, &r));
	lm_track_round_free(&r);
	host_write(self->mem, pages, 3, 1);
	ASSERT_EQ(0, lm_nl_track_sync(self->nl, self->id, &r));
	/* Sampled at START: this session does not track host writes. */
	EXPECT_FALSE(r.host_writes);
	EXPECT_EQ(0, r.dirty);
	lm_track_round_free(&r);
	ASSERT_EQ(0, lm_nl_track_stop(self->nl, self->id));
}

TEST_HARNESS_MAIN

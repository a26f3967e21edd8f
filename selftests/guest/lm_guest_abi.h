/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What lm-guest.elf and the tests that read its memory from outside share.
 *
 * lm-guest is a freestanding guest for an unmodified QEMU: it boots by
 * Multiboot (qemu -kernel lm-guest.elf -append "rate=10 tsc_khz=N"), then
 * sweeps its memory from LM_GUEST_FIRST to the top of RAM below 4 GiB (less
 * LM_GUEST_TOP_SPARE), pass after pass, leaving a stamp at the start of
 * each page it writes, and keeps its progress in struct lm_guest_info at
 * LM_GUEST_INFO_GPA. Under QEMU's pc machine, guest physical addresses
 * below 4 GiB are offsets in the RAM backend, so a test reads all of this
 * in the backend's file.
 *
 * With "ip=A.B.C.D" on its command line and a virtio-net-pci NIC it also
 * answers ARP and ping at that address (lm_guest_net.c), polling the NIC
 * while it paces its writes.
 */
#ifndef _LM_GUEST_ABI_H
#define _LM_GUEST_ABI_H

#include <stdint.h>

#define LM_GUEST_INFO_GPA	0x300000U
#define LM_GUEST_FIRST		0x400000U
/* Firmware tables (ACPI, SMBIOS) sit at the top of low memory. */
#define LM_GUEST_TOP_SPARE	0x100000U
#define LM_GUEST_MAGIC		0x54534547454d4c00ULL	/* "\0LMEGEST" */

struct lm_guest_info {
	uint64_t magic;		/* LM_GUEST_MAGIC once it runs */
	uint64_t first;		/* [first, end): the pages it writes */
	uint64_t end;
	uint64_t rate_mib;	/* MiB/s it paces itself to; 0: unpaced */
	uint64_t generation;	/* the pass in progress, from 1 */
	uint64_t cursor;	/* the next page it writes in this pass */
	uint64_t pages_written;
	/* With a NIC and "ip=" (lm_guest_net.c): */
	uint64_t net_ip;	/* its IPv4 address, host order; 0: no network */
	uint64_t net_rx;	/* frames received */
	uint64_t net_tx;	/* frames sent (ARP and echo replies) */
};

/*
 * The start of a page written in pass G: { pfn, G }, as four 32-bit
 * words. The pfn of a page never changes and G stays below 2^32, so a
 * guest stopped between two stores never leaves a stamp that does not
 * verify.
 */
struct lm_guest_stamp {
	uint32_t pfn, pfn_hi;
	uint32_t generation, generation_hi;
};

#endif /* _LM_GUEST_ABI_H */

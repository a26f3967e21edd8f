// SPDX-License-Identifier: GPL-2.0
/*
 * lm-guest: a freestanding guest that dirties its memory at a known pace,
 * for testing lm with an unmodified QEMU without booting an operating
 * system. See lm_guest_abi.h for what it writes and where.
 *
 * 32-bit protected mode, paging off, no interrupts: QEMU's Multiboot loader
 * leaves it so, and nothing here needs more.
 */
#include <stdint.h>

#include "lm_guest_abi.h"
#include "lm_guest_net.h"

struct multiboot_info {
	uint32_t flags;
	uint32_t mem_lower, mem_upper;	/* KiB below 1 MiB, above 1 MiB */
	uint32_t boot_device;
	uint32_t cmdline;
};

#define MB_INFO_MEMORY	(1U << 0)
#define MB_INFO_CMDLINE	(1U << 2)

#define PAGE_SIZE	4096U
#define COM1		0x3f8

void guest_main(const struct multiboot_info *mbi);

static inline void outb(uint16_t port, uint8_t v)
{
	asm volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static void puts_serial(const char *s)
{
	while (*s)
		outb(COM1, *s++);
}

static void putu_serial(uint32_t v)
{
	char buf[11], *p = buf + sizeof(buf);

	*--p = '\0';
	do {
		*--p = '0' + v % 10;
		v /= 10;
	} while (v);
	puts_serial(p);
}

/* The value of "KEY=N" in the command line, or @dflt. */
static uint32_t cmdline_u32(const char *cmdline, const char *key,
			    uint32_t dflt)
{
	const char *p = cmdline, *k;
	uint32_t v;

	while (p && *p) {
		for (k = key; *k && *p == *k; k++, p++)
			;
		if (!*k && *p == '=') {
			for (v = 0, p++; *p >= '0' && *p <= '9'; p++)
				v = v * 10 + (*p - '0');
			return v;
		}
		while (*p && *p != ' ')
			p++;
		while (*p == ' ')
			p++;
	}
	return dflt;
}

void guest_main(const struct multiboot_info *mbi)
{
	volatile struct lm_guest_info *info = (void *)LM_GUEST_INFO_GPA;
	const char *cmdline = "";
	uint64_t period = 0, next, now, end;
	uint32_t rate, tsc_khz, page;

	if (mbi->flags & MB_INFO_CMDLINE)
		cmdline = (const char *)mbi->cmdline;
	rate = cmdline_u32(cmdline, "rate", 10);
	tsc_khz = cmdline_u32(cmdline, "tsc_khz", 0);
	end = 0x100000ULL + (uint64_t)mbi->mem_upper * 1024;
	if (!(mbi->flags & MB_INFO_MEMORY) ||
	    end < LM_GUEST_FIRST + LM_GUEST_TOP_SPARE + PAGE_SIZE) {
		puts_serial("lm-guest: no memory to write\n");
		return;
	}
	end = (end - LM_GUEST_TOP_SPARE) & ~(uint64_t)(PAGE_SIZE - 1);
	/* Pacing needs the TSC's rate; without it the guest runs flat out. */
	/* TSC cycles per page: tsc_khz * 1000 / (rate * 256), in 32 bits. */
	if (rate && tsc_khz)
		period = tsc_khz * 125U / (rate * 32U);
	else
		rate = 0;

	info->first = LM_GUEST_FIRST;
	info->end = end;
	info->rate_mib = rate;
	info->generation = 1;
	info->cursor = LM_GUEST_FIRST;
	info->pages_written = 0;
	info->net_ip = 0;
	info->net_rx = 0;
	info->net_tx = 0;
	switch (net_init(cmdline, info)) {
	case 1:
		puts_serial("lm-guest: answering ping\n");
		break;
	case -1:
		puts_serial("lm-guest: ip= given but no virtio-net-pci NIC\n");
		break;
	}
	info->magic = LM_GUEST_MAGIC;
	puts_serial("lm-guest: writing ");
	putu_serial(LM_GUEST_FIRST >> 20);
	puts_serial("-");
	putu_serial(end >> 20);
	puts_serial(" MiB at ");
	putu_serial(rate);
	puts_serial(" MiB/s (0: unpaced)\n");

	next = rdtsc();
	for (;;) {
		for (page = LM_GUEST_FIRST; page < end; page += PAGE_SIZE) {
			volatile struct lm_guest_stamp *s = (void *)page;

			if (period) {
				while ((now = rdtsc()) < next) {
					net_poll(info);
					asm volatile("pause");
				}
				/* Late by over a second: do not catch up. */
				next = now - next > (uint64_t)tsc_khz * 1000 ?
				       now + period : next + period;
			}
			if (!period)
				net_poll(info);
			s->pfn = page / PAGE_SIZE;
			s->pfn_hi = 0;
			s->generation_hi = 0;
			s->generation = info->generation;
			info->cursor = page + PAGE_SIZE;
			info->pages_written++;
		}
		info->cursor = LM_GUEST_FIRST;
		info->generation++;
	}
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Host side of ucalls: turning a guest's report into a message.
 *
 * The strings of a ucall (file name, format, GUEST_ASSERT()'s expression)
 * are literals of the program image, which the guest runs at the host's
 * addresses, so the host reads them from its own copy of the image.
 */
#include <stdio.h>

#include "lmkvm.h"
#include "internal.h"

extern char __executable_start[], _end[];

static const char *image_string(uint64_t addr)
{
	const char *s = (const char *)addr;

	if (s < __executable_start || s >= _end)
		return "(not a string of the program image)";
	return s;
}

const char *exception_name(unsigned int vector)
{
	static const char *const names[NR_EXCEPTION_VECTORS] = {
		"#DE divide error", "#DB debug", "NMI", "#BP breakpoint",
		"#OF overflow", "#BR bound range", "#UD invalid opcode",
		"#NM device not available", "#DF double fault",
		"coprocessor segment overrun", "#TS invalid TSS",
		"#NP segment not present", "#SS stack fault",
		"#GP general protection", "#PF page fault", "reserved 15",
		"#MF x87 error", "#AC alignment check", "#MC machine check",
		"#XM SIMD exception", "#VE virtualization exception",
		"#CP control protection",
	};

	if (vector < NR_EXCEPTION_VECTORS && names[vector])
		return names[vector];
	return "reserved";
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
char *ucall_format(struct kvm_vm *vm, const struct ucall *uc, char *buf,
		   size_t len)
{
	int n = 0;

	(void)vm;
	switch (uc->cmd) {
	case UCALL_EXCEPTION:
		snprintf(buf, len,
			 "guest exception %s (vector %lu) at rip %#lx, error code %#lx, cr2 %#lx",
			 exception_name(uc->args[0]), uc->args[0], uc->args[2],
			 uc->args[1], uc->args[3]);
		return buf;
	case UCALL_ABORT:
		n = snprintf(buf, len, "guest assertion at %s:%lu: ",
			     uc->file ? image_string(uc->file) : "?",
			     uc->line);
		break;
	}
	if ((size_t)n >= len)
		return buf;
	if (uc->fmt)
		snprintf(buf + n, len - n, image_string(uc->fmt), uc->args[0],
			 uc->args[1], uc->args[2], uc->args[3]);
	else
		snprintf(buf + n, len - n, "ucall %lu (%#lx, %#lx, %#lx, %#lx)",
			 uc->cmd, uc->args[0], uc->args[1], uc->args[2],
			 uc->args[3]);
	return buf;
}
#pragma GCC diagnostic pop

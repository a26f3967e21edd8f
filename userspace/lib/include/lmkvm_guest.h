/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest side of liblmkvm: what code running inside a VM built by the library
 * may use, and the port I/O channel it shares with the host.
 *
 * The guest runs the host program's own image: the library copies every
 * loadable segment of the (static, non-PIE) executable into guest memory at
 * the same addresses and maps all guest memory 1:1, so a C function of the
 * host program can be the guest's entry point and guest code can use string
 * literals, globals and functions at their host addresses. Globals are copied
 * once, when the VM is set up; after that host and guest each have their own
 * copy (see sync_global_to_guest() in lmkvm.h).
 *
 * Guest code must not call into libc beyond what the compiler emits on its
 * own (memcpy/memset): there is no TLS, no system call and no interrupt
 * beyond what the guest sets up itself.
 *
 * String arguments of GUEST_PRINTF()/GUEST_ASSERT() must be string literals
 * (or other data of the program image): the host reads them at the same
 * address in its own copy of the image.
 *
 * Guest to host calls use two I/O ports:
 *  - LM_SERIAL_PORT (0x3f8, COM1's data register): each byte written is
 *    guest console output;
 *  - LM_UCALL_PORT: a 32-bit OUT with RDI pointing at a struct ucall in
 *    guest memory. The host decodes it in vcpu_get_ucall() and, for
 *    UCALL_ABORT and UCALL_EXCEPTION, reports the failure.
 */
#ifndef _LMKVM_GUEST_H
#define _LMKVM_GUEST_H

#include <stdint.h>

#define LM_SERIAL_PORT		0x3f8
#define LM_UCALL_PORT		0xe0

enum ucall_cmd {
	UCALL_NONE,
	UCALL_SYNC,		/* guest reached a point the host waits for */
	UCALL_DONE,		/* guest code finished (or returned) */
	UCALL_ABORT,		/* GUEST_ASSERT() failed */
	UCALL_EXCEPTION,	/* unexpected CPU exception in the guest */
	UCALL_PRINT,		/* formatted message, printed by the host */
};

#define UCALL_MAX_ARGS	4

/*
 * One guest to host call. Strings are guest addresses of string literals,
 * which are valid host addresses too; the host formats 'fmt' with 'args'
 * (each argument is passed as a 64-bit integer).
 */
struct ucall {
	uint64_t cmd;
	uint64_t args[UCALL_MAX_ARGS];
	uint64_t file;		/* const char * */
	uint64_t line;
	uint64_t fmt;		/* const char *, may be 0 */
};

static inline void guest_ucall_raw(struct ucall *uc)
{
	asm volatile("outl %%eax, %%dx"
		     : : "a"(0), "d"(LM_UCALL_PORT), "D"(uc) : "memory");
}

#define __guest_ucall(_cmd, _fmt, a0, a1, a2, a3)			\
do {									\
	struct ucall __uc = {						\
		.cmd = (_cmd),						\
		.args = { (uint64_t)(a0), (uint64_t)(a1),		\
			  (uint64_t)(a2), (uint64_t)(a3) },		\
		.file = (uint64_t)__FILE__,				\
		.line = __LINE__,					\
		.fmt = (uint64_t)(_fmt),				\
	};								\
	guest_ucall_raw(&__uc);						\
} while (0)

#define GUEST_SYNC(arg)		__guest_ucall(UCALL_SYNC, 0, arg, 0, 0, 0)
#define GUEST_DONE()		__guest_ucall(UCALL_DONE, 0, 0, 0, 0, 0)

/* Host-formatted output: up to four integer arguments ("%lu", "%#lx"...). */
#define GUEST_PRINTF(fmt, ...)						\
	__guest_ucall_args(UCALL_PRINT, fmt, ##__VA_ARGS__, 0, 0, 0, 0)
#define __guest_ucall_args(cmd, fmt, a0, a1, a2, a3, ...)		\
	__guest_ucall(cmd, fmt, a0, a1, a2, a3)

/*
 * GUEST_ASSERT(cond): report a failed condition to the host, which fails the
 * test (or stops the VMM) with file, line and expression. Never returns.
 */
#define GUEST_ASSERT(cond)						\
do {									\
	if (!(cond)) {							\
		__guest_ucall(UCALL_ABORT, "failed: %s", #cond, 0, 0, 0); \
		__builtin_unreachable();				\
	}								\
} while (0)

#define GUEST_ASSERT_EQ(a, b)						\
do {									\
	uint64_t __a = (uint64_t)(a), __b = (uint64_t)(b);		\
	if (__a != __b) {						\
		__guest_ucall(UCALL_ABORT,				\
			      "failed: %s == %s: %#lx != %#lx",		\
			      #a, #b, __a, __b);			\
		__builtin_unreachable();				\
	}								\
} while (0)

static inline void guest_outb(uint16_t port, uint8_t val)
{
	asm volatile("outb %0, %1" : : "a"(val), "Nd"(port));
}

static inline uint64_t guest_rdtsc(void)
{
	uint32_t lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static inline void guest_pause(void)
{
	asm volatile("pause");
}

/* Console output through the serial port, one exit per byte. */
static inline void guest_puts(const char *s)
{
	while (*s)
		guest_outb(LM_SERIAL_PORT, *s++);
}

/* Decimal output without any libc. */
static inline void guest_put_u64(uint64_t v)
{
	char buf[21];
	int i = sizeof(buf) - 1;

	buf[i] = '\0';
	do {
		buf[--i] = '0' + v % 10;
		v /= 10;
	} while (v);
	guest_puts(&buf[i]);
}

/*
 * The page writer: a ready-made guest for tests that need known pages
 * written at known times (dirty tracking, migration). See
 * vcpu_add_page_writer() and vcpu_write_pages() in lmkvm.h; the host fills the
 * mailbox, enters the guest, and the guest writes every listed page and
 * reports UCALL_SYNC with the number of pages written.
 */
#define PAGE_WRITER_FILL	(1u << 0)	/* fill the page, not just 8 bytes */

struct page_writer_mailbox {
	uint64_t nr_pages;		/* entries valid in gpa[] */
	uint64_t value;			/* what to write */
	uint64_t flags;			/* PAGE_WRITER_* */
	uint64_t gpa[];			/* page-aligned guest addresses */
};

void guest_page_writer_main(struct page_writer_mailbox *mb);

#endif /* _LMKVM_GUEST_H */

// SPDX-License-Identifier: GPL-2.0
/*
 * Guest side: CPU exceptions and the return of guest_code.
 *
 * The IDT's 32 exception vectors point at 16-byte stubs that push a zero
 * error code where the CPU pushes none, then the vector number, and go to
 * one common handler. The handler reports vector, error code, RIP and CR2
 * to the host, again each time the host enters the vCPU: a test or a
 * workload that faults is broken, and the host says so instead of seeing a
 * hang or a triple fault.
 */
#include "lmkvm_guest.h"
#include "internal.h"

struct exception_frame {
	uint64_t vector;
	uint64_t error_code;
	uint64_t rip;
	uint64_t cs;
	uint64_t rflags;
	uint64_t rsp;
	uint64_t ss;
};

void lm_guest_exception(struct exception_frame *frame) __attribute__((noreturn));

asm(".pushsection .text\n"
	".globl lm_exception_stubs\n"
	".align 16\n"
	"lm_exception_stubs:\n"
	".set vector, 0\n"
	".rept 32\n"
	".align 16\n"
	/* vectors with an error code: #DF #TS #NP #SS #GP #PF #AC #CP */
	".if vector <> 8 && (vector < 10 || vector > 14) && vector <> 17 && vector <> 21\n"
	"	pushq $0\n"
	".endif\n"
	"	pushq $vector\n"
	"	jmp lm_exception_common\n"
	".set vector, vector + 1\n"
	".endr\n"
	"lm_exception_common:\n"
	"	movq %rsp, %rdi\n"
	"	andq $-16, %rsp\n"
	"	call lm_guest_exception\n"
	"1:	cli\n"
	"	hlt\n"
	"	jmp 1b\n"
	".popsection\n");

void lm_guest_exception(struct exception_frame *frame)
{
	uint64_t cr2;

	asm volatile("mov %%cr2, %0" : "=r"(cr2));
	for (;;)
		__guest_ucall(UCALL_EXCEPTION, 0, frame->vector,
			      frame->error_code, frame->rip, cr2);
}

/* guest_code returned: tell the host, each time it enters the vCPU. */
asm(".pushsection .text\n"
	".globl lm_guest_return\n"
	"lm_guest_return:\n"
	"	andq $-16, %rsp\n"
	"	call lm_guest_done\n"
	"1:	cli\n"
	"	hlt\n"
	"	jmp 1b\n"
	".popsection\n");

void lm_guest_done(void) __attribute__((noreturn));

void lm_guest_done(void)
{
	for (;;)
		GUEST_DONE();
}

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The entry of lm-guest.elf: a Multiboot (version 1) header, so that an
 * unmodified QEMU boots it with -kernel, and the 32-bit entry point the
 * loader jumps to (protected mode, flat segments, paging off, %ebx the
 * Multiboot information). It sets up a stack and calls guest_main().
 */
#define MB_MAGIC	0x1badb002
#define MB_FLAGS	0x00000002	/* bit 1: give us the memory map */

	.section .multiboot, "a"
	.balign 4
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)

	.text
	.code32
	.globl _start
_start:
	cli
	movl $stack_top, %esp
	pushl %ebx
	call guest_main
1:	hlt
	jmp 1b

	.bss
	.balign 16
	.skip 16384
stack_top:

	.section .note.GNU-stack, "", @progbits

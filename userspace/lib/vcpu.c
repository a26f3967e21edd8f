// SPDX-License-Identifier: GPL-2.0
/*
 * vCPUs: creation in 64-bit mode, registers, and the run loop that turns
 * KVM exits into ucalls, console output or a clear failure.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/mman.h>

#include "lmkvm.h"
#include "internal.h"

struct kvm_vcpu *__vcpu_add(struct kvm_vm *vm, uint32_t id, int *err)
{
	struct kvm_vcpu *vcpu;

	if (id >= LM_MAX_VCPUS || vm->vcpus[id]) {
		*err = -EEXIST;
		return NULL;
	}
	vcpu = calloc(1, sizeof(*vcpu));
	if (!vcpu) {
		*err = -ENOMEM;
		return NULL;
	}
	vcpu->vm = vm;
	vcpu->id = id;
	vcpu->fd = ioctl(vm->fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (vcpu->fd < 0) {
		*err = -errno;
		goto err_free_vcpu;
	}
	vcpu->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE,
			 MAP_SHARED, vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		*err = -errno;
		goto err_close_vcpu;
	}
	vm->vcpus[id] = vcpu;
	vm->nr_vcpus++;
	return vcpu;

err_close_vcpu:
	close(vcpu->fd);
err_free_vcpu:
	free(vcpu);
	return NULL;
}

struct kvm_vcpu *vcpu_add(struct kvm_vm *vm, uint32_t id, void *guest_code)
{
	struct kvm_vcpu *vcpu;
	int err = 0;

	TEST_ASSERT(vm->long_mode, "vcpu_add() before vm_setup_long_mode()");
	vcpu = __vcpu_add(vm, id, &err);
	errno = -err;
	TEST_ASSERT(vcpu, "KVM_CREATE_VCPU %u failed", id);

	vcpu_set_cpuid(vcpu);
	vcpu_setup_long_mode(vcpu);
	/*
	 * With an in-kernel LAPIC every vCPU but the first would wait for
	 * INIT and SIPI, as an application processor does: all of ours start
	 * running at guest_code directly.
	 */
	vcpu_ioctl(vcpu, KVM_SET_MP_STATE,
		   &(struct kvm_mp_state){ .mp_state = KVM_MP_STATE_RUNNABLE });
	vcpu->stack_top = vm_alloc(vm, LM_VCPU_STACK_SIZE) +
			  LM_VCPU_STACK_SIZE;
	vcpu_set_entry(vcpu, guest_code);
	return vcpu;
}

/*
 * Enter guest_code as if it had been called: RSP points at a return address
 * (lm_guest_return, which reports UCALL_DONE) and RSP + 8 is 16-byte
 * aligned, as the System V ABI expects at a function's entry.
 */
void vcpu_set_entry(struct kvm_vcpu *vcpu, void *guest_code)
{
	struct kvm_regs regs = { 0 };
	uint64_t *ret;

	regs.rip = (uint64_t)guest_code;
	regs.rsp = vcpu->stack_top - 8;
	regs.rflags = 0x2;
	ret = addr_gva2hva(vcpu->vm, regs.rsp);
	*ret = (uint64_t)lm_guest_return;
	vcpu_regs_set(vcpu, &regs);
}

void vcpu_args_set(struct kvm_vcpu *vcpu, unsigned int n, ...)
{
	struct kvm_regs regs;
	uint64_t *argv[6];
	unsigned int i;
	va_list ap;

	TEST_ASSERT(n <= 6, "at most 6 guest arguments, not %u", n);
	vcpu_regs_get(vcpu, &regs);
	argv[0] = (uint64_t *)&regs.rdi;
	argv[1] = (uint64_t *)&regs.rsi;
	argv[2] = (uint64_t *)&regs.rdx;
	argv[3] = (uint64_t *)&regs.rcx;
	argv[4] = (uint64_t *)&regs.r8;
	argv[5] = (uint64_t *)&regs.r9;
	va_start(ap, n);
	for (i = 0; i < n; i++)
		*argv[i] = va_arg(ap, uint64_t);
	va_end(ap);
	vcpu_regs_set(vcpu, &regs);
}

void vcpu_regs_get(struct kvm_vcpu *vcpu, struct kvm_regs *regs)
{
	vcpu_ioctl(vcpu, KVM_GET_REGS, regs);
}

void vcpu_regs_set(struct kvm_vcpu *vcpu, struct kvm_regs *regs)
{
	vcpu_ioctl(vcpu, KVM_SET_REGS, regs);
}

void vcpu_sregs_get(struct kvm_vcpu *vcpu, struct kvm_sregs *sregs)
{
	vcpu_ioctl(vcpu, KVM_GET_SREGS, sregs);
}

void vcpu_sregs_set(struct kvm_vcpu *vcpu, struct kvm_sregs *sregs)
{
	vcpu_ioctl(vcpu, KVM_SET_SREGS, sregs);
}

int __vcpu_run(struct kvm_vcpu *vcpu)
{
	return ioctl(vcpu->fd, KVM_RUN, 0) ? -errno : 0;
}

const char *exit_reason_str(uint32_t reason)
{
	static const char *const names[] = {
		[KVM_EXIT_UNKNOWN] = "KVM_EXIT_UNKNOWN",
		[KVM_EXIT_EXCEPTION] = "KVM_EXIT_EXCEPTION",
		[KVM_EXIT_IO] = "KVM_EXIT_IO",
		[KVM_EXIT_HYPERCALL] = "KVM_EXIT_HYPERCALL",
		[KVM_EXIT_DEBUG] = "KVM_EXIT_DEBUG",
		[KVM_EXIT_HLT] = "KVM_EXIT_HLT",
		[KVM_EXIT_MMIO] = "KVM_EXIT_MMIO",
		[KVM_EXIT_IRQ_WINDOW_OPEN] = "KVM_EXIT_IRQ_WINDOW_OPEN",
		[KVM_EXIT_SHUTDOWN] = "KVM_EXIT_SHUTDOWN",
		[KVM_EXIT_FAIL_ENTRY] = "KVM_EXIT_FAIL_ENTRY",
		[KVM_EXIT_INTR] = "KVM_EXIT_INTR",
		[KVM_EXIT_INTERNAL_ERROR] = "KVM_EXIT_INTERNAL_ERROR",
		[KVM_EXIT_SYSTEM_EVENT] = "KVM_EXIT_SYSTEM_EVENT",
	};

	if (reason < sizeof(names) / sizeof(names[0]) && names[reason])
		return names[reason];
	return "KVM_EXIT_(other)";
}

/* Describe an exit the library does not handle. */
static void describe_exit(struct kvm_vcpu *vcpu, char *buf, size_t len)
{
	struct kvm_run *run = vcpu->run;
	int n;

	n = snprintf(buf, len, "vCPU %u: %s (%u)", vcpu->id,
		     exit_reason_str(run->exit_reason), run->exit_reason);
	switch (run->exit_reason) {
	case KVM_EXIT_SHUTDOWN:
		snprintf(buf + n, len - n,
			 ": the guest shut down (triple fault: an exception it could not handle)");
		break;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(buf + n, len - n,
			 ": VM entry failed, hardware reason %#llx on cpu %u",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason,
			 run->fail_entry.cpu);
		break;
	case KVM_EXIT_INTERNAL_ERROR: {
		uint32_t i;

		n += snprintf(buf + n, len - n,
			      ": KVM internal error, suberror %u, data",
			      run->internal.suberror);
		for (i = 0; i < run->internal.ndata && i < 16 &&
		     (size_t)n < len; i++)
			n += snprintf(buf + n, len - n, " %#llx",
				      (unsigned long long)run->internal.data[i]);
		break;
	}
	case KVM_EXIT_IO:
		snprintf(buf + n, len - n, ": unexpected %s of port %#x, size %u",
			 run->io.direction == KVM_EXIT_IO_OUT ? "write" : "read",
			 run->io.port, run->io.size);
		break;
	case KVM_EXIT_MMIO:
		snprintf(buf + n, len - n, ": unexpected %s at %#llx, %u bytes",
			 run->mmio.is_write ? "write" : "read",
			 (unsigned long long)run->mmio.phys_addr, run->mmio.len);
		break;
	}
}

/* Pass guest output on by whole lines, so that vCPUs do not interleave. */
static void serial_write(struct kvm_vcpu *vcpu, const char *data, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		vcpu->serial_buf[vcpu->serial_len++] = data[i];
		if (data[i] == '\n' ||
		    vcpu->serial_len == sizeof(vcpu->serial_buf)) {
			vcpu->vm->serial_out(vcpu->vm, vcpu->serial_buf,
					     vcpu->serial_len);
			vcpu->serial_len = 0;
		}
	}
}

/* COM1: console output, and a line status register that is always ready. */
static bool handle_serial(struct kvm_vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	char *data = (char *)run + run->io.data_offset;

	if (run->io.port < LM_SERIAL_PORT || run->io.port > LM_SERIAL_PORT + 7)
		return false;
	if (run->io.direction == KVM_EXIT_IO_OUT) {
		if (run->io.port == LM_SERIAL_PORT)
			serial_write(vcpu, data, run->io.size * run->io.count);
	} else {
		/* LSR: transmitter empty; everything else reads 0 */
		memset(data, run->io.port == LM_SERIAL_PORT + 5 ? 0x60 : 0,
		       run->io.size * run->io.count);
	}
	return true;
}

static void get_ucall(struct kvm_vcpu *vcpu, struct ucall *uc)
{
	struct kvm_regs regs;
	void *hva;

	vcpu_regs_get(vcpu, &regs);
	hva = __addr_gpa2hva(vcpu->vm, regs.rdi);
	if (!hva || !__addr_gpa2hva(vcpu->vm, regs.rdi + sizeof(*uc) - 1)) {
		memset(uc, 0, sizeof(*uc));
		uc->cmd = UCALL_ABORT;
		uc->fmt = (uint64_t)"ucall with a bad address";
		return;
	}
	memcpy(uc, hva, sizeof(*uc));
}

int __vcpu_run_ucall(struct kvm_vcpu *vcpu, struct ucall *uc, char *why,
		     size_t len)
{
	struct kvm_run *run = vcpu->run;
	int r;

	for (;;) {
		r = __vcpu_run(vcpu);
		if (r == -EINTR || (!r && run->exit_reason == KVM_EXIT_INTR))
			return -EINTR;
		if (r) {
			snprintf(why, len, "vCPU %u: KVM_RUN failed: %s",
				 vcpu->id, strerror(-r));
			return -EIO;
		}
		if (run->exit_reason == KVM_EXIT_IO) {
			if (run->io.port == LM_UCALL_PORT &&
			    run->io.direction == KVM_EXIT_IO_OUT) {
				get_ucall(vcpu, uc);
				return uc->cmd;
			}
			if (handle_serial(vcpu))
				continue;
		}
		describe_exit(vcpu, why, len);
		return -EIO;
	}
}

uint64_t vcpu_run_ucall(struct kvm_vcpu *vcpu, struct ucall *uc)
{
	struct ucall tmp;
	char why[512];
	int r;

	if (!uc)
		uc = &tmp;
	memset(uc, 0, sizeof(*uc));
	r = __vcpu_run_ucall(vcpu, uc, why, sizeof(why));
	if (r == -EINTR)
		return UCALL_NONE;
	if (r < 0)
		TEST_FAIL("%s", why);
	return r;
}

uint64_t vcpu_run(struct kvm_vcpu *vcpu, struct ucall *uc)
{
	struct ucall tmp;
	uint64_t cmd;
	char msg[512];

	if (!uc)
		uc = &tmp;
	do {
		cmd = vcpu_run_ucall(vcpu, uc);
	} while (cmd == UCALL_NONE);
	if (cmd == UCALL_ABORT || cmd == UCALL_EXCEPTION)
		TEST_FAIL("vCPU %u: %s", vcpu->id,
			  ucall_format(vcpu->vm, uc, msg, sizeof(msg)));
	if (cmd == UCALL_PRINT) {
		printf("%s\n", ucall_format(vcpu->vm, uc, msg, sizeof(msg)));
		return vcpu_run(vcpu, uc);
	}
	return cmd;
}

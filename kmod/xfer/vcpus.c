// SPDX-License-Identifier: GPL-2.0
/*
 * Keeping a VM's vCPUs out of the guest while lm must own its memory: on
 * the destination from the first page until COMMIT (received memory must
 * not be overwritten by, nor seen by, a guest that runs), and on the
 * source from SWITCHOVER to the end (the final dirty pages and the state
 * are only complete if the guest no longer runs). lmctl has the VMM pause
 * the guest; lm makes sure of it, in the kernel.
 *
 * KVM_RUN and every vCPU ioctl hold vcpu->mutex, so holding all of them
 * keeps the VMM from entering the guest, as KVM's own intra-host migration
 * does (sev_lock_vcpus_for_migration()). A vCPU whose mutex stays taken is
 * in KVM_RUN: the VMM is running the guest, and lm refuses to go on rather
 * than wait for it. The mutexes are taken with trylock, a few times over a
 * bounded time, so that a VMM that never lets go cannot hang the transfer.
 */

#include "internal.h"
#include "vm.h"

#include <linux/delay.h>
#include <linux/kvm_host.h>

/* How long a vCPU may take to leave KVM_RUN once its VMM paused it. */
#define LM_XFER_VCPU_WAIT_MS	2000

int lm_xfer_vcpus_lock(struct lm_xfer *x, const char *why)
{
	struct kvm *kvm = x->vm->kvm;
	unsigned int i, busy, n = atomic_read(&kvm->online_vcpus);
	unsigned long deadline = jiffies +
				 msecs_to_jiffies(LM_XFER_VCPU_WAIT_MS);
	struct kvm_vcpu *vcpu;

	for (i = 0; i < n; i++) {
		vcpu = kvm_get_vcpu(kvm, i);
		while (!mutex_trylock(&vcpu->mutex)) {
			if (time_after(jiffies, deadline) ||
			    lm_xfer_cancelled(x))
				goto err_unlock;
			usleep_range(5000, 10000);
		}
	}
	x->vcpus_locked = n;
	return 0;

err_unlock:
	busy = i;
	while (i--)
		mutex_unlock(&kvm_get_vcpu(kvm, i)->mutex);
	if (lm_xfer_cancelled(x))
		return -ECANCELED;
	lm_xfer_fail(x, -EBUSY, LM_WIRE_REASON_INTERNAL,
		     "vCPU %u of the %s VM is running: %s", busy,
		     x->role == LM_WIRE_ROLE_SOURCE ? "source" : "destination",
		     why);
	return -EBUSY;
}

void lm_xfer_vcpus_unlock(struct lm_xfer *x)
{
	struct kvm *kvm = x->vm->kvm;

	while (x->vcpus_locked)
		mutex_unlock(&kvm_get_vcpu(kvm, --x->vcpus_locked)->mutex);
}

bool lm_xfer_vcpus_have_run(struct kvm *kvm)
{
	struct kvm_vcpu *vcpu;
	unsigned long i;

	/* Every entry into the guest ends in an exit, which KVM counts. */
	kvm_for_each_vcpu(i, vcpu, kvm)
		if (READ_ONCE(vcpu->stat.exits))
			return true;
	return false;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * Who may act on an attached VM (Documentation/security.rst).
 *
 * Whoever drives lm on a VM can read and write its guest memory, so the
 * right to do so is the right to ptrace the VMM: the caller of ATTACH must
 * be allowed to ptrace the process named as the VMM, and every later
 * command on the VM asks again, since credentials change (setuid programs,
 * capabilities dropped). A VM also belongs to the network namespace it was
 * attached from: from any other it does not exist, as a network device of
 * another namespace does not.
 */

#include "vm.h"

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/kvm_host.h>
#include <linux/netlink.h>
#include <linux/pid.h>
#include <linux/sched.h>
#include <linux/sched/coredump.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <net/net_namespace.h>

/*
 * May current ptrace a process whose credentials are @tcred and whose
 * address space, if it still has one, is @mm? This is the decision of
 * ptrace_may_access(task, PTRACE_MODE_ATTACH_REALCREDS), which 6.1 does not
 * export to modules, so its rules are repeated here:
 *
 * - __ptrace_may_access(): the caller's real uid and gid are every uid and
 *   gid of the target, or the caller has CAP_SYS_PTRACE in the target's
 *   user namespace; a target that is not dumpable (it changed credentials)
 *   also needs CAP_SYS_PTRACE over its address space's user namespace;
 * - cap_ptrace_access_check(), the capability module's hook: the caller's
 *   permitted capabilities include all of the target's, in the same user
 *   namespace, or the caller has CAP_SYS_PTRACE there.
 *
 * The hooks of other security modules (Yama's ptrace_scope, SELinux,
 * AppArmor) are not exported either and are not consulted.
 *
 * Called under rcu_read_lock() when @tcred is a task's.
 */
static bool cred_may_ptrace(const struct cred *tcred, struct mm_struct *mm)
{
	const struct cred *cred = current_cred();

	if (!(uid_eq(cred->uid, tcred->euid) &&
	      uid_eq(cred->uid, tcred->suid) &&
	      uid_eq(cred->uid, tcred->uid) &&
	      gid_eq(cred->gid, tcred->egid) &&
	      gid_eq(cred->gid, tcred->sgid) &&
	      gid_eq(cred->gid, tcred->gid)) &&
	    !ns_capable(tcred->user_ns, CAP_SYS_PTRACE))
		return false;
	/* Dumpability after the credentials, as commit_creds() orders them. */
	smp_rmb();
	if (mm && get_dumpable(mm) != SUID_DUMP_USER &&
	    !ns_capable(mm->user_ns, CAP_SYS_PTRACE))
		return false;
	if (cred->user_ns == tcred->user_ns &&
	    cap_issubset(tcred->cap_permitted, cred->cap_permitted))
		return true;
	return ns_capable(tcred->user_ns, CAP_SYS_PTRACE);
}

/* Called with task_lock(@task) held, which keeps task->mm stable. */
static bool task_may_ptrace(struct task_struct *task)
{
	bool ok;

	/* A process may always act on itself. */
	if (same_thread_group(task, current))
		return true;
	rcu_read_lock();
	ok = cred_may_ptrace(__task_cred(task), task->mm);
	rcu_read_unlock();
	return ok;
}

/* May current ptrace @task (PTRACE_MODE_ATTACH_REALCREDS, see above)? */
bool lm_may_ptrace(struct task_struct *task)
{
	bool ok;

	task_lock(task);
	ok = task_may_ptrace(task);
	task_unlock(task);
	return ok;
}

/*
 * May current act on @vm? While its VMM runs (the process still has the
 * VM's address space), the answer is whether current may ptrace it. Once
 * the VMM has exited, or replaced its address space by exec, nobody can be
 * asked about; the credentials that attached the VM stand in for it, so
 * that whoever attached the VM (or could have ptraced them) can still
 * detach it.
 */
static bool vm_may_control(struct lm_vm *vm)
{
	struct task_struct *task;
	bool vmm_runs = false;
	bool ok = false;

	task = get_pid_task(vm->owner, PIDTYPE_TGID);
	if (task) {
		task_lock(task);
		vmm_runs = task->mm == vm->kvm->mm;
		if (vmm_runs)
			ok = task_may_ptrace(task);
		task_unlock(task);
		put_task_struct(task);
	}
	if (vmm_runs)
		return ok;
	return cred_may_ptrace(vm->cred, NULL);
}

/* Whether @vm is shown to current asking on a socket of namespace @net. */
bool lm_vm_visible(struct lm_vm *vm, struct net *net)
{
	return net_eq(vm->net, net) && vm_may_control(vm);
}

/*
 * May current, asking on a socket of namespace @net, act on @vm? 0, or
 * -ENOENT for a VM of another namespace (which is not there for it) or
 * -EPERM for one whose VMM it may not ptrace, with an extack message.
 */
int lm_vm_authorize(struct lm_vm *vm, struct net *net,
		    struct netlink_ext_ack *extack)
{
	if (!net_eq(vm->net, net)) {
		NL_SET_ERR_MSG(extack, "No attached VM has this id");
		return -ENOENT;
	}
	if (!vm_may_control(vm)) {
		NL_SET_ERR_MSG(extack, "Not allowed to ptrace the VMM of this VM");
		return -EPERM;
	}
	return 0;
}

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Attached VMs: lm's handle on a KVM virtual machine.
 *
 * ATTACH turns a KVM VM file into a struct lm_vm with an integer id. Ids
 * are handed out in increasing order and never reused while the module is
 * loaded, so an id kept after DETACH names nothing rather than another VM.
 * The lm_vm holds a reference on the VM's struct file, which keeps the
 * struct kvm (and the vendor module behind its file operations) alive even
 * after the VMM closed its descriptor or exited.
 *
 * Lifetime: an lm_vm is reference counted. The id table holds one reference
 * from ATTACH until DETACH (or module unload); every user between a lookup
 * and its end holds another (lm_vm_get()/lm_vm_put()). The VM file is
 * released when the last reference goes. DETACH marks the VM dead under
 * vm->lock and runs the teardown of every part (dirty tracking, transfer)
 * before dropping the table's reference, so a part that holds vm->lock and
 * sees !vm->dead may use the VM freely.
 *
 * Authority (Documentation/security.rst): a VM belongs to the network
 * namespace it was attached from, and only a caller who may ptrace its VMM
 * may act on it; lm_vm_authorize() is asked before every command on a VM.
 */
#ifndef _LM_VM_H
#define _LM_VM_H

#include <linux/kref.h>
#include <linux/mutex.h>
#include <linux/types.h>

struct cred;
struct file;
struct kvm;
struct net;
struct pid;
struct netlink_ext_ack;
struct task_struct;
struct lm_dirty;
struct lm_xfer;

struct lm_vm {
	u32 id;
	struct kref ref;
	/* Our reference on the KVM VM file; kvm is its private_data. */
	struct file *file;
	struct kvm *kvm;
	/* The VMM: the thread group whose address space the VM uses. */
	struct pid *owner;
	/*
	 * Who attached the VM, and from which network namespace (not pinned:
	 * the VM is detached when the namespace goes away).
	 */
	const struct cred *cred;
	struct net *net;
	/* Serialises the commands that operate on this VM. */
	struct mutex lock;
	/* Set, under lock, once the VM is detached: no new work may start. */
	bool dead;
	/* Dirty tracking state while TRACK_START is in force, under lock. */
	struct lm_dirty *dirty;
	/* The current or last migration of this VM, under lock. */
	struct lm_xfer *xfer;
};

int lm_vm_init(void);
void lm_vm_uninit(void);

struct lm_vm *lm_vm_attach(struct file *file, struct pid *owner,
			   struct net *net, struct netlink_ext_ack *extack);
int lm_vm_detach(u32 id, struct netlink_ext_ack *extack);

struct lm_vm *lm_vm_get(u32 id);
struct lm_vm *lm_vm_get_next(u32 *id);
void lm_vm_put(struct lm_vm *vm);

bool lm_may_ptrace(struct task_struct *task);
bool lm_vm_visible(struct lm_vm *vm, struct net *net);
int lm_vm_authorize(struct lm_vm *vm, struct net *net,
		    struct netlink_ext_ack *extack);

#endif /* _LM_VM_H */

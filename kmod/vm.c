// SPDX-License-Identifier: GPL-2.0
/*
 * Attached VMs: the id table and the lifetime of struct lm_vm (see vm.h).
 */

#include "dirty/dirty.h"
#include "xfer/xfer.h"
#include "vm.h"

#include <linux/atomic.h>
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/kvm_host.h>
#include <linux/netlink.h>
#include <linux/pid.h>
#include <linux/slab.h>
#include <net/net_namespace.h>

/* Ids start at 1 so that 0 can mean "no VM" in tools and replies. */
#define LM_VM_ID_MIN 1

static DEFINE_IDR(vm_idr);
/* Protects vm_idr and vm_next_id; never held while calling into KVM. */
static DEFINE_MUTEX(vm_idr_lock);
/*
 * The id of the next VM attached. Ids only grow: a tool (or an attacker)
 * still holding the id of a detached VM must find nothing there, not a
 * VM attached since. 2^31 attaches exhaust them; ATTACH fails after that.
 */
static unsigned int vm_next_id = LM_VM_ID_MIN;
/* Live lm_vm objects, to catch a leaked reference at module unload. */
static atomic_t vm_count = ATOMIC_INIT(0);

static void vm_release(struct kref *ref)
{
	struct lm_vm *vm = container_of(ref, struct lm_vm, ref);

	/* May be the last reference on the VM: KVM destroys it from here. */
	fput(vm->file);
	put_pid(vm->owner);
	put_cred(vm->cred);
	mutex_destroy(&vm->lock);
	kfree(vm);
	atomic_dec(&vm_count);
}

void lm_vm_put(struct lm_vm *vm)
{
	if (vm)
		kref_put(&vm->ref, vm_release);
}

struct lm_vm *lm_vm_get(u32 id)
{
	struct lm_vm *vm;

	mutex_lock(&vm_idr_lock);
	vm = idr_find(&vm_idr, id);
	if (vm)
		kref_get(&vm->ref);
	mutex_unlock(&vm_idr_lock);
	return vm;
}

/* The attached VM with the lowest id >= *id, for walking the table. */
struct lm_vm *lm_vm_get_next(u32 *id)
{
	struct lm_vm *vm;
	int next;

	/* The IDR's ids are ints (and lm's positive): none lies past these. */
	if (*id > INT_MAX)
		return NULL;
	next = *id;
	mutex_lock(&vm_idr_lock);
	vm = idr_get_next(&vm_idr, &next);
	if (vm) {
		kref_get(&vm->ref);
		*id = next;
	}
	mutex_unlock(&vm_idr_lock);
	return vm;
}

static bool vm_is_attached(struct kvm *kvm)
{
	struct lm_vm *vm;
	int id;

	lockdep_assert_held(&vm_idr_lock);
	idr_for_each_entry(&vm_idr, vm, id)
		if (vm->kvm == kvm)
			return true;
	return false;
}

/*
 * Attach the KVM VM behind @file, whose VMM is @owner, for current asking
 * from network namespace @net. Takes its own references on the file, the
 * pid and current's credentials; the caller keeps its own. @net is not
 * pinned: the VM is detached when @net goes away (vm_net_pre_exit()).
 */
struct lm_vm *lm_vm_attach(struct file *file, struct pid *owner,
			   struct net *net, struct netlink_ext_ack *extack)
{
	struct lm_vm *vm;
	int ret;

	vm = kzalloc(sizeof(*vm), GFP_KERNEL_ACCOUNT);
	if (!vm)
		return ERR_PTR(-ENOMEM);
	kref_init(&vm->ref);
	mutex_init(&vm->lock);
	vm->file = get_file(file);
	vm->kvm = file->private_data;
	vm->owner = get_pid(owner);
	vm->cred = get_current_cred();
	vm->net = net;
	atomic_inc(&vm_count);

	mutex_lock(&vm_idr_lock);
	if (vm_is_attached(vm->kvm)) {
		NL_SET_ERR_MSG(extack, "VM is already attached");
		ret = -EEXIST;
		goto err_unlock;
	}
	if (vm_next_id > INT_MAX) {
		NL_SET_ERR_MSG(extack, "VM ids are exhausted: reload the module");
		ret = -ENOSPC;
		goto err_unlock;
	}
	/* Every id from vm_next_id on is free: this returns vm_next_id. */
	ret = idr_alloc(&vm_idr, vm, vm_next_id, 0, GFP_KERNEL);
	if (ret < 0) {
		NL_SET_ERR_MSG(extack, "Cannot allocate a VM id");
		goto err_unlock;
	}
	vm->id = ret;
	vm_next_id = ret + 1U;
	/* The caller's reference; the one from kref_init() is the table's. */
	kref_get(&vm->ref);
	mutex_unlock(&vm_idr_lock);
	return vm;

err_unlock:
	mutex_unlock(&vm_idr_lock);
	lm_vm_put(vm);
	return ERR_PTR(ret);
}

/*
 * Stop everything running on @vm and drop the table's reference. The caller
 * has already removed @vm from the table.
 */
static void vm_teardown(struct lm_vm *vm)
{
	mutex_lock(&vm->lock);
	vm->dead = true;
	mutex_unlock(&vm->lock);
	/*
	 * The transfer first, since live migration reads the dirty bitmaps,
	 * and outside vm->lock, which its thread takes to harvest them.
	 */
	lm_xfer_teardown(vm);
	mutex_lock(&vm->lock);
	lm_dirty_teardown(vm);
	mutex_unlock(&vm->lock);
	lm_vm_put(vm);
}

int lm_vm_detach(u32 id, struct netlink_ext_ack *extack)
{
	struct lm_vm *vm;

	mutex_lock(&vm_idr_lock);
	vm = idr_remove(&vm_idr, id);
	mutex_unlock(&vm_idr_lock);
	if (!vm) {
		NL_SET_ERR_MSG(extack, "No attached VM has this id");
		return -ENOENT;
	}
	vm_teardown(vm);
	return 0;
}

/*
 * A VM is visible only in the network namespace it was attached from.
 * Once that namespace is gone nobody can name the VM again, so it is
 * detached then (its VMM, if alive, keeps running it) rather than kept,
 * with its memory and KVM's module, until lm is unloaded. A transfer
 * holds a reference on the namespace while its thread runs: a namespace
 * deleted during a migration goes once the migration has ended.
 */
static void __net_exit vm_net_pre_exit(struct net *net)
{
	struct lm_vm *vm;
	int id;

	mutex_lock(&vm_idr_lock);
	idr_for_each_entry(&vm_idr, vm, id) {
		if (!net_eq(vm->net, net))
			continue;
		idr_remove(&vm_idr, id);
		mutex_unlock(&vm_idr_lock);
		pr_info("VM %u: detached: its network namespace is gone\n",
			vm->id);
		vm_teardown(vm);
		mutex_lock(&vm_idr_lock);
	}
	mutex_unlock(&vm_idr_lock);
}

static struct pernet_operations vm_net_ops = {
	.pre_exit = vm_net_pre_exit,
};

int lm_vm_init(void)
{
	return register_pernet_subsys(&vm_net_ops);
}

void lm_vm_uninit(void)
{
	struct lm_vm *vm;
	int id;

	/* Runs vm_net_pre_exit() for every namespace: detaches every VM. */
	unregister_pernet_subsys(&vm_net_ops);

	mutex_lock(&vm_idr_lock);
	idr_for_each_entry(&vm_idr, vm, id) {
		idr_remove(&vm_idr, id);
		/* Teardown may sleep on vm->lock; the table is emptied first. */
		mutex_unlock(&vm_idr_lock);
		vm_teardown(vm);
		mutex_lock(&vm_idr_lock);
	}
	mutex_unlock(&vm_idr_lock);
	idr_destroy(&vm_idr);

	WARN(atomic_read(&vm_count), "lm: leak: %d VM objects still referenced at unload\n",
	     atomic_read(&vm_count));
}

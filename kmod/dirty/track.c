// SPDX-License-Identifier: GPL-2.0
/*
 * A tracking session: its worker thread, and starting, syncing and
 * stopping it.
 *
 * Each tracked VM has a kthread worker. The netlink handlers, holding
 * vm->lock, hand it one job at a time and wait for it: the work that needs
 * the VMM's address space (KVM's VM ioctls, the buffer the logs are copied
 * to) must run in a kernel thread, the only kind that may adopt another
 * process's mm. The worker holds the mm (mm_users) only while a job runs,
 * so tracking never keeps a dead VMM's memory alive.
 */

#include "internal.h"
#include "vm.h"

#include <linux/bitmap.h>
#include <linux/kthread.h>
#include <linux/lm.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

struct lm_dirty_job {
	struct kthread_work work;
	struct lm_dirty *d;
	int (*fn)(struct lm_dirty *d, const char **why);
	const char *why;
	int ret;
};

static void job_work(struct kthread_work *work)
{
	struct lm_dirty_job *job = container_of(work, struct lm_dirty_job, work);

	job->ret = job->fn(job->d, &job->why);
}

static int run_job(struct lm_dirty *d,
		   int (*fn)(struct lm_dirty *d, const char **why),
		   const char **why)
{
	struct lm_dirty_job job = { .d = d, .fn = fn };

	kthread_init_work(&job.work, job_work);
	kthread_queue_work(d->worker, &job.work);
	kthread_flush_work(&job.work);
	if (job.ret && why)
		*why = job.why;
	return job.ret;
}

/*
 * Adopt the VMM's address space, if it still exists. The struct mm itself
 * is pinned by KVM for the VM's lifetime; mm_users is what keeps the
 * address space from being torn down while lm works in it.
 */
struct mm_struct *lm_dirty_get_mm(struct lm_dirty *d)
{
	struct mm_struct *mm = d->vm->kvm->mm;

	if (!mmget_not_zero(mm))
		return NULL;
	kthread_use_mm(mm);
	return mm;
}

void lm_dirty_put_mm(struct mm_struct *mm)
{
	kthread_unuse_mm(mm);
	mmput(mm);
}

static int start_job(struct lm_dirty *d, const char **why)
{
	struct mm_struct *mm;
	int ret;

	mm = lm_dirty_get_mm(d);
	if (!mm) {
		*why = "The VMM has exited";
		return -ESRCH;
	}
	ret = lm_dirty_slots_reconcile(d, true);
	if (ret) {
		*why = "Cannot turn dirty logging on";
		goto err_restore;
	}
	ret = lm_dirty_buf_map(&d->buf, lm_dirty_slots_layout(d));
	if (ret) {
		*why = "Cannot map the dirty log buffer into the VMM";
		goto err_restore;
	}
	d->stale_layout = false;
	if (d->host_writes) {
		ret = lm_dirty_host_start(d, why);
		if (ret)
			goto err_unmap;
	}
	lm_dirty_put_mm(mm);
	return 0;

err_unmap:
	lm_dirty_buf_unmap(&d->buf, true);
err_restore:
	lm_dirty_slots_restore(d);
	lm_dirty_put_mm(mm);
	return ret;
}

static int sync_job(struct lm_dirty *d, const char **why)
{
	struct mm_struct *mm;
	int ret;

	mm = lm_dirty_get_mm(d);
	if (!mm) {
		*why = "The VMM has exited";
		return -ESRCH;
	}
	ret = lm_dirty_harvest(d, why);
	lm_dirty_put_mm(mm);
	return ret;
}

/*
 * Once the VMM is gone no vCPU can run again (KVM serves vCPU ioctls only
 * to the VM's mm): the slots are left as they are for KVM to free with
 * the VM, and the mapping went away with the address space.
 */
static int stop_job(struct lm_dirty *d, const char **why)
{
	struct mm_struct *mm;

	mm = lm_dirty_get_mm(d);
	if (mm) {
		lm_dirty_slots_restore(d);
		lm_dirty_buf_unmap(&d->buf, true);
		lm_dirty_put_mm(mm);
	} else {
		lm_dirty_buf_unmap(&d->buf, false);
	}
	return 0;
}

static void free_dirty(struct lm_dirty *d)
{
	kthread_destroy_worker(d->worker);
	kvfree(d->slots);
	kvfree(d->removed);
	kfree(d);
}

int lm_dirty_start(struct lm_vm *vm, bool migration, const char **why)
{
	struct lm_dirty *d;
	int ret;

	lockdep_assert_held(&vm->lock);
	if (vm->dirty) {
		*why = "Dirty tracking already runs on this VM";
		return -EBUSY;
	}
	if (READ_ONCE(vm->kvm->dirty_ring_size)) {
		*why = "The VM uses KVM's dirty ring, not the dirty log";
		return -EOPNOTSUPP;
	}

	d = kzalloc(sizeof(*d), GFP_KERNEL_ACCOUNT);
	if (!d)
		return -ENOMEM;
	d->vm = vm;
	d->migration = migration;
	d->host_writes = lm_dirty_host_writes_wanted();
	d->worker = kthread_create_worker(0, "lm-dirty/%u", vm->id);
	if (IS_ERR(d->worker)) {
		ret = PTR_ERR(d->worker);
		*why = "Cannot create the tracking thread";
		goto err_free;
	}
	ret = run_job(d, start_job, why);
	if (ret)
		goto err_destroy_worker;
	vm->dirty = d;
	return 0;

err_destroy_worker:
	kthread_destroy_worker(d->worker);
err_free:
	kvfree(d->slots);
	kvfree(d->removed);
	kfree(d);
	return ret;
}

int lm_dirty_sync(struct lm_vm *vm, const char **why)
{
	lockdep_assert_held(&vm->lock);
	if (!vm->dirty) {
		*why = "Dirty tracking does not run on this VM";
		return -ENOENT;
	}
	return run_job(vm->dirty, sync_job, why);
}

int lm_dirty_stop(struct lm_vm *vm)
{
	struct lm_dirty *d = vm->dirty;

	lockdep_assert_held(&vm->lock);
	if (!d)
		return -ENOENT;
	run_job(d, stop_job, NULL);
	free_dirty(d);
	vm->dirty = NULL;
	return 0;
}

long lm_dirty_collect(struct lm_vm *vm, u16 as_id, u64 base_gfn,
		      unsigned long npages, unsigned long hva,
		      unsigned long *bitmap)
{
	struct lm_dirty *d = vm->dirty;
	unsigned int i;

	lockdep_assert_held(&vm->lock);
	if (!d || !d->round)
		return -ENODATA;
	for (i = 0; i < d->nr_slots; i++) {
		struct lm_dirty_slot *s = &d->slots[i];

		if (s->as_id != as_id || s->base_gfn != base_gfn ||
		    s->npages != npages || s->hva != hva)
			continue;
		if (lm_dirty_slot_whole(d, s))
			bitmap_fill(bitmap, npages);
		else if (s->state == LM_TRACK_SLOT_LOGGED)
			bitmap_or(bitmap, bitmap, d->buf.kaddr + s->bitmap_off,
				  npages);
		return s->dirty;
	}
	return -ENOENT;
}

void lm_dirty_teardown(struct lm_vm *vm)
{
	lm_dirty_stop(vm);
}

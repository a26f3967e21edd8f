// SPDX-License-Identifier: GPL-2.0
/*
 * The dirty bitmaps shared between KVM's dirty-log ioctls, which copy to
 * and from user memory, and lm, which reads them in the kernel.
 *
 * The memory is a shmem object: its file operations and its final release
 * belong to the core kernel, so a mapping left in the VMM after lm.ko is
 * gone (the VMM died while a round was running, say) needs nothing of the
 * module. The VMM never gets a descriptor for it.
 */

#include "compat.h"
#include "internal.h"

#include <linux/err.h>
#include <linux/file.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

/* Room for the bitmap of the largest slot KVM accepts, past the mapping. */
#define LM_DIRTY_BUF_GUARD \
	PAGE_ALIGN(BITS_TO_LONGS(KVM_MEM_MAX_NR_PAGES) * sizeof(long))

static void buf_put_pages(struct lm_dirty_buf *buf, unsigned long nr)
{
	while (nr--)
		put_page(buf->pages[nr]);
	kvfree(buf->pages);
	buf->pages = NULL;
}

/*
 * Map a zeroed buffer of @size bytes into current->mm (the VMM's, adopted
 * with kthread_use_mm()) and into the kernel.
 */
int lm_dirty_buf_map(struct lm_dirty_buf *buf, size_t size)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	unsigned long i, reserve, addr;
	int ret;

	size = PAGE_ALIGN(size);
	buf->nr_pages = size >> PAGE_SHIFT;
	buf->file = shmem_file_setup("lm-dirty-log", size, VM_NORESERVE);
	if (IS_ERR(buf->file))
		return PTR_ERR(buf->file);
	/* Pinned for the whole session anyway: keep reclaim from trying. */
	mapping_set_unevictable(buf->file->f_mapping);

	buf->pages = kvcalloc(buf->nr_pages, sizeof(*buf->pages), GFP_KERNEL);
	if (!buf->pages) {
		ret = -ENOMEM;
		goto err_put_file;
	}
	for (i = 0; i < buf->nr_pages; i++) {
		struct page *page;

		page = shmem_read_mapping_page(buf->file->f_mapping, i);
		if (IS_ERR(page)) {
			ret = PTR_ERR(page);
			goto err_put_pages;
		}
		buf->pages[i] = page;
	}
	buf->kaddr = vmap(buf->pages, buf->nr_pages, VM_MAP, PAGE_KERNEL);
	if (!buf->kaddr) {
		ret = -ENOMEM;
		goto err_put_pages;
	}

	/* Reserve mapping and guard together, then map the buffer over. */
	reserve = vm_mmap(NULL, 0, size + LM_DIRTY_BUF_GUARD, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, 0);
	if (IS_ERR_VALUE(reserve)) {
		ret = reserve;
		goto err_vunmap;
	}
	addr = vm_mmap(buf->file, reserve, size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_FIXED | MAP_POPULATE, 0);
	if (IS_ERR_VALUE(addr)) {
		ret = addr;
		goto err_munmap;
	}

	/* A child of the VMM must not share, nor a core dump hold, lm's log. */
	mmap_write_lock(mm);
	vma = find_vma(mm, addr);
	if (vma && vma->vm_start == addr && vma->vm_file == buf->file)
		lm_vm_flags_set(vma, VM_DONTCOPY | VM_DONTDUMP);
	mmap_write_unlock(mm);

	buf->uaddr = addr;
	buf->size = size;
	return 0;

err_munmap:
	vm_munmap(reserve, size + LM_DIRTY_BUF_GUARD);
err_vunmap:
	vunmap(buf->kaddr);
	buf->kaddr = NULL;
err_put_pages:
	buf_put_pages(buf, i);
err_put_file:
	fput(buf->file);
	buf->file = NULL;
	return ret;
}

/* Is the guard after the buffer still the inaccessible mapping lm made? */
static bool guard_intact(const struct lm_dirty_buf *buf)
{
	unsigned long start = buf->uaddr + buf->size;
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	bool intact;

	mmap_read_lock(mm);
	vma = find_vma(mm, start);
	intact = vma && vma->vm_start == start &&
		 vma->vm_end == start + LM_DIRTY_BUF_GUARD && !vma->vm_file &&
		 !(vma->vm_flags & (VM_READ | VM_WRITE | VM_EXEC));
	mmap_read_unlock(mm);
	return intact;
}

/*
 * Undo lm_dirty_buf_map(). With @mm_alive the caller has the VMM's mm in
 * use and the mapping is removed from it, unless the VMM has put something
 * else there (lm never unmaps what is not its own); otherwise the address
 * space is already gone, and with it the mapping.
 */
void lm_dirty_buf_unmap(struct lm_dirty_buf *buf, bool mm_alive)
{
	if (!buf->file)
		return;
	if (mm_alive && buf->uaddr) {
		if (guard_intact(buf))
			vm_munmap(buf->uaddr + buf->size, LM_DIRTY_BUF_GUARD);
		if (lm_dirty_buf_intact(buf))
			vm_munmap(buf->uaddr, buf->size);
	}
	buf->uaddr = 0;
	vunmap(buf->kaddr);
	buf->kaddr = NULL;
	buf_put_pages(buf, buf->nr_pages);
	fput(buf->file);
	buf->file = NULL;
}

/*
 * Is the buffer still mapped where lm put it? The VMM can unmap or replace
 * it; KVM would then copy the log to whatever the VMM put there, and lm
 * would read stale bitmaps. The file cannot be mapped again by the VMM (it
 * never had a descriptor for it), so finding it in place after a harvest
 * proves KVM wrote into lm's pages.
 */
bool lm_dirty_buf_intact(const struct lm_dirty_buf *buf)
{
	struct mm_struct *mm = current->mm;
	struct vm_area_struct *vma;
	bool intact;

	mmap_read_lock(mm);
	vma = find_vma(mm, buf->uaddr);
	intact = vma && vma->vm_file == buf->file &&
		 vma->vm_start == buf->uaddr && !vma->vm_pgoff &&
		 vma->vm_end == buf->uaddr + buf->size &&
		 (vma->vm_flags & VM_WRITE) && (vma->vm_flags & VM_SHARED);
	mmap_read_unlock(mm);
	return intact;
}

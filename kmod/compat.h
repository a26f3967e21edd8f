/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The few kernel interfaces lm uses that changed after 6.1, the target
 * release. Everything version-dependent goes through here, so that the
 * rest of the module reads as if written for one kernel.
 */
#ifndef _LM_COMPAT_H
#define _LM_COMPAT_H

#include <linux/bvec.h>
#include <linux/mm.h>
#include <linux/net.h>
#include <linux/pagemap.h>
#include <linux/socket.h>
#include <linux/uio.h>
#include <linux/version.h>
#include <net/genetlink.h>

/*
 * Queue @len bytes of @page at @offset on a stream socket by reference:
 * TCP takes its own page reference and transmits the page as it is then.
 * 6.5 replaced ->sendpage with sendmsg(MSG_SPLICE_PAGES) over a bio_vec.
 * The test is the version, not the flag: 6.1.y defines MSG_SPLICE_PAGES
 * only to strip it from user requests; its TCP ignores it (and copies)
 * and its kTLS refuses it (-EOPNOTSUPP). On ->sendpage, MSG_MORE also
 * says MSG_SENDPAGE_NOTLAST, without which kTLS closes a record per page.
 * Returns the bytes queued or a negative errno.
 */
static inline int lm_sock_sendpage(struct socket *sock, struct page *page,
				   int offset, size_t len, int flags)
{
#if KERNEL_VERSION(6, 5, 0) <= LINUX_VERSION_CODE
	struct bio_vec bvec;
	struct msghdr msg = { .msg_flags = flags | MSG_SPLICE_PAGES };

	bvec_set_page(&bvec, page, len, offset);
	iov_iter_bvec(&msg.msg_iter, ITER_SOURCE, &bvec, 1, len);
	return sock_sendmsg(sock, &msg);
#else
	if (flags & MSG_MORE)
		flags |= MSG_SENDPAGE_NOTLAST;
	return kernel_sendpage(sock, page, offset, len, flags);
#endif
}

/*
 * struct msghdr has msg_ubuf (a caller-owned zero-copy completion) since
 * 6.0, before the oldest release lm supports; in 6.7 struct ubuf_info's
 * callback moved into an ops table, and msg_zerocopy_realloc() later took
 * another argument. The MSG_ZEROCOPY send method is built where both are
 * as in 6.1.
 */
#if KERNEL_VERSION(6, 7, 0) > LINUX_VERSION_CODE
#define LM_HAVE_MSG_UBUF 1
#else
#define LM_HAVE_MSG_UBUF 0
#endif

/*
 * 6.3 made vma->vm_flags writable only through helpers that assert the
 * mmap lock is held for writing, as it is here.
 */
static inline void lm_vm_flags_set(struct vm_area_struct *vma,
				   vm_flags_t flags)
{
#if KERNEL_VERSION(6, 3, 0) <= LINUX_VERSION_CODE
	vm_flags_set(vma, flags);
#else
	vma->vm_flags |= flags;
#endif
}

/* 6.2 moved the attributes a dump request carried into a genl_info. */
static inline struct nlattr **lm_genl_dump_attrs(struct netlink_callback *cb)
{
#if KERNEL_VERSION(6, 2, 0) <= LINUX_VERSION_CODE
	return genl_info_dump(cb)->attrs;
#else
	return genl_dumpit_info(cb)->attrs;
#endif
}

/* 6.2 split the ops that pre_doit is handed from struct genl_ops. */
#if KERNEL_VERSION(6, 2, 0) <= LINUX_VERSION_CODE
#define lm_genl_pre_doit_ops genl_split_ops
#else
#define lm_genl_pre_doit_ops genl_ops
#endif

/*
 * The generic netlink core lets anyone join a family's multicast group
 * unless the group asks for a capability, which it can only since the
 * GENL_MCAST_CAP_* flags (6.7, backported to the 6.1 stable series, which
 * Debian 12's kernel has). No hook of
 * the family itself sees the bind on older kernels, so lm does not build
 * there rather than hand transfer events to every local user.
 */
#ifndef GENL_MCAST_CAP_NET_ADMIN
#error "lm needs GENL_MCAST_CAP_NET_ADMIN (6.7, or a 6.1 stable release with it)"
#endif

/*
 * The page cache entry of @mapping at @index: a locked folio with a
 * reference, a value entry (shmem: swapped out), or NULL. 6.3 replaced
 * FGP_ENTRY by filemap_get_entry().
 */
static inline struct folio *lm_filemap_lock_entry(struct address_space *mapping,
						  pgoff_t index)
{
#if KERNEL_VERSION(6, 3, 0) <= LINUX_VERSION_CODE
	struct folio *folio;

	for (;;) {
		folio = filemap_get_entry(mapping, index);
		if (!folio || xa_is_value(folio))
			return folio;
		folio_lock(folio);
		if (likely(folio->mapping == mapping))
			return folio;
		folio_unlock(folio);
		folio_put(folio);
	}
#else
	return __filemap_get_folio(mapping, index, FGP_LOCK | FGP_ENTRY, 0);
#endif
}

/*
 * hugetlbfs indexes its page cache by huge page until 6.7, which moved it
 * to base-page indexes like every other file. linear_page_index() follows
 * either, but lm looks for unbacked hugetlbfs pages
 * (kmod/xfer/resident.c) only where it was checked against the source:
 * elsewhere they are read as any other page.
 */
#if KERNEL_VERSION(6, 7, 0) > LINUX_VERSION_CODE
#define LM_HAVE_HUGETLB_HOLES 1
#else
#define LM_HAVE_HUGETLB_HOLES 0
#endif

#endif /* _LM_COMPAT_H */

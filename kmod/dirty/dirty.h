/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Dirty tracking of an attached VM's memory (Documentation/dirty-tracking.rst):
 * what the rest of the module sees of it.
 */
#ifndef _LM_DIRTY_H
#define _LM_DIRTY_H

#include <linux/types.h>

struct genl_info;
struct lm_vm;
struct netlink_callback;
struct sk_buff;

/* Netlink handlers of LM_CMD_TRACK_*, wired into the family's ops table. */
int lm_dirty_nl_start(struct sk_buff *skb, struct genl_info *info);
int lm_dirty_nl_sync(struct sk_buff *skb, struct genl_info *info);
int lm_dirty_nl_stop(struct sk_buff *skb, struct genl_info *info);
int lm_dirty_nl_get_dump(struct sk_buff *skb, struct netlink_callback *cb);

/* Stop tracking @vm if it runs; called with vm->lock held when detaching. */
void lm_dirty_teardown(struct lm_vm *vm);

/*
 * In-kernel use (live migration), all with vm->lock held and !vm->dead.
 * A failure sets *@why to a message for the user (a string literal).
 *
 * lm_dirty_start() starts a session, lm_dirty_sync() closes a round and
 * lm_dirty_stop() ends the session (-ENOENT if none runs).
 *
 * lm_dirty_collect() ORs the pages of the last round that lie in the
 * memslot of address space @as_id at frame @base_gfn, @npages long, mapped
 * at @hva in the VMM, into @bitmap (@npages bits). A slot reported whole
 * in that round sets every bit. Returns the number of pages of the slot
 * in the round, or -ENOENT if no memslot has that layout any more (it was
 * deleted, moved or resized), -ENODATA before the first round.
 */
int lm_dirty_start(struct lm_vm *vm, bool migration, const char **why);
int lm_dirty_sync(struct lm_vm *vm, const char **why);
int lm_dirty_stop(struct lm_vm *vm);
long lm_dirty_collect(struct lm_vm *vm, u16 as_id, u64 base_gfn,
		      unsigned long npages, unsigned long hva,
		      unsigned long *bitmap);

#endif /* _LM_DIRTY_H */

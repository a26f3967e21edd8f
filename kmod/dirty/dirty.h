/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Dirty tracking of an attached VM's memory (Documentation/dirty-tracking.rst):
 * what the rest of the module sees of it.
 */
#ifndef _LM_DIRTY_H
#define _LM_DIRTY_H

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

#endif /* _LM_DIRTY_H */

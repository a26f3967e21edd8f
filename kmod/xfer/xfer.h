/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The transfer engine (Documentation/protocol.rst): what the rest of the
 * module sees of it.
 */
#ifndef _LM_XFER_H
#define _LM_XFER_H

#include <net/netlink.h>

struct genl_info;
struct lm_vm;
struct sk_buff;

int lm_xfer_init(void);
void lm_xfer_uninit(void);

/* Netlink handlers of LM_CMD_LISTEN..LM_CMD_STATUS and their policies. */
extern const struct nla_policy lm_xfer_listen_policy[];
extern const struct nla_policy lm_xfer_migrate_policy[];
extern const struct nla_policy lm_xfer_switchover_policy[];
extern const struct nla_policy lm_xfer_complete_policy[];
extern const struct nla_policy lm_xfer_vm_policy[];
int lm_xfer_nl_listen(struct sk_buff *skb, struct genl_info *info);
int lm_xfer_nl_migrate(struct sk_buff *skb, struct genl_info *info);
int lm_xfer_nl_switchover(struct sk_buff *skb, struct genl_info *info);
int lm_xfer_nl_complete(struct sk_buff *skb, struct genl_info *info);
int lm_xfer_nl_cancel(struct sk_buff *skb, struct genl_info *info);
int lm_xfer_nl_status(struct sk_buff *skb, struct genl_info *info);

/*
 * Cancel and wait for the transfer of @vm, if any. Called without
 * vm->lock when detaching, after vm->dead is set: no new transfer starts.
 */
void lm_xfer_teardown(struct lm_vm *vm);

#endif /* _LM_XFER_H */

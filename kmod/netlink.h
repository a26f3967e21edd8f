/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _LM_NETLINK_H
#define _LM_NETLINK_H

int lm_genl_init(void);
void lm_genl_uninit(void);

#endif /* _LM_NETLINK_H */

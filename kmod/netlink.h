/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _LM_NETLINK_H
#define _LM_NETLINK_H

#include <net/genetlink.h>

/* The "lm" family, for the parts that build their own replies. */
extern struct genl_family lm_genl_family;

/* Indexes of the family's multicast groups. */
enum lm_genl_mcgrp {
	LM_GENL_MCGRP_XFER,
};

int lm_genl_init(void);
void lm_genl_uninit(void);

#endif /* _LM_NETLINK_H */

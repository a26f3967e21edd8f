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

/*
 * True when the required attribute @type is missing from a request; the
 * extack then names it and says so in words.
 */
static inline bool lm_nl_missing(struct genl_info *info, int type)
{
	if (!GENL_REQ_ATTR_CHECK(info, type))
		return false;
	GENL_SET_ERR_MSG(info, "A required attribute is missing");
	return true;
}

int lm_genl_init(void);
void lm_genl_uninit(void);

#endif /* _LM_NETLINK_H */

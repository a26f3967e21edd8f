/* SPDX-License-Identifier: GPL-2.0 */
/* lm-guest's network: see lm_guest_net.c. */
#ifndef _LM_GUEST_NET_H
#define _LM_GUEST_NET_H

#include "lm_guest_abi.h"

/*
 * Find a virtio-net-pci NIC and start answering ARP and ping for the
 * address of "ip=A.B.C.D" in @cmdline: 1 once it runs, 0 without an
 * address, -1 without a usable NIC.
 */
int net_init(const char *cmdline, volatile struct lm_guest_info *info);

/* Answer what has arrived since the last call; cheap when nothing has. */
void net_poll(volatile struct lm_guest_info *info);

#endif /* _LM_GUEST_NET_H */

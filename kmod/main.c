// SPDX-License-Identifier: GPL-2.0
/*
 * lm: live migration of KVM virtual machines, done in the kernel.
 *
 * Module entry points. Each part has an init/uninit pair; they are brought
 * up in dependency order and torn down in reverse, so that by the time a
 * part goes away nothing above it can still call into it.
 */

#include "netlink.h"
#include "version.h"
#include "vm.h"
#include "xfer/xfer.h"

#include <linux/init.h>
#include <linux/lm.h>
#include <linux/module.h>
#include <net/genetlink.h>

static int __init lm_mod_init(void)
{
	int ret;

	ret = lm_vm_init();
	if (ret)
		return ret;

	ret = lm_xfer_init();
	if (ret)
		goto err_uninit_vm;

	/* Last: once the family is registered, commands can arrive. */
	ret = lm_genl_init();
	if (ret)
		goto err_uninit_xfer;

	pr_info("version %s loaded\n", LM_MODULE_VERSION);
	return 0;

err_uninit_xfer:
	lm_xfer_uninit();
err_uninit_vm:
	lm_vm_uninit();
	return ret;
}

static void __exit lm_mod_exit(void)
{
	/* Unregistering waits for commands in flight; then no new ones come. */
	lm_genl_uninit();
	lm_xfer_uninit();
	/* Detaches every VM, which ends their transfers. */
	lm_vm_uninit();
	pr_info("unloaded\n");
}

module_init(lm_mod_init);
module_exit(lm_mod_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Live migration of KVM virtual machines");
MODULE_VERSION(LM_MODULE_VERSION);
MODULE_ALIAS_GENL_FAMILY(LM_GENL_NAME);

// SPDX-License-Identifier: GPL-2.0
/* lmctl detach: drop lm's hold on a VM. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>

#include "lmctl.h"

int lmctl_cmd_detach(struct lmctl *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vm", required_argument, NULL, 'v' },
		{ }
	};
	bool have_id = false;
	struct lm_nl *nl;
	uint32_t id;
	int c, ret;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":v:", opts, NULL)) != -1) {
		switch (c) {
		case 'v':
			if (!lmctl_parse_u32(optarg, UINT32_MAX, &id))
				return lmctl_usage_error(ctx, "invalid VM id '%s'",
							 optarg);
			have_id = true;
			break;
		case ':':
			return lmctl_usage_error(ctx, "option '%s' needs a value",
						 argv[optind - 1]);
		default:
			return lmctl_usage_error(ctx, "unknown option '%s'",
						 argv[optind - 1]);
		}
	}
	if (optind < argc)
		return lmctl_usage_error(ctx, "unexpected argument '%s'",
					 argv[optind]);
	if (!have_id)
		return lmctl_usage_error(ctx, "which VM? give --vm ID");

	nl = lmctl_nl(ctx);
	if (!nl)
		return LMCTL_EXIT_FAILURE;
	ret = lm_nl_detach(nl, id);
	if (ret)
		return lmctl_fail(ctx, ret,
				  ret == -ENOENT ? "unknown VM id" : NULL,
				  "detach VM %u", id);

	if (ctx->json) {
		jw_object_begin(&ctx->out, NULL);
		jw_u64(&ctx->out, "id", id);
		jw_object_end(&ctx->out);
	} else {
		printf("detached vm %u\n", id);
	}
	return LMCTL_EXIT_OK;
}

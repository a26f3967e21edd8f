// SPDX-License-Identifier: GPL-2.0
/*
 * lmctl status: the state of a VM's current or last migration.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <linux/lm.h>
#include <linux/lm_wire.h>

#include "xfer.h"

int lmctl_cmd_status(struct lmctl *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vm", required_argument, NULL, 'v' },
		{ }
	};
	struct lm_xfer_status st;
	struct lm_nl *nl;
	uint32_t id = 0;
	int c, ret;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":v:", opts, NULL)) != -1) {
		switch (c) {
		case 'v':
			if (!lmctl_parse_u32(optarg, UINT32_MAX, &id) || !id)
				return lmctl_usage_error(ctx, "invalid VM id '%s'",
							 optarg);
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
	if (!id)
		return lmctl_usage_error(ctx, "which VM? give --vm ID");
	nl = lmctl_nl(ctx);
	if (!nl)
		return LMCTL_EXIT_FAILURE;
	ret = lm_nl_xfer_status(nl, id, &st);
	if (ret)
		return lmctl_fail(ctx, ret, NULL, "status of vm %u", id);

	if (ctx->json) {
		jw_object_begin(&ctx->out, NULL);
		jw_string(&ctx->out, "role", st.role == LM_WIRE_ROLE_SOURCE ?
			    "source" : "destination");
		xfer_json_status(&ctx->out, &st);
		jw_object_end(&ctx->out);
		return LMCTL_EXIT_OK;
	}
	printf("vm %u: %s, phase %s, round %u, %llu dirty pages left\n",
	       st.vm_id,
	       st.role == LM_WIRE_ROLE_SOURCE ? "outgoing" : "incoming",
	       xfer_phase_name(st.phase), st.round,
	       (unsigned long long)st.dirty_pages);
	printf("  pages %llu of %llu (%llu zero, %llu unbacked), %.1f MiB on the wire, state %llu bytes\n",
	       (unsigned long long)st.pages, (unsigned long long)st.total_pages,
	       (unsigned long long)st.zero_pages,
	       (unsigned long long)st.hole_pages, st.bytes / 1048576.0,
	       (unsigned long long)st.state_size);
	printf("  elapsed %.3f s, transfer thread CPU %.3f s\n",
	       st.elapsed_ns / 1e9, st.cpu_ns / 1e9);
	if (st.phase == LM_PHASE_FAILED)
		printf("  failed in phase %s: %s (%s, errno %u)\n",
		       xfer_phase_name(st.failed_phase), st.message,
		       xfer_reason_name(st.reason), st.err);
	return LMCTL_EXIT_OK;
}

// SPDX-License-Identifier: GPL-2.0
/* lmctl info: what the loaded module is and can do. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <linux/lm.h>

#include "lmctl.h"

static const struct {
	uint64_t bit;
	const char *name;
} lm_feature_names[] = {
	{ LM_FEATURE_ATTACH, "attach" },
	{ LM_FEATURE_DIRTY_TRACK, "dirty-track" },
	{ LM_FEATURE_MIGRATE, "migrate" },
};

#define LM_NR_FEATURE_NAMES ARRAY_SIZE(lm_feature_names)

/* Name of feature @bit; bits this lmctl does not know get "bit<N>". */
static const char *lm_feature_name(unsigned int bit, char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < LM_NR_FEATURE_NAMES; i++)
		if (lm_feature_names[i].bit == 1ULL << bit)
			return lm_feature_names[i].name;
	snprintf(buf, len, "bit%u", bit);
	return buf;
}

static void info_print_json(struct lmctl *ctx, const struct lm_info *info)
{
	struct json *j = &ctx->out;
	unsigned int bit;
	char buf[16];

	jw_object_begin(j, NULL);
	jw_string(j, "module_version", info->module_version);
	jw_u64(j, "wire_version", info->wire_version);
	jw_u64(j, "features_mask", info->features);
	jw_array_begin(j, "features");
	for (bit = 0; bit < 64; bit++)
		if (info->features & (1ULL << bit))
			jw_string(j, NULL, lm_feature_name(bit, buf, sizeof(buf)));
	jw_array_end(j);
	jw_string(j, "lmctl_version", LMCTL_VERSION);
	jw_string(j, "kernel_release", info->kernel_release);
	jw_object_end(j);
}

static void info_print(const struct lm_info *info)
{
	unsigned int bit;
	char buf[16];

	printf("lmctl version:   %s\n", LMCTL_VERSION);
	printf("module version:  %s\n", info->module_version);
	printf("wire protocol:   %" PRIu32 "\n", info->wire_version);
	printf("features:        0x%" PRIx64, info->features);
	for (bit = 0; bit < 64; bit++)
		if (info->features & (1ULL << bit))
			printf(" %s", lm_feature_name(bit, buf, sizeof(buf)));
	printf("\nkernel release:  %s\n", info->kernel_release);
}

int lmctl_cmd_info(struct lmctl *ctx, int argc, char **argv)
{
	struct lm_info info;
	struct lm_nl *nl;
	int ret;

	if (argc > 1)
		return lmctl_usage_error(ctx, "unexpected argument '%s'",
					 argv[1]);
	nl = lmctl_nl(ctx);
	if (!nl)
		return LMCTL_EXIT_FAILURE;
	ret = lm_nl_get_info(nl, &info);
	if (ret)
		return lmctl_fail(ctx, ret, NULL, "get module info");

	/*
	 * Same netlink ABI (lmctl_nl() checked it), so lmctl works; but
	 * they were built from different sources, which deserves a word.
	 */
	if (strcmp(info.module_version, LMCTL_VERSION))
		lmctl_err("warning: lmctl is version %s, the loaded lm module version %s",
			  LMCTL_VERSION, info.module_version);

	if (ctx->json)
		info_print_json(ctx, &info);
	else
		info_print(&info);
	return LMCTL_EXIT_OK;
}

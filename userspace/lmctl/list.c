// SPDX-License-Identifier: GPL-2.0
/* lmctl list: the attached VMs and their memory layout. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>

#include <linux/kvm.h>

#include "lmctl.h"

static const struct {
	uint32_t flag;
	const char *name;
} kvm_mem_flag_names[] = {
	{ KVM_MEM_LOG_DIRTY_PAGES, "dirty-log" },
	{ KVM_MEM_READONLY, "readonly" },
};

#define KVM_NR_MEM_FLAG_NAMES ARRAY_SIZE(kvm_mem_flag_names)

/* Flags as "dirty-log,readonly", "-" for none, unknown ones in hex. */
static const char *mem_flags_str(uint32_t flags, char *buf, size_t len)
{
	size_t i, pos = 0;

	if (!flags)
		return "-";
	buf[0] = '\0';
	for (i = 0; i < KVM_NR_MEM_FLAG_NAMES && pos < len; i++) {
		if (!(flags & kvm_mem_flag_names[i].flag))
			continue;
		pos += snprintf(buf + pos, len - pos, "%s%s", pos ? "," : "",
				kvm_mem_flag_names[i].name);
		flags &= ~kvm_mem_flag_names[i].flag;
	}
	if (flags && pos < len)
		snprintf(buf + pos, len - pos, "%s0x%" PRIx32, pos ? "," : "",
			 flags);
	return buf;
}

/* Sizes in the largest binary unit that divides them exactly. */
static const char *size_str(uint64_t size, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	unsigned int u = 0;

	while (u < 4 && size && !(size & 1023)) {
		size >>= 10;
		u++;
	}
	snprintf(buf, len, "%" PRIu64 " %s", size, units[u]);
	return buf;
}

static void list_print_vm(const struct lm_vm_info *vm)
{
	char flags[64], size[32];
	size_t i;

	printf("vm %" PRIu32 ": ", vm->id);
	if (vm->pid)
		printf("pid %" PRIu32, vm->pid);
	else
		printf("pid ? (outside this pid namespace)");
	printf("%s, %" PRIu32 " vCPU%s, %zu memslot%s\n",
	       vm->owner_alive ? "" : " (exited)", vm->nr_vcpus,
	       vm->nr_vcpus == 1 ? "" : "s", vm->nr_memslots,
	       vm->nr_memslots == 1 ? "" : "s");
	if (!vm->nr_memslots)
		return;
	printf("  %4s %2s %18s %10s %-18s %s\n", "slot", "as", "guest phys",
	       "size", "flags", "host virtual");
	for (i = 0; i < vm->nr_memslots; i++) {
		const struct lm_memslot *s = &vm->memslots[i];

		printf("  %4" PRIu32 " %2" PRIu32 " 0x%016" PRIx64
		       " %10s %-18s 0x%016" PRIx64 "\n",
		       s->id, s->as_id, s->gpa,
		       size_str(s->size, size, sizeof(size)),
		       mem_flags_str(s->flags, flags, sizeof(flags)), s->hva);
	}
}

static void list_print_vm_json(struct json *j, const struct lm_vm_info *vm)
{
	size_t i, f;

	jw_object_begin(j, NULL);
	jw_u64(j, "id", vm->id);
	jw_u64(j, "pid", vm->pid);
	jw_bool(j, "owner_alive", vm->owner_alive);
	jw_u64(j, "nr_vcpus", vm->nr_vcpus);
	jw_array_begin(j, "memslots");
	for (i = 0; i < vm->nr_memslots; i++) {
		const struct lm_memslot *s = &vm->memslots[i];

		jw_object_begin(j, NULL);
		jw_u64(j, "id", s->id);
		jw_u64(j, "as_id", s->as_id);
		jw_u64(j, "gpa", s->gpa);
		jw_u64(j, "size", s->size);
		jw_u64(j, "flags", s->flags);
		jw_array_begin(j, "flag_names");
		for (f = 0; f < KVM_NR_MEM_FLAG_NAMES; f++)
			if (s->flags & kvm_mem_flag_names[f].flag)
				jw_string(j, NULL, kvm_mem_flag_names[f].name);
		jw_array_end(j);
		jw_u64(j, "hva", s->hva);
		jw_object_end(j);
	}
	jw_array_end(j);
	jw_object_end(j);
}

int lmctl_cmd_list(struct lmctl *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vm", required_argument, NULL, 'v' },
		{ }
	};
	struct lm_vm_list list;
	bool one = false;
	uint32_t id = 0;
	struct lm_nl *nl;
	int c, ret;
	size_t i;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":v:", opts, NULL)) != -1) {
		switch (c) {
		case 'v':
			if (!lmctl_parse_u32(optarg, UINT32_MAX, &id))
				return lmctl_usage_error(ctx, "invalid VM id '%s'",
							 optarg);
			one = true;
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

	nl = lmctl_nl(ctx);
	if (!nl)
		return LMCTL_EXIT_FAILURE;
	ret = lm_nl_list(nl, one, id, &list);
	if (ret) {
		lm_vm_list_free(&list);
		if (one)
			return lmctl_fail(ctx, ret,
					  ret == -ENOENT ? "unknown VM id" : NULL,
					  "list VM %u", id);
		return lmctl_fail(ctx, ret, NULL, "list VMs");
	}

	if (ctx->json) {
		jw_object_begin(&ctx->out, NULL);
		jw_array_begin(&ctx->out, "vms");
		for (i = 0; i < list.nr_vms; i++)
			list_print_vm_json(&ctx->out, &list.vms[i]);
		jw_array_end(&ctx->out);
		jw_object_end(&ctx->out);
	} else if (!list.nr_vms) {
		printf("no VMs attached\n");
	} else {
		for (i = 0; i < list.nr_vms; i++)
			list_print_vm(&list.vms[i]);
	}
	lm_vm_list_free(&list);
	return LMCTL_EXIT_OK;
}

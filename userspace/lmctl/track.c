// SPDX-License-Identifier: GPL-2.0
/*
 * lmctl track: dirty tracking of an attached VM, one operation per call:
 * start a session, sync rounds and print their statistics, dump a round's
 * dirty pages, stop.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <linux/lm.h>

#include "lmctl.h"

static const char *const slot_state_names[] = {
	[LM_TRACK_SLOT_LOGGED]		= "logged",
	[LM_TRACK_SLOT_NEW]		= "new",
	[LM_TRACK_SLOT_VMM_LOGGED]	= "vmm-logged",
	[LM_TRACK_SLOT_READONLY]	= "readonly",
	[LM_TRACK_SLOT_REMOVED]		= "removed",
};

static const char *slot_state_name(uint32_t state)
{
	if (state < ARRAY_SIZE(slot_state_names) && slot_state_names[state])
		return slot_state_names[state];
	return "unknown";
}

static double percent(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * part / whole : 0.0;
}

static void print_round(const struct lm_track_round *r, bool slots)
{
	size_t i;

	printf("vm %" PRIu32 " round %" PRIu64 ": %" PRIu64 " of %" PRIu64
	       " pages dirty (%.2f%%), harvest %.1f us%s",
	       r->vm_id, r->round, r->dirty, r->pages,
	       percent(r->dirty, r->pages), r->harvest_ns / 1000.0,
	       r->manual_protect ? ", manual protect" : "");
	if (r->host_writes)
		printf(", host writes %" PRIu64 " (%" PRIu64 " not in KVM's log,"
		       " %.1f us)\n", r->host_dirty, r->host_only,
		       r->host_ns / 1000.0);
	else
		printf(", host writes not tracked\n");
	if (!slots)
		return;
	printf("  %4s %2s %18s %10s %10s  %s\n", "slot", "as", "guest phys",
	       "pages", "dirty", "state");
	for (i = 0; i < r->nr_slots; i++) {
		const struct lm_track_slot *s = &r->slots[i];

		printf("  %4" PRIu32 " %2" PRIu32 " 0x%016" PRIx64 " %10" PRIu64
		       " %10" PRIu64 "  %s\n", s->id, s->as_id, s->gfn << 12,
		       s->pages, s->dirty, slot_state_name(s->state));
	}
}

static void json_slot(struct json *j, const struct lm_track_slot *s)
{
	jw_object_begin(j, NULL);
	jw_u64(j, "id", s->id);
	jw_u64(j, "as_id", s->as_id);
	jw_u64(j, "gpa", s->gfn << 12);
	jw_u64(j, "pages", s->pages);
	jw_u64(j, "dirty", s->dirty);
	jw_string(j, "state", slot_state_name(s->state));
	jw_object_end(j);
}

static void json_round(struct json *j, const struct lm_track_round *r)
{
	size_t i;

	jw_object_begin(j, NULL);
	jw_u64(j, "vm", r->vm_id);
	jw_u64(j, "round", r->round);
	jw_u64(j, "pages", r->pages);
	jw_u64(j, "dirty", r->dirty);
	jw_u64(j, "harvest_ns", r->harvest_ns);
	jw_bool(j, "manual_protect", r->manual_protect);
	jw_bool(j, "host_writes", r->host_writes);
	if (r->host_writes) {
		jw_u64(j, "host_dirty", r->host_dirty);
		jw_u64(j, "host_only", r->host_only);
		jw_u64(j, "host_ns", r->host_ns);
	}
	jw_array_begin(j, "slots");
	for (i = 0; i < r->nr_slots; i++)
		json_slot(j, &r->slots[i]);
	jw_array_end(j);
	jw_object_end(j);
}

static void sleep_ms(uint32_t ms)
{
	struct timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (long)(ms % 1000) * 1000000,
	};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int track_sync(struct lmctl *ctx, struct lm_nl *nl, uint32_t id,
		      uint32_t count, uint32_t interval_ms, bool slots)
{
	struct lm_track_round r;
	uint32_t i;
	int ret;

	if (ctx->json)
		jw_array_begin(&ctx->out, NULL);
	for (i = 0; i < count; i++) {
		if (i && interval_ms)
			sleep_ms(interval_ms);
		ret = lm_nl_track_sync(nl, id, &r);
		if (ret) {
			lm_track_round_free(&r);
			if (ctx->json)
				jw_array_end(&ctx->out);
			return lmctl_fail(ctx, ret,
					  ret == -ENOENT ? "no such VM, or it is not tracked" : NULL,
					  "sync VM %" PRIu32, id);
		}
		if (ctx->json)
			json_round(&ctx->out, &r);
		else
			print_round(&r, slots);
		fflush(stdout);
		lm_track_round_free(&r);
	}
	if (ctx->json)
		jw_array_end(&ctx->out);
	return LMCTL_EXIT_OK;
}

static int track_get(struct lmctl *ctx, struct lm_nl *nl, uint32_t id)
{
	struct lm_track_dirty d;
	uint64_t pages = 0;
	size_t i;
	int ret;

	ret = lm_nl_track_get(nl, id, &d);
	if (ret) {
		lm_track_dirty_free(&d);
		return lmctl_fail(ctx, ret,
				  ret == -EAGAIN ? "a round was synced meanwhile; try again" :
				  ret == -ENODATA ? "no round synced yet" : NULL,
				  "get dirty pages of VM %" PRIu32, id);
	}
	for (i = 0; i < d.nr_runs; i++)
		pages += d.runs[i].npages;

	if (ctx->json) {
		jw_object_begin(&ctx->out, NULL);
		jw_u64(&ctx->out, "vm", id);
		jw_u64(&ctx->out, "round", d.round);
		jw_u64(&ctx->out, "dirty", pages);
		jw_array_begin(&ctx->out, "slots");
		for (i = 0; i < d.nr_slots; i++)
			json_slot(&ctx->out, &d.slots[i]);
		jw_array_end(&ctx->out);
		jw_array_begin(&ctx->out, "runs");
		for (i = 0; i < d.nr_runs; i++) {
			jw_object_begin(&ctx->out, NULL);
			jw_u64(&ctx->out, "gpa", d.runs[i].gfn << 12);
			jw_u64(&ctx->out, "pages", d.runs[i].npages);
			jw_object_end(&ctx->out);
		}
		jw_array_end(&ctx->out);
		jw_object_end(&ctx->out);
	} else {
		printf("vm %" PRIu32 " round %" PRIu64 ": %" PRIu64
		       " dirty pages in %zu runs\n", id, d.round, pages,
		       d.nr_runs);
		for (i = 0; i < d.nr_runs; i++)
			printf("  0x%016" PRIx64 " %" PRIu64 "\n",
			       (uint64_t)d.runs[i].gfn << 12,
			       (uint64_t)d.runs[i].npages);
	}
	lm_track_dirty_free(&d);
	return LMCTL_EXIT_OK;
}

int lmctl_cmd_track(struct lmctl *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "vm", required_argument, NULL, 'v' },
		{ "count", required_argument, NULL, 'c' },
		{ "interval", required_argument, NULL, 'i' },
		{ "slots", no_argument, NULL, 's' },
		{ }
	};
	uint32_t id = 0, count = 1, interval_ms = 1000;
	bool have_id = false, slots = false;
	const char *op;
	struct lm_nl *nl;
	int c, ret;

	if (argc < 2 || argv[1][0] == '-')
		return lmctl_usage_error(ctx, "which operation? start, sync, get or stop");
	op = argv[1];
	argc--;
	argv++;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":v:c:i:s", opts, NULL)) != -1) {
		switch (c) {
		case 'v':
			if (!lmctl_parse_u32(optarg, UINT32_MAX, &id))
				return lmctl_usage_error(ctx, "invalid VM id '%s'",
							 optarg);
			have_id = true;
			break;
		case 'c':
			if (!lmctl_parse_u32(optarg, 1000000, &count) || !count)
				return lmctl_usage_error(ctx, "invalid round count '%s'",
							 optarg);
			break;
		case 'i':
			if (!lmctl_parse_u32(optarg, 3600000, &interval_ms))
				return lmctl_usage_error(ctx, "invalid interval '%s'",
							 optarg);
			break;
		case 's':
			slots = true;
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
	if (strcmp(op, "sync") && (count != 1 || slots))
		return lmctl_usage_error(ctx, "--count, --interval and --slots go with sync");

	nl = lmctl_nl(ctx);
	if (!nl)
		return LMCTL_EXIT_FAILURE;

	if (!strcmp(op, "sync"))
		return track_sync(ctx, nl, id, count, interval_ms, slots);
	if (!strcmp(op, "get"))
		return track_get(ctx, nl, id);
	if (!strcmp(op, "start"))
		ret = lm_nl_track_start(nl, id);
	else if (!strcmp(op, "stop"))
		ret = lm_nl_track_stop(nl, id);
	else
		return lmctl_usage_error(ctx, "unknown operation '%s'", op);
	if (ret)
		return lmctl_fail(ctx, ret,
				  ret == -ENOENT && !strcmp(op, "stop") ?
				  "no such VM, or it is not tracked" : NULL,
				  "%s tracking VM %" PRIu32, op, id);

	if (ctx->json) {
		jw_object_begin(&ctx->out, NULL);
		jw_u64(&ctx->out, "vm", id);
		jw_string(&ctx->out, "tracking",
			    strcmp(op, "start") ? "stopped" : "started");
		jw_object_end(&ctx->out);
	} else {
		printf("vm %" PRIu32 ": dirty tracking %s\n", id,
		       strcmp(op, "start") ? "stopped" : "started");
	}
	return LMCTL_EXIT_OK;
}

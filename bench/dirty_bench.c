// SPDX-License-Identifier: GPL-2.0
/*
 * dirty_bench: time to harvest one round of dirty pages, lm against the
 * VMM doing it itself, side by side on the same VM in the same run.
 *
 * For each guest size and dirty fraction, a page-writer vCPU dirties a
 * fresh random set of pages, then the round is harvested:
 *
 *  - userspace: the VMM (this process) issues KVM_GET_DIRTY_LOG on every
 *    memslot, as a VMM doing its own migration does, and counts the bits;
 *  - lm: TRACK_SYNC. Reported twice: the harvest as timed by the module
 *    (ioctls and counting, the same work as the userspace column) and the
 *    whole netlink round trip as seen by the caller.
 *
 * The paths alternate in blocks of rounds on the same VM (logging is
 * turned on by the VMM for one, by lm for the other), and each figure is
 * the median of its rounds. Usage: dirty_bench [-r ROUNDS] [-s SEED]
 * [SIZE_MIB...]; by default 256, 1024 and 2048 MiB.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/kvm.h>
#include <linux/lm.h>

#include "lm_nl.h"
#include "lmkvm.h"

#define MAX_ROUNDS	64
#define BLOCKS		3

static const double dirty_fractions[] = { 0.0, 0.01, 0.10 };

struct bench_vm {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu;
	uint64_t data_gpa;	/* free guest memory the writer may dirty */
	uint64_t data_pages;
	uint64_t total_pages;
	uint64_t *bitmaps[LM_MAX_MEMSLOTS];
	struct lm_nl *nl;
	uint32_t id;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dULL;
}

static const char *size_str(uint64_t mib, char *buf, size_t len)
{
	if (mib >= 1024 && !(mib % 1024))
		snprintf(buf, len, "%" PRIu64 "GiB", mib / 1024);
	else
		snprintf(buf, len, "%" PRIu64 "MiB", mib);
	return buf;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Sorts @v; the median. v[0] is then the fastest round. */
static uint64_t median(uint64_t *v, unsigned int n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void bench_vm_create(struct bench_vm *b, uint64_t size)
{
	unsigned int i;
	int ret;

	memset(b, 0, sizeof(*b));
	b->vm = vm_create(size);
	b->vcpu = vcpu_add_page_writer(b->vm, 0);
	/* Everything above the image, stacks and mailbox, minus a margin. */
	b->data_pages = (b->vm->alloc_end - b->vm->alloc_next) / PAGE_SIZE - 16;
	b->data_gpa = vm_alloc(b->vm, b->data_pages * PAGE_SIZE);
	b->total_pages = vm_mem_size(b->vm) / PAGE_SIZE;
	for (i = 0; i < b->vm->nr_memslots; i++) {
		b->bitmaps[i] = calloc(b->vm->memslots[i].size / PAGE_SIZE / 64 + 1,
				       sizeof(uint64_t));
		TEST_ASSERT(b->bitmaps[i], "calloc");
	}
	ret = lm_nl_open(&b->nl);
	errno = -ret;
	TEST_ASSERT(!ret, "lm_nl_open (is lm loaded?)");
	ret = lm_nl_attach(b->nl, b->vm->fd, 0, &b->id);
	errno = -ret;
	TEST_ASSERT(!ret, "ATTACH: %s", lm_nl_extack(b->nl));
}

static void bench_vm_destroy(struct bench_vm *b)
{
	unsigned int i;

	lm_nl_detach(b->nl, b->id);
	lm_nl_close(b->nl);
	for (i = 0; i < b->vm->nr_memslots; i++)
		free(b->bitmaps[i]);
	vm_free(b->vm);
}

/* Have the guest dirty @n distinct random pages of the data area. */
static void dirty_pages(struct bench_vm *b, uint64_t n, uint64_t *rng,
			uint64_t *gpas, uint8_t *chosen)
{
	uint64_t k = 0;

	if (!n)
		return;
	memset(chosen, 0, b->data_pages);
	while (k < n) {
		uint64_t i = rng_next(rng) % b->data_pages;

		if (chosen[i])
			continue;
		chosen[i] = 1;
		gpas[k++] = b->data_gpa + i * PAGE_SIZE;
	}
	vcpu_write_pages(b->vcpu, gpas, n, *rng, 0);
}

/* The VMM's own harvest: every slot's log, counted. Returns pages. */
static uint64_t harvest_userspace(struct bench_vm *b)
{
	uint64_t dirty = 0, w;
	unsigned int i;

	for (i = 0; i < b->vm->nr_memslots; i++) {
		struct kvm_memslot *ms = &b->vm->memslots[i];
		struct kvm_dirty_log log = {
			.slot = ms->slot,
			.dirty_bitmap = b->bitmaps[i],
		};
		uint64_t words = (ms->size / PAGE_SIZE + 63) / 64;

		vm_ioctl(b->vm, KVM_GET_DIRTY_LOG, &log);
		for (w = 0; w < words; w++)
			dirty += __builtin_popcountll(b->bitmaps[i][w]);
	}
	return dirty;
}

static void set_logging(struct bench_vm *b, bool on)
{
	unsigned int i;

	for (i = 0; i < b->vm->nr_memslots; i++)
		vm_set_memslot_flags(b->vm, b->vm->memslots[i].slot,
				     on ? KVM_MEM_LOG_DIRTY_PAGES : 0);
}

struct result {
	uint64_t user_ns[MAX_ROUNDS * BLOCKS];
	uint64_t lm_ns[MAX_ROUNDS * BLOCKS];
	uint64_t sync_ns[MAX_ROUNDS * BLOCKS];
	unsigned int n_user, n_lm;
};

static void run_config(struct bench_vm *b, uint64_t n, unsigned int rounds,
		       uint64_t *rng, uint64_t *gpas, uint8_t *chosen,
		       struct result *res)
{
	struct lm_track_round r;
	unsigned int blk, i;
	uint64_t t, got;
	int ret;

	memset(res, 0, sizeof(*res));
	for (blk = 0; blk < BLOCKS; blk++) {
		/* Userspace: the VMM logs and harvests itself. */
		set_logging(b, true);
		harvest_userspace(b);
		for (i = 0; i < rounds; i++) {
			dirty_pages(b, n, rng, gpas, chosen);
			t = now_ns();
			got = harvest_userspace(b);
			res->user_ns[res->n_user++] = now_ns() - t;
			TEST_ASSERT(got >= n, "userspace harvest: %" PRIu64
				    " pages, %" PRIu64 " written", got, n);
		}
		set_logging(b, false);

		/* lm: tracking session on the same VM. */
		ret = lm_nl_track_start(b->nl, b->id);
		errno = -ret;
		TEST_ASSERT(!ret, "TRACK_START: %s", lm_nl_extack(b->nl));
		ret = lm_nl_track_sync(b->nl, b->id, &r);
		lm_track_round_free(&r);
		for (i = 0; i < rounds; i++) {
			dirty_pages(b, n, rng, gpas, chosen);
			t = now_ns();
			ret = lm_nl_track_sync(b->nl, b->id, &r);
			res->sync_ns[res->n_lm] = now_ns() - t;
			errno = -ret;
			TEST_ASSERT(!ret, "TRACK_SYNC: %s", lm_nl_extack(b->nl));
			TEST_ASSERT(r.dirty >= n, "lm harvest: %" PRIu64
				    " pages, %" PRIu64 " written", r.dirty, n);
			res->lm_ns[res->n_lm++] = r.harvest_ns;
			lm_track_round_free(&r);
		}
		ret = lm_nl_track_stop(b->nl, b->id);
		errno = -ret;
		TEST_ASSERT(!ret, "TRACK_STOP: %s", lm_nl_extack(b->nl));
	}
}

static unsigned int rounds_for(double fraction, unsigned int rounds)
{
	/* Dirtying is slow under nested TCG: fewer rounds for big sets. */
	if (fraction >= 0.10)
		return rounds / 4 ? rounds / 4 : 1;
	if (fraction >= 0.01)
		return rounds / 2 ? rounds / 2 : 1;
	return rounds;
}

int main(int argc, char **argv)
{
	static const uint64_t default_sizes[] = { 256, 1024, 2048 };
	uint64_t sizes[8], seed = 0x5eedf00dULL, rng;
	unsigned int nr_sizes = 0, rounds = 12, s, f;
	struct result res;
	int c;

	while ((c = getopt(argc, argv, "r:s:h")) != -1) {
		switch (c) {
		case 'r':
			rounds = strtoul(optarg, NULL, 0);
			if (!rounds || rounds > MAX_ROUNDS) {
				fprintf(stderr, "rounds: 1 to %d\n", MAX_ROUNDS);
				return 2;
			}
			break;
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: %s [-r ROUNDS] [-s SEED] [SIZE_MIB...]\n",
				argv[0]);
			return c == 'h' ? 0 : 2;
		}
	}
	for (; optind < argc && nr_sizes < 8; optind++)
		sizes[nr_sizes++] = strtoull(argv[optind], NULL, 0);
	if (!nr_sizes) {
		memcpy(sizes, default_sizes, sizeof(default_sizes));
		nr_sizes = 3;
	}
	if (!kvm_available()) {
		fprintf(stderr, "dirty_bench: /dev/kvm is not available\n");
		return 1;
	}

	printf("# dirty_bench: harvest time per round, median of %u..%u rounds x %d blocks\n",
	       rounds_for(0.10, rounds), rounds, BLOCKS);
	printf("# userspace: KVM_GET_DIRTY_LOG by the VMM; lm: TRACK_SYNC (in-kernel harvest, and netlink round trip)\n");
	printf("# ratio: lm / userspace of the medians; min: of the fastest rounds\n");
	printf("%-7s %5s %7s %12s %13s %6s %6s %11s %6s\n", "guest", "dirty",
	       "pages", "userspace_us", "lm_harvest_us", "ratio", "min",
	       "lm_sync_us", "ratio");
	for (s = 0; s < nr_sizes; s++) {
		struct bench_vm b;
		uint64_t *gpas;
		uint8_t *chosen;

		bench_vm_create(&b, sizes[s] * MiB);
		gpas = calloc(b.data_pages, sizeof(*gpas));
		chosen = calloc(b.data_pages, 1);
		TEST_ASSERT(gpas && chosen, "calloc");
		rng = seed;
		for (f = 0; f < sizeof(dirty_fractions) / sizeof(dirty_fractions[0]); f++) {
			uint64_t n = b.total_pages * dirty_fractions[f];
			unsigned int r = rounds_for(dirty_fractions[f], rounds);
			uint64_t u, l, y;
			char name[32];

			if (n > b.data_pages)
				n = b.data_pages;
			run_config(&b, n, r, &rng, gpas, chosen, &res);
			u = median(res.user_ns, res.n_user);
			l = median(res.lm_ns, res.n_lm);
			y = median(res.sync_ns, res.n_lm);
			printf("%-7s %4.0f%% %7" PRIu64 " %12.1f %13.1f %6.2f %6.2f %11.1f %6.2f\n",
			       size_str(sizes[s], name, sizeof(name)),
			       dirty_fractions[f] * 100, n, u / 1000.0, l / 1000.0,
			       u ? (double)l / u : 0,
			       res.user_ns[0] ? (double)res.lm_ns[0] / res.user_ns[0] : 0,
			       y / 1000.0, u ? (double)y / u : 0);
			fflush(stdout);
		}
		free(gpas);
		free(chosen);
		bench_vm_destroy(&b);
	}
	return 0;
}

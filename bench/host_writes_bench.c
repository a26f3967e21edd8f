// SPDX-License-Identifier: GPL-2.0
/*
 * host_writes_bench: what tracking host writes (kmod/dirty/host_writes.c)
 * adds to a round's harvest, and what it costs the guest, side by side on
 * the same VM in the same run.
 *
 * The VM's memory is a shared memfd mapping, as QEMU's memory-backend-file
 * or memfd with share=on, all of it written once by the VMM (a guest that
 * has touched all its memory). Each round a page-writer vCPU dirties a
 * fresh random set of pages and the VMM (this process) writes as many
 * other pages through its own mapping, as QEMU's device emulation does;
 * then TRACK_SYNC closes the round. Sessions alternate, in blocks, between
 * the module parameter track_host_writes off and on. Figures are medians
 * of their rounds:
 *
 *  - harvest: the module's LM_A_TRACK_HARVEST_NS (KVM's logs, the host
 *    walk when on, counting), and of it the host walk (LM_A_TRACK_HOST_NS);
 *    "0%" is the final pass of a paused VM with nothing left to send;
 *  - guest: the time the vCPU takes to write its pages after a round, which
 *    grows when the walk made KVM zap its mappings of them: measured with
 *    fresh random pages, and with a hot set the guest rewrites every round.
 *
 * With tracking on, every page the VMM wrote must be found (and outside
 * KVM's log); off, none is. Usage: host_writes_bench [-r ROUNDS]
 * [SIZE_MIB...]; by default 256 and 1024 MiB.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/lm.h>

#include "lm_nl.h"
#include "lmkvm.h"

#define MAX_ROUNDS	32
#define BLOCKS		3
#define KNOB		"/sys/module/lm/parameters/track_host_writes"

/* Fresh random pages every round, or the same hot set rewritten. */
static const struct config {
	double fraction;
	bool hot;
} configs[] = {
	{ 0.0, false }, { 0.01, false }, { 0.05, false }, { 0.01, true },
};

struct bench_vm {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpu;
	uint64_t data_gpa;
	uint64_t data_pages;
	uint64_t total_pages;
	uint8_t *data_hva;	/* the VMM's mapping of the data area */
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

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, unsigned int n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_u64);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void set_knob(bool on)
{
	FILE *f = fopen(KNOB, "w");

	TEST_ASSERT(f, "open " KNOB " (lm too old?)");
	TEST_ASSERT(fputs(on ? "Y\n" : "N\n", f) >= 0 && !fclose(f),
		    "write " KNOB);
}

/*
 * Move every memslot onto a shared memfd mapping at the same address,
 * keeping what the library wrote (page tables, program image), before any
 * vCPU runs: KVM follows the new mapping through its MMU notifier.
 */
static void share_memory(struct kvm_vm *vm)
{
	unsigned int i;

	for (i = 0; i < vm->nr_memslots; i++) {
		struct kvm_memslot *ms = &vm->memslots[i];
		uint64_t pages = ms->size / PAGE_SIZE, p;
		unsigned char *vec = malloc(pages), *tmp;
		int fd = memfd_create("guest-ram", MFD_CLOEXEC);

		TEST_ASSERT(vec && fd >= 0 && !ftruncate(fd, ms->size),
			    "memfd of %" PRIu64 " bytes", ms->size);
		tmp = mmap(NULL, ms->size, PROT_READ | PROT_WRITE, MAP_SHARED,
			   fd, 0);
		TEST_ASSERT(tmp != MAP_FAILED && !mincore(ms->hva, ms->size, vec),
			    "mmap memfd");
		for (p = 0; p < pages; p++)
			if (vec[p] & 1)
				memcpy(tmp + p * PAGE_SIZE,
				       (char *)ms->hva + p * PAGE_SIZE, PAGE_SIZE);
		munmap(tmp, ms->size);
		TEST_ASSERT(mmap(ms->hva, ms->size, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_FIXED, fd, 0) == ms->hva,
			    "mmap memfd over slot %u", ms->slot);
		close(fd);
		free(vec);
	}
}

static void bench_vm_create(struct bench_vm *b, uint64_t size)
{
	uint64_t p;
	int ret;

	memset(b, 0, sizeof(*b));
	b->vm = vm_create(size);
	b->vcpu = vcpu_add_page_writer(b->vm, 0);
	b->data_pages = (b->vm->alloc_end - b->vm->alloc_next) / PAGE_SIZE - 16;
	b->data_gpa = vm_alloc(b->vm, b->data_pages * PAGE_SIZE);
	b->total_pages = vm_mem_size(b->vm) / PAGE_SIZE;
	share_memory(b->vm);
	b->data_hva = addr_gpa2hva(b->vm, b->data_gpa);
	/* Memory the guest has touched: present and dirty in host PTEs. */
	for (p = 0; p < b->data_pages; p++)
		b->data_hva[p * PAGE_SIZE] = 1;
	ret = lm_nl_open(&b->nl);
	errno = -ret;
	TEST_ASSERT(!ret, "lm_nl_open (is lm loaded?)");
	ret = lm_nl_attach(b->nl, b->vm->fd, 0, &b->id);
	errno = -ret;
	TEST_ASSERT(!ret, "ATTACH: %s", lm_nl_extack(b->nl));
}

static void bench_vm_destroy(struct bench_vm *b)
{
	lm_nl_detach(b->nl, b->id);
	lm_nl_close(b->nl);
	vm_free(b->vm);
}

/*
 * @n distinct random pages for the guest, @n more for the VMM. Returns
 * the guest's time to write its pages.
 */
static uint64_t dirty_pages(struct bench_vm *b, uint64_t n, bool hot,
			    uint64_t *rng, uint64_t *gpas, uint8_t *chosen)
{
	uint64_t k = 0, t;

	if (!n)
		return 0;
	if (hot && gpas[0] >= b->data_gpa)
		goto write;
	memset(chosen, 0, b->data_pages);
	while (k < 2 * n) {
		uint64_t i = rng_next(rng) % b->data_pages;

		if (chosen[i])
			continue;
		chosen[i] = 1;
		gpas[k++] = i;
	}
	for (k = 0; k < n; k++)
		gpas[k] = b->data_gpa + gpas[k] * PAGE_SIZE;
write:
	rng_next(rng);
	for (k = n; k < 2 * n; k++)
		b->data_hva[gpas[k] * PAGE_SIZE + 8] = (uint8_t)*rng | 1;
	t = now_ns();
	vcpu_write_pages(b->vcpu, gpas, n, *rng, 0);
	return now_ns() - t;
}

struct result {
	uint64_t harvest_ns[2][MAX_ROUNDS * BLOCKS];
	uint64_t host_ns[MAX_ROUNDS * BLOCKS];
	uint64_t guest_ns[2][MAX_ROUNDS * BLOCKS];
	unsigned int n[2];
};

static void run_config(struct bench_vm *b, uint64_t n, bool hot,
		       unsigned int rounds, uint64_t *rng, uint64_t *gpas, uint8_t *chosen,
		       struct result *res)
{
	struct lm_track_round r;
	unsigned int blk, i, on;
	uint64_t g;
	int ret;

	memset(res, 0, sizeof(*res));
	for (blk = 0; blk < BLOCKS; blk++) {
		for (on = 0; on < 2; on++) {
			set_knob(on);
			ret = lm_nl_track_start(b->nl, b->id);
			errno = -ret;
			TEST_ASSERT(!ret, "TRACK_START: %s", lm_nl_extack(b->nl));
			ret = lm_nl_track_sync(b->nl, b->id, &r);
			lm_track_round_free(&r);
			/* One round for the guest to fault back what START zapped. */
			dirty_pages(b, n, hot, rng, gpas, chosen);
			ret = lm_nl_track_sync(b->nl, b->id, &r);
			lm_track_round_free(&r);
			for (i = 0; i < rounds; i++) {
				g = dirty_pages(b, n, hot, rng, gpas, chosen);
				ret = lm_nl_track_sync(b->nl, b->id, &r);
				errno = -ret;
				TEST_ASSERT(!ret, "TRACK_SYNC: %s",
					    lm_nl_extack(b->nl));
				TEST_ASSERT(r.host_writes == on,
					    "host writes %d, knob %u",
					    r.host_writes, on);
				TEST_ASSERT(r.dirty >= (on ? 2 : 1) * n,
					    "%" PRIu64 " pages reported, %" PRIu64
					    " written by the guest and %" PRIu64
					    " by the VMM", r.dirty, n, n);
				TEST_ASSERT(!on || r.host_only >= n,
					    "%" PRIu64 " pages found only by host-write tracking, %" PRIu64
					    " written by the VMM", r.host_only, n);
				res->harvest_ns[on][res->n[on]] = r.harvest_ns;
				res->guest_ns[on][res->n[on]] = g;
				if (on)
					res->host_ns[res->n[on]] = r.host_ns;
				res->n[on]++;
				lm_track_round_free(&r);
			}
			ret = lm_nl_track_stop(b->nl, b->id);
			errno = -ret;
			TEST_ASSERT(!ret, "TRACK_STOP: %s", lm_nl_extack(b->nl));
		}
	}
	set_knob(true);
}

int main(int argc, char **argv)
{
	static const uint64_t default_sizes[] = { 256, 1024 };
	uint64_t sizes[8], seed = 0x5eedf00dULL, rng;
	unsigned int nr_sizes = 0, rounds = 6, s, f;
	struct result *res = malloc(sizeof(*res));
	int c;

	while ((c = getopt(argc, argv, "r:h")) != -1) {
		switch (c) {
		case 'r':
			rounds = strtoul(optarg, NULL, 0);
			if (!rounds || rounds > MAX_ROUNDS) {
				fprintf(stderr, "rounds: 1 to %d\n", MAX_ROUNDS);
				return 2;
			}
			break;
		default:
			fprintf(stderr, "usage: %s [-r ROUNDS] [SIZE_MIB...]\n",
				argv[0]);
			return c == 'h' ? 0 : 2;
		}
	}
	for (; optind < argc && nr_sizes < 8; optind++)
		sizes[nr_sizes++] = strtoull(argv[optind], NULL, 0);
	if (!nr_sizes) {
		memcpy(sizes, default_sizes, sizeof(default_sizes));
		nr_sizes = 2;
	}
	if (!kvm_available() || access(KNOB, W_OK)) {
		fprintf(stderr, "host_writes_bench: needs /dev/kvm and " KNOB "\n");
		return 1;
	}
	TEST_ASSERT(res, "malloc");

	printf("# host_writes_bench: harvest per round with host-write tracking off and on, median of %u rounds x %d blocks\n",
	       rounds, BLOCKS);
	printf("# dirty: pages the guest wrote in the round, and as many the VMM wrote through its mapping\n");
	printf("# guest_us: the vCPU writing its pages after a round (KVM faults back what the walk zapped)\n");
	printf("# dirty NN%%h: the same hot set rewritten every round (KVM faults back each page the walk zapped)\n");
	printf("%-6s %6s %7s %10s %10s %8s %6s %9s %9s %6s\n", "guest", "dirty",
	       "pages", "off_us", "on_us", "host_us", "ratio",
	       "guest_off", "guest_on", "ratio");
	for (s = 0; s < nr_sizes; s++) {
		struct bench_vm b;
		uint64_t *gpas;
		uint8_t *chosen;

		bench_vm_create(&b, sizes[s] * MiB);
		gpas = calloc(b.data_pages, sizeof(*gpas));
		chosen = calloc(b.data_pages, 1);
		TEST_ASSERT(gpas && chosen, "calloc");
		rng = seed;
		for (f = 0; f < sizeof(configs) / sizeof(configs[0]); f++) {
			uint64_t n = b.total_pages * configs[f].fraction;
			uint64_t off, on, host, goff, gon;

			if (2 * n > b.data_pages)
				n = b.data_pages / 2;
			/* A new hot set for each configuration. */
			gpas[0] = 0;
			run_config(&b, n, configs[f].hot, rounds, &rng, gpas,
				   chosen, res);
			off = median(res->harvest_ns[0], res->n[0]);
			on = median(res->harvest_ns[1], res->n[1]);
			host = median(res->host_ns, res->n[1]);
			goff = median(res->guest_ns[0], res->n[0]);
			gon = median(res->guest_ns[1], res->n[1]);
			printf("%4" PRIu64 "M %4.0f%%%s %7" PRIu64 " %10.1f %10.1f %8.1f %6.2f %9.1f %9.1f %6.2f\n",
			       sizes[s], configs[f].fraction * 100,
			       configs[f].hot ? "h" : " ", n,
			       off / 1000.0, on / 1000.0, host / 1000.0,
			       off ? (double)on / off : 0, goff / 1000.0,
			       gon / 1000.0, goff ? (double)gon / goff : 0);
			fflush(stdout);
		}
		free(gpas);
		free(chosen);
		bench_vm_destroy(&b);
	}
	free(res);
	return 0;
}

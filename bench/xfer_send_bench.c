// SPDX-License-Identifier: GPL-2.0
/*
 * Cost of moving guest memory with lm's transfer engine, per method, and
 * of encrypting it: the kTLS rows run the same migration over a loopback
 * TCP pair carrying kTLS (AES-128-GCM, TLS 1.3 records) both ways, what
 * lmctl sets up after its handshake (here with a fixed key and no
 * handshake: the handshake costs the same for any guest size).
 *
 * Two KVM VMs in this process, the source's memory filled with non-zero
 * pages, are migrated over loopback TCP again and again (quick mode, the
 * same path a real migration takes after the switchover), with every send
 * method (how the source hands pages to TCP) and every receive method (how
 * the destination lands them in guest memory). For each combination it
 * reports the median of several runs, side by side in one run of the
 * program so that the lab's noise hits them alike:
 *
 *   tx s/GiB   CPU time of the source's transfer thread per GiB moved
 *   rx s/GiB   CPU time of the destination's transfer thread per GiB
 *   wall s/GiB switchover to the destination's COMMIT, per GiB
 *
 * Usage: xfer_send_bench [MEM_MIB [RUNS]]   (default 128 MiB, 5 runs)
 *
 * The kTLS rows run only with XFER_BENCH_KTLS=1 in the environment: in
 * the lab they stop (performance.rst, "Encrypted against plain"), and
 * bench/tls_cost_bench.sh measures encryption's cost between two hosts.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <linux/kvm.h>
#include <linux/lm.h>
#include <linux/tls.h>
#include <linux/lm_wire.h>

#include "lm_nl.h"

#define PAGE	4096ULL
#define MiB	(1ULL << 20)

struct vm {
	int kvm_fd, fd, vcpu_fd;
	uint8_t *mem;
	uint64_t size;
	uint32_t id;
};

static void die(const char *what, int err)
{
	fprintf(stderr, "xfer_send_bench: %s: %s\n", what, strerror(err));
	exit(1);
}

static void vm_create(struct vm *vm, uint64_t size)
{
	struct kvm_userspace_memory_region region = {
		.guest_phys_addr = 1 * MiB,
		.memory_size = size,
	};

	vm->size = size;
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		die("/dev/kvm", errno);
	vm->fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->fd < 0)
		die("KVM_CREATE_VM", errno);
	vm->mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (vm->mem == MAP_FAILED)
		die("mmap", errno);
	region.userspace_addr = (uintptr_t)vm->mem;
	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region))
		die("KVM_SET_USER_MEMORY_REGION", errno);
	vm->vcpu_fd = ioctl(vm->fd, KVM_CREATE_VCPU, 0);
	if (vm->vcpu_fd < 0)
		die("KVM_CREATE_VCPU", errno);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int wait_phase(struct lm_nl *nl, uint32_t id, uint32_t phase,
		      struct lm_xfer_status *st)
{
	for (;;) {
		int ret = lm_nl_xfer_status(nl, id, st);

		if (ret)
			return ret;
		if (st->phase == phase)
			return 0;
		if (st->phase == LM_PHASE_FAILED || st->phase == LM_PHASE_DONE) {
			fprintf(stderr, "xfer_send_bench: vm %u ended in phase %u: %s\n",
				id, st->phase, st->message);
			return -EIO;
		}
		usleep(500);
	}
}

struct sample {
	double tx, rx, wall;	/* seconds per GiB */
};

static const uint8_t loopback[4] = { 127, 0, 0, 1 };

/* A connected loopback TCP pair with kTLS both ways on both ends. */
static void ktls_pair(int *c, int *a)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	struct tls12_crypto_info_aes_gcm_128 ci = {
		.info.version = TLS_1_3_VERSION,
		.info.cipher_type = TLS_CIPHER_AES_GCM_128,
		.key = "lm bench key 16",
	};
	socklen_t len = sizeof(sin);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), i;

	*c = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || *c < 0 ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) || listen(lfd, 1) ||
	    getsockname(lfd, (struct sockaddr *)&sin, &len) ||
	    connect(*c, (struct sockaddr *)&sin, sizeof(sin)))
		die("loopback TCP pair", errno);
	*a = accept(lfd, NULL, NULL);
	if (*a < 0)
		die("accept", errno);
	close(lfd);
	for (i = 0; i < 2; i++) {
		int fd = i ? *a : *c;

		if (setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls")) ||
		    setsockopt(fd, SOL_TLS, TLS_TX, &ci, sizeof(ci)) ||
		    setsockopt(fd, SOL_TLS, TLS_RX, &ci, sizeof(ci)))
			die("kTLS (modprobe tls)", errno);
	}
}

static int run_once(struct lm_nl *nl, struct vm *src, struct vm *dst,
		    uint32_t send_method, uint32_t recv_method, bool crc,
		    bool ktls, int state_fd, int out_fd, struct sample *s)
{
	struct lm_migrate_opts opts = {
		.mode = LM_WIRE_MODE_QUICK,
		.send_method = send_method,
		.no_data_crc = !crc,
	};
	struct lm_listen_opts lopts = { .recv_method = recv_method };
	struct lm_xfer_status ss, ds;
	double gib = src->size / (double)(1ULL << 30);
	int ret, c = -1, a = -1;
	uint64_t t0;
	uint16_t port;

	if (ktls) {
		ktls_pair(&c, &a);
		lopts.sock_fd = a;
		opts.sock_fd = c;
	}
	ret = lm_nl_listen_opts(nl, dst->id, loopback, 4, 0, out_fd, &lopts,
				&port);
	if (!ret)
		ret = lm_nl_migrate(nl, src->id, loopback, 4, port, &opts);
	/* The transfers hold the sockets now. */
	if (ktls) {
		close(a);
		close(c);
	}
	if (!ret)
		ret = wait_phase(nl, src->id, LM_PHASE_WAIT_SWITCHOVER, &ss);
	if (ret) {
		fprintf(stderr, "xfer_send_bench: %s\n", lm_nl_extack(nl));
		return ret;
	}
	t0 = now_ns();
	ret = lm_nl_switchover(nl, src->id, state_fd);
	if (!ret)
		ret = wait_phase(nl, dst->id, LM_PHASE_COMMIT, &ds);
	if (ret)
		return ret;
	s->wall = (now_ns() - t0) / 1e9 / gib;
	ret = lm_nl_complete(nl, dst->id, 0);
	if (!ret)
		ret = wait_phase(nl, src->id, LM_PHASE_DONE, &ss);
	if (!ret)
		ret = wait_phase(nl, dst->id, LM_PHASE_DONE, &ds);
	if (ret)
		return ret;
	if (ss.pages != src->size / PAGE || ds.pages != ss.pages) {
		fprintf(stderr, "xfer_send_bench: %llu pages sent, %llu received\n",
			(unsigned long long)ss.pages,
			(unsigned long long)ds.pages);
		return -EIO;
	}
	s->tx = ss.cpu_ns / 1e9 / gib;
	s->rx = ds.cpu_ns / 1e9 / gib;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	static const struct {
		uint32_t send, recv;
		bool crc, ktls;
		const char *name;
	} methods[] = {
		{ LM_SEND_SENDPAGE, LM_RECV_PIN,  true,  false, "sendpage + pin,  data CRC" },
		{ LM_SEND_SENDPAGE, LM_RECV_PIN,  true,  true,  "  the same over kTLS" },
		{ LM_SEND_SENDPAGE, LM_RECV_PIN,  false, false, "sendpage + pin" },
		{ LM_SEND_COPY,     LM_RECV_PIN,  false, false, "copy     + pin" },
		{ LM_SEND_COPY,     LM_RECV_PIN,  false, true,  "  the same over kTLS" },
		{ LM_SEND_ZEROCOPY, LM_RECV_PIN,  false, false, "zerocopy + pin" },
		{ LM_SEND_SENDPAGE, LM_RECV_USER, false, false, "sendpage + user" },
	};
	enum { NR = sizeof(methods) / sizeof(methods[0]) };
	uint64_t mem = (argc > 1 ? strtoull(argv[1], NULL, 0) : 128) * MiB;
	int runs = argc > 2 ? atoi(argv[2]) : 5;
	double tx[NR][32], rx[NR][32], wall[NR][32];
	bool broken[NR] = { false }, skipped[NR], with_ktls;
	struct vm src, dst;
	struct lm_nl *nl;
	int state_fd, out_fd, r, m, ret;
	uint64_t p;

	if (runs < 1 || runs > 32)
		runs = 5;
	ret = lm_nl_open(&nl);
	if (ret)
		die("lm netlink family", -ret);
	vm_create(&src, mem);
	vm_create(&dst, mem);
	/* Every page non-zero: the data path, not the zero-page shortcut. */
	for (p = 0; p < mem / PAGE; p++)
		memset(src.mem + p * PAGE, (int)(p % 251) + 1, PAGE);
	if (lm_nl_attach(nl, src.fd, 0, &src.id) ||
	    lm_nl_attach(nl, dst.fd, 0, &dst.id))
		die("attach", EINVAL);
	state_fd = memfd_create("state", 0);
	out_fd = memfd_create("state-out", 0);
	if (state_fd < 0 || out_fd < 0 || write(state_fd, "state", 5) != 5)
		die("memfd", errno);

	printf("# lm transfer cost, %llu MiB of non-zero pages over loopback, median of %d runs\n",
	       (unsigned long long)(mem / MiB), runs);
	/* Interleaved: each round runs every method once. */
	with_ktls = getenv("XFER_BENCH_KTLS") &&
		    !strcmp(getenv("XFER_BENCH_KTLS"), "1");
	for (m = 0; m < NR; m++)
		skipped[m] = methods[m].ktls && !with_ktls;
	for (r = 0; r < runs; r++) {
		for (m = 0; m < NR; m++) {
			struct sample s;

			if (broken[m] || skipped[m])
				continue;
			ret = run_once(nl, &src, &dst, methods[m].send,
				       methods[m].recv, methods[m].crc,
				       methods[m].ktls, state_fd, out_fd, &s);
			/* A kTLS failure is reported in its row; the rest go on. */
			if (ret && methods[m].ktls) {
				broken[m] = true;
				continue;
			}
			if (ret)
				die(methods[m].name, -ret);
			tx[m][r] = s.tx;
			rx[m][r] = s.rx;
			wall[m][r] = s.wall;
		}
	}
	printf("%-26s %10s %10s %12s\n", "send + receive", "tx s/GiB",
	       "rx s/GiB", "wall s/GiB");
	for (m = 0; m < NR; m++) {
		double t, x, w;

		if (skipped[m])
			continue;
		if (broken[m]) {
			printf("%-26s failed (see above)\n", methods[m].name);
			continue;
		}
		t = median(tx[m], runs);
		x = median(rx[m], runs);
		w = median(wall[m], runs);
		printf("%-26s %10.2f %10.2f %12.2f", methods[m].name, t, x, w);
		/* A kTLS row follows its plain one: the cost ratio. */
		if (methods[m].ktls)
			printf("   x%.2f tx, x%.2f rx, x%.2f wall",
			       t / median(tx[m - 1], runs),
			       x / median(rx[m - 1], runs),
			       w / median(wall[m - 1], runs));
		printf("\n");
	}
	lm_nl_detach(nl, src.id);
	lm_nl_detach(nl, dst.id);
	lm_nl_close(nl);
	return 0;
}

// SPDX-License-Identifier: GPL-2.0
/*
 * The transfer engine, driven directly over netlink: two KVM VMs in this
 * process (a source filled with a known pattern and an empty destination of
 * the same layout), migrated over loopback TCP by lm. No vCPU runs but in
 * the two tests of lm holding the vCPUs (a "jmp ."): the test is about the
 * engine and the wire protocol, end to end through lmvm and lmctl is
 * migrate_quick_test.sh. The backing tests do the same keyed by RAM
 * backing, with memory in shared memfds that the two VMs map by different
 * slots.
 *
 * The peers that misbehave (a corrupted header, a corrupted page, a layout
 * mismatch, a destination that disappears mid-transfer) are played by this
 * test speaking the wire protocol itself, written from
 * Documentation/protocol.rst and uapi/linux/lm_wire.h alone.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>
#include <linux/lm.h>
#include <linux/tls.h>
#include <linux/lm_wire.h>

#include "kselftest_harness.h"
#include "lm_nl.h"
#include "wire_peer.h"

#define MiB		(1ULL << 20)
#define GiB		(1ULL << 30)
#define MAX_SLOTS	4
#define STATE_SIZE	(3 * MiB + 123)

/* A PC-like layout: low memory, a hole, main memory, memory above 4 GiB. */
static const struct slot_def layout[] = {
	{ .gpa = 0,		.size = 640 * 1024 },
	{ .gpa = 1 * MiB,	.size = 31 * MiB },
	{ .gpa = 4 * GiB,	.size = 8 * MiB },
};

#define NR_SLOTS (sizeof(layout) / sizeof(layout[0]))

struct vm {
	int kvm_fd;
	int fd;
	int vcpu_fd;
	unsigned int nr_slots;
	struct slot_def slots[MAX_SLOTS];
	uint8_t *mem[MAX_SLOTS];
	uint32_t id;
};

static int vm_create(struct vm *vm, const struct slot_def *slots,
		     unsigned int nr)
{
	unsigned int i;

	memset(vm, 0, sizeof(*vm));
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return -errno;
	vm->fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->fd < 0)
		return -errno;
	vm->nr_slots = nr;
	for (i = 0; i < nr; i++) {
		struct kvm_userspace_memory_region region = {
			.slot = i,
			.guest_phys_addr = slots[i].gpa,
			.memory_size = slots[i].size,
		};

		vm->slots[i] = slots[i];
		/* Reserve nothing: huge_sparse_slot's slot is never touched. */
		vm->mem[i] = mmap(NULL, slots[i].size, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				  -1, 0);
		if (vm->mem[i] == MAP_FAILED)
			return -errno;
		region.userspace_addr = (uintptr_t)vm->mem[i];
		if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region))
			return -errno;
	}
	vm->vcpu_fd = ioctl(vm->fd, KVM_CREATE_VCPU, 0);
	return vm->vcpu_fd < 0 ? -errno : 0;
}

static void vm_destroy(struct vm *vm)
{
	unsigned int i;

	for (i = 0; i < vm->nr_slots; i++)
		if (vm->mem[i] && vm->mem[i] != MAP_FAILED)
			munmap(vm->mem[i], vm->slots[i].size);
	if (vm->vcpu_fd > 0)
		close(vm->vcpu_fd);
	if (vm->fd > 0)
		close(vm->fd);
	if (vm->kvm_fd > 0)
		close(vm->kvm_fd);
}

/*
 * Every page gets its slot, index and a seed-derived word, except every
 * third page, left zero, and a run of zero pages at each slot's end.
 */
static uint64_t vm_fill(struct vm *vm, uint64_t seed)
{
	uint64_t zero = 0;
	unsigned int i;

	for (i = 0; i < vm->nr_slots; i++) {
		uint64_t n = vm->slots[i].size / PAGE, p;

		for (p = 0; p < n; p++) {
			uint64_t *page = (uint64_t *)(vm->mem[i] + p * PAGE);

			if (p % 3 == 2 || p >= n - 16) {
				zero++;
				continue;
			}
			page[0] = ((uint64_t)i << 48) | p;
			page[1] = seed ^ (p * 0x9e3779b97f4a7c15ULL);
			page[PAGE / 8 - 1] = ~page[1];
		}
	}
	return zero;
}

static bool vm_same_memory(const struct vm *a, const struct vm *b)
{
	unsigned int i;

	for (i = 0; i < a->nr_slots; i++)
		if (memcmp(a->mem[i], b->mem[i], a->slots[i].size))
			return false;
	return true;
}

static uint64_t vm_pages(const struct vm *vm)
{
	uint64_t n = 0;
	unsigned int i;

	for (i = 0; i < vm->nr_slots; i++)
		n += vm->slots[i].size / PAGE;
	return n;
}

static int memfd_with(const void *data, size_t len)
{
	int fd = memfd_create("lm-state", MFD_CLOEXEC);

	if (fd < 0 || (len && write(fd, data, len) != (ssize_t)len))
		return -1;
	return fd;
}

static const uint8_t loopback[4] = { 127, 0, 0, 1 };
static const struct lm_migrate_opts quick = { .mode = LM_WIRE_MODE_QUICK };

FIXTURE(engine) {
	struct lm_nl *nl;
	struct vm src;
	struct vm dst;
	uint64_t zero_pages;
	int state_in;
	int state_out;
	uint8_t *state;
};

FIXTURE_SETUP(engine)
{
	int fd = open("/dev/kvm", O_RDWR);
	size_t i;

	if (fd < 0)
		SKIP(return, "no /dev/kvm");
	close(fd);
	ASSERT_EQ(0, lm_nl_open(&self->nl));
	ASSERT_EQ(0, vm_create(&self->src, layout, NR_SLOTS));
	ASSERT_EQ(0, vm_create(&self->dst, layout, NR_SLOTS));
	self->zero_pages = vm_fill(&self->src, 42);
	ASSERT_EQ(0, lm_nl_attach(self->nl, self->src.fd, 0, &self->src.id));
	ASSERT_EQ(0, lm_nl_attach(self->nl, self->dst.fd, 0, &self->dst.id));

	self->state = malloc(STATE_SIZE);
	ASSERT_NE(NULL, self->state);
	for (i = 0; i < STATE_SIZE; i++)
		self->state[i] = (i * 131) ^ (i >> 9);
	self->state_in = memfd_with(self->state, STATE_SIZE);
	self->state_out = memfd_with(NULL, 0);
	ASSERT_LE(0, self->state_in);
	ASSERT_LE(0, self->state_out);
}

FIXTURE_TEARDOWN(engine)
{
	if (!self->nl) {
		free(self->state);
		return;
	}
	lm_nl_detach(self->nl, self->src.id);
	lm_nl_detach(self->nl, self->dst.id);
	vm_destroy(&self->src);
	vm_destroy(&self->dst);
	lm_nl_close(self->nl);
	free(self->state);
	close(self->state_in);
	close(self->state_out);
}

static void log_status(struct __test_metadata *_metadata, const char *who,
		       const struct lm_xfer_status *st)
{
	TH_LOG("%s: phase %u pages %llu zero %llu bytes %llu state %llu cpu %.3f ms reason %u err %u \"%s\"",
	       who, st->phase, (unsigned long long)st->pages,
	       (unsigned long long)st->zero_pages,
	       (unsigned long long)st->bytes,
	       (unsigned long long)st->state_size, st->cpu_ns / 1e6,
	       st->reason, st->err, st->message);
}

/* The whole protocol: memory and state arrive intact, the source learns. */
TEST_F(engine, quick_loopback)
{
	struct lm_xfer_status s, d;
	uint8_t *state;
	uint16_t port;

	ASSERT_EQ(0, lm_nl_listen(self->nl, self->dst.id, loopback, 4, 0,
				  self->state_out, 0, &port));
	ASSERT_NE(0, port);
	ASSERT_EQ(0, lm_nl_migrate(self->nl, self->src.id, loopback, 4, port,
				   &quick)) {
		TH_LOG("%s", lm_nl_extack(self->nl));
	}
	ASSERT_EQ(0, wait_phase(self->nl, self->src.id,
				LM_PHASE_WAIT_SWITCHOVER, &s));
	ASSERT_EQ(LM_PHASE_WAIT_SWITCHOVER, s.phase) log_status(_metadata, "source", &s);
	/* Nothing of memory travels before the switchover. */
	ASSERT_EQ(0, lm_nl_xfer_status(self->nl, self->dst.id, &d));
	EXPECT_EQ(0, d.pages);

	ASSERT_EQ(0, lm_nl_switchover(self->nl, self->src.id, self->state_in));
	ASSERT_EQ(0, wait_phase(self->nl, self->dst.id, LM_PHASE_COMMIT, &d));
	ASSERT_EQ(LM_PHASE_COMMIT, d.phase) log_status(_metadata, "destination", &d);

	EXPECT_TRUE(vm_same_memory(&self->src, &self->dst));
	EXPECT_EQ(vm_pages(&self->src), d.pages);
	EXPECT_EQ(self->zero_pages, d.zero_pages);
	EXPECT_EQ(STATE_SIZE, d.state_size);
	state = mmap(NULL, STATE_SIZE, PROT_READ, MAP_SHARED, self->state_out, 0);
	ASSERT_NE(MAP_FAILED, state);
	EXPECT_EQ(0, memcmp(state, self->state, STATE_SIZE));
	munmap(state, STATE_SIZE);

	/* The source waits for the verdict: not done before COMPLETE. */
	ASSERT_EQ(0, lm_nl_xfer_status(self->nl, self->src.id, &s));
	EXPECT_EQ(LM_PHASE_COMMIT, s.phase);
	ASSERT_EQ(0, lm_nl_complete(self->nl, self->dst.id, 0));
	ASSERT_EQ(0, wait_phase(self->nl, self->src.id, LM_PHASE_DONE, &s));
	EXPECT_EQ(LM_PHASE_DONE, s.phase) log_status(_metadata, "source", &s);
	ASSERT_EQ(0, wait_phase(self->nl, self->dst.id, LM_PHASE_DONE, &d));
	EXPECT_EQ(LM_PHASE_DONE, d.phase);
	EXPECT_EQ(vm_pages(&self->src), s.pages);
	log_status(_metadata, "source", &s);
	log_status(_metadata, "destination", &d);

	/* A second migration of the same VMs replaces the finished ones. */
	ASSERT_EQ(0, lm_nl_listen(self->nl, self->dst.id, loopback, 4, 0,
				  self->state_out, 0, &port));
	ASSERT_EQ(0, lm_nl_cancel(self->nl, self->dst.id));
	ASSERT_EQ(0, wait_phase(self->nl, self->dst.id, LM_PHASE_FAILED, &d));
	EXPECT_EQ(LM_WIRE_REASON_CANCELLED, d.reason);
}

/* A connected TCP pair over loopback: *@a accepted, *@c connected. */
static int tcp_pair(int *c, int *a)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	socklen_t len = sizeof(sin);
	int lfd = socket(AF_INET, SOCK_STREAM, 0);

	*c = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || *c < 0 ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) || listen(lfd, 1) ||
	    getsockname(lfd, (struct sockaddr *)&sin, &len) ||
	    connect(*c, (struct sockaddr *)&sin, sizeof(sin)))
		return -1;
	*a = accept(lfd, NULL, NULL);
	close(lfd);
	return *a < 0 ? -1 : 0;
}

/*
 * kTLS both ways with a fixed key: what lmctl installs after its
 * handshake, without the handshake. Both ends use the same key for both
 * directions, which only a test may do.
 */
static int ktls_fixed_key(int fd)
{
	struct tls12_crypto_info_aes_gcm_128 ci = {
		.info.version = TLS_1_3_VERSION,
		.info.cipher_type = TLS_CIPHER_AES_GCM_128,
		.key = "lm selftest key",
	};

	if (setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls")))
		return -1;
	return setsockopt(fd, SOL_TLS, TLS_TX, &ci, sizeof(ci)) ?:
	       setsockopt(fd, SOL_TLS, TLS_RX, &ci, sizeof(ci));
}

/*
 * LISTEN and MIGRATE take the caller's connection (kmod/xfer/sock.c): a
 * plain one only with LM_A_XFER_INSECURE, never one that is not TCP or not
 * connected; one with kTLS both ways carries a whole migration.
 */
TEST_F(engine, socket_checks)
{
	struct lm_listen_opts lo = { 0 };
	struct lm_migrate_opts mo = quick;
	struct lm_xfer_status s, d;
	int c, a, u[2];
	uint16_t port;

	ASSERT_EQ(0, tcp_pair(&c, &a));
	lo.sock_fd = a;
	EXPECT_EQ(-EPERM, lm_nl_listen_opts(self->nl, self->dst.id, NULL, 0, 0,
					    self->state_out, &lo, &port));
	EXPECT_NE(NULL, strstr(lm_nl_extack(self->nl), "no kTLS keys")) {
		TH_LOG("extack: %s", lm_nl_extack(self->nl));
	}
	mo.sock_fd = c;
	EXPECT_EQ(-EPERM, lm_nl_migrate(self->nl, self->src.id, NULL, 0, 0,
					&mo));
	EXPECT_NE(NULL, strstr(lm_nl_extack(self->nl), "no kTLS keys"));

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, u));
	lo.sock_fd = u[0];
	lo.insecure = true;
	EXPECT_EQ(-EINVAL, lm_nl_listen_opts(self->nl, self->dst.id, NULL, 0, 0,
					     self->state_out, &lo, &port));
	EXPECT_STREQ("Not a TCP socket", lm_nl_extack(self->nl));
	lo.sock_fd = self->state_out;
	EXPECT_EQ(-ENOTSOCK, lm_nl_listen_opts(self->nl, self->dst.id, NULL, 0,
					       0, self->state_out, &lo, &port));
	EXPECT_STREQ("Not a socket", lm_nl_extack(self->nl));
	lo.sock_fd = socket(AF_INET, SOCK_STREAM, 0);
	EXPECT_EQ(-ENOTCONN, lm_nl_listen_opts(self->nl, self->dst.id, NULL, 0,
					       0, self->state_out, &lo, &port));
	EXPECT_STREQ("The socket is not connected", lm_nl_extack(self->nl));
	close(lo.sock_fd);
	close(u[0]);
	close(u[1]);
	/* Nothing of these refused requests started a transfer. */
	EXPECT_EQ(-ENOENT, lm_nl_xfer_status(self->nl, self->dst.id, &d));
	EXPECT_EQ(-ENOENT, lm_nl_xfer_status(self->nl, self->src.id, &s));

	/* kTLS on both ends: accepted without INSECURE, and it migrates. */
	ASSERT_EQ(0, ktls_fixed_key(a)) TH_LOG("kTLS: %s", strerror(errno));
	ASSERT_EQ(0, ktls_fixed_key(c));
	lo.sock_fd = a;
	lo.insecure = false;
	ASSERT_EQ(0, lm_nl_listen_opts(self->nl, self->dst.id, NULL, 0, 0,
				       self->state_out, &lo, &port)) {
		TH_LOG("extack: %s", lm_nl_extack(self->nl));
	}
	ASSERT_EQ(0, lm_nl_migrate(self->nl, self->src.id, NULL, 0, 0, &mo)) {
		TH_LOG("extack: %s", lm_nl_extack(self->nl));
	}
	/* The transfers hold the sockets: ours may go. */
	close(a);
	close(c);
	ASSERT_EQ(0, wait_phase(self->nl, self->src.id,
				LM_PHASE_WAIT_SWITCHOVER, &s));
	ASSERT_EQ(LM_PHASE_WAIT_SWITCHOVER, s.phase) log_status(_metadata, "source", &s);
	ASSERT_EQ(0, lm_nl_switchover(self->nl, self->src.id, self->state_in));
	ASSERT_EQ(0, wait_phase(self->nl, self->dst.id, LM_PHASE_COMMIT, &d));
	ASSERT_EQ(LM_PHASE_COMMIT, d.phase) log_status(_metadata, "destination", &d);
	EXPECT_TRUE(vm_same_memory(&self->src, &self->dst));
	ASSERT_EQ(0, lm_nl_complete(self->nl, self->dst.id, 0));
	ASSERT_EQ(0, wait_phase(self->nl, self->src.id, LM_PHASE_DONE, &s));
	EXPECT_EQ(LM_PHASE_DONE, s.phase) log_status(_metadata, "source", &s);
	ASSERT_EQ(0, wait_phase(self->nl, self->dst.id, LM_PHASE_DONE, &d));
	EXPECT_EQ(LM_PHASE_DONE, d.phase);

	/* On kTLS, MSG_ZEROCOPY is refused up front. */
	ASSERT_EQ(0, tcp_pair(&c, &a));
	ASSERT_EQ(0, ktls_fixed_key(c));
	mo.sock_fd = c;
	mo.send_method = LM_SEND_ZEROCOPY;
	EXPECT_EQ(-EOPNOTSUPP, lm_nl_migrate(self->nl, self->src.id, NULL, 0, 0,
					     &mo));
	EXPECT_NE(NULL, strstr(lm_nl_extack(self->nl), "MSG_ZEROCOPY"));
	close(a);
	close(c);
}

/*
 * Live mode over the same path: dirty tracking on, a full round while the
 * VM could run, dirty rounds (none here: no vCPU runs, so the tracker has
 * nothing to report), the final round, state and COMMIT.
 */
TEST_F(engine, live_loopback)
{
	static const struct lm_migrate_opts live = {
		.mode = LM_WIRE_MODE_LIVE,
		.max_rounds = 3,
		.max_downtime_ms = 100,
	};
	struct lm_xfer_status s, d;
	uint16_t port;

	ASSERT_EQ(0, lm_nl_listen(self->nl, self->dst.id, loopback, 4, 0,
				  self->state_out, 0, &port));
	ASSERT_EQ(0, lm_nl_migrate(self->nl, self->src.id, loopback, 4, port,
				   &live)) {
		TH_LOG("%s", lm_nl_extack(self->nl));
	}
	ASSERT_EQ(0, wait_phase(self->nl, self->src.id,
				LM_PHASE_WAIT_SWITCHOVER, &s));
	ASSERT_EQ(LM_PHASE_WAIT_SWITCHOVER, s.phase) log_status(_metadata, "source", &s);
	/* The full round went while the VM could run. */
	EXPECT_EQ(vm_pages(&self->src), s.pages);
	EXPECT_EQ(0, s.dirty_pages);
	ASSERT_EQ(0, lm_nl_switchover(self->nl, self->src.id, self->state_in));
	ASSERT_EQ(0, wait_phase(self->nl, self->dst.id, LM_PHASE_COMMIT, &d));
	ASSERT_EQ(LM_PHASE_COMMIT, d.phase) log_status(_metadata, "destination", &d);
	EXPECT_TRUE(vm_same_memory(&self->src, &self->dst));
	ASSERT_EQ(0, lm_nl_complete(self->nl, self->dst.id, 0));
	ASSERT_EQ(0, wait_phase(self->nl, self->src.id, LM_PHASE_DONE, &s));
	EXPECT_EQ(LM_PHASE_DONE, s.phase);
	EXPECT_EQ(LM_WIRE_MODE_LIVE, s.mode);
	EXPECT_LE(1, s.round);
	log_status(_metadata, "source", &s);
}

/*
 * --compress zstd: slot 1's first 4 MiB random (incompressible: those
 * batches must go as they are), the rest vm_fill()'s pages (three words of
 * data each: they compress to almost nothing), and zero pages. The
 * destination's memory must be the source's exactly, the counters of both
 * sides must agree, and compression must have saved most of the rest.
 */
#define RANDOM_BYTES	(4 * MiB)

static void compressed_migrate(struct __test_metadata *_metadata,
			       FIXTURE_DATA(engine) *self,
			       const struct lm_migrate_opts *opts)
{
	struct lm_xfer_status s, d;
	uint64_t x = 0x243f6a8885a308d3ULL, i;
	uint16_t port;

	for (i = 0; i < RANDOM_BYTES / 8; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		((uint64_t *)self->src.mem[1])[i] = x;
	}
	ASSERT_EQ(0, lm_nl_listen(self->nl, self->dst.id, loopback, 4, 0,
				  self->state_out, 0, &port));
	ASSERT_EQ(0, lm_nl_migrate(self->nl, self->src.id, loopback, 4, port,
				   opts)) {
		TH_LOG("%s", lm_nl_extack(self->nl));
	}
	ASSERT_EQ(0, wait_phase(self->nl, self->src.id,
				LM_PHASE_WAIT_SWITCHOVER, &s));
	ASSERT_EQ(LM_PHASE_WAIT_SWITCHOVER, s.phase) log_status(_metadata, "source", &s);
	ASSERT_EQ(0, lm_nl_switchover(self->nl, self->src.id, self->state_in));
	ASSERT_EQ(0, wait_phase(self->nl, self->dst.id, LM_PHASE_COMMIT, &d));
	ASSERT_EQ(LM_PHASE_COMMIT, d.phase) log_status(_metadata, "destination", &d);
	/* The source is paused for good: this is its memory at the pause. */
	EXPECT_TRUE(vm_same_memory(&self->src, &self->dst));
	ASSERT_EQ(0, lm_nl_complete(self->nl, self->dst.id, 0));
	ASSERT_EQ(0, wait_phase(self->nl, self->src.id, LM_PHASE_DONE, &s));
	ASSERT_EQ(LM_PHASE_DONE, s.phase) log_status(_metadata, "source", &s);
	ASSERT_EQ(0, wait_phase(self->nl, self->dst.id, LM_PHASE_DONE, &d));
	TH_LOG("source: %llu data bytes, %llu on the wire, %llu zstd batches",
	       (unsigned long long)s.data_bytes,
	       (unsigned long long)s.wire_data_bytes,
	       (unsigned long long)s.zstd_batches);
	EXPECT_EQ(LM_COMPRESS_ZSTD, s.compress);
	EXPECT_EQ(LM_COMPRESS_ZSTD, d.compress);
	EXPECT_EQ(s.data_bytes, d.data_bytes);
	EXPECT_EQ(s.wire_data_bytes, d.wire_data_bytes);
	EXPECT_EQ(s.zstd_batches, d.zstd_batches);
	EXPECT_LT(0, s.zstd_batches);
	/* Every data page counted once per round, uncompressed. */
	EXPECT_LE((vm_pages(&self->src) - self->zero_pages) * PAGE,
		  s.data_bytes);
	/* The random 4 MiB cannot shrink; the rest shrinks at least 10x. */
	EXPECT_LE(RANDOM_BYTES, s.wire_data_bytes);
	EXPECT_GT(RANDOM_BYTES + (s.data_bytes - RANDOM_BYTES) / 10,
		  s.wire_data_bytes);
	/* The wire counts what compression left. */
	EXPECT_GT(s.data_bytes, s.bytes);
}

TEST_F(engine, compressed_quick)
{
	const struct lm_migrate_opts opts = {
		.mode = LM_WIRE_MODE_QUICK, .compress = LM_COMPRESS_ZSTD,
	};

	compressed_migrate(_metadata, self, &opts);
}

TEST_F(engine, compressed_live)
{
	const struct lm_migrate_opts opts = {
		.mode = LM_WIRE_MODE_LIVE, .max_rounds = 3,
		.max_downtime_ms = 100, .compress = LM_COMPRESS_ZSTD,
		.compress_level = 3,
	};

	compressed_migrate(_metadata, self, &opts);
}

/* What MIGRATE refuses of compression, with an extack message each. */
TEST_F(engine, compress_bad_requests)
{
	const struct lm_migrate_opts level_alone = {
		.mode = LM_WIRE_MODE_QUICK, .compress_level = 3,
	};
	const struct lm_migrate_opts unknown = {
		.mode = LM_WIRE_MODE_QUICK, .compress = __LM_COMPRESS_MAX,
	};
	const struct lm_migrate_opts level_high = {
		.mode = LM_WIRE_MODE_QUICK, .compress = LM_COMPRESS_ZSTD,
		.compress_level = LM_COMPRESS_LEVEL_MAX + 1,
	};

	EXPECT_EQ(-EINVAL, lm_nl_migrate(self->nl, self->src.id, loopback, 4,
					 1, &level_alone));
	EXPECT_NE(NULL, strstr(lm_nl_extack(self->nl), "compression level"));
	EXPECT_EQ(-ERANGE, lm_nl_migrate(self->nl, self->src.id, loopback, 4,
					 1, &unknown));
	EXPECT_STRNE("", lm_nl_extack(self->nl));
	EXPECT_EQ(-ERANGE, lm_nl_migrate(self->nl, self->src.id, loopback, 4,
					 1, &level_high));
	EXPECT_STRNE("", lm_nl_extack(self->nl));
}

/* The destination refuses another layout before any page is sent. */
TEST_F(engine, layout_mismatch)
{
	struct slot_def other[NR_SLOTS];
	struct lm_xfer_status s, d;
	struct vm small;
	uint16_t port;

	memcpy(other, layout, sizeof(other));
	other[2].size /= 2;
	ASSERT_EQ(0, vm_create(&small, other, NR_SLOTS));
	ASSERT_EQ(0, lm_nl_attach(self->nl, small.fd, 0, &small.id));
	ASSERT_EQ(0, lm_nl_listen(self->nl, small.id, loopback, 4, 0,
				  self->state_out, 0, &port));
	ASSERT_EQ(0, lm_nl_migrate(self->nl, self->src.id, loopback, 4, port,
				   &quick));
	ASSERT_EQ(0, wait_phase(self->nl, self->src.id, LM_PHASE_FAILED, &s));
	ASSERT_EQ(LM_PHASE_FAILED, s.phase);
	log_status(_metadata, "source", &s);
	EXPECT_EQ(LM_WIRE_REASON_SLOT, s.reason);
	EXPECT_EQ(LM_PHASE_CONFIG, s.failed_phase);
	/* On a plain socket the source learns the reason, not the layout. */
	EXPECT_NE(NULL, strstr(s.message, "Refused (details only over an authenticated connection)"));
	EXPECT_EQ(NULL, strstr(s.message, "Slot 2"));
	EXPECT_EQ(0, s.pages);
	ASSERT_EQ(0, wait_phase(self->nl, small.id, LM_PHASE_FAILED, &d));
	EXPECT_EQ(LM_WIRE_REASON_SLOT, d.reason);
	EXPECT_NE(NULL, strstr(d.message, "Slot 2 size"));
	EXPECT_EQ(0, d.pages);
	log_status(_metadata, "destination", &d);
	/* SWITCHOVER on a failed transfer is refused. */
	EXPECT_EQ(-EINVAL, lm_nl_switchover(self->nl, self->src.id,
					    self->state_in));
	lm_nl_detach(self->nl, small.id);
	vm_destroy(&small);
}

/* A frame header with a wrong CRC ends the transfer on the destination. */
TEST_F(engine, corrupted_header)
{
	struct lm_xfer_status d;
	struct lm_wire_hello h;
	struct peer p;
	uint16_t port;

	ASSERT_EQ(0, lm_nl_listen(self->nl, self->dst.id, loopback, 4, 0,
				  self->state_out, 0, &port));
	ASSERT_EQ(0, peer_connect(&p, port));
	hello_fill(&h, LM_WIRE_ROLE_SOURCE);
	/* A header CRC computed over the wrong bytes. */
	{
		struct lm_wire_hdr hdr = {
			.type = htole16(LM_WIRE_HELLO),
			.len = htole32(sizeof(h)),
			.payload_crc = htole32(crc32c(&h, sizeof(h))),
		};

		hdr.hdr_crc = htole32(crc32c(&hdr, 16) ^ 1);
		ASSERT_EQ((ssize_t)sizeof(hdr), send(p.fd, &hdr, sizeof(hdr), 0));
		ASSERT_EQ((ssize_t)sizeof(h), send(p.fd, &h, sizeof(h), 0));
	}
	ASSERT_EQ(0, wait_phase(self->nl, self->dst.id, LM_PHASE_FAILED, &d));
	EXPECT_EQ(LM_PHASE_FAILED, d.phase);
	EXPECT_EQ(LM_WIRE_REASON_CRC, d.reason);
	log_status(_metadata, "destination", &d);
	close(p.fd);
}

/*
 * A well-formed transfer up to a PAGES batch whose page data does not
 * match its CRC: the destination aborts and tells the source why.
 */
TEST_F(engine, corrupted_page)
{
	struct {
		struct lm_wire_pages p;
		struct lm_wire_run r;
		uint8_t data[PAGE];
	} batch;
	uint8_t buf[4096];
	struct lm_xfer_status d;
	struct lm_wire_hello h;
	struct lm_wire_hdr hdr;
	struct peer p;
	uint16_t port;
	size_t len;

	ASSERT_EQ(0, lm_nl_listen(self->nl, self->dst.id, loopback, 4, 0,
				  self->state_out, 0, &port));
	ASSERT_EQ(0, peer_connect(&p, port));
	hello_fill(&h, LM_WIRE_ROLE_SOURCE);
	ASSERT_EQ(0, peer_send_frame(&p, LM_WIRE_HELLO, &h, sizeof(h)));
	ASSERT_EQ(0, peer_recv(&p, &hdr, buf, sizeof(buf)));
	ASSERT_EQ(LM_WIRE_HELLO, le16toh(hdr.type));
	ASSERT_EQ(0, le32toh(((struct lm_wire_hello *)buf)->reason));

	len = config_fill(self->dst.slots, self->dst.nr_slots, buf);
	ASSERT_EQ(0, peer_send_frame(&p, LM_WIRE_CONFIG, buf, len));
	ASSERT_EQ(0, peer_recv(&p, &hdr, buf, sizeof(buf)));
	ASSERT_EQ(LM_WIRE_ACK, le16toh(hdr.type));

	memset(&batch, 0, sizeof(batch));
	batch.p.slot = htole32(1);
	batch.p.nr_runs = htole32(1);
	batch.p.nr_pages = htole32(1);
	batch.p.nr_data = htole32(1);
	batch.p.flags = htole32(LM_WIRE_PAGES_DATA_CRC);
	batch.r.first = htole64(7);
	batch.r.nr_pages = htole32(1);
	memset(batch.data, 0x5a, sizeof(batch.data));
	batch.p.data_crc = htole32(crc32c(batch.data, PAGE) ^ 0x10);
	ASSERT_EQ(0, peer_send(&p, LM_WIRE_PAGES, &batch, sizeof(batch),
			       crc32c(&batch, sizeof(batch.p) + sizeof(batch.r))));

	/* The destination's ABORT names the reason. */
	ASSERT_EQ(0, peer_recv(&p, &hdr, buf, sizeof(buf)));
	EXPECT_EQ(LM_WIRE_ABORT, le16toh(hdr.type));
	EXPECT_EQ(LM_WIRE_REASON_CRC,
		  le32toh(((struct lm_wire_abort *)buf)->reason));
	ASSERT_EQ(0, wait_phase(self->nl, self->dst.id, LM_PHASE_FAILED, &d));
	EXPECT_EQ(LM_WIRE_REASON_CRC, d.reason);
	log_status(_metadata, "destination", &d);
	close(p.fd);
}

/*
 * The destination disappears in the middle of the memory: the source
 * fails with a clear error, its VM's memory untouched.
 */
TEST_F(engine, destination_vanishes)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	socklen_t sl = sizeof(sin);
	struct lm_xfer_status s;
	struct lm_wire_hello h;
	struct lm_wire_hdr hdr;
	struct lm_wire_ack ack;
	static uint8_t buf[1 << 16];
	struct vm copy;
	struct peer p;
	int lfd, one = 1;
	unsigned int i;

	/* A copy of the source memory to compare with afterwards. */
	ASSERT_EQ(0, vm_create(&copy, layout, NR_SLOTS));
	for (i = 0; i < NR_SLOTS; i++)
		memcpy(copy.mem[i], self->src.mem[i], layout[i].size);

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, lfd);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	ASSERT_EQ(0, bind(lfd, (struct sockaddr *)&sin, sizeof(sin)));
	ASSERT_EQ(0, listen(lfd, 1));
	ASSERT_EQ(0, getsockname(lfd, (struct sockaddr *)&sin, &sl));
	ASSERT_EQ(0, lm_nl_migrate(self->nl, self->src.id, loopback, 4,
				   ntohs(sin.sin_port), &quick));
	memset(&p, 0, sizeof(p));
	p.fd = accept(lfd, NULL, NULL);
	ASSERT_LE(0, p.fd);
	close(lfd);

	ASSERT_EQ(0, peer_recv(&p, &hdr, buf, sizeof(buf)));
	ASSERT_EQ(LM_WIRE_HELLO, le16toh(hdr.type));
	hello_fill(&h, LM_WIRE_ROLE_DESTINATION);
	ASSERT_EQ(0, peer_send_frame(&p, LM_WIRE_HELLO, &h, sizeof(h)));
	ASSERT_EQ(0, peer_recv(&p, &hdr, buf, sizeof(buf)));
	ASSERT_EQ(LM_WIRE_CONFIG, le16toh(hdr.type));
	ack.type = htole32(LM_WIRE_CONFIG);
	ack.seq = hdr.seq;
	ack.reserved = 0;
	ASSERT_EQ(0, peer_send_frame(&p, LM_WIRE_ACK, &ack, sizeof(ack)));

	ASSERT_EQ(0, wait_phase(self->nl, self->src.id,
				LM_PHASE_WAIT_SWITCHOVER, &s));
	ASSERT_EQ(0, lm_nl_switchover(self->nl, self->src.id, self->state_in));
	/* Take a few batches, then vanish with unread data (an RST). */
	ASSERT_EQ(0, recv_all(p.fd, buf, sizeof(buf)));
	close(p.fd);

	ASSERT_EQ(0, wait_phase(self->nl, self->src.id, LM_PHASE_FAILED, &s));
	EXPECT_EQ(LM_PHASE_FAILED, s.phase);
	EXPECT_EQ(LM_PHASE_STOPCOPY, s.failed_phase);
	EXPECT_EQ(LM_WIRE_REASON_CONNECTION, s.reason);
	log_status(_metadata, "source", &s);
	EXPECT_TRUE(vm_same_memory(&self->src, &copy));
	vm_destroy(&copy);
}

/* DETACH while listening and while waiting for SWITCHOVER: no hang. */
TEST_F(engine, detach_mid_transfer)
{
	struct lm_xfer_status s;
	uint16_t port;

	ASSERT_EQ(0, lm_nl_listen(self->nl, self->dst.id, loopback, 4, 0,
				  self->state_out, 0, &port));
	ASSERT_EQ(0, lm_nl_migrate(self->nl, self->src.id, loopback, 4, port,
				   &quick));
	ASSERT_EQ(0, wait_phase(self->nl, self->src.id,
				LM_PHASE_WAIT_SWITCHOVER, &s));
	ASSERT_EQ(0, lm_nl_detach(self->nl, self->dst.id));
	ASSERT_EQ(0, wait_phase(self->nl, self->src.id, LM_PHASE_FAILED, &s));
	EXPECT_EQ(LM_PHASE_FAILED, s.phase);
	log_status(_metadata, "source", &s);
	ASSERT_EQ(0, lm_nl_detach(self->nl, self->src.id));
	EXPECT_EQ(-ENOENT, lm_nl_xfer_status(self->nl, self->src.id, &s));
}

/* Closing the netlink socket that started a transfer cancels it. */
TEST_F(engine, owner_socket_closed)
{
	struct lm_xfer_status d;
	struct lm_nl *owner;
	uint16_t port;

	ASSERT_EQ(0, lm_nl_open(&owner));
	ASSERT_EQ(0, lm_nl_listen(owner, self->dst.id, loopback, 4, 0,
				  self->state_out, 0, &port));
	lm_nl_close(owner);
	ASSERT_EQ(0, wait_phase(self->nl, self->dst.id, LM_PHASE_FAILED, &d));
	EXPECT_EQ(LM_PHASE_FAILED, d.phase);
	EXPECT_EQ(LM_WIRE_REASON_CANCELLED, d.reason);
}

/*
 * Closing other generic netlink sockets, of lm or not, leaves a transfer
 * alone; closing its own cancels it, also with a second transfer running.
 */
TEST_F(engine, other_sockets_closed)
{
	struct lm_xfer_status s, d;
	struct lm_nl *owner, *other;
	uint16_t port;
	int i;

	ASSERT_EQ(0, lm_nl_open(&owner));
	ASSERT_EQ(0, lm_nl_listen(owner, self->dst.id, loopback, 4, 0,
				  self->state_out, 0, &port));
	ASSERT_EQ(0, lm_nl_listen(self->nl, self->src.id, loopback, 4, 0,
				  self->state_out, 0, &port));
	for (i = 0; i < 20; i++) {
		ASSERT_EQ(0, lm_nl_open(&other));
		lm_nl_close(other);
	}
	ASSERT_EQ(0, lm_nl_xfer_status(self->nl, self->dst.id, &d));
	EXPECT_EQ(LM_PHASE_LISTENING, d.phase);
	lm_nl_close(owner);
	ASSERT_EQ(0, wait_phase(self->nl, self->dst.id, LM_PHASE_FAILED, &d));
	EXPECT_EQ(LM_WIRE_REASON_CANCELLED, d.reason);
	ASSERT_EQ(0, lm_nl_xfer_status(self->nl, self->src.id, &s));
	EXPECT_EQ(LM_PHASE_LISTENING, s.phase);
	ASSERT_EQ(0, lm_nl_cancel(self->nl, self->src.id));
}

/* Bad requests get an errno and an extack message. */
TEST_F(engine, bad_requests)
{
	static const uint8_t five[5];
	uint16_t port;

	EXPECT_EQ(-EINVAL, lm_nl_listen(self->nl, self->dst.id, five, 5, 0,
					self->state_out, 0, &port));
	EXPECT_STRNE("", lm_nl_extack(self->nl));
	EXPECT_EQ(-EBADF, lm_nl_listen(self->nl, self->dst.id, loopback, 4, 0,
				       1000, 0, &port));
	EXPECT_STRNE("", lm_nl_extack(self->nl));
	EXPECT_EQ(-ENOENT, lm_nl_listen(self->nl, 4000, loopback, 4, 0,
					self->state_out, 0, &port));
	EXPECT_EQ(-ENOENT, lm_nl_switchover(self->nl, self->src.id,
					    self->state_in));
	EXPECT_EQ(-ENOENT, lm_nl_cancel(self->nl, self->src.id));
	/* Nobody listens on this port: the connection is refused. */
	{
		struct lm_xfer_status s;

		ASSERT_EQ(0, lm_nl_migrate(self->nl, self->src.id, loopback, 4,
					   1, &quick));
		ASSERT_EQ(0, wait_phase(self->nl, self->src.id,
					LM_PHASE_FAILED, &s));
		EXPECT_EQ(LM_WIRE_REASON_CONNECTION, s.reason);
		log_status(_metadata, "source", &s);
	}
}

/* TCP sockets of the host: allocated (all namespaces), and in use here. */
struct sockstat {
	long inuse;
	long alloc;
};

static int tcp_sockstat(struct sockstat *ss)
{
	FILE *f = fopen("/proc/net/sockstat", "re");
	char line[256];
	int found = 0;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "TCP: inuse %ld orphan %*d tw %*d alloc %ld",
			   &ss->inuse, &ss->alloc) == 2)
			found = 1;
	fclose(f);
	return found ? 0 : -ENOENT;
}

/* A loopback port nobody uses now: bound, then let go. */
static uint16_t free_port(void)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	uint16_t port = 0;

	if (fd >= 0 && !bind(fd, (struct sockaddr *)&sin, sizeof(sin)) &&
	    !getsockname(fd, (struct sockaddr *)&sin, &sl))
		port = ntohs(sin.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* Can a plain socket (no SO_REUSEADDR) bind @port? 0 or -errno. */
static int port_bindable(uint16_t port)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ret;

	if (fd < 0)
		return -errno;
	ret = bind(fd, (struct sockaddr *)&sin, sizeof(sin)) ? -errno : 0;
	close(fd);
	return ret;
}

#define BUSY_TRIES	50

/*
 * LISTEN and MIGRATE refused on a VM whose transfer runs (EBUSY) close the
 * socket they had made: the port they had bound is free again, and the
 * host's TCP sockets do not grow with the refusals.
 */
TEST_F(engine, busy_vm_releases_sockets)
{
	struct lm_xfer_status s, d;
	struct sockstat before, after;
	uint16_t port, busy_port, got;
	int i;

	ASSERT_EQ(0, lm_nl_listen(self->nl, self->dst.id, loopback, 4, 0,
				  self->state_out, 0, &port));
	ASSERT_EQ(0, lm_nl_migrate(self->nl, self->src.id, loopback, 4, port,
				   &quick));
	ASSERT_EQ(0, wait_phase(self->nl, self->src.id,
				LM_PHASE_WAIT_SWITCHOVER, &s));
	ASSERT_EQ(LM_PHASE_WAIT_SWITCHOVER, s.phase);
	busy_port = free_port();
	ASSERT_NE(0, busy_port);

	ASSERT_EQ(0, tcp_sockstat(&before));
	for (i = 0; i < BUSY_TRIES; i++) {
		ASSERT_EQ(-EBUSY, lm_nl_listen(self->nl, self->dst.id,
					       loopback, 4, busy_port,
					       self->state_out, 0, &got));
		ASSERT_EQ(-EBUSY, lm_nl_migrate(self->nl, self->src.id,
						loopback, 4, port, &quick));
	}
	ASSERT_EQ(0, tcp_sockstat(&after));
	TH_LOG("TCP inuse %ld -> %ld, alloc %ld -> %ld after %d refusals of each",
	       before.inuse, after.inuse, before.alloc, after.alloc,
	       BUSY_TRIES);
	EXPECT_GE(before.inuse + 2, after.inuse);
	EXPECT_GE(before.alloc + 2, after.alloc);
	EXPECT_EQ(0, port_bindable(busy_port));

	/* The transfers that ran are unharmed; once ended, the port serves. */
	ASSERT_EQ(0, lm_nl_xfer_status(self->nl, self->src.id, &s));
	EXPECT_EQ(LM_PHASE_WAIT_SWITCHOVER, s.phase);
	ASSERT_EQ(0, lm_nl_cancel(self->nl, self->dst.id));
	ASSERT_EQ(0, wait_phase(self->nl, self->dst.id, LM_PHASE_FAILED, &d));
	ASSERT_EQ(0, wait_phase(self->nl, self->src.id, LM_PHASE_FAILED, &s));
	ASSERT_EQ(0, lm_nl_listen(self->nl, self->dst.id, loopback, 4,
				  busy_port, self->state_out, 0, &got));
	EXPECT_EQ(busy_port, got);
	ASSERT_EQ(0, lm_nl_cancel(self->nl, self->dst.id));
}

/*
 * DETACH right after LISTEN, again and again: some of these transfer
 * threads are stopped before they ever ran, and their listening sockets
 * must be closed all the same.
 */
TEST_F(engine, detach_right_after_listen)
{
	struct sockstat before, after;
	uint16_t port = free_port(), got;
	int i;

	ASSERT_NE(0, port);
	ASSERT_EQ(0, tcp_sockstat(&before));
	for (i = 0; i < BUSY_TRIES; i++) {
		ASSERT_EQ(0, lm_nl_listen(self->nl, self->dst.id, loopback, 4,
					  port, self->state_out, 0, &got));
		ASSERT_EQ(0, lm_nl_detach(self->nl, self->dst.id));
		ASSERT_EQ(0, lm_nl_attach(self->nl, self->dst.fd, 0,
					  &self->dst.id));
	}
	ASSERT_EQ(0, tcp_sockstat(&after));
	TH_LOG("TCP inuse %ld -> %ld, alloc %ld -> %ld after %d LISTEN+DETACH",
	       before.inuse, after.inuse, before.alloc, after.alloc,
	       BUSY_TRIES);
	EXPECT_GE(before.inuse + 2, after.inuse);
	EXPECT_GE(before.alloc + 2, after.alloc);
	EXPECT_EQ(0, port_bindable(port));
}

/*
 * A 256 GiB memslot (never touched, so it costs only KVM's metadata):
 * tracked and synced, then live-migrated until the pre-copy runs, then
 * cancelled. Its bitmaps (8 MiB each: the tracker's, the source's pages to
 * send, the destination's pages received) are beyond kmalloc; a page
 * allocator WARN fails the lab run.
 */
TEST_F(engine, huge_sparse_slot)
{
	static const struct slot_def huge[] = {
		{ .gpa = 0,		.size = 1 * MiB },
		{ .gpa = 4 * GiB,	.size = 256 * GiB },
	};
	static const struct lm_migrate_opts live = {
		.mode = LM_WIRE_MODE_LIVE,
		.max_rounds = 3,
	};
	uint64_t pages = (1 * MiB + 256 * GiB) / PAGE;
	struct lm_xfer_status s, d;
	struct lm_track_round r;
	struct vm src, dst;
	uint16_t port;

	ASSERT_EQ(0, vm_create(&src, huge, 2));
	ASSERT_EQ(0, vm_create(&dst, huge, 2));
	ASSERT_EQ(0, lm_nl_attach(self->nl, src.fd, 0, &src.id));
	ASSERT_EQ(0, lm_nl_attach(self->nl, dst.fd, 0, &dst.id));

	ASSERT_EQ(0, lm_nl_track_start(self->nl, src.id)) {
		TH_LOG("%s", lm_nl_extack(self->nl));
	}
	ASSERT_EQ(0, lm_nl_track_sync(self->nl, src.id, &r)) {
		TH_LOG("%s", lm_nl_extack(self->nl));
	}
	EXPECT_EQ(pages, r.pages);
	lm_track_round_free(&r);
	ASSERT_EQ(0, lm_nl_track_sync(self->nl, src.id, &r));
	EXPECT_EQ(pages, r.pages);
	EXPECT_EQ(0, r.dirty);
	lm_track_round_free(&r);
	ASSERT_EQ(0, lm_nl_track_stop(self->nl, src.id));

	ASSERT_EQ(0, lm_nl_listen(self->nl, dst.id, loopback, 4, 0,
				  self->state_out, 0, &port));
	ASSERT_EQ(0, lm_nl_migrate(self->nl, src.id, loopback, 4, port, &live));
	ASSERT_EQ(0, wait_phase(self->nl, src.id, LM_PHASE_PRECOPY, &s));
	EXPECT_EQ(LM_PHASE_PRECOPY, s.phase) log_status(_metadata, "source", &s);
	EXPECT_EQ(pages, s.total_pages);
	ASSERT_EQ(0, lm_nl_xfer_status(self->nl, dst.id, &d));
	EXPECT_NE(LM_PHASE_FAILED, d.phase) log_status(_metadata, "destination", &d);

	ASSERT_EQ(0, lm_nl_cancel(self->nl, src.id));
	ASSERT_EQ(0, wait_phase(self->nl, src.id, LM_PHASE_FAILED, &s));
	EXPECT_EQ(LM_WIRE_REASON_CANCELLED, s.reason);
	ASSERT_EQ(0, wait_phase(self->nl, dst.id, LM_PHASE_FAILED, &d));
	log_status(_metadata, "source", &s);
	log_status(_metadata, "destination", &d);
	EXPECT_EQ(0, lm_nl_detach(self->nl, src.id));
	EXPECT_EQ(0, lm_nl_detach(self->nl, dst.id));
	vm_destroy(&src);
	vm_destroy(&dst);
}

/* OR of the KVM_MEM_* flags of VM @id's memslots, or -errno. */
static long slot_flags(struct lm_nl *nl, uint32_t id)
{
	struct lm_vm_list list;
	long flags = 0;
	size_t i;
	int ret;

	ret = lm_nl_list(nl, true, id, &list);
	if (!ret && list.nr_vms != 1)
		ret = -ENOENT;
	for (i = 0; !ret && i < list.vms[0].nr_memslots; i++)
		flags |= list.vms[0].memslots[i].flags;
	lm_vm_list_free(&list);
	return ret ? ret : flags;
}

/*
 * A live migration whose destination vanishes in the pre-copy leaves the
 * source VM as it found it: dirty tracking stopped, and the memslots'
 * KVM_MEM_LOG_DIRTY_PAGES, which lm turned on, off again.
 */
TEST_F(engine, failed_live_restores_logging)
{
	static const struct lm_migrate_opts live = {
		.mode = LM_WIRE_MODE_LIVE,
		.max_rounds = 3,
	};
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	socklen_t sl = sizeof(sin);
	static uint8_t buf[1 << 16];
	struct lm_track_round r;
	struct lm_xfer_status s;
	struct lm_wire_hello h;
	struct lm_wire_hdr hdr;
	struct lm_wire_ack ack;
	struct peer p;
	int lfd, one = 1;

	ASSERT_EQ(0, slot_flags(self->nl, self->src.id));
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, lfd);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	ASSERT_EQ(0, bind(lfd, (struct sockaddr *)&sin, sizeof(sin)));
	ASSERT_EQ(0, listen(lfd, 1));
	ASSERT_EQ(0, getsockname(lfd, (struct sockaddr *)&sin, &sl));
	ASSERT_EQ(0, lm_nl_migrate(self->nl, self->src.id, loopback, 4,
				   ntohs(sin.sin_port), &live));
	memset(&p, 0, sizeof(p));
	p.fd = accept(lfd, NULL, NULL);
	ASSERT_LE(0, p.fd);
	close(lfd);
	ASSERT_EQ(0, peer_recv(&p, &hdr, buf, sizeof(buf)));
	ASSERT_EQ(LM_WIRE_HELLO, le16toh(hdr.type));
	hello_fill(&h, LM_WIRE_ROLE_DESTINATION);
	h.features |= htole64(LM_WIRE_F_ROUNDS);
	ASSERT_EQ(0, peer_send_frame(&p, LM_WIRE_HELLO, &h, sizeof(h)));
	ASSERT_EQ(0, peer_recv(&p, &hdr, buf, sizeof(buf)));
	ASSERT_EQ(LM_WIRE_CONFIG, le16toh(hdr.type));
	ack.type = htole32(LM_WIRE_CONFIG);
	ack.seq = hdr.seq;
	ack.reserved = 0;
	ASSERT_EQ(0, peer_send_frame(&p, LM_WIRE_ACK, &ack, sizeof(ack)));

	/* Round 0 runs: lm logs every slot. Then vanish (an RST). */
	ASSERT_EQ(0, recv_all(p.fd, buf, sizeof(buf)));
	ASSERT_EQ(0, lm_nl_xfer_status(self->nl, self->src.id, &s));
	EXPECT_EQ(LM_PHASE_PRECOPY, s.phase) log_status(_metadata, "source", &s);
	EXPECT_EQ(KVM_MEM_LOG_DIRTY_PAGES, slot_flags(self->nl, self->src.id));
	/* The migration's rounds are its own: no one else takes or ends them. */
	EXPECT_EQ(-EBUSY, lm_nl_track_sync(self->nl, self->src.id, &r));
	lm_track_round_free(&r);
	EXPECT_EQ(-EBUSY, lm_nl_track_stop(self->nl, self->src.id));
	EXPECT_EQ(KVM_MEM_LOG_DIRTY_PAGES, slot_flags(self->nl, self->src.id));
	close(p.fd);

	ASSERT_EQ(0, wait_phase(self->nl, self->src.id, LM_PHASE_FAILED, &s));
	EXPECT_EQ(LM_PHASE_PRECOPY, s.failed_phase);
	log_status(_metadata, "source", &s);
	EXPECT_EQ(-ENOENT, lm_nl_track_sync(self->nl, self->src.id, &r));
	lm_track_round_free(&r);
	EXPECT_EQ(0, slot_flags(self->nl, self->src.id));
	/* And tracking can start afresh. */
	EXPECT_EQ(0, lm_nl_track_start(self->nl, self->src.id));
	EXPECT_EQ(0, lm_nl_track_stop(self->nl, self->src.id));
}

static int unload_lm(void)
{
	int ret = 0, i;

	for (i = 0; i < 50; i++) {
		ret = syscall(SYS_delete_module, "lm", O_NONBLOCK) ? -errno : 0;
		if (ret != -EAGAIN && ret != -EBUSY)
			break;
		usleep(100000);
	}
	return ret;
}

static int load_lm(void)
{
	const char *ko = getenv("LM_KO");
	int fd = open(ko ? ko : "/lib/lm/lm.ko", O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = syscall(SYS_finit_module, fd, "", 0) ? -errno : 0;
	close(fd);
	return ret;
}

/*
 * MSG_ZEROCOPY buffers outlive their transfer, and lm: a destination that
 * stops reading leaves the source's socket full of page data, which stays
 * queued after the transfer is cancelled and its socket closed (FIN_WAIT1
 * behind a closed window). lm is unloaded meanwhile; only then does the
 * destination read, and TCP frees those buffers and runs their completion,
 * which must not be in lm's text any more.
 */
TEST_F(engine, zerocopy_completion_after_unload)
{
	static const struct lm_migrate_opts zc = {
		.mode = LM_WIRE_MODE_QUICK,
		.send_method = LM_SEND_ZEROCOPY,
	};
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	socklen_t sl = sizeof(sin);
	struct lm_xfer_status s;
	struct lm_wire_hello h;
	struct lm_wire_hdr hdr;
	struct lm_wire_ack ack;
	static uint8_t buf[1 << 16];
	uint64_t bytes = 0, late = 0;
	int lfd, one = 1, small = 4096, i;
	struct timeval tv = { .tv_sec = 10 };
	struct peer p;
	ssize_t n;

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_LE(0, lfd);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* A small window, inherited by the accepted socket, fills at once. */
	ASSERT_EQ(0, setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &small,
				sizeof(small)));
	ASSERT_EQ(0, bind(lfd, (struct sockaddr *)&sin, sizeof(sin)));
	ASSERT_EQ(0, listen(lfd, 1));
	ASSERT_EQ(0, getsockname(lfd, (struct sockaddr *)&sin, &sl));
	ASSERT_EQ(0, lm_nl_migrate(self->nl, self->src.id, loopback, 4,
				   ntohs(sin.sin_port), &zc)) {
		TH_LOG("%s", lm_nl_extack(self->nl));
	}
	memset(&p, 0, sizeof(p));
	p.fd = accept(lfd, NULL, NULL);
	ASSERT_LE(0, p.fd);
	close(lfd);
	ASSERT_EQ(0, setsockopt(p.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));

	ASSERT_EQ(0, peer_recv(&p, &hdr, buf, sizeof(buf)));
	ASSERT_EQ(LM_WIRE_HELLO, le16toh(hdr.type));
	hello_fill(&h, LM_WIRE_ROLE_DESTINATION);
	ASSERT_EQ(0, peer_send_frame(&p, LM_WIRE_HELLO, &h, sizeof(h)));
	ASSERT_EQ(0, peer_recv(&p, &hdr, buf, sizeof(buf)));
	ASSERT_EQ(LM_WIRE_CONFIG, le16toh(hdr.type));
	ack.type = htole32(LM_WIRE_CONFIG);
	ack.seq = hdr.seq;
	ack.reserved = 0;
	ASSERT_EQ(0, peer_send_frame(&p, LM_WIRE_ACK, &ack, sizeof(ack)));
	ASSERT_EQ(0, wait_phase(self->nl, self->src.id,
				LM_PHASE_WAIT_SWITCHOVER, &s));
	ASSERT_EQ(0, lm_nl_switchover(self->nl, self->src.id, self->state_in));

	/* Stop reading until the source is stuck with data queued. */
	for (i = 0; i < 100; i++) {
		ASSERT_EQ(0, lm_nl_xfer_status(self->nl, self->src.id, &s));
		if (s.pages && s.bytes == bytes)
			break;
		bytes = s.bytes;
		usleep(50000);
	}
	log_status(_metadata, "source", &s);
	ASSERT_EQ(LM_PHASE_STOPCOPY, s.phase);
	ASSERT_LT(s.pages, vm_pages(&self->src));
	ASSERT_EQ(0, lm_nl_cancel(self->nl, self->src.id));
	ASSERT_EQ(0, wait_phase(self->nl, self->src.id, LM_PHASE_FAILED, &s));

	lm_nl_detach(self->nl, self->src.id);
	lm_nl_detach(self->nl, self->dst.id);
	lm_nl_close(self->nl);
	self->nl = NULL;
	vm_destroy(&self->src);
	vm_destroy(&self->dst);
	ASSERT_EQ(0, unload_lm());

	/* Now the zero-copy buffers go: read up to the source's FIN. */
	while ((n = recv(p.fd, buf, sizeof(buf), 0)) > 0)
		late += n;
	TH_LOG("%llu bytes read after lm was unloaded (recv: %zd)",
	       (unsigned long long)late, n);
	EXPECT_EQ(0, n);
	EXPECT_LT(0, late);
	close(p.fd);
	ASSERT_EQ(0, load_lm());
}

/*
 * Unloading lm in the middle of the memory: refused while the source VM
 * is paused for its transfer (past COMMIT, only the transfer's outcome
 * says whether it may run again); once that transfer is cancelled, the
 * unload ends the destination's, frees everything (the module's leak
 * check would WARN) and leaves both VMs to their VMM; lm loads again
 * afterwards.
 */
TEST_F(engine, unload_mid_transfer)
{
	struct lm_xfer_status s;
	uint16_t port;
	int ret, i;

	ASSERT_EQ(0, lm_nl_listen(self->nl, self->dst.id, loopback, 4, 0,
				  self->state_out, 0, &port));
	ASSERT_EQ(0, lm_nl_migrate(self->nl, self->src.id, loopback, 4, port,
				   &quick));
	ASSERT_EQ(0, wait_phase(self->nl, self->src.id,
				LM_PHASE_WAIT_SWITCHOVER, &s));
	ASSERT_EQ(0, lm_nl_switchover(self->nl, self->src.id, self->state_in));
	ASSERT_EQ(0, wait_phase(self->nl, self->src.id, LM_PHASE_STOPCOPY, &s));

	/* The source transfer holds lm from SWITCHOVER until it ends. */
	ret = syscall(SYS_delete_module, "lm", O_NONBLOCK) ? -errno : 0;
	EXPECT_EQ(-EAGAIN, ret);
	ASSERT_EQ(0, lm_nl_cancel(self->nl, self->src.id));
	ASSERT_EQ(0, wait_phase(self->nl, self->src.id, LM_PHASE_FAILED, &s));

	/*
	 * Our VMs, the destination's transfer and our netlink socket hold
	 * no module reference: this must work, that transfer still running.
	 */
	for (i = 0; i < 50; i++) {
		ret = syscall(SYS_delete_module, "lm", O_NONBLOCK) ? -errno : 0;
		if (ret != -EAGAIN && ret != -EBUSY)
			break;
		usleep(100000);
	}
	EXPECT_EQ(0, ret);
	lm_nl_close(self->nl);
	self->nl = NULL;
	/* The source's memory is as it was. */
	EXPECT_EQ(0x2ULL << 48 | 1, *(uint64_t *)(self->src.mem[2] + PAGE));
	vm_destroy(&self->src);
	vm_destroy(&self->dst);
	{
		const char *ko = getenv("LM_KO");
		int fd = open(ko ? ko : "/lib/lm/lm.ko", O_RDONLY | O_CLOEXEC);

		ASSERT_LE(0, fd);
		EXPECT_EQ(0, syscall(SYS_finit_module, fd, "", 0));
		close(fd);
	}
}

/*
 * Run vCPU 0 of @vm on a "jmp ." at 0x1000 in real mode: it stays in the
 * guest (and in KVM_RUN, holding its mutex) until a signal kicks it out.
 */
struct spinner {
	struct vm *vm;
	pthread_t thread;
	volatile int running;
};

static void spinner_kick(int sig)
{
	(void)sig;
}

static void *spinner_run(void *arg)
{
	struct spinner *sp = arg;

	sp->running = 1;
	ioctl(sp->vm->vcpu_fd, KVM_RUN, 0);
	sp->running = 0;
	return NULL;
}

static int spinner_start(struct spinner *sp, struct vm *vm)
{
	struct sigaction sa = { .sa_handler = spinner_kick };
	struct kvm_sregs sregs;
	struct kvm_regs regs = { .rip = 0x1000, .rflags = 2 };

	sp->vm = vm;
	sp->running = 0;
	/* No SA_RESTART: the kick makes KVM_RUN return -EINTR. */
	sigaction(SIGUSR1, &sa, NULL);
	vm->mem[0][0x1000] = 0xeb;	/* jmp . */
	vm->mem[0][0x1001] = 0xfe;
	if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs))
		return -errno;
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &sregs) ||
	    ioctl(vm->vcpu_fd, KVM_SET_REGS, &regs))
		return -errno;
	return -pthread_create(&sp->thread, NULL, spinner_run, sp);
}

static void spinner_stop(struct spinner *sp)
{
	while (sp->running) {
		pthread_kill(sp->thread, SIGUSR1);
		usleep(10000);
	}
	pthread_join(sp->thread, NULL);
}

/* A VM whose vCPUs have entered the guest cannot receive a migration. */
TEST_F(engine, destination_that_ran)
{
	struct spinner sp;
	uint16_t port;

	ASSERT_EQ(0, spinner_start(&sp, &self->dst));
	usleep(100000);
	spinner_stop(&sp);
	EXPECT_EQ(-EBUSY, lm_nl_listen(self->nl, self->dst.id, loopback, 4, 0,
				       self->state_out, 0, &port));
	EXPECT_NE(NULL, strstr(lm_nl_extack(self->nl), "The VM has run")) {
		TH_LOG("extack: %s", lm_nl_extack(self->nl));
	}
}

/*
 * SWITCHOVER while a source vCPU still runs the guest: lm refuses to send
 * the final pages and the state of a guest that may still write them.
 */
TEST_F(engine, source_running_at_switchover)
{
	struct lm_xfer_status s, d;
	struct spinner sp;
	uint16_t port;

	ASSERT_EQ(0, lm_nl_listen(self->nl, self->dst.id, loopback, 4, 0,
				  self->state_out, 0, &port));
	ASSERT_EQ(0, lm_nl_migrate(self->nl, self->src.id, loopback, 4, port,
				   &quick));
	ASSERT_EQ(0, wait_phase(self->nl, self->src.id,
				LM_PHASE_WAIT_SWITCHOVER, &s));
	ASSERT_EQ(0, spinner_start(&sp, &self->src));
	while (!sp.running)
		usleep(1000);
	usleep(100000);
	ASSERT_EQ(0, lm_nl_switchover(self->nl, self->src.id, self->state_in));
	ASSERT_EQ(0, wait_phase(self->nl, self->src.id, LM_PHASE_FAILED, &s));
	spinner_stop(&sp);
	EXPECT_EQ(LM_PHASE_FAILED, s.phase);
	EXPECT_EQ(LM_PHASE_WAIT_SWITCHOVER, s.failed_phase);
	EXPECT_NE(NULL, strstr(s.message, "vCPU 0 of the source VM is running")) {
		log_status(_metadata, "source", &s);
	}
	/* Nothing of memory left: the destination was never written. */
	ASSERT_EQ(0, wait_phase(self->nl, self->dst.id, LM_PHASE_FAILED, &d));
	EXPECT_EQ(0, d.pages);
}

/*
 * Keyed by backing (LM_A_XFER_KEY_BY_BACKING): memory in shared memfds,
 * mapped by different slots on each side, as a running QEMU pc machine's
 * firmware leaves them and a fresh destination has them. The source maps
 * its low RAM in pieces, one piece only in address space 1 (SMRAM), one
 * not at all (hidden under a private ROM slot); the destination maps the
 * same RAM as one slot. All of each backing must arrive where it was.
 */
#define NR_BACKINGS	2
#define NO_BACKING	-1

struct bslot {
	uint32_t as_id;
	uint64_t gpa;
	uint64_t size;
	int backing;		/* NO_BACKING: private anonymous memory */
	uint64_t offset;	/* in the backing */
};

struct bvm {
	int kvm_fd;
	int fd;
	int vcpu_fd;
	uint64_t size[NR_BACKINGS];
	uint8_t *mem[NR_BACKINGS];
	unsigned int nr_priv;
	void *priv[MAX_SLOTS];
	uint64_t priv_size[MAX_SLOTS];
	uint32_t id;
};

static int bvm_create(struct bvm *vm, const uint64_t *sizes,
		      const struct bslot *slots, unsigned int nr)
{
	unsigned int i;

	memset(vm, 0, sizeof(*vm));
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return -errno;
	vm->fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->fd < 0)
		return -errno;
	for (i = 0; i < NR_BACKINGS; i++) {
		int fd = memfd_create("lm-ram", MFD_CLOEXEC);

		if (fd < 0 || ftruncate(fd, sizes[i]))
			return -errno;
		vm->size[i] = sizes[i];
		vm->mem[i] = mmap(NULL, sizes[i], PROT_READ | PROT_WRITE,
				  MAP_SHARED, fd, 0);
		close(fd);
		if (vm->mem[i] == MAP_FAILED)
			return -errno;
	}
	for (i = 0; i < nr; i++) {
		struct kvm_userspace_memory_region region = {
			.slot = slots[i].as_id << 16 | i,
			.guest_phys_addr = slots[i].gpa,
			.memory_size = slots[i].size,
		};
		void *hva;

		if (slots[i].backing == NO_BACKING) {
			hva = mmap(NULL, slots[i].size, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (hva == MAP_FAILED)
				return -errno;
			/* Not zero: it must not matter to the destination. */
			memset(hva, 0xa5, slots[i].size);
			vm->priv[vm->nr_priv] = hva;
			vm->priv_size[vm->nr_priv++] = slots[i].size;
		} else {
			hva = vm->mem[slots[i].backing] + slots[i].offset;
		}
		region.userspace_addr = (uintptr_t)hva;
		if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &region))
			return -errno;
	}
	vm->vcpu_fd = ioctl(vm->fd, KVM_CREATE_VCPU, 0);
	return vm->vcpu_fd < 0 ? -errno : 0;
}

static void bvm_destroy(struct bvm *vm)
{
	unsigned int i;

	for (i = 0; i < NR_BACKINGS; i++)
		if (vm->mem[i] && vm->mem[i] != MAP_FAILED)
			munmap(vm->mem[i], vm->size[i]);
	for (i = 0; i < vm->nr_priv; i++)
		munmap(vm->priv[i], vm->priv_size[i]);
	if (vm->vcpu_fd > 0)
		close(vm->vcpu_fd);
	if (vm->fd > 0)
		close(vm->fd);
	if (vm->kvm_fd > 0)
		close(vm->kvm_fd);
}

static const uint64_t backing_sizes[NR_BACKINGS] = { 32 * MiB, 8 * MiB };

/* A pc machine's RAM after its firmware ran: pieces, aliases, a hole. */
static const struct bslot src_slots[] = {
	{ 0, 0,		0xa0000,	0, 0 },
	{ 0, 0xc0000,	0x40000,	NO_BACKING, 0 },
	{ 0, 1 * MiB,	31 * MiB,	0, 1 * MiB },
	{ 0, 4 * GiB,	8 * MiB,	1, 0 },
	{ 1, 0xa0000,	0x20000,	0, 0xa0000 },
};

/* The same RAM in a fresh VM, one slot per backing. */
static const struct bslot dst_slots[] = {
	{ 0, 0,		32 * MiB,	0, 0 },
	{ 0, 4 * GiB,	8 * MiB,	1, 0 },
};

FIXTURE(backing) {
	struct lm_nl *nl;
	struct bvm src;
	struct bvm dst;
	int state_in;
	int state_out;
};

FIXTURE_SETUP(backing)
{
	static const char state[] = "device state";
	int fd = open("/dev/kvm", O_RDWR);
	uint64_t p;
	int i;

	if (fd < 0)
		SKIP(return, "no /dev/kvm");
	close(fd);
	ASSERT_EQ(0, lm_nl_open(&self->nl));
	ASSERT_EQ(0, bvm_create(&self->src, backing_sizes, src_slots,
				sizeof(src_slots) / sizeof(src_slots[0])));
	ASSERT_EQ(0, bvm_create(&self->dst, backing_sizes, dst_slots,
				sizeof(dst_slots) / sizeof(dst_slots[0])));
	/* Every page, including those no slot of the source maps. */
	for (i = 0; i < NR_BACKINGS; i++)
		for (p = 0; p < backing_sizes[i] / PAGE; p += 1 + p % 2) {
			uint64_t *page = (uint64_t *)(self->src.mem[i] + p * PAGE);

			page[0] = (uint64_t)i << 48 | p;
			page[PAGE / 8 - 1] = ~page[0];
		}
	ASSERT_EQ(0, lm_nl_attach(self->nl, self->src.fd, 0, &self->src.id));
	ASSERT_EQ(0, lm_nl_attach(self->nl, self->dst.fd, 0, &self->dst.id));
	self->state_in = memfd_with(state, sizeof(state));
	self->state_out = memfd_with(NULL, 0);
	ASSERT_LE(0, self->state_in);
	ASSERT_LE(0, self->state_out);
}

FIXTURE_TEARDOWN(backing)
{
	if (!self->nl)
		return;
	lm_nl_detach(self->nl, self->src.id);
	lm_nl_detach(self->nl, self->dst.id);
	bvm_destroy(&self->src);
	bvm_destroy(&self->dst);
	lm_nl_close(self->nl);
	close(self->state_in);
	close(self->state_out);
}

static const struct lm_listen_opts by_backing_listen = {
	.key_by_backing = true
};

static void backing_migrate(struct __test_metadata *_metadata,
			    FIXTURE_DATA(backing) *self, uint32_t mode)
{
	const struct lm_migrate_opts opts = {
		.mode = mode, .key_by_backing = true
	};
	uint64_t pages = (backing_sizes[0] + backing_sizes[1]) / PAGE;
	struct lm_xfer_status s, d;
	uint16_t port;
	int i;

	ASSERT_EQ(0, lm_nl_listen_opts(self->nl, self->dst.id, loopback, 4, 0,
				       self->state_out, &by_backing_listen,
				       &port));
	ASSERT_EQ(0, lm_nl_migrate(self->nl, self->src.id, loopback, 4, port,
				   &opts)) {
		TH_LOG("%s", lm_nl_extack(self->nl));
	}
	ASSERT_EQ(0, wait_phase(self->nl, self->src.id,
				LM_PHASE_WAIT_SWITCHOVER, &s));
	ASSERT_EQ(LM_PHASE_WAIT_SWITCHOVER, s.phase) log_status(_metadata, "source", &s);
	EXPECT_EQ(pages, s.total_pages);
	ASSERT_EQ(0, lm_nl_switchover(self->nl, self->src.id, self->state_in));
	ASSERT_EQ(0, wait_phase(self->nl, self->dst.id, LM_PHASE_COMMIT, &d));
	ASSERT_EQ(LM_PHASE_COMMIT, d.phase) log_status(_metadata, "destination", &d);
	EXPECT_EQ(pages, d.total_pages);
	for (i = 0; i < NR_BACKINGS; i++)
		EXPECT_EQ(0, memcmp(self->src.mem[i], self->dst.mem[i],
				    backing_sizes[i])) {
			TH_LOG("backing %d differs", i);
		}
	ASSERT_EQ(0, lm_nl_complete(self->nl, self->dst.id, 0));
	ASSERT_EQ(0, wait_phase(self->nl, self->src.id, LM_PHASE_DONE, &s));
	EXPECT_EQ(LM_PHASE_DONE, s.phase) log_status(_metadata, "source", &s);
	log_status(_metadata, "source", &s);
	log_status(_metadata, "destination", &d);
}

TEST_F(backing, quick)
{
	backing_migrate(_metadata, self, LM_WIRE_MODE_QUICK);
}

TEST_F(backing, live)
{
	backing_migrate(_metadata, self, LM_WIRE_MODE_LIVE);
}

/* Slot mode refuses these layouts, as it refused QEMU's pc machine. */
TEST_F(backing, slot_mode_refuses)
{
	struct lm_xfer_status s, d;
	uint16_t port;

	ASSERT_EQ(0, lm_nl_listen(self->nl, self->dst.id, loopback, 4, 0,
				  self->state_out, 0, &port));
	ASSERT_EQ(0, lm_nl_migrate(self->nl, self->src.id, loopback, 4, port,
				   &quick));
	ASSERT_EQ(0, wait_phase(self->nl, self->src.id, LM_PHASE_FAILED, &s));
	ASSERT_EQ(0, wait_phase(self->nl, self->dst.id, LM_PHASE_FAILED, &d));
	log_status(_metadata, "source", &s);
	EXPECT_EQ(LM_WIRE_REASON_NR_SLOTS, s.reason);
	EXPECT_NE(NULL, strstr(s.message, "Refused (details only over an authenticated connection)"));
	EXPECT_NE(NULL, strstr(d.message, "Memory slots: source 5, destination 2"));
}

/* One side keyed by backing, the other not: the handshake fails. */
TEST_F(backing, modes_differ)
{
	const struct lm_migrate_opts opts = {
		.mode = LM_WIRE_MODE_QUICK, .key_by_backing = true
	};
	struct lm_xfer_status s, d;
	uint16_t port;

	ASSERT_EQ(0, lm_nl_listen_opts(self->nl, self->dst.id, loopback, 4, 0,
				       self->state_out, &by_backing_listen,
				       &port));
	ASSERT_EQ(0, lm_nl_migrate(self->nl, self->src.id, loopback, 4, port,
				   &quick));
	ASSERT_EQ(0, wait_phase(self->nl, self->dst.id, LM_PHASE_FAILED, &d));
	ASSERT_EQ(0, wait_phase(self->nl, self->src.id, LM_PHASE_FAILED, &s));
	log_status(_metadata, "source", &s);
	log_status(_metadata, "destination", &d);
	EXPECT_EQ(LM_WIRE_REASON_FEATURES, d.reason);
	EXPECT_NE(NULL, strstr(d.message, "does not key pages by RAM backing"));
	EXPECT_EQ(LM_WIRE_REASON_FEATURES, s.reason);
	EXPECT_EQ(LM_PHASE_HANDSHAKE, s.failed_phase);

	ASSERT_EQ(0, lm_nl_listen(self->nl, self->dst.id, loopback, 4, 0,
				  self->state_out, 0, &port));
	ASSERT_EQ(0, lm_nl_migrate(self->nl, self->src.id, loopback, 4, port,
				   &opts));
	ASSERT_EQ(0, wait_phase(self->nl, self->dst.id, LM_PHASE_FAILED, &d));
	ASSERT_EQ(0, wait_phase(self->nl, self->src.id, LM_PHASE_FAILED, &s));
	log_status(_metadata, "source", &s);
	log_status(_metadata, "destination", &d);
	EXPECT_EQ(LM_WIRE_REASON_FEATURES, d.reason);
	EXPECT_NE(NULL, strstr(d.message, "keys pages by RAM backing"));
	EXPECT_EQ(LM_WIRE_REASON_FEATURES, s.reason);
	EXPECT_EQ(0, s.pages);
}

/* A backing of another size is refused by name before any page moves. */
TEST(backing_size_mismatch)
{
	static const uint64_t smaller[NR_BACKINGS] = { 32 * MiB, 4 * MiB };
	static const struct bslot small_slots[] = {
		{ 0, 0,		32 * MiB,	0, 0 },
		{ 0, 4 * GiB,	4 * MiB,	1, 0 },
	};
	const struct lm_migrate_opts opts = {
		.mode = LM_WIRE_MODE_QUICK, .key_by_backing = true
	};
	struct lm_xfer_status s, d;
	struct bvm src, dst;
	int state_out, fd = open("/dev/kvm", O_RDWR);
	struct lm_nl *nl;
	uint16_t port;

	if (fd < 0)
		SKIP(return, "no /dev/kvm");
	close(fd);
	ASSERT_EQ(0, lm_nl_open(&nl));
	ASSERT_EQ(0, bvm_create(&src, backing_sizes, src_slots,
				sizeof(src_slots) / sizeof(src_slots[0])));
	ASSERT_EQ(0, bvm_create(&dst, smaller, small_slots, 2));
	ASSERT_EQ(0, lm_nl_attach(nl, src.fd, 0, &src.id));
	ASSERT_EQ(0, lm_nl_attach(nl, dst.fd, 0, &dst.id));
	state_out = memfd_with(NULL, 0);
	ASSERT_LE(0, state_out);
	ASSERT_EQ(0, lm_nl_listen_opts(nl, dst.id, loopback, 4, 0, state_out,
				       &by_backing_listen, &port));
	ASSERT_EQ(0, lm_nl_migrate(nl, src.id, loopback, 4, port, &opts));
	ASSERT_EQ(0, wait_phase(nl, src.id, LM_PHASE_FAILED, &s));
	ASSERT_EQ(0, wait_phase(nl, dst.id, LM_PHASE_FAILED, &d));
	log_status(_metadata, "source", &s);
	EXPECT_EQ(LM_WIRE_REASON_SLOT, s.reason);
	EXPECT_EQ(LM_PHASE_CONFIG, s.failed_phase);
	EXPECT_NE(NULL, strstr(s.message,
			       "Refused (details only over an authenticated connection)"));
	EXPECT_NE(NULL, strstr(d.message,
			       "RAM backing 1 size: source 0x800000, destination 0x400000"));
	EXPECT_EQ(LM_WIRE_REASON_SLOT, d.reason);
	EXPECT_EQ(0, d.pages);
	lm_nl_detach(nl, src.id);
	lm_nl_detach(nl, dst.id);
	bvm_destroy(&src);
	bvm_destroy(&dst);
	close(state_out);
	lm_nl_close(nl);
}

TEST_HARNESS_MAIN

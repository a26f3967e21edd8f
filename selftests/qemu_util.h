/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the tests that run an unmodified QEMU (Debian's
 * qemu-system-x86_64, copied into the lab VM) with nested KVM: start it
 * with lm-guest.elf (selftests/guest/) and its RAM in a shared file that
 * the test maps, speak QMP to it, and take its KVM VM file for lm.
 *
 * QMP here is the least a test needs: one command at a time, its reply
 * recognised by "return" or "error" on the line (QEMU writes one JSON
 * object a line; events are skipped). lmctl's own QMP client is another
 * matter.
 *
 * Include after kselftest_harness.h.
 */
#ifndef QEMU_UTIL_H
#define QEMU_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guest/lm_guest_abi.h"

#define QEMU_BIN	"qemu-system-x86_64"
#define QEMU_GUEST	"/lib/lab/guest/lm-guest.elf"

struct qemu {
	pid_t pid;
	int qmp;			/* connected QMP socket, or -1 */
	void *ram;			/* the RAM backend, mapped shared */
	size_t ram_size;
	char dir[64];			/* its files: ram, qmp.sock, serial */
	char reply[8192];		/* the last QMP reply line */
};

static inline double qemu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline bool qemu_available(void)
{
	return !access(QEMU_GUEST, R_OK) && !system("command -v " QEMU_BIN " > /dev/null");
}

/* The TSC rate of this (lab) machine, which a KVM guest's TSC keeps. */
static inline unsigned long qemu_tsc_khz(void)
{
	char line[256];
	double mhz = 0;
	FILE *f = fopen("/proc/cpuinfo", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "cpu MHz : %lf", &mhz) == 1)
			break;
	fclose(f);
	return (unsigned long)(mhz * 1000);
}

/* Read one line from QMP into q->reply; 0, or -1 on error or 10 s passing. */
static inline int qmp_read_line(struct qemu *q)
{
	size_t got = 0;
	struct pollfd pfd = { q->qmp, POLLIN, 0 };

	while (got < sizeof(q->reply) - 1) {
		if (poll(&pfd, 1, 10000) != 1 ||
		    read(q->qmp, q->reply + got, 1) != 1)
			return -1;
		if (q->reply[got] == '\n')
			break;
		got++;
	}
	q->reply[got] = '\0';
	return 0;
}

/* Run one QMP command (JSON text); 0 if it returned, -1 on error. */
static inline int qmp(struct qemu *q, const char *cmd)
{
	size_t len = strlen(cmd);

	if (write(q->qmp, cmd, len) != (ssize_t)len || write(q->qmp, "\n", 1) != 1)
		return -1;
	for (;;) {
		if (qmp_read_line(q))
			return -1;
		if (strstr(q->reply, "\"return\""))
			return 0;
		if (strstr(q->reply, "\"error\""))
			return -1;
	}
}

/* The "status" of query-status, e.g. "running", "paused", or "". */
static inline const char *qemu_status(struct qemu *q, char *buf, size_t size)
{
	const char *p;

	buf[0] = '\0';
	if (qmp(q, "{\"execute\": \"query-status\"}"))
		return buf;
	p = strstr(q->reply, "\"status\": \"");
	if (p)
		snprintf(buf, size, "%.*s", (int)strspn(p + 11,
				"abcdefghijklmnopqrstuvwxyz-"), p + 11);
	return buf;
}

/* How to start QEMU: see qemu_start(). */
struct qemu_opts {
	unsigned int mem_mib;
	unsigned int rate_mib;		/* lm-guest's pace */
	const char *machine;		/* "pc" (default) or "microvm" */
	const char *netns;		/* run it there (ip netns exec), or NULL */
	bool incoming;			/* -incoming defer -S: wait for a VM */
	bool private_ram;		/* share=off: RAM lm cannot move */
	const char *const *extra;	/* more arguments, NULL-terminated */
	const char *append;		/* more of lm-guest's command line */
	const char *accel;		/* -accel (default "kvm") */
};

/* Connect to QEMU's QMP socket (60 s at most: a loaded machine starts QEMU slowly) and enter command mode. */
static inline int qemu_qmp_connect(struct qemu *q)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	double deadline = qemu_now() + 60;
	int fd;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/qmp.sock", q->dir);
	while (qemu_now() < deadline) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && !connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
			q->qmp = fd;
			break;
		}
		if (fd >= 0)
			close(fd);
		if (q->pid > 0 && waitpid(q->pid, NULL, WNOHANG) == q->pid) {
			q->pid = -1;
			return -1;
		}
		usleep(50000);
	}
	if (q->qmp < 0 || qmp_read_line(q) ||
	    qmp(q, "{\"execute\": \"qmp_capabilities\"}"))
		return -1;
	return 0;
}

/* Let another client (lmctl) have QEMU's QMP: it serves one at a time. */
static inline void qemu_qmp_disconnect(struct qemu *q)
{
	if (q->qmp >= 0)
		close(q->qmp);
	q->qmp = -1;
}

/* The path of one of QEMU's files (ram, qmp.sock, serial). */
static inline const char *qemu_file(struct qemu *q, const char *name,
				    char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", q->dir, name);
	return buf;
}

/*
 * Start QEMU as @o says: nested KVM, its RAM in a shared file that the
 * test maps, lm-guest writing memory (unless it waits for an incoming
 * VM), QMP on a Unix socket. Returns 0 once QMP answers and, unless
 * incoming, the guest has started writing.
 */
static inline void qemu_print_serial(struct qemu *q);

/* Why lm-guest did not come up: what the machine and the guest say. */
static inline void qemu_start_failed(struct qemu *q)
{
	printf("# lm-guest did not start within 60 s; QEMU %s\n",
	       kill(q->pid, 0) ? "is gone" : "still runs");
	qemu_print_serial(q);
	fflush(stdout);
	if (system("{ grep -E 'MemAvailable|Shmem:' /proc/meminfo; df -k /dev/shm | tail -1; uptime; dmesg | tail -5; } | sed 's/^/# /'"))
		printf("# (no diagnostics)\n");
}

static inline int qemu_start_opts(struct qemu *q, const struct qemu_opts *o)
{
	char ram[128], sock[128], serial[128], mem[64], append[160], object[256];
	char machine[64];
	volatile struct lm_guest_info *info;
	const char *argv[48];
	double deadline;
	int fd, argc = 0;
	size_t i;

	memset(q, 0, sizeof(*q));
	q->qmp = -1;
	q->pid = -1;
	strcpy(q->dir, "/dev/shm/lmqemu.XXXXXX");
	if (!mkdtemp(q->dir))
		return -1;
	snprintf(ram, sizeof(ram), "%s/ram", q->dir);
	snprintf(sock, sizeof(sock), "unix:%s/qmp.sock,server=on,wait=off", q->dir);
	snprintf(serial, sizeof(serial), "file:%s/serial", q->dir);
	snprintf(mem, sizeof(mem), "%uM", o->mem_mib);
	snprintf(append, sizeof(append), "rate=%u tsc_khz=%lu %s", o->rate_mib,
		 qemu_tsc_khz(), o->append ? o->append : "");
	snprintf(object, sizeof(object),
		 "memory-backend-file,id=ram,size=%uM,mem-path=%s,share=%s",
		 o->mem_mib, ram, o->private_ram ? "off" : "on");
	snprintf(machine, sizeof(machine), "%s,memory-backend=ram",
		 o->machine ? o->machine : "pc");

	if (o->netns) {
		argv[argc++] = "/usr/sbin/ip";
		argv[argc++] = "netns";
		argv[argc++] = "exec";
		argv[argc++] = o->netns;
	}
	argv[argc++] = QEMU_BIN;
	argv[argc++] = "-accel";
	argv[argc++] = o->accel ? o->accel : "kvm";
	argv[argc++] = "-machine";
	argv[argc++] = machine;
	argv[argc++] = "-m";
	argv[argc++] = mem;
	argv[argc++] = "-object";
	argv[argc++] = object;
	argv[argc++] = "-nodefaults";
	argv[argc++] = "-display";
	argv[argc++] = "none";
	argv[argc++] = "-no-user-config";
	argv[argc++] = "-serial";
	argv[argc++] = serial;
	argv[argc++] = "-qmp";
	argv[argc++] = sock;
	argv[argc++] = "-kernel";
	argv[argc++] = QEMU_GUEST;
	argv[argc++] = "-append";
	argv[argc++] = append;
	if (o->incoming) {
		argv[argc++] = "-incoming";
		argv[argc++] = "defer";
		argv[argc++] = "-S";
	}
	for (i = 0; o->extra && o->extra[i]; i++) {
		if (argc == sizeof(argv) / sizeof(argv[0]) - 1)
			return -1;
		argv[argc++] = o->extra[i];
	}
	argv[argc] = NULL;

	q->pid = fork();
	if (q->pid < 0)
		return -1;
	if (!q->pid) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, STDIN_FILENO);
		/* ip execs QEMU: q->pid is QEMU's. */
		execvp(argv[0], (char **)argv);
		_exit(127);
	}
	if (qemu_qmp_connect(q))
		return -1;

	fd = open(ram, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	q->ram_size = (size_t)o->mem_mib << 20;
	q->ram = mmap(NULL, q->ram_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (q->ram == MAP_FAILED) {
		q->ram = NULL;
		return -1;
	}
	if (o->incoming)
		return 0;
	info = (void *)((char *)q->ram + LM_GUEST_INFO_GPA);
	deadline = qemu_now() + 60;
	while (qemu_now() < deadline) {
		if (info->magic == LM_GUEST_MAGIC && info->pages_written)
			return 0;
		usleep(50000);
	}
	qemu_start_failed(q);
	return -1;
}

/* A pc machine with @mem_mib MiB, lm-guest writing @rate_mib MiB/s. */
static inline int qemu_start(struct qemu *q, unsigned int mem_mib,
			     unsigned int rate_mib)
{
	struct qemu_opts o = { .mem_mib = mem_mib, .rate_mib = rate_mib };

	return qemu_start_opts(q, &o);
}

/* Read all of QEMU's RAM file into @buf, without mapping it; 0 or -1. */
static inline int qemu_read_ram(struct qemu *q, void *buf)
{
	char path[128];
	size_t got = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/ram", q->dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while (got < q->ram_size) {
		n = pread(fd, (char *)buf + got, q->ram_size - got, got);
		if (n <= 0)
			break;
		got += n;
	}
	close(fd);
	return got == q->ram_size ? 0 : -1;
}

/*
 * A second, writable shared mapping of QEMU's RAM file, to write guest
 * memory from the host as a device would; NULL on error. munmap() it.
 */
static inline void *qemu_map_ram_rw(struct qemu *q)
{
	char path[128];
	void *p;
	int fd;

	snprintf(path, sizeof(path), "%s/ram", q->dir);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	p = mmap(NULL, q->ram_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

/*
 * Data in every page lm-guest sweeps (its last byte, past the stamp),
 * written through the host: lm sends memory the guest never wrote
 * without reading it, so a migration of a guest that has not written
 * most of its memory is over in a moment. 0 or -1.
 */
static inline int qemu_fill_ram(struct qemu *q)
{
	unsigned char *ram = qemu_map_ram_rw(q);
	size_t off;

	if (!ram)
		return -1;
	for (off = LM_GUEST_FIRST; off < q->ram_size - LM_GUEST_TOP_SPARE;
	     off += 4096)
		ram[off + 4096 - 1] = 0xa5;
	munmap(ram, q->ram_size);
	return 0;
}

static inline const volatile struct lm_guest_info *qemu_guest(struct qemu *q)
{
	return (void *)((char *)q->ram + LM_GUEST_INFO_GPA);
}

/* QEMU's serial output (lm-guest's lines), for a test's log. */
static inline void qemu_print_serial(struct qemu *q)
{
	char path[128], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/serial", q->dir);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		printf("# guest: %s", line);
	fclose(f);
}

/* The KVM VM file of QEMU, taken with pidfd_getfd(); -1 if none. */
static inline int qemu_vm_fd(struct qemu *q)
{
	char dir[64], path[320], target[64];
	struct dirent *de;
	int pidfd, fd = -1;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", q->pid);
	d = opendir(dir);
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		ssize_t n;

		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (!strcmp(target, "anon_inode:kvm-vm")) {
			fd = atoi(de->d_name);
			break;
		}
	}
	closedir(d);
	if (fd < 0)
		return -1;
	pidfd = syscall(SYS_pidfd_open, q->pid, 0);
	if (pidfd < 0)
		return -1;
	fd = syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	close(pidfd);
	return fd;
}

static inline void qemu_stop(struct qemu *q)
{
	char path[128];

	if (q->qmp >= 0) {
		qmp(q, "{\"execute\": \"quit\"}");
		close(q->qmp);
		q->qmp = -1;
	} else if (q->pid > 0) {
		kill(q->pid, SIGTERM);
	}
	if (q->pid > 0) {
		double deadline = qemu_now() + 10;

		while (waitpid(q->pid, NULL, WNOHANG) != q->pid) {
			if (qemu_now() > deadline) {
				kill(q->pid, SIGKILL);
				waitpid(q->pid, NULL, 0);
				break;
			}
			usleep(20000);
		}
		q->pid = -1;
	}
	if (q->ram)
		munmap(q->ram, q->ram_size);
	q->ram = NULL;
	if (q->dir[0]) {
		const char *files[] = { "ram", "qmp.sock", "serial" };

		for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
			snprintf(path, sizeof(path), "%s/%s", q->dir, files[i]);
			unlink(path);
		}
		rmdir(q->dir);
		q->dir[0] = '\0';
	}
}

#endif /* QEMU_UTIL_H */

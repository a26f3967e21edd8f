/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The seed articles' measure of a live migration: a client pings the
 * guest at a fixed interval while it moves, and counts the replies lost
 * and the longest time without one.
 *
 * ping_start() forks a pinger into a network namespace (by its name under
 * /run/netns); it sends ICMP echo requests on a raw socket every
 * interval and records every reply in a struct ping shared with the
 * caller; ping_stop() ends it, after a grace period for late replies.
 *
 * Include after kselftest_harness.h.
 */
#ifndef PING_UTIL_H
#define PING_UTIL_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Replies are late (not lost) up to this long after ping_stop(). */
#define PING_GRACE_S	0.5

struct ping {
	pid_t pid;
	volatile int stop;
	double interval;		/* seconds */
	unsigned int sent, received;
	double first_reply, last_reply;	/* CLOCK_MONOTONIC seconds */
	double longest_gap;		/* between two replies in a row */
	double gap_from;		/* when it began */
};

static inline double ping_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline uint16_t ping_csum(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t sum = 0;

	for (; len > 1; p += 2, len -= 2)
		sum += p[0] << 8 | p[1];
	if (len)
		sum += p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons(~sum);
}

static inline void ping_reply(struct ping *p, double t)
{
	if (p->received) {
		double gap = t - p->last_reply;

		if (gap > p->longest_gap) {
			p->longest_gap = gap;
			p->gap_from = p->last_reply;
		}
	} else {
		p->first_reply = t;
	}
	p->last_reply = t;
	p->received++;
}

static inline void ping_child(struct ping *p, const char *netns,
			      const char *addr)
{
	struct sockaddr_in to = { .sin_family = AF_INET };
	uint16_t id = getpid() & 0xffff, seq = 0;
	double next = ping_now(), stop_at = 0;
	int fd, ns;

	/* Hold none of the caller's files (QMP sockets serve one client). */
	close_range(3, ~0U, 0);
	ns = open(netns, O_RDONLY | O_CLOEXEC);
	if (ns < 0 || setns(ns, CLONE_NEWNET))
		_exit(2);
	close(ns);
	fd = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	if (fd < 0 || inet_pton(AF_INET, addr, &to.sin_addr) != 1)
		_exit(3);
	for (;;) {
		double now = ping_now();
		struct pollfd pfd = { fd, POLLIN, 0 };
		uint8_t buf[1500];
		int wait_ms;

		if (p->stop && !stop_at)
			stop_at = now + PING_GRACE_S;
		if (stop_at && now >= stop_at)
			_exit(0);
		if (!stop_at && now >= next) {
			struct icmphdr echo = {
				.type = ICMP_ECHO,
				.un.echo.id = htons(id),
				.un.echo.sequence = htons(seq++),
			};

			echo.checksum = ping_csum(&echo, sizeof(echo));
			if (sendto(fd, &echo, sizeof(echo), 0,
				   (struct sockaddr *)&to, sizeof(to)) > 0)
				p->sent++;
			/* A late wake-up sends once, not a burst. */
			next = next + p->interval > now ? next + p->interval :
			       now + p->interval;
		}
		wait_ms = (int)(((stop_at ? stop_at : next) - ping_now()) * 1000);
		if (poll(&pfd, 1, wait_ms > 0 ? wait_ms : 0) == 1) {
			ssize_t n = recv(fd, buf, sizeof(buf), 0);
			const struct iphdr *ip = (void *)buf;
			const struct icmphdr *icmp;

			if (n < (ssize_t)sizeof(*ip) ||
			    n < ip->ihl * 4 + (ssize_t)sizeof(*icmp))
				continue;
			icmp = (void *)(buf + ip->ihl * 4);
			if (icmp->type == ICMP_ECHOREPLY &&
			    ntohs(icmp->un.echo.id) == id)
				ping_reply(p, ping_now());
		}
	}
}

/* Ping @addr from the namespace /run/netns/@ns every @interval s. */
static inline struct ping *ping_start(const char *ns, const char *addr,
				      double interval)
{
	struct ping *p = mmap(NULL, sizeof(*p), PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	char path[128];

	if (p == MAP_FAILED)
		return NULL;
	memset(p, 0, sizeof(*p));
	p->interval = interval;
	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	p->pid = fork();
	if (!p->pid)
		ping_child(p, path, addr);
	if (p->pid < 0) {
		munmap(p, sizeof(*p));
		return NULL;
	}
	return p;
}

/* Wait up to @seconds for @n more replies; true if they came. */
static inline bool ping_wait_replies(struct ping *p, unsigned int n,
				     double seconds)
{
	unsigned int want = p->received + n;
	double deadline = ping_now() + seconds;

	while (p->received < want && ping_now() < deadline)
		usleep(10000);
	return p->received >= want;
}

/* Stop sending, collect late replies; @p stays readable until ping_free. */
static inline void ping_stop(struct ping *p)
{
	int status;

	p->stop = 1;
	waitpid(p->pid, &status, 0);
}

static inline void ping_free(struct ping *p)
{
	if (!p)
		return;
	if (!p->stop)
		ping_stop(p);
	munmap(p, sizeof(*p));
}

#endif /* PING_UTIL_H */

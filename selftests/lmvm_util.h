/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Driving lmvm from a test: start it with a control socket, send it
 * commands, read numbers out of its status line, stop it.
 */
#ifndef _LMVM_UTIL_H
#define _LMVM_UTIL_H

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#define LMVM_REPLY_MAX	4096

struct lmvm_proc {
	pid_t pid;
	char sock[108];
};

static inline double lmvm_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline void lmvm_sleep(double seconds)
{
	struct timespec ts = {
		.tv_sec = (time_t)seconds,
		.tv_nsec = (long)((seconds - (time_t)seconds) * 1e9),
	};

	nanosleep(&ts, NULL);
}

/* The lmvm to test: $LMVM, else the one on PATH. */
static inline const char *lmvm_path(void)
{
	const char *p = getenv("LMVM");

	return p ? p : "lmvm";
}

/*
 * Send one line, return the reply line (without newline) in out; -1 when
 * lmvm cannot be reached.
 */
static inline int lmvm_cmd_raw(const char *sock, const char *line,
			       size_t line_len, char *out, size_t len)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	size_t n = 0;
	ssize_t r;
	int fd;

	strcpy(addr.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) ||
	    send(fd, line, line_len, MSG_NOSIGNAL) != (ssize_t)line_len) {
		close(fd);
		return -1;
	}
	while (n < len - 1 && (r = recv(fd, out + n, len - 1 - n, 0)) > 0) {
		n += r;
		if (memchr(out, '\n', n))
			break;
	}
	close(fd);
	out[n] = '\0';
	if (n && out[n - 1] == '\n')
		out[n - 1] = '\0';
	return n ? 0 : -1;
}

static inline int lmvm_cmd(struct lmvm_proc *p, char *out, size_t len,
			   const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	line[n++] = '\n';
	return lmvm_cmd_raw(p->sock, line, n, out, len);
}

/* Show what a failed lmvm said, on stderr (the harness shows it). */
static inline void lmvm_dump_log(struct lmvm_proc *p)
{
	char path[sizeof(p->sock) + 8], buf[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s.log", p->sock);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(buf, sizeof(buf), f))
		fprintf(stderr, "# lmvm: %s", buf);
	fclose(f);
}

/* Start "lmvm ARGS... --control SOCK"; wait until it answers. */
static inline int lmvm_start(struct lmvm_proc *p, const char *args)
{
	static int seq;
	char cmd[512], reply[LMVM_REPLY_MAX];
	double deadline;

	snprintf(p->sock, sizeof(p->sock), "/tmp/lmvm-test-%d-%d.sock",
		 getpid(), seq++);
	/* guest console and lmvm's messages go to SOCK.log */
	snprintf(cmd, sizeof(cmd), "exec %s %s --control %s >%s.log 2>&1",
		 lmvm_path(), args, p->sock, p->sock);
	unlink(p->sock);
	p->pid = fork();
	if (p->pid < 0)
		return -1;
	if (!p->pid) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	deadline = lmvm_now() + 30;
	while (lmvm_now() < deadline) {
		if (!lmvm_cmd(p, reply, sizeof(reply), "status"))
			return 0;
		if (waitpid(p->pid, NULL, WNOHANG) == p->pid) {
			p->pid = 0;
			lmvm_dump_log(p);
			return -1;
		}
		lmvm_sleep(0.05);
	}
	lmvm_dump_log(p);
	return -1;
}

/* "quit", then its exit status (-1: it had to be killed). */
static inline int lmvm_stop(struct lmvm_proc *p)
{
	char reply[LMVM_REPLY_MAX];
	double deadline = lmvm_now() + 20;
	int status;

	char log[sizeof(p->sock) + 8];

	if (p->pid <= 0)
		return -1;
	snprintf(log, sizeof(log), "%s.log", p->sock);
	unlink(log);
	lmvm_cmd(p, reply, sizeof(reply), "quit");
	while (lmvm_now() < deadline) {
		if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
			p->pid = 0;
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		}
		lmvm_sleep(0.05);
	}
	kill(p->pid, SIGKILL);
	waitpid(p->pid, NULL, 0);
	p->pid = 0;
	return -1;
}

/* The value of " key=" in a status line; -1 when absent. */
static inline long long lmvm_field(const char *status, const char *key)
{
	char pat[64];
	const char *s;

	snprintf(pat, sizeof(pat), " %s=", key);
	s = strstr(status, pat);
	return s ? strtoll(s + strlen(pat), NULL, 10) : -1;
}

static inline long long lmvm_status_field(struct lmvm_proc *p,
					  const char *key)
{
	char reply[LMVM_REPLY_MAX];

	if (lmvm_cmd(p, reply, sizeof(reply), "status"))
		return -1;
	return lmvm_field(reply, key);
}

static inline bool lmvm_ok(const char *reply)
{
	return !strncmp(reply, "ok", 2);
}

#endif /* _LMVM_UTIL_H */

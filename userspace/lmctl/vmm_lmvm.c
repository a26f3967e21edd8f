// SPDX-License-Identifier: GPL-2.0
/*
 * lmvm behind the VMM interface: its control socket takes one-line commands
 * and answers one line, "ok ..." or "error: ..." (Documentation/lmvm.rst).
 * The state file is lmvm's own format, written and read by lmvm at a path.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "lmctl.h"
#include "vmm.h"

/* Send a command; 0 if lmvm answered "ok" (the answer in v->reply). */
static int __attribute__((format(printf, 2, 3)))
lmvm_run(struct vmm *v, const char *fmt, ...)
{
	char line[1024];
	size_t got = 0;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof(line) - 1) {
		lmctl_err("control command too long");
		return -1;
	}
	line[n++] = '\n';
	if (send(v->fd, line, n, MSG_NOSIGNAL) != n) {
		lmctl_err("VMM control socket %s: %s", v->path, strerror(errno));
		return -1;
	}
	/* One line back. */
	while (got < sizeof(v->reply) - 1) {
		ssize_t r = recv(v->fd, v->reply + got, 1, 0);

		if (r <= 0) {
			lmctl_err("VMM control socket %s: %s", v->path,
				  r ? strerror(errno) : "closed by the VMM");
			v->reply[got] = '\0';
			return -1;
		}
		if (v->reply[got] == '\n')
			break;
		got++;
	}
	v->reply[got] = '\0';
	if (strncmp(v->reply, "ok", 2) || (v->reply[2] && v->reply[2] != ' ')) {
		line[n - 1] = '\0';
		lmctl_err("VMM refused '%s': %s", line, v->reply);
		return -1;
	}
	return 0;
}

static int lmvm_prepare(struct vmm *v, bool incoming)
{
	if (lmvm_run(v, "status"))
		return -1;
	/* Received memory overwrites the guest's: it must not have run. */
	if (incoming && !strstr(v->reply, " state=incoming")) {
		lmctl_err("the VMM is not waiting for an incoming VM (start it with --incoming): %s",
			  v->reply);
		return -1;
	}
	return 0;
}

static int lmvm_throttle(struct vmm *v, unsigned int pct)
{
	return lmvm_run(v, "throttle %u", pct);
}

static int lmvm_save(struct vmm *v, int state_fd, const char *state_path)
{
	(void)state_fd;
	if (lmvm_run(v, "pause"))
		return -1;
	return lmvm_run(v, "save-state %s", state_path);
}

static int lmvm_load(struct vmm *v, int state_fd, const char *state_path)
{
	(void)state_fd;
	return lmvm_run(v, "load-state %s", state_path);
}

static int lmvm_resume(struct vmm *v)
{
	return lmvm_run(v, "resume");
}

static int lmvm_checksum(struct vmm *v, char *buf, size_t len)
{
	if (lmvm_run(v, "checksum"))
		return -1;
	snprintf(buf, len, "%s", v->reply + 3);
	return 0;
}

static void lmvm_close(struct vmm *v)
{
	(void)v;
}

const struct vmm_ops vmm_lmvm_ops = {
	.name = "lmvm",
	.prepare = lmvm_prepare,
	.throttle = lmvm_throttle,
	.save = lmvm_save,
	.load = lmvm_load,
	.resume = lmvm_resume,
	.checksum = lmvm_checksum,
	.close = lmvm_close,
};

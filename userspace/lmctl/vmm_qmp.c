// SPDX-License-Identifier: GPL-2.0
/*
 * QEMU behind the VMM interface, through QMP, its JSON control protocol
 * (one JSON object a line; events interleave with replies).
 *
 * lm moves guest RAM; QEMU moves everything else in its own migration
 * stream, which lm carries as the VM's state:
 *
 *  - guest RAM must be in shared backends (memory-backend-file or
 *    memory-backend-memfd with share=on): with the x-ignore-shared
 *    capability QEMU's stream then carries the device state and the small
 *    private blocks (firmware, option ROMs) only, and the destination
 *    expects the RAM in place;
 *  - source: x-ignore-shared and pause-before-switchover set; "migrate" to
 *    the state file, passed with getfd; QEMU stops the guest and waits in
 *    pre-switchover with its devices quiesced; migrate-continue: it writes
 *    the device state and completes, the guest stopped for good
 *    ("postmigrate") unless lmctl resumes it after a failure;
 *  - destination: started with -incoming defer and -S (it must not run
 *    before lmctl says so); x-ignore-shared set; once lm has received
 *    every page, migrate-incoming from the state file, then "cont".
 */
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lmctl_err.h"
#include "vmm.h"

/* How long QEMU may take to answer one command. */
#define QMP_REPLY_MS		30000
/* How long its part of a migration (save or load) may take. */
#define QMP_MIGRATE_MS		120000
#define QMP_STATE_FD_NAME	"lm-state"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* One line from QEMU into v->reply; 0, or -1 having said why. */
static int qmp_read_line(struct vmm *v)
{
	int64_t deadline = now_ms() + QMP_REPLY_MS;
	size_t got = 0;

	while (got < sizeof(v->reply) - 1) {
		struct pollfd pfd = { v->fd, POLLIN, 0 };
		int64_t left = deadline - now_ms();
		ssize_t r;

		if (left <= 0 || poll(&pfd, 1, left) != 1) {
			lmctl_err("QEMU (%s) did not answer within %d s", v->path,
				  QMP_REPLY_MS / 1000);
			return -1;
		}
		r = recv(v->fd, v->reply + got, 1, 0);
		if (r <= 0) {
			lmctl_err("QMP socket %s: %s", v->path,
				  r ? strerror(errno) : "closed by QEMU");
			return -1;
		}
		if (v->reply[got] == '\n')
			break;
		got++;
	}
	if (got == sizeof(v->reply) - 1) {
		lmctl_err("QMP socket %s: a line longer than %zu bytes", v->path,
			  sizeof(v->reply) - 1);
		return -1;
	}
	v->reply[got] = '\0';
	return 0;
}

/* Send @text and a newline, with @fd attached (SCM_RIGHTS) if >= 0. */
static int qmp_send(struct vmm *v, const char *text, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov[2] = {
		{ .iov_base = (void *)text, .iov_len = strlen(text) },
		{ .iov_base = "\n", .iov_len = 1 },
	};
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
	ssize_t want = iov[0].iov_len + 1;

	if (fd >= 0) {
		struct cmsghdr *cmsg;

		memset(&control, 0, sizeof(control));
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof(control.buf);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	}
	if (sendmsg(v->fd, &msg, MSG_NOSIGNAL) != want) {
		lmctl_err("QMP socket %s: %s", v->path, strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Execute @cmd with @args (a new reference, taken; NULL for none), passing
 * @fd along if >= 0. Its "return" value into *@ret (a new reference, to
 * json_decref()) if @ret. 0, or -1 having said why (QEMU's own words for
 * an error).
 */
static int qmp_exec(struct vmm *v, const char *cmd, json_t *args, int fd,
		    json_t **ret)
{
	json_t *req = json_pack("{s:s}", "execute", cmd), *reply, *val;
	char *text;
	int err;

	if (ret)
		*ret = NULL;
	if (!req) {
		json_decref(args);
		return -1;
	}
	if (args)
		json_object_set_new(req, "arguments", args);
	text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!text)
		return -1;
	err = qmp_send(v, text, fd);
	free(text);
	if (err)
		return -1;

	for (;;) {
		json_error_t jerr;

		if (qmp_read_line(v))
			return -1;
		reply = json_loads(v->reply, 0, &jerr);
		if (!reply) {
			lmctl_err("QEMU (%s) sent what is not JSON: %s", v->path,
				  jerr.text);
			return -1;
		}
		if (json_object_get(reply, "event")) {
			json_decref(reply);
			continue;
		}
		break;
	}
	val = json_object_get(reply, "return");
	if (val) {
		if (ret)
			*ret = json_incref(val);
		json_decref(reply);
		return 0;
	}
	val = json_object_get(json_object_get(reply, "error"), "desc");
	lmctl_err("QEMU refused %s: %s", cmd,
		  json_is_string(val) ? json_string_value(val) : v->reply);
	json_decref(reply);
	return -1;
}

/* A string member of QEMU's answer to @cmd, into @buf ("" if absent). */
static int qmp_query_string(struct vmm *v, const char *cmd, const char *key,
			    char *buf, size_t len)
{
	json_t *ret;
	const char *s;

	if (qmp_exec(v, cmd, NULL, -1, &ret))
		return -1;
	s = json_string_value(json_object_get(ret, key));
	snprintf(buf, len, "%s", s ? s : "");
	json_decref(ret);
	return 0;
}

/*
 * Wait for QEMU's migration to reach @want; its failure (or cancel) is
 * an error, said with QEMU's description.
 */
static int qmp_wait_migration(struct vmm *v, const char *want)
{
	int64_t deadline = now_ms() + QMP_MIGRATE_MS;
	json_t *ret;

	for (;;) {
		const char *status, *desc;

		if (qmp_exec(v, "query-migrate", NULL, -1, &ret))
			return -1;
		status = json_string_value(json_object_get(ret, "status"));
		if (status && !strcmp(status, want)) {
			json_decref(ret);
			return 0;
		}
		if (status && (!strcmp(status, "failed") ||
			       !strcmp(status, "cancelled"))) {
			desc = json_string_value(json_object_get(ret, "error-desc"));
			lmctl_err("QEMU's migration %s: %s", status,
				  desc ? desc : "no reason given");
			json_decref(ret);
			return -1;
		}
		json_decref(ret);
		if (now_ms() > deadline) {
			lmctl_err("QEMU's migration did not reach %s within %d s",
				  want, QMP_MIGRATE_MS / 1000);
			return -1;
		}
		usleep(10000);
	}
}

static int qmp_set_capabilities(struct vmm *v, bool incoming)
{
	json_t *caps = json_pack("[{s:s,s:b}]", "capability", "x-ignore-shared",
				 "state", 1);

	if (!incoming)
		json_array_append_new(caps, json_pack("{s:s,s:b}", "capability",
						      "pause-before-switchover",
						      "state", 1));
	return qmp_exec(v, "migrate-set-capabilities",
			json_pack("{s:o}", "capabilities", caps), -1, NULL);
}

/* Every RAM backend shared, or lm cannot move it and QEMU would. */
static int qmp_check_memdevs(struct vmm *v)
{
	json_t *ret, *dev;
	size_t i;
	int err = 0;

	if (qmp_exec(v, "query-memdev", NULL, -1, &ret))
		return -1;
	if (!json_array_size(ret)) {
		lmctl_err("QEMU's guest RAM is not in a memory backend: start it with -object memory-backend-file,id=ram,share=on,... -machine memory-backend=ram");
		err = -1;
	}
	json_array_foreach(ret, i, dev) {
		const char *id = json_string_value(json_object_get(dev, "id"));

		if (!json_is_true(json_object_get(dev, "share"))) {
			lmctl_err("QEMU's memory backend '%s' is not shared (share=on): lm moves only shared RAM",
				  id ? id : "?");
			err = -1;
		}
	}
	json_decref(ret);
	return err;
}

/*
 * Devices lm cannot migrate exactly, by the start of their QOM type: they
 * write guest RAM where no page table of the VMM sees it, or keep state
 * outside QEMU's stream, or change what guest RAM is while it moves.
 */
static const struct {
	const char *type;
	const char *why;
} qmp_refused_devices[] = {
	{ "vfio-", "a VFIO device writes guest RAM by DMA, through the IOMMU, where no dirty log sees it" },
	{ "vhost-user-", "a vhost-user device keeps its state in another process, outside QEMU's migration stream" },
	{ "vhost-vdpa", "a vDPA device writes guest RAM by DMA, where no dirty log sees it" },
	{ "virtio-balloon", "a balloon discards guest pages without writing them, so lm would not send them again" },
	{ "virtio-mem", "virtio-mem plugs and unplugs guest RAM while it moves" },
};

/* The refused device of QOM type @type, or NULL. */
static const char *qmp_refused_device(const char *type)
{
	size_t i;

	for (i = 0; i < sizeof(qmp_refused_devices) /
			sizeof(qmp_refused_devices[0]); i++)
		if (!strncmp(type, qmp_refused_devices[i].type,
			     strlen(qmp_refused_devices[i].type)))
			return qmp_refused_devices[i].why;
	return NULL;
}

/*
 * Every device the user (or libvirt) added is a child of one of these
 * containers, "child<TYPE>" in qom-list; the machine's own are never among
 * the refused kinds.
 */
static int qmp_check_devices(struct vmm *v)
{
	static const char *const containers[] = {
		"/machine/peripheral", "/machine/peripheral-anon",
	};
	json_t *ret, *prop;
	size_t i, j;
	int err = 0;

	for (i = 0; i < 2; i++) {
		if (qmp_exec(v, "qom-list", json_pack("{s:s}", "path",
						      containers[i]), -1, &ret))
			return -1;
		json_array_foreach(ret, j, prop) {
			const char *type = json_string_value(json_object_get(prop, "type"));
			const char *name = json_string_value(json_object_get(prop, "name"));
			const char *why;

			if (!type || strncmp(type, "child<", 6))
				continue;
			why = qmp_refused_device(type + 6);
			if (why) {
				lmctl_err("QEMU's device '%s' (%.*s) cannot be migrated by lm: %s",
					  name ? name : "?",
					  (int)strlen(type + 6) - 1, type + 6, why);
				err = -1;
			}
		}
		json_decref(ret);
	}
	return err;
}

/*
 * QMP in 7.2 has no query of the network backends: HMP's "info network"
 * names each with its type ("index=0,type=vhost-user,...").
 */
static int qmp_check_netdevs(struct vmm *v)
{
	static const char *const refused[] = {
		"type=vhost-user", "type=vhost-vdpa",
	};
	json_t *ret;
	const char *text;
	size_t i;
	int err = 0;

	if (qmp_exec(v, "human-monitor-command",
		     json_pack("{s:s}", "command-line", "info network"), -1,
		     &ret))
		return -1;
	text = json_string_value(ret);
	for (i = 0; text && i < 2; i++)
		if (strstr(text, refused[i])) {
			lmctl_err("QEMU has a %s network backend: its device state lives outside QEMU's migration stream and it writes guest RAM where no dirty log sees it",
				  refused[i] + 5);
			err = -1;
		}
	json_decref(ret);
	return err;
}

/*
 * x-ignore-shared skips a shared memfd backend in QEMU 7.2 to 8.0 only:
 * from 8.1 QEMU would move that RAM again in its own stream, over the
 * pages lm moved.
 */
static int qmp_check_memfd(struct vmm *v)
{
	json_t *ver, *objs, *prop;
	json_int_t major, minor;
	size_t i;
	int err = 0;

	if (qmp_exec(v, "query-version", NULL, -1, &ver))
		return -1;
	major = json_integer_value(json_object_get(json_object_get(ver, "qemu"), "major"));
	minor = json_integer_value(json_object_get(json_object_get(ver, "qemu"), "minor"));
	json_decref(ver);
	if (major < 8 || (major == 8 && minor < 1))
		return 0;
	if (qmp_exec(v, "qom-list", json_pack("{s:s}", "path", "/objects"), -1,
		     &objs))
		return -1;
	json_array_foreach(objs, i, prop) {
		const char *type = json_string_value(json_object_get(prop, "type"));

		if (type && !strcmp(type, "child<memory-backend-memfd>")) {
			lmctl_err("QEMU %lld.%lld migrates a memfd backend ('%s') itself, even with x-ignore-shared: use memory-backend-file",
				  (long long)major, (long long)minor,
				  json_string_value(json_object_get(prop, "name")));
			err = -1;
		}
	}
	json_decref(objs);
	return err;
}

static int qmp_prepare(struct vmm *v, bool incoming)
{
	char status[64], migration[64];

	if (qmp_query_string(v, "query-status", "status", status,
			     sizeof(status)) ||
	    qmp_query_string(v, "query-migrate", "status", migration,
			     sizeof(migration)))
		return -1;
	if (incoming && strcmp(status, "inmigrate")) {
		lmctl_err("QEMU is not waiting for an incoming VM (start it with -incoming defer -S): it is %s",
			  status);
		return -1;
	}
	if (!incoming && strcmp(status, "running") && strcmp(status, "paused")) {
		lmctl_err("QEMU's VM is %s: only a running or paused VM can move",
			  status);
		return -1;
	}
	if (*migration && strcmp(migration, "completed") &&
	    strcmp(migration, "failed") && strcmp(migration, "cancelled")) {
		lmctl_err("QEMU has a migration of its own in progress (%s)",
			  migration);
		return -1;
	}
	/* Each says all it finds, so one try names every problem. */
	if (qmp_check_memdevs(v) | qmp_check_memfd(v) | qmp_check_devices(v) |
	    qmp_check_netdevs(v))
		return -1;
	return qmp_set_capabilities(v, incoming);
}

static int qmp_throttle(struct vmm *v, unsigned int pct)
{
	(void)v;
	if (!pct)
		return 0;
	lmctl_err("QEMU throttles its vCPUs only in a migration of its own: --auto-converge is for lmvm");
	return -1;
}

/* Hand QEMU the state file, from its start, by the name QMP_STATE_FD_NAME. */
static int qmp_pass_state_fd(struct vmm *v, int state_fd)
{
	if (lseek(state_fd, 0, SEEK_SET)) {
		lmctl_err("cannot rewind the state file: %s", strerror(errno));
		return -1;
	}
	return qmp_exec(v, "getfd", json_pack("{s:s}", "fdname",
					      QMP_STATE_FD_NAME),
			state_fd, NULL);
}

static int qmp_save(struct vmm *v, int state_fd, const char *state_path)
{
	(void)state_path;
	if (qmp_pass_state_fd(v, state_fd) ||
	    qmp_exec(v, "migrate", json_pack("{s:s}", "uri",
					     "fd:" QMP_STATE_FD_NAME), -1, NULL) ||
	    qmp_wait_migration(v, "pre-switchover") ||
	    qmp_exec(v, "migrate-continue", json_pack("{s:s}", "state",
						      "pre-switchover"), -1, NULL))
		return -1;
	return qmp_wait_migration(v, "completed");
}

static int qmp_load(struct vmm *v, int state_fd, const char *state_path)
{
	(void)state_path;
	if (qmp_pass_state_fd(v, state_fd) ||
	    qmp_exec(v, "migrate-incoming", json_pack("{s:s}", "uri",
						      "fd:" QMP_STATE_FD_NAME),
		     -1, NULL))
		return -1;
	return qmp_wait_migration(v, "completed");
}

static int qmp_resume(struct vmm *v)
{
	char status[64], migration[64];

	if (qmp_query_string(v, "query-migrate", "status", migration,
			     sizeof(migration)))
		return -1;
	/* A save that failed half-way leaves QEMU's migration to cancel. */
	if (*migration && strcmp(migration, "completed") &&
	    strcmp(migration, "failed") && strcmp(migration, "cancelled") &&
	    (qmp_exec(v, "migrate_cancel", NULL, -1, NULL) ||
	     qmp_wait_migration(v, "cancelled")))
		return -1;
	if (qmp_query_string(v, "query-status", "status", status,
			     sizeof(status)))
		return -1;
	if (!strcmp(status, "running"))
		return 0;
	return qmp_exec(v, "cont", NULL, -1, NULL);
}

static void qmp_close(struct vmm *v)
{
	(void)v;
}

/* QEMU greets first; then it takes commands once told which capabilities. */
int vmm_qmp_handshake(struct vmm *v)
{
	json_t *greeting, *ver;
	json_error_t jerr;
	json_int_t major;

	if (qmp_read_line(v))
		return -1;
	greeting = json_loads(v->reply, 0, &jerr);
	ver = json_object_get(json_object_get(json_object_get(
		json_object_get(greeting, "QMP"), "version"), "qemu"), "major");
	if (!json_is_integer(ver)) {
		lmctl_err("%s does not greet as QEMU's QMP does", v->path);
		json_decref(greeting);
		return -1;
	}
	major = json_integer_value(ver);
	json_decref(greeting);
	/* pause-before-switchover and x-ignore-shared as lm uses them. */
	if (major < 7) {
		lmctl_err("QEMU %lld is too old: lm needs QEMU 7.2 or later",
			  (long long)major);
		return -1;
	}
	return qmp_exec(v, "qmp_capabilities", NULL, -1, NULL);
}

const struct vmm_ops vmm_qmp_ops = {
	.name = "QEMU",
	.prepare = qmp_prepare,
	.throttle = qmp_throttle,
	.save = qmp_save,
	.load = qmp_load,
	.resume = qmp_resume,
	.checksum = NULL,
	.close = qmp_close,
};

// SPDX-License-Identifier: GPL-2.0
/*
 * The control socket: a unix stream socket taking one-line text commands
 * and answering each with one line, "ok ..." or "error: ...".
 *
 * Commands run one at a time in the main thread, so they never race with
 * each other; the vCPU threads are paused around anything that looks at or
 * changes the whole VM.
 */
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "lmvm.h"

#define MAX_CLIENTS	8
#define LINE_MAX_LEN	1024
#define REPLY_MAX_LEN	4096
#define MAX_ARGS	4

volatile sig_atomic_t lmvm_stop_requested;

struct client {
	int fd;
	size_t len;
	bool overlong;		/* discarding the rest of a too long line */
	char buf[LINE_MAX_LEN];
};

struct command {
	const char *name;
	int min_args, max_args;	/* after the name */
	const char *usage;
	/* returns true to quit after replying */
	bool (*run)(struct lmvm *lm, int argc, char **argv, char *out,
		    size_t len);
};

void status_line(struct lmvm *lm, char *out, size_t len)
{
	struct lmvm_shared *sh = shared_page(lm);
	uint64_t iterations = 0, pages = 0, late = 0;
	const char *state;
	uint32_t i, failed = 0;
	size_t n;

	pthread_mutex_lock(&lm->lock);
	for (i = 0; i < lm->cfg.nr_vcpus; i++)
		failed += lm->vcpus[i].state == VCPU_FAILED;
	if (failed)
		state = "failed";
	else if (lm->cfg.incoming && !lm->loaded)
		state = "incoming";
	else
		state = lm->paused ? "paused" : "running";
	pthread_mutex_unlock(&lm->lock);

	for (i = 0; i < lm->cfg.nr_vcpus; i++) {
		iterations += sh->vcpu[i].iterations;
		pages += sh->vcpu[i].pages_written;
		late += sh->vcpu[i].late_pages;
	}
	n = snprintf(out, len,
		     "ok state=%s workload=%s vcpus=%u mem_mib=%llu rate_mib=%llu tsc_khz=%llu iterations=%llu pages=%llu late_pages=%llu",
		     state, lmvm_workload_names[lm->cfg.workload],
		     lm->cfg.nr_vcpus,
		     (unsigned long long)(lm->cfg.mem_size / MiB),
		     (unsigned long long)lm->cfg.rate_mib,
		     (unsigned long long)sh->tsc_khz,
		     (unsigned long long)iterations,
		     (unsigned long long)pages, (unsigned long long)late);
	for (i = 0; i < lm->cfg.nr_vcpus && n < len; i++)
		n += snprintf(out + n, len - n,
			      " vcpu%u.iterations=%llu vcpu%u.pages=%llu vcpu%u.prefaulted=%llu%s",
			      i, (unsigned long long)sh->vcpu[i].iterations,
			      i, (unsigned long long)sh->vcpu[i].pages_written,
			      i, (unsigned long long)sh->vcpu[i].prefaulted,
			      lm->vcpus[i].state == VCPU_FAILED ?
			      " (failed)" : "");
}

static bool cmd_pause(struct lmvm *lm, int argc, char **argv, char *out,
		      size_t len)
{
	(void)argc;
	(void)argv;
	vm_pause(lm);
	snprintf(out, len, "ok paused");
	return false;
}

static bool cmd_resume(struct lmvm *lm, int argc, char **argv, char *out,
		       size_t len)
{
	(void)argc;
	(void)argv;
	if (lm->cfg.incoming && !lm->loaded) {
		snprintf(out, len, "error: resume: waiting for load-state (--incoming)");
		return false;
	}
	vm_resume(lm);
	snprintf(out, len, "ok running");
	return false;
}

static bool cmd_status(struct lmvm *lm, int argc, char **argv, char *out,
		       size_t len)
{
	(void)argc;
	(void)argv;
	status_line(lm, out, len);
	return false;
}

static bool cmd_throttle(struct lmvm *lm, int argc, char **argv,
			 char *out, size_t len)
{
	unsigned long pct;
	char *end;

	(void)argc;
	errno = 0;
	pct = strtoul(argv[0], &end, 10);
	if (errno || end == argv[0] || *end || pct > 99) {
		snprintf(out, len, "error: throttle: '%.32s' is not a percentage from 0 to 99",
			 argv[0]);
		return false;
	}
	vm_throttle(lm, pct);
	snprintf(out, len, "ok throttle=%lu", pct);
	return false;
}

static bool cmd_save_state(struct lmvm *lm, int argc, char **argv,
			   char *out, size_t len)
{
	bool memory = argc == 2;

	if (memory && strcmp(argv[1], "memory")) {
		snprintf(out, len, "error: save-state: unknown option '%s' (usage: save-state FILE [memory])",
			 argv[1]);
		return false;
	}
	if (!vm_paused(lm)) {
		snprintf(out, len, "error: save-state: the VM is running; pause it first");
		return false;
	}
	state_save(lm, argv[0], memory, out, len);
	return false;
}

static bool cmd_load_state(struct lmvm *lm, int argc, char **argv,
			   char *out, size_t len)
{
	(void)argc;
	if (!vm_paused(lm)) {
		snprintf(out, len, "error: load-state: the VM is running; pause it first");
		return false;
	}
	if (!state_load(lm, argv[0], out, len)) {
		pthread_mutex_lock(&lm->lock);
		lm->loaded = true;
		pthread_mutex_unlock(&lm->lock);
	}
	return false;
}

/* Run fn with the vCPUs parked, and restart them if they were running. */
static int with_vm_paused(struct lmvm *lm,
			  int (*fn)(struct lmvm *lm, char *out, size_t len),
			  char *out, size_t len)
{
	bool was_paused = vm_paused(lm);
	int r;

	vm_pause(lm);
	r = fn(lm, out, len);
	if (!was_paused)
		vm_resume(lm);
	return r;
}

static int checksum_fn(struct lmvm *lm, char *out, size_t len)
{
	mem_checksum(lm, out, len);
	return 0;
}

static bool cmd_checksum(struct lmvm *lm, int argc, char **argv, char *out,
			 size_t len)
{
	(void)argc;
	(void)argv;
	with_vm_paused(lm, checksum_fn, out, len);
	return false;
}

static bool cmd_verify(struct lmvm *lm, int argc, char **argv, char *out,
		       size_t len)
{
	(void)argc;
	(void)argv;
	with_vm_paused(lm, mem_verify, out, len);
	return false;
}

static bool cmd_quit(struct lmvm *lm, int argc, char **argv, char *out,
		     size_t len)
{
	(void)lm;
	(void)argc;
	(void)argv;
	snprintf(out, len, "ok quitting");
	return true;
}

static bool cmd_help(struct lmvm *lm, int argc, char **argv, char *out,
		     size_t len);

static const struct command commands[] = {
	{ "pause", 0, 0, "pause", cmd_pause },
	{ "resume", 0, 0, "resume", cmd_resume },
	{ "status", 0, 0, "status", cmd_status },
	{ "throttle", 1, 1, "throttle PCT", cmd_throttle },
	{ "save-state", 1, 2, "save-state FILE [memory]", cmd_save_state },
	{ "load-state", 1, 1, "load-state FILE", cmd_load_state },
	{ "checksum", 0, 0, "checksum", cmd_checksum },
	{ "verify", 0, 0, "verify", cmd_verify },
	{ "quit", 0, 0, "quit", cmd_quit },
	{ "help", 0, 0, "help", cmd_help },
};

#define NR_COMMANDS	(sizeof(commands) / sizeof(commands[0]))

static bool cmd_help(struct lmvm *lm, int argc, char **argv, char *out,
		     size_t len)
{
	size_t i, n = snprintf(out, len, "ok commands:");

	(void)lm;
	(void)argc;
	(void)argv;
	for (i = 0; i < NR_COMMANDS && n < len; i++)
		n += snprintf(out + n, len - n, " %s%s", commands[i].usage,
			      i + 1 < NR_COMMANDS ? ";" : "");
	return false;
}

/* Run one line; returns true when lmvm should quit. */
static bool run_line(struct lmvm *lm, char *line, char *out, size_t len)
{
	char *argv[MAX_ARGS + 1], *save = NULL, *tok;
	int argc = 0;
	size_t i;

	for (tok = strtok_r(line, " \t\r", &save); tok;
	     tok = strtok_r(NULL, " \t\r", &save)) {
		if (argc == MAX_ARGS + 1) {
			snprintf(out, len, "error: too many arguments");
			return false;
		}
		argv[argc++] = tok;
	}
	if (!argc) {
		snprintf(out, len, "error: empty command (try 'help')");
		return false;
	}
	for (i = 0; i < NR_COMMANDS; i++) {
		const struct command *c = &commands[i];

		if (strcmp(argv[0], c->name))
			continue;
		if (argc - 1 < c->min_args || argc - 1 > c->max_args) {
			snprintf(out, len, "error: usage: %s", c->usage);
			return false;
		}
		return c->run(lm, argc - 1, argv + 1, out, len);
	}
	snprintf(out, len, "error: unknown command '%.64s' (try 'help')",
		 argv[0]);
	return false;
}

int control_listen(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "lmvm: control socket path too long: %s\n",
			path);
		return -1;
	}
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("lmvm: socket");
		return -1;
	}
	unlink(path);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) ||
	    listen(fd, MAX_CLIENTS)) {
		fprintf(stderr, "lmvm: control socket %s: %s\n", path,
			strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void reply(int fd, const char *msg)
{
	size_t n = strlen(msg);
	char *line = malloc(n + 1);

	if (!line)
		return;
	memcpy(line, msg, n);
	line[n] = '\n';
	/* a client that went away just misses its answer */
	if (send(fd, line, n + 1, MSG_NOSIGNAL) < 0)
		(void)0;
	free(line);
}

/* Read what the client sent; returns false when it is gone or lmvm quits. */
static bool client_input(struct lmvm *lm, struct client *c, bool *quit)
{
	char out[REPLY_MAX_LEN];
	ssize_t r;
	char *nl;

	r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
	if (r <= 0)
		return false;
	c->len += r;
	while ((nl = memchr(c->buf, '\n', c->len))) {
		size_t used = nl - c->buf + 1;

		*nl = '\0';
		if (c->overlong) {
			c->overlong = false;
			reply(c->fd, "error: command line too long");
		} else {
			*quit = run_line(lm, c->buf, out, sizeof(out));
			reply(c->fd, out);
		}
		memmove(c->buf, c->buf + used, c->len - used);
		c->len -= used;
		if (*quit)
			return false;
	}
	if (c->len == sizeof(c->buf)) {
		c->overlong = true;
		c->len = 0;
	}
	return true;
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Serve the control socket (listen_fd may be -1: no socket) until quit, a
 * signal, or the end of --duration.
 */
void control_loop(struct lmvm *lm, int listen_fd)
{
	struct client *clients[MAX_CLIENTS] = { 0 };
	double end = lm->cfg.duration ? now_seconds() + lm->cfg.duration : 0;
	bool quit = false;
	int i;

	while (!quit && !lmvm_stop_requested &&
	       (!end || now_seconds() < end)) {
		struct pollfd pfd[MAX_CLIENTS + 1];
		int n = 0;

		if (listen_fd >= 0)
			pfd[n++] = (struct pollfd){ listen_fd, POLLIN, 0 };
		for (i = 0; i < MAX_CLIENTS; i++)
			if (clients[i])
				pfd[n++] = (struct pollfd){ clients[i]->fd,
							    POLLIN, 0 };
		if (poll(pfd, n, 100) <= 0)
			continue;

		if (listen_fd >= 0 && pfd[0].revents) {
			int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);

			for (i = 0; fd >= 0 && i < MAX_CLIENTS; i++)
				if (!clients[i])
					break;
			if (fd >= 0 && i == MAX_CLIENTS) {
				reply(fd, "error: too many control connections");
				close(fd);
			} else if (fd >= 0) {
				clients[i] = calloc(1, sizeof(*clients[i]));
				if (clients[i])
					clients[i]->fd = fd;
				else
					close(fd);
			}
		}
		for (i = 0; i < MAX_CLIENTS && !quit; i++) {
			struct client *c = clients[i];
			int j;

			if (!c)
				continue;
			for (j = 0; j < n; j++)
				if (pfd[j].fd == c->fd && pfd[j].revents)
					break;
			if (j == n)
				continue;
			if (!client_input(lm, c, &quit)) {
				close(c->fd);
				free(c);
				clients[i] = NULL;
			}
		}
	}
	for (i = 0; i < MAX_CLIENTS; i++) {
		if (clients[i]) {
			close(clients[i]->fd);
			free(clients[i]);
		}
	}
}

/* lmvm --command: one command to a running lmvm, its answer to stdout. */
int control_send(const char *path, const char *command)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char buf[REPLY_MAX_LEN];
	size_t n = 0;
	ssize_t r;
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path) || strchr(command, '\n')) {
		fprintf(stderr, "lmvm: bad control path or command\n");
		return 2;
	}
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		fprintf(stderr, "lmvm: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	if (send(fd, command, strlen(command), MSG_NOSIGNAL) < 0 ||
	    send(fd, "\n", 1, MSG_NOSIGNAL) < 0) {
		fprintf(stderr, "lmvm: %s: %s\n", path, strerror(errno));
		close(fd);
		return 1;
	}
	while (n < sizeof(buf) - 1 &&
	       (r = recv(fd, buf + n, sizeof(buf) - 1 - n, 0)) > 0) {
		n += r;
		if (memchr(buf, '\n', n))
			break;
	}
	close(fd);
	buf[n] = '\0';
	fputs(buf, stdout);
	if (!n || buf[n - 1] != '\n')
		fputc('\n', stdout);
	return strncmp(buf, "ok", 2) ? 1 : 0;
}

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Running shell command lines and reading their output files, for the
 * selftests that drive lmctl, QEMU and ip(8) as an operator would.
 *
 * Include after kselftest_harness.h.
 */
#ifndef SH_UTIL_H
#define SH_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* Run a shell command line; its exit status, or -1. */
static inline int __attribute__((format(printf, 1, 2))) sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int status;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	status = system(cmd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Start a shell command line in the background; its pid, or -1. */
static inline pid_t __attribute__((format(printf, 1, 2))) spawn(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	pid_t pid;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	pid = fork();
	if (!pid) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Print a file as TAP diagnostics, each line after "# @what: ". */
static inline void show(const char *what, const char *path)
{
	char line[512];
	FILE *f = fopen(path, "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		printf("# %s: %s", what, line);
	fclose(f);
	/* A failed assertion ends the test with _exit(): no stdio flush. */
	fflush(stdout);
}

/* Whether a line of the file at @path contains @text. */
static inline bool file_has(const char *path, const char *text)
{
	char line[1024];
	bool found = false;
	FILE *f = fopen(path, "r");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		found |= !!strstr(line, text);
	fclose(f);
	return found;
}

#endif /* SH_UTIL_H */

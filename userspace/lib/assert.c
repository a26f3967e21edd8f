// SPDX-License-Identifier: GPL-2.0
/*
 * Failing a test: print where and why, then exit. Tests run under the
 * kselftest harness in a child process each, so exiting fails only the
 * current test; lmvm uses the checking calls only where it cannot go on.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmkvm.h"

void test_assert_fail(const char *file, unsigned int line, const char *expr,
		      int err, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "==== Test assertion failure ====\n  %s:%u: ",
		file, line);
	if (expr)
		fprintf(stderr, "%s: ", expr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (err && expr)
		fprintf(stderr, " (errno %d: %s)", err, strerror(err));
	fputc('\n', stderr);
	exit(1);
}

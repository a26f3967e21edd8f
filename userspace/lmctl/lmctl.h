/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lmctl: the operator's tool for lm.
 *
 * Each subcommand is one row of the table in lmctl.c and one handler,
 * usually in a file of its own. A handler gets the subcommand's arguments
 * with argv[0] being its name, the global options (-j, -h) already taken
 * out, and returns the process exit status.
 */
#ifndef LMCTL_H
#define LMCTL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "json.h"
#include "lmctl_err.h"
#include "lm_nl.h"
#include "version.h"	/* kmod/version.h */

/* lmctl and the module are released together, under one version. */
#define LMCTL_VERSION LM_MODULE_VERSION

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Exit status; documented in lmctl(8). */
enum {
	LMCTL_EXIT_OK		= 0,
	LMCTL_EXIT_FAILURE	= 1,	/* the operation failed */
	LMCTL_EXIT_USAGE	= 2,	/* bad command line */
	/*
	 * migrate, receive: lost at the commit point, this host cannot know
	 * whether the other runs the VM. The source keeps it paused, the
	 * destination runs it: it runs on one host at most, and the
	 * operator decides (Documentation/protocol.rst).
	 */
	LMCTL_EXIT_UNCERTAIN	= 3,
};

struct lmctl {
	bool json;
	struct json out;
	/* Opened on first use by lmctl_nl(). */
	struct lm_nl *nl;
	const struct lmctl_cmd *cmd;
	/*
	 * The socket of the VMM a migration drives, or -1: xfer_wait()
	 * gives up when the VMM closes it (it exited), so that a transfer
	 * whose VMM is gone does not wait for a peer that never answers.
	 */
	int vmm_fd;
};

struct lmctl_cmd {
	const char *name;
	int (*run)(struct lmctl *ctx, int argc, char **argv);
	/* Arguments, as in "lmctl [-j] NAME USAGE". */
	const char *usage;
	/* One line for "lmctl --help". */
	const char *summary;
	/* Description of the options for "lmctl NAME --help". */
	const char *help;
};

/* The lm netlink handle; NULL after telling the user why there is none. */
struct lm_nl *lmctl_nl(struct lmctl *ctx);


/*
 * Report a failed operation: "lmctl: <fmt>: <why>" where @why defaults to
 * strerror(-err), then the kernel's extack message if it sent one.
 * Returns LMCTL_EXIT_FAILURE.
 */
int lmctl_fail(struct lmctl *ctx, int err, const char *why,
	       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Report a command line error with the subcommand's usage; exit status. */
int lmctl_usage_error(struct lmctl *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Parse a decimal number that must fit @max; false if it is not one. */
bool lmctl_parse_u32(const char *s, uint32_t max, uint32_t *value);

int lmctl_cmd_info(struct lmctl *ctx, int argc, char **argv);
int lmctl_cmd_attach(struct lmctl *ctx, int argc, char **argv);
int lmctl_cmd_detach(struct lmctl *ctx, int argc, char **argv);
int lmctl_cmd_list(struct lmctl *ctx, int argc, char **argv);
int lmctl_cmd_track(struct lmctl *ctx, int argc, char **argv);
int lmctl_cmd_migrate(struct lmctl *ctx, int argc, char **argv);
int lmctl_cmd_receive(struct lmctl *ctx, int argc, char **argv);
int lmctl_cmd_status(struct lmctl *ctx, int argc, char **argv);

/*
 * Duplicate the KVM VM descriptor of VMM @pid (its descriptor @vmm_fd, or
 * its only VM when @vmm_fd < 0) into lmctl; -1 after saying why not.
 */
int lmctl_grab_vm_fd(pid_t pid, int vmm_fd);

#endif /* LMCTL_H */

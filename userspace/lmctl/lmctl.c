// SPDX-License-Identifier: GPL-2.0
/*
 * lmctl: command table, option handling common to every subcommand, and
 * error reporting.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmctl.h"

static const struct lmctl_cmd lmctl_cmds[] = {
	{
		.name = "info",
		.run = lmctl_cmd_info,
		.usage = "",
		.summary = "show the loaded module's version and features",
		.help = "Print lmctl's and the module's versions, the migration wire\n"
			"protocol version, the feature bits and the kernel release the\n"
			"module runs on. Warns on stderr when the two versions differ.\n",
	},
	{
		.name = "attach",
		.run = lmctl_cmd_attach,
		.usage = "--pid PID [--vm-fd N] | --fd N [--pid PID]",
		.summary = "attach a running KVM virtual machine to lm",
		.help = "  --pid PID    the VMM process; its KVM VM file descriptor (the one\n"
			"               shown as anon_inode:kvm-vm in /proc/PID/fd) is found\n"
			"               and duplicated with pidfd_getfd(2)\n"
			"  --vm-fd N    with --pid, use the VMM's descriptor N (when the VMM\n"
			"               has several VMs)\n"
			"  --fd N       use lmctl's own descriptor N, inherited from the VMM;\n"
			"               --pid then names the VMM owning the VM\n"
			"Prints the VM id that names the VM in later commands.\n",
	},
	{
		.name = "detach",
		.run = lmctl_cmd_detach,
		.usage = "--vm ID",
		.summary = "detach a VM from lm",
		.help = "  --vm ID      the VM id that attach printed\n"
			"lm drops its reference on the VM; the VMM keeps running it.\n",
	},
	{
		.name = "list",
		.run = lmctl_cmd_list,
		.usage = "[--vm ID]",
		.summary = "list attached VMs with their vCPUs and memory slots",
		.help = "  --vm ID      list only this VM\n"
			"Shows, per VM, its id, the VMM's pid and whether it still runs,\n"
			"the vCPU count and every memory slot: id, address space, guest\n"
			"physical base, size, KVM flags and host virtual address.\n",
	},
	{
		.name = "track",
		.run = lmctl_cmd_track,
		.usage = "start|sync|get|stop --vm ID [--count N] [--interval MS] [--slots]",
		.summary = "dirty tracking of a VM's memory: rounds and their pages",
		.help = "  start        turn dirty logging on for every memory slot\n"
			"  sync         close a round: print its dirty page count, per\n"
			"               slot with --slots, and the harvest time\n"
			"  get          list the last round's dirty pages (guest physical\n"
			"               address and page count of each run)\n"
			"  stop         end tracking; logging is turned off again\n"
			"  --vm ID      the VM id\n"
			"  --count N    with sync: N rounds, one per --interval MS\n"
			"               (default 1000)\n"
			"  --slots      with sync: one line per memory slot\n",
	},
	{
		.name = "receive",
		.run = lmctl_cmd_receive,
		.usage = "--control SOCK|--qmp SOCK --listen ADDR:PORT --psk-file FILE|--insecure [OPTIONS]",
		.summary = "receive a migrating VM into a VMM waiting for one",
		.help = "  --control SOCK     the control socket of lmvm --incoming\n"
			"  --qmp SOCK         or the QMP socket of QEMU -incoming defer -S\n"
			"  --pid PID          the VMM's pid, checked against the socket's\n"
			"  --listen ADDR:PORT where to wait for the source ([ADDR6]:PORT\n"
			"                     for IPv6; port 0 picks one, printed on stderr)\n"
			"  --psk-file FILE    the key both hosts share, one line IDENTITY:HEXKEY\n"
			"                     (mode 600): the source must prove it holds it,\n"
			"                     and the stream is encrypted (TLS 1.3, kTLS)\n"
			"  --insecure         plain TCP instead: no authentication, no\n"
			"                     encryption\n"
			"  --allow-from NET   accept sources from ADDR[/PREFIX] only (up to 8)\n"
			"  --recv-method M    pin (default) or user: how pages land in memory\n"
			"  --checksum         print the VMM's memory checksum before resuming\n"
			"                     (lmvm)\n"
			"  --handover CMD     run CMD (sh -c) before resuming; its failure\n"
			"                     gives the VM back to the source\n"
			"  --paused           take the VM over but leave it paused, for the\n"
			"                     operator to resume (QEMU: cont)\n"
			"Accepts one source; refuses (and goes on waiting) a connection from\n"
			"another address or one that fails the handshake. When memory and\n"
			"state are in, has the VMM load\n"
			"the state and resume, then acknowledges the source.\n",
	},
	{
		.name = "migrate",
		.run = lmctl_cmd_migrate,
		.usage = "--control SOCK|--qmp SOCK --to ADDR:PORT --psk-file FILE|--insecure [--mode live|quick] [OPTIONS]",
		.summary = "move a running VM to a host where lmctl receive waits",
		.help = "  --control SOCK     the source lmvm's control socket\n"
			"  --qmp SOCK         or the source QEMU's QMP socket\n"
			"  --pid PID          the VMM's pid, checked against the socket's\n"
			"  --to ADDR:PORT     the destination's lmctl receive\n"
			"  --psk-file FILE    the key both hosts share (see receive); the\n"
			"                     destination must prove it holds it\n"
			"  --insecure         plain TCP: no authentication, no encryption\n"
			"  --mode live|quick  live: copy while the VM runs, then rounds of\n"
			"                     the pages it dirtied, then pause for the rest\n"
			"                     (default); quick: pause, then copy everything\n"
			"  --max-downtime T   live: pause once what is left would take less\n"
			"                     than T at the measured bandwidth (300ms)\n"
			"  --max-rounds N     live: pause after N dirty rounds anyway (30)\n"
			"  --bandwidth RATE   live: send at most RATE bytes/s while the VM\n"
			"                     runs (K, M, G suffixes: 100M, 1G)\n"
			"  --auto-converge    live: throttle the guest's vCPUs through SOCK\n"
			"                     after each round whose dirty set is over half\n"
			"                     the previous one (20%, then +10%, up to 99%)\n"
			"  --handover CMD     run CMD (sh -c) once the VM is paused, before\n"
			"                     its state is sent; its failure resumes the VM\n"
			"  --send-method M    sendpage (default), copy or zerocopy (not with\n"
			"                     --psk-file: kTLS refuses MSG_ZEROCOPY)\n"
			"  --compress zstd[:LEVEL]  compress page data with zstd (LEVEL 1 to\n"
			"                     9, default 1) for a slow link; a batch that\n"
			"                     does not shrink goes as it is. The pre-copy\n"
			"                     --bandwidth then counts compressed bytes\n"
			"  --no-progress      no progress line on a terminal\n"
			"The destination checks the memory layout before the VM is paused.\n"
			"Prints the downtime (pause to the destination's acknowledgement).\n"
			"On failure the VM is resumed here, unless the destination may\n"
			"already run it.\n",
	},
	{
		.name = "status",
		.run = lmctl_cmd_status,
		.usage = "--vm ID",
		.summary = "show the phase and progress of a VM's migration",
		.help = "  --vm ID      the VM id\n"
			"Shows the role, phase, round, pages and bytes moved, elapsed time\n"
			"and, after a failure, its phase, reason and message.\n",
	},
};

#define LMCTL_NR_CMDS ARRAY_SIZE(lmctl_cmds)

void lmctl_err(const char *fmt, ...)
{
	va_list ap;

	fputs("lmctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int lmctl_fail(struct lmctl *ctx, int err, const char *why,
	       const char *fmt, ...)
{
	va_list ap;

	fputs("lmctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (!why && (err == -EPERM || err == -EACCES))
		why = "permission denied (lm requires CAP_NET_ADMIN)";
	fprintf(stderr, ": %s\n", why ? why : strerror(-err));

	if (ctx->nl && *lm_nl_extack(ctx->nl))
		fprintf(stderr, "lmctl: kernel: %s\n", lm_nl_extack(ctx->nl));
	else if (ctx->nl && lm_nl_extack_missing_type(ctx->nl) >= 0)
		fprintf(stderr, "lmctl: kernel: missing attribute %d\n",
			lm_nl_extack_missing_type(ctx->nl));
	return LMCTL_EXIT_FAILURE;
}

static void lmctl_print_cmd_usage(FILE *out, const struct lmctl_cmd *cmd)
{
	fprintf(out, "usage: lmctl [-j] %s%s%s\n", cmd->name,
		*cmd->usage ? " " : "", cmd->usage);
}

int lmctl_usage_error(struct lmctl *ctx, const char *fmt, ...)
{
	va_list ap;

	fputs("lmctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (ctx->cmd)
		lmctl_print_cmd_usage(stderr, ctx->cmd);
	else
		fputs("Try 'lmctl --help'.\n", stderr);
	return LMCTL_EXIT_USAGE;
}

bool lmctl_parse_u32(const char *s, uint32_t max, uint32_t *value)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return false;
	*value = v;
	return true;
}

struct lm_nl *lmctl_nl(struct lmctl *ctx)
{
	int ret;

	if (ctx->nl)
		return ctx->nl;
	ret = lm_nl_open(&ctx->nl);
	if (ret == -ENOENT) {
		lmctl_err("the lm kernel module is not loaded (no generic netlink family \"lm\")");
		return NULL;
	}
	if (ret) {
		lmctl_err("cannot open a generic netlink socket: %s",
			  strerror(-ret));
		return NULL;
	}
	/*
	 * The family's version changes only with an incompatible change of
	 * its commands or attributes: nothing this lmctl sends would be
	 * understood as meant.
	 */
	if (lm_nl_family_version(ctx->nl) != LM_GENL_VERSION) {
		lmctl_err("the loaded lm module has netlink ABI version %u, lmctl %s has version %u: install lmctl and lm of one version",
			  lm_nl_family_version(ctx->nl), LMCTL_VERSION,
			  LM_GENL_VERSION);
		lm_nl_close(ctx->nl);
		ctx->nl = NULL;
		return NULL;
	}
	return ctx->nl;
}

static void lmctl_help(FILE *out)
{
	size_t i;

	fputs("usage: lmctl [-j|--json] COMMAND [ARGS]\n"
	      "       lmctl COMMAND --help\n"
	      "\n"
	      "Control lm, live migration of KVM virtual machines.\n"
	      "\n"
	      "Commands:\n", out);
	for (i = 0; i < LMCTL_NR_CMDS; i++)
		fprintf(out, "  %-10s %s\n", lmctl_cmds[i].name,
			lmctl_cmds[i].summary);
	fputs("\n"
	      "Options:\n"
	      "  -j, --json     print results as JSON\n"
	      "  -h, --help     show this help, or a command's\n"
	      "  -V, --version  show lmctl's version\n"
	      "\n"
	      "See lmctl(8).\n", out);
}

static void lmctl_cmd_help(const struct lmctl_cmd *cmd)
{
	lmctl_print_cmd_usage(stdout, cmd);
	printf("\n%s.\n\n%s", cmd->summary, cmd->help);
}

static const struct lmctl_cmd *lmctl_find_cmd(const char *name)
{
	size_t i;

	for (i = 0; i < LMCTL_NR_CMDS; i++)
		if (!strcmp(lmctl_cmds[i].name, name))
			return &lmctl_cmds[i];
	return NULL;
}

static bool lmctl_is_opt(const char *arg, const char *shrt, const char *lng)
{
	return !strcmp(arg, shrt) || !strcmp(arg, lng);
}

int main(int argc, char **argv)
{
	struct lmctl ctx = { .vmm_fd = -1 };
	char **cmd_argv;
	int cmd_argc = 0;
	int i, ret;

	jw_init(&ctx.out, stdout);

	/* Global options come before the command... */
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (lmctl_is_opt(argv[i], "-j", "--json")) {
			ctx.json = true;
		} else if (lmctl_is_opt(argv[i], "-h", "--help")) {
			lmctl_help(stdout);
			return LMCTL_EXIT_OK;
		} else if (lmctl_is_opt(argv[i], "-V", "--version")) {
			printf("lmctl %s\n", LMCTL_VERSION);
			return LMCTL_EXIT_OK;
		} else {
			return lmctl_usage_error(&ctx, "unknown option '%s'",
						 argv[i]);
		}
	}
	if (i == argc) {
		lmctl_help(stderr);
		return LMCTL_EXIT_USAGE;
	}
	ctx.cmd = lmctl_find_cmd(argv[i]);
	if (!ctx.cmd)
		return lmctl_usage_error(&ctx, "unknown command '%s'", argv[i]);

	/* ...and are accepted after it too, up to a "--". */
	cmd_argv = calloc(argc - i + 1, sizeof(*cmd_argv));
	if (!cmd_argv) {
		lmctl_err("out of memory");
		return LMCTL_EXIT_FAILURE;
	}
	cmd_argv[cmd_argc++] = argv[i];
	for (i++; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			while (i < argc)
				cmd_argv[cmd_argc++] = argv[i++];
			break;
		}
		if (lmctl_is_opt(argv[i], "-j", "--json")) {
			ctx.json = true;
		} else if (lmctl_is_opt(argv[i], "-h", "--help")) {
			lmctl_cmd_help(ctx.cmd);
			free(cmd_argv);
			return LMCTL_EXIT_OK;
		} else {
			cmd_argv[cmd_argc++] = argv[i];
		}
	}

	ret = ctx.cmd->run(&ctx, cmd_argc, cmd_argv);

	lm_nl_close(ctx.nl);
	free(cmd_argv);
	if (fflush(stdout) && ret == LMCTL_EXIT_OK) {
		lmctl_err("writing output: %s", strerror(errno));
		ret = LMCTL_EXIT_FAILURE;
	}
	return ret;
}

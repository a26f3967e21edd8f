// SPDX-License-Identifier: GPL-2.0
/*
 * lmctl attach: hand a VMM's KVM VM to lm.
 *
 * ATTACH takes a VM file descriptor in the caller's own file table, so for
 * a VM run by another process lmctl first copies the VMM's descriptor into
 * its own with pidfd_getfd(2) (which needs ptrace access to the VMM). The
 * descriptor is found by its /proc/PID/fd link, "anon_inode:kvm-vm".
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/kcmp.h>

#include "lmctl.h"

#define KVM_VM_LINK "anon_inode:kvm-vm"
#define MAX_VM_FDS 16

static int sys_pidfd_open(pid_t pid, unsigned int flags)
{
	return syscall(SYS_pidfd_open, pid, flags);
}

static int sys_pidfd_getfd(int pidfd, int fd, unsigned int flags)
{
	return syscall(SYS_pidfd_getfd, pidfd, fd, flags);
}

static int sys_kcmp(pid_t pid1, pid_t pid2, int type, unsigned long idx1,
		    unsigned long idx2)
{
	return syscall(SYS_kcmp, pid1, pid2, type, idx1, idx2);
}

/*
 * Collect the descriptors of process @pid that are KVM VMs into @fds.
 * Returns how many there are (at most @max are stored), or -errno.
 */
static int find_vm_fds(pid_t pid, int *fds, int max)
{
	char path[64], link[sizeof(KVM_VM_LINK) + 1];
	struct dirent *de;
	int nr = 0;
	ssize_t len;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		len = readlinkat(dirfd(dir), de->d_name, link, sizeof(link));
		if (len != (ssize_t)strlen(KVM_VM_LINK) ||
		    memcmp(link, KVM_VM_LINK, len))
			continue;
		if (nr < max)
			fds[nr] = atoi(de->d_name);
		nr++;
	}
	closedir(dir);
	return nr;
}

/* Whether descriptors @a and @b of this process are the same open file. */
static bool same_file(int a, int b)
{
	pid_t self = getpid();

	return sys_kcmp(self, self, KCMP_FILE, a, b) == 0;
}

/*
 * Copy the VM descriptor of VMM @pid (its descriptor @vmm_fd, or the only
 * VM it has when @vmm_fd < 0) into our file table. Returns the new
 * descriptor, or -1 after saying why.
 */
int lmctl_grab_vm_fd(pid_t pid, int vmm_fd)
{
	int fds[MAX_VM_FDS], mine[MAX_VM_FDS];
	int nr, nr_mine = 0, pidfd, fd, i, j;

	pidfd = sys_pidfd_open(pid, 0);
	if (pidfd < 0) {
		if (errno == ESRCH)
			lmctl_err("no process with pid %d", (int)pid);
		else
			lmctl_err("pidfd_open(%d): %s", (int)pid,
				  strerror(errno));
		return -1;
	}

	if (vmm_fd >= 0) {
		fds[0] = vmm_fd;
		nr = 1;
	} else {
		nr = find_vm_fds(pid, fds, MAX_VM_FDS);
		if (nr == -ENOENT) {
			lmctl_err("no process with pid %d", (int)pid);
			goto err_close_pidfd;
		}
		if (nr < 0) {
			lmctl_err("cannot read /proc/%d/fd: %s%s", (int)pid,
				  strerror(-nr), nr == -EACCES ?
				  " (lmctl must run as root or as the VMM's user)" : "");
			goto err_close_pidfd;
		}
		if (nr == 0) {
			lmctl_err("pid %d has no KVM VM (no %s file descriptor)",
				  (int)pid, KVM_VM_LINK);
			goto err_close_pidfd;
		}
		if (nr > MAX_VM_FDS)
			nr = MAX_VM_FDS;
	}

	for (i = 0; i < nr; i++) {
		fd = sys_pidfd_getfd(pidfd, fds[i], 0);
		if (fd < 0) {
			if (errno == EPERM)
				lmctl_err("permission denied taking fd %d of pid %d (pidfd_getfd needs ptrace access to the VMM)",
					  fds[i], (int)pid);
			else if (errno == EBADF)
				lmctl_err("pid %d has no fd %d", (int)pid,
					  fds[i]);
			else if (errno == ESRCH)
				lmctl_err("pid %d exited", (int)pid);
			else
				lmctl_err("pidfd_getfd(pid %d, fd %d): %s",
					  (int)pid, fds[i], strerror(errno));
			goto err_close_mine;
		}
		/* Several descriptors may share one VM file (dup()). */
		for (j = 0; j < nr_mine; j++)
			if (same_file(mine[j], fd))
				break;
		if (j < nr_mine) {
			close(fd);
			continue;
		}
		fds[nr_mine] = fds[i];
		mine[nr_mine++] = fd;
	}

	if (nr_mine > 1) {
		fprintf(stderr, "lmctl: pid %d has %d KVM VMs, on fds", (int)pid,
			nr_mine);
		for (j = 0; j < nr_mine; j++)
			fprintf(stderr, " %d", fds[j]);
		fprintf(stderr, "; choose one with --vm-fd N\n");
		goto err_close_mine;
	}
	close(pidfd);
	return mine[0];

err_close_mine:
	for (j = 0; j < nr_mine; j++)
		close(mine[j]);
err_close_pidfd:
	close(pidfd);
	return -1;
}

static const char *attach_error(int err)
{
	switch (err) {
	case -EBADF:
		return "not an open file descriptor";
	case -EEXIST:
		return "this VM is already attached";
	case -ESRCH:
		return "no such VMM process";
	default:
		return NULL;
	}
}

int lmctl_cmd_attach(struct lmctl *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "fd", required_argument, NULL, 'f' },
		{ "vm-fd", required_argument, NULL, 'F' },
		{ }
	};
	uint32_t pid = 0, fd = 0, vmm_fd = 0;
	bool have_pid = false, have_fd = false, have_vmm_fd = false;
	struct lm_nl *nl;
	int vm_fd, c, ret;
	uint32_t id;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":p:f:F:", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (!lmctl_parse_u32(optarg, INT_MAX, &pid) || !pid)
				return lmctl_usage_error(ctx, "invalid pid '%s'",
							 optarg);
			have_pid = true;
			break;
		case 'f':
			if (!lmctl_parse_u32(optarg, INT_MAX, &fd))
				return lmctl_usage_error(ctx, "invalid fd '%s'",
							 optarg);
			have_fd = true;
			break;
		case 'F':
			if (!lmctl_parse_u32(optarg, INT_MAX, &vmm_fd))
				return lmctl_usage_error(ctx, "invalid fd '%s'",
							 optarg);
			have_vmm_fd = true;
			break;
		case ':':
			return lmctl_usage_error(ctx, "option '%s' needs a value",
						 argv[optind - 1]);
		default:
			return lmctl_usage_error(ctx, "unknown option '%s'",
						 argv[optind - 1]);
		}
	}
	if (optind < argc)
		return lmctl_usage_error(ctx, "unexpected argument '%s'",
					 argv[optind]);
	if (!have_pid && !have_fd)
		return lmctl_usage_error(ctx, "which VM? give --pid PID or --fd N");
	if (have_fd && have_vmm_fd)
		return lmctl_usage_error(ctx, "--fd and --vm-fd exclude each other");
	if (have_vmm_fd && !have_pid)
		return lmctl_usage_error(ctx, "--vm-fd needs --pid");

	/* Open netlink first: no point in taking fds if lm is not there. */
	nl = lmctl_nl(ctx);
	if (!nl)
		return LMCTL_EXIT_FAILURE;

	if (have_fd) {
		vm_fd = fd;
	} else {
		vm_fd = lmctl_grab_vm_fd(pid, have_vmm_fd ? (int)vmm_fd : -1);
		if (vm_fd < 0)
			return LMCTL_EXIT_FAILURE;
	}

	ret = lm_nl_attach(nl, vm_fd, pid, &id);
	if (!have_fd)
		close(vm_fd);
	if (ret) {
		if (have_fd)
			return lmctl_fail(ctx, ret, attach_error(ret),
					  "attach fd %d", vm_fd);
		return lmctl_fail(ctx, ret, attach_error(ret),
				  "attach the VM of pid %u", pid);
	}

	if (ctx->json) {
		jw_object_begin(&ctx->out, NULL);
		jw_u64(&ctx->out, "id", id);
		if (have_pid)
			jw_u64(&ctx->out, "pid", pid);
		jw_object_end(&ctx->out);
	} else {
		printf("attached vm %u\n", id);
	}
	return LMCTL_EXIT_OK;
}

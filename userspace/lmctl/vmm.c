// SPDX-License-Identifier: GPL-2.0
/*
 * What every kind of VMM shares: connecting to its Unix socket and telling
 * from the socket's peer which process it is.
 */
/* struct ucred, for SO_PEERCRED */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lmctl.h"
#include "vmm.h"

int vmm_connect(const char *path, const char *what)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		lmctl_err("%s path too long: %s", what, path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		lmctl_err("cannot connect to %s %s: %s", what, path,
			  strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

pid_t vmm_peer_pid(int fd, const char *path)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) ||
	    cred.pid <= 0) {
		lmctl_err("cannot tell which process serves %s: %s", path,
			  strerror(errno));
		return -1;
	}
	return cred.pid;
}

int vmm_open(struct vmm *v, enum vmm_kind kind, const char *path, pid_t pid)
{
	const char *what = kind == VMM_QEMU ? "QEMU's QMP socket" :
					      "the VMM's control socket";
	pid_t peer;

	memset(v, 0, sizeof(*v));
	v->fd = -1;
	v->kind = kind;
	v->ops = kind == VMM_QEMU ? &vmm_qmp_ops : &vmm_lmvm_ops;
	snprintf(v->path, sizeof(v->path), "%s", path);
	v->fd = vmm_connect(path, what);
	if (v->fd < 0)
		return -1;
	peer = vmm_peer_pid(v->fd, path);
	if (peer < 0)
		goto err_close;
	if (pid && pid != peer) {
		lmctl_err("%s is served by pid %d, not by pid %d", path,
			  (int)peer, (int)pid);
		goto err_close;
	}
	v->pid = peer;
	if (kind == VMM_QEMU && vmm_qmp_handshake(v))
		goto err_close;
	return 0;

err_close:
	close(v->fd);
	v->fd = -1;
	return -1;
}

void vmm_close(struct vmm *v)
{
	if (v->ops && v->fd >= 0)
		v->ops->close(v);
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
}

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The VMM that runs the VM lmctl moves, behind one small interface so that
 * the migration sequence (migrate.c, receive.c, guardian.c) is written once.
 * One file per kind of VMM:
 *
 *   vmm_lmvm.c  lmvm, the reference VMM: its control socket (--control)
 *   vmm_qmp.c   QEMU: its QMP socket (--qmp)
 *
 * Either socket is a Unix socket whose peer is the VMM process itself, so
 * its credentials say which process's KVM VM to attach.
 */
#ifndef LMCTL_VMM_H
#define LMCTL_VMM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum vmm_kind {
	VMM_LMVM,
	VMM_QEMU,
};

struct vmm;

struct vmm_ops {
	const char *name;
	/*
	 * Make sure the VMM can be the source (@incoming false: its VM exists
	 * and can be moved) or the destination (@incoming true: it waits for
	 * a VM and its vCPUs have never run), and set it up for it (QEMU:
	 * its migration capabilities). 0, or -1 said why.
	 */
	int (*prepare)(struct vmm *v, bool incoming);
	/* Make its vCPUs sleep @pct percent of the time (0: full speed). */
	int (*throttle)(struct vmm *v, unsigned int pct);
	/*
	 * Source: stop the guest (the downtime starts) and write its CPU and
	 * device state to the file @state_fd, at @state_path.
	 */
	int (*save)(struct vmm *v, int state_fd, const char *state_path);
	/* Destination: load the state that @state_fd holds, from its start. */
	int (*load)(struct vmm *v, int state_fd, const char *state_path);
	/* Run the guest: the source after a failure, the destination at the end. */
	int (*resume)(struct vmm *v);
	/* A digest of guest memory into @buf, where the VMM computes one. */
	int (*checksum)(struct vmm *v, char *buf, size_t len);
	void (*close)(struct vmm *v);
};

struct vmm {
	const struct vmm_ops *ops;
	enum vmm_kind kind;
	pid_t pid;		/* the VMM process, from the socket's peer */
	int fd;			/* the connected socket, or -1 */
	char path[108];		/* the socket, as given */
	char reply[4096];	/* lmvm: its last answer */
};

/*
 * Connect to the VMM of @kind at @path; 0, or -1 having said why. When @pid
 * is not 0 it must be the socket's peer.
 */
int vmm_open(struct vmm *v, enum vmm_kind kind, const char *path, pid_t pid);

/* Close the connection; safe on a VMM never opened. */
void vmm_close(struct vmm *v);

/* The peer process of the Unix socket @fd; -1 having said why. */
pid_t vmm_peer_pid(int fd, const char *path);

/* Connect a Unix stream socket to @path; the fd, or -1 having said why. */
int vmm_connect(const char *path, const char *what);

/* vmm_qmp.c: read QEMU's greeting, check its version, enter command mode. */
int vmm_qmp_handshake(struct vmm *v);

extern const struct vmm_ops vmm_lmvm_ops;
extern const struct vmm_ops vmm_qmp_ops;

#endif /* LMCTL_VMM_H */

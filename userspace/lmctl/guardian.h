/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The guardian of a paused source VM: a small process that outlives a
 * killed lmctl migrate and resumes the VM unless the destination may run
 * it. See guardian.c.
 */
#ifndef LMCTL_GUARDIAN_H
#define LMCTL_GUARDIAN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct vmm;

struct guardian {
	pid_t pid;
	int fd;			/* our end of the socket pair, or -1 */
};

/*
 * Start the guardian of VM @vm_id, run by @vmm; should lmctl die, it
 * connects to the same VMM and detaches the VM if @detach. Returns 0 once
 * it runs, -1 (said) if it could not start.
 */
int guardian_start(struct guardian *g, const struct vmm *vmm, uint32_t vm_id,
		   bool detach);

/*
 * lmctl is about to pause the VM: from now on, should lmctl die, the
 * guardian resumes it unless the destination may run it. 0, or -1 (said).
 */
int guardian_pausing(struct guardian *g);

/*
 * The migration's outcome is settled and lmctl has acted on it: the
 * guardian exits without doing anything. Safe on a guardian never started.
 */
void guardian_release(struct guardian *g);

#endif /* LMCTL_GUARDIAN_H */

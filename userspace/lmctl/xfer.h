/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What lmctl's migrate, receive and status subcommands share: the address
 * handling, attaching the VMM's VM, waiting for a transfer's phases and
 * reporting its outcome. The VMM itself is behind vmm.h.
 */
#ifndef LMCTL_XFER_H
#define LMCTL_XFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lmctl.h"

struct xfer_addr {
	uint8_t addr[16];
	size_t len;		/* 4 or 16 */
	uint16_t port;
	char text[64];		/* as given, for messages */
};

/* "A.B.C.D:PORT" or "[IPV6]:PORT"; false if it is neither. */
bool xfer_parse_addr(const char *s, bool port_may_be_zero,
		     struct xfer_addr *a);

/*
 * Attach the VM of VMM @pid; *@attached tells whether we did (and so
 * should detach it at the end) or found it already attached.
 */
int xfer_attach(struct lmctl *ctx, pid_t pid, uint32_t *id, bool *attached);

/*
 * Wait until the transfer of VM @id reaches one of the phases in @mask
 * (bits of enum lm_xfer_phase; DONE and FAILED always end the wait), or
 * @timeout_ms pass (-1: no limit). Prints progress lines when @progress.
 * Returns 0 with the last status in *st, or -errno: -EPIPE once the VMM
 * of ctx->vmm_fd has closed its socket.
 */
int xfer_wait(struct lmctl *ctx, struct lm_nl *ev, uint32_t id,
	      uint32_t mask, int timeout_ms, bool progress,
	      struct lm_xfer_status *st);

#define XFER_PHASE(p) (1U << (p))

/* Words for lmctl_fail() about an error of xfer_wait(), or NULL. */
const char *xfer_wait_why(int err);

/*
 * SIGINT, SIGTERM and SIGHUP make the next xfer_wait() return -EINTR, so
 * that the caller cancels cleanly (and resumes the source VM if it may).
 */
void xfer_catch_signals(void);

/*
 * Run the storage hand-over command @cmd (sh -c) with LM_ROLE (source or
 * destination) and LM_VM_ID in its environment; 0 if it exited 0.
 */
int xfer_handover(const char *cmd, const char *role, uint32_t id);

/*
 * May the source VM run again after its transfer ended as @st (FAILED)?
 * Not once COMMIT was sent, unless the destination refused it: it may
 * then run the VM.
 */
bool xfer_may_resume(const struct lm_xfer_status *st);

const char *xfer_phase_name(uint32_t phase);
const char *xfer_reason_name(uint32_t reason);
uint64_t xfer_now_ns(void);

/* The JSON members common to every transfer report. */
void xfer_json_status(struct json *j, const struct lm_xfer_status *st);
void xfer_print_compression(const struct lm_xfer_status *st);

#endif /* LMCTL_XFER_H */

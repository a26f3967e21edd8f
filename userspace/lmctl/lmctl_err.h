/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lmctl's error messages, on their own for the files that must not see
 * lmctl.h's JSON writer (vmm_qmp.c uses jansson, whose names it shares).
 */
#ifndef LMCTL_ERR_H
#define LMCTL_ERR_H

/* "lmctl: <fmt>\n" on stderr. */
void lmctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* LMCTL_ERR_H */

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lmvm, the reference VMM: the host side's shared declarations.
 *
 * Threads: one per vCPU, looping on KVM_RUN; the main thread owns the
 * control socket and runs every command. Commands that need the vCPUs out
 * of the guest (save-state, load-state, checksum, verify) pause them first,
 * like QEMU's "stop the world": vm_pause() kicks every vCPU thread out of
 * KVM_RUN and waits until all are parked.
 */
#ifndef _LMVM_H
#define _LMVM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

#include "lmkvm.h"
#include "guest_abi.h"

/* What --fill writes into every workload page before the guest runs. */
enum lmvm_fill {
	LMVM_FILL_NONE,
	LMVM_FILL_ONES,		/* the page's last word all ones */
	LMVM_FILL_RANDOM,	/* all but the stamp pseudo-random */
	LMVM_FILL_MIXED,	/* 2 MiB random, 2 MiB half ones, in turn */
};

struct lmvm_config {
	uint64_t mem_size;
	uint32_t nr_vcpus;
	uint32_t workload;		/* enum lmvm_workload */
	uint64_t rate_mib;		/* whole VM; 0: unlimited */
	uint64_t seed;
	uint64_t hotset_size;		/* bytes, whole VM */
	const char *control_path;
	bool incoming;
	bool prefault;			/* touch all memory before working */
	uint32_t fill;			/* enum lmvm_fill: data in all memory first */
	double duration;		/* seconds; 0: until quit */
	const char *command;		/* --command: act as a client */
};

enum vcpu_run_state {
	VCPU_RUNNING,
	VCPU_PARKED,
	VCPU_FAILED,
};

struct lmvm_vcpu {
	struct lmvm *lm;
	struct kvm_vcpu *vcpu;
	pthread_t thread;
	enum vcpu_run_state state;
	char failure[256];
};

struct lmvm {
	struct lmvm_config cfg;
	struct kvm_vm *vm;
	struct lmvm_vcpu vcpus[LMVM_MAX_VCPUS];

	pthread_mutex_t lock;		/* protects everything below */
	pthread_cond_t cond;
	bool paused;			/* vCPUs must park */
	bool quit;
	bool loaded;			/* --incoming: a state was loaded */
	uint32_t throttle_pct;		/* vCPUs sleep this % of each slice */
	pthread_t throttle_thread;
};

extern const char *const lmvm_workload_names[LMVM_NR_WORKLOADS];

/* vcpus.c */
void vcpus_start(struct lmvm *lm);
void vcpus_stop(struct lmvm *lm);
void vm_pause(struct lmvm *lm);
void vm_resume(struct lmvm *lm);
bool vm_paused(struct lmvm *lm);
void vm_throttle(struct lmvm *lm, uint32_t pct);

/* workload.c */
void workload_setup(struct lmvm *lm);
struct lmvm_shared *shared_page(struct lmvm *lm);

/* memcheck.c: replies are written to 'out' (one line, no newline) */
void mem_checksum(struct lmvm *lm, char *out, size_t len);
int mem_verify(struct lmvm *lm, char *out, size_t len);
uint64_t hash64(const void *buf, size_t len, uint64_t seed);

/* state.c: 0, or -1 with a message in 'err' and the VM untouched */
int state_save(struct lmvm *lm, const char *path, bool memory, char *err,
	       size_t len);
int state_load(struct lmvm *lm, const char *path, char *err, size_t len);

/* control.c */
int control_listen(const char *path);
void control_loop(struct lmvm *lm, int listen_fd);
void status_line(struct lmvm *lm, char *out, size_t len);
int control_send(const char *path, const char *command);

#endif /* _LMVM_H */

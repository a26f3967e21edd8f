// SPDX-License-Identifier: GPL-2.0
/*
 * vCPU threads, and stopping and restarting them all.
 *
 * Each thread loops on KVM_RUN. To pause, the main thread sets lm->paused,
 * sets run->immediate_exit on every vCPU and sends its thread a signal: a
 * thread inside KVM_RUN returns with EINTR, one about to enter returns at
 * once thanks to immediate_exit. Threads then park on lm->cond until
 * resumed. The guest is never stopped in the middle of an instruction, so
 * its memory is consistent with its registers when all threads are parked.
 *
 * Throttling (for a migration that does not converge): every time slice,
 * a throttle thread kicks the running vCPUs out of the guest after
 * (100 - pct)% of it, and each sleeps for the remaining pct% before going
 * back in, as QEMU's CPU throttling does. The guest then dirties memory
 * about pct% more slowly.
 */
#include <signal.h>
#include <stdlib.h>
#include <time.h>

#include "lmvm.h"

#define KICK_SIGNAL	SIGUSR1
#define THROTTLE_SLICE_NS	10000000ULL	/* 10 ms */

static void kick_handler(int sig)
{
	(void)sig;
}

static void vcpu_fail(struct lmvm_vcpu *v, const char *why)
{
	struct lmvm *lm = v->lm;

	fprintf(stderr, "lmvm: vCPU %u stopped: %s\n", v->vcpu->id, why);
	pthread_mutex_lock(&lm->lock);
	snprintf(v->failure, sizeof(v->failure), "%s", why);
	v->state = VCPU_FAILED;
	pthread_cond_broadcast(&lm->cond);
	pthread_mutex_unlock(&lm->lock);
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = {
		.tv_sec = ns / 1000000000ULL,
		.tv_nsec = ns % 1000000000ULL,
	};

	/* A kick (pause, quit) cuts it short, as it should. */
	nanosleep(&ts, NULL);
}

/* After a kick: sleep for the throttled part of the slice, if any. */
static void vcpu_throttle(struct lmvm *lm)
{
	uint32_t pct;

	pthread_mutex_lock(&lm->lock);
	pct = lm->paused || lm->quit ? 0 : lm->throttle_pct;
	pthread_mutex_unlock(&lm->lock);
	if (pct)
		sleep_ns(THROTTLE_SLICE_NS * pct / 100);
}

static void *throttle_thread(void *arg)
{
	struct lmvm *lm = arg;
	uint32_t i, pct;
	bool quit;

	for (;;) {
		pthread_mutex_lock(&lm->lock);
		while (!lm->quit && (!lm->throttle_pct || lm->paused))
			pthread_cond_wait(&lm->cond, &lm->lock);
		pct = lm->throttle_pct;
		quit = lm->quit;
		pthread_mutex_unlock(&lm->lock);
		if (quit)
			return NULL;

		sleep_ns(THROTTLE_SLICE_NS * (100 - pct) / 100);

		pthread_mutex_lock(&lm->lock);
		for (i = 0; i < lm->cfg.nr_vcpus && !lm->paused && !lm->quit;
		     i++)
			if (lm->vcpus[i].state == VCPU_RUNNING)
				pthread_kill(lm->vcpus[i].thread, KICK_SIGNAL);
		pthread_mutex_unlock(&lm->lock);
	}
}

static void *vcpu_thread(void *arg)
{
	struct lmvm_vcpu *v = arg;
	struct lmvm *lm = v->lm;
	char why[512];
	struct ucall uc;
	int r;

	for (;;) {
		pthread_mutex_lock(&lm->lock);
		while (lm->paused && !lm->quit) {
			if (v->state != VCPU_PARKED) {
				v->state = VCPU_PARKED;
				pthread_cond_broadcast(&lm->cond);
			}
			pthread_cond_wait(&lm->cond, &lm->lock);
		}
		if (lm->quit) {
			v->state = VCPU_PARKED;
			pthread_cond_broadcast(&lm->cond);
			pthread_mutex_unlock(&lm->lock);
			return NULL;
		}
		v->state = VCPU_RUNNING;
		pthread_mutex_unlock(&lm->lock);

		r = __vcpu_run_ucall(v->vcpu, &uc, why, sizeof(why));
		switch (r) {
		case -EINTR:
			vcpu_throttle(lm);
			break;
		case UCALL_PRINT:
			printf("%s\n", ucall_format(lm->vm, &uc, why,
						    sizeof(why)));
			fflush(stdout);
			break;
		case UCALL_ABORT:
		case UCALL_EXCEPTION:
			vcpu_fail(v, ucall_format(lm->vm, &uc, why,
						  sizeof(why)));
			return NULL;
		case UCALL_DONE:
			vcpu_fail(v, "guest code returned");
			return NULL;
		default:
			if (r >= 0)
				snprintf(why, sizeof(why),
					 "unexpected ucall %d", r);
			vcpu_fail(v, why);
			return NULL;
		}
	}
}

void vcpus_start(struct lmvm *lm)
{
	struct sigaction sa = { .sa_handler = kick_handler };
	uint32_t i;

	/* no SA_RESTART: the signal must end KVM_RUN with EINTR */
	sigemptyset(&sa.sa_mask);
	TEST_ASSERT(!sigaction(KICK_SIGNAL, &sa, NULL), "sigaction");
	for (i = 0; i < lm->cfg.nr_vcpus; i++) {
		struct lmvm_vcpu *v = &lm->vcpus[i];

		v->lm = lm;
		v->state = lm->paused ? VCPU_PARKED : VCPU_RUNNING;
		errno = pthread_create(&v->thread, NULL, vcpu_thread, v);
		TEST_ASSERT(!errno, "pthread_create");
	}
	errno = pthread_create(&lm->throttle_thread, NULL, throttle_thread, lm);
	TEST_ASSERT(!errno, "pthread_create");
}

/* Kick every vCPU out of the guest; lm->lock held, paused or quit set. */
static void kick_and_wait(struct lmvm *lm)
{
	uint32_t i;
	bool all;

	for (i = 0; i < lm->cfg.nr_vcpus; i++) {
		struct lmvm_vcpu *v = &lm->vcpus[i];

		if (v->state == VCPU_RUNNING) {
			v->vcpu->run->immediate_exit = 1;
			pthread_kill(v->thread, KICK_SIGNAL);
		}
	}
	do {
		all = true;
		for (i = 0; i < lm->cfg.nr_vcpus; i++)
			if (lm->vcpus[i].state == VCPU_RUNNING)
				all = false;
		if (!all)
			pthread_cond_wait(&lm->cond, &lm->lock);
	} while (!all);
	for (i = 0; i < lm->cfg.nr_vcpus; i++)
		lm->vcpus[i].vcpu->run->immediate_exit = 0;
}

void vm_pause(struct lmvm *lm)
{
	pthread_mutex_lock(&lm->lock);
	lm->paused = true;
	kick_and_wait(lm);
	pthread_mutex_unlock(&lm->lock);
}

void vm_resume(struct lmvm *lm)
{
	pthread_mutex_lock(&lm->lock);
	lm->paused = false;
	pthread_cond_broadcast(&lm->cond);
	pthread_mutex_unlock(&lm->lock);
}

void vm_throttle(struct lmvm *lm, uint32_t pct)
{
	pthread_mutex_lock(&lm->lock);
	lm->throttle_pct = pct;
	pthread_cond_broadcast(&lm->cond);
	pthread_mutex_unlock(&lm->lock);
}

bool vm_paused(struct lmvm *lm)
{
	bool paused;

	pthread_mutex_lock(&lm->lock);
	paused = lm->paused;
	pthread_mutex_unlock(&lm->lock);
	return paused;
}

void vcpus_stop(struct lmvm *lm)
{
	uint32_t i;

	pthread_mutex_lock(&lm->lock);
	lm->quit = true;
	pthread_cond_broadcast(&lm->cond);
	kick_and_wait(lm);
	pthread_mutex_unlock(&lm->lock);
	for (i = 0; i < lm->cfg.nr_vcpus; i++)
		pthread_join(lm->vcpus[i].thread, NULL);
	pthread_join(lm->throttle_thread, NULL);
}

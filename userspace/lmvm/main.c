// SPDX-License-Identifier: GPL-2.0
/*
 * lmvm: a small reference VMM for lm.
 *
 * It builds a VM with liblmkvm (memory in a PC-like layout, vCPUs started
 * straight in 64-bit mode), runs one of its built-in workloads on every
 * vCPU, prints the guest's serial output, and answers commands on a unix
 * control socket: pause and resume, status, checksum and verify of guest
 * memory, and saving and loading the VM's state. See lmvm(1).
 */
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "lmvm.h"

extern volatile sig_atomic_t lmvm_stop_requested;

static void usage(FILE *f)
{
	fprintf(f,
"usage: lmvm [options]\n"
"\n"
"Run a KVM virtual machine with a built-in 64-bit workload.\n"
"\n"
"  -m, --mem SIZE        guest memory, 16M to 64G, in 2 MiB units (default 64M)\n"
"  -c, --vcpus N         number of vCPUs, 1 to %u (default 1)\n"
"  -w, --workload NAME   idle, sweep, random or hotset (default idle)\n"
"  -r, --rate MIB        target write rate of the whole VM in MiB/s of pages\n"
"                        dirtied, paced by the guest's TSC; 0: unlimited\n"
"                        (default 0)\n"
"  -s, --seed N          seed of the random workload (default 1)\n"
"      --hotset SIZE     working set of the hotset workload (default 8M)\n"
"      --prefault        the guest touches all its pages before its workload\n"
"                        starts, so that rates are not first-touch faults\n"
"      --fill[=KIND]     write data that is not zero into every page before the\n"
"                        guest starts (any workload, idle too): ones (the\n"
"                        default: one word of ones, compresses to almost\n"
"                        nothing), random (incompressible) or mixed (2 MiB\n"
"                        random, then 2 MiB of pages random and ones in turn)\n"
"  -C, --control PATH    serve control commands on this unix socket\n"
"  -i, --incoming        create the VM but run nothing until load-state and\n"
"                        resume\n"
"  -d, --duration SEC    stop after SEC seconds and print the status\n"
"  -x, --command CMD     send CMD to the lmvm serving --control PATH, print\n"
"                        its answer, exit 0 if it starts with 'ok'\n"
"  -h, --help            this help\n"
"\n"
"SIZE takes a K, M or G suffix (binary units). Control commands, one per\n"
"line, each answered by one line starting with 'ok' or 'error:':\n"
"  pause, resume, status, throttle PCT, save-state FILE [memory],\n"
"  load-state FILE, checksum, verify, quit, help\n",
		LMVM_MAX_VCPUS);
}

static int parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *s == '-')
		return -1;
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	}
	if (!strcmp(end, "iB") || !strcmp(end, "B"))
		end += strlen(end);
	if (*end)
		return -1;
	*out = v;
	return 0;
}

static int parse_workload(const char *s)
{
	int i;

	for (i = 0; i < LMVM_NR_WORKLOADS; i++)
		if (!strcmp(s, lmvm_workload_names[i]))
			return i;
	return -1;
}

static void stop_handler(int sig)
{
	(void)sig;
	lmvm_stop_requested = 1;
}

static int parse_args(struct lmvm_config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mem", required_argument, NULL, 'm' },
		{ "vcpus", required_argument, NULL, 'c' },
		{ "workload", required_argument, NULL, 'w' },
		{ "rate", required_argument, NULL, 'r' },
		{ "seed", required_argument, NULL, 's' },
		{ "hotset", required_argument, NULL, 'H' },
		{ "prefault", no_argument, NULL, 'P' },
		{ "fill", optional_argument, NULL, 'F' },
		{ "control", required_argument, NULL, 'C' },
		{ "incoming", no_argument, NULL, 'i' },
		{ "duration", required_argument, NULL, 'd' },
		{ "command", required_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	uint64_t v;
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "m:c:w:r:s:C:id:x:h", opts,
				NULL)) != -1) {
		switch (c) {
		case 'm':
			if (parse_size(optarg, &cfg->mem_size) ||
			    cfg->mem_size < 16 * MiB || cfg->mem_size > 64 * GiB ||
			    cfg->mem_size % (2 * MiB)) {
				fprintf(stderr, "lmvm: --mem %s: expected 16M to 64G in 2 MiB units\n",
					optarg);
				return -1;
			}
			break;
		case 'c':
			v = strtoull(optarg, &end, 10);
			if (*end || !v || v > LMVM_MAX_VCPUS) {
				fprintf(stderr, "lmvm: --vcpus %s: expected 1 to %u\n",
					optarg, LMVM_MAX_VCPUS);
				return -1;
			}
			cfg->nr_vcpus = v;
			break;
		case 'w':
			c = parse_workload(optarg);
			if (c < 0) {
				fprintf(stderr, "lmvm: --workload %s: expected idle, sweep, random or hotset\n",
					optarg);
				return -1;
			}
			cfg->workload = c;
			break;
		case 'r':
			cfg->rate_mib = strtoull(optarg, &end, 10);
			if (*end || *optarg == '-' || cfg->rate_mib > 1000000) {
				fprintf(stderr, "lmvm: --rate %s: expected MiB/s (0: unlimited)\n",
					optarg);
				return -1;
			}
			break;
		case 's':
			cfg->seed = strtoull(optarg, &end, 0);
			if (*end) {
				fprintf(stderr, "lmvm: --seed %s: expected a number\n",
					optarg);
				return -1;
			}
			break;
		case 'H':
			if (parse_size(optarg, &cfg->hotset_size) ||
			    cfg->hotset_size < PAGE_SIZE) {
				fprintf(stderr, "lmvm: --hotset %s: expected a size of at least 4K\n",
					optarg);
				return -1;
			}
			break;
		case 'P':
			cfg->prefault = true;
			break;
		case 'F':
			if (!optarg || !strcmp(optarg, "ones")) {
				cfg->fill = LMVM_FILL_ONES;
			} else if (!strcmp(optarg, "random")) {
				cfg->fill = LMVM_FILL_RANDOM;
			} else if (!strcmp(optarg, "mixed")) {
				cfg->fill = LMVM_FILL_MIXED;
			} else {
				fprintf(stderr, "lmvm: --fill=%s: expected ones, random or mixed\n",
					optarg);
				return -1;
			}
			break;
		case 'C':
			cfg->control_path = optarg;
			break;
		case 'i':
			cfg->incoming = true;
			break;
		case 'd':
			cfg->duration = strtod(optarg, &end);
			if (*end || cfg->duration <= 0) {
				fprintf(stderr, "lmvm: --duration %s: expected seconds\n",
					optarg);
				return -1;
			}
			break;
		case 'x':
			cfg->command = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "lmvm: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = stop_handler };
	static struct lmvm lm = {
		.cfg = {
			.mem_size = 64 * MiB, .nr_vcpus = 1, .seed = 1,
			.hotset_size = 8 * MiB, .workload = LMVM_IDLE,
		},
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.cond = PTHREAD_COND_INITIALIZER,
	};
	char status[4096];
	int listen_fd = -1, failed = 0;
	uint32_t i;

	if (parse_args(&lm.cfg, argc, argv))
		return 2;
	if (lm.cfg.command) {
		if (!lm.cfg.control_path) {
			fprintf(stderr, "lmvm: --command needs --control PATH\n");
			return 2;
		}
		return control_send(lm.cfg.control_path, lm.cfg.command);
	}
	if (!kvm_available()) {
		fprintf(stderr, "lmvm: /dev/kvm is not available (is kvm loaded?)\n");
		return 1;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (lm.cfg.control_path) {
		listen_fd = control_listen(lm.cfg.control_path);
		if (listen_fd < 0)
			return 1;
	}

	lm.vm = vm_create(lm.cfg.mem_size);
	for (i = 0; i < lm.cfg.nr_vcpus; i++)
		lm.vcpus[i].vcpu = vcpu_add(lm.vm, i, lmvm_guest_main);
	workload_setup(&lm);
	lm.paused = lm.cfg.incoming;
	fprintf(stderr, "lmvm: %llu MiB, %u vCPU%s, workload %s%s\n",
		(unsigned long long)(lm.cfg.mem_size / MiB), lm.cfg.nr_vcpus,
		lm.cfg.nr_vcpus > 1 ? "s" : "",
		lmvm_workload_names[lm.cfg.workload],
		lm.cfg.incoming ? ", waiting for load-state" : "");
	vcpus_start(&lm);

	control_loop(&lm, listen_fd);

	vm_pause(&lm);
	status_line(&lm, status, sizeof(status));
	printf("lmvm: %s\n", status);
	vcpus_stop(&lm);
	if (listen_fd >= 0) {
		close(listen_fd);
		unlink(lm.cfg.control_path);
	}
	for (i = 0; i < lm.cfg.nr_vcpus; i++)
		if (lm.vcpus[i].state == VCPU_FAILED)
			failed = 1;
	vm_free(lm.vm);
	return failed;
}

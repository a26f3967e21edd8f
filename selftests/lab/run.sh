#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot the lab: the lab kernel under QEMU TCG with -cpu max (so that it can
# run nested KVM guests) and an initramfs holding lm.ko, the kvm modules,
# the tools and the tests.
#
# Usage: run.sh check|check-full|bench|shell|demo
#
# check and check-full share their tests (selftests/lab/tests.conf says
# which and how long each may run) among several lab VMs booted at once,
# each a single-threaded TCG guest, so each keeps one host core busy; the
# VMs' results are then judged together by checklog.sh, which ends with one
# line "N passed, N failed" and a table of each test's time and limit.
#
# Environment (all optional):
#   BUILD         build directory (default: <repo>/build)
#   LM_KO         module to test (default: <repo>/lm.ko)
#   KVER          lab kernel release (default: selftests/lab/kver.sh)
#   TESTS         space-separated test (or, for bench, benchmark) names:
#                 run only these
#   LAB_VMS       lab VMs to share the tests among (check modes; default:
#                 the host's cores, at most 4); 1 for bench, demo, shell
#   LAB_TIMEOUT   seconds each VM may run (check: the sum of its tests'
#                 limits plus its boot; bench: 780, demo: 600, shell:
#                 unlimited)
#   TEST_TIMEOUT  seconds each test may run (default: tests.conf's limit)
#   LAB_SMP, LAB_MEM  vCPUs and memory of each lab VM (default 2, 4G)
#   LAB_ACCEL     QEMU accelerator (default tcg,thread=single)
#   LAB_APPEND    extra kernel command line
#   LAB_VERBOSE   1: stream the whole console (check modes print only
#                 progress, then the TAP once the VMs are done)
#
# Each VM's console is logged to $BUILD/lab/MODE.vmN.log, and all of them
# (one after the other) to $BUILD/lab/console.log. A test out of time has
# its blocked tasks dumped and is killed (by /init); a VM out of time is
# sent an NMI, on which the lab kernel panics showing every CPU's stack.
set -euo pipefail

lab=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$lab/../.." && pwd)
mode=${1:-check}
BUILD=${BUILD:-$repo/build}
LM_KO=${LM_KO:-$repo/lm.ko}
KVER=${KVER:-$("$lab/kver.sh")}
LAB_SMP=${LAB_SMP:-2}
LAB_MEM=${LAB_MEM:-4G}
LAB_VERBOSE=${LAB_VERBOSE:-0}
# One host thread runs every vCPU. Multi-threaded TCG is faster with two
# busy vCPUs but has been seen to wedge the lab kernel on a loaded host
# (a CPU looping on the int3 of a code patch, its clock stopped), so it
# is for those who want it: LAB_ACCEL=tcg,thread=multi.
LAB_ACCEL=${LAB_ACCEL:-tcg,thread=single}
# A VM boots, loads its modules and powers off in well under a minute;
# this much of its limit is for that.
BOOT_SECONDS=120

cores=$(nproc)
case $mode in
check|check-full)
	lmlab=check
	vms=${LAB_VMS:-$((cores < 4 ? cores : 4))} ;;
bench)	lmlab=bench vms=1 ;;
demo)	lmlab=demo vms=1 ;;
shell)	lmlab=shell vms=1 ;;
*)	echo "usage: $0 check|check-full|bench|shell|demo" >&2; exit 2 ;;
esac

# Each run works in a directory of its own, so that runs started at the
# same time from one tree do not mix their consoles.
mkdir -p "$BUILD/lab"
run=$(mktemp -d "$BUILD/lab/run.XXXXXX")
trap 'rm -rf "$run"' EXIT

t0=$(date +%s)
"$lab/mkinitramfs.sh" -k "$KVER" -b "$BUILD" -m "$LM_KO" -o "$run/initramfs.cpio.gz"

# Each VM of a check gets the image with its plan appended: the kernel
# unpacks concatenated archives one over the other.
declare -a limit=()
if [[ $lmlab == check ]]; then
	# shellcheck disable=SC2086 # TESTS is a list of names
	vms=$("$lab/plan.sh" -c "$repo/selftests/lab/tests.conf" -d "$BUILD/tests" \
		-n "$vms" -s "$([[ $mode == check-full ]] && echo full || echo check)" \
		-o "$run/plan" ${TESTS:-})
	for ((i = 1; i <= vms; i++)); do
		mkdir -p "$run/plan-root.$i/lib/lab"
		cp "$run/plan.$i" "$run/plan-root.$i/lib/lab/plan"
		(cd "$run/plan-root.$i" && find lib | LC_ALL=C sort |
			cpio -o -H newc --owner=0:0 --quiet) | gzip -1 |
			cat "$run/initramfs.cpio.gz" - > "$run/initramfs.$i.cpio.gz"
		sum=0
		while read -r _ l; do sum=$((sum + l)); done < "$run/plan.$i"
		limit[i]=${LAB_TIMEOUT:-$((BOOT_SECONDS + sum))}
	done
else
	ln -s initramfs.cpio.gz "$run/initramfs.1.cpio.gz"
	case $mode in
	bench)	limit[1]=${LAB_TIMEOUT:-780} ;;
	demo)	limit[1]=${LAB_TIMEOUT:-600} ;;
	shell)	limit[1]=${LAB_TIMEOUT:-0} ;;
	esac
fi
t1=$(date +%s)
echo "lab: initramfs $(du -h "$run/initramfs.cpio.gz" | cut -f1) in $((t1 - t0))s;" \
     "booting $KVER ($mode, $vms VM(s) of ${LAB_SMP} cpus and $LAB_MEM)"
if [[ $lmlab == check ]]; then
	for ((i = 1; i <= vms; i++)); do
		echo "lab: VM $i (limit ${limit[i]}s):" $(cut -d' ' -f1 "$run/plan.$i")
	done
fi

# An emulated CPU runs many times slower than a real one, and loses the
# host CPU to other work now and then: give the soft lockup and RCU stall
# detectors more slack than on hardware (a real lockup still trips them).
cmdline="console=ttyS0 panic=-1 loglevel=7 printk.time=1"
cmdline+=" watchdog_thresh=30 rcupdate.rcu_cpu_stall_timeout=60"
cmdline+=" unknown_nmi_panic panic_print=0x40"
cmdline+=" lmlab=$lmlab lmlab_timeout=${TEST_TIMEOUT:-300} ${LAB_APPEND:-}"
# A check's plan names its tests; a bench runs those TESTS names, or all.
if [[ $lmlab == bench && -n ${TESTS:-} ]]; then
	cmdline+=" lmlab_only=$(echo "$TESTS" | tr -s ' ' ,)"
fi

qemu_for() { # qemu_for N: the command line of VM N, in the array qemu
	qemu=(qemu-system-x86_64
		-accel "$LAB_ACCEL" -cpu max -smp "$LAB_SMP" -m "$LAB_MEM"
		-nodefaults -no-user-config -display none -serial mon:stdio
		-no-reboot
		-kernel "/boot/vmlinuz-$KVER" -initrd "$run/initramfs.$1.cpio.gz"
		-append "$cmdline")
}

if [[ $mode == shell ]]; then
	# Interactive: the terminal goes to the VM (Ctrl-A X quits QEMU).
	qemu_for 1
	status=0
	if (( limit[1] > 0 )); then
		timeout --foreground "${limit[1]}" "${qemu[@]}" | tee "$run/console.1.log" || status=$?
	else
		"${qemu[@]}" | tee "$run/console.1.log" || status=$?
	fi
	cp "$run/console.1.log" "$BUILD/lab/console.log"
	exit "$status"
fi

if [[ $LAB_VERBOSE == 1 || $mode == demo ]]; then
	filter=(cat)
else
	filter=(grep --line-buffered -E '^(# (selftest|bench): |lab: |==== lab)')
fi
if (( vms > 1 )); then
	tag() { sed -u "s/^/[vm$1] /"; }
else
	tag() { cat; }
fi

# run_vm N: boot VM N and wait for it to power off, or for its time limit.
# The console's input is a fifo held open here: at the time limit it
# reaches QEMU's monitor (Ctrl-A c), which injects an NMI; the lab kernel
# (unknown_nmi_panic, panic_print=0x40) then panics with the stacks of
# its CPUs, so a VM stuck in the kernel says where.
run_vm() {
	local n=$1 console start i
	local fifo=$run/console.$n.in log=$run/console.$n.log pidfile=$run/qemu.$n.pid

	qemu_for "$n"
	mkfifo "$fifo"
	exec 3<> "$fifo"
	start=$(date +%s)
	"${qemu[@]}" -pidfile "$pidfile" < "$fifo" | tee "$log" | sed -u 's/\r$//' |
		{ "${filter[@]}" || true; } | tag "$n" &
	console=$!

	vm_running() { kill -0 "$console" 2>/dev/null; }
	wait_vm() { # wait_vm SECONDS: true once the VM is gone
		for ((i = 0; i < $1 * 2; i++)); do
			vm_running || return 0
			sleep 0.5
		done
		! vm_running
	}
	if ! wait_vm "${limit[n]}"; then
		echo "lab: VM $n did not finish within ${limit[n]}s; NMI for its CPUs' stacks" | tag "$n"
		printf '\001c' >&3
		sleep 1
		printf 'nmi\n' >&3
		if ! wait_vm 30; then
			printf 'quit\n' >&3
			wait_vm 10 || kill -9 "$(cat "$pidfile")" 2>/dev/null
		fi
	fi
	wait "$console" || true
	exec 3>&-
	echo "lab: VM $n ran $(($(date +%s) - start))s of its ${limit[n]}s" > "$run/vm.$n.time"
}

stop_vms() {
	local f
	for f in "$run"/qemu.*.pid; do
		[[ -f $f ]] && kill "$(cat "$f")" 2>/dev/null
	done
	exit 130
}
# Background commands ignore SIGINT in a script: pass it on to QEMU.
trap stop_vms INT TERM

declare -a vm_pid=()
for ((n = 1; n <= vms; n++)); do
	run_vm "$n" &
	vm_pid[n]=$!
done
for ((n = 1; n <= vms; n++)); do
	wait "${vm_pid[n]}" || true
done
t2=$(date +%s)

# Keep the consoles: one log per VM (what checklog.sh judges), and all of
# them in console.log.
logs=()
: > "$run/console.all"
for ((n = 1; n <= vms; n++)); do
	name=$mode.log
	(( vms > 1 )) && name=$mode.vm$n.log
	cp "$run/console.$n.log" "$BUILD/lab/$name"
	logs+=("$BUILD/lab/$name")
	{ echo "==== lab VM $n of $vms: $name ===="; cat "$run/console.$n.log"; } >> "$run/console.all"
	cat "$run/vm.$n.time" 2>/dev/null || true
done
mv "$run/console.all" "$BUILD/lab/console.log"
echo "lab: $vms VM(s) ran $((t2 - t1))s; console logs: ${logs[*]}"

"$lab/checklog.sh" "$lmlab" "${logs[@]}"

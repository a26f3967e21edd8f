#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot the lab VM: the lab kernel under QEMU TCG with -cpu max (so that it
# can run nested KVM guests) and an initramfs holding lm.ko, the kvm
# modules, the tools and the tests.
#
# Usage: run.sh check|bench|shell|demo
#
# Environment (all optional):
#   BUILD         build directory (default: <repo>/build)
#   LM_KO         module to test (default: <repo>/lm.ko)
#   KVER          lab kernel release (default: selftests/lab/kver.sh)
#   TESTS         space-separated test names: run only these
#   LAB_TIMEOUT   seconds the whole VM may run (check, bench: 780, demo: 600,
#                 shell: unlimited)
#   TEST_TIMEOUT  seconds each test may run (default 300)
#   LAB_SMP, LAB_MEM  vCPUs and memory of the lab VM (default 2, 4G)
#   LAB_ACCEL     QEMU accelerator (default tcg,thread=single)
#   LAB_APPEND    extra kernel command line
#   LAB_VERBOSE   1: stream the whole console (check mode prints only
#                 progress, then the TAP once the VM is done)
#
# The console is logged to $BUILD/lab/console.log (and MODE.log); check,
# bench and demo modes end with checklog.sh's verdict on it. A test out of
# time has its blocked tasks dumped and is killed (by /init); a VM out of
# time is sent an NMI, on which the lab kernel panics showing every CPU's
# stack.
set -euo pipefail

lab=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$lab/../.." && pwd)
mode=${1:-check}
BUILD=${BUILD:-$repo/build}
LM_KO=${LM_KO:-$repo/lm.ko}
KVER=${KVER:-$("$lab/kver.sh")}
TEST_TIMEOUT=${TEST_TIMEOUT:-300}
LAB_SMP=${LAB_SMP:-2}
LAB_MEM=${LAB_MEM:-4G}
LAB_VERBOSE=${LAB_VERBOSE:-0}
# One host thread runs every vCPU. Multi-threaded TCG is faster with two
# busy vCPUs but has been seen to wedge the lab kernel on a loaded host
# (a CPU looping on the int3 of a code patch, its clock stopped), so it
# is for those who want it: LAB_ACCEL=tcg,thread=multi.
LAB_ACCEL=${LAB_ACCEL:-tcg,thread=single}

case $mode in
check|bench)
	LAB_TIMEOUT=${LAB_TIMEOUT:-780} ;;
demo)	LAB_TIMEOUT=${LAB_TIMEOUT:-600} ;;
shell)	LAB_TIMEOUT=${LAB_TIMEOUT:-0} ;;
*)	echo "usage: $0 check|bench|shell|demo" >&2; exit 2 ;;
esac

# Each run works in a directory of its own, so that runs started at the
# same time from one tree do not mix their consoles; the log is kept as
# $BUILD/lab/console.log (the last run to finish) and $BUILD/lab/MODE.log.
mkdir -p "$BUILD/lab"
run=$(mktemp -d "$BUILD/lab/run.XXXXXX")
initrd=$run/initramfs.cpio.gz
log=$run/console.log
keep_log() {
	local name
	if [[ -f $log ]]; then
		for name in "$mode.log" console.log; do
			cp "$log" "$BUILD/lab/$name.$$" &&
				mv "$BUILD/lab/$name.$$" "$BUILD/lab/$name"
		done
	fi
	rm -rf "$run"
}
trap keep_log EXIT

t0=$(date +%s)
"$lab/mkinitramfs.sh" -k "$KVER" -b "$BUILD" -m "$LM_KO" -o "$initrd" \
	${TESTS:+-t "$TESTS"}
t1=$(date +%s)
echo "lab: initramfs $(du -h "$initrd" | cut -f1) in $((t1 - t0))s;" \
     "booting $KVER ($mode, ${LAB_SMP} cpus, $LAB_MEM," \
     "limit ${LAB_TIMEOUT}s)"

# An emulated CPU runs many times slower than a real one, and loses the
# host CPU to other work now and then: give the soft lockup and RCU stall
# detectors more slack than on hardware (a real lockup still trips them).
cmdline="console=ttyS0 panic=-1 loglevel=7 printk.time=1"
cmdline+=" watchdog_thresh=30 rcupdate.rcu_cpu_stall_timeout=60"
cmdline+=" unknown_nmi_panic panic_print=0x40"
cmdline+=" lmlab=$mode lmlab_timeout=$TEST_TIMEOUT ${LAB_APPEND:-}"

qemu=(qemu-system-x86_64
	-accel "$LAB_ACCEL" -cpu max -smp "$LAB_SMP" -m "$LAB_MEM"
	-nodefaults -no-user-config -display none -serial mon:stdio
	-no-reboot
	-kernel "/boot/vmlinuz-$KVER" -initrd "$initrd"
	-append "$cmdline")

status=0
if [[ $mode == shell ]]; then
	# Interactive: the terminal goes to the VM (Ctrl-A X quits QEMU).
	if (( LAB_TIMEOUT > 0 )); then
		timeout --foreground "$LAB_TIMEOUT" "${qemu[@]}" | tee "$log" || status=$?
	else
		"${qemu[@]}" | tee "$log" || status=$?
	fi
	exit "$status"
fi

if [[ $LAB_VERBOSE == 1 || $mode == demo ]]; then
	filter=(cat)
else
	filter=(grep --line-buffered -E '^(# (selftest|bench): |lab: |==== lab)')
fi

# The console's input is a fifo held open here: at the time limit it
# reaches QEMU's monitor (Ctrl-A c), which injects an NMI; the lab kernel
# (unknown_nmi_panic, panic_print=0x40) then panics with the stacks of
# its CPUs, so a VM stuck in the kernel says where.
mkfifo "$run/console.in"
exec 3<> "$run/console.in"
qemu+=(-pidfile "$run/qemu.pid")
stop_qemu() {
	[[ -f $run/qemu.pid ]] && kill "$(cat "$run/qemu.pid")" 2>/dev/null
	exit 130
}
# Background commands ignore SIGINT in a script: pass it on to QEMU.
trap stop_qemu INT TERM

"${qemu[@]}" < "$run/console.in" | tee "$log" | sed -u 's/\r$//' |
	{ "${filter[@]}" || true; } &
console=$!

vm_running() { kill -0 "$console" 2>/dev/null; }
wait_vm() { # wait_vm SECONDS: true once the VM is gone
	local i
	for ((i = 0; i < $1 * 2; i++)); do
		vm_running || return 0
		sleep 0.5
	done
	! vm_running
}

if ! wait_vm "$LAB_TIMEOUT"; then
	status=124
	echo "lab: the VM did not finish within ${LAB_TIMEOUT}s; NMI for its CPUs' stacks"
	printf '\001c' >&3
	sleep 1
	printf 'nmi\n' >&3
	if ! wait_vm 30; then
		printf 'quit\n' >&3
		wait_vm 10 || kill -9 "$(cat "$run/qemu.pid")" 2>/dev/null
	fi
fi
wait "$console" || true
exec 3>&-
t2=$(date +%s)
keep_log
echo "lab: VM ran $((t2 - t1))s; console log: $BUILD/lab/$mode.log"

"$lab/checklog.sh" "$BUILD/lab/$mode.log" "$mode"

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The lab demo (installed as /usr/bin/lm-demo.sh, run by 'make demo').
# Two "hosts", the network namespaces lmsrc and lmdst joined by a veth
# pair, each with an lmvm; an operator moves the VM from one to the other:
#
#  1. live migration of a VM running a workload that keeps dirtying its
#     memory: lmctl migrate's progress line and summary, then the proof
#     that the guest goes on at the destination (its counters advance,
#     every page stamp verifies) while the source stays paused;
#  2. quick migration (pause first, copy everything) of the same VM size,
#     its workload having run as long as the live one's had at its pause;
#  3. the two downtimes side by side.
#
# Exits non-zero as soon as a step fails.
#
# Environment: DEMO_MEM (default 256M), DEMO_VCPUS (default 1),
# DEMO_WORKLOAD (sweep), DEMO_RATE (guest write rate in MiB/s, default 10).
set -u

# The two hosts: netns_setup, netns_teardown, in_src, in_dst, $IP, ...
. /lib/lab/netns.sh

MEM=${DEMO_MEM:-256M}
VCPUS=${DEMO_VCPUS:-1}
WORKLOAD=${DEMO_WORKLOAD:-sweep}
RATE=${DEMO_RATE:-10}
WORK=$(mktemp -d /tmp/lm-demo.XXXXXX)
pids=

for tool in lmvm lmctl $IP; do
	if ! command -v $tool > /dev/null; then
		echo "demo: $tool is missing; build it first" >&2
		exit 1
	fi
done

cleanup() {
	for p in $pids; do
		kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	netns_teardown
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# The key both hosts share: the migrations are authenticated and
# encrypted (TLS 1.3 with this pre-shared key, then kTLS).
(umask 077 && echo "demo:$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')" \
	> "$WORK/psk")

fail() { echo "demo: FAILED: $*" >&2; exit 1; }
say() { echo; echo "demo: $*"; }
show() { echo "demo\$ $*"; }
ctl() { lmvm --control "$WORK/$1.sock" --command "$2"; }
field() { echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

# start_vmm NAME NS ARGS...: lmvm in namespace NS, control socket
# $WORK/NAME.sock; its pid in $vmm_pid.
start_vmm() {
	name=$1 ns=$2
	shift 2
	show "ip netns exec $ns lmvm --control $name.sock $* &"
	$IP netns exec "$ns" lmvm --control "$WORK/$name.sock" "$@" \
		> "$WORK/$name.out" 2>&1 &
	vmm_pid=$!
	pids="$pids $vmm_pid"
	i=0
	until ctl "$name" status > /dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -gt 300 ] || ! kill -0 $vmm_pid 2>/dev/null; then
			cat "$WORK/$name.out" >&2
			fail "lmvm $name did not come up"
		fi
		sleep 0.1
	done
}

# start_receive NAME PORT: lmctl receive for VMM NAME, listening on
# PORT in the destination namespace; its pid in $recv_pid.
start_receive() {
	show "ip netns exec $DST_NS lmctl receive --pid $vmm_pid --control $1.sock --listen $DST_ADDR:$2 --psk-file psk --checksum &"
	rm -f "$WORK/recv.out" "$WORK/recv.err"
	$IP netns exec $DST_NS lmctl receive --pid $vmm_pid \
		--control "$WORK/$1.sock" --listen $DST_ADDR:$2 \
		--psk-file "$WORK/psk" --checksum \
		> "$WORK/recv.out" 2> "$WORK/recv.err" &
	recv_pid=$!
	pids="$pids $recv_pid"
	i=0
	until grep -q listening "$WORK/recv.err" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 $recv_pid 2>/dev/null; then
			cat "$WORK/recv.err" >&2
			fail "lmctl receive did not start"
		fi
		sleep 0.1
	done
}

# migrate MODE PORT SRC DST WARMUP: one migration from VMM SRC, after its
# workload ran WARMUP seconds, to VMM DST with every check; its downtime in
# seconds in $downtime, its total time (whole seconds) in $total.
migrate() {
	mode=$1 port=$2 src=$3 dst=$4 warmup=$5

	say "$mode migration of a $MEM VM, $VCPUS vCPU(s), $WORKLOAD workload"
	start_vmm "$src" $SRC_NS --mem "$MEM" --vcpus "$VCPUS" \
		--workload "$WORKLOAD" --rate "$RATE"
	src_pid=$vmm_pid
	start_vmm "$dst" $DST_NS --mem "$MEM" --vcpus "$VCPUS" --incoming
	start_receive "$dst" "$port"
	sleep "$warmup"
	show "lmvm --control $src.sock --command status"
	ctl "$src" status || fail "source status"

	# The progress line goes to the terminal (stderr), the summary to
	# stdout, kept to read the downtime from.
	show "ip netns exec $SRC_NS lmctl migrate --pid $src_pid --control $src.sock --to $DST_ADDR:$port --psk-file psk --mode $mode"
	$IP netns exec $SRC_NS lmctl migrate --pid $src_pid \
		--control "$WORK/$src.sock" --to $DST_ADDR:$port \
		--psk-file "$WORK/psk" --mode "$mode" \
		> "$WORK/migrate.out"
	status=$?
	echo
	cat "$WORK/migrate.out"
	[ $status -eq 0 ] || fail "lmctl migrate exited with $status"
	wait $recv_pid || {
		cat "$WORK/recv.err" >&2
		fail "lmctl receive failed"
	}
	downtime=$(sed -n 's/.*downtime \([0-9.]*\) s.*/\1/p' "$WORK/migrate.out")
	rounds=$(sed -n 's/.* \([0-9]*\) rounds*$/\1/p' "$WORK/migrate.out")
	total=$(sed -n 's/^total \([0-9]*\)[.0-9]* s,.*/\1/p' "$WORK/migrate.out")
	[ -n "$downtime" ] && [ -n "$total" ] ||
		fail "no downtime or total time in lmctl migrate's summary"

	say "the destination's memory before resume equals the source's at pause"
	src_sum=$(ctl "$src" checksum | sed 's/^ok //')
	dst_sum=$(sed -n 's/^checksum before resume: //p' "$WORK/recv.out")
	echo "source:      $src_sum"
	echo "destination: $dst_sum"
	[ -n "$src_sum" ] && [ "$src_sum" = "$dst_sum" ] ||
		fail "the memory differs"

	say "the workload goes on at the destination"
	show "lmvm --control $dst.sock --command status"
	d1=$(ctl "$dst" status) || fail "destination status"
	echo "$d1"
	sleep 2
	show "lmvm --control $dst.sock --command status"
	d2=$(ctl "$dst" status) || fail "destination status"
	echo "$d2"
	[ "$(field state "$d2")" = running ] || fail "the destination is not running"
	[ "$(field pages "$d2")" -gt "$(field pages "$d1")" ] ||
		fail "the destination's counters do not advance"
	show "lmvm --control $dst.sock --command verify"
	ctl "$dst" verify || fail "the destination's page stamps do not verify"

	say "the source stays paused"
	show "lmvm --control $src.sock --command status"
	s=$(ctl "$src" status) || fail "source status"
	echo "$s"
	[ "$(field state "$s")" = paused ] || fail "the source is not paused"

	ctl "$src" quit > /dev/null 2>&1
	ctl "$dst" quit > /dev/null 2>&1
}

show lmctl info
lmctl info || fail "lmctl info"
say "two hosts: namespaces $SRC_NS ($SRC_ADDR) and $DST_NS ($DST_ADDR), one veth pair"
netns_setup || fail "cannot set up the namespaces"

migrate live 7000 src-live dst-live 1
live_downtime=$downtime live_rounds=$rounds
# As much written memory as the live source had when it paused: the
# workload runs as long before the quick migration pauses it.
migrate quick 7001 src-quick dst-quick $((total + 2))
quick_downtime=$downtime quick_rounds=$rounds

say "downtime at $MEM, measured in this run"
printf '  %-6s %10s %8s\n' mode downtime rounds
printf '  %-6s %8s s %8s\n' live "$live_downtime" "$live_rounds"
printf '  %-6s %8s s %8s\n' quick "$quick_downtime" "$quick_rounds"
exit 0

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Faults of the network and of the host in the middle of a migration, as
# an operator meets them: two "hosts" (network namespaces joined by a veth
# pair), an lmvm on each, lmctl receive and lmctl migrate, and between
# them wire_relay (selftests/wire_relay.c), a TCP relay that plays one
# fault. Each case checks what lmctl says and its exit status on both
# sides, and that the VM runs on one host only: the source runs again,
# its memory intact (lmvm verify), and the destination never ran it; or,
# past the commit point, the source stays paused and lmctl migrate says so
# with status 3.
#
#   blackhole      the source's SYNs dropped (a host down): it gives up
#                  after lm's 10 s connect limit;
#   stall PHASE    the relay stops passing anything on, both connections
#                  up (a hung peer or middlebox): both sides give up after
#                  lm's peer_timeout (set to 3 s here, 60 s by default);
#   cut PHASE      the relay resets both connections (a link down, a
#                  firewall): both sides fail at once;
#   corrupt WHAT   one bit of the source's stream flipped with the CRCs
#                  left alone: the destination finds it (reason crc), the
#                  source reports the destination's ABORT;
#   rmmod          lm unloaded in the middle (both hosts are one kernel
#                  here): before the switchover the transfers are cancelled
#                  and the source runs on; once the source VM is paused for
#                  it, unloading is refused until the transfer ends;
#   kill WHO       lmctl migrate, or the source VMM, SIGKILLed: its
#                  guardian resumes the source; a source VMM dead after
#                  the switchover does not take the VM with it, the
#                  migration completes.
#
# make check runs one case of each fault; FAULTS_ALL=1 (make check-full,
# migrate_faults_full_test.sh) runs every case, in both modes where the
# phase exists in both. Output is TAP.

NETNS_SH=/lib/lab/netns.sh
RELAY=/lib/lab/wire_relay
if [ ! -r $NETNS_SH ] || [ ! -x $RELAY ]; then
	echo "TAP version 13"
	echo "1..1"
	echo "ok 1 # SKIP needs the lab's $NETNS_SH and $RELAY"
	exit 0
fi
. $NETNS_SH

WORK=$(mktemp -d /tmp/migrate_faults.XXXXXX)
PORT=7000
RELAY_PORT=7001
TIMEOUT=3
PARAM=/sys/module/lm/parameters/peer_timeout
pids=

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() { # check DESCRIPTION COMMAND...
	desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}
log() { echo "# $*"; }

old_timeout=
cleanup() {
	for p in $pids; do
		kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	[ -n "$old_timeout" ] && [ -w $PARAM ] && echo "$old_timeout" > $PARAM
	netns_teardown
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ctl() { lmvm --control "$1" --command "$2"; }
field() { echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

# How lmctl migrate and lmctl receive are run, the only place (options of
# the connection, such as its security, go here). Commands, not shell
# functions: run in the background, $! must be lmctl itself (ip execs
# it), for the kill cases.
# wire_relay reads the frames it plays with: a plain connection.
LMCTL_MIGRATE="$IP netns exec $SRC_NS lmctl migrate --insecure"
LMCTL_RECEIVE="$IP netns exec $DST_NS lmctl receive --insecure"

# start_vmm NAME NS ARGS...: lmvm with control socket $WORK/NAME.sock.
start_vmm() {
	name=$1 ns=$2
	shift 2
	$IP netns exec "$ns" lmvm --control "$WORK/$name.sock" "$@" \
		> "$WORK/$name.out" 2>&1 &
	vmm_pid=$!
	pids="$pids $vmm_pid"
	i=0
	while ! ctl "$WORK/$name.sock" status > /dev/null 2>&1; do
		i=$((i + 1))
		[ $i -gt 200 ] && { log "lmvm $name did not come up"; return 1; }
		sleep 0.1
	done
}

# wait_err FILE PATTERN PID: true once FILE has PATTERN (PID still alive).
wait_err() {
	i=0
	while ! grep -q "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 150 ] || ! kill -0 "$3" 2>/dev/null; then
			sed 's/^/#   /' "$1"
			return 1
		fi
		sleep 0.1
	done
}

# wait_pid PID SECONDS: its exit status, or 124 (killed) if still running.
wait_pid() {
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt $(($2 * 10)) ]; do
		i=$((i + 1))
		sleep 0.1
	done
	if kill -0 "$1" 2>/dev/null; then
		kill -9 "$1"
		wait "$1"
		return 124
	fi
	wait "$1"
}

# phase_of VM NS: the phase of that VM's transfer, as lmctl status says.
phase_of() {
	$IP netns exec "$2" lmctl status --vm "$1" 2>/dev/null |
		sed -n 's/.*phase \([a-z-]*\),.*/\1/p'
}

# fault CASE MODE FAULT ARG [PHASE]: one migration of a 32 MiB guest, every
# page written, through the relay (FAULT stall, cut or corrupt: its
# arguments), or with lm unloaded (FAULT rmmod), lmctl migrate or the
# source VMM SIGKILLed (FAULT killmig, killsrc) when the source reaches
# phase ARG. The
# expected outcome is checked by the caller from $mig_status, $recv_status,
# $WORK/migrate.err, $WORK/recv.err and the VMMs srcCASE and dstCASE.
fault() {
	c=$1 mode=$2 kind=$3 arg=$4
	start_vmm src$c $SRC_NS --mem 32M --workload sweep --rate 0 || return 1
	src_pid=$vmm_pid
	start_vmm dst$c $DST_NS --mem 32M --incoming || return 1
	dst_pid=$vmm_pid
	rm -f "$WORK/recv.err" "$WORK/relay.err"
	$LMCTL_RECEIVE --control "$WORK/dst$c.sock" --pid $dst_pid \
		--listen $DST_ADDR:$PORT > "$WORK/recv.out" 2> "$WORK/recv.err" &
	recv_pid=$!
	pids="$pids $recv_pid"
	wait_err "$WORK/recv.err" listening $recv_pid || return 1
	to=$DST_ADDR:$PORT
	relay_pid=
	case $kind in
	rmmod|kill*) relayed= ;;
	*) relayed=1 ;;
	esac
	if [ -n "$relayed" ]; then
		$IP netns exec $DST_NS $RELAY $DST_ADDR:$RELAY_PORT \
			$DST_ADDR:$PORT $kind $arg 2> "$WORK/relay.err" &
		relay_pid=$!
		pids="$pids $relay_pid"
		wait_err "$WORK/relay.err" listening $relay_pid || return 1
		to=$DST_ADDR:$RELAY_PORT
	fi
	# Every page written: more than the sockets' buffers hold.
	sleep 1
	extra=
	[ "$mode" = live ] && extra="--max-rounds 1"
	# A fault played at a phase of the source: pre-copy paced to last
	# seconds, long enough for the polling below to see it.
	[ "$mode" = live ] && [ -z "$relayed" ] && extra="$extra --bandwidth 4M"
	$LMCTL_MIGRATE --pid $src_pid --control "$WORK/src$c.sock" --to $to \
		--mode $mode $extra > "$WORK/migrate.out" \
		2> "$WORK/migrate.err" &
	mig_pid=$!
	pids="$pids $mig_pid"
	if [ -z "$relayed" ]; then
		vm=
		i=0
		# Up to 30 s: a loaded machine is slow to get there.
		while [ $i -lt 1500 ]; do
			[ -z "$vm" ] && vm=$(in_src lmctl list 2>/dev/null |
				sed -n "s/^vm \([0-9]*\): pid $src_pid,.*/\1/p")
			[ -n "$vm" ] && [ "$(phase_of "$vm" $SRC_NS)" = "$arg" ] &&
				break
			# Over before the phase was seen: the case fails below.
			kill -0 $mig_pid 2>/dev/null || break
			i=$((i + 1))
			sleep 0.02
		done
		log "source in phase $(phase_of "$vm" $SRC_NS): $kind"
		case $kind in
		rmmod)
			rmmod_out=$(rmmod lm 2>&1)
			rmmod_status=$?
			log "rmmod lm: status $rmmod_status $rmmod_out, refcnt $(cat /sys/module/lm/refcnt 2>/dev/null), phase $(phase_of "$vm" $SRC_NS)"
			;;
		killmig) kill -9 $mig_pid ;;
		killsrc) kill -9 $src_pid ;;
		esac
	fi
	wait_pid $mig_pid 30
	mig_status=$?
	# Nothing ever reached the destination: it still listens.
	[ "$kind" = blackhole ] && kill $recv_pid 2>/dev/null
	wait_pid $recv_pid 15
	recv_status=$?
	[ -n "$relay_pid" ] && kill -9 $relay_pid 2>/dev/null
	sed 's/^/# relay: /' "$WORK/relay.err" 2>/dev/null
	sed 's/^/# migrate: /' "$WORK/migrate.err"
	sed 's/^/# receive: /' "$WORK/recv.err"
	if [ "$kind" = rmmod ] && [ ! -d /sys/module/lm ]; then
		insmod "$LM_KO" && echo $TIMEOUT > $PARAM
	fi
}

# source_resumed CASE: the source runs again, its guest writing, its
# memory intact; the destination never ran.
source_resumed() {
	c=$1
	i=0
	while [ "$(field state "$(ctl "$WORK/src$c.sock" status)")" != running ] &&
	      [ $i -lt 100 ]; do
		i=$((i + 1))
		sleep 0.1
	done
	s1=$(ctl "$WORK/src$c.sock" status)
	sleep 0.5
	s2=$(ctl "$WORK/src$c.sock" status)
	log "source: $s2"
	check "$c: the source runs again" \
		[ "$(field state "$s2")" = running -a \
		  "$(field pages "$s2")" -gt "$(field pages "$s1")" ]
	verify=$(ctl "$WORK/src$c.sock" verify)
	check "$c: the source's memory is intact ($verify)" [ "${verify%% *}" = ok ]
	check "$c: the destination never ran" \
		[ "$(field state "$(ctl "$WORK/dst$c.sock" status)")" != running ]
}

finish() {
	ctl "$WORK/src$1.sock" quit > /dev/null 2>&1
	ctl "$WORK/dst$1.sock" quit > /dev/null 2>&1
	wait $src_pid $dst_pid 2>/dev/null
	# A failed lmctl receive detaches its VM; this finds any it left.
	left=$(in_dst lmctl list 2>/dev/null | grep -c "pid $dst_pid,")
	check "$1: nothing left attached" [ "$left" = 0 ]
}

echo "TAP version 13"
if [ ! -c /dev/kvm ] || ! command -v lmvm > /dev/null ||
   ! command -v lmctl > /dev/null || [ ! -w $PARAM ]; then
	echo "1..1"
	echo "ok 1 # SKIP needs /dev/kvm, lmvm, lmctl and lm loaded"
	exit 0
fi
if ! netns_setup; then
	echo "Bail out! cannot set up the namespaces and veth pair"
	exit 1
fi
old_timeout=$(cat $PARAM)
echo $TIMEOUT > $PARAM

# stall CASE MODE TYPE PHASE: the relay stops at the first frame of TYPE,
# in PHASE of the source: both sides time out, the source runs again.
stall() {
	fault "$1" "$2" stall "$3" || { not_ok "$1: setup"; return; }
	check "$1: stalled in $4 ($2): lmctl migrate fails ($mig_status)" \
		[ $mig_status -eq 1 ]
	check "$1: the source says the peer stopped answering, in $4" \
		grep -q "in phase $4: The peer stopped answering (timeout)" \
		"$WORK/migrate.err"
	check "$1: lmctl receive fails too ($recv_status)" [ $recv_status -eq 1 ]
	source_resumed "$1"
	finish "$1"
}

# cut CASE MODE TYPE PHASE: the connection reset at the first frame of
# TYPE, before the commit point: both fail, the source runs again.
cut() {
	fault "$1" "$2" cut "$3" || { not_ok "$1: setup"; return; }
	check "$1: cut in $4 ($2): lmctl migrate fails ($mig_status)" \
		[ $mig_status -eq 1 ]
	check "$1: the source says the connection was lost, in $4" \
		grep -q "in phase $4: The connection to the peer was lost (connection)" \
		"$WORK/migrate.err"
	check "$1: lmctl receive fails too ($recv_status)" [ $recv_status -eq 1 ]
	source_resumed "$1"
	finish "$1"
}

# corrupt CASE MODE WHAT PHASE: a flipped bit: the destination aborts
# (crc), the source reports it and runs again.
corrupt() {
	fault "$1" "$2" corrupt "$3" || { not_ok "$1: setup"; return; }
	check "$1: the relay corrupted a frame" grep -q corrupted "$WORK/relay.err"
	check "$1: corrupted in $4 ($2): lmctl migrate fails ($mig_status)" \
		[ $mig_status -eq 1 ]
	check "$1: the destination found it (crc)" \
		grep -q "CRC mismatch (crc)" "$WORK/recv.err"
	check "$1: the source reports the destination's ABORT, in $4" \
		grep -q "in phase $4: Peer aborted: .*(crc)" \
		"$WORK/migrate.err"
	check "$1: lmctl receive fails ($recv_status)" [ $recv_status -eq 1 ]
	source_resumed "$1"
	finish "$1"
}

# unload CASE MODE PHASE: rmmod lm when the source is in PHASE, before
# the switchover: the transfers are cancelled, the source never paused.
unload() {
	fault "$1" "$2" rmmod "$3" || { not_ok "$1: setup"; return; }
	check "$1: rmmod lm in $3 ($2) succeeds ($rmmod_out)" \
		[ $rmmod_status -eq 0 ]
	check "$1: lmctl migrate fails ($mig_status)" [ $mig_status -eq 1 ]
	check "$1: and says lm was unloaded" \
		grep -q "the lm module was unloaded" "$WORK/migrate.err"
	check "$1: lmctl receive fails ($recv_status)" [ $recv_status -eq 1 ]
	source_resumed "$1"
	finish "$1"
}

# unload_refused CASE MODE PHASE: rmmod lm when the source is in PHASE,
# paused for the switchover: refused, and the migration goes on.
unload_refused() {
	fault "$1" "$2" rmmod "$3" || { not_ok "$1: setup"; return; }
	check "$1: rmmod lm in $3 ($2) is refused ($rmmod_out)" \
		[ $rmmod_status -ne 0 -a -d /sys/module/lm ]
	check "$1: the migration completes ($mig_status, $recv_status)" \
		[ $mig_status -eq 0 -a $recv_status -eq 0 ]
	check "$1: the destination runs the VM" \
		[ "$(field state "$(ctl "$WORK/dst$1.sock" status)")" = running ]
	check "$1: the source stays paused" \
		[ "$(field state "$(ctl "$WORK/src$1.sock" status)")" = paused ]
	verify=$(ctl "$WORK/dst$1.sock" verify)
	check "$1: every page stamp verifies at the destination ($verify)" \
		[ "${verify%% *}" = ok ]
	finish "$1"
	rmmod lm
	check "$1: once the transfer ended, rmmod lm works" \
		[ ! -d /sys/module/lm ]
	insmod "$LM_KO" && echo $TIMEOUT > $PARAM
}

# kill_migrate CASE MODE PHASE: lmctl migrate SIGKILLed in PHASE, before
# the commit point: lm cancels (its netlink socket closed), the guardian
# resumes the source, both sides fail.
kill_migrate() {
	fault "$1" "$2" killmig "$3" || { not_ok "$1: setup"; return; }
	check "$1: lmctl migrate killed in $3 ($2) ($mig_status)" \
		[ $mig_status -eq 137 ]
	check "$1: lmctl receive fails ($recv_status)" [ $recv_status -eq 1 ]
	source_resumed "$1"
	finish "$1"
}

stall a quick PAGES stop-and-copy
corrupt b live data stop-and-copy
unload c live pre-copy
if [ -n "${FAULTS_ALL:-}" ]; then
	stall d live PAGES pre-copy
	stall e quick CONFIG config
	corrupt f quick data stop-and-copy
	corrupt g live desc pre-copy
	corrupt h quick state commit
	unload_refused i quick stop-and-copy
	stall k quick HELLO handshake
	cut l live PAGES pre-copy
	cut m quick PAGES stop-and-copy
	cut t quick HELLO handshake
	cut u live CONFIG config
	# The destination host down: SYNs unanswered.
	fault v quick blackhole || not_ok "v: setup"
	check "v: SYNs dropped: lmctl migrate fails ($mig_status)" \
		[ $mig_status -eq 1 ]
	check "v: and says no answer came, the VM never paused" \
		grep -q "in phase connecting: No answer from the destination within 10 s.*the VM was not paused" \
		"$WORK/migrate.err"
	source_resumed v
	finish v
	kill_migrate p live pre-copy
	kill_migrate q quick stop-and-copy

	# The source VMM killed in the pre-copy: the VM is gone with it; the
	# transfer is cancelled and nothing is left behind.
	fault r live killsrc pre-copy || not_ok "r: setup"
	check "r: source VMM killed in pre-copy: lmctl migrate fails ($mig_status)" \
		[ $mig_status -eq 1 ]
	check "r: and says the VMM exited" grep -q "VMM closed its socket" \
		"$WORK/migrate.err"
	check "r: lmctl receive fails ($recv_status)" [ $recv_status -eq 1 ]
	check "r: the destination never ran" \
		[ "$(field state "$(ctl "$WORK/dstr.sock" status)")" != running ]
	finish r

	# Killed in the stop-and-copy: lm holds its memory and has its
	# state, the migration completes and the VM lives on there.
	fault s quick killsrc stop-and-copy || not_ok "s: setup"
	check "s: source VMM killed in stop-and-copy: the migration completes ($mig_status, $recv_status)" \
		[ $mig_status -eq 0 -a $recv_status -eq 0 ]
	check "s: the destination runs the VM" \
		[ "$(field state "$(ctl "$WORK/dsts.sock" status)")" = running ]
	verify=$(ctl "$WORK/dsts.sock" verify)
	check "s: every page stamp verifies at the destination ($verify)" \
		[ "${verify%% *}" = ok ]
	finish s

	# Past the commit point: COMMIT held by the relay. The destination
	# never gets it and gives up; the source cannot know that, keeps the
	# VM paused and exits 3.
	fault j quick stall COMMIT || not_ok "j: setup"
	check "j: stalled at COMMIT: lmctl migrate exits 3 ($mig_status)" \
		[ $mig_status -eq 3 ]
	check "j: and says the destination may run the VM" \
		grep -q "may run the VM" "$WORK/migrate.err"
	check "j: the source stays paused" \
		[ "$(field state "$(ctl "$WORK/srcj.sock" status)")" = paused ]
	check "j: lmctl receive fails: it never got COMMIT ($recv_status)" \
		[ $recv_status -eq 1 ]
	check "j: the destination never ran" \
		[ "$(field state "$(ctl "$WORK/dstj.sock" status)")" != running ]
	finish j

	# The connection reset once COMMIT is sent (the relay took it): the
	# same uncertainty, found at once.
	fault o live cut COMMIT || not_ok "o: setup"
	check "o: cut at COMMIT: lmctl migrate exits 3 ($mig_status)" \
		[ $mig_status -eq 3 ]
	check "o: the source stays paused" \
		[ "$(field state "$(ctl "$WORK/srco.sock" status)")" = paused ]
	check "o: lmctl receive fails ($recv_status)" [ $recv_status -eq 1 ]
	check "o: the destination never ran" \
		[ "$(field state "$(ctl "$WORK/dsto.sock" status)")" != running ]
	finish o
fi

echo "1..$n"
[ $failed -eq 0 ]

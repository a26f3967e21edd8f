#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The migration's connection is authenticated and encrypted (TLS 1.3 with
# a pre-shared key, then kTLS), and peers lmctl receive must not accept
# are refused before lm sees them. One lmctl receive, --allow-from the
# source's address, faces in turn:
#
#  1. a source with the right identity but a wrong key,
#  2. a source with a key of another identity,
#  3. a source with no key at all (--insecure, plain TCP),
#  4. a source with the right key from an address --allow-from does not
#     name (the destination host itself);
#
# each is refused with a message on both sides, the source VM keeps
# running, lmctl receive keeps waiting and its VM stays untouched. Then
#  5. the right source through a relay that records its handshake, then
#     cuts the connection (a destination of its own accepts it);
#  6. the right source, directly: an encrypted live migration of a 1 GiB
#     guest; the destination's memory before resume equals the source's
#     at pause, its workload verifies there, and both
#     namespaces' kTLS counters show the stream was kTLS;
#  7. the recorded handshake replayed to a fresh destination: refused in
#     the handshake, nothing reaches lm, that VM untouched;
#  8. migrate and receive without --psk-file or --insecure, and with a key
#     file others may read, refuse to start.
#
# Output is TAP.

NETNS_SH=/lib/lab/netns.sh
if [ ! -r $NETNS_SH ]; then
	echo "TAP version 13"
	echo "1..1"
	echo "ok 1 # SKIP needs the lab's $NETNS_SH"
	exit 0
fi
. $NETNS_SH

# The guest that moves is the issue's 1 GiB; the others only handshake.
MEM=1G
SMALL=32M
PORT=7000
RELAY_PORT=7100
REC_PORT=7001
WORK=$(mktemp -d /tmp/tls_test.XXXXXX)
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
field() { echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
ctl() { lmvm --control "$WORK/$1.sock" --command "$2"; }

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

# start_vmm NAME NS ARGS...: an lmvm; its pid in $vmm_pid.
start_vmm() {
	name=$1 ns=$2
	shift 2
	$IP netns exec "$ns" lmvm --control "$WORK/$name.sock" "$@" \
		> "$WORK/$name.out" 2>&1 &
	vmm_pid=$!
	pids="$pids $vmm_pid"
	i=0
	while ! ctl "$name" status > /dev/null 2>&1; do
		i=$((i + 1))
		[ $i -gt 200 ] && return 1
		sleep 0.1
	done
}

# start_receive NAME PORT: lmctl receive into VMM NAME, only from the
# source's address; its pid in $recv_pid, its stderr in $WORK/NAME.err.
start_receive() {
	$IP netns exec $DST_NS lmctl receive --control "$WORK/$1.sock" \
		--listen $DST_ADDR:$2 --psk-file "$WORK/psk" \
		--allow-from $SRC_ADDR/32 --checksum \
		> "$WORK/$1.recv" 2> "$WORK/$1.err" &
	recv_pid=$!
	pids="$pids $recv_pid"
	i=0
	while ! grep -q listening "$WORK/$1.err" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 100 ] && return 1
		sleep 0.1
	done
}

# refused_count NAME: how many connections receive NAME refused so far.
refused_count() { grep -c "^lmctl: refused" "$WORK/$1.err"; }

# wait_refused NAME COUNT: until receive NAME refused COUNT connections.
wait_refused() {
	i=0
	while [ "$(refused_count "$1")" -lt "$2" ] && [ $i -lt 150 ]; do
		i=$((i + 1))
		sleep 0.1
	done
	[ "$(refused_count "$1")" -ge "$2" ]
}

# attempt NS KEYARGS...: lmctl migrate of the source from namespace NS with
# those key options, to the destination; its exit status in $status.
attempt() {
	ns=$1
	shift
	$IP netns exec "$ns" lmctl migrate --pid $src_pid \
		--control "$WORK/src.sock" --to $DST_ADDR:$PORT --mode live \
		"$@" > "$WORK/migrate.out" 2> "$WORK/migrate.err"
	status=$?
	sed 's/^/# migrate: /' "$WORK/migrate.err"
	}

# untouched NAME: VMM NAME still waits for its guest, which never ran.
untouched() {
	s=$(ctl "$1" status)
	[ "$(field state "$s")" = incoming ] && [ "$(field pages "$s")" = 0 ]
}

# source_runs: the source VM runs and its workload goes on.
source_runs() {
	s1=$(ctl src status)
	sleep 0.5
	s2=$(ctl src status)
	[ "$(field state "$s2")" = running ] &&
		[ "$(field pages "$s2")" -gt "$(field pages "$s1")" ]
}

# tls_stat NS NAME: a counter of /proc/net/tls_stat in namespace NS.
tls_stat() {
	$IP netns exec "$1" cat /proc/net/tls_stat | sed -n "s/^$2[[:space:]]*//p"
}

key() { od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; }

echo "TAP version 13"
if [ ! -c /dev/kvm ] || ! command -v lmvm > /dev/null ||
   ! command -v lmctl > /dev/null || ! command -v lm-relay > /dev/null; then
	echo "1..1"
	echo "ok 1 # SKIP needs /dev/kvm, lmvm, lmctl and lm-relay"
	exit 0
fi
if ! netns_setup; then
	echo "Bail out! cannot set up the namespaces and veth pair"
	exit 1
fi
umask 077
echo "lab:$(key)" > "$WORK/psk"
echo "lab:$(key)" > "$WORK/wrong"
echo "stranger:$(key)" > "$WORK/stranger"
umask 022

start_vmm src $SRC_NS --mem $MEM --workload sweep --rate 1 ||
	{ echo "Bail out! lmvm src"; exit 1; }
src_pid=$vmm_pid
start_vmm dst $DST_NS --mem $MEM --incoming ||
	{ echo "Bail out! lmvm dst"; exit 1; }
start_receive dst $PORT || { echo "Bail out! lmctl receive"; exit 1; }
dst_recv=$recv_pid

# --- 1-4: refused before a byte of the migration.
attempt $SRC_NS --psk-file "$WORK/wrong"
check "1: a wrong key fails lmctl migrate ($status)" [ $status -eq 1 ]
check "1: it says the handshake failed" \
	grep -q "TLS handshake with $DST_ADDR:$PORT failed" "$WORK/migrate.err"
check "1: lmctl receive refuses the source" wait_refused dst 1

attempt $SRC_NS --psk-file "$WORK/stranger"
check "2: a key of another identity fails lmctl migrate ($status)" \
	[ $status -eq 1 ]
check "2: lmctl receive names the identity it refused" wait_refused dst 2
check "2: ..." grep -q "offered the key identity 'stranger', not ours" \
	"$WORK/dst.err"

attempt $SRC_NS --insecure
check "3: a source without a key fails ($status)" [ $status -eq 1 ]
check "3: lmctl receive refuses it" wait_refused dst 3

attempt $DST_NS --psk-file "$WORK/psk"
check "4: the right key from another address fails ($status)" \
	[ $status -eq 1 ]
check "4: lmctl receive refuses it by its address" wait_refused dst 4
check "4: ..." grep -q "refused a connection from $DST_ADDR:.*--allow-from" \
	"$WORK/dst.err"
sed 's/^/# receive: /' "$WORK/dst.err"
check "1-4: the source VM runs on" source_runs
check "1-4: lmctl receive still waits" kill -0 $dst_recv
check "1-4: the destination VM never ran, no page written" untouched dst
dst_id=$(sed -n 's/^lmctl: vm \([0-9]*\) listening.*/\1/p' "$WORK/dst.err")
in_dst lmctl status --vm "$dst_id" > "$WORK/status.out" 2>&1
status=$?
sed 's/^/# status: /' "$WORK/status.out"
no_transfer() {
	[ -n "$dst_id" ] && [ $status -ne 0 ] &&
		grep -q "no transfer" "$WORK/status.out"
}
check "1-4: lm never started a transfer of the destination VM $dst_id" \
	no_transfer

# --- 5. The right source through a relay that records its handshake (its
# ClientHello and Finished records) and then cuts both connections: a
# destination of its own accepts that handshake.
start_vmm dst0 $DST_NS --mem $SMALL --incoming ||
	{ echo "Bail out! lmvm dst0"; exit 1; }
start_receive dst0 $REC_PORT || { echo "Bail out! lmctl receive dst0"; exit 1; }
rec_recv=$recv_pid
in_src lm-relay record $RELAY_PORT $DST_ADDR $REC_PORT "$WORK/recording" 2 \
	> "$WORK/relay.out" 2>&1 &
pids="$pids $!"
i=0
while ! grep -q listening "$WORK/relay.out" 2>/dev/null && [ $i -lt 50 ]; do
	i=$((i + 1))
	sleep 0.1
done
attempt_to() { # attempt_to ADDR:PORT ARGS...: as attempt, from the source
	to=$1
	shift
	in_src lmctl migrate --pid $src_pid --control "$WORK/src.sock" \
		--to $to "$@" > "$WORK/migrate.out" 2> "$WORK/migrate.err"
	status=$?
	sed 's/^/# migrate: /' "$WORK/migrate.out" "$WORK/migrate.err"
}
attempt_to 127.0.0.1:$RELAY_PORT --psk-file "$WORK/psk" --mode quick
i=0
while kill -0 $rec_recv 2>/dev/null && [ $i -lt 100 ]; do
	i=$((i + 1))
	sleep 0.1
done
kill $rec_recv 2>/dev/null
wait $rec_recv
sed 's/^/# receive: /' "$WORK/dst0.err"
log "recorded $(wc -c < "$WORK/recording") bytes of the source's handshake"
check "5: the recorded handshake was accepted" \
	[ "$(refused_count dst0)" = 0 ]
check "5: cut after it, the migration fails ($status)" [ $status -eq 1 ]

# --- 6. The right source, directly: an encrypted live migration of 1 GiB.
tx0=$(tls_stat $SRC_NS TlsTxSw)
rx0=$(tls_stat $DST_NS TlsRxSw)
attempt_to $DST_ADDR:$PORT --psk-file "$WORK/psk" --mode live \
	--max-downtime 1s
i=0
while kill -0 $dst_recv 2>/dev/null && [ $i -lt 300 ]; do
	i=$((i + 1))
	sleep 0.1
done
wait $dst_recv
recv_status=$?
sed 's/^/# receive: /' "$WORK/dst.recv"
check "6: the encrypted live migration of 1 GiB succeeds ($status)" [ $status -eq 0 ]
check "6: lmctl receive succeeds ($recv_status)" [ $recv_status -eq 0 ]
src_sum=$(ctl src checksum | sed 's/^ok //')
dst_sum=$(sed -n 's/^checksum before resume: //p' "$WORK/dst.recv")
log "source checksum at pause: $src_sum; destination before resume: $dst_sum"
check "6: destination memory equals the source's at pause" \
	[ -n "$src_sum" -a "$src_sum" = "$dst_sum" ]
check "6: the destination runs" \
	[ "$(field state "$(ctl dst status)")" = running ]
verify=$(ctl dst verify)
log "destination verify: $verify"
check "6: every page stamp verifies at the destination" \
	[ "${verify%% *}" = ok ]
tx1=$(tls_stat $SRC_NS TlsTxSw)
rx1=$(tls_stat $DST_NS TlsRxSw)
log "kTLS sessions: source TX $tx0 -> $tx1, destination RX $rx0 -> $rx1"
check "6: the source sent with kTLS" [ "$tx1" -gt "$tx0" ]
check "6: the destination received with kTLS" [ "$rx1" -gt "$rx0" ]

# --- 7. The recorded handshake replayed to a fresh destination.
ctl src quit > /dev/null
start_vmm dst2 $DST_NS --mem $SMALL --incoming ||
	{ echo "Bail out! lmvm dst2"; exit 1; }
start_receive dst2 $PORT || { echo "Bail out! lmctl receive dst2"; exit 1; }
in_src lm-relay replay "$WORK/recording" $DST_ADDR $PORT > /dev/null 2>&1 &
pids="$pids $!"
check "7: the replayed handshake is refused" wait_refused dst2 1
sed 's/^/# receive: /' "$WORK/dst2.err"
check "7: lmctl receive still waits" kill -0 $recv_pid
check "7: the fresh destination VM never ran, no page written" untouched dst2
kill $recv_pid
wait $recv_pid 2>/dev/null

# --- 8. Nothing starts without a key or an explicit --insecure.
lmctl migrate --control "$WORK/dst2.sock" --to $DST_ADDR:$PORT \
	> /dev/null 2> "$WORK/nokey.err"
status=$?
check "8: migrate without --psk-file or --insecure refuses ($status)" \
	[ $status -ne 0 ]
check "8: ..." grep -q "no --psk-file" "$WORK/nokey.err"
lmctl receive --control "$WORK/dst2.sock" --listen $DST_ADDR:$PORT \
	> /dev/null 2> "$WORK/nokey.err"
status=$?
check "8: receive without --psk-file or --insecure refuses ($status)" \
	[ $status -ne 0 ]
chmod 644 "$WORK/psk"
lmctl receive --control "$WORK/dst2.sock" --listen $DST_ADDR:$PORT \
	--psk-file "$WORK/psk" > /dev/null 2> "$WORK/mode.err"
status=$?
sed 's/^/# /' "$WORK/mode.err"
check "8: a key file others may read is refused ($status)" \
	grep -q "may be read by others" "$WORK/mode.err"

echo "1..$n"
[ $failed -eq 0 ]

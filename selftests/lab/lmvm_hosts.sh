# SPDX-License-Identifier: GPL-2.0
#
# lmvm guests on the lab's two hosts (netns.sh) and one lmctl migration
# between them, as the benchmarks run it. Sourced after netns.sh, with
# $WORK a directory of the caller's; installed in the lab VM as
# /lib/lab/lmvm_hosts.sh.
#
#   hosts_die MESSAGE       print "NAME: MESSAGE" ($0's name), exit 1
#   hosts_start_vmm NAME NS ARGS...
#                           an lmvm serving $WORK/NAME.sock, started with
#                           ARGS in namespace NS; its pid in $vmm_pid
#   hosts_ctl NAME CMD      a control command to lmvm NAME
#   hosts_field KEY LINE    the value of KEY=VALUE in LINE
#   hosts_migrate SRC DST BOTH... [-- MIGRATE...]
#                           lmctl receive for DST and lmctl migrate of SRC,
#                           the arguments BOTH on both (e.g. --insecure),
#                           MIGRATE and $HOSTS_MIGRATE_ARGS on migrate only
#                           (e.g. --mode quick, --compress zstd); on success
#                           sets $mig_mib (MiB of page data as sent),
#                           $mig_total, $mig_downtime, $mig_tx_cpu and
#                           $mig_rx_cpu (seconds), with compression
#                           $mig_data_mib and $mig_wire_mib (page data
#                           before and after it), else exits
#   hosts_stop NAME...      quit those lmvms and wait for them
#   hosts_cleanup           kill every process started ($hosts_pids),
#                           delete both hosts and $WORK: the caller's EXIT
#                           trap

HOSTS_PORT=7000
hosts_pids=

hosts_die() { echo "${0##*/}: $*" >&2; exit 1; }
hosts_ctl() { lmvm --control "$WORK/$1.sock" --command "$2"; }
hosts_field() { echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

hosts_start_vmm() {
	name=$1 ns=$2
	shift 2
	$IP netns exec "$ns" lmvm --control "$WORK/$name.sock" "$@" \
		> "$WORK/$name.out" 2>&1 &
	vmm_pid=$!
	hosts_pids="$hosts_pids $vmm_pid"
	eval "${name}_pid=$vmm_pid"
	i=0
	until hosts_ctl "$name" status > /dev/null 2>&1; do
		i=$((i + 1))
		[ $i -gt 300 ] &&
			hosts_die "lmvm $name did not start: $(cat "$WORK/$name.out")"
		sleep 0.1
	done
}

hosts_migrate() {
	src=$1 dst=$2
	shift 2
	both=
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		both="$both $1"
		shift
	done
	[ "${1:-}" = -- ] && shift
	eval "spid=\$${src}_pid dpid=\$${dst}_pid"
	rm -f "$WORK/recv.err"
	# shellcheck disable=SC2086 # $both is words without blanks
	$IP netns exec "$DST_NS" lmctl receive --pid "$dpid" \
		--control "$WORK/$dst.sock" --listen "$DST_ADDR:$HOSTS_PORT" \
		$both > "$WORK/recv.out" 2> "$WORK/recv.err" &
	recv_pid=$!
	hosts_pids="$hosts_pids $recv_pid"
	i=0
	until grep -q listening "$WORK/recv.err" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 100 ] &&
			hosts_die "lmctl receive did not start: $(cat "$WORK/recv.err")"
		sleep 0.1
	done
	# shellcheck disable=SC2086 # as above, and HOSTS_MIGRATE_ARGS
	$IP netns exec "$SRC_NS" lmctl migrate --pid "$spid" \
		--control "$WORK/$src.sock" --to "$DST_ADDR:$HOSTS_PORT" $both "$@" \
		${HOSTS_MIGRATE_ARGS:-} \
		> "$WORK/migrate.out" 2> "$WORK/migrate.err" ||
		hosts_die "migration failed: $(cat "$WORK/migrate.err")"
	wait $recv_pid ||
		hosts_die "lmctl receive failed: $(cat "$WORK/recv.err")"
	mig_mib=$(sed -n 's/.* \([0-9.]*\) MiB sent.*/\1/p' "$WORK/migrate.out")
	mig_total=$(sed -n 's/^total \([0-9.]*\) s.*/\1/p' "$WORK/migrate.out")
	mig_downtime=$(sed -n 's/.*downtime \([0-9.]*\) s.*/\1/p' "$WORK/migrate.out")
	mig_tx_cpu=$(sed -n 's/.*send thread CPU \([0-9.]*\) s.*/\1/p' "$WORK/migrate.out")
	mig_rx_cpu=$(sed -n 's/.*receive thread CPU \([0-9.]*\) s.*/\1/p' "$WORK/recv.out")
	mig_rounds=$(sed -n 's/.* \([0-9]*\) rounds\{0,1\}$/\1/p' "$WORK/migrate.out")
	mig_data_mib=$(sed -n 's/^page data \([0-9.]*\) MiB.*/\1/p' "$WORK/migrate.out")
	mig_wire_mib=$(sed -n 's/^page data .*, \([0-9.]*\) MiB on the wire.*/\1/p' "$WORK/migrate.out")
	if [ -z "$mig_mib" ] || [ -z "$mig_total" ] || [ -z "$mig_downtime" ] ||
	   [ -z "$mig_tx_cpu" ] || [ -z "$mig_rx_cpu" ]; then
		hosts_die "cannot read the figures: $(cat "$WORK/migrate.out" "$WORK/recv.out")"
	fi
}

hosts_stop() {
	for name in "$@"; do
		hosts_ctl "$name" quit > /dev/null 2>&1
		eval "p=\$${name}_pid"
		wait "$p" 2>/dev/null
	done
}

hosts_cleanup() {
	for p in $hosts_pids; do
		kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	netns_teardown
	rm -rf "$WORK"
}

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Convergence: live migrations of an lmvm guest whose memory is full of
# data (--fill), dirtying it with the sweep workload at rising rates, up
# to and past what the link carries, with and without --auto-converge,
# between the lab's two hosts over plain TCP (the veth pair). The runs
# are interleaved: every rate and mode once, then again, RUNS times.
#
# Prints, per rate and mode, the median rounds, total time, downtime and
# MiB sent. A rate past the link's bandwidth cannot converge by rounds
# alone: without auto-converge the migration switches over at
# --max-rounds with what is still dirty; with it, lmvm's vCPUs are
# throttled until a round leaves little enough.
#
# Usage: convergence_bench.sh   Environment: CONV_BENCH_MEM (256M),
# CONV_BENCH_RATES ("5 20 50 0", MiB/s; 0 is as fast as the guest can),
# CONV_BENCH_RUNS (5), CONV_BENCH_MAX_ROUNDS (10), CONV_BENCH_BANDWIDTH
# (unset: the link's own; e.g. 8M paces the pre-copy to 8 MiB/s, which
# the lab's guests can outrun: under TCG they dirty at most a few tens of
# MiB/s, below what the veth pair carries).

[ -r /lib/lab/lmvm_hosts.sh ] || { echo "convergence_bench: needs the lab's /lib/lab" >&2; exit 1; }
# shellcheck source=../selftests/lab/netns.sh
. /lib/lab/netns.sh
# shellcheck source=../selftests/lab/lmvm_hosts.sh
. /lib/lab/lmvm_hosts.sh

MEM=${CONV_BENCH_MEM:-256M}
# Blanks or commas between rates (the lab's kernel command line has no
# blanks in a value).
RATES=$(echo "${CONV_BENCH_RATES:-5 20 50 0}" | tr , ' ')
RUNS=${CONV_BENCH_RUNS:-5}
MAX_ROUNDS=${CONV_BENCH_MAX_ROUNDS:-10}
BANDWIDTH=${CONV_BENCH_BANDWIDTH:+--bandwidth $CONV_BENCH_BANDWIDTH}
WORK=$(mktemp -d /tmp/convergence_bench.XXXXXX)

trap hosts_cleanup EXIT
trap 'exit 1' INT TERM

# run_once RATE MODE: one live migration, MODE plain or auto; appends
# "ROUNDS TOTAL DOWNTIME MIB" to $WORK/RATE.MODE.
run_once() {
	rate=$1 mode=$2 extra=
	[ "$mode" = auto ] && extra=--auto-converge
	hosts_start_vmm src "$SRC_NS" --mem "$MEM" --fill --workload sweep \
		--rate "$rate"
	hosts_start_vmm dst "$DST_NS" --mem "$MEM" --incoming
	# shellcheck disable=SC2086 # $extra and $BANDWIDTH are words or none
	hosts_migrate src dst --insecure -- --mode live \
		--max-rounds "$MAX_ROUNDS" $extra $BANDWIDTH
	echo "${mig_rounds:-1} $mig_total $mig_downtime $mig_mib" >> "$WORK/$rate.$mode"
	echo "# rate $rate $mode: ${mig_rounds:-1} rounds, total $mig_total s, downtime $mig_downtime s, $mig_mib MiB"
	hosts_stop src dst
}

# median COLUMN FILE
median() {
	awk -v c="$1" '{ print $c }' "$2" | sort -n |
		awk '{ v[NR] = $1 } END { printf "%s", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

netns_setup || hosts_die "cannot set up the two hosts"
r=0
while [ $r -lt "$RUNS" ]; do
	for rate in $RATES; do
		for mode in plain auto; do
			run_once "$rate" "$mode"
		done
	done
	r=$((r + 1))
done

echo "# convergence of live migrations, $MEM guest full of data, plain TCP over the veth pair, --max-rounds $MAX_ROUNDS ${BANDWIDTH:-(link's bandwidth)}; medians of $RUNS runs (rate 0: as fast as the guest writes)"
printf '%-10s %-6s %7s %9s %10s %9s\n' "MiB/s" mode rounds "total s" "downtime s" "MiB sent"
for rate in $RATES; do
	for mode in plain auto; do
		f=$WORK/$rate.$mode
		printf '%-10s %-6s %7s %9s %10s %9s\n' "$rate" "$mode" \
			"$(median 1 "$f")" "$(median 2 "$f")" \
			"$(median 3 "$f")" "$(median 4 "$f")"
	done
done

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Compression for a slow link: the same guest live-migrated by lmctl
# between the lab's two hosts (network namespaces joined by a veth pair)
# over plain TCP with the pre-copy held to --bandwidth RATE, in turn with
# --compress zstd and without, interleaved (the order alternates), RUNS
# times each.
#
# The guest (lmvm, MEM) fills its memory before the migration starts with
# --fill=FILL: "mixed" by default, every other 2 MiB random (zstd cannot
# shrink it: those batches go uncompressed) and the rest pages of random
# data and pages of one word of ones in turn (compressible about 2x), an
# honest mix rather than the best case; "ones" is the best case. Idle, or
# dirtying LOAD MiB/s (sweep). The pacing counts the bytes on the wire,
# so compression lets the pre-copy move more memory per second through
# the same link. The stop-and-copy is not paced (the guest is paused):
# downtime is the final dirty set over the veth, with compression's CPU.
#
# Prints, per kind, the medians of total time, downtime, rounds, page
# data before and after compression and MiB sent, and the ratios
# compressed / uncompressed of the medians.
#
# Usage: compress_bench.sh   Environment: COMPRESS_BENCH_MEM (64M),
# COMPRESS_BENCH_RATE (4M), COMPRESS_BENCH_FILL (mixed),
# COMPRESS_BENCH_RUNS (5), COMPRESS_BENCH_LOADS ("idle 1": idle, then a
# sweep of 1 MiB/s), COMPRESS_BENCH_LEVEL (1).

[ -r /lib/lab/lmvm_hosts.sh ] || { echo "compress_bench: needs the lab's /lib/lab" >&2; exit 1; }
# shellcheck source=../selftests/lab/netns.sh
. /lib/lab/netns.sh
# shellcheck source=../selftests/lab/lmvm_hosts.sh
. /lib/lab/lmvm_hosts.sh

MEM=${COMPRESS_BENCH_MEM:-64M}
RATE=${COMPRESS_BENCH_RATE:-4M}
FILL=${COMPRESS_BENCH_FILL:-mixed}
RUNS=${COMPRESS_BENCH_RUNS:-5}
LOADS=${COMPRESS_BENCH_LOADS:-idle 1}
LEVEL=${COMPRESS_BENCH_LEVEL:-1}
WORK=$(mktemp -d /tmp/compress_bench.XXXXXX)

trap hosts_cleanup EXIT
trap 'exit 1' INT TERM

# run_once LOAD none|zstd: one migration; appends "TOTAL DOWNTIME ROUNDS
# DATA_MIB WIRE_MIB MIB" to $WORK/LOAD.METHOD.
run_once() {
	load=$1 method=$2
	if [ "$load" = idle ]; then
		work=
	else
		work="--workload sweep --rate $load"
	fi
	# shellcheck disable=SC2086 # $work is words
	hosts_start_vmm src "$SRC_NS" --mem "$MEM" --fill="$FILL" $work
	hosts_start_vmm dst "$DST_NS" --mem "$MEM" --incoming
	if [ "$method" = zstd ]; then
		HOSTS_MIGRATE_ARGS="--mode live --bandwidth $RATE --compress zstd:$LEVEL"
	else
		HOSTS_MIGRATE_ARGS="--mode live --bandwidth $RATE"
		mig_data_mib= mig_wire_mib=
	fi
	hosts_migrate src dst --insecure
	[ -n "$mig_data_mib" ] || mig_data_mib=$mig_mib mig_wire_mib=$mig_mib
	echo "$mig_total $mig_downtime ${mig_rounds:-1} $mig_data_mib $mig_wire_mib $mig_mib" \
		>> "$WORK/$load.$method"
	echo "# $load $method: total $mig_total s, downtime $mig_downtime s, ${mig_rounds:-1} rounds, page data $mig_data_mib MiB, on the wire $mig_wire_mib MiB, $mig_mib MiB sent"
	hosts_stop src dst
}

# median COLUMN FILE
median() {
	awk -v c="$1" '{ print $c }' "$2" | sort -n |
		awk '{ v[NR] = $1 } END { printf "%s", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# range COLUMN FILE: "min-max"
range() {
	awk -v c="$1" '{ print $c }' "$2" | sort -n |
		awk '{ v[NR] = $1 } END { printf "%s-%s", v[1], v[NR] }'
}

netns_setup || hosts_die "cannot set up the two hosts"
r=0
while [ $r -lt "$RUNS" ]; do
	for load in $LOADS; do
		if [ $((r % 2)) -eq 0 ]; then
			run_once "$load" none; run_once "$load" zstd
		else
			run_once "$load" zstd; run_once "$load" none
		fi
	done
	r=$((r + 1))
done

echo "# live migrations of a $MEM guest (--fill=$FILL), pre-copy at --bandwidth $RATE, plain TCP over the veth pair, with and without --compress zstd:$LEVEL; medians of $RUNS runs (range)"
printf '%-5s %-5s %-20s %-22s %6s %9s %9s %9s\n' load comp "total s" "downtime s" rounds "data MiB" "wire MiB" "MiB sent"
for load in $LOADS; do
	for m in none zstd; do
		f=$WORK/$load.$m
		printf '%-5s %-5s %-20s %-22s %6s %9s %9s %9s\n' "$load" $m \
			"$(median 1 "$f") ($(range 1 "$f"))" \
			"$(median 2 "$f") ($(range 2 "$f"))" "$(median 3 "$f")" \
			"$(median 4 "$f")" "$(median 5 "$f")" "$(median 6 "$f")"
	done
	awk -v l="$load" -v a="$(median 1 "$WORK/$load.none")" \
		-v b="$(median 1 "$WORK/$load.zstd")" \
		-v c="$(median 2 "$WORK/$load.none")" \
		-v d="$(median 2 "$WORK/$load.zstd")" \
		'BEGIN { printf "# %s: zstd/none total %.2f, downtime %.2f\n", l, (a > 0 ? b / a : 0), (c > 0 ? d / c : 0) }'
done

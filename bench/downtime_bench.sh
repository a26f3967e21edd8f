#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Downtime against memory size, live and quick: lmvm guests of each size
# in SIZES, their whole memory written with data before the migration
# starts (--fill), idle or dirtying 10 MiB/s (sweep), migrated by lmctl
# between the lab's two hosts (network namespaces joined by a veth pair)
# over plain TCP. The runs are interleaved: every size and kind once, then
# again, RUNS times. Nothing is in the measured pause that an operator's
# migration does not do (no checksum): downtime is lmctl migrate's, from
# the source's pause to the destination's acknowledgement that the VM
# runs there.
#
# Prints, per size and kind, the median downtime with its range, the
# median total time, rounds and MiB sent, then for each kind the ratio of
# the largest size's median downtime to the smallest's.
#
# Usage: downtime_bench.sh   Environment: DOWNTIME_BENCH_SIZES
# ("128M 512M 2G"), DOWNTIME_BENCH_RUNS (5), DOWNTIME_BENCH_KINDS
# ("live-idle live-10 quick-idle quick-10"). Two 2 GiB guests need a lab
# VM of 6 GiB: make bench TESTS=downtime_bench.sh LAB_MEM=6G.

[ -r /lib/lab/lmvm_hosts.sh ] || { echo "downtime_bench: needs the lab's /lib/lab" >&2; exit 1; }
# shellcheck source=../selftests/lab/netns.sh
. /lib/lab/netns.sh
# shellcheck source=../selftests/lab/lmvm_hosts.sh
. /lib/lab/lmvm_hosts.sh

SIZES=${DOWNTIME_BENCH_SIZES:-128M 512M 2G}
RUNS=${DOWNTIME_BENCH_RUNS:-5}
KINDS=${DOWNTIME_BENCH_KINDS:-live-idle live-10 quick-idle quick-10}
WORK=$(mktemp -d /tmp/downtime_bench.XXXXXX)

trap hosts_cleanup EXIT
trap 'exit 1' INT TERM

# run_once SIZE KIND: one migration; appends "DOWNTIME TOTAL ROUNDS MIB"
# to $WORK/SIZE.KIND.
run_once() {
	size=$1 kind=$2
	mode=${kind%-*} rate=${kind#*-}
	if [ "$rate" = idle ]; then
		load=
	else
		load="--workload sweep --rate $rate"
	fi
	# shellcheck disable=SC2086 # $load is words
	hosts_start_vmm src "$SRC_NS" --mem "$size" --fill $load
	hosts_start_vmm dst "$DST_NS" --mem "$size" --incoming
	hosts_migrate src dst --insecure -- --mode "$mode"
	echo "$mig_downtime $mig_total ${mig_rounds:-1} $mig_mib" >> "$WORK/$size.$kind"
	echo "# $size $kind: downtime $mig_downtime s, total $mig_total s, ${mig_rounds:-1} rounds, $mig_mib MiB"
	hosts_stop src dst
}

# stat COLUMN FILE: "median min max" of COLUMN.
stat() {
	awk -v c="$1" '{ print $c }' "$2" | sort -n |
		awk '{ v[NR] = $1 } END { printf "%s %s %s", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2, v[1], v[NR] }'
}

netns_setup || hosts_die "cannot set up the two hosts"
r=0
while [ $r -lt "$RUNS" ]; do
	for size in $SIZES; do
		for kind in $KINDS; do
			run_once "$size" "$kind"
		done
	done
	r=$((r + 1))
done

echo "# downtime against memory size, plain TCP over the veth pair, memory full of data; medians of $RUNS runs"
printf '%-6s %-11s %-24s %9s %7s %9s\n' size kind "downtime s (min-max)" "total s" rounds "MiB sent"
for kind in $KINDS; do
	for size in $SIZES; do
		f=$WORK/$size.$kind
		# shellcheck disable=SC2046 # three numbers
		set -- $(stat 1 "$f")
		printf '%-6s %-11s %-24s %9s %7s %9s\n' "$size" "$kind" \
			"$1 ($2-$3)" "$(stat 2 "$f" | cut -d' ' -f1)" \
			"$(stat 3 "$f" | cut -d' ' -f1)" \
			"$(stat 4 "$f" | cut -d' ' -f1)"
	done
done
for kind in $KINDS; do
	first=${SIZES%% *} last=${SIZES##* }
	awk -v k="$kind" -v a="$(stat 1 "$WORK/$first.$kind" | cut -d' ' -f1)" \
		-v b="$(stat 1 "$WORK/$last.$kind" | cut -d' ' -f1)" \
		-v s="$first" -v l="$last" \
		'BEGIN { printf "# %s: downtime at %s / at %s: %.2f\n", k, l, s, (a > 0 ? b / a : 0) }'
done

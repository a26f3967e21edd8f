#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# lmvm workloads migrated live and quick: section 1 of migrate_quick_test.sh
# (exact memory at the switchover, the workload goes on and verifies at the
# destination, the source stays paused) for each case, and the downtime and
# rounds of each in a closing table. Runs migrate_quick_test.sh from its own
# directory.
#
# The cases make check runs: every workload live at 256 MiB with one and
# two vCPUs (each writes memory in its own pattern), a quick migration at
# 256 MiB, and one live and one quick migration of 1 GiB.
# migrate_workloads_full_test.sh (make check-full) runs every combination.
#
# Environment: MIGRATE_CASES, a space-separated list of
# MODE:WORKLOAD:MEMORY:VCPUS cases, replaces this list; or MIGRATE_MATRIX_MEMS,
# _WORKLOADS, _VCPUS and _MODES (space-separated lists, each defaulting to
# every value) ask for their cross product.

dir=$(dirname "$0")

matrix() {
	for mem in ${MIGRATE_MATRIX_MEMS:-256M 1G}; do
		for workload in ${MIGRATE_MATRIX_WORKLOADS:-idle sweep random hotset}; do
			for vcpus in ${MIGRATE_MATRIX_VCPUS:-1 2}; do
				for mode in ${MIGRATE_MATRIX_MODES:-live quick}; do
					echo "$mode:$workload:$mem:$vcpus"
				done
			done
		done
	done
}

if [ -n "${MIGRATE_CASES:-}" ]; then
	cases=$MIGRATE_CASES
elif [ -n "${MIGRATE_MATRIX_MEMS:-}${MIGRATE_MATRIX_WORKLOADS:-}${MIGRATE_MATRIX_VCPUS:-}${MIGRATE_MATRIX_MODES:-}" ]; then
	cases=$(matrix)
else
	cases="live:idle:256M:1 live:idle:256M:2 live:sweep:256M:1
	       live:sweep:256M:2 live:random:256M:1 live:random:256M:2
	       live:hotset:256M:1 live:hotset:256M:2 quick:random:256M:2
	       live:sweep:1G:2 quick:sweep:1G:1"
fi

out=$(mktemp /tmp/migrate_w.XXXXXX)
table=$(mktemp /tmp/migrate_t.XXXXXX)
n=0
failed=0

echo "TAP version 13"
for c in $cases; do
	# MODE:WORKLOAD:MEMORY:VCPUS
	mode=${c%%:*} c=${c#*:}
	workload=${c%%:*} c=${c#*:}
	mem=${c%%:*} vcpus=${c#*:}
	n=$((n + 1))
	what="$mode migration of $workload, $mem, $vcpus vCPU(s)"
	MIGRATE_MODE=$mode MIGRATE_WORKLOAD=$workload MIGRATE_MEM=$mem \
		MIGRATE_VCPUS=$vcpus MIGRATE_ONLY_1=1 "$dir/migrate_quick_test.sh" \
		> "$out" 2>&1
	status=$?
	sed 's/^/# /' "$out"
	sed -n "s/^# $mode migration of .*: \(downtime .*\)$/$mode $workload $mem ${vcpus}vcpu: \1/p" \
		"$out" >> "$table"
	if [ $status -eq 0 ]; then
		echo "ok $n - $what"
	else
		failed=$((failed + 1))
		echo "not ok $n - $what"
	fi
done
echo "# mode workload memory vCPUs: downtime, rounds"
sed 's/^/#   /' "$table"
rm -f "$out" "$table"
echo "1..$n"
[ $failed -eq 0 ]

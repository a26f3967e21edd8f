#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Every lmvm workload migrated live and quick, with one and two vCPUs, at
# 256 MiB (migrate_workloads_1g_test.sh does 1 GiB): section 1 of
# migrate_quick_test.sh (exact memory at the switchover, the workload goes
# on and verifies at the destination, the source stays paused) for each
# combination, and the downtime and rounds of each in a closing table.
# Runs migrate_quick_test.sh from its own directory. MIGRATE_MATRIX_MEMS,
# _WORKLOADS, _VCPUS and _MODES choose the matrix (space-separated lists).

dir=$(dirname "$0")
mems=${MIGRATE_MATRIX_MEMS:-256M}
workloads=${MIGRATE_MATRIX_WORKLOADS:-idle sweep random hotset}
vcpus_list=${MIGRATE_MATRIX_VCPUS:-1 2}
modes=${MIGRATE_MATRIX_MODES:-live quick}
out=$(mktemp /tmp/migrate_w.XXXXXX)
table=$(mktemp /tmp/migrate_t.XXXXXX)
n=0
failed=0

echo "TAP version 13"
for mem in $mems; do
	for workload in $workloads; do
		for vcpus in $vcpus_list; do
			for mode in $modes; do
				n=$((n + 1))
				what="$mode migration of $workload, $mem, $vcpus vCPU(s)"
				MIGRATE_MODE=$mode MIGRATE_WORKLOAD=$workload \
					MIGRATE_MEM=$mem MIGRATE_VCPUS=$vcpus \
					MIGRATE_ONLY_1=1 "$dir/migrate_quick_test.sh" \
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
		done
	done
done
echo "# mode workload memory vCPUs: downtime, rounds"
sed 's/^/#   /' "$table"
rm -f "$out" "$table"
echo "1..$n"
[ $failed -eq 0 ]

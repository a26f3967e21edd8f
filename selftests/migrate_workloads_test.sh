#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Live migration of the other lmvm workloads, with two vCPUs: section 1 of
# migrate_quick_test.sh (exact memory at the switchover, the workload goes
# on and verifies at the destination, the source stays paused) for each.
# Runs migrate_quick_test.sh from its own directory.

dir=$(dirname "$0")
n=0
failed=0
echo "TAP version 13"
for workload in random hotset; do
	n=$((n + 1))
	MIGRATE_MODE=live MIGRATE_WORKLOAD=$workload MIGRATE_VCPUS=2 \
		MIGRATE_ONLY_1=1 "$dir/migrate_quick_test.sh" > /tmp/migrate_w.$$ 2>&1
	status=$?
	sed 's/^/# /' /tmp/migrate_w.$$
	rm -f /tmp/migrate_w.$$
	if [ $status -eq 0 ]; then
		echo "ok $n - live migration of the $workload workload, 2 vCPUs"
	else
		failed=$((failed + 1))
		echo "not ok $n - live migration of the $workload workload, 2 vCPUs"
	fi
done
echo "1..$n"
[ $failed -eq 0 ]

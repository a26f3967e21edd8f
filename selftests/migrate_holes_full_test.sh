#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# What looking for unbacked pages saves a quick migration of a guest that
# touched little of its memory: section 1 of migrate_quick_test.sh (an
# idle 1 GiB lmvm VM, exact at the switchover, verified at the
# destination), with lm's skip_holes module parameter off (every page is
# pinned and read, as lm did before) and on, interleaved, and a closing
# table of downtime, the send thread's CPU time and the pages pinned on
# each side. It exists for the figures in Documentation/performance.rst
# (make check-full runs it).
#
# Environment: HOLES_RUNS (2) runs of each setting, HOLES_MEM (1G),
# HOLES_WORKLOAD (idle).

dir=$(dirname "$0")
knob=/sys/module/lm/parameters/skip_holes
runs=${HOLES_RUNS:-2}
mem=${HOLES_MEM:-1G}
workload=${HOLES_WORKLOAD:-idle}

echo "TAP version 13"
if [ ! -w $knob ]; then
	echo "1..1"
	echo "ok 1 # SKIP needs lm loaded, with $knob"
	exit 0
fi
out=$(mktemp /tmp/migrate_h.XXXXXX)
table=$(mktemp /tmp/migrate_ht.XXXXXX)
n=0
failed=0
trap 'echo Y > $knob; rm -f "$out" "$table"' EXIT

field() { # field REGEX: the first match of sed's \1 in $out
	sed -n "s/$1/\\1/p" "$out" | head -n 1
}

i=0
while [ $i -lt "$runs" ]; do
	i=$((i + 1))
	for setting in N Y; do
		echo $setting > $knob
		n=$((n + 1))
		what="quick migration of $workload, $mem, skip_holes $setting, run $i"
		MIGRATE_MODE=quick MIGRATE_WORKLOAD=$workload MIGRATE_MEM=$mem \
			MIGRATE_ONLY_1=1 "$dir/migrate_quick_test.sh" > "$out" 2>&1
		status=$?
		sed 's/^/# /' "$out"
		pages=$(field '^# migrate: migrated vm [0-9]* (quick): \([0-9]*\) pages.*')
		tx_holes=$(field '^# migrate: migrated .*, \([0-9]*\) unbacked).*')
		rx_holes=$(field '^# receive: received .*, \([0-9]*\) unbacked).*')
		downtime=$(field '^# migrate: total .*, downtime \([0-9.]*\) s.*')
		cpu=$(field '^# migrate: .*send thread CPU \([0-9.]*\) s.*')
		if [ $status -eq 0 ] && [ -n "$pages" ] && [ -n "$tx_holes" ]; then
			echo "ok $n - $what"
			echo "$setting $downtime $cpu $((pages - tx_holes)) $((pages - rx_holes))" >> "$table"
		else
			failed=$((failed + 1))
			echo "not ok $n - $what"
		fi
	done
done
echo "# $workload $mem guest, quick: skip_holes, downtime s, send thread CPU s, pages pinned at the source, at the destination"
sed 's/^/#   /' "$table"
echo "1..$n"
[ $failed -eq 0 ]

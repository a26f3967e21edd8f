#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Judge a lab VM console log: print the tests' TAP output, every kernel
# problem found, and one closing line "N passed, N failed". Exits non-zero
# on any failed test, any kernel problem, and on a VM that did not reach
# its end marker (timeout, hang or panic).
#
# Usage: checklog.sh CONSOLE_LOG [check|bench|demo]
#
# Kernel problems are looked for only in kernel log lines (those carrying
# a printk timestamp), so a test printing "WARNING:" does not trip them.
set -euo pipefail

log=${1:?usage: checklog.sh CONSOLE_LOG [check|bench|demo]}
mode=${2:-check}
[[ -f $log ]] || { echo "checklog: $log not found" >&2; exit 2; }

text=$(tr -d '\r' < "$log")
passed=0 failed=0

if [[ $mode != demo ]]; then
	echo "$text" | sed -n '/^==== lab: tests begin ====$/,/^==== lab: tests end ====$/p' |
		sed '/^==== lab: tests/d'
	summary=$(echo "$text" | grep -E '^lab: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' |
		  tail -n 1 || true)
	if [[ -n $summary ]]; then
		read -r _ passed _ failed _ _ _ <<< "$summary"
		failed=${failed%,}
	else
		echo "not ok - lab: the tests did not complete (no summary line)"
		failed=$((failed + 1))
	fi
else
	# run.sh streams the demo's console as it goes: judge it only.
	if grep -qx 'lab: demo exit status 0' <<< "$text"; then
		passed=$((passed + 1))
	else
		echo "not ok - lab: the demo failed"
		failed=$((failed + 1))
	fi
fi

if ! grep -qx '==== lab: done ====' <<< "$text"; then
	echo "not ok - lab: the VM did not reach its end marker (timeout, hang or panic); see $log"
	failed=$((failed + 1))
fi

# One problem per report: the lines following a report's first line
# (its Call Trace, registers, modules list) belong to it.
problems=$(echo "$text" | awk '
	!/\[ *[0-9]+\.[0-9]+\] / { next }
	{
		msg = $0
		sub(/^.*\[ *[0-9]+\.[0-9]+\] /, "", msg)
	}
	msg ~ /^(Kernel )?[Cc]ommand line:/ { next }
	# The lab asks for the blocked tasks of a test out of time; the test
	# is failed for that already, their traces are not another problem.
	msg ~ /^sysrq: Show Blocked State/ { in_report = NR; next }
	msg ~ /Oops|BUG:|WARNING:|Kernel panic|general protection fault|kernel BUG at|UBSAN:|KASAN:|KFENCE:|refcount_t|soft lockup|hard LOCKUP|blocked for more than [0-9]+ seconds|hung_task|rcu.*detected stall|list_(add|del) corruption|[Ll]eak/ {
		# CPU vulnerability notes at boot say "WARNING" and "leak".
		if (msg ~ /^(RETBleed|Spectre( V[12])?|MDS|MMIO Stale Data|SRBDS|GDS|TAA|L1TF|Speculative [A-Za-z ]+|ITS|TSA|VMSCAPE|x86\/bugs) ?:/)
			next
		print msg
		in_report = NR
		next
	}
	msg ~ /Call Trace:/ && (in_report == 0 || NR - in_report > 200) {
		print msg
		in_report = NR
	}
')
if [[ -n $problems ]]; then
	while IFS= read -r line; do
		echo "not ok - kernel: $line"
		failed=$((failed + 1))
	done <<< "$problems"
fi

echo "$passed passed, $failed failed"
(( failed == 0 ))

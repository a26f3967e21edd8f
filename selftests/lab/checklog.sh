#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Judge the console logs of the lab VMs of one run: print the tests' TAP
# output, every kernel problem found, a table of each test's duration and
# time limit, and one closing line "N passed, N failed". Exits non-zero on
# any failed test, any kernel problem, any planned test that never
# finished, and on a VM that did not reach its end marker (timeout, hang
# or panic).
#
# Usage: checklog.sh check|bench|demo CONSOLE_LOG...
#
# Kernel problems are looked for only in kernel log lines (those carrying
# a printk timestamp), so a test printing "WARNING:" does not trip them.
set -euo pipefail

usage="usage: checklog.sh check|bench|demo CONSOLE_LOG..."
mode=${1:?$usage}
shift
(( $# )) || { echo "$usage" >&2; exit 2; }
[[ $mode =~ ^(check|bench|demo)$ ]] || { echo "$usage" >&2; exit 2; }

passed=0 failed=0 skipped=0
times=
vm=0
for log in "$@"; do
	vm=$((vm + 1))
	[[ -f $log ]] || { echo "checklog: $log not found" >&2; exit 2; }
	text=$(tr -d '\r' < "$log")
	(( $# > 1 )) && echo "# lab VM $vm of $#: $log"

	if [[ $mode != demo ]]; then
		echo "$text" | sed -n '/^==== lab: tests begin ====$/,/^==== lab: tests end ====$/p' |
			sed -e '/^==== lab: tests/d' -e '/^lab: time /d'
		summary=$(echo "$text" | grep -E '^lab: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' |
			  tail -n 1 || true)
		if [[ -n $summary ]]; then
			read -r _ p _ f _ s _ <<< "$summary"
			passed=$((passed + p))
			failed=$((failed + ${f%,}))
			skipped=$((skipped + s))
		else
			echo "not ok - lab VM $vm: the tests did not complete (no summary line)"
			failed=$((failed + 1))
		fi
		# "lab: plan NAME LIMIT" before the tests, "lab: time NAME
		# SECONDS LIMIT" after each: a planned test without the second
		# never finished, and is one more failure.
		vm_times=$(echo "$text" | sed -n 's/^lab: time //p')
		times+=$vm_times$'\n'
		while read -r name _; do
			[[ -z $name ]] && continue
			grep -q "^$name " <<< "$vm_times" && continue
			echo "not ok - $name: did not finish (lab VM $vm stopped first; see $log)"
			failed=$((failed + 1))
		done < <(echo "$text" | sed -n 's/^lab: plan //p')
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
		echo "not ok - lab VM $vm: it did not reach its end marker (timeout, hang or panic); see $log"
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
		# The lab asks for the blocked tasks of a test out of time; the
		# test is failed for that already, their traces are not another
		# problem.
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
			echo "not ok - kernel (lab VM $vm): $line"
			failed=$((failed + 1))
		done <<< "$problems"
	fi
done

# The headroom of every test, the one closest to its limit first.
if [[ -n ${times//$'\n'/} ]]; then
	echo "# time limit share  test"
	echo "$times" | awk 'NF == 3 { printf "%5ds %4ds %4d%%  %s\n", $2, $3, $2 * 100 / $3, $1 }' |
		sort -k3,3nr | sed 's/^/# /'
fi

echo "$passed passed, $failed failed${skipped:+, $skipped skipped}"
(( failed == 0 ))

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Share the selected tests among the lab VMs that run them in parallel,
# each VM a single-threaded TCG guest on a core of its own.
#
# Usage: plan.sh -c TESTS_CONF -d TESTDIR -n VMS -s check|full -o PREFIX [TEST...]
#
# Writes PREFIX.1 ... PREFIX.K (K <= VMS, one per VM that has work), each
# one "NAME LIMIT" a line in the order the VM runs them, and prints K.
# With TEST names, exactly those run (".c" may be given, ".sh" left out);
# without, every test in TESTDIR of the suite: "check" runs the tests the
# conf file marks check (and any it does not list), "full" runs them all.
# Tests go to VMs longest first, each to the VM with the least expected
# time so far, by the seconds TESTS_CONF gives (unlisted: 30).
#
# TEST_TIMEOUT (environment), when set, is every test's limit.
set -euo pipefail

conf= dir= vms=1 suite=check prefix=
while getopts c:d:n:s:o: opt; do
	case $opt in
	c) conf=$OPTARG ;;
	d) dir=$OPTARG ;;
	n) vms=$OPTARG ;;
	s) suite=$OPTARG ;;
	o) prefix=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
if [[ -z $conf || -z $dir || -z $prefix || ! $vms =~ ^[1-9][0-9]*$ ||
      ! $suite =~ ^(check|full)$ ]]; then
	echo "usage: $0 -c TESTS_CONF -d TESTDIR -n VMS -s check|full -o PREFIX [TEST...]" >&2
	exit 2
fi
die() { echo "plan: $*" >&2; exit 1; }

declare -A suite_of=() seconds_of=() limit_of=()
while read -r name s secs limit rest; do
	[[ -z $name || $name == \#* ]] && continue
	[[ $s =~ ^(check|full)$ && $secs =~ ^[0-9]+$ && $limit =~ ^[1-9][0-9]*$ && -z $rest ]] ||
		die "$conf: bad line for $name"
	suite_of[$name]=$s seconds_of[$name]=$secs limit_of[$name]=$limit
done < "$conf"

selected=()
if (( $# )); then
	for t in "$@"; do
		t=${t##*/}
		t=${t%.c}
		[[ -f $dir/$t || ! -f $dir/$t.sh ]] || t=$t.sh
		[[ -x $dir/$t ]] || die "test $t not found in $dir"
		selected+=("$t")
	done
else
	for f in "$dir"/*; do
		[[ -f $f && -x $f ]] || continue
		t=${f##*/}
		[[ $suite == full || ${suite_of[$t]:-check} == check ]] && selected+=("$t")
	done
fi
(( ${#selected[@]} )) || die "no tests selected"

# Longest first, then by name so that a plan is the same every run.
mapfile -t order < <(for t in "${selected[@]}"; do
	echo "${seconds_of[$t]:-30} $t"
done | sort -k1,1nr -k2,2 | cut -d' ' -f2)

(( vms > ${#order[@]} )) && vms=${#order[@]}
declare -a load=() share=()
for ((i = 1; i <= vms; i++)); do load[i]=0 share[i]=; done
for t in "${order[@]}"; do
	best=1
	for ((i = 2; i <= vms; i++)); do
		(( load[i] < load[best] )) && best=$i
	done
	load[best]=$((load[best] + ${seconds_of[$t]:-30}))
	share[best]+="$t "
done

for ((i = 1; i <= vms; i++)); do
	# Within a VM, the tests run in name order, as they always have.
	for t in $(printf '%s\n' ${share[i]} | LC_ALL=C sort); do
		echo "$t ${TEST_TIMEOUT:-${limit_of[$t]:-300}}"
	done > "$prefix.$i"
done
echo "$vms"

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The L2 guest's boot configurations side by side: each one booted
# L2_RUNS times (default 3) with a limit of L2_LIMIT s (default 60), its
# time to the guest's marker printed, and a ping through the tap and the
# bridge. Documentation/l2-guest.rst holds the figures; this re-measures
# them. Each boot is one TAP line: a configuration that does not boot
# every time fails.
#
# A configuration is "NAME|MACHINE|CPU|KERNEL COMMAND LINE".

L2_SH=/lib/lab/l2.sh
. $L2_SH 2>/dev/null
if ! command -v l2_available > /dev/null || ! l2_available; then
	echo "1..1"
	echo "ok 1 # SKIP no L2 guest, QEMU or /dev/kvm in this lab VM"
	exit 0
fi

RUNS=${L2_RUNS:-3}
LIMIT=${L2_LIMIT:-60}
CONFIGS=${L2_CONFIGS:-"\
pc-kvmclock|pc|host,-xsave|quiet
pc-kvmclock-verbose|pc|host,-xsave|loglevel=7
pc-host-xsave|pc|host|quiet
pc-tsc|pc|host,-xsave|quiet no-kvmclock clocksource=tsc tsc=reliable
pc-qemu64|pc|qemu64,+x2apic|quiet
microvm-kvmclock|microvm|host,-xsave|quiet
microvm-tsc|microvm|host,-xsave|quiet no-kvmclock
"}

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }

l2_net_setup || { echo "Bail out! cannot set up the bridge and the tap"; exit 1; }
trap 'l2_stop; l2_net_teardown' EXIT

echo "$CONFIGS" | while IFS='|' read -r name machine cpu append; do
	[ -n "$name" ] || continue
	run=1
	while [ $run -le "$RUNS" ]; do
		if t=$(l2_boot "$machine" "$cpu" "$append" "$LIMIT"); then
			ping=
			pstart=$(l2_now)
			if l2_ping 3; then
				p=$(( $(l2_now) - pstart ))
				ping=$(printf 'ping ok in %d.%02d s' $((p / 100)) $((p % 100)))
			else
				ping="no ping"
			fi
			msg="$name run $run: marker in $t s ($(grep -o 'uptime=.*' "$L2_WORK/serial")), $ping"
			case $ping in
			"no ping") not_ok "$msg"; l2_diag 20 ;;
			*) ok "$msg" ;;
			esac
		else
			not_ok "$name run $run: no marker within $LIMIT s"
			l2_diag 20
		fi
		l2_stop
		run=$((run + 1))
	done
done > "$L2_WORK/tap"
cat "$L2_WORK/tap"
n=$(grep -c '^ok\|^not ok' "$L2_WORK/tap")
echo "1..$n"
! grep -q '^not ok' "$L2_WORK/tap"

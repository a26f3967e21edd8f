#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The L2 Linux guest boots under Debian's QEMU with nested KVM in the lab
# VM, every time, and answers ping through a virtio-net NIC on a tap in
# a bridge: what the migration tests of a Linux guest stand on.
#
#  1..L2_BOOTS  (default 5) the guest reaches its marker within L2_LIMIT s
#               (default 60) and answers 3 pings; each line gives the
#               time to the marker
#  last         the boot times' minimum, median and maximum
#
# The configuration is the one Documentation/l2-guest.rst found reliable;
# L2_MACHINE, L2_CPU and L2_APPEND override it.

L2_SH=/lib/lab/l2.sh
. $L2_SH 2>/dev/null
if ! command -v l2_available > /dev/null || ! l2_available; then
	echo "1..1"
	echo "ok 1 # SKIP no L2 guest (make l2-guest), QEMU or /dev/kvm in this lab VM"
	exit 0
fi

BOOTS=${L2_BOOTS:-5}
LIMIT=${L2_LIMIT:-60}
MACHINE=${L2_MACHINE:-pc}
CPU=${L2_CPU:-host,-xsave}
APPEND=${L2_APPEND:-quiet}

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }

echo "# $MACHINE, -cpu $CPU, '$APPEND'"
l2_net_setup || { echo "Bail out! cannot set up the bridge and the tap"; exit 1; }
trap 'l2_stop; l2_net_teardown' EXIT

times=
i=1
while [ $i -le "$BOOTS" ]; do
	if t=$(l2_boot "$MACHINE" "$CPU" "$APPEND" "$LIMIT"); then
		if l2_ping 3; then
			ok "boot $i: marker in $t s ($(grep -o 'uptime=.*' "$L2_WORK/serial")), answers ping"
			times="$times $t"
		else
			not_ok "boot $i: marker in $t s but no ping reply"
			sed 's/^/#   ping: /' "$L2_WORK/ping"
			l2_diag
		fi
	else
		not_ok "boot $i: no marker within $LIMIT s"
		l2_diag
	fi
	l2_stop
	i=$((i + 1))
done

if [ -n "$times" ]; then
	sorted=$(printf '%s\n' $times | sort -n)
	count=$(echo "$sorted" | wc -l)
	ok "boot times (s): min $(echo "$sorted" | head -n 1)" \
	   "median $(echo "$sorted" | sed -n "$(( (count + 1) / 2 ))p")" \
	   "max $(echo "$sorted" | tail -n 1), $count of $BOOTS boots"
else
	not_ok "no boot reached the marker"
fi

echo "1..$n"
[ "$failed" -eq 0 ]

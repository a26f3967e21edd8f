#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The lab demo (installed as /usr/bin/lm-demo.sh, run by 'make demo'):
# start a KVM VM with lmvm, attach it to lm with lmctl and list it.
set -u

if [ ! -x /usr/bin/lmvm ] || [ ! -x /usr/bin/lmctl ]; then
	echo "demo: lmvm and lmctl are needed in /usr/bin; build them first" >&2
	exit 1
fi

echo "demo: lm $(cat /sys/module/lm/version 2>/dev/null || echo loaded)"
/usr/bin/lmctl info || exit 1

/usr/bin/lmvm ${LMVM_ARGS:-} &
vmm=$!
trap 'kill $vmm 2>/dev/null; wait $vmm 2>/dev/null' EXIT

# Wait for the VMM to have created its VM.
i=0
until ls -l /proc/$vmm/fd 2>/dev/null | grep -q 'kvm-vm'; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 $vmm 2>/dev/null; then
		echo "demo: lmvm (pid $vmm) did not create a VM" >&2
		exit 1
	fi
	sleep 0.1
done

echo "demo: lmctl attach --pid $vmm"
/usr/bin/lmctl attach --pid $vmm || exit 1
echo "demo: lmctl list"
/usr/bin/lmctl list || exit 1
exit 0

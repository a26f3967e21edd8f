#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The lab demo (installed as /usr/bin/lm-demo.sh, run by 'make demo'):
# start a KVM VM with lmvm, running a workload that keeps dirtying its
# memory; attach it to lm with lmctl and show what lm sees of it.
#
# Environment: DEMO_MEM (default 256M), DEMO_VCPUS (default 2).
set -u

MEM=${DEMO_MEM:-256M}
VCPUS=${DEMO_VCPUS:-2}
SOCK=/tmp/lm-demo.sock

for tool in lmvm lmctl; do
	if [ ! -x /usr/bin/$tool ]; then
		echo "demo: /usr/bin/$tool is missing; build it first" >&2
		exit 1
	fi
done

step() { echo; echo "demo\$ $*"; "$@"; }

step lmctl info || exit 1

echo
echo "demo\$ lmvm --mem $MEM --vcpus $VCPUS --workload sweep --control $SOCK &"
lmvm --mem "$MEM" --vcpus "$VCPUS" --workload sweep --control "$SOCK" &
vmm=$!
trap 'lmvm --control $SOCK --command quit >/dev/null 2>&1; sleep 1;
      kill $vmm 2>/dev/null; wait $vmm 2>/dev/null' EXIT

i=0
until lmvm --control "$SOCK" --command status >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 300 ] || ! kill -0 $vmm 2>/dev/null; then
		echo "demo: lmvm (pid $vmm) did not come up" >&2
		exit 1
	fi
	sleep 0.1
done

step lmvm --control "$SOCK" --command status || exit 1
step lmctl attach --pid $vmm || exit 1
step lmctl list || exit 1
step lmctl -j list || exit 1
sleep 2
step lmvm --control "$SOCK" --command status || exit 1
exit 0

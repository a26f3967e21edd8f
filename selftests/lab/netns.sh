# SPDX-License-Identifier: GPL-2.0
#
# Two lab "hosts" for migrations: the network namespaces lmsrc and lmdst,
# joined by a veth pair. Sourced (installed in the lab VM as
# /lib/lab/netns.sh) by the migration selftests and the demo:
#
#   netns_setup      create both, addresses $SRC_ADDR and $DST_ADDR (/24);
#                    non-zero if any step fails
#   netns_teardown   delete both (and the veth pair with them)
#   in_src, in_dst   run a command in one of them
#
# busybox sh runs its own applets before PATH: ip is called by full path.

IP=/usr/sbin/ip
SRC_NS=lmsrc
DST_NS=lmdst
SRC_ADDR=10.77.0.1
DST_ADDR=10.77.0.2

in_src() { $IP netns exec $SRC_NS "$@"; }
in_dst() { $IP netns exec $DST_NS "$@"; }

netns_teardown() {
	$IP netns del $SRC_NS 2>/dev/null
	$IP netns del $DST_NS 2>/dev/null
}

netns_setup() {
	# ip keeps named namespaces under /run/netns; a killed run may have
	# left ours behind.
	mkdir -p /run/netns
	netns_teardown
	$IP netns add $SRC_NS && $IP netns add $DST_NS &&
	$IP link add veth-src netns $SRC_NS type veth peer name veth-dst \
		netns $DST_NS &&
	in_src $IP addr add $SRC_ADDR/24 dev veth-src &&
	in_dst $IP addr add $DST_ADDR/24 dev veth-dst &&
	in_src $IP link set veth-src up && in_dst $IP link set veth-dst up &&
	in_src $IP link set lo up && in_dst $IP link set lo up
}

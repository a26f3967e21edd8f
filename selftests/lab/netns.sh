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
#   netns_guest_net  a guest network besides: in each host a bridge br0
#                    with a tap, tap0, for the guest's NIC; a third
#                    namespace, lmcli (the client, $CLI_ADDR), whose bridge
#                    sw0 is the switch both hosts' bridges hang off (veths
#                    up-src and up-dst), so the guest ($GUEST_ADDR) is
#                    reachable from the client on whichever host it runs
#   netns_guest_net_reset
#                    forget where the guest was: flush the bridges'
#                    forwarding tables and the client's neighbours, as
#                    before a guest that never ran (a new one does not
#                    announce itself)
#   in_cli           run a command in the client's namespace
#
# busybox sh runs its own applets before PATH: ip is called by full path.

IP=/usr/sbin/ip
SRC_NS=lmsrc
DST_NS=lmdst
SRC_ADDR=10.77.0.1
DST_ADDR=10.77.0.2
CLI_NS=lmcli
CLI_ADDR=10.0.2.1
GUEST_ADDR=10.0.2.2

in_src() { $IP netns exec $SRC_NS "$@"; }
in_dst() { $IP netns exec $DST_NS "$@"; }
in_cli() { $IP netns exec $CLI_NS "$@"; }

netns_teardown() {
	$IP netns del $SRC_NS 2>/dev/null
	$IP netns del $DST_NS 2>/dev/null
	$IP netns del $CLI_NS 2>/dev/null
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

# One host's side of the guest network: bridge, tap, uplink to the switch.
netns_guest_host() {
	ns=$1 up=$2
	$IP -n $ns link add br0 type bridge &&
	$IP -n $ns tuntap add tap0 mode tap &&
	$IP -n $ns link set tap0 master br0 &&
	$IP link add $up netns $ns type veth peer name sw-${up#up-} \
		netns $CLI_NS &&
	$IP -n $ns link set $up master br0 &&
	$IP -n $CLI_NS link set sw-${up#up-} master sw0 &&
	$IP -n $ns link set br0 up && $IP -n $ns link set tap0 up &&
	$IP -n $ns link set $up up && $IP -n $CLI_NS link set sw-${up#up-} up
}

netns_guest_net() {
	$IP netns add $CLI_NS &&
	$IP -n $CLI_NS link add sw0 type bridge &&
	$IP -n $CLI_NS addr add $CLI_ADDR/24 dev sw0 &&
	$IP -n $CLI_NS link set sw0 up && $IP -n $CLI_NS link set lo up &&
	netns_guest_host $SRC_NS up-src && netns_guest_host $DST_NS up-dst
}

netns_guest_net_reset() {
	$IP -n $CLI_NS link set sw0 type bridge fdb_flush &&
	$IP -n $SRC_NS link set br0 type bridge fdb_flush &&
	$IP -n $DST_NS link set br0 type bridge fdb_flush &&
	$IP -n $CLI_NS neigh flush all
}

# SPDX-License-Identifier: GPL-2.0
#
# Booting the L2 Linux guest (built by l2-guest.sh, installed by
# mkinitramfs.sh in /lib/lab/l2) under Debian's QEMU with nested KVM, in
# the lab VM, on a tap in a bridge. Sourced by the L2 tests (busybox sh).
#
#   l2_net_setup, l2_net_teardown   bridge l2br0 ($L2_HOST_IP) + tap l2tap0
#   l2_boot MACHINE CPU APPEND LIMIT
#                   start the guest, wait up to LIMIT s for its marker;
#                   prints the seconds it took; 1 if it never came, 2 if
#                   QEMU exited (callers run it in $(...): its pid is kept
#                   in a file, not a variable)
#   l2_stop         kill the guest
#   l2_ping COUNT   ping the guest from the lab VM, COUNT replies needed

L2_DIR=/lib/lab/l2
L2_KERNEL=$L2_DIR/vmlinux
L2_INITRD=$L2_DIR/initramfs.gz
L2_HOST_IP=10.0.2.1
L2_GUEST_IP=10.0.2.2
L2_WORK=${L2_WORK:-/tmp/l2}
# iproute2's: busybox's ip has neither bridges nor taps.
L2_IP=/usr/sbin/ip

l2_available() {
	[ -r "$L2_KERNEL" ] && [ -r "$L2_INITRD" ] &&
		command -v qemu-system-x86_64 > /dev/null && [ -c /dev/kvm ]
}

l2_net_setup() {
	mkdir -p "$L2_WORK"
	$L2_IP link add l2br0 type bridge &&
	$L2_IP addr add $L2_HOST_IP/24 dev l2br0 &&
	$L2_IP link set l2br0 up &&
	$L2_IP tuntap add l2tap0 mode tap &&
	$L2_IP link set l2tap0 master l2br0 &&
	$L2_IP link set l2tap0 up
}

l2_net_teardown() {
	$L2_IP link del l2tap0 2>/dev/null
	$L2_IP link del l2br0 2>/dev/null
}

# Centiseconds since the lab VM booted: busybox date has no %N.
l2_now() {
	read -r up _ < /proc/uptime
	echo "${up%.*}${up#*.}"
}

# MACHINE: pc or microvm (with a PIT, a PIC and an RTC, which the kernel
# calibrates its TSC against when kvm-clock is off). The NIC is on PCI on
# pc and on virtio-mmio on microvm.
l2_boot() {
	machine=$1 cpu=$2 append=$3 limit=$4
	case $machine in
	pc)	mach=pc nic=virtio-net-pci,romfile= ;;
	microvm) mach=microvm,pit=on,pic=on,rtc=on nic=virtio-net-device ;;
	*)	mach=$machine nic=virtio-net-pci,romfile= ;;
	esac
	rm -f "$L2_WORK/serial"
	start=$(l2_now)
	qemu-system-x86_64 -accel kvm -machine "$mach" -cpu "$cpu" \
		-m 128M -smp 1 -nodefaults -no-user-config -display none \
		-kernel "$L2_KERNEL" -initrd "$L2_INITRD" \
		-append "console=ttyS0 l2ip=$L2_GUEST_IP/24 $append" \
		-serial "file:$L2_WORK/serial" \
		-netdev tap,id=n0,ifname=l2tap0,script=no,downscript=no \
		-device "$nic,netdev=n0,mac=52:54:00:12:34:56" \
		> "$L2_WORK/qemu.log" 2>&1 &
	pid=$!
	echo $pid > "$L2_WORK/pid"
	while :; do
		now=$(l2_now)
		if grep -q L2-READY "$L2_WORK/serial" 2>/dev/null; then
			t=$(( now - start ))
			printf '%d.%02d\n' $((t / 100)) $((t % 100))
			return 0
		fi
		kill -0 $pid 2>/dev/null || return 2
		[ $(( now - start )) -lt $(( limit * 100 )) ] || return 1
		sleep 0.2
	done
}

# QEMU is not this shell's child: wait for it to be gone, so that the
# next boot finds the tap free.
l2_stop() {
	[ -f "$L2_WORK/pid" ] || return 0
	pid=$(cat "$L2_WORK/pid")
	rm -f "$L2_WORK/pid"
	kill $pid 2>/dev/null
	# Not "i": sh has no locals, and the callers count their boots in i.
	l2_waited=0
	while kill -0 $pid 2>/dev/null && [ $l2_waited -lt 50 ]; do
		sleep 0.1
		l2_waited=$((l2_waited + 1))
	done
	kill -9 $pid 2>/dev/null
	return 0
}

l2_ping() {
	ping -c "$1" -W 5 -w $(( $1 * 5 + 5 )) $L2_GUEST_IP > "$L2_WORK/ping" 2>&1
}

# The guest's last console lines and QEMU's messages, as TAP comments.
l2_diag() {
	tail -n "${1:-8}" "$L2_WORK/serial" 2>/dev/null | sed 's/^/#   console: /'
	sed 's/^/#   qemu: /' "$L2_WORK/qemu.log" 2>/dev/null
}

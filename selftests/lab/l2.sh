# SPDX-License-Identifier: GPL-2.0
#
# Booting the L2 Linux guest (built by l2-guest.sh, installed by
# mkinitramfs.sh in /lib/lab/l2) under Debian's QEMU with nested KVM, in
# the lab VM, on a tap in a bridge. Sourced by the L2 tests (busybox sh).
#
#   l2_net_setup, l2_net_teardown   bridge l2br0 ($L2_HOST_IP) + tap l2tap0
#   l2_boot MACHINE CPU APPEND LIMIT
#                   start the guest ($L2_PID), wait up to LIMIT s for its
#                   marker; prints the seconds it took; 1 if it never came
#   l2_stop         kill the guest
#   l2_ping COUNT   ping the guest from the lab VM, COUNT replies needed

L2_DIR=/lib/lab/l2
L2_KERNEL=$L2_DIR/vmlinux
L2_INITRD=$L2_DIR/initramfs.gz
L2_HOST_IP=10.0.2.1
L2_GUEST_IP=10.0.2.2
L2_WORK=${L2_WORK:-/tmp/l2}
L2_PID=

l2_available() {
	[ -r "$L2_KERNEL" ] && [ -r "$L2_INITRD" ] &&
		command -v qemu-system-x86_64 > /dev/null && [ -c /dev/kvm ]
}

l2_net_setup() {
	mkdir -p "$L2_WORK"
	ip link add l2br0 type bridge &&
	ip addr add $L2_HOST_IP/24 dev l2br0 &&
	ip link set l2br0 up &&
	ip tuntap add l2tap0 mode tap &&
	ip link set l2tap0 master l2br0 &&
	ip link set l2tap0 up
}

l2_net_teardown() {
	ip link del l2tap0 2>/dev/null
	ip link del l2br0 2>/dev/null
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
	L2_PID=$!
	while :; do
		now=$(l2_now)
		if grep -q L2-READY "$L2_WORK/serial" 2>/dev/null; then
			t=$(( now - start ))
			printf '%d.%02d\n' $((t / 100)) $((t % 100))
			return 0
		fi
		if [ $(( now - start )) -ge $(( limit * 100 )) ] ||
		   ! kill -0 "$L2_PID" 2>/dev/null; then
			return 1
		fi
		sleep 0.2
	done
}

l2_stop() {
	[ -n "$L2_PID" ] || return 0
	kill "$L2_PID" 2>/dev/null
	wait "$L2_PID" 2>/dev/null
	L2_PID=
}

l2_ping() {
	ping -c "$1" -W 5 -w $(( $1 * 5 + 5 )) $L2_GUEST_IP > "$L2_WORK/ping" 2>&1
}

# The guest's last console lines and QEMU's messages, as TAP comments.
l2_diag() {
	tail -n "${1:-8}" "$L2_WORK/serial" 2>/dev/null | sed 's/^/#   console: /'
	sed 's/^/#   qemu: /' "$L2_WORK/qemu.log" 2>/dev/null
}

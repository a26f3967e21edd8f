#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Print the release of the lab kernel: the newest version for which this
# machine has all three of a kernel image (/boot/vmlinuz-VER), its modules
# (/lib/modules/VER/modules.dep) and its headers (/usr/src/linux-headers-VER).
# The module is built against those headers and loaded into that image, so
# the three must be the same version; the running kernel does not matter.
#
# Usage: kver.sh          print VER
#        kver.sh --kdir   print the headers directory of VER
set -eu

best=
for img in /boot/vmlinuz-*; do
	[ -e "$img" ] || continue
	ver=${img#/boot/vmlinuz-}
	[ -f "/usr/src/linux-headers-$ver/Makefile" ] || continue
	[ -f "/lib/modules/$ver/modules.dep" ] || continue
	best=$(printf '%s\n%s\n' "$best" "$ver" | sed '/^$/d' | sort -V | tail -n 1)
done

if [ -z "$best" ]; then
	echo "kver.sh: no kernel with matching /boot/vmlinuz-VER, /lib/modules/VER" \
	     "and /usr/src/linux-headers-VER; run 'make deps'" >&2
	exit 1
fi

case "${1:-}" in
--kdir)	echo "/usr/src/linux-headers-$best" ;;
*)	echo "$best" ;;
esac

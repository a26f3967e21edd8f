#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the L2 Linux guest that the lab VM boots under its own QEMU with
# nested KVM (selftests/l2_boot_test.sh): a minimal kernel from Debian's
# linux-source-6.1 (tinyconfig + l2-kernel.config), booted by PVH as an
# uncompressed vmlinux, and a busybox-static initramfs whose /init
# (l2/init) brings eth0 up and prints a marker.
#
# Usage: l2-guest.sh OUTDIR     writes OUTDIR/vmlinux and OUTDIR/initramfs.gz
#
# The kernel is built once per fragment and kept under OUTDIR/obj (the
# source tree under OUTDIR/src): a rebuild happens only when the tarball
# or the fragment changes. L2_JOBS overrides make's -j (default: nproc).
set -euo pipefail

lab=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: $0 OUTDIR}
tarball=${LINUX_SOURCE_TAR:-/usr/src/linux-source-6.1.tar.xz}
fragment=$lab/l2-kernel.config
busybox=/bin/busybox

die() { echo "l2-guest: $*" >&2; exit 1; }
[[ -f $tarball ]] || die "$tarball not found (apt-get install linux-source-6.1)"
for tool in flex bison bc gcc make; do
	command -v $tool > /dev/null || die "$tool not found (apt-get install flex bison bc build-essential libelf-dev)"
done
[[ -f /usr/include/libelf.h ]] || die "libelf.h not found (apt-get install libelf-dev): objtool needs it"
file -L $busybox 2>/dev/null | grep -q 'statically linked' ||
	die "$busybox is not static (apt-get install busybox-static)"

mkdir -p "$out"
out=$(cd "$out" && pwd)

# --- kernel. The stamp names what it was built from.
stamp="$(sha256sum "$tarball" "$fragment" | sha256sum | cut -d' ' -f1)"
if [[ ! -f $out/vmlinux || $(cat "$out/vmlinux.stamp" 2>/dev/null) != "$stamp" ]]; then
	start=$SECONDS
	if [[ $(cat "$out/src/.tarball" 2>/dev/null) != "$(sha256sum < "$tarball")" ]]; then
		rm -rf "$out/src" "$out/obj"
		mkdir -p "$out/src"
		tar -xJf "$tarball" -C "$out/src" --strip-components=1
		sha256sum < "$tarball" > "$out/src/.tarball"
	fi
	mkdir -p "$out/obj"
	make -s -C "$out/src" O="$out/obj" tinyconfig > /dev/null
	"$out/src/scripts/kconfig/merge_config.sh" -m -O "$out/obj" \
		"$out/obj/.config" "$fragment" > /dev/null
	make -s -C "$out/src" O="$out/obj" olddefconfig > /dev/null
	# Every option of the fragment must have survived olddefconfig (a
	# dependency missing silently drops it).
	while IFS= read -r opt; do
		grep -qx "$opt" "$out/obj/.config" ||
			die "$opt of l2-kernel.config did not make it into .config"
	done < <(grep '^CONFIG_' "$fragment")
	make -s -C "$out/src" O="$out/obj" -j"${L2_JOBS:-$(nproc)}" vmlinux
	cp "$out/obj/vmlinux" "$out/vmlinux.tmp"
	strip --strip-debug "$out/vmlinux.tmp"
	mv "$out/vmlinux.tmp" "$out/vmlinux"
	echo "$stamp" > "$out/vmlinux.stamp"
	echo "l2-guest: kernel built in $((SECONDS - start)) s"
fi

# --- initramfs: busybox with its applet links, /init.
root=$out/root
rm -rf "$root"
mkdir -p "$root"/{bin,proc,sys,dev}
cp $busybox "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
	[[ $applet == busybox ]] || ln -s busybox "$root/bin/$applet"
done
install -m 0755 "$lab/l2/init" "$root/init"
(cd "$root" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc --owner=0:0 --quiet) | gzip -9 > "$out/initramfs.gz.tmp"
mv "$out/initramfs.gz.tmp" "$out/initramfs.gz"

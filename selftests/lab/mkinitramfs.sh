#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the lab VM's initramfs (cpio newc, gzip): busybox, the kvm modules
# and their dependencies, veth, tls with AES-GCM, lm.ko, iproute2's ip
# with its libraries, the programs, every test and benchmark from the build directory, and
# /init. Which tests a lab VM runs is its plan (plan.sh), which run.sh
# appends to this image: tests call each other (migrate_workloads_test.sh
# runs migrate_quick_test.sh), so all of them are always there.
#
# Usage: mkinitramfs.sh -k KVER -b BUILD -m LM_KO -o OUT
#   -k  release of the lab kernel (its /lib/modules/KVER is used)
#   -b  build directory holding bin/, tests/ and bench/
#   -m  lm.ko to install as /lib/lm/lm.ko
#   -o  initramfs to write
#
# LAB_MODULES (environment) adds kernel modules loaded at boot, by name.
set -euo pipefail

lab=$(cd "$(dirname "$0")" && pwd)
kver= build= lm_ko= out=
while getopts k:b:m:o: opt; do
	case $opt in
	k) kver=$OPTARG ;;
	b) build=$OPTARG ;;
	m) lm_ko=$OPTARG ;;
	o) out=$OPTARG ;;
	*) exit 2 ;;
	esac
done
if [[ -z $kver || -z $build || -z $lm_ko || -z $out ]]; then
	echo "usage: $0 -k KVER -b BUILD -m LM_KO -o OUT" >&2
	exit 2
fi

die() { echo "mkinitramfs: $*" >&2; exit 1; }

moddir=/lib/modules/$kver
[[ -f $moddir/modules.dep ]] || die "$moddir/modules.dep not found"
[[ -f $lm_ko ]] || die "$lm_ko not found (build it with 'make module')"

root=$(dirname "$out")/initramfs
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,lib,lib64,etc,proc,sys,dev,tmp,run,root} \
	 "$root"/{tests,bench,lib/lm,lib/lab}

# --- busybox, with one link per applet at its usual place. Its ip applet
# is left out: /usr/sbin/ip is the real iproute2 (netns, veth).
cp /bin/busybox "$root/bin/busybox"
while read -r applet; do
	[[ ${applet##*/} == ip || ${applet##*/} == busybox ]] && continue
	[[ -e $root/$applet ]] || ln -s /bin/busybox "$root/$applet"
done < <("$root/bin/busybox" --list-full)

# --- a dynamically linked program with its shared libraries and loader,
# each at the path the loader looks for it.
add_dynamic() {
	local src=$1 dst=$2 lib
	mkdir -p "$root/$(dirname "$dst")"
	cp -L "$src" "$root/$dst"
	while read -r lib; do
		[[ -e $root/$lib ]] && continue
		mkdir -p "$root/$(dirname "$lib")"
		cp -L "$lib" "$root/$lib"
	done < <(ldd "$src" | sed -n -e 's/.*=> \(\/[^ ]*\) .*/\1/p' \
				     -e 's/^[[:space:]]*\(\/[^ ]*\) .*/\1/p')
}

ip=
for cand in /usr/sbin/ip /sbin/ip /bin/ip; do
	[[ -x $cand ]] && { ip=$cand; break; }
done
[[ -n $ip ]] || die "iproute2's ip not found"
add_dynamic "$ip" /usr/sbin/ip
ln -s /usr/sbin/ip "$root/sbin/ip"
ln -s /usr/sbin/ip "$root/bin/ip"

# --- kernel modules, with everything they depend on (modules.dep lists the
# full dependency closure, the module needing them first), installed
# uncompressed at their usual place so that modprobe works too, and listed
# in load order in /lib/lab/modules.
declare -A dep_of=() seen=()
while IFS=: read -r mod deps; do
	dep_of[$mod]=$deps
done < "$moddir/modules.dep"

find_module() {
	local name=$1 mod
	for mod in "${!dep_of[@]}"; do
		local base=${mod##*/}
		base=${base%%.ko*}
		if [[ $base == "$name" || ${base//-/_} == "${name//-/_}" ]]; then
			echo "$mod"
			return 0
		fi
	done
	return 1
}

uncompressed() {
	local mod=$1
	case $mod in
	*.ko.xz)  echo "${mod%.xz}" ;;
	*.ko.zst) echo "${mod%.zst}" ;;
	*.ko.gz)  echo "${mod%.gz}" ;;
	*)        echo "$mod" ;;
	esac
}

install_module() {
	local mod=$1 dst
	dst=$root$moddir/$(uncompressed "$mod")
	mkdir -p "$(dirname "$dst")"
	case $mod in
	*.ko.xz)  xz -dc "$moddir/$mod" > "$dst" ;;
	*.ko.zst) zstd -qdc "$moddir/$mod" > "$dst" ;;
	*.ko.gz)  gzip -dc "$moddir/$mod" > "$dst" ;;
	*)        cp "$moddir/$mod" "$dst" ;;
	esac
}

load_order=()
add_module() {
	local mod=$1 dep i
	[[ -n ${seen[$mod]:-} ]] && return 0
	local -a deps
	read -r -a deps <<< "${dep_of[$mod]}"
	# modules.dep lists direct dependencies before theirs: load from the end.
	for ((i = ${#deps[@]} - 1; i >= 0; i--)); do
		add_module "${deps[i]}"
	done
	seen[$mod]=1
	install_module "$mod"
	load_order+=("$(uncompressed "$mod")")
}

# Guests' networks (netns.sh, l2.sh): taps in bridges. lm's CRC32C is
# libcrc32c's, which takes the fastest crc32c the kernel has: on hardware
# crc32c-intel (SSE 4.2), but TCG emulates that instruction several times
# slower than the generic table code runs (performance.rst), so the lab
# has only crc32c_generic.
# tls and the AES-GCM it encrypts with: kTLS, which lmctl installs on a
# migration's connection (the kernel would load them on demand).
tls_modules="tls gcm ctr ghash-generic aesni-intel"
# lm.ko needs zstd_compress (its compressor; the decompressor, xxhash and
# zstd_common are built into Debian's kernel): insmod does not load it.
for name in irqbypass kvm kvm-amd veth tun bridge crc32c_generic libcrc32c \
	zstd_compress $tls_modules ${LAB_MODULES:-}; do
	mod=$(find_module "$name") || die "module $name not in $moddir/modules.dep"
	add_module "$mod"
done
printf '%s\n' "${load_order[@]}" > "$root/lib/lab/modules"
for mod in "${load_order[@]}"; do
	deps=
	for dep in ${dep_of[$mod]:-}; do
		deps="$deps $(uncompressed "$dep")"
	done
	echo "$mod:$deps"
done > "$root$moddir/modules.dep"
for f in modules.builtin modules.builtin.modinfo modules.order; do
	[[ -f $moddir/$f ]] && cp "$moddir/$f" "$root$moddir/$f"
done

# --- lm.ko as DKMS built it on this machine (the lm-dkms package), when
# it did: at its place, updates/dkms, with its modules.dep line, so that
# selftests/packaging_test.sh can 'modprobe lm' it. It is not loaded at
# boot: the tests run against LM_KO.
for dkms_ko in "$moddir"/updates/dkms/lm.ko*; do
	[[ -f $dkms_ko ]] || continue
	mod=${dkms_ko#"$moddir"/}
	dkms_deps=
	for dep in ${dep_of[$mod]:-}; do
		[[ -n ${seen[$dep]:-} ]] || die "$mod needs $dep, which is not in the initramfs"
		dkms_deps="$dkms_deps $(uncompressed "$dep")"
	done
	install_module "$mod"
	echo "$(uncompressed "$mod"):$dkms_deps" >> "$root$moddir/modules.dep"
	break
done

# --- lm, the programs, tests and benchmarks.
strip --strip-debug -o "$root/lib/lm/lm.ko" "$lm_ko"

# Programs go in without their debug information (a third of the image
# otherwise); their symbols stay.
copy_program() {
	local src=$1 dst=$2
	if [[ $(head -c 4 "$src" | tr -d '\177') == ELF ]]; then
		strip --strip-debug -o "$dst" "$src"
		chmod --reference="$src" "$dst"
	else
		cp -p "$src" "$dst"
	fi
}

copy_dir() {
	local from=$1 to=$2 f
	[[ -d $from ]] || return 0
	for f in "$from"/*; do
		[[ -f $f ]] && copy_program "$f" "$root/$to/${f##*/}"
	done
	return 0
}
copy_dir "$build/bin" usr/bin
copy_dir "$build/bench" bench
copy_dir "$build/tests" tests
# Helpers of the shell tests (wire_relay).
copy_dir "$build/lab-bin" lib/lab

# --- QEMU, for the tests that run an unmodified QEMU VM with nested KVM:
# Debian's binary with its libraries, the firmware a pc machine booting with
# -kernel loads (where Debian's QEMU looks: its own directory, then
# SeaBIOS's), and lm-guest, the guest those tests boot.
qemu_bin=$(command -v qemu-system-x86_64 || true)
if [[ -n $qemu_bin && -f $build/guest/lm-guest.elf ]]; then
	add_dynamic "$qemu_bin" /usr/bin/qemu-system-x86_64
	for fw in bios-256k.bin bios-microvm.bin multiboot_dma.bin linuxboot_dma.bin pvh.bin \
		  kvmvapic.bin; do
		for dir in /usr/share/qemu /usr/share/seabios; do
			[[ -e $dir/$fw ]] || continue
			mkdir -p "$root$dir"
			cp -L "$dir/$fw" "$root$dir/$fw"
			break
		done
		[[ -n $(find "$root/usr/share" -name "$fw") ]] ||
			die "QEMU firmware $fw not found"
	done
	mkdir -p "$root/lib/lab/guest"
	cp "$build/guest/lm-guest.elf" "$root/lib/lab/guest/"
	# A vhost-user backend, for the refusal of vhost-user devices.
	[[ -x /usr/lib/qemu/virtiofsd ]] &&
		add_dynamic /usr/lib/qemu/virtiofsd /usr/lib/qemu/virtiofsd
fi

# --- the L2 Linux guest (l2-guest.sh builds it into $build/l2 with
# 'make l2-guest'; the tests that need it skip without it): its kernel
# and initramfs, the firmware of the microvm machine, and l2.sh, which
# boots it.
if [[ -n $qemu_bin && -f $build/l2/vmlinux && -f $build/l2/initramfs.gz ]]; then
	mkdir -p "$root/lib/lab/l2"
	cp "$build/l2/vmlinux" "$build/l2/initramfs.gz" "$root/lib/lab/l2/"
	cp -L /usr/share/qemu/bios-microvm.bin "$root/usr/share/qemu/"
	install -m 0644 "$lab/l2.sh" "$root/lib/lab/l2.sh"
fi

install -m 0755 "$lab/init" "$root/init"
install -m 0755 "$lab/demo.sh" "$root/usr/bin/lm-demo.sh"
# The two network namespaces of the migration tests and the demo.
install -m 0644 "$lab/netns.sh" "$root/lib/lab/netns.sh"
install -m 0644 "$lab/lmvm_hosts.sh" "$root/lib/lab/lmvm_hosts.sh"

cat > "$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat > "$root/etc/group" <<'GROUP'
root:x:0:
nogroup:x:65534:
GROUP
echo "$kver" > "$root/lib/lab/kver"

# The kernel opens /dev/console before /init runs; without the node /init
# reopens it after mounting devtmpfs.
mknod "$root/dev/console" c 5 1 2>/dev/null || true

(cd "$root" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc --owner=0:0 --quiet) | gzip -1 > "$out.tmp"
mv "$out.tmp" "$out"

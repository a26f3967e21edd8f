#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# lm installed the way an operator installs it, on this host, and taken out
# again: 'make install' into a staging directory and 'make uninstall'; then
# the Debian packages built, linted, installed, lm.ko built and installed
# by DKMS for the lab kernel, looked at, loaded with modprobe in a lab VM
# (packaging_test.sh), and the packages purged, leaving nothing behind. Prints TAP and a closing line "N passed, N failed";
# exits non-zero when a check failed.
#
# Needs root and changes this machine: installs the packages it lacks (the
# build's, as 'make deps', and dkms, debhelper, dh-dkms, lintian,
# fakeroot), then lm-dkms and lmctl, which it purges before it ends. It
# never loads lm: the lab kernel is not the one running here.
#
# Usage: check.sh     (make check-packaging)
# Environment: KVER         kernel to build for (default: the lab kernel,
#                           selftests/lab/kver.sh)
#              LM_PKG_KEEP  1: keep the work directory (its path is printed)
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
lab=$top/selftests/lab

TOOLS="dkms debhelper dh-dkms lintian fakeroot dpkg-dev"
PKGS=(lm-dkms lmctl)

bail() { echo "Bail out! $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || bail "needs root: it installs and removes packages"

# --- what the checks need, installed first (apt only when one is missing).
if ! "$lab/deps.sh" 2>&1 | sed 's/^/# /'; then
	bail "selftests/lab/deps.sh failed"
fi
missing=
for pkg in $TOOLS; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
	[ "$status" = installed ] || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
	echo "# installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	# shellcheck disable=SC2086 # one word per package
	if ! { apt-get update -q &&
	       apt-get install -y -q --no-install-recommends $missing; } 2>&1 |
		sed 's/^/# /'; then
		bail "cannot install:$missing"
	fi
fi

# Purging an operator's lm would be a surprise: refuse instead.
for pkg in "${PKGS[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
	case $status in
	'' | not-installed) ;;
	*) bail "$pkg is installed ($status); remove it first: dpkg --purge ${PKGS[*]}" ;;
	esac
done

KVER=${KVER:-$("$lab/kver.sh")}
version=$("$top/scripts/version.sh")
arch=$(dpkg --print-architecture)
work=$(mktemp -d /tmp/lm-packaging.XXXXXX)
installed=0

cleanup() {
	# A run stopped half-way must not leave the packages installed.
	if [ "$installed" -eq 1 ]; then
		dpkg --purge "${PKGS[@]}" >/dev/null 2>&1 || true
	fi
	if [ "${LM_PKG_KEEP:-0}" = 1 ]; then
		echo "# work directory kept: $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

n=0 passed=0 failed=0
# check DESCRIPTION COMMAND...: one TAP result; on failure the command's
# output follows as diagnostics.
check() {
	local desc=$1 out
	shift
	n=$((n + 1))
	if out=$("$@" 2>&1); then
		passed=$((passed + 1))
		echo "ok $n - $desc"
	else
		failed=$((failed + 1))
		echo "not ok $n - $desc"
		printf '%s\n' "$out" | tail -n 30 | sed 's/^/#   /'
	fi
}

# same WANT GOT: fail showing both when they differ.
same() {
	[ "$1" = "$2" ] && return 0
	printf 'want:\n%s\ngot:\n%s\n' "$1" "$2"
	return 1
}

# --- the checks that take more than one command.

# The staged files of 'make install', without directories.
stage=$work/stage
staged_files() {
	(cd "$stage" && find . ! -type d | sed 's|^\./||' | LC_ALL=C sort)
}

staged_none() {
	[ -d "$stage" ] && same "" "$(staged_files)"
}

install_file_list() {
	same "lib/modules/$KVER/updates/lm.ko
usr/local/include/linux/lm.h
usr/local/include/linux/lm_wire.h
usr/local/sbin/lmctl
usr/local/share/man/man8/lmctl.8" "$(staged_files)"
}

# ko_is_ours KO: KO is version $version, built for $KVER.
ko_is_ours() {
	same "$version $KVER" \
	     "$(modinfo -F version "$1") $(modinfo -F vermagic "$1" | cut -d' ' -f1)"
}

# The packages are built from a copy of the tree: dpkg-buildpackage writes
# its results next to the source, and is not to see the lab's build/.
src=$work/lm-$version
copy_tree() {
	mkdir -p "$src"
	if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
		# Tracked and new files as they are now, not ignored ones.
		git -C "$top" ls-files -z -c -o --exclude-standard |
			while IFS= read -r -d '' f; do
				[ -e "$top/$f" ] && printf '%s\0' "$f"
			done | (cd "$top" && xargs -0 cp -P --parents -t "$src")
	else
		tar -C "$top" --exclude=./build --exclude='*.ko' --exclude='*.o' \
			-cf - . | tar -C "$src" -xf -
	fi
}

build_packages() {
	(cd "$src" && dpkg-buildpackage -us -uc)
}

dkms_deb=$work/lm-dkms_${version}_all.deb
lmctl_deb=$work/lmctl_${version}_${arch}.deb

# The files of a package, without its directories.
contents() {
	dpkg-deb -c "$1" | awk '$1 !~ /^d/ { sub(/^\.\//, "", $6); print $6 }'
}

dkms_deb_has_source() {
	local c f
	c=$(contents "$dkms_deb")
	for f in Kbuild dkms.conf kmod/main.c kmod/version.h uapi/linux/lm.h; do
		grep -qx "usr/src/lm-$version/$f" <<< "$c" || { echo "no $f"; return 1; }
	done
	# Not "| grep -q": under pipefail, a writer grep stops reading early
	# dies of SIGPIPE and fails the pipeline though grep found the line.
	grep -qx "PACKAGE_VERSION=\"$version\"" <<< "$(dpkg-deb --fsys-tarfile "$dkms_deb" |
		tar -xOf - "./usr/src/lm-$version/dkms.conf")"
}

dkms_deb_only_source() {
	[ -f "$dkms_deb" ] && same "" "$(contents "$dkms_deb" |
		   grep -v -E "^(usr/src/lm-$version/(Kbuild|dkms\.conf|(kmod|uapi)/.*\.[ch])|usr/share/doc/lm-dkms/.*)$")"
}

lmctl_deb_files() {
	same "usr/sbin/lmctl
usr/share/man/man8/lmctl.8.gz" \
	     "$(contents "$lmctl_deb" | grep -v '^usr/share/doc/lmctl/' | LC_ALL=C sort)"
}

lmctl_deb_shared_libnl() {
	mkdir -p "$work/lmctl-deb"
	dpkg-deb -x "$lmctl_deb" "$work/lmctl-deb"
	grep -q 'NEEDED.*libnl-genl-3' <<< "$(readelf -d "$work/lmctl-deb/usr/sbin/lmctl")" &&
		grep -q 'libnl-genl-3-200' <<< "$(dpkg-deb -f "$lmctl_deb" Depends)"
}

# The module file DKMS installed, compressed or not, if any.
dkms_ko() {
	local f
	for f in /lib/modules/"$KVER"/updates/dkms/lm.ko*; do
		[ -e "$f" ] && { echo "$f"; return 0; }
	done
	return 1
}

dkms_added() {
	grep -q "^lm/$version" <<< "$(dkms status -m lm -v "$version")"
}

dkms_installed() {
	grep -q ': installed' <<< "$(dkms status -m lm -v "$version" -k "$KVER")"
}

dkms_ko_is_ours() {
	local ko
	ko=$(dkms_ko) && ko_is_ours "$ko"
}

# What 'modprobe lm' would do on that kernel, shown and not done.
modprobe_plan() {
	local plan
	plan=$(modprobe -S "$KVER" --show-depends lm) || return 1
	echo "$plan"
	grep -q '^insmod .*/kvm\.ko' <<< "$plan" &&
		grep -q "^insmod /lib/modules/$KVER/updates/dkms/lm\.ko" <<< "$(tail -n 1 <<< "$plan")"
}

lmctl_version() {
	same "lmctl $version" "$(/usr/sbin/lmctl --version)"
}

lmctl_help_and_man() {
	grep -q '^usage: lmctl' <<< "$(/usr/sbin/lmctl --help)" &&
		grep -qx /usr/share/man/man8/lmctl.8.gz <<< "$(man -aw lmctl)"
}

lmctl_info_unloaded() {
	local out rc=0
	out=$(/usr/sbin/lmctl info 2>&1) || rc=$?
	echo "$out"
	[ "$rc" -eq 1 ] && grep -q 'module is not loaded' <<< "$out"
}

purged_dkms() {
	same "" "$(dkms status -m lm)" && [ ! -e /var/lib/dkms/lm ] &&
		[ ! -e "/usr/src/lm-$version" ]
}

purged_module() {
	! dkms_ko && ! grep -q '^updates/dkms/lm\.ko' "/lib/modules/$KVER/modules.dep"
}

purged_lmctl() {
	[ ! -e /usr/sbin/lmctl ] && [ ! -e /usr/share/man/man8/lmctl.8.gz ]
}

purged_dpkg() {
	local p s
	for p in "${PKGS[@]}"; do
		s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
		[ -z "$s" ] || [ "$s" = not-installed ] || { echo "$p: $s"; return 1; }
	done
}

echo "TAP version 13"
echo "# lm $version, kernel $KVER, work directory $work"
t0=$(date +%s)

check "scripts/version.sh --check: dkms.conf, debian/changelog and the man pages say $version" \
	"$top/scripts/version.sh" --check

# --- make install / make uninstall, staged.
check "make install DESTDIR=...: runs" \
	make -s -C "$top" install DESTDIR="$stage" KVER="$KVER"
check "make install: lm.ko, lmctl, lmctl.8, the uapi headers and no other file" \
	install_file_list
check "make install: lm.ko is version $version, for $KVER" \
	ko_is_ours "$stage/lib/modules/$KVER/updates/lm.ko"
check "make uninstall DESTDIR=...: runs" \
	make -s -C "$top" uninstall DESTDIR="$stage" KVER="$KVER"
check "make uninstall: no file left" staged_none

# --- the packages.
check "copy of the source tree" copy_tree
check "dpkg-buildpackage -us -uc: source and binary packages" build_packages
check "built lm-dkms_${version}_all.deb and lmctl_${version}_${arch}.deb" \
	test -f "$dkms_deb" -a -f "$lmctl_deb"
# Every tag, down to pedantic, fails; exceptions are overrides in debian/
# saying why.
check "lintian: source and binary packages clean" \
	lintian --fail-on error,warning,info,pedantic -I --pedantic \
		"$work/lm_${version}_${arch}.changes"
check "lm-dkms: the module's source in /usr/src/lm-$version, dkms.conf of $version" \
	dkms_deb_has_source
check "lm-dkms: nothing but that source and its docs (no lmvm, no tests)" \
	dkms_deb_only_source
check "lmctl: /usr/sbin/lmctl and its man page, no other program" lmctl_deb_files
check "lmctl: linked against the shared libnl, which it depends on" \
	lmctl_deb_shared_libnl

# --- installed: DKMS builds lm.ko for the kernels with headers.
installed=1
check "dpkg -i lm-dkms lmctl" dpkg -i "$dkms_deb" "$lmctl_deb"
check "dkms status: the package added lm/$version" dkms_added
# What an operator runs for a kernel by hand. The package's postinst ran
# the same for the running and the newest kernel, which the lab's usually
# is: then these find lm built and installed already (building it again
# would double the time of this script).
check "dkms build -k $KVER" dkms build -m lm -v "$version" -k "$KVER"
check "dkms install -k $KVER" dkms install -m lm -v "$version" -k "$KVER"
check "dkms status: lm/$version installed for $KVER" dkms_installed
check "lm.ko under /lib/modules/$KVER/updates/dkms" dkms_ko
check "modinfo: lm.ko is version $version, for $KVER" dkms_ko_is_ours
check "modprobe lm on $KVER: kvm first (depmod), then updates/dkms/lm.ko" modprobe_plan
check "lmctl --version: lmctl $version" lmctl_version
check "lmctl --help and man lmctl" lmctl_help_and_man
if [ -d /sys/module/lm ]; then
	n=$((n + 1)) passed=$((passed + 1))
	echo "ok $n - lmctl info without the module # SKIP lm is loaded on this host"
else
	check "lmctl info without the module: says it is not loaded, exits 1" \
		lmctl_info_unloaded
fi

# --- in the lab VM, which runs $KVER: the module DKMS installed loads with
# modprobe and lmctl talks to it (selftests/packaging_test.sh, which the
# lab VM's image carries with the DKMS-built lm.ko).
lab_modprobe() {
	make -C "$top" --no-print-directory all > "$work/build.log" 2>&1 ||
		{ sed 's/^/#   /' "$work/build.log" | tail -n 20; return 1; }
	make -C "$top" --no-print-directory lab-run LAB_MODE=check LAB_VMS=1 \
		TESTS=packaging_test.sh > "$work/lab.log" 2>&1
	local status=$?
	grep -E '^(not )?ok |^# ' "$work/lab.log" | grep -v '^# selftest' | sed 's/^/#   /'
	[ $status -eq 0 ] && ! grep -q '# SKIP' "$work/lab.log"
}
check "lab VM: modprobe lm loads the DKMS-built module; lmctl info talks to it" lab_modprobe

# --- purged: nothing of lm is left.
check "dpkg --purge lm-dkms lmctl" dpkg --purge "${PKGS[@]}"
installed=0
check "purged: no lm in dkms, /var/lib/dkms or /usr/src" purged_dkms
check "purged: no lm.ko for $KVER, none in its modules.dep" purged_module
check "purged: no lmctl, no lmctl.8" purged_lmctl
check "purged: dpkg knows neither package" purged_dpkg

echo "1..$n"
echo "# packaging checks ran $(($(date +%s) - t0))s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

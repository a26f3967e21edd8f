#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Install the Debian 12 packages the build and the lab need, then check
# that a matching kernel image, modules and headers are present.
#
# Idempotent and non-interactive: when every package is already installed,
# apt is not run at all (no network, no root needed); otherwise the package
# lists are refreshed once and only the missing packages are installed.
#
# Usage: deps.sh [PACKAGE...]   (the arguments: packages one target needs)
set -eu

PACKAGES="
	build-essential
	pkg-config
	linux-image-amd64
	linux-headers-amd64
	linux-source
	qemu-system-x86
	busybox-static
	libnl-3-dev
	libnl-genl-3-dev
	libjansson-dev
	libssl-dev
	iproute2
	cpio
	gzip
	xz-utils
	perl
"
# Arguments: more packages, for a target that needs them (make l2-guest).
PACKAGES="$PACKAGES $*"

missing=
for pkg in $PACKAGES; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
	[ "$status" = installed ] || missing="$missing $pkg"
done

if [ -n "$missing" ]; then
	echo "deps: installing:$missing"
	if [ "$(id -u)" -eq 0 ]; then
		sudo=
	elif command -v sudo >/dev/null 2>&1; then
		sudo="sudo -n"
	else
		echo "deps: missing packages and not root; install as root:$missing" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
	# shellcheck disable=SC2086
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends -o Dpkg::Options::=--force-confdef \
		-o Dpkg::Options::=--force-confold $missing
fi

# linux-image-amd64 and linux-headers-amd64 are meta-packages: after an
# upgrade several versions can coexist, so pick the newest complete set.
ver=$(dirname "$0")/kver.sh
ver=$("$ver")
echo "deps: lab kernel $ver (/boot/vmlinuz-$ver, /usr/src/linux-headers-$ver)"

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# lm as its Debian package installs it: the lm.ko DKMS built for the lab
# kernel on the host (package lm-dkms), which mkinitramfs.sh carries to
# /lib/modules/KVER/updates/dkms with its modules.dep line. The lab's own
# lm.ko is swapped for it with modprobe, lmctl talks to it, and the lab's
# is loaded again. Skipped when the host has no lm-dkms installed.
set -eu

dkms_ko=/lib/modules/$(uname -r)/updates/dkms/lm.ko

echo "TAP version 13"
if [ ! -f "$dkms_ko" ]; then
	echo "1..1"
	echo "ok 1 # SKIP no DKMS-built lm.ko in $dkms_ko: install the lm-dkms package on the host"
	exit 0
fi
echo "1..5"

n=0 failed=0
# check DESCRIPTION COMMAND...: one TAP result.
check() {
	desc=$1
	shift
	n=$((n + 1))
	if "$@"; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
		failed=$((failed + 1))
	fi
}

want=$(modinfo -F version "$dkms_ko")
tool=$(lmctl --version)
tool=${tool#lmctl }

unloaded() {
	rmmod lm && [ ! -d /sys/module/lm ]
}

# modprobe can only find the DKMS module: the lab's lm.ko is outside
# /lib/modules. kvm, which lm needs, must hold it.
dkms_loaded() {
	[ "$(cat /sys/module/lm/version)" = "$want" ] &&
		[ -e /sys/module/kvm/holders/lm ]
}

# With one version, no word about versions; with two, a warning naming
# both.
lmctl_info() {
	lmctl info > /tmp/packaging-info.out 2> /tmp/packaging-info.err || {
		sed 's/^/# /' /tmp/packaging-info.err
		return 1
	}
	sed 's/^/# /' /tmp/packaging-info.out /tmp/packaging-info.err
	grep -qx "module version:  $want" /tmp/packaging-info.out || return 1
	grep -qx "lmctl version:   $tool" /tmp/packaging-info.out || return 1
	if [ "$want" = "$tool" ]; then
		[ ! -s /tmp/packaging-info.err ]
	else
		grep -q "warning: lmctl is version $tool, the loaded lm module version $want" \
			/tmp/packaging-info.err
	fi
}

# The next tests run against the lab's lm.ko, as every other test does.
lab_module_back() {
	{ [ ! -d /sys/module/lm ] || rmmod lm; } && insmod "$LM_KO" &&
		[ -d /sys/module/lm ]
}

check "rmmod lm: the lab's lm.ko out" unloaded
check "modprobe lm: loads $dkms_ko" modprobe lm
check "the loaded lm is the DKMS one, version $want, held by kvm" dkms_loaded
check "lmctl info: module $want, lmctl $tool" lmctl_info
check "rmmod lm, insmod \$LM_KO: the lab's lm.ko back" lab_module_back

[ "$failed" -eq 0 ]

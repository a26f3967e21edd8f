#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# lm's version has one source: LM_MODULE_VERSION in kmod/version.h. The
# module reports it (MODULE_VERSION, LM_CMD_GET_INFO), lmctl is built with
# it; the files that must repeat it as text (dkms.conf for DKMS, the Debian
# changelog, the man pages' headers) are checked against it here.
#
# Usage: version.sh          print the version
#        version.sh --check  also check every file repeating it; exit 1 and
#                            name each one that differs
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)

version=$(sed -n 's/^#define[[:space:]]\{1,\}LM_MODULE_VERSION[[:space:]]\{1,\}"\([^"]*\)".*/\1/p' \
	"$top/kmod/version.h")
case $version in
'' | *[!0-9A-Za-z.+~]*)
	echo "version.sh: no usable LM_MODULE_VERSION in kmod/version.h" >&2
	exit 1
	;;
esac

if [ "${1:-}" != --check ]; then
	echo "$version"
	exit 0
fi

bad=0
# check FILE SED: the version FILE gives (SED prints it) must be ours.
check() {
	if [ ! -f "$top/$1" ]; then
		echo "version.sh: $1 is missing" >&2
		bad=1
		return
	fi
	found=$(sed -n "$2" "$top/$1")
	if [ "$found" != "$version" ]; then
		echo "version.sh: $1 says '$found', kmod/version.h says '$version'" >&2
		bad=1
	fi
}

check dkms.conf 's/^PACKAGE_VERSION="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p'
# The first line of debian/changelog: "lm (VERSION) DIST; urgency=...".
# The package is native: its version is the module's, with no revision.
check debian/changelog '1s/^lm (\([^)]*\)).*/\1/p'
check Documentation/lmctl.8 's/^\.TH .* "lm \([^"]*\)".*/\1/p'
check Documentation/lmvm.1 's/^\.TH .* "lm \([^"]*\)".*/\1/p'

[ "$bad" -eq 0 ] && echo "$version"
exit "$bad"

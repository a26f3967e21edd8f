#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Cost of encrypting a migration: the same guest migrated by lmctl between
# the lab's two hosts (network namespaces joined by a veth pair), in turn
# authenticated and encrypted (TLS 1.3 with a pre-shared key, then kTLS)
# and in plain TCP (--insecure), interleaved, RUNS times each.
#
# Each run is a quick migration of an lmvm guest of MEM whose every page
# holds data (--fill): the guest is paused for the whole transfer, so what
# is measured is the page path alone (a live migration sends the same
# frames the same way, over more rounds). Medians, per GiB of page data:
#
#   wall s/GiB   lmctl migrate's total, connection and handshake included
#   tx s/GiB     CPU of the source's transfer thread (lmctl migrate's
#                "send thread CPU": encryption, TCP, and the receive-side
#                softirq work of the segments it sends over the veth)
#   rx s/GiB     CPU of the destination's transfer thread (lmctl
#                receive's "receive thread CPU": decryption, copying)
#   all s/GiB    CPU of the whole lab VM over the migration (/proc/stat),
#                both hosts, lmctl and the VMMs included
#
# Usage: tls_cost_bench.sh   Environment: TLS_BENCH_MEM (64M: encrypted,
# the lab moves about 3 MiB/s), TLS_BENCH_RUNS (5). TCG emulates AES-NI
# and PCLMULQDQ: in the lab the ratio says more about TCG than about
# hardware (performance.rst).

[ -r /lib/lab/lmvm_hosts.sh ] || { echo "tls_cost_bench: needs the lab's /lib/lab" >&2; exit 1; }
# shellcheck source=../selftests/lab/netns.sh
. /lib/lab/netns.sh
# shellcheck source=../selftests/lab/lmvm_hosts.sh
. /lib/lab/lmvm_hosts.sh

MEM=${TLS_BENCH_MEM:-64M}
RUNS=${TLS_BENCH_RUNS:-5}
WORK=$(mktemp -d /tmp/tls_cost_bench.XXXXXX)

trap hosts_cleanup EXIT
trap 'exit 1' INT TERM

# Busy CPU time of the whole machine so far, in clock ticks (USER_HZ).
busy_ticks() {
	awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat
}

# run_once plain|tls: one migration; appends "WALL TX RX ALL MIB" to
# $WORK/plain or $WORK/tls.
run_once() {
	if [ "$1" = tls ]; then
		sec="--psk-file $WORK/psk"
	else
		sec=--insecure
	fi
	hosts_start_vmm src "$SRC_NS" --mem "$MEM" --fill
	hosts_start_vmm dst "$DST_NS" --mem "$MEM" --incoming
	t0=$(busy_ticks)
	# shellcheck disable=SC2086 # $sec is one or two words
	hosts_migrate src dst $sec -- --mode quick
	all=$(awk -v t=$(($(busy_ticks) - t0)) 'BEGIN { printf "%.3f", t / 100 }')
	echo "$mig_total $mig_tx_cpu $mig_rx_cpu $all $mig_mib" >> "$WORK/$1"
	echo "# $1: $mig_mib MiB, total $mig_total s, send CPU $mig_tx_cpu s, receive CPU $mig_rx_cpu s, machine CPU $all s"
	hosts_stop src dst
}

# median COLUMN FILE: the median of COLUMN per GiB of column 5 (MiB).
median() {
	awk -v c="$1" '{ print $c / $5 * 1024 }' "$2" | sort -n |
		awk '{ v[NR] = $1 } END { printf "%.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

netns_setup || hosts_die "cannot set up the two hosts"
(umask 077 && echo "bench:$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')" \
	> "$WORK/psk")

r=0
while [ $r -lt "$RUNS" ]; do
	# Alternate which goes first, so that drift hits both alike.
	if [ $((r % 2)) -eq 0 ]; then
		run_once plain; run_once tls
	else
		run_once tls; run_once plain
	fi
	r=$((r + 1))
done

echo "# encrypted (TLS 1.3 PSK, kTLS AES-128-GCM) and plain quick migrations of a $MEM guest full of data, over the veth pair; medians of $RUNS runs, per GiB of page data"
printf '%-10s %10s %10s %10s %10s\n' method "wall s/GiB" "tx s/GiB" "rx s/GiB" "all s/GiB"
for m in plain tls; do
	printf '%-10s %10s %10s %10s %10s\n' $m "$(median 1 "$WORK/$m")" \
		"$(median 2 "$WORK/$m")" "$(median 3 "$WORK/$m")" \
		"$(median 4 "$WORK/$m")"
done
c=1
for name in wall tx rx all; do
	awk -v n=$name -v p="$(median $c "$WORK/plain")" \
		-v t="$(median $c "$WORK/tls")" \
		'BEGIN { printf "# tls/plain %s: %.2f\n", n, (p > 0 ? t / p : 0) }'
	c=$((c + 1))
done

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# migrate_workloads_test.sh over its whole matrix: every workload, live and
# quick, with one and two vCPUs, at 256 MiB and 1 GiB. It exists for the
# figures in Documentation/performance.rst: make check-full runs it, make
# check runs the smaller set.

MIGRATE_MATRIX_MEMS="256M 1G" exec "$(dirname "$0")/migrate_workloads_test.sh"

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# migrate_workloads_test.sh at 1 GiB: every workload, live and quick, with
# one and two vCPUs. A test of its own to stay within the per-test limit.

MIGRATE_MATRIX_MEMS=1G exec "$(dirname "$0")/migrate_workloads_test.sh"

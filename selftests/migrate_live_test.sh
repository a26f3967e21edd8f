#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Live migration end to end: the checks of migrate_quick_test.sh, with
# lmctl migrate --mode live (pre-copy rounds while the sweep workload
# writes, then the switchover), plus a guest that does not converge.
# Runs migrate_quick_test.sh from its own directory.
MIGRATE_MODE=live exec "$(dirname "$0")/migrate_quick_test.sh"

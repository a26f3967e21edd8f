#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# migrate_faults_test.sh with every case: each fault in every phase it can
# hit, live and quick. make check-full runs it; make check runs one case
# of each fault.
FAULTS_ALL=1 exec "$(dirname "$0")/migrate_faults_test.sh"

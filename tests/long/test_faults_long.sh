#!/usr/bin/env bash
# test_faults_long.sh - fault injection, long (label `long`, not in scripts/test.sh): 10,000
# generated bounces, 100 SIGKILLs, 15 Redis restarts, 15 IMAP drops, 8 Dovecot restarts; the
# state must equal that of an undisturbed drain (tests/lib/faults.sh). FAULTS_SEED=N replays.
set -euo pipefail
source "$BH_SOURCE_DIR/tests/lib/faults.sh"
faults_main "${FAULTS_MESSAGES:-10000}" "${FAULTS_KILLS:-100}" 15 15 8

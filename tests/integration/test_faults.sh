#!/usr/bin/env bash
# test_faults.sh - fault injection, short: 2,000 generated bounces drained by `bouncer run` while
# it is SIGKILLed 20 times, Redis is killed and restarted, IMAP connections are dropped and
# Dovecot restarted; the Redis state and the folders must equal those of an undisturbed drain of
# the same mailbox (tests/lib/faults.sh). FAULTS_SEED=N replays a run.
set -euo pipefail
source "$BH_SOURCE_DIR/tests/lib/faults.sh"
faults_main "${FAULTS_MESSAGES:-2000}" "${FAULTS_KILLS:-20}" 4 4 2

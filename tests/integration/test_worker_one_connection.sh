#!/usr/bin/env bash
# test_worker_one_connection.sh - a server that allows one connection per user (Dovecot's
# mail_max_userip_connections = 1): the moves' second connection is refused, bouncer says so
# once (moves_connection) and moves on the main connection; every message ends in its folder,
# in a drain of several batches and in a `run` that gets more mail later.
set -euo pipefail
DOVECOT_EXTRA_CONF='protocol imap {
  mail_max_userip_connections = 1
}'
export DOVECOT_EXTRA_CONF
BATCH_SIZE=3
source "$BH_SOURCE_DIR/tests/integration/worker_lib.sh"
worker_setup
fail() { echo "FAIL: $*" >&2; cat "$T"/*.log >&2 2>/dev/null || true; exit 1; }

deliver_unknown 1 10
make_autoreply "$T/ooo.eml" "$(verp news bob@example.net)"
dovecot_deliver "$T/ooo.eml"
"$BOUNCER" once -c "$T/bouncer.yaml" >/dev/null 2>"$T/once.log" || fail "once failed"
grep -q '"event":"moves_connection"' "$T/once.log" || fail "no moves_connection warning"
[ "$(grep -c '"level":"warn","event":"moves_connection"' "$T/once.log")" = 1 ] ||
	fail "the fallback was warned about more than once"
[ "$(dovecot_count INBOX)" = 0 ] || fail "INBOX not empty: $(dovecot_count INBOX)"
[ "$(dovecot_count bouncer/processed)" = 10 ] || fail "processed: $(dovecot_count bouncer/processed)"
[ "$(dovecot_count bouncer/ignored)" = 1 ] || fail "ignored: $(dovecot_count bouncer/ignored)"

# `run`: a later drain falls back again, and moves what came meanwhile
in_folders() { [ "$(dovecot_count bouncer/processed)" = "$1" ] && [ "$(dovecot_count INBOX)" = 0 ]; }
"$BOUNCER" run -c "$T/bouncer.yaml" >/dev/null 2>"$T/run.log" &
BG_PIDS=$!
wait_for grep -q '"event":"imap_connected"' "$T/run.log" || fail "run did not connect"
deliver_unknown 11 14
wait_for in_folders 14 || fail "run did not move the new mail: $(dovecot_count INBOX) left"
kill -TERM "$BG_PIDS"
wait "$BG_PIDS" || fail "run did not exit cleanly"
BG_PIDS=
echo "ok: one connection per user: the moves go on the main connection"

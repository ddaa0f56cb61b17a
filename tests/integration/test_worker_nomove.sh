#!/usr/bin/env bash
# test_worker_nomove.sh - a server without MOVE and IDLE: bouncer moves with UID COPY +
# UID STORE \Deleted + UID EXPUNGE, and `run` polls.
set -euo pipefail
# the post-login capabilities Dovecot announces, without MOVE and IDLE
DOVECOT_EXTRA_CONF='protocol imap {
  imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE LITERAL+ UIDPLUS NAMESPACE
}'
export DOVECOT_EXTRA_CONF
source "$BH_SOURCE_DIR/tests/integration/worker_lib.sh"
worker_setup
fail() { echo "FAIL: $*" >&2; cat "$T"/*.log >&2 2>/dev/null || true; exit 1; }

deliver_unknown 1 4
make_autoreply "$T/ooo.eml" "$(verp news bob@example.net)"
dovecot_deliver "$T/ooo.eml"
"$BOUNCER" once -c "$T/bouncer.yaml" >/dev/null 2>"$T/once.log" || fail "once failed"
grep -q 'move=no idle=no uidplus=yes' "$T/once.log" || fail "the server still offers MOVE or IDLE"
[ "$(dovecot_count INBOX)" = 0 ] || fail "INBOX not empty: $(dovecot_count INBOX)"
[ "$(dovecot_count bouncer/processed)" = 4 ] || fail "processed: $(dovecot_count bouncer/processed)"
[ "$(dovecot_count bouncer/ignored)" = 1 ] || fail "ignored: $(dovecot_count bouncer/ignored)"

# `run` without IDLE polls (poll_interval 2s)
"$BOUNCER" run -c "$T/bouncer.yaml" >/dev/null 2>"$T/run.log" &
RUN=$!
BG_PIDS=$RUN
wait_for grep -q '"event":"imap_connected"' "$T/run.log" || fail "run did not connect"
make_dsn "$T/m5.eml" "$(verp news u5@example.net)" u5@example.net 5.1.1 "550 5.1.1 user unknown"
dovecot_deliver "$T/m5.eml"
wait_for sh -c "[ \$(doveadm -c '$DOVECOT_DIR/dovecot.conf' -f flow mailbox status -u bounces messages bouncer/processed | sed 's/.*=//') = 5 ]" ||
	fail "polling did not pick up new mail"
kill -TERM "$RUN"
wait "$RUN" || fail "run did not exit cleanly"
BG_PIDS=
echo "ok: COPY/STORE/EXPUNGE fallback and polling"

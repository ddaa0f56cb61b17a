#!/usr/bin/env bash
# test_worker_redis_down.sh - Redis down while `bouncer run` works: bounces stay in the mailbox
# unacknowledged (nothing moved, nothing lost), bouncer backs off and retries, and once Redis is
# back every bounce is applied exactly once and moved.
set -euo pipefail
source "$BH_SOURCE_DIR/tests/integration/worker_lib.sh"
worker_setup
fail() { echo "FAIL: $*" >&2; [ -f "$T/run.log" ] && tail -20 "$T/run.log" >&2; exit 1; }
processed_is() { [ "$(dovecot_count bouncer/processed)" = "$1" ]; }

EXTRA_CONFIG=$'metrics:\n  listen: "127.0.0.1:'"$(_dovecot_free_port)"'"' write_config tls "$DOVECOT_IMAPS_PORT" "$DOVECOT_CA" 127.0.0.1
"$BOUNCER" run -c "$T/bouncer.yaml" >/dev/null 2>"$T/run.log" &
RUN=$!
BG_PIDS=$RUN
wait_for grep -q '"event":"imap_connected"' "$T/run.log" || fail "run did not connect"

stop_redis
deliver_unknown 1 3
wait_for grep -q '"event":"unavailable".*redis' "$T/run.log" || fail "Redis being down was not reported"
sleep 1
[ "$(dovecot_count INBOX)" = 3 ] || fail "messages left the mailbox while Redis was down"
[ "$(dovecot_count bouncer/processed)" = 0 ] || fail "messages were moved without a confirmation"

restart_redis || fail "redis did not start again"
wait_for processed_is 3 || fail "the bounces were not processed after Redis came back"
[ "$(dovecot_count INBOX)" = 0 ] || fail "messages left in INBOX"
[ "$(rcli --scan --pattern '{t}:sup:l:news:*' | wc -l)" = 3 ] || fail "suppressions missing"
[ "$(rcli --scan --pattern '{t}:applied:*' | wc -l)" = 3 ] || fail "applied markers do not match"
# the metrics the worker counted
port=$(sed -n 's/.*"event":"metrics".*(port \([0-9]*\)).*/\1/p' "$T/run.log")
[ -n "$port" ] || fail "no metrics port in the log"
if command -v curl >/dev/null 2>&1; then
	curl -fsS "http://127.0.0.1:$port/metrics" >"$T/metrics.txt" || fail "no /metrics"
	grep -q '^bouncer_bounces_total{.*outcome="suppress"} 3$' "$T/metrics.txt" ||
		fail "bounces not counted: $(grep bounces_total "$T/metrics.txt")"
	grep -q '^bouncer_redis_errors_total [1-9]' "$T/metrics.txt" || fail "redis errors not counted"
	grep -q '^bouncer_redis_reconnects_total 1$' "$T/metrics.txt" || fail "the reconnection not counted"
	grep -q '^bouncer_batch_seconds_count [1-9]' "$T/metrics.txt" || fail "batches not timed"
	grep -q '^bouncer_last_poll_timestamp_seconds [1-9]' "$T/metrics.txt" || fail "no last poll"
fi
kill -TERM "$RUN"
wait "$RUN" || fail "run did not exit cleanly"
BG_PIDS=
echo "ok: Redis down, messages kept, retried, applied once"

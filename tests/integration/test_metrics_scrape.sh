#!/usr/bin/env bash
# test_metrics_scrape.sh - `bouncer run` with metrics.listen on a free loopback port, against a
# real Dovecot and Redis: once two bounces are handled, GET /metrics shows them by list and
# reason, the time of the last poll and the batch histogram; the endpoint answers while the
# worker idles; SIGTERM still stops the worker at once (the HTTP thread must not take the
# signal), and the port is closed afterwards.
set -euo pipefail
source "$BH_SOURCE_DIR/tests/integration/worker_lib.sh"
command -v curl >/dev/null 2>&1 || exit 77
worker_setup
fail() { echo "FAIL: $*" >&2; [ -f "$T/run.log" ] && tail -20 "$T/run.log" >&2; exit 1; }
processed_is() { [ "$(dovecot_count bouncer/processed)" = "$1" ]; }
scrape() { curl -fsS --max-time 5 "http://127.0.0.1:$port/metrics"; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
POLL_INTERVAL=10m write_config tls "$DOVECOT_IMAPS_PORT" "$DOVECOT_CA" 127.0.0.1
printf 'metrics:\n  listen: "127.0.0.1:%s"\n' "$port" >>"$T/bouncer.yaml"
make_dsn "$T/m0.eml" "$(verp news u0@example.net)" u0@example.net 5.1.1 "550 5.1.1 user unknown"
make_dsn "$T/m1.eml" "$(verp promo u1@example.net)" u1@example.net 4.2.2 \
	"452 4.2.2 The email account that you tried to reach is over quota"
dovecot_deliver "$T/m0.eml"
dovecot_deliver "$T/m1.eml"

start=$(date +%s)
"$BOUNCER" run -c "$T/bouncer.yaml" >"$T/run.out" 2>"$T/run.log" &
RUN=$!
BG_PIDS=$RUN
wait_for processed_is 2 || fail "the bounces were not processed"
wait_for scrape >/dev/null || fail "no answer on 127.0.0.1:$port/metrics"
scrape >"$T/m.txt" || fail "scrape failed"

grep -Eq '^bouncer_bounces_total\{list="news",type="[^"]+",reason="userunknown",outcome="[^"]+"\} 1$' \
	"$T/m.txt" || fail "no bounce counted for news/userunknown: $(grep bounces_total "$T/m.txt")"
grep -Eq '^bouncer_bounces_total\{list="promo",type="[^"]+",reason="[a-z_]+",outcome="[^"]+"\} 1$' \
	"$T/m.txt" || fail "no bounce counted for promo: $(grep bounces_total "$T/m.txt")"
last=$(sed -n 's/^bouncer_last_poll_timestamp_seconds \([0-9]*\)$/\1/p' "$T/m.txt")
[ -n "$last" ] && [ "$last" -ge "$start" ] || fail "last poll time '$last' is before the start ($start)"
batches=$(sed -n 's/^bouncer_batch_seconds_count \([0-9]*\)$/\1/p' "$T/m.txt")
[ "${batches:-0}" -ge 1 ] || fail "no batch in bouncer_batch_seconds (count '$batches')"
grep -q '^bouncer_batch_seconds_bucket{le="+Inf"} '"$batches"'$' "$T/m.txt" ||
	fail "histogram +Inf bucket differs from its count"
grep -q '^# TYPE bouncer_redis_errors_total counter$' "$T/m.txt" || fail "no redis error counter"

# A bad path, and the endpoint while the worker idles (in IMAP IDLE with signals let in).
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port/nothing")
[ "$code" = 404 ] || fail "GET /nothing answered $code, want 404"
sleep 1
scrape >/dev/null || fail "no answer while idle"

# SIGTERM: the worker stops at once even though the HTTP thread is running.
t0=$(date +%s)
kill -TERM "$RUN"
rc=0
wait "$RUN" || rc=$?
BG_PIDS=""
[ "$rc" = 0 ] || fail "bouncer run exited $rc after SIGTERM"
[ $(($(date +%s) - t0)) -le 5 ] || fail "SIGTERM took more than 5 s"
if scrape >/dev/null 2>&1; then fail "the metrics port still answers after exit"; fi
echo "metrics: $(grep -c '^bouncer_bounces_total{' "$T/m.txt") bounce series, $batches batches, scraped on port $port"

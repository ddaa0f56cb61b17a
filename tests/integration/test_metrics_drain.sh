#!/usr/bin/env bash
# test_metrics_drain.sh - the on-call metrics and /healthz of `bouncer run` (and `once`) against
# a real Dovecot and Redis, scraped while the worker drains a mailbox: connection gauges and
# /healthz while up; Redis stopped: /healthz 503 naming redis, the backlog held in the mailbox;
# Redis back: every message counted by outcome folder (processed, ignored, quarantined),
# suppressions, a suppression held by a list burst and its alert, the backlog back to 0, one
# Redis reconnection and no IMAP one; the IMAP connection kicked: one IMAP reconnection; the
# lease gauge of a holder and of a standby; process_* present and sane; `once` serves too.
set -euo pipefail
source "$BH_SOURCE_DIR/tests/integration/worker_lib.sh"
command -v curl >/dev/null 2>&1 || exit 77
worker_setup
LOG=$T/run.log
fail() { echo "FAIL: $*" >&2; [ -f "$LOG" ] && tail -20 "$LOG" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
scrape() { curl -fsS --max-time 5 "http://127.0.0.1:$1/metrics"; }
# value PORT SAMPLE: the value of one sample line ("name" or "name{labels}")
value() { scrape "$1" | awk -v k="$2" '$1 == k { print $2; f = 1 } END { if (!f) print "missing" }'; }
value_is() { [ "$(value "$1" "$2")" = "$3" ]; }
value_ge() { local v; v=$(value "$1" "$2"); [ "$v" != missing ] && [ "${v%.*}" -ge "$3" ]; }
health_code() { curl -s -o "$T/health.json" -w '%{http_code}' --max-time 5 "http://127.0.0.1:$1/healthz"; }
health_is() { [ "$(health_code "$1")" = "$2" ]; }
health_says() { health_is "$1" "$2" && grep -q "$3" "$T/health.json"; } # PORT CODE PATTERN
expect() { # PORT SAMPLE WANT
	local got
	got=$(value "$1" "$2")
	[ "$got" = "$3" ] || fail "$2 is $got, want $3"
}
processed_is() { [ "$(dovecot_count bouncer/processed)" = "$1" ]; }

# --- 1. `bouncer run` on an empty mailbox: both connections up, nothing counted yet
port=$(free_port)
BATCH_SIZE=10 POLL_INTERVAL=2s EXTRA_CONFIG=$'metrics:\n  listen: "127.0.0.1:'"$port"'"' \
	write_config tls "$DOVECOT_IMAPS_PORT" "$DOVECOT_CA" 127.0.0.1
"$BOUNCER" run -c "$T/bouncer.yaml" >/dev/null 2>"$LOG" &
RUN=$!
BG_PIDS=$RUN
wait_for health_is "$port" 200 || fail "/healthz never answered 200: $(cat "$T/health.json" 2>/dev/null)"
grep -q '^{"status":"ok","stale_after_seconds":34,"imap":{"state":"up",' "$T/health.json" ||
	fail "healthz body: $(cat "$T/health.json")"
grep -q '"redis":{"state":"up","last_contact_age_seconds":[0-9]' "$T/health.json" ||
	fail "healthz body: $(cat "$T/health.json")"
scrape "$port" >"$T/m0.txt" || fail "no /metrics"
for s in bouncer_imap_up:1 bouncer_redis_up:1 bouncer_lease_held:1 \
	bouncer_imap_reconnects_total:0 bouncer_redis_reconnects_total:0 \
	bouncer_mailbox_backlog_messages:0 'bouncer_messages_total{outcome="processed"}:0' \
	'bouncer_messages_total{outcome="ignored"}:0' 'bouncer_messages_total{outcome="quarantined"}:0' \
	bouncer_suppressions_total:0 bouncer_suppressions_held_total:0 bouncer_alerts_total:0; do
	grep -qxF "${s%:*} ${s##*:}" "$T/m0.txt" || fail "want '${s%:*} ${s##*:}', got: $(grep -F "${s%%\{*}" "$T/m0.txt")"
done
for t in imap redis; do
	grep -q "^# TYPE bouncer_${t}_up gauge$" "$T/m0.txt" || fail "no TYPE line for bouncer_${t}_up"
	last=$(awk -v k="bouncer_${t}_last_contact_timestamp_seconds" '$1 == k { print $2 }' "$T/m0.txt")
	[ -n "$last" ] && [ $(($(date +%s) - last)) -le 10 ] || fail "$t last contact '$last' is not recent"
done
# process_*: all there, with their types, and sane next to what /proc says about the pid
python3 - "$T/m0.txt" "$RUN" <<'PY' || fail "process_* metrics"
import os, sys, time
text = open(sys.argv[1]).read().splitlines()
pid = sys.argv[2]
vals = {l.split()[0]: float(l.split()[1]) for l in text if l.startswith("process_")}
types = {l.split()[2]: l.split()[3] for l in text if l.startswith("# TYPE process_")}
want = {"process_cpu_seconds_total": "counter", "process_resident_memory_bytes": "gauge",
        "process_virtual_memory_bytes": "gauge", "process_start_time_seconds": "gauge",
        "process_open_fds": "gauge", "process_max_fds": "gauge"}
for name, kind in want.items():
    assert name in vals, "missing " + name
    assert types.get(name) == kind, "%s: TYPE %s, want %s" % (name, types.get(name), kind)
now = time.time()
assert 0 <= vals["process_cpu_seconds_total"] < 60, vals
assert now - 120 < vals["process_start_time_seconds"] <= now + 1, vals
assert 1 << 20 < vals["process_resident_memory_bytes"] <= vals["process_virtual_memory_bytes"], vals
fds = len(os.listdir("/proc/%s/fd" % pid))
assert 3 <= vals["process_open_fds"] <= fds + 2, (vals, fds)
assert vals["process_max_fds"] >= vals["process_open_fds"], vals
PY
echo "ok: run is up: healthz 200, gauges 1, counters 0, process_* sane"

# --- 2. Redis stopped: /healthz 503 naming redis; mail arrives and waits in the mailbox
rcli set '{t}:mailed:promo' 1 EX 600 >/dev/null # the second promo failure is a burst: held
stop_redis
wait_for health_is "$port" 503 || fail "/healthz stayed 200 with Redis stopped"
grep -q '"status":"unhealthy","stale":\["redis"\]' "$T/health.json" || fail "503 body: $(cat "$T/health.json")"
grep -q '"redis":{"state":"down"' "$T/health.json" || fail "503 body: $(cat "$T/health.json")"
grep -q '"imap":{"state":"up"' "$T/health.json" || fail "503 body: $(cat "$T/health.json")"
expect "$port" bouncer_redis_up 0
expect "$port" bouncer_imap_up 1
for u in n1 n2 n3; do
	make_dsn "$T/$u.eml" "$(verp news $u@example.net)" $u@example.net 5.1.1 "550 5.1.1 user unknown"
done
for u in p1 p2; do
	make_dsn "$T/$u.eml" "$(verp promo $u@example.net)" $u@example.net 5.1.1 "550 5.1.1 user unknown"
done
make_autoreply "$T/ooo.eml" "$(verp news bob@example.net)"
{ printf 'From: x@example.net\nSubject: nested\nMessage-ID: <bomb@example.net>\nMIME-Version: 1.0\n'
  printf 'Content-Type: multipart/mixed; boundary="b0"\n\n'
  for i in $(seq 0 39); do printf -- '--b%d\nContent-Type: multipart/mixed; boundary="b%d"\n\n' "$i" "$((i + 1))"; done
  printf -- '--b40\nContent-Type: text/plain\n\nhi\n'
  for i in $(seq 40 -1 0); do printf -- '--b%d--\n' "$i"; done; } >"$T/bomb.eml"
for m in n1 n2 n3 p1 p2 ooo bomb; do dovecot_deliver "$T/$m.eml"; done
# the malformed one needs no Redis: it is quarantined; the other 6 wait, and the gauge says so
wait_for value_is "$port" 'bouncer_messages_total{outcome="quarantined"}' 1 ||
	fail "the malformed message was not counted as quarantined"
wait_for value_is "$port" bouncer_mailbox_backlog_messages 6 ||
	fail "backlog is $(value "$port" bouncer_mailbox_backlog_messages), want 6 with Redis down"
wait_for value_ge "$port" bouncer_redis_errors_total 1 || fail "no Redis error counted"
expect "$port" 'bouncer_messages_total{outcome="processed"}' 0
[ "$(dovecot_count INBOX)" = 6 ] || fail "INBOX holds $(dovecot_count INBOX), want 6"
echo "ok: Redis down: healthz 503 (redis), backlog 6, the malformed one quarantined"

# --- 3. Redis back: everything drained and counted, one Redis reconnection, no IMAP one
restart_redis || fail "redis did not start again"
wait_for processed_is 5 || fail "the bounces were not processed after Redis came back"
wait_for value_is "$port" bouncer_mailbox_backlog_messages 0 || fail "backlog did not fall to 0"
wait_for health_is "$port" 200 || fail "/healthz not 200 after Redis came back: $(cat "$T/health.json")"
scrape "$port" >"$T/m1.txt"
for s in 'bouncer_messages_total{outcome="processed"}:5' 'bouncer_messages_total{outcome="ignored"}:1' \
	'bouncer_messages_total{outcome="quarantined"}:1' bouncer_suppressions_total:4 \
	bouncer_suppressions_held_total:1 bouncer_alerts_total:1 bouncer_redis_reconnects_total:1 \
	bouncer_imap_reconnects_total:0 bouncer_redis_up:1 bouncer_imap_up:1 bouncer_lease_held:1 \
	bouncer_mailbox_backlog_messages:0; do
	grep -qxF "${s%:*} ${s##*:}" "$T/m1.txt" || fail "want '${s%:*} ${s##*:}', got: $(grep -F "${s%%\{*}" "$T/m1.txt")"
done
[ "$(rcli zrange '{t}:held:promo' 0 -1)" = p2@example.net ] || fail "p2 not in the held set"
grep -q '^bouncer_bounces_total{list="news",.*outcome="suppress"} 3$' "$T/m1.txt" ||
	fail "news bounces: $(grep bounces_total "$T/m1.txt")"
echo "ok: Redis back: processed 5, ignored 1, quarantined 1, 4 suppressions, 1 held, 1 alert, backlog 0, 1 Redis reconnect"

# --- 4. the IMAP connection dropped by the server: one IMAP reconnection
dovecot_kick
wait_for value_is "$port" bouncer_imap_reconnects_total 1 ||
	fail "imap reconnects $(value "$port" bouncer_imap_reconnects_total), want 1 after a kick"
wait_for value_is "$port" bouncer_imap_up 1 || fail "IMAP not up again"
wait_for health_is "$port" 200 || fail "/healthz not 200 after the IMAP reconnection"
expect "$port" bouncer_redis_reconnects_total 1
kill -TERM "$RUN"
wait "$RUN" || fail "run exited $? after SIGTERM"
BG_PIDS=""
echo "ok: IMAP kicked: 1 IMAP reconnect, healthz 200"

# --- 5. leases: the holder says 1, a standby 0 (and is healthy without IMAP)
pa=$(free_port)
pb=$(free_port)
POLL_INTERVAL=2s EXTRA_CONFIG=$'lease: {enabled: true, ttl: 6s}\nmetrics:\n  listen: "127.0.0.1:'"$pa"'"' \
	write_config tls "$DOVECOT_IMAPS_PORT" "$DOVECOT_CA" 127.0.0.1
cp "$T/bouncer.yaml" "$T/a.yaml"
sed "s/127.0.0.1:$pa/127.0.0.1:$pb/" "$T/a.yaml" >"$T/b.yaml"
LOG=$T/a.log
"$BOUNCER" run -c "$T/a.yaml" >/dev/null 2>"$T/a.log" &
A=$!
BG_PIDS=$A
wait_for value_is "$pa" bouncer_lease_held 1 || fail "the first worker does not hold the lease"
"$BOUNCER" run -c "$T/b.yaml" >/dev/null 2>"$T/b.log" &
B=$!
BG_PIDS="$A $B"
wait_for grep -q '"event":"standby"' "$T/b.log" || fail "the second worker did not stand by"
wait_for health_is "$pb" 200 || fail "standby /healthz: $(cat "$T/health.json")"
grep -q '"imap":{"state":"standby"' "$T/health.json" || fail "standby healthz: $(cat "$T/health.json")"
expect "$pb" bouncer_lease_held 0
expect "$pb" bouncer_imap_up 0
expect "$pa" bouncer_lease_held 1
health_is "$pa" 200 || fail "holder /healthz: $(cat "$T/health.json")"
kill -TERM "$A" "$B"
wait "$A" || fail "the holder exited $? after SIGTERM"
wait "$B" || fail "the standby exited $? after SIGTERM"
BG_PIDS=""
echo "ok: lease: holder 1, standby 0 and healthy"

# --- 6. `once` serves metrics and /healthz while it runs (here: retrying with Redis down)
po=$(free_port)
POLL_INTERVAL=2s EXTRA_CONFIG=$'metrics:\n  listen: "127.0.0.1:'"$po"'"' \
	write_config tls "$DOVECOT_IMAPS_PORT" "$DOVECOT_CA" 127.0.0.1
make_dsn "$T/o1.eml" "$(verp news o1@example.net)" o1@example.net 5.1.1 "550 5.1.1 user unknown"
dovecot_deliver "$T/o1.eml"
stop_redis
LOG=$T/once.log
"$BOUNCER" once -c "$T/bouncer.yaml" >/dev/null 2>"$T/once.log" &
O=$!
BG_PIDS=$O
wait_for health_says "$po" 503 '"stale":\["redis"\].*"imap":{"state":"up"' ||
	fail "once: no /healthz 503 naming redis: $(cat "$T/health.json")"
expect "$po" bouncer_mailbox_backlog_messages 1
rc=0
wait "$O" || rc=$?
BG_PIDS=""
[ "$rc" = 75 ] || fail "once exited $rc with Redis down, want 75"
if scrape "$po" >/dev/null 2>&1; then fail "the metrics port of once still answers after exit"; fi
echo "ok: once serves /metrics and /healthz while it runs"

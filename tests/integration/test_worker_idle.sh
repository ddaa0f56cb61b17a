#!/usr/bin/env bash
# test_worker_idle.sh - `bouncer run` in the background: mail arriving while it IDLEs is handled
# at once; the server dropping the connection in the middle of a drain loses nothing and applies
# nothing twice; SIGHUP with a bad file keeps the running configuration; SIGTERM exits cleanly;
# without IDLE it polls.
set -euo pipefail
source "$BH_SOURCE_DIR/tests/integration/worker_lib.sh"
worker_setup
fail() { echo "FAIL: $*" >&2; [ -f "$T/run.log" ] && tail -20 "$T/run.log" >&2; exit 1; }
processed_is() { [ "$(dovecot_count bouncer/processed)" = "$1" ]; }

# a long poll interval: only IDLE can explain a quick reaction
POLL_INTERVAL=10m write_config tls "$DOVECOT_IMAPS_PORT" "$DOVECOT_CA" 127.0.0.1
cp "$T/bouncer.yaml" "$T/good.yaml"
make_dsn "$T/m0.eml" "$(verp news u0@example.net)" u0@example.net 5.1.1 "550 5.1.1 user unknown"
dovecot_deliver "$T/m0.eml"

"$BOUNCER" run -c "$T/bouncer.yaml" >"$T/run.out" 2>"$T/run.log" &
RUN=$!
BG_PIDS=$RUN
wait_for processed_is 1 || fail "the first bounce was not processed"

# --- arriving while idling
sleep 1
make_dsn "$T/m1.eml" "$(verp news u1@example.net)" u1@example.net 5.1.1 "550 5.1.1 user unknown"
start=$(date +%s)
dovecot_deliver "$T/m1.eml"
wait_for processed_is 2 || fail "mail arriving during IDLE was not processed"
[ $(( $(date +%s) - start )) -le 10 ] || fail "IDLE took too long to notice new mail"

# --- the connection dropped in the middle of a drain
N=60
kill -STOP "$RUN"
for i in $(seq 1 $N); do
	make_dsn "$T/b.eml" "$(verp promo "r$i@example.org")" "r$i@example.org" 5.1.1 "550 5.1.1 user unknown" "b$i"
	dovecot_deliver "$T/b.eml"
done
kill -CONT "$RUN"
wait_for sh -c "[ \$(grep -c '\"uid\":' '$T/run.log') -ge 12 ]" || fail "the drain did not start"
dovecot_kick
wait_for processed_is $((N + 2)) || fail "after the drop: $(dovecot_count bouncer/processed) processed, want $((N + 2))"
[ "$(dovecot_count INBOX)" = 0 ] || fail "messages left in INBOX"
[ "$(rcli --scan --pattern '{t}:sup:l:promo:*' | wc -l)" = "$N" ] || fail "not every bounce was stored"
[ "$(rcli --scan --pattern '{t}:applied:*' | wc -l)" = $((N + 2)) ] || fail "applied markers do not match"
# The drain may finish before the kick lands (then the drop hits the IDLE that follows): either
# way the worker must connect again, after its backoff, so wait for it rather than look once.
wait_for sh -c "[ \$(grep -c '\"event\":\"imap_connected\"' '$T/run.log') -ge 2 ]" ||
	fail "no reconnection after the drop"

# --- SIGHUP: a bad file is reported and the old configuration kept; a good one is taken
make_dsn "$T/m2.eml" "$(verp news u2@example.net)" u2@example.net 5.1.1 "550 5.1.1 user unknown"
printf 'imap: [this is not\n' >"$T/bouncer.yaml"
kill -HUP "$RUN"
wait_for grep -q '"event":"reload_failed"' "$T/run.log" || fail "a bad config was not reported"
dovecot_deliver "$T/m2.eml"
wait_for processed_is $((N + 3)) || fail "stopped working after a bad reload"
cp "$T/good.yaml" "$T/bouncer.yaml"
kill -HUP "$RUN"
wait_for grep -q '"event":"reloaded"' "$T/run.log" || fail "a good config was not reloaded"

# --- SIGTERM: a clean exit
kill -TERM "$RUN"
rc=0
wait "$RUN" || rc=$?
BG_PIDS=
[ "$rc" = 0 ] || fail "run exited $rc after SIGTERM"
grep -q '"event":"stopped"' "$T/run.log" || fail "no stopped line"

# --- without IDLE: polling
IDLE=false POLL_INTERVAL=1s write_config tls "$DOVECOT_IMAPS_PORT" "$DOVECOT_CA" 127.0.0.1
"$BOUNCER" run -c "$T/bouncer.yaml" >/dev/null 2>"$T/poll.log" &
RUN=$!
BG_PIDS=$RUN
sleep 1
make_dsn "$T/m3.eml" "$(verp news u3@example.net)" u3@example.net 5.1.1 "550 5.1.1 user unknown"
dovecot_deliver "$T/m3.eml"
wait_for processed_is $((N + 4)) || fail "polling did not pick up new mail"
kill -TERM "$RUN"
wait "$RUN" || fail "poll run did not exit cleanly"
BG_PIDS=
echo "ok: idle, drop mid-drain, reload, stop, poll"

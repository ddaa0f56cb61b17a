#!/usr/bin/env bash
# test_notify.sh - `bouncer run` under a fake systemd: a unix datagram socket named by
# $NOTIFY_SOCKET (read by python3, as systemd's notify socket would be) receives READY=1 only
# after the first IMAP + Redis contact, WATCHDOG=1 pings at least every half of $WATCHDOG_USEC
# while the worker idles and drains, and STOPPING=1 on SIGTERM. Without $NOTIFY_SOCKET nothing
# is sent (every other test). With stderr as the "journal" ($JOURNAL_STREAM names it), the log
# lines carry their <N> priorities.
set -euo pipefail
source "$BH_SOURCE_DIR/tests/integration/worker_lib.sh"
worker_setup
fail() { echo "FAIL: $*" >&2; [ -f "$T/run.log" ] && tail -20 "$T/run.log" >&2; [ -f "$T/notify.log" ] && cat "$T/notify.log" >&2; exit 1; }
processed_is() { [ "$(dovecot_count bouncer/processed)" = "$1" ]; }

# The listener: one line per datagram, newlines inside as '|', with a monotonic time stamp.
python3 - "$T/notify.sock" "$T/notify.log" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        try:
            data = s.recv(4096)
        except socket.timeout:
            break
        out.write("%.3f %s\n" % (time.monotonic(), data.decode().strip().replace("\n", "|")))
PY
LISTENER=$!
BG_PIDS=$LISTENER
wait_for test -S "$T/notify.sock" || fail "the listener did not bind"

# Redis down at the start, the mailbox empty (a drain then needs no Redis): no READY until Redis
# answers.
stop_redis
POLL_INTERVAL=10m write_config tls "$DOVECOT_IMAPS_PORT" "$DOVECOT_CA" 127.0.0.1
: >"$T/run.log"
NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=2000000 \
	"$BOUNCER" run -c "$T/bouncer.yaml" >"$T/run.out" 2>"$T/run.log" &
RUN=$!
BG_PIDS="$LISTENER $RUN"
wait_for grep -q '"event":"imap_connected"' "$T/run.log" || fail "no IMAP connection"
wait_for grep -q 'WATCHDOG=1' "$T/notify.log" || fail "no WATCHDOG=1 while waiting for Redis"
sleep 2
! grep -q 'READY=1' "$T/notify.log" || fail "READY=1 before Redis answered"
# tests/lib/redis.sh restarts on the same port
restart_redis
wait_for grep -q 'READY=1' "$T/notify.log" || fail "no READY=1 once Redis answered"
grep 'READY=1' "$T/notify.log" | grep -q 'STATUS=draining INBOX' || fail "READY=1 without a STATUS line"
make_dsn "$T/m0.eml" "$(verp news u0@example.net)" u0@example.net 5.1.1 "550 5.1.1 user unknown"
dovecot_deliver "$T/m0.eml"
wait_for processed_is 1 || fail "the bounce was not processed"
[ "$(grep -c 'READY=1' "$T/notify.log")" = 1 ] || fail "READY=1 sent more than once"

# Idle (IDLE, a 10 min poll interval): the watchdog is still fed, at most 1 s apart (half of 2 s).
sleep 4
make_dsn "$T/m1.eml" "$(verp news u1@example.net)" u1@example.net 5.1.1 "550 5.1.1 user unknown"
dovecot_deliver "$T/m1.eml"
wait_for processed_is 2 || fail "the second bounce was not processed"
ready_at=$(awk '/READY=1/ {print $1; exit}' "$T/notify.log")
pings=$(awk -v r="$ready_at" '$2 == "WATCHDOG=1" && $1 >= r' "$T/notify.log" | wc -l)
[ "$pings" -ge 4 ] || fail "only $pings WATCHDOG=1 pings in about 4 s after READY"
gap=$(awk -v r="$ready_at" '$2 == "WATCHDOG=1" && $1 >= r { if (last != "" && $1 - last > max) max = $1 - last; last = $1 } END { printf "%.3f", max + 0 }' "$T/notify.log")
awk -v g="$gap" 'BEGIN { exit !(g <= 1.5) }' || fail "a gap of $gap s between WATCHDOG=1 pings (WATCHDOG_USEC 2 s)"

kill -TERM "$RUN"
wait "$RUN" || fail "bouncer run exited $? on SIGTERM"
BG_PIDS=$LISTENER
wait_for grep -q 'STOPPING=1' "$T/notify.log" || fail "no STOPPING=1 on SIGTERM"
echo "notify: READY=1 once after Redis came back, $pings WATCHDOG=1 pings (largest gap $gap s), STOPPING=1"

# stderr as the journal: $JOURNAL_STREAM names the file stderr is: every line starts with <N>,
# errors with <3> (journalctl -p err shows just those).
"$BOUNCER" once -c "$T/bouncer.yaml" >/dev/null 2>"$T/journal.log" || true
printf 'imap: [this is not\n' >"$T/bad.yaml"
js=$(stat -c '%d:%i' "$T/journal.log")
JOURNAL_STREAM=$js "$BOUNCER" once -c "$T/bad.yaml" >/dev/null 2>>"$T/journal.log" && fail "a bad config was accepted"
JOURNAL_STREAM=$js "$BOUNCER" once -c "$T/bouncer.yaml" >/dev/null 2>>"$T/journal.log" ||
	fail "once exited $?"
grep -q '^<3>{"ts":.*"event":"config_error"' "$T/journal.log" || fail "config_error without <3>: $(cat "$T/journal.log")"
grep -q '^<6>{"ts":.*"event":"start"' "$T/journal.log" || fail "start without <6>"
grep -q '^{"ts":.*"event":"start"' "$T/journal.log" || fail "without JOURNAL_STREAM, a prefix anyway"
echo "journal: <3> on errors and <6> on info lines when stderr is \$JOURNAL_STREAM, none otherwise"

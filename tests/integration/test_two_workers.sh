#!/usr/bin/env bash
# test_two_workers.sh - several `bouncer run` workers at once (docs/scale-out.md):
#   1. two workers on one mailbox and one Redis drain 500 bounces: each message is applied
#      exactly once (one event and one applied marker per stable id, no duplicate), all of them
#      end in the processed folder, and only the lease holder works;
#   2. the lease holder is SIGKILLed in the middle of another 500: the standby takes over within
#      about the lease ttl and finishes, nothing lost, nothing counted twice;
#   3. two workers on two mailboxes (INBOX and `other`) work at the same time, each with its
#      own lease.
set -euo pipefail
source "$BH_SOURCE_DIR/tests/integration/worker_lib.sh"
BATCH_SIZE=20 POLL_INTERVAL=2s EXTRA_CONFIG="lease: {enabled: true, ttl: 6s}"
worker_setup
fail() { echo "FAIL: $*" >&2; for f in "$T"/w*.log; do echo "== $f" >&2; tail -5 "$f" >&2; done; exit 1; }

# deliver_many N FOLDER TAG - N hard bounces for distinct recipients, written into the Maildir
# (doveadm save per message would take minutes)
deliver_many() {
	local n=$1 folder=$2 tag=$3 dir i f
	if [ "$folder" = INBOX ]; then dir=$DOVECOT_MAILDIR; else dir=$DOVECOT_MAILDIR/.$folder; fi
	mkdir -p "$dir/tmp" "$dir/new" "$dir/cur" "$T/mail"
	for i in $(seq 1 "$n"); do
		f=$T/mail/$tag.$i.eml
		make_dsn "$f" "$(verp news "$tag$i@example.net")" "$tag$i@example.net" 5.1.1 \
			"550 5.1.1 <$tag$i@example.net>: user unknown" "$tag.$i"
		mv "$f" "$dir/new/17000000$i.M$i$tag.bouncer-test"
	done
	chown -R --reference="$DOVECOT_MAILDIR/.." "$DOVECOT_MAILDIR"
}

start_worker() { # NAME CONFIG
	"$BOUNCER" run -c "$2" 2>>"$T/$1.log" &
	eval "PID_$1=$!"
	BG_PIDS="${BG_PIDS:-} $!"
}

stop_worker() { # NAME
	local pid
	eval "pid=\${PID_$1:-}"
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

processed() { dovecot_count bouncer/processed; }
processed_ge() { [ "$(processed)" -ge "$1" ]; }
# drained N - the processed folder holds N messages and the inbox none
drained() { [ "$(processed)" -ge "$1" ] && [ "$(dovecot_count INBOX)" = 0 ]; }
wait_long() { local i; for i in $(seq 1 300); do "$@" && return 0; sleep 0.3; done; return 1; }

# check_exactly_once N - N applied markers, N events, N distinct stable ids in the events
check_exactly_once() {
	local n=$1 markers events ids dups
	markers=$(rcli --scan --pattern '{t}:applied:*' | wc -l)
	events=$(rcli xlen '{t}:events')
	rcli xrange '{t}:events' - + | awk 'prev == "stable_id" { print } { prev = $0 }' | sort >"$T/ids"
	ids=$(sort -u "$T/ids" | wc -l)
	dups=$(uniq -d "$T/ids" | wc -l)
	[ "$markers" = "$n" ] || fail "applied markers: $markers, want $n"
	[ "$events" = "$n" ] || fail "events: $events, want $n"
	[ "$ids" = "$n" ] || fail "distinct stable ids in the events: $ids, want $n"
	[ "$dups" = 0 ] || fail "$dups stable ids have more than one event"
}

cp "$T/bouncer.yaml" "$T/inbox.yaml"

# --- 1. two workers, one mailbox
dovecot_count INBOX >/dev/null
deliver_many 500 INBOX a
[ "$(dovecot_count INBOX)" = 500 ] || fail "delivered $(dovecot_count INBOX), want 500"
start=$(date +%s.%N)
start_worker w1 "$T/inbox.yaml"
start_worker w2 "$T/inbox.yaml"
wait_long drained 500 || fail "not drained: processed $(processed), inbox $(dovecot_count INBOX)"
end=$(date +%s.%N)
check_exactly_once 500
[ "$(rcli --scan --pattern '{t}:sup:l:news:*' | wc -l)" = 500 ] || fail "suppressions are not 500"
applied=$(cat "$T/w1.log" "$T/w2.log" | grep -c '"store":"applied"' || true)
dup=$(cat "$T/w1.log" "$T/w2.log" | grep -c '"store":"duplicate"' || true)
[ "$applied" = 500 ] || fail "the workers applied $applied messages, want 500"
[ "$dup" = 0 ] || fail "$dup messages were handled twice (duplicate)"
holders=$(grep -l '"event":"lease_acquired"' "$T/w1.log" "$T/w2.log" | wc -l)
[ "$holders" = 1 ] || fail "$holders workers took the lease, want 1"
grep -q '"event":"standby"' "$T/w1.log" "$T/w2.log" || fail "no worker stood by"
rcli --scan --pattern '{t}:lease:*' | grep -q '{t}:lease:127.0.0.1:bounces:INBOX' || fail "no lease key"
echo "ok: two workers on one mailbox: 500 applied once each in $(echo "$end - $start" | bc) s"
stop_worker w1
stop_worker w2
[ "$(rcli exists '{t}:lease:127.0.0.1:bounces:INBOX')" = 0 ] || fail "a clean stop did not release the lease"

# --- 2. the holder is killed in the middle of a drain
: >"$T/w1.log"
: >"$T/w2.log"
deliver_many 500 INBOX b
# small batches and a pause after each, so that the holder is still at work when it is killed
sed 's/^  batch_size: .*/  batch_size: 5/' "$T/inbox.yaml" >"$T/slow.yaml"
export BOUNCER_TEST_BATCH_PAUSE_MS=20
start_worker w1 "$T/slow.yaml"
wait_for grep -q '"event":"lease_acquired"' "$T/w1.log" || fail "w1 did not take the lease"
start_worker w2 "$T/slow.yaml"
unset BOUNCER_TEST_BATCH_PAUSE_MS
wait_for grep -q '"event":"standby"' "$T/w2.log" || fail "w2 did not stand by"
wait_long processed_ge 550 || fail "w1 made no progress"
kill -KILL "$PID_w1"
wait "$PID_w1" 2>/dev/null || true
killed=$(date +%s.%N)
left=$(dovecot_count INBOX)
[ "$left" -gt 0 ] || fail "w1 finished before it was killed; nothing to take over"
wait_long grep -q '"event":"lease_acquired"' "$T/w2.log" || fail "w2 never took over"
took=$(date +%s.%N)
wait_long drained 1000 || fail "not drained after the takeover: processed $(processed)"
check_exactly_once 1000
[ "$(processed)" = 1000 ] || fail "processed $(processed), want 1000"
takeover=$(echo "$took - $killed" | bc)
# ttl 6 s, asked every ttl/3: at most about 8 s, plus the polling of this test
[ "$(echo "$takeover < 10" | bc)" = 1 ] || fail "takeover took $takeover s"
echo "ok: holder killed with $left messages left; standby took over in ${takeover} s; 1000 applied once each"
stop_worker w2

# --- 3. two mailboxes, two workers at once
: >"$T/w1.log"
: >"$T/w2.log"
sed 's/^  mailbox: INBOX$/  mailbox: other/' "$T/inbox.yaml" >"$T/other.yaml"
grep -q 'mailbox: other' "$T/other.yaml" || fail "could not write other.yaml"
_dovecot_doveadm mailbox create -u "$DOVECOT_USER" other >/dev/null 2>&1 || true
deliver_many 100 INBOX c
deliver_many 100 other d
[ "$(dovecot_count other)" = 100 ] || fail "other holds $(dovecot_count other), want 100"
start_worker w1 "$T/inbox.yaml"
start_worker w2 "$T/other.yaml"
wait_long processed_ge 1200 || fail "not drained: processed $(processed)"
[ "$(dovecot_count INBOX)" = 0 ] && [ "$(dovecot_count other)" = 0 ] || fail "a mailbox is not empty"
grep -q '"event":"lease_acquired"' "$T/w1.log" || fail "w1 holds no lease"
grep -q '"event":"lease_acquired"' "$T/w2.log" || fail "w2 holds no lease"
[ "$(grep -c '"store":"applied"' "$T/w2.log")" = 100 ] || fail "the worker of other did not apply its 100"
check_exactly_once 1200
echo "ok: two mailboxes drained at once, each by its own lease holder"
stop_worker w2

# --- `once` while another worker holds the lease: it stands by, then gives up (75)
sed 's/ttl: 6s/ttl: 3s/' "$T/inbox.yaml" >"$T/short.yaml"
rc=0
"$BOUNCER" once -c "$T/short.yaml" 2>"$T/once.log" || rc=$?
[ "$rc" = 75 ] || fail "once beside a holder exited $rc, want 75"
grep -q '"event":"standby"' "$T/once.log" || fail "once did not stand by"
stop_worker w1
# ... and alone it takes the lease, drains, and gives it back
make_dsn "$T/last.eml" "$(verp news last@example.net)" last@example.net 5.1.1 "550 5.1.1 user unknown"
dovecot_deliver "$T/last.eml"
"$BOUNCER" once -c "$T/inbox.yaml" 2>"$T/once.log" || fail "once alone failed"
[ "$(dovecot_count INBOX)" = 0 ] || fail "once alone did not drain"
[ "$(rcli exists '{t}:lease:127.0.0.1:bounces:INBOX')" = 0 ] || fail "once did not release the lease"
echo "ok: once stands by beside a holder (exit 75), and alone takes and releases the lease"

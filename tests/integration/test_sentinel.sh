#!/usr/bin/env bash
# test_sentinel.sh - the state survives a Redis master failure under Sentinel (docs/scale-out.md).
# A master, two replicas and one sentinel (quorum 1) on free loopback ports;
# bouncer finds the master by name through redis.sentinels (the first sentinel listed is dead:
# the next one is asked) and WAITs for one replica after every batch. `bouncer run` drains
# bounces; the master is SIGKILLed in the middle; Sentinel promotes a replica; bouncer finds
# it and drains the rest. Then: every message in the processed folder, and on the new master
# exactly one applied marker, one event and one suppression per message (nothing lost, nothing
# counted twice).
set -euo pipefail
source "$BH_SOURCE_DIR/tests/integration/worker_lib.sh"
BATCH_SIZE=10 POLL_INTERVAL=2s
worker_setup # Dovecot, and the Redis that becomes the master ($REDIS_PORT, $REDIS_PID)
N=400
fail() {
	echo "FAIL: $*" >&2
	tail -20 "$T/run.log" "$T/sentinel/sentinel.log" >&2 2>/dev/null || true
	exit 1
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
MASTER=$REDIS_PORT
R1=$(free_port)
R2=$(free_port)
SP=$(free_port)
DEAD=$(free_port) # nobody listens there
for p in $R1 $R2; do
	mkdir -p "$T/r$p"
	redis-server --port "$p" --bind 127.0.0.1 --dir "$T/r$p" --save '' --appendonly yes \
		--appendfsync always --replicaof 127.0.0.1 "$MASTER" --daemonize no \
		--logfile "$T/r$p/redis.log" </dev/null >/dev/null 2>&1 &
	BG_PIDS="${BG_PIDS:-} $!"
done
mkdir -p "$T/sentinel"
cat >"$T/sentinel/sentinel.conf" <<CONF
port $SP
bind 127.0.0.1
dir $T/sentinel
logfile $T/sentinel/sentinel.log
sentinel monitor m 127.0.0.1 $MASTER 1
sentinel down-after-milliseconds m 1000
sentinel failover-timeout m 4000
sentinel parallel-syncs m 2
CONF
redis-server "$T/sentinel/sentinel.conf" --sentinel </dev/null >/dev/null 2>&1 &
BG_PIDS="${BG_PIDS:-} $!"

replicas_up() { [ "$(redis-cli -p "$MASTER" info replication | grep -c '^slave[0-9]*:.*state=online')" = 2 ]; }
sentinel_sees() { [ "$(redis-cli -p "$SP" sentinel master m 2>/dev/null | grep -A1 '^num-slaves$' | tail -1)" = 2 ]; }
wait_for replicas_up || fail "the replicas did not sync"
wait_for sentinel_sees || fail "the sentinel does not know both replicas"

# the redis section names the sentinels; host and port are left pointing at nothing useful
sed -i "s/^  prefix: t$/  prefix: t\n  sentinels: [\"127.0.0.1:$DEAD\", \"127.0.0.1:$SP\"]\n  master_name: m\n  wait_replicas: 1\n  connect_timeout: 500ms\n  command_timeout: 3s/" "$T/bouncer.yaml"
sed -i "s/^  port: $REDIS_PORT$/  port: $DEAD/" "$T/bouncer.yaml"
"$BOUNCER" config check -c "$T/bouncer.yaml" >/dev/null || fail "config check"
"$BOUNCER" health -c "$T/bouncer.yaml" | grep -q "redis: ok .*127.0.0.1:$MASTER .*sentinels" ||
	fail "health does not reach the master through the sentinel"

mkdir -p "$DOVECOT_MAILDIR/new" "$DOVECOT_MAILDIR/cur" "$DOVECOT_MAILDIR/tmp"
for i in $(seq 1 $N); do
	make_dsn "$T/m.eml" "$(verp news "s$i@example.net")" "s$i@example.net" 5.1.1 \
		"550 5.1.1 <s$i@example.net>: user unknown" "s.$i"
	mv "$T/m.eml" "$DOVECOT_MAILDIR/new/17000000$i.M$i.bouncer-test"
done
chown -R --reference="$DOVECOT_MAILDIR/.." "$DOVECOT_MAILDIR"
[ "$(dovecot_count INBOX)" = $N ] || fail "delivered $(dovecot_count INBOX), want $N"

# a pause after every batch, so that the master dies in the middle of the drain
BOUNCER_TEST_BATCH_PAUSE_MS=50 "$BOUNCER" run -c "$T/bouncer.yaml" 2>"$T/run.log" &
RUN=$!
BG_PIDS="$BG_PIDS $RUN"
processed_ge() { [ "$(dovecot_count bouncer/processed)" -ge "$1" ]; }
wait_for processed_ge 60 || fail "no progress before the failover"
stop_redis -KILL || true # the master dies
killed=$(date +%s.%N)
at_kill=$(dovecot_count bouncer/processed)
[ "$at_kill" -lt $N ] || fail "drained before the master was killed"
new_master() { local p; p=$(redis-cli -p "$SP" sentinel get-master-addr-by-name m | tail -1); [ "$p" != "$MASTER" ] && echo "$p"; }
wait_for new_master >/dev/null || fail "no failover"
NEW=$(new_master)
failover=$(echo "$(date +%s.%N) - $killed" | bc)
drained() { [ "$(dovecot_count bouncer/processed)" = $N ] && [ "$(dovecot_count INBOX)" = 0 ]; }
for _ in 1 2 3; do wait_for drained && break; done
drained || fail "not drained after the failover: processed $(dovecot_count bouncer/processed)"
done_s=$(echo "$(date +%s.%N) - $killed" | bc)
kill -TERM "$RUN"
wait "$RUN" 2>/dev/null || true

nc() { redis-cli -p "$NEW" "$@"; }
markers=$(nc --scan --pattern '{t}:applied:*' | wc -l)
sups=$(nc --scan --pattern '{t}:sup:l:news:*' | wc -l)
events=$(nc xlen '{t}:events')
nc xrange '{t}:events' - + | awk 'prev == "stable_id" { print } { prev = $0 }' | sort >"$T/ids"
ids=$(sort -u "$T/ids" | wc -l)
[ "$markers" = $N ] || fail "applied markers on the new master: $markers, want $N"
[ "$sups" = $N ] || fail "suppressions on the new master: $sups, want $N"
[ "$events" = $N ] || fail "events on the new master: $events, want $N (lost or doubled)"
[ "$ids" = $N ] || fail "distinct stable ids in the events: $ids, want $N"
grep -q '"event":"redis_back"' "$T/run.log" || fail "no redis_back in the log"
echo "ok: master killed at $at_kill/$N; failover to port $NEW after ${failover} s; drained ${done_s} s after the kill; $N applied exactly once"

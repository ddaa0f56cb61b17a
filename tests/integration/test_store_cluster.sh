#!/usr/bin/env bash
# test_store_cluster.sh - the store on Redis Cluster: every script's KEYS must share one hash
# slot (a cluster refuses a script whose keys span slots with CROSSSLOT). First a one-node
# cluster that owns all 16384 slots runs the apply and manual scripts and the ops commands
# unchanged; then a real 3-master cluster, with bouncer pointed at a node that does NOT own the
# slot of "{prefix}": the store follows the MOVED reply, and the apply, manual and lease scripts,
# check, explain, stats and list (SCAN on the owner) all work.
set -u
. "$BH_SOURCE_DIR/tests/lib/redis.sh"

tmp=$(mktemp -d)
CPIDS=
trap 'stop_redis; for p in $CPIDS; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$tmp"' EXIT
start_redis "$tmp/redis" --cluster-enabled yes --cluster-config-file "$tmp/redis/nodes.conf" || exit $?
redis_cli CLUSTER ADDSLOTSRANGE 0 16383 >/dev/null || { echo "CLUSTER ADDSLOTSRANGE failed"; exit 1; }
for i in $(seq 1 100); do
	redis_cli CLUSTER INFO | grep -q '^cluster_state:ok' && break
	sleep 0.1
done
redis_cli CLUSTER INFO | grep -q '^cluster_state:ok' || { echo "cluster not ok"; exit 1; }

fail=0
# The test has teeth: this node refuses a script whose keys are in two slots.
if redis_cli EVAL "return 1" 2 '{a}x' '{b}y' | grep -q CROSSSLOT; then echo "ok: CROSSSLOT enforced"; else
	echo "FAIL: the node does not enforce CROSSSLOT"; fail=1; fi
cat >"$tmp/bouncer.yaml" <<YAML
imap:
  host: 127.0.0.1
  user: bounces
  password_env: BH_TEST_IMAP_PASSWORD
verp:
  domain: bounce.example.org
  keys:
    - {id: k1, env: BH_TEST_VERP_KEY}
redis:
  host: 127.0.0.1
  port: $REDIS_PORT
  prefix: cl
YAML
export BH_TEST_IMAP_PASSWORD=x BH_TEST_VERP_KEY=0123456789abcdef0123456789abcdef
B() { "$BOUNCER" "$@" -c "$tmp/bouncer.yaml"; }

"$BH_BUILD_DIR/test_store" --populate "$REDIS_PORT" cl || { echo "FAIL: apply on a cluster node"; exit 1; }
echo "ok: apply script on a cluster node"
B suppression check Gone@example.com --list news >/dev/null && echo "ok: check" || { echo "FAIL: check"; fail=1; }
B suppression add man@example.com --list news --why "cluster test" >/dev/null && echo "ok: manual script" || { echo "FAIL: manual add"; fail=1; }
B explain man@example.com --json | grep -q '"kind":"manual_add"' && echo "ok: explain" || { echo "FAIL: explain"; fail=1; }
B stats --json | grep -q '"suppressed_total":4' && echo "ok: stats" || { echo "FAIL: stats"; fail=1; }
# Every key bouncer wrote is in the slot of its hash tag.
slots=$(redis_cli --scan --pattern '{cl}:*' | while read -r k; do redis_cli CLUSTER KEYSLOT "$k"; done | sort -u)
want=$(redis_cli CLUSTER KEYSLOT '{cl}')
if [ "$slots" = "$want" ]; then echo "ok: all keys in slot $want"; else echo "FAIL: slots $slots"; fail=1; fi

# --- a 3-master cluster on loopback
# free_port - a free port P with P + 10000 free too (the cluster bus), so at most 55535
free_port() {
	python3 -c '
import socket
for _ in range(200):
    a = socket.socket(); a.bind(("127.0.0.1", 0)); p = a.getsockname()[1]
    if p <= 55535:
        b = socket.socket()
        try:
            b.bind(("127.0.0.1", p + 10000)); b.close(); a.close(); print(p); break
        except OSError:
            b.close()
    a.close()
'
}
# start_node N - a cluster node on a free port (another pick when the port was taken meanwhile)
start_node() {
	local n=$1 attempt i p pid
	mkdir -p "$tmp/c$n"
	for attempt in 1 2 3; do
		p=$(free_port)
		redis-server --port "$p" --bind 127.0.0.1 --dir "$tmp/c$n" --save '' --appendonly no \
			--cluster-enabled yes --cluster-config-file "$tmp/c$n/nodes.conf" --daemonize no \
			--logfile "$tmp/c$n/redis.log" </dev/null >/dev/null 2>&1 &
		pid=$!
		for i in $(seq 1 100); do
			if redis-cli -p "$p" ping 2>/dev/null | grep -q PONG; then
				CPIDS="$CPIDS $pid"
				ports="$ports $p"
				return 0
			fi
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		rm -f "$tmp/c$n/nodes.conf"
	done
	echo "FAIL: cluster node $n did not start"
	tail -5 "$tmp/c$n/redis.log"
	exit 1
}
ports=
for n in 1 2 3; do start_node "$n"; done
# shellcheck disable=SC2086
redis-cli --cluster create $(for p in $ports; do printf '127.0.0.1:%s ' "$p"; done) \
	--cluster-replicas 0 --cluster-yes >"$tmp/create.log" 2>&1 || { echo "FAIL: cluster create"; cat "$tmp/create.log"; exit 1; }
for p in $ports; do
	for i in $(seq 1 100); do redis-cli -p "$p" CLUSTER INFO | grep -q '^cluster_state:ok' && break; sleep 0.1; done
done
# a node that does not own the slot of {c3}, and the one that does
other= owner=
for p in $ports; do
	if redis-cli -p "$p" EXISTS '{c3}:-' | grep -q '^MOVED'; then other=$p; else owner=$p; fi
done
[ -n "$other" ] && [ -n "$owner" ] || { echo "FAIL: cannot tell owner ($owner) from other ($other)"; exit 1; }
sed -e "s/^  port: .*/  port: $other/" -e "s/^  prefix: cl$/  prefix: c3/" "$tmp/bouncer.yaml" >"$tmp/c3.yaml"
B3() { "$BOUNCER" "$@" -c "$tmp/c3.yaml"; }
BH_TEST_LEASE=1 "$BH_BUILD_DIR/test_store" --populate "$other" c3 ||
	{ echo "FAIL: apply and lease scripts through a MOVED redirection"; exit 1; }
echo "ok: apply and lease scripts on a 3-master cluster, asked at a node without the slot"
B3 suppression check Gone@example.com --list news >/dev/null && echo "ok: check (3 masters)" || { echo "FAIL: check (3 masters)"; fail=1; }
B3 suppression add man@example.com --list news --why "cluster test" >/dev/null && echo "ok: manual script (3 masters)" || { echo "FAIL: manual add (3 masters)"; fail=1; }
B3 explain man@example.com --json | grep -q '"kind":"manual_add"' && echo "ok: explain (3 masters)" || { echo "FAIL: explain (3 masters)"; fail=1; }
B3 stats --json | grep -q '"suppressed_total":4' && echo "ok: stats (3 masters)" || { echo "FAIL: stats (3 masters)"; fail=1; }
n=$(B3 suppression list --json | grep -c '"address"' || true)
[ "$n" = 4 ] && echo "ok: list walks the owner (4)" || { echo "FAIL: list found $n, want 4"; fail=1; }
B3 health | grep -q "redis: ok .*127.0.0.1:$owner" && echo "ok: health reports the owner" || { echo "FAIL: health"; B3 health; fail=1; }
[ "$(redis-cli -p "$owner" --scan --pattern '{c3}:lease:*' | wc -l)" = 1 ] || { echo "FAIL: no lease key on the owner"; fail=1; }
slots=$(redis-cli -p "$owner" --scan --pattern '{c3}:*' | while read -r k; do redis-cli -p "$owner" CLUSTER KEYSLOT "$k"; done | sort -u)
want=$(redis-cli -p "$owner" CLUSTER KEYSLOT '{c3}')
if [ "$slots" = "$want" ]; then echo "ok: all keys (lease too) in slot $want on one node"; else echo "FAIL: slots $slots"; fail=1; fi
for p in $ports; do
	[ "$p" = "$owner" ] && continue
	[ "$(redis-cli -p "$p" dbsize)" = 0 ] || { echo "FAIL: keys on node $p that does not own the slot"; fail=1; }
done
exit $fail

#!/usr/bin/env bash
# test_store_cluster.sh - the store on a Redis Cluster node: every script's KEYS must share one
# hash slot (a cluster refuses a script whose keys span slots with CROSSSLOT). A one-node cluster
# that owns all 16384 slots runs the apply and manual scripts and the ops commands unchanged.
set -u
. "$BH_SOURCE_DIR/tests/lib/redis.sh"

tmp=$(mktemp -d)
trap 'stop_redis; rm -rf "$tmp"' EXIT
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
exit $fail

#!/usr/bin/env bash
# test_stats_counters.sh - `bouncer stats` reads the suppression totals the scripts keep
# ({p}:supcount, {p}:supexp; docs/redis.md) instead of walking every suppression, and they stay
# right through what changes them: the worker's apply script, manual add (again, extended,
# re-added after expiring), remove, and expiry by TTL. After every step the counters must equal
# a walk of the suppressions (`suppression list`). Before `stats --recount` (an upgraded store)
# stats walks, and says so. Against a real redis-server.
set -u
. "$BH_SOURCE_DIR/tests/lib/redis.sh"

tmp=$(mktemp -d)
cleanup() {
	stop_redis
	rm -rf "$tmp"
}
trap cleanup EXIT
start_redis "$tmp/redis" || exit $?
fail=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fail=1; }

redis_config "$tmp/bouncer.yaml" sc
B() { "$BOUNCER" "$@" -c "$tmp/bouncer.yaml"; }

# agree STEP [TOTAL] - stats --json comes from the counters and equals a walk of the suppressions
agree() {
	B stats --json >"$tmp/stats.json" 2>"$tmp/err" || { bad "$1: stats failed: $(cat "$tmp/err")"; return; }
	B suppression list --json >"$tmp/list.jsonl" 2>"$tmp/err" || { bad "$1: list failed"; return; }
	if python3 - "$tmp/stats.json" "$tmp/list.jsonl" "${2:-}" <<'PY'; then ok "$1: counters agree with a walk"; else bad "$1: see above"; fi
import collections, json, sys
st = json.load(open(sys.argv[1]))
walk = collections.Counter((s["list"] or "(global)", s["reason"]) for s in map(json.loads, open(sys.argv[2])))
cnt = collections.Counter({(r["list"], r["reason"]): r["count"] for r in st["suppressed"]})
bad = []
if st["suppressed_from"] != "counters":
    bad.append("stats did not read the counters: " + st["suppressed_from"])
if cnt != walk:
    bad.append(f"counters {dict(cnt)} != walk {dict(walk)}")
if st["suppressed_total"] != sum(walk.values()):
    bad.append(f"total {st['suppressed_total']} != {sum(walk.values())}")
if sys.argv[3] and int(sys.argv[3]) != sum(walk.values()):
    bad.append(f"walk found {sum(walk.values())}, want {sys.argv[3]}")
for b in bad:
    print("   ", b)
sys.exit(1 if bad else 0)
PY
}

# --- a fresh store: --recount on nothing, then the worker's apply script counts
B stats --recount --json >"$tmp/out" || bad "stats --recount on an empty store"
"$BH_BUILD_DIR/test_store" --populate "$REDIS_PORT" sc || { echo "populate failed"; exit 1; }
agree "the apply script counted what it suppressed" 3
redis_cli HGETALL '{sc}:supcount' | grep -q $'^news\tuserunknown$' && ok "{sc}:supcount has news<TAB>userunknown" ||
	bad "supcount: $(redis_cli HGETALL '{sc}:supcount' | tr '\n' ' ')"
"$BH_BUILD_DIR/test_store" --populate "$REDIS_PORT" sc >/dev/null || bad "populate again"
agree "the same messages again (duplicates) change nothing" 3

# --- an upgraded store: suppressions written before the counters existed
redis_cli DEL '{sc}:supcount' '{sc}:supexp' >/dev/null # as an older version left it
B stats --json >"$tmp/out" || bad "stats before recount"
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if j["suppressed_from"] == "scan" and j["counters_built"] is None and j["suppressed_total"] == 3 else 1)' "$tmp/out" &&
	ok "before --recount, stats walks and says so" || bad "stats before recount: $(cat "$tmp/out")"
B stats | grep -q 'stats --recount' && ok "the human output names --recount" || bad "no --recount hint"
B stats --recount --json >"$tmp/out" || bad "stats --recount"
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if j["suppressed_from"] == "counters" and j["counters_built"] else 1)' "$tmp/out" &&
	ok "stats --recount builds the counters" || bad "recount: $(cat "$tmp/out")"
agree "after recount" 3

# --- manual changes
B suppression add a@example.com --why t --for 2s >/dev/null
B suppression add b@example.com --list News --why t >/dev/null
B suppression add b@example.com --list news --why again >/dev/null
B suppression add c@example.com --list news --why t --for 2s >/dev/null
B suppression add c@example.com --list news --why longer --for 3s >/dev/null
B suppression add d@example.com --why t --for 1s >/dev/null
agree "add, add again, extend" 7
[ "$(redis_cli ZCARD '{sc}:supexp')" -ge 3 ] && ok "time-limited suppressions are in {sc}:supexp" ||
	bad "supexp: $(redis_cli ZRANGE '{sc}:supexp' 0 -1 | tr '\n' ' ')"
B suppression remove b@example.com --list news --why gone >/dev/null
B suppression remove b@example.com --list news --why "gone again" >/dev/null
B suppression remove nobody@example.com --why never >/dev/null
agree "remove, remove again, remove what was never there" 6

# --- expiry by TTL: nothing runs when Redis drops the keys; stats prunes what is due
sleep 4
[ "$(redis_cli EXISTS '{sc}:sup:g:a@example.com')" = 0 ] || bad "a@example.com did not expire"
agree "after a, c and d expired by TTL" 3
# expired and not yet pruned, then written again: counted once
B suppression add e@example.com --why t --for 1s >/dev/null
sleep 2
B suppression add e@example.com --why back >/dev/null
agree "re-added after expiring, before any prune" 4
B suppression add f@example.com --why t --for 1s >/dev/null
sleep 2
B suppression add f@example.com --list news --why "other scope" --for 1h >/dev/null
agree "expired global, then the same address in a list" 5
[ "$(redis_cli ZCARD '{sc}:supexp')" -ge 1 ] && ok "an expiring suppression stays in {sc}:supexp" || bad "supexp empty"

exit $fail

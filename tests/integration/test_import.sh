#!/usr/bin/env bash
# test_import.sh - `bouncer suppression import --format csv|jsonl FILE` against a real Redis
# (issue 18): every address goes through the one grammar (refused lines are listed with their
# line numbers, the rest imported), one event per imported address, a second run imports
# nothing new, export -> import round-trips, the exit codes of bouncer(1) (0, 64, 65, 66, 69),
# and the suppression counters count what was imported.
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
redis_config "$tmp/imp.yaml" imp
redis_config "$tmp/two.yaml" two
B() { "$BOUNCER" "$@" -c "$tmp/imp.yaml"; }
json() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if ($1) else 1)" "$2"; }

# lines 1-14 (13 empty): 11 records; refused: 4 (display name), 5 (no @), 8-9 (a quoted field over two lines: one
# record, starting on line 8), 12 (expires not a time); 10 has expired; 7 repeats line 2
printf '%s\r\n' 'address,list,why,expires' \
	'Joe.Smith@Example.COM,News,"from the old ESP, 2019",' \
	'<b@example.org>,,,2099-01-01T00:00:00Z' \
	'Foo Bar <fb@example.org>,news,,' \
	'not-an-address,news,,' \
	'joe@bücher.de,,,' \
	'Joe.Smith@example.com,news,again,' \
	'"bad' \
	'quoted@example.org",news,,' \
	'old@example.org,news,,2001-01-01' \
	'"carol@example.org",promo,,' \
	'dave@example.org,promo,,tomorrow' \
	'' \
	'eve@example.org,,,4102444800' >"$tmp/list.csv"

B suppression import --format csv "$tmp/list.csv" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 65 ] && ok "refused lines: exit 65" || bad "import: exit $rc, want 65: $(cat "$tmp/out" "$tmp/err")"
grep -qx '11 lines: 5 imported, 1 already suppressed, 1 expired, 4 refused' "$tmp/out" && ok "summary" ||
	bad "summary: $(cat "$tmp/out")"
for want in "line 4: refused 'Foo Bar <fb@example.org>': a display name is not part of the address" \
	"line 5: refused 'not-an-address': no @" "line 8: refused" "line 12: refused 'dave@example.org': expires: not a time"; do
	grep -qF "$want" "$tmp/err" && ok "stderr: $want" || bad "stderr lacks '$want': $(cat "$tmp/err")"
done
for k in '{imp}:sup:l:news:Joe.Smith@example.com' '{imp}:sup:g:b@example.org' '{imp}:sup:g:joe@xn--bcher-kva.de' \
	'{imp}:sup:l:promo:carol@example.org' '{imp}:sup:g:eve@example.org'; do
	[ "$(redis_cli EXISTS "$k")" = 1 ] && ok "imported $k" || bad "no $k: $(redis_cli --scan --pattern '{imp}:sup:*' | tr '\n' ' ')"
done
[ "$(redis_cli HGET '{imp}:sup:l:news:Joe.Smith@example.com' why)" = "from the old ESP, 2019" ] && ok "the why column is kept" || bad "why"
[ "$(redis_cli HGET '{imp}:sup:l:news:Joe.Smith@example.com' source)" = import ] && ok "source import" || bad "source"
ttl=$(redis_cli TTL '{imp}:sup:g:b@example.org')
[ "$ttl" -gt 86400 ] && ok "a future expires becomes a TTL" || bad "TTL of b@example.org: $ttl"
[ "$(redis_cli TTL '{imp}:sup:l:promo:carol@example.org')" = -1 ] && ok "no expires: forever" || bad "carol has a TTL"
[ "$(redis_cli EXISTS '{imp}:sup:l:news:old@example.org')" = 0 ] && ok "an expired line is skipped" || bad "old@example.org imported"
[ "$(redis_cli XLEN '{imp}:events')" = 5 ] && ok "one event per imported address" || bad "events: $(redis_cli XLEN '{imp}:events')"
B explain --json b@example.org >"$tmp/ex.json"
json 'j["events"][0]["kind"] == "import" and j["events"][0]["user"]' "$tmp/ex.json" && ok "the event says import and who" ||
	bad "explain: $(head -c 300 "$tmp/ex.json")"

# --- idempotent: the second run imports nothing new
B suppression import --format csv --json "$tmp/list.csv" >"$tmp/out" 2>"$tmp/err"
rc=$?
json 'j["imported"] == 0 and j["already"] == 6 and j["refused"] == 4 and [r["line"] for r in j["refused_lines"]] == [4, 5, 8, 12]' "$tmp/out" &&
	[ $rc -eq 65 ] && ok "second run: 0 imported, the same 4 refused with their lines" || bad "second run (exit $rc): $(cat "$tmp/out")"
[ "$(redis_cli XLEN '{imp}:events')" = 5 ] && ok "the second run wrote no event" || bad "events after rerun: $(redis_cli XLEN '{imp}:events')"

# --- the counters count imports (stats from counters after --recount on an empty prefix)
"$BOUNCER" stats --recount -c "$tmp/two.yaml" >/dev/null
# --- export -> import round trip (JSON Lines), into another prefix
B suppression export --format jsonl >"$tmp/exp.jsonl"
"$BOUNCER" suppression import --format jsonl "$tmp/exp.jsonl" -c "$tmp/two.yaml" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 0 ] && grep -qx '5 lines: 5 imported, 0 already suppressed, 0 expired, 0 refused' "$tmp/out" &&
	ok "jsonl round trip: exit 0, 5 imported" || bad "jsonl import (exit $rc): $(cat "$tmp/out" "$tmp/err")"
"$BOUNCER" suppression export --format jsonl -c "$tmp/two.yaml" >"$tmp/exp2.jsonl"
python3 - "$tmp/exp.jsonl" "$tmp/exp2.jsonl" <<'PY' && ok "the second prefix holds the same suppressions" || bad "round trip differs"
import json, sys
key = lambda p: sorted((j["address"], j["list"], j["reason"], j["why"], j["expires"]) for j in map(json.loads, open(p)))
a, b = key(sys.argv[1]), key(sys.argv[2])
if a != b:
    print(a, b, sep="\n")
sys.exit(a != b)
PY
"$BOUNCER" stats --json -c "$tmp/two.yaml" >"$tmp/out"
json 'j["suppressed_from"] == "counters" and j["suppressed_total"] == 5' "$tmp/out" && ok "the counters count imports" ||
	bad "stats after import: $(head -c 300 "$tmp/out")"
printf '{"address": "x@example.org", "list": 7}\nnot json\n{"address": "y@example.org", "expires": 4102444800}\n' >"$tmp/bad.jsonl"
"$BOUNCER" suppression import --format jsonl --json "$tmp/bad.jsonl" -c "$tmp/two.yaml" >"$tmp/out" 2>"$tmp/err"
rc=$?
json 'j["imported"] == 1 and [(r["line"], r["error"]) for r in j["refused_lines"]] == [(1, "a field has the wrong type"), (2, "not a JSON object")]' "$tmp/out" &&
	[ $rc -eq 65 ] && ok "jsonl: wrong types and bad lines refused with line numbers" || bad "bad jsonl (exit $rc): $(cat "$tmp/out")"

# --- exit codes
B suppression import --format csv "$tmp/missing.csv" >/dev/null 2>&1
[ $? -eq 66 ] && ok "missing file: 66" || bad "missing file: not 66"
B suppression import --format xml "$tmp/list.csv" >/dev/null 2>&1
[ $? -eq 64 ] && ok "unknown format: 64" || bad "unknown format: not 64"
B suppression import "$tmp/list.csv" >/dev/null 2>&1
[ $? -eq 64 ] && ok "no format: 64" || bad "no format: not 64"
printf 'email\nx@example.org\n' >"$tmp/nohdr.csv"
B suppression import --format csv "$tmp/nohdr.csv" >/dev/null 2>"$tmp/err"
[ $? -eq 65 ] && grep -q 'header naming an address column' "$tmp/err" && ok "no address column: 65" || bad "no address column"
stop_redis
B suppression import --format csv "$tmp/list.csv" >/dev/null 2>&1
[ $? -eq 69 ] && ok "Redis down: 69" || bad "Redis down: not 69"
exit $fail

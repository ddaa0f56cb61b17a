#!/usr/bin/env bash
# test_store_tables - cmake/store_proto.cmake refuses a store script and its table
# (handler/store/*.args) that disagree: an argument the script never uses, a script that reads
# KEYS or ARGV itself, a marker line without its scope in the table; and it accepts every real
# pair. (test_store_proto checks the generated result from the inside.)
set -u
: "${BH_SOURCE_DIR:?}"
command -v cmake >/dev/null || { echo "skip: no cmake"; exit 77; }
st=$BH_SOURCE_DIR/handler/store
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
gen() { # gen NAME ARGS LUA: 0 when the generator accepts the pair
	cmake -DNAME="$1" -DARGS="$2" -DCONSTS="$st/consts.args" -DLUA="$3" -DPRELUDE= \
		-DOUT="$tmp" -P "$BH_SOURCE_DIR/cmake/store_proto.cmake" >"$tmp/log" 2>&1
}
for s in apply manual lease counts; do
	gen "$s" "$st/$s.args" "$st/$s.lua" || { echo "FAIL: $s refused: $(cat "$tmp/log")"; fail=1; }
done
cp "$st/lease.args" "$tmp/unused.args"
echo "msg arg str unused_thing" >>"$tmp/unused.args"
gen lease "$tmp/unused.args" "$st/lease.lua" && { echo "FAIL: an unused argument accepted"; fail=1; }
grep -q "unused_thing.*never used\|never used" "$tmp/log" || { echo "FAIL: no reason given"; fail=1; }
{ cat "$st/lease.lua"; echo "local x = ARGV[1]"; } >"$tmp/raw.lua"
gen lease "$st/lease.args" "$tmp/raw.lua" && { echo "FAIL: a raw ARGV accepted"; fail=1; }
{ cat "$st/lease.lua"; echo "-- @dec@"; } >"$tmp/dec.lua"
gen lease "$st/lease.args" "$tmp/dec.lua" && { echo "FAIL: a dec marker without dec lines accepted"; fail=1; }
grep -v '^-- @msg@$' "$st/lease.lua" >"$tmp/nomsg.lua"
gen lease "$st/lease.args" "$tmp/nomsg.lua" && { echo "FAIL: a script without its msg marker accepted"; fail=1; }
[ $fail -eq 0 ] && echo "the store's tables and scripts agree, and disagreements are refused"
exit $fail

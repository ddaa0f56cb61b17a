#!/usr/bin/env bash
# stats.sh - `bouncer stats` at 1k and at 1M suppressions: from the counters the scripts keep
# ({p}:supcount, docs/redis.md) it must take the same time at both sizes; the walk it replaced
# (what stats does before `stats --recount`) is timed beside it.
#
#   bench/stats.sh [BOUNCER] [SIZES]     SIZES default "1000 1000000"
#
# A private redis-server (no persistence: this measures reading) is filled by a Lua loader in
# chunks of 50,000 (one EVAL each, not one CLI call per suppression): suppression hashes as the
# store writes them, 5 lists x 7 reasons, every tenth time-limited (in {p}:supexp), and the
# counters the scripts would have kept. Prints per size: the median of 5 `stats --json` runs
# from the counters, and one run of the walk.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bouncer=${1:-${BH_BUILD_DIR:-$here/build}/bouncer}
sizes=${2:-"1000 1000000"}
command -v redis-server >/dev/null || { echo "stats.sh: redis-server missing"; exit 77; }
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" \
	--logfile "$tmp/redis.log" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break; sleep 0.05; done
cat >"$tmp/b.yaml" <<EOF
imap: {host: 127.0.0.1, user: u, password_env: BH_BENCH_PW}
verp: {domain: b.example, keys: [{id: k1, env: BH_BENCH_KEY}]}
redis: {host: 127.0.0.1, port: $port, prefix: bench}
EOF
export BH_BENCH_PW=x BH_BENCH_KEY=0123456789abcdef0123456789abcdef
# KEYS: none (the loader writes under {bench}: only); ARGV: first, count, now
loader='
local P, first, n, now = "{bench}:", tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local reasons = {"userunknown", "hostunknown", "mailboxfull", "feedback", "notaccept", "suspend", "manual"}
for i = first, first + n - 1 do
  local list, reason = "list" .. (i % 5), reasons[i % 7 + 1]
  local addr = "user" .. i .. "@example" .. (i % 100) .. ".com"
  local k = P .. "sup:l:" .. list .. ":" .. addr
  local exp = 0
  if i % 10 == 0 then exp = now + 86400 * 30 end
  redis.call("HSET", k, "address", addr, "list", list, "reason", reason, "class", "hard",
    "source", "bounce", "why", "bench", "first_seen", now, "last_seen", now, "count", 1,
    "expires", exp, "stable_id", "s" .. i, "status", "5.1.1", "rule", "bench")
  redis.call("HINCRBY", P .. "supcount", list .. "\t" .. reason, 1)
  if exp > 0 then
    redis.call("EXPIRE", k, exp - now)
    redis.call("ZADD", P .. "supexp", exp, list .. "\t" .. reason .. "\t" .. k)
  end
end
redis.call("HSET", P .. "supcount", "_complete", now)
return n'
# ms CMD... - wall milliseconds of one run
ms() {
	local t0 t1
	t0=$(date +%s%N)
	"$@" >/dev/null 2>"$tmp/err" || { echo "stats.sh: $* failed: $(head -3 "$tmp/err")" >&2; return 1; }
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
}
loaded=0
printf '%-12s %-14s %-16s %s\n' SUPPRESSIONS "COUNTERS (ms)" "WALK (ms)" "TOTAL REPORTED"
for n in $sizes; do
	while [ "$loaded" -lt "$n" ]; do
		chunk=$((n - loaded < 50000 ? n - loaded : 50000))
		redis-cli -p "$port" EVAL "$loader" 0 "$loaded" "$chunk" "$(date +%s)" >/dev/null
		loaded=$((loaded + chunk))
	done
	runs=()
	for _ in 1 2 3 4 5; do runs+=("$(ms "$bouncer" stats --json -c "$tmp/b.yaml")") || exit 1; done
	median=$(printf '%s\n' "${runs[@]}" | sort -n | sed -n 3p)
	total=$("$bouncer" stats --json -c "$tmp/b.yaml" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["suppressed_total"], j["suppressed_from"])')
	# the walk: what stats does while the counters were never built
	built=$(redis-cli -p "$port" HGET '{bench}:supcount' _complete)
	redis-cli -p "$port" HDEL '{bench}:supcount' _complete >/dev/null
	walk=$(ms "$bouncer" stats --json -c "$tmp/b.yaml") || exit 1
	redis-cli -p "$port" HSET '{bench}:supcount' _complete "$built" >/dev/null
	printf '%-12s %-14s %-16s %s\n' "$n" "$median" "$walk" "$total"
done
echo "redis: $(redis-cli -p "$port" INFO memory | grep '^used_memory_human' | tr -d '\r')"

#!/usr/bin/env bash
# store.sh - what applying one message costs in Redis: bench/store_apply.c against a private
# redis-server, then Redis's own counts: its CPU time per message (INFO cpu: steadier than the
# wall-clock figures on a shared machine), commands run per message (inside the script) and
# microseconds per EVALSHA (INFO commandstats), and the arguments of one EVALSHA per shape
# (MONITOR).
#
#   bench/store.sh [BUILD_DIR] [N] [SRC]   BUILD_DIR default build, N default 20000
#
#   BENCH_AOF=1   Redis as bench/e2e.sh and the tests run it (AOF, appendfsync always, data in
#                 /dev/shm): what a durable deployment pays per write command; default: no AOF
#
# Links bench/store_apply.c against BUILD_DIR's layer libraries (an older build's libbh.a)
# with the headers of SRC (default: the sources BUILD_DIR was configured from), so the same
# script measures an older build for a before/after comparison: for a build older than its
# source tree, give SRC as that commit's tree (git archive COMMIT handler | tar -x -C DIR).
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-${BH_BUILD_DIR:-$here/build}}
n=${2:-20000}
src=${3:-$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt" 2>/dev/null)}
src=${src:-$here}
command -v redis-server >/dev/null || { echo "store.sh: redis-server missing"; exit 77; }
aof=(--appendonly no)
if [ -n "${BENCH_AOF:-}" ]; then
	aof=(--appendonly yes --appendfsync always)
	[ -d /dev/shm ] && [ -w /dev/shm ] && export TMPDIR=/dev/shm
fi
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
incs=(-iquote "$src/handler")
if [ -f "$src/handler/layers.txt" ]; then
	# the layer libraries (handler/layers.txt) and their folders for the headers
	libs=() incs=()
	for l in $(awk '/^[a-z]/ {print $1}' "$src/handler/layers.txt" | tac); do
		libs+=("$build/libbh_$l.a")
		incs+=(-iquote "$src/handler/$l")
	done
else # an older build: one library (and the store's beside it)
	libs=("$build/libbh.a")
	[ -f "$build/libbh_store.a" ] && libs+=("$build/libbh_store.a")
fi
def=()
grep -qs bh_policy_settings "$src/handler/policy.h" "$src/handler/decide/policy.h" &&
	def=(-DBH_BENCH_SETTINGS) # decide's argument
# shellcheck disable=SC2046
cc -O2 -std=c17 -D_GNU_SOURCE "${def[@]}" "${incs[@]}" -o "$tmp/store_apply" \
	"$here/bench/store_apply.c" -Wl,--start-group "${libs[@]}" -Wl,--end-group \
	$(pkg-config --libs libetpan yaml-0.1 hiredis libpcre2-8 nettle libidn2 gnutls json-c \
		libsystemd libmicrohttpd libcrypto 2>/dev/null) -lm -lpthread || exit 1
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' "${aof[@]}" --dir "$tmp" \
	--logfile "$tmp/redis.log" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break; sleep 0.05; done
cli() { redis-cli -p "$port" "$@"; }
# arguments per EVALSHA, one message of each shape
redis-cli -p "$port" monitor >"$tmp/monitor" 2>/dev/null &
mon=$!
sleep 0.3
"$tmp/store_apply" "$port" 4 >/dev/null || exit 1
sleep 0.3
kill "$mon" 2>/dev/null
wait "$mon" 2>/dev/null
python3 - "$tmp/monitor" <<'PY'
import re, sys
shapes = ["hard", "soft", "sender", "autoreply"]
i = 0
for line in open(sys.argv[1], errors="replace"):
    toks = re.findall(r'"((?:[^"\\]|\\.)*)"', line)
    if not toks or toks[0].upper() != "EVALSHA":
        continue
    nk = int(toks[2])
    keys = toks[3:3 + nk]
    print("EVALSHA %-9s keys %2d (placeholders %d)  args %3d  total %3d" % (
        shapes[i % 4], nk, sum(1 for k in keys if k.endswith(":-")), len(toks) - 3 - nk, len(toks)))
    i += 1
PY
cli flushall >/dev/null
cli config resetstat >/dev/null
cpu() { cli info cpu | tr -d '\r' | awk -F: '/^used_cpu_(user|sys):/ { t += $2 } END { printf "%.6f", t }'; }
cpu0=$(cpu)
"$tmp/store_apply" "$port" "$n" || exit 1
cpu1=$(cpu)
python3 -c 'import sys; print("Redis CPU us/message %.1f" % ((float(sys.argv[2]) - float(sys.argv[1])) * 1e6 / int(sys.argv[3])))' "$cpu0" "$cpu1" "$n"
[ -n "${BENCH_VERBOSE:-}" ] && cli info commandstats | tr -d "\r" | sort -t= -k3 -n -r | head -20
cli info commandstats | tr -d '\r' | python3 -c '
import sys, re
calls, ev, evus = 0, 0, 0.0
for line in sys.stdin:
    m = re.match(r"cmdstat_([a-z|]+):calls=(\d+),usec=(\d+),usec_per_call=([0-9.]+)", line)
    if not m:
        continue
    name, c = m.group(1), int(m.group(2))
    if name == "evalsha":
        ev, evus = c, float(m.group(4))
    elif name not in ("info", "config|resetstat", "ping", "script|load", "flushall"):
        calls += c
n = int(sys.argv[1])
print("EVALSHA per message %.2f  commands inside per message %.2f  us per EVALSHA (Redis) %.1f"
      % (ev / n, calls / n, evus))
' "$n"

#!/usr/bin/env bash
# e2e.sh - end to end on real bounces: a real Dovecot mailbox drained by `bouncer once` into a
# real Redis, beside a plain IMAP fetch + UID MOVE of an identical mailbox (the fair floor: the
# least any drainer must make the server do), both timed as whole processes.
#
#   bench/e2e.sh [BOUNCER] [N_MESSAGES]        (default 20000; 100000 for the large run)
#
#   BENCH_SOURCE=corpus      the shared Sisimai corpus (../shared/corpus/sisimai, BENCH_CORPUS),
#                            each copy with a fresh Message-ID (default); `synthetic`: Postfix-
#                            style signed-VERP DSNs with distinct recipients (bench/gen_maildir.py)
#   BENCH_BATCH=1000         imap.batch_size, and the floor's batch
#   BENCH_PROXY=1            route both through bench/imap_tools.py proxy to count IMAP commands
#                            (a Python proxy slows both: off by default)
#   BENCH_TMPDIR=/dev/shm    where Dovecot and Redis keep their data (tmpfs by default)
#   BENCH_WRAP="strace -c"   a command to run bouncer under (a profiler), its output in the log
#
# 1. Dovecot (tests/lib/dovecot.sh) and Redis (tests/lib/redis.sh: AOF, fsync always) on free
#    loopback ports in a mktemp dir.
# 2. The same N messages are written straight into two Maildir folders, INBOX (for the floor)
#    and `drain` (for bouncer); `doveadm mailbox status` indexes both, and one read-only fetch
#    of each warms the page cache and Dovecot's caches (none of this is timed).
# 3. The fair floor: `bench/imap_tools.py floor-move` (Python imaplib: LOGIN, SELECT, UID SEARCH
#    ALL, then per batch UID FETCH BODY.PEEK[] and UID MOVE) under /usr/bin/time.
# 4. `bouncer once` on `drain` under /usr/bin/time (wall, CPU, peak RSS); Redis `INFO stats` and
#    `INFO commandstats` before and after: commands per message, including those the Lua scripts
#    run, and the µs Redis spent in each EVALSHA. For both sides, the CPU Dovecot spent serving
#    them (its master's and reaped children's, /proc/PID/stat).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bouncer=${1:-$here/build/bouncer}
n=${2:-20000}
batch=${BENCH_BATCH:-1000}
source_kind=${BENCH_SOURCE:-corpus}
corpus=${BENCH_CORPUS:-$here/../shared/corpus/sisimai}
[ -x "$bouncer" ] || { echo "bench: build bouncer first ($bouncer)"; exit 1; }
command -v dovecot >/dev/null 2>&1 || { echo "bench: dovecot not installed"; exit 77; }
command -v redis-server >/dev/null 2>&1 || { echo "bench: redis-server not installed"; exit 77; }
if [ "$source_kind" = corpus ] && [ ! -d "$corpus" ]; then
	echo "bench: no corpus at $corpus (BENCH_CORPUS, or BENCH_SOURCE=synthetic)"
	exit 77
fi
# shellcheck source=../tests/lib/dovecot.sh
source "$here/tests/lib/dovecot.sh"
# shellcheck source=../tests/lib/redis.sh
source "$here/tests/lib/redis.sh"

tmpdir=${BENCH_TMPDIR:-/dev/shm}
[ -d "$tmpdir" ] && [ -w "$tmpdir" ] || tmpdir=/tmp
T=$(mktemp -d "$tmpdir/bh-e2e.XXXXXX")
chmod 711 "$T"
PROXY_PID=
cleanup() {
	[ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null
	dovecot_stop
	stop_redis
	if [ -n "${BENCH_KEEP:-}" ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
dovecot_start "$T/dv" >/dev/null || exit 1
rc=0
start_redis "$T/redis" || rc=$?
[ "$rc" = 0 ] || exit "$rc"
openssl rand -hex 32 >"$T/verp.key"
printf '%s' "$DOVECOT_PASS" >"$T/imap.pw"

port=$DOVECOT_IMAP_PORT
if [ -n "${BENCH_PROXY:-}" ]; then
	python3 "$here/bench/imap_tools.py" proxy "$T/proxy.port" "$DOVECOT_IMAP_PORT" "$T/proxy.count" &
	PROXY_PID=$!
	for _ in $(seq 1 50); do [ -f "$T/proxy.port" ] && break; sleep 0.1; done
	port=$(cat "$T/proxy.port")
fi
pcount() { if [ -n "$PROXY_PID" ]; then sleep 0.2; read -r c _ <"$T/proxy.count"; echo "$c"; else echo 0; fi; }
# psnap NAME - keep the proxy's per-command times so far (cumulative) as proxy.NAME
psnap() { if [ -n "$PROXY_PID" ]; then cp "$T/proxy.count" "$T/proxy.$1"; else : >"$T/proxy.$1"; fi; }

: >"$T/domains"
t0=$(date +%s.%N)
if [ "$source_kind" = corpus ]; then
	bytes=$(python3 "$here/bench/gen_maildir.py" --corpus "$corpus" "$DOVECOT_MAILDIR" "$n" \
		"$T/verp.key" bounces.example.com "$T/domains")
else
	bytes=$(python3 "$here/bench/gen_maildir.py" "$DOVECOT_MAILDIR" "$n" "$T/verp.key" bounces.example.com)
fi
# our_domains: example.com, and with the corpus the senders of its returned messages
domains=$( (echo example.com; cat "$T/domains") | sort -u | paste -sd, -)
cat >"$T/bouncer.yaml" <<EOF
imap:
  host: 127.0.0.1
  port: $port
  tls: none
  user: $DOVECOT_USER
  password_file: $T/imap.pw
  auth: plain
  mailbox: drain
  batch_size: $batch
  timeout: 60s
redis:
  host: 127.0.0.1
  port: $REDIS_PORT
  prefix: bench
verp:
  format: signed
  domain: bounces.example.com
  prefix: bounces
  keys:
    - {id: k1, file: $T/verp.key}
our_domains: [$domains]
lists:
  news:
  promo:
log_format: json
EOF

ts() { date +%s.%N; }
mkdir -p "$DOVECOT_MAILDIR/.drain/new" "$DOVECOT_MAILDIR/.drain/tmp"
cp -a "$DOVECOT_MAILDIR/cur" "$DOVECOT_MAILDIR/.drain/cur"
touch "$DOVECOT_MAILDIR/.drain/maildirfolder"
if [ "$(id -u)" = 0 ]; then chown -R "$(id -u nobody):$(id -g nobody)" "$DOVECOT_MAILDIR"; fi
t1=$(ts)
for f in INBOX drain; do
	c=$(dovecot_count "$f")
	[ "$c" = "$n" ] || { echo "bench: Dovecot indexed $c of $n messages in $f"; exit 1; }
done
doveadm -c "$DOVECOT_DIR/dovecot.conf" mailbox create -u "$DOVECOT_USER" floor >/dev/null 2>&1 || true
t2=$(ts)
tool() { python3 "$here/bench/imap_tools.py" "$@"; }
for f in INBOX drain; do # warm the page cache and Dovecot's caches of both, alike
	tool floor 127.0.0.1 "$port" "$DOVECOT_USER" "$T/imap.pw" "$f" "$batch" >/dev/null
done
sleep 0.2

# Dovecot's CPU seconds: the master's own and its reaped children's (each IMAP session's imap
# process is one of them, counted once it has logged out)
dcpu() {
	local p
	p=$(cat "$DOVECOT_BASE/master.pid")
	awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15 + $16 + $17) / hz }' "/proc/$p/stat"
}
# the fair floor, a whole process
dc0=$(dcpu)
c0=$(pcount)
psnap before
/usr/bin/time -f '%e %M %U %S' -o "$T/ftime" python3 "$here/bench/imap_tools.py" floor-move \
	127.0.0.1 "$port" "$DOVECOT_USER" "$T/imap.pw" INBOX "$batch" floor >"$T/floor.out"
read -r mn _ _ _ <"$T/floor.out"
read -r ms mrss mu msys <"$T/ftime"
c1=$(pcount)
psnap floor
sleep 0.2
dc1=$(dcpu)
[ "$mn" = "$n" ] || { echo "bench: the fair floor moved $mn of $n messages"; exit 1; }

rinfo() { redis-cli -p "$REDIS_PORT" info stats | tr -d '\r' | sed -n "s/^$1://p"; }
rstats() { redis-cli -p "$REDIS_PORT" info commandstats | tr -d '\r' | grep '^cmdstat_'; }
rcpu() { redis-cli -p "$REDIS_PORT" info cpu | tr -d '\r' | awk -F: '/^used_cpu_(user|sys):/ {s += $2} END {printf "%.3f", s}'; }
rstats >"$T/cs0"
rcpu0=$(rcpu)
rc0=$(rinfo total_commands_processed)
rr0=$(rinfo total_reads_processed)
set +e
/usr/bin/time -f '%e %M %U %S' -o "$T/time" ${BENCH_WRAP:-} "$bouncer" once -c "$T/bouncer.yaml" >"$T/once.out" 2>"$T/once.log"
orc=$?
set -e
sleep 0.2
rc1=$(rinfo total_commands_processed)
rr1=$(rinfo total_reads_processed)
rstats >"$T/cs1"
rcpu1=$(rcpu)
dc2=$(dcpu)
c2=$(pcount)
psnap bouncer
read -r bs brss bu bsys <"$T/time"
left=$(dovecot_count drain)
processed=$(dovecot_count bouncer/processed)
ignored=$(dovecot_count bouncer/ignored)
quarantined=$(dovecot_count bouncer/quarantine)
if [ "$orc" != 0 ] && [ "$left" != 0 ]; then
	echo "bench: bouncer once exited $orc, $left messages left; log tail:"
	tail -5 "$T/once.log"
	exit 1
fi
sups=$(redis-cli -p "$REDIS_PORT" --scan --pattern '{bench}:sup:*' | wc -l)
loglines=$(wc -l <"$T/once.log")
# the INFO calls between the two samples: rinfo x2 after rc0 (1 command, 1 read each), minus
# nothing else; commandstats diffs below drop the `info` entry
python3 - "$n" "$bytes" "$source_kind" "$batch" "$tmpdir" "$ms" "$mrss" "$mu" "$msys" \
	"$bs" "$brss" "$bu" "$bsys" "$orc" "$processed" "$ignored" "$quarantined" "$sups" \
	"$((rc1 - rc0 - 2))" "$((rr1 - rr0 - 2))" "$T/cs0" "$T/cs1" "$((c1 - c0))" "$((c2 - c1))" \
	"${PROXY_PID:+1}" "$loglines" "$t0" "$t1" "$t2" "$rcpu0" "$rcpu1" "$dc0" "$dc1" "$dc2" "$T/proxy" <<'PY'
import re, sys
a = sys.argv[1:]
n, b, kind, batch, where = int(a[0]), int(a[1]), a[2], int(a[3]), a[4]
ms, mrss, mcpu = float(a[5]), int(a[6]), float(a[7]) + float(a[8])
bs, brss, bcpu, orc = float(a[9]), int(a[10]), float(a[11]) + float(a[12]), int(a[13])
proc, ign, qua, sups, rcmd, rreads = (int(x) for x in a[14:20])
fcmd, bcmd, proxied, loglines = int(a[22]), int(a[23]), a[24] == "1", int(a[25])
gen, idx = float(a[27]) - float(a[26]), float(a[28]) - float(a[27])
rcpu = float(a[30]) - float(a[29])
dfloor, dbouncer = float(a[32]) - float(a[31]), float(a[33]) - float(a[32])


def cs(path):
    d = {}
    for line in open(path):
        m = re.match(r"cmdstat_([^:]+):calls=(\d+),usec=(\d+)", line)
        if m:
            d[m.group(1)] = (int(m.group(2)), int(m.group(3)))
    return d


c0, c1 = cs(a[20]), cs(a[21])
diff = {k: (v[0] - c0.get(k, (0, 0))[0], v[1] - c0.get(k, (0, 0))[1]) for k, v in c1.items() if k != "info"}
diff = {k: v for k, v in diff.items() if v[0] > 0}
ev = diff.get("evalsha", (0, 0))
usec = sum(v[1] for k, v in diff.items() if k not in ("evalsha", "eval"))
fr, br = n / max(ms, 1e-9), n / max(bs, 1e-9)
print(f"e2e bench: {n} {kind} bounces, {b/1e6:.1f} MB ({b/n/1e3:.1f} KB mean), batch {batch}, plain IMAP on loopback{' via the counting proxy' if proxied else ''}, data in {where}")
print(f"  setup: generated in {gen:.1f} s, indexed in {idx:.1f} s (not timed)")
print(f"  fetch+MOVE (imaplib, whole process): {ms:7.2f} s {fr:8.0f} msg/s  CPU {mcpu:.2f} s  peak RSS {mrss/1024:.1f} MB  Dovecot CPU {dfloor:.2f} s" + (f"  {fcmd} IMAP commands" if proxied else ""))
print(f"  bouncer once (whole process):        {bs:7.2f} s {br:8.0f} msg/s  CPU {bcpu:.2f} s  peak RSS {brss/1024:.1f} MB  Dovecot CPU {dbouncer:.2f} s" + (f"  {bcmd} IMAP commands ({bcmd/n:.4f}/msg)" if proxied else ""))
if proxied:
    def times(path):
        d = {}
        for line in open(path).readlines()[1:]:
            w = line.rsplit(None, 2)
            d[w[0]] = (int(w[1]), float(w[2]))
        return d
    t0_, t1_, t2_ = (times(a[34] + "." + k) for k in ("before", "floor", "bouncer"))
    for side, x, y in (("fetch+MOVE", t0_, t1_), ("bouncer", t1_, t2_)):
        d = {k: (v[0] - x.get(k, (0, 0))[0], v[1] - x.get(k, (0, 0))[1]) for k, v in y.items()}
        d = {k: v for k, v in d.items() if v[0] > 0}
        print(f"    {side} IMAP time: " + ", ".join(f"{k} {v[0]}x {v[1]:.2f} s" for k, v in sorted(d.items(), key=lambda kv: -kv[1][1])))
print(f"    exit {orc}; moved {proc} processed, {ign} ignored, {qua} quarantined; {sups} suppressions; {loglines} log lines")
print(f"    Redis CPU {rcpu:.2f} s ({rcpu/n*1e6:.0f} us/msg); {rcmd} commands incl. scripts' ({rcmd/n:.2f}/msg), {rreads} reads ({rreads/n:.4f}/msg); EVALSHA {ev[0]/n:.3f}/msg, {ev[1]/max(ev[0],1):.0f} us each ({ev[1]/n:.0f} us/msg, {usec/n:.0f} us/msg in the commands inside)")
top = sorted(diff.items(), key=lambda kv: -kv[1][0])
print("    per message: " + ", ".join(f"{k} {v[0]/n:.2f}" for k, v in top[:12]))
print(f"  ratio bouncer / fetch+MOVE: {br/fr:.2f}   (goal: >= 0.5, and >= 5000 msg/s at 20,000)")
PY

#!/usr/bin/env bash
# e2e.sh - end to end: a real Dovecot mailbox of signed-VERP bounces drained by `bouncer once`
# into a real Redis, beside a plain IMAP fetch of the same mailbox (the floor).
#
#   bench/e2e.sh [BOUNCER] [N_MESSAGES]       (default 20000; BENCH_BATCH=1000 the batch size, the default of imap.batch_size)
#
# 1. Dovecot (tests/lib/dovecot.sh) and Redis (tests/lib/redis.sh: AOF, fsync always) on free
#    loopback ports in a mktemp dir.
# 2. bench/gen_maildir.py writes N bounces straight into the Maildir (14/20 hard DSNs, 3/20
#    soft DSNs, 2/20 text bounces, 1/20 auto-replies; distinct recipients); `doveadm mailbox
#    status` makes Dovecot index them (timed apart, not part of either figure).
# 3. Floor: bench/imap_tools.py floor — SELECT, UID SEARCH ALL, UID FETCH BODY.PEEK[] in batches
#    of BENCH_BATCH — run once to warm the caches, then timed.
# 4. bouncer once (plain IMAP on loopback, so both go through the same counting proxy), under
#    /usr/bin/time for the wall time and the peak RSS.
# Counting: IMAP commands by imap_tools.py proxy between the client and Dovecot (commands =
# round trips: libetpan waits for each completion); Redis commands and reads from
# `INFO stats` (total_commands_processed, total_reads_processed: one read event per pipelined
# round trip, roughly) before and after, minus the INFO calls themselves.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bouncer=${1:-$here/build/bouncer}
n=${2:-20000}
batch=${BENCH_BATCH:-1000}
[ -x "$bouncer" ] || { echo "bench: build bouncer first ($bouncer)"; exit 1; }
command -v dovecot >/dev/null 2>&1 || { echo "bench: dovecot not installed"; exit 77; }
command -v redis-server >/dev/null 2>&1 || { echo "bench: redis-server not installed"; exit 77; }
# shellcheck source=../tests/lib/dovecot.sh
source "$here/tests/lib/dovecot.sh"
# shellcheck source=../tests/lib/redis.sh
source "$here/tests/lib/redis.sh"

# On tmpfs by default (BENCH_TMPDIR): the figures are bouncer's, not the disk's (Redis fsyncs
# every write; Dovecot creates a file per moved message). BENCH_TMPDIR=/tmp measures with the disk.
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

python3 "$here/bench/imap_tools.py" proxy "$T/proxy.port" "$DOVECOT_IMAP_PORT" "$T/proxy.count" &
PROXY_PID=$!
for _ in $(seq 1 50); do [ -f "$T/proxy.port" ] && break; sleep 0.1; done
pport=$(cat "$T/proxy.port")

cat >"$T/bouncer.yaml" <<EOF
imap:
  host: 127.0.0.1
  port: $pport
  tls: none
  user: $DOVECOT_USER
  password_file: $T/imap.pw
  auth: plain
  mailbox: INBOX
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
our_domains: [example.com]
lists:
  news:
  promo:
log_format: json
EOF

ts() { date +%s.%N; }
t0=$(ts)
bytes=$(python3 "$here/bench/gen_maildir.py" "$DOVECOT_MAILDIR" "$n" "$T/verp.key" bounces.example.com)
if [ "$(id -u)" = 0 ]; then chown -R "$(id -u nobody):$(id -g nobody)" "$DOVECOT_MAILDIR"; fi
t1=$(ts)
indexed=$(dovecot_count INBOX)
t2=$(ts)
[ "$indexed" = "$n" ] || { echo "bench: Dovecot indexed $indexed of $n messages"; exit 1; }

floor() {
	python3 "$here/bench/imap_tools.py" floor 127.0.0.1 "$pport" "$DOVECOT_USER" "$T/imap.pw" INBOX "$batch"
}
floor >/dev/null # warm the page cache and Dovecot's own cache
sleep 0.2
read -r c0 _ <"$T/proxy.count"
read -r fn fbytes fs _ < <(floor)
sleep 0.2
read -r c1 _ <"$T/proxy.count"
[ "$fn" = "$n" ] || { echo "bench: the floor fetched $fn of $n messages"; exit 1; }

rinfo() { redis-cli -p "$REDIS_PORT" info stats | tr -d '\r' | sed -n "s/^$1://p"; }
rc0=$(rinfo total_commands_processed)
rr0=$(rinfo total_reads_processed)
set +e
/usr/bin/time -f '%e %M %U %S' -o "$T/time" taskset -c 0 "$bouncer" once -c "$T/bouncer.yaml" >"$T/once.out" 2>"$T/once.log"
orc=$?
set -e
sleep 0.2
rc1=$(rinfo total_commands_processed)
rr1=$(rinfo total_reads_processed)
evalsha=$(redis-cli -p "$REDIS_PORT" info commandstats | tr -d '\r' | sed -n 's/^cmdstat_evalsha:calls=\([0-9]*\),.*/\1/p')
read -r c2 _ <"$T/proxy.count"
read -r bs brss bu bsys <"$T/time"
left=$(dovecot_count INBOX)
processed=$(dovecot_count bouncer/processed)
ignored=$(dovecot_count bouncer/ignored)
quarantined=$(dovecot_count bouncer/quarantine)
if [ "$orc" != 0 ] || [ "$left" != 0 ]; then
	echo "bench: bouncer once exited $orc, $left messages left; log tail:"
	tail -5 "$T/once.log"
	exit 1
fi
# The fair floor: put everything back and fetch + UID MOVE it batch by batch, as bouncer must.
for f in bouncer/processed bouncer/ignored bouncer/quarantine; do
	doveadm -c "$DOVECOT_DIR/dovecot.conf" move -u "$DOVECOT_USER" INBOX mailbox "$f" all >/dev/null 2>&1 || true
done
doveadm -c "$DOVECOT_DIR/dovecot.conf" mailbox create -u "$DOVECOT_USER" floor >/dev/null 2>&1 || true
mn=0 ms=0 mcmd=0
read -r mn _ ms mcmd < <(python3 "$here/bench/imap_tools.py" floor-move 127.0.0.1 "$pport" \
	"$DOVECOT_USER" "$T/imap.pw" INBOX "$batch" floor) || echo "bench: the fair floor failed"
sups=$(redis-cli -p "$REDIS_PORT" --scan --pattern '{bench}:sup:*' | wc -l)
# the two rinfo calls before and the two after are 2 commands and 2 reads each side (the
# commandstats INFO comes after the second pair)
python3 - "$n" "$bytes" "$fs" "$((c1 - c0))" "$bs" "$brss" "$((c2 - c1))" \
	"$((rc1 - rc0 - 2))" "$((rr1 - rr0 - 2))" "$batch" "$processed" "$ignored" "$quarantined" \
	"$sups" "$t0" "$t1" "$t2" "$bu" "$bsys" "${evalsha:-0}" "$tmpdir" "$mn" "$ms" "$mcmd" <<'PY'
import sys
a = sys.argv[1:]
n, b = int(a[0]), int(a[1])
fs, fcmd, bs, rss, bcmd, rcmd, rreads, batch = float(a[2]), int(a[3]), float(a[4]), int(a[5]), int(a[6]), int(a[7]), int(a[8]), int(a[9])
proc, ign, qua, sups = int(a[10]), int(a[11]), int(a[12]), int(a[13])
gen, idx = float(a[15]) - float(a[14]), float(a[16]) - float(a[15])
cpu = float(a[17]) + float(a[18])
evalsha, where = int(a[19]), a[20]
mn, ms, mcmd = int(a[21]), float(a[22]), int(a[23])
mb = b / 1e6
print(f"e2e bench: {n} bounces, {mb:.1f} MB, batch_size {batch}, plain IMAP on loopback via a counting proxy, data in {where}")
print(f"  setup: generated in {gen:.1f} s, indexed by Dovecot in {idx:.1f} s (not timed below)")
print(f"  floor (imaplib UID FETCH BODY.PEEK[]): {fs:7.2f} s  {n/max(fs,1e-9):8.0f} msg/s  {fcmd} IMAP commands ({fcmd/n:.4f}/msg)")
print(f"  bouncer once (one core):               {bs:7.2f} s  {n/max(bs,1e-9):8.0f} msg/s  {bcmd} IMAP commands ({bcmd/n:.4f}/msg)")
print(f"    bouncer CPU {cpu:.2f} s ({cpu/max(bs,1e-9)*100:.0f}% of wall); Redis: {rcmd} commands incl. those run by scripts ({rcmd/n:.2f}/msg; EVALSHA {evalsha/n:.3f}/msg), {rreads} reads ({rreads/n:.4f}/msg)")
print(f"    moved: {proc} processed, {ign} ignored, {qua} quarantined; {sups} suppressions; peak RSS {rss/1024:.1f} MB")
print(f"  fair floor (fetch + UID MOVE per batch): {ms:7.2f} s  {mn/max(ms,1e-9):8.0f} msg/s  {mcmd} IMAP commands ({mcmd/max(mn,1):.4f}/msg)")
print(f"  ratio bouncer/floor speed: {fs/max(bs,1e-9):.2f}; bouncer/fair floor: {ms/max(bs,1e-9):.2f}  (goal: >= 0.5, and >= 2000 msg/s)")
PY

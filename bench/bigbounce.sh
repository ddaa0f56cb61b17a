#!/usr/bin/env bash
# bigbounce.sh - peak memory on one big bounce: a Postfix-style DSN whose returned message carries
# a base64 attachment, SIZE bytes in all (default 25,000,000: just under the default
# limits.message_size of 25 MiB), drained by `bouncer once` from a real Dovecot into a real Redis
# and read by `bouncer classify`, each under /usr/bin/time. Prints the peak RSS of each and its
# ratio to the message size (goal: <= 1.1 x the message + 16 MB). With COUNT, that many such
# bounces in a row (distinct recipients and Message-IDs): the worker must not hold two at once.
#
#   bench/bigbounce.sh [BOUNCER] [SIZE] [COUNT]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bouncer=${1:-$here/build/bouncer}
size=${2:-25000000}
count=${3:-1}
[ -x "$bouncer" ] || { echo "bench: build bouncer first ($bouncer)"; exit 1; }
command -v dovecot >/dev/null 2>&1 || { echo "bench: dovecot not installed"; exit 77; }
command -v redis-server >/dev/null 2>&1 || { echo "bench: redis-server not installed"; exit 77; }
# shellcheck source=../tests/lib/dovecot.sh
source "$here/tests/lib/dovecot.sh"
# shellcheck source=../tests/lib/redis.sh
source "$here/tests/lib/redis.sh"
tmpdir=${BENCH_TMPDIR:-/dev/shm}
[ -d "$tmpdir" ] && [ -w "$tmpdir" ] || tmpdir=/tmp
T=$(mktemp -d "$tmpdir/bh-big.XXXXXX")
chmod 711 "$T"
cleanup() { dovecot_stop; stop_redis; rm -rf "$T"; }
trap cleanup EXIT
dovecot_start "$T/dv" >/dev/null || exit 1
rc=0
start_redis "$T/redis" || rc=$?
[ "$rc" = 0 ] || exit "$rc"
openssl rand -hex 32 >"$T/verp.key"
printf '%s' "$DOVECOT_PASS" >"$T/imap.pw"
python3 - "$DOVECOT_MAILDIR" "$size" "$T/verp.key" "$T/big.eml" "$here/tests/cli" "$count" <<'PY'
import base64, os, sys, time
sys.path.insert(0, sys.argv[5])
import verp_reference as vr
maildir, size, key, copy = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
conf = vr.Conf(); conf.domain = "bounces.example.com"
conf.keys.append(open(key, "rb").read().rstrip(b"\r\n"))
for sub in ("cur", "new", "tmp"):
    os.makedirs(os.path.join(maildir, sub), exist_ok=True)
for k in range(1, int(sys.argv[6]) + 1):
  r = f"reader{k}@example.net"
  v = vr.encode(conf, "news", r, int(time.time()))
  head = f"""Return-Path: <>
Delivered-To: {v}
From: Mail Delivery System <MAILER-DAEMON@mx.example.com>
To: {v}
Subject: Undelivered Mail Returned to Sender
Date: Fri, 27 Nov 2026 10:00:00 +0000
Message-ID: <big.{k}@mx.example.com>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B1"

--B1
Content-Type: text/plain

<{r}>: host mx.example.net[192.0.2.1] said: 552 5.2.2 <{r}>: mailbox full
    (in reply to RCPT TO command)

--B1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com

Final-Recipient: rfc822; {r}
Action: failed
Status: 5.2.2
Diagnostic-Code: smtp; 552 5.2.2 mailbox full

--B1
Content-Type: message/rfc822

From: News <news@example.com>
To: {r}
Subject: the big one
Message-ID: <news.big@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="B2"

--B2
Content-Type: text/plain

see the attachment

--B2
Content-Type: application/octet-stream
Content-Transfer-Encoding: base64

""".replace("\n", "\r\n").encode()
  tail = b"\r\n--B2--\r\n\r\n--B1--\r\n"
  room = size - len(head) - len(tail)
  raw = os.urandom(room * 3 // 4 // 78 * 57 + 57)
  b64 = base64.encodebytes(raw).replace(b"\n", b"\r\n")[:room]
  b64 = b64[:len(b64) - len(b64) % 78]
  body = head + b64 + b"\r\n" * ((room - len(b64)) // 2) + tail
  name = "%d.M%dP1.bench,S=%d,W=%d:2," % (time.time(), k, len(body), len(body))
  open(os.path.join(maildir, "cur", name), "wb").write(body)
  if k == 1:
    open(copy, "wb").write(body)
PY
if [ "$(id -u)" = 0 ]; then chown -R "$(id -u nobody):$(id -g nobody)" "$DOVECOT_MAILDIR"; fi
[ "$(dovecot_count INBOX)" = "$count" ] || { echo "bench: Dovecot did not index the messages"; exit 1; }
cat >"$T/bouncer.yaml" <<EOF
imap:
  host: 127.0.0.1
  port: $DOVECOT_IMAP_PORT
  tls: none
  user: $DOVECOT_USER
  password_file: $T/imap.pw
  auth: plain
  mailbox: INBOX
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
log_format: json
EOF
bytes=$(stat -c %s "$T/big.eml")
/usr/bin/time -f '%e %M' -o "$T/t1" "$bouncer" once -c "$T/bouncer.yaml" >/dev/null 2>"$T/once.log" || {
	echo "bench: bouncer once failed"; tail -3 "$T/once.log"; exit 1; }
/usr/bin/time -f '%e %M' -o "$T/t2" "$bouncer" classify "$T/big.eml" >"$T/classify.out"
read -r s1 m1 <"$T/t1"
read -r s2 m2 <"$T/t2"
folder="$(grep -c '"folder":"bouncer/processed"' "$T/once.log") of $count in bouncer/processed"
python3 - "$bytes" "$s1" "$m1" "$s2" "$m2" "$folder" "$(head -c 300 "$T/classify.out")" "$count" <<'PY'
import sys
b, s1, m1, s2, m2 = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
mb = b / 1e6
goal = 1.1 * b / 1048576 + 16
print(f"big bounce: {mb:.1f} MB ({b/1048576:.1f} MiB) x {sys.argv[8]}; goal peak RSS <= {goal:.1f} MiB (1.1 x + 16)")
print(f"  bouncer once:     {s1:.2f} s, peak RSS {m1/1024:.1f} MiB ({m1*1024/b:.2f} x the message); {sys.argv[6]}")
print(f"  bouncer classify: {s2:.2f} s, peak RSS {m2/1024:.1f} MiB ({m2*1024/b:.2f} x the message)")
PY

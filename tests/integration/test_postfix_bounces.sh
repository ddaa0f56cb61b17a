#!/usr/bin/env bash
# test_postfix_bounces.sh - bounces written by a real Postfix, end to end: does bouncer read what a
# real MTA writes around a remote server's refusal?
#
# Everything runs on loopback from one mktemp -d, without DNS: tests/lib/smtp_refuser.py (the
# project's scripted SMTP server) refuses each recipient with the reply of its row in
# tests/integration/data/postfix_replies.tsv, at the row's stage (connect, HELO, MAIL FROM, RCPT,
# DATA or end of DATA); a private Postfix (Debian's package; its own config_directory and
# queue_directory, a texthash transport map that sends the test domain to the refuser and one
# "dead MX" domain to a closed port, maximal_queue_lifetime = 0 so that a deferral is returned
# after one try) takes one message per row over SMTP, each with a signed VERP envelope sender, and
# its virtual(8) agent delivers the bounces into the Maildir of the Dovecot the other tests run
# (tests/lib/dovecot.sh). Then `bouncer classify` reads every bounce, `bouncer once` drains the
# mailbox into a real redis-server, and the test checks each row: reason, hard, whose, and that
# exactly the hard recipient-side rows were suppressed (sender-side ones never are).
#
# Harness failures (Postfix or a server does not start, a bounce never arrives, `once` fails)
# fail the test, and so does every verdict that differs from the table (printed as "got X, want Y"
# with the rule that decided). Postfix's master needs root: as an ordinary user the test skips. KEEP_T=1 keeps the temporary directory (maillog, refuser
# transcript, bounces, verdicts).
set -euo pipefail
: "${BOUNCER:?BOUNCER must name the binary}"
: "${BH_SOURCE_DIR:?}"

skip() { echo "skip: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "Postfix's master(8) must be started as root"
for c in postfix postconf dovecot redis-server python3; do
	command -v "$c" >/dev/null 2>&1 || skip "$c is not installed (scripts/install-deps.sh)"
done
id postfix >/dev/null 2>&1 || skip "no postfix user (install Debian's postfix package)"
getent group postdrop >/dev/null 2>&1 || skip "no postdrop group (install Debian's postfix package)"

TABLE=$BH_SOURCE_DIR/tests/integration/data/postfix_replies.tsv
BATCH_SIZE=100
export BATCH_SIZE
# shellcheck source=worker_lib.sh
source "$BH_SOURCE_DIR/tests/integration/worker_lib.sh"
worker_setup
PF=$T/pf
REFUSER_PID=
fail() { echo "FAIL: $*" >&2; exit 1; }

# postfix_stop - stop the private Postfix, its children too (only the processes it started)
postfix_stop() {
	[ -d "$PF/etc" ] || return 0
	local pid kids i
	pid=$(tr -dc 0-9 2>/dev/null <"$PF/queue/pid/master.pid" || true)
	kids=
	[ -z "$pid" ] || kids=$(pgrep -P "$pid" 2>/dev/null | tr '\n' ' ' || true)
	postfix -c "$PF/etc" stop >/dev/null 2>&1 || true
	for i in $(seq 1 100); do
		[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	[ -z "$pid" ] || kill -KILL "$pid" 2>/dev/null || true
	for pid in $kids; do # a child leaves when it sees its master gone; do not wait for that
		kill "$pid" 2>/dev/null || true
	done
}
postfix_cleanup() {
	set +e
	postfix_stop
	if [ -n "$REFUSER_PID" ]; then
		kill "$REFUSER_PID" 2>/dev/null
		wait "$REFUSER_PID" 2>/dev/null
	fi
	worker_cleanup
}
trap postfix_cleanup EXIT

# --- the refuser and its ports
grep -v '^#' "$TABLE" | cut -f1-3 >"$T/refuser.tsv"
python3 "$BH_SOURCE_DIR/tests/lib/smtp_refuser.py" --table "$T/refuser.tsv" \
	--ports-out "$T/refuser.ports" --log "$T/refuser.log" 2>"$T/refuser.err" &
REFUSER_PID=$!
wait_for test -s "$T/refuser.ports" || { cat "$T/refuser.err" >&2; fail "the refuser did not start"; }
refuser_port=$(awk -F'\t' '$1 == "*" {print $2}' "$T/refuser.ports")
# a port nobody listens on: the dead MX (picked free; connection refused from then on)
dead_port=$(_dovecot_free_port)

# --- the private Postfix
mkdir -p "$PF/etc" "$PF/queue" "$PF/data"
chown postfix "$PF/data"
{
	printf 'dest.test\tsmtp:[127.0.0.1]:%s\n' "$refuser_port"
	printf 'dead.test\tsmtp:[127.0.0.1]:%s\n' "$dead_port"
	awk -F'\t' '$1 != "*" {printf "%s@dest.test\tsmtp:[127.0.0.1]:%s\n", $1, $2}' "$T/refuser.ports"
} >"$PF/etc/transport"

write_postfix_conf() { # SMTPD_PORT
	cat >"$PF/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $PF/queue
data_directory = $PF/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = $PF/maillog
maillog_file_prefixes = $PF/
syslog_name = postfix-bh-test
myhostname = mta.postfix-test.example
mydomain = postfix-test.example
myorigin = \$myhostname
mydestination =
alias_maps =
alias_database =
local_recipient_maps =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions = permit_mynetworks, reject
smtp_dns_support_level = disabled
lmtp_dns_support_level = disabled
smtp_host_lookup = native
smtp_tls_security_level = none
smtpd_tls_security_level = none
smtputf8_enable = no
biff = no
notify_classes =
# nothing leaves for anywhere but the transport map's loopback destinations
transport_maps = texthash:$PF/etc/transport
default_transport = error:5.3.0 this test sends mail nowhere else
relay_transport = error:5.3.0 this test sends mail nowhere else
# a 5xx greeting is a refusal, not a reason to try the next MX (there is none)
smtp_skip_5xx_greeting = no
smtp_connect_timeout = 10s
# one try: a deferral is returned at once, as it would be when the queue lifetime ran out
maximal_queue_lifetime = 0
bounce_queue_lifetime = 1h
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
# the bounces, to the VERP domain, go into the test Dovecot's Maildir
virtual_mailbox_domains = bounces.example.com
virtual_mailbox_base = $DOVECOT_DIR/home/bounces
virtual_mailbox_maps = static:Maildir/
virtual_uid_maps = static:$(id -u nobody)
virtual_gid_maps = static:$(id -g nobody)
virtual_minimum_uid = 1
EOF
	# chroot off everywhere: the daemons find their files in $PF, not in a jail
	cat >"$PF/etc/master.cf" <<EOF
127.0.0.1:$1 inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
}

started=
for attempt in 1 2 3; do
	smtpd_port=$(_dovecot_free_port)
	write_postfix_conf "$smtpd_port"
	postfix -c "$PF/etc" start >"$PF/start.out" 2>&1 || { cat "$PF/start.out" "$PF/maillog" 2>/dev/null >&2 || true; fail "postfix did not start"; }
	if wait_for python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 2).close()' "$smtpd_port" 2>/dev/null; then
		started=1
		break
	fi
	echo "postfix: smtpd did not listen on $smtpd_port (attempt $attempt)" >&2
	postfix_stop
done
[ -n "$started" ] || { cat "$PF/maillog" 2>/dev/null >&2 || true; fail "postfix's smtpd never listened"; }

# --- one message per row, from the row's signed VERP address
n=0
: >"$T/sent.tsv"
while IFS=$'\t' read -r local stage _; do
	case $local in '#'* | '') continue ;; esac
	domain=dest.test
	[ "$stage" = deadmx ] && domain=dead.test
	rcpt=$local@$domain
	printf '%s\t%s\t%s\n' "$local" "$rcpt" "$(verp news "$rcpt")" >>"$T/sent.tsv"
	n=$((n + 1))
done <"$TABLE"
[ "$n" -ge 40 ] || fail "the table has $n rows, want at least 40"
python3 - "$smtpd_port" "$T/sent.tsv" <<'EOF' || fail "submitting to postfix failed"
import smtplib, sys, email.utils
port, sent = int(sys.argv[1]), sys.argv[2]
with smtplib.SMTP("127.0.0.1", port, local_hostname="client.example.com", timeout=30) as s:
    for i, line in enumerate(open(sent)):
        local, rcpt, verp = line.rstrip("\n").split("\t")
        msg = ("From: News <news@example.com>\r\nTo: <%s>\r\nSubject: Our weekly news %d\r\n"
               "Date: %s\r\nMessage-ID: <news.%d.%s@example.com>\r\nMIME-Version: 1.0\r\n"
               "Content-Type: text/plain; charset=us-ascii\r\n\r\nHello %s, this week...\r\n"
               % (rcpt, i, email.utils.formatdate(), i, local, local))
        s.sendmail(verp, [rcpt], msg)
EOF

# --- wait (bounded) for every bounce in the Maildir
maildir=$DOVECOT_MAILDIR
arrived() { [ "$(find "$maildir/new" "$maildir/cur" -type f 2>/dev/null | wc -l)" -ge "$n" ]; }
for i in $(seq 1 450); do
	arrived && break
	sleep 0.2
done
got=$(find "$maildir/new" "$maildir/cur" -type f 2>/dev/null | wc -l)
if [ "$got" -lt "$n" ]; then
	grep -E 'status=|warning|fatal|error' "$PF/maillog" | tail -20 >&2 || true
	postqueue -c "$PF/etc" -p >&2 || true
	fail "$got of $n bounces arrived in 90 s"
fi
[ "$got" -eq "$n" ] || fail "$got messages arrived, want $n (one bounce per row)"
mkdir -p "$T/bounces"
find "$maildir/new" "$maildir/cur" -type f -exec cp {} "$T/bounces/" \;

# --- the verdicts, offline, then the worker drains the same messages into Redis
"$BOUNCER" classify "$T/bounces"/* >"$T/verdicts.jsonl" 2>"$T/classify.err" ||
	{ cat "$T/classify.err" >&2; fail "bouncer classify failed"; }
set +e
"$BOUNCER" once -c "$T/bouncer.yaml" >"$T/once.out" 2>"$T/once.log"
rc=$?
set -e
[ "$rc" = 0 ] || { tail -5 "$T/once.log" >&2; fail "bouncer once exited $rc, want 0"; }
[ "$(dovecot_count INBOX)" = 0 ] || fail "bouncer once left messages in INBOX"
[ "$(dovecot_count bouncer/processed)" = "$n" ] || fail "processed $(dovecot_count bouncer/processed) bounces, want $n"
rcli --scan --pattern '{t}:sup:*' | sort >"$T/sups"

# --- row by row
python3 - "$TABLE" "$T/sent.tsv" "$T/verdicts.jsonl" "$T/sups" "$T/once.log" >"$T/report.txt" <<'EOF' && rc=0 || rc=$?
import json, sys
table, sent, verdicts, sups, once_log = sys.argv[1:6]
want = {}
for line in open(table):
    if line.startswith("#") or not line.strip():
        continue
    c = line.rstrip("\n").split("\t")
    want[c[0]] = c
rcpt_of = {}
local_of_verp = {}
for line in open(sent):
    local, rcpt, verp = line.rstrip("\n").split("\t")
    rcpt_of[local] = rcpt
    local_of_verp[verp.lower()] = local
got = {}
for line in open(verdicts):
    v = json.loads(line)
    to = ((v.get("env") or {}).get("delivered_to") or (v.get("env") or {}).get("to") or "").lower()
    local = local_of_verp.get(to.strip("<>"))
    if local is None:
        print("UNMATCHED bounce %s (delivered to %s)" % (v.get("source"), to))
        continue
    rs = [r for r in v.get("recipients", []) if (r.get("address") or "").lower() == rcpt_of[local]]
    got[local] = (rs[0] if rs else None, v)
suppressed = {l.strip().rsplit(":", 1)[-1] for l in open(sups) if l.strip()}
bad = 0
for local, c in want.items():
    stage, reply, reason, hard, whose = c[1], c[2], c[3], c[4] == "1", c[5]
    r, v = got.get(local, (None, None))
    rcpt = rcpt_of[local]
    want_sup = hard and whose == "recipient"
    is_sup = rcpt in suppressed
    if r is None:
        bad += 1
        print("MISMATCH %-20s %-7s no verdict for %s (type %s, recipients %s)" % (
            local, stage, rcpt, v and v.get("type"),
            v and [x.get("address") for x in v.get("recipients", [])]))
        continue
    g = (r.get("reason"), bool(r.get("hard")), r.get("whose"))
    w = (reason, hard, whose)
    ok = g == w and is_sup == want_sup
    if not ok:
        bad += 1
    print("%s %-20s %-7s got %s/%s/%s%s, want %s/%s/%s%s  rule=%s status=%s  reply=%.70s" % (
        "ok      " if ok else "MISMATCH", local, stage,
        g[0], "hard" if g[1] else "soft", g[2], " suppressed" if is_sup else "",
        w[0], "hard" if w[1] else "soft", w[2], " suppressed" if want_sup else "",
        r.get("rule"), r.get("status"), reply))
print("postfix: %d of %d rows agree" % (len(want) - bad, len(want)))
sys.exit(1 if bad else 0)
EOF
cat "$T/report.txt"
case $rc in
0) echo "ok: every Postfix bounce read as its table row says" ;;
1) fail "verdicts differ from the table (above)" ;;
*) fail "the report failed" ;;
esac

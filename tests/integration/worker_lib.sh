# worker_lib.sh - shared by tests/integration/test_worker*.sh: servers, config, sample mail.
#
#   worker_setup        a mktemp dir ($T), Dovecot (tests/lib/dovecot.sh), Redis (tests/lib/redis.sh),
#                       a config ($T/bouncer.yaml) and a VERP key; installs the cleanup trap.
#                       Exits 77 when a server is not installed.
#   make_dsn FILE VERP RCPT STATUS TEXT [ID]   an RFC 3464 bounce to VERP about RCPT
#   make_autoreply FILE VERP                   an out-of-office reply
#   verp LIST ADDR                             the signed VERP address
#   rcli ARGS...                               redis-cli against the test Redis
#   wait_for CMD...                            retry CMD for up to 20 s

: "${BOUNCER:?BOUNCER must name the binary}"
: "${BH_SOURCE_DIR:?}"

# shellcheck source=../lib/dovecot.sh
source "$BH_SOURCE_DIR/tests/lib/dovecot.sh"
# shellcheck source=../lib/redis.sh
source "$BH_SOURCE_DIR/tests/lib/redis.sh"

worker_cleanup() {
	local pid
	for pid in ${BG_PIDS:-}; do
		kill "$pid" 2>/dev/null || true
	done
	dovecot_stop
	stop_redis
	if [ -n "${T:-}" ] && [ -z "${KEEP_T:-}" ]; then rm -rf "$T"; else echo "kept $T" >&2; fi
}

rcli() {
	redis-cli -p "$REDIS_PORT" "$@"
}

wait_for() {
	local i
	for i in $(seq 1 100); do
		"$@" && return 0
		sleep 0.2
	done
	return 1
}

worker_setup() {
	command -v dovecot >/dev/null 2>&1 || exit 77
	command -v redis-server >/dev/null 2>&1 || exit 77
	T=$(mktemp -d)
	chmod 711 "$T" # as root, Dovecot's unprivileged processes must reach $T/dv
	trap worker_cleanup EXIT
	dovecot_start "$T/dv" || exit 1
	local rc=0
	start_redis "$T/redis" || rc=$?
	[ "$rc" = 0 ] || exit "$rc"
	head -c 32 /dev/urandom >"$T/verp.key"
	printf '%s' "$DOVECOT_PASS" >"$T/imap.pw"
	write_config tls "$DOVECOT_IMAPS_PORT" "$DOVECOT_CA" 127.0.0.1
}

# write_config TLS PORT CA HOST [extra imap lines]
write_config() {
	cat >"$T/bouncer.yaml" <<EOF2
imap:
  host: $4
  port: $2
  tls: $1
  ca_file: $3
  user: $DOVECOT_USER
  password_file: $T/imap.pw
  auth: ${AUTH:-plain}
  mailbox: INBOX
  batch_size: ${BATCH_SIZE:-3}
  poll_interval: ${POLL_INTERVAL:-2s}
  idle: ${IDLE:-true}
  timeout: 10s
${5:-}
redis:
  host: 127.0.0.1
  port: $REDIS_PORT
  prefix: t
verp:
  format: signed
  domain: bounces.example.com
  prefix: bounces
  keys:
    - {id: k1, file: $T/verp.key}
limits:
  message_size: ${MESSAGE_SIZE:-1MB}
our_domains: [example.com]
lists:
  news:
  promo:
log_format: json
${EXTRA_CONFIG:-}
EOF2
}

verp() {
	"$BOUNCER" verp encode -c "$T/bouncer.yaml" --list "$1" "$2"
}

make_dsn() { # FILE VERP RCPT STATUS TEXT [ID]
	local file=$1 v=$2 rcpt=$3 status=$4 text=$5 id=${6:-$RANDOM.$RANDOM}
	cat >"$file" <<EOF2
Return-Path: <>
Delivered-To: $v
Received: from mx.example.net by mx.example.com; Fri, 27 Nov 2026 10:00:00 +0000
From: Mail Delivery System <MAILER-DAEMON@mx.example.com>
To: $v
Subject: Undelivered Mail Returned to Sender
Date: Fri, 27 Nov 2026 10:00:00 +0000
Message-ID: <dsn.$id@mx.example.com>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="BOUNDARY"
Auto-Submitted: auto-replied

--BOUNDARY
Content-Type: text/plain

This is the mail system at host mx.example.com.
I'm sorry to have to inform you that your message could not be delivered.

<$rcpt>: $text

--BOUNDARY
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com
Arrival-Date: Fri, 27 Nov 2026 09:59:00 +0000

Final-Recipient: rfc822; $rcpt
Original-Recipient: rfc822; $rcpt
Action: failed
Status: $status
Remote-MTA: dns; mx.example.net
Diagnostic-Code: smtp; $text

--BOUNDARY
Content-Type: text/rfc822-headers

Return-Path: <$v>
From: News <news@example.com>
To: $rcpt
Subject: Our weekly news
Message-ID: <news.$id@example.com>
Date: Fri, 27 Nov 2026 09:58:00 +0000

--BOUNDARY--
EOF2
}

# deliver_unknown FIRST LAST - hard bounces (5.1.1 user unknown) for uFIRST..uLAST@example.net,
# each to its VERP address of list news, delivered to INBOX
deliver_unknown() {
	local i
	for i in $(seq "$1" "$2"); do
		make_dsn "$T/m$i.eml" "$(verp news "u$i@example.net")" "u$i@example.net" 5.1.1 \
			"550 5.1.1 user unknown"
		dovecot_deliver "$T/m$i.eml"
	done
}

make_autoreply() { # FILE VERP
	cat >"$1" <<EOF2
Return-Path: <>
Delivered-To: $2
From: Bob <bob@example.net>
To: $2
Subject: Out of Office: Our weekly news
Date: Fri, 27 Nov 2026 10:00:00 +0000
Message-ID: <ooo.$RANDOM.$RANDOM@example.net>
Auto-Submitted: auto-replied
X-Autoreply: yes
Content-Type: text/plain

I am out of the office until Monday and will reply when I am back.
EOF2
}

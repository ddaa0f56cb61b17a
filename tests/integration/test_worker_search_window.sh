#!/usr/bin/env bash
# test_worker_search_window.sh - a mailbox larger than a batch is searched one window of
# sequence numbers at a time (UID SEARCH 1:batch UNDELETED), and messages flagged \Deleted by
# someone else inside that window never make the rest of the mailbox look empty.
set -euo pipefail
source "$BH_SOURCE_DIR/tests/integration/worker_lib.sh"
worker_setup
fail() { echo "FAIL: $*" >&2; cat "$T"/*.log >&2 2>/dev/null || true; exit 1; }
write_config none "$DOVECOT_IMAP_PORT" "$DOVECOT_CA" 127.0.0.1

deliver_unknown 1 10
# another client flags the first four (more than a batch of 3) \Deleted and leaves them there
doveadm -c "$DOVECOT_DIR/dovecot.conf" flags add -u "$DOVECOT_USER" '\Deleted' mailbox INBOX 1:4 ||
	fail "doveadm flags add"

if command -v strace >/dev/null 2>&1; then
	# LeakSanitizer cannot run under ptrace: off for this one traced run
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		strace -f -e trace=write,sendto,sendmsg,writev -s 200 -o "$T/strace.log" \
		"$BOUNCER" once -c "$T/bouncer.yaml" >/dev/null 2>"$T/once.log" || fail "once failed"
	grep -q 'UID SEARCH 1:3 UNDELETED' "$T/strace.log" || fail "no windowed search"
	grep -q 'UID SEARCH UNDELETED' "$T/strace.log" || fail "no fallback to the full search"
else
	"$BOUNCER" once -c "$T/bouncer.yaml" >/dev/null 2>"$T/once.log" || fail "once failed"
fi
[ "$(dovecot_count bouncer/processed)" = 6 ] || fail "processed: $(dovecot_count bouncer/processed)"
[ "$(dovecot_count INBOX)" = 4 ] || fail "INBOX: $(dovecot_count INBOX), want the 4 deleted ones"
echo "ok: windowed search, deleted messages in the window"

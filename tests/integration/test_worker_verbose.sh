#!/usr/bin/env bash
# test_worker_verbose.sh - `once -v -v` logs a debug `verdict` line per message and a
# `verdict_rcpt` line per recipient (uid, type, reason, loop kind, outcome); without -v, and with
# a single -v, there is no debug line at all. Against a real Dovecot and Redis.
set -euo pipefail
source "$BH_SOURCE_DIR/tests/integration/worker_lib.sh"
worker_setup
fail() { echo "FAIL: $*" >&2; exit 1; }
debug_lines() { grep -c '"level":"debug"' "$1" || true; }

make_dsn "$T/hard.eml" "$(verp news alice@example.net)" alice@example.net 5.1.1 \
	"550 5.1.1 <alice@example.net>: Recipient address rejected: User unknown"
make_autoreply "$T/ooo.eml" "$(verp news bob@example.net)"
for m in hard ooo; do dovecot_deliver "$T/$m.eml"; done

# --- the default level and a single -v: no debug line
"$BOUNCER" once -c "$T/bouncer.yaml" --dry-run >/dev/null 2>"$T/v0.log"
[ "$(debug_lines "$T/v0.log")" = 0 ] || { cat "$T/v0.log" >&2; fail "debug lines without -v"; }
"$BOUNCER" once -c "$T/bouncer.yaml" --dry-run -v >/dev/null 2>"$T/v1.log"
[ "$(debug_lines "$T/v1.log")" = 0 ] || { cat "$T/v1.log" >&2; fail "debug lines with one -v"; }
grep -q '"level":"info"' "$T/v1.log" || fail "no info line with -v"

# --- -v -v, dry run: a verdict line per message, a verdict_rcpt line for alice
"$BOUNCER" once -c "$T/bouncer.yaml" --dry-run -v -v >/dev/null 2>"$T/v2.log"
n=$(grep -c '"level":"debug","event":"verdict",' "$T/v2.log" || true)
[ "$n" = 2 ] || { cat "$T/v2.log" >&2; fail "$n verdict lines with -v -v, want 2"; }
grep '"event":"verdict",' "$T/v2.log" | grep '"uid":[0-9]' | grep '"type":"dsn"' |
	grep '"loop":"none"' | grep '"verp":"valid"' | grep -q '"outcome":"suppress"' ||
	{ cat "$T/v2.log" >&2; fail "no verdict line for the DSN with uid, type, loop, outcome"; }
grep '"event":"verdict",' "$T/v2.log" | grep -q '"type":"autoreply"' ||
	fail "no verdict line for the auto-reply"
grep '"event":"verdict_rcpt"' "$T/v2.log" | grep '"uid":[0-9]' |
	grep '"address":"alice@example.net"' | grep '"reason":"[a-z_]*"' |
	grep '"status":"5.1.1"' | grep -q '"outcome":"suppress"' ||
	{ cat "$T/v2.log" >&2; fail "no verdict_rcpt line for alice with reason, status, outcome"; }

# --- logfmt, -v -v, for real: the same lines, then the info decisions after the store
sed -i 's/^log_format: json$/log_format: logfmt/' "$T/bouncer.yaml"
set +e
"$BOUNCER" once -c "$T/bouncer.yaml" -v -v >/dev/null 2>"$T/real.log"
rc=$?
set -e
[ "$rc" = 0 ] || { cat "$T/real.log" >&2; fail "once -v -v exited $rc, want 0"; }
grep 'level=debug event=verdict_rcpt' "$T/real.log" | grep 'address=alice@example.net' |
	grep -q 'outcome=suppress' || { cat "$T/real.log" >&2; fail "no logfmt verdict_rcpt line"; }
grep 'level=info event=decision' "$T/real.log" | grep -q 'address=alice@example.net' ||
	fail "no decision line"
[ "$(dovecot_count INBOX)" = 0 ] || fail "the mailbox was not drained"
echo "ok: -v -v logs verdict lines, the default and -v do not"

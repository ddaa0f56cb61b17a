#!/usr/bin/env bash
# test_worker.sh - `bouncer once` against a real Dovecot and Redis: a mailbox of mixed bounces
# drains into exactly the expected Redis state; --dry-run changes nothing; an oversized and an
# unparseable message are quarantined; a crash between the Redis write and the move loses
# nothing and counts nothing twice.
set -euo pipefail
source "$BH_SOURCE_DIR/tests/integration/worker_lib.sh"
worker_setup
fail() { echo "FAIL: $*" >&2; exit 1; }
count() { dovecot_count "$1"; }
expect_count() { local got; got=$(count "$1"); [ "$got" = "$2" ] || fail "$1 holds $got messages, want $2"; }

# --- the mailbox: 2 hard, 1 soft, 1 auto-reply, 1 bad signature, 1 junk, 1 oversized, 1 MIME bomb
make_dsn "$T/hard1.eml" "$(verp news alice@example.net)" alice@example.net 5.1.1 \
	"550 5.1.1 <alice@example.net>: Recipient address rejected: User unknown in virtual mailbox table"
make_dsn "$T/hard2.eml" "$(verp promo dave@example.org)" dave@example.org 5.1.1 \
	"550 5.1.1 The email account that you tried to reach does not exist"
make_dsn "$T/soft1.eml" "$(verp promo carol@example.org)" carol@example.org 4.2.2 \
	"452 4.2.2 The email account that you tried to reach is over quota"
make_autoreply "$T/ooo.eml" "$(verp news bob@example.net)"
forged=$(verp news erin@example.net | sed 's/=\([a-z0-9]*\)@/=aaaaaaaaaaaaaaaa@/')
make_dsn "$T/forged.eml" "$forged" erin@example.net 5.1.1 "550 5.1.1 User unknown"
printf 'junk\001\002\003 this is no mail at all\n' >"$T/junk.eml"
{ printf 'From: x@example.net\nSubject: big\nMessage-ID: <big@example.net>\n\n'
  head -c 1500000 /dev/zero | tr '\0' 'a' | fold -w 76; } >"$T/big.eml"
{ printf 'From: x@example.net\nSubject: nested\nMessage-ID: <bomb@example.net>\nMIME-Version: 1.0\n'
  printf 'Content-Type: multipart/mixed; boundary="b0"\n\n'
  for i in $(seq 0 39); do printf -- '--b%d\nContent-Type: multipart/mixed; boundary="b%d"\n\n' "$i" "$((i + 1))"; done
  printf -- '--b40\nContent-Type: text/plain\n\nhi\n'
  for i in $(seq 40 -1 0); do printf -- '--b%d--\n' "$i"; done; } >"$T/bomb.eml"
for m in hard1 hard2 soft1 ooo forged junk big bomb; do dovecot_deliver "$T/$m.eml"; done
expect_count INBOX 8

# --- dry run: every decision printed, nothing changed
"$BOUNCER" once -c "$T/bouncer.yaml" --dry-run >"$T/dry.jsonl" 2>"$T/dry.log" || true
n=$(grep -c '"dry_run":true' "$T/dry.jsonl" || true)
[ "$n" -ge 7 ] || fail "dry run printed $n decisions, want at least 7"
grep -q '"address":"alice@example.net".*"outcome":"suppress"' "$T/dry.jsonl" || fail "dry run: no suppress decision for alice"
[ "$(rcli dbsize)" = 0 ] || fail "dry run wrote to Redis"
expect_count INBOX 8
[ "$(count bouncer/processed)" = 0 ] || fail "dry run moved messages"

# --- the real run
set +e
"$BOUNCER" once -c "$T/bouncer.yaml" >"$T/once.out" 2>"$T/once.log"
rc=$?
set -e
[ "$rc" = 1 ] || { cat "$T/once.log" >&2; fail "once exited $rc, want 1 (something was quarantined)"; }
expect_count INBOX 0
expect_count bouncer/processed 3
expect_count bouncer/ignored 3 # auto-reply, forged VERP (backscatter), junk
expect_count bouncer/quarantine 2
grep -q '"event":"oversized".*"size":1' "$T/once.log" || fail "no oversized event"
grep -q '"event":"message".*"why":"MIME nesting too deep".*"folder":"bouncer/quarantine"' "$T/once.log" ||
	fail "the MIME bomb was not quarantined with its reason"
# one info line per decision with the stable id
[ "$(grep '"event":"decision"' "$T/once.log" | grep -c '"stable_id":"[0-9a-f]\{64\}"')" -ge 5 ] ||
	fail "decision lines without a stable id"

# Redis: exactly these suppressions, one soft count, nothing for the forged or auto-reply
rcli --scan --pattern '{t}:sup:*' | sort >"$T/sups"
printf '%s\n' '{t}:sup:l:news:alice@example.net' '{t}:sup:l:promo:dave@example.org' | sort >"$T/want"
diff -u "$T/want" "$T/sups" || fail "unexpected suppression keys"
[ "$(rcli zcard '{t}:soft:l:promo:carol@example.org')" = 1 ] || fail "soft count for carol is not 1"
[ "$(rcli exists '{t}:sup:l:news:erin@example.net')" = 0 ] || fail "a forged VERP address was acted on"
events=$(rcli xlen '{t}:events')
applied=$(rcli --scan --pattern '{t}:applied:*' | wc -l)
[ "$applied" = 6 ] || fail "applied markers: $applied, want 6"

# --- crash between the Redis confirmation and the move, then restart
make_dsn "$T/hard3.eml" "$(verp news frank@example.net)" frank@example.net 5.1.1 "550 5.1.1 no such user"
make_dsn "$T/soft2.eml" "$(verp promo carol@example.org)" carol@example.org 4.2.2 "452 4.2.2 Mailbox full"
dovecot_deliver "$T/hard3.eml"
dovecot_deliver "$T/soft2.eml"
set +e
BOUNCER_TEST_CRASH_AFTER_STORE=1 "$BOUNCER" once -c "$T/bouncer.yaml" >/dev/null 2>"$T/crash.log"
rc=$?
set -e
[ "$rc" = 86 ] || fail "crash hook: exit $rc, want 86"
expect_count INBOX 2
[ "$(rcli exists '{t}:sup:l:news:frank@example.net')" = 1 ] || fail "the crashed run did not store frank"
events_after_crash=$(rcli xlen '{t}:events')
soft_after_crash=$(rcli zcard '{t}:soft:l:promo:carol@example.org')
[ "$soft_after_crash" = 2 ] || fail "soft count after the crash: $soft_after_crash, want 2"
"$BOUNCER" once -c "$T/bouncer.yaml" >/dev/null 2>"$T/restart.log" || fail "restart failed"
expect_count INBOX 0
expect_count bouncer/processed 5
[ "$(rcli xlen '{t}:events')" = "$events_after_crash" ] || fail "the restart added events (counted twice)"
[ "$(rcli zcard '{t}:soft:l:promo:carol@example.org')" = 2 ] || fail "the restart counted carol twice"
grep -q '"duplicates":2' "$T/restart.log" || fail "the restart did not see 2 duplicates"
[ "$events_after_crash" -gt "$events" ] || fail "no events from the crashed run"
echo "ok: drained, dry run, quarantine, crash and restart"

#!/usr/bin/env bash
# test_worker_repeat.sh - repetition and loop policy end to end (`bouncer once` against a real
# Dovecot and Redis): one sent message bouncing three times with three different reports is
# counted once, the other two are filed as `repeat` loops in the ignored folder and the third
# raises the alert; `loops:` per list (ignore vs alert) for repeat and bounce_of_bounce; a list
# over the sender's {p}:mailed:LIST count holds new suppressions and alerts once; `bouncer stats`
# shows the loop counts per kind.
set -euo pipefail
source "$BH_SOURCE_DIR/tests/integration/worker_lib.sh"
worker_setup
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_count() { local got; got=$(dovecot_count "$1"); [ "$got" = "$2" ] || fail "$1 holds $got messages, want $2"; }
# promo alerts on repeats and reports of reports; news keeps the default (ignore)
sed -i 's/^  promo:$/  promo:\n    loops: {repeat: alert, bounce_of_bounce: alert}/' "$T/bouncer.yaml"
"$BOUNCER" config check -c "$T/bouncer.yaml" >/dev/null || fail "config does not load"
sed 's/^  promo:$/  promo:\n    repeat: {windw: 2d}\n    list_burst: {max: -1}/' "$T/bouncer.yaml" >"$T/bad.yaml"
set +e
"$BOUNCER" config check -c "$T/bad.yaml" >"$T/bad.out" 2>&1
rc=$?
set -e
[ "$rc" = 78 ] || fail "a bad repeat/list_burst config: exit $rc, want 78"
grep -q 'lists.promo.repeat.windw: unknown key; did you mean "window"' "$T/bad.out" || fail "no diagnostic for windw: $(cat "$T/bad.out")"
grep -q 'lists.promo.list_burst.max: expected' "$T/bad.out" || fail "no diagnostic for max -1: $(cat "$T/bad.out")"
alerts() { # ALERT [LOOP]: alert events of that kind (and loop)
	rcli xrange '{t}:events' - + | python3 -c '
import sys
lines = sys.stdin.read().split("\n")
n = 0
for i, l in enumerate(lines):
    if l == "kind" and lines[i + 1] == "alert":
        j = i
        f = {}
        while j + 1 < len(lines) and lines[j] != "" and not lines[j][0].isdigit():
            f[lines[j]] = lines[j + 1]; j += 2
        if f.get("alert") == sys.argv[1] and (len(sys.argv) < 3 or f.get("loop") == sys.argv[2]):
            n += 1
print(n)' "$@"
}
# same_sent FILE LIST RCPT STATUS N: the N-th report about one sent message (same original
# Message-ID, a different report each time)
same_sent() {
	make_dsn "$1" "$(verp "$2" "$3")" "$3" "$4" "452 $4 Mailbox full" "sent-$2-$3"
	sed -i "s/<dsn.sent-$2-$3@/<dsn.sent-$2-$3.r$5@/" "$1"
}

# --- 1. news (loops ignore): carol's one sent message reported three times
for i in 1 2 3; do
	same_sent "$T/c$i.eml" news carol@example.org 4.2.2 "$i"
	dovecot_deliver "$T/c$i.eml"
done
"$BOUNCER" once -c "$T/bouncer.yaml" >/dev/null 2>"$T/once1.log" || { cat "$T/once1.log" >&2; fail "once 1"; }
expect_count INBOX 0
expect_count bouncer/processed 1
expect_count bouncer/ignored 2
[ "$(rcli zcard '{t}:soft:l:news:carol@example.org')" = 1 ] || fail "carol counted $(rcli zcard '{t}:soft:l:news:carol@example.org') times, want 1"
[ "$(grep '"loop":"repeat"' "$T/once1.log" | grep -c '"outcome":"refuse".*"folder":"bouncer/ignored"')" = 2 ] ||
	fail "want 2 decision lines with loop repeat, outcome refuse, folder ignored"
[ "$(alerts repeat)" = 1 ] || fail "want one repeat alert at the third report"
[ "$(alerts loop)" = 0 ] || fail "news ignores loops: no loop alert"
echo "ok: one sent message reported three times: counted once, 2 repeats, 1 alert"

# --- 2. promo (loops alert): a repeat and a report of a report raise loop alerts
for i in 1 2; do
	same_sent "$T/d$i.eml" promo dave@example.org 4.2.2 "$i"
	dovecot_deliver "$T/d$i.eml"
done
for l in news promo; do
	make_dsn "$T/bob-$l.eml" "$(verp $l bob@example.net)" bob@example.net 5.1.1 "550 5.1.1 unknown"
	sed -i 's/^Subject: Our weekly news$/Subject: Our weekly news\nContent-Type: multipart\/report; report-type=delivery-status/' "$T/bob-$l.eml"
	dovecot_deliver "$T/bob-$l.eml"
done
"$BOUNCER" once -c "$T/bouncer.yaml" >/dev/null 2>"$T/once2.log" || { cat "$T/once2.log" >&2; fail "once 2"; }
expect_count bouncer/processed 2
expect_count bouncer/ignored 5
[ "$(alerts loop repeat)" = 1 ] || fail "promo: want one loop alert for the repeat, got $(alerts loop repeat)"
[ "$(alerts loop bounce_of_bounce)" = 1 ] || fail "want one loop alert for promo's report of a report (none for news)"
[ "$(rcli exists '{t}:sup:l:news:bob@example.net' '{t}:sup:l:promo:bob@example.net')" = 0 ] || fail "a loop suppressed bob"
echo "ok: loops per list: ignore on news, alert on promo"

# --- 3. the sender says 3 recipients of promo were mailed: the 4th failure within 10m is held
rcli set '{t}:mailed:promo' 3 EX 600 >/dev/null
for u in x1 x2; do
	make_dsn "$T/$u.eml" "$(verp promo $u@example.net)" $u@example.net 5.1.1 "550 5.1.1 unknown"
	dovecot_deliver "$T/$u.eml"
done
"$BOUNCER" once -c "$T/bouncer.yaml" >/dev/null 2>"$T/once3.log" || { cat "$T/once3.log" >&2; fail "once 3"; }
[ "$(rcli exists '{t}:sup:l:promo:x1@example.net')" = 1 ] || fail "x1 (3rd failure) not suppressed"
[ "$(rcli exists '{t}:sup:l:promo:x2@example.net')" = 0 ] || fail "x2 (4th failure over the mailed count) was suppressed"
[ "$(rcli zrange '{t}:held:promo' 0 -1)" = x2@example.net ] || fail "x2 not in the held set"
[ "$(alerts list_burst)" = 1 ] || fail "want one list_burst alert"
echo "ok: burst over {t}:mailed:promo held x2 and alerted"

# --- 4. stats: loops per kind
"$BOUNCER" stats -c "$T/bouncer.yaml" --json >"$T/stats.json" || fail "stats"
python3 - "$T/stats.json" <<'PY' || fail "stats --json: $(cat "$T/stats.json")"
import json, sys
j = json.load(open(sys.argv[1]))
k = j["loops"]["kinds"]
assert k["repeat"]["last_hour"] == 3 and k["repeat"]["last_day"] == 3, k
assert k["bounce_of_bounce"]["last_day"] == 2, k
assert j["loops"]["last_day"] == 5, j["loops"]
assert any(r["list"] == "promo" and r["outcome"] == "held" for r in j["events"]), j["events"]
assert not any(r["list"] == "*" for r in j["events"])
PY
"$BOUNCER" stats -c "$T/bouncer.yaml" >"$T/stats.txt" || fail "stats"
grep -Eq '^loops: 5 in the last hour, 5 in the last day' "$T/stats.txt" || fail "stats: $(cat "$T/stats.txt")"
grep -Eq '^  repeat +3 +3$' "$T/stats.txt" || fail "stats: no repeat row: $(cat "$T/stats.txt")"
echo "ok: stats shows loops per kind"

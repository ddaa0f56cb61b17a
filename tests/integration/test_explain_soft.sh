#!/usr/bin/env bash
# test_explain_soft.sh - `bouncer explain` on a soft-counted address (issue 18): the current
# count against the threshold of the loaded policy, when the window ends, when the oldest bounce
# leaves it, and when a suppression at the threshold would expire; text and JSON. Real bounces
# through Dovecot and `bouncer once` into a real Redis (the key {t}:soft:l:news:ADDRESS).
set -uo pipefail
source "$BH_SOURCE_DIR/tests/integration/worker_lib.sh"
EXTRA_CONFIG='defaults:
  soft: {threshold: 4, window: 20d, for: 10d}' worker_setup
fail=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fail=1; }
B() { "$BOUNCER" "$@" -c "$T/bouncer.yaml"; }

bounce() { # N: one more mailbox-full bounce for Soft@Example.com in news, applied
	make_dsn "$T/m$1.eml" "$(verp news Soft@Example.com)" Soft@Example.com 5.2.2 "552 5.2.2 Mailbox full"
	dovecot_deliver "$T/m$1.eml"
	B once >/dev/null 2>"$T/once.log" || bad "once: $(tail -3 "$T/once.log")"
}
# check COUNT - explain --json and the text agree with COUNT/4 and the policy's times
check() {
	local now
	now=$(date +%s)
	B explain --json Soft@example.com >"$T/ex.json" || { bad "explain --json"; return; }
	python3 - "$T/ex.json" "$1" "$now" <<'PY' && ok "explain --json: $1/4, window and expiry" || bad "explain --json (count $1): $(cat "$T/ex.json" | head -c 600)"
import calendar, json, sys, time
j, want, now = json.load(open(sys.argv[1])), int(sys.argv[2]), int(sys.argv[3])
t = lambda s: calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))
assert not j["suppressed"], "suppressed too early"
[w] = j["soft"]
assert (w["list"], w["scope"], w["reason"], w["count"], w["threshold"]) == ("news", "list", "mailboxfull", want, 4), w
assert (w["window_s"], w["duration_s"]) == (20 * 86400, 10 * 86400), w
assert abs(t(w["window_ends"]) - (now + 20 * 86400)) <= 5, w          # the last bounce + window
assert abs(t(w["next_drop"]) - (t(w["first"]) + 20 * 86400)) <= 1, w
assert abs(t(w["suppression_would_expire"]) - (now + 10 * 86400)) <= 5, w
PY
	B explain Soft@example.com >"$T/ex.txt"
	grep -q "^soft bounces in list news: $1/4 (mailboxfull: count 4 in 1728000s)" "$T/ex.txt" &&
		grep -q 'the window ends 20' "$T/ex.txt" && grep -q 'it is suppressed for 864000s (until 20' "$T/ex.txt" &&
		ok "explain text: $1/4 with the window end and the expiry" || bad "explain text: $(cat "$T/ex.txt" | head -8)"
}

bounce 1
[ "$(rcli zcard '{t}:soft:l:news:Soft@example.com')" = 1 ] || bad "no soft key: $(rcli --scan --pattern '{t}:soft:*')"
check 1
bounce 2
check 2
# an address with no soft bounces: no window
B explain --json nobody@example.com | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["soft"] == [] else 1)' &&
	ok "no soft bounces: an empty list" || bad "explain of an unknown address"
# at the threshold the window is gone and the suppression is there
bounce 3
bounce 4
B explain --json Soft@example.com >"$T/ex.json"
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if j["suppressed"] and j["soft"] == [] else 1)' "$T/ex.json" &&
	ok "at 4/4: suppressed, no window left" || bad "at the threshold: $(head -c 400 "$T/ex.json")"
exit $fail

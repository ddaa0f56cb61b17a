#!/usr/bin/env bash
# test_addr_table.sh - the one address grammar against real servers (issue 18): every key of
# tests/data/addresses.tsv is what `suppression add`, `suppression check`, `suppression show` and
# `explain` print, and the worker (`bouncer once` over real bounces in Dovecot) writes the same
# key; the BOUNCER_REDIS_* overrides reach `once` and `health` as they reach the ops commands;
# the manual event names the operator even without $USER; UTF-8 prints as UTF-8.
set -uo pipefail
source "$BH_SOURCE_DIR/tests/integration/worker_lib.sh"
worker_setup
fail=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fail=1; }

# The file's Redis port is wrong and its prefix another: the overrides must win everywhere.
sed -i "s/^  port: $REDIS_PORT$/  port: 1/; s/^  prefix: t$/  prefix: file/" "$T/bouncer.yaml"
export BOUNCER_REDIS_PORT=$REDIS_PORT BOUNCER_REDIS_PREFIX=t
B() { "$BOUNCER" "$@" -c "$T/bouncer.yaml"; }
# S SUB ARGS... / E ARGS...: suppression SUB and explain with -c before the "--" in ARGS
S() { local sub=$1; shift; "$BOUNCER" suppression "$sub" -c "$T/bouncer.yaml" "$@"; }
E() { "$BOUNCER" explain -c "$T/bouncer.yaml" "$@"; }
json() { python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"; }

if B health --json >"$T/health.out" 2>"$T/health.err"; then ok "health with the overrides"; else
	bad "health with the overrides: $(cat "$T/health.out" "$T/health.err")"; fi
[ "$(json 'j["healthy"]' <"$T/health.out")" = True ] && ok "health --json" || bad "health --json: $(cat "$T/health.out")"

# --- the ops commands: the same key from every one
python3 - "$BH_SOURCE_DIR/tests/data/addresses.tsv" >"$T/table" <<'PY'
import re, sys
for line in open(sys.argv[1], encoding="utf-8"):
    line = line.rstrip("\n")
    if not line or line.startswith("#"):
        continue
    inp, want = line.split("\t", 1)
    if want.startswith("refused: "):
        continue
    raw = re.sub(rb"\\(t|n|r|x[0-9a-fA-F]{2})",
                 lambda m: {b"t": b"\t", b"n": b"\n", b"r": b"\r"}.get(m.group(1)) or bytes([int(m.group(1)[1:], 16)]),
                 inp.encode("utf-8"))
    sys.stdout.buffer.write(raw + b"\0" + want.encode("utf-8") + b"\0")
PY
rows=0
while IFS= read -r -d '' addr && IFS= read -r -d '' want; do
	rows=$((rows + 1))
	got=$(S add --list News --why "table" --json -- "$addr" | json 'j["address"]')
	[ "$got" = "$want" ] || bad "add '$addr': key '$got', want '$want'"
	[ "$(rcli hget "{t}:sup:l:news:$want" address)" = "$want" ] || bad "add '$addr': no {t}:sup:l:news:$want"
	got=$(S check --list news --json -- "$addr" | json 'j["suppression"]["address"]')
	[ "$got" = "$want" ] || bad "check '$addr': '$got', want '$want'"
	got=$(S show --json -- "$addr" | json 'j["suppressions"][0]["address"]')
	[ "$got" = "$want" ] || bad "show '$addr': '$got', want '$want'"
	got=$(E --json -- "$addr" | json 'j["events"][0]["address"]')
	[ "$got" = "$want" ] || bad "explain '$addr': '$got', want '$want'"
	out=$(S remove --list news --why "table" -- "$addr")
	[ "$out" = "removed $want in list news" ] || bad "remove '$addr' says '$out'"
done <"$T/table"
[ "$rows" -ge 25 ] && ok "$rows keys agree across add, check, show, explain, remove" || bad "only $rows rows"

# --- the worker: hard bounces about recipients written as the table writes them
i=0
for pair in 'Joe.Smith@Example.COM|Joe.Smith@example.com' '"john"@example.com|john@example.com' \
	'joe@mail_relay.example.com|joe@mail_relay.example.com' 'joe@XN--BCHER-KVA.de|joe@xn--bcher-kva.de' \
	'"john smith"@example.com|"john smith"@example.com' 'o'"'"'brien@example.ie|o'"'"'brien@example.ie'; do
	in=${pair%%|*} want=${pair#*|}
	i=$((i + 1))
	make_dsn "$T/m$i.eml" "$(verp news "$in")" "$in" 5.1.1 "550 5.1.1 User unknown"
	dovecot_deliver "$T/m$i.eml"
	wkeys+=("$want")
done
if B once >/dev/null 2>"$T/once.log"; then ok "once with the overrides"; else bad "once: $(tail -5 "$T/once.log")"; fi
for want in "${wkeys[@]}"; do
	[ "$(rcli hget "{t}:sup:l:news:$want" address)" = "$want" ] && ok "worker wrote {t}:sup:l:news:$want" ||
		bad "worker: no {t}:sup:l:news:$want ($(rcli --scan --pattern '{t}:sup:*' | tr '\n' ' '))"
	S check --list news -- "$want" >/dev/null || bad "check does not meet the worker's $want"
done
[ -z "$(rcli --scan --pattern '{file}:*')" ] || bad "something wrote under the file's prefix"

# --- the operator without $USER, and UTF-8 output
env -u USER "$BOUNCER" suppression add -c "$T/bouncer.yaml" 'Jöe@bücher.de' --why utf8 >"$T/add.out"
user=$(B explain --json 'Jöe@bücher.de' | json 'j["events"][0]["user"]')
[ "$user" = "$(id -un)" ] && ok "operator from getpwuid: $user" || bad "operator '$user', want $(id -un)"
grep -qx 'suppressed Jöe@xn--bcher-kva.de globally' "$T/add.out" && ok "confirmation echoes the key" ||
	bad "confirmation: $(cat "$T/add.out")"
LC_ALL=C.UTF-8 B suppression check 'Jöe@bücher.de' >"$T/u.out"
grep -q '^suppressed: Jöe@xn--bcher-kva.de globally' "$T/u.out" && ok "UTF-8 prints as UTF-8" ||
	bad "UTF-8 output: $(cat "$T/u.out")"
LC_ALL=C B suppression check 'Jöe@bücher.de' >"$T/c.out"
grep -q '^suppressed: J??e@xn--bcher-kva.de globally' "$T/c.out" && ok "a C locale gets ASCII" ||
	bad "C locale output: $(cat "$T/c.out")"
exit $fail

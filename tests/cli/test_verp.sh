#!/usr/bin/env bash
# test_verp.sh - `bouncer verp encode|decode` against the independent Python reference
# (tests/cli/verp_reference.py): the README vectors, a few hundred random recipients in both
# directions, tampered and expired addresses, and the exit codes.
set -euo pipefail

: "${BOUNCER:?}" "${BH_SOURCE_DIR:?}"
REF="$BH_SOURCE_DIR/tests/cli/verp_reference.py"
N_RANDOM=${N_RANDOM:-300}
command -v python3 >/dev/null || exit 77

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'bouncer-test-key-0123456789abcdef\n' >"$tmp/key"
printf 'another-key-for-rotation-tests-42\n' >"$tmp/key2"
unset BOUNCER_CONFIG
common=(--key-file "$tmp/key" --domain bounce.example.com)
fail=0
checks=0

bad() {
	echo "FAIL: $*" >&2
	fail=$((fail + 1))
}

# expect_rc WANT CMD... - run CMD, compare its exit status
expect_rc() {
	local want=$1 rc=0
	shift
	"$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
	checks=$((checks + 1))
	[ "$rc" = "$want" ] || bad "exit $rc, want $want: $* ($(cat "$tmp/err"))"
}

# 1. The published vectors: the reference and the C encoder agree, and the C decoder reads them.
while IFS=$'\t' read -r list rcpt now want; do
	got=$("$BOUNCER" verp encode "${common[@]}" --list "$list" --now "$now" "$rcpt")
	checks=$((checks + 1))
	[ "$got" = "$want" ] || bad "vector $rcpt: got $got, want $want"
	grep -qF -- "$want" "$BH_SOURCE_DIR/docs/verp.md" || bad "vector $want missing from docs/verp.md"
	"$BOUNCER" verp decode "${common[@]}" --now "$now" "$want" | grep -q '"valid":true' ||
		bad "vector $want does not decode"
done < <(python3 "$REF" vectors)

# 2. Random recipients (one reference run makes the cases and its encodings): C encodes the
#    same address or refuses too; C decodes the upper-cased address; then one more reference run
#    decodes C's addresses, upper-cased, and must find the recipient C found.
python3 "$REF" random "$N_RANDOM" 4242 >"$tmp/cases"
: >"$tmp/decoded"
n=0
encoded=0
while IFS=$'\t' read -r list rcpt now fmt delim max_local want; do
	n=$((n + 1))
	opts=("${common[@]}" --format "$fmt" --delimiters "$delim" --max-local "$max_local" --now "$now")
	rc=0
	got=$("$BOUNCER" verp encode "${opts[@]}" --list "$list" -- "$rcpt" 2>"$tmp/err") || rc=$?
	checks=$((checks + 1))
	if [ "${want:0:1}" = "!" ]; then
		[ "$rc" = 65 ] || bad "encode $rcpt ($fmt): reference refuses (${want:1}), C gave $rc $got"
		continue
	fi
	if [ "$rc" != 0 ] || [ "$got" != "$want" ]; then
		bad "encode $rcpt ($fmt $delim): got $rc '$got' ($(cat "$tmp/err")), want '$want'"
		continue
	fi
	encoded=$((encoded + 1))
	rc=0
	dec=$("$BOUNCER" verp decode "${opts[@]}" -- "${got^^}") || rc=$?
	checks=$((checks + 1))
	[ "$rc" = 0 ] || bad "C cannot decode ${got^^}: $dec"
	rcpt_c=$(printf '%s' "$dec" | sed -n 's/.*"recipient":"\(.*\)"}$/\1/p' |
		sed 's/\\"/"/g; s/\\\\/\\/g')
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$now" "$fmt" "$delim" "$max_local" "${got^^}" \
		"$rcpt_c" >>"$tmp/decoded"
done <"$tmp/cases"
python3 "$REF" check-decodes "$tmp/decoded" || bad "the reference decodes differently (above)"
echo "random cases: $n, $encoded encoded (the rest refused by both)"
[ "$encoded" -gt $((n / 3)) ] || bad "too few random cases encoded"

# 3. Exit codes.
good=$("$BOUNCER" verp encode "${common[@]}" --list news --now 1767225600 john@example.com)
expect_rc 0 "$BOUNCER" verp decode "${common[@]}" --now 1767225600 "$good"
expect_rc 1 "$BOUNCER" verp decode "${common[@]}" --now 1767225600 "${good/t7g/t7h}"
grep -q '"why":"bad signature"' "$tmp/out" || bad "tampered: $(cat "$tmp/out")"
expect_rc 1 "$BOUNCER" verp decode "${common[@]}" --now $((1767225600 + 90 * 86400)) "$good"
grep -q '"why":"expired"' "$tmp/out" || bad "expired: $(cat "$tmp/out")"
expect_rc 1 "$BOUNCER" verp decode --key-file "$tmp/key2" --domain bounce.example.com \
	--now 1767225600 "$good"
grep -q '"why":"bad signature"' "$tmp/out" || bad "wrong key: $(cat "$tmp/out")"
# Rotation: the new key signs, the old one (second) still verifies.
expect_rc 0 "$BOUNCER" verp decode --key-file "$tmp/key2" --key-file "$tmp/key" \
	--domain bounce.example.com --now 1767225600 "$good"
expect_rc 1 "$BOUNCER" verp decode "${common[@]}" john@bounce.example.com
grep -q '"why":"not a VERP address"' "$tmp/out" || bad "plain: $(cat "$tmp/out")"
# List names are case-insensitive everywhere (issue 18): News is the list news.
expect_rc 0 "$BOUNCER" verp encode "${common[@]}" --list News john@example.com
grep -q '^bounces+news=' "$tmp/out" || bad "--list News: $(cat "$tmp/out")"
expect_rc 65 "$BOUNCER" verp encode "${common[@]}" --list 'a=b' john@example.com
expect_rc 65 "$BOUNCER" verp encode "${common[@]}" --list news not-an-address
expect_rc 65 "$BOUNCER" verp encode "${common[@]}" --list news \
	a-very-long-local-part-that-goes-on@a-long-domain-name.example.com
grep -q 'max_local' "$tmp/err" || bad "too long: $(cat "$tmp/err")"
expect_rc 64 "$BOUNCER" verp encode "${common[@]}" john@example.com
expect_rc 64 "$BOUNCER" verp
expect_rc 64 "$BOUNCER" verp frobnicate x
expect_rc 64 "$BOUNCER" verp decode "${common[@]}"
expect_rc 64 "$BOUNCER" verp decode "${common[@]}" --bogus x
expect_rc 64 "$BOUNCER" verp decode "${common[@]}" --now soon x
expect_rc 0 "$BOUNCER" verp --help
printf 'short\n' >"$tmp/short"
expect_rc 78 "$BOUNCER" verp encode --key-file "$tmp/short" --domain b.example --list n a@b.example
expect_rc 78 "$BOUNCER" verp encode --key-file "$tmp/missing" --domain b.example --list n a@b.example
expect_rc 78 "$BOUNCER" verp encode --key-file "$tmp/key" --list n a@b.example # no domain
expect_rc 78 "$BOUNCER" verp encode "${common[@]}" --delimiters '=.' --list n a@b.example

# 4. Settings from a configuration file (-c), the key named in verp.keys.
cat >"$tmp/bouncer.yaml" <<EOF
imap: {host: 127.0.0.1, user: u, password_env: HOME}
redis: {host: 127.0.0.1}
verp:
  domain: bounce.example.com
  delimiters: "-="
  keys: [{id: new, file: $tmp/key2}, {id: old, file: $tmp/key}]
EOF
expect_rc 0 "$BOUNCER" verp encode -c "$tmp/bouncer.yaml" --list news --now 1767225600 a@example.com
grep -q '^bounces-news=a=example.com=' "$tmp/out" || bad "config encode: $(cat "$tmp/out")"
expect_rc 0 "$BOUNCER" verp decode -c "$tmp/bouncer.yaml" --now 1767225600 "${good/+/-}"
expect_rc 78 "$BOUNCER" verp decode -c "$tmp/missing.yaml" "$good"

# 5. End to end: `classify -c` finds the address in a DSN (Delivered-To upper-cased by an MTA)
#    and reports it in "verp"; a forged one is "bad signature".
addr=$("$BOUNCER" verp encode -c "$tmp/bouncer.yaml" --list news John.Smith@example.com)
dsn() { # dsn DELIVERED_TO RETURN_PATH
	printf 'Return-Path: <>\nDelivered-To: %s\nFrom: MAILER-DAEMON@mx.example.com\n' "$1"
	printf 'To: someone@example.com\nSubject: Undelivered Mail Returned to Sender\n'
	printf 'Message-ID: <x1@mx.example.com>\nMIME-Version: 1.0\n'
	printf 'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n'
	printf -- '--B\nContent-Type: text/plain\n\nUser unknown\n\n'
	printf -- '--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.com\n\n'
	printf 'Final-Recipient: rfc822; John.Smith@example.com\nAction: failed\nStatus: 5.1.1\n\n'
	printf -- '--B\nContent-Type: text/rfc822-headers\n\nReturn-Path: <%s>\n' "$2"
	printf 'From: news@example.org\nMessage-ID: <n1@example.org>\n\n--B--\n'
}
dsn "${addr^^}" "$addr" >"$tmp/good.eml"
dsn "bounces-news=eve=example.com=t7gaaaaaaaaaaaaa@bounce.example.com" x@y.example >"$tmp/forged.eml"
expect_rc 0 "$BOUNCER" classify -c "$tmp/bouncer.yaml" "$tmp/good.eml"
grep -q '"verp":{[^}]*"list":"news","recipient":"John.Smith@example.com","valid":true' "$tmp/out" ||
	bad "classify good: $(cat "$tmp/out")"
expect_rc 0 "$BOUNCER" classify -c "$tmp/bouncer.yaml" "$tmp/forged.eml"
grep -q '"verp":{[^}]*"valid":false,"why":"bad signature"' "$tmp/out" ||
	bad "classify forged: $(cat "$tmp/out")"

echo "test_verp.sh: $checks checks, $fail failed"
[ "$fail" = 0 ]

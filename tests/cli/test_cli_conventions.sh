#!/usr/bin/env bash
# test_cli_conventions.sh - what every subcommand promises (issue 18), without any server:
# the BOUNCER_* overrides reach every command's configuration, every subcommand answers --help
# with exit 0, the sysexits codes of bouncer(1), and the one address grammar: every row of
# tests/data/addresses.tsv that the grammar refuses is refused by every command with exit 65 and
# the same reason, and every key it makes comes back from a VERP round trip byte for byte
# (tests/integration/test_addr_table.sh checks the keys the Redis commands make).
set -uo pipefail
: "${BOUNCER:?}" "${BH_SOURCE_DIR:?}"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fail=1; }
# expect_rc WANT DESC CMD...
expect_rc() {
	local want=$1 desc=$2 got
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	if [ "$got" -eq "$want" ]; then ok "$desc (exit $got)"; else
		bad "$desc: exit $got, want $want"; head -5 "$tmp/out" "$tmp/err"; fi
}
expect_out() { if grep -Eq -- "$1" "$tmp/out"; then ok "$2"; else bad "$2: no /$1/ in:"; head -20 "$tmp/out"; fi; }
expect_err() { if grep -Eq -- "$1" "$tmp/err"; then ok "$2"; else bad "$2: no /$1/ in:"; head -20 "$tmp/err"; fi; }

cat >"$tmp/bouncer.yaml" <<YAML
imap:
  host: 127.0.0.1
  user: bounces
  password_env: BH_TEST_IMAP_PASSWORD
verp:
  domain: bounce.example.org
  keys:
    - {id: k1, env: BH_TEST_VERP_KEY}
redis:
  host: 127.0.0.1
  port: 1
  prefix: file
YAML
export BH_TEST_IMAP_PASSWORD=x BH_TEST_VERP_KEY=0123456789abcdef0123456789abcdef
unset BOUNCER_REDIS_HOST BOUNCER_REDIS_PORT BOUNCER_REDIS_PREFIX BOUNCER_CONFIG

# --- overrides: one function for every command; config check shows what the others run with
BOUNCER_REDIS_PREFIX=ovr BOUNCER_REDIS_PORT=7777 BOUNCER_REDIS_HOST=redis.internal \
	expect_rc 0 "config check with overrides" "$BOUNCER" config check -c "$tmp/bouncer.yaml"
expect_out '^  prefix: "?ovr"?$' "BOUNCER_REDIS_PREFIX is applied"
expect_out '^  port: 7777$' "BOUNCER_REDIS_PORT is applied"
expect_out '^  host: "?redis.internal"?$' "BOUNCER_REDIS_HOST is applied"
BOUNCER_REDIS_PREFIX='a{b}' expect_rc 78 "a bad prefix override is a config error" \
	"$BOUNCER" config check -c "$tmp/bouncer.yaml"
expect_err 'BOUNCER_REDIS_PREFIX' "the error names the variable"
BOUNCER_REDIS_PORT=99999 expect_rc 78 "a bad port override: health refuses to start" \
	"$BOUNCER" health -c "$tmp/bouncer.yaml"
expect_err 'BOUNCER_REDIS_PORT' "health names the variable"
BOUNCER_REDIS_PORT=99999 expect_rc 78 "a bad port override: once refuses to start" \
	"$BOUNCER" once -c "$tmp/bouncer.yaml"
BOUNCER_REDIS_PORT=99999 expect_rc 78 "a bad port override: run refuses to start" \
	"$BOUNCER" run -c "$tmp/bouncer.yaml"
BOUNCER_REDIS_PORT=99999 expect_rc 78 "a bad port override: stats refuses to start" \
	"$BOUNCER" stats -c "$tmp/bouncer.yaml"

# --- --help everywhere: the synopsis on stdout, exit 0
for c in "classify" "config" "config check" "verp" "verp encode" "verp decode" "run" "once" \
	"health" "suppression" "suppression check" "suppression add" "suppression list" "suppression import" \
	"explain" "events" "events tail" "stats" "rules" "reasons"; do
	# shellcheck disable=SC2086
	expect_rc 0 "$c --help" "$BOUNCER" $c --help
	[ -s "$tmp/out" ] || bad "$c --help prints nothing on stdout"
done
expect_rc 64 "an unknown option is a usage error" "$BOUNCER" stats --bogus
expect_rc 0 "health --help names --json" "$BOUNCER" health --help
expect_out -- '--json' "health takes --json"

# --- --json everywhere: every subcommand takes it; without a server, stdout is JSON
isjson() { python3 -c 'import json,sys
for l in open(sys.argv[1]):
    json.loads(l)' "$1" 2>/dev/null && [ -s "$1" ]; }
for c in "classify $BH_SOURCE_DIR/tests/fixtures/dsn-basic.eml" "config check -c $tmp/bouncer.yaml" \
	"config reference" "verp encode -c $tmp/bouncer.yaml --list news joe@example.com" \
	"verp decode -c $tmp/bouncer.yaml bounces+news=joe=example.com=aaaaaaaaaaaaaaaa@bounce.example.org" \
	"reasons" "rules dump" "rules match 550_user_unknown"; do
	# shellcheck disable=SC2086
	"$BOUNCER" $c --json >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -ne 64 ] && isjson "$tmp/out"; then ok "$c --json: JSON (exit $rc)"; else
		bad "$c --json: exit $rc, not JSON: $(head -c 200 "$tmp/out") $(head -c 200 "$tmp/err")"; fi
done
# the commands that need Redis (port 1 here): --json is accepted, the failure is 69, not 64
printf 'address\njoe@example.com\n' >"$tmp/one.csv"
for c in "health" "suppression check joe@example.com" "suppression show joe@example.com" \
	"suppression list" "suppression add joe@example.com --why t" \
	"suppression remove joe@example.com --why t" "suppression export --format csv" \
	"suppression import --format csv $tmp/one.csv" "explain joe@example.com" "events tail" "stats"; do
	# shellcheck disable=SC2086
	expect_rc 69 "$c --json (no Redis)" "$BOUNCER" $c -c "$tmp/bouncer.yaml" --json
done
isjson "$tmp/out" || true
"$BOUNCER" health -c "$tmp/bouncer.yaml" --json >"$tmp/out" 2>/dev/null
isjson "$tmp/out" && ok "health --json prints JSON when it fails" || bad "health --json: $(cat "$tmp/out")"
# run/once --json: the log is JSON lines whatever log_format says
cp "$tmp/bouncer.yaml" "$tmp/logfmt.yaml"
printf 'log_format: logfmt\n' >>"$tmp/logfmt.yaml"
for c in once run; do
	timeout 2 "$BOUNCER" $c -c "$tmp/logfmt.yaml" --json >/dev/null 2>"$tmp/err"
	head -1 "$tmp/err" >"$tmp/first"
	isjson "$tmp/first" && ok "$c --json logs JSON over log_format: logfmt" ||
		bad "$c --json: $(head -c 200 "$tmp/err")"
done
# config check --json on a bad file: ok false, the problems with line numbers, exit 78
cp "$tmp/bouncer.yaml" "$tmp/bad.yaml"
printf 'defaults:\n  spam: suppress\n' >>"$tmp/bad.yaml"
expect_rc 78 "config check --json on a bad file" "$BOUNCER" config check -c "$tmp/bad.yaml" --json
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["ok"] is False and j["effective"] is None; assert any("spamdetected" in p["message"] and p["line"] > 0 for p in j["problems"])' \
	"$tmp/out" && ok "config check --json lists the problems" || bad "config check --json: $(head -c 300 "$tmp/out")"
# verp encode --json: the address, the list and recipient in key form
expect_rc 0 "verp encode --json" "$BOUNCER" verp encode --format classic --domain bounce.example.org \
	--list News --json -- '<Joe@Example.COM>'
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j == {"address": "bounces+news=Joe=example.com@bounce.example.org", "list": "news", "recipient": "Joe@example.com", "format": "classic"}, j' \
	"$tmp/out" && ok "verp encode --json fields" || bad "verp encode --json: $(cat "$tmp/out")"

# --- reasons: every word a policy may name, with its group, hard and whose
expect_rc 0 "reasons" "$BOUNCER" reasons
expect_out '^notaccept +hard +yes +recipient$' "reasons lists notaccept"
expect_out '^systemfull +soft +no +either$' "reasons lists systemfull"
expect_out '^toomanyconn +sender +no +sender$' "reasons lists toomanyconn"
expect_rc 0 "reasons --json" "$BOUNCER" reasons --json
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert len(j["reasons"]) >= 37 and "hard" in j["groups"]' \
	"$tmp/out" && ok "reasons --json is JSON with every reason" || bad "reasons --json: $(head -c 300 "$tmp/out")"

# the config checker suggests the nearest reason for an unknown one
cp "$tmp/bouncer.yaml" "$tmp/spam.yaml"
printf 'defaults:\n  spam: suppress\n' >>"$tmp/spam.yaml"
expect_rc 78 "spam: suppress is refused" "$BOUNCER" config check -c "$tmp/spam.yaml"
expect_err 'defaults.spam: unknown key; did you mean "spamdetected"\?' "spam suggests spamdetected"

# --- verp encode: classic needs no configuration; --list is case-insensitive as elsewhere
expect_rc 0 "classic encode without a configuration" env BOUNCER_CONFIG= "$BOUNCER" verp encode \
	--format classic --domain bounce.example.org --list news joe@example.com
expect_out '^bounces\+news=joe=example.com@bounce.example.org$' "classic address"
expect_rc 0 "verp encode --list News" "$BOUNCER" verp encode --format classic \
	--domain bounce.example.org --list News joe@example.com
expect_out '^bounces\+news=joe=example.com@bounce.example.org$' "the list is lower-cased"

# --- the address table through the commands that need no server
printf '0123456789abcdef0123456789abcdef' >"$tmp/key"
rows=0
# the table decoded: INPUT NUL WANT NUL per row (rows holding a NUL left out: no NUL in argv)
python3 - "$BH_SOURCE_DIR/tests/data/addresses.tsv" >"$tmp/table" <<'PY'
import re, sys
for line in open(sys.argv[1], encoding="utf-8"):
    line = line.rstrip("\n")
    if not line or line.startswith("#"):
        continue
    inp, want = line.split("\t", 1)
    raw = re.sub(rb"\\(t|n|r|x[0-9a-fA-F]{2})",
                 lambda m: {b"t": b"\t", b"n": b"\n", b"r": b"\r"}.get(m.group(1)) or bytes([int(m.group(1)[1:], 16)]),
                 inp.encode("utf-8"))
    if b"\0" in raw:
        continue
    sys.stdout.buffer.write(raw + b"\0" + want.encode("utf-8") + b"\0")
PY
while IFS= read -r -d '' addr && IFS= read -r -d '' want; do
	input=$addr
	rows=$((rows + 1))
	if [ "${want#refused: }" != "$want" ]; then
		reason=${want#refused: }
		for cmd in "suppression check" "suppression add --why t" "suppression remove --why t" \
			"suppression show" "explain"; do
			# shellcheck disable=SC2086
			"$BOUNCER" $cmd -c "$tmp/bouncer.yaml" -- "$addr" >"$tmp/out" 2>"$tmp/err"
			rc=$?
			if [ "$rc" -ne 65 ] || ! grep -qF -- ": $reason" "$tmp/err"; then
				bad "$cmd '$input': exit $rc, want 65 and '$reason'"; cat "$tmp/err"
			fi
		done
		"$BOUNCER" verp encode --key-file "$tmp/key" --domain b.example.org --list news \
			-- "$addr" >"$tmp/out" 2>"$tmp/err"
		rc=$?
		if [ "$rc" -ne 65 ] || ! grep -qF -- ": $reason" "$tmp/err"; then
			bad "verp encode '$input': exit $rc, want 65 and '$reason'"; cat "$tmp/err"
		fi
	else
		v=$("$BOUNCER" verp encode --key-file "$tmp/key" --domain b.example.org --max-local 255 \
			--list news -- "$addr" 2>"$tmp/err")
		rc=$?
		case $want in
		*@\[*)
			[ "$rc" -eq 65 ] && grep -q 'address literal' "$tmp/err" ||
				bad "verp encode '$input': exit $rc, want the literal refused"
			continue ;;
		esac
		[ "$rc" -eq 0 ] || { bad "verp encode '$input': exit $rc"; cat "$tmp/err"; continue; }
		got=$("$BOUNCER" verp decode --key-file "$tmp/key" --domain b.example.org -- "$v" |
			python3 -c 'import json,sys; print(json.load(sys.stdin)["recipient"])')
		[ "$got" = "$want" ] || bad "verp round trip '$input': got '$got', want '$want'"
	fi
done <"$tmp/table"
[ "$rows" -ge 60 ] && ok "$rows table rows through the CLI" || bad "only $rows table rows"

exit $fail

#!/usr/bin/env bash
# test_cli_conventions.sh - what every subcommand promises (issue 18), without any server:
# the BOUNCER_* overrides reach every command's configuration, every subcommand answers --help
# with exit 0, and the sysexits codes of bouncer(1).
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

exit $fail

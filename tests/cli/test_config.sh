#!/usr/bin/env bash
# test_config.sh - `bouncer config check`: exit 0 and the effective configuration for good
# files (both shipped examples included), exit 78 and FILE:LINE:COLUMN problems for bad ones.
set -euo pipefail
: "${BOUNCER:?}" "${BH_SOURCE_DIR:?}"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
check() { # check NAME COND...
	local name=$1
	shift
	if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fail=1; fi
}

# --- the shipped examples, with the secrets they name
cp "$BH_SOURCE_DIR"/config/small.yaml "$BH_SOURCE_DIR"/config/esp.yaml "$tmp"/
mkdir -p "$tmp/secrets"
printf 'imap-password\n' >"$tmp/secrets/imap.password"
printf -- '-----BEGIN CERTIFICATE-----\n' >"$tmp/secrets/ca.pem"
printf 'verp-key-2026-0123456789abcdef\n' >"$tmp/secrets/verp-2026.key"
export BOUNCER_IMAP_PASSWORD=imap-env-secret BOUNCER_VERP_KEY=verp-env-key-0123456789
export BOUNCER_REDIS_PASSWORD=redis-env-secret BOUNCER_VERP_KEY_2025=verp-2025-key-0123456789

for f in small esp; do
	rc=0
	"$BOUNCER" config check -c "$tmp/$f.yaml" >"$tmp/$f.out" 2>"$tmp/$f.err" || rc=$?
	check "$f.yaml passes" test "$rc" -eq 0
	[ "$rc" -eq 0 ] || cat "$tmp/$f.err"
	check "$f.yaml prints the effective configuration" grep -q '^  password: "\*\*\*"$' "$tmp/$f.out"
	check "$f.yaml prints no secret" \
		bash -c "! grep -Eq 'imap-password|imap-env-secret|redis-env-secret|verp-key-2026|verp-env-key|verp-2025-key' '$tmp/$f.out'"
done
check "defaults are applied" grep -q '^  timeout: 1m$' "$tmp/small.out"
check "list differences are printed" grep -q '^  announce:$' "$tmp/small.out"

# the printed configuration is YAML that loads again (secrets aside)
if command -v python3 >/dev/null && python3 -c 'import yaml' 2>/dev/null; then
	check "output is YAML" python3 -c 'import sys,yaml; yaml.safe_load(open(sys.argv[1]))' "$tmp/esp.out"
fi

# the printed configuration, secrets' lines dropped, passes again and prints the same
for f in small esp; do
	grep -Ev '^ *(sentinel_)?password: ' "$tmp/$f.out" | sed 's/, key: "\*\*\*"//' >"$tmp/$f.again.yaml"
	rc=0
	"$BOUNCER" config check -c "$tmp/$f.again.yaml" >"$tmp/$f.again.out" 2>&1 || rc=$?
	check "$f.yaml: the printed configuration loads again" test "$rc" -eq 0
	check "$f.yaml: and prints the same" diff <(tail -n +2 "$tmp/$f.out") <(tail -n +2 "$tmp/$f.again.out")
done

# --- -c, $BOUNCER_CONFIG and the default path
rc=0
BOUNCER_CONFIG="$tmp/small.yaml" "$BOUNCER" config check >/dev/null 2>&1 || rc=$?
check "BOUNCER_CONFIG is used" test "$rc" -eq 0
rc=0
BOUNCER_CONFIG="$tmp/none.yaml" "$BOUNCER" config check 2>"$tmp/none.err" >/dev/null || rc=$?
check "missing file exits 78" test "$rc" -eq 78
check "missing file message" grep -q "^$tmp/none.yaml: cannot read: No such file or directory$" "$tmp/none.err"

# --- a file with many problems: all reported, each FILE:LINE:COLUMN: path: message
cat >"$tmp/bad.yaml" <<'YAML'
imap:
  hots: mail.example.com
  host: mail.example.com
  tls: none
  user: u
  password_file: secrets/nope
verp:
  domain: b.example.com
  keys: [{id: k1, env: BH_CLI_UNSET_VAR}]
lists:
  news:
    soft:
      threshold: three
YAML
rc=0
"$BOUNCER" config check -c "$tmp/bad.yaml" >"$tmp/bad.out" 2>"$tmp/bad.err" || rc=$?
check "bad file exits 78" test "$rc" -eq 78
check "nothing on stdout for a bad file" test ! -s "$tmp/bad.out"
cat >"$tmp/bad.want" <<EOF2
$tmp/bad.yaml:2:3: imap.hots: unknown key; did you mean "host"?
$tmp/bad.yaml:4:8: imap.tls: none (no TLS) is allowed only to a loopback host, not "mail.example.com"
$tmp/bad.yaml:6:18: imap.password_file: cannot read "$tmp/secrets/nope": No such file or directory
$tmp/bad.yaml:9:24: verp.keys[0].env: environment variable BH_CLI_UNSET_VAR is not set
$tmp/bad.yaml:13:18: lists.news.soft.threshold: expected a positive integer, got "three"
$tmp/bad.yaml: 5 problems found
EOF2
check "every problem, in order, exactly" diff -u "$tmp/bad.want" "$tmp/bad.err"

# --- a YAML syntax error carries libyaml's position
printf 'imap:\n  host: [a\n' >"$tmp/syntax.yaml"
rc=0
"$BOUNCER" config check -c "$tmp/syntax.yaml" 2>"$tmp/syntax.err" >/dev/null || rc=$?
check "syntax error exits 78" test "$rc" -eq 78
check "syntax error position" grep -q "^$tmp/syntax.yaml:3:1: YAML syntax error: " "$tmp/syntax.err"

# --- usage
rc=0
"$BOUNCER" config frobnicate >/dev/null 2>&1 || rc=$?
check "unknown subcommand exits 64" test "$rc" -eq 64
rc=0
"$BOUNCER" config check -x >/dev/null 2>&1 || rc=$?
check "unknown option exits 64" test "$rc" -eq 64

# --- docs/configuration.md documents every key the loader knows
"$BOUNCER" config reference >"$tmp/ref.md"
missing=0
while IFS= read -r key; do
	grep -qF -- "| \`$key\` |" "$BH_SOURCE_DIR/docs/configuration.md" || { echo "docs/configuration.md lacks $key"; missing=1; }
done < <(sed -n 's/^| `\([^`]*\)` |.*/\1/p' "$tmp/ref.md")
check "docs/configuration.md documents every key" test "$missing" -eq 0

exit $fail

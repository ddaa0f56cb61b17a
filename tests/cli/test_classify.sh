#!/usr/bin/env bash
# test_classify.sh - `bouncer classify` as a command: files, directories, Maildir, stdin, mbox,
# unreadable files and usage errors.
set -u
fx="$BH_SOURCE_DIR/tests/fixtures"
tmp=$(mktemp -d)
trap 'chmod -R u+rwx "$tmp"; rm -rf "$tmp"' EXIT
fail=0
check() { # name, condition result
	if [ "$2" != 0 ]; then echo "FAIL: $1"; fail=1; else echo "ok: $1"; fi
}
count() { grep -c '^{' "$1"; }

"$BOUNCER" classify "$fx/qmail.eml" >"$tmp/one" 2>"$tmp/err"; rc=$?
check "one file exits 0" "$rc"
check "one file gives one object" "$([ "$(count "$tmp/one")" = 1 ]; echo $?)"
check "source is the path" "$(grep -q "\"source\":\"$fx/qmail.eml\"" "$tmp/one"; echo $?)"
check "object is valid JSON" "$(python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$tmp/one"; echo $?)"

mkdir -p "$tmp/md/cur" "$tmp/md/new" "$tmp/md/tmp"
cp "$fx/qmail.eml" "$tmp/md/cur/1:2,S"; cp "$fx/exim.eml" "$tmp/md/new/2"; cp "$fx/arf.eml" "$tmp/md/tmp/3"
"$BOUNCER" classify "$tmp/md" >"$tmp/md.out"; rc=$?
check "maildir exits 0" "$rc"
check "maildir reads cur and new only" "$([ "$(count "$tmp/md.out")" = 2 ]; echo $?)"

mkdir "$tmp/dir"; cp "$fx/qmail.eml" "$fx/exim.eml" "$fx/autoreply.eml" "$tmp/dir/"
"$BOUNCER" classify "$tmp/dir" >"$tmp/dir.out"; rc=$?
check "directory: one object per file" "$([ "$rc" = 0 ] && [ "$(count "$tmp/dir.out")" = 3 ]; echo $?)"

"$BOUNCER" classify - <"$fx/exim.eml" >"$tmp/stdin.out"; rc=$?
check "stdin" "$([ "$rc" = 0 ] && grep -q '"source":"-"' "$tmp/stdin.out" && grep -q 'erin@example.co.uk' "$tmp/stdin.out"; echo $?)"

"$BOUNCER" classify "$fx/mbox-two.mbox" >"$tmp/mbox.out"; rc=$?
check "mbox is split (auto)" "$([ "$rc" = 0 ] && grep -q 'mbox#1' "$tmp/mbox.out" && grep -q 'mbox#2' "$tmp/mbox.out"; echo $?)"
"$BOUNCER" classify --mbox "$fx/qmail.eml" >"$tmp/mbox1.out"; rc=$?
check "--mbox on a single message gives #1" "$([ "$rc" = 0 ] && [ "$(count "$tmp/mbox1.out")" = 1 ] && grep -q 'qmail.eml#1' "$tmp/mbox1.out"; echo $?)"

echo x >"$tmp/unreadable"; chmod 000 "$tmp/unreadable"
if [ -r "$tmp/unreadable" ]; then rm -f "$tmp/unreadable"; fi   # running as root
"$BOUNCER" classify "$tmp/missing" "$fx/qmail.eml" >"$tmp/miss.out" 2>"$tmp/miss.err"; rc=$?
check "missing file: exit 1 at the end" "$([ "$rc" = 1 ] && [ "$(count "$tmp/miss.out")" = 1 ]; echo $?)"
check "missing file: one stderr line naming it" "$([ "$(grep -c "$tmp/missing" "$tmp/miss.err")" = 1 ]; echo $?)"

cat >"$tmp/c.yaml" <<'YAML'
imap:
  host: imap.example.org
  user: bounces@example.org
  password_env: BH_TEST_IMAP_PASSWORD
redis:
  host: 127.0.0.1
verp:
  domain: bounce.example.org
  keys:
    - {id: k1, env: BH_TEST_VERP_KEY}
rules:
  - id: test-no-such-user
    pattern: "(?i)no such user"
    reason: suspend
YAML
BH_TEST_IMAP_PASSWORD=x BH_TEST_VERP_KEY=0123456789abcdef0123456789abcdef0123456789abcdef \
	"$BOUNCER" classify -c "$tmp/c.yaml" "$fx/qmail.eml" >"$tmp/cfg.out" 2>"$tmp/cfg.err"; rc=$?
check "-c FILE: its rules come first" "$([ "$rc" = 0 ] && grep -q '"rule":"config:test-no-such-user"' "$tmp/cfg.out" && grep -q '"reason":"suspend"' "$tmp/cfg.out"; echo $?)"
"$BOUNCER" classify -c "$tmp/missing.yaml" "$fx/qmail.eml" >/dev/null 2>&1; rc=$?
check "-c FILE that does not load: exit 78" "$([ "$rc" = 78 ]; echo $?)"

"$BOUNCER" classify >/dev/null 2>&1; rc=$?
check "no path: usage error 64" "$([ "$rc" = 64 ]; echo $?)"
"$BOUNCER" classify --bogus x >/dev/null 2>&1; rc=$?
check "bad option: usage error 64" "$([ "$rc" = 64 ]; echo $?)"
exit $fail

#!/usr/bin/env bash
# test_sender_snippets.sh - the sender snippets of docs/sender.md agree with bouncer (issue 18).
# The Python and the PHP block are taken out of the document as written (so it cannot drift) and
# fed every row of tests/data/addresses.tsv: the normalizer must give the table's key byte for
# byte, and the key `bouncer verp encode --json` reports, or refuse where bouncer refuses, with
# bouncer's reason; the signed VERP encoder must give what `bouncer verp encode` gives, and
# refuse what it refuses (address literals among them). The list is lower-cased as `--list`
# does. Also: the example configurations show keys as "{bouncer}:", not "bouncer:".
# PHP is skipped (exit 77 at the end) only when php itself is missing.
set -uo pipefail
: "${BOUNCER:?}" "${BH_SOURCE_DIR:?}"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0 skipped=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fail=1; }
doc=$BH_SOURCE_DIR/docs/sender.md

# block LANG - the first ```LANG block after the heading "## Python" / "## PHP" of docs/sender.md
block() {
	awk -v h="## $1" -v f="\`\`\`$2" '$0 == h {on = 1; next} on && $0 == f {p = 1; next}
		p && /^```/ {exit} p' "$doc"
}
block Python python >"$tmp/sender.py"
block PHP php >"$tmp/sender.php"
[ -s "$tmp/sender.py" ] && ok "docs/sender.md has a Python block" || bad "no Python block in docs/sender.md"
[ -s "$tmp/sender.php" ] && ok "docs/sender.md has a PHP block" || bad "no PHP block in docs/sender.md"

printf 'bouncer-test-key-0123456789abcdef' >"$tmp/key"
now=1767225600
# The table as hex, one row per line: INPUT-HEX TAB WANT TAB nul|- (escapes decoded as every
# reader of the table does; a NUL cannot go through argv).
python3 - "$BH_SOURCE_DIR/tests/data/addresses.tsv" >"$tmp/rows" <<'PY'
import re, sys
for line in open(sys.argv[1], encoding="utf-8"):
    line = line.rstrip("\n")
    if not line or line.startswith("#"):
        continue
    inp, want = line.split("\t", 1)
    raw = re.sub(rb"\\(t|n|r|x[0-9a-fA-F]{2})",
                 lambda m: {b"t": b"\t", b"n": b"\n", b"r": b"\r"}.get(m.group(1)) or bytes([int(m.group(1)[1:], 16)]),
                 inp.encode("utf-8"))
    print(raw.hex() + "\t" + want + "\t" + ("nul" if b"\0" in raw else "-"))
PY

# bouncer's own answers: verp encode --json (key and VERP address) for every row argv can carry
while IFS=$'\t' read -r hex _ nul; do
	if [ "$nul" = nul ]; then
		printf '%s\t!nul\n' "$hex"
		continue
	fi
	addr=$(printf '%b' "$(printf %s "$hex" | sed 's/../\\x&/g')"; printf x)
	addr=${addr%x}
	out=$("$BOUNCER" verp encode --key-file "$tmp/key" --domain bounce.example.com --max-local 255 \
		--now "$now" --list News --json -- "$addr" 2>"$tmp/err")
	rc=$?
	if [ $rc -eq 0 ]; then printf '%s\t%s\n' "$hex" "$out"; else printf '%s\t!%s\t%s\n' "$hex" "$rc" "$(head -1 "$tmp/err")"; fi
done <"$tmp/rows" >"$tmp/bouncer"

# compare LANG RESULTS - RESULTS: one line per row, "key TAB verp" or "!reason TAB !verp-reason"
compare() {
	python3 - "$1" "$tmp/rows" "$tmp/bouncer" "$2" <<'PY'
import json, sys
lang, rows, bouncer, results = sys.argv[1:]
rows = [l.rstrip("\n").split("\t")[:2] for l in open(rows, encoding="utf-8")]
bo = [l.rstrip("\n").split("\t") for l in open(bouncer, encoding="utf-8", errors="surrogateescape")]
res = [l.rstrip("\n").split("\t") for l in open(results, encoding="utf-8", errors="surrogateescape")]
bad = 0
def fail(msg):
    global bad
    bad += 1
    print(f"FAIL {lang}: {msg}")
if len(res) != len(rows):
    fail(f"{len(res)} results for {len(rows)} rows")
for (hexin, want), b, r in zip(rows, bo, res):
    shown = bytes.fromhex(hexin)
    key, verp = r[0], r[1]
    if want.startswith("refused: "):
        if key != "!" + want[len("refused: "):]:
            fail(f"normalize({shown!r}) = {key!r}, want refused: {want[9:]!r}")
    elif key != want:
        fail(f"normalize({shown!r}) = {key!r}, want {want!r}")
    if b[1] == "!nul":
        if not verp.startswith("!"):
            fail(f"verp({shown!r}) = {verp!r}, bouncer refuses a NUL")
        continue
    if b[1].startswith("!"):
        if b[1] != "!65":
            fail(f"bouncer verp encode {shown!r}: exit {b[1][1:]}: {b[2:]}")
        if not verp.startswith("!"):
            fail(f"verp({shown!r}) = {verp!r}, bouncer refuses: {b[2:]}")
        continue
    j = json.loads(b[1])
    if key != j["recipient"]:
        fail(f"normalize({shown!r}) = {key!r}, bouncer verp encode says {j['recipient']!r}")
    if verp != j["address"]:
        fail(f"verp({shown!r}) = {verp!r}, bouncer verp encode says {j['address']!r}")
    if j["list"] != "news":
        fail(f"bouncer verp encode --list News: list {j['list']!r}")
n_ref = sum(1 for _, w in rows if w.startswith("refused: "))
if not bad:
    print(f"ok   {lang}: {len(rows)} rows ({n_ref} refused) agree with bouncer byte for byte")
sys.exit(1 if bad else 0)
PY
}

# --- Python
if python3 -c 'import idna' 2>/dev/null; then
	python3 - "$tmp/sender.py" "$tmp/rows" "$now" >"$tmp/py.out" <<'PY'
import sys
env = {}
exec(compile(open(sys.argv[1]).read(), "docs/sender.md python", "exec"), env)
key, now = b"bouncer-test-key-0123456789abcdef", int(sys.argv[3])
out = sys.stdout.buffer
assert env["list_key"]("News") == "news"
for line in open(sys.argv[2]):
    raw = bytes.fromhex(line.split("\t", 1)[0])
    try:
        k = env["normalize"](raw)
    except env["AddressError"] as e:
        k = "!" + str(e)
    try:
        v = env["verp_encode"]("News", raw, key, "bounce.example.com", now=now, max_local=255)
    except env["AddressError"] as e:
        v = "!" + str(e)
    out.write(k.encode("utf-8", "surrogateescape") + b"\t" + v.encode("utf-8", "surrogateescape") + b"\n")
PY
	rc=$?
	[ $rc -eq 0 ] || bad "the Python block failed (exit $rc)"
	compare python "$tmp/py.out" || fail=1
else
	bad "python3-idna missing (scripts/install-deps.sh installs it)"
fi

# --- PHP
if command -v php >/dev/null 2>&1; then
	{
		sed '1{/^<?php/d}' "$tmp/sender.php" | sed '1i <?php'
		cat <<'PHP'
$key = 'bouncer-test-key-0123456789abcdef';
$now = (int)$argv[2];
if (bouncer_list('News') !== 'news') { fwrite(STDERR, "bouncer_list\n"); exit(1); }
foreach (file($argv[1]) as $line) {
    $raw = hex2bin(explode("\t", $line, 2)[0]);
    try { $k = bouncer_normalize($raw); } catch (BouncerAddressError $e) { $k = '!' . $e->getMessage(); }
    try { $v = bouncer_verp('News', $raw, $key, 'bounce.example.com', $now, 'bounces', '+=', 8, 255); }
    catch (BouncerAddressError $e) { $v = '!' . $e->getMessage(); }
    echo $k, "\t", $v, "\n";
}
PHP
	} >"$tmp/run.php"
	php "$tmp/run.php" "$tmp/rows" "$now" >"$tmp/php.out" 2>"$tmp/php.err"
	rc=$?
	[ $rc -eq 0 ] || bad "the PHP block failed (exit $rc): $(head -5 "$tmp/php.err")"
	compare php "$tmp/php.out" || fail=1
else
	echo "skip PHP: php is not installed (scripts/install-deps.sh installs php-cli)"
	skipped=1
fi

# --- the list, as suppression add --list does it: News is news (the CLI half is in
# tests/cli/test_cli_conventions.sh and tests/integration/test_addr_table.sh)
"$BOUNCER" verp encode --format classic --domain bounce.example.com --list News --json \
	joe@example.com >"$tmp/out" 2>&1
grep -q '"list":"news"' "$tmp/out" && ok "verp encode --list News is news, without a configuration" ||
	bad "verp encode --format classic --list News: $(cat "$tmp/out")"

# --- the example configurations and compose file show keys with the hash tag
for f in "$BH_SOURCE_DIR"/config/*.yaml "$BH_SOURCE_DIR"/deploy/*.yaml "$BH_SOURCE_DIR"/deploy/compose/*.yaml; do
	if grep -nE '(^|[^{])bouncer:(sup|soft|ev|events|stats|applied|lease|held|\*)' "$f"; then
		bad "$f shows a key as bouncer:..., not {bouncer}:..."
	fi
done
grep -q '{bouncer}:' "$BH_SOURCE_DIR/config/small.yaml" && grep -q '{bouncer}:' "$BH_SOURCE_DIR/deploy/compose.yaml" &&
	ok "config/small.yaml and deploy/compose.yaml show {bouncer}: keys" ||
	bad "config/small.yaml or deploy/compose.yaml does not show a {bouncer}: key"

[ $fail -eq 0 ] || exit 1
[ $skipped -eq 0 ] || exit 77
exit 0

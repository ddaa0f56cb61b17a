#!/usr/bin/env bash
# test_loops - `bouncer classify` on the loop / auto-reply fixtures: each must come out with the
# expected type and loop kind (docs/loops.md). Runs without a config, so
# backscatter must NOT fire (no VERP configured); the near misses must stay what they are.
set -u
: "${BOUNCER:?}" "${BH_SOURCE_DIR:?}"
dir="$BH_SOURCE_DIR/tests/fixtures/loops"
command -v python3 >/dev/null || { echo "skip: no python3"; exit 77; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT

if ! "$BOUNCER" classify "$dir"/*.eml >"$out" 2>/dev/null || ! [ -s "$out" ]; then
	echo "skip: bouncer classify is not available"
	exit 77
fi

python3 - "$out" <<'PY'
import json, os, sys

# file: (type, loop kind or None, reason of the first recipient or None)
want = {
    "autoreply-rfc3834-en.eml":          ("autoreply", None, "vacation"),
    "autoreply-exchange-de.eml":         ("autoreply", None, "vacation"),
    "autoreply-fr-body.eml":             ("autoreply", None, "vacation"),
    "autoreply-ja.eml":                  ("autoreply", None, "vacation"),
    "autoreply-ja-body.eml":             ("autoreply", None, "vacation"),
    "autoreply-ja-iso2022.eml":          ("autoreply", None, "vacation"),
    "autoreply-ticket.eml":              ("autoreply", None, "vacation"),
    "human-reply-quotes-oof.eml":        ("not_bounce", None, None),
    "human-reply-quotes-oof-outlook.eml": ("not_bounce", None, None),
    "bounce-newsletter-bulk.eml":        ("dsn", None, "userunknown"),
    "bounce-mentions-vacation.eml":      ("dsn", None, "mailboxfull"),
    "backscatter.eml":                   ("dsn", None, None),  # no VERP configured: not flagged
    "bounce-of-autoreply.eml":           ("dsn", "autoreply_bounce", None),
    "bounce-null-sender.eml":            ("dsn", "autoreply_bounce", None),
    "bounce-of-bounce.eml":              ("dsn", "bounce_of_bounce", None),
    "bounce-hops.eml":                   ("dsn", "hops", None),
    # a mail system's double bounce to its own postmaster ends the chain: a real failure
    "postmaster-notify.eml":             ("dsn", None, "userunknown"),
    # an auto-reply's failure sent back to its own author: the normal route, not a loop
    "autoreply-bounce-to-author.eml":    ("dsn", None, None),
    # an auto-reply's failure that came to our bounce address: the loop
    "autoreply-bounce-to-us.eml":        ("dsn", "autoreply_bounce", None),
}
got = {}
for line in open(sys.argv[1]):
    try:
        o = json.loads(line)
    except ValueError:
        continue
    got[os.path.basename(o.get("source", ""))] = o

# The loop check must be wired into classify: the hops fixture is flagged whatever the config.
hops = got.get("bounce-hops.eml", {}).get("loop", {})
if not hops.get("detected"):
    print("skip: classify does not run the loop check yet")
    sys.exit(77)

bad = 0
for name, (typ, kind, reason) in sorted(want.items()):
    o = got.get(name)
    if o is None:
        print("%s: no output" % name)
        bad += 1
        continue
    loop = o.get("loop", {})
    gkind = loop.get("kind") if loop.get("detected") else None
    rc = o.get("recipients") or []
    greason = rc[0].get("reason") if rc else None
    msgs = []
    if o.get("type") != typ:
        msgs.append("type got %s, want %s" % (o.get("type"), typ))
    if gkind != kind:
        msgs.append("loop got %s (%s), want %s" % (gkind, loop.get("why"), kind))
    if kind is not None and not loop.get("why"):
        msgs.append("loop has no why")
    if reason is not None and greason != reason:
        msgs.append("reason got %s, want %s" % (greason, reason))
    if typ == "autoreply" and any(r.get("hard") for r in rc):
        msgs.append("an auto-reply must never be hard")
    for m in msgs:
        print("%s: %s" % (name, m))
    bad += len(msgs)
print("test_loops: %d fixtures, %d problems" % (len(want), bad))
sys.exit(1 if bad else 0)
PY
[ $? = 0 ] || exit 1

# Part 2: with a configuration (a VERP key, our_domains). The fixtures' placeholder VERP
# address is replaced by a real signed one for alice@sub.example on list news.
tmp=$(mktemp -d)
trap 'rm -f "$out"; rm -rf "$tmp"' EXIT
printf 'loops-test-key-0123456789abcdef\n' >"$tmp/key"
cat >"$tmp/bouncer.yaml" <<YAML
imap: {host: 127.0.0.1, user: u, password_env: HOME}
redis: {host: 127.0.0.1}
verp:
  domain: ours.example
  keys: [{id: k1, file: $tmp/key}]
our_domains: [ours.example]
YAML
verp=$("$BOUNCER" verp encode -c "$tmp/bouncer.yaml" --list news alice@sub.example) || {
	echo "test_loops: verp encode failed"
	exit 1
}
ph='bounce+news+alice=sub.example@ours.example'
for f in bounce-newsletter-bulk bounce-of-autoreply backscatter autoreply-bounce-to-us; do
	sed "s/$ph/$verp/g" "$dir/$f.eml" >"$tmp/$f.eml"
done
# No valid VERP in these: backscatter, so they suppress no one (tests/unit/test_loop.c shows
# the policy side). The notice also once delivered to a bad VERP address, and once to a valid one.
cp "$dir/postmaster-notify.eml" "$dir/autoreply-bounce-to-author.eml" "$tmp/"
{ printf 'Delivered-To: %s\n' "$ph"; cat "$dir/postmaster-notify.eml"; } \
	>"$tmp/postmaster-notify-bad-verp.eml"
{ printf 'Delivered-To: %s\n' "$verp"; cat "$dir/postmaster-notify.eml"; } \
	>"$tmp/postmaster-notify-valid-verp.eml"
# A bounce that reached a valid VERP, about a message not ours and not sent with our VERP.
sed -e "s/$ph/$verp/g" -e '/^Return-Path: <bounce/d' -e '/^Precedence:/d' \
	-e '/^X-Auto-Response-Suppress:/d' -e '/^List-/d' \
	-e 's/^From: Our News <news@ours.example>/From: Alice <alice@sub.example>/' \
	-e 's/<1234.5678@mail.ours.example>/<r1@sub.example>/' \
	"$dir/bounce-newsletter-bulk.eml" >"$tmp/foreign-original.eml"
"$BOUNCER" classify -c "$tmp/bouncer.yaml" "$tmp"/*.eml >"$out" 2>"$tmp/err" || {
	echo "test_loops: classify -c failed: $(head -c 500 "$tmp/err")"
	exit 1
}
python3 - "$out" <<'PY'
import json, os, sys

# file: (loop kind or None, VERP valid)
want = {
    "bounce-newsletter-bulk.eml": (None, True),       # our newsletter, Precedence: bulk
    "bounce-of-autoreply.eml": ("autoreply_bounce", True),
    "backscatter.eml": ("backscatter", False),
    "foreign-original.eml": ("backscatter", True),
    "postmaster-notify.eml": ("backscatter", False),
    "postmaster-notify-bad-verp.eml": ("backscatter", False),
    "postmaster-notify-valid-verp.eml": ("bounce_of_bounce", True),
    "autoreply-bounce-to-author.eml": ("backscatter", False),
    "autoreply-bounce-to-us.eml": ("autoreply_bounce", True),
}
bad = 0
got = {}
for line in open(sys.argv[1]):
    o = json.loads(line)
    got[os.path.basename(o["source"])] = o
for name, (kind, valid) in sorted(want.items()):
    o = got.get(name)
    if o is None:
        print("%s (config): no output" % name)
        bad += 1
        continue
    lp = o.get("loop", {})
    gk = lp.get("kind") if lp.get("detected") else None
    gv = (o.get("verp") or {}).get("valid")
    if gk != kind:
        print("%s (config): loop got %s (%s), want %s" % (name, gk, lp.get("why"), kind))
        bad += 1
    if gv != valid:
        print("%s (config): verp valid got %s, want %s" % (name, gv, valid))
        bad += 1
print("test_loops (config): %d fixtures, %d problems" % (len(want), bad))
sys.exit(1 if bad else 0)
PY

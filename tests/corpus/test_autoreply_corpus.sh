#!/usr/bin/env bash
# test_autoreply_corpus - over the shared Sisimai corpus (labels.json):
#  1. every file labelled `vacation` comes out as type autoreply with reason vacation;
#  2. no file without a vacation label comes out as autoreply;
#  3. classified without a config (no our_domains, no VERP), no file that labels.json calls a
#     real failure (a reason other than vacation, feedback, delivered) is flagged as a loop:
#     not even the sendmail "Postmaster notify" double bounces (a postmaster's notice ends the
#     bounce chain) nor the failure of an auto-reply sent back to the auto-reply's own author
#     (docs/loops.md).
# Prints the figures. Skips (77) without the shared folder or a working classify.
set -u
: "${BOUNCER:?}"
corpus="${BH_SHARED_DIR:-}/corpus/sisimai"
[ -f "$corpus/labels.json" ] || { echo "skip: no shared corpus"; exit 77; }
command -v python3 >/dev/null || { echo "skip: no python3"; exit 77; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT

(cd "$corpus" && python3 -c 'import json; print("\n".join(sorted(json.load(open("labels.json")))))' |
	sed "s|^|$corpus/|" | xargs -d '\n' "$BOUNCER" classify >"$out" 2>/dev/null)
[ -s "$out" ] || { echo "skip: bouncer classify is not available"; exit 77; }

python3 - "$corpus/labels.json" "$out" <<'PY'
import collections, json, os, sys

NOT_FAILURES = ("feedback", "vacation", "delivered")


labels = json.load(open(sys.argv[1]))
objs = collections.defaultdict(list)
for line in open(sys.argv[2]):
    try:
        o = json.loads(line)
    except ValueError:
        continue
    objs[os.path.basename(o.get("source", "")).split("#")[0]].append(o)

bad = 0
vac = sorted(k for k, l in labels.items() if any(r.get("reason") == "vacation" for r in l))
ok = 0
for k in vac:
    hit = [o for o in objs[k] if o.get("type") == "autoreply" and
           any(r.get("reason") == "vacation" for r in o.get("recipients") or [])]
    if hit:
        ok += 1
    else:
        print("%s: labelled vacation, got %s" % (k, [o.get("type") for o in objs[k]]))
        bad += 1
print("vacation-labelled files recognized as autoreply: %d/%d" % (ok, len(vac)))

fp = sorted(k for k in labels if k not in vac and any(o.get("type") == "autoreply" for o in objs[k]))
for k in fp:
    print("%s: not labelled vacation, came out as autoreply" % k)
bad += len(fp)
print("other files that came out as autoreply: %d/%d" % (len(fp), len(labels) - len(vac)))

real = [k for k, l in labels.items() if any(r.get("reason") not in NOT_FAILURES for r in l)]
flagged = {}
for k in real:
    for o in objs[k]:
        lp = o.get("loop") or {}
        if lp.get("detected"):
            flagged[k] = o
for k, o in sorted(flagged.items()):
    print("%s: a real failure flagged as loop %s (%s)" % (k, o["loop"].get("kind"),
                                                          o["loop"].get("why")))
bad += len(flagged)
missing = [k for k in real if not objs[k]]
for k in sorted(missing):
    print("%s: no output" % k)
bad += len(missing)
print("real failures flagged as a loop: %d/%d" % (len(flagged), len(real)))
sys.exit(1 if bad else 0)
PY

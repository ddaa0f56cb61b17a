#!/usr/bin/env bash
# test_autoreply_corpus - over the shared Sisimai corpus (labels.json):
#  1. every file labelled `vacation` comes out as type autoreply with reason vacation;
#  2. no file without a vacation label comes out as autoreply;
#  3. classified without a config (no our_domains, no VERP), no file that labels.json calls a
#     real failure is flagged as a loop, unless the returned message printed with it is itself
#     a report (bounce_of_bounce) or automatic (autoreply_bounce): those are genuine bounces of
#     bounces / of auto-replies by the issue's own definition (README "Loops and backscatter"),
#     whatever reason Sisimai gives the failure inside them. KNOWN lists the ones seen when this
#     was written; a new one is printed, not failed, when its returned message justifies it.
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
# Real bounces whose returned message is itself a report ("Postmaster notify" double bounces)
# or an auto-reply that bounced (the issue's classic case): flagged on purpose.
KNOWN = {
    "lhost-sendmail-39.eml": "bounce_of_bounce",
    "lhost-sendmail-41.eml": "bounce_of_bounce",
    "rhost-yahooinc-03.eml": "bounce_of_bounce",
    "rhost-mimecast-01.eml": "autoreply_bounce",
}
AUTO_SUBJECTS = ("auto", "out of office", "abwesen", "réponse automatique", "自動")


def justified(o):
    """Is the flag borne out by the returned message printed in the verdict?"""
    lp, org = o.get("loop") or {}, o.get("original") or {}
    ct = (org.get("content_type") or "").lower()
    rp = (org.get("return_path") or "").strip().strip("<>").strip().lower()
    subj = (org.get("subject") or "").strip().lower()
    if lp.get("kind") == "bounce_of_bounce":
        return ct.startswith(("multipart/report", "message/delivery-status")) or \
            rp in ("", "mailer-daemon")
    if lp.get("kind") == "autoreply_bounce":
        return bool(org.get("auto_submitted") or org.get("x_autoreply") or
                    "auto_reply" in (org.get("precedence") or "").lower() or
                    rp in ("", "mailer-daemon") or subj.startswith(AUTO_SUBJECTS))
    return False  # hops / backscatter never on a labelled real failure without a config


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
            flagged[k] = (lp.get("kind"), o)
for k, (kind, o) in sorted(flagged.items()):
    if not justified(o):
        print("%s: a real failure flagged as loop %s (%s)" % (k, kind, o["loop"].get("why")))
        bad += 1
    elif KNOWN.get(k) != kind:
        print("%s: flagged %s, justified by its returned message (new since KNOWN)" % (k, kind))
print("real failures flagged as a loop: %d/%d (%d of them the known bounces of bounces / "
      "auto-replies)" % (len(flagged), len(real), sum(KNOWN.get(k) == v[0] for k, v in flagged.items())))
sys.exit(1 if bad else 0)
PY

#!/usr/bin/env bash
# unseen.sh - address recall and precision on real bounces the classifier was never tuned on.
#
#   bench/unseen.sh [BOUNCER]
#
# The corpus we tune against is ../shared/corpus/sisimai. As a second, independent check this
# fetches Debian's python3-flufl.bounce package (apt-get download: no root, nothing installed),
# takes the ~110 real bounces of its test suite (Mailman's collection: Exim, Postfix, qmail,
# Sendmail, Exchange 5.5, GroupWise, Yahoo, AOL, SMTP32, Netscape, ... from 2000-2020) and the
# addresses its own tests expect (testing/helpers.py, the DATA table), writes them as a
# labels file in score.py's "flufl" style and scores `bouncer classify` with
# ../shared/bench/score.py. Nothing of the package is copied into this repository, and no rule
# is fitted to it: the figures say how the rules carry over. Labels are Mailman's view:
# it expects both the expanded and the original address of an alias ("expanded from"), and
# the Original-Recipient rather than the Final-Recipient of a DSN, where bouncer reports
# the Final-Recipient (and the other as original_recipient); a few misses are those.
#
# A second set: the ~110 real bounces in the test suite of Debian's source package of
# Mail::DeliveryStatus::BounceParser (fetched from the Debian mirror apt uses), scored by
# bench/unseen_coarse.py on that project's coarser reason classes and on hard/soft.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bouncer=${1:-$here/build/bouncer}
shared=${BH_SHARED_DIR:-$here/../shared}
[ -x "$bouncer" ] || { echo "unseen: build bouncer first ($bouncer)"; exit 1; }
[ -f "$shared/bench/score.py" ] || { echo "unseen: no $shared/bench/score.py"; exit 77; }

work=$(mktemp -d /tmp/bh-unseen.XXXXXX)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download python3-flufl.bounce >/dev/null 2>&1) ||
	{ echo "unseen: apt-get download python3-flufl.bounce failed (no network?)"; exit 77; }
dpkg -x "$work"/python3-flufl.bounce_*.deb "$work/x"
pkg=$(find "$work/x" -type d -path '*flufl/bounce' | head -1)
python3 - "$pkg/testing/helpers.py" "$work/labels.json" <<'PY'
import ast, collections, json, sys
src = open(sys.argv[1]).read()
i = src.index('DATA = (') + len('DATA = ')
depth = 0
for j in range(i, len(src)):
    depth += {'(': 1, ')': -1}.get(src[j], 0)
    if depth == 0:
        break
labels = collections.defaultdict(lambda: {'addresses': [], 'permanent': [], 'temporary': []})
for row in ast.literal_eval(src[i:j + 1]):
    name, expected = row[1], row[2]
    temporary = row[3] if len(row) > 3 else False
    lab = labels[name]
    for a in expected:
        a = a.decode()
        if a not in lab['addresses']:
            lab['addresses'].append(a)
        lab['temporary' if temporary else 'permanent'].append(a)
json.dump(labels, open(sys.argv[2], 'w'), indent=1)
PY
python3 "$shared/bench/score.py" --labels "$work/labels.json" --dir "$pkg/tests/data" \
	--name "bouncer classify (unseen: flufl.bounce test data)" -- "$bouncer" classify

# the second set: the source package's .dsc names its tarball on the same mirror
echo
echo "unseen set 2: Mail::DeliveryStatus::BounceParser test corpus"
src=libmail-deliverystatus-bounceparser-perl
ver=$(apt-cache policy "$src" 2>/dev/null | awk '/Candidate:/ {print $2}')
mirror=$(apt-get --print-uris download "$src" 2>/dev/null | head -1 | sed -n "s|^'\(.*\)/pool/.*|\1|p")
pool="$mirror/pool/main/libm/$src"
if [ -n "$ver" ] && [ -n "$mirror" ] &&
	tarball=$(curl -fsS "$pool/${src}_${ver}.dsc" | awk '/^Files:/ {f=1; next} f && /orig\.tar/ {print $3; exit}') &&
	[ -n "$tarball" ] && curl -fsS -o "$work/$tarball" "$pool/$tarball"; then
	mkdir -p "$work/bp" && tar -xf "$work/$tarball" -C "$work/bp"
	python3 "$here/bench/unseen_coarse.py" "$bouncer" "$(find "$work/bp" -maxdepth 2 -type d -name t | head -1)"
else
	echo "unseen: could not fetch the $src source package (no network?); set 2 skipped"
fi

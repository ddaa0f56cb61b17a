#!/usr/bin/env bash
# test_sisimai.sh - score `bouncer classify` over the shared Sisimai corpus and fail below the
# thresholds in thresholds.txt (ratcheted up as the classifier improves), and check that every
# entry whose verdict differs from its label is listed, with the words' reason, in
# disagreements.tsv, and that every listed one still comes out as listed (disagreements.py).
set -u
corpus="$BH_SHARED_DIR/corpus/sisimai"
[ -f "$corpus/labels.json" ] || { echo "no shared corpus at $corpus: skipped"; exit 77; }
command -v python3 >/dev/null || exit 77
out=$(mktemp)
verdicts=$(mktemp)
trap 'rm -f "$out" "$verdicts"' EXIT
"$BOUNCER" classify "$corpus" >"$verdicts" 2>/dev/null || true
python3 "$BH_SOURCE_DIR/tests/corpus/disagreements.py" "$corpus/labels.json" "$verdicts" \
	"$BH_SOURCE_DIR/tests/corpus/disagreements.tsv" || exit 1
python3 "$BH_SHARED_DIR/bench/score.py" --labels "$corpus/labels.json" --dir "$corpus" \
	--json "$out" -- "$BOUNCER" classify || exit 1
python3 - "$out" "$BH_SOURCE_DIR/tests/corpus/thresholds.txt" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
fail = 0
for line in open(sys.argv[2]):
    line = line.split('#')[0].split()
    if len(line) != 2:
        continue
    key, want = line[0], float(line[1])
    got = r
    for k in key.split('.'):
        got = got.get(k) if isinstance(got, dict) else None
    if got is None or got < want:
        print('FAIL: %s = %s, want >= %s' % (key, got, want))
        fail = 1
    else:
        print('ok: %s = %.1f (>= %s)' % (key, got, want))
sys.exit(fail)
PY

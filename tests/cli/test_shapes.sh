#!/usr/bin/env bash
# test_shapes - every pathological shape of bench/scaling_gen.py (bare-CR, CRLF and mixed line
# ends, one long line, short lines only, MIME parts up to the cap, a DSN with a recipient group
# per 100 bytes, header fields up to the cap), at 4 MB (BH_SHAPE_KB; the bench goes to 24 MB),
# classified once: each gives one JSON object and exit 0, never a crash. Run by the sanitizer
# build too, where it is the ASan/UBSan check of those inputs. Not a timer: bench/scaling.sh
# measures time per MB.
set -u
: "${BOUNCER:?}" "${BH_SOURCE_DIR:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
kb=${BH_SHAPE_KB:-4096} # bench/scaling.sh goes to 24 MB; 4 MB keeps the ASan run to a minute
bad=0
for shape in lf crlf cr mixed longline shortlines parts recipients headers; do
	python3 "$BH_SOURCE_DIR/bench/scaling_gen.py" "$shape" "$kb" "$tmp/m.eml" || exit 1
	if ! "$BOUNCER" classify "$tmp/m.eml" >"$tmp/out.json" 2>"$tmp/err"; then
		echo "FAIL $shape: exit $?: $(tail -3 "$tmp/err")"
		bad=1
	elif ! python3 -c 'import json, sys; [json.loads(l) for l in open(sys.argv[1])]' "$tmp/out.json"; then
		echo "FAIL $shape: output is not JSON Lines"
		bad=1
	else
		echo "ok $shape ($kb KB)"
	fi
done
exit $bad

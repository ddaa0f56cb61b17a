#!/usr/bin/env bash
# run.sh - every benchmark, one command: `bench/run.sh` (or `cmake --build build --target bench`).
# Prints figures and ratios against baselines measured in the same run; see README "Performance".
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${BH_BUILD_DIR:-$here/build}
for b in "$here"/bench/classify.sh "$here"/bench/e2e.sh; do
	[ -f "$b" ] || continue
	echo "== $(basename "$b")"
	bash "$b" "$build/bouncer" || echo "bench: $(basename "$b") failed"
done

#!/usr/bin/env bash
# scaling.sh - does `bouncer classify` stay linear in its input? Time per MB against size for
# each line-ending style and for the pathological shapes, and the ratio of the largest size's
# time per MB to the smallest's (flat is 1; the goal is within 2x).
#
#   bench/scaling.sh [BOUNCER]          sizes: BENCH_SIZES (KB), default "64 1024 8192 24576"
#
# Shapes (bench/scaling_gen.py writes them): a multipart bounce with LF, CRLF, bare-CR and mixed
# line ends; one line as long as the message; short lines only; MIME parts up to the part cap;
# a DSN with as many recipients as fit; header fields up to the header cap. Each figure is the
# time of one process classifying the message k+1 times less that of one classifying it once,
# over k copies (k = 8 MB / size, at least 1): the startup cancels, and a small message is
# measured over 8 MB of work instead of a few hundred microseconds against a startup of
# milliseconds. Each run is made REPEAT times (BENCH_REPEAT, default 3) and the best wall time
# kept: these machines are shared. Not a test: it prints figures (docs/performance.md).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bouncer=${1:-$here/build/bouncer}
[ -x "$bouncer" ] || { echo "scaling: build bouncer first ($bouncer)"; exit 1; }
sizes=${BENCH_SIZES:-64 1024 8192 24576}
repeat=${BENCH_REPEAT:-3}
work=$(mktemp -d /tmp/bh-scaling.XXXXXX)
trap 'rm -rf "$work"' EXIT

best() { # FILE COPIES -> best wall microseconds of REPEAT runs of one process classifying
	# FILE COPIES times
	local i t0 t1 t b="" args=()
	for i in $(seq 1 "$2"); do args+=("$1"); done
	for i in $(seq 1 "$repeat"); do
		t0=$(date +%s%N)
		"$bouncer" classify "${args[@]}" >/dev/null 2>&1 || true
		t1=$(date +%s%N)
		t=$(((t1 - t0) / 1000))
		if [ -z "$b" ] || [ "$t" -lt "$b" ]; then b=$t; fi
	done
	echo "$b"
}

# Each figure is a difference in one shape: the process that classifies the message k+1
# times less the one that classifies it once, over k messages, k = 8 MB / size (at least 1),
# so the startup (rules, the JIT of the rows the shape uses) cancels and even the 64 KB
# figure measures 8 MB of work.
echo "figures are ms per MB: (time of k+1 copies in one process - time of one) / (k x size), k = max(1, 8 MB / size)"
printf '%-10s' shape
for kb in $sizes; do printf ' %12s' "${kb}KB ms/MB"; done
printf ' %8s\n' ratio
for shape in lf crlf cr mixed longline shortlines parts recipients headers; do
	printf '%-10s' "$shape"
	first="" last=""
	for kb in $sizes; do
		f=$work/$shape-$kb.eml
		python3 "$here/bench/scaling_gen.py" "$shape" "$kb" "$f"
		mb=$(awk -v b="$(stat -c %s "$f")" 'BEGIN { printf "%.6f", b / 1048576 }')
		k=$((8192 / kb > 1 ? 8192 / kb : 1))
		t1=$(best "$f" 1)
		tk=$(best "$f" $((k + 1)))
		per=$(awk -v a="$t1" -v b="$tk" -v k="$k" -v mb="$mb" \
			'BEGIN { d = b - a; if (d < 1) d = 1; printf "%.2f", d / 1000 / (k * mb) }')
		printf ' %12s' "$per"
		[ -n "$first" ] || first=$per
		last=$per
		rm -f "$f"
	done
	awk -v a="$first" -v b="$last" 'BEGIN { printf " %8.2f\n", b / a }'
done
echo "(ratio: the largest size's ms/MB over the smallest's: 1 is linear; the goal is within 2x)"

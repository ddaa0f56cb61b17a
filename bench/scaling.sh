#!/usr/bin/env bash
# scaling.sh - does `bouncer classify` stay linear in its input? Time per MB against size for
# each line-ending style and for the pathological shapes, and the ratio of the largest size's
# time per MB to the smallest's (flat is 1; the goal is within 2x).
#
#   bench/scaling.sh [BOUNCER]          sizes: BENCH_SIZES (KB), default "64 1024 8192 24576"
#
# Shapes (bench/scaling_gen.py writes them): a multipart bounce with LF, CRLF, bare-CR and mixed
# line ends; one line as long as the message; short lines only; MIME parts up to the part cap;
# a DSN with as many recipients as fit; header fields up to the header cap. Each message is
# classified REPEAT times (BENCH_REPEAT, default 3) and the best wall time kept: these machines
# are shared. Not a test: it prints figures (docs/performance.md quotes them).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bouncer=${1:-$here/build/bouncer}
[ -x "$bouncer" ] || { echo "scaling: build bouncer first ($bouncer)"; exit 1; }
sizes=${BENCH_SIZES:-64 1024 8192 24576}
repeat=${BENCH_REPEAT:-3}
work=$(mktemp -d /tmp/bh-scaling.XXXXXX)
trap 'rm -rf "$work"' EXIT

best() { # FILE -> best wall seconds of REPEAT runs, less the startup (an empty message's time)
	local i t0 t1 t b=""
	for i in $(seq 1 "$repeat"); do
		t0=$(date +%s%N)
		"$bouncer" classify "$1" >/dev/null 2>&1 || true
		t1=$(date +%s%N)
		t=$(((t1 - t0) / 1000))
		if [ -z "$b" ] || [ "$t" -lt "$b" ]; then b=$t; fi
	done
	echo $((b > ${startup:-0} ? b - ${startup:-0} : 1))
}

printf 'From: a@example.org\nSubject: empty\n\nx\n' >"$work/empty.eml"
startup=0
startup=$(repeat=5 best "$work/empty.eml")
echo "startup (an empty message): ${startup} us, subtracted below; figures are ms per MB"
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
		t=$(best "$f")
		per=$(awk -v t="$t" -v mb="$mb" 'BEGIN { printf "%.2f", t / 1000 / mb }')
		printf ' %12s' "$per"
		[ -n "$first" ] || first=$per
		last=$per
		rm -f "$f"
	done
	awk -v a="$first" -v b="$last" 'BEGIN { printf " %8.2f\n", b / a }'
done
echo "(ratio: the largest size's ms/MB over the smallest's, startup subtracted: 1 is linear;" \
	"the goal is within 2x. The 64 KB figures are a few hundred microseconds, so noisy)"

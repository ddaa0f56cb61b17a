#!/usr/bin/env bash
# fuzz.sh - build the libFuzzer targets with clang (ASan + UBSan) and run each for a while.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# A short run (the default, 20 s a target) is part of scripts/test.sh; a longer one is
#   scripts/fuzz.sh 1800
# Seeds: tests/fuzz/seeds/<target>/ and tests/fixtures/, and for the message-shaped targets
# (message, dsn, loops) the shared bounce corpus $BH_SHARED_DIR/corpus/sisimai when it is there
# (BH_SHARED_DIR defaults to ../shared). New inputs that a run finds go to
# build-fuzz/corpus/<target>/ (kept between runs); a crash is written to build-fuzz/findings/ and
# fails the run: keep the input as a regression seed in tests/fuzz/seeds/<target>/ once fixed.
# The shape-*.eml seeds are bench/scaling_gen.py SHAPE 32 (line-ending styles, one long line,
# short lines, many parts, many recipients, many header fields), so each run starts from them.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
shift || true
shared=${BH_SHARED_DIR:-../shared}

if ! command -v clang >/dev/null; then
	echo "fuzz: clang not installed; skipped"
	exit 0
fi
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DBOUNCER_FUZZ=ON >/dev/null
cmake --build build-fuzz -j"$(nproc)" >/dev/null

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	for f in tests/fuzz/fuzz_*.c; do
		[ -e "$f" ] || continue
		n=$(basename "$f" .c)
		targets+=("${n#fuzz_}")
	done
fi

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
mkdir -p build-fuzz/findings
status=0
for t in "${targets[@]}"; do
	bin=build-fuzz/fuzz_$t
	[ -x "$bin" ] || { echo "fuzz: no target $t"; status=1; continue; }
	mkdir -p "build-fuzz/corpus/$t"
	seeds=()
	[ -d "tests/fuzz/seeds/$t" ] && seeds+=("tests/fuzz/seeds/$t")
	[ -d tests/fixtures ] && seeds+=(tests/fixtures)
	case $t in
	message | dsn | loops)
		[ -d "$shared/corpus/sisimai" ] && seeds+=("$shared/corpus/sisimai")
		;;
	esac
	log=build-fuzz/fuzz-$t.log
	if "$bin" -max_total_time="$secs" -max_len=262144 -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix=build-fuzz/findings/"$t"- -print_final_stats=1 ${FUZZ_SEED:+-seed=$FUZZ_SEED} \
		"build-fuzz/corpus/$t" "${seeds[@]}" >"$log" 2>&1; then
		execs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
		cov=$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -o 'cov: [0-9]*' || true)
		echo "fuzz: $t ok: ${execs:-?} executions in ${secs}s, ${cov:-cov: ?}"
	else
		echo "fuzz: $t FAILED; log: $log"
		grep -E 'ERROR|SUMMARY|runtime error' "$log" | head -5
		status=1
	fi
done
exit $status

#!/usr/bin/env bash
# run.sh - every benchmark, one command: `bench/run.sh` (or `cmake --build build --target bench`).
# Prints figures and ratios against baselines measured in the same run; see docs/performance.md.
#
#   BENCH_CLASSIFY_N=100000     messages for bench/classify.sh
#   BENCH_E2E_COUNTS="20000"    mailbox sizes for bench/e2e.sh, one run each (peak RSS per size:
#                               "20000 100000" for the memory check; 100000 takes minutes)
#   BENCH_BATCH=1000            imap.batch_size for bench/e2e.sh
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${BH_BUILD_DIR:-$here/build}
status=0
echo "== classify.sh"
bash "$here/bench/classify.sh" "$build/bouncer" "${BENCH_CLASSIFY_N:-100000}" || { echo "bench: classify.sh failed"; status=1; }
echo "== unseen.sh"
bash "$here/bench/unseen.sh" "$build/bouncer" || [ $? -eq 77 ] || { echo "bench: unseen.sh failed"; status=1; }
for n in ${BENCH_E2E_COUNTS:-20000}; do
	echo "== e2e.sh $n"
	bash "$here/bench/e2e.sh" "$build/bouncer" "$n" || { echo "bench: e2e.sh $n failed"; status=1; }
done
exit $status

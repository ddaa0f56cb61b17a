#!/usr/bin/env bash
# test.sh - the README's test command: install what is needed, build the normal and the
# sanitizer (ASan + UBSan) configurations, and run ctest on both.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
jobs=$(nproc)

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DBOUNCER_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# the servers and workers the tests start; any of them alive at the end was left behind
servers() { ps -eo pid=,args= | awk '$2 ~ /(^|\/)(redis-server|dovecot|master|bouncer)$/ || $2 ~ /^redis-server/ { print }' | sort; }
servers >"${TMPDIR:-/tmp}/bh-servers-before.$$"

status=0
echo "== fuzz: a short libFuzzer run of every target (scripts/fuzz.sh)"
# A fixed seed keeps the short run repeatable from one CI run to the next; longer runs
# (scripts/fuzz.sh 1800) explore with random seeds.
FUZZ_SEED=${FUZZ_SEED:-1} bash scripts/fuzz.sh "${BOUNCER_FUZZ_SECONDS:-20}" || status=1
echo "== ctest: sanitizer build (ASan + UBSan)"
(cd build-asan && ctest --output-on-failure -j"$jobs" -LE long) || status=1
echo "== ctest: release build"
(cd build && ctest --output-on-failure -j"$jobs" -LE long) || status=1

echo "== no process left behind"
sleep 1
left=$(servers | comm -13 "${TMPDIR:-/tmp}/bh-servers-before.$$" -)
rm -f "${TMPDIR:-/tmp}/bh-servers-before.$$"
if [ -n "$left" ]; then
	echo "test.sh: a test left these running:"
	echo "$left"
	status=1
else
	echo "none"
fi
exit $status

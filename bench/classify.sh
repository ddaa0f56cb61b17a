#!/usr/bin/env bash
# classify.sh - classification throughput against the floor of merely reading the same files.
#
#   bench/classify.sh [BOUNCER] [N_MESSAGES]
#
# Repeats the shared corpus into a temporary folder until it holds N_MESSAGES files (default
# 100000), then times on one core (taskset -c 0), in the same run:
#   floor:      cat of every file to /dev/null (reading alone)
#   fair floor: sha256sum of every file (reading and hashing each message once, which the
#               stable id needs anyway)
#   classify:   bouncer classify over the folder, output to /dev/null
#   sisimai:    Sisimai (Debian's libsisimai-perl, 4.25) over the first BENCH_SISIMAI_N
#               messages (default 5000; 0 skips it), beside bouncer over the same ones
# and prints messages/s, MB/s, the ratios to the floors and to Sisimai, and classify's peak RSS.
# Then, when valgrind is installed, instructions per message (callgrind counts the same on a
# loaded machine): I(N) for the N corpus files once and I(2N) for them twice in one process,
# so the steady state is (I(2N) - I(N)) / N and the startup (rules compiled, JIT) is
# I(N) - N x that. Under valgrind no SHA extensions exist, so SHA-256 runs libcrypto's AVX2
# code there, as on a CPU without them; its share (stable_id, inclusive) is printed apart (on
# the real CPU libcrypto uses the SHA extensions where present).
# And since valgrind has no SHA extensions, the stable id's SHA-256 is counted again on the
# real CPU by single-stepping it (bench/sha_steps.c, a minute): callgrind's count less its
# SHA-256 plus that is the count on this CPU.
#   BENCH_CALLGRIND=0 skips the instruction count, BENCH_STEPS=0 the single-stepping.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bouncer=${1:-$here/build/bouncer}
n=${2:-100000}
corpus=${BH_SHARED_DIR:-$here/../shared}/corpus/sisimai
[ -d "$corpus" ] || { echo "bench: no corpus at $corpus"; exit 77; }
[ -x "$bouncer" ] || { echo "bench: build bouncer first ($bouncer)"; exit 1; }

work=$(mktemp -d /tmp/bh-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
nsis=${BENCH_SISIMAI_N:-5000}
[ "$nsis" -le "$n" ] || nsis=$n
# Hard links (copies across file systems): the same bytes, n distinct files, 1000 a folder.
bytes=$(python3 - "$corpus" "$work/m" "$n" <<'PY'
import os, shutil, sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
files = sorted(os.path.join(src, f) for f in os.listdir(src) if f.endswith('.eml'))
total = 0
for i in range(n):
    f = files[i % len(files)]
    d = os.path.join(dst, str(i // 1000))
    if i % 1000 == 0:
        os.makedirs(d, exist_ok=True)
    t = os.path.join(d, '%d.eml' % i)
    try:
        os.link(f, t)
    except OSError:
        shutil.copyfile(f, t)
    total += os.path.getsize(f)
print(total)
PY
)
dirs=("$work"/m/*)

# Warm the page cache so both runs read from memory.
find "$work/m" -type f -exec cat {} + >/dev/null

t() { /usr/bin/time -f '%e %M' "$@" 2>&1 >/dev/null | tail -1; }
floor=$(t taskset -c 0 bash -c 'find "$1" -type f -exec cat {} + >/dev/null' _ "$work/m")
fair=$(t taskset -c 0 bash -c 'find "$1" -type f -exec sha256sum {} + >/dev/null' _ "$work/m")
run=$(t taskset -c 0 "$bouncer" classify "${dirs[@]}")
fs=${floor% *}
ffs=${fair% *}
cs=${run% *}
rss=${run#* }

# Sisimai over the first nsis messages, and bouncer over the same files.
sis_note=""
sis_s=0
bsub_s=0
if [ "$nsis" -gt 0 ]; then
	if perl -MSisimai -e 1 2>/dev/null; then
		sub="$work/sub"
		python3 - "$work/m" "$sub" "$nsis" <<'PY'
import os, sys
src, dst, k = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.makedirs(dst)
for i in range(k):
    os.link(os.path.join(src, str(i // 1000), '%d.eml' % i), os.path.join(dst, '%d.eml' % i))
PY
		sis_ver=$(perl -MSisimai -e 'print $Sisimai::VERSION')
		sis=$(t taskset -c 0 perl -MSisimai -e 'my $v = Sisimai->make($ARGV[0]) || []; print scalar(@$v), "\n"' "$sub")
		bsub=$(t taskset -c 0 "$bouncer" classify "$sub")
		sis_s=${sis% *}
		bsub_s=${bsub% *}
		sis_note="Sisimai $sis_ver"
	else
		sis_note="Sisimai not installed (apt-get install libsisimai-perl: Debian 12 packages 4.25)"
	fi
fi
python3 - "$n" "$bytes" "$fs" "$cs" "$rss" "$ffs" "$nsis" "$sis_s" "$bsub_s" "$sis_note" <<'PY'
import sys
n, b, fs, cs, rss = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
ffs = float(sys.argv[6])
nsis, sis_s, bsub_s, sis_note = int(sys.argv[7]), float(sys.argv[8]), float(sys.argv[9]), sys.argv[10]
mb = b / 1e6
print(f"classify bench: {n} messages, {mb:.1f} MB, one core")
print(f"  floor (cat, read only):  {fs:7.2f} s  {n/max(fs,1e-9):10.0f} msg/s  {mb/max(fs,1e-9):8.1f} MB/s")
print(f"  fair floor (sha256sum):  {ffs:7.2f} s  {n/max(ffs,1e-9):10.0f} msg/s  {mb/max(ffs,1e-9):8.1f} MB/s")
print(f"  bouncer classify:        {cs:7.2f} s  {n/max(cs,1e-9):10.0f} msg/s  {mb/max(cs,1e-9):8.1f} MB/s  peak RSS {rss/1024:.1f} MB")
print(f"  ratio classify/floor: {cs/max(fs,1e-9):.2f}x  (goal: within 3x); classify/fair floor: {cs/max(ffs,1e-9):.2f}x")
if sis_s > 0:
    print(f"  {sis_note} over the first {nsis}: {sis_s:7.2f} s  {nsis/max(sis_s,1e-9):10.0f} msg/s;"
          f" bouncer over the same: {bsub_s:.2f} s  {nsis/max(bsub_s,1e-9):.0f} msg/s;"
          f" Sisimai/bouncer: {sis_s/max(bsub_s,1e-9):.1f}x")
elif nsis > 0:
    print(f"  {sis_note}")
PY

# Instructions per message: callgrind over the corpus once and twice in one process.
if [ "${BENCH_CALLGRIND:-1}" != 0 ]; then
	if command -v valgrind >/dev/null; then
		files=("$corpus"/*.eml)
		cg() {
			valgrind --tool=callgrind --callgrind-out-file="$work/cg.$1" "$bouncer" classify \
				"${@:2}" 2>&1 >/dev/null | sed -n 's/.*refs: *//p' | tr -d ,
		}
		i1=$(cg 1 "${files[@]}")
		i2=$(cg 2 "${files[@]}" "${files[@]}")
		# the stable id's hashing: stable_id's inclusive cost (libcrypto has no symbols)
		sha() { { callgrind_annotate --inclusive=yes "$work/cg.$1" 2>/dev/null || true; } | awk '/classify.c:stable_id/ && !f {gsub(",","",$1); print $1; f=1}'; }
		s1=$(sha 1)
		s2=$(sha 2)
		# The same hashing on this CPU (its SHA extensions where it has them), counted by
		# single-stepping (bench/sha_steps.c) over every 8th corpus file: slow per step, and
		# SHA-256 runs the same code for every block, so a sample gives its cost a byte.
		steps=""
		if [ "${BENCH_STEPS:-1}" != 0 ] && cc -O2 -o "$work/sha_steps" "$here/bench/sha_steps.c" -lcrypto 2>/dev/null; then
			sample=()
			for ((k = 0; k < ${#files[@]}; k += 8)); do sample+=("${files[k]}"); done
			steps=$("$work/sha_steps" "${sample[@]}" 2>/dev/null | sed -n 's/.* \([0-9.]*\) per byte$/\1/p')
		fi
		bytes1=$(cat "${files[@]}" | wc -c)
		python3 - "${#files[@]}" "$i1" "$i2" "${s1:-0}" "${s2:-0}" "$bytes1" "${steps:-}" <<'PY'
import sys
n, i1, i2, s1, s2, b = (int(x) for x in sys.argv[1:7])
steps = float(sys.argv[7]) if sys.argv[7] else None
pm = (i2 - i1) / n
sha = (s2 - s1) / n
print(f"  instructions (callgrind, {n} corpus messages): {pm:,.0f} per message (goal 300,000),"
      f" of which SHA-256 (stable_id, no SHA extensions) {sha:,.0f}; startup {i1 - pm * n:,.0f}")
if steps is not None:
    real = steps * b / n
    print(f"  on this CPU: the stable id's SHA-256 {steps:.2f} instructions a byte (single-stepped),"
          f" {real:,.0f} a message; so {pm - sha + real:,.0f} per message in all (goal 300,000)")
PY
	else
		echo "  instructions: valgrind not installed, skipped"
	fi
fi

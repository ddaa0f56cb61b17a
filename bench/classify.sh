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
# and prints messages/s, MB/s, the ratio to the floor and classify's peak RSS.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bouncer=${1:-$here/build/bouncer}
n=${2:-100000}
corpus=${BH_SHARED_DIR:-$here/../shared}/corpus/sisimai
[ -d "$corpus" ] || { echo "bench: no corpus at $corpus"; exit 77; }
[ -x "$bouncer" ] || { echo "bench: build bouncer first ($bouncer)"; exit 1; }

work=$(mktemp -d /tmp/bh-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
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
python3 - "$n" "$bytes" "$fs" "$cs" "$rss" "$ffs" <<'PY'
import sys
n, b, fs, cs, rss = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
ffs = float(sys.argv[6])
mb = b / 1e6
print(f"classify bench: {n} messages, {mb:.1f} MB, one core")
print(f"  floor (cat, read only):  {fs:7.2f} s  {n/max(fs,1e-9):10.0f} msg/s  {mb/max(fs,1e-9):8.1f} MB/s")
print(f"  fair floor (sha256sum):  {ffs:7.2f} s  {n/max(ffs,1e-9):10.0f} msg/s  {mb/max(ffs,1e-9):8.1f} MB/s")
print(f"  bouncer classify:        {cs:7.2f} s  {n/max(cs,1e-9):10.0f} msg/s  {mb/max(cs,1e-9):8.1f} MB/s  peak RSS {rss/1024:.1f} MB")
print(f"  ratio classify/floor: {cs/max(fs,1e-9):.2f}x  (goal: within 3x); classify/fair floor: {cs/max(ffs,1e-9):.2f}x")
PY

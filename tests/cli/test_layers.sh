#!/usr/bin/env bash
# test_layers.sh - the folders of handler/ keep their one-way layering (issue 20,
# docs/architecture.md), as declared in the one table handler/layers.txt:
#  (a) every #include "x.h" of a folder's files reaches a header of the same folder or of a
#      folder it may use (what its line lists, and through them everything below);
#  (b) every C file of handler/ sits in a folder of the table (store.c/store.h in handler/
#      itself count as store/ until they move there), and each table entry is a folder;
#  (c) the fuzz binaries (the core, plus config/ for those that start from its defaults) have
#      no NEEDED entry for Redis, TLS, IMAP's SASL/DB, HTTP or systemd, load none of them (ldd:
#      they link libetpan.a's parser alone), and their link lines name none of them: each of
#      those belongs to one edge folder (CMakeLists.txt).
set -u
: "${BH_SOURCE_DIR:?}"
python3 - "$BH_SOURCE_DIR/handler" <<'PY' || exit 1
import os, re, sys

hdir = sys.argv[1]
uses, order = {}, []
with open(os.path.join(hdir, "layers.txt"), encoding="utf-8") as f:
    for line in f:
        if not re.match(r"[a-z]", line):
            continue
        folder, *direct = line.split()
        for u in direct:
            if u not in uses:
                sys.exit("FAIL: layers.txt: %s uses %s, which is not a lower folder" % (folder, u))
        # everything below: the folders it lists and what those may use
        uses[folder] = set(direct).union(*(uses[u] for u in direct))
        order.append(folder)

def folder_of(path):
    rel = os.path.relpath(path, hdir).split(os.sep)
    return rel[0] if len(rel) > 1 else None

header = {}  # header name -> folder
files = []
for d, _, names in os.walk(hdir):
    for n in names:
        if n.endswith((".c", ".h")):
            p = os.path.join(d, n)
            files.append(p)
            header.setdefault(n, folder_of(p))

bad = 0
for folder in order:
    if not os.path.isdir(os.path.join(hdir, folder)) and folder != "store":
        print("FAIL: layers.txt names %s, which is no folder of handler/" % folder)
        bad += 1
inc = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
for p in sorted(files):
    folder = folder_of(p)
    rel = os.path.relpath(p, os.path.dirname(hdir))
    if folder not in uses:
        print("FAIL: %s is in no folder of handler/layers.txt" % rel)
        bad += 1
        continue
    with open(p, encoding="utf-8") as f:
        for h in inc.findall(f.read()):
            to = header.get(h)
            if to is None or to == folder or to in uses[folder]:
                continue  # generated or outside handler/, the same folder, or below
            print("FAIL: %s includes %s: %s/ may not use %s/ (handler/layers.txt)"
                  % (rel, h, folder, to))
            bad += 1
print("test_layers: %d folders, %d files, %d include problems" % (len(order), len(files), bad))
sys.exit(1 if bad else 0)
PY

# (c) what the fuzz targets link: run where the build is (ctest sets BH_BUILD_DIR)
if [ -z "${BH_BUILD_DIR:-}" ] || ! command -v readelf >/dev/null; then
	echo "skip (c): no BH_BUILD_DIR or readelf"
	exit 0
fi
edge='hiredis|gnutls|sasl2|libdb-|lockfile|microhttpd|systemd'
bad=0 n=0
for bin in "$BH_BUILD_DIR"/fuzz_*; do
	[ -x "$bin" ] || continue
	n=$((n + 1))
	needed=$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
	# and what loading them loads: nothing of the above, unless libetpan is only there shared
	# (no libetpan.a: CMakeLists.txt falls back to libetpan.so, which brings its own GnuTLS)
	if command -v ldd >/dev/null && loaded=$(ldd "$bin" 2>/dev/null); then
		if printf '%s\n' "$loaded" | grep -q 'libetpan[.]so'; then
			echo "note: $(basename "$bin") loads libetpan.so (no libetpan.a?) and with it GnuTLS"
		else
			needed="$needed $(printf '%s\n' "$loaded" | awk '{print $1}')"
		fi
	fi
	if hits=$(printf '%s\n' "$needed" | grep -E "$edge"); then
		echo "FAIL: $(basename "$bin") links an edge library: $(echo $hits)"
		bad=1
	fi
done
[ $n -gt 0 ] || { echo "FAIL: no fuzz_* binary in $BH_BUILD_DIR"; exit 1; }
# and their link lines, which would show an edge library even where --as-needed drops it
links=$(cat "$BH_BUILD_DIR"/CMakeFiles/fuzz_*.dir/link.txt 2>/dev/null)
if [ -n "$links" ] && printf '%s\n' "$links" | grep -qE -- "-l(hiredis|gnutls|microhttpd|systemd)|lib(hiredis|gnutls|microhttpd|systemd)[.]"; then
	echo "FAIL: a fuzz target's link line names hiredis, gnutls, microhttpd or systemd"
	bad=1
fi
[ $bad -eq 0 ] && echo "test_layers: $n fuzz binaries link no Redis, TLS, HTTP or systemd"
exit $bad

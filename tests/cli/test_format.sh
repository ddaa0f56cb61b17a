#!/usr/bin/env bash
# test_format - every C source and header is clang-formatted (.clang-format at the top).
set -u
: "${BH_SOURCE_DIR:?}"
command -v clang-format >/dev/null || { echo "skip: no clang-format"; exit 77; }
cd "$BH_SOURCE_DIR" || exit 1
bad=0
for f in handler/*/*.c handler/*/*.h tests/unit/*.c tests/unit/*.h tests/fuzz/*.c; do
	[ -e "$f" ] || continue
	if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
		echo "not clang-formatted: $f (run clang-format -i $f)"
		bad=1
	fi
done
[ $bad -eq 0 ] && echo "all C files are clang-formatted"
exit $bad

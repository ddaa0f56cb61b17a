#!/usr/bin/env bash
# test_func_comments - every function defined in handler/ (each layer folder, handler/*/*.c)
# has its `/* name - what */` line (STYLE.md, Comments): a definition is a line `name(` right after its return-type line; the
# comment block just above the return type (and above any BH_PRINTF(...) line) must open with
# `/* name - `.
set -u
: "${BH_SOURCE_DIR:?}"
cd "$BH_SOURCE_DIR" || exit 1
missing=$(awk '
FNR == 1 { delete L }
{ L[FNR] = $0 }
/^[A-Za-z_][A-Za-z0-9_]*\(/ {
	name = $0
	sub(/\(.*/, "", name)
	p = FNR - 1
	rt = L[p]
	# not a definition: a call or macro continuation, a prototype, a line after a comment
	if (p < 1 || rt ~ /^[ \t]*$/ || rt ~ /[;{}]$/ || rt ~ /^[ \t#\/*]/ || rt ~ /\*\/[ \t]*$/)
		next
	q = p - 1
	while (q >= 1 && L[q] ~ /^[A-Z][A-Z0-9_]*\(.*\)[ \t]*$/) # attributes: BH_PRINTF(2, 3)
		q--
	ok = 0
	if (q >= 1 && L[q] ~ /\*\/[ \t]*$/) {
		while (q >= 1 && L[q] !~ /\/\*/)
			q--
		if (q >= 1 && index(L[q], "/* " name " - ") == 1)
			ok = 1
	}
	if (!ok)
		printf "%s:%d: %s has no /* %s - what */ line\n", FILENAME, FNR, name, name
}' handler/*/*.c)
if [ -n "$missing" ]; then
	printf '%s\n' "$missing"
	echo "$(printf '%s\n' "$missing" | wc -l) function(s) without their /* name - what */ line"
	exit 1
fi
echo "every handler/ function has its /* name - what */ line"

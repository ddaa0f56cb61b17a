#!/usr/bin/env bash
# test_valgrind_drain.sh - `bouncer once` under valgrind over a full drain of 300 generated
# bounces (tests/lib/bouncegen.py): no definite or indirect leak, no memory
# error with a frame in handler/ (ld.so and PCRE2's JIT code make valgrind noise of their own). Label `long`;
# skipped (77) without valgrind or when $BOUNCER is the ASan build (LeakSanitizer covers it there).
set -euo pipefail
command -v valgrind >/dev/null 2>&1 || exit 77
grep -q __asan_init "$BOUNCER" 2>/dev/null && exit 77
source "$BH_SOURCE_DIR/tests/lib/faults.sh"
worker_setup
fail() { echo "FAIL: $*" >&2; exit 1; }
n=${VALGRIND_MESSAGES:-300}
python3 "$BH_SOURCE_DIR/tests/lib/bouncegen.py" --out "$T/mail" --count "$n" --seed "${FAULTS_SEED:-1}" \
	--key-file "$T/verp.key" --domain bounces.example.com
_f_deliver "$DOVECOT_MAILDIR" "$T"/mail/*.eml
[ "$(dovecot_count INBOX)" = "$n" ] || fail "INBOX holds $(dovecot_count INBOX), want $n"
_f_config "$T/bouncer.yaml" INBOX bouncer t
rc=0
# --fullpath-after= names every source file in full, so that an error in our code (a frame in
# handler/) is told apart from the noise of ld.so and of JIT-compiled regex code
valgrind --leak-check=full --fullpath-after= --log-file="$T/valgrind.log" \
	"$BOUNCER" once -c "$T/bouncer.yaml" >/dev/null 2>"$T/once.log" || rc=$?
grep -E 'ERROR SUMMARY|in use at exit|definitely lost|indirectly lost' "$T/valgrind.log" |
	sed 's/^==[0-9]*== */valgrind: /'
[ "$rc" = 0 ] || [ "$rc" = 1 ] || fail "once exited $rc"
if grep -qE '(definitely|indirectly) lost: [1-9]' "$T/valgrind.log"; then
	KEEP_T=1
	fail "valgrind found a leak (kept $T)"
fi
if grep -q "$BH_SOURCE_DIR/handler/" "$T/valgrind.log"; then
	KEEP_T=1
	fail "valgrind found a memory error in bouncer's code (kept $T)"
fi
[ "$(dovecot_count INBOX)" = 0 ] || fail "the drain left $(dovecot_count INBOX) messages"
echo "ok: $n messages drained under valgrind: no leak, no memory error in handler/"

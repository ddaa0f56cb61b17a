#!/usr/bin/env bash
# test_worker_moves.sh - confirmed moves gather per destination folder until it holds a batch's
# worth (a UID MOVE costs the server a fixed price per command), and the end of the drain moves
# the rest: with batch_size 3, 12 bounces and 4 auto-replies interleaved (6 batches) end in
# their folders with fewer UID MOVEs than one per folder per batch, and nothing stays behind.
# Consecutive UIDs go as a range ("1:3"), on a connection other than the one the bodies are read
# on, and the reading connection never lists what was moved meanwhile (no no_progress). The apply script sets a stats bucket's TTL once, at
# its first count (EXPIRE NX): a later message in the bucket does not renew it.
set -euo pipefail
source "$BH_SOURCE_DIR/tests/integration/worker_lib.sh"
worker_setup
fail() { echo "FAIL: $*" >&2; cat "$T"/*.log >&2 2>/dev/null || true; exit 1; }
write_config none "$DOVECOT_IMAP_PORT" "$DOVECOT_CA" 127.0.0.1

k=0
for i in $(seq 1 12); do
	make_dsn "$T/m$i.eml" "$(verp news "u$i@example.net")" "u$i@example.net" 5.1.1 "550 5.1.1 user unknown"
	dovecot_deliver "$T/m$i.eml"
	if [ $((i % 3)) = 0 ]; then # an auto-reply in every batch but the last two
		k=$((k + 1))
		make_autoreply "$T/ooo$k.eml" "$(verp news "ooo$k@example.net")"
		dovecot_deliver "$T/ooo$k.eml"
	fi
done
[ "$(dovecot_count INBOX)" = 16 ] || fail "delivered: $(dovecot_count INBOX)"

if command -v strace >/dev/null 2>&1; then
	# LeakSanitizer cannot run under ptrace: off for this one traced run
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		strace -f -e trace=write,sendto,sendmsg,writev -s 200 -o "$T/strace.log" \
		"$BOUNCER" once -c "$T/bouncer.yaml" >/dev/null 2>"$T/once.log" || fail "once failed"
	moves=$(grep -c 'UID MOVE' "$T/strace.log" || true)
	ign=$(grep -c 'UID MOVE [0-9:,]* [^ ]*bouncer/ignored' "$T/strace.log" || true)
	# one per folder per batch would be 6 + 4; gathered: ignored 4 -> at 3 and the rest at
	# the end (2), processed 12 -> every batch's worth (at most 5 with the final one)
	[ "$ign" -le 2 ] || fail "$ign UID MOVEs into bouncer/ignored for 4 messages"
	[ "$moves" -le 7 ] || fail "$moves UID MOVEs for 16 messages in 6 batches"
	[ "$ign" -ge 1 ] || fail "no UID MOVE into bouncer/ignored seen"
	grep -q 'UID MOVE [0-9]*:[0-9]' "$T/strace.log" || fail "no UID range in a UID MOVE"
	# the moves go on a connection of their own, never the one the bodies are read on
	fdof() { sed -E 's/^([0-9]+ +)?[a-z]+\(([0-9]+),.*/\2/' | sort -u; }
	read_fds=$(grep 'UID FETCH .*BODY.PEEK' "$T/strace.log" | fdof)
	move_fds=$(grep 'UID MOVE' "$T/strace.log" | fdof)
	[ -n "$read_fds" ] && [ -n "$move_fds" ] || fail "no UID FETCH or UID MOVE traced"
	for fd in $move_fds; do
		! echo "$read_fds" | grep -qx "$fd" || fail "a UID MOVE went on the reading connection (fd $fd)"
	done
else
	"$BOUNCER" once -c "$T/bouncer.yaml" >/dev/null 2>"$T/once.log" || fail "once failed"
fi
# the reading connection syncs before it lists (view_sync): it never lists mail moved meanwhile
! grep -q '"event":"no_progress"' "$T/once.log" || fail "a drain listed messages that were moved"
[ "$(dovecot_count bouncer/processed)" = 12 ] || fail "processed: $(dovecot_count bouncer/processed)"
[ "$(dovecot_count bouncer/ignored)" = 4 ] || fail "ignored: $(dovecot_count bouncer/ignored)"
[ "$(dovecot_count INBOX)" = 0 ] || fail "INBOX: $(dovecot_count INBOX) left"
# the stats buckets live 26 hours (STATS_TTL) from their first count
keys=$(rcli --scan --pattern '*:stats:*')
[ -n "$keys" ] || fail "no stats bucket"
for k in $keys; do
	t=$(rcli ttl "$k")
	[ "$t" -gt 0 ] && [ "$t" -le 93600 ] || fail "$k: TTL $t"
	rcli expire "$k" 100 >/dev/null
done
make_dsn "$T/m13.eml" "$(verp news u13@example.net)" u13@example.net 5.1.1 "550 5.1.1 user unknown"
dovecot_deliver "$T/m13.eml"
"$BOUNCER" once -c "$T/bouncer.yaml" >/dev/null 2>"$T/once3.log" || fail "third once failed"
for k in $keys; do
	t=$(rcli ttl "$k")
	[ "$t" -gt 0 ] && [ "$t" -le 100 ] || fail "$k: TTL $t after another count (renewed?)"
done
# every message applied once: a second drain finds nothing
"$BOUNCER" once -c "$T/bouncer.yaml" >/dev/null 2>"$T/once2.log" || fail "second once failed"
[ "$(rcli --scan --pattern '*:applied:*' | wc -l)" = 17 ] || fail "applied markers: $(rcli --scan --pattern '*:applied:*' | wc -l)"
[ "$(dovecot_count bouncer/processed)" = 13 ] || fail "processed after the third drain"
echo "ok: 16 messages, $moves UID MOVEs ($ign into bouncer/ignored)"

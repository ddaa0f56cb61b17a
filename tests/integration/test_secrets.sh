#!/usr/bin/env bash
# test_secrets.sh - no secret ever reaches a log line, an event, a Redis key or `config check`.
#
# The IMAP password, the Redis password, the VERP key and the password of a protected Redis
# Sentinel in front of the same Redis are distinctive strings. bouncer runs every command that
# prints something (config check, health, once --dry-run and once with debug logging, the ops
# commands), also with a wrong IMAP, Redis and sentinel password (the error paths are where a
# secret is most often echoed), and config check on files that misuse a secret
# (inline password, a too-short key). Then every output, every Redis key name and value (streams
# with XRANGE, hashes, sorted sets, strings), Redis's own files (AOF) are searched for each
# secret, for its hex and base64 forms, and for the base64 of an AUTHENTICATE PLAIN response.
set -euo pipefail
source "$BH_SOURCE_DIR/tests/integration/worker_lib.sh"
worker_setup
fail() { echo "FAIL: $*" >&2; exit 1; }

rnd() { od -An -N8 -tx1 /dev/urandom | tr -d ' \n'; }
IMAP_SECRET="imapSECRETpw-$(rnd)"
REDIS_SECRET="redisSECRETpw-$(rnd)"
VERP_SECRET="verpSECRETkey-$(rnd)-0123456789" # 46 bytes: a valid key
WRONG_IMAP="wrongIMAPsecret-$(rnd)"
WRONG_REDIS="wrongREDISsecret-$(rnd)"
INLINE_SECRET="inlineSECRET-$(rnd)"
SHORT_KEY="shortKEY$(rnd | head -c 6)"
SENTINEL_SECRET="sentinelSECRETpw-$(rnd)"
WRONG_SENTINEL="wrongSENTINELsecret-$(rnd)"

# the servers take the distinctive passwords
sed -i "s/^$DOVECOT_USER:{PLAIN}[^:]*:/$DOVECOT_USER:{PLAIN}$IMAP_SECRET:/" "$T/dv/passwd"
grep -q "$IMAP_SECRET" "$T/dv/passwd" || fail "could not set the IMAP password"
rcli config set requirepass "$REDIS_SECRET" >/dev/null
export REDISCLI_AUTH=$REDIS_SECRET
[ "$(rcli ping)" = PONG ] || fail "Redis does not take the password"

printf '%s' "$IMAP_SECRET" >"$T/imap.pw"
printf '%s' "$REDIS_SECRET" >"$T/redis.pw"
printf '%s' "$VERP_SECRET" >"$T/verp.key"
# config with the Redis password (write_config has no Redis password line)
cfg() { # FILE IMAP_PW_FILE REDIS_PW_FILE
	write_config tls "$DOVECOT_IMAPS_PORT" "$DOVECOT_CA" 127.0.0.1
	sed -e "s|^  prefix: t$|  prefix: t\n  password_file: $3|" \
		-e "s|^  password_file: $T/imap.pw$|  password_file: $2|" "$T/bouncer.yaml" >"$1"
}
cfg "$T/good.yaml" "$T/imap.pw" "$T/redis.pw"
grep -q "password_file: $T/redis.pw" "$T/good.yaml" || fail "no Redis password in the config"
printf '%s' "$WRONG_IMAP" >"$T/wrong-imap.pw"
printf '%s' "$WRONG_REDIS" >"$T/wrong-redis.pw"
cfg "$T/wrong-imap.yaml" "$T/wrong-imap.pw" "$T/redis.pw"
cfg "$T/wrong-redis.yaml" "$T/imap.pw" "$T/wrong-redis.pw"
# a password written inline, and a key too short to be accepted
sed "s|^  password_file: $T/imap.pw$|  password: $INLINE_SECRET|" "$T/good.yaml" >"$T/inline.yaml"
printf '%s' "$SHORT_KEY" >"$T/short.key"
sed "s|file: $T/verp.key|file: $T/short.key|" "$T/good.yaml" >"$T/short.yaml"
B() { "$BOUNCER" "$@"; }

# --- a small mailbox: hard, soft, complaint-like auto-reply, forged VERP, junk
G="-c $T/good.yaml"
make_dsn "$T/m1.eml" "$(B verp encode $G --list news alice@example.net)" alice@example.net 5.1.1 \
	"550 5.1.1 <alice@example.net>: Recipient address rejected: User unknown"
make_dsn "$T/m2.eml" "$(B verp encode $G --list promo carol@example.org)" carol@example.org 4.2.2 \
	"452 4.2.2 Mailbox full"
make_autoreply "$T/m3.eml" "$(B verp encode $G --list news bob@example.net)"
forged=$(B verp encode $G --list news erin@example.net | sed 's/=\([a-z0-9]*\)@/=aaaaaaaaaaaaaaaa@/')
make_dsn "$T/m4.eml" "$forged" erin@example.net 5.1.1 "550 5.1.1 User unknown"
printf 'junk\001 not mail\n' >"$T/m5.eml"
for m in m1 m2 m3 m4 m5; do dovecot_deliver "$T/$m.eml"; done

O=$T/out
mkdir -p "$O"
run() { # NAME ARGS...: run bouncer, keep stdout and stderr, never fail here
	local name=$1
	shift
	"$BOUNCER" "$@" >"$O/$name.out" 2>"$O/$name.err" || echo "$name: exit $?" >>"$O/status"
}
run check config check -c "$T/good.yaml"
grep -q '"\*\*\*"\|\*\*\*' "$O/check.out" || fail "config check does not show secrets as ***"
run check_inline config check -c "$T/inline.yaml"
run check_short config check -c "$T/short.yaml"
grep -q . "$O/check_short.err" || fail "a short key was not reported"
run health health -c "$T/good.yaml"
run dry once -c "$T/good.yaml" --dry-run -v -v
run once once -c "$T/good.yaml" -v -v
[ "$(dovecot_count INBOX)" = 0 ] || fail "the mailbox was not drained: $(cat "$O/once.err" | tail -5)"
[ "$(rcli --scan --pattern '{t}:sup:*' | wc -l)" -ge 1 ] || fail "nothing was stored"
# the wrong passwords: `run` until the failure is logged (once would back off for long)
run_until() { # NAME CONFIG PATTERN
	local pid
	"$BOUNCER" run -c "$2" -v -v >"$O/$1.out" 2>"$O/$1.err" &
	pid=$!
	BG_PIDS="${BG_PIDS:-} $pid" # the cleanup trap stops it if we fail; the sentinel's PID stays
	wait_for grep -q "$3" "$O/$1.err" || fail "$1: no '$3' in the log"
	kill -TERM "$pid"
	wait "$pid" || true
	BG_PIDS=${BG_PIDS/ $pid/}
}
make_dsn "$T/m6.eml" "$(B verp encode $G --list news dan@example.net)" dan@example.net 5.1.1 \
	"550 5.1.1 User unknown"
dovecot_deliver "$T/m6.eml" # something to store, so that Redis is asked
run_until wrong_imap "$T/wrong-imap.yaml" '"event":"unavailable".*imap'
run_until wrong_redis "$T/wrong-redis.yaml" '"event":"unavailable".*redis'
run wrong_redis_health health -c "$T/wrong-redis.yaml"
grep -qi 'auth\|password\|WRONGPASS\|NOAUTH\|denied\|invalid' "$O/wrong_redis.err" "$O/wrong_redis_health.out" \
	"$O/wrong_redis_health.err" || fail "a wrong Redis password was not reported"
# --- a sentinel with requirepass in front of the same Redis: right and wrong password
SP=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
mkdir -p "$T/sentinel" # outside $O: sentinel.conf holds the secrets by design
cat >"$T/sentinel/sentinel.conf" <<CONF
port $SP
bind 127.0.0.1
dir $T/sentinel
logfile $T/sentinel/sentinel.log
sentinel monitor m 127.0.0.1 $REDIS_PORT 1
sentinel auth-pass m $REDIS_SECRET
requirepass $SENTINEL_SECRET
CONF
redis-server "$T/sentinel/sentinel.conf" --sentinel </dev/null >/dev/null 2>&1 &
BG_PIDS="${BG_PIDS:-} $!"
sentinel_up() { REDISCLI_AUTH=$SENTINEL_SECRET redis-cli -p "$SP" ping 2>/dev/null | grep -q PONG; }
wait_for sentinel_up || fail "the sentinel did not start"
printf '%s' "$SENTINEL_SECRET" >"$T/sentinel.pw"
printf '%s' "$WRONG_SENTINEL" >"$T/wrong-sentinel.pw"
scfg() { # FILE SENTINEL_PW_FILE: good.yaml, the master found through the sentinel
	sed "s|^  prefix: t$|  prefix: t\n  sentinels: [\"127.0.0.1:$SP\"]\n  master_name: m\n  sentinel_password_file: $2|" \
		"$T/good.yaml" >"$1"
}
scfg "$T/sentinel.yaml" "$T/sentinel.pw"
scfg "$T/wrong-sentinel.yaml" "$T/wrong-sentinel.pw"
run check_sentinel config check -c "$T/sentinel.yaml"
grep -q '^  sentinel_password: "\*\*\*"$' "$O/check_sentinel.out" ||
	fail "config check does not show the sentinel password as ***"
run health_sentinel health -c "$T/sentinel.yaml"
grep -q "redis: ok .*sentinels" "$O/health_sentinel.out" ||
	fail "health does not reach Redis through the protected sentinel: $(cat "$O/health_sentinel.err")"
make_dsn "$T/m7.eml" "$(B verp encode $G --list news fay@example.net)" fay@example.net 5.1.1 \
	"550 5.1.1 User unknown"
dovecot_deliver "$T/m7.eml"
run_until wrong_sentinel "$T/wrong-sentinel.yaml" '"event":"unavailable".*redis'
grep -q "sentinel 127.0.0.1:$SP: AUTH: WRONGPASS" "$O/wrong_sentinel.err" ||
	fail "a wrong sentinel password was not reported"
run wrong_sentinel_health health -c "$T/wrong-sentinel.yaml"
run once_sentinel once -c "$T/sentinel.yaml" -v -v
[ "$(dovecot_count INBOX)" = 0 ] || fail "not drained through the sentinel: $(tail -5 "$O/once_sentinel.err")"

run tail events tail -c "$T/good.yaml" -n 1000 --json
run stats stats -c "$T/good.yaml" --json
run list suppression list -c "$T/good.yaml" --json
run export suppression export -c "$T/good.yaml" --format jsonl
run explain explain -c "$T/good.yaml" alice@example.net
run scheck suppression check -c "$T/good.yaml" alice@example.net news
[ -s "$O/tail.out" ] || fail "events tail printed nothing"

# --- everything Redis holds
rcli --scan >"$O/redis.keys"
while IFS= read -r k; do
	case $(rcli type "$k") in
	stream) rcli xrange "$k" - + ;;
	hash) rcli hgetall "$k" ;;
	zset) rcli zrange "$k" 0 -1 withscores ;;
	set) rcli smembers "$k" ;;
	list) rcli lrange "$k" 0 -1 ;;
	string) rcli get "$k" ;;
	esac
done <"$O/redis.keys" >"$O/redis.values"
[ "$(grep -c . "$O/redis.keys")" -ge 3 ] || fail "Redis holds too little to be a real test"
grep -q 'alice@example.net' "$O/redis.values" || fail "the Redis dump misses the events"
rcli config get requirepass >/dev/null # (the test's own call; its reply is not kept)
cp -r "$REDIS_DIR" "$O/redis-files"
rm -f "$O/redis-files/redis.log"

# --- the search: each secret, raw, hex, base64, and AUTH PLAIN's base64 for the IMAP user
forms=()
for s in "$IMAP_SECRET" "$REDIS_SECRET" "$VERP_SECRET" "$WRONG_IMAP" "$WRONG_REDIS" \
	"$INLINE_SECRET" "$SHORT_KEY" "$SENTINEL_SECRET" "$WRONG_SENTINEL"; do
	forms+=("$s")
	forms+=("$(printf '%s' "$s" | od -An -tx1 | tr -d ' \n')")
	forms+=("$(printf '%s' "$s" | base64 -w0 | tr -d '=')")
	forms+=("$(printf '%s' "$s" | head -c 12)") # a cut prefix is a leak too
done
forms+=("$(printf '\0%s\0%s' "$DOVECOT_USER" "$IMAP_SECRET" | base64 -w0)")
forms+=("$(printf '%s\0%s\0%s' "$DOVECOT_USER" "$DOVECOT_USER" "$IMAP_SECRET" | base64 -w0)")
leaks=0
for f in "${forms[@]}"; do
	if hits=$(grep -rlaF -- "$f" "$O"); then
		echo "LEAK: '$f' found in: $hits" >&2
		grep -raF -- "$f" "$O" | head -3 >&2
		leaks=$((leaks + 1))
	fi
done
[ "$leaks" = 0 ] || fail "$leaks secret forms leaked"
files=$(find "$O" -type f | wc -l)
lines=$(cat "$O"/*.out "$O"/*.err | wc -l)
echo "ok: ${#forms[@]} secret forms absent from $files files ($lines output lines, $(wc -l <"$O/redis.keys") Redis keys)"
[ -f "$O/status" ] && sed 's/^/  /' "$O/status"
exit 0

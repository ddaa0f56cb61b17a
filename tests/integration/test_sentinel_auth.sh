#!/usr/bin/env bash
# test_sentinel_auth.sh - sentinels that require a password (docs/scale-out.md). A Redis master
# with its own requirepass and one sentinel (Redis >= 5 requirepass, plus an ACL user) on free
# loopback ports. bouncer finds the master through the sentinel with the right password (from a
# file, and an ACL user with its password from the environment) and writes to it; a wrong or a
# missing sentinel password gives a clear error naming the sentinel, exit 69, no crash, and no
# secret in any output.
set -u
. "$BH_SOURCE_DIR/tests/lib/redis.sh"

tmp=$(mktemp -d)
SENT_PID=
cleanup() {
	if [ -n "$SENT_PID" ]; then
		kill "$SENT_PID" 2>/dev/null
		wait "$SENT_PID" 2>/dev/null
	fi
	stop_redis
	rm -rf "$tmp"
}
trap cleanup EXIT
start_redis "$tmp/redis" || exit $?

fail=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fail=1; }
rnd() { od -An -N8 -tx1 /dev/urandom | tr -d ' \n'; }
MASTER_PW="masterPW-$(rnd)"
SENT_PW="sentinelPW-$(rnd)"
ACL_PW="sentinelACL-$(rnd)"
WRONG_PW="wrongSentinelPW-$(rnd)"
redis_cli config set requirepass "$MASTER_PW" >/dev/null
export REDISCLI_AUTH=$MASTER_PW
[ "$(redis_cli ping)" = PONG ] || { echo "the master does not take its password"; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
start_sentinel() {
	local attempt
	mkdir -p "$tmp/sentinel"
	for attempt in 1 2 3; do
		SP=$(free_port)
		cat >"$tmp/sentinel/sentinel.conf" <<CONF
port $SP
bind 127.0.0.1
dir $tmp/sentinel
logfile $tmp/sentinel/sentinel.log
sentinel monitor m 127.0.0.1 $REDIS_PORT 1
sentinel auth-pass m $MASTER_PW
requirepass $SENT_PW
user watcher on >$ACL_PW +@all
CONF
		redis-server "$tmp/sentinel/sentinel.conf" --sentinel </dev/null >/dev/null 2>&1 &
		SENT_PID=$!
		for _ in $(seq 1 100); do
			REDISCLI_AUTH=$SENT_PW redis-cli -p "$SP" ping 2>/dev/null | grep -q PONG && return 0
			kill -0 "$SENT_PID" 2>/dev/null || break
			sleep 0.05
		done
		kill "$SENT_PID" 2>/dev/null
		wait "$SENT_PID" 2>/dev/null
		SENT_PID=
	done
	return 1
}
start_sentinel || { echo "redis-server --sentinel did not start"; tail -5 "$tmp/sentinel/sentinel.log"; exit 1; }
[ "$(env -u REDISCLI_AUTH redis-cli -p "$SP" sentinel get-master-addr-by-name m 2>&1 | head -1)" = "NOAUTH Authentication required." ] &&
	ok "the sentinel refuses an unauthenticated client" || bad "the sentinel does not require a password"

printf '%s\n' "$MASTER_PW" >"$tmp/master.pw"
printf '%s\n' "$SENT_PW" >"$tmp/sentinel.pw"
printf '%s\n' "$WRONG_PW" >"$tmp/wrong.pw"
# cfg FILE EXTRA_REDIS_LINES: the sentinel in front; redis.port points at nothing useful
cfg() {
	cat >"$1" <<YAML
imap:
  host: 127.0.0.1
  user: bounces
  password_env: BH_TEST_IMAP_PASSWORD
verp:
  domain: bounce.example.org
  keys:
    - {id: k1, env: BH_TEST_VERP_KEY}
redis:
  port: 1
  prefix: sa
  password_file: $tmp/master.pw
  sentinels: ["127.0.0.1:$SP"]
  master_name: m
  connect_timeout: 500ms
$2
YAML
}
export BH_TEST_IMAP_PASSWORD=x BH_TEST_VERP_KEY=0123456789abcdef0123456789abcdef
cfg "$tmp/good.yaml" "  sentinel_password_file: $tmp/sentinel.pw"
cfg "$tmp/acl.yaml" "  sentinel_user: watcher
  sentinel_password_env: BH_TEST_SENTINEL_PW"
cfg "$tmp/wrong.yaml" "  sentinel_password_file: $tmp/wrong.pw"
cfg "$tmp/none.yaml" ""
O=$tmp/out
mkdir -p "$O"
# run NAME WANT_RC ARGS...: run bouncer with stdout/stderr kept in $O, check the exit status
run() {
	local name=$1 want=$2 got
	shift 2
	"$BOUNCER" "$@" >"$O/$name.out" 2>"$O/$name.err"
	got=$?
	if [ "$got" -eq "$want" ]; then ok "$name (exit $got)"; else
		bad "$name: exit $got, want $want"; cat "$O/$name.out" "$O/$name.err"; fi
}

# --- config check shows the secret as ***
run check 0 config check -c "$tmp/good.yaml"
grep -q '^  sentinel_password: "\*\*\*"$' "$O/check.out" && ok "config check prints sentinel_password as ***" ||
	bad "config check does not show sentinel_password as ***"

# --- the right password: the master is found and written to
run good_add 0 suppression add ops@example.com --list news --why "sentinel auth" -c "$tmp/good.yaml"
[ "$(redis_cli --scan --pattern '{sa}:sup:*' | wc -l)" -ge 1 ] && ok "written on the master found through the sentinel" ||
	bad "nothing written on the master"
run good_check 0 suppression check ops@example.com --list news -c "$tmp/good.yaml"
BH_TEST_SENTINEL_PW=$ACL_PW run acl_check 0 suppression check ops@example.com --list news -c "$tmp/acl.yaml"
BH_TEST_SENTINEL_PW=$SENT_PW run acl_wrong 69 suppression check ops@example.com --list news -c "$tmp/acl.yaml"
grep -q "sentinel 127.0.0.1:$SP: AUTH: WRONGPASS" "$O/acl_wrong.err" && ok "ACL user with the wrong password reported" ||
	{ bad "ACL user with the wrong password not reported"; cat "$O/acl_wrong.err"; }

# --- a wrong password: a clear error naming the sentinel, exit 69
run wrong 69 suppression check ops@example.com --list news -c "$tmp/wrong.yaml"
grep -q "sentinel 127.0.0.1:$SP: AUTH: WRONGPASS" "$O/wrong.err" && ok "wrong password reported" ||
	{ bad "wrong password not reported"; cat "$O/wrong.err"; }
[ -s "$O/wrong.out" ] && bad "stdout when the sentinel refuses"

# --- no password: the sentinel's NOAUTH is explained
run none 69 suppression check ops@example.com --list news -c "$tmp/none.yaml"
grep -q "sentinel 127.0.0.1:$SP requires a password: set redis.sentinel_password_file" "$O/none.err" &&
	ok "missing password reported" || { bad "missing password not reported"; cat "$O/none.err"; }

# --- no secret in any output
leaks=0
for s in "$MASTER_PW" "$SENT_PW" "$ACL_PW" "$WRONG_PW"; do
	if grep -rlaF -- "$s" "$O" >/dev/null; then
		bad "secret ${s%%-*} leaked: $(grep -rlaF -- "$s" "$O" | tr '\n' ' ')"
		leaks=$((leaks + 1))
	fi
done
[ "$leaks" = 0 ] && ok "no secret in $(find "$O" -type f | wc -l) output files"
exit $fail

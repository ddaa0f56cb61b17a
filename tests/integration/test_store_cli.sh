#!/usr/bin/env bash
# test_store_cli.sh - every ops command (`suppression check|show|list|add|remove|export`,
# `explain`, `events tail [-f]`, `stats`) against a real redis-server holding state written by
# the store itself (test_store --populate applies a fixed set of classified messages), plus the
# config error (78), Redis-down (69) and usage (64) exits.
set -u
. "$BH_SOURCE_DIR/tests/lib/redis.sh"

tmp=$(mktemp -d)
follow_pid=
cleanup() {
	[ -n "$follow_pid" ] && kill "$follow_pid" 2>/dev/null
	stop_redis
	rm -rf "$tmp"
}
trap cleanup EXIT
start_redis "$tmp/redis" || exit $?

fail=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fail=1; }
# expect_rc WANT DESC CMD... : run CMD, compare its exit status
expect_rc() {
	local want=$1 desc=$2 got
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	if [ "$got" -eq "$want" ]; then ok "$desc (exit $got)"; else
		bad "$desc: exit $got, want $want"; cat "$tmp/out" "$tmp/err"; fi
}
# expect_out PATTERN DESC : the last command's stdout matches the extended regex
expect_out() {
	if grep -Eq -- "$1" "$tmp/out"; then ok "$2"; else
		bad "$2: no /$1/ in:"; cat "$tmp/out"; fi
}
# expect_json PYEXPR DESC : a Python expression over j (the last stdout, one JSON document)
# is true; expect_jsonl: the same with j the list of the JSON Lines
_json_eval() {
	if python3 - "$tmp/out" "$1" "$3" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
if sys.argv[3] == "lines":
    j = [json.loads(l) for l in text.splitlines() if l.strip()]
else:
    j = json.loads(text)
sys.exit(0 if eval(sys.argv[2]) else 1)
PY
	then ok "$2"; else bad "$2: $1 is false for:"; cat "$tmp/out"; fi
}
expect_json() { _json_eval "$1" "$2" doc; }
expect_jsonl() { _json_eval "$1" "$2" lines; }

cat >"$tmp/bouncer.yaml" <<YAML
imap:
  host: 127.0.0.1
  user: bounces
  password_env: BH_TEST_IMAP_PASSWORD
verp:
  domain: bounce.example.org
  keys:
    - {id: k1, env: BH_TEST_VERP_KEY}
redis:
  host: 127.0.0.1
  port: 1
  prefix: ops
YAML
export BH_TEST_IMAP_PASSWORD=x BH_TEST_VERP_KEY=0123456789abcdef0123456789abcdef
# The file names port 1: the override must win (BOUNCER_REDIS_PORT is documented for tests/ops).
export BOUNCER_REDIS_PORT=$REDIS_PORT
B() { "$BOUNCER" "$@" -c "$tmp/bouncer.yaml"; }

"$BH_BUILD_DIR/test_store" --populate "$REDIS_PORT" ops || { echo "populate failed"; exit 1; }

# --- suppression check: exit 0 suppressed, 1 not, and why
expect_rc 0 "check hard bounce in its list" B suppression check Gone@EXAMPLE.com --list news
expect_out '^suppressed: Gone@example.com in list news: userunknown \(hard, bounce\)' "check says why"
expect_out 'bounce: <p-hard@mx.example> status 5.1.1 rule test-rule' "check names the bounce"
expect_rc 0 "check with the list as a second argument" B suppression check Gone@example.com news
expect_rc 1 "local part is case-sensitive" B suppression check gone@example.com --list news
expect_out '^not suppressed: gone@example.com in list news' "check says not suppressed"
expect_rc 1 "list suppression does not cover other lists" B suppression check Gone@example.com --list promo
expect_rc 0 "global complaint covers every list" B suppression check angry@example.com --list promo --json
expect_json 'j["suppressed"] and j["suppression"]["scope"] == "global" and j["suppression"]["class"] == "complaint"' "check --json"
expect_rc 0 "IDN domain normalized on input" B suppression check 'angry@EXAMPLE.com.'
expect_rc 1 "delayed is never counted" B suppression check slow@example.com --list news
expect_rc 1 "sender-side failure does not suppress" B suppression check b@blocky.example --list promo
# An address the grammar refuses is bad data (65, EX_DATAERR), not an unavailable service.
expect_rc 65 "invalid address" B suppression check not-an-address

# --- show
expect_rc 0 "show" B suppression show full@example.org
expect_out 'full@example.org in list news: mailboxfull \(soft, bounce\)' "show soft suppression"
expect_out 'expires 20[0-9-]+T' "show time-limited expiry"
expect_rc 0 "show --json" B suppression show full@example.org --json
expect_json 'len(j["suppressions"]) == 1 and j["suppressions"][0]["expires"] is not None' "show --json expiry"

# --- list (SCAN) with filters
expect_rc 0 "list" B suppression list
expect_out '^3 suppressions$' "list counts 3"
expect_rc 0 "list --reason" B suppression list --reason feedback --json
expect_jsonl 'len(j) == 1 and j[0]["address"] == "angry@example.com"' "list --reason feedback"
expect_rc 0 "list --list" B suppression list --list news --json
expect_jsonl 'sorted(x["address"] for x in j) == ["Gone@example.com", "full@example.org"]' "list --list news"
expect_rc 0 "list --list - (global only)" B suppression list --list - --json
expect_jsonl 'len(j) == 1 and j[0]["list"] is None' "list global only"
expect_rc 0 "list --since future" B suppression list --since 2099-01-01 --json
expect_jsonl 'j == []' "list --since excludes older"
expect_rc 0 "list --since 1h" B suppression list --since 1h
expect_out '^3 suppressions$' "list --since 1h keeps recent ones"
expect_rc 64 "list --since garbage" B suppression list --since yesterdayish

# --- explain: newest first, with the evidence
expect_rc 0 "explain" B explain full@example.org --json
expect_json 'len(j["events"]) == 3 and [e["stable_id"] for e in j["events"]] == ["p-soft2", "p-soft1", "p-soft0"]' "explain newest first"
expect_json 'j["events"][0]["result"] == "counted 3/3 suppressed" and j["events"][2]["result"] == "counted 1/3"' "explain shows the count reaching the threshold"
expect_rc 0 "explain hard" B explain Gone@example.com --json
expect_json 'all(j["events"][0].get(k) for k in ("stable_id","message_id","reporting_mta","status","reply_code","diagnostic","rule","rules_version","list","address","outcome","action","folder","uid","uidvalidity"))' "every event carries the evidence"
expect_json 'j["events"][0]["rules_version"] == "rules-2026.11" and j["events"][0]["folder"] == "bouncer/processed"' "evidence values"
expect_rc 0 "explain human" B explain Gone@example.com
expect_out 'kind=bounce address=Gone@example.com list=news reason=userunknown outcome=suppress result=suppressed' "explain human line"
if grep -q $'\x1b' "$tmp/out"; then bad "escape byte from a diagnostic reached the terminal"; else ok "diagnostic made printable"; fi

# --- add / remove are events too
expect_rc 64 "add needs --why" B suppression add ops@example.com
expect_rc 0 "add" B suppression add ops@example.com --list News --why "asked by phone" --for 2d
expect_out '^suppressed ops@example.com in list news \(time-limited\)' "add output"
expect_rc 0 "check after add" B suppression check ops@example.com --list news
expect_rc 0 "remove" B suppression remove ops@example.com --list news --why "resubscribed"
expect_out '^removed ops@example.com in list news' "remove output"
expect_rc 0 "remove again" B suppression remove ops@example.com --list news --why "again" --json
expect_json 'j["changed"] is False' "remove again changes nothing"
expect_rc 1 "check after remove" B suppression check ops@example.com --list news
expect_rc 0 "explain manual changes" B explain ops@example.com --json
expect_json '[e["kind"] for e in j["events"]] == ["manual_remove", "manual_remove", "manual_add"] and j["events"][1]["why"] == "resubscribed"' "manual changes recorded"

# --- export
expect_rc 0 "export csv" B suppression export --format csv
expect_out '^address,list,reason,class,source,count,first_seen,last_seen,expires,why,message_id,status,rule' "csv header"
if [ "$(wc -l <"$tmp/out")" -eq 4 ]; then ok "csv rows"; else bad "csv rows: $(wc -l <"$tmp/out")"; cat "$tmp/out"; fi
python3 -c 'import csv,sys; r=list(csv.DictReader(open(sys.argv[1]))); sys.exit(0 if {x["address"] for x in r}=={"Gone@example.com","full@example.org","angry@example.com"} else 1)' "$tmp/out" && ok "csv parses" || bad "csv parses"
expect_rc 0 "export jsonl" B suppression export --format jsonl --reason userunknown
expect_jsonl 'len(j) == 1 and j[0]["reason"] == "userunknown"' "jsonl export"
expect_rc 64 "export needs a format" B suppression export
expect_rc 64 "export unknown format" B suppression export --format xml

# --- events tail
expect_rc 0 "events tail -n 2" B events tail -n 2 --json
expect_jsonl 'len(j) == 2 and j[1]["kind"] == "manual_remove" and j[0]["kind"] == "manual_remove"' "tail oldest first, newest last"
expect_rc 0 "events tail human" B events tail -n 20
expect_out 'kind=delayed address=slow@example.com list=news reason=mailboxfull outcome=record' "tail shows the delayed one recorded, not counted"
expect_out 'loop=bounce_of_bounce' "tail shows the loop"
"$BOUNCER" events tail -f -n 1 --json -c "$tmp/bouncer.yaml" >"$tmp/follow" 2>&1 &
follow_pid=$!
sleep 1
B suppression add late@example.com --why "during follow" >/dev/null
for i in $(seq 1 50); do grep -q late@example.com "$tmp/follow" && break; sleep 0.1; done
if grep -q '"address":"late@example.com"' "$tmp/follow"; then ok "tail -f sees a new event"; else bad "tail -f"; cat "$tmp/follow"; fi
kill "$follow_pid"; wait "$follow_pid" 2>/dev/null; follow_pid=

# --- stats
expect_rc 0 "stats" B stats --json
expect_json 'j["loops"]["last_day"] == 1 and j["suppressed_total"] == 4' "stats loops and suppressions"
expect_json 'any(r["list"] == "news" and r["reason"] == "mailboxfull" and r["outcome"] == "count" and r["last_hour"] == 3 for r in j["events"])' "stats per list and reason"
expect_rc 0 "stats human" B stats
expect_out '^loops: 1 in the last hour, 1 in the last day' "stats human loops"

# --- Redis crashes (SIGKILL) and comes back: confirmed state survives (AOF), the CLI reconnects
restart_redis hard || { bad "redis did not restart"; exit 1; }
expect_rc 0 "suppression survives a Redis crash" B suppression check Gone@example.com --list news
expect_rc 0 "manual suppression survives a Redis crash" B suppression check late@example.com

# --- AUTH: a password (requirepass), then an ACL user with the commands the CLI needs
redis_cli CONFIG SET requirepass s3cret >/dev/null
sed 's/^  prefix: ops$/  prefix: ops\n  password_env: BH_TEST_REDIS_PASSWORD/' "$tmp/bouncer.yaml" >"$tmp/auth.yaml"
export BH_TEST_REDIS_PASSWORD=s3cret
expect_rc 0 "AUTH with a password" "$BOUNCER" suppression check Gone@example.com --list news -c "$tmp/auth.yaml"
BH_TEST_REDIS_PASSWORD=wrong expect_rc 69 "wrong password" "$BOUNCER" suppression check Gone@example.com --list news -c "$tmp/auth.yaml"
redis_cli -a s3cret --no-auth-warning ACL SETUSER opsuser on '>u53r' '~{ops}:*' '+@all' >/dev/null
sed 's/^  prefix: ops$/  prefix: ops\n  user: opsuser\n  password_env: BH_TEST_REDIS_PASSWORD/' "$tmp/bouncer.yaml" >"$tmp/acl.yaml"
BH_TEST_REDIS_PASSWORD=u53r expect_rc 0 "AUTH as an ACL user" "$BOUNCER" suppression check Gone@example.com --list news -c "$tmp/acl.yaml"
redis_cli -a s3cret --no-auth-warning CONFIG SET requirepass '' >/dev/null

# --- errors
expect_rc 78 "bad config file" "$BOUNCER" stats -c "$tmp/missing.yaml"
expect_rc 64 "unknown subcommand" B suppression frobnicate
expect_rc 64 "unknown option" B stats --frob
stop_redis
expect_rc 69 "Redis down" B suppression check Gone@example.com --list news
if [ -s "$tmp/out" ]; then bad "stdout when Redis is down"; else ok "nothing on stdout when Redis is down"; fi

exit $fail

# faults.sh - the fault-injection drain shared by tests/integration/test_faults.sh (short) and
# tests/long/test_faults_long.sh (long). Source it, then:
#
#   faults_main MESSAGES KILLS REDIS_RESTARTS IMAP_KICKS DOVECOT_RESTARTS
#
# 1. bouncegen.py writes MESSAGES real-looking bounces (corpus shapes, re-addressed, signed VERP).
# 2. Undisturbed: they go into the mailbox `calm`, `bouncer once` drains it (Redis prefix
#    `calm`, folders calm/*).
# 3. Disturbed: the same files go into INBOX in chunks while `bouncer run` drains it (prefix `t`,
#    folders bouncer/*), and between chunks, at random moments, one fault of a shuffled schedule:
#    SIGKILL bouncer (then start it again), SIGKILL redis-server (start it again after a random
#    pause), drop the IMAP connections (doveadm kick), or stop and start Dovecot.
# 4. Both Redis states, normalized (tests/lib/faultcmp.py), must be equal: same suppressions,
#    counts, stats, events, no event applied twice; every message must be in exactly one folder,
#    the same one as in the undisturbed run.
# FAULTS_SEED replays a run (its value is printed). Exit status: 0 equal, 1 not.

source "$BH_SOURCE_DIR/tests/integration/worker_lib.sh"

_f_rand() { # LO HI: a random integer in [LO, HI] from the seeded $RANDOM
	echo $(($1 + RANDOM % ($2 - $1 + 1)))
}

_f_sleep_ms() {
	sleep "$(printf '0.%03d' "$1")"
}

# _f_config FILE MAILBOX FOLDERPREFIX
_f_config() {
	cat >"$1" <<EOF
imap:
  host: 127.0.0.1
  port: $DOVECOT_IMAPS_PORT
  tls: tls
  ca_file: $DOVECOT_CA
  user: $DOVECOT_USER
  password_file: $T/imap.pw
  auth: plain
  mailbox: $2
  processed_folder: $3/processed
  ignored_folder: $3/ignored
  quarantine_folder: $3/quarantine
  batch_size: ${FAULTS_BATCH:-50}
  poll_interval: 1s
  idle: true
  timeout: 10s
redis:
  host: 127.0.0.1
  port: $REDIS_PORT
  prefix: ${4:-t}
  connect_timeout: 1s
verp:
  format: signed
  domain: bounces.example.com
  prefix: bounces
  keys:
    - {id: k1, file: $T/verp.key}
limits:
  message_size: 1MB
lists:
  news:
  promo:
log_format: json
EOF
}

# _f_deliver DIR FILES...: put files into a Maildir folder's new/ (what an MTA does: write in
# tmp/, then rename into new/); the generated names (00042.eml) are unique in a folder
_f_deliver() {
	python3 - "$@" <<'PY'
import os, shutil, sys
d, files = sys.argv[1], sys.argv[2:]
uid = gid = None
if os.getuid() == 0:  # Dovecot reads the mail as nobody (tests/lib/dovecot.sh)
    import pwd
    uid, gid = pwd.getpwnam("nobody").pw_uid, pwd.getpwnam("nobody").pw_gid
for sub in ("", "tmp", "new", "cur"):
    os.makedirs(os.path.join(d, sub), exist_ok=True)
    if uid is not None:
        os.chown(os.path.join(d, sub), uid, gid)
for f in files:
    name = os.path.basename(f)
    tmp = os.path.join(d, "tmp", name)
    shutil.copyfile(f, tmp)
    if uid is not None:
        os.chown(tmp, uid, gid)
    os.rename(tmp, os.path.join(d, "new", name))  # one atomic step, as an MTA does
PY
}

_f_dovecot_restart() {
	doveadm -c "$DOVECOT_DIR/dovecot.conf" stop >/dev/null 2>&1 || true
	local i
	for i in $(seq 1 100); do
		[ -e "$DOVECOT_BASE/master.pid" ] && kill -0 "$(cat "$DOVECOT_BASE/master.pid" 2>/dev/null)" 2>/dev/null || break
		sleep 0.05
	done
	_f_sleep_ms "$(_f_rand 0 500)"
	dovecot -c "$DOVECOT_DIR/dovecot.conf" || { tail -5 "$DOVECOT_DIR/dovecot.log" >&2; return 1; }
	for i in $(seq 1 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$DOVECOT_IMAPS_PORT") 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

_f_redis_dump() { # PREFIX OUT: every key of the prefix with its value, one EVAL
	local lua='
local out, cursor = {}, "0"
repeat
  local r = redis.call("SCAN", cursor, "MATCH", ARGV[1], "COUNT", 1000)
  cursor = r[1]
  for _, k in ipairs(r[2]) do
    local t = redis.call("TYPE", k).ok
    local v = false
    if t == "hash" then v = redis.call("HGETALL", k)
    elseif t == "zset" or t == "set" then
      if t == "zset" then v = redis.call("ZRANGE", k, 0, -1) else v = redis.call("SMEMBERS", k) end
    elseif t == "list" then v = redis.call("LLEN", k)
    elseif t == "string" then v = redis.call("GET", k)
    elseif t == "stream" then v = redis.call("XRANGE", k, "-", "+") end
    out[#out + 1] = {k, t, v}
  end
until cursor == "0"
return cjson.encode(out)'
	redis-cli -p "$REDIS_PORT" --raw eval "$lua" 0 "{$1}:*" >"$2"
}

_f_start_bouncer() {
	"$BOUNCER" run -c "$T/faults.yaml" >>"$T/run.out" 2>>"$T/run.log" &
	BOUNCER_PID=$!
	BG_PIDS=$BOUNCER_PID
}

faults_main() {
	local n=$1 kills=$2 redis_n=$3 kicks=$4 dovecots=$5
	local seed=${FAULTS_SEED:-$(od -An -N3 -tu4 /dev/urandom | tr -d ' ')}
	local t0 t1 t2 i
	echo "faults: seed $seed (FAULTS_SEED=$seed replays it): $n messages, $kills kills, $redis_n Redis restarts, $kicks IMAP drops, $dovecots Dovecot restarts"
	RANDOM=$seed
	worker_setup
	fail() { echo "FAIL: $*" >&2; [ -f "$T/run.log" ] && grep -v '"level":"info"' "$T/run.log" | tail -15 >&2; exit 1; }
	t0=$(date +%s)
	python3 "$BH_SOURCE_DIR/tests/lib/bouncegen.py" --out "$T/mail" --count "$n" --seed "$seed" \
		--key-file "$T/verp.key" --domain bounces.example.com || fail "bouncegen failed"
	local files=("$T"/mail/*.eml)
	[ "${#files[@]}" = "$n" ] || fail "bouncegen wrote ${#files[@]} messages, want $n"

	# --- the undisturbed run
	doveadm -c "$DOVECOT_DIR/dovecot.conf" mailbox create -u "$DOVECOT_USER" calm >/dev/null
	_f_deliver "$DOVECOT_MAILDIR/.calm" "${files[@]}"
	[ "$(dovecot_count calm)" = "$n" ] || fail "calm holds $(dovecot_count calm), want $n"
	_f_config "$T/calm.yaml" calm calm calm
	local rc=0
	"$BOUNCER" once -c "$T/calm.yaml" >"$T/calm.out" 2>"$T/calm.log" || rc=$?
	[ "$rc" = 0 ] || [ "$rc" = 1 ] || fail "undisturbed once exited $rc"
	[ "$(dovecot_count calm)" = 0 ] || fail "undisturbed run left $(dovecot_count calm) messages"
	t1=$(date +%s)
	echo "faults: undisturbed drain done in $((t1 - t0)) s (with generation)"

	# --- the disturbed run: a shuffled schedule of faults between chunks of mail
	local sched=() k
	for ((k = 0; k < kills; k++)); do sched+=(kill); done
	for ((k = 0; k < redis_n; k++)); do sched+=(redis); done
	for ((k = 0; k < kicks; k++)); do sched+=(kick); done
	for ((k = 0; k < dovecots; k++)); do sched+=(dovecot); done
	for ((i = ${#sched[@]} - 1; i > 0; i--)); do
		k=$((RANDOM % (i + 1)))
		local tmp=${sched[i]}
		sched[i]=${sched[k]}
		sched[k]=$tmp
	done
	local nf=${#sched[@]} chunk from=0 done_kills=0 done_redis=0 done_kicks=0 done_dovecot=0
	chunk=$(((n + nf - 1) / nf))
	_f_config "$T/faults.yaml" INBOX bouncer t
	_f_start_bouncer
	for ((i = 0; i < nf; i++)); do
		if ((from < n)); then
			_f_deliver "$DOVECOT_MAILDIR" "${files[@]:from:chunk}"
			from=$((from + chunk))
		fi
		# a random moment: while the chunk is being fetched, stored or moved
		_f_sleep_ms "$(_f_rand 20 600)"
		case ${sched[i]} in
		kill)
			kill -KILL "$BOUNCER_PID" 2>/dev/null || true
			wait "$BOUNCER_PID" 2>/dev/null || true
			done_kills=$((done_kills + 1))
			_f_sleep_ms "$(_f_rand 0 200)"
			_f_start_bouncer
			;;
		redis)
			stop_redis -KILL || true # (its wait returns the signal status)
			_f_sleep_ms "$(_f_rand 0 800)"
			_redis_launch || fail "redis did not start again"
			done_redis=$((done_redis + 1))
			;;
		kick)
			dovecot_kick
			done_kicks=$((done_kicks + 1))
			;;
		dovecot)
			_f_dovecot_restart || fail "dovecot did not start again"
			done_dovecot=$((done_dovecot + 1))
			;;
		esac
	done
	while ((from < n)); do
		_f_deliver "$DOVECOT_MAILDIR" "${files[@]:from:chunk}"
		from=$((from + chunk))
	done
	echo "faults: injected kill=$done_kills redis_restart=$done_redis imap_drop=$done_kicks dovecot_restart=$done_dovecot"
	# the drain completes: every message filed
	local total=0 w
	for w in $(seq 1 600); do
		total=$(($(dovecot_count bouncer/processed) + $(dovecot_count bouncer/ignored) + $(dovecot_count bouncer/quarantine)))
		[ "$(dovecot_count INBOX)" = 0 ] && [ "$total" -ge "$n" ] && break
		kill -0 "$BOUNCER_PID" 2>/dev/null || fail "bouncer run died on its own"
		sleep 0.2
	done
	[ "$(dovecot_count INBOX)" = 0 ] || fail "INBOX still holds $(dovecot_count INBOX) messages"
	sleep 0.5
	kill -TERM "$BOUNCER_PID"
	rc=0
	wait "$BOUNCER_PID" || rc=$?
	BG_PIDS=
	[ "$rc" = 0 ] || fail "bouncer run exited $rc after SIGTERM"
	t2=$(date +%s)
	echo "faults: disturbed drain done in $((t2 - t1)) s; $(grep -c '"event":"imap_connected"' "$T/run.log") IMAP connections, $(grep -c '"event":"unavailable"' "$T/run.log") outages logged, $(grep -c '"store":"duplicate"' "$T/run.log") decisions found already applied (stored, killed before the move)"

	# --- sanitizers: in the build-asan tree bouncer is the ASan + UBSan binary and LeakSanitizer
	# checks every process that exits (the undisturbed drain, the last `run`): a leak, a memory
	# error or undefined behaviour makes it exit non-zero and prints a report, found here
	if grep -q __asan_init "$BOUNCER" 2>/dev/null; then
		echo "faults: $BOUNCER is an ASan build: LeakSanitizer ${ASAN_OPTIONS:-(default options)}"
	fi
	if grep -l 'LeakSanitizer\|AddressSanitizer\|runtime error:' "$T/calm.log" "$T/run.log" >&2; then
		KEEP_T=1
		fail "a sanitizer report in the logs"
	fi

	# --- the comparison
	local cmp="$BH_SOURCE_DIR/tests/lib/faultcmp.py" ok=0
	_f_redis_dump calm "$T/calm.dump"
	_f_redis_dump t "$T/t.dump"
	python3 "$cmp" state "$T/calm.dump" calm "$T/calm.state" || ok=1
	python3 "$cmp" state "$T/t.dump" t "$T/t.state" || ok=1
	python3 "$cmp" folders "$DOVECOT_MAILDIR" "$T/calm.folders" inbox=calm processed=calm/processed \
		ignored=calm/ignored quarantine=calm/quarantine || ok=1
	python3 "$cmp" folders "$DOVECOT_MAILDIR" "$T/t.folders" inbox=INBOX processed=bouncer/processed \
		ignored=bouncer/ignored quarantine=bouncer/quarantine || ok=1
	python3 "$cmp" compare "$T/calm.state" "$T/t.state" || ok=1
	python3 "$cmp" compare "$T/calm.folders" "$T/t.folders" || ok=1
	python3 - "$T/t.folders" "$T/mail/index.tsv" <<'EOF' || ok=1
import json, sys
where = json.load(open(sys.argv[1]))["where"]
mids = [l.split("\t")[1] for l in open(sys.argv[2]) if l.strip()]
missing = [m for m in mids if m not in where]
multi = {m: v for m, v in where.items() if len(v) != 1}
extra = [m for m in where if m not in set(mids)]
print("union: {} generated, {} found, {} missing, {} in more than one folder, {} unknown".format(
    len(mids), len(where), len(missing), len(multi), len(extra)))
sys.exit(1 if missing or multi or extra else 0)
EOF
	if [ "$ok" != 0 ]; then
		KEEP_T=1
		fail "the disturbed run differs from the undisturbed one (seed $seed; kept $T)"
	fi
	echo "ok: seed $seed: $n messages, state and folders equal after $done_kills kills, $done_redis Redis restarts, $done_kicks IMAP drops, $done_dovecot Dovecot restarts ($(($(date +%s) - t0)) s)"
}

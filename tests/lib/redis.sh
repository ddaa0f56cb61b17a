# redis.sh - start a private redis-server for a test (source this file).
#
#   start_redis DIR [ARG...]  start redis-server on a free 127.0.0.1 port with its data in DIR
#                        (a mktemp -d of the caller): AOF on, fsync always, so that a write
#                        Redis confirmed survives a kill; extra ARGs go to redis-server (e.g.
#                        --cluster-enabled yes). Sets REDIS_PORT, REDIS_PID, REDIS_DIR.
#                        Returns 77 when redis-server is not installed (the caller exits 77).
#   stop_redis           stop it (SIGTERM, then wait); safe to call twice or before a start
#   restart_redis [hard] stop it (with "hard": SIGKILL, what a crash looks like) and start it
#                        again on the same port and data
#   redis_cli ARGS...    redis-cli against it
#   redis_config FILE PREFIX
#                        a bouncer.yaml for the commands that need Redis alone (ops, import,
#                        stats): this Redis, that key prefix, placeholder IMAP and VERP
#                        settings; exports the two secrets it names
#
# Cleanup: start_redis installs no trap of its own (a sourced file must not replace the
# caller's); every caller sets one, for example:
#     tmp=$(mktemp -d); trap 'stop_redis; rm -rf "$tmp"' EXIT
#     start_redis "$tmp/redis" || exit $?
# Ports are picked free on 127.0.0.1 (several tests run at once); only the process started
# here is ever signalled.

_redis_free_port() {
	# Below 55536 so that a cluster node's bus port (port + 10000) exists too.
	python3 -c '
import random, socket
for _ in range(200):
    p = random.randint(20000, 55535)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); t = socket.socket(); t.bind(("127.0.0.1", p + 10000)); t.close()
    except OSError:
        continue
    finally:
        s.close()
    print(p); break
'
}

_redis_launch() {
	# After a SIGKILL the AOF may end inside a MULTI/EXEC block (a Lua script's effects):
	# Redis 7.0's own aof-load-truncated then drops only the partial EXEC and keeps an open
	# MULTI, and writes after the next restart are lost (fixed in Valkey by valkey-io/valkey
	# #4342). redis-check-aof --fix cuts the file before that MULTI, as deploy/README.md
	# advises for production (ExecStartPre).
	local m
	for m in "$REDIS_DIR"/appendonlydir/*.manifest; do
		[ -f "$m" ] && command -v redis-check-aof >/dev/null 2>&1 &&
			{ echo y | redis-check-aof --fix "$m" >>"$REDIS_DIR/check-aof.log" 2>&1 || true; }
	done
	redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$REDIS_DIR" --save '' \
		--appendonly yes --appendfsync always --daemonize no \
		--logfile "$REDIS_DIR/redis.log" "${REDIS_EXTRA[@]}" </dev/null >/dev/null 2>&1 &
	REDIS_PID=$!
	local i
	for i in $(seq 1 100); do
		if redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; then
			return 0
		fi
		kill -0 "$REDIS_PID" 2>/dev/null || break
		sleep 0.05
	done
	kill "$REDIS_PID" 2>/dev/null
	wait "$REDIS_PID" 2>/dev/null
	REDIS_PID=
	return 1
}

start_redis() {
	command -v redis-server >/dev/null 2>&1 || { echo "redis-server not installed" >&2; return 77; }
	command -v redis-cli >/dev/null 2>&1 || { echo "redis-cli not installed" >&2; return 77; }
	REDIS_DIR=$1
	shift
	REDIS_EXTRA=("$@")
	mkdir -p "$REDIS_DIR"
	local attempt
	# The port is free when picked; another test may take it before Redis binds: try again.
	for attempt in 1 2 3; do
		REDIS_PORT=$(_redis_free_port)
		_redis_launch && return 0
	done
	echo "redis-server did not start; log:" >&2
	tail -5 "$REDIS_DIR/redis.log" >&2 2>/dev/null
	return 1
}

stop_redis() {
	if [ -n "${REDIS_PID:-}" ]; then
		kill "${1:--TERM}" "$REDIS_PID" 2>/dev/null
		wait "$REDIS_PID" 2>/dev/null
		REDIS_PID=
	fi
	return 0
}

restart_redis() {
	if [ "${1:-}" = hard ]; then
		stop_redis -KILL
	else
		stop_redis
	fi
	_redis_launch
}

redis_cli() {
	redis-cli -p "$REDIS_PORT" "$@"
}

redis_config() { # FILE PREFIX
	cat >"$1" <<YAML
imap: {host: 127.0.0.1, user: bounces, password_env: BH_TEST_IMAP_PASSWORD}
verp: {domain: bounce.example.org, keys: [{id: k1, env: BH_TEST_VERP_KEY}]}
redis: {host: 127.0.0.1, port: $REDIS_PORT, prefix: $2}
YAML
	export BH_TEST_IMAP_PASSWORD=x BH_TEST_VERP_KEY=0123456789abcdef0123456789abcdef
}

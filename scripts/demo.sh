#!/usr/bin/env bash
# demo.sh - set up a fresh Debian machine and run bouncer's main job for real:
#   install the packages (scripts/install-deps.sh), build, start a private Redis and a private
#   Dovecot on loopback (config files from deploy/demo/, templated into the state directory),
#   fill the `bounces` mailbox with sample bounces whose VERP addresses are signed with the demo
#   key, run `bouncer once`, and show the resulting suppression state.
#
#   scripts/demo.sh                     state in /tmp/bouncer-demo, servers stopped at the end
#   BOUNCER_DEMO_DIR=DIR scripts/demo.sh
#   BOUNCER_DEMO_KEEP=1 scripts/demo.sh leave Redis and Dovecot running to explore
#                                       (stop them with: scripts/demo.sh stop)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
STATE=${BOUNCER_DEMO_DIR:-/tmp/bouncer-demo}
DEMO=$ROOT/deploy/demo

# bold headings on a terminal only: a log or a pipe gets plain text
if [ -t 1 ]; then
	say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
	say() { printf '\n== %s\n' "$*"; }
fi

stop_servers() {
	if [ -f "$STATE/dovecot/dovecot.conf" ]; then
		doveadm -c "$STATE/dovecot/dovecot.conf" stop >/dev/null 2>&1 || true
	fi
	if [ -f "$STATE/redis/redis.pid" ]; then
		kill "$(cat "$STATE/redis/redis.pid")" 2>/dev/null || true
	fi
	if [ -f "$STATE/base_dir" ]; then
		rm -rf "$(cat "$STATE/base_dir")"
	fi
}

if [ "${1:-}" = stop ]; then
	stop_servers
	exit 0
fi

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# template IN OUT: replace every @NAME@ with the value of the shell variable NAME
template() {
	local line name
	: >"$2"
	while IFS= read -r line || [ -n "$line" ]; do
		while [[ $line =~ @([A-Z_]+)@ ]]; do
			name=${BASH_REMATCH[1]}
			line=${line//"@$name@"/${!name}}
		done
		printf '%s\n' "$line" >>"$2"
	done <"$1"
}

INSTALL_LOG=${TMPDIR:-/tmp}/bouncer-demo-install.log
say "1/6 packages (scripts/install-deps.sh; apt output in $INSTALL_LOG)"
if ! bash scripts/install-deps.sh >"$INSTALL_LOG" 2>&1; then
	tail -20 "$INSTALL_LOG"
	echo "demo: installing the packages failed; the whole log is $INSTALL_LOG" >&2
	exit 1
fi
echo "packages ready"

say "2/6 build"
BUILD_LOG=${TMPDIR:-/tmp}/bouncer-demo-build.log
if ! { cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build build -j"$(nproc)"; } >"$BUILD_LOG" 2>&1; then
	tail -20 "$BUILD_LOG"
	echo "demo: the build failed; the whole log is $BUILD_LOG" >&2
	exit 1
fi
BOUNCER=$ROOT/build/bouncer
"$BOUNCER" --version

say "3/6 Redis and Dovecot on loopback (state in $STATE)"
stop_servers
rm -rf "$STATE"
mkdir -p "$STATE"/{dovecot,redis,tls,secrets,mail,samples}
chmod 755 "$STATE"
REDIS_PORT=$(free_port)
IMAP_PORT=$(free_port)
IMAPS_PORT=$(free_port)
BASE_DIR=$(mktemp -d /tmp/bdemo.XXXXXX) # Dovecot's sockets: short paths
chmod 755 "$BASE_DIR"
echo "$BASE_DIR" >"$STATE/base_dir"
INTERNAL_USER=$(id -un)
INTERNAL_GROUP=$(id -gn)
LOGIN_USER=$INTERNAL_USER
MAIL_UID=$(id -u)
MAIL_GID=$(id -g)
if [ "$MAIL_UID" -eq 0 ]; then # Dovecot's processes never run as root: its own users
	INTERNAL_USER=dovecot
	INTERNAL_GROUP=dovecot
	LOGIN_USER=dovenull
	MAIL_UID=$(id -u nobody)
	MAIL_GID=$(id -g nobody)
fi

# a CA for the demo and a certificate for 127.0.0.1 / localhost
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=bouncer demo CA" \
	-keyout "$STATE/tls/ca.key" -out "$STATE/tls/ca.crt" >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$STATE/tls/server.key" \
	-out "$STATE/tls/server.csr" >/dev/null 2>&1
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$STATE/tls/ext"
openssl x509 -req -in "$STATE/tls/server.csr" -CA "$STATE/tls/ca.crt" -CAkey "$STATE/tls/ca.key" \
	-CAcreateserial -days 30 -extfile "$STATE/tls/ext" -out "$STATE/tls/server.crt" >/dev/null 2>&1

# secrets: the IMAP password and the VERP key live in files, never in the YAML
IMAP_PASSWORD=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
umask 077
printf '%s' "$IMAP_PASSWORD" >"$STATE/secrets/imap.password"
head -c 32 /dev/urandom >"$STATE/secrets/verp-demo.key"
umask 022
printf 'bounces:{PLAIN}%s:%s:%s::%s/mail/bounces::\n' "$IMAP_PASSWORD" "$MAIL_UID" "$MAIL_GID" \
	"$STATE" >"$STATE/dovecot/passwd"
chmod 644 "$STATE/dovecot/passwd"
mkdir -p "$STATE/mail/bounces/Maildir"
chown -R "$MAIL_UID:$MAIL_GID" "$STATE/mail"
chmod 755 "$STATE/tls" "$STATE/dovecot"

template "$DEMO/redis.conf.in" "$STATE/redis/redis.conf"
template "$DEMO/dovecot.conf.in" "$STATE/dovecot/dovecot.conf"
template "$DEMO/bouncer.yaml.in" "$STATE/bouncer.yaml"
if [ -z "${BOUNCER_DEMO_KEEP:-}" ]; then
	trap stop_servers EXIT
fi
redis-server "$STATE/redis/redis.conf"
dovecot -c "$STATE/dovecot/dovecot.conf"
for _ in $(seq 1 50); do
	redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 &&
		(exec 3<>"/dev/tcp/127.0.0.1/$IMAPS_PORT") 2>/dev/null && break
	sleep 0.1
done
echo "redis 127.0.0.1:$REDIS_PORT, imaps 127.0.0.1:$IMAPS_PORT (starttls :$IMAP_PORT)"
"$BOUNCER" config check -c "$STATE/bouncer.yaml" >/dev/null
"$BOUNCER" health -c "$STATE/bouncer.yaml"

say "4/6 the bounce mailbox: sample bounces, VERP addresses signed with the demo key"
for f in "$DEMO"/samples/*.eml; do
	content=$(cat "$f")
	while [[ $content =~ \{\{verp\ ([^ ]+)\ ([^}]+)\}\} ]]; do
		tok=${BASH_REMATCH[0]}
		addr=$("$BOUNCER" verp encode -c "$STATE/bouncer.yaml" --list "${BASH_REMATCH[1]}" \
			"${BASH_REMATCH[2]}")
		content=${content//"$tok"/$addr}
	done
	printf '%s\n' "$content" >"$STATE/samples/$(basename "$f")"
	doveadm -c "$STATE/dovecot/dovecot.conf" save -u bounces -m INBOX <"$STATE/samples/$(basename "$f")"
	printf '  %-40s %s\n' "$(basename "$f")" "$(grep -m1 '^Subject:' "$f" | cut -c10-)"
done
count() {
	doveadm -c "$STATE/dovecot/dovecot.conf" -f flow mailbox status -u bounces messages "$1" 2>/dev/null |
		sed -n 's/.*messages=\([0-9]*\).*/\1/p'
}
echo "INBOX holds $(count INBOX) messages"

say "5/6 bouncer once -c $STATE/bouncer.yaml"
status=0
"$BOUNCER" once -c "$STATE/bouncer.yaml" -v 2>"$STATE/once.log" || status=$?
cat "$STATE/once.log"
echo "exit status $status"
for f in INBOX bouncer/processed bouncer/ignored bouncer/quarantine; do
	printf '  %-20s %s messages\n' "$f" "$(count "$f")"
done

echo
echo "What the worker decided, one line per message (from its decision log):"
python3 - "$STATE/once.log" <<'PY'
import shlex, sys
print("  %-4s %-10s %-22s %-6s %-12s %-9s %s" % ("uid", "type", "recipient", "list", "reason", "outcome", "why"))
for line in open(sys.argv[1]):
    if "event=decision" not in line:
        continue
    f = dict(kv.split("=", 1) for kv in shlex.split(line) if "=" in kv)
    print("  %-4s %-10s %-22s %-6s %-12s %-9s %s" % (f.get("uid", "-"), f.get("type", "-"),
          f.get("address", "-"), f.get("list", "-"), f.get("reason", "-"), f.get("outcome", "-"),
          f.get("why", "") + (" (%s)" % f["loop"] if "loop" in f else "")))
PY

say "6/6 the result: bouncer suppression list"
"$BOUNCER" suppression list -c "$STATE/bouncer.yaml" || true
echo
echo "A sender checks an address with one command:"
echo "  $BOUNCER suppression check -c $STATE/bouncer.yaml alice@example.net --list news"
"$BOUNCER" suppression check -c "$STATE/bouncer.yaml" alice@example.net --list news || true
echo
echo "A soft bounce is counted, not suppressed (bob's mailbox is full):"
echo "  $BOUNCER explain -c $STATE/bouncer.yaml bob@example.org"
"$BOUNCER" explain -c "$STATE/bouncer.yaml" bob@example.org || true
if [ -n "${BOUNCER_DEMO_KEEP:-}" ]; then
	echo
	echo "Servers left running. Explore with -c $STATE/bouncer.yaml; stop with: scripts/demo.sh stop"
fi

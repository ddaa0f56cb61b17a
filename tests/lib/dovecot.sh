# dovecot.sh - start a private, rootless Dovecot for a test (source this file).
#
#   dovecot_start DIR        start Dovecot with its state in DIR (a mktemp -d of the caller;
#                            $DOVECOT_EXTRA_CONF, when set, is appended to its configuration);
#                            sets DOVECOT_IMAP_PORT (plain/STARTTLS), DOVECOT_IMAPS_PORT (TLS),
#                            DOVECOT_USER / DOVECOT_PASS (the `bounces` user), DOVECOT_CA (the
#                            test CA that signed the server certificate for 127.0.0.1 and
#                            localhost), DOVECOT_OTHER_CA (a CA that did not sign it),
#                            DOVECOT_MAILDIR. The IMAPS listener also answers on 127.0.0.2, a
#                            name the certificate does not carry (host-name mismatch tests).
#   dovecot_stop             stop it (dovecot_start installs nothing: the caller's trap calls this)
#   dovecot_deliver FILE [FOLDER]   put a message into the mailbox (INBOX by default)
#   dovecot_count [FOLDER]   print the number of messages in a folder (0 when it does not exist)
#   dovecot_kick             drop every IMAP connection of the user (doveadm kick)
#
# Ports are picked free on 127.0.0.1. Sockets live under a short /tmp directory because unix
# socket paths are limited to 108 bytes. DIR's parents must be searchable by others when run as
# root (chmod 711 a mktemp -d). Works as root (mail is then owned by `nobody`, since
# Dovecot refuses mail access as uid 0) and as an ordinary user.

_dovecot_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

_dovecot_cert() { # DIR NAME CN SAN: a CA-signed certificate DIR/NAME.{crt,key}; CA is DIR/ca.crt
	local d=$1 name=$2 cn=$3 san=$4
	if [ ! -f "$d/ca.crt" ]; then
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=bouncer test CA" \
			-keyout "$d/ca.key" -out "$d/ca.crt" >/dev/null 2>&1 || return 1
	fi
	openssl req -newkey rsa:2048 -nodes -subj "/CN=$cn" -keyout "$d/$name.key" \
		-out "$d/$name.csr" >/dev/null 2>&1 || return 1
	printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$san" >"$d/$name.ext"
	openssl x509 -req -in "$d/$name.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
		-days 2 -extfile "$d/$name.ext" -out "$d/$name.crt" >/dev/null 2>&1 || return 1
}

# _dovecot_write_conf - dovecot.conf for dovecot_start (reads its locals: d, user, group, login)
_dovecot_write_conf() {
	cat >"$d/dovecot.conf" <<EOF
base_dir = $DOVECOT_BASE
state_dir = $d/state
log_path = $d/dovecot.log
info_log_path = $d/dovecot.log
protocols = imap
listen = 127.0.0.1
default_internal_user = $user
default_internal_group = $group
default_login_user = $login
first_valid_uid = 1
ssl = yes
ssl_cert = <$d/tls/server.crt
ssl_key = <$d/tls/server.key
ssl_dh = </usr/share/dovecot/dh.pem
auth_mechanisms = plain login
disable_plaintext_auth = no
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%n $d/passwd
}
userdb {
  driver = passwd-file
  args = username_format=%n $d/passwd
}
mail_location = maildir:~/Maildir
namespace inbox {
  inbox = yes
  separator = /
}
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = $DOVECOT_IMAP_PORT
  }
  inet_listener imaps {
    address = 127.0.0.1, 127.0.0.2
    port = $DOVECOT_IMAPS_PORT
    ssl = yes
  }
}
service pop3-login {
  chroot =
}
service submission-login {
  chroot =
}
service anvil {
  chroot =
}
service auth {
  user = $user
}
service auth-worker {
  user = $user
}
protocol imap {
  imap_idle_notify_interval = 5 secs
}
${DOVECOT_EXTRA_CONF:-}
EOF
}

dovecot_start() {
	local d=$1 user group login mailuid mailgid
	command -v dovecot >/dev/null 2>&1 || { echo "dovecot not installed" >&2; return 77; }
	DOVECOT_DIR=$d
	DOVECOT_BASE=$(mktemp -d /tmp/dv.XXXXXX)
	chmod 755 "$DOVECOT_BASE"
	mkdir -p "$d/home/bounces/Maildir" "$d/state" "$d/tls"
	user=$(id -un)
	group=$(id -gn)
	mailuid=$(id -u)
	mailgid=$(id -g)
	login=$user
	if [ "$mailuid" -eq 0 ]; then
		# as root: Dovecot's own unprivileged users for its processes, nobody for the mail
		user=$(id -un dovecot 2>/dev/null || echo nobody)
		group=$(id -gn dovecot 2>/dev/null || echo nogroup)
		login=$(id -un dovenull 2>/dev/null || echo nobody)
		mailuid=$(id -u nobody)
		mailgid=$(id -g nobody)
		chown -R "$mailuid:$mailgid" "$d/home"
		chmod 755 "$d" "$d/home"
		chmod 755 "$d/tls"
	fi
	_dovecot_cert "$d/tls" server "localhost" "DNS:localhost,IP:127.0.0.1" || return 1
	mkdir -p "$d/tls/other"
	_dovecot_cert "$d/tls/other" server "localhost" "DNS:localhost,IP:127.0.0.1" || return 1
	DOVECOT_USER=bounces
	DOVECOT_PASS="t3st-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
	printf '%s:{PLAIN}%s:%s:%s::%s/home/bounces::\n' "$DOVECOT_USER" "$DOVECOT_PASS" \
		"$mailuid" "$mailgid" "$d" >"$d/passwd"
	chmod 644 "$d/passwd"
	DOVECOT_CA=$d/tls/ca.crt
	DOVECOT_OTHER_CA=$d/tls/other/ca.crt
	DOVECOT_MAILDIR=$d/home/bounces/Maildir
	# The ports are free when picked; another test may take one before Dovecot binds it: pick
	# again (as tests/lib/redis.sh does)
	local attempt
	for attempt in 1 2 3; do
		DOVECOT_IMAP_PORT=$(_dovecot_free_port)
		DOVECOT_IMAPS_PORT=$(_dovecot_free_port)
		_dovecot_write_conf
		dovecot -c "$d/dovecot.conf" 2>"$d/start.err" && break
		if [ "$attempt" -lt 3 ] && grep -q "Address already in use" "$d/start.err" "$d/dovecot.log" 2>/dev/null; then
			continue
		fi
		cat "$d/start.err" "$d/dovecot.log" >&2 2>/dev/null
		return 1
	done
	local i
	for i in $(seq 1 50); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$DOVECOT_IMAPS_PORT") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	echo "dovecot did not start" >&2
	cat "$d/dovecot.log" >&2
	return 1
}

dovecot_stop() {
	[ -n "${DOVECOT_DIR:-}" ] || return 0
	doveadm -c "$DOVECOT_DIR/dovecot.conf" stop >/dev/null 2>&1 || true
	local pid
	pid=$(cat "$DOVECOT_BASE/master.pid" 2>/dev/null || true)
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
	fi
	rm -rf "$DOVECOT_BASE"
	DOVECOT_DIR=
}

_dovecot_doveadm() {
	doveadm -c "$DOVECOT_DIR/dovecot.conf" "$@"
}

# dovecot_deliver FILE [FOLDER] - save FILE as a new message (creates FOLDER when needed)
dovecot_deliver() {
	local file=$1 folder=${2:-INBOX}
	if [ "$folder" != INBOX ]; then
		_dovecot_doveadm mailbox create -u "$DOVECOT_USER" "$folder" >/dev/null 2>&1 || true
	fi
	_dovecot_doveadm save -u "$DOVECOT_USER" -m "$folder" <"$file"
}

# dovecot_count [FOLDER] - messages in FOLDER (0 when missing)
dovecot_count() {
	local folder=${1:-INBOX} n
	n=$(_dovecot_doveadm -f flow mailbox status -u "$DOVECOT_USER" messages "$folder" 2>/dev/null |
		sed -n 's/.*messages=\([0-9]*\).*/\1/p')
	echo "${n:-0}"
}

# dovecot_kick - drop the user's IMAP connections
dovecot_kick() {
	_dovecot_doveadm kick "$DOVECOT_USER" >/dev/null 2>&1 || true
}

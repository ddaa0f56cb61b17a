#!/usr/bin/env bash
# test_worker_tls.sh - `bouncer health` over implicit TLS and STARTTLS with certificate and
# host-name verification: the right CA passes; a CA that did not sign the certificate, the
# system store, and a host name the certificate does not carry are refused before any login.
set -euo pipefail
source "$BH_SOURCE_DIR/tests/integration/worker_lib.sh"
worker_setup
fail() { echo "FAIL: $*" >&2; exit 1; }

health() { # expected-status what
	local want=$1 what=$2 rc
	set +e
	"$BOUNCER" health -c "$T/bouncer.yaml" >"$T/health.out" 2>"$T/health.err"
	rc=$?
	set -e
	[ "$rc" = "$want" ] || { cat "$T/health.out" "$T/health.err" >&2; fail "$what: health exited $rc, want $want"; }
}
logins() { grep -c 'imap-login: Info: Login: user=<bounces>' "$T/dv/dovecot.log" || true; }

write_config tls "$DOVECOT_IMAPS_PORT" "$DOVECOT_CA" 127.0.0.1
health 0 "TLS with the right CA"
grep -q '^imap: ok .*tls=tls' "$T/health.out" || fail "health does not report imap ok"
grep -q '^redis: ok' "$T/health.out" || fail "health does not report redis ok"

# by host name: the certificate names "localhost"; the test needs it to resolve to 127.0.0.1,
# where Dovecot listens, and says so rather than failing on a machine where it does not
if getent ahostsv4 localhost 2>/dev/null | grep -q '^127\.0\.0\.1 '; then
	AUTH=login write_config tls "$DOVECOT_IMAPS_PORT" "$DOVECOT_CA" localhost
	health 0 "TLS by host name, LOGIN"
else
	echo "skip: TLS by host name: 'localhost' does not resolve to 127.0.0.1 (add '127.0.0.1 localhost' to /etc/hosts)"
	AUTH=login write_config tls "$DOVECOT_IMAPS_PORT" "$DOVECOT_CA" 127.0.0.1
	health 0 "TLS, LOGIN"
fi

before=$(logins)
write_config tls "$DOVECOT_IMAPS_PORT" "$DOVECOT_OTHER_CA" 127.0.0.1
health 69 "TLS with a CA that did not sign the certificate"
grep -q 'issuer is unknown' "$T/health.out" || fail "untrusted CA: $(cat "$T/health.out")"

write_config tls "$DOVECOT_IMAPS_PORT" "$DOVECOT_CA" 127.0.0.2
health 69 "TLS to a name the certificate does not carry"
grep -q 'does not match' "$T/health.out" || fail "host-name mismatch: $(cat "$T/health.out")"

write_config starttls "$DOVECOT_IMAP_PORT" "$DOVECOT_OTHER_CA" 127.0.0.1
health 69 "STARTTLS with a CA that did not sign the certificate"
[ "$(logins)" = "$before" ] || fail "a refused certificate still led to a login"

write_config starttls "$DOVECOT_IMAP_PORT" "$DOVECOT_CA" 127.0.0.1
health 0 "STARTTLS with the right CA"
grep -q 'tls=starttls' "$T/health.out" || fail "not STARTTLS: $(cat "$T/health.out")"

# plain IMAP is allowed to loopback only (the check is on the socket's peer)
write_config none "$DOVECOT_IMAP_PORT" "$DOVECOT_CA" 127.0.0.1
health 0 "plain IMAP to loopback"

# Redis down: health fails, IMAP still reported
write_config tls "$DOVECOT_IMAPS_PORT" "$DOVECOT_CA" 127.0.0.1
stop_redis
health 69 "Redis down"
grep -q '^imap: ok' "$T/health.out" || fail "imap not reported while redis is down"
grep -q '^redis: FAIL' "$T/health.out" || fail "redis failure not reported"
echo "ok: TLS verification"

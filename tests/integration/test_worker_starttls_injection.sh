#!/usr/bin/env bash
# test_worker_starttls_injection.sh - a server (a MITM) that sends plaintext right after its
# STARTTLS OK: bouncer must refuse, not read those bytes as if TLS had protected them.
set -euo pipefail
source "$BH_SOURCE_DIR/tests/integration/worker_lib.sh"
worker_setup
fail() { echo "FAIL: $*" >&2; cat "$T/health.out" "$T/fake.log" >&2 2>/dev/null || true; exit 1; }
port=$(_dovecot_free_port)
python3 - "$port" "$T/dv/tls/server.crt" "$T/dv/tls/server.key" >"$T/fake.log" 2>&1 <<'PY' &
import socket, ssl, sys
port, crt, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(1)
srv.settimeout(20)
print("ready", flush=True)
c, _ = srv.accept()
c.sendall(b"* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] fake\r\n")
f = c.makefile("rb")
while True:
    line = f.readline()
    if not line:
        sys.exit(0)
    tag = line.split(b" ")[0]
    if b"STARTTLS" in line.upper():
        c.sendall(tag + b" OK begin TLS\r\n* BYE injected in the clear\r\n")
        break
    if b"CAPABILITY" in line.upper():
        c.sendall(b"* CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN\r\n" + tag + b" OK done\r\n")
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(crt, key)
try:
    t = ctx.wrap_socket(c, server_side=True)
    data = t.recv(4096)
    print("after TLS the client sent:", data)
except Exception as e:
    print("TLS ended:", e)
PY
FAKE=$!
BG_PIDS=$FAKE
# the fake server accepts one connection (health makes one): wait for it without connecting
wait_for grep -q ready "$T/fake.log" || fail "the fake server did not start"
write_config starttls "$port" "$DOVECOT_CA" 127.0.0.1
rc=0
"$BOUNCER" health -c "$T/bouncer.yaml" >"$T/health.out" 2>&1 || rc=$?
[ "$rc" = 69 ] || fail "health exited $rc, want 69"
grep -q 'in the clear after its OK' "$T/health.out" || fail "the injection was not named"
wait "$FAKE" 2>/dev/null || true
BG_PIDS=
if grep -q 'AUTHENTICATE\|LOGIN' "$T/fake.log"; then
	fail "credentials were sent after an injection"
fi
echo "ok: STARTTLS response injection refused"

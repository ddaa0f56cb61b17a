#!/usr/bin/env bash
# test_package.sh - the Debian packages, as an administrator meets them:
#   1. build them from debian/ with `dpkg-buildpackage -us -uc -b` in a copy of the source tree
#      (dpkg-buildpackage writes ../*.deb; the checkout stays clean), the unit tests included;
#   2. lintian on the .changes (every .deb and the .buildinfo) and on the source package's .dsc
#      prints no error and no warning
#      (what remains is overridden in debian/*.lintian-overrides, each with its reason);
#   3. the binaries are hardened (hardening-check: PIE, stack protector, fortify, RELRO,
#      BIND_NOW), Depends come from shlibs, the library has its symbols file and ldconfig trigger;
#   4. in a fresh Debian root (../shared/tools/fresh-root, copied for this run) apt installs
#      them; the unit's ExecStart line runs there as the unit's user against a Redis and a
#      Dovecot on loopback, handles a bounce and tells a fake systemd READY=1; then
#      `apt-get remove` keeps the configuration and `apt-get purge` leaves nothing in /etc.
# Needs root (chroot, mounts) and a fresh root (see FRESH_ROOT below: made when missing); exits
# 77 with the reason otherwise, and in a
# sanitizer build tree (the packages are built from the source, once is enough).
set -euo pipefail

: "${BH_SOURCE_DIR:?}" "${BH_BUILD_DIR:?}" "${BOUNCER:?}"
skip() { echo "skip: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root (chroot and mounts for the fresh root)"
grep -q '^BOUNCER_SANITIZE:BOOL=ON' "$BH_BUILD_DIR/CMakeCache.txt" 2>/dev/null &&
	skip "sanitizer build tree: the package test runs in the release build"
for t in dpkg-buildpackage dh lintian hardening-check dpkg-deb python3; do
	command -v "$t" >/dev/null || skip "$t missing (scripts/install-deps.sh installs it)"
done
# The fresh root: $BOUNCER_FRESH_ROOT, else /work/froot when one was made there, else one made
# now by the shared make-root.sh (debootstrap from this machine's mirror, about 40 s) and kept
# in /var/tmp for the next run, so a clean CI machine runs the test instead of skipping it.
make_root=${BH_SHARED_DIR:-$BH_SOURCE_DIR/../shared}/tools/fresh-root/make-root.sh
if [ -n "${BOUNCER_FRESH_ROOT:-}" ]; then
	FRESH_ROOT=$BOUNCER_FRESH_ROOT
elif [ -f /work/froot/.complete ]; then
	FRESH_ROOT=/work/froot
else
	FRESH_ROOT=/var/tmp/bouncer-fresh-root
fi
if [ ! -f "$FRESH_ROOT/.complete" ] && [ -f "$make_root" ]; then
	echo "making a fresh root at $FRESH_ROOT with $make_root"
	sh "$make_root" "$FRESH_ROOT" || { echo "FAIL: make-root.sh failed: see $FRESH_ROOT.log" >&2; exit 1; }
fi
[ -f "$FRESH_ROOT/.complete" ] ||
	skip "no fresh root at $FRESH_ROOT and no $make_root to make one"

source "$BH_SOURCE_DIR/tests/integration/worker_lib.sh"
fail=0
bad() { echo "FAIL: $*" >&2; fail=1; }
die() { echo "FAIL: $*" >&2; exit 1; }

RUN=""
cleanup() {
	worker_cleanup # first: it stops the bouncer running in the root
	if [ -n "$RUN" ]; then
		for m in dev/pts dev sys proc; do umount -l "$RUN/$m" 2>/dev/null || true; done
		rm -rf --one-file-system "$RUN"
	fi
}
worker_setup
trap cleanup EXIT

# --- 1. build, out of the checkout --------------------------------------------------------------
version=$(sed -n '1s/^bouncer (\([^)]*\)).*/\1/p' "$BH_SOURCE_DIR/debian/changelog")
src="$T/pkg/bouncer-$version"
mkdir -p "$src"
(cd "$BH_SOURCE_DIR" && git ls-files -z --cached --others --exclude-standard |
	xargs -0 cp --parents -t "$src" 2>/dev/null) || die "cannot copy the source tree"
# The source package too (before the build dirties the tree), for lintian's source checks:
# debian/copyright as DEP-5, debian/rules, debian/control.
(cd "$T/pkg" && dpkg-source -b "bouncer-$version" >"$T/source.log" 2>&1) ||
	{ cat "$T/source.log" >&2; die "dpkg-source -b failed"; }
start=$(date +%s)
# With the unit tests (debian/rules runs `ctest -L unit` against the hardened build).
if ! (cd "$src" && DEB_BUILD_OPTIONS="parallel=2" nice dpkg-buildpackage -us -uc -b \
	>"$T/build.log" 2>&1); then
	tail -40 "$T/build.log" >&2
	die "dpkg-buildpackage failed"
fi
echo "built in $(($(date +%s) - start)) s: $(cd "$T/pkg" && ls -- *.deb | tr '\n' ' ')"
arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
for p in bouncer libbouncer-verp0 libbouncer-verp-dev bouncer-dbgsym libbouncer-verp0-dbgsym; do
	[ -f "$T/pkg/${p}_${version}_$arch.deb" ] || bad "no $p package"
done
[ $fail -eq 0 ] || exit 1
deb() { echo "$T/pkg/${1}_${version}_$arch.deb"; }

# --- 2. lintian ---------------------------------------------------------------------------------
changes="$T/pkg/bouncer_${version}_$arch.changes"
lintian --info --display-info --pedantic --fail-on error,warning "$changes" "$T/pkg/bouncer_$version.dsc" \
	>"$T/lintian.log" 2>&1 ||
	bad "lintian: $(grep -E '^[EW]:' "$T/lintian.log" | head -20)"
grep -E '^[EW]:' "$T/lintian.log" && bad "lintian reports errors or warnings (above)"
echo "lintian: $(grep -c '^[EW]:' "$T/lintian.log" || true) errors and warnings," \
	"$(grep -c '^[IP]:' "$T/lintian.log" || true) info/pedantic notes" \
	"$(grep -E '^[IP]:' "$T/lintian.log" | awk '{print $3}' | sort -u | tr '\n' ' ')"

# --- 3. contents, hardening, dependencies, the library ------------------------------------------
x="$T/x"
for p in bouncer libbouncer-verp0 libbouncer-verp-dev; do dpkg-deb -x "$(deb $p)" "$x"; done
# No CET: bookworm's glibc start files lack the IBT/SHSTK note (debian/rules). Stack clash
# protection is compiled in; the checker reports "unknown" when no frame is large enough to probe.
hardening-check --nocfprotection "$x/usr/bin/bouncer" "$x/usr/lib/$multiarch/libbouncer-verp.so.0" \
	>"$T/hardening.log" 2>&1 || bad "hardening-check: $(grep -v ': yes' "$T/hardening.log")"
for f in usr/bin/bouncer "usr/lib/$multiarch/libbouncer-verp.so.0" "usr/lib/$multiarch/libbouncer-verp.so" \
	"usr/lib/$multiarch/libbouncer-verp.a" "usr/lib/$multiarch/pkgconfig/bouncer-verp.pc" \
	usr/include/bouncer/verp.h lib/systemd/system/bouncer.service usr/lib/sysusers.d/bouncer.conf \
	etc/bouncer/bouncer.yaml usr/share/man/man1/bouncer.1.gz usr/share/man/man5/bouncer.yaml.5.gz \
	usr/share/man/man3/bouncer-verp.3.gz usr/share/doc/bouncer/copyright; do
	[ -e "$x/$f" ] || bad "no /$f in the packages"
done
file -L "$x/usr/bin/bouncer" | grep -q 'stripped' && ! file -L "$x/usr/bin/bouncer" | grep -q 'not stripped' ||
	bad "usr/bin/bouncer is not stripped"
deps=$(dpkg-deb -f "$(deb bouncer)" Depends)
for p in libetpan20 libhiredis0.14 libjson-c5 libsystemd0 libc6 adduser; do
	grep -qw -- "$p" <<<"$deps" || bad "bouncer Depends lacks $p (shlibs): $deps"
done
grep -qw libbouncer-verp0 <<<"$deps" && bad "bouncer depends on the library it does not link"
dpkg-deb -e "$(deb libbouncer-verp0)" "$T/ctl"
grep -q '^libbouncer-verp.so.0 libbouncer-verp0 #MINVER#' "$T/ctl/symbols" || bad "no symbols file"
grep -q 'activate-noawait ldconfig' "$T/ctl/triggers" || bad "no ldconfig trigger"
[ "$(dpkg-deb -f "$(deb libbouncer-verp0)" Multi-Arch)" = same ] || bad "libbouncer-verp0 is not Multi-Arch: same"
dpkg-deb -e "$(deb bouncer)" "$T/bctl"
grep -qx /etc/bouncer/bouncer.yaml "$T/bctl/conffiles" || bad "/etc/bouncer/bouncer.yaml is not a conffile"
grep -q '^Type=notify' "$x/lib/systemd/system/bouncer.service" || bad "the unit is not Type=notify"
grep -q '^WatchdogSec=' "$x/lib/systemd/system/bouncer.service" || bad "the unit sets no WatchdogSec"
exec_start=$(sed -n 's/^ExecStart=//p' "$x/lib/systemd/system/bouncer.service")
[ -n "$exec_start" ] || die "the unit has no ExecStart"
echo "contents: hardened ($(grep -c ': yes' "$T/hardening.log") checks), Depends: $deps"
[ $fail -eq 0 ] || exit 1

# --- 4. a fresh root: install, run the unit's command, remove, purge ----------------------------
RUN=$(mktemp -d "${TMPDIR:-/tmp}/bh-froot.XXXXXX")
cp -a "$FRESH_ROOT/." "$RUN/"
mount -t proc proc "$RUN/proc"
mount -t sysfs sys "$RUN/sys"
mount --bind /dev "$RUN/dev"
mount --bind /dev/pts "$RUN/dev/pts"
mkdir -p "$RUN/tmp/debs" "$RUN/tmp/conf"
cp "$(deb bouncer)" "$(deb libbouncer-verp0)" "$(deb libbouncer-verp-dev)" "$RUN/tmp/debs/"
cp "$DOVECOT_CA" "$RUN/tmp/conf/imap-ca.pem"
cp "$T/imap.pw" "$RUN/tmp/conf/imap-password"
cp "$T/verp.key" "$RUN/tmp/conf/verp-k1"
cat >"$RUN/tmp/conf/bouncer.yaml" <<EOF2
imap:
  host: 127.0.0.1
  port: $DOVECOT_IMAPS_PORT
  tls: tls
  ca_file: /etc/bouncer/imap-ca.pem
  user: $DOVECOT_USER
  password_file: /etc/bouncer/secrets/imap-password
  mailbox: INBOX
  poll_interval: 2s
  timeout: 10s
redis:
  host: 127.0.0.1
  port: $REDIS_PORT
  prefix: t
verp:
  format: signed
  domain: bounces.example.com
  prefix: bounces
  keys:
    - {id: k1, file: /etc/bouncer/secrets/verp-k1}
our_domains: [example.com]
lists:
  news:
EOF2
# exec_inroot replaces the (sub)shell: run in the background, $! is the command itself.
inroot() { (exec_inroot "$@"); }
exec_inroot() { exec chroot "$RUN" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }
start=$(date +%s)
debs=("/tmp/debs/$(basename "$(deb bouncer)")" "/tmp/debs/$(basename "$(deb libbouncer-verp0)")"
	"/tmp/debs/$(basename "$(deb libbouncer-verp-dev)")")
# The root's package lists may be older than the mirror (a point release drops old versions):
# on failure, update them and try once more.
if ! inroot apt-get install -y -q --no-install-recommends "${debs[@]}" >"$T/apt-install.log" 2>&1; then
	inroot apt-get update -q >>"$T/apt-install.log" 2>&1 || true
	inroot apt-get install -y -q --no-install-recommends "${debs[@]}" >>"$T/apt-install.log" 2>&1 ||
		{ tail -30 "$T/apt-install.log" >&2; die "apt-get install in the fresh root failed"; }
fi
echo "fresh root: apt-get install in $(($(date +%s) - start)) s"
inroot sh -ec '
	id bouncer
	[ "$(stat -c "%a %U %G" /etc/bouncer)" = "750 root bouncer" ]
	[ "$(stat -c "%a %U %G" /etc/bouncer/secrets)" = "750 root bouncer" ]
	[ "$(stat -c "%a %U %G" /etc/bouncer/bouncer.yaml)" = "640 root bouncer" ]
	[ -e /lib/systemd/system/bouncer.service ]
	ldconfig -p | grep -q libbouncer-verp.so.0
	man -w bouncer >/dev/null 2>&1 || [ -e /usr/share/man/man1/bouncer.1.gz ]
' >"$T/check.log" 2>&1 || bad "after install: $(cat "$T/check.log")"
# The administrator's part (deploy/README.md): the configuration and its secrets.
inroot sh -ec '
	umask 027
	cp /tmp/conf/bouncer.yaml /etc/bouncer/bouncer.yaml
	cp /tmp/conf/imap-ca.pem /etc/bouncer/imap-ca.pem
	cp /tmp/conf/imap-password /tmp/conf/verp-k1 /etc/bouncer/secrets/
	chgrp bouncer /etc/bouncer/imap-ca.pem /etc/bouncer/secrets/*
' || die "cannot write the configuration in the fresh root"
# as the unit runs it: its User=, Group=, NoNewPrivileges= and Environment=
exec_asunit() { exec_inroot setpriv --reuid=bouncer --regid=bouncer --init-groups --no-new-privs \
	env BOUNCER_CONFIG=/etc/bouncer/bouncer.yaml "$@"; }
asunit() { (exec_asunit "$@"); }
asunit /usr/bin/bouncer config check -c /etc/bouncer/bouncer.yaml >"$T/check.out" 2>&1 ||
	bad "bouncer config check as bouncer: $(tail -5 "$T/check.out")"
asunit /usr/bin/bouncer health -c /etc/bouncer/bouncer.yaml >"$T/health.out" 2>&1 ||
	bad "bouncer health as bouncer: $(cat "$T/health.out")"

# The unit's ExecStart, as its user, with a fake systemd notify socket; a bounce to handle.
python3 - "$RUN/run/bh-notify.sock" "$T/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        try:
            out.write(s.recv(4096).decode().replace("\n", "|") + "\n")
        except socket.timeout:
            break
PY
BG_PIDS=$!
wait_for test -S "$RUN/run/bh-notify.sock" || die "the notify listener did not bind"
chmod 666 "$RUN/run/bh-notify.sock"
make_dsn "$T/m0.eml" "$(verp news u0@example.net)" u0@example.net 5.1.1 "550 5.1.1 user unknown"
dovecot_deliver "$T/m0.eml"
read -r -a cmd <<<"$exec_start"
exec_asunit NOTIFY_SOCKET=/run/bh-notify.sock WATCHDOG_USEC=10000000 "${cmd[@]}" >"$T/run.out" 2>"$T/run.log" &
UNIT=$!
BG_PIDS="$BG_PIDS $UNIT"
processed_is() { [ "$(dovecot_count bouncer/processed)" = "$1" ]; }
wait_for processed_is 1 || bad "ExecStart ($exec_start) did not process the bounce: $(tail -5 "$T/run.log")"
wait_for grep -q 'READY=1' "$T/notify.log" || bad "no READY=1 from the installed bouncer"
kill -TERM "$UNIT"
wait "$UNIT" || bad "ExecStart exited $? on SIGTERM: $(tail -5 "$T/run.log")"
grep -q '"event":"stopped"' "$T/run.log" || bad "no stopped event in the unit's log"
echo "fresh root: ExecStart ($exec_start) as bouncer handled a bounce, READY=1, stopped cleanly"

# Remove keeps the configuration; purge takes all of /etc/bouncer and the stat overrides.
inroot apt-get remove -y -q bouncer >"$T/remove.log" 2>&1 || { cat "$T/remove.log" >&2; bad "apt-get remove failed"; }
inroot sh -ec '
	[ ! -e /usr/bin/bouncer ] && [ ! -e /lib/systemd/system/bouncer.service ]
	[ -f /etc/bouncer/bouncer.yaml ] && [ -f /etc/bouncer/secrets/verp-k1 ]
' >"$T/check.log" 2>&1 || bad "after remove: binaries left or configuration gone"
inroot apt-get purge -y -q bouncer libbouncer-verp-dev libbouncer-verp0 >"$T/purge.log" 2>&1 ||
	{ cat "$T/purge.log" >&2; bad "apt-get purge failed"; }
grep -i 'warning' "$T/purge.log" && bad "apt-get purge warned (above)"
left=$(inroot sh -c 'ls -d /etc/bouncer /usr/lib/sysusers.d/bouncer.conf /usr/include/bouncer 2>/dev/null;
	dpkg-statoverride --list | grep bouncer; dpkg -l | grep -E "^(ii|rc) +(bouncer|libbouncer)"' || true)
[ -z "$left" ] || bad "purge left: $left"
# The account stays (Debian keeps system users: files it owned must not pass to a new user).
inroot id bouncer >/dev/null 2>&1 || bad "purge removed the bouncer account"
echo "fresh root: remove kept /etc/bouncer, purge left nothing of it; the bouncer account stays"
exit $fail

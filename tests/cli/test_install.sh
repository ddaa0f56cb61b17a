#!/usr/bin/env bash
# test_install - `cmake --install` into a DESTDIR puts every file where it belongs; a sender's
# program builds against the installed <bouncer/verp.h> and bouncer-verp.pc (shared and static)
# and runs. The Debian packages (debian/, dpkg-buildpackage) are tests/package/test_package.sh's.
set -euo pipefail

: "${BH_BUILD_DIR:?}" "${BH_SOURCE_DIR:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*" >&2; fail=1; }

dest="$tmp/dest"
DESTDIR="$dest" cmake --install "$BH_BUILD_DIR" --prefix /usr >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log" >&2; exit 1; }

libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:PATH=//p' "$BH_BUILD_DIR/CMakeCache.txt")
libdir=${libdir:-lib}
expect=(usr/bin/bouncer
	usr/include/bouncer/verp.h
	"usr/$libdir/libbouncer-verp.a"
	"usr/$libdir/libbouncer-verp.so"
	"usr/$libdir/libbouncer-verp.so.0"
	"usr/$libdir/pkgconfig/bouncer-verp.pc"
	usr/share/man/man1/bouncer.1.gz
	usr/share/man/man5/bouncer.yaml.5.gz
	usr/share/man/man3/bouncer-verp.3.gz
	usr/lib/systemd/system/bouncer.service
	usr/lib/sysusers.d/bouncer.conf
	usr/share/doc/bouncer/examples/bouncer.yaml
	usr/share/doc/bouncer/README.deploy.md)
for f in "${expect[@]}"; do
	[ -e "$dest/$f" ] || bad "not installed: /$f"
done
[ -x "$dest/usr/bin/bouncer" ] && grep -q '^bouncer ' <<<"$("$dest/usr/bin/bouncer" --version)" ||
	bad "installed bouncer does not run"
grep -qx 'ExecStart=/usr/bin/bouncer run -c /etc/bouncer/bouncer.yaml' \
	"$dest/usr/lib/systemd/system/bouncer.service" || bad "unit ExecStart not rewritten to the prefix"
grep -qx 'prefix=/usr' "$dest/usr/$libdir/pkgconfig/bouncer-verp.pc" || bad ".pc prefix is not /usr"

# The man pages render without warnings.
if command -v groff >/dev/null; then
	for p in "$dest"/usr/share/man/man*/*.gz; do
		w=$(gzip -dc "$p" | groff -t -man -ww -z 2>&1) || true
		[ -z "$w" ] || bad "groff warnings in $(basename "$p"): $w"
	done
fi

# The shared library exports the sender's API of verp.h and nothing else (the util code it
# carries and bouncer's own bh_verp_conf functions are hidden).
api='^(bh_verp_(new|free|set|add_key|make|read|version|err_[a-z_]+)|bh_addr_normalize)$'
if command -v nm >/dev/null; then
	nm -D --defined-only "$dest/usr/$libdir/libbouncer-verp.so" | awk '$2 ~ /^[TDBR]$/ {print $3}' |
		sed 's/@.*//' >"$tmp/syms"
	for s in bh_verp_new bh_verp_free bh_verp_set bh_verp_add_key bh_verp_make bh_verp_read \
		bh_verp_version bh_addr_normalize; do
		grep -qx "$s" "$tmp/syms" || bad "libbouncer-verp.so does not export $s"
	done
	if [ -n "$(grep -Ev "$api" "$tmp/syms")" ]; then
		bad "libbouncer-verp.so exports more than verp.h: $(grep -Ev "$api" "$tmp/syms" | tr '\n' ' ')"
	fi
fi

# A sender's program, built only from what was installed (as C, and as C++: extern "C").
cat >"$tmp/sender.c" <<'EOF'
/* A sender: the docs/verp.md test vector through the installed library, then a round trip,
 * then the key form of an address. */
#include <bouncer/verp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
main(void)
{
	static const char key[] = "bouncer-test-key-0123456789abcdef";
	static const char want[] =
		"bounces+news=john.smith=example.com=t7ghgoqsesspd5h6@bounce.example.com";
	struct bh_verp *v = bh_verp_new();
	const char *err = NULL;
	char *addr = NULL, *list = NULL, *rcpt = NULL, *norm = NULL;
	int ret = 1;

	if (bh_verp_set(v, "domain", "bounce.example.com", &err) != 0 ||
	    bh_verp_add_key(v, "k1", key, strlen(key), &err) != 0) {
		printf("setup: %s\n", err);
		goto out;
	}
	if (bh_verp_set(v, "format", "nonsense", &err) != -1) {
		printf("a bad format was accepted\n");
		goto out;
	}
	addr = bh_verp_make(v, "news", "<john.smith@EXAMPLE.com>", 1767225600, &err);
	if (addr == NULL) {
		printf("encode: %s\n", err);
		goto out;
	}
	if (strcmp(addr, want) != 0) {
		printf("encode: got %s, want %s\n", addr, want);
		goto out;
	}
	if (bh_verp_read(v, addr, strlen(addr), 1767225600 + 86400, &list, &rcpt, &err) != 0) {
		printf("decode %s: %s\n", addr, err);
		goto out;
	}
	if (strcmp(list, "news") != 0 || strcmp(rcpt, "john.smith@example.com") != 0) {
		printf("round trip: got %s %s\n", list, rcpt);
		goto out;
	}
	static const char in[] = "\"joe\"@B\xc3\xbc"
				 "cher.DE";

	if (bh_addr_normalize(in, strlen(in), &norm, &err) != 0 ||
	    strcmp(norm, "joe@xn--bcher-kva.de") != 0) {
		printf("normalize: got %s\n", norm != NULL ? norm : err);
		goto out;
	}
	if (bh_verp_version() == NULL || bh_verp_version()[0] == '\0') {
		printf("no version\n");
		goto out;
	}
	printf("%s\n", addr);
	ret = 0;
out:
	bh_verp_free(&v);
	free(addr);
	free(list);
	free(rcpt);
	free(norm);
	return ret;
}
EOF
cc=${CC:-cc}
extra=()
# A sanitizer build's library needs the sanitizer runtime in the program too.
if grep -q '^BOUNCER_SANITIZE:BOOL=ON' "$BH_BUILD_DIR/CMakeCache.txt"; then
	extra=(-fsanitize=address,undefined)
fi
export PKG_CONFIG_PATH="$dest/usr/$libdir/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$dest"
pkg-config --exists bouncer-verp || bad "pkg-config does not find bouncer-verp"
[ "$(pkg-config --modversion bouncer-verp)" = "$("$BOUNCER" --version | awk '{print $2}')" ] ||
	bad "bouncer-verp.pc version differs from bouncer --version"
run_sender() { # "$@": the program to run
	local rc=0
	"$@" >"$tmp/out" 2>&1 || rc=$?
	[ $rc -eq 0 ] || bad "$(basename "$1") exited $rc: $(cat "$tmp/out")"
}
# shellcheck disable=SC2046
if "$cc" "${extra[@]}" -std=c17 -Wall -Werror -o "$tmp/sender-shared" "$tmp/sender.c" \
	$(pkg-config --cflags --libs bouncer-verp) 2>"$tmp/cc.log"; then
	LD_LIBRARY_PATH="$dest/usr/$libdir" run_sender "$tmp/sender-shared"
	grep -q "$dest/usr/$libdir/libbouncer-verp.so.0" <<<"$(LD_LIBRARY_PATH="$dest/usr/$libdir" ldd "$tmp/sender-shared")" ||
		bad "sender-shared is not linked against the installed libbouncer-verp.so.0"
else
	bad "cannot build against the installed shared library: $(cat "$tmp/cc.log")"
fi
# A C++ sender links too: the header declares everything extern "C".
if command -v c++ >/dev/null; then
	cp "$tmp/sender.c" "$tmp/sender.cc"
	# shellcheck disable=SC2046
	if c++ "${extra[@]}" -Wall -Werror -o "$tmp/sender-cxx" "$tmp/sender.cc" \
		$(pkg-config --cflags --libs bouncer-verp) 2>"$tmp/cc.log"; then
		LD_LIBRARY_PATH="$dest/usr/$libdir" run_sender "$tmp/sender-cxx"
	else
		bad "a C++ sender cannot build against the installed library: $(cat "$tmp/cc.log")"
	fi
fi
# The archive, with the shared system libraries its .pc names in Requires.private (fully static
# linking would need static libunistring and more, which Debian does not ship in -dev packages).
requires=$(pkg-config --print-requires-private bouncer-verp | awk '{print $1}' | tr '\n' ' ')
# shellcheck disable=SC2046,SC2086
if "$cc" "${extra[@]}" -std=c17 -Wall -Werror -o "$tmp/sender-static" "$tmp/sender.c" \
	$(pkg-config --cflags bouncer-verp) "$dest/usr/$libdir/libbouncer-verp.a" \
	$(PKG_CONFIG_SYSROOT_DIR= pkg-config --libs $requires) 2>"$tmp/cc.log"; then
	run_sender "$tmp/sender-static"
else
	bad "cannot build against the installed static library: $(cat "$tmp/cc.log")"
fi
[ $fail -eq 0 ] || exit 1

echo "installed ${#expect[@]} files"
exit $fail

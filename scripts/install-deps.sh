#!/usr/bin/env bash
# install-deps.sh - install the Debian packages bouncer builds, tests and runs with.
# Idempotent: skips apt-get when everything is present already.
set -euo pipefail

pkgs=(build-essential cmake pkg-config clang libclang-rt-14-dev python3
      libetpan-dev libyaml-dev libhiredis-dev libpcre2-dev nettle-dev libssl-dev libidn2-dev
      libmicrohttpd-dev libgnutls28-dev libjson-c-dev libsystemd-dev redis-server dovecot-imapd openssl curl
      time util-linux procps
      python3-yaml    # tests/cli/test_config.sh, test_deploy.sh: the printed YAML parses
      python3-idna    # tests/cli/test_deploy.sh, test_sender_snippets.sh: docs/sender.md's Python
      php-cli php-intl # tests/cli/test_sender_snippets.sh: docs/sender.md's PHP (idn_to_ascii)
      bc              # tests/integration/test_sentinel.sh, test_two_workers.sh: elapsed seconds
      clang-format    # tests/cli/test_format.sh (it skips without it: a fresh machine must not)
      groff-base      # tests/cli/test_install.sh: the man pages render without warnings
      strace          # tests/integration/test_worker_search_window.sh: the IMAP commands sent
      valgrind        # tests/long/test_valgrind_drain.sh
      postfix # tests/integration/test_postfix_bounces.sh: a private Postfix writes real bounces
      systemd # systemd-analyze, for tests/cli/test_deploy.sh
      # tests/package/test_package.sh: the Debian packages built, checked and installed
      debhelper dpkg-dev fakeroot lintian devscripts)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
# Postfix asks what kind of mail system to set up: none; the tests write their own main.cf.
echo "postfix postfix/main_mailer_type select No configuration" | $sudo debconf-set-selections
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
# The packaged services must not run on their default ports: the tests start their own.
for svc in redis-server dovecot postfix; do
	$sudo systemctl disable --now "$svc" >/dev/null 2>&1 || $sudo service "$svc" stop >/dev/null 2>&1 || true
done

#!/bin/sh
# init.sh - make the secrets compose.yaml mounts: a random IMAP password (also written to
# Dovecot's password file) and a random 32-byte VERP key. Keeps existing ones.
set -eu
cd "$(dirname "$0")"
umask 077
mkdir -p secrets
if [ ! -s secrets/imap_password ]; then
	head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n' >secrets/imap_password
fi
if [ ! -s secrets/verp_key ]; then
	head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >secrets/verp_key
fi
printf 'bounces:{PLAIN}%s::::::\n' "$(cat secrets/imap_password)" >secrets/dovecot_users
# Containers read them as other users (compose file secrets are bind mounts).
chmod 0644 secrets/*
echo "secrets in $(pwd)/secrets"

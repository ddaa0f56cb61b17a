#!/bin/sh
# init.sh - make the secrets compose.yaml mounts: a random IMAP password (also written to
# Dovecot's password file), a random 32-byte VERP key, and a self-signed certificate for the
# host name "dovecot" (bouncer verifies it as its CA). Keeps existing ones. Needs openssl.
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
if [ ! -s secrets/dovecot_crt ]; then
	openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj /CN=dovecot \
		-addext subjectAltName=DNS:dovecot \
		-keyout secrets/dovecot_key -out secrets/dovecot_crt 2>/dev/null
fi
printf 'bounces:{PLAIN}%s::::::\n' "$(cat secrets/imap_password)" >secrets/dovecot_users
# Containers read them as other users (compose file secrets are bind mounts).
chmod 0644 secrets/*
echo "secrets in $(pwd)/secrets"

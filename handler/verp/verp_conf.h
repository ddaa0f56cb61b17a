/*
 * verp_conf.h - the VERP configuration as bouncer itself holds it (config.c fills it), and the
 * functions over it. Internal: not installed; senders use the opaque handle of verp.h.
 */
#ifndef BH_VERP_CONF_H
#define BH_VERP_CONF_H

#include "verp.h"

enum bh_verp_format {
	BH_VERP_SIGNED = 0,
	BH_VERP_CLASSIC,
};

struct bh_verp_key {
	char id[16]; /* short key id ("k1"), may be "" */
	unsigned char key[BH_VERP_MAX_KEY];
	size_t len; /* 0: unused slot */
};

/* The VERP part of the configuration; filled by config.c, or by a sender by hand. */
struct bh_verp_conf {
	enum bh_verp_format format;
	char prefix[64];  /* "bounces" */
	char domain[256]; /* bounce domain, "bounce.example.com"; "" in decode: any */
	char delim1;	  /* '+' (one of + - = . _) */
	char delim2;	  /* '=' ('=' or '+') */
	struct bh_verp_key keys[BH_VERP_MAX_KEYS]; /* keys[0] signs; every key verifies */
	size_t n_keys;
	int64_t max_age_s;  /* signed tokens older than this are refused; 0: never */
	unsigned tag_bytes; /* HMAC bytes kept in a token, 8..32 (64..256 bits) */
	unsigned max_local; /* longest local part encode may produce; 0: 64 (RFC 5321).
			       Up to 255 for bounce domains whose MTA accepts more. */
};

/* bh_verp_conf_defaults - signed, prefix "bounces", "+=" delimiters, 8-byte tags, 60 days,
 * 64-octet local parts, no key, no domain. */
void bh_verp_conf_defaults(struct bh_verp_conf *c);

/* bh_verp_conf_check - 0 when c is usable, else -1 with *error_r (static text) naming the
 * problem: bad prefix, delimiters, tag_bytes, max_age_s, max_local, domain, or a short key.
 * A signed conf without a key passes (decode then refuses with "no VERP key configured"). */
int bh_verp_conf_check(const struct bh_verp_conf *c, const char **error_r);

/* bh_verp_conf_add_key - append a secret key (copied; at least BH_VERP_MIN_KEY octets) under
 * id (may be NULL). The first key added signs. Returns 0, or -1 with *error_r (static). */
int bh_verp_conf_add_key(struct bh_verp_conf *c, const char *id, const void *key, size_t len,
			 const char **error_r);

/* bh_verp_conf_wipe - erase every key (and the rest of c) so no secret outlives its use. */
void bh_verp_conf_wipe(struct bh_verp_conf *c);

/* bh_verp_encode - the VERP address for (list, recipient) at time now (seconds since the
 * epoch). list: 1..64 of [a-z0-9._-] starting with a letter or digit. recipient: local@domain,
 * optionally in <>, local part a dot-atom or a quoted string (classic: dot-atom only), domain
 * a host name in U-labels or A-labels.
 * Returns a new string (the caller's: free()), or NULL with *error_r set (static text) when the
 * list or address cannot be encoded (empty, bad characters, no key, local part over max_local,
 * ...). */
char *bh_verp_encode(const struct bh_verp_conf *c, const char *list, const char *recipient,
		     int64_t now, const char **error_r);

/* bh_verp_decode - recover list and recipient from a VERP address (span, untrusted; may be in
 * <> and surrounded by white space) and verify it. Returns 0 with *list_r and *recipient_r (the
 * caller's: free()), or -1 with *error_r set to one of the static texts below; *list_r and
 * *recipient_r are then NULL. The list is lower-case; the recipient is canonical (see above). */
int bh_verp_decode(const struct bh_verp_conf *c, const char *addr, size_t len, int64_t now,
		   char **list_r, char **recipient_r, const char **error_r);

#endif

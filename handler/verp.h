/*
 * verp.h - VERP addresses: encode for senders, decode and verify from bounces.
 *
 * A sender may link against this header alone (plus the bh library, nettle and libidn2): it
 * includes no other project header, does no I/O and keeps no state.
 * Formats (README "VERP" has the exact algorithm and test vectors):
 *   classic: PREFIX D1 LIST D2 LOCAL D2 DOMAIN @ BOUNCE_DOMAIN   (D1 D2: "+=" or "-=")
 *   signed:  PREFIX D1 LIST D2 ELOCAL D2 DOMAIN D2 TS TAG @ BOUNCE_DOMAIN   (the default)
 *            ELOCAL is the recipient's local part with every byte outside [a-z0-9.-] written
 *            as "_XX" (hex), so that the address survives an MTA that changes its case;
 *            TS is the day (3 base32 characters) and TAG a truncated HMAC-SHA256 (base32).
 * Recipients come back canonical: the local part quoted only when it must be, the domain as a
 * lower-case A-label (IDNA2008 via libidn2).
 */
#ifndef BH_VERP_H
#define BH_VERP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BH_VERP_MAX_KEYS    8
#define BH_VERP_MAX_KEY	    128 /* octets of one secret key */
#define BH_VERP_MIN_KEY	    16	/* shorter keys are refused */
#define BH_VERP_MAX_LIST    64	/* octets of a list name */
#define BH_VERP_MAX_ADDRESS 512 /* longest address decode looks at (BH_MAX_ADDRESS) */
#define BH_VERP_LOCAL_LIMIT 64	/* RFC 5321 4.5.3.1.1: default of max_local */
#define BH_VERP_MIN_TAG	    8	/* 64 bits: the shortest tag accepted */
#define BH_VERP_MAX_TAG	    32	/* the whole HMAC-SHA256 */

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

/* The reasons bh_verp_decode gives (pointer-comparable). */
extern const char bh_verp_err_not_verp[];  /* "not a VERP address" */
extern const char bh_verp_err_domain[];	   /* "not the bounce domain" */
extern const char bh_verp_err_malformed[]; /* "malformed VERP address" */
extern const char bh_verp_err_tag_len[];   /* "bad signature length" (truncated) */
extern const char bh_verp_err_bad_sig[];   /* "bad signature" */
extern const char bh_verp_err_expired[];   /* "expired" */
extern const char bh_verp_err_no_key[];	   /* "no VERP key configured" */
extern const char bh_verp_err_too_long[];  /* "address too long" */

#endif

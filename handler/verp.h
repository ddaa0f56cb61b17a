/*
 * verp.h - VERP addresses: encode for senders, decode and verify from bounces.
 *
 * A sender may link against this header alone (plus nettle): it does no I/O and keeps no state.
 * Formats (README "VERP" has the algorithm and test vectors):
 *   classic: PREFIX D1 LIST D2 LOCAL D2 DOMAIN @ BOUNCE_DOMAIN   (D1/D2 "+=" or "-=")
 *   signed:  HMAC-SHA256-authenticated list, recipient and timestamp (the default).
 */
#ifndef BH_VERP_H
#define BH_VERP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BH_VERP_MAX_KEYS 8
#define BH_VERP_MAX_KEY  128 /* octets of one secret key */

enum bh_verp_format {
	BH_VERP_SIGNED = 0,
	BH_VERP_CLASSIC,
};

struct bh_verp_key {
	char id[16];                      /* short key id ("k1"), may be "" */
	unsigned char key[BH_VERP_MAX_KEY];
	size_t len;                       /* 0: unused slot */
};

/* The VERP part of the configuration; filled by config.c, or by a sender by hand. */
struct bh_verp_conf {
	enum bh_verp_format format;
	char prefix[64];          /* "bounces" */
	char domain[256];         /* bounce domain, "bounce.example.com" */
	char delim1;              /* '+' */
	char delim2;              /* '=' */
	struct bh_verp_key keys[BH_VERP_MAX_KEYS]; /* keys[0] signs; every key verifies */
	size_t n_keys;
	int64_t max_age_s;        /* signed tokens older than this are refused; 0: never */
	unsigned tag_bytes;       /* HMAC bytes kept in a token, 8..32 (64..256 bits) */
};

/* bh_verp_conf_defaults - signed, prefix "bounces", "+=" delimiters, 8-byte tags, 60 days. */
void bh_verp_conf_defaults(struct bh_verp_conf *c);

/* bh_verp_encode - the VERP address for (list, recipient) at time now.
 * Returns a new string (the caller's), or NULL with *error_r set (static text) when the list or
 * address cannot be encoded (empty, bad characters, no key, too long). */
char *bh_verp_encode(const struct bh_verp_conf *c, const char *list, const char *recipient,
		     int64_t now, const char **error_r);

/* bh_verp_decode - recover list and recipient from a VERP address (span, untrusted) and verify
 * it. Returns 0 with *list_r and *recipient_r (the caller's), or -1 with *error_r set (static
 * text: "not a VERP address", "bad signature", "expired", ...). */
int bh_verp_decode(const struct bh_verp_conf *c, const char *addr, size_t len, int64_t now,
		   char **list_r, char **recipient_r, const char **error_r);

#endif

/*
 * verp.h - the sender's library (libbouncer-verp): make VERP addresses and read them back, and
 * the one address normal form bouncer uses in its Redis keys. bouncer-verp(3) documents it.
 *
 * The ABI: an opaque handle (struct bh_verp) set up by name (bh_verp_set), so that a new setting
 * never changes a struct a sender compiled against; no I/O, no global state, thread-safe for
 * concurrent use of one handle once set up. Link with pkg-config bouncer-verp.
 * Formats (docs/sender.md and docs/verp.md have the exact algorithm and test vectors):
 *   classic: PREFIX D1 LIST D2 LOCAL D2 DOMAIN @ BOUNCE_DOMAIN   (D1 D2: "+=" or "-=")
 *   signed:  PREFIX D1 LIST D2 ELOCAL D2 DOMAIN D2 TS TAG @ BOUNCE_DOMAIN   (the default)
 *            ELOCAL is the recipient's local part with every byte outside [a-z0-9.-] written
 *            as "_XX" (hex), so that the address survives an MTA that changes its case;
 *            TS is the day (3 base32 characters) and TAG a truncated HMAC-SHA256 (base32).
 * Recipients go through bh_addr_normalize on the way in and come back in its normal form.
 */
#ifndef BH_VERP_H
#define BH_VERP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BH_VERP_MAX_KEYS    8
#define BH_VERP_MAX_KEY	    128 /* octets of one secret key */
#define BH_VERP_MIN_KEY	    16	/* shorter keys are refused */
#define BH_VERP_MAX_LIST    64	/* octets of a list name */
#define BH_VERP_MAX_ADDRESS 512 /* longest address decode looks at (BH_MAX_ADDRESS) */
#define BH_VERP_LOCAL_LIMIT 64	/* RFC 5321 4.5.3.1.1: default of max_local */
#define BH_VERP_MIN_TAG	    8	/* 64 bits: the shortest tag accepted */
#define BH_VERP_MAX_TAG	    32	/* the whole HMAC-SHA256 */

struct bh_verp;

/* bh_verp_version - the library's version ("0.1.0"), static. */
const char *bh_verp_version(void);

/* bh_verp_new - a handle with the defaults: signed, prefix "bounces", "+=" delimiters, 8-byte
 * tags, 60 days, 64-octet local parts, no key, no bounce domain. Free with bh_verp_free, which
 * wipes the keys, accepts NULL and sets *vp to NULL. Allocation failure aborts. */
struct bh_verp *bh_verp_new(void);
void bh_verp_free(struct bh_verp **vp);

/* bh_verp_set - one setting by name: "format" ("signed" or "classic"), "prefix", "domain" (the
 * bounce domain), "delimiters" (two characters, "+=" or "-="), "tag_bytes" (8..32), "max_age"
 * (seconds, 0: never), "max_local" (32..255). 0, or -1 with *error_r (static) for an unknown
 * name or a bad value (the handle then keeps the old value). */
int bh_verp_set(struct bh_verp *v, const char *name, const char *value, const char **error_r);

/* bh_verp_add_key - append a secret key (copied; at least BH_VERP_MIN_KEY octets) under id (may
 * be NULL). The first key added signs, every key verifies. 0, or -1 with *error_r (static). */
int bh_verp_add_key(struct bh_verp *v, const char *id, const void *key, size_t len,
		    const char **error_r);

/* bh_verp_make - the VERP address for (list, recipient) at time now (seconds since the epoch).
 * list: 1..64 of [a-z0-9._-]; recipient: an address bh_addr_normalize accepts (not an address
 * literal). A new string (the caller's: free()), or NULL with *error_r (static). */
char *bh_verp_make(const struct bh_verp *v, const char *list, const char *recipient, int64_t now,
		   const char **error_r);

/* bh_verp_read - recover list and recipient from a VERP address (span, untrusted) and verify
 * it. 0 with *list_r and *recipient_r (the caller's: free()), or -1 with *error_r one of the
 * bh_verp_err_ texts below (both outputs then NULL). */
int bh_verp_read(const struct bh_verp *v, const char *addr, size_t len, int64_t now, char **list_r,
		 char **recipient_r, const char **error_r);

/* bh_addr_normalize - the key form of an address, as bouncer writes it in Redis: an RFC 5322
 * addr-spec, optionally in <>, outer white space dropped; the local part kept (canonically
 * quoted), the domain lower-case A-label. 0 with *out_r (the caller's: free()), or -1 with
 * *error_r (static reason). The same function bouncer itself runs (addr.h). */
int bh_addr_normalize(const char *p, size_t n, char **out_r, const char **error_r);

/* The reasons bh_verp_decode gives (pointer-comparable). */
extern const char bh_verp_err_not_verp[];  /* "not a VERP address" */
extern const char bh_verp_err_domain[];	   /* "not the bounce domain" */
extern const char bh_verp_err_malformed[]; /* "malformed VERP address" */
extern const char bh_verp_err_tag_len[];   /* "bad signature length" (truncated) */
extern const char bh_verp_err_bad_sig[];   /* "bad signature" */
extern const char bh_verp_err_expired[];   /* "expired" */
extern const char bh_verp_err_no_key[];	   /* "no VERP key configured" */
extern const char bh_verp_err_too_long[];  /* "address too long" */

#ifdef __cplusplus
}
#endif

#endif

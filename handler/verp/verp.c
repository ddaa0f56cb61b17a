/*
 * verp.c - VERP addresses: encode (for senders) and decode + verify (for bounces).
 *
 * Trusts nothing in an address given to bh_verp_decode: it is a span from a bounce, which anyone
 * can send. A signed address carries list, recipient and day under a truncated HMAC-SHA256
 * (RFC 2104, via nettle); the tag is compared in constant time and key schedules are wiped.
 * Everything an MTA may do to a local part is planned for: case changes (the token is lower-case
 * base32 and hex escapes, and the MAC is over the lower-cased text), length limits (RFC 5321
 * 4.5.3.1.1: encode refuses a local part over max_local), quoted local parts (RFC 5321 4.1.2),
 * `+` and `=` inside the recipient (escaped), and IDN domains (IDNA2008 A-labels, RFC 5890).
 * docs/verp.md describes the format step by step; tests/cli/verp_reference.py reimplements it.
 *
 * XXX: a classic address cannot protect the case of the recipient's local part (its bytes are
 * the address); decode returns them as the MTA delivered them.
 * XXX: the day in a token is 15 bits: it wraps every 32768 days (~89 years), so a token that
 * old would look fresh; max_age is meant to be days or weeks.
 * XXX: domains follow IDNA2008 (libidn2); a sender using IDNA2003 tools (Python's "idna"
 * codec) gets other A-labels for the few characters where they differ (sharp s, final sigma,
 * joiners) and should pass A-labels.
 */
#include "verp_conf.h"

#include <idn2.h>
#include <nettle/hmac.h>
#include <nettle/sha2.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "util.h"

const char bh_verp_err_not_verp[] = "not a VERP address";
const char bh_verp_err_domain[] = "not the bounce domain";
const char bh_verp_err_malformed[] = "malformed VERP address";
const char bh_verp_err_tag_len[] = "bad signature length";
const char bh_verp_err_bad_sig[] = "bad signature";
const char bh_verp_err_expired[] = "expired";
const char bh_verp_err_no_key[] = "no VERP key configured";
const char bh_verp_err_too_long[] = "address too long";

#define MAC_CONTEXT "bouncer-verp-1"
#define TS_CHARS    3
#define TS_MOD	    32768 /* 15 bits of day number: wraps every ~89 years */
#define DAY	    86400
#define LOCAL_MAX   255 /* octets of a local part held while decoding */
#define DOMAIN_MAX  253 /* RFC 1035 host name in text form */

static const char b32_alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

/* A recipient split into its parts: local part bytes (unquoted) and normalized domain. */
struct rcpt {
	char local[LOCAL_MAX + 1];
	size_t local_len;
	char domain[DOMAIN_MAX + 1];
};

/* list_ok - a list name: [a-z0-9][a-z0-9._-]*, no "..", no final '.', at most 64 octets */
static bool
list_ok(const char *p, size_t n)
{
	size_t i;

	if (n == 0 || n > BH_VERP_MAX_LIST || p[n - 1] == '.')
		return false;
	for (i = 0; i < n; i++) {
		char c = p[i];

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			continue;
		if (i == 0 || (c != '.' && c != '_' && c != '-'))
			return false;
		if (c == '.' && p[i - 1] == '.')
			return false;
	}
	return true;
}

/* ldh_ok - lower-case host name: labels of 1..63 [a-z0-9_-], not starting or ending with '-'
 * (the '_' that bh_addr_normalize allows: DNS names may hold it, RFC 2181 11) */
static bool
ldh_ok(const char *p, size_t n)
{
	size_t i, label = 0;

	if (n == 0 || n > DOMAIN_MAX)
		return false;
	for (i = 0; i < n; i++) {
		char c = p[i];

		if (c == '.') {
			if (label == 0 || p[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return false;
		if (c == '-' && label == 0)
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && p[n - 1] != '-';
}

/* norm_domain - a domain (span) as a lower-case A-label host name into out */
static int
norm_domain(const char *p, size_t n, char out[DOMAIN_MAX + 1], const char **error_r)
{
	bool ascii = true;
	size_t i;

	if (n == 0) {
		*error_r = "empty domain";
		return -1;
	}
	if (p[0] == '[') {
		*error_r = "domain literals are not supported";
		return -1;
	}
	if (n > 1024) {
		*error_r = "domain too long";
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (p[i] == '\0') {
			*error_r = "bad character in domain";
			return -1;
		}
		if ((unsigned char)p[i] >= 0x80)
			ascii = false;
	}
	if (ascii) {
		if (n > DOMAIN_MAX) {
			*error_r = "domain too long";
			return -1;
		}
		memcpy(out, p, n);
		out[n] = '\0';
	} else {
		char tmp[1025], *res = NULL;
		int rc;

		memcpy(tmp, p, n);
		tmp[n] = '\0';
		rc = idn2_to_ascii_8z(tmp, &res, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
		if (rc != IDN2_OK || res == NULL || strlen(res) > DOMAIN_MAX) {
			idn2_free(res);
			*error_r = "bad international domain name";
			return -1;
		}
		strcpy(out, res);
		idn2_free(res);
	}
	bh_lower_ascii(out);
	if (!ldh_ok(out, strlen(out))) {
		*error_r = "domain is not a valid host name";
		return -1;
	}
	return 0;
}

/* trim_addr - drop outer white space and one pair of angle brackets */
static void
trim_addr(const char **p, size_t *n)
{
	bh_span_trim(p, n);
	if (*n >= 2 && (*p)[0] == '<' && (*p)[*n - 1] == '>') {
		(*p)++;
		*n -= 2;
		bh_span_trim(p, n);
	}
}

/* parse_rcpt - a recipient through the one address grammar (bh_addr_normalize), split into
 * its unquoted local part and its normalized domain */
static int
parse_rcpt(const char *s, size_t n, bool allow_quoted, struct rcpt *r, const char **error_r)
{
	char *norm = NULL;
	const char *at, *dom;
	size_t i = 0, ln;
	int ret = -1;

	if (bh_addr_normalize(s, n, &norm, error_r) == -1)
		return -1;
	at = strrchr(norm, '@'); /* the normal form's domain holds no '@' */
	dom = at + 1;
	ln = (size_t)(at - norm);
	if (dom[0] == '[') {
		*error_r = "an address literal cannot be carried in a VERP address";
		goto out;
	}
	if (strlen(dom) > DOMAIN_MAX) {
		*error_r = "domain too long";
		goto out;
	}
	r->local_len = 0;
	if (norm[0] == '"') {
		if (!allow_quoted) {
			*error_r = "a quoted local part cannot be encoded in classic VERP";
			goto out;
		}
		for (i = 1; i + 1 < ln; i++) {
			if (norm[i] == '\\')
				i++;
			if (r->local_len == LOCAL_MAX)
				break;
			r->local[r->local_len++] = norm[i];
		}
	} else {
		if (ln > LOCAL_MAX)
			r->local_len = LOCAL_MAX + 1;
		else
			memcpy(r->local, norm, r->local_len = ln);
	}
	if (r->local_len > LOCAL_MAX || (norm[0] == '"' && i + 1 < ln)) {
		*error_r = "recipient local part too long";
		goto out;
	}
	r->local[r->local_len] = '\0';
	strcpy(r->domain, dom);
	ret = 0;
out:
	free(norm);
	return ret;
}

/* canonical - replace *recipient_r by its normal form (bh_addr_normalize), so that a decoded
 * recipient is byte for byte the key every other entry point makes of it; -1 when it has none */
static int
canonical(char **recipient_r, const char **error_r)
{
	char *norm = NULL;
	const char *e;

	if (bh_addr_normalize(*recipient_r, strlen(*recipient_r), &norm, &e) == -1) {
		free(*recipient_r);
		*recipient_r = NULL;
		*error_r = bh_verp_err_malformed;
		return -1;
	}
	free(*recipient_r);
	*recipient_r = norm;
	return 0;
}

/* enc_local - append the case-proof form of a local part: [a-z0-9-] and lone inner dots as
 * they are, every other octet as "_" and two lower-case hex digits */
static void
enc_local(struct bh_buf *b, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
		    (c == '.' && i > 0 && i + 1 < n && p[i - 1] != '.'))
			bh_buf_putc(b, (char)c);
		else
			bh_buf_printf(b, "_%02x", c);
	}
}

/* hexval - value of a lower-case hex digit, or -1 */
static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* dec_local - undo enc_local over lower-case text; -1 on a bad character or escape */
static int
dec_local(const char *p, size_t n, struct rcpt *r)
{
	size_t i;

	r->local_len = 0;
	for (i = 0; i < n; i++) {
		char c = p[i];

		if (r->local_len == LOCAL_MAX)
			return -1;
		if (c == '_') {
			int hi, lo;

			if (i + 2 >= n)
				return -1;
			hi = hexval(p[i + 1]);
			lo = hexval(p[i + 2]);
			if (hi == -1 || lo == -1)
				return -1;
			c = (char)(hi << 4 | lo);
			i += 2;
			if ((unsigned char)c < 0x20 || c == 0x7f)
				return -1;
		} else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
			     c == '.')) {
			return -1;
		}
		r->local[r->local_len++] = c;
	}
	r->local[r->local_len] = '\0';
	return r->local_len == 0 ? -1 : 0;
}

/* b32_encode - append n octets as unpadded lower-case RFC 4648 base32 */
static void
b32_encode(struct bh_buf *b, const unsigned char *p, size_t n)
{
	unsigned acc = 0, bits = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		acc = (acc << 8) | p[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			bh_buf_putc(b, b32_alphabet[(acc >> bits) & 31]);
		}
	}
	if (bits > 0)
		bh_buf_putc(b, b32_alphabet[(acc << (5 - bits)) & 31]);
}

/* b32val - value of a lower-case base32 character, or -1 */
static int
b32val(char c)
{
	if (c >= 'a' && c <= 'z')
		return c - 'a';
	if (c >= '2' && c <= '7')
		return c - '2' + 26;
	return -1;
}

/* b32_decode - decode exactly n octets from ceil(8n/5) characters; the unused low bits of the
 * last character must be zero (one spelling per tag) */
static int
b32_decode(const char *p, size_t chars, unsigned char *out, size_t n)
{
	unsigned acc = 0, bits = 0;
	size_t i, o = 0;

	if (chars != (n * 8 + 4) / 5)
		return -1;
	for (i = 0; i < chars; i++) {
		int v = b32val(p[i]);

		if (v == -1)
			return -1;
		acc = (acc << 5) | (unsigned)v;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
		acc &= (1u << bits) - 1;
	}
	return o == n && acc == 0 ? 0 : -1;
}

/* mac - HMAC-SHA256 over the canonical text of a token; the key schedule is wiped */
static void
mac(const struct bh_verp_key *k, const char *ts, const char *list, size_t list_len,
    const char *elocal, size_t elocal_len, const char *domain, size_t domain_len,
    unsigned char out[SHA256_DIGEST_SIZE])
{
	struct hmac_sha256_ctx ctx;

	hmac_sha256_set_key(&ctx, k->len, k->key);
	hmac_sha256_update(&ctx, sizeof(MAC_CONTEXT) - 1, (const uint8_t *)MAC_CONTEXT);
	hmac_sha256_update(&ctx, 1, (const uint8_t *)"\n");
	hmac_sha256_update(&ctx, TS_CHARS, (const uint8_t *)ts);
	hmac_sha256_update(&ctx, 1, (const uint8_t *)"\n");
	hmac_sha256_update(&ctx, list_len, (const uint8_t *)list);
	hmac_sha256_update(&ctx, 1, (const uint8_t *)"\n");
	hmac_sha256_update(&ctx, elocal_len, (const uint8_t *)elocal);
	hmac_sha256_update(&ctx, 1, (const uint8_t *)"\n");
	hmac_sha256_update(&ctx, domain_len, (const uint8_t *)domain);
	hmac_sha256_digest(&ctx, SHA256_DIGEST_SIZE, out);
	bh_secure_zero(&ctx, sizeof(ctx));
}

/* delims_ok - delimiters that never occur in a list name, an escaped local part or a domain */
static bool
delims_ok(char d1, char d2)
{
	return d1 != '\0' && strchr("+-=._", d1) != NULL && (d2 == '=' || d2 == '+');
}

/* prefix_ok - prefix: 1..63 of [A-Za-z0-9._-], a dot-atom */
static bool
prefix_ok(const char *p)
{
	size_t i, n = strlen(p);

	if (n == 0 || n > 63 || !bh_addr_dot_atom(p, n))
		return false;
	for (i = 0; i < n; i++) {
		char c = p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* bh_verp_conf_defaults - see verp.h */
void
bh_verp_conf_defaults(struct bh_verp_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->format = BH_VERP_SIGNED;
	strcpy(c->prefix, "bounces");
	c->delim1 = '+';
	c->delim2 = '=';
	c->max_age_s = 60 * 86400;
	c->tag_bytes = 8;
	c->max_local = BH_VERP_LOCAL_LIMIT;
}

/* bh_verp_conf_check - see verp.h */
int
bh_verp_conf_check(const struct bh_verp_conf *c, const char **error_r)
{
	size_t i;

	if (c->format != BH_VERP_SIGNED && c->format != BH_VERP_CLASSIC)
		*error_r = "format must be signed or classic";
	else if (memchr(c->prefix, '\0', sizeof(c->prefix)) == NULL || !prefix_ok(c->prefix))
		*error_r = "prefix must be 1..63 of letters, digits, '.', '_', '-'";
	else if (!delims_ok(c->delim1, c->delim2))
		*error_r = "delimiters: the first one of + - = . _, the second = or +";
	else if (memchr(c->domain, '\0', sizeof(c->domain)) == NULL)
		*error_r = "domain too long";
	else if (c->tag_bytes < BH_VERP_MIN_TAG || c->tag_bytes > BH_VERP_MAX_TAG)
		*error_r = "tag_bytes must be 8..32";
	else if (c->max_age_s < 0)
		*error_r = "max_age must not be negative";
	else if (c->max_local != 0 && (c->max_local < 32 || c->max_local > 255))
		*error_r = "max_local must be 32..255";
	else if (c->n_keys > BH_VERP_MAX_KEYS)
		*error_r = "too many keys";
	else {
		for (i = 0; i < c->n_keys; i++)
			if (c->keys[i].len < BH_VERP_MIN_KEY || c->keys[i].len > BH_VERP_MAX_KEY) {
				*error_r = "a key must be 16..128 octets";
				return -1;
			}
		if (c->domain[0] != '\0') {
			char dom[DOMAIN_MAX + 1];

			if (norm_domain(c->domain, strlen(c->domain), dom, error_r) == -1)
				return -1;
		}
		return 0;
	}
	return -1;
}

/* bh_verp_conf_add_key - see verp.h */
int
bh_verp_conf_add_key(struct bh_verp_conf *c, const char *id, const void *key, size_t len,
		     const char **error_r)
{
	struct bh_verp_key *k;

	if (c->n_keys >= BH_VERP_MAX_KEYS) {
		*error_r = "too many keys (at most 8)";
		return -1;
	}
	if (len < BH_VERP_MIN_KEY || len > BH_VERP_MAX_KEY) {
		*error_r = "a key must be 16..128 octets";
		return -1;
	}
	if (id != NULL && strlen(id) >= sizeof(k->id)) {
		*error_r = "key id too long";
		return -1;
	}
	k = &c->keys[c->n_keys++];
	memset(k, 0, sizeof(*k));
	if (id != NULL)
		strcpy(k->id, id);
	memcpy(k->key, key, len);
	k->len = len;
	return 0;
}

/* bh_verp_conf_wipe - see verp.h */
void
bh_verp_conf_wipe(struct bh_verp_conf *c)
{
	bh_secure_zero(c, sizeof(*c));
}

/* local_limit - the configured local part limit */
static size_t
local_limit(const struct bh_verp_conf *c)
{
	return c->max_local == 0 ? BH_VERP_LOCAL_LIMIT : c->max_local;
}

/* bh_verp_encode - see verp.h */
char *
bh_verp_encode(const struct bh_verp_conf *c, const char *list, const char *recipient, int64_t now,
	       const char **error_r)
{
	unsigned char digest[SHA256_DIGEST_SIZE];
	struct bh_buf out, elocal;
	char bdom[DOMAIN_MAX + 1], ts[TS_CHARS + 1];
	struct rcpt r;
	size_t local_len;
	char *ret = NULL;
	int64_t day;

	bh_buf_init(&out);
	bh_buf_init(&elocal);
	if (bh_verp_conf_check(c, error_r) == -1)
		goto out;
	if (c->domain[0] == '\0') {
		*error_r = "no bounce domain configured (verp.domain)";
		goto out;
	}
	if (norm_domain(c->domain, strlen(c->domain), bdom, error_r) == -1)
		goto out;
	if (list == NULL || !list_ok(list, strlen(list))) {
		*error_r = "list name must be 1..64 of lower-case letters, digits, '.', '_', '-'";
		goto out;
	}
	if (recipient == NULL || parse_rcpt(recipient, strlen(recipient),
					    c->format == BH_VERP_SIGNED, &r, error_r) == -1)
		goto out;

	bh_buf_printf(&out, "%s%c%s%c", c->prefix, c->delim1, list, c->delim2);
	if (c->format == BH_VERP_CLASSIC) {
		bh_buf_append(&out, r.local, r.local_len);
		bh_buf_printf(&out, "%c%s", c->delim2, r.domain);
	} else {
		if (c->n_keys == 0 || c->keys[0].len == 0) {
			*error_r = bh_verp_err_no_key;
			goto out;
		}
		if (now < 0) {
			*error_r = "time before the epoch";
			goto out;
		}
		day = (now / DAY) % TS_MOD;
		ts[0] = b32_alphabet[(day >> 10) & 31];
		ts[1] = b32_alphabet[(day >> 5) & 31];
		ts[2] = b32_alphabet[day & 31];
		ts[3] = '\0';
		enc_local(&elocal, r.local, r.local_len);
		mac(&c->keys[0], ts, list, strlen(list), elocal.data, elocal.len, r.domain,
		    strlen(r.domain), digest);
		bh_buf_append(&out, elocal.data, elocal.len);
		bh_buf_printf(&out, "%c%s%c%s", c->delim2, r.domain, c->delim2, ts);
		b32_encode(&out, digest, c->tag_bytes);
		bh_secure_zero(digest, sizeof(digest));
	}
	local_len = out.len;
	if (local_len > local_limit(c)) {
		*error_r = "VERP local part would exceed max_local (64 octets, RFC 5321): "
			   "shorten prefix or list name, or raise max_local";
		goto out;
	}
	bh_buf_printf(&out, "@%s", bdom);
	ret = bh_buf_steal(&out);
out:
	bh_buf_deinit(&elocal);
	bh_buf_deinit(&out);
	return ret;
}

/* quote_local - append a local part, quoted (RFC 5321 4.1.2) only when it is not a dot-atom */
static void
quote_local(struct bh_buf *b, const char *p, size_t n)
{
	size_t i;

	if (bh_addr_dot_atom(p, n)) {
		bh_buf_append(b, p, n);
		return;
	}
	bh_buf_putc(b, '"');
	for (i = 0; i < n; i++) {
		if (p[i] == '"' || p[i] == '\\')
			bh_buf_putc(b, '\\');
		bh_buf_putc(b, p[i]);
	}
	bh_buf_putc(b, '"');
}

/* find_delim - next delimiter d in p[0..n), or n */
static size_t
find_delim(const char *p, size_t n, char d)
{
	const char *q = memchr(p, d, n);

	return q == NULL ? n : (size_t)(q - p);
}

/* decode_classic - list, local, domain of PREFIX D1 LIST D2 LOCAL D2 DOMAIN (rest = after D1);
 * the local part keeps its case, which a classic address cannot protect */
static int
decode_classic(const struct bh_verp_conf *c, const char *rest, size_t n, char **list_r,
	       char **recipient_r, const char **error_r)
{
	size_t first = find_delim(rest, n, c->delim2), last = n;
	char dom[DOMAIN_MAX + 1], *list;
	struct bh_buf b;

	while (last > 0 && rest[last - 1] != c->delim2)
		last--;
	if (first == n || last == 0 || last - 1 <= first + 1) {
		*error_r = bh_verp_err_not_verp;
		return -1;
	}
	last--; /* the delimiter itself */
	list = bh_memdup0(rest, first);
	bh_lower_ascii(list);
	if (!list_ok(list, first) || !bh_addr_dot_atom(rest + first + 1, last - first - 1) ||
	    norm_domain(rest + last + 1, n - last - 1, dom, error_r) == -1) {
		free(list);
		*error_r = bh_verp_err_malformed;
		return -1;
	}
	bh_buf_init(&b);
	bh_buf_append(&b, rest + first + 1, last - first - 1);
	bh_buf_printf(&b, "@%s", dom);
	*list_r = list;
	*recipient_r = bh_buf_steal(&b);
	return 0;
}

/* decode_signed - verify PREFIX D1 LIST D2 ELOCAL D2 DOMAIN D2 TS TAG (lc = lower-cased text
 * after D1) and recover list and recipient */
static int
decode_signed(const struct bh_verp_conf *c, const char *lc, size_t n, int64_t now, char **list_r,
	      char **recipient_r, const char **error_r)
{
	unsigned char tag[BH_VERP_MAX_TAG], digest[SHA256_DIGEST_SIZE];
	const char *f[4];
	size_t fl[4], pos = 0, i, tag_n = 0, tag_chars, min_tag;
	struct rcpt r;
	struct bh_buf b;
	bool ok = false;
	int64_t age, nd, day;

	for (i = 0; i < 4; i++) {
		f[i] = lc + pos;
		fl[i] = find_delim(lc + pos, n - pos, c->delim2);
		pos += fl[i];
		if (i < 3) {
			if (pos == n) {
				*error_r = bh_verp_err_not_verp;
				return -1;
			}
			pos++;
		}
	}
	if (pos != n) {
		*error_r = bh_verp_err_not_verp;
		return -1;
	}
	/* Shape first: a token that is not ours in form is "malformed", whatever its tag. */
	if (!list_ok(f[0], fl[0]) || dec_local(f[1], fl[1], &r) == -1 || !ldh_ok(f[2], fl[2]) ||
	    fl[3] < TS_CHARS) {
		*error_r = bh_verp_err_malformed;
		return -1;
	}
	for (i = 0; i < TS_CHARS; i++)
		if (b32val(f[3][i]) == -1) {
			*error_r = bh_verp_err_malformed;
			return -1;
		}
	tag_chars = fl[3] - TS_CHARS;
	min_tag = c->tag_bytes > BH_VERP_MIN_TAG ? c->tag_bytes : BH_VERP_MIN_TAG;
	for (i = min_tag; i <= BH_VERP_MAX_TAG; i++)
		if ((i * 8 + 4) / 5 == tag_chars)
			tag_n = i;
	if (tag_n == 0) {
		*error_r = bh_verp_err_tag_len;
		return -1;
	}
	if (b32_decode(f[3] + TS_CHARS, tag_chars, tag, tag_n) == -1) {
		*error_r = bh_verp_err_malformed;
		return -1;
	}
	if (c->n_keys == 0) {
		*error_r = bh_verp_err_no_key;
		return -1;
	}
	for (i = 0; i < c->n_keys && i < BH_VERP_MAX_KEYS; i++) {
		if (c->keys[i].len == 0)
			continue;
		mac(&c->keys[i], f[3], f[0], fl[0], f[1], fl[1], f[2], fl[2], digest);
		if (bh_ct_equal(digest, tag, tag_n))
			ok = true;
		bh_secure_zero(digest, sizeof(digest));
		if (ok)
			break;
	}
	if (!ok) {
		*error_r = bh_verp_err_bad_sig;
		return -1;
	}
	day = (int64_t)b32val(f[3][0]) << 10 | (int64_t)b32val(f[3][1]) << 5 | b32val(f[3][2]);
	nd = (now < 0 ? 0 : now / DAY) % TS_MOD;
	age = ((nd - day) % TS_MOD + TS_MOD) % TS_MOD;
	if (age == TS_MOD - 1)
		age = 0; /* dated tomorrow: the sender's clock runs ahead */
	if (c->max_age_s > 0 && age * DAY > c->max_age_s) {
		*error_r = bh_verp_err_expired;
		return -1;
	}
	bh_buf_init(&b);
	quote_local(&b, r.local, r.local_len);
	bh_buf_putc(&b, '@');
	bh_buf_append(&b, f[2], fl[2]);
	*list_r = bh_memdup0(f[0], fl[0]);
	*recipient_r = bh_buf_steal(&b);
	return 0;
}

/* bh_verp_decode - see verp.h */
int
bh_verp_decode(const struct bh_verp_conf *c, const char *addr, size_t len, int64_t now,
	       char **list_r, char **recipient_r, const char **error_r)
{
	char lc[LOCAL_MAX + 1], dom[DOMAIN_MAX + 1], bdom[DOMAIN_MAX + 1];
	size_t i, n, plen = strnlen(c->prefix, sizeof(c->prefix)), local_len;
	const char *at = NULL, *lp;
	int ret;

	*list_r = NULL;
	*recipient_r = NULL;
	trim_addr(&addr, &len);
	if (len > BH_VERP_MAX_ADDRESS) {
		*error_r = bh_verp_err_too_long;
		return -1;
	}
	for (i = len; i > 0; i--)
		if (addr[i - 1] == '@') {
			at = addr + i - 1;
			break;
		}
	local_len = at == NULL ? len : (size_t)(at - addr);
	if (local_len == 0 || local_len > LOCAL_MAX) {
		*error_r = local_len > LOCAL_MAX ? bh_verp_err_too_long : bh_verp_err_not_verp;
		return -1;
	}
	if (at != NULL && c->domain[0] != '\0') {
		const char *e;

		if (norm_domain(at + 1, len - local_len - 1, dom, &e) == -1 ||
		    norm_domain(c->domain, strnlen(c->domain, sizeof(c->domain)), bdom, &e) == -1 ||
		    strcmp(dom, bdom) != 0) {
			*error_r = bh_verp_err_domain;
			return -1;
		}
	}
	/* An MTA that needlessly quoted our local part ("bounces+...") changed nothing. */
	lp = addr;
	if (local_len >= 2 && lp[0] == '"' && lp[local_len - 1] == '"' &&
	    memchr(lp + 1, '"', local_len - 2) == NULL &&
	    memchr(lp + 1, '\\', local_len - 2) == NULL) {
		lp++;
		local_len -= 2;
	}
	memcpy(lc, lp, local_len);
	lc[local_len] = '\0';
	if (memchr(lc, '\0', local_len) != NULL) {
		*error_r = bh_verp_err_not_verp;
		return -1;
	}
	bh_lower_ascii(lc);
	if (plen == 0 || plen >= sizeof(c->prefix) || local_len <= plen + 1 ||
	    strncasecmp(lc, c->prefix, plen) != 0 || lc[plen] != c->delim1) {
		*error_r = bh_verp_err_not_verp;
		return -1;
	}
	n = local_len - plen - 1;
	if (c->format == BH_VERP_CLASSIC)
		ret = decode_classic(c, lp + plen + 1, n, list_r, recipient_r, error_r);
	else
		ret = decode_signed(c, lc + plen + 1, n, now, list_r, recipient_r, error_r);
	if (ret == 0 && canonical(recipient_r, error_r) == -1) {
		free(*list_r);
		*list_r = NULL;
		ret = -1;
	}
	return ret;
}

/* ---- the sender's handle (verp.h): a bh_verp_conf behind an opaque pointer ---- */

struct bh_verp {
	struct bh_verp_conf c;
};

/* bh_verp_version - the library's version */
const char *
bh_verp_version(void)
{
	return BH_VERSION;
}

/* bh_verp_new - a handle with the defaults */
struct bh_verp *
bh_verp_new(void)
{
	struct bh_verp *v = bh_malloc(sizeof(*v));

	bh_verp_conf_defaults(&v->c);
	return v;
}

/* bh_verp_free - wipe the keys and free */
void
bh_verp_free(struct bh_verp **vp)
{
	if (vp == NULL || *vp == NULL)
		return;
	bh_verp_conf_wipe(&(*vp)->c);
	free(*vp);
	*vp = NULL;
}

/* bh_verp_set - one setting by name; checked on a copy, so a bad value changes nothing */
int
bh_verp_set(struct bh_verp *v, const char *name, const char *value, const char **error_r)
{
	struct bh_verp_conf t = v->c;
	long long n;
	const char *e;
	int ret = -1;

	if (name == NULL || value == NULL) {
		*error_r = "no setting";
		goto out;
	}
	if (strcmp(name, "format") == 0) {
		if (strcmp(value, "signed") == 0)
			t.format = BH_VERP_SIGNED;
		else if (strcmp(value, "classic") == 0)
			t.format = BH_VERP_CLASSIC;
		else {
			*error_r = "format: signed or classic";
			goto out;
		}
	} else if (strcmp(name, "prefix") == 0 || strcmp(name, "domain") == 0) {
		char *dst = name[0] == 'p' ? t.prefix : t.domain;
		size_t size = name[0] == 'p' ? sizeof(t.prefix) : sizeof(t.domain);

		if (strlen(value) >= size) {
			*error_r = "value too long";
			goto out;
		}
		memcpy(dst, value, strlen(value) + 1);
	} else if (strcmp(name, "delimiters") == 0) {
		if (strlen(value) != 2) {
			*error_r = "delimiters: two characters";
			goto out;
		}
		t.delim1 = value[0];
		t.delim2 = value[1];
	} else if (strcmp(name, "tag_bytes") == 0 || strcmp(name, "max_age") == 0 ||
		   strcmp(name, "max_local") == 0) {
		if (bh_strtonum(value, 0, INT64_MAX, &n, &e) == -1) {
			*error_r = "expected a number";
			goto out;
		}
		if (name[0] == 't')
			t.tag_bytes = n > 1000 ? 1000 : (unsigned)n;
		else if (strcmp(name, "max_age") == 0)
			t.max_age_s = n;
		else
			t.max_local = n > 1000 ? 1000 : (unsigned)n;
	} else {
		*error_r = "unknown setting";
		goto out;
	}
	/* A bounce domain or key still to come is fine; a bad value is not. */
	if (bh_verp_conf_check(&t, error_r) == -1)
		goto out;
	v->c = t;
	ret = 0;
out:
	bh_secure_zero(&t, sizeof(t));
	return ret;
}

/* bh_verp_add_key - append a key to the handle */
int
bh_verp_add_key(struct bh_verp *v, const char *id, const void *key, size_t len,
		const char **error_r)
{
	return bh_verp_conf_add_key(&v->c, id, key, len, error_r);
}

/* bh_verp_make - bh_verp_encode through the handle */
char *
bh_verp_make(const struct bh_verp *v, const char *list, const char *recipient, int64_t now,
	     const char **error_r)
{
	return bh_verp_encode(&v->c, list, recipient, now, error_r);
}

/* bh_verp_read - bh_verp_decode through the handle */
int
bh_verp_read(const struct bh_verp *v, const char *addr, size_t len, int64_t now, char **list_r,
	     char **recipient_r, const char **error_r)
{
	return bh_verp_decode(&v->c, addr, len, now, list_r, recipient_r, error_r);
}

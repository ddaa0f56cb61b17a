/* test_verp - VERP encode/decode: vectors, generated round trips, tampering, keys, limits. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "verp_conf.h"

#include "test.h"

#define KEY_A  "bouncer-test-key-0123456789abcdef"
#define KEY_B  "another-key-for-rotation-tests-42"
#define NOW    1767225600 /* 2026-01-01 */
#define ROUNDS 4000

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

/* rnd - xorshift64*: deterministic, so a failure can be replayed */
static uint32_t
rnd(uint32_t n)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32) % n;
}

static void
conf_init(struct bh_verp_conf *c, enum bh_verp_format f)
{
	const char *err;

	bh_verp_conf_defaults(c);
	c->format = f;
	strcpy(c->domain, "bounce.example.com");
	if (bh_verp_conf_add_key(c, "a", KEY_A, strlen(KEY_A), &err) == -1)
		TEST_FAIL("add key: %s", err);
}

/* Domains as given and the A-label form decode must return (IDNA2008 by hand). */
static const struct {
	const char *in, *norm;
} domains[] = {
    {"example.com", "example.com"},
    {"EXAMPLE.COM", "example.com"},
    {"Mail.Example.ORG", "mail.example.org"},
    {"b\xc3\xbc"
     "cher.example",
     "xn--bcher-kva.example"},
    {"B\xc3\x9c"
     "CHER.EXAMPLE",
     "xn--bcher-kva.example"},
    {"XN--BCHER-KVA.example", "xn--bcher-kva.example"},
    {"m\xc3\xbcnchen.de", "xn--mnchen-3ya.de"},
    {"caf\xc3\xa9.fr", "xn--caf-dma.fr"},
    {"\xe4\xbe\x8b\xe3\x81\x88.jp", "xn--r8jz45g.jp"},
    {"a-b.x1.co.uk", "a-b.x1.co.uk"},
    {"stra\xc3\x9f"
     "e.de",
     "xn--strae-oqa.de"}, /* IDNA2008: sharp s stays (2003 mapped it to "ss") */
};

/* gen_local - a random local part (raw bytes, unquoted) of length n */
static size_t
gen_local(char *out, size_t n, bool *quoted_r)
{
	static const char atext[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
				    "!#$%&'*+-/=?^_`{|}~+=-.";
	static const char qtext[] = " \"\\@,;:()<>[]abcXYZ09.+=";
	size_t i;

	*quoted_r = rnd(4) == 0;
	for (i = 0; i < n; i++) {
		if (*quoted_r && rnd(3) == 0)
			out[i] = qtext[rnd(sizeof(qtext) - 1)];
		else if (rnd(20) == 0)
			out[i] = (char)(0x80 + rnd(0x40)); /* UTF-8-ish octets (SMTPUTF8) */
		else
			out[i] = atext[rnd(sizeof(atext) - 1)];
	}
	out[n] = '\0';
	return n;
}

/* dot_atom - the local part needs no quotes */
static bool
dot_atom(const char *p, size_t n)
{
	size_t i;

	if (n == 0 || p[0] == '.' || p[n - 1] == '.')
		return false;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '.' ? p[i - 1] == '.'
			     : !(isalnum(c) || c >= 0x80 || strchr("!#$%&'*+-/=?^_`{|}~", c)))
			return false;
	}
	return true;
}

/* as_address - local (raw) @ domain, quoted if it must be: the canonical recipient */
static void
as_address(struct bh_buf *b, const char *local, size_t n, const char *domain, bool force_quote)
{
	size_t i;

	bh_buf_reset(b);
	if (dot_atom(local, n) && !force_quote) {
		bh_buf_append(b, local, n);
	} else {
		bh_buf_putc(b, '"');
		for (i = 0; i < n; i++) {
			if (local[i] == '"' || local[i] == '\\')
				bh_buf_putc(b, '\\');
			bh_buf_putc(b, local[i]);
		}
		bh_buf_putc(b, '"');
	}
	bh_buf_printf(b, "@%s", domain);
}

/* enc_len - the escaped length of a local part, computed independently of verp.c */
static size_t
enc_len(const char *p, size_t n)
{
	size_t i, len = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
		    (c == '.' && i > 0 && i + 1 < n && p[i - 1] != '.'))
			len += 1;
		else
			len += 3;
	}
	return len;
}

/* recase - change the case of the local part of addr in place: 0 upper, 1 lower, 2 random */
static void
recase(char *addr, int how)
{
	char *at = strrchr(addr, '@'), *p;

	for (p = addr; p < at; p++) {
		int up = how == 0 || (how == 2 && rnd(2) == 0);

		*p = (char)(up ? toupper((unsigned char)*p) : tolower((unsigned char)*p));
	}
}

static int
decode_str(const struct bh_verp_conf *c, const char *addr, int64_t now, char **list, char **rcpt,
	   const char **err)
{
	return bh_verp_decode(c, addr, strlen(addr), now, list, rcpt, err);
}

static void
test_vectors(void)
{
	static const struct {
		const char *list, *rcpt;
		int64_t now;
		const char *want, *want_rcpt;
	} v[] = {
	    {"news", "john.smith@example.com", 1767225600,
	     "bounces+news=john.smith=example.com=t7ghgoqsesspd5h6@bounce.example.com",
	     "john.smith@example.com"},
	    {"news", "John.Smith@Example.COM", 1767225600,
	     "bounces+news=_4aohn._53mith=example.com=t7geumabubcp35gi@bounce.example.com",
	     "John.Smith@example.com"},
	    {"news", "\"john doe\"@example.com", 1767225600,
	     "bounces+news=john_20doe=example.com=t7ghqpokhde2qepa@bounce.example.com",
	     "\"john doe\"@example.com"},
	    {"news",
	     "a+b=c@b\xc3\xbc"
	     "cher.example",
	     1767225600,
	     "bounces+news=a_2bb_3dc=xn--bcher-kva.example=t7gwgh4cbon2ikau@bounce.example.com",
	     "a+b=c@xn--bcher-kva.example"},
	    {"offers-2026", "x@xn--mnchen-3ya.de", 1790000000,
	     "bounces+offers-2026=x=xn--mnchen-3ya.de=uhnxjrpg7awz2mnq@bounce.example.com",
	     "x@xn--mnchen-3ya.de"},
	};
	struct bh_verp_conf c;
	const char *err;
	char *got, *list, *rcpt;
	size_t i;

	conf_init(&c, BH_VERP_SIGNED);
	for (i = 0; i < BH_NELEM(v); i++) {
		got = bh_verp_encode(&c, v[i].list, v[i].rcpt, v[i].now, &err);
		CHECK_STR(got, v[i].want);
		free(got);
		CHECK_INT(decode_str(&c, v[i].want, v[i].now, &list, &rcpt, &err), 0);
		CHECK_STR(list, v[i].list);
		CHECK_STR(rcpt, v[i].want_rcpt);
		free(list);
		free(rcpt);
	}
	bh_verp_conf_wipe(&c);
}

/* round_trip - encode a generated recipient, decode it as is and with case changes */
static void
round_trip(const struct bh_verp_conf *c, const char *list, const char *local, size_t local_len,
	   bool quoted, size_t d, int64_t now, unsigned *encoded, unsigned *refused)
{
	struct bh_buf in, want;
	const char *err;
	char *addr, *l, *r;
	size_t predicted;
	int how;

	bh_buf_init(&in);
	bh_buf_init(&want);
	/* The recipient as a sender would write it: quoted when it must (or by choice). */
	as_address(&in, local, local_len, domains[d].in, quoted);
	as_address(&want, local, local_len, domains[d].norm, false);
	if (c->format == BH_VERP_SIGNED)
		predicted = strlen(c->prefix) + 1 + strlen(list) + 1 + enc_len(local, local_len) +
			    1 + strlen(domains[d].norm) + 1 + 3 + (c->tag_bytes * 8 + 4) / 5;
	else
		predicted = strlen(c->prefix) + 1 + strlen(list) + 1 + local_len + 1 +
			    strlen(domains[d].norm);
	addr = bh_verp_encode(c, list, in.data, now, &err);
	if (c->format == BH_VERP_CLASSIC && !dot_atom(local, local_len)) {
		CHECK(addr == NULL && strstr(err, "quoted") != NULL);
		if (addr != NULL)
			TEST_FAIL("classic encoded a quoted local part: %s", addr);
		(*refused)++;
		goto out;
	}
	if (predicted > (c->max_local ? c->max_local : 64)) {
		if (addr != NULL || strstr(err, "max_local") == NULL)
			TEST_FAIL("%s: %zu octets, want refused; got %s", in.data, predicted,
				  addr ? addr : err);
		(*refused)++;
		goto out;
	}
	if (addr == NULL) {
		TEST_FAIL("encode %s: %s", in.data, err);
		goto out;
	}
	test_checks++;
	if (strchr(addr, '@') - addr != (long)predicted)
		TEST_FAIL("%s: local part %zu octets, predicted %zu", addr,
			  (size_t)(strchr(addr, '@') - addr), predicted);
	(*encoded)++;
	for (how = -1; how < 3; how++) {
		if (how >= 0)
			recase(addr, how);
		if (decode_str(c, addr, now + (int64_t)rnd(30) * 86400, &l, &r, &err) == -1) {
			TEST_FAIL("decode %s (from %s): %s", addr, in.data, err);
			continue;
		}
		test_checks++;
		if (strcmp(l, list) != 0)
			TEST_FAIL("%s: list got %s, want %s", addr, l, list);
		if (c->format == BH_VERP_SIGNED || how == -1) {
			CHECK_STR(r, want.data);
		} else {
			/* classic cannot protect the case of a local part: only compare folded */
			CHECK(strcasecmp(r, want.data) == 0);
		}
		free(l);
		free(r);
	}
	free(addr);
out:
	bh_buf_deinit(&in);
	bh_buf_deinit(&want);
}

static void
test_generated(enum bh_verp_format f, unsigned max_local, unsigned tag_bytes, char d1, char d2)
{
	static const char *lists[] = {"news", "a", "offers-2026", "x.y", "l_1"};
	struct bh_verp_conf c;
	char local[200];
	unsigned encoded = 0, refused = 0, i;

	conf_init(&c, f);
	c.max_local = max_local;
	c.tag_bytes = tag_bytes;
	c.delim1 = d1;
	c.delim2 = d2;
	for (i = 0; i < ROUNDS; i++) {
		size_t n = 1 + rnd(i % 10 == 0 ? 120 : 24);
		bool quoted;

		gen_local(local, n, &quoted);
		round_trip(&c, lists[rnd(BH_NELEM(lists))], local, n, quoted,
			   rnd(BH_NELEM(domains)), NOW + (int64_t)rnd(2000) * 86400, &encoded,
			   &refused);
	}
	printf("format %d max_local %u tag %u delimiters %c%c: %u encoded, %u refused\n", (int)f,
	       max_local, tag_bytes, d1, d2, encoded, refused);
	CHECK(encoded > ROUNDS / 4);
	bh_verp_conf_wipe(&c);
}

/* test_tamper - forged, truncated, bit-flipped, wrong-key, expired tokens */
static void
test_tamper(void)
{
	struct bh_verp_conf c, other;
	const char *err;
	char *addr, *l, *r, buf[300];
	size_t i, n, at;
	unsigned sig = 0, shape = 0;

	conf_init(&c, BH_VERP_SIGNED);
	addr = bh_verp_encode(&c, "news", "Mary.Jones+tag@example.com", NOW, &err);
	CHECK(addr != NULL);
	if (addr == NULL)
		return;
	at = (size_t)(strchr(addr, '@') - addr);

	/* Truncation: every shorter local part is refused; one character off the tag is "bad
	 * signature length". */
	for (n = 0; n < at; n++) {
		snprintf(buf, sizeof(buf), "%.*s%s", (int)n, addr, addr + at);
		CHECK_INT(decode_str(&c, buf, NOW, &l, &r, &err), -1);
		if (n == at - 1)
			CHECK_STR(err, bh_verp_err_tag_len);
	}
	/* Every single-character change after the prefix: refused, "bad signature" when it still
	 * has the shape of a token. */
	for (i = strlen("bounces+"); i < at; i++) {
		const char *alpha = "abcdefghijklmnopqrstuvwxyz234567=._-+";
		size_t k;

		for (k = 0; alpha[k] != '\0'; k++) {
			if (tolower((unsigned char)addr[i]) == alpha[k])
				continue;
			strcpy(buf, addr);
			buf[i] = alpha[k];
			test_checks++;
			if (decode_str(&c, buf, NOW, &l, &r, &err) == 0) {
				TEST_FAIL("changed %s decoded to %s %s", buf, l, r);
				free(l);
				free(r);
				continue;
			}
			if (err == bh_verp_err_bad_sig)
				sig++;
			else if (err == bh_verp_err_malformed || err == bh_verp_err_not_verp ||
				 err == bh_verp_err_tag_len)
				shape++;
			else
				TEST_FAIL("changed %s: unexpected reason %s", buf, err);
		}
	}
	CHECK(sig > 100);
	CHECK(shape > 10);
	/* Bit flips in the tag bytes themselves (one base32 character per 5 bits). */
	for (i = at - 13; i < at; i++) {
		int v = strchr("abcdefghijklmnopqrstuvwxyz234567", addr[i]) -
			"abcdefghijklmnopqrstuvwxyz234567";
		int bit;

		for (bit = 0; bit < 5; bit++) {
			strcpy(buf, addr);
			buf[i] = "abcdefghijklmnopqrstuvwxyz234567"[v ^ (1 << bit)];
			CHECK_INT(decode_str(&c, buf, NOW, &l, &r, &err), -1);
			CHECK(err == bh_verp_err_bad_sig ||
			      (i == at - 1 && err == bh_verp_err_malformed));
		}
	}
	/* Forged: the same shape, made up tag. */
	CHECK_INT(
	    decode_str(
		&c, "bounces+news=mary.jones_2btag=example.com=t7gaaaaaaaaaaaaa@bounce.example.com",
		NOW, &l, &r, &err),
	    -1);
	CHECK_STR(err, bh_verp_err_bad_sig);
	/* Signed with another key. */
	bh_verp_conf_defaults(&other);
	strcpy(other.domain, "bounce.example.com");
	CHECK_INT(bh_verp_conf_add_key(&other, "b", KEY_B, strlen(KEY_B), &err), 0);
	{
		char *forged =
		    bh_verp_encode(&other, "news", "Mary.Jones+tag@example.com", NOW, &err);

		CHECK_INT(decode_str(&c, forged, NOW, &l, &r, &err), -1);
		CHECK_STR(err, bh_verp_err_bad_sig);
		/* Rotation: keys[0] new, the old key listed second still verifies. */
		CHECK_INT(bh_verp_conf_add_key(&c, "b", KEY_B, strlen(KEY_B), &err), 0);
		CHECK_INT(decode_str(&c, forged, NOW, &l, &r, &err), 0);
		CHECK_STR(r, "Mary.Jones+tag@example.com");
		free(l);
		free(r);
		free(forged);
	}
	/* Expiry: 60 days by default; one day ahead is clock skew, more is refused. */
	CHECK_INT(decode_str(&c, addr, NOW + 60 * 86400, &l, &r, &err), 0);
	free(l);
	free(r);
	CHECK_INT(decode_str(&c, addr, NOW + 61 * 86400, &l, &r, &err), -1);
	CHECK_STR(err, bh_verp_err_expired);
	CHECK_INT(decode_str(&c, addr, NOW - 86400, &l, &r, &err), 0);
	free(l);
	free(r);
	CHECK_INT(decode_str(&c, addr, NOW - 2 * 86400, &l, &r, &err), -1);
	CHECK_STR(err, bh_verp_err_expired);
	c.max_age_s = 0; /* never expires */
	CHECK_INT(decode_str(&c, addr, NOW + 3000 * 86400, &l, &r, &err), 0);
	free(l);
	free(r);
	c.max_age_s = 60 * 86400;
	/* Not ours. */
	CHECK_INT(decode_str(&c, "john@bounce.example.com", NOW, &l, &r, &err), -1);
	CHECK_STR(err, bh_verp_err_not_verp);
	snprintf(buf, sizeof(buf), "%.*s@elsewhere.example", (int)at, addr);
	CHECK_INT(decode_str(&c, buf, NOW, &l, &r, &err), -1);
	CHECK_STR(err, bh_verp_err_domain);
	snprintf(buf, sizeof(buf), "\"%.*s\"%s", (int)at, addr, addr + at);
	CHECK_INT(decode_str(&c, buf, NOW, &l, &r, &err), 0);
	free(l);
	free(r);
	snprintf(buf, sizeof(buf), "\"%.*s\\\"\"%s", (int)at, addr, addr + at);
	CHECK_INT(decode_str(&c, buf, NOW, &l, &r, &err), -1);
	CHECK_STR(err, bh_verp_err_not_verp);
	snprintf(buf, sizeof(buf), "  <%s>  ", addr);
	CHECK_INT(decode_str(&c, buf, NOW, &l, &r, &err), 0);
	free(l);
	free(r);
	/* No key at all. */
	other.n_keys = 0;
	CHECK_INT(decode_str(&other, addr, NOW, &l, &r, &err), -1);
	CHECK_STR(err, bh_verp_err_no_key);
	CHECK(bh_verp_encode(&other, "news", "a@example.com", NOW, &err) == NULL);
	CHECK_STR(err, bh_verp_err_no_key);
	/* A longer tag than configured is fine, a shorter one is not. */
	other = c;
	other.tag_bytes = 16;
	CHECK_INT(decode_str(&other, addr, NOW, &l, &r, &err), -1);
	CHECK_STR(err, bh_verp_err_tag_len);
	{
		char *longer = bh_verp_encode(&other, "news", "a@example.com", NOW, &err);

		CHECK(longer != NULL);
		CHECK_INT(decode_str(&c, longer, NOW, &l, &r, &err), 0);
		free(l);
		free(r);
		free(longer);
	}
	free(addr);
	bh_verp_conf_wipe(&c);
	bh_verp_conf_wipe(&other);
}

#define L64 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

/* test_encode_errors - what encode refuses, and why */
static void
test_encode_errors(void)
{
	static const struct {
		enum bh_verp_format f;
		const char *list, *rcpt, *err_part;
	} v[] = {
	    {BH_VERP_SIGNED, "News", "a@example.com", "list name"},
	    {BH_VERP_SIGNED, "", "a@example.com", "list name"},
	    {BH_VERP_SIGNED, "a=b", "a@example.com", "list name"},
	    {BH_VERP_SIGNED, ".a", "a@example.com", "list name"},
	    {BH_VERP_SIGNED, "news", "a.@example.com", "quoting"},
	    {BH_VERP_SIGNED, "news", "a b@example.com", "quoting"},
	    {BH_VERP_SIGNED, "news", "example.com", "no @"},
	    {BH_VERP_SIGNED, "news", "@example.com", "empty local part"},
	    {BH_VERP_SIGNED, "news", "\"\"@example.com", "empty"},
	    {BH_VERP_SIGNED, "news", "\"a\x01\"@example.com", "control character"},
	    {BH_VERP_SIGNED, "news", "a@[192.0.2.1]", "literal"},
	    {BH_VERP_SIGNED, "news", "a@-x.com", "invalid domain"},
	    {BH_VERP_SIGNED, "news", "a@b@example.com", "more than one @"},
	    {BH_VERP_SIGNED, "news", "A <a@example.com>", "display name"},
	    {BH_VERP_SIGNED, "news", "a@" L64 ".example.com", "domain label longer than 63"},
	    {BH_VERP_SIGNED, "news", "a@", "empty domain"},
	    {BH_VERP_SIGNED, "news", "a@\xff\xfe.com", "invalid domain"},
	    {BH_VERP_SIGNED, "news",
	     "a-very-long-local-part-that-goes-on@a-long-domain-name.example.com", "max_local"},
	    {BH_VERP_CLASSIC, "news", "\"john doe\"@example.com", "quoted"},
	};
	struct bh_verp_conf c;
	const char *err;
	char *got;
	size_t i;

	for (i = 0; i < BH_NELEM(v); i++) {
		conf_init(&c, v[i].f);
		got = bh_verp_encode(&c, v[i].list, v[i].rcpt, NOW, &err);
		test_checks++;
		if (got != NULL)
			TEST_FAIL("encode %s: got %s, want an error with \"%s\"", v[i].rcpt, got,
				  v[i].err_part);
		else if (strstr(err, v[i].err_part) == NULL)
			TEST_FAIL("encode %s: got \"%s\", want \"%s\"", v[i].rcpt, err,
				  v[i].err_part);
		free(got);
	}
	/* The boundary: 31 octets of frame ("bounces+news=" "=" "=" and 16 of TS and tag) leave 33
	 * for the escaped local part and the domain. */
	conf_init(&c, BH_VERP_SIGNED);
	got = bh_verp_encode(&c, "news", "aaaaaaaaaaaaaaaaaaaaaa@example.com", NOW, &err);
	CHECK(got != NULL && strchr(got, '@') - got == 64);
	free(got);
	got = bh_verp_encode(&c, "news", "aaaaaaaaaaaaaaaaaaaaaaa@example.com", NOW, &err);
	CHECK(got == NULL && strstr(err, "max_local") != NULL);
	got = bh_verp_encode(&c, "news", "aaaaaaaaaaaaaaaaaaa_@example.com", NOW, &err); /* 19+3 */
	CHECK(got != NULL && strchr(got, '@') - got == 64);
	free(got);
	got = bh_verp_encode(&c, "news", "aaaaaaaaaaaaaaaaaaaA@example.com", NOW, &err); /* 19+3 */
	CHECK(got != NULL);
	free(got);
	got = bh_verp_encode(&c, "news", "aaaaaaaaaaaaaaaaaaaaA@example.com", NOW, &err);
	CHECK(got == NULL);
	/* A long one fits once max_local is raised. */
	conf_init(&c, BH_VERP_SIGNED);
	c.max_local = 255;
	got = bh_verp_encode(&c, "news",
			     "a-very-long-local-part-that-goes-on@a-long-domain-name.example.com",
			     NOW, &err);
	CHECK(got != NULL);
	free(got);
	/* No bounce domain. */
	c.domain[0] = '\0';
	CHECK(bh_verp_encode(&c, "news", "a@example.com", NOW, &err) == NULL);
	/* Configuration checks. */
	conf_init(&c, BH_VERP_SIGNED);
	CHECK_INT(bh_verp_conf_check(&c, &err), 0);
	c.delim2 = '.';
	CHECK_INT(bh_verp_conf_check(&c, &err), -1);
	c.delim2 = '-';
	CHECK_INT(bh_verp_conf_check(&c, &err), -1);
	c.delim2 = '=';
	c.delim1 = '.';
	CHECK_INT(bh_verp_conf_check(&c, &err), 0);
	c.delim1 = '-';
	CHECK_INT(bh_verp_conf_check(&c, &err), 0);
	c.tag_bytes = 7;
	CHECK_INT(bh_verp_conf_check(&c, &err), -1);
	c.tag_bytes = 8;
	strcpy(c.prefix, "bad prefix");
	CHECK_INT(bh_verp_conf_check(&c, &err), -1);
	CHECK_INT(bh_verp_conf_add_key(&c, NULL, "short", 5, &err), -1);
	bh_verp_conf_wipe(&c);
}

/* test_classic - the unsigned form, both delimiter styles */
static void
test_classic(void)
{
	struct bh_verp_conf c;
	const char *err;
	char *addr, *l, *r;

	conf_init(&c, BH_VERP_CLASSIC);
	addr = bh_verp_encode(&c, "news", "John+x=y@Example.COM", NOW, &err);
	CHECK_STR(addr, "bounces+news=John+x=y=example.com@bounce.example.com");
	CHECK_INT(decode_str(&c, addr, NOW, &l, &r, &err), 0);
	CHECK_STR(l, "news");
	CHECK_STR(r, "John+x=y@example.com");
	free(l);
	free(r);
	free(addr);
	c.delim1 = '-';
	addr = bh_verp_encode(&c, "news", "a-b@example.com", NOW, &err);
	CHECK_STR(addr, "bounces-news=a-b=example.com@bounce.example.com");
	CHECK_INT(
	    decode_str(&c, "BOUNCES-NEWS=A-B=EXAMPLE.COM@Bounce.Example.Com", NOW, &l, &r, &err),
	    0);
	CHECK_STR(l, "news");
	CHECK_STR(r, "A-B@example.com");
	free(l);
	free(r);
	free(addr);
	CHECK_INT(decode_str(&c, "bounces-news=x@bounce.example.com", NOW, &l, &r, &err), -1);
	CHECK_STR(err, bh_verp_err_not_verp);
	CHECK_INT(decode_str(&c, "bounces-news==example.com@bounce.example.com", NOW, &l, &r, &err),
		  -1);
	bh_verp_conf_wipe(&c);
}

/* bench - a figure for the report: encode + decode pairs per second (not a check) */
static void
bench(void)
{
	struct bh_verp_conf c;
	const char *err;
	char *addr, *l, *r;
	int64_t t0;
	unsigned i, n = 20000;

	conf_init(&c, BH_VERP_SIGNED);
	t0 = bh_mono_ms();
	for (i = 0; i < n; i++) {
		addr = bh_verp_encode(&c, "news", "John.Smith+x@example.com", NOW, &err);
		if (addr == NULL || decode_str(&c, addr, NOW, &l, &r, &err) == -1)
			abort();
		free(addr);
		free(l);
		free(r);
	}
	printf("bench: %u encode+decode pairs in %lld ms\n", n, (long long)(bh_mono_ms() - t0));
	bh_verp_conf_wipe(&c);
}

int
main(void)
{
	test_vectors();
	test_encode_errors();
	test_classic();
	test_tamper();
	test_generated(BH_VERP_SIGNED, 0, 8, '+', '=');
	test_generated(BH_VERP_SIGNED, 255, 8, '-', '=');
	test_generated(BH_VERP_SIGNED, 255, 32, '+', '=');
	test_generated(BH_VERP_SIGNED, 255, 8, '_', '+');
	test_generated(BH_VERP_CLASSIC, 0, 8, '+', '=');
	test_generated(BH_VERP_CLASSIC, 255, 8, '-', '=');
	test_generated(BH_VERP_CLASSIC, 255, 8, '.', '+');
	bench();
	return test_done("test_verp");
}

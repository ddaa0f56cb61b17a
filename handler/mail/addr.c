/*
 * addr.c - the one address grammar of bouncer, and the normal form used in Redis keys.
 *
 * Trusts nothing: the input is a span from a bounce, an operator's command line or a sender.
 * Grammar (RFC 5322 3.4.1 addr-spec without comments or folding white space, with the UTF-8 of
 * RFC 6532): outer white space, then optionally one pair of angle brackets (the form of an SMTP
 * path and of DSN fields, RFC 5321 4.1.2), then local-part "@" domain.
 *   local-part = dot-atom / quoted-string (qtextSMTP and quoted-pairs, RFC 5321 4.1.2)
 *   domain     = labels of [A-Za-z0-9_-] or UTF-8, 1..63 octets, no '-' at either end, 253
 *                octets in all (RFC 1035 2.3.4), trailing dots dropped / "[" dtext "]"
 * A display name, a comment, a second unquoted '@', a control character or malformed UTF-8 is
 * refused with its reason. The scanner is one bounded pass: no recursion, no backtracking.
 *
 * Normal form: the local part keeps its bytes (RFC 5321 2.4: only the receiving host interprets
 * it) but is written canonically, unquoted when it is a dot-atom ("john"@x is john@x) and quoted
 * with only '"' and '\' escaped otherwise; the domain is lower-cased (RFC 5321 2.4) and a
 * U-label domain becomes its A-label form (RFC 5890) through libidn2, so that one subscriber has
 * one key.
 */
#include "addr.h"

#include <idn2.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "bh_limits.h"
#include "util.h"

#define LABEL_MAX  63
#define DOMAIN_MAX 253

/* is_atext - RFC 5322 atext, plus the octets of UTF-8 (checked apart) */
static bool
is_atext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80)
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* bh_addr_dot_atom - p[0..n) is a dot-atom-text (needs no quoting as a local part) */
bool
bh_addr_dot_atom(const char *p, size_t n)
{
	size_t i;

	if (n == 0 || p[0] == '.' || p[n - 1] == '.')
		return false;
	for (i = 0; i < n; i++) {
		if (p[i] == '.') {
			if (p[i - 1] == '.')
				return false;
		} else if (!is_atext((unsigned char)p[i])) {
			return false;
		}
	}
	return true;
}

/* utf8_ok - p[0..n) is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates) */
static bool
utf8_ok(const char *p, size_t n)
{
	size_t i = 0, k, len;

	while (i < n) {
		unsigned char c = (unsigned char)p[i];
		unsigned cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			len = 2, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			len = 3, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			len = 4, cp = c & 0x07;
		else
			return false;
		if (n - i < len)
			return false;
		for (k = 1; k < len; k++) {
			unsigned char d = (unsigned char)p[i + k];

			if ((d & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (d & 0x3f);
		}
		if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
			return false;
		i += len;
	}
	return true;
}

/* host_check - a lower-case ASCII domain: labels of 1..63 [a-z0-9_-], no '-' at either end;
 * NULL, or the reason */
static const char *
host_check(const char *d, size_t n)
{
	size_t i, label = 0;

	if (n > DOMAIN_MAX)
		return "domain longer than 253 octets";
	for (i = 0; i <= n; i++) {
		char c = i < n ? d[i] : '.';

		if (c == '.') {
			if (label == 0)
				return "empty domain label";
			if (d[i - 1] == '-')
				return "invalid domain";
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return "invalid domain";
		if (c == '-' && label == 0)
			return "invalid domain";
		if (++label > LABEL_MAX)
			return "domain label longer than 63 octets";
	}
	return NULL;
}

/* literal_check - "[" dtext "]" (RFC 5322 3.4.1; no obsolete quoted-pairs) */
static const char *
literal_check(const char *d, size_t n)
{
	size_t i;

	if (n < 3 || d[n - 1] != ']')
		return "invalid address literal";
	for (i = 1; i + 1 < n; i++) {
		unsigned char c = (unsigned char)d[i];

		if (c < 33 || c > 126 || c == '[' || c == ']' || c == '\\')
			return "invalid address literal";
	}
	return NULL;
}

/* parse_local - the local part at p[0..n) up to its '@': its unquoted bytes into *b, the
 * length consumed into *used. 0, or -1 with *error_r. */
static int
parse_local(const char *p, size_t n, struct bh_buf *b, size_t *used, const char **error_r)
{
	size_t i;

	if (n > 0 && p[0] == '"') {
		for (i = 1; i < n && p[i] != '"'; i++) {
			if (p[i] == '\\') {
				if (++i == n)
					break;
			}
			bh_buf_putc(b, p[i]);
		}
		if (i >= n) {
			*error_r = "unterminated quoted string";
			return -1;
		}
		*used = i + 1;
		if (b->len == 0) {
			*error_r = "empty local part";
			return -1;
		}
		return 0;
	}
	for (i = 0; i < n && p[i] != '@'; i++)
		;
	if (i == n) {
		*error_r = "no @";
		return -1;
	}
	if (i == 0) {
		*error_r = "empty local part";
		return -1;
	}
	if (!bh_addr_dot_atom(p, i)) {
		*error_r = p[0] == '<' ? "unbalanced angle brackets"
			   : memchr(p, '<', i) != NULL
			       ? "a display name is not part of the address: give the address "
				 "alone"
			   : memchr(p, '(', i) != NULL ? "comments are not allowed"
						       : "invalid local part (it needs quoting)";
		return -1;
	}
	bh_buf_append(b, p, i);
	*used = i;
	return 0;
}

/* norm_domain - d[0..n) (after the '@') in normal form, the caller's to free; NULL with *error_r */
static char *
norm_domain(const char *d, size_t n, const char **error_r)
{
	char *dom = NULL, *alabel = NULL, *out = NULL;
	bool ascii = true;
	size_t i;
	int rc;

	if (memchr(d, '@', n) != NULL) {
		*error_r = "more than one @ (a local part holding @ must be quoted)";
		return NULL;
	}
	if (n > 0 && d[0] == '[') {
		if ((*error_r = literal_check(d, n)) != NULL)
			return NULL;
		out = bh_memdup0(d, n);
		bh_lower_ascii(out);
		return out;
	}
	/* Trailing dots name the same (absolute) domain. */
	while (n > 0 && d[n - 1] == '.')
		n--;
	if (n == 0) {
		*error_r = "empty domain";
		return NULL;
	}
	for (i = 0; i < n; i++)
		if ((unsigned char)d[i] >= 0x80)
			ascii = false;
	if (!ascii && !utf8_ok(d, n)) {
		*error_r = "invalid domain";
		return NULL;
	}
	dom = bh_memdup0(d, n);
	if (!ascii) {
		rc = idn2_to_ascii_8z(dom, &alabel, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
		free(dom);
		dom = NULL;
		if (rc != IDN2_OK) {
			*error_r = "invalid domain";
			goto out;
		}
		/* IDNA mapping can turn a character into a dot or a blank (U+3000 becomes a
		 * space, U+3002 a dot): the A-label meets the same checks as ASCII input, so that a
		 * normalized address normalizes to itself (found by fuzz_addr). */
		dom = bh_strdup(alabel);
		n = strlen(dom);
		while (n > 0 && dom[n - 1] == '.')
			dom[--n] = '\0';
		if (n == 0) {
			*error_r = "empty domain";
			goto out;
		}
	}
	bh_lower_ascii(dom);
	if ((*error_r = host_check(dom, n)) != NULL)
		goto out;
	out = dom;
	dom = NULL;
out:
	/* libidn2 allocates with its own allocator; idn2_free releases it. */
	if (alabel != NULL)
		idn2_free(alabel);
	free(dom);
	return out;
}

/* bh_addr_normalize - parse an address span and write its normal form; see addr.h */
int
bh_addr_normalize(const char *p, size_t n, char **out_r, const char **error_r)
{
	struct bh_buf local, out;
	size_t i, used;
	char *dom = NULL;
	int ret = -1;

	*out_r = NULL;
	bh_buf_init(&local);
	bh_buf_init(&out);
	bh_span_trim(&p, &n);
	if (n == 0) {
		*error_r = "empty";
		goto out;
	}
	if (n > BH_MAX_ADDRESS) {
		*error_r = "too long";
		goto out;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c < 0x20 || c == 0x7f) {
			*error_r = "control character";
			goto out;
		}
	}
	if (p[0] == '<' || p[n - 1] == '>') {
		if (n < 2 || p[0] != '<' || p[n - 1] != '>') {
			*error_r = p[0] != '<' && memchr(p, '<', n) != NULL
				       ? "a display name is not part of the address: give the "
					 "address alone"
				       : "unbalanced angle brackets";
			goto out;
		}
		p++;
		n -= 2;
		bh_span_trim(&p, &n);
		if (n == 0) {
			*error_r = "empty";
			goto out;
		}
	}
	if (parse_local(p, n, &local, &used, error_r) == -1)
		goto out;
	if (used == n || p[used] != '@') {
		*error_r = used == n ? "no @" : "invalid local part (it needs quoting)";
		goto out;
	}
	if ((dom = norm_domain(p + used + 1, n - used - 1, error_r)) == NULL)
		goto out;
	if (bh_addr_dot_atom(local.data, local.len)) {
		bh_buf_append(&out, local.data, local.len);
	} else {
		bh_buf_putc(&out, '"');
		for (i = 0; i < local.len; i++) {
			if (local.data[i] == '"' || local.data[i] == '\\')
				bh_buf_putc(&out, '\\');
			bh_buf_putc(&out, local.data[i]);
		}
		bh_buf_putc(&out, '"');
	}
	bh_buf_putc(&out, '@');
	bh_buf_puts(&out, dom);
	if (out.len > BH_MAX_ADDRESS) {
		*error_r = "too long";
		goto out;
	}
	*out_r = bh_buf_steal(&out);
	ret = 0;
out:
	free(dom);
	bh_buf_deinit(&local);
	bh_buf_deinit(&out);
	return ret;
}

/* bh_addr_domain - the domain part of a normalized address */
const char *
bh_addr_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at == NULL ? "" : at + 1;
}

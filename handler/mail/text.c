/*
 * text.c - scanners for addresses, reply codes and status codes in bounce texts.
 *
 * Addresses: RFC 5322 dot-atom local parts and host names (RFC 5321 4.1.2) only; quoted local
 * parts and address literals are not recognized in free text (XXX: rare in bounces). Reply
 * codes (RFC 5321 4.2) and status codes (RFC 3463 2) must stand alone as tokens: no digit or
 * dot may touch them, so dates, IP addresses and version numbers are not taken for codes.
 */
#include "text.h"

#include <string.h>

#include "bh_limits.h"
#include "util.h"

/* is_local_char - an atext character or a dot (RFC 5322 3.2.3) */
static bool
is_local_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != 0 && strchr("!#$%&'*+/=?^_`{|}~.-", c) != NULL);
}

/* is_domain_char - a host name character */
static bool
is_domain_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '-' || c == '_';
}

/* is_alpha - an ASCII letter */
static bool
is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* bh_text_next_addr - dot-atom@host.name */
bool
bh_text_next_addr(const char *p, size_t n, size_t *pos, size_t *start, size_t *len)
{
	size_t i = *pos;

	while (i < n) {
		const char *at = memchr(p + i, '@', n - i);
		size_t a, s, e, lo, dot = 0, labels = 0;

		if (at == NULL)
			break;
		a = (size_t)(at - p);
		s = a;
		lo = a > BH_MAX_LOCAL_PART * 4 ? a - BH_MAX_LOCAL_PART * 4 : 0;
		while (s > lo && is_local_char((unsigned char)p[s - 1]))
			s--;
		/* '=' and '/' are legal but usually glue ("to=<", "rfc822;"): keep the local part
		 * short of a leading '.', '=' and the like */
		while (s < a && (p[s] == '.' || p[s] == '=' || p[s] == '/' || p[s] == '\'' ||
				 p[s] == '`' || p[s] == '{' || p[s] == '|'))
			s++;
		/* Exchange's proxy-address type ("dda:SMTP=a@b") is not part of the address */
		if (a - s > 5 && strncasecmp(p + s, "smtp=", 5) == 0)
			s += 5;
		e = a + 1;
		while (e < n && e - a < 256 && is_domain_char((unsigned char)p[e])) {
			if (p[e] == '.')
				dot = e, labels++;
			e++;
		}
		while (e > a + 1 && (p[e - 1] == '.' || p[e - 1] == '-'))
			e--;
		if (dot >= e)
			labels--;
		i = a + 1;
		if (s == a || e <= a + 1 || labels == 0 || labels > 64)
			continue;
		/* the top-level label must start with a letter */
		{
			size_t t = e;

			while (t > a + 1 && p[t - 1] != '.')
				t--;
			if (t >= e || !is_alpha((unsigned char)p[t]))
				continue;
			if (p[a + 1] == '.' || p[a + 1] == '-')
				continue;
		}
		if (e - s > BH_MAX_ADDRESS)
			continue;
		*start = s;
		*len = e - s;
		*pos = e;
		return true;
	}
	*pos = n;
	return false;
}

/* bh_text_first_addr - first address of a header value, lower-cased copy */
char *
bh_text_first_addr(const char *p, size_t n)
{
	size_t pos = 0, s, l;
	const char *lt;
	char *a;

	if (p == NULL)
		return NULL;
	/* prefer the angle-bracketed one: "a@b" <c@d> */
	lt = memchr(p, '<', n);
	if (lt != NULL) {
		pos = (size_t)(lt - p);
		if (!bh_text_next_addr(p, n, &pos, &s, &l)) {
			pos = 0;
			if (!bh_text_next_addr(p, n, &pos, &s, &l))
				return NULL;
		}
	} else if (!bh_text_next_addr(p, n, &pos, &s, &l))
		return NULL;
	a = bh_memdup0(p + s, l);
	bh_lower_ascii(a);
	return a;
}

/* is_digit - an ASCII digit */
static bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* bh_text_reply_code - a standalone [245][0-5][0-9] token */
bool
bh_text_reply_code(const char *p, size_t n, char want, char code[4])
{
	size_t i;

	for (i = 0; i + 3 <= n; i++) {
		unsigned char c = (unsigned char)p[i];

		if ((c != '2' && c != '4' && c != '5') || (want && c != (unsigned char)want))
			continue;
		if (!is_digit((unsigned char)p[i + 1]) || p[i + 1] > '5' ||
		    !is_digit((unsigned char)p[i + 2]))
			continue;
		if (i > 0 && (is_digit((unsigned char)p[i - 1]) || p[i - 1] == '.' ||
			      p[i - 1] == '-' || p[i - 1] == '/' || p[i - 1] == '#' ||
			      p[i - 1] == '+' || is_alpha((unsigned char)p[i - 1]) ||
			      p[i - 1] == '_' || p[i - 1] == '=' || p[i - 1] == '@'))
			continue;
		if (i + 3 < n && p[i + 3] != ' ' && p[i + 3] != '-' && p[i + 3] != '\t' &&
		    p[i + 3] != '\r' && p[i + 3] != '\n' && p[i + 3] != ')' && p[i + 3] != ']' &&
		    p[i + 3] != ',' && p[i + 3] != ';' && p[i + 3] != '"' && p[i + 3] != ':')
			continue;
		if (i + 4 < n && p[i + 3] == '-' && is_alpha((unsigned char)p[i + 4]))
			continue;
		memcpy(code, p + i, 3);
		code[3] = '\0';
		return true;
	}
	return false;
}

/* bh_text_status - a standalone c.sss.ddd token */
bool
bh_text_status(const char *p, size_t n, char class_want, char *buf, size_t bufsz)
{
	size_t i;

	for (i = 0; i + 5 <= n; i++) {
		unsigned char c = (unsigned char)p[i];
		size_t j, d1 = 0, d2 = 0;

		if ((c != '2' && c != '4' && c != '5') || p[i + 1] != '.')
			continue;
		if (class_want && c != (unsigned char)class_want)
			continue;
		if (i > 0 && (is_digit((unsigned char)p[i - 1]) || p[i - 1] == '.' ||
			      is_alpha((unsigned char)p[i - 1])))
			continue;
		j = i + 2;
		while (j < n && is_digit((unsigned char)p[j]) && d1 < 4)
			j++, d1++;
		if (d1 == 0 || d1 > 3 || j >= n || p[j] != '.')
			continue;
		j++;
		while (j < n && is_digit((unsigned char)p[j]) && d2 < 4)
			j++, d2++;
		if (d2 == 0 || d2 > 3)
			continue;
		if (j < n && (is_digit((unsigned char)p[j]) ||
			      (p[j] == '.' && j + 1 < n && is_digit((unsigned char)p[j + 1]))))
			continue;
		if (j - i + 1 > bufsz)
			continue;
		memcpy(buf, p + i, j - i);
		buf[j - i] = '\0';
		return true;
	}
	return false;
}

/* utf8_cut - the length of b[0..n) without a UTF-8 sequence cut short at its end */
static size_t
utf8_cut(const char *b, size_t n)
{
	size_t k = n, need;
	unsigned char c;

	while (k > 0 && n - k < 4 && ((unsigned char)b[k - 1] & 0xC0) == 0x80)
		k--;
	if (k == 0)
		return n;
	c = (unsigned char)b[k - 1];
	if (c < 0x80)
		return n;
	need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
	return n - (k - 1) < need ? k - 1 : n;
}

/* bh_text_clean - collapse white space, drop control bytes, cut on a character boundary */
char *
bh_text_clean(const char *p, size_t n, size_t max)
{
	/* every byte written consumes at least one input byte: min(n, max) bytes are enough */
	size_t cap = n < max ? n : max, o = 0, i;
	char *r = bh_malloc(cap + 1);
	bool sp = false, cut = false;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			sp = o > 0;
			continue;
		}
		if (c < 32 || c == 127)
			continue;
		if (o + (sp ? 2 : 1) > max) {
			cut = true;
			break;
		}
		if (sp) {
			r[o++] = ' ';
			sp = false;
		}
		r[o++] = (char)c;
	}
	if (cut && o > 0)
		o = utf8_cut(r, o);
	r[o] = '\0';
	return r;
}

/* bh_html_to_text - tags out, block tags to line ends */
char *
bh_html_to_text(const char *p, size_t n, size_t *len_r)
{
	static const struct {
		const char *ent;
		char c;
	} ents[] = {{"&lt;", '<'},   {"&gt;", '>'},  {"&amp;", '&'}, {"&quot;", '"'},
		    {"&nbsp;", ' '}, {"&#64;", '@'}, {"&#39;", '\''}};
	struct bh_buf b;
	size_t i, k;

	bh_buf_init(&b);
	bh_buf_reserve(&b, n);
	for (i = 0; i < n; i++) {
		if (p[i] == '<') {
			const char *gt = memchr(p + i, '>', n - i);
			size_t tl;

			if (gt == NULL)
				break;
			tl = (size_t)(gt - (p + i));
			if (bh_span_istarts(p + i + 1, tl, "br") ||
			    bh_span_istarts(p + i + 1, tl, "p") ||
			    bh_span_istarts(p + i + 1, tl, "/p") ||
			    bh_span_istarts(p + i + 1, tl, "div") ||
			    bh_span_istarts(p + i + 1, tl, "/div") ||
			    bh_span_istarts(p + i + 1, tl, "tr") ||
			    bh_span_istarts(p + i + 1, tl, "/tr") ||
			    bh_span_istarts(p + i + 1, tl, "li"))
				bh_buf_putc(&b, '\n');
			else if (bh_span_istarts(p + i + 1, tl, "td"))
				bh_buf_putc(&b, ' ');
			i += tl;
			continue;
		}
		if (p[i] == '&') {
			for (k = 0; k < BH_NELEM(ents); k++) {
				size_t el = strlen(ents[k].ent);

				if (n - i >= el && bh_span_istarts(p + i, n - i, ents[k].ent)) {
					bh_buf_putc(&b, ents[k].c);
					i += el - 1;
					break;
				}
			}
			if (k < BH_NELEM(ents))
				continue;
		}
		bh_buf_putc(&b, p[i]);
	}
	if (b.data == NULL)
		bh_buf_reserve(&b, 0), b.data[0] = '\0';
	*len_r = b.len;
	{
		char *r = bh_buf_steal(&b);

		bh_buf_deinit(&b);
		return r;
	}
}

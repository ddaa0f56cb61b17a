/*
 * verp_locate.c - find the VERP address a bounce was sent to and decode it into the verdict.
 *
 * Reads only what the parser put in the verdict (envelope headers of the report, headers of the
 * returned message); trusts none of it: every candidate goes through bh_verp_decode, whose
 * signature check is what makes an address count. Header values are scanned for addresses with
 * a bounded, non-recursive scanner (RFC 5322 3.4: display names, quoted strings, comments,
 * angle brackets); the DSN Original-Envelope-Id may be xtext (RFC 3461 4).
 */
#include "verp_locate.h"

#include <stdlib.h>
#include <string.h>

#include "bh_limits.h"
#include "util.h"

const char bh_verp_err_none[] = "no VERP address found";

/* bh_verp_next_address - see verp_locate.h */
int
bh_verp_next_address(const char **pos, const char *end, const char **addr_r, size_t *len_r)
{
	const char *p = *pos;

	while (p < end) {
		const char *start, *angle = NULL, *angle_end = NULL, *cut = NULL, *a;
		size_t depth = 0, n;
		bool inq = false;

		while (p < end && (*p == ',' || *p == ';' || *p == ' ' || *p == '\t' ||
				   *p == '\r' || *p == '\n'))
			p++;
		if (p == end)
			break;
		start = p;
		for (; p < end; p++) {
			char ch = *p;

			if (inq) {
				if (ch == '\\' && p + 1 < end)
					p++;
				else if (ch == '"')
					inq = false;
				continue;
			}
			if (depth > 0) {
				if (ch == '\\' && p + 1 < end)
					p++;
				else if (ch == '(')
					depth++;
				else if (ch == ')')
					depth--;
				continue;
			}
			if (angle != NULL && angle_end == NULL) {
				if (ch == '>')
					angle_end = p;
				continue;
			}
			if (ch == '"') {
				inq = true;
			} else if (ch == '(') {
				depth = 1;
				if (cut == NULL)
					cut = p;
			} else if (ch == '<') {
				if (angle == NULL)
					angle = p + 1;
			} else if (ch == ':' && angle == NULL && cut == NULL) {
				start = p + 1; /* a group: "name: a@b, c@d;" */
			} else if (ch == ',' || ch == ';' || ch == '\n' || ch == '\r') {
				break;
			}
		}
		if (angle != NULL) {
			a = angle;
			n = (size_t)((angle_end != NULL ? angle_end : p) - angle);
		} else {
			a = start;
			n = (size_t)((cut != NULL ? cut : p) - start);
		}
		bh_span_trim(&a, &n);
		if (p < end)
			p++; /* the separator: every round consumes at least one byte */
		if (n > 0 && memchr(a, '@', n) != NULL) {
			*pos = p;
			*addr_r = a;
			*len_r = n;
			return 1;
		}
	}
	*pos = end;
	return 0;
}

/* xtext_decode - RFC 3461 xtext "+XX" into b; false when there was nothing to decode */
static bool
xtext_decode(struct bh_buf *b, const char *p, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	bool any = false;
	size_t i;

	bh_buf_reset(b);
	for (i = 0; i < n; i++) {
		const char *h, *l;

		if (p[i] == '+' && i + 2 < n && p[i + 1] != '\0' && p[i + 2] != '\0' &&
		    (h = strchr(hex, p[i + 1])) != NULL && (l = strchr(hex, p[i + 2])) != NULL) {
			bh_buf_putc(b, (char)((h - hex) << 4 | (l - hex)));
			i += 2;
			any = true;
		} else {
			bh_buf_putc(b, p[i]);
		}
	}
	return any;
}

/* try_one - decode one candidate; 1 when it verified (v->verp filled), else 0 with the first
 * telling failure remembered in v->verp */
static int
try_one(const struct bh_verp_conf *c, struct bh_verdict *v, const char *a, size_t n, int64_t now)
{
	char *list = NULL, *rcpt = NULL;
	const char *err;

	if (bh_verp_decode(c, a, n, now, &list, &rcpt, &err) == 0) {
		free(v->verp.address);
		v->verp.address = bh_memdup0(a, n);
		v->verp.list = list;
		v->verp.recipient = rcpt;
		v->verp.valid = true;
		v->verp.why = NULL;
		return 1;
	}
	if (err != bh_verp_err_not_verp && err != bh_verp_err_domain && v->verp.why == NULL) {
		v->verp.why = err;
		v->verp.address = bh_memdup0(a, n);
	}
	return 0;
}

/* bh_verp_locate - see verp_locate.h */
void
bh_verp_locate(const struct bh_verp_conf *c, struct bh_verdict *v, int64_t now)
{
	const struct {
		const char *value;
		bool xtext;
	} fields[] = {
	    {v->env.delivered_to, false},	 {v->env.x_original_to, false},
	    {v->env.envelope_to, false},	 {v->original.return_path, false},
	    {v->env.original_envelope_id, true}, {v->env.to, false},
	};
	struct bh_buf xt;
	size_t i, k;

	free(v->verp.address);
	free(v->verp.list);
	free(v->verp.recipient);
	memset(&v->verp, 0, sizeof(v->verp));
	v->verp.checked = true;
	bh_buf_init(&xt);
	for (i = 0; i < BH_NELEM(fields); i++) {
		const char *pos, *end, *a;
		size_t n;

		if (fields[i].value == NULL)
			continue;
		pos = fields[i].value;
		end = pos + strnlen(pos, BH_DEF_HEADER_LINE);
		if (fields[i].xtext) {
			/* An ENVID is one token, not an address list: try it whole, then decoded.
			 */
			a = pos;
			n = (size_t)(end - pos);
			bh_span_trim(&a, &n);
			if (n > 0 && try_one(c, v, a, n, now) == 1)
				goto out;
			if (n > 0 && xtext_decode(&xt, a, n) &&
			    try_one(c, v, xt.data, xt.len, now) == 1)
				goto out;
			continue;
		}
		for (k = 0; k < BH_MAX_FIELD_ADDRESSES; k++) {
			if (bh_verp_next_address(&pos, end, &a, &n) != 1)
				break;
			if (try_one(c, v, a, n, now) == 1)
				goto out;
		}
	}
	if (v->verp.why == NULL)
		v->verp.why = bh_verp_err_none;
out:
	bh_buf_deinit(&xt);
}

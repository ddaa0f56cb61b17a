/*
 * dsn.c - RFC 3464 section 2 delivery-status fields, RFC 3461 4.2 xtext, RFC 6533 3 utf-8
 * address type.
 *
 * Real reports are sloppy: blocks without the separating empty line, fields folded anywhere,
 * comments in values, upper/lower case everywhere. A new recipient starts at an empty line, or
 * when a recipient-identifying field repeats inside one block. Each block is capped at
 * BH_MAX_DSN_FIELDS fields and the recipients at the caller's limit.
 */
#include "dsn.h"

#include <stdlib.h>
#include <string.h>

#include "bh_limits.h"
#include "message.h"
#include "util.h"

/* rcpt_deinit - free one recipient block */
static void
rcpt_deinit(struct bh_dsn_rcpt *r)
{
	free(r->final_recipient);
	free(r->original_recipient);
	free(r->x_actual_recipient);
	free(r->x_category);
	free(r->action);
	free(r->status);
	free(r->status_comment);
	free(r->remote_mta);
	free(r->diagnostic);
	free(r->diagnostic_type);
	free(r->last_attempt_date);
	free(r->will_retry_until);
}

/* bh_dsn_deinit - free the report */
void
bh_dsn_deinit(struct bh_dsn *d)
{
	size_t i;

	free(d->reporting_mta);
	free(d->received_from_mta);
	free(d->original_envelope_id);
	free(d->arrival_date);
	for (i = 0; i < d->n; i++)
		rcpt_deinit(&d->r[i]);
	free(d->r);
	memset(d, 0, sizeof(*d));
}

/* put_utf8 - append code point cp as UTF-8 */
static void
put_utf8(struct bh_buf *b, unsigned long cp)
{
	if (cp < 0x80) {
		bh_buf_putc(b, (char)cp);
	} else if (cp < 0x800) {
		bh_buf_putc(b, (char)(0xC0 | (cp >> 6)));
		bh_buf_putc(b, (char)(0x80 | (cp & 0x3F)));
	} else if (cp < 0x10000) {
		bh_buf_putc(b, (char)(0xE0 | (cp >> 12)));
		bh_buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
		bh_buf_putc(b, (char)(0x80 | (cp & 0x3F)));
	} else {
		bh_buf_putc(b, (char)(0xF0 | (cp >> 18)));
		bh_buf_putc(b, (char)(0x80 | ((cp >> 12) & 0x3F)));
		bh_buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
		bh_buf_putc(b, (char)(0x80 | (cp & 0x3F)));
	}
}

/* strip_comments - drop (comments), nested by counter, outside quotes */
static void
strip_comments(const char *p, size_t n, struct bh_buf *out)
{
	unsigned depth = 0;
	bool inq = false;
	size_t i;

	for (i = 0; i < n; i++) {
		char c = p[i];

		if (c == '\\' && i + 1 < n && (inq || depth)) {
			if (!depth)
				bh_buf_append(out, p + i, 2);
			i++;
			continue;
		}
		if (!depth && c == '"')
			inq = !inq;
		else if (!inq && c == '(') {
			if (depth < 1000)
				depth++;
			continue;
		} else if (!inq && c == ')' && depth) {
			depth--;
			continue;
		}
		if (!depth)
			bh_buf_putc(out, c);
	}
}

/* bh_dsn_address - type stripped, decoded, angle brackets and blanks removed */
char *
bh_dsn_address(const char *p, size_t n, bool xtext)
{
	struct bh_buf b, c;
	const char *semi, *s;
	bool utf8 = false;
	size_t i, sn;
	char *res;

	bh_buf_init(&b);
	bh_buf_init(&c);
	strip_comments(p, n, &c);
	s = c.data != NULL ? c.data : "";
	sn = c.len;
	semi = memchr(s, ';', sn);
	if (semi != NULL && memchr(s, '@', (size_t)(semi - s)) == NULL) {
		const char *t = s;
		size_t tn = (size_t)(semi - s);

		bh_span_trim(&t, &tn);
		utf8 = bh_span_ieq(t, tn, "utf-8");
		sn -= (size_t)(semi + 1 - s);
		s = semi + 1;
	}
	bh_span_trim(&s, &sn);
	if (sn >= 2 && s[0] == '<' && memchr(s, '>', sn) != NULL) {
		const char *gt = memchr(s, '>', sn);

		sn = (size_t)(gt - s) - 1;
		s++;
	}
	for (i = 0; i < sn; i++) {
		int h, l;

		if (utf8 && s[i] == '\\' && i + 3 < sn && s[i + 1] == 'x' && s[i + 2] == '{') {
			unsigned long cp = 0;
			size_t j = i + 3, k = 0;

			while (j < sn && k < 6 && bh_hexval((unsigned char)s[j]) != -1)
				cp = cp * 16 + (unsigned long)bh_hexval((unsigned char)s[j++]), k++;
			if (j < sn && s[j] == '}' && k > 0 && cp <= 0x10FFFF &&
			    !(cp >= 0xD800 && cp <= 0xDFFF)) {
				put_utf8(&b, cp);
				i = j;
				continue;
			}
		}
		if (xtext && !utf8 && s[i] == '+' && i + 2 < sn &&
		    (h = bh_hexval((unsigned char)s[i + 1])) != -1 &&
		    (l = bh_hexval((unsigned char)s[i + 2])) != -1 && !(s[i + 1] >= 'a') &&
		    !(s[i + 2] >= 'a') && h * 16 + l > 32 && h * 16 + l < 127) {
			bh_buf_putc(&b, (char)(h * 16 + l));
			i += 2;
			continue;
		}
		if (s[i] == '\0')
			continue;
		bh_buf_putc(&b, s[i] == '\t' ? ' ' : s[i]);
	}
	if (b.len > BH_MAX_ADDRESS)
		b.len = BH_MAX_ADDRESS, b.data[b.len] = '\0';
	res = b.data != NULL ? bh_buf_steal(&b) : bh_strdup("");
	bh_buf_deinit(&b);
	bh_buf_deinit(&c);
	return res;
}

/* dup_value - trimmed copy of a field value */
static char *
dup_value(const struct bh_field *f)
{
	const char *p = f->value;
	size_t n = f->value_len;

	bh_span_trim(&p, &n);
	return bh_memdup0(p, n);
}

/* typed_text - "smtp; 550 ..." -> type and text */
static void
typed_text(const struct bh_field *f, char **type_r, char **text_r)
{
	const char *p = f->value, *semi;
	size_t n = f->value_len, tn;

	bh_span_trim(&p, &n);
	semi = memchr(p, ';', n);
	if (semi != NULL) {
		tn = (size_t)(semi - p);
		/* a type is one token: "smtp", "x-unix", "X-Postfix" */
		if (tn > 0 && tn < 32 && memchr(p, ' ', tn) == NULL) {
			*type_r = bh_memdup0(p, tn);
			bh_lower_ascii(*type_r);
			n -= tn + 1;
			p = semi + 1;
			bh_span_trim(&p, &n);
		}
	}
	*text_r = bh_memdup0(p, n);
}

/* set_once - keep the first value of a field that repeats */
static void
set_once(char **dst, char *val)
{
	if (*dst == NULL)
		*dst = val;
	else
		free(val);
}

/* known_field - an RFC 3464 field name, or an extension field (X-...) */
static bool
known_field(const char *nm, size_t nl)
{
	static const char *const names[] = {
	    "Original-Envelope-Id", "Reporting-MTA",	"DSN-Gateway",
	    "Received-From-MTA",    "Arrival-Date",	"Original-Recipient",
	    "Final-Recipient",	    "Action",		"Status",
	    "Remote-MTA",	    "Diagnostic-Code",	"Last-Attempt-Date",
	    "Final-Log-ID",	    "Will-Retry-Until", "X-Actual-Recipient",
	};
	size_t i;

	if (nl > 2 && (nm[0] == 'X' || nm[0] == 'x') && nm[1] == '-')
		return true;
	for (i = 0; i < BH_NELEM(names); i++)
		if (bh_span_ieq(nm, nl, names[i]))
			return true;
	return false;
}

/* field_like - the line starts with a field of a delivery-status block ("Status:") */
static bool
field_like(const char *l, size_t len)
{
	size_t i;

	for (i = 0; i < len && i < 64; i++) {
		unsigned char c = (unsigned char)l[i];

		if (c == ':')
			return i > 0 && known_field(l, i);
		if (c <= ' ' || c >= 0x7f)
			return false;
	}
	return false;
}

/* diag_continuation - the lines after a Diagnostic-Code that a sloppy MTA did not indent
 * ("550-5.1.1 The email account that you tried to reach does\nnot exist."): up to a blank
 * line or a field, at most 20 lines and BH_MAX_DIAGNOSTIC bytes, appended to *diag. Returns
 * the position after them. */
static size_t
diag_continuation(const char *p, size_t n, size_t pos, char **diag)
{
	struct bh_buf b;
	const char *l;
	size_t len, save, lines = 0;

	bh_buf_init(&b);
	bh_buf_puts(&b, *diag);
	while (lines++ < 20 && b.len < BH_MAX_DIAGNOSTIC) {
		save = pos;
		if (!bh_line_next(p, n, &pos, &l, &len))
			break;
		bh_span_trim(&l, &len);
		if (len == 0 || field_like(l, len)) {
			pos = save;
			break;
		}
		bh_buf_putc(&b, ' ');
		bh_buf_append(&b, l, len);
	}
	free(*diag);
	*diag = bh_buf_steal(&b);
	return pos;
}

/* bh_dsn_parse - blocks of fields */
int
bh_dsn_parse(const char *p, size_t n, unsigned max_rcpts, struct bh_dsn *d, const char **error_r)
{
	size_t pos = 0, cap = 0;
	struct bh_dsn_rcpt *cur = NULL;

	memset(d, 0, sizeof(*d));
	while (pos < n) {
		struct bh_header h;
		size_t i, off;
		bool last_diag, in_diag;

		/* skip blank lines between blocks */
		while (pos < n) {
			const char *l;
			size_t len, save = pos;

			if (!bh_line_next(p, n, &pos, &l, &len))
				break;
			bh_span_trim(&l, &len);
			if (len != 0) {
				pos = save;
				break;
			}
		}
		if (pos >= n)
			break;
		if (bh_header_parse(p + pos, n - pos, BH_DEF_HEADER_LINE, BH_MAX_DSN_FIELDS, &h,
				    error_r) == -1) {
			bh_header_deinit(&h);
			*error_r = "delivery-status block too large";
			return -1;
		}
		off = h.body_off;
		if (h.n == 0) {
			/* not a field: skip the line, and the continuation lines the header parser
			 * ignored before it (body_off); one line at a time would reread them for
			 * every line, quadratic on a part made of indented lines */
			const char *l;
			size_t len;

			bh_header_deinit(&h);
			if (off > 0) {
				pos += off;
				continue;
			}
			(void)bh_line_next(p, n, &pos, &l, &len);
			continue;
		}
		cur = NULL; /* a new block always starts a new recipient */
		in_diag = false;
		for (i = 0; i < h.n; i++) {
			const struct bh_field *f = &h.v[i];
			const char *nm = f->name;
			size_t nl = f->name_len;

			if (in_diag && cur != NULL && cur->diagnostic != NULL &&
			    !known_field(nm, nl)) {
				/* "recipient: the mailbox is full" on an unindented line after
				 * the Diagnostic-Code: its continuation, not a field */
				char *c = bh_asprintf("%s %.*s: %.*s", cur->diagnostic, (int)nl, nm,
						      (int)f->value_len, f->value);

				free(cur->diagnostic);
				cur->diagnostic = c;
				continue;
			}
			in_diag = bh_span_ieq(nm, nl, "Diagnostic-Code");

			if (bh_span_ieq(nm, nl, "Reporting-MTA")) {
				set_once(&d->reporting_mta,
					 bh_dsn_address(f->value, f->value_len, false));
				continue;
			}
			if (bh_span_ieq(nm, nl, "Received-From-MTA")) {
				set_once(&d->received_from_mta,
					 bh_dsn_address(f->value, f->value_len, false));
				continue;
			}
			if (bh_span_ieq(nm, nl, "Original-Envelope-Id")) {
				set_once(&d->original_envelope_id, dup_value(f));
				continue;
			}
			if (bh_span_ieq(nm, nl, "Arrival-Date")) {
				set_once(&d->arrival_date, dup_value(f));
				continue;
			}
			if (!bh_span_ieq(nm, nl, "Final-Recipient") &&
			    !bh_span_ieq(nm, nl, "Original-Recipient") &&
			    !bh_span_ieq(nm, nl, "X-Actual-Recipient") &&
			    !bh_span_ieq(nm, nl, "Action") && !bh_span_ieq(nm, nl, "Status") &&
			    !bh_span_ieq(nm, nl, "Remote-MTA") &&
			    !bh_span_ieq(nm, nl, "Diagnostic-Code") &&
			    !bh_span_ieq(nm, nl, "Last-Attempt-Date") &&
			    !bh_span_ieq(nm, nl, "Will-Retry-Until") &&
			    !bh_span_ieq(nm, nl, "X-PowerMTA-BounceCategory"))
				continue;
			/* a vendor's field qualifies a recipient; it never opens one */
			if (cur == NULL && bh_span_ieq(nm, nl, "X-PowerMTA-BounceCategory"))
				continue;
			/* a repeated recipient field inside one block starts the next recipient */
			if (cur != NULL && ((bh_span_ieq(nm, nl, "Final-Recipient") &&
					     cur->final_recipient != NULL) ||
					    (bh_span_ieq(nm, nl, "Original-Recipient") &&
					     cur->original_recipient != NULL)))
				cur = NULL;
			if (cur == NULL) {
				if (d->n >= max_rcpts) {
					d->truncated = true;
					break;
				}
				if (d->n == cap) {
					cap = cap ? cap * 2 : 4;
					d->r = bh_reallocarray(d->r, cap, sizeof(*d->r));
				}
				cur = &d->r[d->n++];
				memset(cur, 0, sizeof(*cur));
			}
			if (bh_span_ieq(nm, nl, "Final-Recipient"))
				set_once(&cur->final_recipient,
					 bh_dsn_address(f->value, f->value_len, false));
			else if (bh_span_ieq(nm, nl, "Original-Recipient"))
				set_once(&cur->original_recipient,
					 bh_dsn_address(f->value, f->value_len, true));
			else if (bh_span_ieq(nm, nl, "X-Actual-Recipient"))
				set_once(&cur->x_actual_recipient,
					 bh_dsn_address(f->value, f->value_len, false));
			else if (bh_span_ieq(nm, nl, "X-PowerMTA-BounceCategory"))
				set_once(&cur->x_category, dup_value(f));
			else if (bh_span_ieq(nm, nl, "Action"))
				set_once(&cur->action, dup_value(f));
			else if (bh_span_ieq(nm, nl, "Status")) {
				struct bh_buf c;

				bh_buf_init(&c);
				strip_comments(f->value, f->value_len, &c);
				{
					const char *s = c.data != NULL ? c.data : "";
					size_t sn = c.len;

					bh_span_trim(&s, &sn);
					set_once(&cur->status, bh_memdup0(s, sn));
				}
				bh_buf_deinit(&c);
				{
					/* "4.0.0 (host name lookup failure)": the comment
					 * is the only reason some reports give */
					const char *o = memchr(f->value, '(', f->value_len),
						   *e = o != NULL
							    ? memrchr(o, ')',
								      f->value_len -
									  (size_t)(o - f->value))
							    : NULL;

					if (o != NULL && e != NULL && e > o + 1)
						set_once(&cur->status_comment,
							 bh_memdup0(o + 1, (size_t)(e - o - 1)));
				}
			} else if (bh_span_ieq(nm, nl, "Remote-MTA"))
				set_once(&cur->remote_mta,
					 bh_dsn_address(f->value, f->value_len, false));
			else if (bh_span_ieq(nm, nl, "Diagnostic-Code")) {
				if (cur->diagnostic == NULL)
					typed_text(f, &cur->diagnostic_type, &cur->diagnostic);
			} else if (bh_span_ieq(nm, nl, "Last-Attempt-Date"))
				set_once(&cur->last_attempt_date, dup_value(f));
			else if (bh_span_ieq(nm, nl, "Will-Retry-Until"))
				set_once(&cur->will_retry_until, dup_value(f));
		}
		last_diag = cur != NULL && in_diag;
		bh_header_deinit(&h);
		if (off == 0) {
			/* defensive: always make progress */
			const char *l;
			size_t len;

			(void)bh_line_next(p, n, &pos, &l, &len);
		} else
			pos += off;
		if (last_diag && cur->diagnostic != NULL)
			pos = diag_continuation(p, n, pos, &cur->diagnostic);
	}
	return 0;
}

/*
 * message.c - header block parsing (RFC 5322 2.2, 3.2.2 unfolding) and RFC 2047 decoding.
 *
 * Trusts nothing: lines may end in LF, CRLF or bare CR, fields may hold NUL and 8-bit bytes,
 * a field may lack its colon's neighbour conventions. Every loop is bounded by the input length
 * and by the field count and line-length caps given by the caller. Encoded words are decoded by
 * libetpan (mailmime_encoded_phrase_parse), which converts charsets with iconv.
 */
#include "message.h"

#include <stdlib.h>
#include <string.h>

#include <libetpan/libetpan.h>

#include "util.h"

#define LINE_WINDOW 512 /* bytes bh_line_next searches at a time */

/* bh_line_next - one line, any line end (CRLF, LF, a bare CR, none). The end is the first
 * CR or LF, looked for in windows of LINE_WINDOW bytes with memchr: each byte is read at most
 * twice, so splitting a text costs time linear in its size whatever its line ends (a search
 * for LF to the end of the text, then for CR back, made bare-CR text quadratic). */
bool
bh_line_next(const char *p, size_t n, size_t *pos, const char **line, size_t *len)
{
	size_t i = *pos;
	const char *s, *end = p + n, *nl = NULL;

	if (i >= n)
		return false;
	*line = s = p + i;
	while (s < end) {
		size_t w = (size_t)(end - s) < LINE_WINDOW ? (size_t)(end - s) : LINE_WINDOW;
		const char *lf = memchr(s, '\n', w);
		const char *cr = memchr(s, '\r', lf != NULL ? (size_t)(lf - s) : w);

		if ((nl = cr != NULL ? cr : lf) != NULL)
			break;
		s += w;
	}
	if (nl == NULL) {
		*len = n - i;
		*pos = n;
		return true;
	}
	*len = (size_t)(nl - *line);
	if (*nl == '\r' && nl + 1 < end && nl[1] == '\n')
		*pos = (size_t)(nl - p) + 2;
	else
		*pos = (size_t)(nl - p) + 1;
	return true;
}

#define CR_WINDOW 2048 /* bytes bh_lines_next searches for a CR at a time */

/* bh_lines_init - an iterator over the lines of p[0..n) */
void
bh_lines_init(struct bh_lines *it, const char *p, size_t n)
{
	it->p = p;
	it->n = n;
	it->pos = 0;
	it->cr_end = 0;
	it->is_cr = false;
}

/* bh_lines_next - the lines bh_line_next gives, with the search for CR done once per window:
 * cr_end is the next CR (is_cr) or the end of a window known to hold none, so a line costs
 * one memchr for LF up to there. Every byte is read at most twice: linear for any line ends. */
bool
bh_lines_next(struct bh_lines *it, const char **line, size_t *len)
{
	const char *p = it->p, *lf;
	size_t n = it->n, i = it->pos, s = i;

	if (i >= n)
		return false;
	*line = p + i;
	for (;;) {
		if (s >= it->cr_end) {
			size_t w = n - s < CR_WINDOW ? n - s : CR_WINDOW;
			const char *q = memchr(p + s, '\r', w);

			it->cr_end = q != NULL ? (size_t)(q - p) : s + w;
			it->is_cr = q != NULL;
		}
		lf = memchr(p + s, '\n', it->cr_end - s);
		if (lf != NULL) {
			*len = (size_t)(lf - *line);
			it->pos = (size_t)(lf - p) + 1;
			return true;
		}
		if (it->is_cr) {
			size_t c = it->cr_end;

			*len = c - i;
			it->pos = c + 1 < n && p[c + 1] == '\n' ? c + 2 : c + 1;
			return true;
		}
		if (it->cr_end >= n) {
			*len = n - i;
			it->pos = n;
			return true;
		}
		s = it->cr_end;
	}
}

/* field_name_len - length of the field name when line starts a field ("Name:"), else 0 */
static size_t
field_name_len(const char *l, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)l[i];

		if (c == ':')
			break;
		if (c <= 32 || c >= 127) {
			/* "Name :" is obsolete syntax (RFC 5322 4.5.8); allow trailing blanks */
			size_t j = i;

			while (j < n && (l[j] == ' ' || l[j] == '\t'))
				j++;
			if (j < n && l[j] == ':' && i > 0)
				return i;
			return 0;
		}
	}
	return i < n && i > 0 ? i : 0;
}

/* field_finish - trim the value collected in the arena from start and end it with a NUL */
static void
field_finish(struct bh_field *f, struct bh_buf *a, size_t start)
{
	const char *p = a->data + start;
	size_t n = a->len - start;

	bh_span_trim(&p, &n);
	if (p != a->data + start && n > 0)
		memmove(a->data + start, p, n);
	a->len = start + n;
	bh_buf_putc(a, '\0'); /* the NUL stays: the next value starts after it */
	f->value_len = n;
}

/* field_point - point each field's value into the arena, where they lie in order, each
 * followed by its NUL (pointers are set once the arena no longer moves) */
static void
field_point(struct bh_header *h)
{
	size_t i, off = 0;

	for (i = 0; i < h->n; i++) {
		h->v[i].value = h->arena + off;
		off += h->v[i].value_len + 1;
	}
}

/* bh_header_parse - split a header block into unfolded fields; the values go into one arena */
int
bh_header_parse(const char *p, size_t n, size_t max_line, unsigned max_fields, struct bh_header *h,
		const char **error_r)
{
	struct bh_buf a;
	struct bh_field *f = NULL;
	struct bh_lines it;
	size_t cap = 0, len, nl, start = 0;
	const char *line;
	int ret = -1;

	memset(h, 0, sizeof(*h));
	bh_buf_init(&a);
	bh_lines_init(&it, p, n);
	bh_buf_reserve(&a, n < 2048 ? n : 2048);
	/* an mbox separator line, or a stray blank line before the header, is not a field */
	if (n >= 5 && memcmp(p, "From ", 5) == 0)
		(void)bh_lines_next(&it, &line, &len);
	h->body_off = n;
	while (bh_lines_next(&it, &line, &len)) {
		if (len == 0) {
			h->body_off = it.pos;
			break;
		}
		if ((line[0] == ' ' || line[0] == '\t') && f != NULL) {
			if (a.len - start + len + 1 > max_line) {
				*error_r = "header field too long";
				goto out;
			}
			bh_buf_append(&a, line, len);
			continue;
		}
		nl = field_name_len(line, len);
		if (nl == 0) {
			if (line[0] == ' ' || line[0] == '\t')
				continue; /* continuation before any field: ignore */
			h->body_off = (size_t)(line - p); /* the body starts on this line */
			break;
		}
		if (f != NULL)
			field_finish(f, &a, start);
		f = NULL;
		if (h->n >= max_fields) {
			*error_r = "too many header fields";
			goto out;
		}
		if (h->n == cap) {
			cap = cap ? cap * 2 : 32;
			h->v = bh_reallocarray(h->v, cap, sizeof(*h->v));
		}
		f = &h->v[h->n++];
		memset(f, 0, sizeof(*f));
		f->name = line;
		f->name_len = nl;
		start = a.len;
		{
			size_t c = (size_t)((const char *)memchr(line, ':', len) - line) + 1;

			if (len - c + 1 > max_line) {
				*error_r = "header field too long";
				goto out;
			}
			bh_buf_append(&a, line + c, len - c);
		}
	}
	ret = 0;
out:
	if (f != NULL)
		field_finish(f, &a, start);
	h->arena = a.data; /* h owns it now */
	field_point(h);
	return ret;
}

/* bh_header_deinit - free the fields and their values' arena */
void
bh_header_deinit(struct bh_header *h)
{
	free(h->arena);
	free(h->v);
	memset(h, 0, sizeof(*h));
}

/* bh_header_get - first field of that name */
const struct bh_field *
bh_header_get(const struct bh_header *h, const char *name)
{
	size_t i, len = strlen(name);

	/* the length first: most fields differ in it */
	for (i = 0; i < h->n; i++)
		if (h->v[i].name_len == len && bh_span_ieq(h->v[i].name, len, name))
			return &h->v[i];
	return NULL;
}

/* bh_header_count - fields of that name */
unsigned
bh_header_count(const struct bh_header *h, const char *name)
{
	unsigned c = 0;
	size_t i, len = strlen(name);

	for (i = 0; i < h->n; i++)
		if (h->v[i].name_len == len && bh_span_ieq(h->v[i].name, len, name))
			c++;
	return c;
}

/* bh_header_decode - RFC 2047 decode to UTF-8, printable, cut */
char *
bh_header_decode(const char *p, size_t n, size_t max)
{
	char *dec = NULL, *out;
	size_t idx = 0, i, len;

	if (memchr(p, '\0', n) == NULL && bh_memcasemem(p, n, "=?", 2) != NULL) {
		if (mailmime_encoded_phrase_parse("utf-8", p, n, &idx, "utf-8", &dec) !=
		    MAILIMF_NO_ERROR)
			dec = NULL;
	}
	if (dec != NULL) {
		len = strlen(dec);
		out = bh_memdup0(dec, len);
		free(dec);
	} else {
		len = n;
		out = bh_memdup0(p, n);
	}
	for (i = 0; i < len; i++)
		if ((unsigned char)out[i] < 32 || out[i] == 127)
			out[i] = ' ';
	if (len > max) {
		/* cut on a UTF-8 character boundary */
		i = max;
		while (i > 0 && ((unsigned char)out[i] & 0xC0) == 0x80)
			i--;
		out[i] = '\0';
	}
	return out;
}

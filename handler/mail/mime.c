/*
 * mime.c - bounded iterative MIME walker (RFC 2045 5.1 Content-Type, 6 transfer encodings,
 * RFC 2046 5.1 multipart boundaries, 5.2 message/rfc822; RFC 6532 message/global; RFC 2231
 * parameter continuations and charset'language'%XX values).
 *
 * No recursion: pending entities sit on an explicit stack whose size, like the part count and
 * the nesting depth, is checked against the configured limits before each push. A multipart
 * without its closing delimiter ends at the end of its parent; a missing boundary parameter
 * makes the part a leaf. Transfer-encoded message/rfc822 parts are decoded into copies owned
 * by the walker, so every span stays valid until bh_mime_deinit.
 */
#include "mime.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bh_limits.h"
#include "util.h"

struct pending {
	const char *p;
	size_t n;
	unsigned depth;
	long parent;
	bool digest; /* inside multipart/digest: default type message/rfc822 */
};

/* One occurrence of the parameter asked for: its whole value, or one RFC 2231 section. */
struct param_val {
	const char *p; /* the value as written, without the quotes of a quoted-string */
	size_t n;
	bool quoted; /* a quoted-string: backslash escapes to undo */
	bool ext;    /* "*" before the "=": percent-encoded (RFC 2231 section 4) */
};

/* is_ws - white space between parameters (CR and LF too: a value may keep a fold) */
static bool
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* skip_ws - the first index from i that is not white space, or n */
static size_t
skip_ws(const char *v, size_t n, size_t i)
{
	while (i < n && is_ws(v[i]))
		i++;
	return i;
}

/* next_semicolon - the index of the next ';' from i outside a quoted-string, or n */
static size_t
next_semicolon(const char *v, size_t n, size_t i)
{
	bool inq = false;

	for (; i < n; i++) {
		if (inq && v[i] == '\\' && i + 1 < n)
			i++;
		else if (v[i] == '"')
			inq = !inq;
		else if (v[i] == ';' && !inq)
			return i;
	}
	return n;
}

/* param_value - the value at v[*ip..n): a quoted-string (its content; an unclosed one runs to
 * the end) or a token (up to ';' or white space); *ip is moved past it */
static void
param_value(const char *v, size_t n, size_t *ip, struct param_val *pv)
{
	size_t i = *ip;

	pv->quoted = i < n && v[i] == '"';
	if (pv->quoted) {
		pv->p = v + ++i;
		while (i < n && v[i] != '"')
			i += v[i] == '\\' && i + 1 < n ? 2 : 1;
		pv->n = (size_t)(v + i - pv->p);
		if (i < n)
			i++;
	} else {
		pv->p = v + i;
		while (i < n && v[i] != ';' && !is_ws(v[i]))
			i++;
		pv->n = (size_t)(v + i - pv->p);
	}
	*ip = i;
}

/* param_join - the sections pv[0..npv) decoded and joined into buf (see bh_ct_param_ext);
 * 1, or -1 with *error_r */
static int
param_join(const struct param_val *pv, size_t npv, char *buf, size_t bufsz, size_t *len_r,
	   char *charset, size_t csz, const char **error_r)
{
	size_t cap = bufsz - 1 < BH_MAX_PARAM_VALUE ? bufsz - 1 : BH_MAX_PARAM_VALUE, k = 0, s, i;

	for (s = 0; s < npv; s++) {
		const char *p = pv[s].p;
		size_t n = pv[s].n;

		i = 0;
		if (pv[s].ext && s == 0) {
			/* charset'language' before the first encoded octet; both may be empty */
			size_t q1 = 0, q2;

			while (q1 < n && p[q1] != '\'')
				q1++;
			for (q2 = q1 + 1; q2 < n && p[q2] != '\''; q2++)
				;
			if (q2 >= n) {
				*error_r = "RFC 2231 value without its charset'language' prefix";
				return -1;
			}
			for (i = 0; i < q1; i++)
				if ((unsigned char)p[i] <= ' ' || (unsigned char)p[i] >= 0x7f) {
					*error_r =
					    "RFC 2231 charset name with a control or 8-bit byte";
					return -1;
				}
			if (charset != NULL) {
				if (q1 >= csz) {
					*error_r = "RFC 2231 charset name too long";
					return -1;
				}
				memcpy(charset, p, q1);
				charset[q1] = '\0';
				bh_lower_ascii(charset);
			}
			i = q2 + 1;
		}
		for (; i < n; i++) {
			unsigned char c = (unsigned char)p[i];

			if (pv[s].quoted && c == '\\' && i + 1 < n) {
				c = (unsigned char)p[++i];
			} else if (pv[s].ext && c == '%') {
				if (i + 2 >= n) {
					*error_r = "RFC 2231 value with a truncated %XX";
					return -1;
				}
				if (bh_hexval((unsigned char)p[i + 1]) == -1 ||
				    bh_hexval((unsigned char)p[i + 2]) == -1) {
					*error_r = "RFC 2231 value with a malformed %XX";
					return -1;
				}
				c = (unsigned char)(bh_hexval((unsigned char)p[i + 1]) * 16 +
						    bh_hexval((unsigned char)p[i + 2]));
				i += 2;
			}
			if (c == '\0') {
				*error_r = "parameter value with a NUL byte";
				return -1;
			}
			if (k >= cap) {
				*error_r = "parameter value too long";
				return -1;
			}
			buf[k++] = (char)c;
		}
	}
	buf[k] = '\0';
	*len_r = k;
	return 1;
}

/* bh_ct_param_ext - find a parameter: plain, RFC 2231 extended, RFC 2231 continuations. One
 * linear pass over v (each step moves past a ';'), the sections in a fixed array. */
int
bh_ct_param_ext(const char *v, size_t n, const char *name, char *buf, size_t bufsz, size_t *len_r,
		char *charset, size_t csz, const char **error_r)
{
	struct param_val secs[BH_MAX_PARAM_SECTIONS], plain = {0}, single = {0}, pv;
	size_t nl = strlen(name), nsec = 0, i, a, alen, s;
	const char *serr = NULL;
	int r;

	assert(bufsz > 0);
	memset(secs, 0, sizeof(secs));
	if (charset != NULL && csz > 0)
		charset[0] = '\0';
	buf[0] = '\0';
	*len_r = 0;
	for (i = next_semicolon(v, n, 0); i < n; i = next_semicolon(v, n, i)) {
		long sec = -1;
		bool ext = false, bad = false;

		i = skip_ws(v, n, i + 1);
		for (a = i; i < n && v[i] != '=' && v[i] != '*' && v[i] != ';' && v[i] != '"' &&
			    !is_ws(v[i]);
		     i++)
			;
		alen = i - a;
		if (i < n && v[i] == '*') {
			i++;
			if (i < n && v[i] >= '0' && v[i] <= '9') {
				size_t d = i;

				for (sec = 0; i < n && v[i] >= '0' && v[i] <= '9'; i++)
					if (sec < 100000) /* saturate: "too many" all the same */
						sec = sec * 10 + (v[i] - '0');
				bad = v[d] == '0' && i - d > 1; /* no leading zero (RFC 2231 3) */
				if (i < n && v[i] == '*') {
					ext = true;
					i++;
				}
			} else {
				ext = true;
			}
		}
		i = skip_ws(v, n, i);
		if (i >= n || v[i] != '=')
			continue;
		i = skip_ws(v, n, i + 1);
		param_value(v, n, &i, &pv);
		if (alen != nl || strncasecmp(v + a, name, nl) != 0)
			continue;
		pv.ext = ext;
		if (bad) {
			serr = serr != NULL ? serr : "RFC 2231 section number with a leading zero";
		} else if (sec == -1 && !ext) {
			if (plain.p == NULL)
				plain = pv;
		} else if (sec == -1) {
			if (single.p == NULL)
				single = pv;
		} else if (sec >= (long)BH_MAX_PARAM_SECTIONS) {
			serr = serr != NULL ? serr : "too many RFC 2231 sections";
		} else if (secs[sec].p != NULL) {
			serr = serr != NULL ? serr : "repeated RFC 2231 section";
		} else {
			secs[sec] = pv;
			if ((size_t)sec + 1 > nsec)
				nsec = (size_t)sec + 1;
		}
	}
	r = 0;
	if (single.p != NULL) {
		r = param_join(&single, 1, buf, bufsz, len_r, charset, csz, error_r);
	} else if (serr != NULL) {
		*error_r = serr;
		r = -1;
	} else if (nsec > 0) {
		for (s = 0; s < nsec && secs[s].p != NULL; s++)
			;
		if (s < nsec) {
			*error_r = "missing RFC 2231 section";
			r = -1;
		} else {
			r = param_join(secs, nsec, buf, bufsz, len_r, charset, csz, error_r);
		}
	}
	if (r != 1 && plain.p != NULL) {
		if (charset != NULL && csz > 0)
			charset[0] = '\0';
		r = param_join(&plain, 1, buf, bufsz, len_r, NULL, 0, error_r);
	}
	if (r != 1) {
		buf[0] = '\0';
		*len_r = 0;
		if (charset != NULL && csz > 0)
			charset[0] = '\0';
	}
	return r;
}

/* bh_ct_param - a parameter's bytes, found, valid and not empty */
bool
bh_ct_param(const char *v, size_t n, const char *name, char *buf, size_t bufsz)
{
	const char *err;
	size_t len;

	return bh_ct_param_ext(v, n, name, buf, bufsz, &len, NULL, 0, &err) == 1 && len > 0;
}

/* content_type - fill type, subtype, charset of part from its header */
static void
content_type(struct bh_part *part, bool digest, char *boundary, size_t bsz)
{
	const struct bh_field *f = bh_header_get(&part->hdr, "Content-Type");
	const char *v;
	size_t n, i, k;

	strcpy(part->type, digest ? "message" : "text");
	strcpy(part->subtype, digest ? "rfc822" : "plain");
	boundary[0] = '\0';
	if (f != NULL) {
		v = f->value;
		n = f->value_len;
		bh_span_trim(&v, &n);
		for (i = 0; i < n && v[i] != '/' && v[i] != ';' && v[i] != ' '; i++)
			;
		if (i < n && v[i] == '/' && i > 0 && i < sizeof(part->type)) {
			memcpy(part->type, v, i);
			part->type[i] = '\0';
			i++;
			for (k = 0; i + k < n && v[i + k] != ';' && v[i + k] != ' ' &&
				    v[i + k] != '\t' && k + 1 < sizeof(part->subtype);
			     k++)
				part->subtype[k] = v[i + k];
			part->subtype[k] = '\0';
			bh_lower_ascii(part->type);
			bh_lower_ascii(part->subtype);
		}
		if (bh_ct_param(v, n, "charset", part->charset, sizeof(part->charset)))
			bh_lower_ascii(part->charset);
		if (!bh_ct_param(v, n, "boundary", boundary, bsz))
			boundary[0] = '\0';
	}
	f = bh_header_get(&part->hdr, "Content-Transfer-Encoding");
	if (f != NULL) {
		v = f->value;
		n = f->value_len;
		bh_span_trim(&v, &n);
		if (bh_span_istarts(v, n, "base64"))
			part->cte = BH_CTE_BASE64;
		else if (bh_span_istarts(v, n, "quoted-printable"))
			part->cte = BH_CTE_QP;
	}
	f = bh_header_get(&part->hdr, "Content-Disposition");
	if (f != NULL && bh_span_istarts(f->value, f->value_len, "attachment"))
		part->attachment = true;
}

/* bh_mime_is - compare the content type */
bool
bh_mime_is(const struct bh_part *part, const char *type, const char *subtype)
{
	return strcmp(part->type, type) == 0 &&
	       (subtype == NULL || strcmp(part->subtype, subtype) == 0);
}

/* is_delim - line is "--boundary" or "--boundary--" (trailing white space allowed) */
static int
is_delim(const char *l, size_t len, const char *b, size_t bl)
{
	size_t i;

	if (len < bl + 2 || l[0] != '-' || l[1] != '-' || memcmp(l + 2, b, bl) != 0)
		return 0;
	i = bl + 2;
	if (len >= i + 2 && l[i] == '-' && l[i + 1] == '-')
		return 2;
	for (; i < len; i++)
		if (l[i] != ' ' && l[i] != '\t')
			return 0;
	return 1;
}

/* strip_eol - drop one line end from the end of a span */
static size_t
strip_eol(const char *p, size_t n)
{
	if (n > 0 && p[n - 1] == '\n')
		n--;
	if (n > 0 && p[n - 1] == '\r')
		n--;
	return n;
}

/* push - one more pending entity on a growable stack */
static void
push(struct pending **st, size_t *ns, size_t *cap, struct pending e)
{
	if (*ns == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*st = bh_reallocarray(*st, *cap, sizeof(**st));
	}
	(*st)[(*ns)++] = e;
}

/* next_delim_line - the next line at or after *pos (a line start) that begins with "--" and
 * the boundary, with *pos after it, as bh_line_next gives lines; false when none is left. The
 * boundary is searched for with memmem instead of reading every line of the body: a line
 * starts at *pos or after a CR or LF. */
static bool
next_delim_line(const struct bh_part *part, const char *b, size_t bl, size_t *pos,
		const char **line, size_t *len)
{
	const char *p = part->body;
	size_t n = part->body_len, from = *pos + 2, s;

	while (from <= n && n - from >= bl) {
		const char *h = memmem(p + from, n - from, b, bl);

		if (h == NULL)
			return false;
		s = (size_t)(h - p) - 2;
		if (p[s] == '-' && p[s + 1] == '-' &&
		    (s == *pos || p[s - 1] == '\n' || p[s - 1] == '\r')) {
			*pos = s;
			return bh_line_next(p, n, pos, line, len);
		}
		from = (size_t)(h - p) + 1;
	}
	return false;
}

/* split - the children of a multipart body, delimited by boundary; returns their number */
static size_t
split(const struct bh_part *part, const char *boundary, unsigned depth, long parent,
      struct pending **kids, size_t *kcap)
{
	size_t pos = 0, len, bl = strlen(boundary), start = 0, nk = 0;
	const char *line;
	bool open = false, digest = strcmp(part->subtype, "digest") == 0;
	/* a boundary without a line end can only occur within a line: look for it alone */
	bool by_search =
	    bl > 0 && memchr(boundary, '\n', bl) == NULL && memchr(boundary, '\r', bl) == NULL;
	int d;

	while (by_search ? next_delim_line(part, boundary, bl, &pos, &line, &len)
			 : bh_line_next(part->body, part->body_len, &pos, &line, &len)) {
		if (len < bl + 2 || line[0] != '-' || (d = is_delim(line, len, boundary, bl)) == 0)
			continue;
		if (open) {
			size_t end = (size_t)(line - part->body);

			push(kids, &nk, kcap,
			     (struct pending){part->body + start,
					      strip_eol(part->body + start, end - start), depth,
					      parent, digest});
		}
		if (d == 2) {
			open = false;
			break;
		}
		open = true;
		start = pos;
	}
	if (open && start < part->body_len)
		push(kids, &nk, kcap,
		     (struct pending){part->body + start, part->body_len - start, depth, parent,
				      digest});
	return nk;
}

/* guess_boundary - a multipart whose declared boundary never occurs (mangled by a gateway):
 * take the first "--token" line as the boundary when it occurs again */
static bool
guess_boundary(const struct bh_part *part, char *boundary, size_t bsz)
{
	size_t pos = 0, len, i, lines = 0;
	const char *line;

	while (lines++ < 1000 && bh_line_next(part->body, part->body_len, &pos, &line, &len)) {
		if (len < 4 || line[0] != '-' || line[1] != '-' || len - 2 >= bsz)
			continue;
		for (i = 2; i < len; i++)
			if ((unsigned char)line[i] <= ' ')
				break;
		if (i < len)
			continue;
		if (len > 4 && line[len - 1] == '-' && line[len - 2] == '-')
			len -= 2;
		memcpy(boundary, line + 2, len - 2);
		boundary[len - 2] = '\0';
		/* it must delimit again */
		{
			size_t p2 = pos, l2;
			const char *ln2;

			while (bh_line_next(part->body, part->body_len, &p2, &ln2, &l2))
				if (is_delim(ln2, l2, boundary, len - 2) != 0)
					return true;
		}
		return false;
	}
	return false;
}

/* bh_mime_parse - the iterative walk */
int
bh_mime_parse(const char *p, size_t n, const struct bh_mime_settings *lim, struct bh_mime *m,
	      const char **error_r)
{
	struct pending *st = NULL, *kids = NULL, e;
	size_t ns = 0, scap = 0, nk = 0, kcap = 0, pcap = 0, i;
	char boundary[201];
	int ret = -1;

	memset(m, 0, sizeof(*m));
	push(&st, &ns, &scap, (struct pending){p, n, 0, -1, false});
	while (ns > 0) {
		struct bh_part *part;
		size_t idx;

		e = st[--ns];
		if (e.depth > lim->mime_depth || e.depth > BH_MAX_MIME_DEPTH) {
			*error_r = "MIME nesting too deep";
			goto out;
		}
		if (m->n >= lim->mime_parts) {
			*error_r = "too many MIME parts";
			goto out;
		}
		if (m->n == pcap) {
			pcap = pcap ? pcap * 2 : 8;
			m->v = bh_reallocarray(m->v, pcap, sizeof(*m->v));
		}
		idx = m->n++;
		part = &m->v[idx];
		memset(part, 0, sizeof(*part));
		part->depth = e.depth;
		part->parent = e.parent;
		if (bh_header_parse(e.p, e.n, lim->header_line, lim->header_count, &part->hdr,
				    error_r) == -1)
			goto out;
		part->body = e.p + part->hdr.body_off;
		part->body_len = e.n - part->hdr.body_off;
		content_type(part, e.digest, boundary, sizeof(boundary));

		if (strcmp(part->type, "multipart") == 0) {
			nk = boundary[0] != '\0'
				 ? split(part, boundary, e.depth + 1, (long)idx, &kids, &kcap)
				 : 0;
			if (nk == 0 && guess_boundary(part, boundary, sizeof(boundary)))
				nk = split(part, boundary, e.depth + 1, (long)idx, &kids, &kcap);
			if (nk == 0) {
				/* no delimiter at all: read it as text */
				strcpy(part->type, "text");
				strcpy(part->subtype, "plain");
			}
			if (m->n + ns + nk > lim->mime_parts) {
				*error_r = "too many MIME parts";
				goto out;
			}
			for (i = nk; i > 0; i--)
				push(&st, &ns, &scap, kids[i - 1]);
		} else if (strcmp(part->type, "message") == 0 &&
			   (strcmp(part->subtype, "rfc822") == 0 ||
			    strcmp(part->subtype, "global") == 0)) {
			const char *b = part->body;
			size_t bn = part->body_len;

			if (part->cte != BH_CTE_IDENTITY) {
				char *dec = bh_mime_body(part, n, &bn);

				m->owned =
				    bh_reallocarray(m->owned, m->n_owned + 1, sizeof(*m->owned));
				m->owned[m->n_owned++] = dec;
				b = dec;
			}
			if (m->n + ns + 1 > lim->mime_parts) {
				*error_r = "too many MIME parts";
				goto out;
			}
			push(&st, &ns, &scap,
			     (struct pending){b, bn, e.depth + 1, (long)idx, false});
		}
	}
	ret = 0;
out:
	free(st);
	free(kids);
	return ret;
}

/* bh_mime_deinit - free the parts and the decoded copies */
void
bh_mime_deinit(struct bh_mime *m)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		bh_header_deinit(&m->v[i].hdr);
	free(m->v);
	for (i = 0; i < m->n_owned; i++)
		free(m->owned[i]);
	free(m->owned);
	memset(m, 0, sizeof(*m));
}

/* b64val - the value of a base64 letter, -1 outside the alphabet */
static int
b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* bh_decode_base64 - lenient: skips bytes outside the alphabet, stops at '=' */
char *
bh_decode_base64(const char *p, size_t n, size_t *len_r)
{
	char *out = bh_malloc(n / 4 * 3 + 4);
	unsigned acc = 0, bits = 0;
	size_t i, o = 0;
	int v;

	for (i = 0; i < n; i++) {
		if (p[i] == '=')
			break;
		if ((v = b64val((unsigned char)p[i])) == -1)
			continue;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xFF);
		}
	}
	out[o] = '\0';
	*len_r = o;
	return out;
}

/* bh_decode_qp - RFC 2045 6.7; a malformed escape is kept as it is */
char *
bh_decode_qp(const char *p, size_t n, size_t *len_r)
{
	char *out = bh_malloc(n + 1);
	size_t i, o = 0;
	int h, l;

	for (i = 0; i < n; i++) {
		if (p[i] != '=') {
			/* the run up to the next '=' as it is */
			const char *eq = memchr(p + i, '=', n - i);
			size_t run = eq != NULL ? (size_t)(eq - (p + i)) : n - i;

			memcpy(out + o, p + i, run);
			o += run;
			i += run - 1;
			continue;
		}
		if (i + 1 < n && p[i + 1] == '\n') {
			i++;
			continue;
		}
		if (i + 1 < n && p[i + 1] == '\r') {
			i += (i + 2 < n && p[i + 2] == '\n') ? 2 : 1;
			continue;
		}
		if (i + 2 < n && (h = bh_hexval((unsigned char)p[i + 1])) != -1 &&
		    (l = bh_hexval((unsigned char)p[i + 2])) != -1) {
			out[o++] = (char)(h * 16 + l);
			i += 2;
			continue;
		}
		out[o++] = p[i];
	}
	out[o] = '\0';
	*len_r = o;
	return out;
}

/* bh_mime_body - undo the transfer encoding of at most max input bytes */
char *
bh_mime_body(const struct bh_part *part, size_t max, size_t *len_r)
{
	size_t n = part->body_len < max ? part->body_len : max;

	switch (part->cte) {
	case BH_CTE_BASE64: return bh_decode_base64(part->body, n, len_r);
	case BH_CTE_QP: return bh_decode_qp(part->body, n, len_r);
	case BH_CTE_IDENTITY: break;
	}
	*len_r = n;
	return bh_memdup0(part->body, n);
}

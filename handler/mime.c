/*
 * mime.c - bounded iterative MIME walker (RFC 2045 5.1 Content-Type, 6 transfer encodings,
 * RFC 2046 5.1 multipart boundaries, 5.2 message/rfc822; RFC 6532 message/global).
 *
 * No recursion: pending entities sit on an explicit stack whose size, like the part count and
 * the nesting depth, is checked against the configured limits before each push. A multipart
 * without its closing delimiter ends at the end of its parent; a missing boundary parameter
 * makes the part a leaf. Transfer-encoded message/rfc822 parts are decoded into copies owned
 * by the walker, so every span stays valid until bh_mime_deinit.
 */
#include "mime.h"

#include <stdlib.h>
#include <string.h>

#include "limits.h"
#include "util.h"

struct pending {
	const char *p;
	size_t n;
	unsigned depth;
	long parent;
	bool digest; /* inside multipart/digest: default type message/rfc822 */
};

/* bh_ct_param - find a Content-Type parameter. XXX: RFC 2231 continuations (boundary*0=...)
 * are not joined: no bounce in the corpus uses them */
bool
bh_ct_param(const char *v, size_t n, const char *name, char *buf, size_t bufsz)
{
	size_t i = 0, nl = strlen(name), k;
	bool inq = false;

	while (i < n) {
		/* advance to the next ';' outside quotes */
		if (v[i] == '"')
			inq = !inq;
		if (v[i] == '\\' && inq) {
			i += 2;
			continue;
		}
		if (v[i] != ';' || inq) {
			i++;
			continue;
		}
		i++;
		while (i < n && (v[i] == ' ' || v[i] == '\t'))
			i++;
		if (n - i > nl && bh_span_istarts(v + i, n - i, name)) {
			size_t j = i + nl;

			while (j < n && (v[j] == ' ' || v[j] == '\t'))
				j++;
			if (j < n && v[j] == '=') {
				j++;
				while (j < n && (v[j] == ' ' || v[j] == '\t'))
					j++;
				k = 0;
				if (j < n && v[j] == '"') {
					j++;
					while (j < n && v[j] != '"') {
						if (v[j] == '\\' && j + 1 < n)
							j++;
						if (k + 1 >= bufsz)
							return false;
						buf[k++] = v[j++];
					}
				} else {
					while (j < n && v[j] != ';' && v[j] != ' ' &&
					       v[j] != '\t') {
						if (k + 1 >= bufsz)
							return false;
						buf[k++] = v[j++];
					}
				}
				buf[k] = '\0';
				return k > 0;
			}
		}
	}
	return false;
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

/* split - the children of a multipart body, delimited by boundary; returns their number */
static size_t
split(const struct bh_part *part, const char *boundary, unsigned depth, long parent,
      struct pending **kids, size_t *kcap)
{
	size_t pos = 0, len, bl = strlen(boundary), start = 0, nk = 0;
	const char *line;
	bool open = false, digest = strcmp(part->subtype, "digest") == 0;
	int d;

	while (bh_line_next(part->body, part->body_len, &pos, &line, &len)) {
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
bh_mime_parse(const char *p, size_t n, const struct bh_limits_conf *lim, struct bh_mime *m,
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
			out[o++] = p[i];
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

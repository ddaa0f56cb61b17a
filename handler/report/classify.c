/*
 * classify.c - one message in, one verdict out.
 *
 * Pipeline: size check -> bounded MIME walk (mime.c) -> the report's own header fields ->
 * the returned message's header (message/rfc822 child, or text/rfc822-headers) -> the first
 * report part that fits, in order of trust: RFC 5965 feedback report (arf.c), RFC 3464
 * delivery-status (dsn.c), a non-standard bounce text (recognize.c), an RFC 3834 auto-reply
 * (autoreply.c). Each failed or delayed recipient gets its reason from the rules engine,
 * given the status, the reply code and the best diagnostic text we could find.
 *
 * Trusts nothing in the message; never reads file names. Pure: no I/O, no logging.
 */
#include "classify.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libetpan/libetpan.h>
#include <openssl/evp.h>
#include <threads.h>

#include "arf.h"
#include "autoreply.h"
#include "dsn.h"
#include "mime.h"
#include "recognize.h"
#include "ses.h"
#include "text.h"
#include "util.h"

struct ctx {
	const struct bh_classify_opts *opts;
	struct bh_verdict *v;
	struct bh_mime m;
	struct bh_header orig_hdr; /* parsed text/rfc822-headers, when that is what we have */
	char *orig_body;	   /* the decoded text/rfc822-headers part orig_hdr points into */
	const struct bh_header *orig; /* the returned message's header, or NULL */
	struct bh_buf text;	      /* the report's human-readable text */
	size_t cut;		      /* its length before the returned message */
	unsigned diag_budget;	      /* text look-ups per recipient left: no O(n^2) */
	char *excl[8];
	size_t n_excl;
	size_t n_strong;
};

/* field - decoded, cut copy of the first field called name, or NULL */
static char *
field(const struct bh_header *h, const char *name)
{
	const struct bh_field *f = h != NULL ? bh_header_get(h, name) : NULL;

	return f != NULL ? bh_header_decode(f->value, f->value_len, BH_MAX_FIELD_VALUE) : NULL;
}

/* The SHA-256 of libcrypto: it selects the SHA extensions where the CPU has them, as nettle
 * does, and its AVX2 code where it has not, 1.7x nettle's generic code there (and under
 * valgrind, which has no SHA extensions: docs/performance.md). Fetched once per process. */
static EVP_MD *sha256_md;
static once_flag sha256_once = ONCE_FLAG_INIT;

/* sha256_fetch - look libcrypto's SHA-256 up once */
static void
sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/* stable_id - hex SHA-256 over the Message-ID and the content */
static void
stable_id(struct bh_verdict *v, const char *data, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned dl = 0;
	EVP_MD_CTX *c;
	size_t i;

	call_once(&sha256_once, sha256_fetch);
	if ((c = EVP_MD_CTX_new()) == NULL)
		bh_fatal("EVP_MD_CTX_new: out of memory");
	if (sha256_md == NULL || EVP_DigestInit_ex(c, sha256_md, NULL) != 1 ||
	    (v->env.message_id != NULL &&
	     EVP_DigestUpdate(c, v->env.message_id, strlen(v->env.message_id)) != 1) ||
	    EVP_DigestUpdate(c, "\n", 1) != 1 || EVP_DigestUpdate(c, data, len) != 1 ||
	    EVP_DigestFinal_ex(c, d, &dl) != 1 || dl != 32)
		bh_fatal("libcrypto: SHA-256 failed");
	EVP_MD_CTX_free(c);
	for (i = 0; i < 32; i++) {
		v->stable_id[2 * i] = hex[d[i] >> 4];
		v->stable_id[2 * i + 1] = hex[d[i] & 15];
	}
	v->stable_id[64] = '\0';
}

/* fill_env - the report's own header fields */
static void
fill_env(struct bh_envelope *e, const struct bh_header *h)
{
	char *as;

	e->message_id = field(h, "Message-ID");
	e->from = field(h, "From");
	e->subject = field(h, "Subject");
	e->date = field(h, "Date");
	e->return_path = field(h, "Return-Path");
	e->auto_submitted = field(h, "Auto-Submitted");
	e->precedence = field(h, "Precedence");
	e->delivered_to = field(h, "Delivered-To");
	e->x_original_to = field(h, "X-Original-To");
	e->envelope_to = field(h, "Envelope-To");
	if (e->envelope_to == NULL)
		e->envelope_to = field(h, "X-Envelope-To");
	e->to = field(h, "To");
	as = e->auto_submitted;
	if ((as != NULL && !bh_span_istarts(as, strlen(as), "no")) ||
	    bh_header_get(h, "X-Autoreply") != NULL || bh_header_get(h, "X-Autorespond") != NULL ||
	    bh_header_get(h, "X-Autoresponder") != NULL ||
	    (e->precedence != NULL &&
	     bh_span_istarts(e->precedence, strlen(e->precedence), "auto_reply")))
		e->has_autoreply_headers = true;
}

/* keep_raw_headers - the top-level header block verbatim, for the auto-reply detector's vendor
 * headers (verdict.h); it passed the header limits already, and is cut at 1 MiB besides */
static void
keep_raw_headers(struct bh_envelope *e, const char *data, size_t n)
{
	if (n > 1024u * 1024)
		n = 1024u * 1024;
	e->raw_headers = bh_memdup0(data, n);
	e->raw_headers_len = n;
}

/* fill_original - the returned message's header fields */
static void
fill_original(struct bh_original *o, const struct bh_header *h)
{
	o->present = true;
	o->message_id = field(h, "Message-ID");
	o->from = field(h, "From");
	o->to = field(h, "To");
	o->subject = field(h, "Subject");
	o->return_path = field(h, "Return-Path");
	o->auto_submitted = field(h, "Auto-Submitted");
	o->list_id = field(h, "List-Id");
	o->precedence = field(h, "Precedence");
	o->x_autoreply = field(h, "X-Autoreply");
	if (o->x_autoreply == NULL)
		o->x_autoreply = field(h, "X-Autorespond");
	if (o->x_autoreply == NULL)
		o->x_autoreply = field(h, "X-Autoresponder");
	o->x_auto_response_suppress = field(h, "X-Auto-Response-Suppress");
	o->content_type = field(h, "Content-Type");
	o->received_count = bh_header_count(h, "Received");
}

/* inside_message - true when part i lies inside a returned message (an rfc822 part) */
static bool
inside_message(const struct bh_mime *m, size_t i)
{
	long p = m->v[i].parent;
	unsigned guard = 0;

	while (p >= 0 && guard++ < BH_MAX_MIME_DEPTH + 1) {
		if (strcmp(m->v[p].type, "message") == 0)
			return true;
		p = m->v[p].parent;
	}
	return false;
}

/* message_depth - how many returned messages (rfc822 parts) part i lies inside */
static unsigned
message_depth(const struct bh_mime *m, size_t i)
{
	long p = m->v[i].parent;
	unsigned guard = 0, depth = 0;

	while (p >= 0 && guard++ < BH_MAX_MIME_DEPTH + 1) {
		if (strcmp(m->v[p].type, "message") == 0)
			depth++;
		p = m->v[p].parent;
	}
	return depth;
}

/* has_jis_escape - d holds ESC $ B, the escape into JIS X 0208 of ISO-2022-JP: memchr to each
 * ESC (rare in text) instead of a search for the three bytes at every position */
static bool
has_jis_escape(const char *d, size_t len)
{
	const char *p = d, *e = d + len;

	while (p < e && (p = memchr(p, 0x1b, (size_t)(e - p))) != NULL) {
		if (e - p >= 3 && p[1] == '$' && p[2] == 'B')
			return true;
		p++;
	}
	return false;
}

/* to_utf8 - a text part in a legacy charset (declared, or ISO-2022-JP announcing itself with
 * ESC $ B) converted to UTF-8 with libetpan's charconv (iconv), so the reason rules and the
 * auto-reply cues see one encoding; kept as it is when the conversion fails */
static char *
to_utf8(char *d, size_t *len, const char *charset)
{
	const char *from = charset;
	char *res = NULL;
	size_t rl = 0;

	if (from[0] == '\0' || strcmp(from, "us-ascii") == 0)
		from = has_jis_escape(d, *len) ? "iso-2022-jp" : NULL;
	if (from == NULL || strcmp(from, "utf-8") == 0 || strcmp(from, "utf8") == 0)
		return d;
	/* plain ASCII reads the same in every charset we meet: no iconv_open for it */
	{
		size_t i;

		for (i = 0; i < *len; i++)
			if ((unsigned char)d[i] >= 0x80 || d[i] == 0x1b)
				break;
		if (i == *len)
			return d;
	}
	if (charconv_buffer("utf-8", from, d, *len, &res, &rl) != MAIL_CHARCONV_NO_ERROR ||
	    res == NULL)
		return d;
	free(d);
	d = bh_memdup0(res, rl);
	*len = rl;
	charconv_buffer_free(res);
	return d;
}

/* gather_text - the human-readable text of the report, at most the scan limit */
static void
gather_text(struct ctx *c)
{
	size_t i, dl, max = BH_DEF_SCAN_BYTES;
	int pass;

	for (pass = 0; pass < 2 && c->text.len == 0; pass++)
		for (i = 0; i < c->m.n && c->text.len < max; i++) {
			const struct bh_part *p = &c->m.v[i];
			char *d;

			if (strcmp(p->type, "text") != 0 || inside_message(&c->m, i))
				continue;
			if (pass == 0 && strcmp(p->subtype, "plain") != 0)
				continue;
			if (pass == 1 && strcmp(p->subtype, "html") != 0)
				continue;
			if (p->attachment && c->text.len > 0)
				continue;
			d = bh_mime_body(p, max * 2, &dl);
			d = to_utf8(d, &dl, p->charset);
			if (pass == 1) {
				char *t = bh_html_to_text(d, dl, &dl);

				free(d);
				d = t;
			}
			if (c->text.len > 0)
				bh_buf_puts(&c->text, "\n\n");
			bh_buf_append(&c->text, d, dl < max - c->text.len ? dl : max - c->text.len);
			free(d);
		}
}

/* text_original - the returned message's header pasted after the report's text */
static void
text_original(struct ctx *c)
{
	size_t cut = c->cut, pos = cut, len;
	const char *l, *err;
	unsigned lines = 0;

	if (cut >= c->text.len)
		return;
	/* skip the marker line and blank lines */
	if (!bh_line_next(c->text.data, c->text.len, &pos, &l, &len))
		return;
	{
		const char *colon = len > 0 ? memchr(l, ':', len) : NULL;

		if (colon != NULL && colon > l && memchr(l, ' ', (size_t)(colon - l)) == NULL &&
		    l[0] != '-')
			pos = cut; /* the cut is at the header itself */
	}
	while (lines++ < 10) {
		size_t save = pos;

		if (!bh_line_next(c->text.data, c->text.len, &pos, &l, &len))
			return;
		bh_span_trim(&l, &len);
		if (len != 0) {
			pos = save;
			break;
		}
	}
	if (bh_header_parse(c->text.data + pos, c->text.len - pos,
			    c->opts->settings->mime.header_line,
			    c->opts->settings->mime.header_count, &c->orig_hdr, &err) == 0 &&
	    c->orig_hdr.n >= 2) {
		c->orig = &c->orig_hdr;
		return;
	}
	bh_header_deinit(&c->orig_hdr);
}

/* add_excl - an address of the sender side */
static void
add_excl(struct ctx *c, const char *hv)
{
	char *a;

	if (hv == NULL || c->n_excl >= BH_NELEM(c->excl))
		return;
	if ((a = bh_text_first_addr(hv, strlen(hv))) != NULL)
		c->excl[c->n_excl++] = a;
}

static char *diag_for(struct ctx *c, const char *addr);
static size_t letters(const char *s);

/* smtp_stage - the SMTP command the refusal answered: from the diagnostic, else from what the
 * report's text says around the address (a Postfix "(in reply to end of DATA command)", the
 * ">>> DATA" / "<<< 550" lines of a transcript). When it looked the address up, *looked is set
 * and *words_r holds what diag_for gave (new, or NULL), for diag_again. */
static void
smtp_stage(struct ctx *c, struct bh_rcpt *r, char **words_r, bool *looked)
{
	char *t;

	*words_r = NULL;
	*looked = false;
	if (r->smtp_command[0] != '\0')
		return;
	if (r->diagnostic != NULL &&
	    bh_smtp_command(r->diagnostic, strlen(r->diagnostic), r->smtp_command))
		return;
	if (r->address != NULL) {
		*looked = true;
		if ((t = diag_for(c, r->address)) != NULL) {
			(void)bh_smtp_command(t, strlen(t), r->smtp_command);
			*words_r = t;
		}
	}
}

/* diag_again - diag_for(c, addr) when smtp_stage already looked addr up in the same text:
 * its words (taken over, or freed), on the same budget as a second look-up */
static char *
diag_again(struct ctx *c, char **words)
{
	char *t = *words;

	*words = NULL;
	if (c->diag_budget == 0 || c->text.len == 0) {
		free(t);
		return NULL;
	}
	c->diag_budget--;
	return t;
}

/* dialogue_for - the words about addr in t[0..n) when they hold an SMTP dialogue's reply
 * ("<<< 550 ..."), new; else NULL */
static char *
dialogue_for(const char *t, size_t n, const char *addr)
{
	char *d;

	if (bh_memcasemem(t, n, "<<< 4", 5) == NULL && bh_memcasemem(t, n, "<<< 5", 5) == NULL)
		return NULL;
	if ((d = bh_recog_diag_for(t, n, addr)) != NULL && strstr(d, "<<< 4") == NULL &&
	    strstr(d, "<<< 5") == NULL) {
		free(d);
		d = NULL;
	}
	return d;
}

/* returned_transcript - when the notice gives no reason for addr and the message it returns is
 * itself a failure report with an SMTP dialogue about addr (a gateway that wraps a bounce it
 * got: "Unable to deliver message to <a@b>" around a Sendmail transcript), the words of that
 * dialogue (new), else NULL. Only a dialogue counts ("<<< 550 ..." after ">>> RCPT To:<a@b>"):
 * a returned newsletter that merely names the address says nothing about a failure. Reads the
 * text after the cut, then the first text parts of an attached message (at most 2, each at
 * most BH_DEF_SCAN_BYTES). */
static char *
returned_transcript(struct ctx *c, const char *addr)
{
	size_t i, k = 0, dl;
	char *d = NULL, *b;

	if (addr == NULL || c->diag_budget == 0)
		return NULL;
	c->diag_budget--;
	if (c->text.len > c->cut &&
	    (d = dialogue_for(c->text.data + c->cut, c->text.len - c->cut, addr)) != NULL)
		return d;
	for (i = 1; i < c->m.n && k < 2 && d == NULL; i++) {
		const struct bh_part *p = &c->m.v[i];

		if (!inside_message(&c->m, i) || strcmp(p->type, "text") != 0 ||
		    strcmp(p->subtype, "plain") != 0)
			continue;
		k++;
		b = bh_mime_body(p, BH_DEF_SCAN_BYTES, &dl);
		b = to_utf8(b, &dl, p->charset);
		d = dialogue_for(b, dl < BH_DEF_SCAN_BYTES ? dl : BH_DEF_SCAN_BYTES, addr);
		free(b);
	}
	return d;
}

/* inner_reply - a remote server's reply quoted inside a wrapper's diagnostic: "5.1.0 - Unknown
 * address error 550-'5.1.1 <a@b>... User unknown'", "... said: '550 ...'" (a quote after a
 * reply code, or a reply code after a quote, past the diagnostic's own start). Returns its
 * offset and sets *len, or returns (size_t)-1. */
static size_t
inner_reply(const char *d, size_t n, size_t *len)
{
	size_t i, s, e;
	char q;

	for (i = 4; i + 4 < n; i++) {
		if ((d[i] == '\'' || d[i] == '"') && (d[i + 1] == '4' || d[i + 1] == '5') &&
		    d[i + 2] >= '0' && d[i + 2] <= '9' && d[i + 3] >= '0' && d[i + 3] <= '9')
			s = i + 1;
		else if ((d[i] == '4' || d[i] == '5') && d[i + 1] >= '0' && d[i + 1] <= '9' &&
			 i + 5 < n && d[i + 2] >= '0' && d[i + 2] <= '9' &&
			 (d[i + 3] == '-' || d[i + 3] == ' ') &&
			 (d[i + 4] == '\'' || d[i + 4] == '"') &&
			 (d[i - 1] == ' ' || d[i - 1] == '\t'))
			s = i + 5;
		else
			continue;
		q = d[s - 1] == '\'' || d[s - 1] == '"' ? d[s - 1] : '\'';
		for (e = s; e < n && d[e] != q; e++)
			;
		if (e > s) {
			*len = e - s;
			return s;
		}
	}
	return (size_t)-1;
}

/* transcript_lines - the reply lines of an SMTP transcript in t[0..n): "<<< 550-5.7.1 ...",
 * "<<< 550 5.7.1 ..." (Sendmail), ">>> 550 ..." (the other direction some MTAs print), joined
 * with newlines, without their markers; new string or NULL */
static char *
transcript_lines(const char *t, size_t n)
{
	struct bh_buf b;
	size_t i = 0, e;
	unsigned lines = 0;

	bh_buf_init(&b);
	while (i < n && lines < 200) {
		for (e = i; e < n && t[e] != '\n'; e++)
			;
		lines++;
		if (e - i > 7 && (memcmp(t + i, "<<< ", 4) == 0 || memcmp(t + i, ">>> ", 4) == 0) &&
		    (t[i + 4] == '4' || t[i + 4] == '5') && t[i + 5] >= '0' && t[i + 5] <= '9' &&
		    t[i + 6] >= '0' && t[i + 6] <= '9') {
			if (b.len > 0)
				bh_buf_putc(&b, '\n');
			bh_buf_append(&b, t + i + 4, e - i - 4);
		}
		i = e + 1;
	}
	if (b.len == 0) {
		bh_buf_deinit(&b);
		return NULL;
	}
	return bh_buf_steal(&b);
}

/* heading - the notice's opening words: its text up to the first blank line after some words,
 * at most 512 bytes (a borrowed span) */
static size_t
heading(const struct ctx *c, const char **p)
{
	size_t n = c->cut <= c->text.len ? c->cut : c->text.len, i = 0, words = 0;
	const char *t = c->text.data;

	while (i < n && (t[i] == '\n' || t[i] == '\r' || t[i] == ' '))
		i++;
	*p = t + i;
	for (; i < n && i < 512; i++) {
		if (t[i] != '\n' && t[i] != '\r' && t[i] != ' ')
			words++;
		if (words > 20 && t[i] == '\n' && i + 1 < n &&
		    (t[i + 1] == '\n' || t[i + 1] == '\r'))
			break;
	}
	return (size_t)(t + i - *p);
}

/* decide - the reason of one recipient from the rules engine, given every text about it:
 * the quoted inner reply, the transcript, the diagnostic, the Status comment, the notice's
 * paragraph about the address, the report's own class of the failure (category, or NULL) and
 * the notice's heading (not the Subject: "Mail System Error - Returned Mail" is a wrapper's
 * generic word). A notice that gives no reason for the address, and returns a failure report
 * of its own, is read again with that report's dialogue as a transcript. */
static void
decide(struct ctx *c, struct bh_rcpt *r, const char *category, const char *status_comment)
{
	struct bh_rules_result res;
	struct bh_evidence ev[BH_MAX_EVIDENCE];
	struct bh_rules_input in;
	const char *d = r->diagnostic != NULL ? r->diagnostic : "", *hp;
	char *notice = NULL, *trans = NULL, *cat = NULL, *old = NULL, *staged = NULL;
	size_t n = 0, off, il, hl;
	bool looked;

	if (r->action == BH_ACTION_DELIVERED || r->action == BH_ACTION_RELAYED ||
	    r->action == BH_ACTION_EXPANDED) {
		bh_rcpt_set_reason(r, BH_R_DELIVERED, NULL);
		return;
	}
	memset(&res, 0, sizeof(res));
	smtp_stage(c, r, &staged, &looked);
	if ((off = inner_reply(d, strlen(d), &il)) != (size_t)-1)
		ev[n++] = (struct bh_evidence){BH_EV_INNER, d + off, il};
	if ((trans = transcript_lines(d, strlen(d))) == NULL && r->address != NULL &&
	    (notice = looked ? diag_again(c, &staged) : diag_for(c, r->address)) != NULL)
		trans = transcript_lines(notice, strlen(notice));
	if (trans != NULL)
		ev[n++] = (struct bh_evidence){BH_EV_TRANSCRIPT, trans, strlen(trans)};
	ev[n++] = (struct bh_evidence){BH_EV_DIAGNOSTIC, d, strlen(d)};
	if (status_comment != NULL)
		ev[n++] = (struct bh_evidence){BH_EV_STATUS_COMMENT, status_comment,
					       strlen(status_comment)};
	if (notice != NULL && strcmp(notice, d) != 0)
		ev[n++] = (struct bh_evidence){BH_EV_NOTICE, notice, strlen(notice)};
	if (category != NULL) {
		cat = bh_strdup(category);
		for (off = 0; cat[off] != '\0'; off++)
			if (cat[off] == '-' || cat[off] == '_')
				cat[off] = ' ';
		ev[n++] = (struct bh_evidence){BH_EV_NOTICE, cat, strlen(cat)};
	}
	if (c->text.len > 0 && (hl = heading(c, &hp)) > 0)
		ev[n++] = (struct bh_evidence){BH_EV_HEADING, hp, hl};
	in = (struct bh_rules_input){r->status,
				     r->reply_code,
				     r->smtp_command,
				     ev,
				     n,
				     r->action == BH_ACTION_DELAYED,
				     r->action == BH_ACTION_FAILED};
	bh_rules_decide_ev(c->opts->rules, &in, &res);
	if (res.reason == BH_R_UNDEFINED && r->status[0] == '\0' && trans == NULL &&
	    n < BH_MAX_EVIDENCE && (trans = returned_transcript(c, r->address)) != NULL) {
		/* the codes of that dialogue inform the reason; the recipient keeps the notice's
		 * own (none), as the notice gave them */
		char *nd = bh_asprintf("%s | returned report: %s", d, trans), st[BH_MAX_STATUS],
		     rc[4], cmd[8];

		old = r->diagnostic; /* ev[] points into it until the decision */
		r->diagnostic = bh_text_clean(nd, strlen(nd), BH_MAX_DIAGNOSTIC);
		free(nd);
		st[0] = rc[0] = cmd[0] = '\0';
		bh_recog_codes(trans, strlen(trans), st, sizeof(st), rc);
		(void)bh_smtp_command(trans, strlen(trans), cmd);
		ev[n++] = (struct bh_evidence){BH_EV_TRANSCRIPT, trans, strlen(trans)};
		in.status = st;
		in.reply_code = rc;
		in.smtp_command = cmd[0] != '\0' ? cmd : r->smtp_command;
		in.n_ev = n;
		bh_rules_decide_ev(c->opts->rules, &in, &res);
	}
	bh_rcpt_set_reason(r, res.reason, res.rule);
	r->evidence = res.evidence;
	if (res.whose != BH_WHOSE_NONE)
		r->whose = res.whose;
	free(old);
	free(cat);
	free(trans);
	free(notice);
	free(staged);
}

/* set_status - copy a status when it is a valid RFC 3463 code */
static void
set_status(struct bh_rcpt *r, const char *s)
{
	if (s != NULL && strlen(s) < sizeof(r->status) && bh_status_valid(s, strlen(s)))
		strcpy(r->status, s);
}

static char *received_for(const struct bh_header *h);

/* typed_text_of - "smtp; 550 ..." -> type (lower case, or NULL) and text, both new */
static void
typed_text_of(const struct bh_field *f, char **type_r, char **text_r)
{
	const char *p = f->value, *semi;
	size_t n = f->value_len, tn;

	*type_r = NULL;
	bh_span_trim(&p, &n);
	semi = memchr(p, ';', n);
	if (semi != NULL && (tn = (size_t)(semi - p)) > 0 && tn < 32 &&
	    memchr(p, ' ', tn) == NULL) {
		*type_r = bh_memdup0(p, tn);
		bh_lower_ascii(*type_r);
		n -= tn + 1;
		p = semi + 1;
		bh_span_trim(&p, &n);
	}
	*text_r = bh_memdup0(p, n);
}

/* diag_for - what the text says about addr, while the per-message budget lasts: each look-up
 * reads the whole text, so a report with a thousand recipients must not do it a thousand
 * times */
static char *
diag_for(struct ctx *c, const char *addr)
{
	if (c->diag_budget == 0 || c->text.len == 0)
		return NULL;
	c->diag_budget--;
	return bh_recog_diag_for(c->text.data, c->cut, addr);
}

/* letters - how many ASCII letters s has */
static size_t
letters(const char *s)
{
	size_t k = 0;

	for (; s != NULL && *s != '\0'; s++)
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z'))
			k++;
	return k;
}

/* dsn_diag - the diagnostic of one DSN recipient: its Diagnostic-Code (with the type kept
 * when it is not "smtp": "x-unix; 77" says a local program failed), completed by what the
 * human-readable part says about the address when the code alone says little */
static char *
dsn_diag(struct ctx *c, const struct bh_dsn_rcpt *dr, const char *addr)
{
	struct bh_buf b;
	char *t = NULL, *r;

	bh_buf_init(&b);
	if (dr->diagnostic != NULL && dr->diagnostic[0] != '\0') {
		if (dr->diagnostic_type != NULL && strcmp(dr->diagnostic_type, "smtp") != 0)
			bh_buf_printf(&b, "%s; ", dr->diagnostic_type);
		if (strstr(dr->diagnostic, "=?") != NULL) {
			/* RFC 2047 words in a Diagnostic-Code (a localized server's reply) */
			char *dec = bh_header_decode(dr->diagnostic, strlen(dr->diagnostic),
						     BH_MAX_FIELD_VALUE);

			bh_buf_puts(&b, dec != NULL ? dec : dr->diagnostic);
			free(dec);
		} else {
			bh_buf_puts(&b, dr->diagnostic);
		}
	}
	if (dr->diagnostic == NULL && dr->status_comment != NULL)
		bh_buf_puts(&b, dr->status_comment);
	if (dr->diagnostic == NULL) {
		/* a program or a file was the recipient: say so ("pipe to |procmail") */
		const char *prog =
		    dr->x_actual_recipient != NULL &&
			    (dr->x_actual_recipient[0] == '|' || dr->x_actual_recipient[0] == '/')
			? dr->x_actual_recipient
		    : dr->final_recipient != NULL &&
			    (dr->final_recipient[0] == '|' || dr->final_recipient[0] == '/')
			? dr->final_recipient
			: NULL;

		if (prog != NULL)
			bh_buf_printf(&b, "%s %s", prog[0] == '|' ? "pipe to" : "save to", prog);
	}
	if (letters(dr->diagnostic) < 4 && c->text.len > 0 && (t = diag_for(c, addr)) != NULL) {
		if (b.len > 0)
			bh_buf_puts(&b, " | ");
		bh_buf_puts(&b, t);
		free(t);
	}
	r = b.len > 0 ? bh_text_clean(b.data, b.len, BH_MAX_DIAGNOSTIC) : NULL;
	bh_buf_deinit(&b);
	return r;
}

/* refine_status - a generic DSN Status (5.0.0, 4.0.0) gives way to a specific status of the
 * same class quoted in the diagnostic ("550 5.1.1 User unknown"). A failed recipient with a
 * 4.x.x Status whose diagnostic is the server's permanent reply ("550 5.5.0 ...") takes the
 * quoted status: the reporting MTA gave up (Action: failed) on a refusal that was final, and a
 * temporary class would leave it waiting for a retry that will not come. */
static void
refine_status(struct bh_rcpt *r)
{
	const char *d = r->diagnostic;
	char st[BH_MAX_STATUS];

	if (r->status[0] == '\0')
		return;
	while (*d == ' ')
		d++;
	if (r->action == BH_ACTION_FAILED && r->status[0] == '4' && d[0] == '5' && d[1] >= '0' &&
	    d[1] <= '9' && d[2] >= '0' && d[2] <= '9' && (d[3] == ' ' || d[3] == '-') &&
	    bh_text_status(d, strlen(d), '5', st, sizeof(st)) &&
	    strncmp(d + 4, st, strlen(st)) == 0) {
		strcpy(r->status, st);
		return;
	}
	if (bh_text_status(r->diagnostic, strlen(r->diagnostic), r->status[0], st, sizeof(st)) &&
	    strcmp(st + 1, ".0.0") != 0)
		strcpy(r->status, st);
}

/* valid_addr - the whole string is one address: a local part without blanks (quoted or
 * encoded ones too), one '@', a host name */
static bool
valid_addr(const char *a)
{
	const char *at;
	size_t pos = 0, s, l, n, i;

	if (a == NULL || (at = strrchr(a, '@')) == NULL || at == a)
		return false;
	n = strlen(a);
	for (i = 0; i < n; i++)
		if ((unsigned char)a[i] <= ' ' || a[i] == '<' || a[i] == '>' || a[i] == '(' ||
		    a[i] == ',' || (a[i] == ':' && a[0] != '"'))
			return false;
	/* the domain: "x@" + domain must scan as one address of the same length */
	{
		char buf[BH_MAX_ADDRESS + 3];
		size_t dn = n - (size_t)(at - a);

		if (dn + 1 >= sizeof(buf))
			return false;
		buf[0] = 'x';
		memcpy(buf + 1, at, dn);
		buf[dn + 1] = '\0';
		return bh_text_next_addr(buf, dn + 1, &pos, &s, &l) && s == 0 && l == dn + 1;
	}
}

/* do_dsn - recipients from a delivery-status part; returns the number added */
static size_t
do_dsn(struct ctx *c, const char *body, size_t bl)
{
	struct bh_dsn d;
	const char *err;
	size_t i, added = 0;

	if (bh_dsn_parse(body, bl, c->opts->settings->recipients, &d, &err) == -1) {
		bh_dsn_deinit(&d);
		return 0;
	}
	for (i = 0; i < d.n; i++) {
		struct bh_dsn_rcpt *dr = &d.r[i];
		const char *addr = NULL;
		char *inner = NULL;
		struct bh_rcpt *r;

		if (valid_addr(dr->final_recipient))
			addr = dr->final_recipient;
		else if (valid_addr(dr->original_recipient))
			addr = dr->original_recipient;
		else if (valid_addr(dr->x_actual_recipient))
			addr = dr->x_actual_recipient;
		else if (dr->final_recipient != NULL &&
			 (inner = bh_text_first_addr(dr->final_recipient,
						     strlen(dr->final_recipient))) != NULL)
			addr = inner; /* "|/bin/prog user@example.com" */
		else if ((inner = received_for(c->orig)) != NULL)
			addr = inner; /* a file or a program: whom it was for */
		else if (dr->final_recipient != NULL && dr->final_recipient[0] != '\0')
			addr = dr->final_recipient;
		if (addr == NULL)
			continue;
		if ((r = bh_verdict_add_rcpt(c->v, c->opts->settings->recipients)) == NULL) {
			free(inner);
			break;
		}
		added++;
		r->address = bh_strdup(addr);
		free(inner);
		addr = r->address;
		if (dr->original_recipient != NULL && dr->original_recipient[0] != '\0' &&
		    strcasecmp(dr->original_recipient, addr) != 0)
			r->original_address = bh_strdup(dr->original_recipient);
		r->action = dr->action != NULL ? bh_action_parse(dr->action, strlen(dr->action))
					       : BH_ACTION_NONE;
		set_status(r, dr->status);
		r->diagnostic = dsn_diag(c, dr, addr);
		if (r->diagnostic != NULL) {
			refine_status(r);
			bh_recog_codes(r->diagnostic, strlen(r->diagnostic), r->status,
				       sizeof(r->status), r->reply_code);
		}
		if (dr->remote_mta != NULL && dr->remote_mta[0] != '\0')
			r->remote_mta = bh_strdup(dr->remote_mta);
		decide(c, r, dr->x_category, dr->status_comment);
	}
	if (d.truncated)
		c->v->rcpts_truncated = true;
	if (added > 0) {
		if (d.reporting_mta != NULL)
			c->v->env.reporting_mta = bh_strdup(d.reporting_mta);
		if (d.original_envelope_id != NULL)
			c->v->env.original_envelope_id = bh_strdup(d.original_envelope_id);
	}
	bh_dsn_deinit(&d);
	return added;
}

/* do_dsn_part - a message/delivery-status part */
static size_t
do_dsn_part(struct ctx *c, const struct bh_part *part)
{
	size_t bl, added;
	char *body = bh_mime_body(part, c->opts->settings->message_size, &bl);

	/* a DSN in a legacy charset (ISO-2022-JP Diagnostic-Codes of Japanese MTAs, a declared
	 * Shift_JIS or KOI8-R): the rules read UTF-8 */
	body = to_utf8(body, &bl, part->charset);
	added = do_dsn(c, body, bl);
	free(body);
	return added;
}

/* dsn_in_text - delivery-status fields pasted into the text (a report whose MIME structure
 * was lost): the offset of the first "Reporting-MTA:" / "Final-Recipient:" line, or -1 */
static long
dsn_in_text(const char *t, size_t n)
{
	struct bh_lines it;
	size_t len, lines = 0;
	const char *l;
	long first = -1;

	bh_lines_init(&it, t, n);
	while (lines++ < 20000 && bh_lines_next(&it, &l, &len)) {
		if (first == -1 && bh_span_istarts(l, len, "Reporting-MTA:"))
			first = (long)(l - t);
		if (bh_span_istarts(l, len, "Final-Recipient:") ||
		    bh_span_istarts(l, len, "Original-Recipient:"))
			return first != -1 ? first : (long)(l - t);
	}
	return -1;
}

/* do_arf - recipients of a feedback report */
static size_t
do_arf(struct ctx *c, const struct bh_part *part)
{
	struct bh_arf a;
	const char *err;
	size_t i, bl, added = 0;
	char *body = bh_mime_body(part, c->opts->settings->message_size, &bl);

	if (bh_arf_parse(body, bl, c->opts->settings->recipients, &a, &err) == -1) {
		bh_arf_deinit(&a);
		free(body);
		return 0;
	}
	if (a.n_rcpts == 0 && c->v->original.to != NULL) {
		/* every address of the returned message's To */
		const char *t = c->v->original.to;
		size_t pos = 0, s, l, tl = strlen(t);

		while (a.n_rcpts < c->opts->settings->recipients &&
		       bh_text_next_addr(t, tl, &pos, &s, &l)) {
			a.rcpts = bh_reallocarray(a.rcpts, a.n_rcpts + 1, sizeof(*a.rcpts));
			a.rcpts[a.n_rcpts] = bh_memdup0(t + s, l);
			bh_lower_ascii(a.rcpts[a.n_rcpts++]);
		}
	}
	/* a complaint that names nobody (the recipient redacted, "To: <Undisclosed Recipients>")
	 * is still a complaint, about whoever the message went to: one recipient without an
	 * address, which the policy applies to the VERP recipient */
	for (i = 0; i < (a.n_rcpts > 0 ? a.n_rcpts : 1); i++) {
		struct bh_rcpt *r = bh_verdict_add_rcpt(c->v, c->opts->settings->recipients);

		if (r == NULL)
			break;
		added++;
		r->address = a.n_rcpts > 0 ? bh_strdup(a.rcpts[i]) : NULL;
		r->feedback_type = bh_strdup(a.feedback_type);
		bh_rcpt_set_reason(r, BH_R_FEEDBACK, NULL);
	}
	bh_arf_deinit(&a);
	free(body);
	return added;
}

/* received_for - "for <a@b>" in the returned message's Received fields */
static char *
received_for(const struct bh_header *h)
{
	size_t i;

	for (i = 0; h != NULL && i < h->n; i++) {
		const struct bh_field *f = &h->v[i];
		const char *p;

		if (!bh_span_ieq(f->name, f->name_len, "Received"))
			continue;
		p = f->value;
		while ((p = bh_memcasemem(p, f->value_len - (size_t)(p - f->value), "for ", 4)) !=
		       NULL) {
			size_t off = (size_t)(p - f->value) + 4, pos = off, s, l;

			p += 4;
			if (off < 5 || (f->value[off - 5] != ' ' && f->value[off - 5] != '\t'))
				continue;
			while (pos < f->value_len && (f->value[pos] == ' ' || f->value[pos] == '<'))
				pos++;
			if (bh_text_next_addr(f->value, f->value_len, &pos, &s, &l) &&
			    s < off + 3) {
				char *a = bh_memdup0(f->value + s, l);

				bh_lower_ascii(a);
				return a;
			}
		}
	}
	return NULL;
}

/* notice_delayed - the notice says delivery is still being tried (a warning, not a failure):
 * "will be retried", "will keep trying", "has been delayed", "not yet been delivered", and
 * says nowhere that it gave up ("will not be retried", "not going to try again", "permanent") */
static bool
notice_delayed(const struct ctx *c)
{
	static const char *const still[] = {
	    "will be retried",
	    "will keep trying",
	    "will continue trying",
	    "will continue to try",
	    "will try again",
	    "still trying",
	    "has been delayed",
	    "have been delayed",
	    "not yet been delivered",
	    "delivery is delayed",
	    "delivery delayed",
	    "warning message only",
	    "delivery attempts will continue",
	};
	static const char *const gave_up[] = {
	    "will not be retried",
	    "not going to try again",
	    "permanent",
	    "giving up",
	    "gave up",
	    "no further attempts",
	    "fatal error",
	};
	size_t n = c->cut <= c->text.len ? c->cut : c->text.len;
	uint64_t hits = 0;

	/* one pass for each list: any of its phrases anywhere */
	static struct bh_needles still_set, gave_up_set;

	if (!still_set.ready) {
		bh_needles_init(&still_set, still, BH_NELEM(still));
		bh_needles_init(&gave_up_set, gave_up, BH_NELEM(gave_up));
	}
	if (bh_needles_find(&still_set, c->text.data, n, true, &hits) == n)
		return false;
	return bh_needles_find(&gave_up_set, c->text.data, n, true, &hits) == n;
}

/* add_text_rcpt - one recipient of a bounce text */
static struct bh_rcpt *
add_text_rcpt(struct ctx *c, char *address, char *diag, char *mta, const char *status,
	      const char *reply)
{
	struct bh_rcpt *r = bh_verdict_add_rcpt(c->v, c->opts->settings->recipients);

	if (r == NULL) {
		free(address);
		free(diag);
		free(mta);
		return NULL;
	}
	r->address = address;
	r->diagnostic = diag;
	r->remote_mta = mta;
	set_status(r, status);
	if (reply != NULL)
		memcpy(r->reply_code, reply, sizeof(r->reply_code));
	if (r->diagnostic != NULL)
		bh_recog_codes(r->diagnostic, strlen(r->diagnostic), r->status, sizeof(r->status),
			       r->reply_code);
	r->action = notice_delayed(c) ? BH_ACTION_DELAYED : BH_ACTION_FAILED;
	if (r->diagnostic != NULL) {
		/* a forward or alias that failed: the address our mail was sent to */
		char *o = bh_recog_alias_source(r->diagnostic, strlen(r->diagnostic));

		if (o != NULL && strcmp(o, r->address) != 0)
			r->original_address = o;
		else
			free(o);
	}
	decide(c, r, NULL, NULL);
	if (r->diagnostic != NULL && strlen(r->diagnostic) > BH_MAX_DIAGNOSTIC) {
		/* the rules read the longer text (text_diag); the verdict keeps the usual cut */
		char *d = bh_text_clean(r->diagnostic, strlen(r->diagnostic), BH_MAX_DIAGNOSTIC);

		free(r->diagnostic);
		r->diagnostic = d;
	}
	return r;
}

/* text_diag - the report's own text, cleaned: the diagnostic of last resort. It is cut where
 * the rules stop reading, not at the verdict's diagnostic cut: a notice that names no address
 * may state its reason only at its end (a Google Groups notice in Arabic or Ukrainian spends
 * over a kilobyte before its help link); add_text_rcpt cuts it after the decision. */
static char *
text_diag(struct ctx *c)
{
	if (c->text.len == 0)
		return NULL;
	return bh_text_clean(c->text.data, c->cut, BH_MAX_RULE_TEXT);
}

/* do_ses - an Amazon SES notification in the text */
static bool
do_ses(struct ctx *c)
{
	struct bh_ses s;
	size_t i;

	if (c->text.len == 0 ||
	    bh_memcasemem(c->text.data, c->text.len, "\"notificationType\"", 18) == NULL ||
	    bh_ses_parse(c->text.data, c->text.len, c->opts->settings->recipients, &s) ==
		BH_SES_NONE) {
		return false;
	}
	c->v->type = s.kind == BH_SES_COMPLAINT ? BH_TYPE_ARF : BH_TYPE_BOUNCE;
	c->v->recognizer = "amazonses-json";
	if (s.reporting_mta != NULL && c->v->env.reporting_mta == NULL)
		c->v->env.reporting_mta =
		    bh_dsn_address(s.reporting_mta, strlen(s.reporting_mta), false);
	for (i = 0; i < s.n; i++) {
		struct bh_rcpt *r = bh_verdict_add_rcpt(c->v, c->opts->settings->recipients);
		char *dt = NULL;

		if (r == NULL)
			break;
		r->address = s.r[i].address;
		s.r[i].address = NULL;
		if (s.kind == BH_SES_COMPLAINT) {
			r->feedback_type =
			    bh_strdup(s.feedback_type != NULL ? s.feedback_type : "abuse");
			bh_rcpt_set_reason(r, BH_R_FEEDBACK, NULL);
			continue;
		}
		if (s.r[i].diagnostic != NULL) {
			const struct bh_field f = {"", 0, s.r[i].diagnostic,
						   strlen(s.r[i].diagnostic)};
			char *text = NULL;

			typed_text_of(&f, &dt, &text);
			r->diagnostic = bh_text_clean(text, strlen(text), BH_MAX_DIAGNOSTIC);
			free(text);
			free(dt);
		}
		r->action = s.kind == BH_SES_DELIVERY ? BH_ACTION_DELIVERED
			    : s.r[i].action != NULL
				? bh_action_parse(s.r[i].action, strlen(s.r[i].action))
				: BH_ACTION_FAILED;
		set_status(r, s.r[i].status);
		if (r->diagnostic != NULL) {
			refine_status(r);
			bh_recog_codes(r->diagnostic, strlen(r->diagnostic), r->status,
				       sizeof(r->status), r->reply_code);
		}
		decide(c, r, NULL, NULL);
	}
	bh_ses_deinit(&s);
	return c->v->n_rcpts > 0;
}

/* jmrp - a feedback report without a feedback-report part: the returned message carries
 * X-HmXmrOriginalRecipient (Microsoft's junk mail reporting program) */
static bool
jmrp(struct ctx *c)
{
	const struct bh_field *f =
	    c->orig != NULL ? bh_header_get(c->orig, "X-HmXmrOriginalRecipient") : NULL;
	struct bh_rcpt *r;
	char *a;

	if (f == NULL || (a = bh_text_first_addr(f->value, f->value_len)) == NULL)
		return false;
	if ((r = bh_verdict_add_rcpt(c->v, c->opts->settings->recipients)) == NULL) {
		free(a);
		return false;
	}
	r->address = a;
	r->feedback_type = bh_strdup("abuse");
	bh_rcpt_set_reason(r, BH_R_FEEDBACK, NULL);
	return true;
}

/* do_text - recipients from a non-standard bounce text (X-Failed-Recipients first, then what
 * the recognizer read, then the returned message's To or Received "for") */
static bool
do_text(struct ctx *c, struct bh_recog_out *out)
{
	const struct bh_field *xf = bh_header_get(&c->m.v[0].hdr, "X-Failed-Recipients");
	size_t i, k;

	c->v->type = BH_TYPE_BOUNCE;
	c->v->recognizer = out->name;
	if (xf != NULL) {
		/* the header names the failed addresses: a text line that names one of ours
		 * ("kijitora@example.jp 様", a greeting) is not a recipient */
		for (i = k = 0; i < out->n; i++) {
			size_t e;

			for (e = c->n_strong; e < c->n_excl; e++)
				if (strcmp(out->v[i].address, c->excl[e]) == 0)
					break;
			if (e < c->n_excl) {
				free(out->v[i].address);
				free(out->v[i].diagnostic);
				free(out->v[i].remote_mta);
				continue;
			}
			out->v[k++] = out->v[i];
		}
		out->n = k;
	}
	if (xf != NULL && out->n == 0) {
		size_t pos = 0, s, l;

		while (bh_text_next_addr(xf->value, xf->value_len, &pos, &s, &l)) {
			char *a = bh_memdup0(xf->value + s, l), *diag = NULL, *mta = NULL;
			const char *st = NULL, *rc = NULL;

			bh_lower_ascii(a);
			for (k = 0; k < c->v->n_rcpts; k++)
				if (strcmp(c->v->rcpts[k].address, a) == 0)
					break;
			if (k < c->v->n_rcpts) {
				free(a);
				continue;
			}
			for (k = 0; k < out->n; k++)
				if (strcmp(out->v[k].address, a) == 0)
					break;
			if (k < out->n) {
				diag = out->v[k].diagnostic;
				out->v[k].diagnostic = NULL;
				mta = out->v[k].remote_mta;
				out->v[k].remote_mta = NULL;
				st = out->v[k].status;
				rc = out->v[k].reply_code;
			} else if ((diag = diag_for(c, a)) == NULL) {
				diag = out->n > 0 && out->v[0].diagnostic != NULL
					   ? bh_strdup(out->v[0].diagnostic)
					   : text_diag(c);
			}
			if (add_text_rcpt(c, a, diag, mta, st, rc) == NULL)
				break;
		}
		if (c->v->n_rcpts > 0)
			return true;
	}
	for (i = 0; i < out->n; i++) {
		struct bh_recog_hit *h = &out->v[i];

		if (add_text_rcpt(c, h->address, h->diagnostic, h->remote_mta, h->status,
				  h->reply_code) == NULL) {
			h->address = h->diagnostic = h->remote_mta = NULL;
			break;
		}
		h->address = h->diagnostic = h->remote_mta = NULL;
	}
	if (c->v->n_rcpts == 0) {
		/* nothing in the text: the returned message says whom it was for */
		char *a = c->v->original.to != NULL
			      ? bh_text_first_addr(c->v->original.to, strlen(c->v->original.to))
			      : NULL;

		if (a == NULL)
			a = received_for(c->orig);
		if (a != NULL) {
			c->v->recognizer = "returned-headers";
			add_text_rcpt(c, a, text_diag(c), NULL, NULL, NULL);
		}
	}
	return true;
}

/* do_autoreply - an RFC 3834 or vacation-style reply: the recipient is its author */
static bool
do_autoreply(struct ctx *c)
{
	const char *why = NULL;
	struct bh_rcpt *r;
	char *a;

	if (!bh_autoreply_detect(&c->v->env, c->text.data, c->text.len, &why))
		return false;
	c->v->type = BH_TYPE_AUTOREPLY;
	c->v->recognizer = "autoreply";
	a = c->v->env.from != NULL ? bh_text_first_addr(c->v->env.from, strlen(c->v->env.from))
				   : NULL;
	if (a != NULL && (r = bh_verdict_add_rcpt(c->v, c->opts->settings->recipients)) != NULL) {
		r->address = a;
		a = NULL;
		r->diagnostic = why != NULL ? bh_strdup(why) : NULL;
		bh_rcpt_set_reason(r, BH_R_VACATION, NULL);
	}
	free(a);
	return true;
}

/* bh_classify - see classify.h */
int
bh_classify(const struct bh_classify_opts *opts, const char *data, size_t len, struct bh_verdict *v)
{
	struct ctx c;
	const char *err = NULL;
	long ds = -1, fr = -1, nds = -1, off;
	size_t i;
	int ret = -1;

	memset(&c, 0, sizeof(c));
	c.opts = opts;
	c.v = v;
	c.diag_budget = 64;
	bh_buf_init(&c.text);
	if (len > opts->settings->message_size) {
		/* the header alone, for the log line and the quarantine decision */
		struct bh_header h;

		if (bh_header_parse(data, len, opts->settings->mime.header_line,
				    opts->settings->mime.header_count, &h, &err) == 0)
			fill_env(&v->env, &h);
		bh_header_deinit(&h);
		v->error = "message too large";
		goto fail;
	}
	if (bh_mime_parse(data, len, &opts->settings->mime, &c.m, &err) == -1) {
		v->error = err;
		if (c.m.n > 0)
			fill_env(&v->env, &c.m.v[0].hdr); /* what was read of it */
		goto fail;
	}
	fill_env(&v->env, &c.m.v[0].hdr);
	keep_raw_headers(&v->env, data, c.m.v[0].hdr.body_off);
	stable_id(v, data, len);

	/* the returned message's header, and the report parts */
	for (i = 1; i < c.m.n; i++) {
		const struct bh_part *p = &c.m.v[i];

		if (inside_message(&c.m, i)) {
			/* a whole report forwarded by a gateway that wraps what it got */
			if (nds == -1 && strcmp(p->type, "message") == 0 &&
			    (strcmp(p->subtype, "delivery-status") == 0 ||
			     strcmp(p->subtype, "global-delivery-status") == 0) &&
			    message_depth(&c.m, i) == 1)
				nds = (long)i;
			if (c.orig == NULL && p->parent >= 0 &&
			    strcmp(c.m.v[p->parent].type, "message") == 0 &&
			    !inside_message(&c.m, (size_t)p->parent))
				c.orig = &p->hdr;
			continue;
		}
		if (ds == -1 && strcmp(p->type, "message") == 0 &&
		    (strcmp(p->subtype, "delivery-status") == 0 ||
		     strcmp(p->subtype, "global-delivery-status") == 0))
			ds = (long)i;
		else if (fr == -1 && strcmp(p->type, "message") == 0 &&
			 strcmp(p->subtype, "feedback-report") == 0)
			fr = (long)i;
		else if (c.orig == NULL && ((strcmp(p->type, "text") == 0 &&
					     strcmp(p->subtype, "rfc822-headers") == 0) ||
					    (strcmp(p->type, "message") == 0 &&
					     strcmp(p->subtype, "global-headers") == 0))) {
			size_t bl;
			char *b = bh_mime_body(p, opts->settings->message_size, &bl);
			const char *e2;

			if (bh_header_parse(b, bl, opts->settings->mime.header_line,
					    opts->settings->mime.header_count, &c.orig_hdr,
					    &e2) == 0 &&
			    c.orig_hdr.n > 0) {
				c.orig = &c.orig_hdr;
				c.orig_body = b;
			} else {
				bh_header_deinit(&c.orig_hdr);
				free(b);
			}
		}
	}
	gather_text(&c);
	c.cut = bh_recog_cut(c.text.data != NULL ? c.text.data : "", c.text.len);
	if (c.orig == NULL && c.text.len > 0)
		text_original(&c);
	if (c.orig != NULL)
		fill_original(&v->original, c.orig);

	add_excl(&c, v->env.from);
	add_excl(&c, v->original.return_path);
	c.n_strong = c.n_excl;
	add_excl(&c, v->original.from);
	add_excl(&c, v->env.to);
	add_excl(&c, v->env.delivered_to);
	add_excl(&c, v->env.x_original_to);
	add_excl(&c, v->env.return_path);

	if (fr != -1 && do_arf(&c, &c.m.v[fr]) > 0) {
		v->type = BH_TYPE_ARF;
		v->recognizer = "rfc5965";
	} else if (ds != -1 && do_dsn_part(&c, &c.m.v[ds]) > 0) {
		v->type = BH_TYPE_DSN;
		v->recognizer = "rfc3464";
	} else if (c.text.len > 0 && (off = dsn_in_text(c.text.data, c.text.len)) != -1 &&
		   do_dsn(&c, c.text.data + off, c.text.len - (size_t)off) > 0) {
		v->type = BH_TYPE_DSN;
		v->recognizer = "rfc3464-text";
	} else if (nds != -1 && ds == -1 && do_dsn_part(&c, &c.m.v[nds]) > 0) {
		/* a plain notice around a whole report (a gateway forwards the DSN it got): the
		 * report inside names the recipients; the message stays a plain notice (type
		 * bounce), which the loop check knows passes a report on */
		v->type = BH_TYPE_BOUNCE;
		v->recognizer = "rfc3464-forwarded";
	} else if (do_ses(&c)) {
		/* type set */
	} else if (jmrp(&c)) {
		v->type = BH_TYPE_ARF;
		v->recognizer = "hotmail-jmrp";
	} else {
		struct bh_recog_in in;
		struct bh_recog_out out;

		memset(&in, 0, sizeof(in));
		memset(&out, 0, sizeof(out));
		in.hdr = &c.m.v[0].hdr;
		in.text = c.text.data;
		in.text_len = c.text.len;
		in.cut = c.cut;
		in.exclude = c.excl;
		in.n_exclude = c.n_excl;
		in.n_strong = c.n_strong;
		bh_recognize(&in, opts->settings->recipients, &out);
		if (out.bounce_like) {
			/* a report that names nobody may still be an auto-reply from postmaster@ */
			if (!do_text(&c, &out) || v->n_rcpts == 0)
				if (do_autoreply(&c))
					v->recognizer = "autoreply";
		} else if (do_autoreply(&c))
			; /* type set */
		else if (out.weak && (out.n > 0 || bh_header_get(in.hdr, "X-Failed-Recipients")))
			(void)do_text(&c, &out);
		else
			v->type = BH_TYPE_NOT_BOUNCE;
		bh_recog_out_deinit(&out);
	}
	ret = 0;
	goto out;
fail:
	v->type = BH_TYPE_NOT_BOUNCE;
	stable_id(v, data, len);
out:
	for (i = 0; i < c.n_excl; i++)
		free(c.excl[i]);
	bh_buf_deinit(&c.text);
	bh_header_deinit(&c.orig_hdr);
	free(c.orig_body);
	bh_mime_deinit(&c.m);
	return ret;
}

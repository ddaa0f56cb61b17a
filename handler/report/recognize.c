/*
 * recognize.c - non-standard bounce texts (qmail, Exim, Postfix and Sendmail without a DSN part,
 * Exchange/Office 365/Domino/GroupWise NDRs, Gmail, Yahoo, AOL, mail.ru, Yandex, ... ).
 *
 * Two steps. First the family, from cheap signals in order: From, Subject, a few marker lines.
 * Then the recipients, by one line-oriented reader that every family shares: the text is cut
 * at the marker of the returned message, each line whose first meaningful token is an address
 * (after prefixes such as "<", ">>> RCPT TO:", "550 5.1.1", "Recipient:") opens a recipient,
 * and the lines that follow (until the next such line, a blank line after a reply, or a cap)
 * are its diagnostic. Without any such line, an address quoted inside a sentence is taken
 * ("Your message to <a@b> was rejected"). Addresses of the sender side (the report's To,
 * Delivered-To, the returned message's From) are never reported.
 *
 * Bounded: at most the caller's scan limit of text, a line cap, the recipient cap. No regular
 * expressions, no allocation per line.
 */
#include "recognize.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "text.h"
#include "util.h"

#define MAX_LINES      20000u /* lines looked at */
#define MAX_DIAG_LINES 12u    /* lines of diagnostic text per recipient */

struct line {
	const char *p;
	size_t n;
};

/* markers that end the report's own text: the returned message follows */
static const char *const cut_markers[] = {
    "below this line is a copy of the message",
    "this is a copy of the message",
    "original message follows",
    "original message header",
    "----- original message -----",
    "-- original message --",
    "------ original message",
    "returned message follows",
    "------- returned message",
    "--- returned message",
    "message header follows",
    "message headers follow",
    "unsent message follows",
    "headers of the original message",
    "header of the original message",
    "unsent message below",
    "content-type: message/rfc822",
    "original message headers",
    "--- the header of the original message",
    "- this is the header of the original",
    "------ this is a copy of",
    "----- message header follows",
    "------ the original message",
    "copy of the original message",
    "included is a copy of the",
    "your original message is included",
    "original message:",
};

/* family signals: (where, needle, name, strong). where: 'f' From, 's' Subject, 't' the first
 * 4 KiB of text (lower case), 'h' any header value. The first match names the family; a strong
 * match (a phrase only a non-delivery report writes) also says the message is a bounce, a
 * vendor's name alone does not. Vendor names come first: they are more precise. */
static const struct {
	char where;
	const char *needle;
	const char *name;
	bool strong;
} families[] = {
    {'h', "googlegroups.com", "googlegroups", false},
    {'t', "the group you tried to contact", "googlegroups", true},
    {'f', "googlemail.com", "gmail", false},
    {'t', "dragonfly mail agent", "dragonfly", true},
    {'t', "this is the mailer-daemon, please do not reply", "opensmtpd", true},
    {'f', "mail.ru", "mailru", false},
    {'f', "yandex", "yandex", false},
    {'f', "@gmx.", "gmx", false},
    {'f', "kundenserver.de", "einsundeins", false},
    {'f', "zoho", "zoho", false},
    {'f', "ezweb.ne.jp", "kddi", false},
    {'f', "dion.ne.jp", "kddi", false},
    {'f', "docomo", "nttdocomo", false},
    {'f', "biglobe", "biglobe", false},
    {'f', "vzwpix", "verizon", false},
    {'f', "yahoo", "yahoo", false},
    {'f', "aol.com", "aol", false},
    {'f', "outlook.com", "outlook", false},
    {'f', "hotmail", "outlook", false},
    {'f', "amazonses.com", "amazonses", false},
    {'f', "sendgrid", "sendgrid", false},
    {'t', "interscan", "interscanmss", false},
    {'t', "mxlogic", "mxlogic", false},
    {'t', "mcafee", "mcafee", false},
    {'t', "mailmarshal", "mailmarshalsmtp", false},
    {'t', "barracuda", "barracuda", false},
    {'t', "messagelabs", "messagelabs", false},
    {'t', "mimecast", "mimecast", false},
    {'t', "-------server message", "mfilter", true},
    {'t', "error message below:", "apachejames", true},
    {'t', "lotus notes", "notes", false},
    {'t', "failure reasons", "notes", true},
    {'t', "domino", "domino", false},
    {'t', "groupwise", "groupwise", false},
    {'t', "courier mail server", "courier", true},
    /* a mailing list manager refusing our post (list_refusal) */
    {'t', "you are not a member of this mailing list", "mailinglist", true},
    {'t', "you are not allowed to post to this mailing list", "mailinglist", true},
    {'h', "(smtpd32", "imailserver", false},
    {'t', "this is the qmail-send program", "qmail", true},
    {'t', "qmail-send", "qmail", true},
    {'h', "invoked for bounce", "qmail", true},
    {'t', "this message was created automatically by mail delivery software", "exim", true},
    {'t', "this is the mail system at host", "postfix", true},
    {'t', "this is the postfix program", "postfix", true},
    {'t', "the following addresses had permanent fatal errors", "sendmail", true},
    {'t', "transcript of session follows", "sendmail", true},
    {'t', "delivery has failed to these recipients or groups", "exchange", true},
    {'t', "your message did not reach some or all of the intended recipients", "exchange", true},
    {'t', "did not reach the following recipient", "exchange", true},
    {'t', "delivery to the following recipient failed permanently", "gmail", true},
    {'t', "delivery to the following recipients failed", "gmail", true},
    {'t', "sorry, we were unable to deliver your message to the following address", "yahoo", true},
    {'t', "message from yahoo", "yahoo", true},
    {'t', "the mail server could not deliver mail to", "aol", true},
    {'t', "this report relates to a message you sent with the following header fields",
     "messagingserver", true},
    {'t', "your message was not delivered to", "domino", true},
    {'t', "the following recipient(s) could not be reached", "exchange2003", true},
    {'t', "delivery status notification", "dsn-text", true},
    {'t', "amazonses", "amazonses", true},
    {'t', "message not delivered", "text", false},
    {'f', "mailer-daemon@", "mailer-daemon", true},
    {'f', "postmaster@", "postmaster", true},
};

/* subjects that name a non-delivery report, lower case substrings */
static const char *const bounce_subjects[] = {
    "undeliver",
    "delivery status notification",
    "failure notice",
    "returned mail",
    "mail delivery failed",
    "delivery failure",
    "mail system error",
    "could not be delivered",
    "non remis",
    "nondeliverable",
    "non-deliverable",
    "delivery has failed",
    "failed delivery",
    "delivery notification",
    "undelivered",
    "not delivered",
    "delivery problem",
    "mail delivery system",
    "delivery report",
    "unzustellbar",
    "no se puede entregar",
    "message delivery failure",
    "warning: could not send",
    "delayed mail",
    "delivery delayed",
    "mail could not",
    "returned to sender",
    "error sending",
    "permanent error",
    "delivery error",
    "non-delivery",
    "delivery final failure",
    "unable to deliver",
    "mail failure",
    "mail delivery error",
};

/* phrases of a failure notice in the text: a weaker signal than the header's, looked at only
 * when the message is not an auto-reply */
static const char *const weak_phrases[] = {
    "could not be delivered",
    "couldn't be delivered",
    "undeliverable",
    "delivery failed",
    "delivery has failed",
    "was not delivered",
    "permanent error",
    "user unknown",
    "mailbox is full",
    "no such user",
    "not be delivered",
    "unable to deliver",
    "delivery to the following",
    "failed to deliver",
    "message was rejected",
    "address rejected",
    "does not exist",
    "mailbox unavailable",
};

/* contains - case-insensitive substring test */
static bool
contains(const char *hay, size_t n, const char *needle)
{
	return hay != NULL && bh_memcasemem(hay, n, needle, strlen(needle)) != NULL;
}

/* hdr - the first field called name, or NULL */
static const struct bh_field *
hdr(const struct bh_header *h, const char *name)
{
	return h != NULL ? bh_header_get(h, name) : NULL;
}

/* is_reply - a subject a person wrote in reply or forward ("Re: bounce handling") */
static bool
is_reply(const char *p, size_t n)
{
	static const char *const pre[] = {
	    "re:", "fw:", "fwd:", "aw:", "wg:", "tr:", "sv:", "antw:"};
	size_t i;

	bh_span_trim(&p, &n);
	for (i = 0; i < BH_NELEM(pre); i++)
		if (bh_span_istarts(p, n, pre[i]))
			return true;
	return false;
}

/* family - the name of the recognizer that fits, and whether it looks like a bounce. The
 * needles of the first 4 KiB of text, of the From field, of each header value and the bounce
 * subjects are looked for in one pass each (a set per place), and the weak phrases. */
static const char *
family(const struct bh_recog_in *in, bool *bounce_like, bool *weak)
{
	const struct bh_field *from = hdr(in->hdr, "From"), *subj = hdr(in->hdr, "Subject");
	size_t i, k, nt = 0, nf = 0, nh = 0, scan = in->text_len < 4096 ? in->text_len : 4096;
	const char *name = NULL;
	static const char *tneedles[BH_NELEM(families)], *fneedles[BH_NELEM(families)],
	    *hneedles[BH_NELEM(families)];
	static struct bh_needles tset, fset, hset, sset, wset;
	uint64_t thits = 0, fhits = 0, hhits = 0, shits = 0, whits = 0;

	if (!tset.ready) {
		for (i = 0; i < BH_NELEM(families); i++)
			if (families[i].where == 't')
				tneedles[nt++] = families[i].needle;
			else if (families[i].where == 'f')
				fneedles[nf++] = families[i].needle;
			else if (families[i].where == 'h')
				hneedles[nh++] = families[i].needle;
		bh_needles_init(&tset, tneedles, nt);
		bh_needles_init(&fset, fneedles, nf);
		bh_needles_init(&hset, hneedles, nh);
		bh_needles_init(&sset, bounce_subjects, BH_NELEM(bounce_subjects));
		bh_needles_init(&wset, weak_phrases, BH_NELEM(weak_phrases));
	}
	if (scan > 0)
		(void)bh_needles_find(&tset, in->text, scan, false, &thits);
	if (from != NULL && from->value != NULL)
		(void)bh_needles_find(&fset, from->value, from->value_len, false, &fhits);
	for (k = 0; in->hdr != NULL && k < in->hdr->n; k++)
		if (in->hdr->v[k].value != NULL)
			(void)bh_needles_find(&hset, in->hdr->v[k].value, in->hdr->v[k].value_len,
					      false, &hhits);
	*bounce_like = false;
	*weak = false;
	if (subj != NULL && subj->value != NULL && !is_reply(subj->value, subj->value_len) &&
	    bh_needles_find(&sset, subj->value, subj->value_len, true, &shits) < subj->value_len)
		*bounce_like = true;
	for (i = 0, nt = nf = nh = 0; i < BH_NELEM(families); i++) {
		const char *n = families[i].needle;
		bool hit = false;

		switch (families[i].where) {
		case 't': hit = (thits >> nt++) & 1; break;
		case 'f': hit = (fhits >> nf++) & 1; break;
		case 'h': hit = (hhits >> nh++) & 1; break;
		case 's': hit = subj != NULL && contains(subj->value, subj->value_len, n); break;
		}
		if (name != NULL && (!families[i].strong || *bounce_like))
			continue; /* nothing more to learn from this row */
		if (!hit)
			continue;
		if (name == NULL)
			name = families[i].name;
		if (families[i].strong)
			*bounce_like = true;
	}
	/* a person's reply or forward that quotes failure words is not a bounce */
	if (hdr(in->hdr, "In-Reply-To") == NULL &&
	    (subj == NULL || !is_reply(subj->value, subj->value_len)) && scan > 0 &&
	    bh_needles_find(&wset, in->text, scan, true, &whits) < scan)
		*weak = true;
	if (from != NULL && (contains(from->value, from->value_len, "mailer-daemon") ||
			     contains(from->value, from->value_len, "postmaster") ||
			     contains(from->value, from->value_len, "mail delivery")))
		*bounce_like = true;
	return name != NULL ? name : "text";
}

/* pasted_header_block - ls is "From: ..." at the start of a line, after a blank line, and one of
 * the next three lines is another header of a message (To, Subject, Date, Message-ID): the
 * returned message pasted without a marker */
static bool
pasted_header_block(const char *t, size_t n, const char *l, size_t len)
{
	static const char *const next[] = {"To:", "Subject:", "Date:", "Message-ID:"};
	size_t pos = (size_t)(l - t), k, i, nl;
	const char *x, *p = l;

	if (!bh_span_istarts(l, len, "From:") || p == t || p[-1] != '\n')
		return false;
	/* the line before is blank (LF or CRLF) */
	p--;
	if (p > t && p[-1] == '\r')
		p--;
	if (p > t && p[-1] != '\n')
		return false;
	(void)bh_line_next(t, n, &pos, &x, &nl); /* the From line itself */
	for (k = 0; k < 3 && bh_line_next(t, n, &pos, &x, &nl); k++)
		for (i = 0; i < BH_NELEM(next); i++)
			if (bh_span_istarts(x, nl, next[i]))
				return true;
	return false;
}

/* bh_recog_cut - length of the text before the returned message: the line of the earliest
 * marker (one pass for all of them, ending at the first) or pasted header lines (Return-Path,
 * Received, or a From block once the text has named an address) */
size_t
bh_recog_cut(const char *t, size_t n)
{
	static struct bh_needles cut_set;
	struct bh_lines it;
	size_t len, lines = 0, best;
	uint64_t found = 0;
	const char *l;
	bool seen_text = false, seen_addr = false;

	if (n == 0)
		return 0;
	if (!cut_set.ready)
		bh_needles_init(&cut_set, cut_markers, BH_NELEM(cut_markers));
	best = bh_needles_find(&cut_set, t, n, true, &found);
	if (found != 0)
		while (best > 0 && t[best - 1] != '\n' && t[best - 1] != '\r')
			best--;
	bh_lines_init(&it, t, best);
	while (lines++ < MAX_LINES && bh_lines_next(&it, &l, &len)) {
		const char *s = l;
		size_t sn = len;

		bh_span_trim(&s, &sn);
		if (sn == 0)
			continue;
		/* a pasted header block of the returned message */
		if (seen_text && (bh_span_istarts(l, len, "Return-Path:") ||
				  bh_span_istarts(l, len, "Received: from")))
			return (size_t)(l - t);
		if (seen_addr && pasted_header_block(t, best, l, len))
			return (size_t)(l - t);
		seen_text = true;
		if (!seen_addr && memchr(l, '@', len) != NULL)
			seen_addr = true;
	}
	return best;
}

/* excluded - an address of the sender side (strong ones only, or all) */
static bool
excluded(const struct bh_recog_in *in, const char *a, size_t n, bool strong_only)
{
	size_t i;

	for (i = 0; i < (strong_only ? in->n_strong : in->n_exclude); i++)
		if (in->exclude[i] != NULL && bh_span_ieq(a, n, in->exclude[i]))
			return true;
	if (bh_span_istarts(a, n, "mailer-daemon@"))
		return true;
	return false;
}

/* is_digit - an ASCII digit */
static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* is_blank - only blanks */
static bool
is_blank(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t')
			return false;
	return true;
}

/* is_rule_line - a decoration: "----- Transcript of session follows -----" */
static bool
is_rule_line(const char *p, size_t n)
{
	bh_span_trim(&p, &n);
	return n >= 6 &&
	       ((p[0] == '-' && p[1] == '-' && p[n - 1] == '-') || (p[0] == '=' && p[1] == '='));
}

/* is_record_line - a line of a Sendmail-style list that reports on another host, not an
 * address: "550 example.org (smtp)... 550 Host unknown", "421 mx.example.org (smtp)...
 * Deferred: ..."; it ends the diagnostic of the address above it */
static bool
is_record_line(const char *p, size_t n)
{
	const char *dots;

	bh_span_trim(&p, &n);
	if (n < 9 || (p[0] != '4' && p[0] != '5') || (p[1] < '0' || p[1] > '9') ||
	    (p[2] < '0' || p[2] > '9') || p[3] != ' ')
		return false;
	dots = memmem(p + 4, n - 4, "... ", 4);
	return dots != NULL && (size_t)(dots - p) < 80 &&
	       memchr(p + 4, '@', (size_t)(dots - p - 4)) == NULL;
}

#define MAX_SENDERS 8u

/* mail_from - the transcript's senders ("MAIL FROM:<a@b>"), at most MAX_SENDERS spans, found
 * once per message */
static size_t
mail_from(const char *t, size_t n, const char **a, size_t *al)
{
	const char *p = t;
	size_t k = 0, pos, s, l;

	while (k < MAX_SENDERS &&
	       (p = bh_memcasemem(p, n - (size_t)(p - t), "mail from:", 10)) != NULL) {
		p += 10;
		pos = (size_t)(p - t);
		while (pos < n && (t[pos] == ' ' || t[pos] == '<'))
			pos++;
		if (bh_text_next_addr(t, n, &pos, &s, &l) && s <= (size_t)(p - t) + 3) {
			a[k] = t + s;
			al[k++] = l;
		}
	}
	return k;
}

/* is_sender - the address is one of the transcript's senders */
static bool
is_sender(const char **a, const size_t *al, size_t k, const char *x, size_t xl)
{
	size_t i;

	for (i = 0; i < k; i++)
		if (al[i] == xl && strncasecmp(a[i], x, xl) == 0)
			return true;
	return false;
}

/* is_dsn_field - a delivery-status field line pasted into the text: not a diagnostic */
static bool
is_dsn_field(const char *p, size_t n)
{
	static const char *const names[] = {
	    "final-recipient:", "original-recipient:", "x-actual-recipient:", "action:",
	    "status:",		"reporting-mta:",      "remote-mta:",	      "last-attempt-date:",
	    "arrival-date:",	"received-from-mta:",  "will-retry-until:",   "x-postfix-",
	};
	size_t i;

	for (i = 0; i < BH_NELEM(names); i++)
		if (bh_span_istarts(p, n, names[i]))
			return true;
	return false;
}

/* code_line - the first line of t[0..n) that holds a reply code and a status of one class
 * ("550 5.1.1 User unknown", "Remote Server returned '550 5.1.10 ...'"), as a span; false when
 * there is none */
static bool
code_line(const char *t, size_t n, const char **l_r, size_t *len_r)
{
	struct bh_lines it;
	size_t len, lines = 0;
	const char *l;

	bh_lines_init(&it, t, n);
	while (lines++ < MAX_LINES && bh_lines_next(&it, &l, &len)) {
		const char *s = l;
		size_t sn = len;
		char code[4], st[BH_MAX_STATUS];

		bh_span_trim(&s, &sn);
		if (sn > 9 && bh_text_status(s, sn, 0, st, sizeof(st)) &&
		    bh_text_reply_code(s, sn, st[0], code) && !is_dsn_field(s, sn)) {
			*l_r = s;
			*len_r = sn;
			return true;
		}
	}
	return false;
}

/* skip_prefix - length of the meaningless prefix before a line's first address */
static size_t
skip_prefix(const char *l, size_t n)
{
	static const char *const words[] = {
	    "rcpt to:",
	    "rcpt to",
	    "recipient:",
	    "recipient address:",
	    "original-recipient:",
	    "final-recipient:",
	    "rfc822;",
	    "address:",
	    "addressee:",
	    "mailbox:",
	    "user:",
	    "failed recipient:",
	    "recipients:",
	    "email:",
	    "e-mail:",
	    "<<<",
	    ">>>",
	    "original recipient:",
	    "unknown user:",
	    "destinataire:",
	    "could not be delivered to:",
	    "could not be delivered to",
	    "delivery to",
	    "undeliverable to",
	    "failed to deliver to",
	    "in:",
	};
	size_t i = 0, k, guard = 0;

	while (i < n && guard++ < 32) {
		char c = l[i];

		if (c == ' ' || c == '\t' || c == '<' || c == '>' || c == '"' || c == '\'' ||
		    c == '*' || c == '-' || c == '(' || c == '[' || c == '.' || c == '#') {
			i++;
			continue;
		}
		/* a reply code or a status code */
		if (i + 3 <= n && is_digit(l[i]) && is_digit(l[i + 1]) && is_digit(l[i + 2]) &&
		    (i + 3 == n || l[i + 3] == ' ' || l[i + 3] == '-')) {
			i += 3;
			continue;
		}
		if (i + 5 <= n && is_digit(l[i]) && l[i + 1] == '.') {
			size_t j = i + 2;

			while (j < n && (is_digit(l[j]) || l[j] == '.'))
				j++;
			if (j < n && l[j] == ' ') {
				i = j;
				continue;
			}
		}
		/* an X.400 O/R address around the SMTP one (Exchange 5.5/2000):
		 * "c=US;a= ;p=ORG;o=Site;dda:SMTP=user@example.com;" */
		if (bh_span_istarts(l + i, n - i, "c=")) {
			const char *x = bh_memcasemem(l + i, n - i, "dda:smtp=", 9);

			if (x != NULL) {
				i = (size_t)(x - l) + 9;
				continue;
			}
		}
		for (k = 0; k < BH_NELEM(words); k++)
			if (bh_span_istarts(l + i, n - i, words[k])) {
				i += strlen(words[k]);
				break;
			}
		if (k == BH_NELEM(words))
			break;
	}
	return i;
}

/* remote_host - "host mx.example.jp[192.0.2.1] said" / "remote host X said" */
static char *
remote_host(const char *d, size_t n)
{
	const char *h = bh_memcasemem(d, n, "host ", 5);
	size_t i, s;

	if (h == NULL)
		return NULL;
	s = (size_t)(h - d) + 5;
	for (i = s; i < n && d[i] != ' ' && d[i] != '[' && d[i] != ':' && d[i] != ','; i++)
		;
	if (i == s || memchr(d + s, '.', i - s) == NULL || i - s > 253)
		return NULL;
	return bh_memdup0(d + s, i - s);
}

/* bh_recog_codes - status and reply code from a diagnostic text: a failure's (class 5, then
 * 4) before a success's, so "250 2.1.5 Ok" earlier in a transcript is not taken */
void
bh_recog_codes(const char *text, size_t n, char *status, size_t status_sz, char reply[4])
{
	if (text == NULL)
		return;
	if (status[0] == '\0' && !bh_text_status(text, n, '5', status, status_sz) &&
	    !bh_text_status(text, n, '4', status, status_sz) &&
	    !bh_text_status(text, n, '2', status, status_sz))
		status[0] = '\0';
	if (reply[0] == '\0' && status[0] != '\0' && !bh_text_reply_code(text, n, status[0], reply))
		reply[0] = '\0';
	if (reply[0] == '\0' && status[0] == '\0' && !bh_text_reply_code(text, n, '5', reply) &&
	    !bh_text_reply_code(text, n, '4', reply) && !bh_text_reply_code(text, n, '2', reply))
		reply[0] = '\0';
}

/* collect - diagnostic lines after line index i (the address line's rest comes first) */
static char *
collect(const struct line *ls, size_t nl, size_t i, const char *rest, size_t rest_n,
	const bool *opens)
{
	struct bh_buf b;
	size_t j, taken = 0;
	bool blank_seen = false;
	char *r;

	bh_buf_init(&b);
	bh_span_trim(&rest, &rest_n);
	while (rest_n > 0 && (*rest == ':' || *rest == '>' || *rest == ',' || *rest == '.'))
		rest++, rest_n--;
	bh_buf_append(&b, rest, rest_n);
	for (j = i + 1; j < nl && taken < MAX_DIAG_LINES && j - i < 4 * MAX_DIAG_LINES; j++) {
		const char *s = ls[j].p;
		size_t sn = ls[j].n;

		if (opens[j] || is_record_line(s, sn))
			break;
		bh_span_trim(&s, &sn);
		if (sn == 0) {
			/* a blank line ends the diagnostic once it holds a reply or status code,
			 * or after a second paragraph */
			char code[4], st[BH_MAX_STATUS];

			if (b.len > 0 &&
			    (blank_seen || bh_text_reply_code(b.data, b.len, 0, code) ||
			     bh_text_status(b.data, b.len, 0, st, sizeof(st))))
				break;
			if (b.len > 0)
				blank_seen = true;
			continue;
		}
		bh_buf_putc(&b, ' ');
		bh_buf_append(&b, s, sn);
		taken++;
	}
	r = b.len > 0 ? bh_text_clean(b.data, b.len, BH_MAX_DIAGNOSTIC) : NULL;
	bh_buf_deinit(&b);
	return r;
}

/* few_letters - the diagnostic says (almost) nothing beyond the address */
static bool
few_letters(const char *d, const char *address)
{
	size_t k = 0, al = strlen(address);
	const char *p;

	if (d == NULL)
		return true;
	for (p = d; *p != '\0'; p++) {
		if (strncasecmp(p, address, al) == 0) {
			p += al - 1;
			continue;
		}
		if ((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z')
			k++;
	}
	return k < 6;
}

/* with_lines_before - the reason stands above the address ("User not listed ...\na@b"): the
 * up to three lines of the paragraph before line i come first */
static char *
with_lines_before(const struct line *ls, size_t i, const bool *opens, char *diag)
{
	struct bh_buf b;
	size_t j = i, k = 0, end = i, blanks = 0;
	char *r;

	/* the paragraph just above; or, when a blank line or two separate it, the one above
	 * those ("The user(s) account is disabled.\n\n<a@b>") */
	while (j > 0 && blanks <= 2) {
		const char *s = ls[j - 1].p;
		size_t sn = ls[j - 1].n;

		bh_span_trim(&s, &sn);
		if (sn != 0 || opens[j - 1])
			break;
		j--, blanks++;
	}
	if (blanks > 2)
		return diag;
	end = j;
	while (j > 0 && k < 3) {
		const char *s = ls[j - 1].p;
		size_t sn = ls[j - 1].n;

		bh_span_trim(&s, &sn);
		if (sn == 0 || opens[j - 1])
			break;
		j--, k++;
	}
	if (k == 0)
		return diag;
	bh_buf_init(&b);
	for (; j < end; j++)
		if (!is_rule_line(ls[j].p, ls[j].n)) {
			bh_buf_append(&b, ls[j].p, ls[j].n);
			bh_buf_putc(&b, ' ');
		}
	if (diag != NULL)
		bh_buf_puts(&b, diag);
	free(diag);
	r = b.len > 0 ? bh_text_clean(b.data, b.len, BH_MAX_DIAGNOSTIC) : NULL;
	bh_buf_deinit(&b);
	return r;
}

/* with_transcript_before - a Sendmail record ("554 <a@b>... Remote protocol error") that
 * closes a dialogue ("While talking to mx:", ">>> MAIL From:<...>", "<<< 501 ... open relay"):
 * the server's own words in the dialogue above come first, they say what happened */
static char *
with_transcript_before(const struct line *ls, size_t i, const bool *opens, char *diag)
{
	struct bh_buf b;
	size_t j = i;
	char *r;

	if (ls[i].n < 4 || !is_digit(ls[i].p[0]) || !is_digit(ls[i].p[1]) ||
	    !is_digit(ls[i].p[2]) || ls[i].p[3] != ' ')
		return diag;
	while (j > 0 && i - j < 6 && !opens[j - 1] &&
	       (bh_span_istarts(ls[j - 1].p, ls[j - 1].n, ">>> ") ||
		bh_span_istarts(ls[j - 1].p, ls[j - 1].n, "<<< ")))
		j--;
	if (j == i || !bh_span_istarts(ls[i - 1].p, ls[i - 1].n, "<<< "))
		return diag;
	bh_buf_init(&b);
	for (; j < i; j++) {
		bh_buf_append(&b, ls[j].p, ls[j].n);
		bh_buf_putc(&b, ' ');
	}
	if (diag != NULL)
		bh_buf_puts(&b, diag);
	free(diag);
	r = bh_text_clean(b.data, b.len, BH_MAX_DIAGNOSTIC);
	bh_buf_deinit(&b);
	return r;
}

/* after_from - the address at p[s] follows the word "from" ("not accepting mail from
 * a@b", "from <a@b>"): a sentence names the sender there, not a recipient. Not so after
 * "generated from", "expanded from" (Exim, Sendmail: the address an alias came from) */
static bool
after_from(const char *p, size_t s)
{
	static const char *const alias[] = {"generated", "expanded", "aliased", "redirected"};
	size_t k = s, e, i;

	if (k > 0 && p[k - 1] == '<')
		k--;
	while (k > 0 && (p[k - 1] == ' ' || p[k - 1] == '\t'))
		k--;
	if (k < 4 || strncasecmp(p + k - 4, "from", 4) != 0 ||
	    (k > 4 && ((p[k - 5] | 0x20) >= 'a' && (p[k - 5] | 0x20) <= 'z')))
		return false;
	k -= 4;
	while (k > 0 && (p[k - 1] == ' ' || p[k - 1] == '\t' || p[k - 1] == '('))
		k--;
	for (e = k; k > 0 && (p[k - 1] | 0x20) >= 'a' && (p[k - 1] | 0x20) <= 'z'; k--)
		;
	for (i = 0; i < BH_NELEM(alias); i++)
		if (e - k == strlen(alias[i]) && strncasecmp(p + k, alias[i], e - k) == 0)
			return false;
	return true;
}

/* bh_recog_alias_source - see recognize.h */
char *
bh_recog_alias_source(const char *d, size_t n)
{
	static const char *const words[] = {"generated from", "expanded from", "aliased from",
					    "redirected from"};
	size_t i, end, pos, s, an;
	const char *w;
	char *a;

	for (i = 0; i < BH_NELEM(words); i++) {
		if ((w = bh_memcasemem(d, n, words[i], strlen(words[i]))) == NULL)
			continue;
		pos = end = (size_t)(w - d) + strlen(words[i]);
		/* the address follows at once (" <", ": ") */
		if (!bh_text_next_addr(d, n, &pos, &s, &an) || s - end > 8)
			continue;
		a = bh_memdup0(d + s, an);
		bh_lower_ascii(a);
		return a;
	}
	return NULL;
}

/* add_hit - a new recipient, unless it is already there or the cap is reached */
static struct bh_recog_hit *
add_hit(struct bh_recog_out *out, size_t max, const char *a, size_t an)
{
	struct bh_recog_hit *h;
	size_t i;

	for (i = 0; i < out->n; i++)
		if (bh_span_ieq(a, an, out->v[i].address))
			return NULL;
	if (out->n >= max)
		return NULL;
	out->v = bh_reallocarray(out->v, out->n + 1, sizeof(*out->v));
	h = &out->v[out->n++];
	memset(h, 0, sizeof(*h));
	h->address = bh_memdup0(a, an);
	bh_lower_ascii(h->address);
	return h;
}

/* angle_addr - "a@b <c@d>: ...": an address followed by one in angle brackets is a display
 * name (RFC 5322 name-addr) that happens to look like one; the mailbox is the bracketed one.
 * Moves *s and *an to it when the line reads so. */
static void
angle_addr(const char *l, size_t n, size_t *s, size_t *an)
{
	size_t p = *s + *an, ap, s2, an2;

	if (*s > 0 && l[*s - 1] == '<')
		return;
	while (p < n && (l[p] == ' ' || l[p] == '\t'))
		p++;
	if (p == *s + *an || p >= n || l[p] != '<')
		return;
	ap = p + 1;
	if (bh_text_next_addr(l, n, &ap, &s2, &an2) && s2 == p + 1 && s2 + an2 < n &&
	    l[s2 + an2] == '>') {
		*s = s2;
		*an = an2;
	}
}

/* phrases of a mailing list manager that refuses a post from a non-member */
static const char *const list_phrases[] = {
    "not a member of this mailing list",
    "not allowed to post to this mailing list",
};

/* list_refusal - a list manager's refusal: the recipient that failed is the list, the address
 * the refusal sentence names ("You are not a member of this mailing list <list@example.org>."),
 * not the control or owner addresses the help text goes on to list. Returns true when the
 * sentence was found (with or without an address in it). */
static bool
list_refusal(const struct line *ls, size_t nl, const struct bh_recog_in *in, size_t max,
	     struct bh_recog_out *out)
{
	size_t i, k, ap, s, an;

	for (i = 0; i < nl; i++) {
		for (k = 0; k < BH_NELEM(list_phrases); k++)
			if (contains(ls[i].p, ls[i].n, list_phrases[k]))
				break;
		if (k == BH_NELEM(list_phrases))
			continue;
		for (ap = 0; bh_text_next_addr(ls[i].p, ls[i].n, &ap, &s, &an);) {
			struct bh_recog_hit *h;

			if (excluded(in, ls[i].p + s, an, false))
				continue;
			if ((h = add_hit(out, max, ls[i].p + s, an)) != NULL)
				h->diagnostic = bh_text_clean(ls[i].p, ls[i].n, BH_MAX_DIAGNOSTIC);
			break;
		}
		return true;
	}
	return false;
}

/* is_local_token - a line that is one bare local part ("screenname"): dot-atom bytes only,
 * a letter among them, no '@' */
static bool
is_local_token(const char *p, size_t n)
{
	size_t i;
	bool letter = false;

	if (n == 0 || n > 64 || p[0] == '.' || p[n - 1] == '.')
		return false;
	for (i = 0; i < n; i++) {
		char c = p[i];

		if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
			letter = true;
		else if (!is_digit(c) && memchr("._+-=", c, 5) == NULL) /* not strchr: NUL */
			return false;
	}
	return letter;
}

/* bare_locals - a mail system that lists its own users by local part alone, under a lead-in
 * sentence ("Your mail to the following recipients could not be delivered because ...:\n
 * \tscreenname", AOL): each is local@the domain of the report's From, the system that
 * reports on its users. Only when no address was found at all. */
static void
bare_locals(const struct line *ls, size_t nl, const struct bh_recog_in *in, size_t max,
	    struct bh_recog_out *out)
{
	const struct bh_field *from = hdr(in->hdr, "From");
	const char *dom, *s;
	char *fa, *a, *lead;
	size_t i, j, sn, ap, as, an;

	if (from == NULL || (fa = bh_text_first_addr(from->value, from->value_len)) == NULL)
		return;
	dom = bh_addr_domain(fa);
	for (i = 0; i < nl; i++) {
		s = ls[i].p;
		sn = ls[i].n;
		bh_span_trim(&s, &sn);
		if (sn == 0 || s[sn - 1] != ':' ||
		    (!contains(s, sn, "following recipient") &&
		     !contains(s, sn, "following address")))
			continue;
		lead = bh_text_clean(s, sn, BH_MAX_DIAGNOSTIC);
		for (j = i + 1; j < nl && j - i <= MAX_DIAG_LINES; j++) {
			s = ls[j].p;
			sn = ls[j].n;
			bh_span_trim(&s, &sn);
			if (!is_local_token(s, sn))
				break;
			a = bh_asprintf("%.*s@%s", (int)sn, s, dom);
			ap = 0;
			/* the result must read as one whole address */
			if (bh_text_next_addr(a, strlen(a), &ap, &as, &an) && as == 0 &&
			    an == strlen(a) && !excluded(in, a, an, false)) {
				struct bh_recog_hit *h = add_hit(out, max, a, an);

				if (h != NULL && lead != NULL)
					h->diagnostic = bh_strdup(lead);
			}
			free(a);
		}
		free(lead);
		break;
	}
	free(fa);
}

/* error_block - a notice that gives one error for every recipient in a labelled paragraph
 * ("Error message below:\n550 - Requested action not taken: no such user here\n\nMessage
 * details: ... RCPT TO: a@b", Apache James): that paragraph is each recipient's diagnostic,
 * not the message details that follow the address */
static void
error_block(const struct line *ls, size_t nl, struct bh_recog_out *out)
{
	struct bh_buf b;
	size_t i, j, k;
	char *d;

	for (i = 0; i < nl; i++) {
		const char *s = ls[i].p;
		size_t sn = ls[i].n;

		bh_span_trim(&s, &sn);
		if (bh_span_ieq(s, sn, "error message below:"))
			break;
	}
	if (i == nl || out->n == 0)
		return;
	bh_buf_init(&b);
	for (j = i + 1; j < nl && j - i <= MAX_DIAG_LINES; j++) {
		const char *s = ls[j].p;
		size_t sn = ls[j].n;

		bh_span_trim(&s, &sn);
		if (sn == 0 && b.len > 0)
			break;
		if (sn == 0)
			continue;
		if (b.len > 0)
			bh_buf_putc(&b, ' ');
		bh_buf_append(&b, s, sn);
	}
	if (b.len == 0) {
		bh_buf_deinit(&b);
		return;
	}
	d = bh_text_clean(b.data, b.len, BH_MAX_DIAGNOSTIC);
	bh_buf_deinit(&b);
	for (k = 0; k < out->n; k++) {
		struct bh_recog_hit *h = &out->v[k];

		free(h->diagnostic);
		h->diagnostic = bh_strdup(d);
		h->status[0] = h->reply_code[0] = '\0';
		bh_recog_codes(h->diagnostic, strlen(h->diagnostic), h->status, sizeof(h->status),
			       h->reply_code);
	}
	free(d);
}

/* bh_recognize - family and recipients */
size_t
bh_recognize(const struct bh_recog_in *in, size_t max, struct bh_recog_out *out)
{
	struct line *ls = NULL;
	bool *opens = NULL;
	size_t *astart = NULL, *alen = NULL;
	struct bh_lines it;
	size_t nl = 0, cap = 0, len, i, tn, nsnd, sndl[MAX_SENDERS];
	const char *l, *t = in->text, *snd[MAX_SENDERS];

	out->name = family(in, &out->bounce_like, &out->weak);
	if (t == NULL)
		return 0;
	tn = in->cut <= in->text_len ? in->cut : in->text_len;
	bh_lines_init(&it, t, tn);
	while (nl < MAX_LINES && bh_lines_next(&it, &l, &len)) {
		if (nl == cap) {
			cap = cap ? cap * 2 : 64;
			ls = bh_reallocarray(ls, cap, sizeof(*ls));
		}
		ls[nl].p = l;
		ls[nl].n = len;
		nl++;
	}
	if (strcmp(out->name, "mailinglist") == 0 && list_refusal(ls, nl, in, max, out)) {
		free(ls);
		return out->n;
	}
	nsnd = mail_from(t, tn, snd, sndl);
	opens = bh_calloc(nl + 1, sizeof(*opens));
	astart = bh_calloc(nl + 1, sizeof(*astart));
	alen = bh_calloc(nl + 1, sizeof(*alen));
	/* pass 1: lines that open a recipient */
	for (i = 0; i < nl; i++) {
		size_t k = skip_prefix(ls[i].p, ls[i].n), ap = k, s, an;

		if (k >= ls[i].n)
			continue;
		if (!bh_text_next_addr(ls[i].p, ls[i].n, &ap, &s, &an) || s != k)
			continue;
		angle_addr(ls[i].p, ls[i].n, &s, &an);
		if (excluded(in, ls[i].p + s, an, true) ||
		    is_sender(snd, sndl, nsnd, ls[i].p + s, an))
			continue;
		/* the same address as the recipient being read continues it */
		{
			size_t j = i;

			while (j > 0 && !opens[j - 1])
				j--;
			if (j > 0 && alen[j - 1] == an && i - j < MAX_DIAG_LINES &&
			    strncasecmp(ls[j - 1].p + astart[j - 1], ls[i].p + s, an) == 0)
				continue;
		}
		opens[i] = true;
		astart[i] = s;
		alen[i] = an;
	}
	for (i = 0; i < nl; i++) {
		struct bh_recog_hit *h;

		if (!opens[i])
			continue;
		h = add_hit(out, max, ls[i].p + astart[i], alen[i]);
		if (h == NULL)
			continue;
		{
			/* "550 5.1.1 <a@b>: ..." keeps its codes; "<a@b>: host ..." starts after */
			size_t from = astart[i] + alen[i], k, letters = 0;

			for (k = 0; k < astart[i]; k++) {
				if (is_digit(ls[i].p[k]))
					from = 0;
				if ((ls[i].p[k] | 0x20) >= 'a' && (ls[i].p[k] | 0x20) <= 'z')
					letters++;
			}
			if (letters >= 3)
				from = 0; /* "Unknown user: a@b" */
			h->diagnostic = collect(ls, nl, i, ls[i].p + from, ls[i].n - from, opens);
			if (few_letters(h->diagnostic, h->address))
				h->diagnostic = with_lines_before(ls, i, opens, h->diagnostic);
			else
				h->diagnostic = with_transcript_before(ls, i, opens, h->diagnostic);
		}
		if (h->diagnostic != NULL) {
			bh_recog_codes(h->diagnostic, strlen(h->diagnostic), h->status,
				       sizeof(h->status), h->reply_code);
			h->remote_mta = remote_host(h->diagnostic, strlen(h->diagnostic));
		}
	}
	/* one recipient whose lines carry no code: the report's reply line speaks for it
	 * ("Could not be delivered because of\n550 5.1.1 User unknown\n...recipients: a@b") */
	if (out->n == 1 && out->v[0].status[0] == '\0' && out->v[0].reply_code[0] == '\0') {
		const char *cl;
		size_t cn;

		if (code_line(t, tn, &cl, &cn)) {
			struct bh_recog_hit *h = &out->v[0];
			char *d = bh_asprintf("%.*s %s", (int)cn, cl,
					      h->diagnostic != NULL ? h->diagnostic : "");

			free(h->diagnostic);
			h->diagnostic = bh_text_clean(d, strlen(d), BH_MAX_DIAGNOSTIC);
			free(d);
			bh_recog_codes(h->diagnostic, strlen(h->diagnostic), h->status,
				       sizeof(h->status), h->reply_code);
		}
	}
	/* pass 2: an address inside a sentence, only when no line opened one */
	if (out->n == 0 && out->bounce_like) {
		for (i = 0; i < nl && out->n == 0; i++) {
			size_t ap = 0, s, an;

			if (bh_span_istarts(ls[i].p, ls[i].n, "From:") ||
			    bh_span_istarts(ls[i].p, ls[i].n, "Message-ID:") ||
			    bh_span_istarts(ls[i].p, ls[i].n, "Sender:"))
				continue;
			while (bh_text_next_addr(ls[i].p, ls[i].n, &ap, &s, &an)) {
				struct bh_recog_hit *h;

				if (excluded(in, ls[i].p + s, an, false) || after_from(ls[i].p, s))
					continue;
				h = add_hit(out, max, ls[i].p + s, an);
				if (h == NULL)
					break;
				h->diagnostic = collect(ls, nl, i, ls[i].p, ls[i].n, opens);
				if (h->diagnostic != NULL) {
					bh_recog_codes(h->diagnostic, strlen(h->diagnostic),
						       h->status, sizeof(h->status), h->reply_code);
					h->remote_mta =
					    remote_host(h->diagnostic, strlen(h->diagnostic));
				}
				break;
			}
		}
	}
	if (out->n == 0 && out->bounce_like)
		bare_locals(ls, nl, in, max, out);
	error_block(ls, nl, out);
	free(ls);
	free(opens);
	free(astart);
	free(alen);
	return out->n;
}

/* bh_recog_out_deinit - free what bh_recognize found */
void
bh_recog_out_deinit(struct bh_recog_out *out)
{
	size_t i;

	for (i = 0; i < out->n; i++) {
		free(out->v[i].address);
		free(out->v[i].diagnostic);
		free(out->v[i].remote_mta);
	}
	free(out->v);
	memset(out, 0, sizeof(*out));
}

/* blank_line - an empty or blank line */
static bool
blank_line(const struct line *l)
{
	return l->n == 0 || is_blank(l->p, l->n);
}

/* take_heading - a one-line paragraph just above line i, set apart by one or two blank lines,
 * heads the address: "The user(s) account is disabled.\n\n<a@b>: 550 user unknown" */
static void
take_heading(const struct line *ls, size_t i, unsigned char *take)
{
	size_t j = i, blanks = 0;

	while (j > 0 && blanks < 3 && blank_line(&ls[j - 1]))
		j--, blanks++;
	if (blanks == 0 || blanks > 2 || j == 0)
		return;
	j--; /* the heading */
	if (memchr(ls[j].p, '@', ls[j].n) != NULL || is_rule_line(ls[j].p, ls[j].n) ||
	    (j > 0 && !blank_line(&ls[j - 1])))
		return;
	take[j] = 1;
}

/* sender_stage_line - a line that names the SMTP stage at our envelope sender ("SMTP error
 * from remote mail server after pipelined MAIL FROM:<s@d> SIZE=1529:", ">>> MAIL FROM:<s@d>"):
 * the address it holds is ours, not another recipient's, so it does not end the recipient's
 * paragraph */
static bool
sender_stage_line(const char *p, size_t n)
{
	return bh_memcasemem(p, n, "MAIL FROM:", 10) != NULL &&
	       bh_memcasemem(p, n, "RCPT TO", 7) == NULL;
}

/* bh_recog_diag_for - the text around address in a human-readable part: every line that
 * names it, with up to two neighbouring lines of its paragraph on each side that name no other
 * address (the "(reason: ...)" line, the ">>> DATA" and "<<< 550" lines of a transcript),
 * and the one-line paragraph that heads it (take_heading). A line naming the stage at our
 * sender (sender_stage_line) is taken without counting against the two. */
char *
bh_recog_diag_for(const char *text, size_t n, const char *address)
{
	struct line *ls = NULL;
	unsigned char *take = NULL;
	size_t al = strlen(address), tn = n, nl = 0, cap = 0, len, i;
	struct bh_lines it;
	size_t mentions = 0;
	const char *l, *hit;
	struct bh_buf b;
	char *r = NULL;
	bool by_text;

	if (al == 0 || (hit = bh_memcasemem(text, tn, address, al)) == NULL)
		return NULL;
	bh_lines_init(&it, text, tn);
	while (nl < MAX_LINES && bh_lines_next(&it, &l, &len)) {
		if (nl == cap) {
			cap = cap ? cap * 2 : 64;
			ls = bh_reallocarray(ls, cap, sizeof(*ls));
		}
		ls[nl].p = l;
		ls[nl].n = len;
		nl++;
	}
	take = bh_calloc(nl + 1, 1);
	/* An address without a line end lies within one line: search the text once, from the
	 * line after each mention, instead of every line. */
	by_text = memchr(address, '\n', al) == NULL && memchr(address, '\r', al) == NULL;
	for (i = 0; i < nl && mentions < 6; i++) {
		size_t k, j;

		if (by_text) {
			if (hit == NULL)
				break;
			while (i < nl && ls[i].p + ls[i].n < hit + al)
				i++;
			if (i == nl)
				break;
			hit = i + 1 < nl
				  ? bh_memcasemem(ls[i + 1].p, (size_t)(text + tn - ls[i + 1].p),
						  address, al)
				  : NULL;
		} else if (bh_memcasemem(ls[i].p, ls[i].n, address, al) == NULL)
			continue;
		mentions++;
		take[i] = 1;
		take_heading(ls, i, take);
		for (k = 1; k <= 2 && i >= k; k++) {
			j = i - k;
			if (ls[j].n == 0 || is_blank(ls[j].p, ls[j].n) ||
			    memchr(ls[j].p, '@', ls[j].n) != NULL)
				break;
			take[j] = 1;
		}
		for (k = 1, j = i + 1; k <= 2 && j < nl; j++) {
			bool stage = sender_stage_line(ls[j].p, ls[j].n);

			if (ls[j].n == 0 || is_blank(ls[j].p, ls[j].n) ||
			    (memchr(ls[j].p, '@', ls[j].n) != NULL && !stage) ||
			    is_record_line(ls[j].p, ls[j].n))
				break;
			take[j] = 1;
			if (!stage)
				k++;
		}
	}
	bh_buf_init(&b);
	for (i = 0; i < nl; i++)
		if (take[i] && !is_rule_line(ls[i].p, ls[i].n) && !is_dsn_field(ls[i].p, ls[i].n)) {
			if (b.len > 0)
				bh_buf_putc(&b, ' ');
			bh_buf_append(&b, ls[i].p, ls[i].n);
		}
	if (b.len > 0)
		r = bh_text_clean(b.data, b.len, BH_MAX_DIAGNOSTIC);
	bh_buf_deinit(&b);
	free(take);
	free(ls);
	return r;
}

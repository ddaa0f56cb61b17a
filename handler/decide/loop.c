/*
 * loop.c - is a failure report about mail we really sent, or must it be recorded and left
 * alone? Runs over a finished verdict (after classification and VERP decoding); pure.
 *
 * Only failure reports are checked (type dsn or bounce): an auto-reply is never a failure
 * anyway, and a feedback report's returned message is often redacted (the VERP with it), so
 * calling it backscatter would silence real complaints. A kind already set (the store's
 * "repeat") is kept.
 *
 * "Ours" (the returned message was sent by us) is decided from the returned headers only:
 *   ours     its Return-Path is the valid VERP address this report came to, or its From or
 *            Message-ID domain is one of set->our_domains or a subdomain of one;
 *   foreign  our_domains is configured, From and/or Message-ID are present, and none is ours;
 *   unknown  otherwise (no returned headers, nothing to compare, or no our_domains).
 * A valid VERP alone does not make the returned message ours: a subscriber's auto-responder
 * or forwarder may keep our VERP as its envelope sender, and the failure that comes back is
 * then about an address that is not our subscriber's.
 *
 * Checks, in order; the first that fires sets v->loop (kind + why):
 *   1. bounce_of_bounce: the returned message is itself a report: Content-Type multipart/report
 *      or message/delivery-status, or it came from a mailer-daemon with a null sender. We never
 *      send reports, so this holds whoever the message claims to be from. Exceptions, for
 *      which checks 1 and 2 are skipped:
 *      - a plain (non-DSN) notice that forwards a whole report in a message/rfc822 part (some
 *        gateways wrap the DSN they got) passes that report on;
 *      - a double-bounce notice a mail system sends to its own postmaster: the report's
 *        Subject opens with "Postmaster notify" (Sendmail), or it comes from a mailer-daemon /
 *        postmaster and is addressed (To, Delivered-To, X-Original-To, Envelope-To) to a
 *        postmaster or mailer-daemon local part. A first bounce that could not be delivered
 *        ends there: the chain stops at the postmaster, nothing loops, and the failure it
 *        reports is a real failure of its addressee. Such a notice has no business at a VERP
 *        address: with VERP configured it carries no valid one and check 3 calls it
 *        backscatter, so it still suppresses no one. If it did reach a valid VERP address it
 *        is not the postmaster's notice it claims to be, and check 1 flags it as before.
 *   2. autoreply_bounce: the returned message was itself automatic (skipped when the report
 *      is addressed to the returned message's own author, see below):
 *      - X-Autoreply / X-Autorespond present (value not "no"), or Precedence: auto_reply;
 *      - Auto-Submitted: auto-replied (we never send replies);
 *      - Auto-Submitted other than "no" (auto-generated, auto-notified), unless it is ours:
 *        our own mailings may carry auto-generated;
 *      - a null Return-Path (<> or <MAILER-DAEMON>): we never send with a null sender;
 *      - a subject opening with an unambiguous auto-reply phrase ("Automatic reply:", "Out of
 *        Office", "Abwesenheitsnotiz", "自動応答"; bh_autoreply_subject strict), unless ours;
 *      - Precedence: bulk / junk / list or X-Auto-Response-Suppress only when foreign. Our
 *        newsletters legitimately carry Precedence: bulk, List-Id and X-Auto-Response-Suppress,
 *        so a bounce of OUR newsletter is a real bounce; without our_domains these weak cues
 *        never fire (nothing can be called foreign).
 *      A failure report addressed (To, Delivered-To, X-Original-To, Envelope-To) to the From
 *      address of the message it returns went back to that message's author: the normal
 *      route of a bounce, whatever wrote the message (an auto-responder's own failure goes
 *      back to the auto-responder), not a loop. The loop this check is for is the bounce of an
 *      auto-reply that comes to us, at our bounce (VERP) address, not to its author.
 *   3. backscatter: a bounce of mail we never sent. Only when VERP was checked: v->verp.checked
 *      and set->verp_verifies (a key, or the classic format): either the VERP is not valid
 *      (v->verp.why), or it is
 *      valid but the returned message is foreign. Without VERP we cannot tell ours from forged,
 *      so backscatter never fires then (classify without a config never reports it).
 *   4. hops: the returned message has more Received fields than set->hop_limit.
 * "repeat" (the same recipient bouncing again and again) needs history: the store decides it.
 *
 * XXX: a VERP that fails only because it expired (an old key rotated out) is reported as
 * backscatter too: a late bounce cannot be tied to a recipient we trust, so leaving it alone is
 * the safe side.
 */
#include "loop.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "autoreply.h"
#include "bh_limits.h"
#include "util.h"
#include "verp_locate.h"

enum ident { ID_UNKNOWN = 0, ID_OURS, ID_FOREIGN };

/* The longest value quoted in a why. */
#define WHY_VALUE_MAX 80u

/* field_len - length of an owned, NUL-terminated field, bounded. */
static size_t
field_len(const char *s)
{
	return strnlen(s, BH_MAX_FIELD_VALUE);
}

/* has_ci - case-insensitive substring test on a field (NULL: false). */
static bool
has_ci(const char *s, const char *lit)
{
	return s != NULL && bh_memcasemem(s, field_len(s), lit, strlen(lit)) != NULL;
}

/* present_not_no - a header that is there and does not say "no" (or false, 0). */
static bool
present_not_no(const char *s)
{
	const char *p = s;
	size_t n;

	if (s == NULL)
		return false;
	n = field_len(s);
	bh_span_trim(&p, &n);
	return n > 0 && !bh_span_ieq(p, n, "no") && !bh_span_ieq(p, n, "false") &&
	       !bh_span_ieq(p, n, "0");
}

/* addr_span - the address inside a Return-Path / VERP value: trimmed, without <>. */
static void
addr_span(const char *s, const char **p_r, size_t *n_r)
{
	const char *p = s;
	size_t n = field_len(s);

	bh_span_trim(&p, &n);
	if (n > 0 && p[0] == '<')
		p++, n--;
	if (n > 0 && p[n - 1] == '>')
		n--;
	bh_span_trim(&p, &n);
	*p_r = p;
	*n_r = n;
}

/* null_sender - a Return-Path of <> (or sendmail's <MAILER-DAEMON>). */
static bool
null_sender(const char *rp)
{
	const char *p;
	size_t n;

	if (rp == NULL)
		return false;
	addr_span(rp, &p, &n);
	return n == 0 || bh_span_ieq(p, n, "MAILER-DAEMON");
}

/* same_address - two address values are the same address (case-insensitive, <> dropped). */
static bool
same_address(const char *a, const char *b)
{
	const char *pa, *pb;
	size_t na, nb;

	addr_span(a, &pa, &na);
	addr_span(b, &pb, &nb);
	return na > 0 && na == nb && strncasecmp(pa, pb, na) == 0;
}

/* domain_of - the domain after the last '@' of an address or Message-ID value: a span of
 * letters, digits, '.', '-' and '_', without a trailing dot. Returns false when none. */
static bool
domain_of(const char *s, const char **p_r, size_t *n_r)
{
	const char *at = NULL, *p;
	size_t n = field_len(s), i;

	for (i = 0; i < n; i++)
		if (s[i] == '@')
			at = s + i;
	if (at == NULL)
		return false;
	p = at + 1;
	n = (size_t)(s + n - p);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (!(c < 0x80 && (isalnum(c) || c == '.' || c == '-' || c == '_')))
			break;
	}
	while (i > 0 && p[i - 1] == '.')
		i--;
	if (i == 0)
		return false;
	*p_r = p;
	*n_r = i;
	return true;
}

/* domain_is_ours - d[0..n) is one of our domains or a subdomain of one. */
static bool
domain_is_ours(const struct bh_loop_settings *set, const char *d, size_t n)
{
	size_t i;

	for (i = 0; i < set->n_our_domains; i++) {
		const char *o = set->our_domains[i];
		size_t on = strlen(o);

		while (on > 0 && o[on - 1] == '.')
			on--;
		if (on == 0 || on > n)
			continue;
		if (strncasecmp(d + n - on, o, on) == 0 && (on == n || d[n - on - 1] == '.'))
			return true;
	}
	return false;
}

/* returned_ident - was the returned message sent by us? (see the comment at the top) */
static enum ident
returned_ident(const struct bh_loop_settings *set, const struct bh_verdict *v)
{
	const struct bh_original *o = &v->original;
	const char *const fields[] = {o->from, o->message_id};
	bool seen = false;
	size_t i;

	if (!o->present)
		return ID_UNKNOWN;
	if (v->verp.checked && v->verp.valid && v->verp.address != NULL && o->return_path != NULL &&
	    same_address(o->return_path, v->verp.address))
		return ID_OURS;
	if (set == NULL || set->n_our_domains == 0)
		return ID_UNKNOWN;
	for (i = 0; i < BH_NELEM(fields); i++) {
		const char *d;
		size_t dn;

		if (fields[i] == NULL || !domain_of(fields[i], &d, &dn))
			continue;
		seen = true;
		if (domain_is_ours(set, d, dn))
			return ID_OURS;
	}
	return seen ? ID_FOREIGN : ID_UNKNOWN;
}

/* set_loop - record the kind and an owned why; untrusted values are made printable first. */
static void
set_loop(struct bh_verdict *v, enum bh_loop_kind kind, const char *why, const char *value)
{
	v->loop.kind = kind;
	free(v->loop.why);
	if (value != NULL) {
		char *pv = bh_printable(value, field_len(value), WHY_VALUE_MAX);

		v->loop.why = bh_asprintf("%s: %s", why, pv);
		free(pv);
	} else {
		v->loop.why = bh_strdup(why);
	}
}

/* returned_is_report - the returned message's Content-Type names a delivery report */
static bool
returned_is_report(const struct bh_verdict *v)
{
	const char *p = v->original.content_type;
	size_t n;

	if (p == NULL)
		return false;
	n = field_len(p);
	bh_span_trim(&p, &n);
	return bh_span_istarts(p, n, "multipart/report") ||
	       bh_span_istarts(p, n, "message/delivery-status");
}

/* field_has_address - one of the addresses in header value s (at most BH_MAX_FIELD_ADDRESSES
 * are read) is a[0..an), case ignored; with a NULL a, one has the local part lp instead. */
static bool
field_has_address(const char *s, const char *a, size_t an, const char *lp)
{
	const char *pos, *end, *p;
	size_t n, i;

	if (s == NULL)
		return false;
	pos = s;
	end = s + field_len(s);
	for (i = 0; i < BH_MAX_FIELD_ADDRESSES && bh_verp_next_address(&pos, end, &p, &n) == 1;
	     i++) {
		size_t at = n;

		if (a != NULL) {
			if (n == an && strncasecmp(p, a, n) == 0)
				return true;
			continue;
		}
		while (at > 0 && p[at - 1] != '@')
			at--;
		if (at > 0 && bh_span_ieq(p, at - 1, lp))
			return true;
	}
	return false;
}

/* addressed_to - the report was delivered or addressed to address a[0..an), or (a NULL) to an
 * address with local part lp. */
static bool
addressed_to(const struct bh_verdict *v, const char *a, size_t an, const char *lp)
{
	const struct bh_envelope *e = &v->env;
	const char *const fields[] = {e->delivered_to, e->x_original_to, e->envelope_to, e->to};
	size_t i;

	for (i = 0; i < BH_NELEM(fields); i++)
		if (field_has_address(fields[i], a, an, lp))
			return true;
	return false;
}

/* postmaster_notice - the report is a mail system's double-bounce notice to its own postmaster
 * (exception to check 1, see the comment at the top). */
static bool
postmaster_notice(const struct bh_verdict *v)
{
	const char *p = v->env.subject;
	size_t n;

	if (v->verp.checked && v->verp.valid)
		return false;
	if (p != NULL) {
		n = field_len(p);
		bh_span_trim(&p, &n);
		if (bh_span_istarts(p, n, "Postmaster notify"))
			return true;
	}
	if (!has_ci(v->env.from, "mailer-daemon") && !has_ci(v->env.from, "postmaster"))
		return false;
	return addressed_to(v, NULL, 0, "postmaster") || addressed_to(v, NULL, 0, "mailer-daemon");
}

/* to_returned_author - the report is addressed to the From address of the message it
 * returns: that message's author gets its own failure (exception to check 2). */
static bool
to_returned_author(const struct bh_verdict *v)
{
	const char *pos, *end, *p;
	size_t n;

	if (v->original.from == NULL)
		return false;
	pos = v->original.from;
	end = pos + field_len(pos);
	if (bh_verp_next_address(&pos, end, &p, &n) != 1)
		return false;
	return addressed_to(v, p, n, NULL);
}

/* returned_report - the returned message is itself a report (the test of check 1). */
static bool
returned_report(const struct bh_verdict *v)
{
	const struct bh_original *o = &v->original;

	return returned_is_report(v) ||
	       (null_sender(o->return_path) &&
		(has_ci(o->from, "mailer-daemon") || has_ci(o->from, "postmaster")));
}

/* check_report - 1. the returned message is itself a report. */
static bool
check_report(struct bh_verdict *v)
{
	const struct bh_original *o = &v->original;
	const char *p;
	size_t n;

	if (o->content_type != NULL) {
		p = o->content_type;
		n = field_len(p);
		bh_span_trim(&p, &n);
		if (bh_span_istarts(p, n, "multipart/report") ||
		    bh_span_istarts(p, n, "message/delivery-status")) {
			set_loop(v, BH_LOOP_BOUNCE_OF_BOUNCE,
				 "returned message is itself a report, Content-Type",
				 o->content_type);
			return true;
		}
	}
	if (null_sender(o->return_path) &&
	    (has_ci(o->from, "mailer-daemon") || has_ci(o->from, "postmaster"))) {
		set_loop(v, BH_LOOP_BOUNCE_OF_BOUNCE,
			 "returned message came from a mail system with a null sender, From",
			 o->from);
		return true;
	}
	return false;
}

/* check_automatic - 2. the returned message was itself automatic. */
static bool
check_automatic(struct bh_verdict *v, enum ident id)
{
	const struct bh_original *o = &v->original;
	const char *why = NULL;

	if (present_not_no(o->x_autoreply)) {
		set_loop(v, BH_LOOP_AUTOREPLY_BOUNCE, "returned message has X-Autoreply",
			 o->x_autoreply);
		return true;
	}
	if (has_ci(o->precedence, "auto_reply")) {
		set_loop(v, BH_LOOP_AUTOREPLY_BOUNCE, "returned message has Precedence",
			 o->precedence);
		return true;
	}
	if (present_not_no(o->auto_submitted) &&
	    (has_ci(o->auto_submitted, "auto-replied") || id != ID_OURS)) {
		set_loop(v, BH_LOOP_AUTOREPLY_BOUNCE, "returned message has Auto-Submitted",
			 o->auto_submitted);
		return true;
	}
	if (null_sender(o->return_path)) {
		set_loop(v, BH_LOOP_AUTOREPLY_BOUNCE,
			 "returned message had a null sender, Return-Path", o->return_path);
		return true;
	}
	if (id != ID_OURS && bh_autoreply_subject(o->subject, true, &why)) {
		set_loop(v, BH_LOOP_AUTOREPLY_BOUNCE, "returned message is an auto-reply", why);
		return true;
	}
	if (id != ID_FOREIGN)
		return false;
	if (has_ci(o->precedence, "bulk") || has_ci(o->precedence, "junk") ||
	    has_ci(o->precedence, "list")) {
		set_loop(v, BH_LOOP_AUTOREPLY_BOUNCE,
			 "returned message is not ours and has Precedence", o->precedence);
		return true;
	}
	if (o->x_auto_response_suppress != NULL) {
		set_loop(v, BH_LOOP_AUTOREPLY_BOUNCE,
			 "returned message is not ours and has X-Auto-Response-Suppress",
			 o->x_auto_response_suppress);
		return true;
	}
	return false;
}

/* verp_configured - VERP decoding means something: keys to verify signed addresses, or the
 * classic (unsigned) format chosen on purpose. */
static bool
verp_configured(const struct bh_loop_settings *set)
{
	return set != NULL && set->verp_verifies;
}

/* check_backscatter - 3. a bounce of mail we never sent (only when VERP was checked). */
static bool
check_backscatter(const struct bh_loop_settings *set, struct bh_verdict *v, enum ident id)
{
	if (!v->verp.checked || !verp_configured(set))
		return false;
	if (!v->verp.valid) {
		set_loop(v, BH_LOOP_BACKSCATTER, "no valid VERP address",
			 v->verp.why != NULL ? v->verp.why : "not valid");
		return true;
	}
	if (id == ID_FOREIGN) {
		set_loop(v, BH_LOOP_BACKSCATTER,
			 "returned message was not sent by us (From and Message-ID outside "
			 "our_domains), From",
			 v->original.from != NULL ? v->original.from : "(none)");
		return true;
	}
	return false;
}

/* check_hops - 4. too many Received fields in the returned message. */
static bool
check_hops(const struct bh_loop_settings *set, struct bh_verdict *v)
{
	unsigned limit = set != NULL ? set->hop_limit : 0;

	if (limit == 0)
		limit = BH_DEF_HOP_LIMIT;
	if (!v->original.present || v->original.received_count <= limit)
		return false;
	v->loop.kind = BH_LOOP_HOPS;
	free(v->loop.why);
	v->loop.why = bh_asprintf("returned message has %u Received fields (limit %u)",
				  v->original.received_count, limit);
	return true;
}

/* bh_loop_check - see loop.h */
void
bh_loop_check(const struct bh_loop_settings *set, struct bh_verdict *v)
{
	enum ident id;

	if (v->loop.kind != BH_LOOP_NONE)
		return;
	if (v->type != BH_TYPE_DSN && v->type != BH_TYPE_BOUNCE)
		return;
	id = returned_ident(set, v);
	/* A plain-text notice that forwards a whole report (some gateways wrap the DSN they got in
	 * a message/rfc822 part) passes that report on: the "returned message" is then the report
	 * itself, whose automatic headers say nothing about the message that failed. A postmaster's
	 * double-bounce notice returns the first bounce, and ends the chain there. */
	if (v->original.present && !(v->type == BH_TYPE_BOUNCE && returned_is_report(v)) &&
	    !(returned_report(v) && postmaster_notice(v))) {
		if (check_report(v))
			return;
		/* A failure that went back to the returned message's own author is no loop. */
		if (!to_returned_author(v) && check_automatic(v, id))
			return;
	}
	if (check_backscatter(set, v, id))
		return;
	(void)check_hops(set, v);
}

/*
 * ses.c - Amazon SES event notifications: {"notificationType":"Bounce","bounce":{
 * "bouncedRecipients":[{"emailAddress":..,"action":..,"status":..,"diagnosticCode":..}]}},
 * "Complaint" with complainedRecipients, "Delivery" with delivery.recipients.
 *
 * Not a JSON parser: a scanner that finds a key's string value inside a span and the span of
 * an array by counting brackets outside strings. Every loop is bounded by the span; nesting is
 * a counter, never recursion. Values are unescaped for \" \\ \/ only (XXX: \uXXXX is kept
 * as written; addresses and SMTP replies are ASCII).
 */
#include "ses.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

/* str_at - the JSON string starting at p[i] == '"', unescaped copy; *end_r after it */
static char *
str_at(const char *p, size_t n, size_t i, size_t *end_r)
{
	struct bh_buf b;
	char *r;

	bh_buf_init(&b);
	for (i++; i < n && p[i] != '"'; i++) {
		if (p[i] == '\\' && i + 1 < n) {
			i++;
			if (p[i] == 'n' || p[i] == 't' || p[i] == 'r')
				bh_buf_putc(&b, ' ');
			else if (p[i] == 'u')
				bh_buf_append(&b, p + i - 1, 2);
			else
				bh_buf_putc(&b, p[i]);
			continue;
		}
		bh_buf_putc(&b, p[i]);
	}
	*end_r = i < n ? i + 1 : n;
	r = bh_buf_steal(&b);
	bh_buf_deinit(&b);
	return r;
}

/* value_pos - offset just after `"key":` (blanks skipped) in p[0..n), or n */
static size_t
value_pos(const char *p, size_t n, const char *key)
{
	size_t kl = strlen(key), i = 0;
	const char *q;

	while (i < n && (q = memchr(p + i, '"', n - i)) != NULL) {
		i = (size_t)(q - p) + 1;
		if (n - i > kl + 1 && memcmp(p + i, key, kl) == 0 && p[i + kl] == '"') {
			size_t j = i + kl + 1;

			while (j < n &&
			       (p[j] == ' ' || p[j] == '\t' || p[j] == '\r' || p[j] == '\n'))
				j++;
			if (j < n && p[j] == ':') {
				j++;
				while (j < n && (p[j] == ' ' || p[j] == '\t' || p[j] == '\r' ||
						 p[j] == '\n'))
					j++;
				return j;
			}
		}
	}
	return n;
}

/* string_of - the string value of key in p[0..n), or NULL */
static char *
string_of(const char *p, size_t n, const char *key)
{
	size_t v = value_pos(p, n, key), e;

	if (v >= n || p[v] != '"')
		return NULL;
	return str_at(p, n, v, &e);
}

/* span_of - the extent of the array or object that is key's value */
static bool
span_of(const char *p, size_t n, const char *key, size_t *s_r, size_t *e_r)
{
	size_t v = value_pos(p, n, key), i, depth = 0;
	bool inq = false;

	if (v >= n || (p[v] != '[' && p[v] != '{'))
		return false;
	for (i = v; i < n; i++) {
		if (inq) {
			if (p[i] == '\\')
				i++;
			else if (p[i] == '"')
				inq = false;
			continue;
		}
		if (p[i] == '"')
			inq = true;
		else if (p[i] == '[' || p[i] == '{')
			depth++;
		else if ((p[i] == ']' || p[i] == '}') && --depth == 0) {
			*s_r = v + 1;
			*e_r = i;
			return true;
		}
	}
	return false;
}

/* add - one more recipient, up to max (address is taken over) */
static struct bh_ses_rcpt *
add(struct bh_ses *s, size_t max, char *address)
{
	struct bh_ses_rcpt *r;

	if (address == NULL || address[0] == '\0' || s->n >= max) {
		free(address);
		return NULL;
	}
	s->r = bh_reallocarray(s->r, s->n + 1, sizeof(*s->r));
	r = &s->r[s->n++];
	memset(r, 0, sizeof(*r));
	bh_lower_ascii(address);
	r->address = address;
	return r;
}

/* objects - each {...} of the array p[0..n): calls back with its span */
static void
objects(struct bh_ses *s, size_t max, const char *p, size_t n, bool bounce)
{
	size_t i = 0, depth = 0, start = 0;
	bool inq = false;

	for (i = 0; i < n; i++) {
		if (inq) {
			if (p[i] == '\\')
				i++;
			else if (p[i] == '"')
				inq = false;
			continue;
		}
		if (p[i] == '"')
			inq = true;
		else if (p[i] == '{' && depth++ == 0)
			start = i;
		else if (p[i] == '}' && depth > 0 && --depth == 0) {
			const char *o = p + start;
			size_t on = i - start + 1;
			struct bh_ses_rcpt *r = add(s, max, string_of(o, on, "emailAddress"));

			if (r != NULL && bounce) {
				r->action = string_of(o, on, "action");
				r->status = string_of(o, on, "status");
				r->diagnostic = string_of(o, on, "diagnosticCode");
			}
		}
	}
}

/* bh_ses_parse - find and read a notification */
enum bh_ses_kind
bh_ses_parse(const char *p, size_t n, size_t max, struct bh_ses *s)
{
	char *type = string_of(p, n, "notificationType");
	size_t a, e, i;

	memset(s, 0, sizeof(*s));
	if (type == NULL)
		return BH_SES_NONE;
	if (strcmp(type, "Bounce") == 0 && span_of(p, n, "bouncedRecipients", &a, &e)) {
		s->kind = BH_SES_BOUNCE;
		objects(s, max, p + a, e - a, true);
		s->reporting_mta = string_of(p, n, "reportingMTA");
	} else if (strcmp(type, "Complaint") == 0 &&
		   span_of(p, n, "complainedRecipients", &a, &e)) {
		s->kind = BH_SES_COMPLAINT;
		objects(s, max, p + a, e - a, false);
		s->feedback_type = string_of(p, n, "complaintFeedbackType");
	} else if (strcmp(type, "Delivery") == 0 && span_of(p, n, "delivery", &a, &e)) {
		size_t ra, re;
		char *resp = string_of(p + a, e - a, "smtpResponse");

		s->kind = BH_SES_DELIVERY;
		s->reporting_mta = string_of(p + a, e - a, "reportingMTA");
		if (span_of(p + a, e - a, "recipients", &ra, &re)) {
			const char *q = p + a + ra;
			size_t qn = re - ra, end;

			for (i = 0; i < qn; i++)
				if (q[i] == '"') {
					struct bh_ses_rcpt *r = add(s, max, str_at(q, qn, i, &end));

					if (r != NULL && resp != NULL)
						r->diagnostic = bh_strdup(resp);
					i = end - 1;
				}
		}
		free(resp);
	}
	free(type);
	if (s->n == 0) {
		bh_ses_deinit(s); /* callers free nothing when there is no notification */
		return BH_SES_NONE;
	}
	return s->kind;
}

/* bh_ses_deinit - free the notification */
void
bh_ses_deinit(struct bh_ses *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		free(s->r[i].address);
		free(s->r[i].action);
		free(s->r[i].status);
		free(s->r[i].diagnostic);
	}
	free(s->r);
	free(s->feedback_type);
	free(s->reporting_mta);
	memset(s, 0, sizeof(*s));
}

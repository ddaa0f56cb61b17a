/*
 * ses.c - Amazon SES event notifications: {"notificationType":"Bounce","bounce":{
 * "bouncedRecipients":[{"emailAddress":..,"action":..,"status":..,"diagnosticCode":..}],
 * "reportingMTA":..}}, "Complaint" with complaint.complainedRecipients and
 * complaint.complaintFeedbackType, "Delivery" with delivery.recipients and delivery.smtpResponse.
 *
 * The JSON is read by json-c, bounded by BH_MAX_SES_SIZE bytes and BH_MAX_SES_DEPTH levels
 * (json_tokener_new_ex; json-c's tokener keeps an explicit stack, it does not recurse over the
 * input). The object may follow a few lines of text: at most BH_MAX_SES_STARTS '{' are tried as
 * its start. Control characters in values (\n, \u0000...) become blanks. Pure: no I/O.
 */
#include "ses.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "bh_limits.h"
#include "util.h"

/* get - the member key of object o when it has type t, or NULL */
static struct json_object *
get(struct json_object *o, const char *key, enum json_type t)
{
	struct json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, t))
		return NULL;
	return v;
}

/* dup_str - a copy of the string v with control characters blanked, or NULL */
static char *
dup_str(struct json_object *v)
{
	const char *q;
	char *r;
	size_t i, len;

	if (v == NULL || !json_object_is_type(v, json_type_string))
		return NULL;
	q = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	r = bh_malloc(len + 1);
	for (i = 0; i < len; i++)
		r[i] = (unsigned char)q[i] < 0x20 || q[i] == 0x7f ? ' ' : q[i];
	r[len] = '\0';
	return r;
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

/* recipients - each {"emailAddress":..} of the array a */
static void
recipients(struct bh_ses *s, size_t max, struct json_object *a, bool bounce)
{
	size_t i, n = a != NULL ? json_object_array_length(a) : 0;

	for (i = 0; i < n && s->n < max; i++) {
		struct json_object *o = json_object_array_get_idx(a, i);
		struct bh_ses_rcpt *r;

		if (!json_object_is_type(o, json_type_object))
			continue;
		r = add(s, max, dup_str(get(o, "emailAddress", json_type_string)));
		if (r != NULL && bounce) {
			r->action = dup_str(get(o, "action", json_type_string));
			r->status = dup_str(get(o, "status", json_type_string));
			r->diagnostic = dup_str(get(o, "diagnosticCode", json_type_string));
		}
	}
}

/* parse_object - the JSON object starting at p[0] == '{', or NULL */
static struct json_object *
parse_object(const char *p, size_t n)
{
	struct json_tokener *tok = json_tokener_new_ex(BH_MAX_SES_DEPTH);
	struct json_object *o;

	if (tok == NULL)
		bh_fatal("json_tokener_new_ex: out of memory");
	o = json_tokener_parse_ex(tok, p, (int)n);
	if (o != NULL && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* bh_ses_parse - find and read a notification */
enum bh_ses_kind
bh_ses_parse(const char *p, size_t n, size_t max, struct bh_ses *s)
{
	struct json_object *root = NULL, *type = NULL, *o, *a;
	const char *q, *t;
	size_t i, tries;

	memset(s, 0, sizeof(*s));
	if (n > BH_MAX_SES_SIZE)
		return BH_SES_NONE;
	for (i = 0, tries = 0; tries < BH_MAX_SES_STARTS && i < n; tries++) {
		if ((q = memchr(p + i, '{', n - i)) == NULL)
			break;
		i = (size_t)(q - p);
		if ((root = parse_object(p + i, n - i)) != NULL &&
		    (type = get(root, "notificationType", json_type_string)) != NULL)
			break;
		json_object_put(root);
		root = NULL;
		i++;
	}
	if (root == NULL)
		return BH_SES_NONE;
	t = json_object_get_string(type);
	if (strcmp(t, "Bounce") == 0 && (o = get(root, "bounce", json_type_object)) != NULL &&
	    (a = get(o, "bouncedRecipients", json_type_array)) != NULL) {
		s->kind = BH_SES_BOUNCE;
		recipients(s, max, a, true);
		s->reporting_mta = dup_str(get(o, "reportingMTA", json_type_string));
	} else if (strcmp(t, "Complaint") == 0 &&
		   (o = get(root, "complaint", json_type_object)) != NULL &&
		   (a = get(o, "complainedRecipients", json_type_array)) != NULL) {
		s->kind = BH_SES_COMPLAINT;
		recipients(s, max, a, false);
		s->feedback_type = dup_str(get(o, "complaintFeedbackType", json_type_string));
	} else if (strcmp(t, "Delivery") == 0 &&
		   (o = get(root, "delivery", json_type_object)) != NULL) {
		size_t k, len;

		s->kind = BH_SES_DELIVERY;
		s->reporting_mta = dup_str(get(o, "reportingMTA", json_type_string));
		a = get(o, "recipients", json_type_array);
		len = a != NULL ? json_object_array_length(a) : 0;
		for (k = 0; k < len && s->n < max; k++) {
			struct bh_ses_rcpt *r =
			    add(s, max, dup_str(json_object_array_get_idx(a, k)));

			if (r != NULL)
				r->diagnostic = dup_str(get(o, "smtpResponse", json_type_string));
		}
	}
	json_object_put(root);
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

/*
 * policy.c - from a verdict and the list's policy to a decision per recipient.
 *
 * Pure: no I/O, no logging. Trusts the verdict's structure (the classifier filled it) but not
 * its contents: the address acted on is only ever the recipient decoded from a valid VERP
 * address (v->verp.recipient), never the address a remote server reported. The order of the
 * checks is the safety argument: not ours (no valid VERP, a loop, an unknown list the policy
 * ignores) before anything else; then not failures (delivered, auto-replies, delayed reports);
 * then sender-side failures, which never suppress unless a list says they may.
 *
 * A failure report about an address other than the VERP recipient (neither its Final- nor its
 * Original-Recipient is the subscriber) is recorded, never acted on: it is mail we sent that was
 * forwarded or auto-answered elsewhere (a subscriber's responder forwarding to an address that
 * does not exist), and the address that failed is not our subscriber's. Complaints are exempt:
 * feedback reports routinely redact the address.
 */
#include "policy.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "util.h"

static const struct bh_policy_action no_action = {BH_POL_IGNORE, 0, 0, 0, BH_SCOPE_LIST};

/* The one copy of the built-in soft-bounce action (policy.h). */
const struct bh_policy_action bh_policy_soft_count = {.kind = BH_POL_COUNT,
						      .threshold = 3,
						      .window_s = 15 * 86400LL,
						      .duration_s = 30 * 86400LL,
						      .scope = BH_SCOPE_LIST};

/* add - append a decision */
static struct bh_decision *
add(struct bh_decisions *out, const struct bh_verdict *v, const struct bh_rcpt *r,
    enum bh_outcome o, const char *why)
{
	struct bh_decision *d;

	out->v = bh_reallocarray(out->v, out->n + 1, sizeof(*out->v));
	d = &out->v[out->n++];
	memset(d, 0, sizeof(*d));
	d->rcpt = r;
	d->address = v->verp.valid ? v->verp.recipient : NULL;
	d->list = v->verp.valid ? v->verp.list : NULL;
	d->outcome = o;
	d->action = no_action;
	d->why = why;
	if (r != NULL) {
		d->sender_side = r->whose == BH_WHOSE_SENDER;
		d->delayed = r->action == BH_ACTION_DELAYED;
	}
	return d;
}

/* refuse_all - nothing in this message is acted on */
static void
refuse_all(struct bh_decisions *out, const struct bh_verdict *v, enum bh_outcome o,
	   const struct bh_policy_action *a, const char *why, const char *folder)
{
	size_t i;

	out->refused = true;
	out->folder_hint = folder;
	if (v->n_rcpts == 0) {
		add(out, v, NULL, o, why)->action = a != NULL ? *a : no_action;
		return;
	}
	for (i = 0; i < v->n_rcpts; i++)
		add(out, v, &v->rcpts[i], o, why)->action = a != NULL ? *a : no_action;
}

/* by_kind - the outcome a policy action asks for */
static enum bh_outcome
by_kind(enum bh_policy_kind k)
{
	switch (k) {
	case BH_POL_SUPPRESS:
	case BH_POL_SUPPRESS_FOR: return BH_OUT_SUPPRESS;
	case BH_POL_COUNT: return BH_OUT_COUNT;
	case BH_POL_ALERT: return BH_OUT_ALERT;
	case BH_POL_INHERIT:
	case BH_POL_IGNORE: break;
	}
	return BH_OUT_RECORD;
}

/* same_address - a and b name the same mailbox (domains normalized, compared ignoring case) */
static bool
same_address(const char *a, const char *b)
{
	char *na = NULL, *nb = NULL;
	const char *err;
	bool same;

	if (bh_addr_normalize(a, strlen(a), &na, &err) == -1 ||
	    bh_addr_normalize(b, strlen(b), &nb, &err) == -1)
		same = strcasecmp(a, b) == 0;
	else
		same = strcasecmp(na, nb) == 0;
	free(na);
	free(nb);
	return same;
}

/* about_subscriber - the report's recipient is the VERP recipient (or names no address) */
static bool
about_subscriber(const struct bh_verdict *v, const struct bh_rcpt *r)
{
	if (v->type == BH_TYPE_ARF || r->reason == BH_R_FEEDBACK)
		return true;
	if (r->address == NULL || r->address[0] == '\0')
		return true;
	return same_address(r->address, v->verp.recipient) ||
	       (r->original_address != NULL &&
		same_address(r->original_address, v->verp.recipient));
}

/* decide_rcpt - one recipient of a message that is ours */
static void
decide_rcpt(struct bh_decisions *out, const struct bh_verdict *v, const struct bh_rcpt *r,
	    const struct bh_list_policy *pol)
{
	const struct bh_policy_action *a = &pol->by_reason[r->reason];
	struct bh_decision *d;

	if (r->action == BH_ACTION_DELIVERED || r->action == BH_ACTION_RELAYED ||
	    r->action == BH_ACTION_EXPANDED || r->reason == BH_R_DELIVERED) {
		add(out, v, r, BH_OUT_RECORD, "delivered: not a failure");
		return;
	}
	if (r->reason == BH_R_VACATION) {
		d = add(out, v, r, a->kind == BH_POL_ALERT ? BH_OUT_ALERT : BH_OUT_RECORD,
			"auto-reply: not a failure");
		d->action = *a;
		return;
	}
	if (r->action == BH_ACTION_DELAYED) {
		if (!pol->count_delayed) {
			add(out, v, r, BH_OUT_RECORD, "delayed: still being retried");
			return;
		}
		if (r->whose != BH_WHOSE_SENDER || pol->sender_side_may_suppress) {
			/* a warning never suppresses at once: it counts like a soft bounce */
			d = add(out, v, r, BH_OUT_COUNT, "delayed, counted as a soft bounce");
			if (a->kind == BH_POL_COUNT) {
				d->action = *a;
			} else {
				d->action = bh_policy_soft_count;
				d->action.scope = a->scope;
			}
			return;
		}
	}
	if (!about_subscriber(v, r)) {
		add(out, v, r, BH_OUT_RECORD,
		    "the failed address is not the VERP recipient: forwarded or auto-answered "
		    "mail");
		return;
	}
	if (r->whose == BH_WHOSE_SENDER && !pol->sender_side_may_suppress) {
		d = add(out, v, r, a->kind == BH_POL_ALERT ? BH_OUT_ALERT : BH_OUT_RECORD,
			"sender-side failure: never suppresses the recipient");
		d->action = *a;
		if (a->kind != BH_POL_ALERT)
			d->action.kind = BH_POL_IGNORE;
		return;
	}
	d = add(out, v, r, by_kind(a->kind),
		r->reason == BH_R_FEEDBACK				  ? "complaint"
		: r->hard						  ? "hard bounce"
		: r->reason == BH_R_UNDEFINED || r->reason == BH_R_ONHOLD ? "reason unknown"
									  : "by policy");
	d->action = *a;
}

/* bh_list_policy_cmp - order policies by list name, case-insensitively (qsort and bsearch) */
int
bh_list_policy_cmp(const void *a, const void *b)
{
	return strcasecmp(((const struct bh_list_policy *)a)->name,
			  ((const struct bh_list_policy *)b)->name);
}

/* bh_policy_lookup - a list's policy, or defaults */
const struct bh_list_policy *
bh_policy_lookup(const struct bh_policy_settings *set, const char *list, bool *known_r)
{
	const struct bh_list_policy *p = NULL;
	struct bh_list_policy key;

	if (list != NULL && set->n_lists > 0) {
		key.name = (char *)list;
		p = bsearch(&key, set->lists, set->n_lists, sizeof(*set->lists),
			    bh_list_policy_cmp);
	}
	if (known_r != NULL)
		*known_r = p != NULL;
	return p != NULL ? p : set->defaults;
}

/* bh_policy_decide - every recipient of v under set */
void
bh_policy_decide(const struct bh_policy_settings *set, const struct bh_verdict *v,
		 struct bh_decisions *out)
{
	const struct bh_list_policy *pol;
	bool known;
	size_t i;

	memset(out, 0, sizeof(*out));
	out->type = v->type;
	out->folder_hint = "processed";
	/* First, so that every decision carries the list's policy: the store reads its sender,
	 * repeat and burst settings from here, also for a message refused as a whole. */
	pol = bh_policy_lookup(set, v->verp.valid ? v->verp.list : NULL, &known);
	out->policy = pol;
	if (v->error != NULL) {
		refuse_all(out, v, BH_OUT_REFUSE, NULL, "unparseable", "quarantine");
		return;
	}
	if (v->loop.kind != BH_LOOP_NONE) {
		const struct bh_policy_action *a = &pol->loop[v->loop.kind];

		refuse_all(out, v, a->kind == BH_POL_ALERT ? BH_OUT_ALERT : BH_OUT_REFUSE, a,
			   "loop detected", "ignored");
		return;
	}
	if (v->type == BH_TYPE_NOT_BOUNCE) {
		refuse_all(out, v, BH_OUT_REFUSE, NULL, "not a bounce", "ignored");
		return;
	}
	if (!v->verp.valid || v->verp.recipient == NULL) {
		refuse_all(out, v, BH_OUT_REFUSE, NULL,
			   v->verp.checked ? "VERP address not valid" : "no VERP address",
			   "ignored");
		return;
	}
	if (!known && set->unknown_list != BH_UNKNOWN_DEFAULTS) {
		bool q = set->unknown_list == BH_UNKNOWN_QUARANTINE;

		refuse_all(out, v, BH_OUT_REFUSE, NULL, "unknown list",
			   q ? "quarantine" : "ignored");
		return;
	}
	if (v->n_rcpts == 0) {
		/* an auto-reply or a report without recipient blocks: about the VERP recipient */
		struct bh_decision *d =
		    add(out, v, NULL, BH_OUT_RECORD,
			v->type == BH_TYPE_AUTOREPLY ? "auto-reply: not a failure"
						     : "no recipient in the report");

		if (v->type == BH_TYPE_AUTOREPLY) {
			d->action = pol->by_reason[BH_R_VACATION];
			if (d->action.kind == BH_POL_ALERT)
				d->outcome = BH_OUT_ALERT;
		}
		return;
	}
	for (i = 0; i < v->n_rcpts; i++)
		decide_rcpt(out, v, &v->rcpts[i], pol);
}

/* bh_decisions_deinit - free the decisions array (what it points into is borrowed) and zero d */
void
bh_decisions_deinit(struct bh_decisions *d)
{
	free(d->v);
	memset(d, 0, sizeof(*d));
}

/* bh_outcome_name - the name of an outcome, as in logs, events and JSON */
const char *
bh_outcome_name(enum bh_outcome o)
{
	switch (o) {
	case BH_OUT_RECORD: return "record";
	case BH_OUT_SUPPRESS: return "suppress";
	case BH_OUT_COUNT: return "count";
	case BH_OUT_ALERT: return "alert";
	case BH_OUT_REFUSE: return "refuse";
	}
	return "record";
}

/* bh_policy_kind_name - the name of a policy kind, as written in the configuration */
const char *
bh_policy_kind_name(enum bh_policy_kind k)
{
	switch (k) {
	case BH_POL_INHERIT: return "inherit";
	case BH_POL_SUPPRESS: return "suppress";
	case BH_POL_SUPPRESS_FOR: return "suppress_for";
	case BH_POL_COUNT: return "count";
	case BH_POL_IGNORE: return "ignore";
	case BH_POL_ALERT: return "alert";
	}
	return "ignore";
}

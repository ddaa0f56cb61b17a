/*
 * policy.h - from a verdict and the per-list policy to what should happen to each recipient.
 *
 * Pure: no I/O. The store (store.c) carries the decisions out atomically in Redis; counting soft
 * bounces within a window happens there, since only Redis knows the history.
 *
 * Whom a decision is about: the recipient decoded from a valid VERP address (our subscriber, as
 * we mailed them) when there is one; the reported failed address only names what the remote side
 * saw (it may be a forwarding target). Without a valid VERP address nothing is ever suppressed.
 */
#ifndef BH_POLICY_H
#define BH_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "verdict.h"

enum bh_outcome {
	BH_OUT_RECORD = 0, /* recorded as an event only (delayed, delivered, vacation, ignore) */
	BH_OUT_SUPPRESS,   /* suppress now (action.duration_s: 0 forever, else expiry) */
	BH_OUT_COUNT,	   /* add to the soft count; suppress at action.threshold in window */
	BH_OUT_ALERT,	   /* record and raise an alert event */
	BH_OUT_REFUSE,	   /* not ours to act on: invalid VERP, loop, backscatter, unknown list */
};

struct bh_decision {
	const struct bh_rcpt *rcpt; /* borrowed from the verdict; NULL for a message-level
				     * decision (a refused message with no recipients) */
	const char *address;	    /* the address acted on; borrowed from the verdict */
	const char *list;	    /* borrowed from the verdict; NULL when unknown */
	enum bh_outcome outcome;
	struct bh_policy_action action; /* the resolved policy for this reason */
	bool sender_side;		/* the sender's fault: counted per receiving domain */
	bool delayed;			/* Action: delayed */
	const char *why;		/* static: the human reason for the outcome */
};

struct bh_decisions {
	struct bh_decision *v;
	size_t n;
	enum bh_msg_type type;
	bool refused;			     /* the message as a whole is not acted on */
	const char *folder_hint;	     /* "processed", "ignored" or "quarantine" */
	const struct bh_list_policy *policy; /* the list's policy (or defaults), borrowed from cfg:
					      * sender_alert_threshold / _window_s for the store */
};

/* bh_policy_decide - decide for every recipient of v under cfg. Never fails; the decisions
 * borrow from v and cfg and live as long as both. Free with bh_decisions_deinit. */
void bh_policy_decide(const struct bh_config *cfg, const struct bh_verdict *v,
		      struct bh_decisions *out);
void bh_decisions_deinit(struct bh_decisions *d);

const char *bh_outcome_name(enum bh_outcome o);
const char *bh_policy_kind_name(enum bh_policy_kind k);

#endif

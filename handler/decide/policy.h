/*
 * policy.h - from a verdict and the per-list policy to what should happen to each recipient.
 *
 * Pure: no I/O. The store (handler/store/) carries the decisions out atomically in Redis; counting
 * soft bounces within a window happens there, since only Redis knows the history.
 *
 * Whom a decision is about: the recipient decoded from a valid VERP address (our subscriber, as
 * we mailed them) when there is one; the reported failed address only names what the remote side
 * saw (it may be a forwarding target). Without a valid VERP address nothing is ever suppressed.
 */
#ifndef BH_POLICY_H
#define BH_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "reason.h"
#include "verdict.h"

/* What a policy does with one reason (or group). */
enum bh_policy_kind {
	BH_POL_INHERIT = 0,  /* not set here: take the parent's */
	BH_POL_SUPPRESS,     /* suppress at once, no expiry */
	BH_POL_SUPPRESS_FOR, /* suppress at once for duration_s */
	BH_POL_COUNT,  /* suppress after threshold within window_s, for duration_s (0: forever) */
	BH_POL_IGNORE, /* record the event only */
	BH_POL_ALERT,  /* record and raise an alert event */
};

enum bh_scope { BH_SCOPE_LIST = 0, BH_SCOPE_GLOBAL };

struct bh_policy_action {
	enum bh_policy_kind kind;
	int64_t duration_s;
	unsigned threshold;
	int64_t window_s;
	enum bh_scope scope;
};

enum bh_unknown_list { BH_UNKNOWN_DEFAULTS = 0, BH_UNKNOWN_IGNORE, BH_UNKNOWN_QUARANTINE };

/* The fully resolved policy of one list: inheritance from defaults is applied at load time
 * (config_policy.c; the built-in defaults are documented in docs/configuration.md). */
struct bh_list_policy {
	char *name;				       /* NULL for defaults */
	struct bh_policy_action by_reason[BH_R_COUNT]; /* never BH_POL_INHERIT once loaded */
	struct bh_policy_action loop[BH_LOOP_COUNT];   /* ignore or alert, per loop kind */
	bool sender_side_may_suppress;		       /* default false */
	bool count_delayed;			       /* Action: delayed counts as soft; false */
	unsigned sender_alert_threshold;	       /* sender-side failures per domain ... */
	int64_t sender_alert_window_s;		       /* ... within this window raise an alert */
	int64_t repeat_window_s;		       /* one sent message bouncing again for one
							* recipient within this is a repeat; 7d */
	unsigned repeat_alert;			       /* its Nth bounce raises an alert; 3 */
	unsigned burst_max;			       /* more failures for the list within
							* burst_window_s hold suppressions; 0: off */
	int64_t burst_window_s;			       /* 10m */
};

/* What deciding reads (bouncer.yaml defaults: and lists:, filled by the configuration:
 * bh_config_policy_settings). Everything is borrowed. */
struct bh_policy_settings {
	const struct bh_list_policy *defaults; /* required: a list without its own policy */
	const struct bh_list_policy *lists;    /* each list's own, sorted by bh_list_policy_cmp */
	size_t n_lists;
	enum bh_unknown_list unknown_list; /* a list with none of its own: decided under
					    * defaults (the default), ignored or quarantined */
};

enum bh_outcome {
	BH_OUT_RECORD = 0, /* recorded as an event only (delayed, delivered, vacation, ignore) */
	BH_OUT_SUPPRESS,   /* suppress now (action.duration_s: 0 forever, else expiry) */
	BH_OUT_COUNT,	   /* add to the soft count; suppress at action.threshold in window */
	BH_OUT_ALERT,	   /* record and raise an alert event */
	BH_OUT_REFUSE,	   /* not ours to act on: invalid VERP, loop, backscatter, unknown list */
};

/* The built-in action of the soft reasons: count 3 within 15 days, then suppress for 30 days.
 * config_policy.c's defaults use it, and so does a counted delayed report whose reason's action
 * is not a count. */
extern const struct bh_policy_action bh_policy_soft_count;

struct bh_decision {
	const struct bh_rcpt *rcpt; /* borrowed from the verdict; NULL for a message-level
				     * decision (a refused message with no recipients) */
	const char *address;	    /* the address acted on, in normal form (the VERP decoder's
				     * bh_addr_normalize(): the store's key); borrowed from the
				     * verdict */
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
	const struct bh_list_policy *policy; /* the list's policy (or defaults), borrowed from the
					      * settings, always set: the store takes its
					      * sender-alert, repeat and burst settings from here */
};

/* bh_policy_decide - decide for every recipient of v under set. Never fails; the decisions
 * borrow from v and from what set points to, and live as long as both. Free with
 * bh_decisions_deinit. */
void bh_policy_decide(const struct bh_policy_settings *set, const struct bh_verdict *v,
		      struct bh_decisions *out);
/* bh_policy_lookup - the policy of list: its own, or set->defaults when it has none or list is
 * NULL (*known_r false; known_r may be NULL). Never NULL; borrowed from set. */
const struct bh_list_policy *bh_policy_lookup(const struct bh_policy_settings *set,
					      const char *list, bool *known_r);
/* bh_list_policy_cmp - the order of bh_policy_settings.lists (qsort, bsearch): by name, without
 * case. */
int bh_list_policy_cmp(const void *a, const void *b);
void bh_decisions_deinit(struct bh_decisions *d);

const char *bh_outcome_name(enum bh_outcome o);
const char *bh_policy_kind_name(enum bh_policy_kind k);

#endif

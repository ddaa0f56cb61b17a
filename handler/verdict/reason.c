/*
 * reason.c - the reason vocabulary: names, hard flags and whose problem each reason is.
 *
 * The facts come from ../shared/REASONS.md (Sisimai's vocabulary plus bouncer's "whose").
 */
#include "reason.h"

#include <strings.h>

#include "util.h"

static const struct {
	const char *name;
	bool hard;
	enum bh_whose whose;
} reasons[BH_R_COUNT] = {
    [BH_R_UNDEFINED] = {"undefined", false, BH_WHOSE_NONE},
    [BH_R_USERUNKNOWN] = {"userunknown", true, BH_WHOSE_RECIPIENT},
    [BH_R_HOSTUNKNOWN] = {"hostunknown", true, BH_WHOSE_RECIPIENT},
    [BH_R_HASMOVED] = {"hasmoved", true, BH_WHOSE_RECIPIENT},
    [BH_R_NOTACCEPT] = {"notaccept", true, BH_WHOSE_RECIPIENT},
    [BH_R_MAILBOXFULL] = {"mailboxfull", false, BH_WHOSE_RECIPIENT},
    [BH_R_SUSPEND] = {"suspend", false, BH_WHOSE_RECIPIENT},
    [BH_R_EXCEEDLIMIT] = {"exceedlimit", false, BH_WHOSE_RECIPIENT},
    [BH_R_FILTERED] = {"filtered", false, BH_WHOSE_RECIPIENT},
    [BH_R_EXPIRED] = {"expired", false, BH_WHOSE_EITHER},
    [BH_R_BLOCKED] = {"blocked", false, BH_WHOSE_SENDER},
    [BH_R_BADREPUTATION] = {"badreputation", false, BH_WHOSE_SENDER},
    [BH_R_REQUIREPTR] = {"requireptr", false, BH_WHOSE_SENDER},
    [BH_R_AUTHFAILURE] = {"authfailure", false, BH_WHOSE_SENDER},
    [BH_R_NORELAYING] = {"norelaying", false, BH_WHOSE_SENDER},
    [BH_R_REJECTED] = {"rejected", false, BH_WHOSE_SENDER},
    [BH_R_POLICYVIOLATION] = {"policyviolation", false, BH_WHOSE_SENDER},
    [BH_R_SPAMDETECTED] = {"spamdetected", false, BH_WHOSE_SENDER},
    [BH_R_VIRUSDETECTED] = {"virusdetected", false, BH_WHOSE_SENDER},
    [BH_R_CONTENTERROR] = {"contenterror", false, BH_WHOSE_SENDER},
    [BH_R_NOTCOMPLIANTRFC] = {"notcompliantrfc", false, BH_WHOSE_SENDER},
    [BH_R_MESGTOOBIG] = {"mesgtoobig", false, BH_WHOSE_SENDER},
    [BH_R_SECURITYERROR] = {"securityerror", false, BH_WHOSE_SENDER},
    [BH_R_FAILEDSTARTTLS] = {"failedstarttls", false, BH_WHOSE_SENDER},
    [BH_R_SPEEDING] = {"speeding", false, BH_WHOSE_SENDER},
    [BH_R_RATELIMITED] = {"ratelimited", false, BH_WHOSE_SENDER},
    [BH_R_TOOMANYCONN] = {"toomanyconn", false, BH_WHOSE_SENDER},
    [BH_R_SYNTAXERROR] = {"syntaxerror", false, BH_WHOSE_SENDER},
    [BH_R_NETWORKERROR] = {"networkerror", false, BH_WHOSE_EITHER},
    [BH_R_SYSTEMERROR] = {"systemerror", false, BH_WHOSE_EITHER},
    [BH_R_SYSTEMFULL] = {"systemfull", false, BH_WHOSE_EITHER},
    [BH_R_MAILERERROR] = {"mailererror", false, BH_WHOSE_EITHER},
    [BH_R_SUPPRESSED] = {"suppressed", false, BH_WHOSE_RECIPIENT},
    [BH_R_ONHOLD] = {"onhold", false, BH_WHOSE_NONE},
    [BH_R_FEEDBACK] = {"feedback", false, BH_WHOSE_RECIPIENT},
    [BH_R_VACATION] = {"vacation", false, BH_WHOSE_NONE},
    [BH_R_DELIVERED] = {"delivered", false, BH_WHOSE_NONE},
};

static const char *const group_names[BH_G_COUNT] = {
    [BH_G_HARD] = "hard",	    [BH_G_SOFT] = "soft",	    [BH_G_SENDER] = "sender",
    [BH_G_COMPLAINT] = "complaint", [BH_G_AUTOREPLY] = "autoreply", [BH_G_UNKNOWN] = "unknown",
    [BH_G_NONE] = "none",
};

/* bh_reason_name - the name of a reason */
const char *
bh_reason_name(enum bh_reason r)
{
	if ((unsigned)r >= BH_R_COUNT)
		bh_fatal("bh_reason_name: bad reason %d", (int)r);
	return reasons[r].name;
}

/* bh_reason_lookup - a reason from its name */
int
bh_reason_lookup(const char *name)
{
	int i;

	for (i = 0; i < BH_R_COUNT; i++)
		if (strcasecmp(reasons[i].name, name) == 0)
			return i;
	return -1;
}

/* bh_reason_hard - whether a reason is a hard failure */
bool
bh_reason_hard(enum bh_reason r)
{
	return (unsigned)r < BH_R_COUNT && reasons[r].hard;
}

/* bh_reason_whose - whose fault a reason is */
enum bh_whose
bh_reason_whose(enum bh_reason r)
{
	return (unsigned)r < BH_R_COUNT ? reasons[r].whose : BH_WHOSE_NONE;
}

/* bh_whose_name - the name of a whose value */
const char *
bh_whose_name(enum bh_whose w)
{
	switch (w) {
	case BH_WHOSE_RECIPIENT: return "recipient";
	case BH_WHOSE_SENDER: return "sender";
	case BH_WHOSE_EITHER: return "either";
	case BH_WHOSE_NONE: break;
	}
	return "none";
}

/* bh_reason_group - the group of a reason */
enum bh_reason_group
bh_reason_group(enum bh_reason r)
{
	switch (r) {
	case BH_R_FEEDBACK: return BH_G_COMPLAINT;
	case BH_R_VACATION: return BH_G_AUTOREPLY;
	case BH_R_DELIVERED: return BH_G_NONE;
	case BH_R_UNDEFINED:
	case BH_R_ONHOLD: return BH_G_UNKNOWN;
	default: break;
	}
	if (bh_reason_hard(r))
		return BH_G_HARD;
	if (bh_reason_whose(r) == BH_WHOSE_SENDER)
		return BH_G_SENDER;
	return BH_G_SOFT;
}

/* bh_group_name - the name of a reason group */
const char *
bh_group_name(enum bh_reason_group g)
{
	return (unsigned)g < BH_G_COUNT ? group_names[g] : "none";
}

/* bh_group_lookup - a reason group from its name */
int
bh_group_lookup(const char *name)
{
	int i;

	for (i = 0; i < BH_G_COUNT; i++)
		if (strcasecmp(group_names[i], name) == 0)
			return i;
	return -1;
}

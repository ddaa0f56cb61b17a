/*
 * reason.h - the reason vocabulary of a verdict (Sisimai's words; ../shared/REASONS.md).
 *
 * Each reason has a fixed hard flag and a "whose" (recipient, sender, either, none). The table
 * is static and const: names returned here live for the whole program.
 */
#ifndef BH_REASON_H
#define BH_REASON_H

#include <stdbool.h>

enum bh_reason {
	BH_R_UNDEFINED = 0,
	BH_R_USERUNKNOWN,
	BH_R_HOSTUNKNOWN,
	BH_R_HASMOVED,
	BH_R_NOTACCEPT,
	BH_R_MAILBOXFULL,
	BH_R_SUSPEND,
	BH_R_EXCEEDLIMIT,
	BH_R_FILTERED,
	BH_R_EXPIRED,
	BH_R_BLOCKED,
	BH_R_BADREPUTATION,
	BH_R_REQUIREPTR,
	BH_R_AUTHFAILURE,
	BH_R_NORELAYING,
	BH_R_REJECTED,
	BH_R_POLICYVIOLATION,
	BH_R_SPAMDETECTED,
	BH_R_VIRUSDETECTED,
	BH_R_CONTENTERROR,
	BH_R_NOTCOMPLIANTRFC,
	BH_R_MESGTOOBIG,
	BH_R_SECURITYERROR,
	BH_R_FAILEDSTARTTLS,
	BH_R_SPEEDING,
	BH_R_RATELIMITED,
	BH_R_TOOMANYCONN,
	BH_R_SYNTAXERROR,
	BH_R_NETWORKERROR,
	BH_R_SYSTEMERROR,
	BH_R_SYSTEMFULL,
	BH_R_MAILERERROR,
	BH_R_SUPPRESSED,
	BH_R_ONHOLD,
	BH_R_FEEDBACK,
	BH_R_VACATION,
	BH_R_DELIVERED,
	BH_R_COUNT
};

enum bh_whose {
	BH_WHOSE_NONE = 0, /* "-": not a failure or not decided */
	BH_WHOSE_RECIPIENT,
	BH_WHOSE_SENDER,
	BH_WHOSE_EITHER,
};

/* Groups a policy can name instead of single reasons. */
enum bh_reason_group {
	BH_G_HARD = 0,	/* hard failures: the address is bad */
	BH_G_SOFT,	/* recipient-side or either-side failures that are not hard */
	BH_G_SENDER,	/* failures that are the sender's fault */
	BH_G_COMPLAINT, /* feedback */
	BH_G_AUTOREPLY, /* vacation */
	BH_G_UNKNOWN,	/* undefined, onhold */
	BH_G_NONE,	/* delivered: never acted on */
	BH_G_COUNT
};

/* bh_reason_name - the reason's word ("userunknown"); static. */
const char *bh_reason_name(enum bh_reason r);
/* bh_reason_lookup - the reason for a word (case-insensitive), or -1 when it is not one. */
int bh_reason_lookup(const char *name);
/* bh_reason_hard - true only for reasons where the address itself is bad. */
bool bh_reason_hard(enum bh_reason r);
enum bh_whose bh_reason_whose(enum bh_reason r);
/* bh_whose_name - "recipient", "sender", "either" or "none"; static. */
const char *bh_whose_name(enum bh_whose w);
enum bh_reason_group bh_reason_group(enum bh_reason r);
/* bh_group_name - "hard", "soft", "sender", "complaint", "autoreply", "unknown", "none"; static. */
const char *bh_group_name(enum bh_reason_group g);
/* bh_group_lookup - the group for a word, or -1. */
int bh_group_lookup(const char *name);

#endif

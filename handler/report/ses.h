/*
 * ses.h - Amazon SES notifications (JSON, usually relayed by SNS e-mail): Bounce, Complaint and
 * Delivery, read with json-c within the limits of bh_limits.h. Pure: no I/O.
 */
#ifndef BH_SES_H
#define BH_SES_H

#include <stddef.h>

enum bh_ses_kind { BH_SES_NONE = 0, BH_SES_BOUNCE, BH_SES_COMPLAINT, BH_SES_DELIVERY };

struct bh_ses_rcpt {
	char *address;
	char *action;	  /* may be NULL */
	char *status;	  /* may be NULL */
	char *diagnostic; /* diagnosticCode or smtpResponse; may be NULL */
};

struct bh_ses {
	enum bh_ses_kind kind;
	char *feedback_type; /* complaintFeedbackType, may be NULL */
	char *reporting_mta;
	struct bh_ses_rcpt *r;
	size_t n;
};

/* bh_ses_parse - look for a notification in p[0..n). Returns the kind found, or BH_SES_NONE
 * (s then holds nothing) when the text is not one or names no recipient; at most max
 * recipients are kept. Free with bh_ses_deinit. */
enum bh_ses_kind bh_ses_parse(const char *p, size_t n, size_t max, struct bh_ses *s);
void bh_ses_deinit(struct bh_ses *s);

#endif

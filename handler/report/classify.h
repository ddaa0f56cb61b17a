/*
 * classify.h - one message in, one verdict out: MIME parsing (libetpan, guarded), RFC 3464
 * delivery-status fields, RFC 5965 feedback reports, RFC 3834 auto-replies, and recognizers for
 * the non-standard bounce texts of real MTAs, with the reason from the rules engine.
 *
 * Trusts nothing in the message. Pure: no I/O, no logging; the caller logs v->error.
 */
#ifndef BH_CLASSIFY_H
#define BH_CLASSIFY_H

#include <stddef.h>

#include "mime.h"
#include "rules.h"
#include "verdict.h"

/* What the classifier allows (bouncer.yaml limits:, filled by the configuration:
 * bh_config_classify_settings; bh_limits.h has the defaults). */
struct bh_classify_settings {
	size_t message_size;	      /* a larger message is refused unread, and no decoded body
				       * is longer (BH_DEF_MESSAGE_SIZE) */
	unsigned recipients;	      /* per-recipient blocks read from one report
				       * (BH_DEF_RECIPIENTS) */
	struct bh_mime_settings mime; /* the MIME walker's limits; its header limits apply to
				       * every header block read, the returned message's too */
};

struct bh_classify_opts {
	const struct bh_rules *rules;		     /* required */
	const struct bh_classify_settings *settings; /* required */
};

/* bh_classify - fill v (bh_verdict_init'ed by the caller) from the message data[0..len).
 * Returns 0 when a verdict was made (including not_bounce), -1 when the message could not be
 * parsed at all or broke a limit: v->error then says why (static text) and v->type is
 * not_bounce; the caller quarantines it. Sets v->stable_id in both cases. */
int bh_classify(const struct bh_classify_opts *opts, const char *data, size_t len,
		struct bh_verdict *v);

#endif

/*
 * verdict.h - what bouncer concludes about one message: the contract between the parser and
 * classifier (which fill it) and everything downstream (VERP, loops, policy, store, CLI).
 *
 * All strings are owned by the verdict and freed by bh_verdict_free(); `const char *` members
 * point at static tables (reason words, kinds) and are never freed. A NULL string means "absent".
 * The JSON form (bh_verdict_json) is the `bouncer classify` output contract documented in
 * docs/classify.md.
 */
#ifndef BH_VERDICT_H
#define BH_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bh_limits.h"
#include "reason.h"
#include "util.h"

enum bh_msg_type {
	BH_TYPE_NOT_BOUNCE = 0,
	BH_TYPE_DSN,	   /* RFC 3464 report */
	BH_TYPE_ARF,	   /* RFC 5965 feedback report */
	BH_TYPE_AUTOREPLY, /* RFC 3834 or vacation-style reply */
	BH_TYPE_BOUNCE,	   /* non-standard bounce text */
};

enum bh_action {
	BH_ACTION_NONE = 0, /* not stated */
	BH_ACTION_FAILED,
	BH_ACTION_DELAYED,
	BH_ACTION_DELIVERED,
	BH_ACTION_RELAYED,
	BH_ACTION_EXPANDED,
};

/* One recipient that a report is about. */
struct bh_rcpt {
	char *address;		    /* the failed address, as reported (normalized: no <>, trimmed);
				     * NULL in a feedback report that names nobody */
	char *original_address;	    /* Original-Recipient, when it differs */
	char status[BH_MAX_STATUS]; /* RFC 3463 "c.s.d", validated; "" when none */
	char reply_code[4];	    /* SMTP reply "550"; "" when none */
	char smtp_command[8];	    /* the command the refusal answered: "CONN", "HELO", "MAIL",
				     * "RCPT", "DATA"; "" when the report does not say */
	enum bh_action action;
	enum bh_reason reason;
	bool hard;	      /* from the reason (bh_reason_hard) */
	enum bh_whose whose;  /* from the reason, or refined by the rule */
	char *diagnostic;     /* Diagnostic-Code or the bounce text's reason line, cut */
	char *remote_mta;     /* Remote-MTA or the host named in the text */
	char *feedback_type;  /* ARF Feedback-Type */
	const char *rule;     /* id of the rule that decided the reason; static or config-owned */
	const char *evidence; /* where the deciding words came from ("diagnostic", "transcript",
			       * "notice", "status", "stage"...; bh_ev_src_name); static, NULL
			       * when no rule decided */
};

/* Headers of the message that bounced (from a text/rfc822-headers or message/rfc822 part),
 * or, for a report without one, what the text quotes. */
struct bh_original {
	char *message_id;
	char *from;
	char *to;
	char *subject;
	char *return_path;
	char *auto_submitted;
	char *list_id;
	char *precedence;
	char *x_autoreply; /* X-Autoreply / X-Autorespond / X-Autoresponder, any */
	char *x_auto_response_suppress;
	char *content_type;	 /* tells whether it was itself a report */
	unsigned received_count; /* Received fields in the returned headers */
	bool present;		 /* a returned message or its headers was found */
};

/* Headers of the report itself (the message in the mailbox). */
struct bh_envelope {
	char *message_id;
	char *from;
	char *subject;
	char *date;
	char *return_path;
	char *auto_submitted;
	char *precedence;
	char *reporting_mta;	    /* DSN Reporting-MTA */
	char *original_envelope_id; /* DSN Original-Envelope-Id */
	/* Where the report was delivered, in the documented order of trust for VERP: */
	char *delivered_to;
	char *x_original_to;
	char *envelope_to; /* Envelope-To or X-Envelope-To */
	char *to;
	bool has_autoreply_headers; /* RFC 3834 / Microsoft / list-manager auto-reply headers */
	/* The message's own top-level header block, verbatim (folded, CRLF or LF, may hold NULs),
	 * cut at the header limits; NULL when not kept. The auto-reply detector reads the vendor
	 * headers (X-Autoreply, X-MS-Exchange-Inbox-Rules-Loop, X-Apple-Action, ticket systems)
	 * from it, so the parser need not know them. */
	char *raw_headers;
	size_t raw_headers_len;
};

struct bh_verp_result {
	bool checked; /* a VERP decode was attempted */
	bool valid;
	char *address; /* the VERP address decoded */
	char *list;
	char *recipient;
	const char *why; /* static reason when !valid */
};

enum bh_loop_kind {
	BH_LOOP_NONE = 0,
	BH_LOOP_AUTOREPLY_BOUNCE,
	BH_LOOP_BOUNCE_OF_BOUNCE,
	BH_LOOP_BACKSCATTER,
	BH_LOOP_REPEAT,
	BH_LOOP_HOPS,
	BH_LOOP_COUNT
};

struct bh_loop_result {
	enum bh_loop_kind kind; /* BH_LOOP_NONE: not detected */
	char *why;
};

struct bh_verdict {
	enum bh_msg_type type;
	struct bh_rcpt *rcpts;
	size_t n_rcpts;
	bool rcpts_truncated; /* more recipients than the limit: the rest were dropped */
	struct bh_original original;
	struct bh_envelope env;
	struct bh_verp_result verp;
	struct bh_loop_result loop;
	const char *recognizer; /* which recognizer produced it ("rfc3464", "qmail", ...) */
	const char *error;	/* static: why the message could not be parsed, else NULL */
	char stable_id[65];	/* hex SHA-256 over Message-ID and content; "" until set */
};

/* bh_verdict_init - zero a verdict the caller embeds. */
void bh_verdict_init(struct bh_verdict *v);
/* bh_verdict_deinit - free everything it owns and zero it. */
void bh_verdict_deinit(struct bh_verdict *v);
/* bh_verdict_add_rcpt - append a zeroed recipient and return it (valid until the next add), or
 * NULL when the recipient limit is reached (rcpts_truncated is then set). */
struct bh_rcpt *bh_verdict_add_rcpt(struct bh_verdict *v, size_t limit);
/* bh_rcpt_set_reason - set reason and derive hard and whose from it; rule may be NULL. */
void bh_rcpt_set_reason(struct bh_rcpt *r, enum bh_reason reason, const char *rule);

const char *bh_msg_type_name(enum bh_msg_type t);
const char *bh_action_name(enum bh_action a);
/* bh_action_parse - DSN Action value (case-insensitive, span), BH_ACTION_NONE if unknown. */
enum bh_action bh_action_parse(const char *p, size_t n);
const char *bh_loop_kind_name(enum bh_loop_kind k);
int bh_loop_kind_lookup(const char *name);

/* bh_verdict_json - append the verdict as one JSON object (no newline) with "source". */
void bh_verdict_json(struct bh_buf *out, const struct bh_verdict *v, const char *source);

#endif

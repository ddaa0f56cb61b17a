/*
 * dsn.h - RFC 3464 message/delivery-status fields (and RFC 6533 message/global-delivery-status):
 * the per-message block and one block per recipient.
 *
 * Input is an untrusted span (the part's body, transfer encoding already undone). Pure: no I/O.
 */
#ifndef BH_DSN_H
#define BH_DSN_H

#include <stdbool.h>
#include <stddef.h>

/* Strings are owned by the bh_dsn, NUL-terminated, NULL when the field is absent. Addresses
 * have their type ("rfc822;", "utf-8;") removed and xtext / utf-8 escapes decoded. */
struct bh_dsn_rcpt {
	char *final_recipient;
	char *original_recipient;
	char *x_actual_recipient;
	char *action;
	char *status;	       /* as written (not validated here) */
	char *status_comment;  /* the text of a comment in Status ("(mailbox full)") */
	char *remote_mta;      /* type removed */
	char *diagnostic;      /* Diagnostic-Code text, type ("smtp;") removed, unfolded */
	char *diagnostic_type; /* "smtp", "x-unix", ... */
	char *last_attempt_date;
	char *will_retry_until;
	char *x_category; /* a sending MTA's own class of the failure ("bad-mailbox": PowerMTA's
			   * X-PowerMTA-BounceCategory) */
};

struct bh_dsn {
	char *reporting_mta;
	char *received_from_mta;
	char *original_envelope_id;
	char *arrival_date;
	struct bh_dsn_rcpt *r;
	size_t n;
	bool truncated; /* more recipient blocks than the limit */
};

/* bh_dsn_parse - parse p[0..n). Recipient blocks beyond max_rcpts are dropped (truncated is
 * set); a block with more than BH_MAX_DSN_FIELDS fields is an error. Returns 0, or -1 with
 * *error_r (static). d must be zeroed; free with bh_dsn_deinit in both cases. */
int bh_dsn_parse(const char *p, size_t n, unsigned max_rcpts, struct bh_dsn *d,
		 const char **error_r);
void bh_dsn_deinit(struct bh_dsn *d);

/* bh_dsn_address - strip an address type and decode it: "rfc822; <a@b>" -> "a@b"; xtext
 * ("+2B") is decoded when xtext is true (Original-Recipient), "utf-8;" \x{HHHH} escapes
 * always. A new string, the caller's. */
char *bh_dsn_address(const char *p, size_t n, bool xtext);

#endif

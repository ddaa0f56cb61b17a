/*
 * arf.h - RFC 5965 message/feedback-report fields: the feedback type and the recipients the
 * report is about. Pure: no I/O.
 */
#ifndef BH_ARF_H
#define BH_ARF_H

#include <stddef.h>

struct bh_arf {
	char *feedback_type; /* lower case, "abuse" when absent */
	char *user_agent;
	char *source_ip;
	char *original_mail_from;
	char **rcpts; /* Original-Rcpt-To, then Removal-Recipient: lower-case addresses */
	size_t n_rcpts;
};

/* bh_arf_parse - parse the fields of a feedback-report part p[0..n). At most max_rcpts
 * addresses are kept. Returns 0, or -1 with *error_r (static). Free with bh_arf_deinit. */
int bh_arf_parse(const char *p, size_t n, unsigned max_rcpts, struct bh_arf *a,
		 const char **error_r);
void bh_arf_deinit(struct bh_arf *a);

#endif

/*
 * arf.c - RFC 5965 section 3.1 / 3.2 feedback-report fields (and the RFC 6591 auth-failure
 * type's same fields). Recipients come from Original-Rcpt-To (may repeat), then
 * Removal-Recipient (RFC 6650 3); the classifier falls back on the returned message's To.
 */
#include "arf.h"

#include <stdlib.h>
#include <string.h>

#include "bh_limits.h"
#include "message.h"
#include "text.h"
#include "util.h"

/* add_rcpt - one more distinct recipient, up to max */
static void
add_rcpt(struct bh_arf *a, unsigned max, const char *p, size_t n)
{
	char *addr = bh_text_first_addr(p, n);
	size_t i;

	if (addr == NULL)
		return;
	for (i = 0; i < a->n_rcpts; i++)
		if (strcmp(a->rcpts[i], addr) == 0) {
			free(addr);
			return;
		}
	if (a->n_rcpts >= max) {
		free(addr);
		return;
	}
	a->rcpts = bh_reallocarray(a->rcpts, a->n_rcpts + 1, sizeof(*a->rcpts));
	a->rcpts[a->n_rcpts++] = addr;
}

/* bh_arf_parse - the report's fields */
int
bh_arf_parse(const char *p, size_t n, unsigned max_rcpts, struct bh_arf *a, const char **error_r)
{
	struct bh_header h;
	size_t i;
	int pass;

	memset(a, 0, sizeof(*a));
	if (bh_header_parse(p, n, BH_DEF_HEADER_LINE, BH_MAX_DSN_FIELDS, &h, error_r) == -1) {
		bh_header_deinit(&h);
		*error_r = "feedback report too large";
		return -1;
	}
	for (i = 0; i < h.n; i++) {
		const struct bh_field *f = &h.v[i];
		const char *v = f->value;
		size_t vn = f->value_len;

		bh_span_trim(&v, &vn);
		if (bh_span_ieq(f->name, f->name_len, "Feedback-Type") &&
		    a->feedback_type == NULL) {
			a->feedback_type = bh_text_clean(v, vn, 64);
			bh_lower_ascii(a->feedback_type);
		} else if (bh_span_ieq(f->name, f->name_len, "User-Agent") && a->user_agent == NULL)
			a->user_agent = bh_text_clean(v, vn, BH_MAX_FIELD_VALUE);
		else if (bh_span_ieq(f->name, f->name_len, "Source-IP") && a->source_ip == NULL)
			a->source_ip = bh_text_clean(v, vn, 64);
		else if (bh_span_ieq(f->name, f->name_len, "Original-Mail-From") &&
			 a->original_mail_from == NULL)
			a->original_mail_from = bh_text_first_addr(v, vn);
	}
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < h.n; i++) {
			const struct bh_field *f = &h.v[i];

			if (bh_span_ieq(f->name, f->name_len,
					pass == 0 ? "Original-Rcpt-To" : "Removal-Recipient"))
				add_rcpt(a, max_rcpts, f->value, f->value_len);
		}
	if (a->feedback_type == NULL || a->feedback_type[0] == '\0') {
		free(a->feedback_type);
		a->feedback_type = bh_strdup("abuse");
	}
	bh_header_deinit(&h);
	return 0;
}

/* bh_arf_deinit - free the report */
void
bh_arf_deinit(struct bh_arf *a)
{
	size_t i;

	free(a->feedback_type);
	free(a->user_agent);
	free(a->source_ip);
	free(a->original_mail_from);
	for (i = 0; i < a->n_rcpts; i++)
		free(a->rcpts[i]);
	free(a->rcpts);
	memset(a, 0, sizeof(*a));
}

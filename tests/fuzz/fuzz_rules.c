/*
 * fuzz_rules.c - random status, reply code and text into bh_rules_decide.
 *
 * Input: "status\nreply\ntext..." (any bytes; missing lines are empty). The status and reply are
 * cut to their field sizes, as the classifier would hand them over; the text is passed as is.
 * Each input is decided twice, with and without the literal prefilter: the results must agree.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bh_limits.h"
#include "rules.h"
#include "util.h"

static struct bh_rules *rules;

/* take_line - copy the next line (at most cap - 1 bytes) and advance */
static void
take_line(const uint8_t **p, size_t *n, char *out, size_t cap)
{
	const uint8_t *nl = memchr(*p, '\n', *n);
	size_t len = nl != NULL ? (size_t)(nl - *p) : *n;

	snprintf(out, cap, "%.*s", (int)(len < cap ? len : cap - 1), (const char *)*p);
	*p += nl != NULL ? len + 1 : len;
	*n -= nl != NULL ? len + 1 : len;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bh_rules_result res, res2;
	char status[BH_MAX_STATUS], reply[4];
	const char *err = NULL;

	if (rules == NULL) {
		rules = bh_rules_new(NULL, 0, false, 0, &err);
		if (rules == NULL)
			bh_fatal("bh_rules_new: %s", err);
	}
	take_line(&data, &size, status, sizeof(status));
	take_line(&data, &size, reply, sizeof(reply));
	bh_rules_decide(rules, status, reply, (const char *)data, size, &res);
	if ((unsigned)res.reason >= BH_R_COUNT || res.rule == NULL)
		bh_fatal("bh_rules_decide: bad result");
	/* the literal prefilter must never change a decision */
	bh_rules_set_prefilter(rules, false);
	bh_rules_decide(rules, status, reply, (const char *)data, size, &res2);
	bh_rules_set_prefilter(rules, true);
	if (strcmp(res.rule, res2.rule) != 0)
		bh_fatal("prefilter changed the decision: %s vs %s", res.rule, res2.rule);
	(void)bh_reason_name(res.reason);
	(void)bh_whose_name(res.whose);
	return 0;
}

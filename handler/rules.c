/*
 * rules.c - placeholder reason engine: the status class alone, until the real table lands.
 */
#include "rules.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct bh_rules {
	int unused;
};

struct bh_rules *
bh_rules_new(const struct bh_rule_conf *extra, size_t n, bool replace, unsigned match_limit,
	     const char **error_r)
{
	(void)extra, (void)n, (void)replace, (void)match_limit, (void)error_r;
	return bh_calloc(1, sizeof(struct bh_rules));
}

void
bh_rules_free(struct bh_rules **rules)
{
	if (rules == NULL)
		return;
	free(*rules);
	*rules = NULL;
}

const char *
bh_rules_version(const struct bh_rules *rules)
{
	(void)rules;
	return "placeholder";
}

void
bh_rules_decide(const struct bh_rules *rules, const char *status, const char *reply_code,
		const char *text, size_t text_len, struct bh_rules_result *out)
{
	(void)rules, (void)reply_code, (void)text, (void)text_len;
	out->reason = strcmp(status, "5.1.1") == 0 ? BH_R_USERUNKNOWN : BH_R_UNDEFINED;
	out->whose = bh_reason_whose(out->reason);
	out->rule = "placeholder";
}

bool
bh_status_valid(const char *p, size_t n)
{
	size_t i = 0, digits;
	int part;

	if (n < 5 || (p[0] != '2' && p[0] != '4' && p[0] != '5') || p[1] != '.')
		return false;
	i = 2;
	for (part = 0; part < 2; part++) {
		digits = 0;
		while (i < n && isdigit((unsigned char)p[i]) && digits < 3)
			i++, digits++;
		if (digits == 0)
			return false;
		if (part == 0) {
			if (i >= n || p[i] != '.')
				return false;
			i++;
		}
	}
	return i == n;
}

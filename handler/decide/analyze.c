/*
 * analyze.c - classify, then VERP, then loops: one function so that `bouncer classify` shows
 * exactly what the worker will decide from.
 */
#include "analyze.h"

#include "verp_locate.h"

/* bh_analyze_verp_configured - can verp verify a VERP address at all */
bool
bh_analyze_verp_configured(const struct bh_verp_conf *verp)
{
	if (verp == NULL || verp->domain[0] == '\0')
		return false;
	return verp->format == BH_VERP_CLASSIC || verp->n_keys > 0;
}

/* bh_analyze - classify, locate the VERP address, check for loops */
int
bh_analyze(const struct bh_analyze_settings *set, const struct bh_classify_opts *opts,
	   const char *data, size_t len, int64_t now, struct bh_verdict *v)
{
	int ret = bh_classify(opts, data, len, v);

	if (ret == -1)
		return -1;
	if (bh_analyze_verp_configured(set->verp))
		bh_verp_locate(set->verp, v, now);
	bh_loop_check(&set->loop, v);
	return 0;
}

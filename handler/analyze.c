/*
 * analyze.c - classify, then VERP, then loops: one function so that `bouncer classify` shows
 * exactly what the worker will decide from.
 */
#include "analyze.h"

#include "loop.h"
#include "verp_locate.h"

/* bh_analyze_verp_configured - can cfg verify a VERP address at all */
bool
bh_analyze_verp_configured(const struct bh_config *cfg)
{
	if (cfg->verp.domain[0] == '\0')
		return false;
	return cfg->verp.format == BH_VERP_CLASSIC || cfg->verp.n_keys > 0;
}

/* bh_analyze - classify, locate the VERP address, check for loops */
int
bh_analyze(const struct bh_config *cfg, const struct bh_classify_opts *opts, const char *data,
	   size_t len, int64_t now, struct bh_verdict *v)
{
	int ret = bh_classify(opts, data, len, v);

	if (ret == -1)
		return -1;
	if (bh_analyze_verp_configured(cfg))
		bh_verp_locate(&cfg->verp, v, now);
	bh_loop_check(cfg, v);
	return 0;
}

/*
 * analyze.h - the pure front half of the pipeline, shared by `bouncer classify` and the worker:
 * parse and classify -> locate and verify the VERP address -> loop check.
 *
 * Pure: no I/O, no logging.
 */
#ifndef BH_ANALYZE_H
#define BH_ANALYZE_H

#include <stddef.h>
#include <stdint.h>

#include "classify.h"
#include "loop.h"
#include "verdict.h"
#include "verp_conf.h"

/* What the steps after classifying read (filled by the configuration:
 * bh_config_analyze_settings). */
struct bh_analyze_settings {
	const struct bh_verp_conf *verp; /* borrowed; NULL or not configured
					  * (bh_analyze_verp_configured): no VERP check */
	struct bh_loop_settings loop;
};

/* bh_analyze_verp_configured - true when verp can verify VERP addresses (a bounce domain, and
 * for the signed format at least one key). Without it no VERP check is made (verp.checked stays
 * false) and nothing is ever suppressed from such a verdict. NULL: false. */
bool bh_analyze_verp_configured(const struct bh_verp_conf *verp);

/* bh_analyze - fill v (bh_verdict_init'ed by the caller) from data[0..len) at time now.
 * Returns what bh_classify returns: 0, or -1 when the message could not be parsed (v->error). */
int bh_analyze(const struct bh_analyze_settings *set, const struct bh_classify_opts *opts,
	       const char *data, size_t len, int64_t now, struct bh_verdict *v);

#endif

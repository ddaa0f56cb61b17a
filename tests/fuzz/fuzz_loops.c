/*
 * fuzz_loops.c - a whole message through classify, the auto-reply detector (over its raw header
 * block and body) and the loop check, with and without a configuration: never a crash, a leak
 * or undefined behaviour, whatever the bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "autoreply.h"
#include "classify.h"
#include "config.h"
#include "loop.h"
#include "rules.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* header_end - length of the header block of p[0..n) (up to the first empty line). */
static size_t
header_end(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i++) {
		if (p[i] == '\n' && p[i + 1] == '\n')
			return i + 1;
		if (p[i] == '\n' && p[i + 1] == '\r' && i + 2 < n && p[i + 2] == '\n')
			return i + 1;
	}
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *domains[] = {"ours.example", "example.com"};
	static struct bh_config *cfg;
	static struct bh_rules *rules;
	static struct bh_classify_settings limits;
	const char *p = (const char *)data, *why = NULL;
	struct bh_loop_settings set;
	struct bh_classify_opts opts;
	struct bh_verdict v;
	struct bh_buf out;
	const char *err;
	size_t hl;

	if (cfg == NULL) {
		cfg = bh_config_defaults();
		rules = bh_rules_new(NULL, 0, false, cfg->limits.regex_match_limit, &err);
		limits = bh_config_classify_settings(cfg);
	}
	opts.rules = rules;
	opts.settings = &limits;
	bh_verdict_init(&v);
	(void)bh_classify(&opts, p, size, &v);

	/* The detector over the raw header block and the body, as the parser may hand them. */
	hl = header_end(p, size);
	free(v.env.raw_headers);
	v.env.raw_headers = bh_memdup0(p, hl);
	v.env.raw_headers_len = hl;
	(void)bh_autoreply_detect(&v.env, p + hl, size - hl, &why);
	(void)bh_autoreply_subject(v.original.subject, true, &why);

	/* Loops: no config, then our domains with a VERP that failed or held. */
	bh_loop_check(NULL, &v);
	free(v.loop.why);
	v.loop.why = NULL;
	v.loop.kind = BH_LOOP_NONE;
	set = bh_config_loop_settings(cfg);
	set.our_domains = domains;
	set.n_our_domains = BH_NELEM(domains);
	set.verp_verifies = true;
	v.verp.checked = true;
	v.verp.valid = size > 0 && (data[0] & 1);
	if (v.verp.address == NULL && v.env.to != NULL)
		v.verp.address = bh_strdup(v.env.to);
	bh_loop_check(&set, &v);

	bh_buf_init(&out);
	bh_verdict_json(&out, &v, "fuzz");
	bh_buf_deinit(&out);
	bh_verdict_deinit(&v);
	return 0;
}

/*
 * fuzz_message.c - a whole message in, a verdict (and its JSON) out: never a crash, a leak or
 * undefined behaviour, whatever the bytes.
 */
#include <stdint.h>
#include <stdlib.h>

#include "classify.h"
#include "config.h"
#include "rules.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct bh_config *cfg;
	static struct bh_rules *rules;
	static struct bh_classify_settings limits;
	struct bh_classify_opts opts;
	struct bh_verdict v;
	struct bh_buf out;
	const char *err;

	if (cfg == NULL) {
		cfg = bh_config_defaults();
		rules = bh_rules_new(NULL, 0, false, cfg->limits.regex_match_limit, &err);
		limits = bh_config_classify_settings(cfg);
	}
	opts.rules = rules;
	opts.settings = &limits;
	bh_verdict_init(&v);
	(void)bh_classify(&opts, (const char *)data, size, &v);
	bh_buf_init(&out);
	bh_verdict_json(&out, &v, "fuzz");
	bh_buf_deinit(&out);
	bh_verdict_deinit(&v);
	return 0;
}

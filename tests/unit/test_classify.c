/*
 * test_classify.c - what the golden verdicts cannot show. The full verdict of every fixture is
 * its golden tests/fixtures/NAME.json (tests/cli/test_golden.sh; docs/testing.md); here, over
 * every fixture, the invariants of the API that the JSON does not carry (bh_classify returns
 * 0, the header block is kept verbatim for the auto-reply detector, the stable id is 64 hex
 * digits, no diagnostic is longer than BH_MAX_DIAGNOSTIC), the classifier's settings as the
 * configuration fills them, and the limits those settings impose.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "bh_limits.h"
#include "classify.h"
#include "config.h"
#include "rules.h"
#include "test.h"
#include "util.h"

/* classify_fixture - read tests/fixtures/file and classify it into v (initialized here; the
 * caller deinits it); 0 or -1 as bh_classify, -2 (a test failure) when it cannot be read.
 * data_r (may be NULL) gets the message, the caller's to free. */
static int
classify_fixture(const struct bh_classify_opts *opts, const char *file, struct bh_verdict *v,
		 char **data_r, size_t *len_r)
{
	char *path = bh_asprintf("%s/tests/fixtures/%s", BH_SOURCE_DIR, file), *data;
	const char *err;
	size_t len;
	int ret;

	bh_verdict_init(v);
	if (bh_read_file(path, 1u << 24, &data, &len, &err) == -1) {
		TEST_FAIL("%s: %s", path, err);
		free(path);
		return -2;
	}
	ret = bh_classify(opts, data, len, v);
	if (data_r != NULL) {
		*data_r = data;
		*len_r = len;
	} else
		free(data);
	free(path);
	return ret;
}

/* check_invariants - classify every .eml of tests/fixtures/sub and check what JSON can't show */
static void
check_invariants(const struct bh_classify_opts *opts, const char *sub)
{
	char *dir = bh_asprintf("%s/tests/fixtures%s%s", BH_SOURCE_DIR, sub[0] ? "/" : "", sub);
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0, k;

	if (d == NULL) {
		TEST_FAIL("%s: cannot open", dir);
		free(dir);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		size_t nl = strlen(de->d_name), len;
		char *file, *data = NULL;
		struct bh_verdict v;

		if (nl < 5 || strcmp(de->d_name + nl - 4, ".eml") != 0)
			continue;
		file = bh_asprintf("%s%s%s", sub, sub[0] ? "/" : "", de->d_name);
		fprintf(stderr, "-- %s\n", file);
		CHECK_INT(classify_fixture(opts, file, &v, &data, &len), 0);
		CHECK_INT(strlen(v.stable_id), 64);
		/* the header block, verbatim, for the auto-reply detector */
		CHECK(data != NULL && v.env.raw_headers != NULL && v.env.raw_headers_len > 0 &&
		      v.env.raw_headers_len <= len &&
		      memcmp(v.env.raw_headers, data, v.env.raw_headers_len) == 0);
		for (k = 0; k < v.n_rcpts; k++)
			CHECK(v.rcpts[k].diagnostic == NULL ||
			      strlen(v.rcpts[k].diagnostic) <= BH_MAX_DIAGNOSTIC);
		bh_verdict_deinit(&v);
		free(data);
		free(file);
		n++;
	}
	closedir(d);
	CHECK(n > 0);
	free(dir);
}

int
main(void)
{
	struct bh_classify_settings limits = {
	    .message_size = BH_DEF_MESSAGE_SIZE,
	    .recipients = BH_DEF_RECIPIENTS,
	    .mime = {BH_DEF_MIME_DEPTH, BH_DEF_MIME_PARTS, BH_DEF_HEADER_LINE, BH_DEF_HEADER_COUNT},
	};
	struct bh_config *cfg = bh_config_defaults();
	const char *err = NULL;
	struct bh_rules *rules = bh_rules_new(NULL, 0, false, BH_DEF_REGEX_MATCH_LIMIT, &err);
	struct bh_classify_opts opts = {rules, &limits};

	CHECK(rules != NULL);
	{
		/* the configuration's defaults fill the settings with bh_limits.h's */
		struct bh_classify_settings c = bh_config_classify_settings(cfg);

		CHECK_INT(c.message_size, limits.message_size);
		CHECK_INT(c.recipients, limits.recipients);
		CHECK_INT(c.mime.mime_depth, limits.mime.mime_depth);
		CHECK_INT(c.mime.mime_parts, limits.mime.mime_parts);
		CHECK_INT(c.mime.header_line, limits.mime.header_line);
		CHECK_INT(c.mime.header_count, limits.mime.header_count);
		CHECK_INT(cfg->limits.regex_match_limit, BH_DEF_REGEX_MATCH_LIMIT);
	}
	check_invariants(&opts, "");
	check_invariants(&opts, "loops");
	{
		/* limits: too large, too deep */
		struct bh_classify_settings small = limits;
		struct bh_classify_opts o2 = {rules, &small};
		struct bh_verdict v;
		const char *deep =
		    "Content-Type: message/rfc822\n\nContent-Type: message/rfc822\n\n"
		    "Content-Type: message/rfc822\n\nx";

		small.message_size = 10;
		bh_verdict_init(&v);
		CHECK_INT(bh_classify(&o2, "0123456789ABCDEF", 16, &v), -1);
		CHECK_STR(v.error, "message too large");
		CHECK_INT(strlen(v.stable_id), 64);
		bh_verdict_deinit(&v);
		CHECK_INT(bh_classify(&o2, "From: a@b.example\n\nbody", 24, &v), -1);
		CHECK_STR(v.error, "message too large");
		CHECK_STR(v.env.from, "a@b.example");
		bh_verdict_deinit(&v);
		small.message_size = 1000;
		small.mime.mime_depth = 1;
		CHECK_INT(bh_classify(&o2, deep, strlen(deep), &v), -1);
		CHECK_STR(v.error, "MIME nesting too deep");
		CHECK_STR(bh_msg_type_name(v.type), "not_bounce");
		bh_verdict_deinit(&v);
	}
	bh_rules_free(&rules);
	bh_config_free(&cfg);
	return test_done("test_classify");
}

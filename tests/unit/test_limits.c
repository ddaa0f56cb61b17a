/*
 * test_limits.c - every limit of bh_limits.h that the `limits:` section configures, met just under
 * and just over by a crafted message: under it the message is read as usual, over it the outcome
 * is clean (a verdict error that quarantines the message, or the truncation flag), never a
 * crash or a hang. Also: the `limits:` keys load and their ranges are enforced, and a crafted
 * backtracking text costs bounded time through the whole classify path.
 */
#include <stdint.h>
#include <string.h>

#include "classify.h"
#include "dsn.h"
#include "config.h"
#include "rules.h"
#include "test.h"
#include "util.h"

static struct bh_rules *rules;

/* run - classify data under lim (as the configuration fills the classifier's settings);
 * returns bh_classify's result, v filled (caller deinits) */
static int
run(const struct bh_limits_conf *lim, const struct bh_buf *msg, struct bh_verdict *v)
{
	struct bh_config cfg;
	struct bh_classify_settings set;
	struct bh_classify_opts o = {rules, &set};

	memset(&cfg, 0, sizeof(cfg));
	cfg.limits = *lim;
	set = bh_config_classify_settings(&cfg);

	bh_verdict_init(v);
	return bh_classify(&o, msg->data != NULL ? msg->data : "", msg->len, v);
}

/* expect - one case: ret, and the error (NULL: none) */
#define EXPECT(lim, msg, want_ret, want_err)                                                       \
	do {                                                                                       \
		struct bh_verdict v_;                                                              \
		CHECK_INT(run((lim), (msg), &v_), (want_ret));                                     \
		CHECK_STR(v_.error, (want_err));                                                   \
		CHECK_INT(strlen(v_.stable_id), 64);                                               \
		bh_verdict_deinit(&v_);                                                            \
	} while (0)

/* dsn_head - the header and the first parts of a DSN to alice */
static void
dsn_head(struct bh_buf *b)
{
	bh_buf_printf(b, "From: MAILER-DAEMON@mx.example.com\r\n"
			 "To: bounces@example.com\r\n"
			 "Subject: Undelivered Mail Returned to Sender\r\n"
			 "Message-ID: <limits@mx.example.com>\r\n"
			 "MIME-Version: 1.0\r\n"
			 "Content-Type: multipart/report; report-type=delivery-status; "
			 "boundary=\"B\"\r\n\r\n"
			 "--B\r\nContent-Type: text/plain\r\n\r\nsorry\r\n");
}

/* dsn_status - a delivery-status part with n recipient blocks, then the end */
static void
dsn_status(struct bh_buf *b, unsigned n)
{
	unsigned i;

	bh_buf_printf(b, "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
			 "Reporting-MTA: dns; mx.example.com\r\n\r\n");
	for (i = 0; i < n; i++)
		bh_buf_printf(
		    b,
		    "Final-Recipient: rfc822; u%u@example.net\r\nAction: failed\r\n"
		    "Status: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n",
		    i);
	bh_buf_printf(b, "--B--\r\n");
}

/* test_message_size - exactly the limit is read, one byte more is refused */
static void
test_message_size(const struct bh_limits_conf *def)
{
	struct bh_limits_conf lim = *def;
	struct bh_buf b;

	bh_buf_init(&b);
	dsn_head(&b);
	dsn_status(&b, 1);
	lim.message_size = b.len;
	EXPECT(&lim, &b, 0, NULL);
	lim.message_size = b.len - 1;
	EXPECT(&lim, &b, -1, "message too large");
	bh_buf_deinit(&b);
}

/* nested - a message whose body nests `depth` multiparts inside the top-level one */
static void
nested(struct bh_buf *b, unsigned depth)
{
	unsigned i;

	bh_buf_reset(b);
	bh_buf_printf(b, "From: x@example.net\nMIME-Version: 1.0\n"
			 "Content-Type: multipart/mixed; boundary=\"b0\"\n\n");
	for (i = 0; i < depth; i++)
		bh_buf_printf(b, "--b%u\nContent-Type: multipart/mixed; boundary=\"b%u\"\n\n", i,
			      i + 1);
	bh_buf_printf(b, "--b%u\nContent-Type: text/plain\n\nhi\n", depth);
	for (i = depth + 1; i > 0; i--)
		bh_buf_printf(b, "--b%u--\n", i - 1);
}

/* test_mime_depth - the leaf of a message nested to the limit is read; one more level is not */
static void
test_mime_depth(const struct bh_limits_conf *def)
{
	struct bh_limits_conf lim = *def;
	struct bh_buf b;

	bh_buf_init(&b);
	/* the top-level part is depth 0; its multipart child 1; the leaf is at depth+1 */
	nested(&b, lim.mime_depth - 1);
	EXPECT(&lim, &b, 0, NULL);
	nested(&b, lim.mime_depth);
	EXPECT(&lim, &b, -1, "MIME nesting too deep");
	lim.mime_depth = 3;
	nested(&b, 2);
	EXPECT(&lim, &b, 0, NULL);
	nested(&b, 3);
	EXPECT(&lim, &b, -1, "MIME nesting too deep");
	/* far beyond any configured depth: the hard ceiling, still a clean error */
	lim.mime_depth = BH_MAX_MIME_DEPTH;
	nested(&b, BH_MAX_MIME_DEPTH + 10);
	EXPECT(&lim, &b, -1, "MIME nesting too deep");
	/* message/rfc822 nesting counts the same way */
	bh_buf_reset(&b);
	{
		unsigned i;

		for (i = 0; i < 3; i++)
			bh_buf_printf(&b, "Content-Type: message/rfc822\n\n");
		bh_buf_printf(&b, "Subject: inner\n\nx\n");
	}
	lim.mime_depth = 3;
	EXPECT(&lim, &b, 0, NULL);
	lim.mime_depth = 2;
	EXPECT(&lim, &b, -1, "MIME nesting too deep");
	bh_buf_deinit(&b);
}

/* flat - a multipart with n leaf parts (n + 1 parts in all) */
static void
flat(struct bh_buf *b, unsigned n)
{
	unsigned i;

	bh_buf_reset(b);
	bh_buf_printf(b, "From: x@example.net\nMIME-Version: 1.0\n"
			 "Content-Type: multipart/mixed; boundary=\"F\"\n\n");
	for (i = 0; i < n; i++)
		bh_buf_printf(b, "--F\nContent-Type: text/plain\n\npart %u\n", i);
	bh_buf_printf(b, "--F--\n");
}

/* test_mime_parts - the limit counts every part, the top-level one included */
static void
test_mime_parts(const struct bh_limits_conf *def)
{
	struct bh_limits_conf lim = *def;
	struct bh_buf b;

	bh_buf_init(&b);
	flat(&b, lim.mime_parts - 1);
	EXPECT(&lim, &b, 0, NULL);
	flat(&b, lim.mime_parts);
	EXPECT(&lim, &b, -1, "too many MIME parts");
	lim.mime_parts = 5;
	flat(&b, 4);
	EXPECT(&lim, &b, 0, NULL);
	flat(&b, 5);
	EXPECT(&lim, &b, -1, "too many MIME parts");
	bh_buf_deinit(&b);
}

/* long_field - a message whose Subject value is n bytes (after "Subject:") */
static void
long_field(struct bh_buf *b, size_t n, bool folded)
{
	size_t i;

	bh_buf_reset(b);
	bh_buf_printf(b, "From: x@example.net\nSubject:");
	for (i = 0; i < n; i++) {
		if (folded && i > 0 && i % 70 == 0) {
			bh_buf_printf(b, "\n ");
			i++; /* the folding space is part of the value */
			if (i >= n)
				break;
		}
		bh_buf_append(b, "s", 1);
	}
	bh_buf_printf(b, "\n\nbody\n");
}

/* test_header_line - a field of limit - 1 value bytes is kept; limit bytes is refused */
static void
test_header_line(const struct bh_limits_conf *def)
{
	struct bh_limits_conf lim = *def;
	struct bh_buf b;

	bh_buf_init(&b);
	long_field(&b, lim.header_line - 1, false);
	EXPECT(&lim, &b, 0, NULL);
	long_field(&b, lim.header_line, false);
	EXPECT(&lim, &b, -1, "header field too long");
	lim.header_line = 1024;
	long_field(&b, 1023, false);
	EXPECT(&lim, &b, 0, NULL);
	long_field(&b, 1024, false);
	EXPECT(&lim, &b, -1, "header field too long");
	/* folded over many lines: the unfolded length counts */
	long_field(&b, 900, true);
	EXPECT(&lim, &b, 0, NULL);
	long_field(&b, 5000, true);
	EXPECT(&lim, &b, -1, "header field too long");
	/* inside a MIME part too */
	bh_buf_reset(&b);
	bh_buf_printf(&b, "From: x@example.net\nContent-Type: multipart/mixed; boundary=\"F\"\n\n"
			  "--F\nX-Long: ");
	{
		size_t i;

		for (i = 0; i < 2000; i++)
			bh_buf_append(&b, "p", 1);
	}
	bh_buf_printf(&b, "\n\nx\n--F--\n");
	EXPECT(&lim, &b, -1, "header field too long");
	bh_buf_deinit(&b);
}

/* many_fields - a header of n fields */
static void
many_fields(struct bh_buf *b, unsigned n)
{
	unsigned i;

	bh_buf_reset(b);
	for (i = 0; i < n; i++)
		bh_buf_printf(b, "X-F%u: v\n", i);
	bh_buf_printf(b, "\nbody\n");
}

/* test_header_count - limit fields are read, one more is refused */
static void
test_header_count(const struct bh_limits_conf *def)
{
	struct bh_limits_conf lim = *def;
	struct bh_buf b;

	bh_buf_init(&b);
	many_fields(&b, lim.header_count);
	EXPECT(&lim, &b, 0, NULL);
	many_fields(&b, lim.header_count + 1);
	EXPECT(&lim, &b, -1, "too many header fields");
	lim.header_count = 10;
	many_fields(&b, 10);
	EXPECT(&lim, &b, 0, NULL);
	many_fields(&b, 11);
	EXPECT(&lim, &b, -1, "too many header fields");
	bh_buf_deinit(&b);
}

/* recipients_case - a DSN of n recipients under limit max */
static void
recipients_case(const struct bh_limits_conf *def, unsigned max, unsigned n)
{
	struct bh_limits_conf lim = *def;
	struct bh_verdict v;
	struct bh_buf b;
	unsigned want = n < max ? n : max;

	lim.recipients = max;
	bh_buf_init(&b);
	dsn_head(&b);
	dsn_status(&b, n);
	CHECK_INT(run(&lim, &b, &v), 0);
	CHECK_STR(v.error, NULL);
	CHECK_STR(bh_msg_type_name(v.type), "dsn");
	CHECK_INT(v.n_rcpts, want);
	CHECK_INT(v.rcpts_truncated, n > max);
	if (v.n_rcpts == want && want > 0) {
		char *last = bh_asprintf("u%u@example.net", want - 1);

		CHECK_STR(v.rcpts[0].address, "u0@example.net");
		CHECK_STR(v.rcpts[want - 1].address, last);
		free(last);
	}
	if (n > max) {
		/* the JSON output shows the cut */
		struct bh_buf j;

		bh_buf_init(&j);
		bh_verdict_json(&j, &v, "limits");
		bh_buf_append(&j, "", 1);
		CHECK(strstr(j.data, "\"recipients_truncated\":true") != NULL);
		bh_buf_deinit(&j);
	}
	bh_verdict_deinit(&v);
	bh_buf_deinit(&b);
}

/* test_recipients - recipients per report: at the limit all, one more sets the flag */
static void
test_recipients(const struct bh_limits_conf *def)
{
	recipients_case(def, def->recipients, def->recipients);
	recipients_case(def, def->recipients, def->recipients + 1);
	recipients_case(def, 3, 3);
	recipients_case(def, 3, 4);
	recipients_case(def, 1, 50);
}

/* test_regex_time - a crafted diagnostic against a backtracking config rule, through the whole
 * classify path: bounded time, and under the limit the same rule still matches */
static void
test_regex_time(const struct bh_limits_conf *def)
{
	struct bh_rule_conf conf = {
	    .id = (char *)"evil", .pattern = (char *)"(x+x+)+y", .reason = BH_R_BLOCKED};
	struct bh_limits_conf lim = *def;
	struct bh_rules *evil, *save = rules;
	struct bh_verdict v;
	struct bh_buf b;
	const char *err = NULL;
	int64_t t0, ms;
	unsigned i;

	evil = bh_rules_new(&conf, 1, false, lim.regex_match_limit, &err);
	CHECK(evil != NULL);
	if (evil == NULL)
		return;
	rules = evil;
	bh_buf_init(&b);
	for (int matching = 0; matching < 2; matching++) {
		bh_buf_reset(&b);
		dsn_head(&b);
		bh_buf_printf(&b, "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
				  "Reporting-MTA: dns; mx.example.com\r\n\r\n"
				  "Final-Recipient: rfc822; u@example.net\r\nAction: failed\r\n"
				  "Status: 5.0.0\r\nDiagnostic-Code: smtp; 550 ");
		for (i = 0; i < (matching ? 20u : 3000u); i++)
			bh_buf_append(&b, "x", 1);
		bh_buf_printf(&b, "%s\r\n\r\n--B--\r\n", matching ? "y" : "");
		t0 = bh_mono_ms();
		CHECK_INT(run(&lim, &b, &v), 0);
		ms = bh_mono_ms() - t0;
		CHECK_INT(v.n_rcpts, 1);
		if (ms >= 2000)
			TEST_FAIL("classify took %lld ms on a backtracking text", (long long)ms);
		if (v.n_rcpts == 1)
			CHECK_STR(v.rcpts[0].rule, matching ? "config:evil" : "none");
		bh_verdict_deinit(&v);
	}
	bh_buf_deinit(&b);
	rules = save;
	bh_rules_free(&evil);

	/* the built-in table on a long hostile diagnostic: bounded too */
	bh_buf_init(&b);
	dsn_head(&b);
	bh_buf_printf(&b, "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
			  "Reporting-MTA: dns; mx.example.com\r\n\r\n"
			  "Final-Recipient: rfc822; u@example.net\r\nAction: failed\r\n"
			  "Status: 5.0.0\r\nDiagnostic-Code: smtp; 550");
	for (i = 0; i < 3000; i++)
		bh_buf_printf(&b, " user %s", i % 2 ? "unknown mailbox full" : "blocked spam");
	bh_buf_printf(&b, "\r\n\r\n--B--\r\n");
	t0 = bh_mono_ms();
	CHECK_INT(run(&lim, &b, &v), 0);
	ms = bh_mono_ms() - t0;
	if (ms >= 2000)
		TEST_FAIL("classify took %lld ms on a long hostile diagnostic", (long long)ms);
	bh_verdict_deinit(&v);
	bh_buf_deinit(&b);
}

/* test_linear - shapes that once cost quadratic time stay linear: a delivery-status part of
 * indented lines (every line a continuation without a field; found by fuzz_dsn) */
static void
test_linear(void)
{
	struct bh_buf b;
	struct bh_dsn d;
	const char *err = NULL;
	int64_t t0, ms;
	unsigned i;

	bh_buf_init(&b);
	bh_buf_printf(&b, "{\n");
	for (i = 0; i < 60000; i++)
		bh_buf_printf(&b, "  \"k%u\": \"v\",\n", i);
	t0 = bh_mono_ms();
	(void)bh_dsn_parse(b.data, b.len, 1000, &d, &err);
	ms = bh_mono_ms() - t0;
	bh_dsn_deinit(&d);
	if (ms >= 1000)
		TEST_FAIL("bh_dsn_parse took %lld ms on %zu bytes of indented lines", (long long)ms,
			  b.len);
	bh_buf_deinit(&b);
}

/* load - a minimal config plus yaml; returns it or NULL with the first problem in *why */
static struct bh_config *
load(const char *yaml, char **why)
{
	struct bh_config_diags d = {NULL, 0};
	char *text =
	    bh_asprintf("imap: {host: mail.example.com, user: u, password_env: BH_LIM_PW}\n"
			"verp: {domain: b.example.com, keys: [{id: k1, env: BH_LIM_KEY}]}\n"
			"%s",
			yaml);
	struct bh_config *c = bh_config_load_buffer("limits.yaml", text, strlen(text), &d);

	free(text);

	*why = NULL;
	if (c == NULL && d.n > 0)
		*why = bh_strdup(d.v[0].message);
	bh_config_diags_deinit(&d);
	return c;
}

/* test_config - each key loads, defaults are the bh_limits.h ones, out-of-range values refused */
static void
test_config(void)
{
	static const char *bad[] = {
	    "limits:\n  message_size: 100\n",	  "limits:\n  message_size: 1GB\n",
	    "limits:\n  mime_depth: 0\n",	  "limits:\n  mime_depth: 65\n",
	    "limits:\n  mime_parts: 0\n",	  "limits:\n  header_line: 10\n",
	    "limits:\n  header_count: 5\n",	  "limits:\n  recipients: 0\n",
	    "limits:\n  regex_match_limit: 10\n", "limits:\n  hop_limit: -1\n",
	    "limits:\n  recipients: many\n",
	};
	struct bh_config *c;
	char *why;
	size_t i;

	c = bh_config_defaults();
	CHECK_INT(c->limits.message_size, BH_DEF_MESSAGE_SIZE);
	CHECK_INT(c->limits.mime_depth, BH_DEF_MIME_DEPTH);
	CHECK_INT(c->limits.mime_parts, BH_DEF_MIME_PARTS);
	CHECK_INT(c->limits.header_line, BH_DEF_HEADER_LINE);
	CHECK_INT(c->limits.header_count, BH_DEF_HEADER_COUNT);
	CHECK_INT(c->limits.recipients, BH_DEF_RECIPIENTS);
	CHECK_INT(c->limits.regex_match_limit, BH_DEF_REGEX_MATCH_LIMIT);
	CHECK_INT(c->limits.hop_limit, BH_DEF_HOP_LIMIT);
	bh_config_free(&c);

	c = load("limits:\n  message_size: 2MB\n  mime_depth: 4\n  mime_parts: 20\n"
		 "  header_line: 4KB\n  header_count: 50\n  recipients: 7\n"
		 "  regex_match_limit: 5000\n  hop_limit: 12\n",
		 &why);
	CHECK(c != NULL);
	if (c != NULL) {
		CHECK_INT(c->limits.message_size, 2u * 1024 * 1024);
		CHECK_INT(c->limits.mime_depth, 4);
		CHECK_INT(c->limits.mime_parts, 20);
		CHECK_INT(c->limits.header_line, 4096);
		CHECK_INT(c->limits.header_count, 50);
		CHECK_INT(c->limits.recipients, 7);
		CHECK_INT(c->limits.regex_match_limit, 5000);
		CHECK_INT(c->limits.hop_limit, 12);
	} else
		TEST_FAIL("limits did not load: %s", why ? why : "?");
	free(why);
	bh_config_free(&c);

	for (i = 0; i < BH_NELEM(bad); i++) {
		c = load(bad[i], &why);
		if (c != NULL)
			TEST_FAIL("loaded, want refused: %s", bad[i]);
		else if (why == NULL || strstr(why, "limits.") == NULL)
			TEST_FAIL("%s: refused for another reason: %s", bad[i], why ? why : "?");
		free(why);
		bh_config_free(&c);
	}
}

int
main(void)
{
	struct bh_config *cfg = bh_config_defaults();
	const char *err = NULL;

	setenv("BH_LIM_PW", "pw", 1);
	setenv("BH_LIM_KEY", "a-verp-key-of-32-bytes-for-tests", 1);
	rules = bh_rules_new(NULL, 0, false, cfg->limits.regex_match_limit, &err);
	CHECK(rules != NULL);
	if (rules == NULL)
		return test_done("test_limits");
	test_message_size(&cfg->limits);
	test_mime_depth(&cfg->limits);
	test_mime_parts(&cfg->limits);
	test_header_line(&cfg->limits);
	test_header_count(&cfg->limits);
	test_recipients(&cfg->limits);
	test_regex_time(&cfg->limits);
	test_linear();
	test_config();
	bh_rules_free(&rules);
	bh_config_free(&cfg);
	return test_done("test_limits");
}

/*
 * test_dsn.c - RFC 3464 fields: blocks, folding, comments, address types, missing blank lines,
 * limits.
 */
#include <stdlib.h>
#include <string.h>

#include "dsn.h"
#include "bh_limits.h"
#include "test.h"
#include "util.h"

static void
test_blocks(void)
{
	const char *in = "Reporting-MTA: dns; mx.example.net\n"
			 "Original-Envelope-Id: E1\n"
			 "\n"
			 "Original-Recipient: rfc822;A+2Bb@example.org\n"
			 "Final-Recipient: rfc822; <a@example.org>\n"
			 "Action: failed\n"
			 "Status: 5.1.1 (user unknown)\n"
			 "Remote-MTA: dns; mx.example.org\n"
			 "Diagnostic-Code: smtp; 550 5.1.1 <a@example.org>:\n"
			 "    Recipient address rejected\n"
			 "Final-Recipient: rfc822; b@example.org\n"
			 "X-Actual-Recipient: rfc822; real-b@example.org\n"
			 "Action: delayed\n"
			 "Status: 4.4.1\n"
			 "\r\n"
			 "Final-Recipient: utf-8; us\\x{00E9}r@example.fr\n"
			 "Action: failed\n"
			 "Diagnostic-Code: X-Unix; mailbox unavailable\n";
	struct bh_dsn d;
	const char *err = NULL;

	CHECK_INT(bh_dsn_parse(in, strlen(in), 100, &d, &err), 0);
	CHECK_STR(d.reporting_mta, "mx.example.net");
	CHECK_STR(d.original_envelope_id, "E1");
	CHECK_INT(d.n, 3);
	if (d.n == 3) {
		CHECK_STR(d.r[0].final_recipient, "a@example.org");
		CHECK_STR(d.r[0].original_recipient, "A+b@example.org");
		CHECK_STR(d.r[0].action, "failed");
		CHECK_STR(d.r[0].status, "5.1.1");
		CHECK_STR(d.r[0].status_comment, "user unknown");
		CHECK_STR(d.r[0].remote_mta, "mx.example.org");
		CHECK_STR(d.r[0].diagnostic_type, "smtp");
		CHECK_STR(d.r[0].diagnostic,
			  "550 5.1.1 <a@example.org>:    Recipient address rejected");
		CHECK_STR(d.r[1].final_recipient, "b@example.org");
		CHECK_STR(d.r[1].x_actual_recipient, "real-b@example.org");
		CHECK_STR(d.r[1].status, "4.4.1");
		CHECK_STR(d.r[2].final_recipient, "us\xc3\xa9r@example.fr");
		CHECK_STR(d.r[2].diagnostic_type, "x-unix");
		CHECK_STR(d.r[2].diagnostic, "mailbox unavailable");
		CHECK(d.r[2].status == NULL);
	}
	bh_dsn_deinit(&d);
}

static void
test_addresses(void)
{
	static const struct {
		const char *in;
		bool xtext;
		const char *want;
	} t[] = {
	    {"rfc822; a@b.example", false, "a@b.example"},
	    {"RFC822;<a@b.example>", false, "a@b.example"},
	    {"a@b.example", false, "a@b.example"},
	    {"rfc822; a+2Bb@x.example (comment)", true, "a+b@x.example"},
	    {"rfc822; a+tag@x.example", true, "a+tag@x.example"},
	    {"rfc822; a+2Bb@x.example", false, "a+2Bb@x.example"},
	    {"utf-8; \\x{65E5}@x.example", false, "\xe6\x97\xa5@x.example"},
	    {"utf-8; \\x{D800}@x.example", false, "\\x{D800}@x.example"},
	    {"", false, ""},
	};
	size_t i;

	for (i = 0; i < BH_NELEM(t); i++) {
		char *a = bh_dsn_address(t[i].in, strlen(t[i].in), t[i].xtext);

		CHECK_STR(a, t[i].want);
		free(a);
	}
}

static void
test_limits(void)
{
	struct bh_buf b;
	struct bh_dsn d;
	const char *err = NULL;
	unsigned i;

	bh_buf_init(&b);
	for (i = 0; i < 50; i++)
		bh_buf_printf(&b, "Final-Recipient: rfc822; u%u@x.example\nAction: failed\n\n", i);
	CHECK_INT(bh_dsn_parse(b.data, b.len, 10, &d, &err), 0);
	CHECK_INT(d.n, 10);
	CHECK(d.truncated);
	bh_dsn_deinit(&d);
	bh_buf_reset(&b);
	for (i = 0; i < BH_MAX_DSN_FIELDS + 5; i++)
		bh_buf_printf(&b, "X-Field-%u: v\n", i);
	CHECK_INT(bh_dsn_parse(b.data, b.len, 10, &d, &err), -1);
	bh_dsn_deinit(&d);
	/* garbage and empty input */
	CHECK_INT(bh_dsn_parse("\0\0\n::\n \n", 8, 10, &d, &err), 0);
	CHECK_INT(d.n, 0);
	bh_dsn_deinit(&d);
	CHECK_INT(bh_dsn_parse("", 0, 10, &d, &err), 0);
	bh_dsn_deinit(&d);
	bh_buf_deinit(&b);
}

int
main(void)
{
	test_blocks();
	test_addresses();
	test_limits();
	return test_done("test_dsn");
}

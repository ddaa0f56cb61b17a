/*
 * test_classify.c - golden verdicts for whole messages: each tests/fixtures/ file with the
 * fields we expect (type, recognizer, first recipients with status, reply code, action).
 */
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "config.h"
#include "rules.h"
#include "test.h"
#include "util.h"

struct want_rcpt {
	const char *address, *status, *reply_code, *action, *original, *remote_mta;
};

static const struct {
	const char *file;
	int ret;
	const char *type, *recognizer;
	size_t n;
	struct want_rcpt r[3];
	const char *orig_message_id;
	const char *feedback_type;
} golden[] = {
    {"dsn-basic.eml",
     0,
     "dsn",
     "rfc3464",
     1,
     {{"alice@example.org", "5.1.1", "550", "failed", "Alice+tag@example.org", "mail.example.org"}},
     "<news-1@lists.example.net>",
     NULL},
    /* the boundary in RFC 2231 sections, out of order, one percent-encoded (a space in it:
     * no boundary guess would find it) */
    {"dsn-rfc2231-boundary.eml",
     0,
     "dsn",
     "rfc3464",
     1,
     {{"gina@example.org", "5.1.1", "550", "failed", NULL, "mail.example.org"}},
     "<news-7@lists.example.net>",
     NULL},
    {"dsn-multi-crlf.eml",
     0,
     "dsn",
     "rfc3464",
     3,
     {{"bob@example.com", "5.2.2", "552", "failed", NULL, NULL},
      {"carol@example.com", "4.4.1", "", "delayed", NULL, NULL},
      {"j\xc3\xb6rg@example.de", "2.0.0", "", "delivered", NULL, NULL}},
     NULL,
     NULL},
    {"qmail.eml",
     0,
     "bounce",
     "qmail",
     1,
     {{"dave@example.org", "5.1.1", "550", "failed", NULL, NULL}},
     NULL,
     NULL},
    {"exim.eml",
     0,
     "bounce",
     "exim",
     2,
     {{"erin@example.co.uk", "5.2.2", "552", "failed", NULL, "mx.example.co.uk"},
      {"frank@example.co.uk", "5.1.1", "550", "failed", NULL, "mx.example.co.uk"}},
     NULL,
     NULL},
    {"arf.eml",
     0,
     "arf",
     "rfc5965",
     1,
     {{"grace@example.com", "", "", "", NULL, NULL}},
     "<news-2@lists.example.net>",
     "abuse"},
    /* a complaint whose recipient is redacted still reports one, without an address */
    {"arf-undisclosed.eml",
     0,
     "arf",
     "rfc5965",
     1,
     {{NULL, "", "", "", NULL, NULL}},
     "<news-3@lists.example.net>",
     "fraud"},
    /* a list manager refusing a post: the list failed, not the help text's control address */
    {"list-refusal.eml",
     0,
     "bounce",
     "mailinglist",
     1,
     {{"news@lists.example.org", "", "", "failed", NULL, NULL}},
     NULL,
     NULL},
    /* a notice whose reason (the Groups help link) stands after the diagnostic's cut */
    {"googlegroups-long.eml",
     0,
     "bounce",
     "googlegroups",
     1,
     {{"news@googlegroups.com", "", "", "failed", NULL, NULL}},
     NULL,
     NULL},
    /* a gateway's plain notice wrapping the DSN it got: the inner report names the recipient */
    {"gateway-forwarded-dsn.eml",
     0,
     "bounce",
     "rfc3464-forwarded",
     1,
     {{"yuki@example.org", "5.1.1", "550", "failed", NULL, NULL}},
     NULL,
     NULL},
    /* no Diagnostic-Code: the text's line for the address, and the heading above it */
    {"dsn-heading.eml",
     0,
     "dsn",
     "rfc3464",
     1,
     {{"zoe@example.ne.jp", "5.0.0", "550", "failed", NULL, NULL}},
     NULL,
     NULL},
    /* Action failed with a 4.x.x Status over the server's permanent reply: the reply's */
    {"dsn-failed-permanent.eml",
     0,
     "dsn",
     "rfc3464",
     1,
     {{"ann@example.fr", "5.5.0", "550", "failed", NULL, NULL}},
     NULL,
     NULL},
    /* one error paragraph for the recipients listed under the message details */
    {"james-notice.eml",
     0,
     "bounce",
     "apachejames",
     1,
     {{"lou@example.com", "", "550", "failed", NULL, NULL}},
     NULL,
     NULL},
    /* "a@b <c@d>": the bracketed address is the mailbox, the other a display name */
    {"exim-malformed.eml",
     0,
     "bounce",
     "mailer-daemon",
     1,
     {{"max.other@example.net", "", "", "failed", NULL, NULL}},
     NULL,
     NULL},
    {"autoreply.eml",
     0,
     "autoreply",
     "autoreply",
     1,
     {{"heidi@example.net", "", "", "", NULL, NULL}},
     NULL,
     NULL},
    /* no auto-reply header: only the body, in Shift_JIS, says "absent" (不在) */
    {"autoreply-shift-jis.eml",
     0,
     "autoreply",
     "autoreply",
     1,
     {{"taro@example.jp", "", "", "", NULL, NULL}},
     NULL,
     NULL},
    /* a system listing its own users by local part: the domain is the reporting system's */
    {"bare-local-part.eml",
     0,
     "bounce",
     "mailer-daemon",
     2,
     {{"ivan.screen@mail.example.com", "", "", "failed", NULL, NULL},
      {"judy99@mail.example.com", "", "", "failed", NULL, NULL}},
     NULL,
     NULL},
    /* the returned message pasted after a blank line, no marker: its body lines that start
     * with an address are not recipients */
    {"pasted-original.eml",
     0,
     "bounce",
     "mailer-daemon",
     1,
     {{"zed@example.org", "5.1.1", "550", "failed", NULL, NULL}},
     NULL,
     NULL},
    /* a forward that failed: the address our mail went to is the original recipient */
    {"exim-generated-from.eml",
     0,
     "bounce",
     "exim",
     1,
     {{"real.person@other.example", "5.1.1", "550", "failed", "b1@example.org",
       "mx.other.example"}},
     NULL,
     NULL},
    /* a NUL byte ends the list: it is not a local-part character */
    {"bare-local-nul.eml",
     0,
     "bounce",
     "mailer-daemon",
     1,
     {{"kate.screen@mail.example.com", "", "", "failed", NULL, NULL}},
     NULL,
     NULL},
    {"not-bounce.eml",
     0,
     "not_bounce",
     NULL,
     0,
     {{NULL, NULL, NULL, NULL, NULL, NULL}},
     NULL,
     NULL},
    {"header-odd.eml",
     0,
     "not_bounce",
     NULL,
     0,
     {{NULL, NULL, NULL, NULL, NULL, NULL}},
     NULL,
     NULL},
    {"sendmail-transcript.eml",
     0,
     "bounce",
     "sendmail",
     1,
     {{"ivy@example.com", "5.1.1", "550", "failed", NULL, NULL}},
     "<m-1@lists.example.net>",
     NULL},
    {"postfix-nodsn.eml",
     0,
     "bounce",
     "postfix",
     2,
     {{"jack@example.org", "4.2.2", "452", "failed", NULL, "mx.example.org"},
      {"kate@example.org", "5.7.1", "550", "failed", NULL, "mx.example.org"}},
     NULL,
     NULL},
    {"exchange-ndr.eml",
     0,
     "bounce",
     "exchange",
     1,
     {{"mia@example.com", "", "", "failed", NULL, NULL}},
     NULL,
     NULL},
    {"ses-bounce.eml",
     0,
     "bounce",
     "amazonses-json",
     2,
     {{"nina@example.com", "5.1.1", "550", "failed", NULL, NULL},
      {"oscar@example.com", "5.2.2", "552", "failed", NULL, NULL}},
     NULL,
     NULL},
    {"ses-complaint.eml",
     0,
     "arf",
     "amazonses-json",
     1,
     {{"paul@example.com", "", "", "", NULL, NULL}},
     NULL,
     "abuse"},
    {"jmrp.eml",
     0,
     "arf",
     "hotmail-jmrp",
     1,
     {{"quinn@example.com", "", "", "", NULL, NULL}},
     NULL,
     "abuse"},
    {"dsn-in-text.eml",
     0,
     "dsn",
     "rfc3464-text",
     1,
     {{"rose@example.edu", "5.2.2", "552", "failed", NULL, NULL}},
     NULL,
     NULL},
    {"x-failed-recipients.eml",
     0,
     "bounce",
     "googlegroups",
     1,
     {{"sam@groups.example.com", "", "", "failed", NULL, NULL}},
     NULL,
     NULL},
    {"base64-dsn.eml",
     0,
     "dsn",
     "rfc3464",
     1,
     {{"tom@example.org", "5.1.1", "550", "failed", NULL, NULL}},
     "<b64-1@lists.example.net>",
     NULL},
    {"reason-above.eml",
     0,
     "bounce",
     "postmaster",
     1,
     {{"uma@example.com", "5.1.1", "550", "failed", NULL, NULL}},
     NULL,
     NULL},
    {"dsn-pipe.eml",
     0,
     "dsn",
     "rfc3464",
     1,
     {{"vera@example.edu", "5.3.0", "", "failed", NULL, NULL}},
     NULL,
     NULL},
    {"o365-html.eml",
     0,
     "bounce",
     "exchange",
     1,
     {{"kim@contoso.com", "5.1.10", "550", "failed", NULL, NULL}},
     NULL,
     NULL},
    {"gmail-text.eml",
     0,
     "bounce",
     "gmail",
     1,
     {{"lee@example.com", "", "", "failed", NULL, NULL}},
     NULL,
     NULL},
    {"not-bounce-reply.eml",
     0,
     "not_bounce",
     NULL,
     0,
     {{NULL, NULL, NULL, NULL, NULL, NULL}},
     NULL,
     NULL},
    {"postfix-smtpd-transcript.eml",
     0,
     "bounce",
     "sendmail",
     1,
     {{"xena@example.com", "4.3.0", "451", "failed", NULL, NULL}},
     NULL,
     NULL},
};

/* the reason of the first recipient, for the fixtures where reading the text is the point */
static const struct {
	const char *file, *reason;
} reasons[] = {
    {"arf-undisclosed.eml", "feedback"},   {"list-refusal.eml", "rejected"},
    {"googlegroups-long.eml", "rejected"}, {"gateway-forwarded-dsn.eml", "userunknown"},
    {"dsn-heading.eml", "suspend"},	   {"dsn-failed-permanent.eml", "undefined"},
};

/* what the first recipient's diagnostic must start with */
static const struct {
	const char *file, *start;
} diags[] = {
    {"james-notice.eml", "550 - Requested action not taken: no such user here"},
};

/* classify_fixture - read tests/fixtures/file and classify it into v (initialized here; the
 * caller deinits it); 0 or -1 as bh_classify, -2 (a test failure) when it cannot be read */
static int
classify_fixture(const struct bh_classify_opts *opts, const char *file, struct bh_verdict *v)
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
	free(data);
	free(path);
	return ret;
}

int
main(void)
{
	struct bh_config *cfg = bh_config_defaults();
	const char *err = NULL;
	struct bh_rules *rules = bh_rules_new(NULL, 0, false, cfg->limits.regex_match_limit, &err);
	struct bh_classify_settings limits = bh_config_classify_settings(cfg);
	struct bh_classify_opts opts = {rules, &limits};
	size_t i, k;

	CHECK(rules != NULL);
	for (i = 0; i < BH_NELEM(golden); i++) {
		char *path = bh_asprintf("%s/tests/fixtures/%s", BH_SOURCE_DIR, golden[i].file);
		char *data;
		size_t len;
		struct bh_verdict v;

		if (bh_read_file(path, 1u << 24, &data, &len, &err) == -1) {
			TEST_FAIL("%s: %s", path, err);
			free(path);
			continue;
		}
		bh_verdict_init(&v);
		CHECK_INT(bh_classify(&opts, data, len, &v), golden[i].ret);
		fprintf(stderr, "-- %s\n", golden[i].file);
		CHECK_STR(bh_msg_type_name(v.type), golden[i].type);
		CHECK_STR(v.recognizer, golden[i].recognizer);
		CHECK_INT(v.n_rcpts, golden[i].n);
		CHECK_INT(strlen(v.stable_id), 64);
		/* the header block, verbatim, for the auto-reply detector */
		CHECK(v.env.raw_headers != NULL && v.env.raw_headers_len > 0 &&
		      memcmp(v.env.raw_headers, data, v.env.raw_headers_len) == 0);
		for (k = 0; k < golden[i].n && k < v.n_rcpts; k++) {
			const struct want_rcpt *w = &golden[i].r[k];
			const struct bh_rcpt *r = &v.rcpts[k];

			CHECK_STR(r->address, w->address);
			CHECK_STR(r->status, w->status);
			CHECK_STR(r->reply_code, w->reply_code);
			CHECK_STR(bh_action_name(r->action), w->action);
			if (w->original != NULL)
				CHECK_STR(r->original_address, w->original);
			if (w->remote_mta != NULL)
				CHECK_STR(r->remote_mta, w->remote_mta);
			if (golden[i].feedback_type != NULL)
				CHECK_STR(r->feedback_type, golden[i].feedback_type);
		}
		for (k = 0; k < v.n_rcpts; k++)
			CHECK(v.rcpts[k].diagnostic == NULL ||
			      strlen(v.rcpts[k].diagnostic) <= BH_MAX_DIAGNOSTIC);
		for (k = 0; k < BH_NELEM(diags); k++)
			if (strcmp(diags[k].file, golden[i].file) == 0 && v.n_rcpts > 0)
				CHECK(v.rcpts[0].diagnostic != NULL &&
				      strncmp(v.rcpts[0].diagnostic, diags[k].start,
					      strlen(diags[k].start)) == 0);
		for (k = 0; k < BH_NELEM(reasons); k++)
			if (strcmp(reasons[k].file, golden[i].file) == 0 && v.n_rcpts > 0)
				CHECK_STR(bh_reason_name(v.rcpts[0].reason), reasons[k].reason);
		if (golden[i].orig_message_id != NULL)
			CHECK_STR(v.original.message_id, golden[i].orig_message_id);
		bh_verdict_deinit(&v);
		free(data);
		free(path);
	}
	{
		/* a Diagnostic-Code in RFC 2047 words, a delivery-status part in ISO-2022-JP, a
		 * Diagnostic-Code whose continuation lines are not indented: the rules read them
		 * decoded and whole */
		static const struct {
			const char *file, *reason;
		} enc[] = {
		    {"dsn-rfc2047-diagnostic.eml", "userunknown"},
		    {"dsn-iso2022jp-diagnostic.eml", "userunknown"},
		    {"dsn-unindented-diagnostic.eml", "mailboxfull"},
		};
		struct bh_verdict v;

		for (i = 0; i < BH_NELEM(enc); i++) {
			CHECK_INT(classify_fixture(&opts, enc[i].file, &v), 0);
			CHECK_INT(v.n_rcpts, 1);
			if (v.n_rcpts == 1)
				CHECK_STR(bh_reason_name(v.rcpts[0].reason), enc[i].reason);
			bh_verdict_deinit(&v);
		}
	}
	{
		/* the SMTP stage from the report's text; "user unknown" is a missing mailbox after
		 * DATA as at RCPT TO (servers that check the recipient after DATA say it so) */
		struct bh_verdict v;

		CHECK_INT(classify_fixture(&opts, "dsn-data-stage.eml", &v), 0);
		CHECK_INT(v.n_rcpts, 2);
		if (v.n_rcpts == 2) {
			CHECK_STR(v.rcpts[0].smtp_command, "DATA");
			CHECK_STR(bh_reason_name(v.rcpts[0].reason), "userunknown");
			CHECK(v.rcpts[0].hard);
			CHECK_STR(v.rcpts[1].smtp_command, "RCPT");
			CHECK_STR(bh_reason_name(v.rcpts[1].reason), "userunknown");
			CHECK(v.rcpts[1].hard);
		}
		bh_verdict_deinit(&v);
		/* Exim names the stage on a line that holds our sender's address ("after pipelined
		 * MAIL FROM:<...> SIZE=1529:"): a bare "550 5.7.1 Rejected" there refuses our
		 * sender, not the recipient */
		CHECK_INT(classify_fixture(&opts, "exim-mail-from-stage.eml", &v), 0);
		CHECK_INT(v.n_rcpts, 1);
		if (v.n_rcpts == 1) {
			CHECK_STR(v.rcpts[0].smtp_command, "MAIL");
			CHECK_STR(bh_reason_name(v.rcpts[0].reason), "rejected");
			CHECK(!v.rcpts[0].hard);
		}
		bh_verdict_deinit(&v);
	}
	{
		/* what the evidence of a report says, and where one recipient's words end */
		static const struct {
			const char *file;
			size_t k;
			const char *reason, *rule, *diag_has, *diag_lacks;
		} ev[] = {
		    {"dsn-vendor-category.eml", 0, "userunknown", "builtin:userunknown-concept",
		     NULL, NULL},
		    {"dsn-vendor-category.eml", 1, "userunknown", "builtin:userunknown-concept",
		     NULL, NULL},
		    {"gmail-stock-unknown.eml", 0, "userunknown", "builtin:userunknown-concept",
		     NULL, NULL},
		    {"sendmail-v5-hosts.eml", 0, "blocked", NULL, "open relay", "Host unknown"},
		    {"sendmail-v5-hosts.eml", 1, "hostunknown", NULL, "Authoritative", NULL},
		    /* an X.400 address line names the recipient, not the "To:" echo above */
		    {"exchange-x400.eml", 0, "userunknown", NULL, "not recognized", NULL},
		    /* a gateway that gives no reason around a bounce it got: the dialogue in
		     * the returned report speaks; a returned newsletter does not */
		    {"gateway-wrapped-transcript.eml", 0, "userunknown", NULL, "<<< 550 5.1.1",
		     NULL},
		    {"gateway-wrapped-newsletter.eml", 0, "undefined", NULL, NULL,
		     "returned report"},
		};

		for (i = 0; i < BH_NELEM(ev); i++) {
			struct bh_verdict v;

			CHECK_INT(classify_fixture(&opts, ev[i].file, &v), 0);
			fprintf(stderr, "-- %s #%zu\n", ev[i].file, ev[i].k);
			CHECK(v.n_rcpts > ev[i].k);
			if (v.n_rcpts > ev[i].k) {
				const struct bh_rcpt *r = &v.rcpts[ev[i].k];
				const char *d = r->diagnostic != NULL ? r->diagnostic : "";

				CHECK_STR(bh_reason_name(r->reason), ev[i].reason);
				if (ev[i].rule != NULL)
					CHECK_STR(r->rule, ev[i].rule);
				if (ev[i].diag_has != NULL)
					CHECK(strstr(d, ev[i].diag_has) != NULL);
				if (ev[i].diag_lacks != NULL)
					CHECK(strstr(d, ev[i].diag_lacks) == NULL);
			}
			bh_verdict_deinit(&v);
		}
	}
	{
		/* the sender a sentence names ("not accepting mail from a@b") is nobody who
		 * failed */
		struct bh_verdict v;

		(void)classify_fixture(&opts, "sender-in-sentence.eml", &v);
		for (i = 0; i < v.n_rcpts; i++)
			CHECK(v.rcpts[i].address == NULL ||
			      strcmp(v.rcpts[i].address, "owner@lists.example.net") != 0);
		bh_verdict_deinit(&v);
	}
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
	{
		/* a legacy charset reaches the rules as UTF-8, and RFC 2047 subjects are decoded */
		char *path = bh_asprintf("%s/tests/fixtures/iso-2022-jp.eml", BH_SOURCE_DIR), *data;
		size_t len;
		struct bh_verdict v;

		if (bh_read_file(path, 1u << 20, &data, &len, &err) == 0) {
			bh_verdict_init(&v);
			CHECK_INT(bh_classify(&opts, data, len, &v), 0);
			CHECK_INT(v.n_rcpts, 1);
			if (v.n_rcpts == 1) {
				CHECK_STR(v.rcpts[0].address, "wendy@example.jp");
				CHECK(v.rcpts[0].diagnostic != NULL &&
				      strstr(v.rcpts[0].diagnostic, "\xe4\xb8\x80\xe6\x9d\xaf") !=
					  NULL);
			}
			CHECK_STR(v.env.subject, "\xe3\x83\xa1\xe3\x83\xbc\xe3\x83\xab\xe3\x82\xa8"
						 "\xe3\x83\xa9\xe3\x83\xbc");
			bh_verdict_deinit(&v);
			free(data);
		} else
			TEST_FAIL("%s: %s", path, err);
		free(path);
	}
	bh_rules_free(&rules);
	bh_config_free(&cfg);
	return test_done("test_classify");
}

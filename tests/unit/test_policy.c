/* test_policy - decisions per recipient from a verdict and the list's policy. */
#include "config.h"
#include "policy.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#include "test.h"

#define BASE                                                                                       \
	"imap: {host: mail.example.com, user: u, password_env: BH_TEST_PW}\n"                      \
	"verp: {domain: b.example.com, keys: [{id: k1, env: BH_TEST_KEY}]}\n"

static struct bh_config *
load(const char *yaml)
{
	struct bh_config_diags d = {NULL, 0};
	struct bh_config *c = bh_config_load_buffer("t.yaml", yaml, strlen(yaml), &d);
	size_t i;

	for (i = 0; i < d.n; i++)
		fprintf(stderr, "%u:%u: %s\n", d.v[i].line, d.v[i].column, d.v[i].message);
	bh_config_diags_deinit(&d);
	if (c == NULL)
		abort();
	return c;
}

/* A verdict with one recipient, VERP valid for list. */
struct vcase {
	const char *name;
	enum bh_msg_type type;
	const char *list; /* NULL: no valid VERP */
	enum bh_reason reason;
	enum bh_action action;
	enum bh_loop_kind loop;
	const char *error;
	enum bh_outcome want;
	const char *want_folder;
	bool want_refused;
	enum bh_policy_kind want_kind; /* of the decision's action */
	bool other_address;	       /* the report names another address than the subscriber */
};

/* decide - bh_policy_decide under cfg's policy settings */
static void
decide(const struct bh_config *cfg, const struct bh_verdict *v, struct bh_decisions *d)
{
	struct bh_policy_settings set = bh_config_policy_settings(cfg);

	bh_policy_decide(&set, v, d);
}

static void
make(struct bh_verdict *v, const struct vcase *c)
{
	struct bh_rcpt *r;

	bh_verdict_init(v);
	v->type = c->type;
	v->error = c->error;
	v->loop.kind = c->loop;
	v->verp.checked = true;
	if (c->list != NULL) {
		v->verp.valid = true;
		v->verp.list = bh_strdup(c->list);
		v->verp.recipient = bh_strdup("alice@example.net");
	}
	if (c->reason == BH_R_COUNT)
		return; /* no recipient */
	r = bh_verdict_add_rcpt(v, 10);
	r->address =
	    bh_strdup(c->other_address ? "forwarded@elsewhere.example" : "Alice@EXAMPLE.net");
	r->action = c->action;
	bh_rcpt_set_reason(r, c->reason, NULL);
}

int
main(void)
{
	static const struct vcase cases[] = {
	    {"hard", BH_TYPE_DSN, "news", BH_R_USERUNKNOWN, BH_ACTION_FAILED, 0, NULL,
	     BH_OUT_SUPPRESS, "processed", false, BH_POL_SUPPRESS, false},
	    /* the classic loop: our newsletter forwarded by the subscriber's responder to an
	     * address that does not exist; the 554 names that address, not our subscriber */
	    {"hard, other address", BH_TYPE_DSN, "news", BH_R_USERUNKNOWN, BH_ACTION_FAILED, 0,
	     NULL, BH_OUT_RECORD, "processed", false, BH_POL_IGNORE, true},
	    {"soft, other address", BH_TYPE_BOUNCE, "news", BH_R_MAILBOXFULL, BH_ACTION_FAILED, 0,
	     NULL, BH_OUT_RECORD, "processed", false, BH_POL_IGNORE, true},
	    /* complaints redact the address: still about the subscriber */
	    {"complaint, redacted address", BH_TYPE_ARF, "news", BH_R_FEEDBACK, BH_ACTION_NONE, 0,
	     NULL, BH_OUT_SUPPRESS, "processed", false, BH_POL_SUPPRESS, true},
	    {"soft", BH_TYPE_DSN, "news", BH_R_MAILBOXFULL, BH_ACTION_FAILED, 0, NULL, BH_OUT_COUNT,
	     "processed", false, BH_POL_COUNT, false},
	    {"either-side soft", BH_TYPE_DSN, "news", BH_R_EXPIRED, BH_ACTION_FAILED, 0, NULL,
	     BH_OUT_COUNT, "processed", false, BH_POL_COUNT, false},
	    {"sender-side", BH_TYPE_DSN, "news", BH_R_BLOCKED, BH_ACTION_FAILED, 0, NULL,
	     BH_OUT_ALERT, "processed", false, BH_POL_ALERT, false},
	    {"complaint", BH_TYPE_ARF, "news", BH_R_FEEDBACK, BH_ACTION_NONE, 0, NULL,
	     BH_OUT_SUPPRESS, "processed", false, BH_POL_SUPPRESS, false},
	    {"vacation", BH_TYPE_AUTOREPLY, "news", BH_R_VACATION, BH_ACTION_NONE, 0, NULL,
	     BH_OUT_RECORD, "processed", false, BH_POL_IGNORE, false},
	    {"auto-reply without rcpt", BH_TYPE_AUTOREPLY, "news", BH_R_COUNT, 0, 0, NULL,
	     BH_OUT_RECORD, "processed", false, BH_POL_IGNORE, false},
	    {"delivered", BH_TYPE_DSN, "news", BH_R_DELIVERED, BH_ACTION_DELIVERED, 0, NULL,
	     BH_OUT_RECORD, "processed", false, BH_POL_IGNORE, false},
	    {"delayed hard", BH_TYPE_DSN, "news", BH_R_USERUNKNOWN, BH_ACTION_DELAYED, 0, NULL,
	     BH_OUT_RECORD, "processed", false, BH_POL_IGNORE, false},
	    {"undefined", BH_TYPE_BOUNCE, "news", BH_R_UNDEFINED, BH_ACTION_FAILED, 0, NULL,
	     BH_OUT_RECORD, "processed", false, BH_POL_IGNORE, false},
	    {"no VERP", BH_TYPE_DSN, NULL, BH_R_USERUNKNOWN, BH_ACTION_FAILED, 0, NULL,
	     BH_OUT_REFUSE, "ignored", true, BH_POL_IGNORE, false},
	    {"loop ignored", BH_TYPE_DSN, "news", BH_R_USERUNKNOWN, BH_ACTION_FAILED,
	     BH_LOOP_REPEAT, NULL, BH_OUT_REFUSE, "ignored", true, BH_POL_IGNORE, false},
	    {"loop alert", BH_TYPE_DSN, "news", BH_R_USERUNKNOWN, BH_ACTION_FAILED,
	     BH_LOOP_BACKSCATTER, NULL, BH_OUT_ALERT, "ignored", true, BH_POL_ALERT, false},
	    {"unparseable", BH_TYPE_DSN, "news", BH_R_COUNT, 0, 0, "too deep", BH_OUT_REFUSE,
	     "quarantine", true, BH_POL_IGNORE, false},
	    {"not a bounce", BH_TYPE_NOT_BOUNCE, "news", BH_R_COUNT, 0, 0, NULL, BH_OUT_REFUSE,
	     "ignored", true, BH_POL_IGNORE, false},
	    {"unknown list quarantined", BH_TYPE_DSN, "nosuch", BH_R_USERUNKNOWN, BH_ACTION_FAILED,
	     0, NULL, BH_OUT_REFUSE, "quarantine", true, BH_POL_IGNORE, false},
	    /* relaxed: sender-side may suppress, delayed reports count */
	    {"relaxed sender-side", BH_TYPE_DSN, "relaxed", BH_R_BLOCKED, BH_ACTION_FAILED, 0, NULL,
	     BH_OUT_COUNT, "processed", false, BH_POL_COUNT, false},
	    {"relaxed delayed", BH_TYPE_DSN, "relaxed", BH_R_MAILBOXFULL, BH_ACTION_DELAYED, 0,
	     NULL, BH_OUT_COUNT, "processed", false, BH_POL_COUNT, false},
	    {"relaxed delayed hard counts", BH_TYPE_DSN, "relaxed", BH_R_USERUNKNOWN,
	     BH_ACTION_DELAYED, 0, NULL, BH_OUT_COUNT, "processed", false, BH_POL_COUNT, false},
	    {"transactional hard for 7d", BH_TYPE_DSN, "transactional", BH_R_HOSTUNKNOWN,
	     BH_ACTION_FAILED, 0, NULL, BH_OUT_SUPPRESS, "processed", false, BH_POL_SUPPRESS_FOR,
	     false},
	    {"transactional soft ignored", BH_TYPE_DSN, "transactional", BH_R_MAILBOXFULL,
	     BH_ACTION_FAILED, 0, NULL, BH_OUT_RECORD, "processed", false, BH_POL_IGNORE, false},
	    /* a list that tries to suppress sender-side failures without the switch cannot
	     * load (test_config); the decision itself also never suppresses them */
	};
	struct bh_config *cfg;
	size_t i;

	setenv("BH_TEST_PW", "pw", 1);
	setenv("BH_TEST_KEY", "0123456789abcdef0123", 1);
	cfg = load(
	    BASE "defaults:\n  unknown_list: quarantine\n  loops: {backscatter: alert}\n"
		 "lists:\n  news:\n  relaxed:\n    sender_side_may_suppress: true\n"
		 "    count_delayed: true\n    sender: count\n"
		 "  transactional:\n    hard: {action: suppress_for, for: 7d}\n    soft: ignore\n");

	for (i = 0; i < BH_NELEM(cases); i++) {
		const struct vcase *c = &cases[i];
		struct bh_verdict v;
		struct bh_decisions d;

		make(&v, c);
		decide(cfg, &v, &d);
		if (d.n != 1) {
			TEST_FAIL("%s: got %zu decisions, want 1", c->name, d.n);
		} else {
			if (d.v[0].outcome != c->want)
				TEST_FAIL("%s: got %s, want %s", c->name,
					  bh_outcome_name(d.v[0].outcome),
					  bh_outcome_name(c->want));
			if (d.v[0].action.kind != c->want_kind)
				TEST_FAIL("%s: action got %s, want %s", c->name,
					  bh_policy_kind_name(d.v[0].action.kind),
					  bh_policy_kind_name(c->want_kind));
			/* the address acted on is the VERP recipient, never the reported one */
			if (c->list != NULL)
				CHECK_STR(d.v[0].address, "alice@example.net");
			else
				CHECK(d.v[0].address == NULL);
			CHECK(d.v[0].why != NULL);
		}
		CHECK_STR(d.folder_hint, c->want_folder);
		CHECK(d.policy != NULL);
		if (d.refused != c->want_refused)
			TEST_FAIL("%s: refused got %d", c->name, d.refused);
		test_checks += 3;
		bh_decisions_deinit(&d);
		bh_verdict_deinit(&v);
	}

	/* several recipients, one decision each; duration and scope carried */
	{
		struct bh_verdict v;
		struct bh_decisions d;
		struct bh_rcpt *r;

		bh_verdict_init(&v);
		v.type = BH_TYPE_DSN;
		v.verp.checked = v.verp.valid = true;
		v.verp.list = bh_strdup("transactional");
		v.verp.recipient = bh_strdup("bob@example.net");
		r = bh_verdict_add_rcpt(&v, 10);
		bh_rcpt_set_reason(r, BH_R_USERUNKNOWN, NULL);
		r->action = BH_ACTION_FAILED;
		r = bh_verdict_add_rcpt(&v, 10);
		bh_rcpt_set_reason(r, BH_R_SPAMDETECTED, NULL);
		r->action = BH_ACTION_FAILED;
		decide(cfg, &v, &d);
		CHECK_INT(d.n, 2);
		if (d.n == 2) {
			CHECK_INT(d.v[0].outcome, BH_OUT_SUPPRESS);
			CHECK_INT(d.v[0].action.duration_s, 7 * 86400);
			CHECK_STR(d.v[0].list, "transactional");
			CHECK(d.v[0].rcpt == &v.rcpts[0]);
			CHECK_INT(d.v[1].outcome, BH_OUT_ALERT);
			CHECK(d.v[1].sender_side);
		}
		bh_decisions_deinit(&d);
		bh_verdict_deinit(&v);
	}

	/* unknown_list: ignore and defaults */
	{
		struct bh_config *c2 = load(BASE "defaults: {unknown_list: ignore}\n");
		struct bh_config *c3 = load(BASE);
		struct vcase vc = {"x",
				   BH_TYPE_DSN,
				   "other",
				   BH_R_USERUNKNOWN,
				   BH_ACTION_FAILED,
				   0,
				   NULL,
				   0,
				   NULL,
				   false,
				   0,
				   false};
		struct bh_verdict v;
		struct bh_decisions d;

		make(&v, &vc);
		decide(c2, &v, &d);
		CHECK_INT(d.v[0].outcome, BH_OUT_REFUSE);
		CHECK_STR(d.folder_hint, "ignored");
		bh_decisions_deinit(&d);
		decide(c3, &v, &d);
		CHECK_INT(d.v[0].outcome, BH_OUT_SUPPRESS);
		CHECK_STR(d.folder_hint, "processed");
		bh_decisions_deinit(&d);
		bh_verdict_deinit(&v);
		bh_config_free(&c2);
		bh_config_free(&c3);
	}

	/* bh_config_defaults works as a policy source too (classify runs without a file) */
	{
		struct bh_config *c4 = bh_config_defaults();
		struct vcase vc = {"x", BH_TYPE_DSN, "any", BH_R_SUSPEND, BH_ACTION_FAILED,
				   0,	NULL,	     0,	    NULL,	  false,
				   0,	false};
		struct bh_verdict v;
		struct bh_decisions d;

		make(&v, &vc);
		decide(c4, &v, &d);
		CHECK_INT(d.v[0].outcome, BH_OUT_COUNT);
		CHECK_INT(d.v[0].action.threshold, 3);
		bh_decisions_deinit(&d);
		bh_verdict_deinit(&v);
		bh_config_free(&c4);
	}
	CHECK_STR(bh_outcome_name(BH_OUT_REFUSE), "refuse");
	CHECK_STR(bh_policy_kind_name(BH_POL_SUPPRESS_FOR), "suppress_for");
	bh_config_free(&cfg);
	return test_done("test_policy");
}

/* test_loop - loop and backscatter detection over constructed verdicts: each kind, the order
 * between kinds, and the near misses (a real bounce of our newsletter with Precedence: bulk,
 * no VERP configured, our own auto-generated mail). */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "loop.h"
#include "util.h"

#include "test.h"

enum vstate { V_NONE = 0, V_VALID, V_INVALID };

struct lcase {
	const char *name;
	enum bh_msg_type type;
	bool present;
	const char *from, *message_id, *return_path, *subject;
	const char *auto_submitted, *precedence, *x_autoreply, *xars, *content_type;
	unsigned received;
	enum vstate verp;
	bool domains;  /* configure our_domains = ours.example, news.example.org */
	unsigned hops; /* hop_limit, 0: default */
	enum bh_loop_kind want;
	const char *why; /* substring of the why, NULL: not checked */
};

#define VERP_ADDR "bounce+news+alice=sub.example@ours.example"
#define NEWS_FROM "Our News <news@ours.example>", "<1234.5678@mail.ours.example>"
#define DSN	  BH_TYPE_DSN
#define BNC	  BH_TYPE_BOUNCE

static const struct lcase cases[] = {
    /* A real bounce of our newsletter: Precedence: bulk must not flag it. */
    {"our newsletter, bulk, valid verp", DSN, true, NEWS_FROM, NULL, "News", NULL, "bulk", NULL,
     "OOF, AutoReply", "multipart/alternative", 3, V_VALID, true, 0, BH_LOOP_NONE, NULL},
    {"our newsletter, bulk, no config", DSN, true, NEWS_FROM, NULL, "News", NULL, "bulk", NULL,
     "OOF", NULL, 3, V_NONE, false, 0, BH_LOOP_NONE, NULL},
    {"bulk, foreign From, verp return-path", DSN, true, "x@customer.example",
     "<1@customer.example>", "<" VERP_ADDR ">", "News", NULL, "bulk", NULL, NULL, NULL, 3, V_VALID,
     true, 0, BH_LOOP_NONE, NULL},
    {"bulk, foreign, no verp", BNC, true, "x@other.example", "<1@other.example>", NULL, "Sale",
     NULL, "bulk", NULL, NULL, NULL, 3, V_NONE, true, 0, BH_LOOP_AUTOREPLY_BOUNCE,
     "Precedence: bulk"},
    {"xars, foreign", DSN, true, "x@other.example", NULL, NULL, "Hi", NULL, NULL, NULL, "All", NULL,
     1, V_NONE, true, 0, BH_LOOP_AUTOREPLY_BOUNCE, "X-Auto-Response-Suppress"},
    {"subdomain is ours", DSN, true, "x@other.example", "<1@mta.news.example.org>", NULL, "Hi",
     NULL, "junk", NULL, NULL, NULL, 1, V_NONE, true, 0, BH_LOOP_NONE, NULL},
    {"suffix is not a subdomain", DSN, true, "x@notours.example", NULL, NULL, "Hi", NULL, "junk",
     NULL, NULL, NULL, 1, V_NONE, true, 0, BH_LOOP_AUTOREPLY_BOUNCE, "junk"},
    /* The classic: a subscriber's auto-responder kept our VERP; its reply bounced to us. */
    {"auto-replied original, valid verp", DSN, true, "alice@sub.example", "<oof1@sub.example>",
     "<" VERP_ADDR ">", "Automatic reply: News", "auto-replied", NULL, NULL, NULL, "text/plain", 4,
     V_VALID, true, 0, BH_LOOP_AUTOREPLY_BOUNCE, "Auto-Submitted: auto-replied"},
    {"auto-replied original, no config", BNC, true, "alice@sub.example", NULL, NULL, "x",
     "auto-replied", NULL, NULL, NULL, NULL, 2, V_NONE, false, 0, BH_LOOP_AUTOREPLY_BOUNCE, NULL},
    {"auto-submitted no", DSN, true, NEWS_FROM, NULL, "News", "no", NULL, NULL, NULL, NULL, 2,
     V_NONE, false, 0, BH_LOOP_NONE, NULL},
    {"auto-generated, ours", DSN, true, NEWS_FROM, NULL, "News", "auto-generated", NULL, NULL, NULL,
     NULL, 2, V_VALID, true, 0, BH_LOOP_NONE, NULL},
    {"auto-generated, unknown", DSN, true, NEWS_FROM, NULL, "News", "auto-generated", NULL, NULL,
     NULL, NULL, 2, V_NONE, false, 0, BH_LOOP_AUTOREPLY_BOUNCE, "auto-generated"},
    {"x-autoreply", DSN, true, "a@sub.example", NULL, NULL, "x", NULL, NULL, "yes", NULL, NULL, 2,
     V_NONE, false, 0, BH_LOOP_AUTOREPLY_BOUNCE, "X-Autoreply"},
    {"x-autoreply no", DSN, true, "a@sub.example", NULL, NULL, "x", NULL, NULL, "no", NULL, NULL, 2,
     V_NONE, false, 0, BH_LOOP_NONE, NULL},
    {"precedence auto_reply", DSN, true, "a@sub.example", NULL, NULL, "x", NULL, "auto_reply", NULL,
     NULL, NULL, 2, V_NONE, false, 0, BH_LOOP_AUTOREPLY_BOUNCE, "auto_reply"},
    {"null return-path", DSN, true, "a@sub.example", NULL, "<>", "x", NULL, NULL, NULL, NULL, NULL,
     2, V_NONE, false, 0, BH_LOOP_AUTOREPLY_BOUNCE, "null sender"},
    {"oof subject, no config", DSN, true, "a@sub.example", NULL, NULL, "Out of Office: Weekly news",
     NULL, NULL, NULL, NULL, NULL, 2, V_NONE, false, 0, BH_LOOP_AUTOREPLY_BOUNCE, "out of office"},
    {"oof-like subject, ours", DSN, true, NEWS_FROM, NULL, "Out of office: 5 tips", NULL, NULL,
     NULL, NULL, NULL, 2, V_VALID, true, 0, BH_LOOP_NONE, NULL},
    {"real bounce mentions vacation", DSN, true, NEWS_FROM, NULL, "Vacation deals", NULL, "bulk",
     NULL, NULL, NULL, 5, V_NONE, false, 0, BH_LOOP_NONE, NULL},
    /* bounce of a bounce */
    {"returned dsn", DSN, true, "MAILER-DAEMON@mx.example", "<d@mx.example>", NULL, "Returned mail",
     "auto-generated (failure)", NULL, NULL, NULL, "multipart/report; report-type=delivery-status",
     2, V_VALID, true, 0, BH_LOOP_BOUNCE_OF_BOUNCE, "multipart/report"},
    {"returned daemon null sender", BNC, true, "Mail Delivery Subsystem <MAILER-DAEMON>", NULL,
     "<MAILER-DAEMON>", "Postmaster notify", NULL, NULL, NULL, NULL, NULL, 2, V_NONE, false, 0,
     BH_LOOP_BOUNCE_OF_BOUNCE, "mail system"},
    /* backscatter */
    {"verp invalid", DSN, true, NEWS_FROM, NULL, "News", NULL, NULL, NULL, NULL, NULL, 2, V_INVALID,
     true, 0, BH_LOOP_BACKSCATTER, "bad signature"},
    {"verp invalid, no returned message", BNC, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
     NULL, NULL, 0, V_INVALID, false, 0, BH_LOOP_BACKSCATTER, "no valid VERP"},
    {"no verp configured, foreign", DSN, true, "spam@spammer.example", "<x@spammer.example>", NULL,
     "Cheap pills", NULL, NULL, NULL, NULL, NULL, 3, V_NONE, true, 0, BH_LOOP_NONE, NULL},
    {"valid verp, foreign original", DSN, true, "alice@sub.example", "<r1@sub.example>", NULL,
     "Re: News", NULL, NULL, NULL, NULL, NULL, 3, V_VALID, true, 0, BH_LOOP_BACKSCATTER,
     "alice@sub.example"},
    {"valid verp, message-id ours", DSN, true, "alice@sub.example", "<r1@mail.ours.example>", NULL,
     "News", NULL, NULL, NULL, NULL, NULL, 3, V_VALID, true, 0, BH_LOOP_NONE, NULL},
    {"valid verp, only foreign message-id", DSN, true, NULL, "<r1@sub.example>", NULL, NULL, NULL,
     NULL, NULL, NULL, NULL, 3, V_VALID, true, 0, BH_LOOP_BACKSCATTER, NULL},
    {"valid verp, nothing to compare", DSN, true, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
     NULL, 3, V_VALID, true, 0, BH_LOOP_NONE, NULL},
    {"valid verp, no domains", DSN, true, "alice@sub.example", "<r1@sub.example>", NULL, "x", NULL,
     NULL, NULL, NULL, NULL, 3, V_VALID, false, 0, BH_LOOP_NONE, NULL},
    /* hops */
    {"hops over default", DSN, true, NEWS_FROM, NULL, "News", NULL, NULL, NULL, NULL, NULL, 31,
     V_NONE, false, 0, BH_LOOP_HOPS, "31 Received fields (limit 30)"},
    {"hops at default", DSN, true, NEWS_FROM, NULL, "News", NULL, NULL, NULL, NULL, NULL, 30,
     V_NONE, false, 0, BH_LOOP_NONE, NULL},
    {"hops over configured", BNC, true, NEWS_FROM, NULL, "News", NULL, NULL, NULL, NULL, NULL, 11,
     V_VALID, true, 10, BH_LOOP_HOPS, "limit 10"},
    /* order */
    /* a plain notice forwarding the report it got (a gateway's wrapper) is that report */
    {"forwarded report, no config", BNC, true, "MAILER-DAEMON@relay.example", NULL, NULL,
     "Returned mail", "auto-generated (failure)", NULL, NULL, NULL,
     "multipart/report; report-type=delivery-status", 2, V_NONE, false, 0, BH_LOOP_NONE, NULL},
    {"report before auto-submitted", DSN, true, "a@sub.example", NULL, "<>", "x", "auto-replied",
     NULL, NULL, NULL, "multipart/report", 40, V_INVALID, true, 0, BH_LOOP_BOUNCE_OF_BOUNCE, NULL},
    {"automatic before backscatter", DSN, true, "a@sub.example", NULL, NULL, "x", "auto-replied",
     NULL, NULL, NULL, NULL, 40, V_INVALID, true, 0, BH_LOOP_AUTOREPLY_BOUNCE, NULL},
    {"backscatter before hops", DSN, true, NEWS_FROM, NULL, "x", NULL, NULL, NULL, NULL, NULL, 40,
     V_INVALID, true, 0, BH_LOOP_BACKSCATTER, NULL},
    /* only failure reports are checked */
    {"autoreply type", BH_TYPE_AUTOREPLY, true, "a@sub.example", NULL, "<>", "x", "auto-replied",
     NULL, NULL, NULL, NULL, 40, V_INVALID, true, 0, BH_LOOP_NONE, NULL},
    {"arf type", BH_TYPE_ARF, true, "a@sub.example", NULL, NULL, "x", NULL, NULL, NULL, NULL, NULL,
     2, V_INVALID, true, 0, BH_LOOP_NONE, NULL},
    {"not a bounce", BH_TYPE_NOT_BOUNCE, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
     NULL, 0, V_INVALID, true, 0, BH_LOOP_NONE, NULL},
};

/* dup - bh_strdup that keeps NULL. */
static char *
dup(const char *s)
{
	return s != NULL ? bh_strdup(s) : NULL;
}

/* find - the case of that name (the extra checks below reuse cases). */
static const struct lcase *
find(const char *name)
{
	size_t i;

	for (i = 0; i < BH_NELEM(cases); i++)
		if (strcmp(cases[i].name, name) == 0)
			return &cases[i];
	bh_fatal("no case %s", name);
}

/* build - a verdict from one case. */
static void
build(const struct lcase *c, struct bh_verdict *v)
{
	bh_verdict_init(v);
	v->type = c->type;
	v->original.present = c->present;
	v->original.from = dup(c->from);
	v->original.message_id = dup(c->message_id);
	v->original.return_path = dup(c->return_path);
	v->original.subject = dup(c->subject);
	v->original.auto_submitted = dup(c->auto_submitted);
	v->original.precedence = dup(c->precedence);
	v->original.x_autoreply = dup(c->x_autoreply);
	v->original.x_auto_response_suppress = dup(c->xars);
	v->original.content_type = dup(c->content_type);
	v->original.received_count = c->received;
	if (c->verp != V_NONE) {
		v->verp.checked = true;
		v->verp.valid = c->verp == V_VALID;
		v->verp.address = bh_strdup(VERP_ADDR);
		v->verp.why = c->verp == V_VALID ? NULL : "bad signature";
	}
}

int
main(void)
{
	static char *domains[] = {"ours.example", "news.example.org."};
	struct bh_config cfg;
	size_t i;

	for (i = 0; i < BH_NELEM(cases); i++) {
		const struct lcase *c = &cases[i];
		struct bh_verdict v;

		memset(&cfg, 0, sizeof(cfg));
		cfg.limits.hop_limit = c->hops != 0 ? c->hops : BH_DEF_HOP_LIMIT;
		if (c->domains) {
			cfg.our_domains = domains;
			cfg.n_our_domains = BH_NELEM(domains);
		}
		if (c->verp != V_NONE)
			cfg.verp.n_keys = 1; /* a key is configured; the slot itself is not read */
		build(c, &v);
		bh_loop_check(&cfg, &v);
		test_checks++;
		if (v.loop.kind != c->want)
			TEST_FAIL("%s: got %s (%s), want %s", c->name,
				  bh_loop_kind_name(v.loop.kind), v.loop.why ? v.loop.why : "-",
				  bh_loop_kind_name(c->want));
		test_checks++;
		if ((v.loop.kind != BH_LOOP_NONE) != (v.loop.why != NULL))
			TEST_FAIL("%s: why is %s", c->name, v.loop.why ? v.loop.why : "NULL");
		test_checks++;
		if (c->why != NULL && (v.loop.why == NULL || strstr(v.loop.why, c->why) == NULL))
			TEST_FAIL("%s: why got \"%s\", want it to hold \"%s\"", c->name,
				  v.loop.why ? v.loop.why : "(null)", c->why);
		bh_verdict_deinit(&v);
	}

	/* NULL config: default hop limit, no our_domains. */
	{
		struct bh_verdict v;

		build(find("our newsletter, bulk, valid verp"), &v);
		v.original.received_count = BH_DEF_HOP_LIMIT + 1;
		bh_loop_check(NULL, &v);
		CHECK_INT(v.loop.kind, BH_LOOP_HOPS);
		bh_verdict_deinit(&v);
	}
	/* VERP checked but not configured (no key, signed format): no backscatter. */
	{
		struct bh_verdict v;

		memset(&cfg, 0, sizeof(cfg));
		build(find("verp invalid"), &v);
		bh_loop_check(&cfg, &v);
		CHECK_INT(v.loop.kind, BH_LOOP_NONE);
		cfg.verp.format = BH_VERP_CLASSIC;
		bh_loop_check(&cfg, &v);
		CHECK_INT(v.loop.kind, BH_LOOP_BACKSCATTER);
		bh_verdict_deinit(&v);
	}
	/* A kind already set (the store's repeat) is kept. */
	{
		struct bh_verdict v;

		build(find("verp invalid"), &v);
		v.loop.kind = BH_LOOP_REPEAT;
		v.loop.why = bh_strdup("repeat");
		bh_loop_check(NULL, &v);
		CHECK_INT(v.loop.kind, BH_LOOP_REPEAT);
		CHECK_STR(v.loop.why, "repeat");
		bh_verdict_deinit(&v);
	}
	/* Untrusted values in a why are made printable and cut. */
	{
		struct bh_verdict v;
		char longv[400];

		memset(longv, 'a', sizeof(longv) - 1);
		longv[sizeof(longv) - 1] = '\0';
		longv[3] = '\n';
		build(find("x-autoreply"), &v);
		free(v.original.x_autoreply);
		v.original.x_autoreply = bh_strdup(longv);
		bh_loop_check(NULL, &v);
		CHECK_INT(v.loop.kind, BH_LOOP_AUTOREPLY_BOUNCE);
		CHECK(v.loop.why != NULL && strchr(v.loop.why, '\n') == NULL);
		CHECK(v.loop.why != NULL && strlen(v.loop.why) < 200);
		bh_verdict_deinit(&v);
	}
	return test_done("test_loop");
}

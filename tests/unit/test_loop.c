/* test_loop - loop and backscatter detection over constructed verdicts: each kind, the order
 * between kinds, and the near misses (a real bounce of our newsletter with Precedence: bulk,
 * no VERP configured, our own auto-generated mail, a postmaster's double-bounce notice, an
 * auto-reply's failure that went back to its author). Then the loop fixtures end to end with a
 * VERP configuration: classify, VERP, loop check and policy, to show who gets suppressed. */
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "config.h"
#include "loop.h"
#include "policy.h"
#include "rules.h"
#include "util.h"
#include "verp_conf.h"

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

/* The report's own headers over the returned message of a case above (the envelope). */
struct ecase {
	const char *name;
	const char *base; /* the case whose verdict is reused */
	const char *from, *to, *delivered_to, *subject;
	enum vstate verp; /* replaces the base's */
	enum bh_loop_kind want;
};

#define DAEMON	    "Mail Delivery Subsystem <MAILER-DAEMON@mx.example>"
#define NOTIFY	    "Postmaster notify: see transcript for details"
#define RETURNED    "Undelivered Mail Returned to Sender"
#define AUTHOR_BASE "auto-replied original, no config"

static const struct ecase ecases[] = {
    /* A mail system's double bounce to its own postmaster ends the chain: a real failure. */
    {"notify subject", "returned dsn", DAEMON, "kijitora@mx.example", NULL, NOTIFY, V_NONE,
     BH_LOOP_NONE},
    {"notify subject, daemon null sender", "returned daemon null sender", DAEMON,
     "postmaster@mx.example", NULL, "  postmaster NOTIFY: x", V_NONE, BH_LOOP_NONE},
    {"daemon to postmaster", "returned dsn", DAEMON, "Postmaster <postmaster@mx.example>", NULL,
     RETURNED, V_NONE, BH_LOOP_NONE},
    {"daemon delivered to mailer-daemon", "returned dsn", "MAILER-DAEMON@mx.example (Mail)",
     "x@mx.example", "<MAILER-DAEMON@mx.example>", RETURNED, V_NONE, BH_LOOP_NONE},
    /* ... but it has no valid VERP: with VERP configured it is backscatter, */
    {"notify subject, verp invalid", "returned dsn", DAEMON, "postmaster@mx.example", NULL, NOTIFY,
     V_INVALID, BH_LOOP_BACKSCATTER},
    /* and one that did reach a valid VERP address is not the notice it claims to be. */
    {"notify subject, verp valid", "returned dsn", DAEMON, "postmaster@mx.example",
     "<" VERP_ADDR ">", NOTIFY, V_VALID, BH_LOOP_BOUNCE_OF_BOUNCE},
    /* near misses: still a bounce of a bounce */
    {"a person to postmaster", "returned dsn", "Bob <bob@mx.example>", "postmaster@mx.example",
     NULL, "Fwd: returned mail", V_NONE, BH_LOOP_BOUNCE_OF_BOUNCE},
    {"daemon to notpostmaster", "returned dsn", DAEMON, "notpostmaster@mx.example", NULL, RETURNED,
     V_NONE, BH_LOOP_BOUNCE_OF_BOUNCE},
    {"daemon to our bounce address", "returned dsn", DAEMON, VERP_ADDR, VERP_ADDR, RETURNED, V_NONE,
     BH_LOOP_BOUNCE_OF_BOUNCE},
    {"re: notify subject", "returned dsn", DAEMON, "kijitora@mx.example", NULL, "Re: " NOTIFY,
     V_NONE, BH_LOOP_BOUNCE_OF_BOUNCE},
    /* the notice exception is for a returned report only */
    {"notify subject, returned auto-reply", AUTHOR_BASE, DAEMON, "postmaster@mx.example", NULL,
     NOTIFY, V_NONE, BH_LOOP_AUTOREPLY_BOUNCE},
    /* An auto-reply's failure that went back to its own author is the normal route. */
    {"to the author", AUTHOR_BASE, DAEMON, "alice@sub.example", NULL, RETURNED, V_NONE,
     BH_LOOP_NONE},
    {"delivered to the author", AUTHOR_BASE, DAEMON, "x@sub.example", "<ALICE@Sub.Example>",
     RETURNED, V_NONE, BH_LOOP_NONE},
    {"to a list with the author", AUTHOR_BASE, DAEMON, "x@sub.example, \"A\" <alice@sub.example>",
     NULL, RETURNED, V_NONE, BH_LOOP_NONE},
    {"to the author, verp invalid", AUTHOR_BASE, DAEMON, "alice@sub.example", NULL, RETURNED,
     V_INVALID, BH_LOOP_BACKSCATTER},
    /* The loop: the auto-reply's failure came to us. */
    {"auto-reply bounce to us", AUTHOR_BASE, DAEMON, VERP_ADDR, VERP_ADDR, RETURNED, V_NONE,
     BH_LOOP_AUTOREPLY_BOUNCE},
    {"auto-reply bounce to us, verp valid", "auto-replied original, valid verp", DAEMON, VERP_ADDR,
     "<" VERP_ADDR ">", RETURNED, V_VALID, BH_LOOP_AUTOREPLY_BOUNCE},
    {"to another address of the domain", AUTHOR_BASE, DAEMON, "alice@sub.example.org",
     "bob@sub.example", RETURNED, V_NONE, BH_LOOP_AUTOREPLY_BOUNCE},
    {"the author only in a comment", AUTHOR_BASE, DAEMON, "x@y.example (alice@sub.example)", NULL,
     RETURNED, V_NONE, BH_LOOP_AUTOREPLY_BOUNCE},
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

/* set_verp - the VERP result of a constructed verdict (V_NONE: not checked). */
static void
set_verp(struct bh_verdict *v, enum vstate st)
{
	free(v->verp.address);
	free(v->verp.list);
	free(v->verp.recipient);
	memset(&v->verp, 0, sizeof(v->verp));
	if (st == V_NONE)
		return;
	v->verp.checked = true;
	v->verp.valid = st == V_VALID;
	v->verp.address = bh_strdup(VERP_ADDR);
	v->verp.why = st == V_VALID ? NULL : "bad signature";
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
	set_verp(v, c->verp);
}

/* check_kind - the loop kind of v is want, with a why exactly when there is a loop. */
static void
check_kind(const char *name, const struct bh_verdict *v, enum bh_loop_kind want)
{
	test_checks++;
	if (v->loop.kind != want)
		TEST_FAIL("%s: got %s (%s), want %s", name, bh_loop_kind_name(v->loop.kind),
			  v->loop.why ? v->loop.why : "-", bh_loop_kind_name(want));
	test_checks++;
	if ((v->loop.kind != BH_LOOP_NONE) != (v->loop.why != NULL))
		TEST_FAIL("%s: why is %s", name, v->loop.why ? v->loop.why : "NULL");
}

/* test_envelope - the cases that depend on the report's own headers (ecases). */
static void
test_envelope(void)
{
	static char *domains[] = {"ours.example"};
	size_t i;

	for (i = 0; i < BH_NELEM(ecases); i++) {
		const struct ecase *e = &ecases[i];
		const struct lcase *c = find(e->base);
		struct bh_loop_settings set;
		struct bh_verdict v;

		memset(&set, 0, sizeof(set));
		if (c->domains) {
			set.our_domains = domains;
			set.n_our_domains = BH_NELEM(domains);
		}
		if (e->verp != V_NONE)
			set.verp_verifies = true;
		build(c, &v);
		set_verp(&v, e->verp);
		v.env.from = dup(e->from);
		v.env.to = dup(e->to);
		v.env.delivered_to = dup(e->delivered_to);
		v.env.subject = dup(e->subject);
		bh_loop_check(&set, &v);
		check_kind(e->name, &v, e->want);
		bh_verdict_deinit(&v);
	}
}

/* The fixtures end to end under a VERP configuration. PH is the placeholder VERP address the
 * fixtures carry (its signature is not valid); valid: replace it by a real signed one. */
struct fcase {
	const char *file;
	enum vstate prepend; /* a Delivered-To put first: the placeholder (V_INVALID), the valid
			      * VERP (V_VALID), or none (V_NONE) */
	bool valid;	     /* replace PH by the valid VERP address */
	enum bh_loop_kind want;
	bool want_verp_valid;
	bool suppress; /* some recipient is suppressed (only the control) */
};

static const struct fcase fcases[] = {
    /* the control: a real bounce of our newsletter suppresses our subscriber */
    {"bounce-newsletter-bulk.eml", V_NONE, true, BH_LOOP_NONE, true, true},
    /* a postmaster's double bounce: never a VERP of ours, so backscatter, no suppression */
    {"postmaster-notify.eml", V_NONE, false, BH_LOOP_BACKSCATTER, false, false},
    {"postmaster-notify.eml", V_INVALID, false, BH_LOOP_BACKSCATTER, false, false},
    /* one that did reach a valid VERP address is not the notice it claims to be */
    {"postmaster-notify.eml", V_VALID, false, BH_LOOP_BOUNCE_OF_BOUNCE, true, false},
    /* an auto-reply's failure sent back to its author: no VERP of ours either */
    {"autoreply-bounce-to-author.eml", V_NONE, false, BH_LOOP_BACKSCATTER, false, false},
    /* the loop: an auto-reply's failure at our bounce address */
    {"autoreply-bounce-to-us.eml", V_NONE, true, BH_LOOP_AUTOREPLY_BOUNCE, true, false},
    {"autoreply-bounce-to-us.eml", V_NONE, false, BH_LOOP_AUTOREPLY_BOUNCE, false, false},
    {"bounce-of-autoreply.eml", V_NONE, true, BH_LOOP_AUTOREPLY_BOUNCE, true, false},
};

/* replace_all - s with every PH replaced by rep (a new string). */
static char *
replace_all(const char *s, size_t n, const char *rep)
{
	static const char ph[] = VERP_ADDR;
	struct bh_buf b;
	const char *p = s, *end = s + n, *hit;

	bh_buf_init(&b);
	while ((hit = bh_memcasemem(p, (size_t)(end - p), ph, sizeof(ph) - 1)) != NULL) {
		bh_buf_append(&b, p, (size_t)(hit - p));
		bh_buf_puts(&b, rep);
		p = hit + sizeof(ph) - 1;
	}
	bh_buf_append(&b, p, (size_t)(end - p));
	return bh_buf_steal(&b);
}

/* test_fixtures - classify + VERP + loops + policy over the loop fixtures (fcases). */
static void
test_fixtures(void)
{
	static const char yaml[] =
	    "imap: {host: mail.example.com, user: u, password_env: BH_TEST_PW}\n"
	    "verp: {domain: ours.example, keys: [{id: k1, env: BH_TEST_KEY}]}\n"
	    "our_domains: [ours.example]\n"
	    "lists:\n  news:\n";
	struct bh_config_diags d = {NULL, 0};
	struct bh_config *cfg;
	struct bh_rules *rules;
	struct bh_classify_settings limits;
	struct bh_analyze_settings aset;
	struct bh_policy_settings pset;
	struct bh_classify_opts opts;
	const char *err = NULL;
	char *verp;
	int64_t now = bh_now();
	size_t i, j;

	setenv("BH_TEST_PW", "pw", 1);
	setenv("BH_TEST_KEY", "loops-test-key-0123456789abcdef", 1);
	cfg = bh_config_load_buffer("loops.yaml", yaml, strlen(yaml), &d);
	for (i = 0; i < d.n; i++)
		fprintf(stderr, "%u:%u: %s\n", d.v[i].line, d.v[i].column, d.v[i].message);
	bh_config_diags_deinit(&d);
	if (cfg == NULL)
		bh_fatal("the test configuration does not load");
	rules = bh_rules_new(NULL, 0, false, cfg->limits.regex_match_limit, &err);
	if (rules == NULL)
		bh_fatal("rules: %s", err);
	opts.rules = rules;
	limits = bh_config_classify_settings(cfg);
	opts.settings = &limits;
	aset = bh_config_analyze_settings(cfg);
	pset = bh_config_policy_settings(cfg);
	verp = bh_verp_encode(&cfg->verp, "news", "alice@sub.example", now, &err);
	if (verp == NULL)
		bh_fatal("verp encode: %s", err);

	for (i = 0; i < BH_NELEM(fcases); i++) {
		const struct fcase *f = &fcases[i];
		char *path = bh_asprintf("%s/tests/fixtures/loops/%s", BH_SOURCE_DIR, f->file);
		char *name = bh_asprintf("%s (%s%s)", f->file, f->valid ? "valid VERP" : "as is",
					 f->prepend == V_NONE	 ? ""
					 : f->prepend == V_VALID ? ", delivered to the valid VERP"
								 : ", delivered to a bad VERP");
		char *data = NULL, *msg;
		size_t len = 0;
		bool suppress = false;
		struct bh_verdict v;
		struct bh_decisions dec;

		if (bh_read_file(path, BH_DEF_MESSAGE_SIZE, &data, &len, &err) == -1)
			bh_fatal("%s: %s", path, err);
		msg = replace_all(data, len, f->valid ? verp : VERP_ADDR);
		if (f->prepend != V_NONE) {
			free(data);
			data = bh_asprintf("Delivered-To: %s\n%s",
					   f->prepend == V_VALID ? verp : VERP_ADDR, msg);
		} else {
			free(data);
			data = bh_strdup(msg);
		}
		free(msg);
		bh_verdict_init(&v);
		CHECK_INT(bh_analyze(&aset, &opts, data, strlen(data), now, &v), 0);
		check_kind(name, &v, f->want);
		test_checks++;
		if (v.verp.valid != f->want_verp_valid)
			TEST_FAIL("%s: verp valid got %d, want %d", name, v.verp.valid,
				  f->want_verp_valid);
		bh_policy_decide(&pset, &v, &dec);
		for (j = 0; j < dec.n; j++)
			if (dec.v[j].outcome == BH_OUT_SUPPRESS || dec.v[j].outcome == BH_OUT_COUNT)
				suppress = true;
		test_checks++;
		if (suppress != f->suppress)
			TEST_FAIL("%s: suppression got %d, want %d", name, suppress, f->suppress);
		test_checks++;
		if (f->want != BH_LOOP_NONE && !dec.refused)
			TEST_FAIL("%s: a loop must refuse the message", name);
		bh_decisions_deinit(&dec);
		bh_verdict_deinit(&v);
		free(data);
		free(name);
		free(path);
	}
	free(verp);
	bh_rules_free(&rules);
	bh_config_free(&cfg);
}

int
main(void)
{
	static char *domains[] = {"ours.example", "news.example.org."};
	struct bh_loop_settings set;
	struct bh_config cfg;
	size_t i;

	for (i = 0; i < BH_NELEM(cases); i++) {
		const struct lcase *c = &cases[i];
		struct bh_verdict v;

		memset(&set, 0, sizeof(set));
		set.hop_limit = c->hops != 0 ? c->hops : BH_DEF_HOP_LIMIT;
		if (c->domains) {
			set.our_domains = domains;
			set.n_our_domains = BH_NELEM(domains);
		}
		if (c->verp != V_NONE)
			set.verp_verifies = true; /* a key is configured */
		build(c, &v);
		bh_loop_check(&set, &v);
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
	/* VERP checked but not configured (no key, signed format): no backscatter; the classic
	 * format verifies without a key (bh_config_loop_settings). */
	{
		struct bh_verdict v;

		memset(&cfg, 0, sizeof(cfg));
		build(find("verp invalid"), &v);
		set = bh_config_loop_settings(&cfg);
		CHECK_INT(set.verp_verifies, false);
		bh_loop_check(&set, &v);
		CHECK_INT(v.loop.kind, BH_LOOP_NONE);
		cfg.verp.format = BH_VERP_CLASSIC;
		set = bh_config_loop_settings(&cfg);
		bh_loop_check(&set, &v);
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
	test_envelope();
	test_fixtures();
	return test_done("test_loop");
}

/* test_verp_locate - which field of a bounce gives the VERP address, and the address scanner. */
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "verdict.h"
#include "verp_conf.h"
#include "verp_locate.h"

#include "test.h"

#define KEY    "bouncer-test-key-0123456789abcdef"
#define NOW    1767225600
#define GOOD   "bounces+news=john.smith=example.com=t7ghgoqsesspd5h6@bounce.example.com"
#define GOOD2  "bounces+news=_4aohn._53mith=example.com=t7geumabubcp35gi@bounce.example.com"
#define TRUNC  "bounces+news=john.smith=example.com=t7ghgoqsesspd5h@bounce.example.com"
#define FORGED "bounces+news=eve=example.com=t7gaaaaaaaaaaaaa@bounce.example.com"

static void
test_scanner(void)
{
	static const struct {
		const char *in;
		const char *want[4];
	} v[] = {
	    {"a@b", {"a@b"}},
	    {"  <a@b>  ", {"a@b"}},
	    {"John Smith <a@b>, c@d", {"a@b", "c@d"}},
	    {"\"Smith, John\" <a@b>,\"x@y\" <c@d>", {"a@b", "c@d"}},
	    {"a@b (the, comment (nested, ) here), c@d", {"a@b", "c@d"}},
	    {"undisclosed-recipients:;", {NULL}},
	    {"team: a@b, Bee <c@d>;, e@f", {"a@b", "c@d", "e@f"}},
	    {";;;;:::;;;", {NULL}},
	    {"\"odd:quoted\"@b", {"\"odd:quoted\"@b"}},
	    {"a@b\nc@d\r\ne@f", {"a@b", "c@d", "e@f"}},
	    {"\"quoted local\"@b", {"\"quoted local\"@b"}},
	    {"<unterminated@x", {"unterminated@x"}},
	    {"no-at-sign, <>, ,,,", {NULL}},
	    {"(((((((((((unbalanced a@b", {NULL}},
	};
	size_t i, k, n;
	const char *pos, *end, *a;

	for (i = 0; i < BH_NELEM(v); i++) {
		pos = v[i].in;
		end = pos + strlen(pos);
		for (k = 0; k < 4; k++) {
			int r = bh_verp_next_address(&pos, end, &a, &n);
			char *got = r == 1 ? bh_strndup(a, n) : NULL;

			CHECK_STR(got, v[i].want[k]);
			free(got);
			if (r != 1)
				break;
		}
	}
}

static void
conf_init(struct bh_verp_conf *c)
{
	const char *err;

	bh_verp_conf_defaults(c);
	strcpy(c->domain, "bounce.example.com");
	if (bh_verp_conf_add_key(c, "a", KEY, strlen(KEY), &err) == -1)
		TEST_FAIL("%s", err);
}

static void
test_locate(void)
{
	static const struct {
		const char *delivered_to, *x_original_to, *envelope_to, *return_path, *envid, *to;
		bool valid;
		const char *rcpt, *why, *address;
	} v[] = {
	    /* Nothing at all. */
	    {NULL, NULL, NULL, NULL, NULL, NULL, false, NULL, "no VERP address found", NULL},
	    /* Each field alone. */
	    {GOOD, NULL, NULL, NULL, NULL, NULL, true, "john.smith@example.com", NULL, GOOD},
	    {NULL, GOOD, NULL, NULL, NULL, NULL, true, "john.smith@example.com", NULL, GOOD},
	    {NULL, NULL, "<" GOOD ">", NULL, NULL, NULL, true, "john.smith@example.com", NULL,
	     GOOD},
	    {NULL, NULL, NULL, "<" GOOD ">", NULL, NULL, true, "john.smith@example.com", NULL,
	     GOOD},
	    {NULL, NULL, NULL, NULL, GOOD, NULL, true, "john.smith@example.com", NULL, GOOD},
	    {NULL, NULL, NULL, NULL,
	     "bounces+news+3Djohn.smith+3Dexample.com+3Dt7ghgoqsesspd5h6@"
	     "bounce.example.com",
	     NULL, true, "john.smith@example.com", NULL, GOOD},
	    {NULL, NULL, NULL, NULL, NULL, "Bounces <" GOOD ">", true, "john.smith@example.com",
	     NULL, GOOD},
	    /* Order of trust: Delivered-To wins over To. */
	    {GOOD2, NULL, NULL, NULL, NULL, GOOD, true, "John.Smith@example.com", NULL, GOOD2},
	    /* An upper-cased Delivered-To still verifies. */
	    {"BOUNCES+NEWS=_4AOHN._53MITH=EXAMPLE.COM=T7GEUMABUBCP35GI@BOUNCE.EXAMPLE.COM", NULL,
	     NULL, NULL, NULL, NULL, true, "John.Smith@example.com", NULL,
	     "BOUNCES+NEWS=_4AOHN._53MITH=EXAMPLE.COM=T7GEUMABUBCP35GI@BOUNCE.EXAMPLE.COM"},
	    /* A forged To does not beat a genuine Return-Path, and is not reported. */
	    {NULL, NULL, NULL, "<" GOOD2 ">", NULL, FORGED, true, "John.Smith@example.com", NULL,
	     GOOD2},
	    /* A forged address first, a good one later: the good one counts. */
	    {FORGED, NULL, NULL, NULL, NULL, GOOD, true, "john.smith@example.com", NULL, GOOD},
	    /* Only forged: "bad signature", with the address. */
	    {NULL, NULL, NULL, NULL, NULL, "x@y.example, " FORGED, false, NULL, "bad signature",
	     FORGED},
	    /* Not ours at all. */
	    {"postmaster@example.org", NULL, NULL, "<>", "abc123", "Someone <s@example.org>", false,
	     NULL, "no VERP address found", NULL},
	    /* Truncated tag. */
	    {TRUNC, NULL, NULL, NULL, NULL, NULL, false, NULL, "bad signature length", TRUNC},
	};
	struct bh_verp_conf c;
	struct bh_verdict vd;
	size_t i;

	conf_init(&c);
	for (i = 0; i < BH_NELEM(v); i++) {
		bh_verdict_init(&vd);
		vd.env.delivered_to = v[i].delivered_to ? bh_strdup(v[i].delivered_to) : NULL;
		vd.env.x_original_to = v[i].x_original_to ? bh_strdup(v[i].x_original_to) : NULL;
		vd.env.envelope_to = v[i].envelope_to ? bh_strdup(v[i].envelope_to) : NULL;
		vd.original.return_path = v[i].return_path ? bh_strdup(v[i].return_path) : NULL;
		vd.env.original_envelope_id = v[i].envid ? bh_strdup(v[i].envid) : NULL;
		vd.env.to = v[i].to ? bh_strdup(v[i].to) : NULL;
		bh_verp_locate(&c, &vd, NOW);
		CHECK(vd.verp.checked);
		CHECK_INT(vd.verp.valid, v[i].valid);
		CHECK_STR(vd.verp.recipient, v[i].rcpt);
		CHECK_STR(vd.verp.list, v[i].valid ? "news" : NULL);
		CHECK_STR(vd.verp.why, v[i].why);
		CHECK_STR(vd.verp.address, v[i].address);
		/* Calling it twice frees and refills. */
		bh_verp_locate(&c, &vd, NOW);
		CHECK_INT(vd.verp.valid, v[i].valid);
		bh_verdict_deinit(&vd);
	}
	/* Expired. */
	bh_verdict_init(&vd);
	vd.env.delivered_to = bh_strdup(GOOD);
	bh_verp_locate(&c, &vd, NOW + 90 * 86400);
	CHECK_INT(vd.verp.valid, false);
	CHECK_STR(vd.verp.why, "expired");
	/* The JSON output names it. */
	{
		struct bh_buf b;

		bh_buf_init(&b);
		bh_verdict_json(&b, &vd, "x");
		CHECK(strstr(b.data, "\"why\":\"expired\"") != NULL);
		bh_buf_deinit(&b);
	}
	bh_verdict_deinit(&vd);
	bh_verp_conf_wipe(&c);
}

int
main(void)
{
	test_scanner();
	test_locate();
	return test_done("test_verp_locate");
}

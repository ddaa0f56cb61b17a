/*
 * test_concepts.c - the paraphrase suite of the reason engine (issue 16): each reason a failure
 * can have, written as a concept in our own words (tests/unit/data/concepts.tsv), never from a
 * corpus file. A row is a positive paraphrase (the engine must give that reason) or a near miss
 * (a text sharing the concept's words that must not give it, and optionally should give another).
 *
 * Every failing row prints "got X (rule), want Y"; the end prints per-reason pass counts and a
 * total. Bad rows and a reason with fewer than MIN_POS paraphrases or MIN_NEG near misses always
 * fail (that is the data's fault, not the engine's), and so does every failing verdict: the
 * engine's concept rows (rules/builtin.yaml) are written from these paraphrases' families.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reason.h"
#include "rules.h"
#include "test.h"
#include "util.h"

#define MIN_POS	  5
#define MIN_NEG	  2
#define MAX_ROW	  8192
#define MAX_ROWS  4096
#define NFIELDS	  7
#define DATA_FILE "/tests/unit/data/concepts.tsv"

/* The reasons a failure can have (../shared/REASONS.md): each needs a full concept family. */
static const char *const required[] = {
    "userunknown",     "hostunknown",	"hasmoved",	  "notaccept",	  "mailboxfull",
    "suspend",	       "exceedlimit",	"filtered",	  "expired",	  "blocked",
    "badreputation",   "requireptr",	"authfailure",	  "norelaying",	  "rejected",
    "policyviolation", "spamdetected",	"virusdetected",  "contenterror", "notcompliantrfc",
    "mesgtoobig",      "securityerror", "failedstarttls", "speeding",	  "toomanyconn",
    "syntaxerror",     "networkerror",	"systemerror",	  "systemfull",	  "mailererror",
    "suppressed",
};

static const char *const stages[] = {"", "CONN", "HELO", "MAIL", "RCPT", "DATA"};

struct tally {
	unsigned pos, pos_ok, neg, neg_ok;
};

static struct tally tally[BH_R_COUNT];
static unsigned rows, verdict_failures, mustnot_failures;

/* same_reason - speeding and ratelimited are one reason under two names (REASONS.md) */
static bool
same_reason(int got, int want)
{
	if (got == BH_R_RATELIMITED)
		got = BH_R_SPEEDING;
	if (want == BH_R_RATELIMITED)
		want = BH_R_SPEEDING;
	return got == want;
}

/* unescape - the two characters "\n" become a line break, "\t" a tab, "\\" a backslash */
static size_t
unescape(const char *in, char *out, size_t size)
{
	size_t n = 0;

	for (; *in != '\0' && n + 1 < size; in++) {
		if (in[0] == '\\' && (in[1] == 'n' || in[1] == 't' || in[1] == '\\')) {
			in++;
			out[n++] = *in == 'n' ? '\n' : *in == 't' ? '\t' : '\\';
		} else {
			out[n++] = *in;
		}
	}
	out[n] = '\0';
	return n;
}

static bool
stage_valid(const char *s)
{
	size_t i;

	for (i = 0; i < BH_NELEM(stages); i++)
		if (strcmp(s, stages[i]) == 0)
			return true;
	return false;
}

/* split - cut a row at its tabs; returns the number of fields (at most NFIELDS) */
static int
split(char *line, char *f[NFIELDS])
{
	int k = 0;
	char *p = line;

	while (k < NFIELDS) {
		f[k++] = p;
		p = strchr(p, '\t');
		if (p == NULL)
			break;
		*p++ = '\0';
	}
	return k;
}

/* parse_want - "reason" (pos), or "!reason" / "!reason=reason2" (neg); -1 on a bad word */
static int
parse_want(bool pos, char *want, int *mustnot, int *should)
{
	char *eq;

	*mustnot = *should = -1;
	if (pos) {
		*should = bh_reason_lookup(want);
		return *should == -1 ? -1 : 0;
	}
	if (want[0] != '!')
		return -1;
	eq = strchr(want, '=');
	if (eq != NULL) {
		*eq = '\0';
		if ((*should = bh_reason_lookup(eq + 1)) == -1)
			return -1;
	}
	*mustnot = bh_reason_lookup(want + 1);
	return *mustnot == -1 ? -1 : 0;
}

/* run_row - one case through bh_rules_decide_cmd, tallied; a wrong verdict prints one line */
static void
run_row(const struct bh_rules *rs, unsigned lineno, char *line)
{
	char *f[NFIELDS], text[MAX_ROW];
	struct bh_rules_result res;
	int n, mustnot, should;
	size_t len;
	bool pos, ok;

	n = split(line, f);
	test_checks++;
	if (n < 6 || (strcmp(f[0], "pos") != 0 && strcmp(f[0], "neg") != 0) || !stage_valid(f[3])) {
		TEST_FAIL("concepts.tsv:%u: bad row (kind, 6 or 7 fields, stage)", lineno);
		return;
	}
	pos = strcmp(f[0], "pos") == 0;
	if (parse_want(pos, f[5], &mustnot, &should) == -1) {
		TEST_FAIL("concepts.tsv:%u: bad want \"%s\"", lineno, f[5]);
		return;
	}
	if (f[4][0] == '\0' && f[1][0] == '\0' && f[2][0] == '\0') {
		TEST_FAIL("concepts.tsv:%u: a row without text, status or reply", lineno);
		return;
	}
	rows++;
	len = unescape(f[4], text, sizeof(text));
	bh_rules_decide_cmd(rs, f[1], f[2], text, len, f[3], &res);

	if (pos) {
		tally[should].pos++;
		ok = same_reason((int)res.reason, should);
		if (ok)
			tally[should].pos_ok++;
		else
			printf("concepts.tsv:%u: pos got %s (%s), want %s [%s|%s|%s] \"%s\"\n",
			       lineno, bh_reason_name(res.reason), res.rule, bh_reason_name(should),
			       f[1], f[2], f[3], f[4]);
	} else {
		bool hit = same_reason((int)res.reason, mustnot);

		tally[mustnot].neg++;
		ok = !hit && (should == -1 || same_reason((int)res.reason, should));
		if (ok)
			tally[mustnot].neg_ok++;
		else if (hit)
			mustnot_failures++;
		if (!ok)
			printf("concepts.tsv:%u: neg got %s (%s), want !%s%s%s [%s|%s|%s] \"%s\"\n",
			       lineno, bh_reason_name(res.reason), res.rule,
			       bh_reason_name(mustnot), should != -1 ? "=" : "",
			       should != -1 ? bh_reason_name(should) : "", f[1], f[2], f[3], f[4]);
	}
	if (!ok)
		verdict_failures++;
}

/* report - per-reason figures, the coverage check and the total */
static void
report(void)
{
	unsigned pos = 0, pos_ok = 0, neg = 0, neg_ok = 0;
	size_t i;
	int r;

	printf("%-16s %9s %9s\n", "reason", "pos", "neg");
	for (r = 0; r < BH_R_COUNT; r++) {
		const struct tally *t = &tally[r];

		if (t->pos == 0 && t->neg == 0)
			continue;
		printf("%-16s %4u/%-4u %4u/%-4u\n", bh_reason_name((enum bh_reason)r), t->pos_ok,
		       t->pos, t->neg_ok, t->neg);
		pos += t->pos;
		pos_ok += t->pos_ok;
		neg += t->neg;
		neg_ok += t->neg_ok;
	}
	for (i = 0; i < BH_NELEM(required); i++) {
		int q = bh_reason_lookup(required[i]);

		test_checks++;
		if (q == -1) {
			TEST_FAIL("coverage: %s is no reason", required[i]);
			continue;
		}
		if (tally[q].pos < MIN_POS || tally[q].neg < MIN_NEG)
			TEST_FAIL("coverage: %s has %u paraphrases and %u near misses, want >= %d "
				  "and >= %d",
				  required[i], tally[q].pos, tally[q].neg, MIN_POS, MIN_NEG);
	}
	printf("total: %u rows, %u/%u pos, %u/%u neg, %u/%u pass (%.1f%%), %u must-not "
	       "violations\n",
	       rows, pos_ok, pos, neg_ok, neg, pos_ok + neg_ok, rows,
	       rows != 0 ? 100.0 * (pos_ok + neg_ok) / rows : 0.0, mustnot_failures);
}

int
main(void)
{
	const char *src = getenv("BH_SOURCE_DIR"), *err = NULL;
	char *path, *data, *line, *next;
	struct bh_rules *rs;
	unsigned lineno = 0;
	size_t len;

	rs = bh_rules_new(NULL, 0, false, 0, &err);
	if (rs == NULL) {
		fprintf(stderr, "bh_rules_new: %s\n", err);
		return 1;
	}
	path = bh_asprintf("%s%s", src != NULL && src[0] != '\0' ? src : BH_SOURCE_DIR, DATA_FILE);
	if (bh_read_file(path, 1u << 20, &data, &len, &err) == -1) {
		fprintf(stderr, "test_concepts: %s: %s\n", path, err);
		free(path);
		bh_rules_free(&rs);
		return 1;
	}
	for (line = data; line != NULL && line < data + len && lineno < MAX_ROWS; line = next) {
		next = memchr(line, '\n', (size_t)(data + len - line));
		if (next != NULL)
			*next++ = '\0';
		lineno++;
		if (line[0] == '#' || line[0] == '\0')
			continue;
		run_row(rs, lineno, line);
	}
	CHECK(lineno < MAX_ROWS);
	report();
	free(data);
	free(path);
	bh_rules_free(&rs);

	if (test_done("test_concepts") != 0)
		return 1;
	if (verdict_failures == 0)
		return 0;
	printf("test_concepts: %u rows fail\n", verdict_failures);
	return 1;
}

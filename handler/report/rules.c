/*
 * rules.c - the reason engine: why did delivery to one recipient fail?
 *
 * Input: an RFC 3463 status ("5.1.1" or ""), an SMTP reply code ("550" or "") and the
 * diagnostic text (untrusted bytes, any length). Output: a reason word, whose problem it is, and
 * the id of the rule that decided. The knowledge is data: an ordered table of rows (status glob,
 * reply-code glob, PCRE2 pattern over the text, reason, optional whose). The built-in table below
 * is written from RFC 3463 / RFC 7372 / RFC 7505 codes and the phrases real MTAs emit; rules from
 * the configuration are put in front of it (or replace it).
 *
 * Decision order (docs/classification.md):
 *   1. strong text rows, in table order (config rows first): the first whose status/reply globs
 *      and pattern all match decides;
 *   2. code rows (no pattern): a specific status ("5.1.1", "5.2.2", "5.7.26"...) decides;
 *      generic codes (x.0.0, x.7.1, 550, 554...) have no row and decide nothing;
 *   3. weak text rows: vague phrases ("service unavailable", a bare "spam") that only decide
 *      when the status said nothing specific;
 *   4. the status class: 4.x.x -> onhold, anything else -> undefined.
 * A 2.x.x status is a success notice: "delivered", unless a text row of step 1 matched.
 *
 * The text is normalized once per call (bounded by BH_MAX_RULE_TEXT): white space and control
 * bytes collapse to one space, ASCII is lower-cased, and the "550-5.7.1 " continuation markers
 * of a multi-line SMTP reply are dropped so that phrases split across reply lines still match.
 * Each built-in row carries cheap literals; the regex runs only when one of them occurs in the
 * text (the prefilter), which keeps a recipient at a few microseconds. Every match runs under a
 * PCRE2 match and depth limit, so a crafted text cannot make a pattern backtrack for long; a
 * match that hits the limit counts as no match.
 *
 * Trusts: nothing in the text; the config rows were validated by config.c and are checked again
 * here (globs, pattern compile). Pure: no I/O, no logging.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "rules.h"

#include <ctype.h>
#include <nettle/sha2.h>
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bh_limits.h"
#include "ctree.h"
#include "util.h"

/* Specificity of a row: how much its words say (docs/classification.md). */
enum spec {
	SPEC_STOCK = 0,	  /* the stock words of any refusal ("access denied"): after the stage */
	SPEC_VAGUE = 1,	  /* vague words: after a specific status, before the stage */
	SPEC_STATUS = 2,  /* a code row (no pattern) */
	SPEC_CONCEPT = 3, /* a subject with a predicate: "the mailbox is full" */
	SPEC_CAUSE = 4,	  /* a named cause or mechanism: a block list, SPF, a rate, a virus */
	SPEC_CONFIG = 5,  /* a row of the configuration: the operator overrides everything */
};

/* One compiled row. Strings are owned; lits is a run of NUL-terminated literals ending in "". */
struct bh_rule {
	char *id;
	char *status;
	char *reply;
	char *pattern;
	char *lits;
	uint16_t *lit_ids; /* the literals' ids in the prefilter automaton; n_lit_ids of them */
	size_t n_lit_ids;
	char *lits2; /* literals_also: a second set, one of which is in every match too */
	uint16_t *lit2_ids;
	size_t n_lit2_ids;
	pcre2_code *re;
	bool jit_tried; /* pcre2_jit_compile ran (the interpreter is the fallback, same results) */
	enum bh_reason reason;
	bool has_whose;
	enum bh_whose whose;
	enum spec spec;
};

/* The prefilter: one Aho-Corasick automaton over every row's literals, run once per text.
 * Bytes are folded into 64 classes (letters and digits each their own, the rest shared), so
 * it may report a literal that is not there (the row's regex then runs and decides), never
 * miss one that is. */
#define AC_CLASSES 64
struct ac {
	uint16_t (*next)[AC_CLASSES]; /* the full transition table */
	int32_t *out;		      /* per state: the literal that ends here, or -1 */
	uint16_t *dict;		      /* per state: the next state down its failure chain with an
				       * output, or 0 */
	size_t nstates;
	size_t nlits;
};

struct bh_rules {
	struct bh_rule *v;
	size_t n;
	struct ac ac;
	size_t *order; /* the built-in text rows, most specific first, then in table order */
	size_t n_order;
	pcre2_match_context *mctx;
	char version[17];
	bool no_prefilter; /* tests: check that the literals never hide a match */
};

static char rules_error[512];

/* ac_class - the automaton's class of a text byte */
static inline unsigned
ac_class(unsigned char c)
{
	if (c >= 'a' && c <= 'z')
		return 1 + (unsigned)(c - 'a');
	if (c >= '0' && c <= '9')
		return 27 + (unsigned)(c - '0');
	if (c == ' ')
		return 37;
	return 38 + (unsigned)(c % 26u);
}

/* lit_ids - the automaton's ids of the literals in lits (a run ending in ""), adding the new
 * ones to the unique list lits[0..*nl); NULL for no literals */
static uint16_t *
lit_ids(const char *rl, size_t *n_r, char ***lits, size_t *nl, size_t *capl, size_t *total)
{
	uint16_t *ids;
	const char *l;
	size_t j, k;

	*n_r = 0;
	if (rl == NULL)
		return NULL;
	for (l = rl; *l != '\0'; l += strlen(l) + 1)
		(*n_r)++;
	ids = bh_calloc(*n_r + 1, sizeof(*ids));
	for (l = rl, j = 0; *l != '\0'; l += strlen(l) + 1, j++) {
		for (k = 0; k < *nl && strcmp((*lits)[k], l) != 0; k++)
			;
		if (k == *nl) {
			if (*nl == *capl)
				*lits = bh_reallocarray(*lits, *capl = *capl ? *capl * 2 : 64,
							sizeof(**lits));
			(*lits)[(*nl)++] = (char *)l;
			*total += strlen(l);
		}
		ids[j] = (uint16_t)k;
	}
	return ids;
}

/* ac_build - the automaton of every row's literals, and each row's literal ids */
static void
ac_build(struct bh_rules *rs)
{
	struct ac *ac = &rs->ac;
	char **lits = NULL;
	size_t nl = 0, capl = 0, caps = 1, i, j, len, total = 1;
	uint16_t *fail, *queue;
	size_t qh = 0, qt = 0;

	/* the unique literals, and the rows' ids for them */
	for (i = 0; i < rs->n; i++) {
		struct bh_rule *r = &rs->v[i];

		r->lit_ids = lit_ids(r->lits, &r->n_lit_ids, &lits, &nl, &capl, &total);
		r->lit2_ids = lit_ids(r->lits2, &r->n_lit2_ids, &lits, &nl, &capl, &total);
	}
	if (total >= 65535 || nl >= 65535)
		bh_fatal("rules: the prefilter's literals are too many (%zu bytes)", total);
	ac->nlits = nl;
	caps = total;
	ac->next = bh_calloc(caps, sizeof(*ac->next));
	ac->out = bh_calloc(caps, sizeof(*ac->out));
	ac->dict = bh_calloc(caps, sizeof(*ac->dict));
	ac->nstates = 1;
	ac->out[0] = -1;
	/* the trie: state 0 is the root, 0 in next[] means "no edge" before the links */
	for (i = 0; i < nl; i++) {
		size_t st = 0;

		len = strlen(lits[i]);
		for (j = 0; j < len; j++) {
			unsigned c = ac_class((unsigned char)lits[i][j]);

			if (ac->next[st][c] == 0) {
				ac->out[ac->nstates] = -1;
				ac->next[st][c] = (uint16_t)ac->nstates++;
			}
			st = ac->next[st][c];
		}
		if (ac->out[st] == -1)
			ac->out[st] = (int32_t)i;
	}
	/* failure links breadth first, completing the transition table */
	fail = bh_calloc(ac->nstates, sizeof(*fail));
	queue = bh_calloc(ac->nstates, sizeof(*queue));
	for (j = 0; j < AC_CLASSES; j++)
		if (ac->next[0][j] != 0)
			queue[qt++] = ac->next[0][j];
	while (qh < qt) {
		uint16_t st = queue[qh++];

		ac->dict[st] = ac->out[fail[st]] != -1 ? fail[st] : ac->dict[fail[st]];
		for (j = 0; j < AC_CLASSES; j++) {
			uint16_t nx = ac->next[st][j];

			if (nx != 0) {
				fail[nx] = ac->next[fail[st]][j];
				queue[qt++] = nx;
			} else {
				ac->next[st][j] = ac->next[fail[st]][j];
			}
		}
	}
	free(fail);
	free(queue);
	free(lits);
}

/* ac_free - free the automaton */
static void
ac_free(struct ac *ac)
{
	free(ac->next);
	free(ac->out);
	free(ac->dict);
	memset(ac, 0, sizeof(*ac));
}

/* ac_scan - set the bit of every literal that may occur in t[0..n) */
static void
ac_scan(const struct ac *ac, const char *t, size_t n, uint64_t *found)
{
	size_t i;
	uint16_t st = 0, d;

	if (ac->nstates <= 1)
		return;
	for (i = 0; i < n; i++) {
		st = ac->next[st][ac_class((unsigned char)t[i])];
		if (ac->out[st] != -1)
			found[ac->out[st] >> 6] |= UINT64_C(1) << (ac->out[st] & 63);
		for (d = ac->dict[st]; d != 0; d = ac->dict[d])
			found[ac->out[d] >> 6] |= UINT64_C(1) << (ac->out[d] & 63);
	}
}

/* ac_any - one of the literals ids[0..n) may occur in the text */
static inline bool
ac_any(const uint16_t *ids, size_t n, const uint64_t *found)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (found[ids[i] >> 6] & (UINT64_C(1) << (ids[i] & 63)))
			return true;
	return false;
}

/* glob_match - '*' any run, '?' one byte; iterative (no recursion, linear backtracking). */
static bool
glob_match(const char *pat, const char *s)
{
	const char *star = NULL, *mark = NULL;

	while (*s != '\0') {
		if (*pat == '?' || (*pat != '*' && *pat == *s)) {
			pat++, s++;
		} else if (*pat == '*') {
			star = pat++;
			mark = s;
		} else if (star != NULL) {
			pat = star + 1;
			s = ++mark;
		} else {
			return false;
		}
	}
	while (*pat == '*')
		pat++;
	return *pat == '\0';
}

/* glob_valid - a status or reply-code glob: digits, '.', '*', '?' and at most 16 bytes. */
static bool
glob_valid(const char *g, bool dots)
{
	size_t i;

	if (g[0] == '\0' || strlen(g) > 16)
		return false;
	for (i = 0; g[i] != '\0'; i++)
		if (!isdigit((unsigned char)g[i]) && g[i] != '*' && g[i] != '?' &&
		    !(dots && g[i] == '.'))
			return false;
	return true;
}

/* lits_copy - "a|b|c" -> "a\0b\0c\0\0" */
static char *
lits_copy(const char *lits)
{
	size_t n = strlen(lits), i;
	char *out = bh_malloc(n + 2);

	for (i = 0; i < n; i++)
		out[i] = lits[i] == '|' ? '\0' : lits[i];
	out[n] = '\0';
	out[n + 1] = '\0';
	return out;
}

/* caseless_needed - whether a pattern can tell PCRE2_CASELESS from its absence over the
 * normalized text, whose ASCII letters are all lower case: only through an upper-case ASCII
 * letter that it matches literally (a letter outside an escape, a class range such as
 * [A-Z]) or through an escape that may stand for one (\x41, \101, \Q...\E, \N{U+41},
 * \p{Lu}, \cA); otherwise both compile to the same matches and the case-sensitive code is
 * the faster. */
static bool
caseless_needed(const char *p)
{
	for (; *p != '\0'; p++) {
		if (*p == '\\') {
			if (p[1] == '\0' || strchr("xoQENpPc0123456789", p[1]) != NULL)
				return true;
			p++; /* \S, \d, \b, \. ...: an escape or a quoted byte, no letter */
			continue;
		}
		if (*p >= 'A' && *p <= 'Z')
			return true;
	}
	return false;
}

/* rule_compile - fill r from the given fields; -1 with rules_error set on a bad rule. */
static int
rule_compile(struct bh_rule *r, const char *prefix, const char *id, const char *status,
	     const char *reply, const char *lits, const char *pattern, enum bh_reason reason,
	     int whose, enum spec spec)
{
	int errcode;
	PCRE2_SIZE erroff;
	PCRE2_UCHAR msg[256];

	memset(r, 0, sizeof(*r));
	r->id = bh_asprintf("%s:%s", prefix, id != NULL ? id : "(unnamed)");
	if (status != NULL && !glob_valid(status, true)) {
		snprintf(rules_error, sizeof(rules_error),
			 "rule %.100s: bad status pattern \"%.40s\"", r->id, status);
		return -1;
	}
	if (reply != NULL && !glob_valid(reply, false)) {
		snprintf(rules_error, sizeof(rules_error),
			 "rule %.100s: bad reply code pattern \"%.40s\"", r->id, reply);
		return -1;
	}
	if ((unsigned)reason >= BH_R_COUNT || whose > (int)BH_WHOSE_EITHER) {
		snprintf(rules_error, sizeof(rules_error), "rule %.100s: bad reason or whose",
			 r->id);
		return -1;
	}
	r->status = status != NULL ? bh_strdup(status) : NULL;
	r->reply = reply != NULL ? bh_strdup(reply) : NULL;
	r->lits = lits != NULL ? lits_copy(lits) : NULL;
	r->reason = reason;
	r->has_whose = whose >= 0;
	r->whose = whose >= 0 ? (enum bh_whose)whose : bh_reason_whose(reason);
	r->spec = spec;
	if (pattern == NULL)
		return 0;
	r->pattern = bh_strdup(pattern);
	r->re =
	    pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
			  (caseless_needed(pattern) ? PCRE2_CASELESS : 0) | PCRE2_NEVER_BACKSLASH_C,
			  &errcode, &erroff, NULL);
	if (r->re == NULL) {
		pcre2_get_error_message(errcode, msg, sizeof(msg));
		snprintf(rules_error, sizeof(rules_error),
			 "rule %.100s: pattern does not compile at offset %zu: %s", r->id,
			 (size_t)erroff, (const char *)msg);
		return -1;
	}
	/* JIT where the platform has it, made at the row's first match (match_len): a process
	 * that never runs a row does not pay for its machine code */
	return 0;
}

/* rule_free - free what one compiled rule owns (its strings, literals and PCRE2 code) */
static void
rule_free(struct bh_rule *r)
{
	free(r->id);
	free(r->status);
	free(r->reply);
	free(r->pattern);
	free(r->lits);
	free(r->lits2);
	free(r->lit2_ids);
	free(r->lit_ids);
	if (r->re != NULL)
		pcre2_code_free(r->re);
}

/* hash_str - feed a field and a separator that no field contains into the version hash. */
static void
hash_str(struct sha256_ctx *ctx, const char *s)
{
	if (s != NULL)
		sha256_update(ctx, strlen(s), (const uint8_t *)s);
	sha256_update(ctx, 1, (const uint8_t *)"\x1f");
}

/* rules_hash - the version: the first 8 bytes of SHA-256 over every compiled row, in order. */
static void
rules_hash(struct bh_rules *rs)
{
	struct sha256_ctx ctx;
	uint8_t digest[SHA256_DIGEST_SIZE];
	static const char hex[] = "0123456789abcdef";
	size_t i;

	sha256_init(&ctx);
	for (i = 0; i < rs->n; i++) {
		const struct bh_rule *r = &rs->v[i];
		const char *l;

		hash_str(&ctx, r->id);
		hash_str(&ctx, r->status);
		hash_str(&ctx, r->reply);
		hash_str(&ctx, r->pattern);
		for (l = r->lits; l != NULL && *l != '\0'; l += strlen(l) + 1)
			hash_str(&ctx, l);
		for (l = r->lits2; l != NULL && *l != '\0'; l += strlen(l) + 1)
			hash_str(&ctx, l);
		hash_str(&ctx, bh_reason_name(r->reason));
		hash_str(&ctx, r->has_whose ? bh_whose_name(r->whose) : "");
		sha256_update(&ctx, 1, (const uint8_t[]){(uint8_t)r->spec});
		sha256_update(&ctx, 1, (const uint8_t *)"\x1e");
	}
	sha256_digest(&ctx, sizeof(digest), digest);
	for (i = 0; i < 8; i++) {
		rs->version[2 * i] = hex[digest[i] >> 4];
		rs->version[2 * i + 1] = hex[digest[i] & 15];
	}
	rs->version[16] = '\0';
}

/* whose_lookup - a whose word, or -1 */
static int
whose_lookup(const char *s)
{
	int w;

	for (w = 0; w <= (int)BH_WHOSE_EITHER; w++)
		if (strcmp(bh_whose_name((enum bh_whose)w), s) == 0)
			return w;
	return -1;
}

/* builtin_error - a defect of the embedded rules file: ours, so fatal */
static void
builtin_error(const struct bh_cnode *n, const char *what)
{
	bh_fatal("rules/builtin.yaml:%u:%u: %s", n != NULL ? n->line : 0, n != NULL ? n->col : 0,
		 what);
}

/* map_get - the value of key in a YAML mapping, or NULL */
static const struct bh_cnode *
map_get(const struct bh_cnode *map, const char *key)
{
	size_t i;

	for (i = 0; i + 1 < map->n; i += 2)
		if (map->kids[i]->type == BH_CN_SCALAR && strcmp(map->kids[i]->str, key) == 0)
			return map->kids[i + 1];
	return NULL;
}

/* scalar_of - the text of a scalar node (NULL when absent) */
static const char *
scalar_of(const struct bh_cnode *n)
{
	if (n == NULL)
		return NULL;
	if (n->type != BH_CN_SCALAR)
		builtin_error(n, "a scalar was expected");
	return n->str;
}

/* A named family of words ("{rcpt}"), expanded into patterns as a non-capturing group. */
struct family {
	char *name;
	char *alt;
};

/* expand - a pattern with every {name} of a known family replaced by (?:its alternatives);
 * braces that name no family (a quantifier {1,40}) are left alone. New string. */
static char *
expand(const char *pat, const struct family *fam, size_t nfam, const struct bh_cnode *where)
{
	struct bh_buf b;
	const char *p = pat, *q;
	size_t i, depth = 0;

	bh_buf_init(&b);
	while (*p != '\0') {
		if (p[0] == '\\' && p[1] != '\0') {
			bh_buf_append(&b, p, 2);
			p += 2;
			continue;
		}
		if (*p == '{' && (q = strchr(p, '}')) != NULL && q > p + 1 &&
		    strspn(p + 1, "abcdefghijklmnopqrstuvwxyz_") == (size_t)(q - p - 1)) {
			for (i = 0; i < nfam; i++)
				if (strlen(fam[i].name) == (size_t)(q - p - 1) &&
				    memcmp(fam[i].name, p + 1, (size_t)(q - p - 1)) == 0)
					break;
			if (i == nfam)
				builtin_error(where, "a pattern names an unknown family");
			if (++depth > 1000)
				builtin_error(where, "families nest too deep");
			bh_buf_printf(&b, "(?:%s)", fam[i].alt);
			p = q + 1;
			continue;
		}
		bh_buf_putc(&b, *p++);
	}
	return bh_buf_steal(&b);
}

/* alternatives - a row's `pattern:` or its `any:` list joined with '|', families expanded */
static char *
alternatives(const struct bh_cnode *row, const struct family *fam, size_t nfam)
{
	const struct bh_cnode *pat = map_get(row, "pattern"), *any = map_get(row, "any");
	struct bh_buf b;
	char *one, *e;
	size_t i;

	if (pat != NULL)
		return expand(scalar_of(pat), fam, nfam, pat);
	if (any == NULL)
		return NULL;
	if (any->type != BH_CN_SEQ || any->n == 0)
		builtin_error(any, "any: takes a list of patterns");
	bh_buf_init(&b);
	for (i = 0; i < any->n; i++) {
		one = expand(scalar_of(any->kids[i]), fam, nfam, any->kids[i]);
		if (i > 0)
			bh_buf_putc(&b, '|');
		bh_buf_puts(&b, one);
		free(one);
	}
	e = bh_buf_steal(&b);
	return e;
}

/* spec_parse - a row's specificity word */
static enum spec
spec_parse(const struct bh_cnode *n, bool has_pattern)
{
	const char *s = scalar_of(n);

	if (!has_pattern) {
		if (s != NULL)
			builtin_error(n, "a code row has no specificity");
		return SPEC_STATUS;
	}
	if (s == NULL || strcmp(s, "concept") == 0)
		return SPEC_CONCEPT;
	if (strcmp(s, "cause") == 0)
		return SPEC_CAUSE;
	if (strcmp(s, "vague") == 0)
		return SPEC_VAGUE;
	if (strcmp(s, "stock") == 0)
		return SPEC_STOCK;
	builtin_error(n, "specificity is cause, concept, vague or stock");
	return SPEC_VAGUE;
}

/* The embedded rules file, parsed: its families expanded, its rows still to compile. */
struct builtin {
	struct bh_ctree tree;
	struct bh_config_diags diags;
	const struct bh_cnode *rows;
	struct family *fam;
	size_t nfam;
};

/* builtin_open - parse the embedded rules file and expand its families. The file is ours and
 * tested, so a defect in it is fatal (bh_fatal), never a message's problem. */
static void
builtin_open(struct builtin *b)
{
	const struct bh_cnode *root, *fams;
	size_t len, i;
	const char *data = bh_rules_builtin(&len);

	memset(b, 0, sizeof(*b));
	if (bh_ctree_parse(&b->tree, "rules/builtin.yaml", data, len, &b->diags) == -1 ||
	    (root = b->tree.root) == NULL || root->type != BH_CN_MAP)
		bh_fatal("rules/builtin.yaml: %s",
			 b->diags.n > 0 ? b->diags.v[0].message : "not a mapping");
	fams = map_get(root, "families");
	b->rows = map_get(root, "rules");
	if (b->rows == NULL || b->rows->type != BH_CN_SEQ)
		builtin_error(root, "rules: must be a list");
	if (fams == NULL)
		return;
	if (fams->type != BH_CN_MAP)
		builtin_error(fams, "families: must be a mapping");
	b->fam = bh_calloc(fams->n / 2 + 1, sizeof(*b->fam));
	for (i = 0; i + 1 < fams->n; i += 2) {
		const struct bh_cnode *v = fams->kids[i + 1];
		struct bh_cnode wrap = {.type = BH_CN_MAP};
		const struct bh_cnode *kids[2];

		/* a family is a pattern or a list of them, as a row's pattern/any */
		kids[0] = &(struct bh_cnode){.type = BH_CN_SCALAR,
					     .str = v->type == BH_CN_SEQ ? "any" : "pattern"};
		kids[1] = v;
		wrap.kids = (struct bh_cnode **)kids;
		wrap.n = 2;
		b->fam[b->nfam].name = bh_strdup(scalar_of(fams->kids[i]));
		b->fam[b->nfam].alt = alternatives(&wrap, b->fam, b->nfam);
		b->nfam++;
	}
}

/* builtin_close - free what builtin_open made */
static void
builtin_close(struct builtin *b)
{
	size_t i;

	for (i = 0; i < b->nfam; i++) {
		free(b->fam[i].name);
		free(b->fam[i].alt);
	}
	free(b->fam);
	bh_ctree_deinit(&b->tree);
	bh_config_diags_deinit(&b->diags);
}

/* expand_config - a configuration pattern with the built-in families expanded ({rcpt}); a
 * name that is no family stays as written. New string. */
static char *
expand_config(const char *pat, const struct builtin *b)
{
	struct bh_buf out;
	const char *p = pat, *q;
	size_t i;

	bh_buf_init(&out);
	while (*p != '\0') {
		if (p[0] == '\\' && p[1] != '\0') {
			bh_buf_append(&out, p, 2);
			p += 2;
			continue;
		}
		if (*p == '{' && (q = strchr(p, '}')) != NULL && q > p + 1) {
			for (i = 0; i < b->nfam; i++)
				if (strlen(b->fam[i].name) == (size_t)(q - p - 1) &&
				    memcmp(b->fam[i].name, p + 1, (size_t)(q - p - 1)) == 0)
					break;
			if (i < b->nfam) {
				bh_buf_printf(&out, "(?:%s)", b->fam[i].alt);
				p = q + 1;
				continue;
			}
		}
		bh_buf_putc(&out, *p++);
	}
	return bh_buf_steal(&out);
}

/* load_builtin - compile the rows of the embedded rules file into rs->v[rs->n...] */
static int
load_builtin(struct bh_rules *rs, size_t cap, const struct builtin *b)
{
	const struct bh_cnode *rows = b->rows;
	size_t i;
	int ret = 0;

	for (i = 0; i < rows->n; i++) {
		const struct bh_cnode *row = rows->kids[i];
		const char *reason, *whose, *also;
		char *pattern;
		int rsn = -1, w = -1;

		if (row->type != BH_CN_MAP)
			builtin_error(row, "a rule is a mapping");
		if (rs->n >= cap)
			builtin_error(row, "too many rules");
		reason = scalar_of(map_get(row, "reason"));
		if (reason == NULL || (rsn = bh_reason_lookup(reason)) == -1)
			builtin_error(row, "a rule needs a known reason");
		whose = scalar_of(map_get(row, "whose"));
		if (whose != NULL && (w = whose_lookup(whose)) == -1)
			builtin_error(row, "unknown whose");
		pattern = alternatives(row, b->fam, b->nfam);
		rs->n++;
		if (rule_compile(&rs->v[rs->n - 1], "builtin", scalar_of(map_get(row, "id")),
				 scalar_of(map_get(row, "status")),
				 scalar_of(map_get(row, "reply_code")),
				 scalar_of(map_get(row, "literals")), pattern, (enum bh_reason)rsn,
				 w, spec_parse(map_get(row, "specificity"), pattern != NULL)) == -1)
			ret = -1;
		free(pattern);
		if (ret == -1)
			break;
		if ((also = scalar_of(map_get(row, "literals_also"))) != NULL)
			rs->v[rs->n - 1].lits2 = lits_copy(also);
	}
	return ret;
}

/* order_build - the built-in text rows by specificity, most specific first, each class in
 * table order: the order in which collect() looks for the best match */
static void
order_build(struct bh_rules *rs)
{
	int sp;
	size_t i;

	rs->order = bh_calloc(rs->n > 0 ? rs->n : 1, sizeof(*rs->order));
	for (sp = SPEC_CAUSE; sp >= SPEC_STOCK; sp--)
		for (i = 0; i < rs->n; i++)
			if (rs->v[i].re != NULL && rs->v[i].spec == (enum spec)sp)
				rs->order[rs->n_order++] = i;
}

/* builtin_rows - how many rows the embedded file can hold at most (an upper bound: its "- id:"
 * lines) */
static size_t
builtin_rows(void)
{
	size_t len, n = 0;
	const char *d = bh_rules_builtin(&len), *p = d, *e = d + len;

	while ((p = memmem(p, (size_t)(e - p), "- id:", 5)) != NULL) {
		n++;
		p += 5;
	}
	return n;
}

/* bh_rules_new - compile the config's rows, then the built-in table */
struct bh_rules *
bh_rules_new(const struct bh_rule_conf *extra, size_t n, bool replace, unsigned match_limit,
	     const char **error_r)
{
	struct bh_rules *rs;
	struct builtin b;
	size_t i, total;

	if (n > BH_MAX_RULES) {
		snprintf(rules_error, sizeof(rules_error), "too many rules (%zu, limit %u)", n,
			 BH_MAX_RULES);
		*error_r = rules_error;
		return NULL;
	}
	total = n + (replace ? 0 : builtin_rows());
	rs = bh_calloc(1, sizeof(*rs));
	rs->v = bh_calloc(total > 0 ? total : 1, sizeof(*rs->v));
	builtin_open(&b);
	for (i = 0; i < n; i++) {
		const struct bh_rule_conf *c = &extra[i];
		char *pat = c->pattern != NULL ? expand_config(c->pattern, &b) : NULL;
		int r;

		rs->n++;
		r = rule_compile(&rs->v[i], "config", c->id, c->status, c->reply_code, NULL, pat,
				 c->reason, c->has_whose ? (int)c->whose : -1, SPEC_CONFIG);
		free(pat);
		if (r == -1)
			goto fail;
	}
	if (!replace && load_builtin(rs, total, &b) == -1)
		goto fail;
	builtin_close(&b);
	ac_build(rs);
	order_build(rs);
	rs->mctx = pcre2_match_context_create(NULL);
	if (rs->mctx == NULL)
		bh_fatal("pcre2_match_context_create: out of memory");
	if (match_limit == 0)
		match_limit = BH_DEF_REGEX_MATCH_LIMIT;
	pcre2_set_match_limit(rs->mctx, match_limit);
	pcre2_set_depth_limit(rs->mctx, match_limit < 10000 ? match_limit : 10000);
	pcre2_set_heap_limit(rs->mctx, 4096); /* KiB of backtracking memory per match */
	rules_hash(rs);
	return rs;
fail:
	builtin_close(&b);
	*error_r = rules_error;
	bh_rules_free(&rs);
	return NULL;
}

/* bh_rules_free - free every compiled row */
void
bh_rules_free(struct bh_rules **rules)
{
	struct bh_rules *rs;
	size_t i;

	if (rules == NULL || *rules == NULL)
		return;
	rs = *rules;
	for (i = 0; i < rs->n; i++)
		rule_free(&rs->v[i]);
	free(rs->v);
	free(rs->order);
	ac_free(&rs->ac);
	if (rs->mctx != NULL)
		pcre2_match_context_free(rs->mctx);
	free(rs);
	*rules = NULL;
}

/* bh_rules_version - the short stable hash of the compiled table */
const char *
bh_rules_version(const struct bh_rules *rules)
{
	return rules->version;
}

/* dump_lits - ,"key":[...] for a run of literals, nothing for none */
static void
dump_lits(struct bh_buf *out, const char *key, const char *lits)
{
	const char *l;

	if (lits == NULL)
		return;
	bh_buf_printf(out, ",\"%s\":[", key);
	for (l = lits; *l != '\0'; l += strlen(l) + 1) {
		if (l != lits)
			bh_buf_putc(out, ',');
		bh_json_str(out, l, strlen(l));
	}
	bh_buf_putc(out, ']');
}

/* bh_rules_dump_compiled - one JSON object per compiled row: id, status, reply_code,
 * specificity, literals, the pattern with its families expanded, reason and whose */
void
bh_rules_dump_compiled(const struct bh_rules *rules, struct bh_buf *out)
{
	static const char *const specs[] = {"stock",   "vague", "status",
					    "concept", "cause", "config"};
	size_t i;

	for (i = 0; i < rules->n; i++) {
		const struct bh_rule *r = &rules->v[i];

		bh_buf_puts(out, "{\"id\":");
		bh_json_str(out, r->id, strlen(r->id));
		if (r->status != NULL) {
			bh_buf_puts(out, ",\"status\":");
			bh_json_str(out, r->status, strlen(r->status));
		}
		if (r->reply != NULL) {
			bh_buf_puts(out, ",\"reply_code\":");
			bh_json_str(out, r->reply, strlen(r->reply));
		}
		bh_buf_printf(out, ",\"specificity\":\"%s\"", specs[r->spec]);
		dump_lits(out, "literals", r->lits);
		dump_lits(out, "literals_also", r->lits2);
		if (r->pattern != NULL) {
			bh_buf_puts(out, ",\"pattern\":");
			bh_json_str(out, r->pattern, strlen(r->pattern));
		}
		bh_buf_printf(out, ",\"reason\":\"%s\",\"whose\":\"%s\"}\n",
			      bh_reason_name(r->reason), bh_whose_name(r->whose));
	}
}

/* bh_rules_set_prefilter - tests only: turn the literal prefilter off to prove it is exact. */
void
bh_rules_set_prefilter(struct bh_rules *rules, bool on)
{
	rules->no_prefilter = !on;
}

/* is_reply_code - p[0..3) is "[245]dd" and not followed by another digit */
static bool
is_reply_code(const char *p, size_t n)
{
	return n >= 3 && (p[0] == '2' || p[0] == '4' || p[0] == '5') &&
	       isdigit((unsigned char)p[1]) && isdigit((unsigned char)p[2]) &&
	       (n == 3 || !isdigit((unsigned char)p[3]));
}

/* status_len - length of an RFC 3463 status at p (0 when none); p must start a token. */
static size_t
status_len(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n && i < BH_MAX_STATUS - 1 && (isdigit((unsigned char)p[i]) || p[i] == '.');
	     i++)
		;
	while (i > 0 && p[i - 1] == '.')
		i--;
	return bh_status_valid(p, i) ? i : 0;
}

/* The common byte as it is written (lower case), 0 for a byte that may be white space or start
 * a reply code: controls, space, DEL and the digits. A constant: threads may share it. */
#define PLAIN(k)                                                                                   \
	((unsigned char)((k) > ' ' && (k) != 0x7f && ((k) < '0' || (k) > '9')                      \
			     ? ((k) >= 'A' && (k) <= 'Z' ? (k) + 32 : (k))                         \
			     : 0))
#define PLAIN4(k)  PLAIN(k), PLAIN((k) + 1), PLAIN((k) + 2), PLAIN((k) + 3)
#define PLAIN16(k) PLAIN4(k), PLAIN4((k) + 4), PLAIN4((k) + 8), PLAIN4((k) + 12)
#define PLAIN64(k) PLAIN16(k), PLAIN16((k) + 16), PLAIN16((k) + 32), PLAIN16((k) + 48)
static const unsigned char plain[256] = {PLAIN64(0), PLAIN64(64), PLAIN64(128), PLAIN64(192)};

/* normalize - the text the patterns see: lower-case ASCII, every run of white space or control
 * bytes made one space, no leading or trailing space, and the "NNN-" (optionally "NNN-c.s.d ")
 * continuation markers of a multi-line reply dropped, as well as the "NNN c.s.d " that starts
 * its last line. Returns the length written to out (at most cap).
 */
static size_t
normalize(const char *in, size_t n, char *out, size_t cap)
{
	size_t i = 0, o = 0, k, sl;
	char cont[3] = {0, 0, 0}; /* reply code seen in a continuation marker */

	while (i < n && o < cap) {
		unsigned char c = (unsigned char)in[i];
		bool word_start;

		if (plain[c] != 0) {
			/* the common byte: no space, no reply code can start here */
			out[o++] = (char)plain[c];
			i++;
			continue;
		}
		word_start = o == 0 || out[o - 1] == ' ';

		if (c <= ' ' || c == 0x7f) {
			if (o > 0 && out[o - 1] != ' ')
				out[o++] = ' ';
			i++;
			continue;
		}
		if (word_start && is_reply_code(in + i, n - i) && i + 3 < n &&
		    (in[i + 3] == '-' ||
		     (in[i + 3] == ' ' && cont[0] != 0 && memcmp(cont, in + i, 3) == 0))) {
			/* "550-" anywhere, or "550 " after a "550-" was seen: a reply-line marker
			 */
			if (in[i + 3] == '-')
				memcpy(cont, in + i, 3);
			k = i + 4;
			sl = status_len(in + k, n - k);
			if (sl > 0 && (k + sl >= n || in[k + sl] == ' ' || in[k + sl] == '\t' ||
				       in[k + sl] == '\r' || in[k + sl] == '\n'))
				k += sl;
			i = k;
			continue;
		}
		out[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		i++;
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	return o;
}

/* The last texts normalize_memo read and what they became. The stage look-up (bh_smtp_command)
 * and the decision read the same diagnostic and notice words. Per thread: a second thread that
 * classifies gets its own copies. */
#define MEMO_IN	   2048u /* longest text kept */
#define MEMO_SLOTS 2u
static _Thread_local struct {
	char in[MEMO_IN];
	size_t n, cap, on;
	char out[BH_MAX_RULE_TEXT];
	bool cmd_known; /* cmd is smtp_command_norm(out, on) */
	const char *cmd;
} memo[MEMO_SLOTS];
static _Thread_local unsigned memo_next;

/* normalize_memo - normalize(), answered from a copy when the same bytes were just read */
static size_t
normalize_memo(const char *in, size_t n, char *out, size_t cap)
{
	unsigned k;
	size_t on;

	if (n > MEMO_IN || cap > BH_MAX_RULE_TEXT)
		return normalize(in, n, out, cap);
	for (k = 0; k < MEMO_SLOTS; k++)
		if (memo[k].n == n && memo[k].cap == cap && n > 0 &&
		    memcmp(memo[k].in, in, n) == 0) {
			memcpy(out, memo[k].out, memo[k].on);
			return memo[k].on;
		}
	on = normalize(in, n, out, cap);
	k = memo_next++ % MEMO_SLOTS;
	memcpy(memo[k].in, in, n);
	memcpy(memo[k].out, out, on);
	memo[k].n = n;
	memo[k].cap = cap;
	memo[k].on = on;
	memo[k].cmd_known = false;
	return on;
}

/* status_context - t[i] may start a status: at the start, after a reply code ("550 5.1.1",
 * "550-5.1.1"), after '#' or '(' ("(#5.1.1)"), or after "status: "; never in running prose
 * ("Perl version 5.6.0"). */
static bool
status_context(const char *t, size_t i)
{
	if (i == 0 || t[i - 1] == '#' || t[i - 1] == '(' || t[i - 1] == '\'' || t[i - 1] == '[')
		return true;
	if (t[i - 1] != ' ' && t[i - 1] != '-')
		return false;
	if (i >= 4 && is_reply_code(t + i - 4, 3) && (i == 4 || !isalnum((unsigned char)t[i - 5])))
		return true;
	if (i >= 2 && t[i - 2] == ':')
		return true;
	return false;
}

/* find_status - the first RFC 3463 status token in text (for a report that gave none). */
static bool
find_status(const char *t, size_t n, char *out)
{
	size_t i, len;

	for (i = 0; i + 5 <= n; i++) {
		/* only a failure's status: "250 2.1.0 Ok" in a transcript says nothing */
		if ((t[i] != '4' && t[i] != '5') || t[i + 1] != '.')
			continue;
		if (!status_context(t, i))
			continue;
		len = status_len(t + i, n - i);
		if (len > 0 && (i + len == n || !isalnum((unsigned char)t[i + len]))) {
			memcpy(out, t + i, len);
			out[len] = '\0';
			return true;
		}
	}
	return false;
}

/* find_reply - a reply code that starts the text (after an optional "smtp;" type). */
static bool
find_reply(const char *t, size_t n, char *out)
{
	size_t i = 0;

	if (n >= 5 && bh_span_istarts(t, n, "smtp;"))
		i = 5;
	while (i < n && t[i] == ' ')
		i++;
	if (!is_reply_code(t + i, n - i))
		return false;
	memcpy(out, t + i, 3);
	out[3] = '\0';
	return true;
}

/* find_reply_any - a failure's reply code where a server's reply starts inside the text:
 * after "said: ", "<<< ", "reason: " or ": " ("... after RCPT TO:<a@b>: 550 5.1.1 ...") */
static bool
find_reply_any(const char *t, size_t n, char *out)
{
	static const char *const leads[] = {"said: ", "<<< ", "reason: ", ": "};
	size_t i, k, ll;

	for (k = 0; k < BH_NELEM(leads); k++) {
		ll = strlen(leads[k]);
		for (i = 0; i + ll + 4 <= n; i++) {
			if (memcmp(t + i, leads[k], ll) != 0)
				continue;
			if ((t[i + ll] == '4' || t[i + ll] == '5') &&
			    is_reply_code(t + i + ll, n - i - ll) &&
			    (t[i + ll + 3] == ' ' || t[i + ll + 3] == '-')) {
				memcpy(out, t + i + ll, 3);
				out[3] = '\0';
				return true;
			}
		}
	}
	return false;
}

/* lits_present - one of the row's literals occurs in the normalized text (exact check) */
static bool
lits_present(const char *lits, const char *t, size_t n)
{
	const char *l;

	for (l = lits; *l != '\0'; l += strlen(l) + 1)
		if (memmem(t, n, l, strlen(l)) != NULL)
			return true;
	return false;
}

/* codes_match - the row's status and reply-code globs accept this recipient's codes */
static bool
codes_match(const struct bh_rule *r, const char *status, const char *reply)
{
	if (r->status != NULL && (status[0] == '\0' || !glob_match(r->status, status)))
		return false;
	if (r->reply != NULL && (reply[0] == '\0' || !glob_match(r->reply, reply)))
		return false;
	return true;
}

/* cmd_word - the SMTP command named at t[0..n) ("end of data", "rcpt to:<a@b>", "helo",
 * Exim's "pipelined rcpt to"), or NULL; a word must end there ("database" is no DATA) */
static const char *
cmd_word(const char *t, size_t n)
{
	static const struct {
		const char *w, *cmd;
	} words[] = {
	    {"end of data", "DATA"},
	    {"data", "DATA"},
	    {"bdat", "DATA"},
	    {"text", "DATA"},
	    {"rcpt", "RCPT"},
	    {"mail from", "MAIL"},
	    {"mail", "MAIL"},
	    {"helo", "HELO"},
	    {"ehlo", "HELO"},
	    {"lhlo", "HELO"},
	    {"initial connection", "CONN"},
	};
	size_t i, wl;

	if (n >= 10 && memcmp(t, "pipelined ", 10) == 0)
		t += 10, n -= 10;
	for (i = 0; i < BH_NELEM(words); i++) {
		wl = strlen(words[i].w);
		if (n >= wl && memcmp(t, words[i].w, wl) == 0 &&
		    (n == wl || !isalpha((unsigned char)t[wl])))
			return words[i].cmd;
	}
	return NULL;
}

/* after_phrase - the command named right after the first occurrence of phrase in t */
static const char *
after_phrase(const char *t, size_t n, const char *phrase)
{
	size_t pl = strlen(phrase);
	const char *p = memmem(t, n, phrase, pl);

	if (p == NULL)
		return NULL;
	p += pl;
	return cmd_word(p, n - (size_t)(p - t));
}

/* transcript_cmd - the last ">>> CMD" sent before the first "<<< 4xx/5xx" reply */
static const char *
transcript_cmd(const char *t, size_t n)
{
	const char *p = t, *last = NULL, *q;
	size_t guard = 0;

	while (guard++ < 1000 && (p = memmem(p, n - (size_t)(p - t), "<<< ", 4)) != NULL) {
		p += 4;
		if (is_reply_code(p, n - (size_t)(p - t)) && (p[0] == '4' || p[0] == '5'))
			break;
	}
	if (p == NULL)
		return NULL;
	for (q = t, guard = 0;
	     guard++ < 1000 && q < p && (q = memmem(q, (size_t)(p - q), ">>> ", 4)) != NULL; q += 4)
		last = q + 4;
	return last != NULL ? cmd_word(last, n - (size_t)(last - t)) : NULL;
}

/* smtp_command_norm - bh_smtp_command over normalized text: one pass finds which phrases
 * occur, then only those are looked at, in their order */
static const char *
smtp_command_norm(const char *t, size_t n)
{
	/* the phrases a command follows ("... in reply to RCPT TO"), then the transcript's
	 * "<<< " marker, then qmail-remote's own words for the stage */
	static const char *const phrases[] = {
	    "in reply to ",
	    "server after ",
	    "mailer after ",
	    "server for ",
	    "did not like our ",
	    "<<< ",
	    "does not like recipient",
	    "failed after i sent the message",
	    "but sender was rejected",
	    "but my name was rejected",
	    /* qmail-remote when every MX failed: how far the best attempt got */
	    "most progress was rcpt to",
	    /* the stage as a tag: "SMTP:RCPT host ...", "... User Unknown [RCPT_TO]" */
	    "smtp:rcpt ",
	    "smtp:mail ",
	    "smtp:data ",
	    "[rcpt_to]",
	    "[mail_from]",
	};
	static const char *const cmds[] = {"RCPT", "DATA", "MAIL", "HELO", "RCPT",
					   "RCPT", "MAIL", "DATA", "RCPT", "MAIL"};
	enum { N_AFTER = 5, TRANSCRIPT = 5, QMAIL = 6 };
	uint64_t found = 0;
	const char *c;
	size_t i;

	static struct bh_needles set;

	if (!set.ready)
		bh_needles_init(&set, phrases, BH_NELEM(phrases));
	if (bh_needles_find(&set, t, n, false, &found) == n)
		return NULL;
	for (i = 0; i < N_AFTER; i++)
		if ((found >> i) & 1 && (c = after_phrase(t, n, phrases[i])) != NULL)
			return c;
	if ((found >> TRANSCRIPT) & 1 && (c = transcript_cmd(t, n)) != NULL)
		return c;
	for (i = QMAIL; i < BH_NELEM(phrases); i++)
		if ((found >> i) & 1)
			return cmds[i - QMAIL];
	return NULL;
}

/* smtp_command_memo - smtp_command_norm(t, n), answered from the normalize_memo copy that
 * holds these very bytes when it was asked before */
static const char *
smtp_command_memo(const char *t, size_t n)
{
	const char *c;
	unsigned k;

	for (k = 0; k < MEMO_SLOTS; k++)
		if (memo[k].cmd_known && memo[k].on == n && memcmp(memo[k].out, t, n) == 0)
			return memo[k].cmd;
	c = smtp_command_norm(t, n);
	for (k = 0; k < MEMO_SLOTS; k++)
		if (memo[k].n > 0 && memo[k].on == n && memcmp(memo[k].out, t, n) == 0) {
			memo[k].cmd = c;
			memo[k].cmd_known = true;
			break;
		}
	return c;
}

/* bh_smtp_command - the SMTP stage a failure text names */
bool
bh_smtp_command(const char *text, size_t text_len, char out[8])
{
	char t[BH_MAX_RULE_TEXT];
	size_t n;
	const char *c;

	out[0] = '\0';
	if (text == NULL || text_len == 0)
		return false;
	n = normalize_memo(text, text_len, t, sizeof(t));
	if ((c = smtp_command_memo(t, n)) == NULL)
		return false;
	snprintf(out, 8, "%s", c);
	return true;
}

/* ev_names - the JSON names of the evidence sources */
static const char *const ev_names[BH_EV_COUNT] = {
    "inner", "transcript", "diagnostic", "status-comment", "notice", "heading",
};

/* bh_ev_src_name - the name of an evidence source */
const char *
bh_ev_src_name(enum bh_ev_src src)
{
	return (unsigned)src < BH_EV_COUNT ? ev_names[src] : "";
}

/* One normalized evidence text. */
struct ntext {
	enum bh_ev_src src;
	char t[BH_MAX_RULE_TEXT];
	size_t n;
	uint64_t *found; /* the prefilter's literals present in t (a bit per literal id) */
};

/* A row that matched one evidence text. */
struct cand {
	const struct bh_rule *r;
	size_t idx; /* table order */
	enum bh_ev_src src;
};

/* better - a beats b: the evidence's weight, then the specificity, then the order of the
 * rules file (which lists the narrower rows of a class first) */
static bool
better(const struct cand *a, const struct cand *b)
{
	if (a->src != b->src)
		return a->src < b->src;
	if (a->r->spec != b->r->spec)
		return a->r->spec > b->r->spec;
	return a->idx < b->idx;
}

/* pre_rcpt - the refusal came before the server knew the recipient */
static bool
pre_rcpt(const char *cmd)
{
	return strcmp(cmd, "CONN") == 0 || strcmp(cmd, "HELO") == 0 || strcmp(cmd, "MAIL") == 0;
}

/* usable - a row may decide at this stage: before RCPT TO, nothing is the recipient's */
static bool
usable(const struct bh_rule *r, const char *cmd)
{
	return !pre_rcpt(cmd) || r->whose != BH_WHOSE_RECIPIENT;
}

/* match_len - run the row over one text; the length of the match, or 0 for none (a match
 * that hits the limit counts as none) */
static size_t
match_len(const struct bh_rules *rs, const struct bh_rule *r, pcre2_match_data *md,
	  const struct ntext *x)
{
	PCRE2_SIZE *ov;

	if (x->n == 0)
		return 0;
	if (!rs->no_prefilter &&
	    ((r->lit_ids != NULL && !ac_any(r->lit_ids, r->n_lit_ids, x->found)) ||
	     (r->lit2_ids != NULL && !ac_any(r->lit2_ids, r->n_lit2_ids, x->found))))
		return 0;
	if (!r->jit_tried) {
		/* the table is read-only to its users but for this cache: one thread uses it */
		struct bh_rule *w = (struct bh_rule *)r;

		(void)pcre2_jit_compile(w->re, PCRE2_JIT_COMPLETE);
		w->jit_tried = true;
	}
	if (pcre2_match(r->re, (PCRE2_SPTR)x->t, x->n, 0, 0, md, rs->mctx) < 0)
		return 0;
	/* With the prefilter off (tests, fuzzing), a match without its literals is a table bug. */
	if (rs->no_prefilter && ((r->lits != NULL && !lits_present(r->lits, x->t, x->n)) ||
				 (r->lits2 != NULL && !lits_present(r->lits2, x->t, x->n))))
		bh_fatal("rules: row %s matched text without any of its literals", r->id);
	ov = pcre2_get_ovector_pointer(md);
	return ov[1] > ov[0] ? (size_t)(ov[1] - ov[0]) : 1;
}

/* set_out - the decision */
static void
set_out(struct bh_rules_result *out, enum bh_reason reason, int whose, const char *rule,
	const char *evidence)
{
	out->reason = reason;
	out->whose = whose >= 0 ? (enum bh_whose)whose : bh_reason_whose(reason);
	out->rule = rule;
	out->evidence = evidence;
}

/* set_cand - the decision of candidate c: its row's reason and whose, where it matched */
static void
set_cand(struct bh_rules_result *out, const struct cand *c)
{
	set_out(out, c->r->reason, c->r->has_whose ? (int)c->r->whose : -1, c->r->id,
		bh_ev_src_name(c->src));
}

/* best_expired - the best expired row of at least concept strength among c[0..n) (what the
 * expiry step may fall back on), NULL: none */
static const struct cand *
best_expired(const struct cand *c, size_t n)
{
	const struct cand *exp = NULL;
	size_t i;

	for (i = 0; i < n; i++)
		if (c[i].r->spec >= SPEC_CONCEPT && c[i].r->reason == BH_R_EXPIRED &&
		    (exp == NULL || better(&c[i], exp)))
			exp = &c[i];
	return exp;
}

/* stage_reason - a permanent refusal at this stage that no words explained */
static bool
stage_reason(const char *cmd, enum bh_reason *r, const char **rule)
{
	static const struct {
		const char *cmd, *rule;
		enum bh_reason reason;
	} stages[] = {
	    {"CONN", "stage:CONN", BH_R_BLOCKED},	  {"HELO", "stage:HELO", BH_R_BLOCKED},
	    {"MAIL", "stage:MAIL", BH_R_REJECTED},	  {"RCPT", "stage:RCPT", BH_R_FILTERED},
	    {"DATA", "stage:DATA", BH_R_POLICYVIOLATION},
	};
	size_t i;

	for (i = 0; i < BH_NELEM(stages); i++)
		if (strcmp(cmd, stages[i].cmd) == 0) {
			*r = stages[i].reason;
			*rule = stages[i].rule;
			return true;
		}
	return false;
}

/* hard_reason - the address itself is bad: retries running out does not change that */
static bool
hard_reason(enum bh_reason r)
{
	return r == BH_R_USERUNKNOWN || r == BH_R_HOSTUNKNOWN || r == BH_R_HASMOVED ||
	       r == BH_R_NOTACCEPT;
}

/* expiry_moot - a decision by this row is final: the expiry step (see the end of
 * bh_rules_decide_ev) leaves a delayed report, a hard reason and a named cause on our side as
 * they are, without reading the expired rows */
static bool
expiry_moot(const struct cand *c, bool delayed)
{
	return delayed || hard_reason(c->r->reason) ||
	       (c->r->spec == SPEC_CAUSE && c->r->whose == BH_WHOSE_SENDER);
}

/* choose - the best candidate among c[0..n) whose specificity is in [lo, hi] and whose
 * evidence is in [slo, shi] (without the expired rows when no_expired); NULL when none */
static const struct cand *
choose(const struct cand *c, size_t n, enum spec lo, enum spec hi, enum bh_ev_src slo,
       enum bh_ev_src shi, bool no_expired)
{
	const struct cand *best = NULL;
	size_t i;

	for (i = 0; i < n; i++) {
		if (c[i].r->spec < lo || c[i].r->spec > hi || c[i].src < slo || c[i].src > shi)
			continue;
		if (no_expired && c[i].r->reason == BH_R_EXPIRED)
			continue;
		if (best == NULL || better(&c[i], best))
			best = &c[i];
	}
	return best;
}

/* A decision's candidates, collected phase by phase: the rows a later phase reads are run
 * only when the earlier ones did not decide. */
struct cands {
	struct cand *v;
	size_t n, cap;
};

/* Which rows a phase runs: every row, only the expired ones, or all but them. */
enum want { W_ALL, W_EXPIRED, W_NOT_EXPIRED };

/* add_cand - append a candidate to cs */
static void
add_cand(struct cands *cs, const struct bh_rule *r, size_t idx, enum bh_ev_src src)
{
	if (cs->n == cs->cap)
		cs->v =
		    bh_reallocarray(cs->v, cs->cap = cs->cap ? cs->cap * 2 : 16, sizeof(*cs->v));
	cs->v[cs->n++] = (struct cand){r, idx, src};
}

/* collect - run the built-in text rows of specificity [lo, hi] that may decide at stage cmd
 * (and that want selects) over the texts of sources [slo, shi], and add to cs the best match
 * of the expired rows and the best of the others. Every reader of cs (choose, the expiry)
 * takes the best by better() within sets that never split these two classes of one call, so
 * a match that a better one of its class already beats can never be read. The search runs
 * in better()'s order (the most trusted source first, then the most specific rows, then the
 * table order) and stops each class at its first match: the regexes after it need not run. With
 * bound, only a match that beats it is looked for. */
static void
collect(const struct bh_rules *rules, pcre2_match_data *md, const struct ntext *x, size_t nx,
	const char *st, const char *rc, const char *cmd, enum spec lo, enum spec hi,
	enum bh_ev_src slo, enum bh_ev_src shi, enum want want, const struct cand *bound,
	struct cands *cs)
{
	bool done[2] = {want == W_EXPIRED, want == W_NOT_EXPIRED}; /* [expired] */
	bool pre = pre_rcpt(cmd); /* usable(), once for every row */
	unsigned src;
	size_t j, k;

	for (src = slo; src <= (unsigned)shi && !(done[0] && done[1]); src++) {
		for (k = 0; k < nx && x[k].src != src; k++)
			;
		if (k == nx)
			continue; /* no text of this source */
		for (j = 0; j < rules->n_order && !(done[0] && done[1]); j++) {
			size_t i = rules->order[j], m;
			const struct bh_rule *r = &rules->v[i];
			bool e = r->reason == BH_R_EXPIRED;

			if (done[e] || r->spec < lo || r->spec > hi)
				continue;
			/* the search runs in better()'s order: nothing after this beats bound */
			if (bound != NULL &&
			    !better(&(struct cand){r, i, (enum bh_ev_src)src}, bound))
				return;
			/* before RCPT TO the recipient was not judged: not the recipient's reasons
			 */
			if ((pre && r->whose == BH_WHOSE_RECIPIENT) || !codes_match(r, st, rc))
				continue;
			for (m = k; m < nx; m++) {
				if (x[m].src != src || match_len(rules, r, md, &x[m]) == 0)
					continue;
				add_cand(cs, r, i, x[m].src);
				done[e] = true;
				break;
			}
		}
	}
}

/* bh_rules_decide_ev - config rows, strong rows over all the evidence, code rows, the stage,
 * vague rows, then the status class; then expiry */
void
bh_rules_decide_ev(const struct bh_rules *rules, const struct bh_rules_input *in,
		   struct bh_rules_result *out)
{
	struct ntext *x = NULL;
	struct cands cs = {NULL, 0, 0};
	char st[BH_MAX_STATUS], rc[4], cmd[8];
	pcre2_match_data *md = NULL;
	const struct cand *best = NULL, *exp = NULL;
	const char *rule;
	enum bh_reason sr;
	uint64_t *found;
	size_t i, k, nx = 0, fw;
	bool permanent;

	st[0] = rc[0] = cmd[0] = '\0';
	if (in->status != NULL && bh_status_valid(in->status, strlen(in->status)))
		snprintf(st, sizeof(st), "%s", in->status);
	if (in->reply_code != NULL && is_reply_code(in->reply_code, strlen(in->reply_code)))
		snprintf(rc, sizeof(rc), "%s", in->reply_code);
	if (in->smtp_command != NULL)
		snprintf(cmd, sizeof(cmd), "%s", in->smtp_command);
	/* not zeroed: each text is written before it is read, and only its first n bytes */
	x = bh_reallocarray(NULL, in->n_ev < BH_MAX_EVIDENCE ? in->n_ev + 1 : BH_MAX_EVIDENCE,
			    sizeof(*x));
	fw = rules->ac.nlits / 64 + 1;
	found = bh_calloc(fw * BH_MAX_EVIDENCE, sizeof(*found));
	for (i = 0; i < in->n_ev && nx < BH_MAX_EVIDENCE; i++) {
		const struct bh_evidence *e = &in->ev[i];
		struct ntext *t = &x[nx];

		if (e->text == NULL || e->len == 0 || (unsigned)e->src >= BH_EV_COUNT)
			continue;
		t->src = e->src;
		t->n = normalize_memo(e->text, e->len, t->t, BH_MAX_RULE_TEXT);
		if (t->n == 0)
			continue;
		t->found = found + nx * fw;
		ac_scan(&rules->ac, t->t, t->n, t->found);
		/* codes and stage come from the most trusted text that has them */
		if (st[0] == '\0' && t->src <= BH_EV_STATUS_COMMENT)
			(void)find_status(t->t, t->n, st);
		if (rc[0] == '\0' && t->src <= BH_EV_DIAGNOSTIC && !find_reply(t->t, t->n, rc))
			(void)find_reply_any(t->t, t->n, rc);
		if (cmd[0] == '\0' && t->src <= BH_EV_NOTICE) {
			const char *w = smtp_command_memo(t->t, t->n);

			if (w != NULL)
				snprintf(cmd, sizeof(cmd), "%s", w);
		}
		nx++;
	}
	md = pcre2_match_data_create(1, NULL);
	if (md == NULL)
		bh_fatal("pcre2_match_data_create: out of memory");

	/* 0. the configuration's rows: the first that matches, most trusted evidence first */
	for (i = 0; i < rules->n && rules->v[i].spec == SPEC_CONFIG; i++) {
		const struct bh_rule *r = &rules->v[i];

		if (r->re == NULL || !codes_match(r, st, rc))
			continue; /* a config code row decides with the code rows (step 2) */
		for (k = 0; k < nx; k++)
			if (match_len(rules, r, md, &x[k]) > 0) {
				set_out(out, r->reason, r->has_whose ? (int)r->whose : -1, r->id,
					bh_ev_src_name(x[k].src));
				goto done;
			}
	}

	/* 1. strong rows over the report's words about this recipient; the expired rows over
	 * every text (a failed report whose words anywhere say the retries ran out expired) */
	collect(rules, md, x, nx, st, rc, cmd, SPEC_CONCEPT, SPEC_CAUSE, BH_EV_INNER,
		BH_EV_STATUS_COMMENT, W_NOT_EXPIRED, NULL, &cs);
	if (cs.n > 0 && expiry_moot(&cs.v[0], in->delayed)) {
		/* this match decides unless an expired row beats it (none may in a delayed
		 * report), and the expiry will not read the expired rows: only such a row is
		 * looked for */
		struct cand nb = cs.v[0];

		if (!in->delayed)
			collect(rules, md, x, nx, st, rc, cmd, SPEC_CONCEPT, SPEC_CAUSE,
				BH_EV_INNER, BH_EV_STATUS_COMMENT, W_EXPIRED, &nb, &cs);
	} else {
		collect(rules, md, x, nx, st, rc, cmd, SPEC_CONCEPT, SPEC_CAUSE, BH_EV_INNER,
			BH_EV_STATUS_COMMENT, W_EXPIRED, NULL, &cs);
		collect(rules, md, x, nx, st, rc, cmd, SPEC_CONCEPT, SPEC_CAUSE, BH_EV_NOTICE,
			BH_EV_HEADING, W_EXPIRED, NULL, &cs);
	}
	exp = best_expired(cs.v, cs.n);
	/* (a delayed report is never expired: the next best words decide) */
	if ((best = choose(cs.v, cs.n, SPEC_CONCEPT, SPEC_CAUSE, BH_EV_INNER, BH_EV_STATUS_COMMENT,
			   in->delayed)) != NULL) {
		set_cand(out, best);
		goto expiry;
	}
	/* a success status that no words contradict: not a failure */
	if (st[0] == '2' || (st[0] == '\0' && rc[0] == '2')) {
		set_out(out, BH_R_DELIVERED, BH_WHOSE_NONE, "class:2", "status");
		goto done;
	}
	/* 2. before RCPT TO, the stage of a permanent refusal that no words explained: the
	 * server refused our host or our sender, whatever its code says. Permanent: a 5.x.x
	 * status, a 5xx reply, or no code at all in a report that is not still trying (a
	 * notice that quotes no code reports a failure) */
	permanent = st[0] == '5' || (st[0] == '\0' && rc[0] != '4' && rc[0] != '2' && !in->delayed);
	if (permanent && pre_rcpt(cmd) && stage_reason(cmd, &sr, &rule)) {
		set_out(out, sr, -1, rule, "stage");
		goto done;
	}
	/* 3. a code row for a specific status (the config's first): the report's own word for
	 * this recipient, before a notice paragraph or heading that may speak of others too */
	for (i = 0; i < rules->n; i++) {
		const struct bh_rule *r = &rules->v[i];

		if (r->re != NULL || !codes_match(r, st, rc) || !usable(r, cmd) ||
		    (in->delayed && r->reason == BH_R_EXPIRED))
			continue;
		set_out(out, r->reason, r->has_whose ? (int)r->whose : -1, r->id, "status");
		goto expiry;
	}
	/* 3b. strong words in the notice or its heading */
	collect(rules, md, x, nx, st, rc, cmd, SPEC_CONCEPT, SPEC_CAUSE, BH_EV_NOTICE,
		BH_EV_HEADING, W_NOT_EXPIRED, NULL, &cs);
	exp = best_expired(cs.v, cs.n); /* again: cs.v may have moved */
	if ((best = choose(cs.v, cs.n, SPEC_CONCEPT, SPEC_CAUSE, BH_EV_NOTICE, BH_EV_HEADING,
			   in->delayed)) != NULL) {
		set_cand(out, best);
		goto expiry;
	}
	/* 4. vague words */
	collect(rules, md, x, nx, st, rc, cmd, SPEC_VAGUE, SPEC_VAGUE, BH_EV_INNER, BH_EV_HEADING,
		W_ALL, NULL, &cs);
	exp = best_expired(cs.v, cs.n);
	if ((best = choose(cs.v, cs.n, SPEC_VAGUE, SPEC_VAGUE, BH_EV_INNER, BH_EV_HEADING,
			   in->delayed)) != NULL) {
		set_cand(out, best);
		goto expiry;
	}
	/* 5. the stage of a permanent refusal at RCPT TO or after DATA, then the stock words */
	if (permanent && stage_reason(cmd, &sr, &rule)) {
		set_out(out, sr, -1, rule, "stage");
		goto done;
	}
	collect(rules, md, x, nx, st, rc, cmd, SPEC_STOCK, SPEC_STOCK, BH_EV_INNER, BH_EV_HEADING,
		W_ALL, NULL, &cs);
	exp = best_expired(cs.v, cs.n);
	if ((best = choose(cs.v, cs.n, SPEC_STOCK, SPEC_STOCK, BH_EV_INNER, BH_EV_HEADING,
			   in->delayed)) != NULL) {
		set_cand(out, best);
		goto expiry;
	}
	/* 6. the status class */
	if (st[0] == '4' || (st[0] == '\0' && rc[0] == '4') || in->delayed) {
		/* a temporary status, or a report that is still trying: not decided yet */
		set_out(out, BH_R_ONHOLD, -1, "class:4", "status");
		goto expiry;
	}
	set_out(out, BH_R_UNDEFINED, -1, "none", "");
	goto done;

expiry:
	/* a report that gave up after temporary failures: the retries ran out, whatever the
	 * last reply said, unless the address itself is bad or a named cause on our side (a
	 * block list, our reputation) decided, which ops must see as such */
	if (!in->delayed && !hard_reason(out->reason) && out->reason != BH_R_EXPIRED &&
	    (best == NULL || best->r->spec != SPEC_CAUSE || best->r->whose != BH_WHOSE_SENDER)) {
		if (exp != NULL)
			set_out(out, BH_R_EXPIRED, -1, exp->r->id, bh_ev_src_name(exp->src));
		else if (in->failed && st[0] == '4')
			set_out(out, BH_R_EXPIRED, -1, "class:4-failed", "status");
	}
done:
	free(cs.v);
	free(found);
	free(x);
	pcre2_match_data_free(md);
}

/* bh_rules_decide - one diagnostic text, no stage */
void
bh_rules_decide(const struct bh_rules *rules, const char *status, const char *reply_code,
		const char *text, size_t text_len, struct bh_rules_result *out)
{
	bh_rules_decide_cmd(rules, status, reply_code, text, text_len, NULL, out);
}

/* bh_rules_decide_cmd - one diagnostic text with the stage the report named */
void
bh_rules_decide_cmd(const struct bh_rules *rules, const char *status, const char *reply_code,
		    const char *text, size_t text_len, const char *smtp_command,
		    struct bh_rules_result *out)
{
	struct bh_evidence ev = {BH_EV_DIAGNOSTIC, text, text != NULL ? text_len : 0};
	struct bh_rules_input in = {status, reply_code, smtp_command, &ev, 1, false, false};

	bh_rules_decide_ev(rules, &in, out);
}

/* bh_status_valid - RFC 3463 "c.sss.ddd" with c in 2, 4, 5 (Postfix dsn_valid) */
bool
bh_status_valid(const char *p, size_t n)
{
	size_t i = 0, digits;
	int part;

	if (n < 5 || (p[0] != '2' && p[0] != '4' && p[0] != '5') || p[1] != '.')
		return false;
	i = 2;
	for (part = 0; part < 2; part++) {
		digits = 0;
		while (i < n && isdigit((unsigned char)p[i]) && digits < 3)
			i++, digits++;
		if (digits == 0)
			return false;
		if (part == 0) {
			if (i >= n || p[i] != '.')
				return false;
			i++;
		}
	}
	return i == n;
}

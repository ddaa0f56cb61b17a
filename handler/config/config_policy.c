/*
 * config_policy.c - `defaults:` and `lists:`: what to do per reason, resolved at load time.
 *
 * A policy names an action per group of reasons (hard, soft, sender, complaint, autoreply,
 * unknown) or per reason. Precedence, lowest first: the built-in policy, a group in defaults, a
 * reason in defaults, a group in the list, a reason in the list ("a specific reason beats its
 * group; a list's setting beats defaults"). Fields merge one by one, so `soft: {threshold: 5}`
 * in a list keeps the action, window and expiry it inherits. Each list is resolved into a full
 * bh_list_policy at load, so deciding (policy.c) is a lookup.
 */
#include "config_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bh_limits.h"
#include "policy.h"

#define PS_KIND	     0x01u
#define PS_FOR	     0x02u
#define PS_THRESHOLD 0x04u
#define PS_WINDOW    0x08u
#define PS_SCOPE     0x10u
#define DAY	     86400LL

/* One action as written: only the fields in `set`. */
struct pset {
	unsigned set;
	struct bh_policy_action a;
	const struct bh_cnode *node; /* the key it was written under */
	const char *key;	     /* its name (static) */
};

/* A policy as written in one mapping. */
struct praw {
	struct pset group[BH_G_COUNT];
	struct pset reason[BH_R_COUNT];
	struct pset loop[BH_LOOP_COUNT];
	bool may_suppress;
	bool count_delayed;
	struct {
		long long threshold;
		int64_t window_s;
	} alert;
	struct {
		int64_t window_s;
		long long alert;
	} repeat;
	struct {
		long long max;
		int64_t window_s;
	} burst;
	int unknown_list;
	bool is_defaults;
	const struct bh_cnode *vals[BH_CFG_MAX_KEYS];
};

/* Where the kind of a resolved action came from. */
struct origin {
	const struct bh_cnode *node;
	const char *key;
	bool mine; /* set by the policy being validated (not inherited) */
};

static const char *const w_kind[] = {"suppress", "suppress_for", "count", "ignore", "alert", NULL};
static const char *const w_scope[] = {"list", "global", NULL};
static const char *const w_loop[] = {"ignore", "alert", NULL};
static const char *const w_unknown[] = {"defaults", "ignore", "quarantine", NULL};

/* bh_cfg_policy_defaults - hard and complaints suppress, soft counts 3 in 15d for 30d,
 * sender-side failures alert and never suppress, the rest is recorded */
void
bh_cfg_policy_defaults(struct bh_list_policy *p)
{
	int r;

	memset(p, 0, sizeof(*p));
	for (r = 0; r < BH_R_COUNT; r++) {
		struct bh_policy_action *a = &p->by_reason[r];

		switch (bh_reason_group((enum bh_reason)r)) {
		case BH_G_HARD:
		case BH_G_COMPLAINT: a->kind = BH_POL_SUPPRESS; break;
		case BH_G_SOFT: *a = bh_policy_soft_count; break;
		case BH_G_SENDER: a->kind = BH_POL_ALERT; break;
		default: a->kind = BH_POL_IGNORE; break;
		}
	}
	for (r = 0; r < BH_LOOP_COUNT; r++)
		p->loop[r].kind = BH_POL_IGNORE;
	p->sender_alert_threshold = 50;
	p->sender_alert_window_s = 3600;
	p->repeat_window_s = 7 * DAY;
	p->repeat_alert = 3;
	p->burst_max = 0;
	p->burst_window_s = 600;
}

/* bh_cfg_policy_free - free what a policy owns (its name); the struct itself is the caller's */
void
bh_cfg_policy_free(struct bh_list_policy *p)
{
	bh_free_str(&p->name);
}

/* ---------------------------------------------------------------- parsing */

/* One action in its mapping form. */
struct act_src {
	int kind; /* index into w_kind */
	int64_t for_s;
	long long threshold;
	int64_t window_s;
	int scope;
};

/* clang-format off */
static const struct bh_cfgkey act_keys[] = {
	{.name = "action", .type = BH_KT_ENUM, .off = offsetof(struct act_src, kind),
	  .size = sizeof(int), .words = w_kind},
	{.name = "for", .type = BH_KT_DUR, .off = offsetof(struct act_src, for_s), .size = 8,
	  .min = 60, .max = 3650 * DAY, .flags = BH_KF_FOREVER},
	{.name = "threshold", .type = BH_KT_NUM, .off = offsetof(struct act_src, threshold),
	  .size = 8, .min = 1, .max = 1000000},
	{.name = "window", .type = BH_KT_DUR, .off = offsetof(struct act_src, window_s), .size = 8,
	  .min = 60, .max = 3650 * DAY},
	{.name = "scope", .type = BH_KT_ENUM, .off = offsetof(struct act_src, scope),
	  .size = sizeof(int), .words = w_scope},
	{.name = NULL},
};
/* clang-format on */

/* parse_action - `suppress` or `{action: count, threshold: 3, window: 15d, for: 30d}` */
static void
parse_action(struct bh_cfgld *ld, const struct bh_cnode *key, const struct bh_cnode *val,
	     const char *path, struct pset *ps)
{
	static const char *const what =
	    "one of suppress, suppress_for, count, ignore or alert, or a mapping";
	const struct bh_cnode *vals[BH_CFG_MAX_KEYS];
	struct act_src src;
	size_t n0 = ld->diags->n;

	memset(&src, 0, sizeof(src));
	ps->node = key;
	if (val != NULL && val->type == BH_CN_SCALAR && !bh_cnode_is_null(val)) {
		int w;

		if (!bh_cfg_word(ld, w_kind, val, path, &w))
			return;
		if (w == 1) {
			bh_cfg_diag(ld, val, path,
				    "suppress_for needs a duration: write "
				    "{action: suppress_for, for: 7d}");
			return;
		}
		ps->set = PS_KIND;
		ps->a.kind = (enum bh_policy_kind)(w + 1);
		return;
	}
	if (val == NULL || val->type != BH_CN_MAP) {
		char buf[96];

		bh_cfg_diag(ld, val, path, "expected %s, got %s", what,
			    bh_cfg_got(val, buf, sizeof(buf)));
		return;
	}
	bh_cfg_walk(ld, val, key, path, act_keys, &src, vals, NULL, NULL, NULL, 0);
	if (ld->diags->n != n0)
		return;
	if (vals[0] != NULL)
		ps->set |= PS_KIND, ps->a.kind = (enum bh_policy_kind)(src.kind + 1);
	if (vals[1] != NULL)
		ps->set |= PS_FOR, ps->a.duration_s = src.for_s;
	if (vals[2] != NULL)
		ps->set |= PS_THRESHOLD, ps->a.threshold = (unsigned)src.threshold;
	if (vals[3] != NULL)
		ps->set |= PS_WINDOW, ps->a.window_s = src.window_s;
	if (vals[4] != NULL)
		ps->set |= PS_SCOPE, ps->a.scope = (enum bh_scope)src.scope;
	if (vals[0] != NULL && ps->a.kind == BH_POL_SUPPRESS_FOR &&
	    (vals[1] == NULL || ps->a.duration_s == 0))
		bh_cfg_diag(ld, val, path, "suppress_for needs a duration in `for`");
}

/* policy_extra - a group or reason key of a policy */
static bool
policy_extra(struct bh_cfgld *ld, const struct bh_cnode *key, const struct bh_cnode *val,
	     const char *path, void *ctx)
{
	struct praw *raw = ctx;
	struct pset *ps = NULL;
	const char *name = NULL;
	int i;

	if ((i = bh_group_lookup(key->str)) != -1 && i != BH_G_NONE &&
	    strcmp(bh_group_name((enum bh_reason_group)i), key->str) == 0) {
		ps = &raw->group[i];
		name = bh_group_name((enum bh_reason_group)i);
	} else if ((i = bh_reason_lookup(key->str)) != -1 && i != BH_R_DELIVERED &&
		   strcmp(bh_reason_name((enum bh_reason)i), key->str) == 0) {
		ps = &raw->reason[i];
		name = bh_reason_name((enum bh_reason)i);
	} else {
		return false;
	}
	if (ps->node != NULL) {
		bh_cfg_diag(ld, key, path, "duplicate key (first at line %u)", ps->node->line);
		return true;
	}
	ps->key = name;
	parse_action(ld, key, val, path, ps);
	if (ps->node == NULL)
		ps->node = key;
	return true;
}

/* loops_fn - `loops: alert` or `loops: {backscatter: alert, ...}` */
static void
loops_fn(struct bh_cfgld *ld, const struct bh_cfgkey *k, const struct bh_cnode *key,
	 const struct bh_cnode *val, const char *path, void *base)
{
	struct praw *raw = base;
	size_t i;
	int w, l;

	(void)k;
	if (val == NULL || val->type != BH_CN_MAP) {
		if (!bh_cfg_word(ld, w_loop, val, path, &w))
			return;
		for (l = 1; l < BH_LOOP_COUNT; l++) {
			raw->loop[l].set = PS_KIND;
			raw->loop[l].a.kind = w == 0 ? BH_POL_IGNORE : BH_POL_ALERT;
			raw->loop[l].node = key;
		}
		return;
	}
	for (i = 0; i + 1 < val->n; i += 2) {
		const struct bh_cnode *lk = val->kids[i], *lv = val->kids[i + 1];
		const char *names[BH_LOOP_COUNT];
		char *sub;

		if (lk->type != BH_CN_SCALAR || strlen(lk->str) != lk->len) {
			bh_cfg_diag(ld, lk, path, "a key must be a plain string");
			continue;
		}
		sub = bh_cfg_join(path, lk->str, lk->len);
		l = bh_loop_kind_lookup(lk->str);
		if (l == -1 || strcmp(bh_loop_kind_name((enum bh_loop_kind)l), lk->str) != 0) {
			const char *sug;

			for (l = 1; l < BH_LOOP_COUNT; l++)
				names[l - 1] = bh_loop_kind_name((enum bh_loop_kind)l);
			sug = bh_cfg_suggest(lk->str, names, BH_LOOP_COUNT - 1);
			if (sug != NULL)
				bh_cfg_diag(ld, lk, sub, "unknown key; did you mean \"%s\"?", sug);
			else
				bh_cfg_diag(ld, lk, sub, "unknown key");
		} else if (raw->loop[l].node != NULL) {
			bh_cfg_diag(ld, lk, sub, "duplicate key (first at line %u)",
				    raw->loop[l].node->line);
		} else if (bh_cfg_word(ld, w_loop, lv, sub, &w)) {
			raw->loop[l].node = lk;
			raw->loop[l].set = PS_KIND;
			raw->loop[l].a.kind = w == 0 ? BH_POL_IGNORE : BH_POL_ALERT;
		}
		free(sub);
	}
}

/* unknown_list_fn - only in defaults */
static void
unknown_list_fn(struct bh_cfgld *ld, const struct bh_cfgkey *k, const struct bh_cnode *key,
		const struct bh_cnode *val, const char *path, void *base)
{
	struct praw *raw = base;
	int w;

	(void)k;
	if (!raw->is_defaults) {
		bh_cfg_diag(ld, key, path, "unknown_list is a setting of defaults, not of a list");
		return;
	}
	if (bh_cfg_word(ld, w_unknown, val, path, &w))
		raw->unknown_list = w;
}

/* clang-format off */
static const struct bh_cfgkey alert_keys[] = {
	{.name = "threshold", .type = BH_KT_NUM, .off = 0, .size = 8, .min = 1, .max = 1000000},
	{.name = "window", .type = BH_KT_DUR, .off = sizeof(long long), .size = 8, .min = 60,
	  .max = 30 * DAY},
	{.name = NULL},
};
/* clang-format on */

/* A value of 0 (or -1) in the raw struct means "not written here": every minimum is above it. */
/* clang-format off */
static const struct bh_cfgkey repeat_keys[] = {
	{.name = "window", .type = BH_KT_DUR, .off = 0, .size = 8, .min = 60, .max = 90 * DAY},
	{.name = "alert", .type = BH_KT_NUM, .off = sizeof(int64_t), .size = 8, .min = 1,
	  .max = 1000000},
	{.name = NULL},
};
static const struct bh_cfgkey burst_keys[] = {
	{.name = "max", .type = BH_KT_NUM, .off = 0, .size = 8, .min = 0, .max = 100000000},
	{.name = "window", .type = BH_KT_DUR, .off = sizeof(long long), .size = 8, .min = 60,
	  .max = DAY},
	{.name = NULL},
};
/* clang-format on */

enum { PK_MAY, PK_DELAYED, PK_ALERT, PK_LOOPS, PK_UNKNOWN, PK_REPEAT, PK_BURST };
/* clang-format off */
static const struct bh_cfgkey policy_keys[] = {
	[PK_MAY] = {.name = "sender_side_may_suppress", .type = BH_KT_BOOL,
		    .off = offsetof(struct praw, may_suppress), .size = 1},
	[PK_DELAYED] = {.name = "count_delayed", .type = BH_KT_BOOL,
			.off = offsetof(struct praw, count_delayed), .size = 1},
	[PK_ALERT] = {.name = "sender_alert", .type = BH_KT_SECTION,
		      .off = offsetof(struct praw, alert), .sub = alert_keys},
	[PK_LOOPS] = {.name = "loops", .type = BH_KT_FN, .fn = loops_fn},
	[PK_UNKNOWN] = {.name = "unknown_list", .type = BH_KT_FN, .fn = unknown_list_fn},
	[PK_REPEAT] = {.name = "repeat", .type = BH_KT_SECTION,
		       .off = offsetof(struct praw, repeat), .sub = repeat_keys},
	[PK_BURST] = {.name = "list_burst", .type = BH_KT_SECTION,
		      .off = offsetof(struct praw, burst), .sub = burst_keys},
	{.name = NULL},
};
/* clang-format on */

/* parse_policy - one policy mapping into raw */
static void
parse_policy(struct bh_cfgld *ld, const struct bh_cnode *map, const struct bh_cnode *where,
	     const char *path, struct praw *raw, bool is_defaults)
{
	const char *names[BH_G_COUNT + BH_R_COUNT];
	const struct bh_cnode *alert_vals[BH_CFG_MAX_KEYS];
	size_t n = 0;
	int i;

	memset(raw, 0, sizeof(*raw));
	raw->is_defaults = is_defaults;
	raw->unknown_list = -1;
	raw->burst.max = -1;
	for (i = 0; i < BH_G_COUNT; i++)
		if (i != BH_G_NONE)
			names[n++] = bh_group_name((enum bh_reason_group)i);
	for (i = 0; i < BH_R_COUNT; i++)
		if (i != BH_R_DELIVERED)
			names[n++] = bh_reason_name((enum bh_reason)i);
	bh_cfg_walk(ld, map, where, path, policy_keys, raw, raw->vals, policy_extra, raw, names, n);
	(void)alert_vals;
}

/* ---------------------------------------------------------------- resolving */

/* layer - lay the fields set in s over a; the kind also records where it came from in o */
static void
layer(struct bh_policy_action *a, struct origin *o, const struct pset *s, bool mine)
{
	if (s->set & PS_KIND) {
		a->kind = s->a.kind;
		o->node = s->node;
		o->key = s->key;
		o->mine = mine;
	}
	if (s->set & PS_FOR)
		a->duration_s = s->a.duration_s;
	if (s->set & PS_THRESHOLD)
		a->threshold = s->a.threshold;
	if (s->set & PS_WINDOW)
		a->window_s = s->a.window_s;
	if (s->set & PS_SCOPE)
		a->scope = s->a.scope;
}

/* apply_raw - lay one written policy over p (groups, then reasons) */
static void
apply_raw(struct bh_list_policy *p, struct origin *o, const struct praw *raw)
{
	int r, l;

	for (r = 0; r < BH_R_COUNT; r++) {
		enum bh_reason_group g = bh_reason_group((enum bh_reason)r);

		if (g == BH_G_NONE)
			continue;
		layer(&p->by_reason[r], &o[r], &raw->group[g], true);
		layer(&p->by_reason[r], &o[r], &raw->reason[r], true);
	}
	for (l = 1; l < BH_LOOP_COUNT; l++)
		if (raw->loop[l].set & PS_KIND)
			p->loop[l].kind = raw->loop[l].a.kind;
	if (raw->vals[PK_MAY] != NULL)
		p->sender_side_may_suppress = raw->may_suppress;
	if (raw->vals[PK_DELAYED] != NULL)
		p->count_delayed = raw->count_delayed;
	if (raw->vals[PK_ALERT] != NULL) {
		if (raw->alert.threshold != 0)
			p->sender_alert_threshold = (unsigned)raw->alert.threshold;
		if (raw->alert.window_s != 0)
			p->sender_alert_window_s = raw->alert.window_s;
	}
	if (raw->vals[PK_REPEAT] != NULL) {
		if (raw->repeat.window_s != 0)
			p->repeat_window_s = raw->repeat.window_s;
		if (raw->repeat.alert != 0)
			p->repeat_alert = (unsigned)raw->repeat.alert;
	}
	if (raw->vals[PK_BURST] != NULL) {
		if (raw->burst.max != -1)
			p->burst_max = (unsigned)raw->burst.max;
		if (raw->burst.window_s != 0)
			p->burst_window_s = raw->burst.window_s;
	}
}

/* suppressive - can an action of kind k suppress an address (now, for a while, or by count)? */
static bool
suppressive(enum bh_policy_kind k)
{
	return k == BH_POL_SUPPRESS || k == BH_POL_SUPPRESS_FOR || k == BH_POL_COUNT;
}

/* validate - problems this policy's own settings cause; each reported once per key */
static void
validate(struct bh_cfgld *ld, const struct bh_list_policy *p, const struct origin *o,
	 const char *path)
{
	const struct bh_cnode *last = NULL;
	int r;

	for (r = 0; r < BH_R_COUNT; r++) {
		const char *msg = NULL;
		char *sub;

		if (!o[r].mine || o[r].node == last || !suppressive(p->by_reason[r].kind))
			continue;
		if (r == BH_R_VACATION)
			msg = "auto-replies are not failures: use ignore or alert";
		else if (bh_reason_whose((enum bh_reason)r) == BH_WHOSE_SENDER &&
			 !p->sender_side_may_suppress)
			msg = "sender-side failures never suppress unless sender_side_may_suppress "
			      "is true";
		if (msg == NULL)
			continue;
		last = o[r].node;
		sub = bh_cfg_join(path, o[r].key, strlen(o[r].key));
		bh_cfg_diag(ld, o[r].node, sub, "%s", msg);
		free(sub);
	}
}

/* normalize - clear the fields an action does not use */
static void
normalize(struct bh_list_policy *p)
{
	int r;

	for (r = 0; r < BH_R_COUNT; r++) {
		struct bh_policy_action *a = &p->by_reason[r];

		switch (a->kind) {
		case BH_POL_SUPPRESS: a->duration_s = 0; /* FALLTHROUGH */
		case BH_POL_SUPPRESS_FOR: a->threshold = 0, a->window_s = 0; break;
		case BH_POL_COUNT: break;
		default: a->duration_s = 0, a->threshold = 0, a->window_s = 0; break;
		}
	}
}

/* list_name_ok - what VERP can carry: letters, digits, ".", "_", "-" */
static bool
list_name_ok(const struct bh_cnode *k)
{
	size_t i;

	if (k->type != BH_CN_SCALAR || k->len == 0 || k->len > 64 || strlen(k->str) != k->len)
		return false;
	for (i = 0; i < k->len; i++) {
		char c = k->str[i];

		if (!(c == '.' || c == '-' || c == '_' || (c >= '0' && c <= '9') ||
		      (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
			return false;
	}
	return true;
}

struct name_pos {
	const char *name;
	unsigned line, col;
};

/* name_pos_cmp - order list names case-insensitively, then by line, for the duplicate check */
static int
name_pos_cmp(const void *a, const void *b)
{
	const struct name_pos *x = a, *y = b;
	int c = strcasecmp(x->name, y->name);

	if (c != 0)
		return c;
	return x->line < y->line ? -1 : x->line > y->line;
}

/* bh_cfg_policies_load - resolve defaults, then every list over them */
void
bh_cfg_policies_load(struct bh_cfgld *ld)
{
	struct bh_config *cfg = ld->cfg;
	struct origin o[BH_R_COUNT], lo[BH_R_COUNT];
	struct bh_list_policy base;
	struct praw *raw = bh_calloc(1, sizeof(*raw));
	const struct bh_cnode *lists = ld->lists_node;
	struct name_pos *np = NULL;
	size_t i, n;

	memset(o, 0, sizeof(o));
	bh_cfg_policy_defaults(&base);
	parse_policy(ld, ld->defaults_node, ld->defaults_key, "defaults", raw, true);
	apply_raw(&base, o, raw);
	if (raw->unknown_list != -1)
		cfg->unknown_list = (enum bh_unknown_list)raw->unknown_list;
	validate(ld, &base, o, "defaults");
	for (i = 0; i < BH_R_COUNT; i++)
		o[i].mine = false;
	cfg->defaults = base;
	normalize(&cfg->defaults);

	if (lists == NULL || bh_cnode_is_null(lists))
		goto out;
	if (lists->type != BH_CN_MAP) {
		char buf[96];

		bh_cfg_diag(ld, lists, "lists", "expected a mapping of list names, got %s",
			    bh_cfg_got(lists, buf, sizeof(buf)));
		goto out;
	}
	n = lists->n / 2;
	if (n > BH_MAX_LISTS) {
		bh_cfg_diag(ld, lists, "lists", "more than %u lists", (unsigned)BH_MAX_LISTS);
		goto out;
	}
	cfg->lists = bh_calloc(n, sizeof(*cfg->lists));
	np = bh_calloc(n, sizeof(*np));
	for (i = 0; i < n; i++) {
		const struct bh_cnode *key = lists->kids[2 * i], *val = lists->kids[2 * i + 1];
		struct bh_list_policy *p;
		char *path;

		if (!list_name_ok(key)) {
			char buf[96];

			bh_cfg_diag(ld, key, "lists",
				    "expected a list name of 1 to 64 letters, digits, \".\", \"_\" "
				    "or \"-\", got %s",
				    bh_cfg_got(key, buf, sizeof(buf)));
			continue;
		}
		path = bh_cfg_join("lists", key->str, key->len);
		p = &cfg->lists[cfg->n_lists];
		*p = base;
		memcpy(lo, o, sizeof(lo));
		parse_policy(ld, val, key, path, raw, false);
		apply_raw(p, lo, raw);
		validate(ld, p, lo, path);
		normalize(p);
		p->name = bh_strdup(key->str);
		np[cfg->n_lists].name = p->name;
		np[cfg->n_lists].line = key->line;
		np[cfg->n_lists].col = key->col;
		cfg->n_lists++;
		free(path);
	}
	qsort(np, cfg->n_lists, sizeof(*np), name_pos_cmp);
	for (i = 1; i < cfg->n_lists; i++)
		if (strcasecmp(np[i - 1].name, np[i].name) == 0)
			bh_config_diag_add(ld->diags, ld->file, np[i].line, np[i].col,
					   "lists.%s: duplicate list (first at line %u)",
					   np[i].name, np[i - 1].line);
	qsort(cfg->lists, cfg->n_lists, sizeof(*cfg->lists), bh_list_policy_cmp);
out:
	free(np);
	free(raw);
}

/* bh_config_policy_settings - what deciding reads, borrowed from cfg */
struct bh_policy_settings
bh_config_policy_settings(const struct bh_config *cfg)
{
	struct bh_policy_settings set = {&cfg->defaults, cfg->lists, cfg->n_lists,
					 cfg->unknown_list};

	return set;
}

/* bh_config_policy - a list's policy, or defaults */
const struct bh_list_policy *
bh_config_policy(const struct bh_config *cfg, const char *list, bool *known_r)
{
	struct bh_policy_settings set = bh_config_policy_settings(cfg);

	return bh_policy_lookup(&set, list, known_r);
}

/* ---------------------------------------------------------------- printing */

/* act_eq - are two resolved actions the same in every field? */
static bool
act_eq(const struct bh_policy_action *a, const struct bh_policy_action *b)
{
	return a->kind == b->kind && a->duration_s == b->duration_s &&
	       a->threshold == b->threshold && a->window_s == b->window_s && a->scope == b->scope;
}

/* act_print - an action the way it is written */
static void
act_print(struct bh_buf *out, const struct bh_policy_action *a)
{
	char b1[32], b2[32];

	switch (a->kind) {
	case BH_POL_SUPPRESS_FOR:
		bh_buf_printf(out, "{action: suppress_for, for: %s",
			      bh_format_duration(a->duration_s * 1000, b1, sizeof(b1)));
		break;
	case BH_POL_COUNT:
		bh_buf_printf(out, "{action: count, threshold: %u, window: %s, for: %s",
			      a->threshold, bh_format_duration(a->window_s * 1000, b1, sizeof(b1)),
			      a->duration_s == 0
				  ? "forever"
				  : bh_format_duration(a->duration_s * 1000, b2, sizeof(b2)));
		break;
	default:
		if (a->scope == BH_SCOPE_GLOBAL)
			bh_buf_printf(out, "{action: %s", bh_policy_kind_name(a->kind));
		else
			bh_buf_puts(out, bh_policy_kind_name(a->kind));
		break;
	}
	if (a->kind == BH_POL_SUPPRESS_FOR || a->kind == BH_POL_COUNT ||
	    a->scope == BH_SCOPE_GLOBAL)
		bh_buf_puts(out, a->scope == BH_SCOPE_GLOBAL ? ", scope: global}" : "}");
}

/* group_rep - the most common action among a group's reasons */
static const struct bh_policy_action *
group_rep(const struct bh_list_policy *p, enum bh_reason_group g)
{
	const struct bh_policy_action *best = NULL;
	int r, s, bestn = 0;

	for (r = 0; r < BH_R_COUNT; r++) {
		int n = 0;

		if (bh_reason_group((enum bh_reason)r) != g)
			continue;
		for (s = 0; s < BH_R_COUNT; s++)
			if (bh_reason_group((enum bh_reason)s) == g &&
			    act_eq(&p->by_reason[r], &p->by_reason[s]))
				n++;
		if (n > bestn)
			bestn = n, best = &p->by_reason[r];
	}
	return best;
}

/* policy_print - p in full (base NULL) or its differences from base */
static void
policy_print(struct bh_buf *out, const struct bh_list_policy *p, const struct bh_list_policy *base,
	     int indent)
{
	char b1[32];
	size_t len0 = out->len;
	int g, r, l;

	if (base == NULL || p->sender_side_may_suppress != base->sender_side_may_suppress)
		bh_buf_printf(out, "%*ssender_side_may_suppress: %s\n", indent, "",
			      p->sender_side_may_suppress ? "true" : "false");
	if (base == NULL || p->count_delayed != base->count_delayed)
		bh_buf_printf(out, "%*scount_delayed: %s\n", indent, "",
			      p->count_delayed ? "true" : "false");
	if (base == NULL || p->sender_alert_threshold != base->sender_alert_threshold ||
	    p->sender_alert_window_s != base->sender_alert_window_s)
		bh_buf_printf(out, "%*ssender_alert: {threshold: %u, window: %s}\n", indent, "",
			      p->sender_alert_threshold,
			      bh_format_duration(p->sender_alert_window_s * 1000, b1, sizeof(b1)));
	if (base == NULL || p->repeat_window_s != base->repeat_window_s ||
	    p->repeat_alert != base->repeat_alert)
		bh_buf_printf(out, "%*srepeat: {window: %s, alert: %u}\n", indent, "",
			      bh_format_duration(p->repeat_window_s * 1000, b1, sizeof(b1)),
			      p->repeat_alert);
	if (base == NULL || p->burst_max != base->burst_max ||
	    p->burst_window_s != base->burst_window_s)
		bh_buf_printf(out, "%*slist_burst: {max: %u, window: %s}\n", indent, "",
			      p->burst_max,
			      bh_format_duration(p->burst_window_s * 1000, b1, sizeof(b1)));
	for (l = 1; l < BH_LOOP_COUNT; l++)
		if (base == NULL || p->loop[l].kind != base->loop[l].kind)
			break;
	if (l < BH_LOOP_COUNT) {
		bh_buf_printf(out, "%*sloops: {", indent, "");
		for (l = 1; l < BH_LOOP_COUNT; l++)
			bh_buf_printf(out, "%s%s: %s", l > 1 ? ", " : "",
				      bh_loop_kind_name((enum bh_loop_kind)l),
				      bh_policy_kind_name(p->loop[l].kind));
		bh_buf_puts(out, "}\n");
	}
	for (g = 0; g < BH_G_COUNT; g++) {
		const struct bh_policy_action *rep, *brep;
		bool same = true, grouped;

		if (g == BH_G_NONE)
			continue;
		rep = group_rep(p, (enum bh_reason_group)g);
		brep = base != NULL ? group_rep(base, (enum bh_reason_group)g) : NULL;
		for (r = 0; base != NULL && r < BH_R_COUNT; r++)
			if ((int)bh_reason_group((enum bh_reason)r) == g &&
			    !act_eq(&p->by_reason[r], &base->by_reason[r]))
				same = false;
		if (base != NULL && same)
			continue;
		grouped = base == NULL || !act_eq(rep, brep);
		if (grouped) {
			bh_buf_printf(out, "%*s%s: ", indent, "",
				      bh_group_name((enum bh_reason_group)g));
			act_print(out, rep);
			bh_buf_putc(out, '\n');
		}
		for (r = 0; r < BH_R_COUNT; r++) {
			const struct bh_policy_action *want = grouped ? rep : &base->by_reason[r];

			if ((int)bh_reason_group((enum bh_reason)r) != g ||
			    act_eq(&p->by_reason[r], want))
				continue;
			bh_buf_printf(out, "%*s%s: ", indent, "",
				      bh_reason_name((enum bh_reason)r));
			act_print(out, &p->by_reason[r]);
			bh_buf_putc(out, '\n');
		}
	}
	if (out->len == len0) {
		/* nothing differs: make that visible rather than print an empty key */
		out->len--;
		out->data[out->len] = '\0';
		bh_buf_puts(out, " {}\n");
	}
}

/* bh_cfg_policies_dump - `defaults:` in full, `lists:` as differences */
void
bh_cfg_policies_dump(struct bh_buf *out, const struct bh_config *cfg)
{
	static const char *const unk[] = {"defaults", "ignore", "quarantine"};
	size_t i;

	bh_buf_printf(out, "defaults:\n  unknown_list: %s\n", unk[cfg->unknown_list]);
	policy_print(out, &cfg->defaults, NULL, 2);
	bh_buf_printf(out, "lists:%s\n", cfg->n_lists == 0 ? " {}" : "");
	for (i = 0; i < cfg->n_lists; i++) {
		bh_buf_printf(out, "  %s:\n", cfg->lists[i].name);
		policy_print(out, &cfg->lists[i], &cfg->defaults, 4);
	}
}

/* bh_cfg_policy_reference - docs/configuration.md rows for defaults and lists */
void
bh_cfg_policy_reference(struct bh_buf *out)
{
	bh_buf_puts(
	    out,
	    "| `defaults.unknown_list` | defaults, ignore, quarantine | `defaults` | mail for "
	    "a list not under `lists`: apply defaults, ignore it, or quarantine it |\n"
	    "| `defaults.GROUP`, `lists.NAME.GROUP` | action | see below | action for a group: "
	    "`hard`, `soft`, `sender`, `complaint`, `autoreply`, `unknown` |\n"
	    "| `defaults.REASON`, `lists.NAME.REASON` | action | its group's | action for one "
	    "reason (`userunknown`, `mailboxfull`, ...); beats its group |\n"
	    "| action (word) | suppress, count, ignore, alert | – | `suppress`: at once, no "
	    "expiry; `count`: after `threshold` within `window`; `ignore`: record only; "
	    "`alert`: record and alert |\n"
	    "| action `.action` | suppress, suppress_for, count, ignore, alert | inherited | "
	    "mapping form: `{action: count, threshold: 3, window: 15d, for: 30d}` |\n"
	    "| action `.for` | duration or `forever` | `30d` (count) | how long a suppression "
	    "lasts (required for `suppress_for`) |\n"
	    "| action `.threshold` | integer 1-1000000 | `3` | bounces that suppress (`count`) |\n"
	    "| action `.window` | duration | `15d` | within this window (`count`) |\n"
	    "| action `.scope` | list, global | `list` | suppress on this list or on all |\n"
	    "| `...sender_side_may_suppress` | boolean | `false` | let sender-side failures "
	    "(blocked, spamdetected, ...) suppress |\n"
	    "| `...count_delayed` | boolean | `false` | count `Action: delayed` reports as soft "
	    "bounces |\n"
	    "| `...sender_alert.threshold` | integer | `50` | sender-side failures per "
	    "receiving domain that raise an alert ... |\n"
	    "| `...sender_alert.window` | duration | `1h` | ... within this window |\n"
	    "| `...loops` | ignore, alert, or a mapping per kind | `ignore` | what a detected "
	    "loop does: `autoreply_bounce`, `bounce_of_bounce`, `backscatter`, `repeat`, "
	    "`hops` |\n"
	    "| `...repeat.window` | duration | `7d` | one sent message (its Message-ID) bouncing "
	    "again for the same recipient within this is a `repeat`: counted once |\n"
	    "| `...repeat.alert` | integer | `3` | the Nth bounce about one sent message to one "
	    "recipient raises an alert |\n"
	    "| `...list_burst.max` | integer | `0` | more failures for the list than this within "
	    "the window hold new suppressions and alert (0: off; `{p}:mailed:LIST` also caps) |\n"
	    "| `...list_burst.window` | duration | `10m` | ... within this window |\n"
	    "| `lists.NAME` | mapping or empty | defaults | a list's own policy (name: letters, "
	    "digits, `._-`) |\n");
}

/*
 * counts.c - the suppression counters (docs/redis.md, "Suppression counters"): the current totals
 * that the apply and manual scripts keep in {p}:supcount, read after pruning what expired
 * (counts.lua), and the recount that rebuilds them from every suppression.
 */
#include <stdlib.h>
#include <string.h>

#include "counts_proto.h"
#include "store_int.h"

#define COUNTS_PRUNE  "1000"
#define COUNTS_ROUNDS 100000 /* 1e8 expired members at most before giving up */
#define RECOUNT_CHUNK 1000

/* bh_store_supcounts_free - free n counter rows and their strings; accepts v NULL */
void
bh_store_supcounts_free(struct bh_store_supcount *v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(v[i].list);
		free(v[i].reason);
	}
	free(v);
}

/* supcount_cmp - by list, then reason */
static int
supcount_cmp(const void *a, const void *b)
{
	const struct bh_store_supcount *x = a, *y = b;
	int c = strcmp(x->list, y->list);

	return c != 0 ? c : strcmp(x->reason, y->reason);
}

/* supcount_add - add n to the row of (list, reason), making it when new */
static void
supcount_add(struct bh_store_supcount **v, size_t *nv, const char *list, size_t ll,
	     const char *reason, int64_t n)
{
	size_t i;

	for (i = 0; i < *nv; i++)
		if (strlen((*v)[i].list) == ll && strncmp((*v)[i].list, list, ll) == 0 &&
		    strcmp((*v)[i].reason, reason) == 0)
			break;
	if (i == *nv) {
		*v = bh_reallocarray(*v, *nv + 1, sizeof(**v));
		(*v)[i].list = bh_strndup(list, ll);
		(*v)[i].reason = bh_strdup(reason);
		(*v)[i].n = 0;
		(*nv)++;
	}
	(*v)[i].n += n;
}

/* bh_store_sup_counts - the current totals from {p}:supcount, after pruning what expired */
int
bh_store_sup_counts(struct bh_store *s, struct bh_store_supcount **v_r, size_t *n_r,
		    int64_t *complete_r, const char **error_r)
{
	struct bh_store_supcount *v = NULL;
	redisReply *r = NULL;
	size_t n = 0, i;
	int round, ret = -1;

	*v_r = NULL;
	*n_r = 0;
	*complete_r = 0;
	for (round = 0; round < COUNTS_ROUNDS; round++) {
		struct args a = {0}, keys = {0}, argv = {0};
		struct bh_st_pack k;
		size_t len;

		bh_st_pack_init(&k, &bh_counts_msg_proto);
		bh_st_keyf(&k, BH_COUNTS_MSG_K_supcount, "%s:supcount", s->tag);
		bh_st_keyf(&k, BH_COUNTS_MSG_K_supexp, "%s:supexp", s->tag);
		bh_st_putf(&k, BH_COUNTS_MSG_A_now, "%lld", (long long)bh_now());
		bh_st_put(&k, BH_COUNTS_MSG_A_max, COUNTS_PRUNE);
		bh_st_emit(&k, &keys, &argv);
		bh_st_pack_deinit(&k);
		/* EVAL, not EVALSHA: `stats` runs it rarely, and connect loads only the others */
		bh_st_args_add(&a, "EVAL");
		bh_st_args_add(&a, bh_st_counts_lua(&len));
		bh_st_args_addf(&a, "%zu", keys.n);
		bh_st_args_cat(&a, &keys);
		bh_st_args_cat(&a, &argv);
		bh_st_args_deinit(&keys);
		bh_st_args_deinit(&argv);
		r = bh_st_command(s, &a, error_r);
		bh_st_args_deinit(&a);
		if (r == NULL)
			return -1;
		if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
		    r->element[0]->type != REDIS_REPLY_INTEGER) {
			bh_st_set_err(s, error_r, "redis: counts: %.200s",
				      r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
			goto out;
		}
		if (r->element[0]->integer == 1)
			break;
		freeReplyObject(r);
		r = NULL;
	}
	if (r == NULL || r->elements != 2 || r->element[1]->type != REDIS_REPLY_ARRAY) {
		bh_st_set_err(s, error_r, "redis: counts: too many expired suppressions to prune");
		goto out;
	}
	for (i = 0; i + 1 < r->element[1]->elements; i += 2) {
		const redisReply *k = r->element[1]->element[i], *c = r->element[1]->element[i + 1];
		const char *tab;

		if (k->type != REDIS_REPLY_STRING || c->type != REDIS_REPLY_STRING)
			continue;
		if (strcmp(k->str, "_complete") == 0) {
			*complete_r = bh_st_num(c->str);
			continue;
		}
		if ((tab = strrchr(k->str, '\t')) == NULL || bh_st_num(c->str) <= 0)
			continue;
		supcount_add(&v, &n, k->str, (size_t)(tab - k->str), tab + 1, bh_st_num(c->str));
	}
	if (n > 0)
		qsort(v, n, sizeof(*v), supcount_cmp);
	*v_r = v;
	*n_r = n;
	v = NULL;
	n = 0;
	ret = 0;
out:
	if (r != NULL)
		freeReplyObject(r);
	bh_store_supcounts_free(v, n);
	return ret;
}

/* What a recount gathers while walking the suppressions. */
struct recount {
	struct bh_store *s;
	struct bh_store_supcount *v;
	size_t n;
	struct args zadd; /* score, member pairs of {p}:supexp */
	int64_t total;
};

/* recount_row - count one suppression; remember its expiry */
static int
recount_row(const struct bh_suppression *sup, void *ctx)
{
	struct recount *rc = ctx;
	const char *list = sup->list != NULL ? sup->list : "-";
	const char *reason = sup->reason != NULL ? sup->reason : "-";

	supcount_add(&rc->v, &rc->n, list, strlen(list), reason, 1);
	rc->total++;
	if (sup->expires > 0) {
		char *k = bh_st_key_sup(rc->s, sup->address, sup->list);

		bh_st_args_addf(&rc->zadd, "%lld", (long long)sup->expires);
		bh_st_args_addf(&rc->zadd, "%s\t%s\t%s", list, reason, k);
		free(k);
	}
	return 0;
}

/* run_ok - run a command and require a non-error reply; 0 or -1 */
static int
run_ok(struct bh_store *s, struct args *a, const char **error_r)
{
	redisReply *r = bh_st_command(s, a, error_r);
	int ret = 0;

	if (r == NULL)
		return -1;
	if (r->type == REDIS_REPLY_ERROR) {
		bh_st_set_err(s, error_r, "redis: %s: %.200s", a->v[0], r->str);
		ret = -1;
	}
	freeReplyObject(r);
	return ret;
}

/* bh_store_sup_recount - rebuild the counters from every suppression (SCAN) */
int
bh_store_sup_recount(struct bh_store *s, int64_t *total_r, const char **error_r)
{
	struct recount rc = {s, NULL, 0, {0}, 0};
	struct args a = {0};
	size_t i, j;
	int ret = -1;

	*total_r = 0;
	if (bh_store_list(s, NULL, recount_row, &rc, error_r) == -1)
		goto out;
	bh_st_args_add(&a, "DEL");
	bh_st_args_addf(&a, "%s:supcount", s->tag);
	bh_st_args_addf(&a, "%s:supexp", s->tag);
	if (run_ok(s, &a, error_r) == -1)
		goto out;
	bh_st_args_deinit(&a);
	bh_st_args_add(&a, "HSET");
	bh_st_args_addf(&a, "%s:supcount", s->tag);
	for (i = 0; i < rc.n; i++) {
		bh_st_args_addf(&a, "%s\t%s", rc.v[i].list, rc.v[i].reason);
		bh_st_args_addf(&a, "%lld", (long long)rc.v[i].n);
	}
	bh_st_args_add(&a, "_complete");
	bh_st_args_addf(&a, "%lld", (long long)bh_now());
	if (run_ok(s, &a, error_r) == -1)
		goto out;
	bh_st_args_deinit(&a);
	for (i = 0; i < rc.zadd.n; i += 2 * RECOUNT_CHUNK) {
		bh_st_args_add(&a, "ZADD");
		bh_st_args_addf(&a, "%s:supexp", s->tag);
		for (j = i; j < rc.zadd.n && j < i + 2 * RECOUNT_CHUNK; j++)
			bh_st_args_addn(&a, rc.zadd.v[j], rc.zadd.len[j]);
		if (run_ok(s, &a, error_r) == -1)
			goto out;
		bh_st_args_deinit(&a);
	}
	*total_r = rc.total;
	ret = 0;
out:
	bh_st_args_deinit(&a);
	bh_st_args_deinit(&rc.zadd);
	bh_store_supcounts_free(rc.v, rc.n);
	return ret;
}

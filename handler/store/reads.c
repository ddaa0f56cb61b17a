/*
 * reads.c - what the ops CLI and senders read: suppressions (check, show, list by SCAN), the
 * events of the stream (explain, tail, follow), the counters of the last hour and day, and the
 * soft-bounce windows of an address. Checks the shape of every reply.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bh_limits.h"
#include "store_int.h"

/* bh_suppression_deinit - free the strings of a suppression and zero it (not sup itself) */
void
bh_suppression_deinit(struct bh_suppression *sup)
{
	free(sup->address);
	free(sup->list);
	free(sup->reason);
	free(sup->class_);
	free(sup->source);
	free(sup->why);
	free(sup->message_id);
	free(sup->stable_id);
	free(sup->status);
	free(sup->rule);
	free(sup->event_id);
	memset(sup, 0, sizeof(*sup));
}

/* parse_sup - a suppression from an HGETALL reply; 0, or -1 when the hash is empty or not one */
static int
parse_sup(const redisReply *r, struct bh_suppression *out)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	if (r->type != REDIS_REPLY_ARRAY || r->elements == 0 || r->elements % 2 != 0)
		return -1;
	for (i = 0; i + 1 < r->elements; i += 2) {
		const redisReply *k = r->element[i], *v = r->element[i + 1];
		char **slot = NULL;
		int64_t *n = NULL;

		if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
			continue;
		if (strcmp(k->str, "address") == 0)
			slot = &out->address;
		else if (strcmp(k->str, "list") == 0)
			slot = &out->list;
		else if (strcmp(k->str, "reason") == 0)
			slot = &out->reason;
		else if (strcmp(k->str, "class") == 0)
			slot = &out->class_;
		else if (strcmp(k->str, "source") == 0)
			slot = &out->source;
		else if (strcmp(k->str, "why") == 0)
			slot = &out->why;
		else if (strcmp(k->str, "message_id") == 0)
			slot = &out->message_id;
		else if (strcmp(k->str, "stable_id") == 0)
			slot = &out->stable_id;
		else if (strcmp(k->str, "status") == 0)
			slot = &out->status;
		else if (strcmp(k->str, "rule") == 0)
			slot = &out->rule;
		else if (strcmp(k->str, "event") == 0)
			slot = &out->event_id;
		else if (strcmp(k->str, "first_seen") == 0)
			n = &out->first_seen;
		else if (strcmp(k->str, "last_seen") == 0)
			n = &out->last_seen;
		else if (strcmp(k->str, "count") == 0)
			n = &out->count;
		else if (strcmp(k->str, "expires") == 0)
			n = &out->expires;
		if (slot != NULL) {
			free(*slot);
			*slot = bh_memdup0(v->str, v->len);
		} else if (n != NULL) {
			*n = bh_st_num(v->str);
		}
	}
	if (out->list != NULL && out->list[0] == '\0')
		bh_free_str(&out->list);
	if (out->address == NULL) {
		bh_suppression_deinit(out);
		return -1;
	}
	return 0;
}

/* get_sup - HGETALL one suppression key: 1 found, 0 not, -1 error */
static int
get_sup(struct bh_store *s, const char *key, struct bh_suppression *out, const char **error_r)
{
	redisReply *r = bh_st_commandv(s, error_r, "HGETALL", key, (char *)NULL);
	int ret;

	if (r == NULL)
		return -1;
	if (r->type == REDIS_REPLY_ERROR) {
		bh_st_set_err(s, error_r, "redis: HGETALL: %.200s", r->str);
		ret = -1;
	} else {
		ret = parse_sup(r, out) == 0 ? 1 : 0;
	}
	freeReplyObject(r);
	return ret;
}

/* bh_store_check - is address suppressed (globally, or in list)? */
int
bh_store_check(struct bh_store *s, const char *address, const char *list,
	       struct bh_suppression *out, const char **error_r)
{
	char *addr = NULL, *key = NULL, *l = bh_st_list_norm(list);
	int ret = -1;

	memset(out, 0, sizeof(*out));
	if (bh_st_normalize(s, address, &addr, error_r) == -1)
		goto out;
	key = bh_st_key_sup(s, addr, NULL);
	ret = get_sup(s, key, out, error_r);
	if (ret != 0 || l == NULL)
		goto out;
	free(key);
	key = bh_st_key_sup(s, addr, l);
	ret = get_sup(s, key, out, error_r);
out:
	free(key);
	free(addr);
	free(l);
	return ret;
}

/* bh_store_show - every suppression of an address */
int
bh_store_show(struct bh_store *s, const char *address, struct bh_suppression **v_r, size_t *n_r,
	      const char **error_r)
{
	struct bh_suppression *v = NULL, one;
	size_t n = 0, i;
	char *addr = NULL, *key = NULL, *idx = NULL;
	redisReply *m = NULL;
	int rc, ret = -1;

	*v_r = NULL;
	*n_r = 0;
	if (bh_st_normalize(s, address, &addr, error_r) == -1)
		goto out;
	key = bh_st_key_sup(s, addr, NULL);
	if ((rc = get_sup(s, key, &one, error_r)) == -1)
		goto out;
	if (rc == 1) {
		v = bh_reallocarray(v, n + 1, sizeof(*v));
		v[n++] = one;
	}
	idx = bh_asprintf("%s:supidx:%s", s->tag, addr);
	if ((m = bh_st_commandv(s, error_r, "SMEMBERS", idx, (char *)NULL)) == NULL)
		goto out;
	if (m->type != REDIS_REPLY_ARRAY) {
		bh_st_set_err(s, error_r, "redis: SMEMBERS: unexpected reply");
		goto out;
	}
	for (i = 0; i < m->elements && i < BH_MAX_LISTS; i++) {
		if (m->element[i]->type != REDIS_REPLY_STRING)
			continue;
		free(key);
		key = bh_st_key_sup(s, addr, m->element[i]->str);
		if ((rc = get_sup(s, key, &one, error_r)) == -1)
			goto out;
		if (rc == 1) {
			v = bh_reallocarray(v, n + 1, sizeof(*v));
			v[n++] = one;
		} else {
			/* The suppression expired: drop the stale index entry. */
			redisReply *x = bh_st_commandv(s, error_r, "SREM", idx, m->element[i]->str,
						       (char *)NULL);

			if (x == NULL)
				goto out;
			freeReplyObject(x);
		}
	}
	*v_r = v;
	*n_r = n;
	v = NULL;
	n = 0;
	ret = 0;
out:
	for (i = 0; i < n; i++)
		bh_suppression_deinit(&v[i]);
	free(v);
	if (m != NULL)
		freeReplyObject(m);
	free(idx);
	free(key);
	free(addr);
	return ret;
}

/* glob_escape - a literal for a SCAN MATCH pattern */
static void
glob_escape(struct bh_buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (strchr("*?[]\\", *s) != NULL)
			bh_buf_putc(b, '\\');
		bh_buf_putc(b, *s);
	}
}

/* sup_matches - does a suppression pass the filter? */
static bool
sup_matches(const struct bh_suppression *sup, const struct bh_store_filter *f)
{
	if (f == NULL)
		return true;
	if (f->list != NULL) {
		if (strcmp(f->list, "-") == 0) {
			if (sup->list != NULL)
				return false;
		} else if (sup->list == NULL || strcasecmp(sup->list, f->list) != 0) {
			return false;
		}
	}
	if (f->reason != NULL && (sup->reason == NULL || strcmp(sup->reason, f->reason) != 0))
		return false;
	if (f->since > 0 && sup->last_seen < f->since)
		return false;
	return true;
}

/* bh_store_list - SCAN every suppression key, HGETALL each page in one round trip */
int
bh_store_list(struct bh_store *s, const struct bh_store_filter *f,
	      int (*fn)(const struct bh_suppression *sup, void *ctx), void *ctx,
	      const char **error_r)
{
	static const char *const hgetall[] = {"HGETALL", NULL};
	struct bh_buf pat;
	char *cursor = bh_strdup("0");
	redisReply *r = NULL, *h;
	struct bh_suppression sup;
	int64_t i, sent;
	int ret = -1, stop = 0;

	bh_buf_init(&pat);
	glob_escape(&pat, s->tag);
	bh_buf_puts(&pat, ":sup:*");
	/* Bounded: SCAN ends when the cursor comes back to 0. */
	do {
		r = bh_st_commandv(s, error_r, "SCAN", cursor, "MATCH", pat.data, "COUNT",
				   BH_ST_STR(BH_ST_SCAN_COUNT), (char *)NULL);
		if (r == NULL)
			goto out;
		if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		    r->element[0]->type != REDIS_REPLY_STRING ||
		    r->element[1]->type != REDIS_REPLY_ARRAY) {
			bh_st_set_err(s, error_r, "redis: SCAN: unexpected reply");
			goto out;
		}
		free(cursor);
		cursor = bh_strdup(r->element[0]->str);
		if ((sent = bh_st_pipeline_send(s, r->element[1], hgetall, 2, error_r)) == -1)
			goto out;
		for (i = 0; i < sent; i++) {
			if ((h = bh_st_pipeline_reply(s, "HGETALL", error_r)) == NULL)
				goto out;
			if (!stop && parse_sup(h, &sup) == 0) {
				if (sup_matches(&sup, f))
					stop = fn(&sup, ctx);
				bh_suppression_deinit(&sup);
			}
			freeReplyObject(h);
		}
		freeReplyObject(r);
		r = NULL;
	} while (!stop && strcmp(cursor, "0") != 0);
	ret = 0;
out:
	if (r != NULL)
		freeReplyObject(r);
	free(cursor);
	bh_buf_deinit(&pat);
	return ret;
}

/* ---- events ---- */

/* bh_store_event_get - the value of field name in ev, or NULL; borrowed from ev */
const char *
bh_store_event_get(const struct bh_store_event *ev, const char *name)
{
	size_t i;

	for (i = 0; i < ev->n; i++)
		if (strcmp(ev->kv[2 * i], name) == 0)
			return ev->kv[2 * i + 1];
	return NULL;
}

/* bh_store_events_free - free n events and their fields; accepts v NULL */
void
bh_store_events_free(struct bh_store_event *v, size_t n)
{
	size_t i, j;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(v[i].id);
		for (j = 0; j < 2 * v[i].n; j++)
			free(v[i].kv[j]);
		free(v[i].kv);
	}
	free(v);
}

/* parse_event - one stream entry [id, [k, v, ...]]; 0 or -1 when malformed */
static int
parse_event(const redisReply *e, struct bh_store_event *out)
{
	const redisReply *f;
	size_t j;

	memset(out, 0, sizeof(*out));
	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
	    e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_ARRAY)
		return -1;
	f = e->element[1];
	out->id = bh_st_reply_str(e->element[0]);
	out->n = f->elements / 2;
	out->kv = bh_calloc(out->n * 2 + 1, sizeof(char *));
	for (j = 0; j < out->n * 2; j++)
		out->kv[j] = bh_st_reply_str(f->element[j]);
	return 0;
}

/* append_events - parse an array of stream entries onto *v / *n (reversed when newest_first
 * ordering must be flipped) */
static void
append_events(const redisReply *r, bool reverse, struct bh_store_event **v, size_t *n)
{
	size_t i;

	if (r->type != REDIS_REPLY_ARRAY)
		return;
	*v = bh_reallocarray(*v, *n + r->elements + 1, sizeof(**v));
	for (i = 0; i < r->elements; i++) {
		const redisReply *e = r->element[reverse ? r->elements - 1 - i : i];

		if (parse_event(e, &(*v)[*n]) == 0)
			(*n)++;
	}
}

/* bh_store_explain - the events of one address, newest first */
int
bh_store_explain(struct bh_store *s, const char *address, size_t max, struct bh_store_event **v_r,
		 size_t *n_r, const char **error_r)
{
	char *addr = NULL, *key = NULL, *stream = NULL, stop[32];
	const char *xrange[] = {"XRANGE", NULL, NULL, NULL}; /* XRANGE stream id id: one event */
	redisReply *ids = NULL, *r;
	struct bh_store_event *v = NULL;
	size_t n = 0;
	int64_t i, sent;
	int ret = -1;

	*v_r = NULL;
	*n_r = 0;
	if (max == 0 || max > BH_ST_MAX_EXPLAIN)
		max = BH_ST_MAX_EXPLAIN;
	if (bh_st_normalize(s, address, &addr, error_r) == -1)
		goto out;
	key = bh_asprintf("%s:ev:%s", s->tag, addr);
	stream = bh_asprintf("%s:events", s->tag);
	snprintf(stop, sizeof(stop), "%zu", max - 1);
	if ((ids = bh_st_commandv(s, error_r, "LRANGE", key, "0", stop, (char *)NULL)) == NULL)
		goto out;
	if (ids->type != REDIS_REPLY_ARRAY) {
		bh_st_set_err(s, error_r, "redis: LRANGE: unexpected reply");
		goto out;
	}
	xrange[1] = stream;
	if ((sent = bh_st_pipeline_send(s, ids, xrange, 4, error_r)) == -1)
		goto out;
	for (i = 0; i < sent; i++) {
		if ((r = bh_st_pipeline_reply(s, "XRANGE", error_r)) == NULL)
			goto out;
		/* An event trimmed from the stream since (MAXLEN) comes back empty: skipped. */
		append_events(r, false, &v, &n);
		freeReplyObject(r);
	}
	*v_r = v;
	*n_r = n;
	v = NULL;
	n = 0;
	ret = 0;
out:
	bh_store_events_free(v, n);
	if (ids != NULL)
		freeReplyObject(ids);
	free(stream);
	free(key);
	free(addr);
	return ret;
}

/* bh_store_tail - the last n events, oldest first */
int
bh_store_tail(struct bh_store *s, size_t n, struct bh_store_event **v_r, size_t *n_r,
	      const char **error_r)
{
	char *stream = bh_asprintf("%s:events", s->tag), count[32];
	redisReply *r;
	int ret = -1;

	*v_r = NULL;
	*n_r = 0;
	snprintf(count, sizeof(count), "%zu", n == 0 ? (size_t)10 : n);
	r = bh_st_commandv(s, error_r, "XREVRANGE", stream, "+", "-", "COUNT", count, (char *)NULL);
	if (r == NULL)
		goto out;
	if (r->type != REDIS_REPLY_ARRAY) {
		bh_st_set_err(s, error_r, "redis: XREVRANGE: %.200s",
			      r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		goto out;
	}
	append_events(r, true, v_r, n_r);
	ret = 0;
out:
	if (r != NULL)
		freeReplyObject(r);
	free(stream);
	return ret;
}

/* bh_store_follow - block for events after *last_id */
int
bh_store_follow(struct bh_store *s, char **last_id, int64_t block_ms, struct bh_store_event **v_r,
		size_t *n_r, const char **error_r)
{
	char *stream = bh_asprintf("%s:events", s->tag), block[32];
	redisReply *r;
	int ret = -1;

	*v_r = NULL;
	*n_r = 0;
	/* The block must end before the command timeout, or hiredis gives up on the context. */
	if (block_ms <= 0 || block_ms > s->rc->command_timeout_ms / 2)
		block_ms = s->rc->command_timeout_ms / 2 > 0 ? s->rc->command_timeout_ms / 2 : 1;
	snprintf(block, sizeof(block), "%lld", (long long)block_ms);
	r = bh_st_commandv(s, error_r, "XREAD", "COUNT", "1000", "BLOCK", block, "STREAMS", stream,
			   *last_id, (char *)NULL);
	if (r == NULL)
		goto out;
	if (r->type == REDIS_REPLY_NIL) {
		ret = 0;
		goto out;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 1 ||
	    r->element[0]->type != REDIS_REPLY_ARRAY || r->element[0]->elements != 2) {
		bh_st_set_err(s, error_r, "redis: XREAD: %.200s",
			      r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		goto out;
	}
	append_events(r->element[0]->element[1], false, v_r, n_r);
	if (*n_r > 0) {
		free(*last_id);
		*last_id = bh_strdup((*v_r)[*n_r - 1].id);
	}
	ret = 0;
out:
	if (r != NULL)
		freeReplyObject(r);
	free(stream);
	return ret;
}

/* ---- stats and health ---- */

/* bh_store_stats_free - free n stat rows and their strings; accepts v NULL */
void
bh_store_stats_free(struct bh_store_stat *v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(v[i].list);
		free(v[i].reason);
		free(v[i].outcome);
	}
	free(v);
}

/* stat_cmp - by list, reason, outcome */
static int
stat_cmp(const void *a, const void *b)
{
	const struct bh_store_stat *x = a, *y = b;
	int c;

	if ((c = strcmp(x->list, y->list)) != 0)
		return c;
	if ((c = strcmp(x->reason, y->reason)) != 0)
		return c;
	return strcmp(x->outcome, y->outcome);
}

/* stat_add - add count to the row of a "list\treason\toutcome" field */
static void
stat_add(struct bh_store_stat **v, size_t *n, const char *field, int64_t count, bool in_hour)
{
	const char *t1 = strchr(field, '\t'), *t2 = t1 != NULL ? strchr(t1 + 1, '\t') : NULL;
	size_t i;

	if (t2 == NULL)
		return;
	for (i = 0; i < *n; i++) {
		struct bh_store_stat *st = &(*v)[i];

		if (strlen(st->list) == (size_t)(t1 - field) &&
		    strncmp(st->list, field, (size_t)(t1 - field)) == 0 &&
		    strlen(st->reason) == (size_t)(t2 - t1 - 1) &&
		    strncmp(st->reason, t1 + 1, (size_t)(t2 - t1 - 1)) == 0 &&
		    strcmp(st->outcome, t2 + 1) == 0)
			break;
	}
	if (i == *n) {
		*v = bh_reallocarray(*v, *n + 1, sizeof(**v));
		(*v)[i].list = bh_strndup(field, (size_t)(t1 - field));
		(*v)[i].reason = bh_strndup(t1 + 1, (size_t)(t2 - t1 - 1));
		(*v)[i].outcome = bh_strdup(t2 + 1);
		(*v)[i].hour = 0;
		(*v)[i].day = 0;
		(*n)++;
	}
	(*v)[i].day += count;
	if (in_hour)
		(*v)[i].hour += count;
}

/* bh_store_stats - sum the 5-minute buckets of the last day */
int
bh_store_stats(struct bh_store *s, struct bh_store_stat **v_r, size_t *n_r, const char **error_r)
{
	int64_t now = bh_now(), cur = now - now % BH_ST_STATS_BUCKET_S, b;
	size_t nb = 86400 / BH_ST_STATS_BUCKET_S + 1, i, j, n = 0;
	struct bh_store_stat *v = NULL;
	redisReply *r;
	int ret = -1;

	*v_r = NULL;
	*n_r = 0;
	if (bh_store_connect(s, error_r) == -1)
		return -1;
	for (i = 0; i < nb; i++) {
		b = cur - (int64_t)i * BH_ST_STATS_BUCKET_S;
		if (redisAppendCommand(s->ctx, "HGETALL %s:stats:%lld", s->tag, (long long)b) !=
		    REDIS_OK) {
			bh_st_transport_err(s, error_r, "HGETALL");
			goto out;
		}
	}
	for (i = 0; i < nb; i++) {
		/* The current bucket is partial; "last hour" is the buckets that started within
		 * the hour (55 to 60 minutes, at 5-minute granularity). */
		bool in_hour = (int64_t)i * BH_ST_STATS_BUCKET_S < 3600;

		if ((r = bh_st_pipeline_reply(s, "HGETALL", error_r)) == NULL)
			goto out;
		if (r->type == REDIS_REPLY_ARRAY)
			for (j = 0; j + 1 < r->elements; j += 2)
				if (r->element[j]->type == REDIS_REPLY_STRING &&
				    r->element[j + 1]->type == REDIS_REPLY_STRING)
					stat_add(&v, &n, r->element[j]->str,
						 bh_st_num(r->element[j + 1]->str), in_hour);
		freeReplyObject(r);
	}
	if (n > 0)
		qsort(v, n, sizeof(*v), stat_cmp);
	*v_r = v;
	*n_r = n;
	v = NULL;
	n = 0;
	ret = 0;
out:
	bh_store_stats_free(v, n);
	return ret;
}

/* ---- soft-bounce windows (explain) ---- */

/* bh_store_soft_free - free n windows and their strings; accepts v NULL */
void
bh_store_soft_free(struct bh_store_soft *v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(v[i].list);
		free(v[i].times);
	}
	free(v);
}

/* soft_one - read one soft window key: 1 with *w filled (not list), 0 empty, -1 error */
static int
soft_one(struct bh_store *s, const char *key, struct bh_store_soft *w, const char **error_r)
{
	redisReply *r =
	    bh_st_commandv(s, error_r, "ZRANGE", key, "0", "999", "WITHSCORES", (char *)NULL);
	size_t i;
	int ret = -1;

	memset(w, 0, sizeof(*w));
	if (r == NULL)
		return -1;
	if (r->type != REDIS_REPLY_ARRAY) {
		bh_st_set_err(s, error_r, "redis: ZRANGE: %.200s",
			      r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		goto out;
	}
	ret = 0;
	if (r->elements < 2)
		goto out;
	w->times = bh_calloc(r->elements / 2 + 1, sizeof(*w->times));
	for (i = 0; i + 1 < r->elements; i += 2)
		if (r->element[i + 1]->type == REDIS_REPLY_STRING)
			w->times[w->n++] = (int64_t)strtod(r->element[i + 1]->str, NULL);
	freeReplyObject(r);
	if ((r = bh_st_commandv(s, error_r, "TTL", key, (char *)NULL)) == NULL) {
		ret = -1;
		goto out;
	}
	w->ttl_s = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
	ret = w->n > 0 ? 1 : 0;
out:
	if (r != NULL)
		freeReplyObject(r);
	if (ret != 1) {
		free(w->times);
		w->times = NULL;
	}
	return ret;
}

/* bh_store_soft - the soft-bounce windows of address: global, then each of lists */
int
bh_store_soft(struct bh_store *s, const char *address, const char *const *lists, size_t n_lists,
	      struct bh_store_soft **v_r, size_t *n_r, const char **error_r)
{
	struct bh_store_soft *v = NULL, w;
	char *addr = NULL, *key, *l;
	size_t n = 0, i;
	int rc, ret = -1;

	*v_r = NULL;
	*n_r = 0;
	if (bh_st_normalize(s, address, &addr, error_r) == -1)
		return -1;
	v = bh_calloc(n_lists + 2, sizeof(*v));
	for (i = 0; i <= n_lists; i++) {
		l = i == 0 ? NULL : bh_st_list_norm(lists[i - 1]);
		if (i > 0 && l == NULL)
			continue;
		key = bh_st_key_soft(s, addr, l);
		rc = soft_one(s, key, &w, error_r);
		free(key);
		if (rc == -1) {
			free(l);
			goto out;
		}
		if (rc == 1) {
			w.list = l;
			v[n++] = w;
		} else {
			free(l);
		}
	}
	*v_r = v;
	*n_r = n;
	v = NULL;
	n = 0;
	ret = 0;
out:
	bh_store_soft_free(v, n);
	free(addr);
	return ret;
}

/*
 * keys.c - the store's small helpers: the argument vector commands are built in, key names in
 * the schema of docs/redis.md, and reading numbers and strings out of replies.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "store_int.h"

#define ARGS_SLAB 4096u

/* grow - room for one more argument */
static void
grow(struct args *a)
{
	if (a->n == a->cap) {
		a->cap = a->cap == 0 ? 8 : a->cap * 2;
		a->v = bh_reallocarray(a->v, a->cap, sizeof(*a->v));
		a->len = bh_reallocarray(a->len, a->cap, sizeof(*a->len));
	}
}

/* slab_keep - add slab to the slabs a frees */
static void
slab_keep(struct args *a, char *slab)
{
	if (a->n_slabs == a->cap_slabs) {
		a->cap_slabs = a->cap_slabs == 0 ? 8 : a->cap_slabs * 2;
		a->slabs = bh_reallocarray(a->slabs, a->cap_slabs, sizeof(*a->slabs));
	}
	a->slabs[a->n_slabs++] = slab;
}

/* bh_st_args_addn - append a copy of p[0..n), NUL-terminated, in a's slabs (an EVALSHA has a
 * hundred arguments: one malloc each was a fifth of the store's cost) */
void
bh_st_args_addn(struct args *a, const char *p, size_t n)
{
	char *dst;

	grow(a);
	if (n >= a->room_len) {
		size_t size = n >= ARGS_SLAB ? n + 1 : ARGS_SLAB;

		dst = bh_malloc(size);
		slab_keep(a, dst);
		if (size == ARGS_SLAB) { /* (a large string has a slab of its own) */
			a->room = dst + n + 1;
			a->room_len = size - n - 1;
		}
	} else {
		dst = a->room;
		a->room += n + 1;
		a->room_len -= n + 1;
	}
	if (n > 0)
		memcpy(dst, p, n);
	dst[n] = '\0';
	a->v[a->n] = dst;
	a->len[a->n] = n;
	a->n++;
}

/* bh_st_fmt_num - n in decimal, written backwards from the end of buf (BH_ST_NUM_LEN bytes,
 * NUL-terminated): the digits' start (what "%lld" writes, without printf) */
char *
bh_st_fmt_num(char *buf, long long n)
{
	char *p = buf + BH_ST_NUM_LEN - 1;
	unsigned long long u = n < 0 ? 0ULL - (unsigned long long)n : (unsigned long long)n;

	*p = '\0';
	do
		*--p = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (n < 0)
		*--p = '-';
	return p;
}

/* bh_st_args_add - append a copy of a C string (NULL: "") */
void
bh_st_args_add(struct args *a, const char *s)
{
	if (s == NULL)
		s = "";
	bh_st_args_addn(a, s, strlen(s));
}

/* bh_st_args_addf - append a formatted string (one vsnprintf into a stack buffer when it
 * fits: a message's EVALSHA has dozens of these) */
BH_PRINTF(2, 3)
void
bh_st_args_addf(struct args *a, const char *fmt, ...)
{
	struct bh_buf b;
	char tmp[512];
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (k < 0)
		bh_fatal("vsnprintf failed for format %s", fmt);
	if ((size_t)k < sizeof(tmp)) {
		bh_st_args_addn(a, tmp, (size_t)k);
		return;
	}
	bh_buf_init(&b);
	va_start(ap, fmt);
	bh_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	bh_st_args_addn(a, b.data, b.len);
	bh_buf_deinit(&b);
}

/* bh_st_args_cat - append every argument of src, moved, not copied: src is left empty */
void
bh_st_args_cat(struct args *dst, struct args *src)
{
	size_t i;

	if (dst->n + src->n > dst->cap) {
		while (dst->n + src->n > dst->cap)
			dst->cap = dst->cap == 0 ? 64 : dst->cap * 2;
		dst->v = bh_reallocarray(dst->v, dst->cap, sizeof(*dst->v));
		dst->len = bh_reallocarray(dst->len, dst->cap, sizeof(*dst->len));
	}
	for (i = 0; i < src->n; i++) {
		dst->v[dst->n] = src->v[i];
		dst->len[dst->n] = src->len[i];
		dst->n++;
	}
	/* the strings' slabs go with them; dst keeps writing into its own last slab */
	for (i = 0; i < src->n_slabs; i++)
		slab_keep(dst, src->slabs[i]);
	src->n = 0;
	src->n_slabs = 0;
	src->room = NULL;
	src->room_len = 0;
}

/* bh_st_args_deinit - free every argument and the vectors; a is left empty, ready for reuse */
void
bh_st_args_deinit(struct args *a)
{
	size_t i;

	for (i = 0; i < a->n_slabs; i++)
		free(a->slabs[i]);
	free(a->slabs);
	free(a->v);
	free(a->len);
	memset(a, 0, sizeof(*a));
}

/* bh_st_args_take - append s and free it (a copy in the slabs: s was the caller's) */
void
bh_st_args_take(struct args *a, char *s)
{
	bh_st_args_addn(a, s, strlen(s));
	free(s);
}

/* bh_st_kv - append a name and a value (NULL: "") */
void
bh_st_kv(struct args *a, const char *k, const char *v)
{
	bh_st_args_add(a, k);
	bh_st_args_add(a, v);
}

/* bh_st_list_norm - a list name as it appears in keys: lower-case (list names match without regard
 * to case, and VERP addresses carry them lower-case); NULL for none. The caller frees. */
char *
bh_st_list_norm(const char *list)
{
	char *l;

	if (list == NULL || list[0] == '\0')
		return NULL;
	l = bh_strdup(list);
	bh_lower_ascii(l);
	return l;
}

/* bh_st_key_sup - the suppression key of address in list (NULL: global) */
char *
bh_st_key_sup(const struct bh_store *s, const char *addr, const char *list)
{
	if (list == NULL)
		return bh_asprintf("%s:sup:g:%s", s->tag, addr);
	return bh_asprintf("%s:sup:l:%s:%s", s->tag, list, addr);
}

/* bh_st_key_soft - the soft-bounce window of address in list (NULL: global) */
char *
bh_st_key_soft(const struct bh_store *s, const char *addr, const char *list)
{
	if (list == NULL)
		return bh_asprintf("%s:soft:g:%s", s->tag, addr);
	return bh_asprintf("%s:soft:l:%s:%s", s->tag, list, addr);
}

/* bh_st_reply_str - a copy of a string-ish reply element */
char *
bh_st_reply_str(const redisReply *r)
{
	if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)
		return bh_memdup0(r->str, r->len);
	if (r->type == REDIS_REPLY_INTEGER)
		return bh_asprintf("%lld", r->integer);
	return bh_strdup("");
}

/* bh_st_num - a decimal field, 0 when absent or not a number */
int64_t
bh_st_num(const char *p)
{
	long long n;
	const char *e;

	if (p == NULL || bh_strtonum(p, -(1LL << 62), 1LL << 62, &n, &e) == -1)
		return 0;
	return n;
}

/* bh_st_normalize - an operator's address in key form */
int
bh_st_normalize(struct bh_store *s, const char *address, char **out_r, const char **error_r)
{
	const char *e;

	if (bh_addr_normalize(address, strlen(address), out_r, &e) == -1) {
		bh_st_set_err(s, error_r, "invalid address: %s", e);
		return -1;
	}
	return 0;
}

/* bh_st_maxlen - the stream's MAXLEN ~ (redis.stream_maxlen, else a million) */
int64_t
bh_st_maxlen(const struct bh_store *s)
{
	return s->rc->stream_maxlen > 0 ? s->rc->stream_maxlen : 1000000;
}

/* put_len - n (100 or more) in decimal at d: past the digits (out of line: its buffer would
 * cost bh_st_resp_bulk a stack check on every call) */
__attribute__((noinline)) static char *
put_len(char *d, size_t n)
{
	char num[BH_ST_NUM_LEN], *q = bh_st_fmt_num(num, (long long)n);
	size_t k = (size_t)(num + sizeof(num) - 1 - q);

	memcpy(d, q, k);
	return d + k;
}

/* bulk_head - make room for a bulk string of n bytes in resp and write its "$<n>\r\n": where
 * the bytes go (resp->len not moved yet) */
static inline char *
bulk_head(struct bh_buf *resp, size_t n)
{
	char *d;

	/* "$", at most 20 digits, CRLF, the bytes, CRLF and the NUL */
	if (resp->cap - resp->len < n + 26)
		bh_buf_reserve(resp, n + 25);
	d = resp->data + resp->len;
	*d++ = '$';
	if (n < 10) {
		*d++ = (char)('0' + n);
	} else if (n < 100) {
		*d++ = (char)('0' + n / 10);
		*d++ = (char)('0' + n % 10);
	} else {
		d = put_len(d, n);
	}
	*d++ = '\r';
	*d++ = '\n';
	return d;
}

/* bulk_tail - end the bulk string whose bytes end at d */
static inline void
bulk_tail(struct bh_buf *resp, char *d)
{
	*d++ = '\r';
	*d++ = '\n';
	*d = '\0';
	resp->len = (size_t)(d - resp->data);
}

/* bh_st_resp_bulk - append p[0..n) as a RESP bulk string: "$<n>\r\n", the bytes, "\r\n"
 * (written in place: a message's EVALSHA has a hundred of these) */
void
bh_st_resp_bulk(struct bh_buf *resp, const char *p, size_t n)
{
	char *d = bulk_head(resp, n);

	if (n > 0)
		memcpy(d, p, n);
	bulk_tail(resp, d + n);
}

/* bh_st_resp_num - append n in decimal as a RESP bulk string */
void
bh_st_resp_num(struct bh_buf *resp, long long n)
{
	char buf[BH_ST_NUM_LEN], *p = bh_st_fmt_num(buf, n);

	bh_st_resp_bulk(resp, p, (size_t)(buf + sizeof(buf) - 1 - p));
}

/* bh_st_resp_vcat - append the concatenation of the strings up to a NULL, at most
 * BH_ST_CAT_MAX of them, as one RESP bulk string (keys are made of known pieces: no format to
 * parse) */
void
bh_st_resp_vcat(struct bh_buf *resp, const char *first, va_list ap)
{
	const char *part[BH_ST_CAT_MAX], *p;
	size_t len[BH_ST_CAT_MAX], n = 0, m = 0, i;
	char *d;

	for (p = first; p != NULL; p = va_arg(ap, const char *)) {
		if (m == BH_ST_CAT_MAX)
			bh_fatal("store: more than %d pieces in one argument", BH_ST_CAT_MAX);
		part[m] = p;
		len[m] = strlen(p);
		n += len[m++];
	}
	d = bulk_head(resp, n);
	for (i = 0; i < m; i++) {
		memcpy(d, part[i], len[i]);
		d += len[i];
	}
	bulk_tail(resp, d);
}

/* bh_st_resp_add - append p[0..n) as one more RESP bulk string of r */
void
bh_st_resp_add(struct bh_st_resp *r, const char *p, size_t n)
{
	bh_st_resp_bulk(&r->b, p, n);
	r->n++;
}

/* bh_st_pair - append a name and a value (NULL: "") */
void
bh_st_pair(struct bh_st_resp *r, const char *name, const char *value)
{
	if (value == NULL)
		value = "";
	bh_st_resp_add(r, name, strlen(name));
	bh_st_resp_add(r, value, strlen(value));
}

/* bh_st_pair_cut - append a name and an untrusted value cut to max bytes */
void
bh_st_pair_cut(struct bh_st_resp *r, const char *name, const char *value, size_t max)
{
	size_t n = value == NULL ? 0 : strnlen(value, max);

	bh_st_resp_add(r, name, strlen(name));
	bh_st_resp_add(r, value == NULL ? "" : value, n);
}

/* bh_st_pair_num - append a name and n in decimal */
void
bh_st_pair_num(struct bh_st_resp *r, const char *name, long long n)
{
	bh_st_resp_add(r, name, strlen(name));
	bh_st_resp_num(&r->b, n);
	r->n++;
}

/*
 * proto.c - pack a script's keys and arguments in the order of its table (*.args).
 *
 * The C side sets slots by the names cmake/store_proto.cmake made of the table
 * (BH_APPLY_MSG_A_now ...), in any order; bh_st_emit puts them out in the table's order, with
 * the mask of the key groups sent first, which is the order the generated Lua prologue unpacks.
 * A slot left empty, a scalar set twice or a group sent in part is our bug: it aborts, so a
 * table and its C side that disagree fail the first test that applies anything.
 *
 * Each slot is written once, as the RESP bulk string it will be sent as, into the pack's own
 * buffer (pairs: into the slot's), kept across bh_st_emit: bh_st_emit_resp then only copies
 * them out in order, and a pack reused for every message of an apply allocates nothing once
 * warm. bh_st_emit reads the same bytes back into an argument vector.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* bh_st_pack_init - an empty pack for one scope of a script */
void
bh_st_pack_init(struct bh_st_pack *k, const struct bh_st_proto *p)
{
	if (p->n_keys > BH_ST_MAX_SLOTS || p->n_args > BH_ST_MAX_SLOTS)
		bh_fatal("store: %s: more than %d slots", p->name, BH_ST_MAX_SLOTS);
	memset(k, 0, sizeof(*k));
	k->p = p;
}

/* bh_st_pack_deinit - free the pack's memory; k is left empty (bh_st_pack_init again) */
void
bh_st_pack_deinit(struct bh_st_pack *k)
{
	size_t i;

	bh_buf_deinit(&k->mem);
	for (i = 0; i < BH_ST_MAX_SLOTS; i++)
		bh_buf_deinit(&k->arg[i].b);
	memset(k, 0, sizeof(*k));
}

/* key_slot - check that i is a key slot not set yet; it is set to the next bulk string of mem */
static void
key_slot(struct bh_st_pack *k, unsigned i)
{
	if (i >= k->p->n_keys || k->key[i] != 0)
		bh_fatal("store: %s: key slot %u out of range or set twice", k->p->name, i);
	k->key[i] = k->mem.len + 1;
}

/* bh_st_key - set key slot i to key (freed) */
void
bh_st_key(struct bh_st_pack *k, unsigned i, char *key)
{
	key_slot(k, i);
	bh_st_resp_bulk(&k->mem, key, strlen(key));
	free(key);
}

/* bh_st_keyf - set key slot i, formatted */
BH_PRINTF(3, 4)
void
bh_st_keyf(struct bh_st_pack *k, unsigned i, const char *fmt, ...)
{
	struct bh_buf b;
	va_list ap;

	key_slot(k, i);
	bh_buf_init(&b);
	va_start(ap, fmt);
	bh_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	bh_st_resp_bulk(&k->mem, b.data, b.len);
	bh_buf_deinit(&b);
}

/* bh_st_keycat - set key slot i to the concatenation of the strings up to a NULL */
void
bh_st_keycat(struct bh_st_pack *k, unsigned i, const char *first, ...)
{
	va_list ap;

	key_slot(k, i);
	va_start(ap, first);
	bh_st_resp_vcat(&k->mem, first, ap);
	va_end(ap);
}

/* scalar - check that slot i is a scalar argument not set yet; it is set to the next bulk
 * string of mem */
static void
scalar(struct bh_st_pack *k, unsigned i)
{
	if (i >= k->p->n_args || k->p->arg_type[i] == BH_ST_PAIRS || k->val[i] != 0)
		bh_fatal("store: %s: argument slot %u is no scalar or set twice", k->p->name, i);
	k->val[i] = k->mem.len + 1;
}

/* bh_st_put - set scalar argument slot i to a copy of s (NULL: "") */
void
bh_st_put(struct bh_st_pack *k, unsigned i, const char *s)
{
	scalar(k, i);
	if (s == NULL)
		s = "";
	bh_st_resp_bulk(&k->mem, s, strlen(s));
}

/* bh_st_put_num - set scalar argument slot i to n in decimal */
void
bh_st_put_num(struct bh_st_pack *k, unsigned i, long long n)
{
	scalar(k, i);
	bh_st_resp_num(&k->mem, n);
}

/* bh_st_putcat - set scalar argument slot i to the concatenation of the strings up to a NULL */
void
bh_st_putcat(struct bh_st_pack *k, unsigned i, const char *first, ...)
{
	va_list ap;

	scalar(k, i);
	va_start(ap, first);
	bh_st_resp_vcat(&k->mem, first, ap);
	va_end(ap);
}

/* bh_st_putf - set scalar argument slot i, formatted */
BH_PRINTF(3, 4)
void
bh_st_putf(struct bh_st_pack *k, unsigned i, const char *fmt, ...)
{
	struct bh_buf b;
	va_list ap;

	scalar(k, i);
	bh_buf_init(&b);
	va_start(ap, fmt);
	bh_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	bh_st_resp_bulk(&k->mem, b.data, b.len);
	bh_buf_deinit(&b);
}

/* bh_st_pairs - pairs slot i */
struct bh_st_resp *
bh_st_pairs(struct bh_st_pack *k, unsigned i)
{
	if (i >= k->p->n_args || k->p->arg_type[i] != BH_ST_PAIRS)
		bh_fatal("store: %s: argument slot %u holds no pairs", k->p->name, i);
	return &k->arg[i];
}

/* One destination of emit: an argument vector, or RESP bulk strings. */
struct sink {
	struct args *a; /* NULL: r */
	struct bh_st_resp *r;
};

/* sink_bulks - n bulk strings at p (of our own writing) to the sink, their bytes as they are or
 * read back as arguments; the bytes used */
static size_t
sink_bulks(struct sink *o, const char *p, size_t n)
{
	const char *start = p;
	size_t i, len;

	for (i = 0; i < n; i++) {
		const char *data;

		for (len = 0, p++; *p != '\r'; p++) /* "$<len>\r\n" */
			len = len * 10 + (size_t)(*p - '0');
		data = p + 2;
		if (o->a != NULL)
			bh_st_args_addn(o->a, data, len);
		p = data + len + 2;
	}
	if (o->a == NULL) {
		bh_buf_append(&o->r->b, start, (size_t)(p - start));
		o->r->n += n;
	}
	return (size_t)(p - start);
}

/* sink_num - one argument, n in decimal, to the sink */
static void
sink_num(struct sink *o, long long n)
{
	char buf[BH_ST_NUM_LEN], *p = bh_st_fmt_num(buf, n);

	if (o->a != NULL)
		bh_st_args_addn(o->a, p, (size_t)(buf + sizeof(buf) - 1 - p));
	else
		bh_st_resp_add(o->r, p, (size_t)(buf + sizeof(buf) - 1 - p));
}

/* emit - check every slot (a missing one aborts), then the keys to keys and the arguments to
 * argv in the table's order; k is left empty */
static void
emit(struct bh_st_pack *k, struct sink *keys, struct sink *argv)
{
	const struct bh_st_proto *p = k->p;
	unsigned long mask = 0;
	size_t i;

	for (i = 0; i < p->n_keys; i++)
		if (k->key[i] != 0)
			mask |= 1UL << p->key_group[i];
	for (i = 0; i < p->n_keys; i++)
		if (k->key[i] == 0 && (mask & (1UL << p->key_group[i])) != 0)
			bh_fatal("store: %s: key %s missing from a group sent", p->name,
				 p->key_name[i]);
	for (i = 0; i < p->n_args; i++)
		if (p->arg_type[i] != BH_ST_PAIRS && k->val[i] == 0)
			bh_fatal("store: %s: argument %s not set", p->name, p->arg_name[i]);
		else if (p->arg_type[i] == BH_ST_PAIRS && k->arg[i].n % 2 != 0)
			bh_fatal("store: %s: %s: a name without a value", p->name, p->arg_name[i]);
	if (p->n_groups > 1)
		sink_num(argv, (long long)mask);
	for (i = 0; i < p->n_keys; i++)
		if (k->key[i] != 0) {
			sink_bulks(keys, k->mem.data + k->key[i] - 1, 1);
			k->key[i] = 0;
		}
	for (i = 0; i < p->n_args; i++) {
		struct bh_st_resp *a = &k->arg[i];

		if (p->arg_type[i] != BH_ST_PAIRS) {
			sink_bulks(argv, k->mem.data + k->val[i] - 1, 1);
			k->val[i] = 0;
			continue;
		}
		sink_num(argv, (long long)(a->n / 2));
		if (a->n > 0)
			sink_bulks(argv, a->b.data, a->n);
		a->b.len = 0;
		a->n = 0;
	}
	k->mem.len = 0;
}

/* bh_st_emit - the keys and arguments in the table's order, appended to two vectors */
void
bh_st_emit(struct bh_st_pack *k, struct args *keys, struct args *argv)
{
	struct sink ks = {keys, NULL}, as = {argv, NULL};

	emit(k, &ks, &as);
}

/* bh_st_emit_resp - the keys and arguments in the table's order, appended as RESP */
void
bh_st_emit_resp(struct bh_st_pack *k, struct bh_st_resp *keys, struct bh_st_resp *argv)
{
	struct sink ks = {NULL, keys}, as = {NULL, argv};

	emit(k, &ks, &as);
}

/*
 * proto.c - pack a script's keys and arguments in the order of its table (*.args).
 *
 * The C side sets slots by the names cmake/store_proto.cmake made of the table
 * (BH_APPLY_MSG_A_now ...), in any order; bh_st_emit puts them out in the table's order, with
 * the mask of the key groups sent first, which is the order the generated Lua prologue unpacks.
 * A slot left empty, a scalar set twice or a group sent in part is our bug: it aborts, so a
 * table and its C side that disagree fail the first test that applies anything.
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

/* bh_st_key - set key slot i to key (owned by the pack from now on) */
void
bh_st_key(struct bh_st_pack *k, unsigned i, char *key)
{
	if (i >= k->p->n_keys || k->key[i] != NULL)
		bh_fatal("store: %s: key slot %u out of range or set twice", k->p->name, i);
	k->key[i] = key;
}

/* bh_st_keyf - set key slot i */
BH_PRINTF(3, 4)
void
bh_st_keyf(struct bh_st_pack *k, unsigned i, const char *fmt, ...)
{
	struct bh_buf b;
	va_list ap;

	if (i >= k->p->n_keys || k->key[i] != NULL)
		bh_fatal("store: %s: key slot %u out of range or set twice", k->p->name, i);
	bh_buf_init(&b);
	va_start(ap, fmt);
	bh_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	k->key[i] = bh_memdup0(b.data, b.len);
	bh_buf_deinit(&b);
}

/* scalar - check that slot i is a scalar argument not set yet */
static void
scalar(struct bh_st_pack *k, unsigned i)
{
	if (i >= k->p->n_args || k->p->arg_type[i] == BH_ST_PAIRS || k->val[i] != NULL)
		bh_fatal("store: %s: argument slot %u is no scalar or set twice", k->p->name, i);
}

/* bh_st_put - set scalar argument slot i to a copy of s (NULL: "") */
void
bh_st_put(struct bh_st_pack *k, unsigned i, const char *s)
{
	scalar(k, i);
	k->val[i] = bh_strdup(s != NULL ? s : "");
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
	k->val[i] = bh_memdup0(b.data, b.len);
	bh_buf_deinit(&b);
}

/* bh_st_pairs - pairs slot i */
struct args *
bh_st_pairs(struct bh_st_pack *k, unsigned i)
{
	if (i >= k->p->n_args || k->p->arg_type[i] != BH_ST_PAIRS)
		bh_fatal("store: %s: argument slot %u holds no pairs", k->p->name, i);
	return &k->arg[i];
}

/* bh_st_emit - the keys and arguments in the table's order */
void
bh_st_emit(struct bh_st_pack *k, struct args *keys, struct args *argv)
{
	const struct bh_st_proto *p = k->p;
	unsigned long mask = 0;
	size_t i;

	for (i = 0; i < p->n_keys; i++)
		if (k->key[i] != NULL)
			mask |= 1UL << p->key_group[i];
	for (i = 0; i < p->n_keys; i++)
		if (k->key[i] == NULL && (mask & (1UL << p->key_group[i])) != 0)
			bh_fatal("store: %s: key %s missing from a group sent", p->name,
				 p->key_name[i]);
	if (p->n_groups > 1)
		bh_st_args_addf(argv, "%lu", mask);
	for (i = 0; i < p->n_keys; i++)
		if (k->key[i] != NULL) {
			bh_st_args_take(keys, k->key[i]);
			k->key[i] = NULL;
		}
	for (i = 0; i < p->n_args; i++) {
		struct args *a = &k->arg[i];

		if (p->arg_type[i] != BH_ST_PAIRS) {
			if (k->val[i] == NULL)
				bh_fatal("store: %s: argument %s not set", p->name, p->arg_name[i]);
			bh_st_args_take(argv, k->val[i]);
			k->val[i] = NULL;
			continue;
		}
		if (a->n % 2 != 0)
			bh_fatal("store: %s: %s: a name without a value", p->name, p->arg_name[i]);
		bh_st_args_addf(argv, "%zu", a->n / 2);
		bh_st_args_cat(argv, a);
		bh_st_args_deinit(a);
	}
}

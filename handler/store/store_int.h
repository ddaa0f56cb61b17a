/*
 * store_int.h - what the files of handler/store/ share, and no one else sees.
 *
 * The store is split by concern: conn.c (connection, Sentinel, Cluster redirects, backoff, the
 * command helpers), keys.c (key names, the argument vector, reply helpers), proto.c (the
 * packer of the scripts' arguments), apply.c (applying classified messages), lease.c (the
 * mailbox lease), reads.c (suppressions, events, stats and soft windows as the ops CLI reads
 * them), manual.c (an operator's changes, imports), counts.c (the suppression counters).
 * Only these files include hiredis (STYLE.md: one module talks to Redis); the public interface
 * is ../store.h.
 *
 * The Lua scripts are the *.lua files here, embedded at build time; their calling conventions
 * are the *.args tables, from which cmake/store_proto.cmake writes both the unpacking prologue
 * of each script and the descriptor (struct bh_st_proto) that bh_st_emit packs by.
 */
#ifndef BH_STORE_INT_H
#define BH_STORE_INT_H

#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "store_consts.h"
#include "util.h"

#define BH_ST_BACKOFF_MIN_MS 100
#define BH_ST_BACKOFF_MAX_MS 30000
#define BH_ST_STATS_BUCKET_S 300
#define BH_ST_SCAN_COUNT     500
#define BH_ST_MAX_EXPLAIN    1000
#define BH_ST_STR_(x)	     #x
#define BH_ST_STR(x)	     BH_ST_STR_(x)

_Static_assert(BH_STORE_ADDR_EVENTS == BH_ST_ADDR_EVENTS_LAST + 1,
	       "consts.args ADDR_EVENTS_LAST must be BH_STORE_ADDR_EVENTS - 1");
_Static_assert(BH_STORE_APPLIED_TTL_S == BH_ST_APPLIED_TTL,
	       "consts.args APPLIED_TTL must be BH_STORE_APPLIED_TTL_S");

struct bh_store {
	const struct bh_config *cfg;
	const struct bh_redis_conf *rc;
	char *tag; /* "{prefix}" */
	char *rules_version;
	redisContext *ctx;
	char apply_sha[41];
	char manual_sha[41];
	char lease_sha[41];
	char *lease_key;   /* NULL: no lease (applies go through unfenced) */
	char *lease_token; /* random, with the host name and pid: GET shows the holder */
	char *moved_host;  /* a Cluster MOVED target for the next connection, NULL: none */
	int moved_port;
	char addr[300];	     /* "host:port" (or socket) of the current or last connection */
	bool lease_lost;     /* the apply script refused: the lease holds another token */
	char holder[256];    /* the other holder of the lease, last seen */
	int64_t next_try_ms; /* monotonic: no connection attempt before */
	int64_t backoff_ms;
	char err[512];	  /* the last error, for error_r */
	char **item_errs; /* per-item error texts since the last bh_store_apply_reset */
	size_t n_item_errs;
	/* a begun apply (bh_store_apply_begin) whose replies are not read yet */
	bool *pend_todo;  /* NULL: none */
	bool pend_sent;	  /* its commands went out on the current connection */
	bool pend_reused; /* that connection was kept from an earlier call */
};

/* ---- the scripts (embedded from the *.lua files; NUL-terminated) ---- */

const char *bh_st_apply_lua(size_t *len);
const char *bh_st_manual_lua(size_t *len);
const char *bh_st_lease_lua(size_t *len);
const char *bh_st_counts_lua(size_t *len);

/* ---- an argument vector for redisAppendCommandArgv (keys.c); every string is owned ---- */

struct args {
	char **v;
	size_t *len;
	size_t n, cap;
	char **slabs; /* the strings' memory, freed by bh_st_args_deinit */
	size_t n_slabs, cap_slabs;
	char *room; /* free space left in the last slab */
	size_t room_len;
};
void bh_st_args_addn(struct args *a, const char *p, size_t n);
void bh_st_args_add(struct args *a, const char *s); /* NULL: "" */
BH_PRINTF(2, 3) void bh_st_args_addf(struct args *a, const char *fmt, ...);
void bh_st_args_take(struct args *a, char *s);		 /* appends s itself (owned from now on) */
void bh_st_args_cat(struct args *dst, struct args *src); /* moves: src is left empty */
void bh_st_args_deinit(struct args *a);
/* bh_st_resp_bulk - append p[0..n) as one RESP bulk string */
void bh_st_resp_bulk(struct bh_buf *resp, const char *p, size_t n);
/* bh_st_resp_num - n in decimal; bh_st_resp_vcat - the concatenation of the strings up to a
 * NULL (at most BH_ST_CAT_MAX: more is our bug, it aborts), each as one bulk string */
#define BH_ST_CAT_MAX 8
void bh_st_resp_num(struct bh_buf *resp, long long n);
void bh_st_resp_vcat(struct bh_buf *resp, const char *first, va_list ap);
/* RESP bulk strings and how many: a pairs argument, or what bh_st_emit_resp appends to */
struct bh_st_resp {
	struct bh_buf b;
	size_t n;
};
void bh_st_resp_add(struct bh_st_resp *r, const char *p, size_t n);
/* bh_st_pair - a name and a value (NULL: ""); bh_st_pair_cut - the value cut to max bytes;
 * bh_st_pair_num - the value n in decimal */
void bh_st_pair(struct bh_st_resp *r, const char *name, const char *value);
void bh_st_pair_cut(struct bh_st_resp *r, const char *name, const char *value, size_t max);
void bh_st_pair_num(struct bh_st_resp *r, const char *name, long long n);
/* bh_st_kv - a name and a value (NULL: "") */
void bh_st_kv(struct args *a, const char *k, const char *v);
/* bh_st_fmt_num - n in decimal in buf (BH_ST_NUM_LEN bytes): a pointer to it, inside buf */
#define BH_ST_NUM_LEN 24
char *bh_st_fmt_num(char *buf, long long n);

/* ---- the scripts' calling conventions (proto.c; tables: *.args) ---- */

enum bh_st_type { BH_ST_STR = 0, BH_ST_NUM, BH_ST_PAIRS };

/* One scope (a message, or one decision) of one script, generated from its table. */
struct bh_st_proto {
	const char *name; /* "apply dec", for the fatal messages */
	size_t n_keys, n_args, n_groups;
	const unsigned char *key_group; /* per key: its group */
	const char *const *key_name;
	const unsigned char *arg_type; /* per argument: enum bh_st_type */
	const char *const *arg_name;
};

#define BH_ST_MAX_SLOTS 32

/* The keys and arguments of one scope, by slot, before they are put in the table's order:
 * each as the RESP bulk string it is sent as. */
struct bh_st_pack {
	const struct bh_st_proto *p;
	struct bh_buf mem;			/* the keys' and scalars' bulk strings */
	size_t key[BH_ST_MAX_SLOTS];		/* 1 + its offset in mem, 0: not sent */
	size_t val[BH_ST_MAX_SLOTS];		/* scalar arguments, the same */
	struct bh_st_resp arg[BH_ST_MAX_SLOTS]; /* pairs arguments: name/value pairs */
};
void bh_st_pack_init(struct bh_st_pack *k, const struct bh_st_proto *p);
/* bh_st_pack_deinit - free what the pack holds (kept across bh_st_emit for reuse) */
void bh_st_pack_deinit(struct bh_st_pack *k);
/* bh_st_key / bh_st_keyf / bh_st_keycat - set key slot i (bh_st_key takes key over and frees
 * it, bh_st_keyf formats it, bh_st_keycat concatenates the strings up to a NULL); a group is
 * sent when one of its keys is set */
void bh_st_key(struct bh_st_pack *k, unsigned i, char *key);
BH_PRINTF(3, 4) void bh_st_keyf(struct bh_st_pack *k, unsigned i, const char *fmt, ...);
__attribute__((sentinel)) void bh_st_keycat(struct bh_st_pack *k, unsigned i, const char *first,
					    ...);
/* bh_st_put / bh_st_putf / bh_st_put_num / bh_st_putcat - set scalar argument slot i (a copy
 * of s, NULL: ""; formatted; n in decimal; the strings up to a NULL concatenated) */
void bh_st_put(struct bh_st_pack *k, unsigned i, const char *s);
BH_PRINTF(3, 4) void bh_st_putf(struct bh_st_pack *k, unsigned i, const char *fmt, ...);
void bh_st_put_num(struct bh_st_pack *k, unsigned i, long long n);
__attribute__((sentinel)) void bh_st_putcat(struct bh_st_pack *k, unsigned i, const char *first,
					    ...);
/* bh_st_pairs - pairs slot i, to fill with bh_st_pair */
struct bh_st_resp *bh_st_pairs(struct bh_st_pack *k, unsigned i);
/* bh_st_emit - append the keys to keys and the arguments to argv in the table's order (the
 * group mask first when the scope has groups); aborts when a slot is missing (our bug). k is
 * left empty, its memory kept for the next use (bh_st_pack_deinit frees it). */
void bh_st_emit(struct bh_st_pack *k, struct args *keys, struct args *argv);
/* bh_st_emit_resp - bh_st_emit, the keys and arguments written as RESP bulk strings */
void bh_st_emit_resp(struct bh_st_pack *k, struct bh_st_resp *keys, struct bh_st_resp *argv);

/* ---- applying (apply.c) ---- */

/* The scratch of one apply's packing, reused across its items: once warm, packing a message
 * allocates nothing. */
struct bh_st_apply_pack {
	struct bh_st_pack msg, dec;   /* the two scopes of apply.args */
	struct bh_st_resp keys, argv; /* the item's keys and arguments, in the table's order */
	struct bh_buf text;	      /* a decision's action in words */
	struct bh_buf list;	      /* the list name in key form (one at a time) */
	struct bh_buf resp;	      /* the item's command */
};
void bh_st_apply_pack_init(struct bh_st_apply_pack *ap);
void bh_st_apply_pack_deinit(struct bh_st_apply_pack *ap);
/* bh_st_apply_resp - the EVALSHA of it (s->apply_sha, applied at now) as one RESP command:
 * borrowed from ap until the next call */
const struct bh_buf *bh_st_apply_resp(struct bh_st_apply_pack *ap, struct bh_store *s,
				      const struct bh_store_item *it, int64_t now);

/* ---- errors and the connection (conn.c) ---- */

BH_PRINTF(3, 4) void bh_st_set_err(struct bh_store *s, const char **error_r, const char *fmt, ...);
void bh_st_drop(struct bh_store *s);
void bh_st_transport_err(struct bh_store *s, const char **error_r, const char *what);
void bh_st_reresolve(struct bh_store *s);
bool bh_st_must_reresolve(struct bh_store *s, const redisReply *r);
/* bh_st_command - run one command (connecting when needed): the reply (an error reply too), or
 * NULL after a transport error; READONLY or MOVED retried once on the right server */
redisReply *bh_st_command(struct bh_store *s, const struct args *a, const char **error_r);
redisReply *bh_st_commandv(struct bh_store *s, const char **error_r, const char *first, ...);
int64_t bh_st_pipeline_send(struct bh_store *s, const redisReply *keys, const char *const *argv,
			    int argc, const char **error_r);
redisReply *bh_st_pipeline_reply(struct bh_store *s, const char *what, const char **error_r);
/* bh_st_load_script - SCRIPT LOAD one script into sha (41 bytes); 0 or -1 */
int bh_st_load_script(struct bh_store *s, const char *lua, char *sha, const char **error_r);
/* bh_st_evalsha - EVALSHA sha with the keys and argv (consumed), loading the script again
 * (lua) on NOSCRIPT once: the reply, or NULL */
redisReply *bh_st_evalsha(struct bh_store *s, char *sha, const char *lua, struct args *keys,
			  struct args *argv, const char **error_r);

/* ---- names and replies (keys.c) ---- */

char *bh_st_list_norm(const char *list);
char *bh_st_key_sup(const struct bh_store *s, const char *addr, const char *list);
char *bh_st_key_soft(const struct bh_store *s, const char *addr, const char *list);
int bh_st_normalize(struct bh_store *s, const char *address, char **out_r, const char **error_r);
char *bh_st_reply_str(const redisReply *r);
int64_t bh_st_num(const char *p);
int64_t bh_st_maxlen(const struct bh_store *s);

#endif

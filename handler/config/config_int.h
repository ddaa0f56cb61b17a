/*
 * config_int.h - internals of the configuration loader shared by config*.c (not for others).
 *
 * The YAML text becomes a tree of bh_cnode (ctree.h); the schema walk (config.c) reads the
 * tree against tables of keys.
 */
#ifndef BH_CONFIG_INT_H
#define BH_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "ctree.h"
#include "util.h"

/* The loader's state for one file. */
struct bh_cfgld {
	const char *file; /* name used in diagnostics */
	char *dir;	  /* directory for relative paths, NULL: current */
	struct bh_config_diags *diags;
	struct bh_config *cfg;
	const struct bh_cnode *root;
	const struct bh_cnode *defaults_node, *lists_node;
	const struct bh_cnode *defaults_key, *lists_key;
};

/* A key of a table: its type, where it lands, its range and its documentation. */
enum bh_kt {
	BH_KT_STR = 0, /* char *, bh_strdup'ed */
	BH_KT_STRBUF,  /* char[size] */
	BH_KT_BOOL,
	BH_KT_NUM,     /* integer of `size` bytes in [min, max] */
	BH_KT_DUR,     /* int64_t seconds; min/max in seconds */
	BH_KT_DUR_MS,  /* int64_t milliseconds; min/max in milliseconds */
	BH_KT_SIZE,    /* size_t (or `size` bytes) in [min, max] bytes */
	BH_KT_ENUM,    /* int-sized enum; words[value] */
	BH_KT_SECTION, /* a nested mapping: sub table at base + off */
	BH_KT_FN,      /* parsed and printed by fn / dump */
	BH_KT_SECRET,  /* output only: "***"; in the file it is an error */
};

#define BH_KF_REQUIRED 0x01u
#define BH_KF_PATH     0x02u /* a file name, relative to the config file's directory */
#define BH_KF_NULL     0x04u /* null clears the value */
#define BH_KF_DOCDEF   0x08u /* def is documentation: the default is set elsewhere */
#define BH_KF_LOWER    0x10u /* lower-cased */
#define BH_KF_ASSTR    0x20u /* BH_KT_ENUM stored as a char * word */
#define BH_KF_FOREVER  0x40u /* BH_KT_DUR accepts "forever" as 0 */

struct bh_cfgkey;
typedef void bh_cfgkey_fn(struct bh_cfgld *ld, const struct bh_cfgkey *k,
			  const struct bh_cnode *key, const struct bh_cnode *val, const char *path,
			  void *base);
typedef void bh_cfgpost_fn(struct bh_cfgld *ld, const struct bh_cnode *map, const char *path,
			   void *base, const struct bh_cnode *const *vals);
typedef void bh_cfgdump_fn(struct bh_buf *out, const void *base, int indent);
/* a check returns NULL when s is fine, else what was expected ("a host name") */
typedef const char *bh_cfgcheck_fn(const char *s);

struct bh_cfgkey {
	const char *name;
	enum bh_kt type;
	size_t off, size;
	long long min, max;
	const char *const *words;    /* BH_KT_ENUM, NULL-terminated */
	const struct bh_cfgkey *sub; /* BH_KT_SECTION, ended by a NULL name */
	bh_cfgpost_fn *post;	     /* BH_KT_SECTION: checks across keys */
	bh_cfgkey_fn *fn;	     /* BH_KT_FN */
	bh_cfgdump_fn *dump;	     /* BH_KT_FN */
	bh_cfgcheck_fn *check;	     /* BH_KT_STR, BH_KT_STRBUF */
	unsigned flags;
	const char *type_doc; /* docs/configuration.md: the type column */
	const char *def;      /* default as text, NULL: none */
	const char *doc;      /* docs/configuration.md: the meaning column */
};

#define BH_CFG_MAX_KEYS 32 /* keys in one table */

/* bh_cfg_diag - add "path: message" at node n (NULL: line 1, column 1). */
void bh_cfg_diag(struct bh_cfgld *ld, const struct bh_cnode *n, const char *path, const char *fmt,
		 ...) BH_PRINTF(4, 5);
/* bh_cfg_got - describe a node for "expected X, got Y": "a mapping", "null", "\"text\"". */
const char *bh_cfg_got(const struct bh_cnode *n, char *buf, size_t size);
/* bh_cfg_join - "path.key" (key made printable); the caller's to free. */
char *bh_cfg_join(const char *path, const char *key, size_t keylen);
/* bh_cfg_suggest - the candidate closest to word (edit distance), else one that holds word, or
 * NULL when none is close. */
const char *bh_cfg_suggest(const char *word, const char *const *cands, size_t n);
/* bh_cfg_walk - read map against tab into base: unknown keys (with a suggestion), duplicates,
 * types, ranges, required keys; vals[i] is set to the value node of tab[i] (NULL: absent).
 * extra (may be NULL) is offered keys that are not in tab and returns true when it took one;
 * extra_names are suggested for unknown keys besides tab's names. */
typedef bool bh_cfgextra_fn(struct bh_cfgld *ld, const struct bh_cnode *key,
			    const struct bh_cnode *val, const char *path, void *ctx);
void bh_cfg_walk(struct bh_cfgld *ld, const struct bh_cnode *map, const struct bh_cnode *where,
		 const char *path, const struct bh_cfgkey *tab, void *base,
		 const struct bh_cnode **vals, bh_cfgextra_fn *extra, void *extra_ctx,
		 const char *const *extra_names, size_t n_extra);
/* bh_cfg_word - val must be one of words (NULL-terminated); *out is its index. Returns false
 * after a diagnostic ("expected one of a, b or c, got ..."; with a suggestion). */
bool bh_cfg_word(struct bh_cfgld *ld, const char *const *words, const struct bh_cnode *val,
		 const char *path, int *out);
/* bh_cfg_dump_table - print tab's keys from base as YAML at indent. */
void bh_cfg_dump_table(struct bh_buf *out, const struct bh_cfgkey *tab, const void *base,
		       int indent);
/* bh_cfg_strdup_path - s, or dir/s when s is relative and the file had a directory. */
char *bh_cfg_path(const struct bh_cfgld *ld, const char *s);

/* config_policy.c */
void bh_cfg_policy_defaults(struct bh_list_policy *p);
void bh_cfg_policies_load(struct bh_cfgld *ld);
void bh_cfg_policy_free(struct bh_list_policy *p);
void bh_cfg_policies_dump(struct bh_buf *out, const struct bh_config *cfg);
void bh_cfg_policy_reference(struct bh_buf *out);

#endif

/*
 * ctree.h - YAML text to a bounded tree of nodes with positions, and the FILE:LINE:COLUMN
 * diagnostics about it.
 *
 * The reader of bouncer.yaml (config.c) and of the embedded rules file (rules.c) both walk this
 * tree; neither depends on the other. The tree is built without recursion and bounded in depth
 * and node count (ctree.c). Pure apart from allocation: no I/O, no logging.
 */
#ifndef BH_CTREE_H
#define BH_CTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "util.h"

/* One problem found in a file: FILE:LINE:COLUMN: message. */
struct bh_config_diag {
	char *file;
	unsigned line;
	unsigned column;
	char *message; /* "lists.news.soft.threshold: expected a positive integer, got \"three\"" */
};

struct bh_config_diags {
	struct bh_config_diag *v;
	size_t n;
};

/* bh_config_diags_deinit - free every diagnostic and empty d (d itself is the caller's). */
void bh_config_diags_deinit(struct bh_config_diags *d);
/* bh_config_diags_print - every problem as "FILE:LINE:COLUMN: message" (or "FILE: message" for
 * the file as a whole, line 0), one per line, to fp. */
void bh_config_diags_print(const struct bh_config_diags *d, FILE *fp);

enum bh_cnode_type { BH_CN_SCALAR = 0, BH_CN_MAP, BH_CN_SEQ };

struct bh_cnode {
	enum bh_cnode_type type;
	unsigned line, col; /* 1-based */
	char *str;	    /* scalar text, NUL-terminated (may contain NULs: len says) */
	size_t len;
	bool plain;		/* a plain (unquoted) scalar: "~", "null" and "" are null */
	bool multiline;		/* the scalar spans several lines (no column arithmetic) */
	struct bh_cnode **kids; /* map: key, value, key, value...; sequence: items */
	size_t n, cap;
};

/* Every node of one file: freed together, without walking the tree. */
struct bh_ctree {
	struct bh_cnode **all;
	size_t n, cap;
	struct bh_cnode *root; /* NULL: empty document */
};

/* bh_ctree_parse - parse data[0..len) into tree. Returns 0, or -1 after adding the YAML syntax
 * error (or the limit hit) to diags under file; the tree must be deinit'ed in both cases. */
int bh_ctree_parse(struct bh_ctree *tree, const char *file, const char *data, size_t len,
		   struct bh_config_diags *diags);
void bh_ctree_deinit(struct bh_ctree *tree);

/* bh_cnode_is_null - a plain empty, "~" or "null" scalar. */
bool bh_cnode_is_null(const struct bh_cnode *n);

/* bh_config_diag_add - append "message" at file:line:col. */
void bh_config_diag_add(struct bh_config_diags *d, const char *file, unsigned line, unsigned col,
			const char *fmt, ...) BH_PRINTF(5, 6);

#endif

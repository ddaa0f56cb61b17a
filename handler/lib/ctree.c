/*
 * ctree.c - YAML text (bouncer.yaml, rules/builtin.yaml) to a bounded tree of nodes with
 * positions (libyaml events), and the diagnostics about it.
 *
 * The file is written by hand and trusted no more than any input: the tree is built from
 * libyaml's event stream with an explicit stack (no recursion), at most BH_MAX_CONFIG_DEPTH
 * levels deep and BH_MAX_CONFIG_NODES nodes. Aliases are refused (they would let a short file
 * expand into a huge one), and so is more than one document. Tags are ignored: every scalar is
 * text that the reader (config.c, rules.c) converts.
 */
#include "ctree.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "bh_limits.h"

/* bh_config_diag_add - append one problem */
void
bh_config_diag_add(struct bh_config_diags *d, const char *file, unsigned line, unsigned col,
		   const char *fmt, ...)
{
	struct bh_config_diag *g;
	va_list ap;
	struct bh_buf b;

	if (d->n >= BH_MAX_CONFIG_DIAGS)
		return;
	d->v = bh_reallocarray(d->v, d->n + 1, sizeof(*d->v));
	g = &d->v[d->n++];
	g->file = bh_strdup(file);
	g->line = line;
	g->column = col;
	bh_buf_init(&b);
	if (d->n == BH_MAX_CONFIG_DIAGS) {
		bh_buf_printf(&b, "too many problems; stopping here");
	} else {
		va_start(ap, fmt);
		bh_buf_vprintf(&b, fmt, ap);
		va_end(ap);
	}
	g->message = bh_buf_steal(&b);
}

/* bh_config_diags_deinit - free every diagnostic and empty d (d itself is the caller's) */
void
bh_config_diags_deinit(struct bh_config_diags *d)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		free(d->v[i].file);
		free(d->v[i].message);
	}
	free(d->v);
	d->v = NULL;
	d->n = 0;
}

/* bh_config_diags_print - the canonical form of problems */
void
bh_config_diags_print(const struct bh_config_diags *d, FILE *fp)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		if (d->v[i].line == 0)
			fprintf(fp, "%s: %s\n", d->v[i].file, d->v[i].message);
		else
			fprintf(fp, "%s:%u:%u: %s\n", d->v[i].file, d->v[i].line, d->v[i].column,
				d->v[i].message);
	}
}

/* bh_cnode_is_null - a plain null scalar */
bool
bh_cnode_is_null(const struct bh_cnode *n)
{
	if (n == NULL)
		return true;
	if (n->type != BH_CN_SCALAR || !n->plain)
		return false;
	return n->len == 0 || strcmp(n->str, "~") == 0 || strcmp(n->str, "null") == 0 ||
	       strcmp(n->str, "Null") == 0 || strcmp(n->str, "NULL") == 0;
}

/* node_new - a node at mark, owned by the tree */
static struct bh_cnode *
node_new(struct bh_ctree *t, enum bh_cnode_type type, const yaml_mark_t *mark)
{
	struct bh_cnode *n = bh_calloc(1, sizeof(*n));

	n->type = type;
	n->line = (unsigned)mark->line + 1;
	n->col = (unsigned)mark->column + 1;
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->all = bh_reallocarray(t->all, t->cap, sizeof(*t->all));
	}
	t->all[t->n++] = n;
	return n;
}

/* node_add - append kid to a container */
static void
node_add(struct bh_cnode *parent, struct bh_cnode *kid)
{
	if (parent->n == parent->cap) {
		parent->cap = parent->cap ? parent->cap * 2 : 8;
		parent->kids = bh_reallocarray(parent->kids, parent->cap, sizeof(*parent->kids));
	}
	parent->kids[parent->n++] = kid;
}

/* bh_ctree_parse - build the node tree from libyaml events */
int
bh_ctree_parse(struct bh_ctree *t, const char *file, const char *data, size_t len,
	       struct bh_config_diags *diags)
{
	struct bh_cnode *stack[BH_MAX_CONFIG_DEPTH];
	unsigned depth = 0, docs = 0;
	yaml_parser_t p;
	yaml_event_t ev;
	int ret = -1;
	bool done = false;

	memset(t, 0, sizeof(*t));
	if (len > BH_MAX_CONFIG_SIZE) {
		bh_config_diag_add(diags, file, 1, 1, "the file is larger than %u bytes",
				   (unsigned)BH_MAX_CONFIG_SIZE);
		return -1;
	}
	if (!yaml_parser_initialize(&p))
		bh_fatal("yaml_parser_initialize: out of memory");
	yaml_parser_set_input_string(&p, (const unsigned char *)data, len);
	while (!done) {
		struct bh_cnode *n = NULL;

		if (!yaml_parser_parse(&p, &ev)) {
			const char *problem = p.problem != NULL ? p.problem : "unknown error";

			if (p.context != NULL)
				bh_config_diag_add(diags, file, (unsigned)p.problem_mark.line + 1,
						   (unsigned)p.problem_mark.column + 1,
						   "YAML syntax error: %s (%s at line %u)", problem,
						   p.context, (unsigned)p.context_mark.line + 1);
			else
				bh_config_diag_add(diags, file, (unsigned)p.problem_mark.line + 1,
						   (unsigned)p.problem_mark.column + 1,
						   "YAML syntax error: %s", problem);
			goto out;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT: done = true; break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1) {
				bh_config_diag_add(diags, file, (unsigned)ev.start_mark.line + 1,
						   (unsigned)ev.start_mark.column + 1,
						   "only one YAML document is allowed");
				yaml_event_delete(&ev);
				goto out;
			}
			break;
		case YAML_ALIAS_EVENT:
			bh_config_diag_add(diags, file, (unsigned)ev.start_mark.line + 1,
					   (unsigned)ev.start_mark.column + 1,
					   "YAML aliases (*name) are not supported");
			yaml_event_delete(&ev);
			goto out;
		case YAML_SCALAR_EVENT:
			n = node_new(t, BH_CN_SCALAR, &ev.start_mark);
			n->str = bh_memdup0(ev.data.scalar.value, ev.data.scalar.length);
			n->len = ev.data.scalar.length;
			n->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
				   ev.data.scalar.tag == NULL;
			n->multiline = ev.end_mark.line != ev.start_mark.line;
			break;
		case YAML_SEQUENCE_START_EVENT: n = node_new(t, BH_CN_SEQ, &ev.start_mark); break;
		case YAML_MAPPING_START_EVENT: n = node_new(t, BH_CN_MAP, &ev.start_mark); break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			if (depth > 0)
				depth--;
			break;
		default: break;
		}
		if (n != NULL) {
			if (t->n > BH_MAX_CONFIG_NODES) {
				bh_config_diag_add(diags, file, n->line, n->col,
						   "more than %u YAML nodes",
						   (unsigned)BH_MAX_CONFIG_NODES);
				yaml_event_delete(&ev);
				goto out;
			}
			if (depth > 0)
				node_add(stack[depth - 1], n);
			else if (t->root == NULL)
				t->root = n;
			if (n->type != BH_CN_SCALAR) {
				if (depth == BH_MAX_CONFIG_DEPTH) {
					bh_config_diag_add(diags, file, n->line, n->col,
							   "nested deeper than %u levels",
							   (unsigned)BH_MAX_CONFIG_DEPTH);
					yaml_event_delete(&ev);
					goto out;
				}
				stack[depth++] = n;
			}
		}
		yaml_event_delete(&ev);
	}
	ret = 0;
out:
	yaml_parser_delete(&p);
	return ret;
}

/* bh_ctree_deinit - free every node of the tree */
void
bh_ctree_deinit(struct bh_ctree *t)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		free(t->all[i]->str);
		free(t->all[i]->kids);
		free(t->all[i]);
	}
	free(t->all);
	memset(t, 0, sizeof(*t));
}

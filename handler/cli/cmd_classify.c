/*
 * cmd_classify.c - `bouncer classify [--mbox] [-c FILE] PATH...`: classify messages offline and
 * print one JSON object per message (JSON Lines, the contract of bh_verdict_json), flushed per
 * message.
 *
 * PATH is a message file, "-" (standard input), a directory of message files, or a Maildir
 * (its cur/ and new/). An mbox file (--mbox, or a file that starts with a "From " line and holds
 * more than one message) gives one object per message with source "PATH#N". An unreadable path
 * is reported on standard error and makes the exit status 1 after everything else is done.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "analyze.h"
#include "classify.h"
#include "cli.h"
#include "config.h"
#include "bh_limits.h"
#include "rules.h"
#include "util.h"

struct run {
	struct bh_analyze_settings set;
	struct bh_classify_settings limits;
	struct bh_classify_opts opts;
	bool mbox;
	bool failed;
	struct bh_buf out;
};

/* emit - classify one message and print its object */
static void
emit(struct run *r, const char *source, const char *data, size_t len)
{
	struct bh_verdict v;

	bh_verdict_init(&v);
	(void)bh_analyze(&r->set, &r->opts, data, len, bh_now(), &v);
	bh_buf_reset(&r->out);
	bh_verdict_json(&r->out, &v, source);
	bh_buf_putc(&r->out, '\n');
	fwrite(r->out.data, 1, r->out.len, stdout);
	fflush(stdout);
	bh_verdict_deinit(&v);
}

/* is_sep - an mbox "From " separator line at offset i (start of file or after a line end) */
static bool
is_sep(const char *d, size_t n, size_t i)
{
	return n - i >= 5 && memcmp(d + i, "From ", 5) == 0 && (i == 0 || d[i - 1] == '\n');
}

/* looks_mbox - starts with "From " and has a second separator after a blank line */
static bool
looks_mbox(const char *d, size_t n)
{
	const char *p;
	size_t i;

	if (!is_sep(d, n, 0))
		return false;
	for (i = 1; i < n && (p = memchr(d + i, '\n', n - i)) != NULL;) {
		i = (size_t)(p - d) + 1;
		if (i >= 2 && d[i - 2] == '\n' && is_sep(d, n, i)) {
			/* the next line must look like a header field */
			const char *nl = memchr(d + i, '\n', n - i), *colon;

			if (nl == NULL)
				return false;
			nl++;
			colon = memchr(nl, ':', (size_t)(d + n - nl));
			if (colon != NULL && colon - nl < 80 &&
			    memchr(nl, ' ', (size_t)(colon - nl)) == NULL)
				return true;
		}
	}
	return false;
}

/* do_mbox - one object per message of an mbox. XXX: ">From " lines are not unescaped (mboxrd):
 * the classifier does not care about body lines that start with From */
static void
do_mbox(struct run *r, const char *path, const char *d, size_t n)
{
	size_t start = 0, i = 0, k = 0;
	const char *p;

	for (;;) {
		size_t next = n;

		i = start + 1;
		while (i < n && (p = memchr(d + i, '\n', n - i)) != NULL) {
			i = (size_t)(p - d) + 1;
			if (is_sep(d, n, i) && i >= 2 && d[i - 2] == '\n') {
				next = i;
				break;
			}
		}
		if (next > start) {
			char *src = bh_asprintf("%s#%zu", path, ++k);

			emit(r, src, d + start, next - start);
			free(src);
		}
		if (next >= n)
			break;
		start = next;
	}
}

/* do_file - one file: a message or an mbox */
static void
do_file(struct run *r, const char *path)
{
	const char *err;
	char *data;
	size_t len;

	if (bh_read_file(path, BH_MAX_MESSAGE_SIZE, &data, &len, &err) == -1) {
		fprintf(stderr, "bouncer: classify: %s: %s\n", path, err);
		r->failed = true;
		return;
	}
	if (r->mbox || looks_mbox(data, len))
		do_mbox(r, path, data, len);
	else
		emit(r, path, data, len);
	free(data);
}

/* cmp_str - qsort comparison of two names */
static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void do_path(struct run *r, const char *path, int depth);

/* do_dir - the regular files of a directory in name order; a Maildir's cur/ and new/ */
static void
do_dir(struct run *r, const char *path, int depth)
{
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, i;
	DIR *d;

	if ((d = opendir(path)) == NULL) {
		fprintf(stderr, "bouncer: classify: %s: %s\n", path, strerror(errno));
		r->failed = true;
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		names = bh_reallocarray(names, n + 1, sizeof(*names));
		names[n++] = bh_strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_str);
	for (i = 0; i < n; i++) {
		char *sub = bh_asprintf("%s/%s", path, names[i]);
		struct stat st;

		if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode)) {
			/* descend into a Maildir's cur and new, nothing else */
			if (depth < 2 &&
			    (strcmp(names[i], "cur") == 0 || strcmp(names[i], "new") == 0))
				do_path(r, sub, depth + 1);
		} else
			do_path(r, sub, depth + 1);
		free(sub);
		free(names[i]);
	}
	free(names);
}

/* do_path - a file, a directory or standard input */
static void
do_path(struct run *r, const char *path, int depth)
{
	struct stat st;

	if (strcmp(path, "-") == 0) {
		do_file(r, path);
		return;
	}
	if (stat(path, &st) == -1) {
		fprintf(stderr, "bouncer: classify: %s: %s\n", path, strerror(errno));
		r->failed = true;
		return;
	}
	if (S_ISDIR(st.st_mode))
		do_dir(r, path, depth);
	else
		do_file(r, path);
}

/* usage - the synopsis on standard error */
static void
usage(void)
{
	fprintf(stderr, "usage: bouncer classify [--mbox] [-c FILE] [--json] PATH...\n");
}

/* bh_cmd_classify - the subcommand */
int
bh_cmd_classify(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"mbox", no_argument, NULL, 'm'},
	    {"config", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {"json", no_argument, NULL, 'j'}, /* the output is JSON Lines either way */
	    {NULL, 0, NULL, 0},
	};
	struct bh_config *cfg = NULL;
	struct bh_rules *rules = NULL;
	struct run r;
	const char *cfile = NULL, *err = NULL;
	int ch, i, ret = BH_EX_OK;

	memset(&r, 0, sizeof(r));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "mc:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'm': r.mbox = true; break;
		case 'c': cfile = optarg; break;
		case 'j': break;
		case 'h':
			printf("usage: bouncer classify [--mbox] [-c FILE] [--json] PATH...\n"
			       "  prints one JSON object per message (JSON Lines); --json changes "
			       "nothing\n");
			return BH_EX_OK;
		default: usage(); return BH_EX_USAGE;
		}
	}
	if (optind >= argc) {
		usage();
		return BH_EX_USAGE;
	}
	if (cfile != NULL) {
		struct bh_config_diags diags;
		size_t k;

		memset(&diags, 0, sizeof(diags));
		if ((cfg = bh_config_open(cfile, &diags)) == NULL) {
			for (k = 0; k < diags.n; k++)
				fprintf(stderr, "%s:%u:%u: %s\n", diags.v[k].file, diags.v[k].line,
					diags.v[k].column, diags.v[k].message);
			if (diags.n == 0)
				fprintf(stderr, "bouncer: classify: %s: cannot load\n", cfile);
			bh_config_diags_deinit(&diags);
			return BH_EX_CONFIG;
		}
		bh_config_diags_deinit(&diags);
	} else
		cfg = bh_config_defaults();
	rules = bh_rules_new(cfg->rules, cfg->n_rules, cfg->rules_replace_builtin,
			     cfg->limits.regex_match_limit, &err);
	if (rules == NULL) {
		fprintf(stderr, "bouncer: classify: rules: %s\n", err != NULL ? err : "error");
		bh_config_free(&cfg);
		return BH_EX_CONFIG;
	}
	r.opts.rules = rules;
	r.limits = bh_config_classify_settings(cfg);
	r.opts.settings = &r.limits;
	r.set = bh_config_analyze_settings(cfg);
	bh_buf_init(&r.out);
	for (i = optind; i < argc; i++)
		do_path(&r, argv[i], 0);
	if (r.failed)
		ret = BH_EX_FAIL;
	bh_buf_deinit(&r.out);
	bh_rules_free(&rules);
	bh_config_free(&cfg);
	return ret;
}

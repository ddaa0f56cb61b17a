/*
 * config.c - bouncer.yaml: the table of keys, the schema walk, secrets, load and free.
 *
 * Every key is a row of a table (name, type, where it lands, range, default, documentation),
 * Redis config.c style: the walk, the defaults, the printed effective configuration and the
 * table of docs/configuration.md all come from the same rows. The file is hand-edited, so the
 * walk never stops at the first problem: every unknown key (with a suggestion), duplicate, wrong
 * type, out-of-range value, missing secret and unsafe setting is reported as FILE:LINE:COLUMN.
 *
 * Trusts nothing in the file. Reads only the secret and CA files it names; no globals, no
 * environment changes: loading again (SIGHUP) has no side effects.
 */
#include "config_int.h"

#include <errno.h>
#include <fcntl.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bh_limits.h"
#include "rules.h"

#define BH_SECRET_MAX 4096u /* bytes of a password file */

/* ---------------------------------------------------------------- diagnostics */

/* bh_cfg_diag - one problem at a node */
void
bh_cfg_diag(struct bh_cfgld *ld, const struct bh_cnode *n, const char *path, const char *fmt, ...)
{
	struct bh_buf b;
	va_list ap;

	bh_buf_init(&b);
	if (path != NULL && path[0] != '\0')
		bh_buf_printf(&b, "%s: ", path);
	va_start(ap, fmt);
	bh_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	bh_config_diag_add(ld->diags, ld->file, n != NULL ? n->line : 1, n != NULL ? n->col : 1,
			   "%s", b.data);
	bh_buf_deinit(&b);
}

/* bh_cfg_got - what a node is, for "expected X, got Y" */
const char *
bh_cfg_got(const struct bh_cnode *n, char *buf, size_t size)
{
	char *p;

	if (n == NULL || bh_cnode_is_null(n))
		return "null";
	if (n->type == BH_CN_MAP)
		return "a mapping";
	if (n->type == BH_CN_SEQ)
		return "a sequence";
	p = bh_printable(n->str, n->len, 64);
	snprintf(buf, size, "\"%s\"", p);
	free(p);
	return buf;
}

/* bh_cfg_join - "path.key" */
char *
bh_cfg_join(const char *path, const char *key, size_t keylen)
{
	char *k = bh_printable(key, keylen, 64), *r;

	r = bh_asprintf("%s%s%s", path, path[0] != '\0' ? "." : "", k);
	free(k);
	return r;
}

/* expected - the common "expected X, got Y" */
static void
expected(struct bh_cfgld *ld, const struct bh_cnode *n, const char *path, const char *what)
{
	char buf[96];

	bh_cfg_diag(ld, n, path, "expected %s, got %s", what, bh_cfg_got(n, buf, sizeof(buf)));
}

/* scalar - the text of a scalar node, or NULL after a diagnostic */
static const char *
scalar(struct bh_cfgld *ld, const struct bh_cnode *n, const char *path, const char *what)
{
	if (n == NULL || n->type != BH_CN_SCALAR || bh_cnode_is_null(n) ||
	    strlen(n->str) != n->len) {
		expected(ld, n, path, what);
		return NULL;
	}
	return n->str;
}

/* bh_cfg_path - resolve a file name against the config file's directory */
char *
bh_cfg_path(const struct bh_cfgld *ld, const char *s)
{
	if (s[0] == '/' || ld->dir == NULL)
		return bh_strdup(s);
	return bh_asprintf("%s/%s", ld->dir, s);
}

/* ---------------------------------------------------------------- value checks */

/* has_ctl - does s hold a control byte (below 0x20, or DEL)? */
static bool
has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* check_host - a DNS name or an IP literal */
static const char *
check_host(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > 253)
		return "a host name";
	for (i = 0; i < n; i++)
		if (!(s[i] == '.' || s[i] == '-' || s[i] == ':' || s[i] == '_' ||
		      (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z')))
			return "a host name";
	return NULL;
}

/* check_domain - a DNS domain name (letters, digits, hyphens, dots) */
static const char *
check_domain(const char *s)
{
	size_t n = strlen(s), i, label = 0;

	if (n == 0 || n > 253 || s[0] == '.' || s[n - 1] == '.')
		return "a domain name";
	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (label == 0)
				return "a domain name";
			label = 0;
			continue;
		}
		if (!(s[i] == '-' || (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z')) ||
		    ++label > 63)
			return "a domain name";
	}
	return NULL;
}

/* check_word - letters, digits, ".", "_" and "-" (ids, prefixes, folders' safe subset) */
static const char *
check_word(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > 64)
		return "a name of 1 to 64 letters, digits, \".\", \"_\" or \"-\"";
	for (i = 0; i < n; i++)
		if (!(s[i] == '.' || s[i] == '-' || s[i] == '_' || (s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
			return "a name of 1 to 64 letters, digits, \".\", \"_\" or \"-\"";
	return NULL;
}

/* check_env - an environment variable name */
static const char *
check_env(const char *s)
{
	size_t i;

	if (!((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return "an environment variable name";
	for (i = 1; s[i] != '\0'; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_') ||
		    i >= 128)
			return "an environment variable name";
	return NULL;
}

/* check_listen - "host:port" or "[v6]:port" */
static const char *
check_listen(const char *s)
{
	const char *colon = strrchr(s, ':');
	long long port;
	const char *err;
	char host[256];
	size_t hl;

	if (colon == NULL || colon == s || (size_t)(colon - s) >= sizeof(host))
		return "HOST:PORT";
	hl = (size_t)(colon - s);
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (host[0] == '[' && host[hl - 1] == ']' && hl > 2) {
		host[hl - 1] = '\0';
		memmove(host, host + 1, hl - 1);
	}
	if (check_host(host) != NULL || bh_strtonum(colon + 1, 1, 65535, &port, &err) == -1)
		return "HOST:PORT";
	return NULL;
}

/* check_glob - characters of allowed, `*` and `?` only, 1 to max long */
static bool
check_glob(const char *s, const char *allowed, size_t max)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > max)
		return false;
	for (i = 0; i < n; i++)
		if (s[i] != '*' && s[i] != '?' && strchr(allowed, s[i]) == NULL)
			return false;
	return true;
}

/* check_status_pat - a status glob the rules engine matches: "5.1.1", "5.7.*", "?.2.2" */
static const char *
check_status_pat(const char *s)
{
	if (!check_glob(s, "0123456789.", BH_MAX_STATUS - 1) || strchr("245*?", s[0]) == NULL)
		return "a status glob like 5.1.1, 5.7.* or ?.2.2";
	return NULL;
}

/* check_reply_pat - a reply code glob: "550", "55?", "5*" */
static const char *
check_reply_pat(const char *s)
{
	if (!check_glob(s, "0123456789", 3) || strchr("245*?", s[0]) == NULL)
		return "a reply code glob like 550, 55? or 5*";
	return NULL;
}

/* is_loopback - a host name that can only be this machine */
static bool
is_loopback(const char *h)
{
	return h != NULL && (strcasecmp(h, "localhost") == 0 || strncmp(h, "127.", 4) == 0 ||
			     strcmp(h, "::1") == 0 || strcmp(h, "[::1]") == 0);
}

/* ---------------------------------------------------------------- secrets */

/* read_secret - the content of a secret file, trailing CR/LF removed; wiped buffers */
static int
read_secret(const char *path, size_t max, unsigned char **data_r, size_t *len_r,
	    const char **error_r)
{
	unsigned char *buf = bh_malloc(max + 1);
	struct stat st;
	size_t len = 0;
	ssize_t r;
	int fd, ret = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) == -1) {
		*error_r = strerror(errno);
		goto out;
	}
	if (fstat(fd, &st) == -1) {
		*error_r = strerror(errno);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) { /* a FIFO would block a reload forever */
		*error_r = "not a regular file";
		goto out;
	}
	for (;;) {
		r = read(fd, buf + len, max + 1 - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			*error_r = strerror(errno);
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len > max) {
			*error_r = "file too large";
			goto out;
		}
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	*data_r = bh_malloc(len + 1);
	memcpy(*data_r, buf, len);
	(*data_r)[len] = '\0';
	*len_r = len;
	ret = 0;
out:
	if (fd != -1)
		close(fd);
	bh_secure_zero(buf, max + 1);
	free(buf);
	return ret;
}

/* resolve_secret - read the secret named by file or env (already resolved paths); reports
 * problems at the node that named it. Returns 0 with *data_r (the caller's), or -1. */
static int
resolve_secret(struct bh_cfgld *ld, const struct bh_cnode *node, const char *path, const char *file,
	       const char *env, size_t max, unsigned char **data_r, size_t *len_r)
{
	const char *err;

	if (file != NULL) {
		if (read_secret(file, max, data_r, len_r, &err) == -1) {
			bh_cfg_diag(ld, node, path, "cannot read \"%s\": %s", file, err);
			return -1;
		}
		if (*len_r == 0) {
			bh_cfg_diag(ld, node, path, "\"%s\" is empty", file);
			free(*data_r);
			return -1;
		}
		return 0;
	}
	{
		const char *v = getenv(env);

		if (v == NULL) {
			bh_cfg_diag(ld, node, path, "environment variable %s is not set", env);
			return -1;
		}
		*len_r = strlen(v);
		if (*len_r == 0) {
			bh_cfg_diag(ld, node, path, "environment variable %s is empty", env);
			return -1;
		}
		if (*len_r > max) {
			bh_cfg_diag(ld, node, path,
				    "environment variable %s is longer than %zu bytes", env, max);
			return -1;
		}
		*data_r = (unsigned char *)bh_strdup(v);
	}
	return 0;
}

/* password_post - STEM_file xor STEM_env, resolved into *password (stem "password" or
 * "sentinel_password": the keys' names in diagnostics) */
static void
password_post(struct bh_cfgld *ld, const struct bh_cnode *map, const char *path, const char *stem,
	      const struct bh_cnode *vfile, const struct bh_cnode *venv, const char *file,
	      const char *env, char **password, bool required)
{
	char kfile[48], kenv[48];
	unsigned char *data;
	size_t len;
	char *sub;

	snprintf(kfile, sizeof(kfile), "%s_file", stem);
	snprintf(kenv, sizeof(kenv), "%s_env", stem);
	if (file != NULL && env != NULL) {
		sub = bh_cfg_join(path, kenv, strlen(kenv));
		bh_cfg_diag(ld, venv, sub, "set only one of %s and %s", kfile, kenv);
		free(sub);
		return;
	}
	if (file == NULL && env == NULL) {
		if (required)
			bh_cfg_diag(ld, map, path, "a password is required: set %s or %s", kfile,
				    kenv);
		return;
	}
	sub = bh_cfg_join(path, file != NULL ? kfile : kenv, strlen(file != NULL ? kfile : kenv));
	if (resolve_secret(ld, file != NULL ? vfile : venv, sub, file, env, BH_SECRET_MAX, &data,
			   &len) == 0) {
		if (strlen((char *)data) != len) {
			bh_cfg_diag(ld, file != NULL ? vfile : venv, sub,
				    "the password contains a NUL byte");
			bh_secure_zero(data, len);
			free(data);
		} else {
			*password = (char *)data;
		}
	}
	free(sub);
}

/* ---------------------------------------------------------------- the walk */

/* tab_len - the number of keys in a table ended by a NULL name */
static size_t
tab_len(const struct bh_cfgkey *tab)
{
	size_t n = 0;

	while (tab[n].name != NULL)
		n++;
	return n;
}

/* desc_int - what an integer key expects */
static const char *
desc_int(const struct bh_cfgkey *k, char *buf, size_t size)
{
	if (k->min == 1 && k->max >= 1000000)
		return "a positive integer";
	if (k->min == 0 && k->max >= 1000000)
		return "a non-negative integer";
	snprintf(buf, size, "an integer from %lld to %lld", k->min, k->max);
	return buf;
}

/* store_num - write v into a member of size bytes */
static void
store_num(void *p, size_t size, long long v)
{
	switch (size) {
	case 1: {
		bool b = v != 0;
		memcpy(p, &b, 1);
		break;
	}
	case 4: {
		int32_t x = (int32_t)v;
		memcpy(p, &x, 4);
		break;
	}
	case 8: {
		int64_t x = (int64_t)v;
		memcpy(p, &x, 8);
		break;
	}
	default: bh_fatal("config: bad member size %zu", size);
	}
}

/* load_num - read a member of size bytes (every configured number is non-negative) */
static long long
load_num(const void *p, size_t size)
{
	switch (size) {
	case 1: {
		bool b;
		memcpy(&b, p, 1);
		return b;
	}
	case 4: {
		uint32_t x;
		memcpy(&x, p, 4);
		return (long long)x;
	}
	case 8: {
		int64_t x;
		memcpy(&x, p, 8);
		return (long long)x;
	}
	default: bh_fatal("config: bad member size %zu", size);
	}
}

/* words_list - "a, b or c" */
static void
words_list(struct bh_buf *b, const char *const *w)
{
	size_t i, n = 0;

	while (w[n] != NULL)
		n++;
	for (i = 0; i < n; i++)
		bh_buf_printf(b, "%s%s", i == 0 ? "" : (i + 1 == n ? " or " : ", "), w[i]);
}

/* set_enum - a word of k->words */
static void
set_enum(struct bh_cfgld *ld, const struct bh_cfgkey *k, const struct bh_cnode *val,
	 const char *path, void *dst)
{
	struct bh_buf want;
	const char *s, *sug;
	size_t i, n = 0;
	char buf[96];

	for (i = 0; k->words[i] != NULL; i++) {
		n++;
		if (val != NULL && val->type == BH_CN_SCALAR && strlen(val->str) == val->len &&
		    strcmp(val->str, k->words[i]) == 0) {
			if (k->flags & BH_KF_ASSTR) {
				free(*(char **)dst);
				*(char **)dst = bh_strdup(k->words[i]);
			} else {
				store_num(dst, k->size, (long long)i);
			}
			return;
		}
	}
	bh_buf_init(&want);
	if (n > 2)
		bh_buf_puts(&want, "one of ");
	words_list(&want, k->words);
	s = val != NULL && val->type == BH_CN_SCALAR ? val->str : NULL;
	sug = s != NULL ? bh_cfg_suggest(s, k->words, n) : NULL;
	if (sug != NULL)
		bh_cfg_diag(ld, val, path, "expected %s, got %s; did you mean \"%s\"?", want.data,
			    bh_cfg_got(val, buf, sizeof(buf)), sug);
	else
		expected(ld, val, path, want.data);
	bh_buf_deinit(&want);
}

/* bh_cfg_word - one of words, reported like an enum key */
bool
bh_cfg_word(struct bh_cfgld *ld, const char *const *words, const struct bh_cnode *val,
	    const char *path, int *out)
{
	struct bh_cfgkey k;
	size_t n0 = ld->diags->n;
	int w = 0;

	memset(&k, 0, sizeof(k));
	k.type = BH_KT_ENUM;
	k.size = sizeof(int);
	k.words = words;
	set_enum(ld, &k, val, path, &w);
	if (ld->diags->n != n0)
		return false;
	*out = w;
	return true;
}

/* set_value - convert one value node by its key's type into base */
static void
set_value(struct bh_cfgld *ld, const struct bh_cfgkey *k, const struct bh_cnode *key,
	  const struct bh_cnode *val, const char *path, void *base)
{
	void *dst = (char *)base + k->off;
	const char *s, *err, *why;
	char buf[96], b1[32], b2[32];

	switch (k->type) {
	case BH_KT_STR:
	case BH_KT_STRBUF:
		if ((k->flags & BH_KF_NULL) && bh_cnode_is_null(val)) {
			if (k->type == BH_KT_STR)
				bh_free_str((char **)dst);
			else
				memset(dst, 0, k->size);
			return;
		}
		if ((s = scalar(ld, val, path, "a string")) == NULL)
			return;
		why = has_ctl(s) || s[0] == '\0' || strlen(s) > 1024 ? "a non-empty string" : NULL;
		if (why == NULL && k->check != NULL)
			why = k->check(s);
		if (why == NULL && k->type == BH_KT_STRBUF && strlen(s) >= k->size) {
			snprintf(buf, sizeof(buf), "at most %zu characters", k->size - 1);
			why = buf;
		}
		if (why != NULL) {
			expected(ld, val, path, why);
			return;
		}
		if (k->type == BH_KT_STRBUF) {
			memset(dst, 0, k->size);
			memcpy(dst, s, strlen(s));
			if (k->flags & BH_KF_LOWER)
				bh_lower_ascii(dst);
			return;
		}
		free(*(char **)dst);
		*(char **)dst = (k->flags & BH_KF_PATH) ? bh_cfg_path(ld, s) : bh_strdup(s);
		if (k->flags & BH_KF_LOWER)
			bh_lower_ascii(*(char **)dst);
		return;
	case BH_KT_BOOL:
		if (val != NULL && val->type == BH_CN_SCALAR && strlen(val->str) == val->len &&
		    (strcmp(val->str, "true") == 0 || strcmp(val->str, "True") == 0 ||
		     strcmp(val->str, "TRUE") == 0)) {
			*(bool *)dst = true;
		} else if (val != NULL && val->type == BH_CN_SCALAR &&
			   strlen(val->str) == val->len &&
			   (strcmp(val->str, "false") == 0 || strcmp(val->str, "False") == 0 ||
			    strcmp(val->str, "FALSE") == 0)) {
			*(bool *)dst = false;
		} else {
			expected(ld, val, path, "true or false");
		}
		return;
	case BH_KT_NUM: {
		long long v;

		desc_int(k, buf, sizeof(buf));
		if ((s = scalar(ld, val, path, desc_int(k, buf, sizeof(buf)))) == NULL)
			return;
		if (bh_strtonum(s, k->min, k->max, &v, &err) == -1) {
			expected(ld, val, path, desc_int(k, buf, sizeof(buf)));
			return;
		}
		store_num(dst, k->size, v);
		return;
	}
	case BH_KT_DUR:
	case BH_KT_DUR_MS: {
		static const char *const what = "a duration like 45s, 30m, 12h, 15d or 2w";
		int64_t ms, unit = k->type == BH_KT_DUR ? 1000 : 1;

		if ((s = scalar(ld, val, path, what)) == NULL)
			return;
		if ((k->flags & BH_KF_FOREVER) && strcmp(s, "forever") == 0) {
			store_num(dst, 8, 0);
			return;
		}
		if (bh_parse_duration(s, &ms, &err) == -1) {
			expected(ld, val, path, what);
			return;
		}
		if (ms % unit != 0) {
			expected(ld, val, path, "a whole number of seconds");
			return;
		}
		if (ms / unit < k->min || ms / unit > k->max) {
			snprintf(buf, sizeof(buf), "a duration from %s to %s%s",
				 bh_format_duration(k->min * unit, b1, sizeof(b1)),
				 bh_format_duration(k->max * unit, b2, sizeof(b2)),
				 (k->flags & BH_KF_FOREVER) ? " or forever" : "");
			expected(ld, val, path, buf);
			return;
		}
		store_num(dst, 8, ms / unit);
		return;
	}
	case BH_KT_SIZE: {
		static const char *const what = "a size like 512KB, 25MB or 1GB";
		uint64_t v;

		if ((s = scalar(ld, val, path, what)) == NULL)
			return;
		if (bh_parse_size(s, &v, &err) == -1) {
			expected(ld, val, path, what);
			return;
		}
		if (v < (uint64_t)k->min || v > (uint64_t)k->max) {
			snprintf(buf, sizeof(buf), "a size from %s to %s",
				 bh_format_size((uint64_t)k->min, b1, sizeof(b1)),
				 bh_format_size((uint64_t)k->max, b2, sizeof(b2)));
			expected(ld, val, path, buf);
			return;
		}
		store_num(dst, k->size, (long long)v);
		return;
	}
	case BH_KT_ENUM: set_enum(ld, k, val, path, dst); return;
	case BH_KT_SECTION: {
		const struct bh_cnode *vals[BH_CFG_MAX_KEYS];

		bh_cfg_walk(ld, val, key, path, k->sub, dst, vals, NULL, NULL, NULL, 0);
		if (k->post != NULL &&
		    (val == NULL || val->type == BH_CN_MAP || bh_cnode_is_null(val)))
			k->post(ld, val != NULL && !bh_cnode_is_null(val) ? val : key, path, dst,
				vals);
		return;
	}
	case BH_KT_FN: k->fn(ld, k, key, val, path, base); return;
	case BH_KT_SECRET:
		bh_cfg_diag(ld, key, path,
			    "secrets are never written in the file: use %s_file or %s_env", k->name,
			    k->name);
		return;
	}
}

/* bh_cfg_walk - one mapping against one table */
void
bh_cfg_walk(struct bh_cfgld *ld, const struct bh_cnode *map, const struct bh_cnode *where,
	    const char *path, const struct bh_cfgkey *tab, void *base, const struct bh_cnode **vals,
	    bh_cfgextra_fn *extra, void *extra_ctx, const char *const *extra_names, size_t n_extra)
{
	const struct bh_cnode *keys[BH_CFG_MAX_KEYS];
	size_t nt = tab_len(tab), i, j;

	if (nt > BH_CFG_MAX_KEYS)
		bh_fatal("config: table too long");
	for (i = 0; i < nt; i++)
		vals[i] = keys[i] = NULL;
	if (map != NULL && !bh_cnode_is_null(map) && map->type != BH_CN_MAP) {
		expected(ld, map, path, "a mapping");
		return;
	}
	for (i = 0; map != NULL && map->type == BH_CN_MAP && i + 1 < map->n; i += 2) {
		const struct bh_cnode *key = map->kids[i], *val = map->kids[i + 1];
		char *sub;

		if (key->type != BH_CN_SCALAR || strlen(key->str) != key->len) {
			bh_cfg_diag(ld, key, path, "a key must be a plain string");
			continue;
		}
		sub = bh_cfg_join(path, key->str, key->len);
		for (j = 0; j < nt; j++)
			if (strcmp(tab[j].name, key->str) == 0)
				break;
		if (j == nt) {
			if (extra == NULL || !extra(ld, key, val, sub, extra_ctx)) {
				const char *cands[BH_CFG_MAX_KEYS + BH_R_COUNT + BH_G_COUNT + 8];
				size_t nc = 0, x;
				const char *sug;

				for (x = 0; x < nt; x++)
					cands[nc++] = tab[x].name;
				for (x = 0; x < n_extra && nc < BH_NELEM(cands); x++)
					cands[nc++] = extra_names[x];
				sug = bh_cfg_suggest(key->str, cands, nc);
				if (sug != NULL)
					bh_cfg_diag(ld, key, sub,
						    "unknown key; did you mean \"%s\"?", sug);
				else
					bh_cfg_diag(ld, key, sub, "unknown key");
			}
		} else if (keys[j] != NULL) {
			bh_cfg_diag(ld, key, sub, "duplicate key (first at line %u)",
				    keys[j]->line);
		} else {
			keys[j] = key;
			vals[j] = val;
			set_value(ld, &tab[j], key, val, sub, base);
		}
		free(sub);
	}
	for (j = 0; j < nt; j++) {
		if ((tab[j].flags & BH_KF_REQUIRED) && keys[j] == NULL) {
			char *sub = bh_cfg_join(path, tab[j].name, strlen(tab[j].name));

			bh_cfg_diag(ld, map != NULL && !bh_cnode_is_null(map) ? map : where, sub,
				    "required key is missing");
			free(sub);
		}
	}
}

/* ---------------------------------------------------------------- sections */

#define F(st, fld) .off = offsetof(st, fld), .size = sizeof(((st *)0)->fld)
#define INF_INT	   2147483647LL
#define DAY	   86400LL

static const char *const w_tls[] = {"tls", "starttls", "none", NULL};
static const char *const w_auth[] = {"login", "plain", NULL};
static const char *const w_verp[] = {"signed", "classic", NULL};
static const char *const w_logfmt[] = {"json", "logfmt", NULL};
static const char *const w_logprefix[] = {"auto", "always", "never", NULL};

/* val_of - the value node of a key of tab */
static const struct bh_cnode *
val_of(const struct bh_cfgkey *tab, const struct bh_cnode *const *vals, const char *name)
{
	size_t i;

	for (i = 0; tab[i].name != NULL; i++)
		if (strcmp(tab[i].name, name) == 0)
			return vals[i];
	bh_fatal("config: no key %s", name);
}

/* readable_file - NULL when path is a regular file we can open, else why not */
static const char *
readable_file(const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	const char *err = NULL;

	if (fd == -1)
		return strerror(errno);
	if (fstat(fd, &st) == -1)
		err = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		err = "not a regular file";
	close(fd);
	return err;
}

static const struct bh_cfgkey imap_keys[];

/* imap_post - port by TLS mode, loopback-only plain text, CA file, password */
static void
imap_post(struct bh_cfgld *ld, const struct bh_cnode *map, const char *path, void *base,
	  const struct bh_cnode *const *vals)
{
	struct bh_imap_conf *c = base;
	const struct bh_cnode *v;

	if (val_of(imap_keys, vals, "port") == NULL)
		c->port = c->tls == BH_TLS_TLS ? 993 : 143;
	if (c->tls == BH_TLS_NONE && val_of(imap_keys, vals, "host") != NULL &&
	    !is_loopback(c->host)) {
		char *sub = bh_cfg_join(path, "tls", 3);

		bh_cfg_diag(ld, val_of(imap_keys, vals, "tls"), sub,
			    "none (no TLS) is allowed only to a loopback host, not \"%s\"",
			    c->host);
		free(sub);
	}
	if (c->ca_file != NULL && (v = val_of(imap_keys, vals, "ca_file")) != NULL) {
		const char *err = readable_file(c->ca_file);

		if (err != NULL) {
			char *sub = bh_cfg_join(path, "ca_file", 7);

			bh_cfg_diag(ld, v, sub, "cannot read \"%s\": %s", c->ca_file, err);
			free(sub);
		}
	}
	password_post(ld, map, path, "password", val_of(imap_keys, vals, "password_file"),
		      val_of(imap_keys, vals, "password_env"), c->password_file, c->password_env,
		      &c->password, true);
}

/* clang-format off */
static const struct bh_cfgkey imap_keys[] = {
	{.name = "host", .type = BH_KT_STR, F(struct bh_imap_conf, host), .check = check_host,
	  .flags = BH_KF_REQUIRED, .type_doc = "string", .doc = "IMAP server host name"},
	{.name = "port", .type = BH_KT_NUM, F(struct bh_imap_conf, port), .min = 1, .max = 65535,
	  .type_doc = "integer", .def = "993 (tls), 143", .flags = BH_KF_DOCDEF,
	  .doc = "IMAP server port"},
	{.name = "tls", .type = BH_KT_ENUM, F(struct bh_imap_conf, tls), .words = w_tls,
	  .type_doc = "tls, starttls, none", .def = "tls",
	  .doc = "TLS on connect, STARTTLS, or none (loopback hosts only)"},
	{.name = "ca_file", .type = BH_KT_STR, F(struct bh_imap_conf, ca_file),
	  .flags = BH_KF_PATH | BH_KF_NULL, .type_doc = "path",
	  .doc = "CA bundle to verify the server with (default: the system store)"},
	{.name = "verify_cert", .type = BH_KT_BOOL, F(struct bh_imap_conf, verify_cert),
	  .type_doc = "boolean", .def = "true", .doc = "verify the server certificate and name"},
	{.name = "user", .type = BH_KT_STR, F(struct bh_imap_conf, user), .flags = BH_KF_REQUIRED,
	  .type_doc = "string", .doc = "login name"},
	{.name = "password_file", .type = BH_KT_STR, F(struct bh_imap_conf, password_file),
	  .flags = BH_KF_PATH | BH_KF_NULL, .type_doc = "path",
	  .doc = "file holding the password (one of password_file, password_env is required)"},
	{.name = "password_env", .type = BH_KT_STR, F(struct bh_imap_conf, password_env),
	  .check = check_env, .flags = BH_KF_NULL, .type_doc = "string",
	  .doc = "environment variable holding the password"},
	{.name = "password", .type = BH_KT_SECRET, F(struct bh_imap_conf, password),
	  .type_doc = "(output only)", .doc = "never in the file; printed as \"***\""},
	{.name = "auth", .type = BH_KT_ENUM, F(struct bh_imap_conf, auth), .words = w_auth,
	  .type_doc = "login, plain", .def = "login", .doc = "LOGIN command or AUTHENTICATE PLAIN"},
	{.name = "mailbox", .type = BH_KT_STR, F(struct bh_imap_conf, mailbox),
	  .type_doc = "string", .def = "INBOX", .doc = "the bounce mailbox to read"},
	{.name = "processed_folder", .type = BH_KT_STR, F(struct bh_imap_conf, processed_folder),
	  .type_doc = "string", .def = "bouncer/processed", .doc = "where handled mail is moved"},
	{.name = "quarantine_folder", .type = BH_KT_STR, F(struct bh_imap_conf, quarantine_folder),
	  .type_doc = "string", .def = "bouncer/quarantine",
	  .doc = "where unparseable or suspicious mail is moved"},
	{.name = "ignored_folder", .type = BH_KT_STR, F(struct bh_imap_conf, ignored_folder),
	  .type_doc = "string", .def = "bouncer/ignored",
	  .doc = "where mail that is not ours to act on is moved"},
	{.name = "batch_size", .type = BH_KT_NUM, F(struct bh_imap_conf, batch_size), .min = 1,
	  .max = BH_MAX_BATCH_SIZE, .type_doc = "integer", .def = "1000",
	  .doc = "messages fetched per round"},
	{.name = "idle", .type = BH_KT_BOOL, F(struct bh_imap_conf, idle), .type_doc = "boolean",
	  .def = "true", .doc = "wait with IMAP IDLE (else poll)"},
	{.name = "poll_interval", .type = BH_KT_DUR, F(struct bh_imap_conf, poll_interval_s),
	  .min = 1, .max = DAY, .type_doc = "duration", .def = "60s",
	  .doc = "time between polls (and IDLE restarts)"},
	{.name = "timeout", .type = BH_KT_DUR, F(struct bh_imap_conf, timeout_s), .min = 1,
	  .max = 3600, .type_doc = "duration", .def = "60s", .doc = "network timeout"},
	{.name = NULL},
};
/* clang-format on */

/* sentinels_fn - a sequence of "host:port" */
static void
sentinels_fn(struct bh_cfgld *ld, const struct bh_cfgkey *k, const struct bh_cnode *key,
	     const struct bh_cnode *val, const char *path, void *base)
{
	struct bh_redis_conf *c = base;
	size_t i;

	(void)k, (void)key;
	if (val == NULL || bh_cnode_is_null(val))
		return;
	if (val->type != BH_CN_SEQ) {
		expected(ld, val, path, "a sequence of HOST:PORT");
		return;
	}
	if (val->n > BH_MAX_SENTINELS) {
		bh_cfg_diag(ld, val, path, "more than %u sentinels", (unsigned)BH_MAX_SENTINELS);
		return;
	}
	c->sentinels = bh_calloc(val->n + 1, sizeof(char *));
	for (i = 0; i < val->n; i++) {
		char *sub = bh_asprintf("%s[%zu]", path, i);
		const char *s = scalar(ld, val->kids[i], sub, "HOST:PORT");

		if (s != NULL && check_listen(s) != NULL)
			expected(ld, val->kids[i], sub, "HOST:PORT");
		else if (s != NULL)
			c->sentinels[c->n_sentinels++] = bh_strdup(s);
		free(sub);
	}
}

/* sentinels_dump - print redis.sentinels as a flow list of quoted host:port strings */
static void
sentinels_dump(struct bh_buf *out, const void *base, int indent)
{
	const struct bh_redis_conf *c = base;
	size_t i;

	bh_buf_printf(out, "%*ssentinels: [", indent, "");
	for (i = 0; i < c->n_sentinels; i++) {
		bh_buf_puts(out, i ? ", " : "");
		bh_json_cstr(out, c->sentinels[i]);
	}
	bh_buf_puts(out, "]\n");
}

static const struct bh_cfgkey redis_keys[];

/* sentinel_auth_post - the sentinels' own password (requirepass or an ACL user in
 * sentinel.conf): only with sentinels, a user needs a password */
static void
sentinel_auth_post(struct bh_cfgld *ld, const struct bh_cnode *map, const char *path,
		   struct bh_redis_conf *c, const struct bh_cnode *const *vals)
{
	const struct bh_cnode *vfile = val_of(redis_keys, vals, "sentinel_password_file");
	const struct bh_cnode *venv = val_of(redis_keys, vals, "sentinel_password_env");
	const struct bh_cnode *vuser = val_of(redis_keys, vals, "sentinel_user");
	bool any = c->sentinel_password_file != NULL || c->sentinel_password_env != NULL;
	char *sub;

	if ((any || c->sentinel_user != NULL) && c->n_sentinels == 0) {
		const struct bh_cnode *v = c->sentinel_user != NULL	       ? vuser
					   : c->sentinel_password_file != NULL ? vfile
									       : venv;
		const char *k = c->sentinel_user != NULL	    ? "sentinel_user"
				: c->sentinel_password_file != NULL ? "sentinel_password_file"
								    : "sentinel_password_env";

		sub = bh_cfg_join(path, k, strlen(k));
		bh_cfg_diag(ld, v != NULL ? v : map, sub, "needs sentinels");
		free(sub);
		return;
	}
	password_post(ld, map, path, "sentinel_password", vfile, venv, c->sentinel_password_file,
		      c->sentinel_password_env, &c->sentinel_password, false);
	if (c->sentinel_user != NULL && !any) {
		sub = bh_cfg_join(path, "sentinel_user", 13);
		bh_cfg_diag(ld, vuser, sub,
			    "a sentinel ACL user needs sentinel_password_file or "
			    "sentinel_password_env");
		free(sub);
	}
}

/* redis_post - host xor socket, password, user needs a password */
static void
redis_post(struct bh_cfgld *ld, const struct bh_cnode *map, const char *path, void *base,
	   const struct bh_cnode *const *vals)
{
	struct bh_redis_conf *c = base;
	const struct bh_cnode *vs = val_of(redis_keys, vals, "socket");

	if (c->socket != NULL) {
		if (!bh_cnode_is_null(val_of(redis_keys, vals, "host"))) {
			char *sub = bh_cfg_join(path, "socket", 6);

			bh_cfg_diag(ld, vs, sub, "set only one of host and socket");
			free(sub);
		}
		bh_free_str(&c->host);
	} else if (c->host == NULL) {
		bh_cfg_diag(ld, map, path, "set host or socket");
	}
	password_post(ld, map, path, "password", val_of(redis_keys, vals, "password_file"),
		      val_of(redis_keys, vals, "password_env"), c->password_file, c->password_env,
		      &c->password, false);
	if (c->user != NULL && c->password_file == NULL && c->password_env == NULL) {
		char *sub = bh_cfg_join(path, "user", 4);

		bh_cfg_diag(ld, val_of(redis_keys, vals, "user"), sub,
			    "an ACL user needs password_file or password_env");
		free(sub);
	}
	if ((c->n_sentinels > 0) != (c->master_name != NULL)) {
		char *sub = bh_cfg_join(path, "master_name", 11);

		bh_cfg_diag(ld, map, sub, "set both sentinels and master_name, or neither");
		free(sub);
	}
	sentinel_auth_post(ld, map, path, c, vals);
}

/* clang-format off */
static const struct bh_cfgkey redis_keys[] = {
	{.name = "host", .type = BH_KT_STR, F(struct bh_redis_conf, host), .check = check_host,
	  .flags = BH_KF_NULL, .type_doc = "string", .def = "127.0.0.1",
	  .doc = "Redis host (or socket)"},
	{.name = "port", .type = BH_KT_NUM, F(struct bh_redis_conf, port), .min = 1, .max = 65535,
	  .type_doc = "integer", .def = "6379", .doc = "Redis port"},
	{.name = "socket", .type = BH_KT_STR, F(struct bh_redis_conf, socket),
	  .flags = BH_KF_PATH | BH_KF_NULL, .type_doc = "path",
	  .doc = "Unix socket instead of host and port"},
	{.name = "user", .type = BH_KT_STR, F(struct bh_redis_conf, user), .flags = BH_KF_NULL,
	  .type_doc = "string", .doc = "ACL user (AUTH user password)"},
	{.name = "password_file", .type = BH_KT_STR, F(struct bh_redis_conf, password_file),
	  .flags = BH_KF_PATH | BH_KF_NULL, .type_doc = "path",
	  .doc = "file holding the Redis password"},
	{.name = "password_env", .type = BH_KT_STR, F(struct bh_redis_conf, password_env),
	  .check = check_env, .flags = BH_KF_NULL, .type_doc = "string",
	  .doc = "environment variable holding the Redis password"},
	{.name = "password", .type = BH_KT_SECRET, F(struct bh_redis_conf, password),
	  .type_doc = "(output only)", .doc = "never in the file; printed as \"***\""},
	{.name = "db", .type = BH_KT_NUM, F(struct bh_redis_conf, db), .min = 0, .max = 1023,
	  .type_doc = "integer", .def = "0", .doc = "database number (SELECT)"},
	{.name = "prefix", .type = BH_KT_STR, F(struct bh_redis_conf, prefix), .check = check_word,
	  .type_doc = "string", .def = "bouncer", .doc = "prefix of every key"},
	{.name = "connect_timeout", .type = BH_KT_DUR_MS,
	  F(struct bh_redis_conf, connect_timeout_ms), .min = 1, .max = 300000,
	  .type_doc = "duration", .def = "2s", .doc = "connect timeout (ms allowed: 500ms)"},
	{.name = "command_timeout", .type = BH_KT_DUR_MS,
	  F(struct bh_redis_conf, command_timeout_ms), .min = 1, .max = 300000,
	  .type_doc = "duration", .def = "5s", .doc = "per-command timeout"},
	{.name = "stream_maxlen", .type = BH_KT_NUM, F(struct bh_redis_conf, stream_maxlen),
	  .min = 1000, .max = 1000000000, .type_doc = "integer", .def = "1000000",
	  .doc = "approximate cap of the event stream (XADD MAXLEN ~)"},
	{.name = "sentinels", .type = BH_KT_FN, .fn = sentinels_fn, .dump = sentinels_dump,
	  .type_doc = "list of HOST:PORT", .def = "[]",
	  .doc = "Redis Sentinels to ask for the master (instead of host and port)"},
	{.name = "master_name", .type = BH_KT_STR, F(struct bh_redis_conf, master_name),
	  .check = check_word, .flags = BH_KF_NULL, .type_doc = "string",
	  .doc = "the master's name at the sentinels (required with sentinels)"},
	{.name = "sentinel_user", .type = BH_KT_STR, F(struct bh_redis_conf, sentinel_user),
	  .flags = BH_KF_NULL, .type_doc = "string",
	  .doc = "ACL user at the sentinels (AUTH user password; Redis 6.2+ sentinels)"},
	{.name = "sentinel_password_file", .type = BH_KT_STR,
	  F(struct bh_redis_conf, sentinel_password_file), .flags = BH_KF_PATH | BH_KF_NULL,
	  .type_doc = "path", .doc = "file holding the sentinels' password (their requirepass)"},
	{.name = "sentinel_password_env", .type = BH_KT_STR,
	  F(struct bh_redis_conf, sentinel_password_env), .check = check_env, .flags = BH_KF_NULL,
	  .type_doc = "string", .doc = "environment variable holding the sentinels' password"},
	{.name = "sentinel_password", .type = BH_KT_SECRET,
	  F(struct bh_redis_conf, sentinel_password), .type_doc = "(output only)",
	  .doc = "never in the file; printed as \"***\""},
	{.name = "wait_replicas", .type = BH_KT_NUM, F(struct bh_redis_conf, wait_replicas),
	  .min = 0, .max = 16, .type_doc = "integer", .def = "0",
	  .doc = "replicas that must hold a batch (WAIT) before its messages are moved"},
	{.name = NULL},
};
/* clang-format on */

/* verp_delims - two different delimiter characters */
static void
verp_delims(struct bh_cfgld *ld, const struct bh_cfgkey *k, const struct bh_cnode *key,
	    const struct bh_cnode *val, const char *path, void *base)
{
	static const char *const what = "two different characters of \"+-=._\"";
	struct bh_verp_conf *c = &((struct bh_config *)base)->verp;
	const char *s;

	(void)k, (void)key;
	if ((s = scalar(ld, val, path, what)) == NULL)
		return;
	if (strlen(s) != 2 || strchr("+-=._", s[0]) == NULL || strchr("+-=._", s[1]) == NULL ||
	    s[0] == s[1]) {
		expected(ld, val, path, what);
		return;
	}
	c->delim1 = s[0];
	c->delim2 = s[1];
}

/* verp_delims_dump - print verp.delimiters as the two characters in quotes */
static void
verp_delims_dump(struct bh_buf *out, const void *base, int indent)
{
	const struct bh_verp_conf *c = &((const struct bh_config *)base)->verp;

	bh_buf_printf(out, "%*sdelimiters: \"%c%c\"\n", indent, "", c->delim1, c->delim2);
}

/* One entry of verp.keys as written. */
struct verp_key_src {
	char id[16];
	char *file;
	char *env;
};

/* clang-format off */
static const struct bh_cfgkey verp_key_keys[] = {
	{.name = "id", .type = BH_KT_STRBUF, F(struct verp_key_src, id), .check = check_word,
	  .flags = BH_KF_REQUIRED},
	{.name = "file", .type = BH_KT_STR, F(struct verp_key_src, file), .flags = BH_KF_PATH},
	{.name = "env", .type = BH_KT_STR, F(struct verp_key_src, env), .check = check_env},
	{.name = NULL},
};
/* clang-format on */

/* verp_keys - [{id, file|env}...]: read each key (16..128 octets) */
static void
verp_keys(struct bh_cfgld *ld, const struct bh_cfgkey *k, const struct bh_cnode *key,
	  const struct bh_cnode *val, const char *path, void *base)
{
	struct bh_config *cfg = base;
	size_t i, j;

	(void)k, (void)key;
	if (val == NULL || val->type != BH_CN_SEQ) {
		expected(ld, val, path, "a sequence of {id, file} or {id, env}");
		return;
	}
	if (val->n > BH_VERP_MAX_KEYS) {
		bh_cfg_diag(ld, val, path, "more than %u keys", (unsigned)BH_VERP_MAX_KEYS);
		return;
	}
	for (i = 0; i < val->n; i++) {
		const struct bh_cnode *vals[BH_CFG_MAX_KEYS], *item = val->kids[i];
		struct verp_key_src src;
		unsigned char *data;
		size_t len, n0 = ld->diags->n;
		char *sub = bh_asprintf("%s[%zu]", path, i), *subk = NULL;

		memset(&src, 0, sizeof(src));
		bh_cfg_walk(ld, item, item, sub, verp_key_keys, &src, vals, NULL, NULL, NULL, 0);
		if (ld->diags->n != n0)
			goto next;
		for (j = 0; j < cfg->verp.n_keys; j++)
			if (strcmp(cfg->verp.keys[j].id, src.id) == 0)
				bh_cfg_diag(ld, vals[0], sub, "duplicate key id \"%s\"", src.id);
		if ((src.file == NULL) == (src.env == NULL)) {
			bh_cfg_diag(ld, item, sub, "set exactly one of file and env");
			goto next;
		}
		subk = bh_asprintf("%s.%s", sub, src.file != NULL ? "file" : "env");
		if (resolve_secret(ld, src.file != NULL ? vals[1] : vals[2], subk, src.file,
				   src.env, BH_VERP_MAX_KEY, &data, &len) == -1)
			goto next;
		if (len < 16) {
			bh_cfg_diag(ld, src.file != NULL ? vals[1] : vals[2], subk,
				    "the key is %zu bytes; at least 16 are needed", len);
		} else {
			struct bh_verp_key *vk = &cfg->verp.keys[cfg->verp.n_keys];

			memcpy(vk->id, src.id, sizeof(vk->id));
			memcpy(vk->key, data, len);
			vk->len = len;
			cfg->verp_key_file[cfg->verp.n_keys] = src.file, src.file = NULL;
			cfg->verp_key_env[cfg->verp.n_keys] = src.env, src.env = NULL;
			cfg->verp.n_keys++;
		}
		bh_secure_zero(data, len);
		free(data);
	next:
		free(subk);
		free(src.file);
		free(src.env);
		free(sub);
	}
}

/* verp_keys_dump - print verp.keys: id and file or env, never the key itself ("***") */
static void
verp_keys_dump(struct bh_buf *out, const void *base, int indent)
{
	const struct bh_config *cfg = base;
	size_t i;

	if (cfg->verp.n_keys == 0) {
		bh_buf_printf(out, "%*skeys: []\n", indent, "");
		return;
	}
	bh_buf_printf(out, "%*skeys:\n", indent, "");
	for (i = 0; i < cfg->verp.n_keys; i++) {
		bh_buf_printf(out, "%*s- {id: ", indent + 2, "");
		bh_json_cstr(out, cfg->verp.keys[i].id);
		if (cfg->verp_key_file[i] != NULL) {
			bh_buf_puts(out, ", file: ");
			bh_json_cstr(out, cfg->verp_key_file[i]);
		} else if (cfg->verp_key_env[i] != NULL) {
			bh_buf_puts(out, ", env: ");
			bh_json_cstr(out, cfg->verp_key_env[i]);
		}
		bh_buf_puts(out, ", key: \"***\"}\n");
	}
}

static const struct bh_cfgkey verp_keys_tab[];

/* verp_post - signed VERP needs a key */
static void
verp_post(struct bh_cfgld *ld, const struct bh_cnode *map, const char *path, void *base,
	  const struct bh_cnode *const *vals)
{
	struct bh_config *cfg = base;
	const struct bh_cnode *vk = val_of(verp_keys_tab, vals, "keys");
	const char *err;

	if (cfg->verp.format == BH_VERP_SIGNED && vk == NULL) {
		char *sub = bh_cfg_join(path, "keys", 4);

		bh_cfg_diag(ld, map, sub, "signed VERP needs at least one key");
		free(sub);
	}
	/* verp.c's own rules too (the second delimiter must be = or +), once all else is right. */
	if (ld->diags->n == 0 && bh_verp_conf_check(&cfg->verp, &err) == -1)
		bh_cfg_diag(ld, map, path, "%s", err);
}

#define FV(fld)                                                                                    \
	.off = offsetof(struct bh_config, verp.fld),                                               \
	.size = sizeof(((struct bh_config *)0)->verp.fld)

/* clang-format off */
static const struct bh_cfgkey verp_keys_tab[] = {
	{.name = "format", .type = BH_KT_ENUM, FV(format), .words = w_verp, .flags = BH_KF_DOCDEF,
	  .type_doc = "signed, classic", .def = "signed",
	  .doc = "HMAC-signed tokens, or classic unsigned VERP"},
	{.name = "domain", .type = BH_KT_STRBUF, FV(domain), .check = check_domain,
	  .flags = BH_KF_REQUIRED | BH_KF_LOWER, .type_doc = "string",
	  .doc = "the bounce domain of VERP addresses"},
	{.name = "prefix", .type = BH_KT_STRBUF, FV(prefix), .check = check_word,
	  .flags = BH_KF_DOCDEF, .type_doc = "string", .def = "bounces",
	  .doc = "local-part prefix of VERP addresses"},
	{.name = "delimiters", .type = BH_KT_FN, .fn = verp_delims, .dump = verp_delims_dump,
	  .flags = BH_KF_DOCDEF, .type_doc = "2 characters", .def = "\"+=\"",
	  .doc = "the two VERP delimiters, from + - = . _"},
	{.name = "keys", .type = BH_KT_FN, .fn = verp_keys, .dump = verp_keys_dump,
	  .type_doc = "list of {id, file} or {id, env}",
	  .doc = "HMAC keys (16-128 bytes each); the first signs, all verify (rotation)"},
	{.name = "max_age", .type = BH_KT_DUR, FV(max_age_s), .min = 0, .max = 3650 * DAY,
	  .flags = BH_KF_DOCDEF, .type_doc = "duration", .def = "60d",
	  .doc = "signed tokens older than this are refused (0: never)"},
	{.name = "tag_bytes", .type = BH_KT_NUM, FV(tag_bytes), .min = 8, .max = 32,
	  .flags = BH_KF_DOCDEF, .type_doc = "integer", .def = "8",
	  .doc = "HMAC bytes kept in a token"},
	{.name = NULL},
};
/* clang-format on */

/* clang-format off */
static const struct bh_cfgkey limits_keys[] = {
	{.name = "message_size", .type = BH_KT_SIZE, F(struct bh_limits_conf, message_size),
	  .min = 1024, .max = BH_MAX_MESSAGE_SIZE, .type_doc = "size", .def = "25MB",
	  .doc = "larger messages are quarantined unread"},
	{.name = "mime_depth", .type = BH_KT_NUM, F(struct bh_limits_conf, mime_depth), .min = 1,
	  .max = BH_MAX_MIME_DEPTH, .type_doc = "integer", .def = "16", .doc = "MIME nesting"},
	{.name = "mime_parts", .type = BH_KT_NUM, F(struct bh_limits_conf, mime_parts), .min = 1,
	  .max = 100000, .type_doc = "integer", .def = "512", .doc = "MIME parts in a message"},
	{.name = "header_line", .type = BH_KT_SIZE, F(struct bh_limits_conf, header_line),
	  .min = 1024, .max = 16u * 1024 * 1024, .type_doc = "size", .def = "64KB",
	  .doc = "one unfolded header field"},
	{.name = "header_count", .type = BH_KT_NUM, F(struct bh_limits_conf, header_count),
	  .min = 10, .max = 100000, .type_doc = "integer", .def = "2000",
	  .doc = "fields in one header block"},
	{.name = "recipients", .type = BH_KT_NUM, F(struct bh_limits_conf, recipients), .min = 1,
	  .max = 100000, .type_doc = "integer", .def = "1000",
	  .doc = "recipients kept from one report"},
	{.name = "hop_limit", .type = BH_KT_NUM, F(struct bh_limits_conf, hop_limit), .min = 1,
	  .max = 1000, .type_doc = "integer", .def = "30",
	  .doc = "Received fields that make a returned message a loop"},
	{.name = "regex_match_limit", .type = BH_KT_NUM,
	  F(struct bh_limits_conf, regex_match_limit), .min = 1000, .max = 100000000,
	  .type_doc = "integer", .def = "100000", .doc = "PCRE2 match limit per rule"},
	{.name = NULL},
};
/* clang-format on */

/* ---------------------------------------------------------------- rules */

static const char *const w_whose[] = {"none", "recipient", "sender", "either", NULL};

/* rule_pattern - a PCRE2 pattern that compiles; errors point into the pattern */
static void
rule_pattern(struct bh_cfgld *ld, const struct bh_cfgkey *k, const struct bh_cnode *key,
	     const struct bh_cnode *val, const char *path, void *base)
{
	struct bh_rule_conf *r = base;
	PCRE2_SIZE off;
	pcre2_code *re;
	int code;

	(void)k, (void)key;
	if (scalar(ld, val, path, "a regular expression") == NULL)
		return;
	re = pcre2_compile((PCRE2_SPTR)val->str, val->len, 0, &code, &off, NULL);
	if (re == NULL) {
		PCRE2_UCHAR msg[256];
		struct bh_cnode at = *val;

		pcre2_get_error_message(code, msg, sizeof(msg));
		/* XXX: the column is exact only for plain and quoted one-line scalars without
		 * escapes; otherwise it points at the start of the pattern */
		if (!val->multiline)
			at.col = val->col + (val->plain ? 0 : 1) + (unsigned)off;
		bh_cfg_diag(ld, &at, path, "bad regular expression: %s (at offset %zu)",
			    (const char *)msg, (size_t)off);
		return;
	}
	pcre2_code_free(re);
	free(r->pattern);
	r->pattern = bh_strdup(val->str);
}

/* rule_any - `any:`, a list of patterns any of which may match: joined with '|', each checked
 * as `pattern:` is */
static void
rule_any(struct bh_cfgld *ld, const struct bh_cfgkey *k, const struct bh_cnode *key,
	 const struct bh_cnode *val, const char *path, void *base)
{
	struct bh_rule_conf *r = base;
	struct bh_buf b;
	size_t i, n0 = ld->diags->n;

	if (val->type != BH_CN_SEQ || val->n == 0) {
		expected(ld, val, path, "a list of regular expressions");
		return;
	}
	if (r->pattern != NULL) {
		bh_cfg_diag(ld, key, path, "a rule takes pattern or any, not both");
		return;
	}
	bh_buf_init(&b);
	for (i = 0; i < val->n; i++) {
		struct bh_rule_conf one;

		memset(&one, 0, sizeof(one));
		rule_pattern(ld, k, key, val->kids[i], path, &one);
		if (one.pattern != NULL) {
			bh_buf_printf(&b, "%s(?:%s)", i > 0 ? "|" : "", one.pattern);
			free(one.pattern);
		}
	}
	if (ld->diags->n == n0)
		r->pattern = bh_buf_steal(&b);
	else
		bh_buf_deinit(&b);
}

/* rule_reason - a reason word */
static void
rule_reason(struct bh_cfgld *ld, const struct bh_cfgkey *k, const struct bh_cnode *key,
	    const struct bh_cnode *val, const char *path, void *base)
{
	const char *names[BH_R_COUNT], *s, *sug;
	struct bh_rule_conf *r = base;
	char buf[96];
	int i;

	(void)k, (void)key;
	if ((s = scalar(ld, val, path, "a reason")) == NULL)
		return;
	if ((i = bh_reason_lookup(s)) != -1 && strcmp(bh_reason_name((enum bh_reason)i), s) == 0) {
		r->reason = (enum bh_reason)i;
		return;
	}
	for (i = 0; i < BH_R_COUNT; i++)
		names[i] = bh_reason_name((enum bh_reason)i);
	if ((sug = bh_cfg_suggest(s, names, BH_R_COUNT)) != NULL)
		bh_cfg_diag(ld, val, path, "unknown reason %s; did you mean \"%s\"?",
			    bh_cfg_got(val, buf, sizeof(buf)), sug);
	else
		bh_cfg_diag(ld, val, path, "unknown reason %s (bouncer reasons lists them)",
			    bh_cfg_got(val, buf, sizeof(buf)));
}

/* rule_whose - who is at fault, overriding the reason's */
static void
rule_whose(struct bh_cfgld *ld, const struct bh_cfgkey *k, const struct bh_cnode *key,
	   const struct bh_cnode *val, const char *path, void *base)
{
	struct bh_rule_conf *r = base;
	int w;

	(void)k, (void)key;
	if (bh_cfg_word(ld, w_whose, val, path, &w)) {
		r->whose = (enum bh_whose)w;
		r->has_whose = true;
	}
}

/* clang-format off */
static const struct bh_cfgkey rule_keys[] = {
	{.name = "id", .type = BH_KT_STR, F(struct bh_rule_conf, id), .check = check_word,
	  .flags = BH_KF_REQUIRED},
	{.name = "status", .type = BH_KT_STR, F(struct bh_rule_conf, status),
	  .check = check_status_pat},
	{.name = "reply_code", .type = BH_KT_STR, F(struct bh_rule_conf, reply_code),
	  .check = check_reply_pat},
	{.name = "pattern", .type = BH_KT_FN, .fn = rule_pattern},
	{.name = "any", .type = BH_KT_FN, .fn = rule_any},
	{.name = "reason", .type = BH_KT_FN, .fn = rule_reason, .flags = BH_KF_REQUIRED},
	{.name = "whose", .type = BH_KT_FN, .fn = rule_whose},
	{.name = NULL},
};
/* clang-format on */

/* rule_free - free the strings of one rule (not the rule itself) */
static void
rule_free(struct bh_rule_conf *r)
{
	free(r->id);
	free(r->status);
	free(r->reply_code);
	free(r->pattern);
}

/* rules_seq - a sequence of rules */
static void
rules_seq(struct bh_cfgld *ld, const struct bh_cnode *seq, const char *path)
{
	struct bh_config *cfg = ld->cfg;
	size_t i, j;

	if (seq == NULL || bh_cnode_is_null(seq))
		return;
	if (seq->type != BH_CN_SEQ) {
		expected(ld, seq, path, "a sequence of rules");
		return;
	}
	if (seq->n > BH_MAX_RULES) {
		bh_cfg_diag(ld, seq, path, "more than %u rules", (unsigned)BH_MAX_RULES);
		return;
	}
	cfg->rules = bh_calloc(seq->n, sizeof(*cfg->rules));
	for (i = 0; i < seq->n; i++) {
		const struct bh_cnode *vals[BH_CFG_MAX_KEYS], *item = seq->kids[i];
		struct bh_rule_conf *r = &cfg->rules[cfg->n_rules];
		size_t n0 = ld->diags->n;
		char *sub = bh_asprintf("%s[%zu]", path, i);

		bh_cfg_walk(ld, item, item, sub, rule_keys, r, vals, NULL, NULL, NULL, 0);
		if (ld->diags->n == n0 && r->status == NULL && r->reply_code == NULL &&
		    r->pattern == NULL)
			bh_cfg_diag(ld, item, sub, "a rule needs status, reply_code or pattern");
		for (j = 0; ld->diags->n == n0 && j < cfg->n_rules; j++)
			if (strcmp(cfg->rules[j].id, r->id) == 0)
				bh_cfg_diag(ld, vals[0], sub, "duplicate rule id \"%s\"", r->id);
		if (ld->diags->n == n0) {
			/* what passes here, the engine compiles: ask it, one rule at a time */
			const char *err;
			struct bh_rules *one = bh_rules_new(r, 1, true, 0, &err);

			if (one == NULL)
				bh_cfg_diag(ld, item, sub, "%s", err);
			bh_rules_free(&one);
		}
		if (ld->diags->n == n0)
			cfg->n_rules++;
		else
			rule_free(r), memset(r, 0, sizeof(*r));
		free(sub);
	}
}

/* One `rules:` in its mapping form. */
struct rules_map {
	bool replace;
};

/* rules_add - `rules: {add: [...]}`: the list of rules, read as in the list form */
static void
rules_add(struct bh_cfgld *ld, const struct bh_cfgkey *k, const struct bh_cnode *key,
	  const struct bh_cnode *val, const char *path, void *base)
{
	(void)k, (void)key, (void)base;
	rules_seq(ld, val, path);
}

/* clang-format off */
static const struct bh_cfgkey rules_map_keys[] = {
	{.name = "replace", .type = BH_KT_BOOL, F(struct rules_map, replace)},
	{.name = "add", .type = BH_KT_FN, .fn = rules_add},
	{.name = NULL},
};
/* clang-format on */

/* rules_fn - `rules: [...]` or `rules: {replace: BOOL, add: [...]}` */
static void
rules_fn(struct bh_cfgld *ld, const struct bh_cfgkey *k, const struct bh_cnode *key,
	 const struct bh_cnode *val, const char *path, void *base)
{
	const struct bh_cnode *vals[BH_CFG_MAX_KEYS];
	struct rules_map m = {false};

	(void)k, (void)base;
	if (val != NULL && val->type == BH_CN_MAP) {
		bh_cfg_walk(ld, val, key, path, rules_map_keys, &m, vals, NULL, NULL, NULL, 0);
		ld->cfg->rules_replace_builtin = m.replace;
		return;
	}
	rules_seq(ld, val, path);
}

/* rules_dump - print `rules:` in its mapping form (replace, add) */
static void
rules_dump(struct bh_buf *out, const void *base, int indent)
{
	const struct bh_config *cfg = base;
	size_t i;

	bh_buf_printf(out, "%*srules:\n%*sreplace: %s\n", indent, "", indent + 2, "",
		      cfg->rules_replace_builtin ? "true" : "false");
	bh_buf_printf(out, "%*sadd:%s\n", indent + 2, "", cfg->n_rules == 0 ? " []" : "");
	for (i = 0; i < cfg->n_rules; i++) {
		const struct bh_rule_conf *r = &cfg->rules[i];

		bh_buf_printf(out, "%*s- id: ", indent + 4, "");
		bh_json_cstr(out, r->id);
		if (r->status != NULL) {
			bh_buf_printf(out, "\n%*sstatus: ", indent + 6, "");
			bh_json_cstr(out, r->status);
		}
		if (r->reply_code != NULL) {
			bh_buf_printf(out, "\n%*sreply_code: ", indent + 6, "");
			bh_json_cstr(out, r->reply_code);
		}
		if (r->pattern != NULL) {
			bh_buf_printf(out, "\n%*spattern: ", indent + 6, "");
			bh_json_cstr(out, r->pattern);
		}
		bh_buf_printf(out, "\n%*sreason: %s", indent + 6, "", bh_reason_name(r->reason));
		if (r->has_whose)
			bh_buf_printf(out, "\n%*swhose: %s", indent + 6, "",
				      bh_whose_name(r->whose));
		bh_buf_putc(out, '\n');
	}
}

/* ---------------------------------------------------------------- top level */

/* our_domains_fn - a sequence of domains, lower-cased */
static void
our_domains_fn(struct bh_cfgld *ld, const struct bh_cfgkey *k, const struct bh_cnode *key,
	       const struct bh_cnode *val, const char *path, void *base)
{
	struct bh_config *cfg = base;
	size_t i;

	(void)k, (void)key;
	if (val == NULL || bh_cnode_is_null(val))
		return;
	if (val->type != BH_CN_SEQ) {
		expected(ld, val, path, "a sequence of domain names");
		return;
	}
	if (val->n > BH_MAX_OUR_DOMAINS) {
		bh_cfg_diag(ld, val, path, "more than %u domains", (unsigned)BH_MAX_OUR_DOMAINS);
		return;
	}
	cfg->our_domains = bh_calloc(val->n, sizeof(char *));
	for (i = 0; i < val->n; i++) {
		char *sub = bh_asprintf("%s[%zu]", path, i);
		const char *s = scalar(ld, val->kids[i], sub, "a domain name");

		if (s != NULL && check_domain(s) != NULL)
			expected(ld, val->kids[i], sub, "a domain name");
		else if (s != NULL) {
			cfg->our_domains[cfg->n_our_domains] = bh_strdup(s);
			bh_lower_ascii(cfg->our_domains[cfg->n_our_domains++]);
		}
		free(sub);
	}
}

/* our_domains_dump - print our_domains as a flow list */
static void
our_domains_dump(struct bh_buf *out, const void *base, int indent)
{
	const struct bh_config *cfg = base;
	size_t i;

	bh_buf_printf(out, "%*sour_domains: [", indent, "");
	for (i = 0; i < cfg->n_our_domains; i++) {
		bh_buf_puts(out, i ? ", " : "");
		bh_json_cstr(out, cfg->our_domains[i]);
	}
	bh_buf_puts(out, "]\n");
}

/* defaults_fn - keep the `defaults` node for after the walk: lists inherit from defaults, which
 * may come later in the file */
static void
defaults_fn(struct bh_cfgld *ld, const struct bh_cfgkey *k, const struct bh_cnode *key,
	    const struct bh_cnode *val, const char *path, void *base)
{
	(void)k, (void)path, (void)base;
	ld->defaults_key = key;
	ld->defaults_node = val;
}

/* lists_fn - keep the `lists` node for after the walk, when the defaults are known */
static void
lists_fn(struct bh_cfgld *ld, const struct bh_cfgkey *k, const struct bh_cnode *key,
	 const struct bh_cnode *val, const char *path, void *base)
{
	(void)k, (void)path, (void)base;
	ld->lists_key = key;
	ld->lists_node = val;
}

/* policies_dump - print `defaults:` and `lists:` together (the defaults key prints both) */
static void
policies_dump(struct bh_buf *out, const void *base, int indent)
{
	(void)indent;
	bh_cfg_policies_dump(out, base);
}

/* clang-format off */
static const struct bh_cfgkey metrics_keys[] = {
	{.name = "listen", .type = BH_KT_STR, F(struct bh_config, metrics_listen),
	  .check = check_listen, .flags = BH_KF_NULL, .type_doc = "HOST:PORT",
	  .doc = "serve Prometheus metrics here (default: off)"},
	{.name = NULL},
};
/* clang-format on */

/* clang-format off */
static const struct bh_cfgkey lease_keys[] = {
	{.name = "enabled", .type = BH_KT_BOOL, F(struct bh_lease_conf, enabled),
	  .type_doc = "boolean", .def = "false",
	  .doc = "one worker per mailbox: take a Redis lease before working on it"},
	{.name = "ttl", .type = BH_KT_DUR, F(struct bh_lease_conf, ttl_s), .min = 3, .max = 3600,
	  .type_doc = "duration", .def = "30s",
	  .doc = "lease lifetime, renewed every ttl/3; a crashed holder is replaced after it"},
	{.name = NULL},
};
/* clang-format on */

/* clang-format off */
static const struct bh_cfgkey top_keys[] = {
	{.name = "imap", .type = BH_KT_SECTION, F(struct bh_config, imap), .sub = imap_keys,
	  .post = imap_post, .flags = BH_KF_REQUIRED},
	{.name = "redis", .type = BH_KT_SECTION, F(struct bh_config, redis), .sub = redis_keys,
	  .post = redis_post},
	{.name = "lease", .type = BH_KT_SECTION, F(struct bh_config, lease), .sub = lease_keys},
	{.name = "verp", .type = BH_KT_SECTION, .off = 0, .sub = verp_keys_tab, .post = verp_post,
	  .flags = BH_KF_REQUIRED},
	{.name = "rules", .type = BH_KT_FN, .fn = rules_fn, .dump = rules_dump,
	  .type_doc = "list of rules, or {replace, add}",
	  .doc = "classification rules tried before the built-in ones"},
	{.name = "limits", .type = BH_KT_SECTION, F(struct bh_config, limits), .sub = limits_keys},
	{.name = "defaults", .type = BH_KT_FN, .fn = defaults_fn, .dump = policies_dump},
	{.name = "lists", .type = BH_KT_FN, .fn = lists_fn},
	{.name = "our_domains", .type = BH_KT_FN, .fn = our_domains_fn, .dump = our_domains_dump,
	  .type_doc = "list of domains", .def = "[]",
	  .doc = "domains whose Message-IDs and From are ours (loop detection)"},
	{.name = "log_format", .type = BH_KT_ENUM, F(struct bh_config, log_format),
	  .words = w_logfmt, .flags = BH_KF_ASSTR, .type_doc = "json, logfmt", .def = "json",
	  .doc = "log line format"},
	{.name = "log_priority_prefix", .type = BH_KT_ENUM, F(struct bh_config, log_priority_prefix),
	  .words = w_logprefix, .flags = BH_KF_ASSTR, .type_doc = "auto, always, never",
	  .def = "auto",
	  .doc = "start each log line with its <N> syslog priority (auto: when stderr is the journal)"},
	{.name = "metrics", .type = BH_KT_SECTION, .off = 0, .sub = metrics_keys},
	{.name = NULL},
};
/* clang-format on */

/* apply_defaults - every table default, through the same converters as the file */
static void
apply_defaults(const struct bh_cfgkey *tab, void *base)
{
	struct bh_config_diags d = {NULL, 0};
	struct bh_cfgld ld;
	size_t i;

	memset(&ld, 0, sizeof(ld));
	ld.file = "(defaults)";
	ld.diags = &d;
	for (i = 0; tab[i].name != NULL; i++) {
		struct bh_cnode n;

		if (tab[i].type == BH_KT_SECTION) {
			apply_defaults(tab[i].sub, (char *)base + tab[i].off);
			continue;
		}
		if (tab[i].def == NULL || (tab[i].flags & BH_KF_DOCDEF) || tab[i].type == BH_KT_FN)
			continue;
		memset(&n, 0, sizeof(n));
		n.type = BH_CN_SCALAR;
		n.str = (char *)tab[i].def;
		n.len = strlen(n.str);
		set_value(&ld, &tab[i], &n, &n, tab[i].name, base);
	}
	if (d.n != 0)
		bh_fatal("config: bad default: %s", d.v[0].message);
}

/* bh_config_defaults - the table's defaults, the VERP module's and the built-in policy */
struct bh_config *
bh_config_defaults(void)
{
	struct bh_config *c = bh_calloc(1, sizeof(*c));

	bh_verp_conf_defaults(&c->verp);
	apply_defaults(top_keys, c);
	c->imap.port = 993;
	bh_cfg_policy_defaults(&c->defaults);
	return c;
}

/* diag_cmp - order problems by position (then by the order found) */
static int
diag_cmp(const void *a, const void *b)
{
	const struct bh_config_diag *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->column != y->column)
		return x->column < y->column ? -1 : 1;
	return 0;
}

/* bh_config_load_buffer - parse, walk, resolve policies; NULL when anything was wrong */
struct bh_config *
bh_config_load_buffer(const char *name, const char *data, size_t len, struct bh_config_diags *diags)
{
	const struct bh_cnode *vals[BH_CFG_MAX_KEYS];
	struct bh_config *cfg = NULL;
	struct bh_cfgld ld;
	struct bh_ctree tree;
	size_t n0 = diags->n, i;
	const char *slash;

	memset(&ld, 0, sizeof(ld));
	ld.file = name;
	ld.diags = diags;
	if ((slash = strrchr(name, '/')) != NULL)
		ld.dir = bh_strndup(name, slash == name ? 1 : (size_t)(slash - name));
	if (bh_ctree_parse(&tree, name, data, len, diags) == -1)
		goto out;
	cfg = bh_config_defaults();
	cfg->path = bh_strdup(name);
	ld.cfg = cfg;
	ld.root = tree.root;
	if (tree.root != NULL && !bh_cnode_is_null(tree.root) && tree.root->type != BH_CN_MAP)
		expected(&ld, tree.root, "", "a mapping of sections (imap, redis, verp, ...)");
	else
		bh_cfg_walk(&ld, tree.root, NULL, "", top_keys, cfg, vals, NULL, NULL, NULL, 0);
	bh_cfg_policies_load(&ld);
out:
	bh_ctree_deinit(&tree);
	free(ld.dir);
	if (diags->n != n0) {
		/* stable: insertion order breaks ties */
		for (i = n0 + 1; i < diags->n; i++) {
			struct bh_config_diag t = diags->v[i];
			size_t j = i;

			while (j > n0 && diag_cmp(&diags->v[j - 1], &t) > 0) {
				diags->v[j] = diags->v[j - 1];
				j--;
			}
			diags->v[j] = t;
		}
		bh_config_free(&cfg);
	}
	return cfg;
}

/* bh_config_load - read the file and load it */
struct bh_config *
bh_config_load(const char *path, struct bh_config_diags *diags)
{
	struct bh_config *cfg;
	const char *err;
	char *data;
	size_t len;

	if (bh_read_file(path, BH_MAX_CONFIG_SIZE, &data, &len, &err) == -1) {
		bh_config_diag_add(diags, path, 0, 0, "cannot read: %s", err);
		return NULL;
	}
	cfg = bh_config_load_buffer(path, data, len, diags);
	free(data);
	return cfg;
}

/* The environment overrides, applied by bh_config_open (and only there) so that every command
 * sees the same configuration: a worker and the ops commands never look at different keys. */
static const char *const env_names[] = {"BOUNCER_REDIS_HOST", "BOUNCER_REDIS_PORT",
					"BOUNCER_REDIS_PREFIX"};

/* bh_config_apply_env - BOUNCER_REDIS_HOST, _PORT and _PREFIX over a loaded configuration */
int
bh_config_apply_env(struct bh_config *cfg, struct bh_config_diags *diags)
{
	const char *v, *err;
	long long n;
	int ret = 0;

	if ((v = getenv(env_names[1])) != NULL && v[0] != '\0') {
		if (bh_strtonum(v, 1, 65535, &n, &err) == -1) {
			bh_config_diag_add(diags, env_names[1], 0, 0, "%.64s: %s", v, err);
			ret = -1;
		} else {
			cfg->redis.port = (int)n;
		}
	}
	if ((v = getenv(env_names[0])) != NULL && v[0] != '\0') {
		if (strlen(v) > 255 || strpbrk(v, " \t\r\n") != NULL) {
			bh_config_diag_add(diags, env_names[0], 0, 0, "expected a host name");
			ret = -1;
		} else {
			free(cfg->redis.host);
			cfg->redis.host = bh_strdup(v);
			free(cfg->redis.socket);
			cfg->redis.socket = NULL;
		}
	}
	if ((v = getenv(env_names[2])) != NULL && v[0] != '\0') {
		if ((err = check_word(v)) != NULL) {
			bh_config_diag_add(diags, env_names[2], 0, 0, "expected %s", err);
			ret = -1;
		} else {
			free(cfg->redis.prefix);
			cfg->redis.prefix = bh_strdup(v);
		}
	}
	return ret;
}

/* bh_config_open - the configuration every command runs with: the file, then the environment */
struct bh_config *
bh_config_open(const char *opt, struct bh_config_diags *diags)
{
	struct bh_config *cfg = bh_config_load(bh_config_path(opt), diags);

	if (cfg != NULL && bh_config_apply_env(cfg, diags) == -1)
		bh_config_free(&cfg);
	return cfg;
}

/* free_secret - wipe and free a NUL-terminated secret */
static void
free_secret(char **p)
{
	if (*p != NULL)
		bh_secure_zero(*p, strlen(*p));
	bh_free_str(p);
}

/* bh_config_free - free everything, wiping secrets */
void
bh_config_free(struct bh_config **cfgp)
{
	struct bh_config *c;
	size_t i;

	if (cfgp == NULL || *cfgp == NULL)
		return;
	c = *cfgp;
	free(c->path);
	free(c->imap.host);
	free(c->imap.ca_file);
	free(c->imap.user);
	free_secret(&c->imap.password);
	free(c->imap.password_file);
	free(c->imap.password_env);
	free(c->imap.mailbox);
	free(c->imap.processed_folder);
	free(c->imap.quarantine_folder);
	free(c->imap.ignored_folder);
	free(c->redis.host);
	free(c->redis.socket);
	free(c->redis.user);
	free_secret(&c->redis.password);
	free(c->redis.password_file);
	free(c->redis.password_env);
	free(c->redis.sentinel_user);
	free_secret(&c->redis.sentinel_password);
	free(c->redis.sentinel_password_file);
	free(c->redis.sentinel_password_env);
	free(c->redis.prefix);
	for (size_t si = 0; si < c->redis.n_sentinels; si++)
		free(c->redis.sentinels[si]);
	free(c->redis.sentinels);
	free(c->redis.master_name);
	bh_secure_zero(&c->verp, sizeof(c->verp));
	for (i = 0; i < BH_VERP_MAX_KEYS; i++) {
		free(c->verp_key_file[i]);
		free(c->verp_key_env[i]);
	}
	for (i = 0; i < c->n_rules; i++)
		rule_free(&c->rules[i]);
	free(c->rules);
	bh_cfg_policy_free(&c->defaults);
	for (i = 0; i < c->n_lists; i++)
		bh_cfg_policy_free(&c->lists[i]);
	free(c->lists);
	for (i = 0; i < c->n_our_domains; i++)
		free(c->our_domains[i]);
	free(c->our_domains);
	free(c->log_format);
	free(c->log_priority_prefix);
	free(c->metrics_listen);
	free(c);
	*cfgp = NULL;
}

/* bh_config_mime_settings - the MIME walker's limits from limits: */
struct bh_mime_settings
bh_config_mime_settings(const struct bh_config *cfg)
{
	struct bh_mime_settings set = {cfg->limits.mime_depth, cfg->limits.mime_parts,
				       cfg->limits.header_line, cfg->limits.header_count};

	return set;
}

/* bh_config_classify_settings - the classifier's limits from limits: */
struct bh_classify_settings
bh_config_classify_settings(const struct bh_config *cfg)
{
	struct bh_classify_settings set = {cfg->limits.message_size, cfg->limits.recipients,
					   bh_config_mime_settings(cfg)};

	return set;
}

/* bh_config_loop_settings - our_domains, limits.hop_limit and whether VERP verifies */
struct bh_loop_settings
bh_config_loop_settings(const struct bh_config *cfg)
{
	struct bh_loop_settings set = {cfg->our_domains, cfg->n_our_domains, cfg->limits.hop_limit,
				       cfg->verp.n_keys > 0 || cfg->verp.format == BH_VERP_CLASSIC};

	return set;
}

/* bh_config_analyze_settings - verp: and the loop settings */
struct bh_analyze_settings
bh_config_analyze_settings(const struct bh_config *cfg)
{
	struct bh_analyze_settings set = {&cfg->verp, bh_config_loop_settings(cfg)};

	return set;
}

/* bh_config_path - the file to load: opt, else $BOUNCER_CONFIG, else /etc/bouncer/bouncer.yaml */
const char *
bh_config_path(const char *opt)
{
	const char *env = getenv("BOUNCER_CONFIG");

	if (opt != NULL)
		return opt;
	if (env != NULL && env[0] != '\0')
		return env;
	return "/etc/bouncer/bouncer.yaml";
}

/* ---------------------------------------------------------------- printing */

/* bh_cfg_dump_table - YAML for a table (secrets as "***") */
void
bh_cfg_dump_table(struct bh_buf *out, const struct bh_cfgkey *tab, const void *base, int indent)
{
	char buf[32];
	size_t i;

	for (i = 0; tab[i].name != NULL; i++) {
		const struct bh_cfgkey *k = &tab[i];
		const void *p = (const char *)base + k->off;

		if (k->type == BH_KT_FN) {
			if (k->dump != NULL)
				k->dump(out, base, indent);
			continue;
		}
		bh_buf_printf(out, "%*s%s:", indent, "", k->name);
		switch (k->type) {
		case BH_KT_STR:
			bh_buf_putc(out, ' ');
			bh_json_cstr(out, *(char *const *)p);
			break;
		case BH_KT_STRBUF:
			bh_buf_putc(out, ' ');
			bh_json_cstr(out, (const char *)p);
			break;
		case BH_KT_BOOL: bh_buf_puts(out, *(const bool *)p ? " true" : " false"); break;
		case BH_KT_NUM: bh_buf_printf(out, " %lld", load_num(p, k->size)); break;
		case BH_KT_DUR:
			bh_buf_printf(out, " %s",
				      bh_format_duration(load_num(p, 8) * 1000, buf, sizeof(buf)));
			break;
		case BH_KT_DUR_MS:
			bh_buf_printf(out, " %s",
				      bh_format_duration(load_num(p, 8), buf, sizeof(buf)));
			break;
		case BH_KT_SIZE:
			bh_buf_printf(
			    out, " %s",
			    bh_format_size((uint64_t)load_num(p, k->size), buf, sizeof(buf)));
			break;
		case BH_KT_ENUM:
			if (k->flags & BH_KF_ASSTR)
				bh_buf_printf(out, " %s", *(char *const *)p);
			else
				bh_buf_printf(out, " %s", k->words[load_num(p, k->size)]);
			break;
		case BH_KT_SECTION:
			bh_buf_putc(out, '\n');
			bh_cfg_dump_table(out, k->sub, p, indent + 2);
			continue;
		case BH_KT_SECRET:
			bh_buf_puts(out, *(char *const *)p != NULL ? " \"***\"" : " null");
			break;
		case BH_KT_FN: break;
		}
		bh_buf_putc(out, '\n');
	}
}

/* bh_config_dump - the effective configuration */
void
bh_config_dump(const struct bh_config *cfg, struct bh_buf *out)
{
	bh_cfg_dump_table(out, top_keys, cfg, 0);
}

/* ref_table - docs/configuration.md rows of one table */
static void
ref_table(struct bh_buf *out, const struct bh_cfgkey *tab, const char *prefix)
{
	size_t i;

	for (i = 0; tab[i].name != NULL; i++) {
		const struct bh_cfgkey *k = &tab[i];
		char *path = bh_cfg_join(prefix, k->name, strlen(k->name));

		if (k->type == BH_KT_SECTION)
			ref_table(out, k->sub, path);
		else if (k->doc != NULL)
			bh_buf_printf(out, "| `%s` | %s | %s%s%s | %s%s |\n", path, k->type_doc,
				      k->def != NULL ? "`" : "", k->def != NULL ? k->def : "–",
				      k->def != NULL ? "`" : "", k->doc,
				      (k->flags & BH_KF_REQUIRED) ? " (required)" : "");
		free(path);
	}
}

/* bh_config_reference - the table of docs/configuration.md */
void
bh_config_reference(struct bh_buf *out)
{
	bh_buf_puts(out, "| key | type | default | meaning |\n|---|---|---|---|\n");
	ref_table(out, top_keys, "");
	bh_buf_puts(
	    out, "| `rules[].id` | string | – | rule name, unique (required) |\n"
		 "| `rules[].status` | glob | – | status glob: `5.1.1`, `5.7.*`, `?.2.2` |\n"
		 "| `rules[].reply_code` | glob | – | SMTP reply code glob: `550`, `55?`, `5*` |\n"
		 "| `rules[].pattern` | regex | – | PCRE2 pattern over the diagnostic text |\n"
		 "| `rules[].reason` | reason | – | the reason this rule decides (required) |\n"
		 "| `rules[].whose` | recipient, sender, either, none | the reason's | "
		 "override whose failure it is |\n"
		 "| `rules.replace` | boolean | `false` | mapping form: drop the built-in "
		 "rules (`rules: {replace: true, add: [...]}`) |\n");
	bh_cfg_policy_reference(out);
}

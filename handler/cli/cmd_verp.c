/*
 * cmd_verp.c - `bouncer verp encode` and `bouncer verp decode`: make or check a VERP address.
 *
 * The VERP settings come from the configuration (-c FILE, $BOUNCER_CONFIG, then the default
 * path). --key-file FILE (repeatable; the first signs) replaces the configured keys; given
 * without -c and without $BOUNCER_CONFIG it also skips the configuration file altogether, so a
 * sender without a bouncer.yaml (or a test) needs nothing else. Key files hold the secret as
 * text; trailing CR and LF (the final line break) are not part of it, as in config.c.
 * --json: encode prints {"address", "list", "recipient" (the key form), "format"}; decode
 * prints its JSON object either way.
 * Exit status: 0 done (decode: valid), 1 decode: not valid, 64 usage, 65 encode: the input
 * cannot be encoded, 78 configuration or key problem.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "cli.h"
#include "config.h"
#include "util.h"
#include "verp_conf.h"

#define KEY_FILE_MAX 4096

struct verp_opts {
	const char *config;
	const char *list;
	const char *key_files[BH_VERP_MAX_KEYS];
	size_t n_key_files;
	const char *format, *prefix, *domain, *delimiters, *tag_bytes, *max_age, *max_local;
	const char *now;
	const char *address;
	bool json;
};

/* usage - print the synopsis and return EX_USAGE */
static int
usage(FILE *fp)
{
	fprintf(
	    fp,
	    "usage: bouncer verp encode --list LIST [options] [--json] ADDRESS\n"
	    "       bouncer verp decode [options] [--json] ADDRESS\n"
	    "options:\n"
	    "  --json               encode: print {\"address\",\"list\",\"recipient\",\"format\"}"
	    " (decode always prints JSON)\n"
	    "  -c FILE              configuration (default $BOUNCER_CONFIG, "
	    "/etc/bouncer/bouncer.yaml)\n"
	    "  --key-file FILE      secret key (repeatable, the first signs); overrides the "
	    "config's keys\n"
	    "  --format signed|classic, --prefix P, --domain D, --delimiters XY ('+=', '-='),\n"
	    "  --tag-bytes N, --max-age SECONDS, --max-local N   override the config\n"
	    "  --now SECONDS        the time to encode or verify at (default: now)\n");
	return fp == stdout ? BH_EX_OK : BH_EX_USAGE;
}

/* parse_args - options and the one ADDRESS; -1 on a usage error (printed) */
static int
parse_args(int argc, char **argv, bool encode, struct verp_opts *o)
{
	static const struct {
		const char *name;
		size_t off;
	} valued[] = {
	    {"--list", offsetof(struct verp_opts, list)},
	    {"--format", offsetof(struct verp_opts, format)},
	    {"--prefix", offsetof(struct verp_opts, prefix)},
	    {"--domain", offsetof(struct verp_opts, domain)},
	    {"--delimiters", offsetof(struct verp_opts, delimiters)},
	    {"--tag-bytes", offsetof(struct verp_opts, tag_bytes)},
	    {"--max-age", offsetof(struct verp_opts, max_age)},
	    {"--max-local", offsetof(struct verp_opts, max_local)},
	    {"--now", offsetof(struct verp_opts, now)},
	    {"-c", offsetof(struct verp_opts, config)},
	    {"--config", offsetof(struct verp_opts, config)},
	};
	int i, n_pos = 0;
	bool dashdash = false;
	size_t k;

	/* Options anywhere; "--" ends them (an ADDRESS may start with '-'). */
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *val = NULL;
		bool matched = false;

		if (dashdash || a[0] != '-' || a[1] == '\0') {
			if (n_pos++ == 0)
				o->address = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			dashdash = true;
			continue;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
			return usage(stdout), 1;
		if (strcmp(a, "--json") == 0) {
			o->json = true;
			continue;
		}
		for (k = 0; k < BH_NELEM(valued) + 1 && !matched; k++) {
			const char *name = k < BH_NELEM(valued) ? valued[k].name : "--key-file";
			size_t nl = strlen(name);

			if (strncmp(a, name, nl) != 0 || (a[nl] != '\0' && a[nl] != '='))
				continue;
			matched = true;
			if (a[nl] == '=')
				val = a + nl + 1;
			else if (i + 1 < argc)
				val = argv[++i];
			else {
				fprintf(stderr, "bouncer: verp: %s needs a value\n", name);
				return -1;
			}
			if (k == BH_NELEM(valued)) {
				if (o->n_key_files == BH_VERP_MAX_KEYS) {
					fprintf(stderr, "bouncer: verp: at most %d --key-file\n",
						BH_VERP_MAX_KEYS);
					return -1;
				}
				o->key_files[o->n_key_files++] = val;
			} else {
				*(const char **)((char *)o + valued[k].off) = val;
			}
		}
		if (!matched) {
			fprintf(stderr, "bouncer: verp: unknown option '%s'\n", a);
			return -1;
		}
	}
	if (n_pos != 1) {
		fprintf(stderr, "bouncer: verp: expected one ADDRESS\n");
		return -1;
	}
	if (encode && o->list == NULL) {
		fprintf(stderr, "bouncer: verp encode: --list LIST is required\n");
		return -1;
	}
	if (!encode && o->list != NULL) {
		fprintf(stderr, "bouncer: verp decode: --list is for encode\n");
		return -1;
	}
	return 0;
}

/* load_key_file - add the key in path to c; -1 with a message printed */
static int
load_key_file(struct bh_verp_conf *c, const char *path)
{
	const char *err;
	char *data;
	size_t len;
	int ret;

	if (bh_read_file(path, KEY_FILE_MAX, &data, &len, &err) == -1) {
		fprintf(stderr, "bouncer: verp: %s: %s\n", path, err);
		return -1;
	}
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r' || data[len - 1] == ' ' ||
			   data[len - 1] == '\t'))
		len--;
	ret = bh_verp_conf_add_key(c, NULL, data, len, &err);
	if (ret == -1)
		fprintf(stderr, "bouncer: verp: %s: %s\n", path, err);
	bh_secure_zero(data, len);
	free(data);
	return ret;
}

/* number - a strict number option into [min, max]; -1 with a message printed */
static int
number(const char *name, const char *s, long long min, long long max, long long *out)
{
	const char *err;

	if (bh_strtonum(s, min, max, out, &err) == -1) {
		fprintf(stderr, "bouncer: verp: %s %s: %s\n", name, s, err);
		return -1;
	}
	return 0;
}

/* build_conf - configuration, then the command-line overrides; an exit status, 0 on success */
static int
build_conf(const struct verp_opts *o, struct bh_verp_conf *c)
{
	const char *err;
	long long v;
	size_t i;

	/* Nothing secret to read (classic), or the secret given: no configuration needed. */
	if ((o->n_key_files > 0 || (o->format != NULL && strcmp(o->format, "classic") == 0)) &&
	    o->config == NULL &&
	    (getenv("BOUNCER_CONFIG") == NULL || getenv("BOUNCER_CONFIG")[0] == '\0')) {
		bh_verp_conf_defaults(c);
	} else {
		struct bh_config_diags diags = {0};
		struct bh_config *cfg = bh_config_open(o->config, &diags);

		if (cfg == NULL) {
			for (i = 0; i < diags.n; i++)
				fprintf(stderr, "%s:%u:%u: %s\n", diags.v[i].file, diags.v[i].line,
					diags.v[i].column, diags.v[i].message);
			if (diags.n == 0)
				fprintf(stderr, "bouncer: verp: cannot load %s\n",
					bh_config_path(o->config));
			bh_config_diags_deinit(&diags);
			return BH_EX_CONFIG;
		}
		*c = cfg->verp;
		bh_config_free(&cfg);
	}
	if (o->n_key_files > 0) {
		for (i = 0; i < BH_VERP_MAX_KEYS; i++)
			bh_secure_zero(&c->keys[i], sizeof(c->keys[i]));
		c->n_keys = 0;
		for (i = 0; i < o->n_key_files; i++)
			if (load_key_file(c, o->key_files[i]) == -1)
				return BH_EX_CONFIG;
	}
	if (o->format != NULL) {
		if (strcmp(o->format, "signed") == 0)
			c->format = BH_VERP_SIGNED;
		else if (strcmp(o->format, "classic") == 0)
			c->format = BH_VERP_CLASSIC;
		else {
			fprintf(stderr, "bouncer: verp: --format must be signed or classic\n");
			return BH_EX_USAGE;
		}
	}
	if (o->prefix != NULL) {
		if (strlen(o->prefix) >= sizeof(c->prefix)) {
			fprintf(stderr, "bouncer: verp: --prefix too long\n");
			return BH_EX_USAGE;
		}
		strcpy(c->prefix, o->prefix);
	}
	if (o->domain != NULL) {
		if (strlen(o->domain) >= sizeof(c->domain)) {
			fprintf(stderr, "bouncer: verp: --domain too long\n");
			return BH_EX_USAGE;
		}
		strcpy(c->domain, o->domain);
	}
	if (o->delimiters != NULL) {
		if (strlen(o->delimiters) != 2) {
			fprintf(stderr, "bouncer: verp: --delimiters takes two characters\n");
			return BH_EX_USAGE;
		}
		c->delim1 = o->delimiters[0];
		c->delim2 = o->delimiters[1];
	}
	if (o->tag_bytes != NULL) {
		if (number("--tag-bytes", o->tag_bytes, BH_VERP_MIN_TAG, BH_VERP_MAX_TAG, &v) == -1)
			return BH_EX_USAGE;
		c->tag_bytes = (unsigned)v;
	}
	if (o->max_age != NULL) {
		if (number("--max-age", o->max_age, 0, INT64_MAX, &v) == -1)
			return BH_EX_USAGE;
		c->max_age_s = v;
	}
	if (o->max_local != NULL) {
		if (number("--max-local", o->max_local, 32, 255, &v) == -1)
			return BH_EX_USAGE;
		c->max_local = (unsigned)v;
	}
	if (bh_verp_conf_check(c, &err) == -1) {
		fprintf(stderr, "bouncer: verp: %s\n", err);
		return BH_EX_CONFIG;
	}
	return 0;
}

/* bh_cmd_verp - see cli.h */
int
bh_cmd_verp(int argc, char **argv)
{
	struct verp_opts o = {0};
	struct bh_verp_conf c;
	char *list = NULL, *rcpt = NULL, *addr = NULL, *lname = NULL;
	const char *err;
	bool encode;
	long long now;
	int ret;

	memset(&c, 0, sizeof(c));
	if (argc < 2)
		return usage(stderr);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
		return usage(stdout);
	if (strcmp(argv[1], "encode") != 0 && strcmp(argv[1], "decode") != 0) {
		fprintf(stderr, "bouncer: verp: unknown subcommand '%s'\n", argv[1]);
		return usage(stderr);
	}
	encode = strcmp(argv[1], "encode") == 0;
	if ((ret = parse_args(argc - 1, argv + 1, encode, &o)) != 0)
		return ret == 1 ? BH_EX_OK : usage(stderr);
	now = bh_now();
	if (o.now != NULL && number("--now", o.now, 0, INT64_MAX, &now) == -1)
		return BH_EX_USAGE;
	if ((ret = build_conf(&o, &c)) != 0)
		goto out;
	if (encode) {
		/* List names match without regard to case, as in `suppression --list`. */
		lname = bh_strdup(o.list);
		bh_lower_ascii(lname);
		addr = bh_verp_encode(&c, lname, o.address, now, &err);
		if (addr == NULL) {
			fprintf(stderr, "bouncer: verp encode: %s\n", err);
			ret = err == bh_verp_err_no_key || strstr(err, "configured") != NULL
				  ? BH_EX_CONFIG
				  : BH_EX_DATAERR;
			goto out;
		}
		if (o.json) {
			struct bh_buf b;

			/* the recipient's key form, as `suppression add` would write it */
			if (bh_addr_normalize(o.address, strlen(o.address), &rcpt, &err) == -1)
				bh_fatal("verp encode: an encoded address does not normalize");
			bh_buf_init(&b);
			bh_buf_puts(&b, "{\"address\":");
			bh_json_cstr(&b, addr);
			bh_buf_puts(&b, ",\"list\":");
			bh_json_cstr(&b, lname);
			bh_buf_puts(&b, ",\"recipient\":");
			bh_json_cstr(&b, rcpt);
			bh_buf_printf(&b, ",\"format\":\"%s\"}\n",
				      c.format == BH_VERP_CLASSIC ? "classic" : "signed");
			fputs(b.data, stdout);
			bh_buf_deinit(&b);
		} else {
			printf("%s\n", addr);
		}
		ret = BH_EX_OK;
	} else {
		struct bh_buf b;

		bh_buf_init(&b);
		if (bh_verp_decode(&c, o.address, strlen(o.address), now, &list, &rcpt, &err) ==
		    0) {
			bh_buf_puts(&b, "{\"valid\":true,\"list\":");
			bh_json_cstr(&b, list);
			bh_buf_puts(&b, ",\"recipient\":");
			bh_json_cstr(&b, rcpt);
			ret = BH_EX_OK;
		} else {
			bh_buf_puts(&b, "{\"valid\":false,\"why\":");
			bh_json_cstr(&b, err);
			ret = err == bh_verp_err_no_key ? BH_EX_CONFIG : BH_EX_FAIL;
		}
		bh_buf_puts(&b, "}");
		printf("%s\n", b.data);
		bh_buf_deinit(&b);
	}
out:
	bh_verp_conf_wipe(&c);
	free(addr);
	free(list);
	free(rcpt);
	free(lname);
	return ret;
}

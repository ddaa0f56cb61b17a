/*
 * cmd_config.c - `bouncer config check [-c FILE] [--json]`: validate the configuration and print
 * the effective one (defaults applied, secrets as "***"), or every problem as FILE:LINE:COLUMN.
 * With --json, one object: {"path", "ok", "problems": [{file, line, column, message}],
 * "effective": the YAML text or null}. `bouncer config reference [--json]` prints the key table
 * of docs/configuration.md (from the key tables); --json wraps it as {"reference": TEXT}.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "util.h"

static const char synopsis[] = "usage: bouncer config check [-c FILE] [--json]\n"
			       "       bouncer config reference [--json]\n";

/* usage - print the synopsis of `config` on stderr; returns BH_EX_USAGE */
static int
usage(void)
{
	fputs(synopsis, stderr);
	return BH_EX_USAGE;
}

/* check_json - the result of config check as one JSON object on stdout */
static int
check_json(const char *path, const struct bh_config *cfg, const struct bh_config_diags *diags)
{
	struct bh_buf out, yaml;
	size_t i;

	bh_buf_init(&out);
	bh_buf_init(&yaml);
	bh_buf_puts(&out, "{\"path\":");
	bh_json_cstr(&out, path);
	bh_buf_printf(&out, ",\"ok\":%s,\"problems\":[", cfg != NULL ? "true" : "false");
	for (i = 0; i < diags->n; i++) {
		const struct bh_config_diag *d = &diags->v[i];

		bh_buf_puts(&out, i > 0 ? ",{\"file\":" : "{\"file\":");
		bh_json_cstr(&out, d->file);
		bh_buf_printf(&out, ",\"line\":%u,\"column\":%u,\"message\":", d->line, d->column);
		bh_json_cstr(&out, d->message);
		bh_buf_putc(&out, '}');
	}
	bh_buf_puts(&out, "],\"effective\":");
	if (cfg != NULL) {
		bh_config_dump(cfg, &yaml);
		bh_json_str(&out, yaml.data, yaml.len);
	} else {
		bh_buf_puts(&out, "null");
	}
	bh_buf_puts(&out, "}\n");
	fwrite(out.data, 1, out.len, stdout);
	bh_buf_deinit(&out);
	bh_buf_deinit(&yaml);
	if (fflush(stdout) != 0)
		return BH_EX_FAIL;
	return cfg != NULL ? BH_EX_OK : BH_EX_CONFIG;
}

/* config_check - load, then print the configuration or the problems (json: as one object) */
static int
config_check(const char *opt, bool json)
{
	struct bh_config_diags diags = {NULL, 0};
	const char *path = bh_config_path(opt);
	struct bh_config *cfg;
	struct bh_buf out;
	int ret;

	cfg = bh_config_open(opt, &diags);
	if (json) {
		ret = check_json(path, cfg, &diags);
		bh_config_free(&cfg);
		bh_config_diags_deinit(&diags);
		return ret;
	}
	if (cfg == NULL) {
		bh_config_diags_print(&diags, stderr);
		fprintf(stderr, "%s: %zu problem%s found\n", path, diags.n,
			diags.n == 1 ? "" : "s");
		bh_config_diags_deinit(&diags);
		return BH_EX_CONFIG;
	}
	bh_buf_init(&out);
	bh_buf_printf(&out, "# %s: OK (effective configuration, secrets shown as \"***\")\n", path);
	bh_config_dump(cfg, &out);
	fwrite(out.data, 1, out.len, stdout);
	bh_buf_deinit(&out);
	bh_config_free(&cfg);
	bh_config_diags_deinit(&diags);
	return fflush(stdout) == 0 ? BH_EX_OK : BH_EX_FAIL;
}

/* bh_cmd_config - `config check [-c FILE] [--json]` and `config reference [--json]`; returns
 * the exit status */
int
bh_cmd_config(int argc, char **argv)
{
	const char *opt = NULL;
	bool json = false;
	int i;

	if (argc < 2)
		return usage();
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(synopsis, stdout);
			return BH_EX_OK;
		}
	if (strcmp(argv[1], "check") != 0 && strcmp(argv[1], "reference") != 0)
		return usage();
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (strcmp(argv[1], "check") == 0 && strcmp(argv[i], "-c") == 0 &&
			 i + 1 < argc)
			opt = argv[++i];
		else if (strcmp(argv[1], "check") == 0 && strncmp(argv[i], "--config=", 9) == 0)
			opt = argv[i] + 9;
		else
			return usage();
	}
	if (strcmp(argv[1], "reference") == 0) {
		struct bh_buf out, text;

		bh_buf_init(&out);
		bh_buf_init(&text);
		bh_config_reference(&text);
		if (json) {
			bh_buf_puts(&out, "{\"reference\":");
			bh_json_str(&out, text.data, text.len);
			bh_buf_puts(&out, "}\n");
		} else {
			bh_buf_append(&out, text.data, text.len);
		}
		fwrite(out.data, 1, out.len, stdout);
		bh_buf_deinit(&out);
		bh_buf_deinit(&text);
		return fflush(stdout) == 0 ? BH_EX_OK : BH_EX_FAIL;
	}
	return config_check(opt, json);
}

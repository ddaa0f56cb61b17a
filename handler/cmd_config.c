/*
 * cmd_config.c - `bouncer config check [-c FILE]`: validate the configuration and print the
 * effective one (defaults applied, secrets as "***"), or every problem as FILE:LINE:COLUMN.
 * `bouncer config reference` prints the key table of docs/configuration.md (from the key tables).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "util.h"

/* usage - print the synopsis of `config` on stderr; returns BH_EX_USAGE */
static int
usage(void)
{
	fprintf(stderr, "usage: bouncer config check [-c FILE]\n"
			"       bouncer config reference\n");
	return BH_EX_USAGE;
}

/* config_check - load, then print the configuration or the problems */
static int
config_check(const char *opt)
{
	struct bh_config_diags diags = {NULL, 0};
	const char *path = bh_config_path(opt);
	struct bh_config *cfg;
	struct bh_buf out;

	cfg = bh_config_open(opt, &diags);
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

/* bh_cmd_config - `config check [-c FILE]` and `config reference`; returns the exit status */
int
bh_cmd_config(int argc, char **argv)
{
	const char *opt = NULL;
	int i;

	if (argc < 2)
		return usage();
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			printf("usage: bouncer config check [-c FILE]\n"
			       "       bouncer config reference\n");
			return BH_EX_OK;
		}
	if (strcmp(argv[1], "reference") == 0 && argc == 2) {
		struct bh_buf out;

		bh_buf_init(&out);
		bh_config_reference(&out);
		fwrite(out.data, 1, out.len, stdout);
		bh_buf_deinit(&out);
		return BH_EX_OK;
	}
	if (strcmp(argv[1], "check") != 0)
		return usage();
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			opt = argv[++i];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			opt = argv[i] + 9;
		else
			return usage();
	}
	return config_check(opt);
}

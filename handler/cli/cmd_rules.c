/*
 * cmd_rules.c - `bouncer rules dump` prints the built-in rules file (rules/builtin.yaml as
 * embedded at build time); `bouncer rules match TEXT` shows which rule decides a text, with the
 * reason, hard, whose and the evidence, so that a policy writer can try a reply before writing
 * a rule for it. Reads no message and no server.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "reason.h"
#include "rules.h"
#include "util.h"

/* usage - the synopsis, on fp */
static void
usage(FILE *fp)
{
	fprintf(fp, "usage: bouncer rules dump [--compiled [-c FILE]] [--json]\n"
		    "       bouncer rules match [-c FILE] [--status C.S.D] [--reply NNN]\n"
		    "                           [--stage CONN|HELO|MAIL|RCPT|DATA] [--delayed]\n"
		    "                           [--notice TEXT] [--json] TEXT\n"
		    "dump --json prints {\"rules\": TEXT}; match prints JSON either way\n");
}

/* json_str - s as a JSON string */
static void
json_str(const char *s)
{
	struct bh_buf b;

	bh_buf_init(&b);
	bh_json_str(&b, s, strlen(s));
	fputs(b.data, stdout);
	bh_buf_deinit(&b);
}

/* load_rules - the configuration's rules and the built-in ones; NULL after a message */
static struct bh_rules *
load_rules(const char *cfile, struct bh_config **cfg_r)
{
	struct bh_config *cfg;
	struct bh_rules *rules;
	const char *err;

	if (cfile != NULL) {
		struct bh_config_diags diags;

		memset(&diags, 0, sizeof(diags));
		if ((cfg = bh_config_open(cfile, &diags)) == NULL) {
			bh_config_diags_print(&diags, stderr);
			bh_config_diags_deinit(&diags);
			return NULL;
		}
		bh_config_diags_deinit(&diags);
	} else {
		cfg = bh_config_defaults();
	}
	rules = bh_rules_new(cfg->rules, cfg->n_rules, cfg->rules_replace_builtin,
			     cfg->limits.regex_match_limit, &err);
	if (rules == NULL) {
		fprintf(stderr, "bouncer: rules: %s\n", err);
		bh_config_free(&cfg);
		return NULL;
	}
	*cfg_r = cfg;
	return rules;
}

/* put_text - p[0..len) on stdout, as is or (json) as {"rules": TEXT}; an exit status */
static int
put_text(const char *p, size_t len, bool json)
{
	struct bh_buf b;
	int ret;

	if (!json)
		return fwrite(p, 1, len, stdout) == len && fflush(stdout) == 0 ? BH_EX_OK
									       : BH_EX_FAIL;
	bh_buf_init(&b);
	bh_buf_puts(&b, "{\"rules\":");
	bh_json_str(&b, p, len);
	bh_buf_puts(&b, "}\n");
	ret = fwrite(b.data, 1, b.len, stdout) == b.len && fflush(stdout) == 0 ? BH_EX_OK
									       : BH_EX_FAIL;
	bh_buf_deinit(&b);
	return ret;
}

/* rules_dump - the rules file as embedded, or (--compiled) every row as the engine has it */
static int
rules_dump(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"compiled", no_argument, NULL, 'C'},
	    {"help", no_argument, NULL, 'h'},
	    {"json", no_argument, NULL, 'j'},
	    {NULL, 0, NULL, 0},
	};
	const char *cfile = NULL, *data;
	struct bh_config *cfg = NULL;
	struct bh_rules *rules;
	struct bh_buf b;
	bool compiled = false, json = false;
	size_t len;
	int ch, ret;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': cfile = optarg; break;
		case 'C': compiled = true; break;
		case 'j': json = true; break;
		case 'h': usage(stdout); return BH_EX_OK;
		default: usage(stderr); return BH_EX_USAGE;
		}
	}
	if (optind != argc || (cfile != NULL && !compiled)) {
		usage(stderr);
		return BH_EX_USAGE;
	}
	if (!compiled) {
		data = bh_rules_builtin(&len);
		return put_text(data, len, json);
	}
	if ((rules = load_rules(cfile, &cfg)) == NULL)
		return BH_EX_CONFIG;
	bh_buf_init(&b);
	bh_rules_dump_compiled(rules, &b);
	ret = put_text(b.data, b.len, json);
	bh_buf_deinit(&b);
	bh_rules_free(&rules);
	bh_config_free(&cfg);
	return ret;
}

/* rules_match - decide one text as the engine would for a recipient */
static int
rules_match(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"status", required_argument, NULL, 's'},
	    {"reply", required_argument, NULL, 'r'},
	    {"stage", required_argument, NULL, 'S'},
	    {"delayed", no_argument, NULL, 'd'},
	    {"notice", required_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},
	    {"json", no_argument, NULL, 'j'}, /* the answer is JSON either way */
	    {NULL, 0, NULL, 0},
	};
	const char *cfile = NULL, *status = "", *reply = "", *stage = "", *notice = NULL;
	struct bh_config *cfg = NULL;
	struct bh_rules *rules;
	struct bh_rules_result res;
	struct bh_evidence ev[2];
	struct bh_rules_input in;
	bool delayed = false;
	size_t n = 0;
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': cfile = optarg; break;
		case 's': status = optarg; break;
		case 'r': reply = optarg; break;
		case 'S': stage = optarg; break;
		case 'd': delayed = true; break;
		case 'n': notice = optarg; break;
		case 'j': break;
		case 'h': usage(stdout); return BH_EX_OK;
		default: usage(stderr); return BH_EX_USAGE;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return BH_EX_USAGE;
	}
	if ((rules = load_rules(cfile, &cfg)) == NULL)
		return BH_EX_CONFIG;
	ev[n++] = (struct bh_evidence){BH_EV_DIAGNOSTIC, argv[optind], strlen(argv[optind])};
	if (notice != NULL)
		ev[n++] = (struct bh_evidence){BH_EV_NOTICE, notice, strlen(notice)};
	in = (struct bh_rules_input){status, reply, stage, ev, n, delayed, !delayed};
	bh_rules_decide_ev(rules, &in, &res);
	printf("{\"reason\":");
	json_str(bh_reason_name(res.reason));
	printf(",\"hard\":%s,\"whose\":", bh_reason_hard(res.reason) ? "true" : "false");
	json_str(bh_whose_name(res.whose));
	printf(",\"rule\":");
	json_str(res.rule);
	printf(",\"evidence\":");
	json_str(res.evidence);
	printf("}\n");
	bh_rules_free(&rules);
	bh_config_free(&cfg);
	return BH_EX_OK;
}

/* bh_cmd_rules - `rules dump` and `rules match` */
int
bh_cmd_rules(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? BH_EX_USAGE : BH_EX_OK;
	}
	if (strcmp(argv[1], "dump") == 0)
		return rules_dump(argc - 1, argv + 1);
	if (strcmp(argv[1], "match") == 0)
		return rules_match(argc - 1, argv + 1);
	fprintf(stderr, "bouncer: rules: unknown subcommand '%s'\n", argv[1]);
	usage(stderr);
	return BH_EX_USAGE;
}

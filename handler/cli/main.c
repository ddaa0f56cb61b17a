/*
 * main.c - the `bouncer` command: dispatch to a subcommand.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *help;
} commands[] = {
    {"classify", bh_cmd_classify,
     "classify [--mbox] PATH...   classify bounces offline (JSON Lines)"},
    {"config", bh_cmd_config, "config check [-c FILE]       validate and print the configuration"},
    {"verp", bh_cmd_verp, "verp encode|decode ...       make or check VERP addresses"},
    {"run", bh_cmd_run, "run [-c FILE] [--dry-run]    drain the bounce mailbox forever"},
    {"once", bh_cmd_run, "once [-c FILE] [--dry-run]   drain the bounce mailbox, then exit"},
    {"health", bh_cmd_health, "health [-c FILE]             exit 0 when IMAP and Redis answer"},
    {"suppression", bh_cmd_suppression, "suppression check|show|list|add|remove|export|import ..."},
    {"explain", bh_cmd_explain,
     "explain ADDRESS              the events behind an address's state"},
    {"events", bh_cmd_events, "events tail [-f]             the audit event stream"},
    {"stats", bh_cmd_stats, "stats                        counts per list and reason"},
    {"reasons", bh_cmd_reasons,
     "reasons [--json]             every reason word, its group, hard, whose"},
    {"rules", bh_cmd_rules,
     "rules dump|match TEXT        the built-in rules; which rule decides a text"},
};

/* usage - the list of commands, on fp (stdout for help, stderr for a mistake) */
static void
usage(FILE *fp)
{
	size_t i;

	fprintf(fp, "usage: bouncer COMMAND [ARGS...]\n\ncommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(fp, "  %s\n", commands[i].help);
	fprintf(fp, "\nEvery command that needs a configuration takes -c FILE (default: "
		    "$BOUNCER_CONFIG, then /etc/bouncer/bouncer.yaml).\n");
}

/* main - dispatch to the subcommand named by argv[1]; its result is the exit status */
int
main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return BH_EX_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return BH_EX_OK;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("bouncer %s\n", BH_VERSION);
		return BH_EX_OK;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "bouncer: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return BH_EX_USAGE;
}

/*
 * cmd_run.c - placeholder until the module lands.
 */
#include <stdio.h>

#include "cli.h"

int
bh_cmd_run(int argc, char **argv)
{
	(void)argc;
	fprintf(stderr, "bouncer: %s: not implemented yet\n", argv[0]);
	return BH_EX_SOFTWARE;
}

int
bh_cmd_health(int argc, char **argv)
{
	(void)argc;
	fprintf(stderr, "bouncer: %s: not implemented yet\n", argv[0]);
	return BH_EX_SOFTWARE;
}

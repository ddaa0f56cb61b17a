/*
 * cli.h - the `bouncer` subcommands. Each takes the arguments after its name (argv[0] is the
 * subcommand's name) and returns the process exit status (sysexits.h codes for usage and config
 * errors: 64 EX_USAGE, 78 EX_CONFIG).
 */
#ifndef BH_CLI_H
#define BH_CLI_H

#define BH_EX_OK       0
#define BH_EX_FAIL     1
#define BH_EX_USAGE    64
#define BH_EX_DATAERR  65
#define BH_EX_NOINPUT  66
#define BH_EX_UNAVAIL  69
#define BH_EX_SOFTWARE 70
#define BH_EX_TEMPFAIL 75
#define BH_EX_CONFIG   78

int bh_cmd_classify(int argc, char **argv);    /* cmd_classify.c */
int bh_cmd_config(int argc, char **argv);      /* cmd_config.c: config check */
int bh_cmd_verp(int argc, char **argv);	       /* cmd_verp.c: verp encode|decode */
int bh_cmd_suppression(int argc, char **argv); /* cmd_ops.c */
int bh_cmd_explain(int argc, char **argv);     /* cmd_ops.c */
int bh_cmd_events(int argc, char **argv);      /* cmd_ops.c */
int bh_cmd_stats(int argc, char **argv);       /* cmd_ops.c */
int bh_cmd_run(int argc, char **argv);	       /* cmd_run.c: run and once */
int bh_cmd_health(int argc, char **argv);      /* cmd_run.c */
int bh_cmd_rules(int argc, char **argv);       /* cmd_rules.c: rules dump|match */
int bh_cmd_reasons(int argc, char **argv);     /* cmd_reasons.c */

#endif

/*
 * config.h - bouncer.yaml: load, validate, and hold the effective configuration.
 *
 * Config is data passed explicitly: commands load one struct bh_config and hand pointers to its
 * parts (struct bh_imap_conf, ...) to the modules. Nothing here is global. Secrets (passwords,
 * VERP keys) are read from files or the environment named in the YAML, never from the YAML.
 */
#ifndef BH_CONFIG_H
#define BH_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "analyze.h"
#include "classify.h"
#include "ctree.h"
#include "loop.h"
#include "mime.h"
#include "policy.h"
#include "reason.h"
#include "rules.h"
#include "util.h"
#include "verdict.h"
#include "verp_conf.h"

enum bh_tls_mode { BH_TLS_TLS = 0, BH_TLS_STARTTLS, BH_TLS_NONE };
enum bh_auth_mech { BH_AUTH_LOGIN = 0, BH_AUTH_PLAIN };

struct bh_imap_conf {
	char *host;
	int port; /* default 993 for tls, 143 otherwise */
	enum bh_tls_mode tls;
	char *ca_file;	  /* NULL: system store */
	bool verify_cert; /* default true */
	char *user;
	char *password;	     /* resolved secret; never printed */
	char *password_file; /* where it came from (one of these two), for display */
	char *password_env;
	enum bh_auth_mech auth;
	char *mailbox;		 /* "INBOX" */
	char *processed_folder;	 /* "bouncer/processed" */
	char *quarantine_folder; /* "bouncer/quarantine" */
	char *ignored_folder;	 /* "bouncer/ignored" */
	unsigned batch_size;
	bool idle;
	int64_t poll_interval_s;
	int64_t timeout_s;
};

struct bh_redis_conf {
	char *host; /* NULL when socket is set */
	int port;
	char *socket;
	char *user;	     /* ACL user, NULL: none */
	char *password;	     /* resolved secret; never printed; NULL: no AUTH */
	char *password_file; /* where it came from, for display */
	char *password_env;
	int db;
	char *prefix; /* key prefix, "bouncer" */
	int64_t connect_timeout_ms;
	int64_t command_timeout_ms;
	int64_t stream_maxlen; /* events stream cap (XADD MAXLEN ~) */
	char **sentinels;      /* "host:port" of Redis Sentinels; n_sentinels 0: none */
	size_t n_sentinels;
	char *master_name;	      /* the master's name at the sentinels (required with them) */
	char *sentinel_user;	      /* ACL user at the sentinels, NULL: none */
	char *sentinel_password;      /* resolved secret; never printed; NULL: no AUTH */
	char *sentinel_password_file; /* where it came from, for display */
	char *sentinel_password_env;
	int wait_replicas; /* WAIT for this many replicas after each applied batch */
};

/* One worker per mailbox at a time: a Redis lease per (IMAP host, user, mailbox). */
struct bh_lease_conf {
	bool enabled;  /* default false */
	int64_t ttl_s; /* lease lifetime; renewed every ttl/3; default 30 */
};

/* Limits (bh_limits.h has the defaults). */
struct bh_limits_conf {
	size_t message_size;
	unsigned mime_depth;
	unsigned mime_parts;
	size_t header_line;
	unsigned header_count;
	unsigned recipients;
	unsigned hop_limit;
	uint32_t regex_match_limit;
};

struct bh_config {
	char *path; /* where it was loaded from */
	struct bh_imap_conf imap;
	struct bh_redis_conf redis;
	struct bh_lease_conf lease;
	struct bh_verp_conf verp;
	char *verp_key_file[BH_VERP_MAX_KEYS]; /* where verp.keys[i] came from (file or env) */
	char *verp_key_env[BH_VERP_MAX_KEYS];
	struct bh_rule_conf *rules;
	size_t n_rules;
	bool rules_replace_builtin; /* rules: {replace: true} drops the built-in table */
	struct bh_list_policy defaults;
	struct bh_list_policy *lists;
	size_t n_lists;
	enum bh_unknown_list unknown_list;
	struct bh_limits_conf limits;
	char **our_domains; /* domains whose Message-IDs / From are ours (loops) */
	size_t n_our_domains;
	char *log_format;	   /* "json" or "logfmt" */
	char *log_priority_prefix; /* "auto", "always" or "never" */
	char *metrics_listen;	   /* "127.0.0.1:9356", NULL: off */
};

/* bh_config_load_buffer - the same as bh_config_load for a file already read: name is used in
 * diagnostics and to resolve relative paths (its directory). data need not be NUL-terminated.
 * Side-effect free (reads only the secret and CA files named), so a reload may call it at any
 * time and keep the old config when it fails. */
struct bh_config *bh_config_load_buffer(const char *name, const char *data, size_t len,
					struct bh_config_diags *diags);
/* bh_config_load - load and validate path. Returns a new config (free with bh_config_free), or
 * NULL with every problem appended to diags (free with bh_config_diags_deinit). */
struct bh_config *bh_config_load(const char *path, struct bh_config_diags *diags);
/* bh_config_apply_env - apply the environment overrides BOUNCER_REDIS_HOST (replaces a
 * socket), BOUNCER_REDIS_PORT and BOUNCER_REDIS_PREFIX, each when set and not empty, over a
 * loaded configuration. 0, or -1 with every bad value appended to diags (file: the variable's
 * name, line 0); the good ones are applied either way. */
int bh_config_apply_env(struct bh_config *cfg, struct bh_config_diags *diags);
/* bh_config_open - what every command that needs a configuration calls: load
 * bh_config_path(opt), then bh_config_apply_env. NULL with diags filled when either fails. */
struct bh_config *bh_config_open(const char *opt, struct bh_config_diags *diags);
/* bh_config_defaults - a config with every default applied and no file (for tests and for
 * `classify`, which runs without a config). */
struct bh_config *bh_config_defaults(void);
void bh_config_free(struct bh_config **cfg);
/* bh_config_policy - the policy of a list: its own, or defaults when unknown. Never NULL
 * (bh_policy_lookup over bh_config_policy_settings). */
const struct bh_list_policy *bh_config_policy(const struct bh_config *cfg, const char *list,
					      bool *known_r);

/* The settings of the core modules, from cfg: each module owns its struct (mime.h, classify.h,
 * loop.h, analyze.h, policy.h), the configuration only fills it. What they point to is borrowed
 * from cfg and lives as long as it. */
struct bh_mime_settings bh_config_mime_settings(const struct bh_config *cfg);
struct bh_classify_settings bh_config_classify_settings(const struct bh_config *cfg);
struct bh_loop_settings bh_config_loop_settings(const struct bh_config *cfg);
struct bh_analyze_settings bh_config_analyze_settings(const struct bh_config *cfg);
struct bh_policy_settings bh_config_policy_settings(const struct bh_config *cfg);

/* bh_config_dump - append the effective configuration as YAML (defaults applied, secrets shown
 * as "***", lists printed as their differences from defaults). */
void bh_config_dump(const struct bh_config *cfg, struct bh_buf *out);
/* bh_config_reference - append the key reference of docs/configuration.md (Markdown rows). */
void bh_config_reference(struct bh_buf *out);

/* bh_parse_duration - "45s", "30m", "12h", "15d", "2w", "500ms" or "0" to milliseconds.
 * Returns 0, or -1 with *error_r ("invalid", "too large"). */
int bh_parse_duration(const char *s, int64_t *ms_r, const char **error_r);
/* bh_parse_size - "512KB", "25MB", "1GB" (1024-based; B, KB, MB, GB, TB, any case) or a plain
 * number of bytes. Returns 0, or -1 with *error_r. */
int bh_parse_size(const char *s, uint64_t *bytes_r, const char **error_r);
/* bh_format_duration - ms in the largest exact unit ("15d", "90s", "0"); buf of 32 bytes. */
const char *bh_format_duration(int64_t ms, char *buf, size_t size);
/* bh_format_size - bytes in the largest exact unit ("25MB"); buf of 32 bytes. */
const char *bh_format_size(uint64_t bytes, char *buf, size_t size);

/* bh_config_path - the config file to use: opt when set, else $BOUNCER_CONFIG, else
 * /etc/bouncer/bouncer.yaml. Static or borrowed. */
const char *bh_config_path(const char *opt);

#endif

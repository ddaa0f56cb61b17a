/*
 * config.c - placeholder: defaults only, until the YAML loader lands.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

static void
policy_defaults(struct bh_list_policy *p)
{
	int r;

	memset(p, 0, sizeof(*p));
	for (r = 0; r < BH_R_COUNT; r++) {
		struct bh_policy_action *a = &p->by_reason[r];

		switch (bh_reason_group((enum bh_reason)r)) {
		case BH_G_HARD:
		case BH_G_COMPLAINT:
			a->kind = BH_POL_SUPPRESS;
			break;
		case BH_G_SOFT:
			a->kind = BH_POL_COUNT;
			a->threshold = 3;
			a->window_s = 15 * 86400;
			a->duration_s = 30 * 86400;
			break;
		case BH_G_SENDER:
			a->kind = BH_POL_ALERT;
			break;
		default:
			a->kind = BH_POL_IGNORE;
			break;
		}
	}
	for (r = 0; r < BH_LOOP_COUNT; r++)
		p->loop[r].kind = BH_POL_IGNORE;
	p->sender_alert_threshold = 50;
	p->sender_alert_window_s = 3600;
}

struct bh_config *
bh_config_defaults(void)
{
	struct bh_config *c = bh_calloc(1, sizeof(*c));

	c->imap.host = bh_strdup("127.0.0.1");
	c->imap.port = 993;
	c->imap.verify_cert = true;
	c->imap.mailbox = bh_strdup("INBOX");
	c->imap.processed_folder = bh_strdup("bouncer/processed");
	c->imap.quarantine_folder = bh_strdup("bouncer/quarantine");
	c->imap.ignored_folder = bh_strdup("bouncer/ignored");
	c->imap.batch_size = BH_DEF_BATCH_SIZE;
	c->imap.idle = true;
	c->imap.poll_interval_s = 60;
	c->imap.timeout_s = 60;
	c->redis.host = bh_strdup("127.0.0.1");
	c->redis.port = 6379;
	c->redis.prefix = bh_strdup("bouncer");
	c->redis.connect_timeout_ms = 2000;
	c->redis.command_timeout_ms = 5000;
	c->redis.stream_maxlen = 1000000;
	bh_verp_conf_defaults(&c->verp);
	policy_defaults(&c->defaults);
	c->limits.message_size = BH_DEF_MESSAGE_SIZE;
	c->limits.mime_depth = BH_DEF_MIME_DEPTH;
	c->limits.mime_parts = BH_DEF_MIME_PARTS;
	c->limits.header_line = BH_DEF_HEADER_LINE;
	c->limits.header_count = BH_DEF_HEADER_COUNT;
	c->limits.recipients = BH_DEF_RECIPIENTS;
	c->limits.hop_limit = BH_DEF_HOP_LIMIT;
	c->limits.regex_match_limit = BH_DEF_REGEX_MATCH_LIMIT;
	c->log_format = bh_strdup("json");
	return c;
}

struct bh_config *
bh_config_load(const char *path, struct bh_config_diags *diags)
{
	(void)path;
	(void)diags;
	return bh_config_defaults();
}

void
bh_config_free(struct bh_config **cfg)
{
	struct bh_config *c;

	if (cfg == NULL || *cfg == NULL)
		return;
	c = *cfg;
	free(c->imap.host);
	free(c->imap.mailbox);
	free(c->imap.processed_folder);
	free(c->imap.quarantine_folder);
	free(c->imap.ignored_folder);
	free(c->redis.host);
	free(c->redis.prefix);
	free(c->log_format);
	bh_secure_zero(&c->verp, sizeof(c->verp));
	free(c);
	*cfg = NULL;
}

void
bh_config_diags_deinit(struct bh_config_diags *d)
{
	(void)d;
}

const struct bh_list_policy *
bh_config_policy(const struct bh_config *cfg, const char *list, bool *known_r)
{
	(void)list;
	if (known_r != NULL)
		*known_r = false;
	return &cfg->defaults;
}

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

/*
 * verp.c - placeholder until the VERP module lands.
 */
#include "verp.h"

#include <string.h>

void
bh_verp_conf_defaults(struct bh_verp_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->format = BH_VERP_SIGNED;
	strcpy(c->prefix, "bounces");
	c->delim1 = '+';
	c->delim2 = '=';
	c->max_age_s = 60 * 86400;
	c->tag_bytes = 8;
}

char *
bh_verp_encode(const struct bh_verp_conf *c, const char *list, const char *recipient,
	       int64_t now, const char **error_r)
{
	(void)c, (void)list, (void)recipient, (void)now;
	*error_r = "not implemented";
	return NULL;
}

int
bh_verp_decode(const struct bh_verp_conf *c, const char *addr, size_t len, int64_t now,
	       char **list_r, char **recipient_r, const char **error_r)
{
	(void)c, (void)addr, (void)len, (void)now, (void)list_r, (void)recipient_r;
	*error_r = "not implemented";
	return -1;
}

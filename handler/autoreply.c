/*
 * autoreply.c - placeholder: RFC 3834 Auto-Submitted only, until the module lands.
 */
#include "autoreply.h"

#include <strings.h>

bool
bh_autoreply_detect(const struct bh_envelope *env, const char *body, size_t body_len,
		    const char **why_r)
{
	(void)body, (void)body_len;
	if (env->auto_submitted != NULL && strncasecmp(env->auto_submitted, "auto-replied", 12) == 0) {
		*why_r = "Auto-Submitted: auto-replied";
		return true;
	}
	return false;
}

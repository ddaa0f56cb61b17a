/*
 * manual.c - an operator's changes: add, remove and import a suppression, each with its event
 * (manual.lua), and the reason the operator gave (--why).
 */
#include <stdlib.h>
#include <string.h>

#include "bh_limits.h"
#include "manual_proto.h"
#include "store_int.h"

/* manual - run the manual script for add, remove or import (import: add unless suppressed
 * already); reason and source go into the suppression and its event */
static int
manual(struct bh_store *s, const char *op, const char *address, const char *list_arg,
       const char *why, int64_t duration_s, const char *reason, const char *source,
       const char **error_r)
{
	bool add = strcmp(op, "remove") != 0;
	struct args keys = {0}, argv = {0};
	struct bh_st_resp *sup, *ev;
	struct bh_st_pack k;
	char *addr = NULL;
	int64_t now = bh_now();
	redisReply *r = NULL;
	int ret = -1;
	char *list = bh_st_list_norm(list_arg);
	bool have_list = list != NULL;
	char *user;
	size_t len;

	bh_st_pack_init(&k, &bh_manual_msg_proto);
	if (bh_st_normalize(s, address, &addr, error_r) == -1)
		goto out;
	if (why == NULL || why[0] == '\0') {
		bh_st_set_err(s, error_r, "a manual change needs a reason (--why)");
		goto out;
	}
	sup = bh_st_pairs(&k, BH_MANUAL_MSG_A_supf);
	bh_st_pair(sup, "address", addr);
	bh_st_pair(sup, "list", have_list ? list : "");
	bh_st_pair(sup, "reason", reason);
	bh_st_pair(sup, "class", "manual");
	bh_st_pair(sup, "source", source);
	bh_st_pair_cut(sup, "why", why, BH_MAX_DIAGNOSTIC);
	bh_st_pair(sup, "message_id", "");
	bh_st_pair(sup, "stable_id", "");
	bh_st_pair(sup, "status", "");
	bh_st_pair(sup, "rule", "");
	ev = bh_st_pairs(&k, BH_MANUAL_MSG_A_ev);
	bh_st_pair(ev, "kind",
		   strcmp(op, "import") == 0 ? "import" : (add ? "manual_add" : "manual_remove"));
	bh_st_pair(ev, "address", addr);
	bh_st_pair(ev, "list", have_list ? list : "");
	bh_st_pair(ev, "reason", reason);
	bh_st_pair(ev, "outcome", add ? "suppress" : "unsuppress");
	bh_st_pair_cut(ev, "why", why, BH_MAX_DIAGNOSTIC);
	bh_st_pair(ev, "rules_version", s->rules_version);
	user = bh_operator_name();
	bh_st_pair(ev, "user", user);
	free(user);

	bh_st_key(&k, BH_MANUAL_MSG_K_sup, bh_st_key_sup(s, addr, have_list ? list : NULL));
	bh_st_key(&k, BH_MANUAL_MSG_K_soft, bh_st_key_soft(s, addr, have_list ? list : NULL));
	bh_st_keyf(&k, BH_MANUAL_MSG_K_evidx, "%s:ev:%s", s->tag, addr);
	bh_st_keyf(&k, BH_MANUAL_MSG_K_idx, "%s:supidx:%s", s->tag, addr);
	bh_st_keyf(&k, BH_MANUAL_MSG_K_events, "%s:events", s->tag);
	bh_st_keyf(&k, BH_MANUAL_MSG_K_stats, "%s:stats:%lld", s->tag,
		   (long long)(now - now % BH_ST_STATS_BUCKET_S));
	bh_st_put(&k, BH_MANUAL_MSG_A_op, op);
	bh_st_putf(&k, BH_MANUAL_MSG_A_now, "%lld", (long long)now);
	bh_st_putf(&k, BH_MANUAL_MSG_A_maxlen, "%lld", (long long)bh_st_maxlen(s));
	bh_st_putf(&k, BH_MANUAL_MSG_A_duration, "%lld", (long long)duration_s);
	bh_st_put(&k, BH_MANUAL_MSG_A_list, have_list ? list : "");
	bh_st_putf(&k, BH_MANUAL_MSG_A_sfield, "%s\t%s\t%s", have_list ? list : "-", reason,
		   add ? "suppress" : "unsuppress");
	bh_st_emit(&k, &keys, &argv);
	r = bh_st_evalsha(s, s->manual_sha, bh_st_manual_lua(&len), &keys, &argv, error_r);
	if (r == NULL)
		goto out;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_INTEGER) {
		bh_st_set_err(s, error_r, "redis: manual change: %.200s",
			      r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		goto out;
	}
	ret = (int)r->element[0]->integer;
out:
	if (r != NULL)
		freeReplyObject(r);
	bh_st_pack_deinit(&k);
	bh_st_args_deinit(&keys);
	bh_st_args_deinit(&argv);
	free(addr);
	free(list);
	return ret;
}

/* bh_store_add - suppress address by hand (list NULL: global; duration_s 0: forever); 0 or -1 */
int
bh_store_add(struct bh_store *s, const char *address, const char *list, const char *why,
	     int64_t duration_s, const char **error_r)
{
	if (duration_s < 0) {
		bh_st_set_err(s, error_r, "negative duration");
		return -1;
	}
	return manual(s, "add", address, list, why, duration_s, "manual", "manual", error_r) == -1
		   ? -1
		   : 0;
}

/* bh_store_remove - lift a suppression by hand: 1 removed, 0 there was none, -1 error */
int
bh_store_remove(struct bh_store *s, const char *address, const char *list, const char *why,
		const char **error_r)
{
	return manual(s, "remove", address, list, why, 0, "manual", "manual", error_r);
}

/* bh_store_import - suppress address unless it already is (an import: source "import") */
int
bh_store_import(struct bh_store *s, const char *address, const char *list, const char *reason,
		const char *why, int64_t duration_s, const char **error_r)
{
	if (duration_s < 0) {
		bh_st_set_err(s, error_r, "negative duration");
		return -1;
	}
	return manual(s, "import", address, list, why, duration_s,
		      reason != NULL && reason[0] != '\0' ? reason : "manual", "import", error_r);
}

/*
 * apply.c - apply classified messages: one apply.lua call per message, pipelined, atomic and
 * idempotent (store.h). Trusts the verdict and decisions it is handed (built by our own parser
 * and policy: the decision's address is in key form, its policy the list's) but cuts untrusted
 * text (diagnostics) to BH_MAX_DIAGNOSTIC before it goes into an event. Keys that do not apply
 * (no address, no sender-side failure, no repetition, no lease) are not sent at all.
 */
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "apply_proto.h"
#include "bh_limits.h"
#include "store_int.h"

/* item_errs_clear - free the per-item error texts of the last apply */
static void
item_errs_clear(struct bh_store *s)
{
	size_t i;

	for (i = 0; i < s->n_item_errs; i++)
		free(s->item_errs[i]);
	free(s->item_errs);
	s->item_errs = NULL;
	s->n_item_errs = 0;
}

/* item_err - keep a copy of an error text until the next apply */
static const char *
item_err(struct bh_store *s, const char *text)
{
	s->item_errs = bh_reallocarray(s->item_errs, s->n_item_errs + 1, sizeof(char *));
	s->item_errs[s->n_item_errs] = bh_printable(text, strlen(text), 300);
	return s->item_errs[s->n_item_errs++];
}

/* bh_store_is_confirmed - does Redis hold its outcome (applied now, or before: a duplicate)? */
bool
bh_store_is_confirmed(const struct bh_store_item *it)
{
	return it->status == BH_STORE_APPLIED || it->status == BH_STORE_DUPLICATE;
}

/* action_text - the policy action in words: "suppress", "suppress for 86400s", "count 3 in
 * 1296000s for 2592000s", "ignore", "alert" (b emptied first) */
static void
action_text(struct bh_buf *b, const struct bh_policy_action *a)
{
	char num[BH_ST_NUM_LEN];

	b->len = 0;
	switch (a->kind) {
	case BH_POL_SUPPRESS: bh_buf_puts(b, "suppress"); break;
	case BH_POL_SUPPRESS_FOR:
		bh_buf_puts(b, "suppress for ");
		bh_buf_puts(b, bh_st_fmt_num(num, (long long)a->duration_s));
		bh_buf_puts(b, "s");
		break;
	case BH_POL_COUNT:
		bh_buf_puts(b, "count ");
		bh_buf_puts(b, bh_st_fmt_num(num, (long long)a->threshold));
		bh_buf_puts(b, " in ");
		bh_buf_puts(b, bh_st_fmt_num(num, (long long)a->window_s));
		bh_buf_puts(b, "s");
		if (a->duration_s > 0) {
			bh_buf_puts(b, " for ");
			bh_buf_puts(b, bh_st_fmt_num(num, (long long)a->duration_s));
			bh_buf_puts(b, "s");
		}
		break;
	case BH_POL_IGNORE: bh_buf_puts(b, "ignore"); break;
	case BH_POL_ALERT: bh_buf_puts(b, "alert"); break;
	case BH_POL_INHERIT: bh_buf_puts(b, "inherit"); break;
	}
	bh_buf_puts(b, a->scope == BH_SCOPE_GLOBAL ? " (global)" : " (list)");
}

/* rcpt_class - hard, soft, complaint or sender */
static const char *
rcpt_class(const struct bh_decision *d)
{
	if (d == NULL || d->rcpt == NULL)
		return "-";
	if (d->rcpt->reason == BH_R_FEEDBACK)
		return "complaint";
	if (d->rcpt->hard)
		return "hard";
	if (d->sender_side)
		return "sender";
	return "soft";
}

/* list_norm - bh_st_list_norm into b (overwritten) instead of a malloc: the list name in
 * keys, lower-case; NULL for none. Borrowed from b until its next use. */
static const char *
list_norm(struct bh_buf *b, const char *list)
{
	if (list == NULL || list[0] == '\0')
		return NULL;
	b->len = 0;
	bh_buf_puts(b, list);
	bh_lower_ascii(b->data);
	return b->data;
}

/* put_stats_field - "list\treason" for the stats bucket into slot sfield. XXX: a list name
 * holding a TAB would split wrongly when read back; config list names never do. */
static void
put_stats_field(struct bh_st_pack *k, const struct bh_verdict *v, const struct bh_decision *d,
		const char *list)
{
	const char *reason = "-", *l = list != NULL ? list : "-";

	if (v->loop.kind != BH_LOOP_NONE) {
		bh_st_putcat(k, BH_APPLY_DEC_A_sfield, l,
			     "\tloop:", bh_loop_kind_name(v->loop.kind), (char *)NULL);
		return;
	}
	if (d != NULL && d->rcpt != NULL)
		reason = bh_reason_name(d->rcpt->reason);
	else if (v->type == BH_TYPE_AUTOREPLY)
		reason = "vacation";
	bh_st_putcat(k, BH_APPLY_DEC_A_sfield, l, "\t", reason, (char *)NULL);
}

/* build_decision - the keys and arguments of one decision (d NULL: the message alone), emitted
 * into ap's keys and argv */
static void
build_decision(struct bh_st_apply_pack *ap, struct bh_store *s, const struct bh_store_item *it,
	       const struct bh_decision *d)
{
	const struct bh_verdict *v = it->v;
	const struct bh_rcpt *r = d != NULL ? d->rcpt : NULL;
	const char *list = list_norm(&ap->list, d != NULL ? d->list : NULL);
	char *dom_copy = NULL;
	const char *error = NULL, *domain = "", *addr = NULL;
	enum bh_outcome outcome = BH_OUT_RECORD;
	bool global, sender = false, have_list = list != NULL;
	struct bh_st_pack *k = &ap->dec;
	struct bh_st_resp *ev;

	if (d != NULL) {
		outcome = d->outcome;
		sender = d->sender_side;
		addr = d->address; /* the key form already (policy.h) */
	} else if (it->d != NULL && it->d->refused) {
		outcome = BH_OUT_REFUSE;
	}
	/* a sender-side failure's receiving domain: the subscriber's, else the reported one */
	if (addr != NULL)
		domain = bh_addr_domain(addr);
	else if (sender && r != NULL && r->address != NULL &&
		 bh_addr_normalize(r->address, strlen(r->address), &dom_copy, &error) == 0)
		domain = bh_addr_domain(dom_copy);
	global = d != NULL && d->action.scope == BH_SCOPE_GLOBAL;
	/* Nothing is suppressed or counted without an address. */
	if (addr == NULL && (outcome == BH_OUT_SUPPRESS || outcome == BH_OUT_COUNT))
		outcome = BH_OUT_RECORD;

	/* keys: only the groups that apply (apply.args); the names of bh_st_key_sup and
	 * bh_st_key_soft, concatenated here without a malloc */
	if (addr != NULL) {
		if (global || !have_list) {
			bh_st_keycat(k, BH_APPLY_DEC_K_sup, s->tag, ":sup:g:", addr, (char *)NULL);
			bh_st_keycat(k, BH_APPLY_DEC_K_soft, s->tag, ":soft:g:", addr,
				     (char *)NULL);
		} else {
			bh_st_keycat(k, BH_APPLY_DEC_K_sup, s->tag, ":sup:l:", list, ":", addr,
				     (char *)NULL);
			bh_st_keycat(k, BH_APPLY_DEC_K_soft, s->tag, ":soft:l:", list, ":", addr,
				     (char *)NULL);
		}
		bh_st_keycat(k, BH_APPLY_DEC_K_ev, s->tag, ":ev:", addr, (char *)NULL);
		bh_st_keycat(k, BH_APPLY_DEC_K_idx, s->tag, ":supidx:", addr, (char *)NULL);
	}
	if (sender && domain[0] != '\0') {
		bh_st_keycat(k, BH_APPLY_DEC_K_sd, s->tag, ":sender:d:", domain, (char *)NULL);
		bh_st_keycat(k, BH_APPLY_DEC_K_ad, s->tag, ":alert:d:", domain, (char *)NULL);
	}
	if (sender && have_list) {
		bh_st_keycat(k, BH_APPLY_DEC_K_sl, s->tag, ":sender:l:", list, (char *)NULL);
		bh_st_keycat(k, BH_APPLY_DEC_K_al, s->tag, ":alert:l:", list, (char *)NULL);
	}

	bh_st_put(k, BH_APPLY_DEC_A_outcome, bh_outcome_name(outcome));
	bh_st_put_num(k, BH_APPLY_DEC_A_duration, d != NULL ? (long long)d->action.duration_s : 0);
	bh_st_put_num(k, BH_APPLY_DEC_A_thr, d != NULL ? (long long)d->action.threshold : 0);
	bh_st_put_num(k, BH_APPLY_DEC_A_win, d != NULL ? (long long)d->action.window_s : 0);
	bh_st_put(k, BH_APPLY_DEC_A_sender, sender ? "1" : "0");
	bh_st_put(k, BH_APPLY_DEC_A_addr, addr != NULL ? addr : "");
	bh_st_put(k, BH_APPLY_DEC_A_list, have_list ? list : "");
	bh_st_put(k, BH_APPLY_DEC_A_domain, sender ? domain : "");
	bh_st_put(k, BH_APPLY_DEC_A_scope, global ? "global" : "list");
	put_stats_field(k, v, d, list);

	ev = bh_st_pairs(k, BH_APPLY_DEC_A_ev);
	/* The script makes the suppression's fields of these (address, list unless global,
	 * reason, class, why, status, rule) and of the message's (message_id, stable id). */
	bh_st_pair(ev, "kind", d == NULL ? "message" : (d->delayed ? "delayed" : "bounce"));
	bh_st_pair(ev, "address", addr);
	bh_st_pair(ev, "list", have_list ? list : "");
	bh_st_pair(ev, "reason", r != NULL ? bh_reason_name(r->reason) : "-");
	bh_st_pair(ev, "class", rcpt_class(d));
	bh_st_pair(ev, "outcome", bh_outcome_name(outcome));
	if (d != NULL) {
		action_text(&ap->text, &d->action);
		bh_st_resp_add(ev, "action", 6);
		bh_st_resp_add(ev, ap->text.data, ap->text.len);
		bh_st_pair(ev, "why", d->why);
	} else {
		bh_st_pair(ev, "action", "-");
		bh_st_pair(ev, "why",
			   it->d != NULL && it->d->refused ? "refused" : "no recipients");
	}
	bh_st_pair(ev, "status", r != NULL ? r->status : "");
	bh_st_pair(ev, "reply_code", r != NULL ? r->reply_code : "");
	bh_st_pair_cut(ev, "diagnostic", r != NULL ? r->diagnostic : NULL, BH_MAX_DIAGNOSTIC);
	bh_st_pair_cut(ev, "remote_mta", r != NULL ? r->remote_mta : NULL, BH_MAX_FIELD_VALUE);
	if (r != NULL && r->feedback_type != NULL)
		bh_st_pair_cut(ev, "feedback_type", r->feedback_type, BH_MAX_FIELD_VALUE);
	bh_st_pair(ev, "rule", r != NULL ? r->rule : "");
	bh_st_pair(ev, "sender_side", sender ? "1" : "0");
	if (sender && domain[0] != '\0')
		bh_st_pair(ev, "domain", domain);
	bh_st_emit_resp(k, &ap->keys, &ap->argv);

	free(dom_copy);
}

/* sent_id - what names the message that bounced: its Message-ID, else the DSN envelope id */
static const char *
sent_id(const struct bh_verdict *v)
{
	if (v->original.message_id != NULL && v->original.message_id[0] != '\0')
		return v->original.message_id;
	if (v->env.original_envelope_id != NULL && v->env.original_envelope_id[0] != '\0')
		return v->env.original_envelope_id;
	return NULL;
}

/* repetition - the message's repeat and burst keys and settings (docs/loops.md). Every
 * decision of a message is about the same VERP recipient and list, so repetition is decided
 * per message: the repeat hash {p}:rpt:SHA256(list NUL address NUL sent id) when the policy
 * has a repeat window; the list's burst zset, mailed count, held zset and burst alert marker
 * when it has a burst window. Nothing of either without a decision that counts or suppresses. */
static void
repetition(struct bh_st_apply_pack *ap, struct bh_store *s, const struct bh_store_item *it,
	   const struct bh_list_policy *pol, struct bh_st_pack *k)
{
	static const char xd[] = "0123456789abcdef";
	const struct bh_verdict *v = it->v;
	const char *id = sent_id(v), *addr = NULL, *rpol = "ignore";
	const char *list = NULL;
	int strength = 0;
	int64_t rwin = 0, bwin = 0;
	unsigned ralert = 0, bmax = 0;
	size_t i;

	if (it->d != NULL && v->loop.kind == BH_LOOP_NONE)
		for (i = 0; i < it->d->n; i++) {
			const struct bh_decision *d = &it->d->v[i];
			int st = d->outcome == BH_OUT_SUPPRESS ? 2 : d->outcome == BH_OUT_COUNT;

			if (d->address == NULL || st == 0)
				continue;
			if (st > strength)
				strength = st;
			addr = d->address;
			if (list == NULL)
				list = list_norm(&ap->list, d->list);
		}
	if (strength > 0 && id != NULL && pol->repeat_window_s > 0) {
		struct sha256_ctx c;
		uint8_t dg[SHA256_DIGEST_SIZE];
		char hex[2 * SHA256_DIGEST_SIZE + 1];

		sha256_init(&c);
		if (list != NULL)
			sha256_update(&c, strlen(list), (const uint8_t *)list);
		sha256_update(&c, 1, (const uint8_t *)"");
		sha256_update(&c, strlen(addr), (const uint8_t *)addr);
		sha256_update(&c, 1, (const uint8_t *)"");
		sha256_update(&c, strnlen(id, BH_MAX_FIELD_VALUE), (const uint8_t *)id);
		sha256_digest(&c, sizeof(dg), dg);
		for (i = 0; i < sizeof(dg); i++) {
			hex[2 * i] = xd[dg[i] >> 4];
			hex[2 * i + 1] = xd[dg[i] & 0xf];
		}
		hex[sizeof(hex) - 1] = '\0';
		bh_st_keycat(k, BH_APPLY_MSG_K_rpt, s->tag, ":rpt:", hex, (char *)NULL);
		rwin = pol->repeat_window_s;
		ralert = pol->repeat_alert;
		rpol = pol->loop[BH_LOOP_REPEAT].kind == BH_POL_ALERT ? "alert" : "ignore";
	}
	if (strength > 0 && list != NULL && pol->burst_window_s > 0) {
		bh_st_keycat(k, BH_APPLY_MSG_K_burst, s->tag, ":burst:", list, (char *)NULL);
		bh_st_keycat(k, BH_APPLY_MSG_K_mailed, s->tag, ":mailed:", list, (char *)NULL);
		bh_st_keycat(k, BH_APPLY_MSG_K_held, s->tag, ":held:", list, (char *)NULL);
		bh_st_keycat(k, BH_APPLY_MSG_K_balert, s->tag, ":alert:b:", list, (char *)NULL);
		bmax = pol->burst_max;
		bwin = pol->burst_window_s;
	}
	bh_st_put_num(k, BH_APPLY_MSG_A_strength, strength);
	bh_st_put_num(k, BH_APPLY_MSG_A_rwin, (long long)rwin);
	bh_st_put_num(k, BH_APPLY_MSG_A_ralert, ralert);
	bh_st_put(k, BH_APPLY_MSG_A_rpol, rpol);
	bh_st_put_num(k, BH_APPLY_MSG_A_bmax, bmax);
	bh_st_put_num(k, BH_APPLY_MSG_A_bwin, (long long)bwin);
}

/* build_item - the whole EVALSHA command of one message, as RESP in ap->resp */
static void
build_item(struct bh_st_apply_pack *ap, struct bh_store *s, const struct bh_store_item *it,
	   int64_t now)
{
	const struct bh_verdict *v = it->v;
	/* the list's policy as bh_policy_decide found it (hand-made decisions: the defaults) */
	const struct bh_list_policy *pol =
	    it->d != NULL && it->d->policy != NULL ? it->d->policy : &s->cfg->defaults;
	size_t nd = it->d != NULL ? it->d->n : 0, i;
	struct bh_st_pack *k = &ap->msg;
	struct bh_buf *resp = &ap->resp;
	struct bh_st_resp *common;
	char num[BH_ST_NUM_LEN], *nk;

	ap->keys.b.len = ap->argv.b.len = 0;
	ap->keys.n = ap->argv.n = 0;
	bh_st_keycat(k, BH_APPLY_MSG_K_applied, s->tag, ":applied:", v->stable_id, (char *)NULL);
	bh_st_keycat(k, BH_APPLY_MSG_K_events, s->tag, ":events", (char *)NULL);
	bh_st_keycat(k, BH_APPLY_MSG_K_stats, s->tag,
		     ":stats:", bh_st_fmt_num(num, (long long)(now - now % BH_ST_STATS_BUCKET_S)),
		     (char *)NULL);
	repetition(ap, s, it, pol, k);
	if (s->lease_key != NULL) {
		bh_st_keycat(k, BH_APPLY_MSG_K_lease, s->lease_key, (char *)NULL);
		bh_st_put(k, BH_APPLY_MSG_A_token, s->lease_token);
	} else {
		bh_st_put(k, BH_APPLY_MSG_A_token, "");
	}

	bh_st_put_num(k, BH_APPLY_MSG_A_now, (long long)now);
	bh_st_put_num(k, BH_APPLY_MSG_A_maxlen, (long long)bh_st_maxlen(s));
	bh_st_put_num(k, BH_APPLY_MSG_A_nd, nd == 0 ? 1 : (long long)nd);
	bh_st_put(k, BH_APPLY_MSG_A_loop_folder,
		  it->loop_folder != NULL ? it->loop_folder
					  : (it->folder != NULL ? it->folder : "-"));
	bh_st_put_num(k, BH_APPLY_MSG_A_athr, pol->sender_alert_threshold);
	bh_st_put_num(k, BH_APPLY_MSG_A_awin, (long long)pol->sender_alert_window_s);

	common = bh_st_pairs(k, BH_APPLY_MSG_A_common);
	bh_st_pair(common, "stable_id", v->stable_id);
	bh_st_pair_cut(common, "message_id", v->env.message_id, BH_MAX_FIELD_VALUE);
	bh_st_pair_cut(common, "original_message_id", v->original.message_id, BH_MAX_FIELD_VALUE);
	bh_st_pair_cut(common, "reporting_mta", v->env.reporting_mta, BH_MAX_FIELD_VALUE);
	bh_st_pair(common, "type", bh_msg_type_name(v->type));
	bh_st_pair(common, "recognizer", v->recognizer != NULL ? v->recognizer : "");
	bh_st_pair(common, "rules_version", s->rules_version);
	bh_st_pair(common, "loop",
		   v->loop.kind != BH_LOOP_NONE ? bh_loop_kind_name(v->loop.kind) : "");
	bh_st_pair(common, "verp",
		   !v->verp.checked ? "none" : (v->verp.valid ? "valid" : "invalid"));
	bh_st_pair(common, "mailbox", it->mailbox != NULL ? it->mailbox : "-");
	bh_st_pair(common, "folder", it->folder != NULL ? it->folder : "-");
	bh_st_pair_num(common, "uidvalidity", (long long)it->uidvalidity);
	bh_st_pair_num(common, "uid", (long long)it->uid);
	bh_st_emit_resp(k, &ap->keys, &ap->argv);

	if (nd == 0)
		build_decision(ap, s, it, NULL);
	for (i = 0; i < nd; i++)
		build_decision(ap, s, it, &it->d->v[i]);

	/* EVALSHA, the sha, the number of keys, the keys, the arguments */
	resp->len = 0;
	bh_buf_puts(resp, "*");
	bh_buf_puts(resp, bh_st_fmt_num(num, (long long)(3 + ap->keys.n + ap->argv.n)));
	bh_buf_puts(resp, "\r\n$7\r\nEVALSHA\r\n");
	bh_st_resp_bulk(resp, s->apply_sha, strlen(s->apply_sha));
	nk = bh_st_fmt_num(num, (long long)ap->keys.n);
	bh_st_resp_bulk(resp, nk, (size_t)(num + sizeof(num) - 1 - nk));
	bh_buf_append(resp, ap->keys.b.data, ap->keys.b.len);
	bh_buf_append(resp, ap->argv.b.data, ap->argv.b.len);
}

/* read_apply_reply - the script's answer {status, first event, suppressed, alerts, loop, held} */
static void
read_apply_reply(struct bh_store *s, struct bh_store_item *it, const redisReply *r)
{
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 6 &&
	    r->element[0]->type == REDIS_REPLY_STRING &&
	    r->element[2]->type == REDIS_REPLY_INTEGER &&
	    r->element[3]->type == REDIS_REPLY_INTEGER &&
	    r->element[4]->type == REDIS_REPLY_STRING &&
	    r->element[5]->type == REDIS_REPLY_INTEGER) {
		bool dup = strcmp(r->element[0]->str, "duplicate") == 0;

		if (dup || strcmp(r->element[0]->str, "applied") == 0) {
			it->status = dup ? BH_STORE_DUPLICATE : BH_STORE_APPLIED;
			it->n_suppressed = (unsigned)r->element[2]->integer;
			it->n_alerts = (unsigned)r->element[3]->integer;
			it->n_held = (unsigned)r->element[5]->integer;
			it->loop = strcmp(r->element[4]->str, "repeat") == 0 ? BH_LOOP_REPEAT
									     : BH_LOOP_NONE;
			it->error = NULL;
			return;
		}
		if (strcmp(r->element[0]->str, "lease_lost") == 0) {
			it->status = BH_STORE_UNCONFIRMED;
			it->error = "mailbox lease lost: another worker holds it";
			s->lease_lost = true;
			return;
		}
	}
	it->status = BH_STORE_UNCONFIRMED;
	it->error = item_err(s, r->type == REDIS_REPLY_ERROR ? r->str : "unexpected script reply");
}

/* bh_st_apply_pack_init - the scratch of one apply's packing, empty */
void
bh_st_apply_pack_init(struct bh_st_apply_pack *ap)
{
	memset(ap, 0, sizeof(*ap));
	bh_st_pack_init(&ap->msg, &bh_apply_msg_proto);
	bh_st_pack_init(&ap->dec, &bh_apply_dec_proto);
	bh_buf_init(&ap->keys.b);
	bh_buf_init(&ap->argv.b);
	bh_buf_init(&ap->text);
	bh_buf_init(&ap->list);
	bh_buf_init(&ap->resp);
}

/* bh_st_apply_pack_deinit - free the scratch */
void
bh_st_apply_pack_deinit(struct bh_st_apply_pack *ap)
{
	bh_st_pack_deinit(&ap->msg);
	bh_st_pack_deinit(&ap->dec);
	bh_buf_deinit(&ap->keys.b);
	bh_buf_deinit(&ap->argv.b);
	bh_buf_deinit(&ap->text);
	bh_buf_deinit(&ap->list);
	bh_buf_deinit(&ap->resp);
	memset(ap, 0, sizeof(*ap));
}

/* bh_st_apply_resp - the EVALSHA of one item as a RESP command, in ap->resp */
const struct bh_buf *
bh_st_apply_resp(struct bh_st_apply_pack *ap, struct bh_store *s, const struct bh_store_item *it,
		 int64_t now)
{
	build_item(ap, s, it, now);
	return &ap->resp;
}

/* apply_send - one EVALSHA per todo item (and WAIT with replicas to wait for), written out
 * without waiting for the replies: 0, or -1 (the connection is dropped) */
static int
apply_send(struct bh_store *s, struct bh_store_item *items, size_t n, const bool *todo,
	   const char **error_r)
{
	int64_t now = bh_now();
	struct bh_st_apply_pack ap;
	const struct bh_buf *resp;
	size_t i;
	int done = 0;

	bh_st_apply_pack_init(&ap);
	for (i = 0; i < n; i++) {
		if (!todo[i])
			continue;
		resp = bh_st_apply_resp(&ap, s, &items[i], now);
		if (redisAppendFormattedCommand(s->ctx, resp->data, resp->len) != REDIS_OK) {
			bh_st_apply_pack_deinit(&ap);
			bh_st_transport_err(s, error_r, "EVALSHA");
			return -1;
		}
	}
	bh_st_apply_pack_deinit(&ap);
	/* With replicas to wait for, WAIT ends the same round trip: a message is confirmed (and
	 * then moved) only once its write is on a replica that a failover may promote. */
	if (s->rc->wait_replicas > 0 &&
	    redisAppendCommand(s->ctx, "WAIT %d %lld", s->rc->wait_replicas,
			       (long long)(s->rc->command_timeout_ms / 2)) != REDIS_OK) {
		bh_st_transport_err(s, error_r, "WAIT");
		return -1;
	}
	/* out now, so that Redis works while the caller does (bounded by the command timeout) */
	while (!done)
		if (redisBufferWrite(s->ctx, &done) != REDIS_OK) {
			bh_st_transport_err(s, error_r, "EVALSHA");
			return -1;
		}
	return 0;
}

/* apply_read - the replies to what apply_send wrote: todo[i] is cleared for each item that
 * ran (confirmed or not); *noscript when Redis no longer knows the script. 0, or -1 on a
 * transport error (the connection is dropped; the items not read stay todo) */
static int
apply_read(struct bh_store *s, struct bh_store_item *items, size_t n, bool *todo, bool *noscript,
	   const char **error_r)
{
	size_t i;
	redisReply *r;
	void *rp;
	bool *now_ok = bh_calloc(n + 1, sizeof(*now_ok)), reroute = false;
	int ret = -1;

	*noscript = false;
	for (i = 0; i < n; i++) {
		if (!todo[i])
			continue;
		if (redisGetReply(s->ctx, &rp) != REDIS_OK) {
			/* Everything from here on is unconfirmed: it may or may not have run; a
			 * retry finds out through the applied marker. */
			bh_st_transport_err(s, error_r, "EVALSHA");
			goto out;
		}
		r = rp;
		if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
			*noscript = true; /* stays todo */
		} else if (bh_st_must_reresolve(s, r)) {
			reroute = true; /* did not run here: stays todo */
		} else {
			read_apply_reply(s, &items[i], r);
			todo[i] = false;
			now_ok[i] = bh_store_is_confirmed(&items[i]);
		}
		freeReplyObject(r);
	}
	if (s->rc->wait_replicas > 0) {
		if (redisGetReply(s->ctx, &rp) != REDIS_OK) {
			bh_st_transport_err(s, error_r, "WAIT");
			for (i = 0; i < n; i++)
				if (now_ok[i])
					items[i].status = BH_STORE_UNCONFIRMED;
			goto out;
		}
		r = rp;
		if (r->type != REDIS_REPLY_INTEGER || r->integer < s->rc->wait_replicas) {
			char text[128];

			snprintf(text, sizeof(text), "WAIT: %lld of %d replicas acknowledged",
				 r->type == REDIS_REPLY_INTEGER ? r->integer : -1LL,
				 s->rc->wait_replicas);
			for (i = 0; i < n; i++) {
				if (!now_ok[i])
					continue;
				items[i].status = BH_STORE_UNCONFIRMED;
				items[i].error = item_err(s, text);
			}
			bh_st_set_err(s, error_r, "redis: %s", text);
		}
		freeReplyObject(r);
	}
	if (reroute)
		bh_st_reresolve(s);
	ret = 0;
out:
	free(now_ok);
	return ret;
}

/* apply_pass - one round trip: apply_send, then apply_read */
static int
apply_pass(struct bh_store *s, struct bh_store_item *items, size_t n, bool *todo, bool *noscript,
	   const char **error_r)
{
	*noscript = false;
	if (apply_send(s, items, n, todo, error_r) == -1)
		return -1;
	return apply_read(s, items, n, todo, noscript, error_r);
}

/* bh_store_apply_reset - forget the per-item error texts of earlier applies */
void
bh_store_apply_reset(struct bh_store *s)
{
	item_errs_clear(s);
}

/* bh_store_apply_begin - mark the items, connect and send the first pass without waiting */
int
bh_store_apply_begin(struct bh_store *s, struct bh_store_item *items, size_t n,
		     const char **error_r)
{
	size_t i;

	if (s->pend_todo != NULL)
		bh_fatal("bh_store_apply_begin: an apply is already pending");
	s->pend_todo = bh_calloc(n == 0 ? 1 : n, sizeof(*s->pend_todo));
	s->pend_sent = false;
	for (i = 0; i < n; i++) {
		items[i].status = BH_STORE_UNCONFIRMED;
		items[i].n_suppressed = 0;
		items[i].n_alerts = 0;
		items[i].n_held = 0;
		items[i].loop = BH_LOOP_NONE;
		items[i].error = "not sent";
		if (items[i].v == NULL || items[i].v->stable_id[0] == '\0') {
			items[i].status = BH_STORE_INVALID;
			items[i].error = "no stable id";
			continue;
		}
		s->pend_todo[i] = true;
	}
	s->pend_reused = s->ctx != NULL;
	if (bh_store_connect(s, error_r) == -1)
		return -1;
	if (apply_send(s, items, n, s->pend_todo, error_r) == -1)
		return -1;
	s->pend_sent = true;
	return 0;
}

/* bh_store_apply_end - read the first pass, then as many more as it takes */
int
bh_store_apply_end(struct bh_store *s, struct bh_store_item *items, size_t n, const char **error_r)
{
	bool *todo = s->pend_todo, noscript = false, retried = false, first;
	size_t i, any = 0, len;
	int confirmed = 0, pass, ret = -1;

	if (todo == NULL)
		bh_fatal("bh_store_apply_end: no apply pending");
	s->pend_todo = NULL;
	for (i = 0; i < n; i++)
		any += todo[i];
	if (any == 0) {
		ret = 0;
		goto out;
	}
	if (!s->pend_sent) {
		/* begin could not send: a kept connection that died under the send gets one
		 * immediate reconnection; a connection that could not be made is reported as is */
		if (!s->pend_reused || s->ctx != NULL)
			goto out_status;
		retried = true;
		s->next_try_ms = 0;
	}
	/* At most three more passes: one when Redis forgot the script (SCRIPT FLUSH, or a
	 * failover to a replica that never saw SCRIPT LOAD), and one immediate reconnection when a
	 * connection kept from an earlier call turns out dead (the server's idle timeout, a
	 * restart while we were idle). Retrying is safe: the script is idempotent. */
	for (pass = 0; pass < 4; pass++) {
		bool reused;
		int r;

		first = pass == 0 && s->pend_sent && s->ctx != NULL;
		reused = first ? s->pend_reused : s->ctx != NULL;
		if (first) {
			r = apply_read(s, items, n, todo, &noscript, error_r);
		} else {
			if (bh_store_connect(s, error_r) == -1)
				goto out_status;
			r = apply_pass(s, items, n, todo, &noscript, error_r);
		}
		if (r == -1) {
			if (reused && !retried) {
				retried = true;
				s->next_try_ms = 0;
				continue;
			}
			goto out_status;
		}
		if (s->ctx == NULL)
			continue; /* READONLY or MOVED: the rest goes to the right server */
		if (!noscript)
			break;
		if (bh_st_load_script(s, bh_st_apply_lua(&len), s->apply_sha, error_r) == -1) {
			/* the connection died after the NOSCRIPT answer: a new one loads
			 * the scripts itself */
			if (s->ctx == NULL && !retried) {
				retried = true;
				s->next_try_ms = 0;
				continue;
			}
			goto out_status;
		}
	}
out_status:
	for (i = 0; i < n; i++) {
		if (bh_store_is_confirmed(&items[i]))
			confirmed++;
		else if (todo[i] && items[i].status == BH_STORE_UNCONFIRMED)
			items[i].error = item_err(s, s->err[0] != '\0' ? s->err : "NOSCRIPT twice");
	}
	ret = confirmed;
	if (confirmed == 0 && s->ctx == NULL)
		ret = -1;
out:
	free(todo);
	return ret;
}

/* bh_store_apply - apply n messages in one round trip */
int
bh_store_apply(struct bh_store *s, struct bh_store_item *items, size_t n, const char **error_r)
{
	bh_store_apply_reset(s);
	(void)bh_store_apply_begin(s, items, n, error_r);
	return bh_store_apply_end(s, items, n, error_r);
}

/* bh_store_note_location - where a confirmed message now sits */
int
bh_store_note_location(struct bh_store *s, const char *stable_id, const char *folder,
		       uint32_t uidvalidity, uint32_t uid, const char **error_r)
{
	struct args a = {0};
	redisReply *r;
	char ttl[32];
	int ret = -1;

	bh_st_args_add(&a, "HSET");
	bh_st_args_addf(&a, "%s:applied:%s", s->tag, stable_id);
	bh_st_kv(&a, "folder", folder);
	bh_st_args_add(&a, "uidvalidity");
	bh_st_args_addf(&a, "%lu", (unsigned long)uidvalidity);
	bh_st_args_add(&a, "uid");
	bh_st_args_addf(&a, "%lu", (unsigned long)uid);
	r = bh_st_command(s, &a, error_r);
	if (r == NULL)
		goto out;
	if (r->type == REDIS_REPLY_ERROR) {
		bh_st_set_err(s, error_r, "redis: HSET: %.200s", r->str);
		goto out;
	}
	freeReplyObject(r);
	/* The marker may have been created by this HSET (it had expired): never keep it forever. */
	snprintf(ttl, sizeof(ttl), "%lld", (long long)BH_STORE_APPLIED_TTL_S);
	r = bh_st_commandv(s, error_r, "EXPIRE", a.v[1], ttl, (char *)NULL);
	if (r == NULL)
		goto out;
	ret = 0;
out:
	if (r != NULL)
		freeReplyObject(r);
	bh_st_args_deinit(&a);
	return ret;
}

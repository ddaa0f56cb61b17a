/*
 * verdict.c - the verdict object and its JSON form (the `bouncer classify` contract).
 */
#include "verdict.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* bh_verdict_init - zero a verdict the caller embeds */
void
bh_verdict_init(struct bh_verdict *v)
{
	memset(v, 0, sizeof(*v));
}

/* rcpt_deinit - free the strings a recipient owns */
static void
rcpt_deinit(struct bh_rcpt *r)
{
	free(r->address);
	free(r->original_address);
	free(r->diagnostic);
	free(r->remote_mta);
	free(r->feedback_type);
}

/* original_deinit - free the headers of the returned message */
static void
original_deinit(struct bh_original *o)
{
	free(o->message_id);
	free(o->from);
	free(o->to);
	free(o->subject);
	free(o->return_path);
	free(o->auto_submitted);
	free(o->list_id);
	free(o->precedence);
	free(o->x_autoreply);
	free(o->x_auto_response_suppress);
	free(o->content_type);
}

/* envelope_deinit - free the headers of the report, raw_headers included */
static void
envelope_deinit(struct bh_envelope *e)
{
	free(e->message_id);
	free(e->from);
	free(e->subject);
	free(e->date);
	free(e->return_path);
	free(e->auto_submitted);
	free(e->precedence);
	free(e->reporting_mta);
	free(e->original_envelope_id);
	free(e->delivered_to);
	free(e->x_original_to);
	free(e->envelope_to);
	free(e->to);
	free(e->raw_headers);
}

/* bh_verdict_deinit - free everything the verdict owns and zero it, ready for reuse */
void
bh_verdict_deinit(struct bh_verdict *v)
{
	size_t i;

	for (i = 0; i < v->n_rcpts; i++)
		rcpt_deinit(&v->rcpts[i]);
	free(v->rcpts);
	original_deinit(&v->original);
	envelope_deinit(&v->env);
	free(v->verp.address);
	free(v->verp.list);
	free(v->verp.recipient);
	free(v->loop.why);
	bh_verdict_init(v);
}

/* bh_verdict_add_rcpt - append a zeroed recipient, or NULL at limit (sets rcpts_truncated) */
struct bh_rcpt *
bh_verdict_add_rcpt(struct bh_verdict *v, size_t limit)
{
	struct bh_rcpt *r;

	if (v->n_rcpts >= limit) {
		v->rcpts_truncated = true;
		return NULL;
	}
	v->rcpts = bh_reallocarray(v->rcpts, v->n_rcpts + 1, sizeof(*v->rcpts));
	r = &v->rcpts[v->n_rcpts++];
	memset(r, 0, sizeof(*r));
	return r;
}

/* bh_rcpt_set_reason - set reason, hard and whose; a 4xx notaccept is not hard */
void
bh_rcpt_set_reason(struct bh_rcpt *r, enum bh_reason reason, const char *rule)
{
	r->reason = reason;
	r->hard = bh_reason_hard(reason);
	/* REASONS.md: notaccept is hard only as a 5xx; a 4xx "no MX" may still be fixed */
	if (reason == BH_R_NOTACCEPT && r->status[0] == '4')
		r->hard = false;
	r->whose = bh_reason_whose(reason);
	r->rule = rule;
}

/* bh_msg_type_name - the name of a message type, as in the JSON output */
const char *
bh_msg_type_name(enum bh_msg_type t)
{
	switch (t) {
	case BH_TYPE_DSN: return "dsn";
	case BH_TYPE_ARF: return "arf";
	case BH_TYPE_AUTOREPLY: return "autoreply";
	case BH_TYPE_BOUNCE: return "bounce";
	case BH_TYPE_NOT_BOUNCE: break;
	}
	return "not_bounce";
}

static const char *const action_names[] = {
    [BH_ACTION_NONE] = "",	     [BH_ACTION_FAILED] = "failed",
    [BH_ACTION_DELAYED] = "delayed", [BH_ACTION_DELIVERED] = "delivered",
    [BH_ACTION_RELAYED] = "relayed", [BH_ACTION_EXPANDED] = "expanded",
};

/* bh_action_name - the DSN Action word of a, "" when not stated */
const char *
bh_action_name(enum bh_action a)
{
	return (unsigned)a < BH_NELEM(action_names) ? action_names[a] : "";
}

/* bh_action_parse - a DSN Action value (trimmed, any case), BH_ACTION_NONE when unknown */
enum bh_action
bh_action_parse(const char *p, size_t n)
{
	size_t i;

	bh_span_trim(&p, &n);
	for (i = 1; i < BH_NELEM(action_names); i++)
		if (bh_span_ieq(p, n, action_names[i]))
			return (enum bh_action)i;
	return BH_ACTION_NONE;
}

static const char *const loop_names[BH_LOOP_COUNT] = {
    [BH_LOOP_NONE] = "none",
    [BH_LOOP_AUTOREPLY_BOUNCE] = "autoreply_bounce",
    [BH_LOOP_BOUNCE_OF_BOUNCE] = "bounce_of_bounce",
    [BH_LOOP_BACKSCATTER] = "backscatter",
    [BH_LOOP_REPEAT] = "repeat",
    [BH_LOOP_HOPS] = "hops",
};

/* bh_loop_kind_name - the name of a loop kind ("none" for BH_LOOP_NONE or out of range) */
const char *
bh_loop_kind_name(enum bh_loop_kind k)
{
	return (unsigned)k < BH_LOOP_COUNT ? loop_names[k] : "none";
}

/* bh_loop_kind_lookup - the loop kind named name (any case), or -1; "none" is not a kind */
int
bh_loop_kind_lookup(const char *name)
{
	int i;

	for (i = 1; i < BH_LOOP_COUNT; i++)
		if (strcasecmp(loop_names[i], name) == 0)
			return i;
	return -1;
}

/* json_field - append "key":value (null for NULL), with a comma unless *first. The keys are
 * this file's own identifiers, which need no escaping. */
static void
json_field(struct bh_buf *b, const char *key, const char *val, bool *first)
{
	size_t kl = strlen(key);

	bh_buf_reserve(b, kl + 4);
	if (!*first)
		b->data[b->len++] = ',';
	*first = false;
	b->data[b->len++] = '"';
	memcpy(b->data + b->len, key, kl);
	b->len += kl;
	b->data[b->len++] = '"';
	b->data[b->len++] = ':';
	b->data[b->len] = '\0';
	bh_json_cstr(b, val);
}

/* json_nonempty - json_field, with an empty string written as null */
static void
json_nonempty(struct bh_buf *b, const char *key, const char *val, bool *first)
{
	json_field(b, key, val != NULL && val[0] != '\0' ? val : NULL, first);
}

/* bh_verdict_json - append the verdict as one JSON object, the `classify` output contract */
void
bh_verdict_json(struct bh_buf *out, const struct bh_verdict *v, const char *source)
{
	const struct bh_original *o = &v->original;
	bool first = true;
	size_t i;

	bh_buf_puts(out, "{\"source\":");
	bh_json_cstr(out, source);
	bh_buf_puts(out, ",\"type\":");
	bh_json_cstr(out, bh_msg_type_name(v->type));
	bh_buf_puts(out, ",\"recipients\":[");
	for (i = 0; i < v->n_rcpts; i++) {
		const struct bh_rcpt *r = &v->rcpts[i];

		first = true;
		bh_buf_puts(out, i ? ",{" : "{");
		json_field(out, "address", r->address, &first);
		json_field(out, "status", r->status, &first);
		json_field(out, "reply_code", r->reply_code, &first);
		if (r->smtp_command[0] != '\0') /* only when the report said it */
			json_field(out, "smtp_command", r->smtp_command, &first);
		json_field(out, "action", bh_action_name(r->action), &first);
		json_field(out, "reason", bh_reason_name(r->reason), &first);
		bh_buf_puts(out, r->hard ? ",\"hard\":true" : ",\"hard\":false");
		json_field(out, "whose", bh_whose_name(r->whose), &first);
		json_nonempty(out, "diagnostic", r->diagnostic, &first);
		json_nonempty(out, "remote_mta", r->remote_mta, &first);
		if (r->original_address != NULL)
			json_field(out, "original_recipient", r->original_address, &first);
		if (r->feedback_type != NULL)
			json_field(out, "feedback_type", r->feedback_type, &first);
		if (r->rule != NULL)
			json_field(out, "rule", r->rule, &first);
		if (r->evidence != NULL && r->evidence[0] != '\0')
			json_field(out, "evidence", r->evidence, &first);
		bh_buf_putc(out, '}');
	}
	bh_buf_putc(out, ']');
	if (v->rcpts_truncated)
		bh_buf_puts(out, ",\"recipients_truncated\":true");
	bh_buf_puts(out, ",\"original\":{");
	first = true;
	json_field(out, "message_id", o->message_id, &first);
	json_field(out, "from", o->from, &first);
	json_field(out, "to", o->to, &first);
	json_field(out, "subject", o->subject, &first);
	json_field(out, "return_path", o->return_path, &first);
	json_field(out, "auto_submitted", o->auto_submitted, &first);
	json_field(out, "list_id", o->list_id, &first);
	json_field(out, "precedence", o->precedence, &first);
	json_field(out, "x_autoreply", o->x_autoreply, &first);
	json_field(out, "x_auto_response_suppress", o->x_auto_response_suppress, &first);
	json_field(out, "content_type", o->content_type, &first);
	bh_buf_printf(out, ",\"received_count\":%u,\"present\":%s", o->received_count,
		      o->present ? "true" : "false");
	bh_buf_putc(out, '}');
	bh_buf_puts(out, ",\"env\":{");
	first = true;
	json_field(out, "from", v->env.from, &first);
	json_field(out, "to", v->env.to, &first);
	json_field(out, "subject", v->env.subject, &first);
	json_field(out, "date", v->env.date, &first);
	json_field(out, "return_path", v->env.return_path, &first);
	json_field(out, "auto_submitted", v->env.auto_submitted, &first);
	json_field(out, "precedence", v->env.precedence, &first);
	json_field(out, "delivered_to", v->env.delivered_to, &first);
	json_field(out, "x_original_to", v->env.x_original_to, &first);
	json_field(out, "envelope_to", v->env.envelope_to, &first);
	json_field(out, "original_envelope_id", v->env.original_envelope_id, &first);
	bh_buf_puts(out, v->env.has_autoreply_headers ? ",\"has_autoreply_headers\":true"
						      : ",\"has_autoreply_headers\":false");
	bh_buf_putc(out, '}');
	bh_buf_puts(out, ",\"message_id\":");
	bh_json_cstr(out, v->env.message_id);
	bh_buf_puts(out, ",\"reporting_mta\":");
	bh_json_cstr(out, v->env.reporting_mta);
	if (v->verp.checked) {
		first = true;
		bh_buf_puts(out, ",\"verp\":{");
		json_field(out, "address", v->verp.address, &first);
		json_field(out, "list", v->verp.list, &first);
		json_field(out, "recipient", v->verp.recipient, &first);
		bh_buf_puts(out, v->verp.valid ? ",\"valid\":true" : ",\"valid\":false");
		json_field(out, "why", v->verp.why, &first);
		bh_buf_putc(out, '}');
	}
	bh_buf_puts(out, v->loop.kind != BH_LOOP_NONE ? ",\"loop\":{\"detected\":true"
						      : ",\"loop\":{\"detected\":false");
	if (v->loop.kind != BH_LOOP_NONE) {
		bh_buf_puts(out, ",\"kind\":");
		bh_json_cstr(out, bh_loop_kind_name(v->loop.kind));
		bh_buf_puts(out, ",\"why\":");
		bh_json_cstr(out, v->loop.why);
	}
	bh_buf_putc(out, '}');
	if (v->recognizer != NULL) {
		bh_buf_puts(out, ",\"recognizer\":");
		bh_json_cstr(out, v->recognizer);
	}
	if (v->error != NULL) {
		bh_buf_puts(out, ",\"error\":");
		bh_json_cstr(out, v->error);
	}
	if (v->stable_id[0] != '\0') {
		bh_buf_puts(out, ",\"stable_id\":");
		bh_json_cstr(out, v->stable_id);
	}
	bh_buf_putc(out, '}');
}

/*
 * rules.h - the reason engine: an ordered table of (status pattern, reply code, text pattern)
 * -> reason, compiled once (PCRE2, JIT where available) and shared read-only by every message.
 *
 * Precedence (README "Classification rules"), first match wins at each step:
 *   1. text rows (a pattern over the diagnostic), in table order: rules from the config come
 *      before the built-in table, so they override it;
 *   2. code rows (no pattern): a specific status code (5.1.1, 5.2.2, 5.7.26...) decides only
 *      when no text row matched; generic codes (5.0.0, 5.7.1, 4.0.0, 554, 550) have no row and
 *      decide nothing on their own;
 *   3. weak built-in text rows (vague phrases such as "service unavailable"), only when the
 *      status said nothing specific;
 *   4. the status class: 4.x.x -> onhold, otherwise undefined.
 * A 2.x.x status gives "delivered" unless a text row matched. Pure: no I/O, no logging. A compiled
 * struct bh_rules is read-only after bh_rules_new (bh_rules_set_prefilter aside), so one object
 * may serve every message.
 */
#ifndef BH_RULES_H
#define BH_RULES_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "reason.h"

struct bh_rules;

/* What the engine concluded for one failed recipient. */
struct bh_rules_result {
	enum bh_reason reason; /* BH_R_UNDEFINED when nothing matched */
	enum bh_whose whose;   /* the reason's, or the rule's override */
	const char *rule;      /* rule id ("builtin:user-unknown-text", "config:my-rule"); owned
				* by the rules object */
	bool unjudged;	       /* a stock recipient-unknown text read as filtered only because
				* nothing showed the address was judged (no stage, no x.1.x
				* status): the caller may know better from the rest of the report */
};

/* bh_rules_new - compile the built-in table plus the config's rules (extra may be NULL, n 0;
 * replace drops the built-in table). Returns NULL with *error_r (static or owned by nobody:
 * a message valid until the next call) when a pattern does not compile. */
struct bh_rules *bh_rules_new(const struct bh_rule_conf *extra, size_t n, bool replace,
			      unsigned match_limit, const char **error_r);
void bh_rules_free(struct bh_rules **rules);
/* bh_rules_version - a short hash of the compiled table, recorded in every event. */
const char *bh_rules_version(const struct bh_rules *rules);

/* bh_rules_decide - the reason for one recipient. status is a "c.s.d" or "" (anything else is
 * ignored); reply_code is "550" or ""; text is the diagnostic text (any bytes, span; NULL with
 * text_len 0 is fine; only the first BH_MAX_RULE_TEXT normalized bytes are read). When status or
 * reply_code is empty, one found in the text is used (a 4.x.x/5.x.x status where a status
 * stands: after a reply code, '#', '(' or "status:"). The engine does not see the DSN Action:
 * a delayed report gets the same reason a failure would (the caller and the policy tell them
 * apart). Never fails: no match gives onhold (4.x.x) or undefined; a 2.x.x status that no text
 * row contradicts gives delivered. out->rule is owned by the rules object. */
void bh_rules_decide(const struct bh_rules *rules, const char *status, const char *reply_code,
		     const char *text, size_t text_len, struct bh_rules_result *out);

/* bh_rules_decide_cmd - bh_rules_decide with the SMTP command the refusal answered, when the
 * report says it elsewhere than in the diagnostic (a transcript, Postfix "(in reply to ...)"):
 * "CONN", "HELO", "MAIL", "RCPT", "DATA", or ""/NULL when unknown (then the text is asked,
 * bh_smtp_command). The stage matters where the words do not say whose problem it is: a
 * server that took the address at RCPT TO and refused the message after DATA knew the
 * mailbox, so "user unknown" there (without a 5.1.x status) is a filter's answer, filtered;
 * a "user unknown" in reply to MAIL FROM is about our sender (rejected), at HELO or connection
 * time about our host (blocked). Only the built-in recipient-unknown rows are re-read so. */
void bh_rules_decide_cmd(const struct bh_rules *rules, const char *status, const char *reply_code,
			 const char *text, size_t text_len, const char *smtp_command,
			 struct bh_rules_result *out);

/* bh_smtp_command - the SMTP command a failure answered, as the text says it: Postfix "(in
 * reply to end of DATA command)", Exim "SMTP error from remote mail server after RCPT
 * TO:<a@b>:" / "after end of data", the ">>> DATA" / "<<< 550" lines of a Sendmail or
 * Courier transcript (the last command sent before the first 4xx/5xx reply), qmail's
 * "does not like recipient" / "failed after I sent the message". Writes "CONN", "HELO",
 * "MAIL", "RCPT", "DATA" or "" into out (8 bytes); returns true when one was found. Reads at
 * most BH_MAX_RULE_TEXT bytes. XXX: with PIPELINING the replies to RCPT TO may come after
 * ">>> DATA" in a transcript; they are read as DATA, as the transcript shows them. */
bool bh_smtp_command(const char *text, size_t text_len, char out[8]);

/* bh_rules_set_prefilter - tests only: on (the default) lets each built-in row skip its regex
 * when none of its literals occurs in the text; off runs every regex (the results must be the
 * same: the test suite proves the literals never hide a match). */
void bh_rules_set_prefilter(struct bh_rules *rules, bool on);

/* bh_status_valid - true when p[0..n) is an RFC 3463 status "c.sss.ddd" with c in 2,4,5. */
bool bh_status_valid(const char *p, size_t n);

#endif

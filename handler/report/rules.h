/*
 * rules.h - the reason engine: a table of rows (status glob, reply-code glob, PCRE2 pattern over
 * the text, reason, optional whose, specificity), compiled once (PCRE2, JIT where available) and
 * shared read-only by every message. The built-in rows are data: rules/builtin.yaml, embedded at
 * build time (`bouncer rules dump` prints it).
 *
 * The engine reads the evidence of one recipient: every text that speaks about it, each tagged
 * with where it came from (the remote server's reply, a wrapper's quoted inner reply, a
 * transcript, the notice's paragraph, its heading). Precedence (docs/classification.md):
 *   0. config text rows, in table order, over the evidence from the most trusted source down:
 *      the first that matches decides (the operator overrides the built-in words);
 *   1. strong built-in text rows (specificity cause or concept) over the report's own words
 *      about the recipient (inner reply, transcript, diagnostic, Status comment): the best
 *      match wins, compared by the evidence's trust, then the specificity (cause > concept),
 *      then the order of the rules file, which lists the narrower rows of a class first;
 *   2. before RCPT TO (stage CONN, HELO, MAIL), a permanent refusal no words explained is our
 *      host's (blocked) or our sender's (rejected), whatever its code;
 *   3. code rows: the config's, then the built-in ones for a specific status (5.1.1, 5.2.2,
 *      5.7.26 ...; generic codes such as 5.0.0, 5.7.1, 550, 554 have none); then strong rows
 *      in the notice's paragraph and heading, which may speak of other recipients too;
 *   4. vague text rows ("spam" alone, a size, an exit code);
 *   5. the stage of a permanent refusal at RCPT TO (filtered) or after DATA
 *      (policyviolation), then the stock words of any refusal ("access denied");
 *   6. the status class: 2.x.x (or a 2xx reply) delivered, 4.x.x or a delayed report onhold,
 *      otherwise undefined.
 * Before RCPT TO the server cannot have judged the recipient, so rows whose reason is the
 * recipient's are not used there. A failed report whose Status is 4.x.x, or whose words say
 * the retries ran out, is expired unless the address itself is bad or a named cause on our
 * side decided; a delayed report is never expired. Pure: no I/O, no logging.
 */
#ifndef BH_RULES_H
#define BH_RULES_H

#include <stdbool.h>
#include <stddef.h>

#include "reason.h"

struct bh_rules;

/* One operator rule (bouncer.yaml `rules:`, filled by the configuration loader): bh_rules_new
 * compiles these before the built-in table. Every string may be NULL except id. */
struct bh_rule_conf {
	char *id;
	char *status;	  /* status pattern: "5.1.1", "5.7.*", NULL */
	char *reply_code; /* "550", "5*", NULL */
	char *pattern;	  /* PCRE2 pattern over the diagnostic text, NULL */
	enum bh_reason reason;
	bool has_whose;
	enum bh_whose whose;
};

/* Where a text about a recipient came from, most trusted first (the order is the weight). */
enum bh_ev_src {
	BH_EV_INNER = 0,      /* a reply quoted inside a wrapper's diagnostic ("... 550-'...'") */
	BH_EV_TRANSCRIPT,     /* the reply lines of an SMTP transcript ("<<< 550-...") */
	BH_EV_DIAGNOSTIC,     /* the report's diagnostic (Diagnostic-Code, the per-address line) */
	BH_EV_STATUS_COMMENT, /* the comment of a DSN Status field */
	BH_EV_NOTICE,	      /* the notice's paragraph that names the address */
	BH_EV_HEADING,	      /* the notice's heading or Subject */
	BH_EV_COUNT
};

/* One text about one recipient (borrowed span). */
struct bh_evidence {
	enum bh_ev_src src;
	const char *text;
	size_t len;
};

/* What the engine concluded for one failed recipient. */
struct bh_rules_result {
	enum bh_reason reason; /* BH_R_UNDEFINED when nothing matched */
	enum bh_whose whose;   /* the reason's, or the rule's override */
	const char *rule;      /* rule id ("builtin:userunknown-concept", "config:my-rule",
				* "status:5.1.1", "stage:MAIL", "class:4"); owned by the rules
				* object or static */
	const char *evidence;  /* the source of the words that decided ("diagnostic",
				* "transcript", ...), "status", "stage" or "" (static) */
};

/* What one decision reads. status is a "c.s.d" or "" (anything else is ignored); reply_code
 * is "550" or ""; smtp_command is "CONN", "HELO", "MAIL", "RCPT", "DATA" or ""/NULL (then the
 * evidence is asked, bh_smtp_command); delayed: the report says delivery is still tried
 * (Action: delayed). When status or reply_code is empty, one found in the evidence is used. */
struct bh_rules_input {
	const char *status;
	const char *reply_code;
	const char *smtp_command;
	const struct bh_evidence *ev;
	size_t n_ev;
	bool delayed;
	bool failed; /* the report says it gave up (Action: failed) */
};

/* bh_rules_new - compile the config's rules (extra may be NULL, n 0), then the built-in table
 * (unless replace). Returns NULL with *error_r (static: valid until the next call) when a
 * pattern does not compile. */
struct bh_rules *bh_rules_new(const struct bh_rule_conf *extra, size_t n, bool replace,
			      unsigned match_limit, const char **error_r);
void bh_rules_free(struct bh_rules **rules);
/* bh_rules_version - a short hash of the compiled table, recorded in every event. */
const char *bh_rules_version(const struct bh_rules *rules);

/* bh_rules_decide_ev - the reason for one recipient from all its evidence (see the top of this
 * file for the precedence). Only the first BH_MAX_RULE_TEXT normalized bytes of each evidence
 * text are read, and at most BH_MAX_EVIDENCE texts. Never fails. */
void bh_rules_decide_ev(const struct bh_rules *rules, const struct bh_rules_input *in,
			struct bh_rules_result *out);

/* bh_rules_decide - bh_rules_decide_ev with one diagnostic text and no stage. */
void bh_rules_decide(const struct bh_rules *rules, const char *status, const char *reply_code,
		     const char *text, size_t text_len, struct bh_rules_result *out);

/* bh_rules_decide_cmd - bh_rules_decide with the SMTP command the refusal answered, when the
 * report says it elsewhere than in the text ("CONN", "HELO", "MAIL", "RCPT", "DATA", ""). */
void bh_rules_decide_cmd(const struct bh_rules *rules, const char *status, const char *reply_code,
			 const char *text, size_t text_len, const char *smtp_command,
			 struct bh_rules_result *out);

/* bh_rules_builtin - the built-in rules file as embedded at build time (static, len bytes). */
const char *bh_rules_builtin(size_t *len);

/* bh_rules_dump_compiled - append every compiled row to out as JSON Lines (id, status,
 * reply_code, specificity, literals, the pattern with its families expanded, reason, whose):
 * `bouncer rules dump --compiled`, and what the literal checker of the tests reads. */
struct bh_buf;
void bh_rules_dump_compiled(const struct bh_rules *rules, struct bh_buf *out);

/* bh_ev_src_name - "inner", "transcript", "diagnostic", "status-comment", "notice", "heading" */
const char *bh_ev_src_name(enum bh_ev_src src);

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

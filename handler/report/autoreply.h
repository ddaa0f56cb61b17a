/*
 * autoreply.h - is this message an automatic reply (out-of-office, vacation, "thank you for
 * your email", ticket systems) rather than a bounce? RFC 3834 and vendor headers first, then
 * subject and body cues in several languages. Pure: no I/O.
 */
#ifndef BH_AUTOREPLY_H
#define BH_AUTOREPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "verdict.h"

/* bh_autoreply_detect - true when the message whose header fields are summarized in env (and
 * whose first text part is body[0..body_len), may be NULL) is an automatic reply. *why_r gets
 * a static description of the cue that decided ("Auto-Submitted: auto-replied", "subject: Out
 * of Office"). A DSN or ARF report is never an auto-reply: call this only for other messages. */
bool bh_autoreply_detect(const struct bh_envelope *env, const char *body, size_t body_len,
			 const char **why_r);

/* bh_autoreply_subject - true when subject (decoded, NUL-terminated, may be NULL) OPENS with an
 * auto-reply phrase ("Out of Office", "Automatische Antwort", "自動応答"); "Re: Out of Office"
 * does not. strict_only keeps the phrases no newsletter or human subject would open with (the
 * loop module uses those on a returned message). *why_r gets a static "subject: ..." text. */
bool bh_autoreply_subject(const char *subject, bool strict_only, const char **why_r);

#endif

/*
 * log.h - structured logs of the long-running commands: one line per event on stderr, as a
 * JSON object or as logfmt (key=value), with a timestamp, a level and an event name first.
 *
 * A line is built field by field and written at once:
 *
 *	struct bh_logline l;
 *	bh_log_begin(&l, BH_LOG_INFO, "decision");
 *	bh_log_ctx(&l, &ctx);                    // mailbox, uidvalidity, uid, message_id
 *	bh_log_str(&l, "outcome", "suppress");
 *	bh_log_end(&l);                          // prints (or drops it below the level)
 *
 * Untrusted text (anything from a message or a server) goes through bh_log_untrusted(), which
 * cuts it and replaces control and non-ASCII bytes (bh_printable). Never pass a secret.
 * The logger is process-wide state set once by bh_log_setup(); it is not thread-safe.
 */
#ifndef BH_LOG_H
#define BH_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util.h"

enum bh_log_level { BH_LOG_DEBUG = 0, BH_LOG_INFO, BH_LOG_WARN, BH_LOG_ERROR };
enum bh_log_format { BH_LOG_JSON = 0, BH_LOG_LOGFMT };
/* log_priority_prefix: "<N>" before each line when stderr is the journal, always, or never */
enum bh_log_prefix { BH_LOG_PREFIX_AUTO = 0, BH_LOG_PREFIX_ALWAYS, BH_LOG_PREFIX_NEVER };

/* Untrusted values are cut to this many bytes. */
#define BH_LOG_MAX_VALUE 200u

/* bh_log_setup - where and how to log (fp NULL: stderr). */
void bh_log_setup(enum bh_log_format format, enum bh_log_level min, FILE *fp);
/* bh_log_format_parse - "json" or "logfmt" (NULL: json); -1 when neither. */
int bh_log_format_parse(const char *s);
/* bh_log_set_prefix - start every line with "<N>", its syslog priority (sd-daemon(3): 3 error,
 * 4 warn, 6 info, 7 debug), for journald to store as PRIORITY=; off by default. */
void bh_log_set_prefix(bool on);
/* bh_log_stderr_is_journal - is stderr the journald stream of $JOURNAL_STREAM (same device and
 * inode)? */
bool bh_log_stderr_is_journal(void);
/* bh_log_prefix_parse - "auto", "always" or "never" (NULL: auto); -1 when none. */
int bh_log_prefix_parse(const char *s);
/* bh_log_prefix_wanted - ALWAYS: true; NEVER: false; AUTO: bh_log_stderr_is_journal(). */
bool bh_log_prefix_wanted(enum bh_log_prefix mode);
/* bh_log_enabled - would a line at this level be written? */
bool bh_log_enabled(enum bh_log_level level);
/* bh_log_set_hook - call fn before and after every line written (the progress line clears and
 * redraws itself); NULL removes it. */
void bh_log_set_hook(void (*fn)(bool before, void *ctx), void *ctx);

/* The correlation ids of one message; any member may be NULL / 0. */
struct bh_log_ctx {
	const char *mailbox;
	uint32_t uidvalidity;
	uint32_t uid;
	const char *message_id; /* untrusted: escaped and cut */
	const char *stable_id;
};

struct bh_logline {
	struct bh_buf b;
	enum bh_log_level level;
	bool on;
};

void bh_log_begin(struct bh_logline *l, enum bh_log_level level, const char *event);
void bh_log_str(struct bh_logline *l, const char *key, const char *value); /* NULL: skipped */
void bh_log_untrusted(struct bh_logline *l, const char *key, const char *p, size_t n);
void bh_log_int(struct bh_logline *l, const char *key, long long value);
void bh_log_bool(struct bh_logline *l, const char *key, bool value);
void bh_log_printf(struct bh_logline *l, const char *key, const char *fmt, ...) BH_PRINTF(3, 4);
void bh_log_ctx(struct bh_logline *l, const struct bh_log_ctx *c);
/* bh_log_end - write the line and free it. */
void bh_log_end(struct bh_logline *l);

/* Batching: lines below warn are collected and written together (one write per batch). A line
 * at warn or above first writes what was collected, then itself, at once; so do the exit of the
 * process and bh_fatal. The worker batches the lines of a chunk; a caller about to block (wait
 * for mail, sleep) must end its batch first. Collected lines are flushed early past
 * BH_LOG_BATCH_BYTES. */
#define BH_LOG_BATCH_BYTES (256u * 1024)
/* bh_log_batch_begin - collect lines from now on (nesting is not counted: one batch at a time). */
void bh_log_batch_begin(void);
/* bh_log_batch_end - write what was collected and stop collecting. */
void bh_log_batch_end(void);
/* bh_log_flush - write what was collected, and go on collecting. */
void bh_log_flush(void);

/* bh_log - a line with only an event and a message (msg=...). */
void bh_log(enum bh_log_level level, const char *event, const char *fmt, ...) BH_PRINTF(3, 4);
/* bh_log_errno - the same, adding err=strerror(errno) (like warn(3)). */
void bh_log_errno(enum bh_log_level level, const char *event, const char *fmt, ...) BH_PRINTF(3, 4);

const char *bh_log_level_name(enum bh_log_level level);

#endif

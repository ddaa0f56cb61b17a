/*
 * log.c - one structured line per event (JSON object or logfmt) on stderr.
 *
 * Keys are ours (static ASCII); values are escaped for the format: JSON strings through
 * bh_json_str, logfmt values quoted when they contain a space, '=' or '"'. Untrusted values are
 * first cut and made printable (bh_printable), so a hostile Message-ID cannot forge a line.
 *
 * Under systemd, stderr is a stream to journald: with the priority prefix on, each line starts
 * with "<N>" (sd-daemon(3): 3 error, 4 warning, 6 info, 7 debug), which journald strips and
 * stores as PRIORITY=N, so `journalctl -p err` filters. bh_log_stderr_is_journal() tells whether
 * stderr is that stream ($JOURNAL_STREAM, systemd.exec(5)).
 *
 * Batching (bh_log_batch_begin/_end): the worker collects the lines of a chunk of messages and
 * writes them with one write(2) instead of one per line. A warning or an error flushes what is
 * collected and goes out at once; so does bh_fatal (through its hook), the exit of the process
 * (atexit) and an abort (a failed assert: SIGABRT), so that nothing collected is lost short of
 * SIGKILL.
 */
#include "log.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static struct {
	enum bh_log_format format;
	enum bh_log_level min;
	FILE *fp;
	void (*hook)(bool before, void *ctx);
	void *hook_ctx;
	bool prefix;
} logger = {BH_LOG_JSON, BH_LOG_INFO, NULL, NULL, NULL, false};

/* the lines collected while batching: written at once by batch_flush */
static struct {
	struct bh_buf b;
	bool on;
	bool registered; /* batch_flush is an atexit handler and bh_fatal's hook */
} batch;

static const char *const level_names[] = {"debug", "info", "warn", "error"};
/* syslog(3) priorities of the levels: LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR */
static const int level_priorities[] = {7, 6, 4, 3};

/* bh_log_level_name - the name of a log level */
const char *
bh_log_level_name(enum bh_log_level level)
{
	return (unsigned)level < BH_NELEM(level_names) ? level_names[level] : "?";
}

/* bh_log_setup - set the format, the minimum level and the stream */
void
bh_log_setup(enum bh_log_format format, enum bh_log_level min, FILE *fp)
{
	logger.format = format;
	logger.min = min;
	logger.fp = fp;
}

/* bh_log_set_prefix - start every line with its "<N>" syslog priority, or not */
void
bh_log_set_prefix(bool on)
{
	logger.prefix = on;
}

/* bh_log_stderr_is_journal - whether stderr is the journald stream named by $JOURNAL_STREAM */
bool
bh_log_stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char tail;

	/* "DEVICE:INODE" in decimal; systemd sets it for stdout too, so compare with stderr */
	if (env == NULL || sscanf(env, "%llu:%llu%c", &dev, &ino, &tail) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) == -1)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* bh_log_prefix_parse - a priority prefix mode from its name */
int
bh_log_prefix_parse(const char *s)
{
	if (s == NULL || strcmp(s, "auto") == 0)
		return BH_LOG_PREFIX_AUTO;
	if (strcmp(s, "always") == 0)
		return BH_LOG_PREFIX_ALWAYS;
	if (strcmp(s, "never") == 0)
		return BH_LOG_PREFIX_NEVER;
	return -1;
}

/* bh_log_prefix_wanted - whether a mode asks for the prefix here and now */
bool
bh_log_prefix_wanted(enum bh_log_prefix mode)
{
	if (mode == BH_LOG_PREFIX_AUTO)
		return bh_log_stderr_is_journal();
	return mode == BH_LOG_PREFIX_ALWAYS;
}

/* bh_log_format_parse - a log format from its name */
int
bh_log_format_parse(const char *s)
{
	if (s == NULL || strcmp(s, "json") == 0)
		return BH_LOG_JSON;
	if (strcmp(s, "logfmt") == 0)
		return BH_LOG_LOGFMT;
	return -1;
}

/* bh_log_enabled - whether lines of this level are written */
bool
bh_log_enabled(enum bh_log_level level)
{
	return level >= logger.min;
}

/* bh_log_set_hook - call fn before and after each line is written */
void
bh_log_set_hook(void (*fn)(bool before, void *ctx), void *ctx)
{
	logger.hook = fn;
	logger.hook_ctx = ctx;
}

/* put_key - the separator and the key */
static void
put_key(struct bh_logline *l, const char *key)
{
	if (logger.format == BH_LOG_JSON) {
		bh_buf_puts(&l->b, ",");
		bh_json_cstr(&l->b, key);
		bh_buf_putc(&l->b, ':');
	} else {
		bh_buf_putc(&l->b, ' ');
		bh_buf_puts(&l->b, key);
		bh_buf_putc(&l->b, '=');
	}
}

/* put_value - a string value, escaped for the format */
static void
put_value(struct bh_logline *l, const char *p, size_t n)
{
	size_t i;
	bool quote = n == 0;

	if (logger.format == BH_LOG_JSON) {
		bh_json_str(&l->b, p, n);
		return;
	}
	for (i = 0; i < n && !quote; i++)
		if (p[i] == ' ' || p[i] == '=' || p[i] == '"' || (unsigned char)p[i] < 0x20 ||
		    p[i] == 0x7f)
			quote = true;
	if (!quote) {
		bh_buf_append(&l->b, p, n);
		return;
	}
	bh_buf_putc(&l->b, '"');
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '"' || c == '\\') {
			bh_buf_putc(&l->b, '\\');
			bh_buf_putc(&l->b, (char)c);
		} else if (c == '\n') {
			bh_buf_puts(&l->b, "\\n");
		} else if (c < 0x20 || c == 0x7f) {
			bh_buf_printf(&l->b, "\\x%02x", c);
		} else {
			bh_buf_putc(&l->b, (char)c);
		}
	}
	bh_buf_putc(&l->b, '"');
}

/* bh_log_begin - start a line: time, level, event */
void
bh_log_begin(struct bh_logline *l, enum bh_log_level level, const char *event)
{
	struct timespec ts;
	struct tm tm;
	char when[96];

	l->level = level;
	l->on = bh_log_enabled(level);
	bh_buf_init(&l->b);
	if (!l->on)
		return;
	if (logger.prefix)
		bh_buf_printf(&l->b, "<%d>", level_priorities[level]);
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 ts.tv_nsec / 1000000L);
	if (logger.format == BH_LOG_JSON)
		bh_buf_printf(&l->b, "{\"ts\":\"%s\",\"level\":\"%s\"", when,
			      bh_log_level_name(level));
	else
		bh_buf_printf(&l->b, "ts=%s level=%s", when, bh_log_level_name(level));
	bh_log_str(l, "event", event);
}

/* bh_log_str - append key=value (trusted text) */
void
bh_log_str(struct bh_logline *l, const char *key, const char *value)
{
	if (!l->on || value == NULL)
		return;
	put_key(l, key);
	put_value(l, value, strlen(value));
}

/* bh_log_untrusted - append key=value of untrusted text, escaped and cut */
void
bh_log_untrusted(struct bh_logline *l, const char *key, const char *p, size_t n)
{
	char *s;

	if (!l->on || p == NULL)
		return;
	s = bh_printable(p, n, BH_LOG_MAX_VALUE);
	bh_log_str(l, key, s);
	free(s);
}

/* bh_log_int - append key=integer */
void
bh_log_int(struct bh_logline *l, const char *key, long long value)
{
	if (!l->on)
		return;
	put_key(l, key);
	bh_buf_printf(&l->b, "%lld", value);
}

/* bh_log_bool - append key=true/false */
void
bh_log_bool(struct bh_logline *l, const char *key, bool value)
{
	if (!l->on)
		return;
	put_key(l, key);
	bh_buf_puts(&l->b, value ? "true" : "false");
}

/* bh_log_printf - append key=formatted value */
void
bh_log_printf(struct bh_logline *l, const char *key, const char *fmt, ...)
{
	struct bh_buf tmp;
	va_list ap;

	if (!l->on)
		return;
	bh_buf_init(&tmp);
	va_start(ap, fmt);
	bh_buf_vprintf(&tmp, fmt, ap);
	va_end(ap);
	put_key(l, key);
	put_value(l, tmp.data != NULL ? tmp.data : "", tmp.len);
	bh_buf_deinit(&tmp);
}

/* bh_log_ctx - append the correlation fields (mailbox, UIDVALIDITY, UID, Message-ID) */
void
bh_log_ctx(struct bh_logline *l, const struct bh_log_ctx *c)
{
	if (!l->on || c == NULL)
		return;
	bh_log_str(l, "mailbox", c->mailbox);
	if (c->uidvalidity != 0)
		bh_log_int(l, "uidvalidity", c->uidvalidity);
	if (c->uid != 0)
		bh_log_int(l, "uid", c->uid);
	if (c->message_id != NULL)
		bh_log_untrusted(l, "message_id", c->message_id, strlen(c->message_id));
	if (c->stable_id != NULL && c->stable_id[0] != '\0')
		bh_log_str(l, "stable_id", c->stable_id);
}

/* write_out - write n bytes of finished lines to the stream at once, the hook around them */
static void
write_out(const char *p, size_t n)
{
	FILE *fp = logger.fp != NULL ? logger.fp : stderr;

	if (n == 0)
		return;
	if (logger.hook != NULL)
		logger.hook(true, logger.hook_ctx);
	fwrite(p, 1, n, fp);
	fflush(fp);
	if (logger.hook != NULL)
		logger.hook(false, logger.hook_ctx);
}

/* bh_log_end - finish the line and write it (while batching: collect it) */
void
bh_log_end(struct bh_logline *l)
{
	if (l->on) {
		if (logger.format == BH_LOG_JSON)
			bh_buf_putc(&l->b, '}');
		bh_buf_putc(&l->b, '\n');
		if (batch.on && l->level < BH_LOG_WARN) {
			bh_buf_append(&batch.b, l->b.data, l->b.len);
			if (batch.b.len >= BH_LOG_BATCH_BYTES)
				bh_log_flush();
		} else {
			bh_log_flush(); /* what was collected comes first */
			write_out(l->b.data, l->b.len);
		}
	}
	bh_buf_deinit(&l->b);
	l->on = false;
}

/* bh_log_flush - write the lines collected so far (batching goes on) */
void
bh_log_flush(void)
{
	if (batch.b.len == 0)
		return;
	write_out(batch.b.data, batch.b.len);
	bh_buf_reset(&batch.b);
}

/* batch_exit - at exit and on bh_fatal: write what is collected, keep nothing */
static void
batch_exit(void)
{
	batch.on = false;
	bh_log_flush();
	bh_buf_deinit(&batch.b);
}

/* batch_abort - SIGABRT: write the collected lines with write(2) alone, then abort as asked */
static void
batch_abort(int sig)
{
	FILE *fp = logger.fp != NULL ? logger.fp : stderr;
	const char *p = batch.b.data;
	size_t n = batch.on ? batch.b.len : 0;

	while (n > 0) {
		ssize_t k = write(fileno(fp), p, n);

		if (k <= 0)
			break;
		p += k;
		n -= (size_t)k;
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

/* bh_log_batch_begin - collect the lines below warn from now on, until bh_log_batch_end */
void
bh_log_batch_begin(void)
{
	if (!batch.registered) {
		struct sigaction sa;

		batch.registered = true;
		atexit(batch_exit);
		bh_fatal_set_hook(batch_exit);
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = batch_abort;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGABRT, &sa, NULL);
	}
	batch.on = true;
}

/* bh_log_batch_end - write the collected lines with one write and stop collecting */
void
bh_log_batch_end(void)
{
	batch.on = false;
	bh_log_flush();
}

/* vlog - the body of bh_log and bh_log_errno */
BH_PRINTF(4, 0)
static void
vlog(enum bh_log_level level, const char *event, const char *err, const char *fmt, va_list ap)
{
	struct bh_logline l;
	struct bh_buf msg;

	if (!bh_log_enabled(level))
		return;
	bh_buf_init(&msg);
	bh_buf_vprintf(&msg, fmt, ap);
	bh_log_begin(&l, level, event);
	put_key(&l, "msg");
	put_value(&l, msg.data != NULL ? msg.data : "", msg.len);
	bh_log_str(&l, "err", err);
	bh_log_end(&l);
	bh_buf_deinit(&msg);
}

/* bh_log - one line with a formatted message */
void
bh_log(enum bh_log_level level, const char *event, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, event, NULL, fmt, ap);
	va_end(ap);
}

/* bh_log_errno - one line with a formatted message and strerror(errno) */
void
bh_log_errno(enum bh_log_level level, const char *event, const char *fmt, ...)
{
	const char *err = strerror(errno);
	va_list ap;

	va_start(ap, fmt);
	vlog(level, event, err, fmt, ap);
	va_end(ap);
}

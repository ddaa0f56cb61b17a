/*
 * test_log.c - the structured log line: JSON and logfmt escaping, untrusted text cut and made
 * printable, correlation ids, levels; the "<N>" journald priority prefixes on the raw stderr;
 * batching (one write per batch, a warning at once, nothing lost at exit, bh_fatal or abort).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "test.h"
#include "util.h"

/* strip_ts - the line without its timestamp field, for stable comparisons */
static char *
strip_ts(const char *line)
{
	const char *p = strstr(line, "level");
	const char *start = strchr(line, '{') == line ? "{" : "";

	return bh_asprintf("%s%s", start, p != NULL ? (*start != '\0' ? p - 1 : p) : line);
}

static char *
capture(enum bh_log_format fmt, enum bh_log_level min, void (*fn)(void))
{
	char *buf = NULL, *out;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	bh_log_setup(fmt, min, fp);
	fn();
	fclose(fp);
	out = strip_ts(buf);
	free(buf);
	bh_log_setup(BH_LOG_JSON, BH_LOG_INFO, NULL);
	return out;
}

static void
line_decision(void)
{
	static const char mid[] = "<a\"b\nforged=1 \x01\xff@x>";
	struct bh_log_ctx c = {"INBOX", 7, 42, mid, "abc"};
	struct bh_logline l;

	bh_log_begin(&l, BH_LOG_INFO, "decision");
	bh_log_ctx(&l, &c);
	bh_log_str(&l, "why", "hard bounce");
	bh_log_int(&l, "n", -3);
	bh_log_bool(&l, "ok", true);
	bh_log_str(&l, "skipped", NULL);
	bh_log_end(&l);
}

static void
line_debug(void)
{
	bh_log(BH_LOG_DEBUG, "noise", "%s", "never printed");
}

static void
line_long(void)
{
	char big[1000];
	struct bh_logline l;

	memset(big, 'x', sizeof(big));
	bh_log_begin(&l, BH_LOG_WARN, "long");
	bh_log_untrusted(&l, "v", big, sizeof(big));
	bh_log_end(&l);
}

/* What the batching test's stream received: the bytes and the number of writes. */
static struct {
	char data[4096];
	size_t len;
	int writes;
} sink;

/* sink_write - fopencookie write: keep the bytes, count the call */
static ssize_t
sink_write(void *cookie, const char *p, size_t n)
{
	(void)cookie;
	if (n > sizeof(sink.data) - 1 - sink.len)
		n = sizeof(sink.data) - 1 - sink.len;
	memcpy(sink.data + sink.len, p, n);
	sink.len += n;
	sink.data[sink.len] = '\0';
	sink.writes++;
	return (ssize_t)n;
}

/* batch_lost_by - what a child that logs one info line inside a batch and then ends by `how`
 * (exit, bh_fatal, abort) wrote to the log stream: the line must not be lost */
static char *
batch_lost_by(const char *how)
{
	int fd[2];
	pid_t pid;
	char buf[4096];
	size_t len = 0;
	ssize_t r;

	if (pipe(fd) != 0)
		return bh_strdup("pipe failed");
	fflush(NULL);
	if ((pid = fork()) == 0) {
		FILE *fp = fdopen(fd[1], "w");

		close(fd[0]);
		bh_log_setup(BH_LOG_LOGFMT, BH_LOG_INFO, fp);
		bh_log_batch_begin();
		bh_log(BH_LOG_INFO, "collected", "waits for the batch's end");
		if (strcmp(how, "exit") == 0)
			exit(0);
		if (strcmp(how, "fatal") == 0)
			bh_fatal("the test's fatal error");
		abort();
	}
	close(fd[1]);
	while (len < sizeof(buf) - 1 && (r = read(fd[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)r;
	buf[len] = '\0';
	close(fd[0]);
	waitpid(pid, NULL, 0);
	return bh_strdup(buf);
}

/* batching_ends - a batch's collected lines are written when the process exits, dies in
 * bh_fatal or aborts in the middle of the batch */
static void
batching_ends(void)
{
	static const char *const hows[] = {"exit", "fatal", "abort"};
	size_t i;

	for (i = 0; i < sizeof(hows) / sizeof(hows[0]); i++) {
		char *out = batch_lost_by(hows[i]);

		if (strstr(out, "event=collected") == NULL)
			fprintf(stderr, "batching_ends: %s lost the line: [%s]\n", hows[i], out);
		CHECK(strstr(out, "event=collected") != NULL);
		free(out);
	}
}

/* batching - info lines wait for the end of the batch and go out with one write; a warning
 * writes what waits, then itself, at once */
static void
batching(void)
{
	cookie_io_functions_t io = {NULL, sink_write, NULL, NULL};
	FILE *fp = fopencookie(NULL, "w", io);

	bh_log_setup(BH_LOG_LOGFMT, BH_LOG_INFO, fp);
	bh_log_batch_begin();
	bh_log(BH_LOG_INFO, "one", "a");
	bh_log(BH_LOG_INFO, "two", "b");
	CHECK_INT(sink.writes, 0);
	bh_log(BH_LOG_WARN, "three", "c");
	CHECK_INT(sink.writes, 2);
	CHECK(strstr(sink.data, "event=one") != NULL);
	CHECK(strstr(sink.data, "event=one") < strstr(sink.data, "event=two"));
	CHECK(strstr(sink.data, "event=two") < strstr(sink.data, "event=three"));
	bh_log(BH_LOG_INFO, "four", "d");
	bh_log(BH_LOG_DEBUG, "five", "below the level");
	bh_log(BH_LOG_INFO, "six", "e");
	CHECK_INT(sink.writes, 2);
	bh_log_batch_end();
	CHECK_INT(sink.writes, 3);
	CHECK(strstr(sink.data, "event=three") < strstr(sink.data, "event=four"));
	CHECK(strstr(sink.data, "event=four") < strstr(sink.data, "event=six"));
	CHECK(strstr(sink.data, "event=five") == NULL);
	bh_log(BH_LOG_INFO, "seven", "after the batch: at once");
	CHECK_INT(sink.writes, 4);
	bh_log_batch_end(); /* nothing collected: no write */
	CHECK_INT(sink.writes, 4);
	bh_log_setup(BH_LOG_JSON, BH_LOG_INFO, NULL);
	fclose(fp);
}

/* line_each_level - one line at every level, as the worker writes them */
static void
line_each_level(void)
{
	bh_log(BH_LOG_ERROR, "unavailable", "redis: connection refused");
	bh_log(BH_LOG_WARN, "metrics", "not serving metrics");
	bh_log(BH_LOG_INFO, "start", "bouncer run");
	bh_log(BH_LOG_DEBUG, "verdict", "uid=1");
}

/* raw_stderr - run fn with fd 2 on a file that $JOURNAL_STREAM names (or, when journal is false,
 * names something else), the prefix decided as cmd_run.c decides it with mode; the bytes written */
static char *
raw_stderr(bool journal, enum bh_log_prefix mode, void (*fn)(void))
{
	char path[] = "/tmp/test_log.XXXXXX";
	char env[64], *out;
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	struct stat st;
	FILE *fp;
	long n;

	if (fd == -1 || saved == -1 || fstat(fd, &st) == -1) {
		perror("test_log: raw_stderr");
		exit(1);
	}
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino + (journal ? 0 : 1));
	setenv("JOURNAL_STREAM", env, 1);
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	bh_log_setup(BH_LOG_LOGFMT, BH_LOG_DEBUG, NULL);
	bh_log_set_prefix(bh_log_prefix_wanted(mode));
	fn();
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	bh_log_set_prefix(false);
	bh_log_setup(BH_LOG_JSON, BH_LOG_INFO, NULL);
	unsetenv("JOURNAL_STREAM");
	fp = fdopen(fd, "r");
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	out = calloc(1, (size_t)n + 1);
	if (out == NULL || fread(out, 1, (size_t)n, fp) != (size_t)n) {
		perror("test_log: raw_stderr read");
		exit(1);
	}
	fclose(fp);
	unlink(path);
	return out;
}

/* journal_filter - the lines journald would show for `journalctl -p max`: it strips "<N>" and
 * keeps PRIORITY=N; a line without a prefix gets the stream's default, info (6) */
static char *
journal_filter(const char *raw, int max)
{
	struct bh_buf b;
	const char *p = raw, *nl;
	char *out;

	bh_buf_init(&b);
	for (; *p != '\0'; p = nl + 1) {
		int prio = 6;

		nl = strchr(p, '\n');
		if (nl == NULL)
			break;
		if (p[0] == '<' && p[1] >= '0' && p[1] <= '7' && p[2] == '>') {
			prio = p[1] - '0';
			p += 3;
		}
		if (prio <= max)
			bh_buf_append(&b, p, (size_t)(nl - p + 1));
	}
	out = bh_asprintf("%s", b.data != NULL ? b.data : "");
	bh_buf_deinit(&b);
	return out;
}

/* first_chars - the first three bytes of every line, joined by spaces */
static char *
first_chars(const char *raw)
{
	struct bh_buf b;
	const char *p;
	char *out;

	bh_buf_init(&b);
	for (p = raw; *p != '\0'; p = strchr(p, '\n') + 1) {
		bh_buf_append(&b, p, 3);
		bh_buf_putc(&b, ' ');
		if (strchr(p, '\n') == NULL)
			break;
	}
	out = bh_asprintf("%s", b.data != NULL ? b.data : "");
	bh_buf_deinit(&b);
	return out;
}

/* check_journal - the priority prefixes on the raw stderr, and what `journalctl -p` keeps */
static void
check_journal(void)
{
	char *raw, *s;

	/* stderr is the journal: every line carries its priority */
	raw = raw_stderr(true, BH_LOG_PREFIX_AUTO, line_each_level);
	s = first_chars(raw);
	CHECK_STR(s, "<3> <4> <6> <7> ");
	free(s);
	CHECK(strncmp(raw, "<3>ts=", 6) == 0);
	s = journal_filter(raw, 3); /* journalctl -p err */
	CHECK(strstr(s, "event=unavailable") != NULL);
	CHECK(strstr(s, "event=metrics") == NULL && strstr(s, "event=start") == NULL);
	free(s);
	s = journal_filter(raw, 4); /* journalctl -p warning */
	CHECK(strstr(s, "event=metrics") != NULL && strstr(s, "event=start") == NULL);
	free(s);
	free(raw);

	/* $JOURNAL_STREAM names another file (stderr redirected under a unit): no prefix */
	raw = raw_stderr(false, BH_LOG_PREFIX_AUTO, line_each_level);
	CHECK(strncmp(raw, "ts=", 3) == 0 && strstr(raw, "\n<") == NULL);
	free(raw);
	/* always and never, whatever stderr is */
	raw = raw_stderr(false, BH_LOG_PREFIX_ALWAYS, line_each_level);
	s = first_chars(raw);
	CHECK_STR(s, "<3> <4> <6> <7> ");
	free(s);
	free(raw);
	raw = raw_stderr(true, BH_LOG_PREFIX_NEVER, line_each_level);
	CHECK(strncmp(raw, "ts=", 3) == 0);
	free(raw);

	CHECK_INT(bh_log_prefix_parse(NULL), BH_LOG_PREFIX_AUTO);
	CHECK_INT(bh_log_prefix_parse("always"), BH_LOG_PREFIX_ALWAYS);
	CHECK_INT(bh_log_prefix_parse("never"), BH_LOG_PREFIX_NEVER);
	CHECK_INT(bh_log_prefix_parse("yes"), -1);
	setenv("JOURNAL_STREAM", "garbage", 1);
	CHECK(!bh_log_stderr_is_journal());
	unsetenv("JOURNAL_STREAM");
	CHECK(!bh_log_stderr_is_journal());
}

int
main(void)
{
	char *s;

	check_journal();

	s = capture(BH_LOG_JSON, BH_LOG_INFO, line_decision);
	CHECK_STR(s, "{\"level\":\"info\",\"event\":\"decision\",\"mailbox\":\"INBOX\","
		     "\"uidvalidity\":7,\"uid\":42,\"message_id\":\"<a\\\"b?forged=1 ??@x>\","
		     "\"stable_id\":\"abc\",\"why\":\"hard bounce\",\"n\":-3,\"ok\":true}\n");
	free(s);

	s = capture(BH_LOG_LOGFMT, BH_LOG_INFO, line_decision);
	CHECK_STR(s, "level=info event=decision mailbox=INBOX uidvalidity=7 uid=42 "
		     "message_id=\"<a\\\"b?forged=1 ??@x>\" stable_id=abc why=\"hard bounce\" n=-3 "
		     "ok=true\n");
	free(s);

	s = capture(BH_LOG_JSON, BH_LOG_INFO, line_debug);
	CHECK_STR(s, "");
	free(s);

	s = capture(BH_LOG_LOGFMT, BH_LOG_DEBUG, line_long);
	CHECK(strlen(s) < 300);
	CHECK(strstr(s, "...") != NULL);
	free(s);

	CHECK_INT(bh_log_format_parse("json"), BH_LOG_JSON);
	CHECK_INT(bh_log_format_parse("logfmt"), BH_LOG_LOGFMT);
	CHECK_INT(bh_log_format_parse("xml"), -1);
	batching();
	batching_ends();
	return test_done("test_log");
}

/*
 * test_log.c - the structured log line: JSON and logfmt escaping, untrusted text cut and made
 * printable, correlation ids, levels; batching (one write per batch, a warning at once).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "test.h"

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

int
main(void)
{
	char *s;

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
	return test_done("test_log");
}

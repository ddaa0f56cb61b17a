/*
 * test_log.c - the structured log line: JSON and logfmt escaping, untrusted text cut and made
 * printable, correlation ids, levels.
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
	return test_done("test_log");
}

/* test_metrics - the registry, label hygiene, the series cap, and a real scrape over HTTP. */
#include "metrics.h"
#include "bh_limits.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "test.h"

/* render - the registry as text, the caller's to free */
static char *
render(struct bh_metrics *m)
{
	struct bh_buf b;

	bh_buf_init(&b);
	bh_metrics_render(m, &b);
	return bh_buf_steal(&b);
}

/* has_line - true when text holds exactly this line */
static int
has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p = text;

	while ((p = strstr(p, line)) != NULL) {
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return 1;
		p += n;
	}
	return 0;
}

#define CHECK_LINE(text, line)                                                                     \
	do {                                                                                       \
		test_checks++;                                                                     \
		if (!has_line((text), (line)))                                                     \
			TEST_FAIL("line not found: %s", (line));                                   \
	} while (0)

/* http - send req to 127.0.0.1:port and return the whole reply (the caller's), NULL on error */
static char *
http(int port, const char *req)
{
	struct sockaddr_in sin;
	struct timeval tv = {5, 0};
	struct bh_buf b;
	char chunk[4096];
	ssize_t r;
	int fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd == -1)
		return NULL;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		close(fd);
		return NULL;
	}
	bh_buf_init(&b);
	while ((r = read(fd, chunk, sizeof(chunk))) > 0)
		bh_buf_append(&b, chunk, (size_t)r);
	close(fd);
	return bh_buf_steal(&b);
}

/* other_threads_block_term - 1 when every thread but this one has SIGTERM blocked (read from
 * /proc), 0 when one has not, -1 when there is no other thread or no /proc */
static int
other_threads_block_term(void)
{
	char path[64], line[256];
	int tid, found = 0, ok = 1;
	FILE *fp;

	for (tid = getpid() + 1; tid < getpid() + 64; tid++) {
		snprintf(path, sizeof(path), "/proc/self/task/%d/status", tid);
		if ((fp = fopen(path, "r")) == NULL)
			continue;
		while (fgets(line, sizeof(line), fp) != NULL) {
			if (strncmp(line, "SigBlk:", 7) == 0) {
				unsigned long long mask = strtoull(line + 7, NULL, 16);

				found = 1;
				if (!(mask & (1ull << (SIGTERM - 1))))
					ok = 0;
			}
		}
		fclose(fp);
	}
	return found ? ok : -1;
}

static void *
hammer(void *arg)
{
	struct bh_metrics *m = arg;
	int i;

	for (i = 0; i < 20000; i++) {
		bh_metrics_bounce(m, "news", "bounce", "user_unknown", "suppressed");
		bh_metrics_inc(m, BH_M_REDIS_ERRORS);
	}
	return NULL;
}

static void
test_labels(void)
{
	static const struct {
		const char *list;
		const char *want; /* the rendered list label, escaped */
	} cases[] = {
	    {"news", "news"},
	    {"q\"uote", "q\\\"uote"},
	    {"back\\slash", "back\\\\slash"},
	    {"new\nline\r", "new?line?"},
	    {"tab\there\x7f", "tab?here?"},
	    {"caf\xc3\xa9", "caf\xc3\xa9"},
	    {"bad\xff\xc0\xaf", "bad\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
	    {"cut\xe2\x82", "cut\xef\xbf\xbd\xef\xbf\xbd"},
	    {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* a surrogate */
	    {NULL, ""},
	};
	struct bh_metrics *m = bh_metrics_new(0);
	char line[512], *text;
	size_t i;

	for (i = 0; i < BH_NELEM(cases); i++)
		bh_metrics_bounce(m, cases[i].list, "bounce", "mailbox_full", "counted");
	bh_metrics_bounce(m, "news", "bounce", "mailbox_full", "counted");
	text = render(m);
	for (i = 0; i < BH_NELEM(cases); i++) {
		snprintf(line, sizeof(line),
			 "bouncer_bounces_total{list=\"%s\",type=\"bounce\","
			 "reason=\"mailbox_full\",outcome=\"counted\"} %d",
			 cases[i].want, i == 0 ? 2 : 1);
		CHECK_LINE(text, line);
	}
	free(text);
	bh_metrics_free(&m);
	CHECK(m == NULL);
	bh_metrics_free(&m); /* NULL is fine */

	/* A long value is cut at BH_MAX_METRIC_LABEL octets, never inside a character. */
	{
		char big[1000];
		const char *p, *q;

		memset(big, 'a', sizeof(big));
		memcpy(big + 120, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 8);
		big[sizeof(big) - 1] = '\0';
		m = bh_metrics_new(0);
		bh_metrics_loop(m, big);
		text = render(m);
		p = strstr(text, "bouncer_loops_total{kind=\"");
		CHECK(p != NULL);
		if (p != NULL) {
			p += strlen("bouncer_loops_total{kind=\"");
			q = strchr(p, '"');
			CHECK(q != NULL && (size_t)(q - p) <= BH_MAX_METRIC_LABEL);
			CHECK(q != NULL && q - p > 3 && memcmp(q - 3, "...", 3) == 0);
			CHECK(q != NULL && memcmp(q - 5, "\xc3\xa9...", 5) == 0);
		}
		free(text);
		bh_metrics_free(&m);
	}
}

static void
test_counters(void)
{
	struct bh_metrics *m = bh_metrics_new(5);
	char list[32], *text;
	pthread_t t1, t2;
	int i;

	/* NULL registry: every update is a no-op. */
	bh_metrics_inc(NULL, BH_M_IMAP_ERRORS);
	bh_metrics_bounce(NULL, "a", "b", "c", "d");
	bh_metrics_batch_observe(NULL, 1);
	bh_metrics_last_poll(NULL, 1);
	CHECK_INT(bh_metrics_port(NULL), 0);

	text = render(m);
	CHECK_LINE(text, "# TYPE bouncer_bounces_total counter");
	CHECK_LINE(text, "# TYPE bouncer_loops_total counter");
	CHECK_LINE(text, "bouncer_imap_errors_total 0");
	CHECK_LINE(text, "bouncer_imap_reconnects_total 0");
	CHECK_LINE(text, "bouncer_redis_errors_total 0");
	CHECK_LINE(text, "bouncer_redis_reconnects_total 0");
	CHECK_LINE(text, "# TYPE bouncer_batch_seconds histogram");
	CHECK_LINE(text, "bouncer_batch_seconds_bucket{le=\"+Inf\"} 0");
	CHECK_LINE(text, "bouncer_batch_seconds_count 0");
	CHECK_LINE(text, "# TYPE bouncer_last_poll_timestamp_seconds gauge");
	CHECK_LINE(text, "bouncer_last_poll_timestamp_seconds 0");
	CHECK_LINE(text, "bouncer_build_info{version=\"" BH_VERSION "\"} 1");
	CHECK(strstr(text, "bouncer_bounces_total{") == NULL);
	free(text);

	bh_metrics_inc(m, BH_M_IMAP_ERRORS);
	bh_metrics_inc(m, BH_M_IMAP_ERRORS);
	bh_metrics_add(m, BH_M_IMAP_RECONNECTS, NULL, 5);
	bh_metrics_inc(m, BH_M_REDIS_RECONNECTS);
	bh_metrics_loop(m, "self");
	bh_metrics_loop(m, "self");
	bh_metrics_batch_observe(m, 0.003);
	bh_metrics_batch_observe(m, 0.2);
	bh_metrics_batch_observe(m, 1000);
	bh_metrics_batch_observe(m, -1);
	bh_metrics_batch_observe(m, 0.0 / 0.0);
	bh_metrics_last_poll(m, 1790000000);
	/* 1 loop series + 6 list series: the cap of 5 sends the last two to overflow. */
	for (i = 0; i < 6; i++) {
		snprintf(list, sizeof(list), "list%d", i);
		bh_metrics_bounce(m, list, "bounce", "user_unknown", "suppressed");
	}
	bh_metrics_bounce(m, "list9", "bounce", "user_unknown", "suppressed");
	bh_metrics_bounce(m, "list0", "bounce", "user_unknown", "suppressed"); /* known: counts */
	bh_metrics_loop(m, "other");					       /* overflow */
	text = render(m);
	CHECK_LINE(text, "bouncer_imap_errors_total 2");
	CHECK_LINE(text, "bouncer_imap_reconnects_total 5");
	CHECK_LINE(text, "bouncer_redis_reconnects_total 1");
	CHECK_LINE(text, "bouncer_loops_total{kind=\"self\"} 2");
	CHECK_LINE(text, "bouncer_loops_total{kind=\"__overflow__\"} 1");
	CHECK_LINE(text, "bouncer_bounces_total{list=\"list0\",type=\"bounce\","
			 "reason=\"user_unknown\",outcome=\"suppressed\"} 2");
	CHECK_LINE(text, "bouncer_bounces_total{list=\"list3\",type=\"bounce\","
			 "reason=\"user_unknown\",outcome=\"suppressed\"} 1");
	CHECK(strstr(text, "list=\"list4\"") == NULL);
	CHECK_LINE(text, "bouncer_bounces_total{list=\"__overflow__\",type=\"__overflow__\","
			 "reason=\"__overflow__\",outcome=\"__overflow__\"} 3");
	CHECK_LINE(text, "bouncer_batch_seconds_bucket{le=\"0.005\"} 1");
	CHECK_LINE(text, "bouncer_batch_seconds_bucket{le=\"0.1\"} 1");
	CHECK_LINE(text, "bouncer_batch_seconds_bucket{le=\"0.25\"} 2");
	CHECK_LINE(text, "bouncer_batch_seconds_bucket{le=\"300\"} 2");
	CHECK_LINE(text, "bouncer_batch_seconds_bucket{le=\"+Inf\"} 3");
	CHECK_LINE(text, "bouncer_batch_seconds_sum 1000.203");
	CHECK_LINE(text, "bouncer_batch_seconds_count 3");
	CHECK_LINE(text, "bouncer_last_poll_timestamp_seconds 1790000000");
	free(text);
	bh_metrics_free(&m);

	/* Two threads updating at once lose nothing. */
	m = bh_metrics_new(0);
	pthread_create(&t1, NULL, hammer, m);
	pthread_create(&t2, NULL, hammer, m);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	text = render(m);
	CHECK_LINE(text, "bouncer_bounces_total{list=\"news\",type=\"bounce\","
			 "reason=\"user_unknown\",outcome=\"suppressed\"} 40000");
	CHECK_LINE(text, "bouncer_redis_errors_total 40000");
	free(text);
	bh_metrics_free(&m);

	/* The default cap holds BH_MAX_METRIC_SERIES series. */
	m = bh_metrics_new(0);
	for (i = 0; i < (int)BH_MAX_METRIC_SERIES + 10; i++) {
		snprintf(list, sizeof(list), "l%d", i);
		bh_metrics_bounce(m, list, "t", "r", "o");
	}
	text = render(m);
	CHECK_LINE(text, "bouncer_bounces_total{list=\"__overflow__\",type=\"__overflow__\","
			 "reason=\"__overflow__\",outcome=\"__overflow__\"} 10");
	free(text);
	bh_metrics_free(&m);
}

/* value_of - the value of the sample line "name VALUE" in text, -1 when missing */
static double
value_of(const char *text, const char *name)
{
	size_t n = strlen(name);
	const char *p = text;

	while ((p = strstr(p, name)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p += n;
	}
	return -1;
}

/* test_on_call - the outcome, store, backlog, lease, connection and process_* metrics and the
 * /healthz verdict */
static void
test_on_call(void)
{
	struct bh_metrics *m = bh_metrics_new(0);
	struct bh_buf b;
	char *text;
	double start, rss, vsz, fds, maxfds, cpu;
	int64_t now = 1790000000;

	/* NULL registry: no-ops */
	bh_metrics_messages(NULL, BH_MF_PROCESSED, 1);
	bh_metrics_store_item(NULL, 1, 1, 1);
	bh_metrics_backlog(NULL, 1);
	bh_metrics_lease(NULL, true);
	bh_metrics_contact(NULL, BH_CONN_IMAP, 1);
	bh_metrics_conn_lost(NULL, BH_CONN_IMAP);
	bh_metrics_conn_closed(NULL, BH_CONN_IMAP);
	bh_metrics_health_window(NULL, 1);

	text = render(m);
	CHECK_LINE(text, "# TYPE bouncer_messages_total counter");
	CHECK_LINE(text, "bouncer_messages_total{outcome=\"processed\"} 0");
	CHECK_LINE(text, "bouncer_messages_total{outcome=\"ignored\"} 0");
	CHECK_LINE(text, "bouncer_messages_total{outcome=\"quarantined\"} 0");
	CHECK_LINE(text, "bouncer_suppressions_total 0");
	CHECK_LINE(text, "bouncer_suppressions_held_total 0");
	CHECK_LINE(text, "bouncer_alerts_total 0");
	CHECK_LINE(text, "# TYPE bouncer_mailbox_backlog_messages gauge");
	CHECK_LINE(text, "bouncer_mailbox_backlog_messages 0");
	CHECK_LINE(text, "bouncer_lease_held 0");
	CHECK_LINE(text, "# TYPE bouncer_imap_up gauge");
	CHECK_LINE(text, "bouncer_imap_up 0");
	CHECK_LINE(text, "bouncer_redis_up 0");
	CHECK_LINE(text, "bouncer_imap_last_contact_timestamp_seconds 0");
	CHECK_LINE(text, "bouncer_redis_last_contact_timestamp_seconds 0");
	free(text);

	/* Before any contact: unhealthy, both never heard from. */
	bh_buf_init(&b);
	CHECK_INT(bh_metrics_health(m, now, &b), -1);
	CHECK_STR(b.data, "{\"status\":\"unhealthy\",\"stale\":[\"imap\",\"redis\"],"
			  "\"stale_after_seconds\":150,"
			  "\"imap\":{\"state\":\"never\",\"last_contact_age_seconds\":null},"
			  "\"redis\":{\"state\":\"never\",\"last_contact_age_seconds\":null}}\n");
	bh_buf_deinit(&b);

	bh_metrics_messages(m, BH_MF_PROCESSED, 3);
	bh_metrics_messages(m, BH_MF_PROCESSED, 2);
	bh_metrics_messages(m, BH_MF_QUARANTINED, 1);
	bh_metrics_store_item(m, 2, 1, 0);
	bh_metrics_store_item(m, 0, 0, 4);
	bh_metrics_backlog(m, 7);
	bh_metrics_backlog(m, 0);
	bh_metrics_lease(m, true);
	/* The first connection is no reconnection, nor is one after a deliberate close; one after
	 * a loss is, also when the loss came before the first connection (down at the start). */
	bh_metrics_conn_lost(m, BH_CONN_REDIS);
	bh_metrics_contact(m, BH_CONN_REDIS, now - 10);
	bh_metrics_contact(m, BH_CONN_IMAP, now - 5);
	bh_metrics_contact(m, BH_CONN_IMAP, now - 4);
	bh_metrics_conn_closed(m, BH_CONN_IMAP);
	bh_metrics_contact(m, BH_CONN_IMAP, now - 3);
	bh_metrics_conn_lost(m, BH_CONN_IMAP);
	bh_metrics_conn_lost(m, BH_CONN_IMAP);
	bh_metrics_contact(m, BH_CONN_IMAP, now - 2);
	text = render(m);
	CHECK_LINE(text, "bouncer_messages_total{outcome=\"processed\"} 5");
	CHECK_LINE(text, "bouncer_messages_total{outcome=\"ignored\"} 0");
	CHECK_LINE(text, "bouncer_messages_total{outcome=\"quarantined\"} 1");
	CHECK_LINE(text, "bouncer_suppressions_total 2");
	CHECK_LINE(text, "bouncer_suppressions_held_total 4");
	CHECK_LINE(text, "bouncer_alerts_total 1");
	CHECK_LINE(text, "bouncer_mailbox_backlog_messages 0");
	CHECK_LINE(text, "bouncer_lease_held 1");
	CHECK_LINE(text, "bouncer_imap_up 1");
	CHECK_LINE(text, "bouncer_redis_up 1");
	CHECK_LINE(text, "bouncer_imap_reconnects_total 1");
	CHECK_LINE(text, "bouncer_redis_reconnects_total 1");
	CHECK_LINE(text, "bouncer_imap_last_contact_timestamp_seconds 1789999998");
	CHECK_LINE(text, "bouncer_redis_last_contact_timestamp_seconds 1789999990");

	/* process_* from /proc/self: present and sane */
	cpu = value_of(text, "process_cpu_seconds_total");
	start = value_of(text, "process_start_time_seconds");
	rss = value_of(text, "process_resident_memory_bytes");
	vsz = value_of(text, "process_virtual_memory_bytes");
	fds = value_of(text, "process_open_fds");
	maxfds = value_of(text, "process_max_fds");
	CHECK_LINE(text, "# TYPE process_cpu_seconds_total counter");
	CHECK_LINE(text, "# TYPE process_resident_memory_bytes gauge");
	CHECK(cpu >= 0 && cpu < 3600);
	CHECK(start > (double)bh_now() - 3600 && start <= (double)bh_now() + 1);
	CHECK(rss > 100000 && vsz >= rss);
	CHECK(fds >= 3 && maxfds >= fds);
	free(text);

	/* Healthy within the window; stale after it; down at once on a loss */
	bh_buf_init(&b);
	CHECK_INT(bh_metrics_health(m, now, &b), 0);
	CHECK_STR(b.data, "{\"status\":\"ok\",\"stale_after_seconds\":150,"
			  "\"imap\":{\"state\":\"up\",\"last_contact_age_seconds\":2},"
			  "\"redis\":{\"state\":\"up\",\"last_contact_age_seconds\":10}}\n");
	bh_buf_reset(&b);
	bh_metrics_health_window(m, 8);
	CHECK_INT(bh_metrics_health(m, now, &b), -1);
	CHECK(strstr(b.data, "\"stale\":[\"redis\"]") != NULL);
	CHECK(strstr(b.data, "\"redis\":{\"state\":\"stale\",\"last_contact_age_seconds\":10}") !=
	      NULL);
	bh_buf_reset(&b);
	bh_metrics_health_window(m, 0); /* ignored */
	CHECK_INT(bh_metrics_health(m, now, &b), -1);
	bh_buf_reset(&b);
	bh_metrics_health_window(m, 60);
	bh_metrics_conn_lost(m, BH_CONN_REDIS);
	CHECK_INT(bh_metrics_health(m, now, &b), -1);
	CHECK(strstr(b.data, "\"stale\":[\"redis\"]") != NULL);
	CHECK(strstr(b.data, "\"redis\":{\"state\":\"down\"") != NULL);
	bh_buf_reset(&b);
	bh_metrics_contact(m, BH_CONN_REDIS, now);
	CHECK_INT(bh_metrics_health(m, now, &b), 0);
	bh_buf_reset(&b);
	/* A standby keeps no IMAP connection: only Redis counts */
	bh_metrics_lease(m, false);
	bh_metrics_conn_closed(m, BH_CONN_IMAP);
	CHECK_INT(bh_metrics_health(m, now + 100, &b), -1); /* Redis is stale by then */
	bh_buf_reset(&b);
	CHECK_INT(bh_metrics_health(m, now, &b), 0);
	CHECK(strstr(b.data, "\"imap\":{\"state\":\"standby\"") != NULL);
	bh_buf_deinit(&b);
	text = render(m);
	CHECK_LINE(text, "bouncer_lease_held 0");
	CHECK_LINE(text, "bouncer_imap_up 0");
	CHECK_LINE(text, "bouncer_redis_reconnects_total 2");
	free(text);
	bh_metrics_free(&m);
}

static void
test_http(void)
{
	static const char *bad[] = {
	    "",	     "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "localhost:9356",
	    "[::1]", "[::1]9356", "::1:9356",	"[127.0.0.1]:1",   "1.2.3:80",	   "127.0.0.1:80x",
	};
	struct bh_metrics *m = bh_metrics_new(0);
	const char *err = NULL;
	char *reply;
	size_t i;
	int port;

	for (i = 0; i < BH_NELEM(bad); i++) {
		err = NULL;
		CHECK_INT(bh_metrics_start(m, bad[i], &err), -1);
		CHECK(err != NULL);
	}
#ifndef BH_HAVE_MHD
	(void)http, (void)reply, (void)port;
	CHECK_INT(bh_metrics_start(m, "127.0.0.1:0", &err), -1);
	bh_metrics_free(&m);
	return;
#else
	if (bh_metrics_start(m, "127.0.0.1:0", &err) == -1) {
		TEST_FAIL("start: %s", err);
		bh_metrics_free(&m);
		return;
	}
	CHECK_INT(bh_metrics_start(m, "127.0.0.1:0", &err), -1); /* already started */
	port = bh_metrics_port(m);
	CHECK(port > 0);
	/* The server thread never takes the process's signals. */
	CHECK(other_threads_block_term() != 0);
	bh_metrics_bounce(m, "news\"", "bounce", "user_unknown", "suppressed");
	bh_metrics_inc(m, BH_M_REDIS_ERRORS);

	reply = http(port, "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n");
	CHECK(reply != NULL);
	if (reply != NULL) {
		CHECK(strncmp(reply, "HTTP/1.0 200", 12) == 0 ||
		      strncmp(reply, "HTTP/1.1 200", 12) == 0);
		CHECK(strstr(reply, "text/plain; version=0.0.4") != NULL);
		CHECK(strstr(reply, "\r\n\r\n# HELP bouncer_bounces_total") != NULL);
		CHECK_LINE(reply, "bouncer_bounces_total{list=\"news\\\"\",type=\"bounce\","
				  "reason=\"user_unknown\",outcome=\"suppressed\"} 1");
		CHECK_LINE(reply, "bouncer_redis_errors_total 1");
		free(reply);
	}
	/* /healthz: 503 before any contact, 200 once both were heard from */
	reply = http(port, "GET /healthz HTTP/1.0\r\n\r\n");
	CHECK(reply != NULL && strstr(reply, " 503 ") != NULL);
	CHECK(reply != NULL && strstr(reply, "application/json") != NULL);
	CHECK(reply != NULL && strstr(reply, "\r\n\r\n{\"status\":\"unhealthy\"") != NULL);
	free(reply);
	bh_metrics_contact(m, BH_CONN_IMAP, bh_now());
	bh_metrics_contact(m, BH_CONN_REDIS, bh_now());
	reply = http(port, "GET /healthz HTTP/1.0\r\n\r\n");
	CHECK(reply != NULL && strstr(reply, " 200 ") != NULL);
	CHECK(reply != NULL && strstr(reply, "\r\n\r\n{\"status\":\"ok\"") != NULL);
	free(reply);
	reply = http(port, "HEAD /healthz HTTP/1.0\r\n\r\n");
	CHECK(reply != NULL && strstr(reply, " 200 ") != NULL && strstr(reply, "status") == NULL);
	free(reply);
	reply = http(port, "GET /other HTTP/1.0\r\n\r\n");
	CHECK(reply != NULL && strstr(reply, " 404 ") != NULL);
	free(reply);
	reply = http(port, "POST /metrics HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc");
	CHECK(reply != NULL && strstr(reply, " 405 ") != NULL);
	free(reply);
	reply = http(port, "HEAD /metrics HTTP/1.0\r\n\r\n");
	CHECK(reply != NULL && strstr(reply, " 200 ") != NULL && strstr(reply, "# HELP") == NULL);
	free(reply);
	reply = http(port, "garbage\r\n\r\n");
	CHECK(reply != NULL && strstr(reply, " 200 ") == NULL);
	free(reply);
	bh_metrics_free(&m);

	/* IPv6 loopback, when the host has it. */
	m = bh_metrics_new(0);
	if (bh_metrics_start(m, "[::1]:0", &err) == 0)
		CHECK(bh_metrics_port(m) > 0);
	bh_metrics_free(&m);
#endif
}

int
main(void)
{
	test_labels();
	test_counters();
	test_on_call();
	test_http();
	return test_done("test_metrics");
}

/*
 * test_store.c - the Redis store against a real redis-server on a free loopback port.
 *
 * Starts its own redis-server (AOF, fsync always, so that a confirmed write survives a kill) in
 * a mkdtemp directory and kills it at the end. Skips (77) when redis-server is not installed.
 * Decisions are built by hand here: the store must not depend on how policy.c decides.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "config.h"
#include "policy.h"
#include "store.h"
#include "test.h"
#include "util.h"

static char redis_dir[] = "/tmp/bh-test-store-XXXXXX";
static int redis_port;
static pid_t redis_pid = -1;

/* free_port - a port the kernel just handed out on 127.0.0.1 */
static int
free_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) == -1)
		bh_fatal("free_port: %s", strerror(errno));
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static void
msleep(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* redis_up - start redis-server and wait until it accepts connections */
static int
redis_up(void)
{
	char port[16], log[300];
	int i;

	snprintf(port, sizeof(port), "%d", redis_port);
	snprintf(log, sizeof(log), "%s/redis.log", redis_dir);
	redis_pid = fork();
	if (redis_pid == -1)
		bh_fatal("fork: %s", strerror(errno));
	if (redis_pid == 0) {
		int null = open("/dev/null", O_RDWR);

		/* Never outlive the test, and never hold its output pipe open. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1",
		       "--dir", redis_dir, "--save", "", "--appendonly", "yes", "--appendfsync",
		       "always", "--daemonize", "no", "--logfile", log, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 100; i++) {
		struct sockaddr_in sa;
		int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_port = htons((uint16_t)redis_port);
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		close(fd);
		if (ok)
			return 0;
		if (waitpid(redis_pid, NULL, WNOHANG) == redis_pid) {
			redis_pid = -1;
			return -1;
		}
		msleep(50);
	}
	return -1;
}

/* redis_kill - SIGKILL the server we started (no clean shutdown: the AOF must hold) */
static void
redis_kill(void)
{
	if (redis_pid > 0) {
		kill(redis_pid, SIGKILL);
		waitpid(redis_pid, NULL, 0);
		redis_pid = -1;
	}
}

static void
cleanup(void)
{
	char cmd[400];

	redis_kill();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", redis_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", redis_dir);
}

/* redis_cli - run one redis-cli command against our server */
static void
redis_cli(const char *args)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "redis-cli -p %d %s >/dev/null", redis_port, args);
	if (system(cmd) != 0)
		fprintf(stderr, "redis-cli %s failed\n", args);
}

/* A hand-made message: a verdict with one recipient and its one decision. */
struct msg {
	char *addr; /* the decision's address: in key form, as the VERP decoder leaves it */
	struct bh_verdict v;
	struct bh_decision d;
	struct bh_decisions ds;
	struct bh_store_item it;
};

static struct bh_policy_action
act(enum bh_policy_kind kind, int64_t duration, unsigned threshold, int64_t window,
    enum bh_scope scope)
{
	struct bh_policy_action a = {kind, duration, threshold, window, scope};

	return a;
}

/* key_form - an address as bh_addr_normalize (the VERP decoder) leaves it: a decision's address
 * is in that form (policy.h), the store does not normalize it again */
static char *
key_form(const char *address)
{
	char *out = NULL;
	const char *error;

	if (bh_addr_normalize(address, strlen(address), &out, &error) == -1)
		bh_fatal("key_form: %s: %s", address, error);
	return out;
}

static void
msg_init(struct msg *m, const char *sid, const char *address, const char *list,
	 enum bh_reason reason, enum bh_outcome outcome, struct bh_policy_action a)
{
	struct bh_rcpt *r;

	memset(m, 0, sizeof(*m));
	bh_verdict_init(&m->v);
	m->v.type = BH_TYPE_DSN;
	snprintf(m->v.stable_id, sizeof(m->v.stable_id), "%s", sid);
	m->v.env.message_id = bh_asprintf("<%s@mx.example>", sid);
	m->v.env.reporting_mta = bh_strdup("dns; mx.example.net");
	r = bh_verdict_add_rcpt(&m->v, 10);
	r->address = bh_strdup(address);
	snprintf(r->status, sizeof(r->status), "%s", bh_reason_hard(reason) ? "5.1.1" : "4.2.2");
	snprintf(r->reply_code, sizeof(r->reply_code), "%s", "550");
	r->action = BH_ACTION_FAILED;
	r->diagnostic = bh_strdup("smtp; 550 5.1.1 <x>: Recipient address rejected");
	bh_rcpt_set_reason(r, reason, "test-rule");
	m->d.rcpt = r;
	m->d.address = m->addr = key_form(address);
	m->d.list = list;
	m->d.outcome = outcome;
	m->d.action = a;
	m->d.sender_side = r->whose == BH_WHOSE_SENDER;
	m->d.why = "test";
	m->ds.v = &m->d;
	m->ds.n = 1;
	m->ds.type = BH_TYPE_DSN;
	m->ds.folder_hint = "processed";
	m->it.v = &m->v;
	m->it.d = &m->ds;
	m->it.mailbox = "INBOX";
	m->it.folder = "bouncer/processed";
	m->it.uidvalidity = 7;
	m->it.uid = 1;
}

static void
msg_deinit(struct msg *m)
{
	bh_verdict_deinit(&m->v);
	free(m->addr);
	m->addr = NULL;
}

/* apply1 - apply one message, return its status */
static enum bh_store_status
apply1(struct bh_store *s, struct msg *m)
{
	const char *error = NULL;

	if (bh_store_apply(s, &m->it, 1, &error) == -1)
		fprintf(stderr, "apply: %s\n", error);
	return m->it.status;
}

/* suppressed - 1 when check says so (and the reason matches when given) */
static int
suppressed(struct bh_store *s, const char *addr, const char *list, const char *reason)
{
	struct bh_suppression sup;
	const char *error = NULL;
	int rc = bh_store_check(s, addr, list, &sup, &error);

	if (rc == -1) {
		fprintf(stderr, "check: %s\n", error);
		return -1;
	}
	if (rc == 1 && reason != NULL && strcmp(sup.reason, reason) != 0)
		rc = 2;
	if (rc == 1)
		bh_suppression_deinit(&sup);
	else if (rc == 2)
		bh_suppression_deinit(&sup);
	return rc;
}

/* n_events - events behind an address */
static size_t
n_events(struct bh_store *s, const char *addr)
{
	struct bh_store_event *ev;
	size_t n;
	const char *error;

	if (bh_store_explain(s, addr, 0, &ev, &n, &error) == -1) {
		fprintf(stderr, "explain: %s\n", error);
		return 0;
	}
	bh_store_events_free(ev, n);
	return n;
}

/* stat - the day counter of (list, reason, outcome) */
static int64_t
stat_day(struct bh_store *s, const char *list, const char *reason, const char *outcome)
{
	struct bh_store_stat *v;
	size_t n, i;
	int64_t c = 0;
	const char *error;

	if (bh_store_stats(s, &v, &n, &error) == -1)
		return -1;
	for (i = 0; i < n; i++)
		if (strcmp(v[i].list, list) == 0 && strcmp(v[i].reason, reason) == 0 &&
		    strcmp(v[i].outcome, outcome) == 0)
			c = v[i].day;
	bh_store_stats_free(v, n);
	return c;
}

/* test_lease - one holder at a time; a store without the lease cannot apply (fencing); a
 * release hands it over at once */
static void
test_lease(const struct bh_config *cfg)
{
	struct bh_store *a, *b;
	const char *error = NULL, *holder = NULL;
	int64_t pttl = 0;
	struct msg m;

	a = bh_store_new(cfg, "test-rules-1", &error);
	b = bh_store_new(cfg, "test-rules-1", &error);
	bh_store_lease_set(a, "imap.example", "bounces", "INBOX");
	bh_store_lease_set(b, "imap.example", "bounces", "INBOX");
	CHECK_INT(bh_store_lease(a, 5000, &holder, &pttl, &error), 1);
	CHECK_INT(bh_store_lease(a, 5000, &holder, &pttl, &error), 1); /* renewed */
	CHECK_INT(bh_store_lease(b, 5000, &holder, &pttl, &error), 0);
	CHECK(holder != NULL && strstr(holder, "pid=") != NULL);
	CHECK(pttl > 0 && pttl <= 5000);
	msg_init(&m, "lease1", "lease@example.com", "news", BH_R_USERUNKNOWN, BH_OUT_SUPPRESS,
		 act(BH_POL_SUPPRESS, 0, 0, 0, BH_SCOPE_LIST));
	CHECK_INT(apply1(b, &m), BH_STORE_UNCONFIRMED); /* not the holder: refused */
	CHECK(bh_store_lease_lost(b));
	CHECK_INT(suppressed(a, "lease@example.com", "news", NULL), 0);
	CHECK_INT(apply1(a, &m), BH_STORE_APPLIED);
	CHECK_INT(bh_store_lease_release(b, &error), 0); /* not b's */
	CHECK_INT(bh_store_lease_release(a, &error), 1);
	CHECK_INT(bh_store_lease(b, 5000, &holder, &pttl, &error), 1);
	CHECK(!bh_store_lease_lost(b));
	CHECK_INT(apply1(a, &m), BH_STORE_UNCONFIRMED); /* a paused ex-holder cannot write */
	CHECK_INT(apply1(b, &m), BH_STORE_DUPLICATE);
	CHECK_INT(bh_store_lease_release(b, &error), 1);
	msg_deinit(&m);
	bh_store_free(&a);
	bh_store_free(&b);
}

static void
test_hard_twice(struct bh_store *s)
{
	struct msg m;
	struct bh_suppression sup;
	const char *error;

	msg_init(&m, "hard1", "Gone@Example.COM", "News", BH_R_USERUNKNOWN, BH_OUT_SUPPRESS,
		 act(BH_POL_SUPPRESS, 0, 0, 0, BH_SCOPE_LIST));
	CHECK_INT(apply1(s, &m), BH_STORE_APPLIED);
	CHECK_INT(m.it.n_suppressed, 1);
	CHECK_INT(apply1(s, &m), BH_STORE_DUPLICATE);
	CHECK_INT(m.it.n_suppressed, 0);
	CHECK(bh_store_is_confirmed(&m.it));
	CHECK_INT(suppressed(s, "gone@example.com", "news", "userunknown"), 0); /* case kept */
	CHECK_INT(suppressed(s, "Gone@example.com", "news", "userunknown"), 1);
	CHECK_INT(suppressed(s, "Gone@example.com", "NEWS", NULL), 1); /* list names: any case */
	CHECK_INT(suppressed(s, "Gone@example.com", NULL, NULL), 0);
	CHECK_INT(suppressed(s, "Gone@example.com", "other", NULL), 0);
	CHECK_INT(bh_store_check(s, "Gone@EXAMPLE.com", "news", &sup, &error), 1);
	CHECK_INT(sup.count, 1);
	CHECK_STR(sup.class_, "hard");
	CHECK_STR(sup.list, "news");
	CHECK_STR(sup.message_id, "<hard1@mx.example>");
	CHECK_STR(sup.rule, "test-rule");
	CHECK_INT(sup.expires, 0);
	CHECK(sup.event_id != NULL && sup.event_id[0] != '\0');
	bh_suppression_deinit(&sup);
	CHECK_INT(n_events(s, "Gone@example.com"), 1);
	msg_deinit(&m);
}

/* test_event_cap - an address keeps its last BH_STORE_ADDR_EVENTS events, the newest first */
static void
test_event_cap(struct bh_store *s)
{
	struct bh_store_event *ev;
	const char *error = NULL;
	char sid[32];
	size_t i, n = 0;
	struct msg m;

	for (i = 0; i < BH_STORE_ADDR_EVENTS + 5; i++) {
		snprintf(sid, sizeof(sid), "cap%zu", i);
		msg_init(&m, sid, "many@example.com", "news", BH_R_USERUNKNOWN, BH_OUT_RECORD,
			 act(BH_POL_IGNORE, 0, 0, 0, BH_SCOPE_LIST));
		CHECK_INT(apply1(s, &m), BH_STORE_APPLIED);
		msg_deinit(&m);
	}
	CHECK_INT(n_events(s, "many@example.com"), BH_STORE_ADDR_EVENTS);
	if (bh_store_explain(s, "many@example.com", 1, &ev, &n, &error) == 0) {
		CHECK_INT(n, 1);
		CHECK(n == 1 && bh_store_event_get(&ev[0], "message_id") != NULL &&
		      strstr(bh_store_event_get(&ev[0], "message_id"), "cap104") != NULL);
		bh_store_events_free(ev, n);
	}
}

static void
test_soft(struct bh_store *s)
{
	struct msg m;
	char sid[32];
	int i;

	/* Threshold 3 in 4 s, suppressed for 2 s. */
	for (i = 0; i < 3; i++) {
		snprintf(sid, sizeof(sid), "soft%d", i);
		msg_init(&m, sid, "full@example.org", "news", BH_R_MAILBOXFULL, BH_OUT_COUNT,
			 act(BH_POL_COUNT, 2, 3, 4, BH_SCOPE_LIST));
		CHECK_INT(apply1(s, &m), BH_STORE_APPLIED);
		CHECK_INT(m.it.n_suppressed, i == 2 ? 1 : 0);
		CHECK_INT(suppressed(s, "full@example.org", "news", NULL), i == 2 ? 1 : 0);
		msg_deinit(&m);
	}
	msleep(3100);
	CHECK_INT(suppressed(s, "full@example.org", "news", NULL), 0); /* expired by TTL */
	/* Two within the window, then the window passes: the third starts again at 1. */
	for (i = 0; i < 3; i++) {
		snprintf(sid, sizeof(sid), "softw%d", i);
		if (i == 2)
			msleep(4200);
		msg_init(&m, sid, "full2@example.org", "news", BH_R_MAILBOXFULL, BH_OUT_COUNT,
			 act(BH_POL_COUNT, 2, 3, 4, BH_SCOPE_LIST));
		CHECK_INT(apply1(s, &m), BH_STORE_APPLIED);
		CHECK_INT(m.it.n_suppressed, 0);
		msg_deinit(&m);
	}
	CHECK_INT(suppressed(s, "full2@example.org", "news", NULL), 0);
	CHECK_INT(n_events(s, "full2@example.org"), 3);
}

static void
test_complaint(struct bh_store *s)
{
	struct msg m;

	msg_init(&m, "arf1", "angry@example.com", "news", BH_R_FEEDBACK, BH_OUT_SUPPRESS,
		 act(BH_POL_SUPPRESS, 0, 0, 0, BH_SCOPE_GLOBAL));
	CHECK_INT(apply1(s, &m), BH_STORE_APPLIED);
	CHECK_INT(suppressed(s, "angry@example.com", NULL, "feedback"), 1);
	CHECK_INT(suppressed(s, "angry@example.com", "other", "feedback"), 1);
	msg_deinit(&m);
	msg_init(&m, "arf2", "picky@example.com", "news", BH_R_FEEDBACK, BH_OUT_SUPPRESS,
		 act(BH_POL_SUPPRESS, 0, 0, 0, BH_SCOPE_LIST));
	CHECK_INT(apply1(s, &m), BH_STORE_APPLIED);
	CHECK_INT(suppressed(s, "picky@example.com", NULL, NULL), 0);
	CHECK_INT(suppressed(s, "picky@example.com", "news", "feedback"), 1);
	CHECK_INT(suppressed(s, "picky@example.com", "other", NULL), 0);
	msg_deinit(&m);
}

static void
test_manual(struct bh_store *s)
{
	const char *error = NULL;
	struct bh_suppression *v;
	struct bh_store_event *ev;
	size_t n;

	CHECK_INT(bh_store_add(s, "ops@example.com", NULL, "asked by phone", 0, &error), 0);
	CHECK_INT(suppressed(s, "ops@example.com", "news", "manual"), 1);
	CHECK_INT(bh_store_add(s, "ops@example.com", "news", "", 0, &error), -1);
	CHECK_STR(error, "a manual change needs a reason (--why)");
	CHECK_INT(bh_store_add(s, "ops@example.com", "news", "list too", 0, &error), 0);
	CHECK_INT(bh_store_show(s, "ops@example.com", &v, &n, &error), 0);
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK(v[0].list == NULL);
		CHECK_STR(v[1].list, "news");
		CHECK_STR(v[1].why, "list too");
	}
	while (n > 0)
		bh_suppression_deinit(&v[--n]);
	free(v);
	CHECK_INT(bh_store_remove(s, "ops@example.com", NULL, "resubscribed", &error), 1);
	CHECK_INT(bh_store_remove(s, "ops@example.com", NULL, "again", &error), 0);
	CHECK_INT(suppressed(s, "ops@example.com", NULL, NULL), 0);
	CHECK_INT(suppressed(s, "ops@example.com", "news", NULL), 1);
	CHECK_INT(bh_store_explain(s, "ops@example.com", 0, &ev, &n, &error), 0);
	CHECK_INT(n, 4);
	if (n == 4) {
		CHECK_STR(bh_store_event_get(&ev[0], "kind"), "manual_remove");
		CHECK_STR(bh_store_event_get(&ev[0], "result"), "not suppressed");
		CHECK_STR(bh_store_event_get(&ev[1], "why"), "resubscribed");
		CHECK_STR(bh_store_event_get(&ev[3], "kind"), "manual_add");
	}
	bh_store_events_free(ev, n);
	CHECK_INT(bh_store_add(s, "bad", NULL, "x", 0, &error), -1);
	CHECK_STR(error, "invalid address: no @");
}

static void
test_sender_alert(struct bh_store *s)
{
	struct msg m;
	char sid[32];
	int i;

	/* The defaults' threshold was set to 3 in 60 s by main(). */
	for (i = 0; i < 4; i++) {
		snprintf(sid, sizeof(sid), "blk%d", i);
		msg_init(&m, sid, i % 2 ? "a@blocky.example" : "b@blocky.example", "promo",
			 BH_R_BLOCKED, BH_OUT_ALERT, act(BH_POL_ALERT, 0, 0, 0, BH_SCOPE_LIST));
		CHECK(m.d.sender_side);
		CHECK_INT(apply1(s, &m), BH_STORE_APPLIED);
		/* the third crosses the rate for the domain and for the list: two alerts */
		CHECK_INT(m.it.n_alerts, i == 2 ? 2 : 0);
		CHECK_INT(m.it.n_suppressed, 0);
		msg_deinit(&m);
	}
	CHECK_INT(suppressed(s, "a@blocky.example", "promo", NULL), 0);
	CHECK_INT(stat_day(s, "promo", "blocked", "alert"), 4);
}

static void
test_delayed_and_empty(struct bh_store *s)
{
	struct msg m;
	struct bh_store_event *ev;
	size_t n;
	const char *error;

	msg_init(&m, "dly1", "slow@example.com", "news", BH_R_MAILBOXFULL, BH_OUT_RECORD,
		 act(BH_POL_COUNT, 60, 1, 60, BH_SCOPE_LIST));
	m.d.delayed = true;
	m.v.rcpts[0].action = BH_ACTION_DELAYED;
	CHECK_INT(apply1(s, &m), BH_STORE_APPLIED);
	CHECK_INT(suppressed(s, "slow@example.com", "news", NULL), 0);
	CHECK_INT(bh_store_explain(s, "slow@example.com", 0, &ev, &n, &error), 0);
	CHECK_INT(n, 1);
	if (n == 1) {
		CHECK_STR(bh_store_event_get(&ev[0], "kind"), "delayed");
		CHECK_STR(bh_store_event_get(&ev[0], "outcome"), "record");
		CHECK_STR(bh_store_event_get(&ev[0], "stable_id"), "dly1");
		CHECK_STR(bh_store_event_get(&ev[0], "reporting_mta"), "dns; mx.example.net");
		CHECK_STR(bh_store_event_get(&ev[0], "folder"), "bouncer/processed");
		CHECK_STR(bh_store_event_get(&ev[0], "uid"), "1");
		CHECK_STR(bh_store_event_get(&ev[0], "rules_version"), "test-rules-1");
		CHECK_STR(bh_store_event_get(&ev[0], "rule"), "test-rule");
	}
	bh_store_events_free(ev, n);
	msg_deinit(&m);

	/* A message with no decisions (an auto-reply) is confirmed and recorded. */
	msg_init(&m, "vac1", "x@example.com", NULL, BH_R_VACATION, BH_OUT_RECORD,
		 act(BH_POL_IGNORE, 0, 0, 0, BH_SCOPE_LIST));
	m.ds.n = 0;
	m.v.type = BH_TYPE_AUTOREPLY;
	CHECK_INT(apply1(s, &m), BH_STORE_APPLIED);
	CHECK_INT(stat_day(s, "-", "vacation", "record"), 1);
	/* No stable id: never confirmed. */
	m.v.stable_id[0] = '\0';
	CHECK_INT(apply1(s, &m), BH_STORE_INVALID);
	msg_deinit(&m);

	/* The server dropped our idle connection: the next apply reconnects at once. */
	redis_cli("CLIENT KILL TYPE normal");
	msg_init(&m, "idle1", "idle@example.com", "news", BH_R_USERUNKNOWN, BH_OUT_SUPPRESS,
		 act(BH_POL_SUPPRESS, 0, 0, 0, BH_SCOPE_LIST));
	CHECK_INT(apply1(s, &m), BH_STORE_APPLIED);
	msg_deinit(&m);
	redis_cli("CLIENT KILL TYPE normal");
	{
		char *info = NULL;

		CHECK_INT(bh_store_health(s, &info, &error), 0);
		free(info);
	}

	/* Redis forgot the scripts: reloaded on NOSCRIPT. */
	redis_cli("SCRIPT FLUSH");
	msg_init(&m, "ns1", "ns@example.com", "news", BH_R_USERUNKNOWN, BH_OUT_SUPPRESS,
		 act(BH_POL_SUPPRESS, 0, 0, 0, BH_SCOPE_LIST));
	CHECK_INT(apply1(s, &m), BH_STORE_APPLIED);
	msg_deinit(&m);
	redis_cli("SCRIPT FLUSH");
	CHECK_INT(bh_store_add(s, "ns2@example.com", NULL, "after flush", 0, &error), 0);
}

/* verp_msg - a report as the parser and VERP decoder leave it: the subscriber comes from a valid
 * VERP address, the reported address is whatever the remote side saw */
static void
verp_msg(struct bh_verdict *v, const char *sid, const char *list, const char *rcpt,
	 enum bh_reason reason, size_t blocks)
{
	size_t i;

	bh_verdict_init(v);
	v->type = BH_TYPE_DSN;
	snprintf(v->stable_id, sizeof(v->stable_id), "%s", sid);
	v->env.message_id = bh_asprintf("<%s@mx.example>", sid);
	v->verp.checked = true;
	v->verp.valid = true;
	v->verp.list = bh_strdup(list);
	v->verp.recipient = key_form(rcpt);
	for (i = 0; i < blocks; i++) {
		struct bh_rcpt *r = bh_verdict_add_rcpt(v, 10);

		r->address = bh_strdup(rcpt);
		r->action = BH_ACTION_FAILED;
		snprintf(r->status, sizeof(r->status), "%s", "5.0.0");
		bh_rcpt_set_reason(r, reason, "test-rule");
	}
}

/* apply_policy - decide with the real policy, then apply */
static enum bh_store_status
apply_policy(struct bh_store *s, const struct bh_config *cfg, struct bh_verdict *v)
{
	struct bh_policy_settings set = bh_config_policy_settings(cfg);
	struct bh_decisions d;
	struct bh_store_item it;
	const char *error = NULL;

	memset(&d, 0, sizeof(d));
	memset(&it, 0, sizeof(it));
	bh_policy_decide(&set, v, &d);
	it.v = v;
	it.d = &d;
	it.folder = "bouncer/processed";
	it.uid = 9;
	if (bh_store_apply(s, &it, 1, &error) == -1)
		fprintf(stderr, "apply: %s\n", error);
	bh_decisions_deinit(&d);
	return it.status;
}

/* test_with_policy - decisions from bh_policy_decide (the built-in defaults) */
static void
test_with_policy(struct bh_store *s, const struct bh_config *cfg)
{
	struct bh_verdict v;
	struct bh_store_event *ev;
	size_t n;
	const char *error;

	verp_msg(&v, "pol-hard", "weekly", "Sub@Example.COM", BH_R_USERUNKNOWN, 1);
	CHECK_INT(apply_policy(s, cfg, &v), BH_STORE_APPLIED);
	bh_verdict_deinit(&v);
	CHECK_INT(suppressed(s, "Sub@example.com", "weekly", "userunknown"), 1);
	CHECK_INT(suppressed(s, "forwarded@elsewhere.example", "weekly", NULL), 0);

	/* A report about another address (our mail forwarded elsewhere) suppresses nobody. */
	verp_msg(&v, "pol-fwd", "weekly", "kept@example.com", BH_R_USERUNKNOWN, 1);
	free(v.rcpts[0].address);
	v.rcpts[0].address = bh_strdup("forwarded@elsewhere.example");
	CHECK_INT(apply_policy(s, cfg, &v), BH_STORE_APPLIED);
	bh_verdict_deinit(&v);
	CHECK_INT(suppressed(s, "kept@example.com", "weekly", NULL), 0);
	CHECK_INT(suppressed(s, "forwarded@elsewhere.example", "weekly", NULL), 0);

	/* One report naming the subscriber in two blocks counts once. */
	verp_msg(&v, "pol-soft", "weekly", "twice@example.com", BH_R_MAILBOXFULL, 2);
	CHECK_INT(apply_policy(s, cfg, &v), BH_STORE_APPLIED);
	bh_verdict_deinit(&v);
	CHECK_INT(bh_store_explain(s, "twice@example.com", 0, &ev, &n, &error), 0);
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK_STR(bh_store_event_get(&ev[0], "result"), "counted 1/3");
		CHECK_STR(bh_store_event_get(&ev[1], "result"), "counted 1/3");
		CHECK_STR(bh_store_event_get(&ev[0], "reason"), "mailboxfull");
	}
	bh_store_events_free(ev, n);

	/* Sender-side: never suppressed by default. */
	verp_msg(&v, "pol-blocked", "weekly", "fine@example.com", BH_R_BLOCKED, 1);
	CHECK_INT(apply_policy(s, cfg, &v), BH_STORE_APPLIED);
	bh_verdict_deinit(&v);
	CHECK_INT(suppressed(s, "fine@example.com", "weekly", NULL), 0);

	/* Without a valid VERP address nothing is suppressed, but the message is confirmed. */
	verp_msg(&v, "pol-forged", "weekly", "victim@example.com", BH_R_USERUNKNOWN, 1);
	v.verp.valid = false;
	v.verp.why = "bad signature";
	CHECK_INT(apply_policy(s, cfg, &v), BH_STORE_APPLIED);
	bh_verdict_deinit(&v);
	CHECK_INT(suppressed(s, "victim@example.com", "weekly", NULL), 0);
	CHECK_INT(n_events(s, "victim@example.com"), 0);
}

/* apply_item - decide with the real policy, apply, and return the item (its outputs) */
static struct bh_store_item
apply_item(struct bh_store *s, const struct bh_config *cfg, struct bh_verdict *v)
{
	struct bh_policy_settings set = bh_config_policy_settings(cfg);
	struct bh_decisions d;
	struct bh_store_item it;
	const char *error = NULL;

	memset(&d, 0, sizeof(d));
	memset(&it, 0, sizeof(it));
	bh_policy_decide(&set, v, &d);
	it.v = v;
	it.d = &d;
	it.folder = "bouncer/processed";
	it.loop_folder = "bouncer/ignored";
	it.uid = 11;
	if (bh_store_apply(s, &it, 1, &error) == -1)
		fprintf(stderr, "apply: %s\n", error);
	bh_decisions_deinit(&d);
	it.v = NULL;
	it.d = NULL;
	return it;
}

/* count_alerts - alert events of a kind among the last 200 */
static int
count_alerts(struct bh_store *s, const char *alert)
{
	struct bh_store_event *ev;
	size_t n, i;
	const char *error;
	int c = 0;

	if (bh_store_tail(s, 200, &ev, &n, &error) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		const char *k = bh_store_event_get(&ev[i], "kind");
		const char *a = bh_store_event_get(&ev[i], "alert");

		if (k != NULL && strcmp(k, "alert") == 0 && a != NULL && strcmp(a, alert) == 0)
			c++;
	}
	bh_store_events_free(ev, n);
	return c;
}

/* test_repeat - one sent message bouncing three times (three different reports) for one
 * recipient: counted once, the other two are repeats, the third raises the alert */
static void
test_repeat(struct bh_store *s, struct bh_config *cfg)
{
	struct bh_verdict v;
	struct bh_store_item it;
	struct bh_store_event *ev;
	size_t n;
	const char *error;
	int i;

	for (i = 0; i < 3; i++) {
		char sid[32];

		snprintf(sid, sizeof(sid), "rpt-%d", i);
		verp_msg(&v, sid, "digest", "again@example.com", BH_R_MAILBOXFULL, 1);
		v.original.message_id = bh_strdup("<sent-1@lists.example.org>");
		v.original.present = true;
		it = apply_item(s, cfg, &v);
		bh_verdict_deinit(&v);
		CHECK_INT(it.status, BH_STORE_APPLIED);
		CHECK_INT(it.loop, i == 0 ? BH_LOOP_NONE : BH_LOOP_REPEAT);
		CHECK_INT(it.n_alerts, i == 2 ? 1 : 0);
	}
	CHECK_INT(bh_store_explain(s, "again@example.com", 0, &ev, &n, &error), 0);
	CHECK_INT(n, 3);
	if (n == 3) {
		CHECK_STR(bh_store_event_get(&ev[2], "result"), "counted 1/3");
		CHECK_STR(bh_store_event_get(&ev[1], "outcome"), "refuse");
		CHECK_STR(bh_store_event_get(&ev[1], "loop"), "repeat");
		CHECK_STR(bh_store_event_get(&ev[1], "repeat"), "2");
		CHECK_STR(bh_store_event_get(&ev[1], "repeat_of"), "rpt-0");
		CHECK_STR(bh_store_event_get(&ev[0], "folder"), "bouncer/ignored");
		CHECK_STR(bh_store_event_get(&ev[2], "folder"), "bouncer/processed");
	}
	bh_store_events_free(ev, n);
	CHECK_INT(count_alerts(s, "repeat"), 1);
	CHECK_INT(stat_day(s, "digest", "mailboxfull", "count"), 1);
	CHECK_INT(stat_day(s, "digest", "loop:repeat", "refuse"), 2);
	CHECK_INT(stat_day(s, "*", "loop:repeat", "messages"), 2);

	/* Applied again: a duplicate that still says repeat (the worker files it the same way). */
	verp_msg(&v, "rpt-1", "digest", "again@example.com", BH_R_MAILBOXFULL, 1);
	v.original.message_id = bh_strdup("<sent-1@lists.example.org>");
	it = apply_item(s, cfg, &v);
	bh_verdict_deinit(&v);
	CHECK_INT(it.status, BH_STORE_DUPLICATE);
	CHECK_INT(it.loop, BH_LOOP_REPEAT);

	/* A different sent message to the same recipient counts; a hard bounce after a soft one
	 * about the same sent message is stronger and suppresses. */
	verp_msg(&v, "rpt-other", "digest", "again@example.com", BH_R_MAILBOXFULL, 1);
	v.original.message_id = bh_strdup("<sent-2@lists.example.org>");
	it = apply_item(s, cfg, &v);
	bh_verdict_deinit(&v);
	CHECK_INT(it.loop, BH_LOOP_NONE);
	verp_msg(&v, "rpt-hard", "digest", "again@example.com", BH_R_USERUNKNOWN, 1);
	v.original.message_id = bh_strdup("<sent-1@lists.example.org>");
	it = apply_item(s, cfg, &v);
	bh_verdict_deinit(&v);
	CHECK_INT(it.loop, BH_LOOP_NONE);
	CHECK_INT(it.n_suppressed, 1);
	CHECK_INT(suppressed(s, "again@example.com", "digest", "userunknown"), 1);

	/* loops.repeat: alert -> the repeat's decision is an alert (kind loop) */
	cfg->defaults.loop[BH_LOOP_REPEAT].kind = BH_POL_ALERT;
	for (i = 0; i < 2; i++) {
		char sid[32];

		snprintf(sid, sizeof(sid), "rpt-al-%d", i);
		verp_msg(&v, sid, "digest", "loud@example.com", BH_R_USERUNKNOWN, 1);
		v.original.message_id = bh_strdup("<sent-3@lists.example.org>");
		it = apply_item(s, cfg, &v);
		bh_verdict_deinit(&v);
		CHECK_INT(it.loop, i == 0 ? BH_LOOP_NONE : BH_LOOP_REPEAT);
	}
	cfg->defaults.loop[BH_LOOP_REPEAT].kind = BH_POL_IGNORE;
	CHECK_INT(count_alerts(s, "loop"), 1);
	CHECK_INT(stat_day(s, "digest", "loop:repeat", "alert"), 1);

	/* Without the original Message-ID (or envelope id) there is nothing to compare. */
	for (i = 0; i < 2; i++) {
		char sid[32];

		snprintf(sid, sizeof(sid), "rpt-noid-%d", i);
		verp_msg(&v, sid, "digest", "noid@example.com", BH_R_MAILBOXFULL, 1);
		it = apply_item(s, cfg, &v);
		bh_verdict_deinit(&v);
		CHECK_INT(it.loop, BH_LOOP_NONE);
	}
}

/* test_burst - more failures for a list than list_burst.max (or {p}:mailed:LIST) within the
 * window: new suppressions are held and one alert is raised */
static void
test_burst(struct bh_store *s, struct bh_config *cfg)
{
	struct bh_verdict v;
	struct bh_store_item it;
	struct bh_store_event *ev;
	size_t n;
	const char *error;
	char sid[32], addr[64];
	int i, held = 0, alerts = 0;

	cfg->defaults.burst_max = 3;
	for (i = 0; i < 5; i++) {
		snprintf(sid, sizeof(sid), "burst-%d", i);
		snprintf(addr, sizeof(addr), "b%d@example.com", i);
		verp_msg(&v, sid, "flood", addr, BH_R_USERUNKNOWN, 1);
		it = apply_item(s, cfg, &v);
		bh_verdict_deinit(&v);
		CHECK_INT(it.status, BH_STORE_APPLIED);
		held += (int)it.n_held;
		alerts += (int)it.n_alerts;
		CHECK_INT(suppressed(s, addr, "flood", NULL), i < 3 ? 1 : 0);
	}
	CHECK_INT(held, 2);
	CHECK_INT(alerts, 1);
	CHECK_INT(count_alerts(s, "list_burst"), 1);
	CHECK_INT(stat_day(s, "flood", "userunknown", "held"), 2);
	CHECK_INT(bh_store_explain(s, "b4@example.com", 0, &ev, &n, &error), 0);
	CHECK_INT(n, 1);
	if (n == 1) {
		CHECK_STR(bh_store_event_get(&ev[0], "result"), "held");
		CHECK_STR(bh_store_event_get(&ev[0], "held"), "list_burst 5>3");
	}
	bh_store_events_free(ev, n);
	cfg->defaults.burst_max = 0;

	/* The sender's own count: {t}:mailed:LIST caps the list without any configuration. */
	redis_cli("SET {t}:mailed:small 2 EX 600");
	for (i = 0; i < 3; i++) {
		snprintf(sid, sizeof(sid), "mailed-%d", i);
		snprintf(addr, sizeof(addr), "m%d@example.com", i);
		verp_msg(&v, sid, "small", addr, BH_R_USERUNKNOWN, 1);
		it = apply_item(s, cfg, &v);
		bh_verdict_deinit(&v);
		CHECK_INT(it.n_held, i == 2 ? 1 : 0);
	}
	CHECK_INT(suppressed(s, "m2@example.com", "small", NULL), 0);
	CHECK_INT(suppressed(s, "m1@example.com", "small", NULL), 1);
}

#define N_BATCH 3000

/* test_throughput - one pipelined batch of distinct messages; prints messages per second (the
 * server fsyncs its AOF on every write here, as in the restart test) */
static void
test_throughput(struct bh_store *s)
{
	static struct msg m[1000];
	static struct bh_store_item items[1000];
	const char *error = NULL;
	int64_t t0, ms;
	size_t i;
	int rc;

	for (i = 0; i < BH_NELEM(m); i++) {
		char sid[32], addr[64];

		snprintf(sid, sizeof(sid), "tp%zu", i);
		snprintf(addr, sizeof(addr), "user%zu@example.net", i);
		msg_init(
		    &m[i], sid, addr, "bench", i % 2 ? BH_R_USERUNKNOWN : BH_R_MAILBOXFULL,
		    i % 2 ? BH_OUT_SUPPRESS : BH_OUT_COUNT,
		    act(i % 2 ? BH_POL_SUPPRESS : BH_POL_COUNT, 86400, 3, 3600, BH_SCOPE_LIST));
		items[i] = m[i].it;
	}
	t0 = bh_mono_ms();
	rc = bh_store_apply(s, items, BH_NELEM(items), &error);
	ms = bh_mono_ms() - t0;
	CHECK_INT(rc, BH_NELEM(items));
	printf("throughput: %zu messages in one round trip: %lld ms (%.0f messages/s)\n",
	       BH_NELEM(items), (long long)ms,
	       ms > 0 ? BH_NELEM(items) * 1000.0 / (double)ms : 0.0);
	t0 = bh_mono_ms();
	rc = bh_store_apply(s, items, BH_NELEM(items), &error);
	ms = bh_mono_ms() - t0;
	CHECK_INT(rc, BH_NELEM(items));
	CHECK_INT(items[0].status, BH_STORE_DUPLICATE);
	printf("throughput: the same again (all duplicates): %lld ms\n", (long long)ms);
	for (i = 0; i < BH_NELEM(m); i++)
		msg_deinit(&m[i]);
}

/* test_halves - bh_store_apply_begin/_end: parts applied in order while the caller works, and
 * the retries of bh_store_apply still happen in _end (a script flush or a dropped connection
 * between the halves) */
static void
test_halves(struct bh_store *s)
{
	static struct msg m[6];
	static struct bh_store_item items[6];
	const char *error = NULL;
	size_t i;

	for (i = 0; i < BH_NELEM(m); i++) {
		char sid[32], addr[64];

		snprintf(sid, sizeof(sid), "half%zu", i);
		snprintf(addr, sizeof(addr), "half%zu@example.net", i);
		msg_init(&m[i], sid, addr, "news", BH_R_USERUNKNOWN, BH_OUT_SUPPRESS,
			 act(BH_POL_SUPPRESS, 0, 0, 0, BH_SCOPE_LIST));
		items[i] = m[i].it;
	}
	bh_store_apply_reset(s);
	/* two parts, the second sent after the first is read */
	CHECK_INT(bh_store_apply_begin(s, items, 2, &error), 0);
	CHECK_INT(bh_store_apply_end(s, items, 2, &error), 2);
	/* Redis forgot the script: the first read sees NOSCRIPT, the end reloads and applies */
	redis_cli("SCRIPT FLUSH");
	CHECK_INT(bh_store_apply_begin(s, items + 2, 1, &error), 0);
	CHECK_INT(bh_store_apply_end(s, items + 2, 1, &error), 1);
	CHECK_INT(items[2].status, BH_STORE_APPLIED);
	/* the connection is dropped between the halves, and the script is gone too (the
	 * NOSCRIPT answer may already sit in our socket): the end reconnects once and the
	 * message is applied exactly once */
	redis_cli("SCRIPT FLUSH");
	CHECK_INT(bh_store_apply_begin(s, items + 3, 1, &error), 0);
	redis_cli("CLIENT KILL TYPE normal");
	CHECK_INT(bh_store_apply_end(s, items + 3, 1, &error), 1);
	CHECK(bh_store_is_confirmed(&items[3]));
	/* the same again: duplicates */
	CHECK_INT(bh_store_apply_begin(s, items, 4, &error), 0);
	CHECK_INT(bh_store_apply_end(s, items, 4, &error), 4);
	for (i = 0; i < 4; i++)
		CHECK_INT(items[i].status, BH_STORE_DUPLICATE);
	/* an empty part */
	CHECK_INT(bh_store_apply_begin(s, items + 4, 0, &error), 0);
	CHECK_INT(bh_store_apply_end(s, items + 4, 0, &error), 0);
	for (i = 0; i < BH_NELEM(m); i++)
		msg_deinit(&m[i]);
}

/* test_restart - kill Redis in the middle of a pipelined batch, restart it, retry what was not
 * confirmed: every message counted exactly once. */
static void
test_restart(struct bh_store *s, const struct bh_config *cfg)
{
	static struct msg m[N_BATCH];
	static struct bh_store_item items[N_BATCH];
	size_t i, k, left, confirmed_first = 0, dups = 0, rounds = 0;
	const char *error = NULL;
	pid_t killer;
	int rc;

	for (i = 0; i < N_BATCH; i++) {
		char sid[32];

		snprintf(sid, sizeof(sid), "batch%zu", i);
		msg_init(&m[i], sid, "many@example.com", "restart", BH_R_MAILBOXFULL, BH_OUT_COUNT,
			 act(BH_POL_COUNT, 0, 1000000, 3600, BH_SCOPE_LIST));
		items[i] = m[i].it;
	}
	killer = fork();
	if (killer == 0) {
		/* A second client watches the key count grow, then kills the server. */
		const char *e;
		struct bh_store *w = bh_store_new(cfg, "watcher", &e);
		char *info;
		long long base = -1, keys;

		for (i = 0; i < 20000; i++) {
			if (bh_store_health(w, &info, &e) == 0) {
				const char *p = strstr(info, "keys=");

				keys = p != NULL ? atoll(p + 5) : 0;
				free(info);
				if (base == -1)
					base = keys;
				else if (keys >= base + 300)
					break;
			}
			msleep(1);
		}
		kill(redis_pid, SIGKILL);
		bh_store_free(&w);
		_exit(0);
	}
	msleep(20);
	rc = bh_store_apply(s, items, N_BATCH, &error);
	waitpid(killer, NULL, 0);
	waitpid(redis_pid, NULL, 0);
	redis_pid = -1;
	for (i = 0; i < N_BATCH; i++)
		if (bh_store_is_confirmed(&items[i]))
			confirmed_first++;
	printf("restart: first pass confirmed %zu of %d (rc %d: %s)\n", confirmed_first, N_BATCH,
	       rc, error != NULL ? error : "-");
	CHECK(confirmed_first < N_BATCH);
	/* The confirmed ones are a prefix: a transport error leaves the rest unconfirmed. */
	for (i = 0; i < confirmed_first; i++)
		CHECK(bh_store_is_confirmed(&items[i]));
	CHECK_INT(redis_up(), 0);
	/* Retry until everything is confirmed (a worker does this on its next poll). */
	do {
		struct bh_store_item *retry = bh_calloc(N_BATCH, sizeof(*retry));
		size_t idx[N_BATCH];

		left = 0;
		for (i = 0; i < N_BATCH; i++)
			if (!bh_store_is_confirmed(&items[i])) {
				idx[left] = i;
				retry[left++] = items[i];
			}
		if (left > 0) {
			msleep(bh_store_backoff_ms(s));
			bh_store_apply(s, retry, left, &error);
			for (k = 0; k < left; k++) {
				if (retry[k].status == BH_STORE_DUPLICATE)
					dups++;
				items[idx[k]] = retry[k];
			}
		}
		free(retry);
	} while (left > 0 && ++rounds < 50);
	printf("restart: retried in %zu rounds, %zu were already applied\n", rounds, dups);
	CHECK_INT(left, 0);
	/* Exactly once: the stats counted each message once, never twice, none lost. */
	CHECK_INT(stat_day(s, "restart", "mailboxfull", "count"), N_BATCH);
	for (i = 0; i < N_BATCH; i++)
		msg_deinit(&m[i]);
}

/* populate - apply a fixed set of messages to a running Redis (for the CLI tests): main's
 * `--populate PORT PREFIX` mode. */
static int
populate(const char *port, const char *prefix)
{
	struct bh_config *cfg = bh_config_defaults();
	struct bh_store *s;
	struct msg m[9];
	struct bh_store_item items[9];
	const char *error = NULL;
	size_t i, n = 0;
	int rc;

	cfg->redis.port = atoi(port);
	free(cfg->redis.prefix);
	cfg->redis.prefix = bh_strdup(prefix);
	s = bh_store_new(cfg, "rules-2026.11", &error);
	if (s == NULL) {
		fprintf(stderr, "populate: %s\n", error);
		return 1;
	}
	if (getenv("BH_TEST_LEASE") != NULL) { /* the cluster test: the lease script and key too */
		const char *holder = NULL;
		int64_t pttl;

		bh_store_lease_set(s, "imap.example", "bounces", "INBOX");
		if (bh_store_lease(s, 600000, &holder, &pttl, &error) != 1) {
			fprintf(stderr, "populate: lease: %s\n", error != NULL ? error : holder);
			return 1;
		}
	}
	msg_init(&m[n++], "p-hard", "Gone@Example.COM", "news", BH_R_USERUNKNOWN, BH_OUT_SUPPRESS,
		 act(BH_POL_SUPPRESS, 0, 0, 0, BH_SCOPE_LIST));
	free(m[0].v.rcpts[0].diagnostic);
	m[0].v.rcpts[0].diagnostic =
	    bh_strdup("smtp; 550 5.1.1 <Gone@example.com>: no such user\r\n"
		      "X-Evil: \x1b[31mred");
	msg_init(&m[n++], "p-arf", "angry@example.com", "news", BH_R_FEEDBACK, BH_OUT_SUPPRESS,
		 act(BH_POL_SUPPRESS, 0, 0, 0, BH_SCOPE_GLOBAL));
	for (i = 0; i < 3; i++) {
		char sid[16];

		snprintf(sid, sizeof(sid), "p-soft%zu", i);
		msg_init(&m[n++], sid, "full@example.org", "news", BH_R_MAILBOXFULL, BH_OUT_COUNT,
			 act(BH_POL_COUNT, 86400, 3, 3600, BH_SCOPE_LIST));
	}
	msg_init(&m[n], "p-delayed", "slow@example.com", "news", BH_R_MAILBOXFULL, BH_OUT_RECORD,
		 act(BH_POL_COUNT, 86400, 3, 3600, BH_SCOPE_LIST));
	m[n++].d.delayed = true;
	msg_init(&m[n++], "p-blocked", "b@blocky.example", "promo", BH_R_BLOCKED, BH_OUT_ALERT,
		 act(BH_POL_ALERT, 0, 0, 0, BH_SCOPE_LIST));
	msg_init(&m[n], "p-loop", "x@example.com", NULL, BH_R_UNDEFINED, BH_OUT_REFUSE,
		 act(BH_POL_IGNORE, 0, 0, 0, BH_SCOPE_LIST));
	m[n].v.loop.kind = BH_LOOP_BOUNCE_OF_BOUNCE;
	m[n].ds.n = 0;
	m[n++].ds.refused = true;
	msg_init(&m[n], "p-vacation", "x@example.com", NULL, BH_R_VACATION, BH_OUT_RECORD,
		 act(BH_POL_IGNORE, 0, 0, 0, BH_SCOPE_LIST));
	m[n].v.type = BH_TYPE_AUTOREPLY;
	m[n++].ds.n = 0;
	for (i = 0; i < n; i++)
		items[i] = m[i].it;
	rc = bh_store_apply(s, items, n, &error);
	for (i = 0; i < n; i++)
		msg_deinit(&m[i]);
	bh_store_free(&s);
	bh_config_free(&cfg);
	if (rc != (int)n) {
		fprintf(stderr, "populate: %d of %zu confirmed: %s\n", rc, n, error ? error : "-");
		return 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct bh_config *cfg;
	struct bh_store *s;
	const char *error = NULL;
	char *info = NULL;

	if (argc == 4 && strcmp(argv[1], "--populate") == 0)
		return populate(argv[2], argv[3]);
	if (system("command -v redis-server >/dev/null 2>&1") != 0) {
		printf("test_store: redis-server not found, skipped\n");
		return 77;
	}
	if (mkdtemp(redis_dir) == NULL)
		bh_fatal("mkdtemp: %s", strerror(errno));
	atexit(cleanup);
	redis_port = free_port();
	if (redis_up() == -1) {
		printf("test_store: redis-server did not start\n");
		return 1;
	}
	cfg = bh_config_defaults();
	cfg->redis.port = redis_port;
	cfg->defaults.sender_alert_threshold = 3;
	cfg->defaults.sender_alert_window_s = 60;

	free(cfg->redis.prefix);
	cfg->redis.prefix = bh_strdup("bad{x}");
	CHECK(bh_store_new(cfg, NULL, &error) == NULL);
	free(cfg->redis.prefix);
	cfg->redis.prefix = bh_strdup("t");

	s = bh_store_new(cfg, "test-rules-1", &error);
	CHECK(s != NULL);
	CHECK_STR(bh_store_key_prefix(s), "{t}");
	CHECK_INT(bh_store_health(s, &info, &error), 0);
	CHECK(info != NULL && strstr(info, "redis ") == info);
	free(info);

	test_hard_twice(s);
	test_event_cap(s);
	test_complaint(s);
	test_manual(s);
	test_sender_alert(s);
	test_delayed_and_empty(s);
	test_soft(s);
	test_with_policy(s, cfg);
	test_repeat(s, cfg);
	test_burst(s, cfg);
	redis_cli("CONFIG SET appendfsync everysec");
	test_throughput(s);
	test_halves(s);
	redis_cli("CONFIG SET appendfsync always");
	test_restart(s, cfg);
	test_lease(cfg);

	bh_store_free(&s);
	bh_config_free(&cfg);
	return test_done("test_store");
}

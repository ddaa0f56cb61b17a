/*
 * store_apply.c - the store's apply alone: N messages through bh_policy_decide and
 * bh_store_apply, in parts of 100 (as the worker sends them), against the redis-server on PORT.
 * Prints the wall-clock and CPU microseconds per message (the CPU: building the commands and
 * reading the replies); bench/store.sh adds what Redis counted
 * (commands, EVALSHA arguments and microseconds). Uses only store.h and policy.h, so the same
 * source builds against an older libbh.a for a before/after comparison.
 *
 *   store_apply PORT N
 *
 * Four shapes in turn, each a VERP-valid DSN for list "bench": a hard bounce (suppressed), a
 * soft one (counted), a sender-side block (an alert, counted per receiving domain) and an
 * auto-reply (recorded).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "policy.h"
#include "store.h"
#include "util.h"

#define PART 100

/* clock_us - a clock (CLOCK_MONOTONIC, or this process's CPU time) in microseconds */
static long long
clock_us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* make - message i of shape i % 4 */
static void
make(struct bh_verdict *v, size_t i, const char *run)
{
	static const enum bh_reason reason[] = {BH_R_USERUNKNOWN, BH_R_MAILBOXFULL, BH_R_BLOCKED,
						BH_R_VACATION};
	struct bh_rcpt *r;

	bh_verdict_init(v);
	v->type = i % 4 == 3 ? BH_TYPE_AUTOREPLY : BH_TYPE_DSN;
	snprintf(v->stable_id, sizeof(v->stable_id), "%s-%zu", run, i);
	v->env.message_id = bh_asprintf("<%s-%zu@mx.example>", run, i);
	v->env.reporting_mta = bh_strdup("dns; mx.example.net");
	v->original.message_id = bh_asprintf("<sent-%zu@bench.example>", i);
	v->verp.checked = true;
	v->verp.valid = true;
	v->verp.list = bh_strdup("bench");
	v->verp.recipient = bh_asprintf("user%zu@example%zu.net", i, i % 50);
	if (i % 4 == 3)
		return;
	r = bh_verdict_add_rcpt(v, 10);
	r->address = bh_strdup(v->verp.recipient);
	snprintf(r->status, sizeof(r->status), "%s", i % 4 == 1 ? "4.2.2" : "5.1.1");
	snprintf(r->reply_code, sizeof(r->reply_code), "%s", "550");
	r->action = BH_ACTION_FAILED;
	r->diagnostic = bh_strdup("smtp; 550 5.1.1 <x>: Recipient address rejected: no such user");
	r->remote_mta = bh_strdup("dns; mx.example.net");
	bh_rcpt_set_reason(r, reason[i % 4], "bench-rule");
}

/* main - apply N messages in parts of PART */
int
main(int argc, char **argv)
{
	struct bh_config *cfg = bh_config_defaults();
#ifdef BH_BENCH_SETTINGS
	struct bh_policy_settings set = bh_config_policy_settings(cfg); /* since 405deea */
#define DECIDE(v, d) bh_policy_decide(&set, (v), (d))
#else
#define DECIDE(v, d) bh_policy_decide(cfg, (v), (d))
#endif
	struct bh_verdict *v;
	struct bh_decisions *d;
	struct bh_store_item *it;
	struct bh_store *s;
	const char *error = NULL;
	char run[32];
	size_t n, i, j;
	long long t0, c0, us = 0, cpu = 0;

	if (argc != 3)
		bh_fatal("usage: store_apply PORT N");
	cfg->redis.port = atoi(argv[1]);
	n = (size_t)atol(argv[2]);
	snprintf(run, sizeof(run), "r%lld", (long long)time(NULL));
	if ((s = bh_store_new(cfg, "bench", &error)) == NULL || bh_store_connect(s, &error) == -1)
		bh_fatal("store: %s", error);
	v = bh_calloc(n, sizeof(*v));
	d = bh_calloc(n, sizeof(*d));
	it = bh_calloc(n, sizeof(*it));
	for (i = 0; i < n; i++) {
		make(&v[i], i, run);
		DECIDE(&v[i], &d[i]);
		it[i].v = &v[i];
		it[i].d = &d[i];
		it[i].mailbox = "INBOX";
		it[i].folder = "bouncer/processed";
		it[i].uidvalidity = 1;
		it[i].uid = (uint32_t)i + 1;
	}
	for (i = 0; i < n; i += PART) {
		size_t m = n - i < PART ? n - i : PART;

		t0 = clock_us(CLOCK_MONOTONIC);
		c0 = clock_us(CLOCK_PROCESS_CPUTIME_ID);
		if (bh_store_apply(s, it + i, m, &error) != (int)m)
			bh_fatal("apply: %s", error != NULL ? error : it[i].error);
		us += clock_us(CLOCK_MONOTONIC) - t0;
		cpu += clock_us(CLOCK_PROCESS_CPUTIME_ID) - c0;
	}
	printf("messages %zu  wall us/message %.1f  client CPU us/message %.1f\n", n,
	       (double)us / (double)n, (double)cpu / (double)n);
	for (j = 0; j < n; j++) {
		bh_decisions_deinit(&d[j]);
		bh_verdict_deinit(&v[j]);
	}
	free(v);
	free(d);
	free(it);
	bh_store_free(&s);
	bh_config_free(&cfg);
	return 0;
}

/*
 * worker.h - drain the bounce mailbox: fetch -> parse -> VERP -> loop check -> policy -> Redis
 * -> move, batch after batch, until the mailbox holds nothing unhandled.
 *
 * A message leaves the mailbox only after Redis confirmed its outcome (applied now, or applied
 * before: the store's stable-id key makes a re-application harmless), or when it is bad input
 * (unparseable, over the size limit: quarantined untouched). An environment failure (IMAP or
 * Redis down) leaves every unconfirmed message where it is and returns -1: the caller backs off
 * and calls again. The worker owns its IMAP connection and Redis store; it borrows the config.
 *
 * Test-only hook: with BOUNCER_TEST_CRASH_AFTER_STORE=1 in the environment the process
 * _exit()s (status 86) right after Redis confirmed a batch and before anything is moved, so that
 * tests can prove a restart loses nothing and counts nothing twice. Never set it in production.
 */
#ifndef BH_WORKER_H
#define BH_WORKER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "metrics.h"

/* Exit status of the test-only crash hook. */
#define BH_WORKER_CRASH_STATUS 86

struct bh_worker;

/* Counters since the worker was made. */
struct bh_worker_stats {
	uint64_t seen;	      /* messages looked at */
	uint64_t processed;   /* confirmed and moved to the processed folder */
	uint64_t ignored;     /* confirmed and moved to the ignored folder */
	uint64_t quarantined; /* moved to quarantine: unparseable, oversized, invalid */
	uint64_t duplicates;  /* Redis had applied them before (a restart after a crash) */
	uint64_t suppressed;  /* suppressions written */
	uint64_t deferred;    /* left in place: Redis did not confirm */
	uint64_t decisions;   /* dry run: decisions printed */
	unsigned batches;
};

struct bh_worker_opts {
	bool dry_run;		    /* decide and print; change nothing in Redis or IMAP */
	FILE *decisions;	    /* dry run: JSON Lines of every decision (NULL: stdout) */
	struct bh_metrics *metrics; /* may be NULL */
	/* asked between batches: true stops the drain early (a signal is pending) */
	bool (*interrupted)(void *ctx);
	/* called after every batch with the running counters (a progress line) */
	void (*progress)(const struct bh_worker_stats *st, void *ctx);
	void *ctx;
};

/* bh_worker_new - a worker for cfg (borrowed: it must outlive the worker) with opts (copied).
 * Compiles the rules. Does not connect. NULL with *error_r (static or valid until the next
 * call) when the configuration is unusable. */
struct bh_worker *bh_worker_new(const struct bh_config *cfg, const struct bh_worker_opts *opts,
				const char **error_r);
void bh_worker_free(struct bh_worker **wp);

/* bh_worker_drain - connect when needed, then handle batches until none is left or
 * opts.interrupted says stop. 0 when drained (or interrupted), -1 with *error_r on an
 * environment failure (unconfirmed messages stay in the mailbox; retry after a backoff). */
int bh_worker_drain(struct bh_worker *w, const char **error_r);

/* bh_worker_wait - wait up to timeout_ms for new mail (IMAP IDLE, else a poll interval);
 * signals in mask are deliverable only during the wait. 1 news, 0 timeout or signal, -1 error
 * (the connection is then dropped). */
int bh_worker_wait(struct bh_worker *w, int64_t timeout_ms, const sigset_t *mask,
		   const char **error_r);

/* bh_worker_health - can IMAP be reached and the mailbox selected, and does Redis answer?
 * Appends a line per component to report. 0 both fine, -1 otherwise. */
int bh_worker_health(struct bh_worker *w, struct bh_buf *report);

const struct bh_worker_stats *bh_worker_stats(const struct bh_worker *w);
/* bh_worker_standby - true when lease.enabled and the last drain found the mailbox lease held
 * by another worker (nothing was done; bh_worker_wait then sleeps ttl/3 and the next drain
 * asks again). */
bool bh_worker_standby(const struct bh_worker *w);
/* bh_worker_failed - true once anything was quarantined or left unconfirmed (`once` exit). */
bool bh_worker_failed(const struct bh_worker *w);

#endif

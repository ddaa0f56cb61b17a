/*
 * metrics.h - Prometheus metrics: a small thread-safe registry and an HTTP endpoint serving it.
 *
 * The worker owns one registry (bh_metrics_new), counts into it from its own thread, and may
 * serve it over HTTP (bh_metrics_start, libmicrohttpd, its own thread; loopback by default:
 * config `metrics_listen`, "127.0.0.1:9356"): GET /metrics (the Prometheus text format, with the
 * process_* metrics read from /proc/self at each scrape) and GET /healthz (200 or 503 with a
 * JSON body, from the last IMAP and Redis contact: bh_metrics_health). Every update function
 * accepts m == NULL and does nothing, so callers never test whether metrics are on.
 *
 * Label values are untrusted text (a list name comes out of a VERP address): they are cut to
 * BH_MAX_METRIC_LABEL octets, made valid UTF-8 without control characters, and escaped in the
 * text format. At most max_series labelled series exist; later label sets are counted in one
 * overflow series per family whose label values are all "__overflow__".
 */
#ifndef BH_METRICS_H
#define BH_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "util.h"

struct bh_metrics;

/* The counter families. The label names of each are fixed (deploy/README.md "Metrics"). */
enum bh_metric {
	BH_M_BOUNCES = 0,	/* bouncer_bounces_total{list,type,reason,outcome} */
	BH_M_LOOPS,		/* bouncer_loops_total{kind} */
	BH_M_IMAP_ERRORS,	/* bouncer_imap_errors_total */
	BH_M_IMAP_RECONNECTS,	/* bouncer_imap_reconnects_total */
	BH_M_REDIS_ERRORS,	/* bouncer_redis_errors_total */
	BH_M_REDIS_RECONNECTS,	/* bouncer_redis_reconnects_total */
	BH_M_SUPPRESSIONS,	/* bouncer_suppressions_total */
	BH_M_SUPPRESSIONS_HELD, /* bouncer_suppressions_held_total */
	BH_M_ALERTS,		/* bouncer_alerts_total */
	BH_M_COUNT
};

/* Where a message left the mailbox for: bouncer_messages_total{outcome}. */
enum bh_metric_folder { BH_MF_PROCESSED = 0, BH_MF_IGNORED, BH_MF_QUARANTINED, BH_MF_COUNT };

/* The connections whose state is kept: bouncer_imap_up, bouncer_redis_up, their last contact
 * and their reconnections. */
enum bh_metric_conn { BH_CONN_IMAP = 0, BH_CONN_REDIS, BH_CONN_COUNT };

/* bh_metrics_new - an empty registry holding at most max_series labelled series (0: the default
 * BH_MAX_METRIC_SERIES). Free with bh_metrics_free. */
struct bh_metrics *bh_metrics_new(unsigned max_series);
/* bh_metrics_free - stop the HTTP server if it runs, then free. Accepts NULL; sets *m = NULL. */
void bh_metrics_free(struct bh_metrics **m);

/* bh_metrics_start - serve GET /metrics on listen: "IPv4:PORT" or "[IPv6]:PORT", numeric only;
 * port 0 picks a free port (see bh_metrics_port). Returns 0, or -1 with *error_r set (static
 * text: bad address, cannot listen, built without libmicrohttpd, already started). */
int bh_metrics_start(struct bh_metrics *m, const char *listen, const char **error_r);
/* bh_metrics_port - the TCP port being served, 0 when not serving. */
int bh_metrics_port(const struct bh_metrics *m);

/* bh_metrics_add - add n to a counter. labels holds as many strings as the family has label
 * names (NULL for none; a NULL string counts as ""); they are copied. */
void bh_metrics_add(struct bh_metrics *m, enum bh_metric which, const char *const *labels,
		    uint64_t n);
/* bh_metrics_inc - add 1 to a counter without labels (the imap and redis counters). */
void bh_metrics_inc(struct bh_metrics *m, enum bh_metric which);
/* bh_metrics_bounce - count one recipient verdict: list ("" when unknown), verdict type,
 * reason name and the policy outcome (what the worker did: "suppressed", "counted", ...). */
void bh_metrics_bounce(struct bh_metrics *m, const char *list, const char *type, const char *reason,
		       const char *outcome);
/* bh_metrics_loop - count one detected loop of the given kind. */
void bh_metrics_loop(struct bh_metrics *m, const char *kind);
/* bh_metrics_batch_observe - record the duration of one batch (bouncer_batch_seconds). Negative
 * or non-finite values are ignored. */
void bh_metrics_batch_observe(struct bh_metrics *m, double seconds);
/* bh_metrics_last_poll - set bouncer_last_poll_timestamp_seconds (a successful poll, epoch s). */
void bh_metrics_last_poll(struct bh_metrics *m, int64_t when);

/* bh_metrics_messages - n messages moved out of the mailbox to the folder of outcome f. */
void bh_metrics_messages(struct bh_metrics *m, enum bh_metric_folder f, uint64_t n);
/* bh_metrics_store_item - what the store did for one confirmed message: suppressions written
 * or extended, alert events raised, suppressions held back by a list burst. */
void bh_metrics_store_item(struct bh_metrics *m, unsigned suppressed, unsigned alerts,
			   unsigned held);
/* bh_metrics_backlog - set bouncer_mailbox_backlog_messages (messages waiting in the mailbox at
 * the last search). */
void bh_metrics_backlog(struct bh_metrics *m, uint64_t n);
/* bh_metrics_lease - set bouncer_lease_held: true while this worker works the mailbox (holds
 * its lease, or leases are off), false while it stands by. */
void bh_metrics_lease(struct bh_metrics *m, bool held);

/* bh_metrics_contact - a command on c succeeded at when (epoch s): c is up. The first contact
 * after a bh_metrics_conn_lost counts one reconnection (so a healthy start counts none, and a
 * server down at the start counts one when it answers); after bh_metrics_conn_closed, none. */
void bh_metrics_contact(struct bh_metrics *m, enum bh_metric_conn c, int64_t when);
/* bh_metrics_conn_lost - c failed (transport error, refused, unreachable): c is down. */
void bh_metrics_conn_lost(struct bh_metrics *m, enum bh_metric_conn c);
/* bh_metrics_conn_closed - c was closed on purpose (a standby drops IMAP): down, no loss. */
void bh_metrics_conn_closed(struct bh_metrics *m, enum bh_metric_conn c);

/* bh_metrics_health_window - a contact older than stale_after_s seconds is stale (the worker
 * sets 2 * its longest wait + 30 s). Default 150. */
void bh_metrics_health_window(struct bh_metrics *m, int64_t stale_after_s);
/* bh_metrics_health - the /healthz verdict at now (epoch s): 0 healthy (IMAP and Redis are up
 * and were last heard within the window; IMAP is not asked of a standby), -1 not. Appends a
 * one-line JSON body to b naming each connection's state and, when unhealthy, the stale ones. */
int bh_metrics_health(struct bh_metrics *m, int64_t now, struct bh_buf *b);

/* bh_metrics_render - append the whole registry in the Prometheus text format 0.0.4 to b. */
void bh_metrics_render(struct bh_metrics *m, struct bh_buf *b);

#endif

/*
 * store.h - suppression state, counters and the audit event stream in Redis.
 *
 * handler/store/ (the library bh_store: store_int.h says which file does what) is the only
 * module that talks to Redis (the only one that includes hiredis); no hiredis type appears here.
 * The key schema is documented in docs/redis.md so that a sender in any language can check an
 * address with one command.
 *
 * Applying one classified message is atomic and idempotent: one Lua script per message records
 * "this stable id was applied" (a key with a TTL), updates counters and suppressions and appends
 * events to the stream. Applying the same message again changes nothing and reports
 * BH_STORE_DUPLICATE, which the worker treats as confirmed.
 *
 * Connection: bh_store_new() does not connect. Every call connects when needed; after any
 * transport error the connection is dropped (a hiredis context that failed is dead) and the next
 * attempt waits for a backoff that doubles from 100 ms to 30 s (bh_store_backoff_ms()).
 *
 * Strings returned through `const char **error_r` are static or owned by the store and valid
 * until the next call on the same store.
 */
#ifndef BH_STORE_H
#define BH_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "policy.h"
#include "verdict.h"

struct bh_store;

/* How long the "this stable id was applied" marker lives: a message seen again later than this
 * is applied again. */
#define BH_STORE_APPLIED_TTL_S (90LL * 86400)
/* Events kept per address in its index (newest first). */
#define BH_STORE_ADDR_EVENTS 100

/* bh_store_new - a store for cfg->redis, policies from cfg (borrowed: cfg must outlive the
 * store). rules_version names the classification rules in every event (copied; NULL: "-").
 * Does not connect. Returns NULL with *error_r set when the configuration is unusable (e.g. a
 * prefix containing '{' or '}'). Free with bh_store_free. */
struct bh_store *bh_store_new(const struct bh_config *cfg, const char *rules_version,
			      const char **error_r);
void bh_store_free(struct bh_store **sp);

/* bh_store_connect - connect now (and load the scripts) unless connected. 0, or -1 with
 * *error_r (also when still inside the backoff window). */
int bh_store_connect(struct bh_store *s, const char **error_r);
/* bh_store_backoff_ms - milliseconds before the next connection attempt is allowed (0: now). */
int64_t bh_store_backoff_ms(const struct bh_store *s);

/* bh_store_ping - one PING: 0, or -1 with *error_r. */
int bh_store_ping(struct bh_store *s, const char **error_r);

/* bh_store_health - PING Redis, then its version and key count. 0 with *info_r (caller frees:
 * "redis 7.0.15 127.0.0.1:6379 keys=N") or -1 with *error_r. */
int bh_store_health(struct bh_store *s, char **info_r, const char **error_r);

/* ---- applying classified messages (the worker) ---- */

enum bh_store_status {
	BH_STORE_UNCONFIRMED = 0, /* Redis did not confirm (down, timeout, error): keep the
				   * message where it is and retry later */
	BH_STORE_APPLIED,	  /* applied now: confirmed */
	BH_STORE_DUPLICATE,	  /* applied before (same stable id): confirmed, nothing changed */
	BH_STORE_INVALID,	  /* cannot be applied at all (no stable id): never confirmed;
				   * quarantine it. (An address that does not normalize is only
				   * recorded in the event, never suppressed: not INVALID.) */
};

/* One message to apply. The caller fills the inputs; bh_store_apply fills the outputs. */
struct bh_store_item {
	/* inputs, borrowed for the duration of the call */
	const struct bh_verdict *v;   /* v->stable_id must be set */
	const struct bh_decisions *d; /* bh_policy_decide(set, v, d); n may be 0. The store
				       * takes each decision's address as the key (in normal
				       * form) and d->policy's sender, repeat and burst settings
				       * (NULL: cfg's defaults) */
	const char *mailbox;	      /* where the message was read ("INBOX"); NULL: "-" */
	const char *folder;	      /* where it will sit once confirmed and moved */
	const char *loop_folder;      /* where it goes instead when the store finds it to be a
				       * repeat (NULL: folder) */
	uint32_t uidvalidity;	      /* UIDVALIDITY and UID in `mailbox` */
	uint32_t uid;
	/* outputs */
	enum bh_store_status status;
	unsigned n_suppressed;	/* suppressions written or extended by this message */
	unsigned n_alerts;	/* alert events raised by this message */
	unsigned n_held;	/* suppressions held back by a list burst */
	enum bh_loop_kind loop; /* BH_LOOP_REPEAT: the store found this recipient bounced the
				 * same sent message before (also on DUPLICATE); the worker
				 * files it in loop_folder. Else BH_LOOP_NONE. */
	const char *error;	/* static or store-owned reason when not confirmed */
};

/* bh_store_is_confirmed - true for APPLIED and DUPLICATE: the message may be moved. */
bool bh_store_is_confirmed(const struct bh_store_item *it);

/* bh_store_apply - apply n messages in one round trip (n EVALSHA pipelined). Sets every
 * items[i].status. Returns the number of confirmed items, or -1 with *error_r when Redis could
 * not be reached at all (every item then UNCONFIRMED). A transport error in the middle leaves
 * the items before it confirmed and the rest UNCONFIRMED; retrying those is safe (a message
 * Redis applied but whose reply was lost comes back as DUPLICATE). */
int bh_store_apply(struct bh_store *s, struct bh_store_item *items, size_t n, const char **error_r);

/* bh_store_apply in two halves, so the caller can work while Redis does (the worker classifies
 * the next part of a batch meanwhile). bh_store_apply_begin marks the items and writes their
 * commands out without waiting for an answer (0, or -1 with *error_r when nothing could be
 * sent; bh_store_apply_end then tries again as bh_store_apply would); bh_store_apply_end, with
 * the same items, reads the answers and retries what needs it, and returns what
 * bh_store_apply returns. Exactly one end follows each begin, before the next begin or any
 * other call on s; the items stay untouched in between. Error texts that the items point to
 * live until bh_store_apply_reset (bh_store_apply resets first; a caller of the halves resets
 * before each batch, once the items of the last one are no longer read). */
int bh_store_apply_begin(struct bh_store *s, struct bh_store_item *items, size_t n,
			 const char **error_r);
int bh_store_apply_end(struct bh_store *s, struct bh_store_item *items, size_t n,
		       const char **error_r);
void bh_store_apply_reset(struct bh_store *s);

/* bh_store_note_location - record where a confirmed message now sits (after the worker moved it:
 * folder, UIDVALIDITY and UID in that folder, 0 when unknown). Optional; 0 or -1 with *error_r. */
int bh_store_note_location(struct bh_store *s, const char *stable_id, const char *folder,
			   uint32_t uidvalidity, uint32_t uid, const char **error_r);

/* ---- reading and changing state (the ops CLI, senders' view) ---- */

/* One suppression (a global one has list == NULL). All strings owned by the struct. */
struct bh_suppression {
	char *address;
	char *list;	  /* NULL: global */
	char *reason;	  /* reason word, or "manual" */
	char *class_;	  /* "hard", "soft", "complaint", "sender", "manual" */
	char *source;	  /* "bounce" or "manual" */
	char *why;	  /* human text: policy's why or the operator's --why */
	char *message_id; /* Message-ID of the bounce that decided it */
	char *stable_id;
	char *status;
	char *rule;
	char *event_id;	    /* stream id of the event that wrote it last */
	int64_t first_seen; /* epoch seconds */
	int64_t last_seen;
	int64_t count;	 /* bounces that hit this suppression */
	int64_t expires; /* epoch seconds; 0: never */
};
void bh_suppression_deinit(struct bh_suppression *sup);

/* One event of the stream: its id ("1700000000000-0") and its field/value pairs in order. */
struct bh_store_event {
	char *id;
	char **kv; /* kv[2*i] name, kv[2*i+1] value */
	size_t n;  /* pairs */
};
/* bh_store_event_get - the value of a field, or NULL. Borrowed from ev. */
const char *bh_store_event_get(const struct bh_store_event *ev, const char *name);
void bh_store_events_free(struct bh_store_event *v, size_t n);

/* bh_store_check - is address suppressed for list (NULL: globally only)? Looks at the global
 * suppression first, then the list's. address is normalized here. 1 suppressed (*out filled,
 * deinit it), 0 not, -1 error. */
int bh_store_check(struct bh_store *s, const char *address, const char *list,
		   struct bh_suppression *out, const char **error_r);

/* bh_store_show - every suppression of address (global and per list). 0 with *v_r (free each
 * with bh_suppression_deinit, then free(*v_r)) and *n_r, or -1. */
int bh_store_show(struct bh_store *s, const char *address, struct bh_suppression **v_r, size_t *n_r,
		  const char **error_r);

/* Filter for bh_store_list; NULL / 0 members match everything. list "-" means global only. */
struct bh_store_filter {
	const char *list;
	const char *reason;
	int64_t since; /* last_seen >= since */
};
/* bh_store_list - walk every suppression with SCAN (never KEYS), calling fn for each that
 * matches (the struct is deinit'ed after fn returns). fn returning non-zero stops the walk.
 * 0, or -1 with *error_r. */
int bh_store_list(struct bh_store *s, const struct bh_store_filter *f,
		  int (*fn)(const struct bh_suppression *sup, void *ctx), void *ctx,
		  const char **error_r);

/* bh_store_add / bh_store_remove - a manual change by an operator, recorded as an event with
 * why. list NULL: global. duration_s 0: forever. remove returns 1 when something was removed,
 * 0 when there was nothing to remove, -1 on error; add returns 0 or -1. */
int bh_store_add(struct bh_store *s, const char *address, const char *list, const char *why,
		 int64_t duration_s, const char **error_r);
int bh_store_remove(struct bh_store *s, const char *address, const char *list, const char *why,
		    const char **error_r);

/* bh_store_import - one line of an imported suppression list: suppress address (list NULL:
 * globally; duration_s 0: forever) unless it is suppressed already in that scope, with reason
 * (a reason word; NULL: "manual"), source "import" and an event of kind "import". 1 added, 0
 * already suppressed (nothing changed: an import run twice adds nothing), -1 error. */
int bh_store_import(struct bh_store *s, const char *address, const char *list, const char *reason,
		    const char *why, int64_t duration_s, const char **error_r);

/* bh_store_explain - the events about address, newest first, at most max. Events trimmed from
 * the stream since are skipped. 0 with *v_r / *n_r (bh_store_events_free), or -1. */
int bh_store_explain(struct bh_store *s, const char *address, size_t max,
		     struct bh_store_event **v_r, size_t *n_r, const char **error_r);

/* One soft-bounce window of an address ({p}:soft:l:LIST:ADDRESS or {p}:soft:g:ADDRESS): the
 * times of the bounces it holds (as the apply script last trimmed it: the reader drops those
 * older than the policy's window) and its TTL (the window ends then: -1 none). */
struct bh_store_soft {
	char *list;	/* NULL: the global window */
	int64_t *times; /* epoch seconds, oldest first */
	size_t n;
	int64_t ttl_s;
};
/* bh_store_soft - the non-empty soft windows of address: the global one, then one per name in
 * lists (lower-cased here; duplicates are the caller's business). 0 with *v_r, *n_r
 * (bh_store_soft_free), or -1. */
int bh_store_soft(struct bh_store *s, const char *address, const char *const *lists, size_t n_lists,
		  struct bh_store_soft **v_r, size_t *n_r, const char **error_r);
void bh_store_soft_free(struct bh_store_soft *v, size_t n);

/* bh_store_tail - the last n events of the stream, oldest first. 0 or -1. */
int bh_store_tail(struct bh_store *s, size_t n, struct bh_store_event **v_r, size_t *n_r,
		  const char **error_r);
/* bh_store_follow - events after *last_id (updated), waiting up to block_ms. "$" starts at
 * the end. 0 with *n_r == 0 on a timeout, or -1. */
int bh_store_follow(struct bh_store *s, char **last_id, int64_t block_ms,
		    struct bh_store_event **v_r, size_t *n_r, const char **error_r);

/* Counters of the last period: one row per (list, reason, outcome), list "-" for none. */
struct bh_store_stat {
	char *list;
	char *reason;  /* reason word, "loop:<kind>" for loops, "manual" */
	char *outcome; /* "suppress", "count", "record", "alert", "refuse", "suppressed" ... */
	int64_t hour;  /* within the last hour */
	int64_t day;   /* within the last 24 hours */
};
/* bh_store_stats - counters of the last hour and day (5-minute buckets), sorted by list, reason
 * and outcome. 0 with *v_r, *n_r (bh_store_stats_free), or -1. */
int bh_store_stats(struct bh_store *s, struct bh_store_stat **v_r, size_t *n_r,
		   const char **error_r);
void bh_store_stats_free(struct bh_store_stat *v, size_t n);

/* ---- suppression counters: current totals kept by the scripts (docs/redis.md) ---- */

/* One row of the current totals: suppressions held now per list ("-": global) and reason. */
struct bh_store_supcount {
	char *list;
	char *reason;
	int64_t n;
};
/* bh_store_sup_counts - the totals of {p}:supcount, read in constant time after pruning the
 * suppressions that expired by TTL since the last prune (amortized: each once). Sorted by list
 * and reason. *complete_r: when `bh_store_sup_recount` built the counters (0: never, the
 * totals then miss suppressions written by older versions: scan instead). 0 with *v_r, *n_r
 * (bh_store_supcounts_free), or -1. */
int bh_store_sup_counts(struct bh_store *s, struct bh_store_supcount **v_r, size_t *n_r,
			int64_t *complete_r, const char **error_r);
void bh_store_supcounts_free(struct bh_store_supcount *v, size_t n);
/* bh_store_sup_recount - rebuild the counters by walking every suppression (SCAN): once after
 * an upgrade, or to repair them after keys were deleted by hand. Changes made meanwhile by a
 * running worker may be counted twice or not at all. 0 with *total_r, or -1. */
int bh_store_sup_recount(struct bh_store *s, int64_t *total_r, const char **error_r);

/* ---- the mailbox lease (docs/scale-out.md) ---- */

/* bh_store_lease_set - from now on every bh_store_apply is fenced by the lease of (host, user,
 * mailbox): Redis applies a message only while the key {p}:lease:HOST:USER:MAILBOX holds this
 * store's random token (made here, with the host name and pid for operators). */
void bh_store_lease_set(struct bh_store *s, const char *host, const char *user,
			const char *mailbox);
/* bh_store_lease - take the lease when free (SET NX PX) or renew it when ours (PEXPIRE), for
 * ttl_ms. 1 held; 0 held by another (*holder_r: its token, borrowed until the next call;
 * *pttl_r: ms left); -1 with *error_r (Redis unreachable: treat the lease as lost). */
int bh_store_lease(struct bh_store *s, int64_t ttl_ms, const char **holder_r, int64_t *pttl_r,
		   const char **error_r);
/* bh_store_lease_release - delete the lease when it holds our token (a clean stop: a standby
 * takes over at once). 1 released, 0 not ours, -1 error. */
int bh_store_lease_release(struct bh_store *s, const char **error_r);
/* bh_store_lease_lost - true once the apply script refused a message because the lease holds
 * another token (reset by a successful bh_store_lease). */
bool bh_store_lease_lost(const struct bh_store *s);

/* bh_store_key_prefix - "{prefix}", the hash-tagged prefix of every key; borrowed. */
const char *bh_store_key_prefix(const struct bh_store *s);

#endif

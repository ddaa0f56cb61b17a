/*
 * worker.c - the pipeline that keeps the bounce mailbox empty and the suppression state current.
 *
 * One batch, top to bottom:
 *   search   UID SEARCH UNDELETED: the lowest batch_size UIDs
 *   sizes    one UID FETCH (RFC822.SIZE) for the batch; messages over limits.message_size are
 *            quarantined untouched (never loaded)
 *   fetch    UID FETCH BODY.PEEK[] by chunks of BH_FETCH_CHUNK_BYTES of announced size (one
 *            message at least). The reader thread reads the next chunk while the main thread
 *            classifies and stores this one (IMAP's main connection is used by one thread at
 *            a time); a body is freed as soon as its message is classified, so a worker holds
 *            about two chunks of bodies, and never two big messages at once (read_ahead)
 *   parse    bh_classify: bad input is quarantined, the batch goes on
 *   VERP     bh_verp_locate
 *   loops    bh_loop_check
 *   policy   bh_policy_decide
 *   store    bh_store_apply_begin/_end in parts of BH_STORE_PART messages (struct flow): one
 *            part in flight (so they are applied in order) while the next is classified; the
 *            pipeline runs across chunks and drains only at the end of a batch
 *   move     the moves Redis confirmed (dest_confirmed) gather per destination folder until it
 *            holds a batch's worth, then go as one UID MOVE on the moves thread, on a
 *            connection of its own (mv_imap, made when first needed and closed before the
 *            worker waits for mail), while reading, classifying and storing go on; the end of
 *            a drain, a failure or an interruption moves everything pending (moves_flush)
 *   ahead    with the last chunk of a batch the reader also lists the next batch (the UIDs
 *            above this one), its sizes and the bodies of its first chunk, so the next batch
 *            starts without waiting for IMAP; nothing moves on its account
 *   log      a part's info and debug lines collected and written with one write after its
 *            answers (warnings and errors at once)
 *
 * Postfix's queue discipline: a message leaves the mailbox only when Redis holds its outcome.
 * Killed anywhere, a restart re-reads what is still in the mailbox; the store's stable-id key
 * turns a second application into a confirmed no-op (DUPLICATE), so nothing counts twice.
 *
 * With lease.enabled, several workers may serve one mailbox: only the holder of its Redis lease
 * works (the others stand by, without an IMAP connection, and ask again every ttl/3). The
 * holder renews every ttl/3, before each part's store; it starts moves only while the lease
 * it renewed cannot have expired (2/3 of the ttl since the renewal was sent), and the store's
 * apply script refuses a message outright when the lease holds another token.
 *
 * Trusts nothing in the messages or the server's replies (imap.c and the parsers check them);
 * logs untrusted text only through bh_log_untrusted.
 */
#include "worker.h"

#include <assert.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "classify.h"
#include "imap.h"
#include "bh_limits.h"
#include "log.h"
#include "loop.h"
#include "policy.h"
#include "rules.h"
#include "store.h"
#include "util.h"
#include "verdict.h"
#include "verp_locate.h"

enum dest { DEST_PROCESSED = 0, DEST_IGNORED, DEST_QUARANTINE, DEST_KEEP, DEST_COUNT };

/* The moves Redis confirmed and IMAP has not done yet. They gather per destination (pend) until
 * a destination holds a batch's worth (at): a UID MOVE costs the server a fixed price (Dovecot
 * re-reads the source folder, ~60 ms on a 20,000-message Maildir) beside its price per
 * message, so a destination that gets a fifth of the mail moves every fifth batch rather than
 * in a small MOVE of its own at every batch. What is due goes out on the moves thread
 * (moves_start), on a connection of its own (mv_imap), while the main thread and the reader go
 * on; it is joined (moves_join) before the next moves start, and the end of a drain moves
 * everything (moves_flush). */
struct moves {
	uint32_t *pend[DEST_KEEP]; /* gathering (main thread only) */
	size_t pn[DEST_KEEP], pcap[DEST_KEEP];
	size_t at;		   /* a destination with this many pending is due */
	uint32_t *uids[DEST_KEEP]; /* in flight: given to the thread */
	size_t n[DEST_KEEP];
	size_t total;	      /* pending and in flight */
	bool running;	      /* the thread owns w->mv_imap until moves_join */
	atomic_bool finished; /* set by the thread as it ends: moves_poll joins without waiting */
	pthread_t th;
	/* set by the thread, read after the join */
	size_t done[DEST_KEEP]; /* moved per destination */
	int ret;
	bool unconnected; /* ret -1 because the moves' connection could not be made */
	char err[256];
};

/* The bodies read ahead on the reader thread, on the main connection, while the main thread
 * classifies and stores the messages before them: msgs[start..end) of the batch in hand (one
 * chunk, BH_FETCH_CHUNK_BYTES), then, when w->ahead.want, the next batch listed (ahead_fetch).
 * The main thread uses w->imap only while the reader is not running, and reads the bodies of
 * msgs[start..end) only after reader_join. */
struct reader {
	struct bh_imap_msg *msgs; /* the batch in hand: the reader sets data and len only */
	size_t start, end;	  /* end > start: msgs[start..end) read, or being read */
	bool running;		  /* the thread owns w->imap until reader_join */
	pthread_t th;
	int ret; /* set by the thread, read after the join */
	char err[256];
};

/* The next batch, listed by the reader while the main thread classifies and stores the last
 * chunk of a batch, with the bodies of its first chunk (BH_FETCH_CHUNK_BYTES). Only listed and
 * read (BODY.PEEK): nothing moves on its account. */
struct ahead {
	/* inputs, set before the thread starts */
	bool want;	/* list the next batch after the chunk */
	uint32_t above; /* only UIDs above this: the batch in hand is still in the mailbox */
	size_t max;	/* batch size */
	size_t window;	/* UID SEARCH over this many: the batch and what is still there below */
	bool bodies;	/* fetch the bodies of its first chunk too */
	bool sync;	/* NOOP first: mail was moved on the moves' connection (view_sync) */
	/* outputs, read after the join */
	bool ready; /* uids and msgs hold the next batch (n > 0) */
	uint32_t *uids;
	size_t n;
	struct bh_imap_msg *msgs;
	size_t nm;
	size_t fetched; /* the first chunk, msgs[0..fetched), has its bodies */
};

struct bh_worker {
	const struct bh_config *cfg;
	struct bh_worker_opts o;
	struct bh_rules *rules;
	struct bh_store *store;	 /* NULL in a dry run */
	struct bh_imap *imap;	 /* NULL when not connected */
	struct bh_imap *mv_imap; /* the moves' connection, made by the moves thread (NULL: none) */
	uint32_t uidvalidity;	 /* of the selected mailbox, 0 before the first SELECT */
	uint32_t dry_high;	 /* dry run: highest UID already shown under uidvalidity */
	bool failed;
	bool folders_ok;
	bool redis_down; /* the last apply could not reach Redis */
	bool lease_on;	 /* lease.enabled (never in a dry run) */
	bool lease_held;
	bool standby;	   /* the last drain found the lease held by another worker */
	int64_t lease_at;  /* monotonic ms when the last successful take/renew was sent */
	int64_t lease_ttl; /* ms */
	struct bh_worker_stats st;
	struct moves mv;
	uint32_t mv_high; /* the highest UID listed by the batch the pending moves come from */
	bool mv_single;	  /* no second connection this drain: moves go on the main one */
	bool mv_warned;	  /* the fallback to one connection was logged */
	bool mv_unsynced; /* the moves' connection moved mail since the main one last synced */
	struct reader rd;
	struct ahead ahead; /* the reader's second job, after the last chunk of a batch */
	char err[512];
};

/* One message on its way through the pipeline. */
struct job {
	struct bh_imap_msg *m; /* its body is released once it is classified */
	bool gone;	       /* not fetched: another client expunged it meanwhile */
	struct bh_verdict v;
	struct bh_decisions d;
	bool classified; /* v and d are set */
	bool decided;	 /* d was filled */
	enum dest dest;
	const char *why; /* static: why quarantined */
};

static void moves_drop(struct bh_worker *w);

/* folder_of - the configured folder of a destination */
static const char *
folder_of(const struct bh_worker *w, enum dest d)
{
	switch (d) {
	case DEST_PROCESSED: return w->cfg->imap.processed_folder;
	case DEST_IGNORED: return w->cfg->imap.ignored_folder;
	case DEST_QUARANTINE: return w->cfg->imap.quarantine_folder;
	default: return NULL;
	}
}

/* dest_of_hint - the destination the policy asked for */
static enum dest
dest_of_hint(const char *hint)
{
	if (hint != NULL && strcmp(hint, "ignored") == 0)
		return DEST_IGNORED;
	if (hint != NULL && strcmp(hint, "quarantine") == 0)
		return DEST_QUARANTINE;
	return DEST_PROCESSED;
}

/* health_window_s - metrics: how old the last IMAP or Redis contact may be before /healthz
 * calls it stale: twice the longest wait between drains (the poll interval, capped at 20 min
 * as cmd_run.c caps it) plus 30 s for a drain in progress */
static int64_t
health_window_s(const struct bh_config *cfg)
{
	int64_t wait_s = cfg->imap.poll_interval_s > 0 ? cfg->imap.poll_interval_s : 60;

	return 2 * (wait_s < 1200 ? wait_s : 1200) + 30;
}

/* bh_worker_new - compile the rules and make the store (none in a dry run); does not connect */
struct bh_worker *
bh_worker_new(const struct bh_config *cfg, const struct bh_worker_opts *opts, const char **error_r)
{
	struct bh_worker *w = bh_calloc(1, sizeof(*w));
	const char *err = NULL;

	w->cfg = cfg;
	w->o = *opts;
	bh_metrics_health_window(w->o.metrics, health_window_s(cfg));
	if (w->o.decisions == NULL)
		w->o.decisions = stdout;
	w->rules = bh_rules_new(cfg->rules, cfg->n_rules, cfg->rules_replace_builtin,
				cfg->limits.regex_match_limit, &err);
	if (w->rules == NULL) {
		snprintf(w->err, sizeof(w->err), "rules: %s", err != NULL ? err : "invalid");
		goto fail;
	}
	if (!opts->dry_run) {
		w->store = bh_store_new(cfg, bh_rules_version(w->rules), &err);
		if (w->store == NULL) {
			snprintf(w->err, sizeof(w->err), "redis: %s",
				 err != NULL ? err : "invalid");
			goto fail;
		}
		if (cfg->lease.enabled) {
			w->lease_on = true;
			w->lease_ttl = (cfg->lease.ttl_s > 0 ? cfg->lease.ttl_s : 30) * 1000;
			bh_store_lease_set(w->store, cfg->imap.host, cfg->imap.user,
					   cfg->imap.mailbox);
		}
	}
	return w;
fail : {
	static _Thread_local char msg[512];

	snprintf(msg, sizeof(msg), "%s", w->err);
	*error_r = msg;
}
	bh_worker_free(&w);
	return NULL;
}

/* bh_worker_free - release a lease we hold, close IMAP and Redis, free; sets *wp to NULL */
void
bh_worker_free(struct bh_worker **wp)
{
	struct bh_worker *w;

	if (wp == NULL || *wp == NULL)
		return;
	w = *wp;
	if (w->lease_held) {
		const char *err = NULL;

		/* a clean stop hands the mailbox over at once instead of after the ttl */
		if (bh_store_lease_release(w->store, &err) == 1)
			bh_log(BH_LOG_INFO, "lease_released", "mailbox=%s", w->cfg->imap.mailbox);
	}
	moves_drop(w); /* not done: the next drain finds them again, DUPLICATE in Redis */
	bh_imap_free(&w->mv_imap);
	bh_imap_free(&w->imap);
	bh_store_free(&w->store);
	bh_rules_free(&w->rules);
	free(w);
	*wp = NULL;
}

/* bh_worker_stats - the counters since the worker was made; borrowed from w */
const struct bh_worker_stats *
bh_worker_stats(const struct bh_worker *w)
{
	return &w->st;
}

/* bh_worker_standby - did the last drain find the mailbox lease held by another worker? */
bool
bh_worker_standby(const struct bh_worker *w)
{
	return w->lease_on && w->standby;
}

/* bh_worker_failed - was anything quarantined or left unconfirmed (the exit status of `once`)? */
bool
bh_worker_failed(const struct bh_worker *w)
{
	return w->failed;
}

/* env_fail - an environment failure: keep the text; after any IMAP failure start afresh (a
 * new connection, SELECT, folders checked again) rather than guess the server's state */
static int
env_fail(struct bh_worker *w, const char *what, const char *err, const char **error_r)
{
	snprintf(w->err, sizeof(w->err), "%s: %s", what, err != NULL ? err : "failed");
	*error_r = w->err;
	if (w->imap != NULL && strcmp(what, "imap") == 0) {
		moves_drop(w); /* the connection is gone: they wait for the next drain */
		bh_metrics_inc(w->o.metrics, BH_M_IMAP_ERRORS);
		bh_metrics_conn_lost(w->o.metrics, BH_CONN_IMAP);
		bh_imap_free(&w->mv_imap);
		bh_imap_free(&w->imap);
		w->folders_ok = false;
	}
	return -1;
}

/* lease_check - take or renew the mailbox lease when due (force: now). 1 held, 0 another
 * worker holds it (standby), -1 Redis unreachable (the lease counts as lost) */
static int
lease_check(struct bh_worker *w, bool force, const char **error_r)
{
	const char *holder = NULL, *err = NULL;
	int64_t now = bh_mono_ms(), pttl = 0;
	struct bh_logline l;
	int r;

	if (!w->lease_on) {
		bh_metrics_lease(w->o.metrics, true);
		return 1;
	}
	if (!force && w->lease_held && !bh_store_lease_lost(w->store) &&
	    now - w->lease_at < w->lease_ttl / 3)
		return 1;
	r = bh_store_lease(w->store, w->lease_ttl, &holder, &pttl, &err);
	/* metrics: the lease answer is a Redis contact; the gauge says whether we work */
	if (r == -1)
		bh_metrics_conn_lost(w->o.metrics, BH_CONN_REDIS);
	else
		bh_metrics_contact(w->o.metrics, BH_CONN_REDIS, bh_now());
	bh_metrics_lease(w->o.metrics, r == 1);
	if (r == 1) {
		if (!w->lease_held) {
			bh_log_begin(&l, BH_LOG_INFO, "lease_acquired");
			bh_log_str(&l, "mailbox", w->cfg->imap.mailbox);
			bh_log_int(&l, "ttl_ms", (long long)w->lease_ttl);
			bh_log_end(&l);
		}
		w->lease_held = true;
		w->lease_at = now;
		w->standby = false;
		return 1;
	}
	if (w->lease_held || !w->standby) {
		bh_log_begin(&l, w->lease_held ? BH_LOG_WARN : BH_LOG_INFO,
			     w->lease_held ? "lease_lost" : "standby");
		bh_log_str(&l, "mailbox", w->cfg->imap.mailbox);
		if (r == 0) {
			bh_log_untrusted(&l, "holder", holder, strlen(holder));
			bh_log_int(&l, "holder_ttl_ms", (long long)pttl);
		} else {
			bh_log_str(&l, "error", err);
		}
		bh_log_end(&l);
	}
	w->lease_held = false;
	if (r == -1) {
		snprintf(w->err, sizeof(w->err), "redis: lease: %s", err != NULL ? err : "failed");
		*error_r = w->err;
		return -1;
	}
	w->standby = true;
	return 0;
}

/* lease_valid - the lease renewed at lease_at cannot have expired yet: 2/3 of the ttl, leaving
 * a third for the clocks of Redis and this host to disagree and for the move in flight */
static bool
lease_valid(const struct bh_worker *w)
{
	return !w->lease_on || (w->lease_held && !bh_store_lease_lost(w->store) &&
				bh_mono_ms() - w->lease_at < w->lease_ttl * 2 / 3);
}

/* ensure_connected - connect, create the folders (once), SELECT the mailbox */
static int
ensure_connected(struct bh_worker *w, const char **error_r)
{
	const struct bh_imap_conf *ic = &w->cfg->imap;
	const char *err = NULL;
	uint32_t uv = 0;
	int d;

	if (w->imap != NULL)
		return 0;
	w->imap = bh_imap_connect(ic, &err);
	if (w->imap == NULL) {
		bh_metrics_inc(w->o.metrics, BH_M_IMAP_ERRORS);
		bh_metrics_conn_lost(w->o.metrics, BH_CONN_IMAP);
		return env_fail(w, "imap", err, error_r);
	}
	/* metrics: counts a reconnection only after a lost connection, never the first */
	bh_metrics_contact(w->o.metrics, BH_CONN_IMAP, bh_now());
	bh_log(BH_LOG_INFO, "imap_connected", "%s", bh_imap_describe(w->imap));
	if (!w->o.dry_run && !w->folders_ok) {
		for (d = 0; d < DEST_KEEP; d++)
			if (bh_imap_ensure_folder(w->imap, folder_of(w, (enum dest)d), &err) == -1)
				return env_fail(w, "imap", err, error_r);
		w->folders_ok = true;
	}
	if (bh_imap_select(w->imap, ic->mailbox, &uv, &err) == -1)
		return env_fail(w, "imap", err, error_r);
	if (w->uidvalidity != 0 && uv != w->uidvalidity) {
		struct bh_logline l;

		bh_log_begin(&l, BH_LOG_WARN, "uidvalidity_changed");
		bh_log_str(&l, "mailbox", ic->mailbox);
		bh_log_int(&l, "old", w->uidvalidity);
		bh_log_int(&l, "new", uv);
		bh_log_end(&l);
		w->dry_high = 0;
	}
	w->uidvalidity = uv;
	w->mv_unsynced = false; /* a fresh SELECT */
	return 0;
}

/* log_ctx - the correlation ids of a job */
static void
log_ctx(const struct bh_worker *w, const struct job *j, struct bh_log_ctx *c)
{
	memset(c, 0, sizeof(*c));
	c->mailbox = w->cfg->imap.mailbox;
	c->uidvalidity = w->uidvalidity;
	c->uid = j->m->uid;
	if (j->classified) {
		c->message_id = j->v.env.message_id;
		c->stable_id = j->v.stable_id;
	}
}

/* decide - parse -> VERP -> loop check -> policy for one fetched message */
static void
decide(struct bh_worker *w, struct job *j)
{
	struct bh_classify_settings cs = bh_config_classify_settings(w->cfg);
	struct bh_loop_settings ls = bh_config_loop_settings(w->cfg);
	struct bh_policy_settings ps = bh_config_policy_settings(w->cfg);
	struct bh_classify_opts co = {w->rules, &cs};

	bh_verdict_init(&j->v);
	j->classified = true;
	if (bh_classify(&co, j->m->data, j->m->len, &j->v) == -1) {
		j->dest = DEST_QUARANTINE;
		j->why = j->v.error != NULL ? j->v.error : "unparseable";
		return;
	}
	bh_verp_locate(&w->cfg->verp, &j->v, bh_now());
	bh_loop_check(&ls, &j->v);
	bh_policy_decide(&ps, &j->v, &j->d);
	j->decided = true;
	j->dest = dest_of_hint(j->d.folder_hint);
	/* auto-replies, loops and mail that is no bounce at all are kept apart from bounces */
	if (j->dest == DEST_PROCESSED &&
	    (j->v.type == BH_TYPE_AUTOREPLY || j->v.type == BH_TYPE_NOT_BOUNCE ||
	     j->v.loop.kind != BH_LOOP_NONE))
		j->dest = DEST_IGNORED;
}

/* outcomes_of - the outcomes of the decisions about rcpt (NULL: all of them) in decision order,
 * comma-separated, each once, written to buf; NULL when there is none */
static const char *
outcomes_of(const struct job *j, const struct bh_rcpt *rcpt, char (*buf)[64])
{
	bool seen[BH_OUT_REFUSE + 1] = {false};
	size_t i, len = 0;

	(*buf)[0] = '\0';
	for (i = 0; j->decided && i < j->d.n; i++) {
		enum bh_outcome o = j->d.v[i].outcome;

		if ((rcpt != NULL && j->d.v[i].rcpt != rcpt) || (unsigned)o > BH_OUT_REFUSE ||
		    seen[o])
			continue;
		seen[o] = true;
		len += (size_t)snprintf(*buf + len, sizeof(*buf) - len, "%s%s", len > 0 ? "," : "",
					bh_outcome_name(o)); /* 34 bytes at most */
	}
	return len > 0 ? *buf : NULL;
}

/* log_verdict - -v -v: what was concluded about a message before the store, a `verdict` line
 * (type, loop, VERP, outcomes, planned folder) and a `verdict_rcpt` line per reported recipient
 * (reason, status, rule, outcome); the info `decision` lines follow the store's answer */
static void
log_verdict(const struct bh_worker *w, const struct job *j)
{
	const struct bh_verdict *v = &j->v;
	struct bh_log_ctx c;
	struct bh_logline l;
	const char *verp = !v->verp.checked ? "none" : v->verp.valid ? "valid" : "invalid";
	char out[64];
	size_t i;

	if (!bh_log_enabled(BH_LOG_DEBUG))
		return;
	log_ctx(w, j, &c);
	bh_log_begin(&l, BH_LOG_DEBUG, "verdict");
	bh_log_ctx(&l, &c);
	bh_log_int(&l, "size", (long long)j->m->len);
	if (v->error != NULL) {
		bh_log_str(&l, "error", v->error);
	} else {
		bh_log_str(&l, "type", bh_msg_type_name(v->type));
		bh_log_str(&l, "recognizer", v->recognizer);
		bh_log_int(&l, "recipients", (long long)v->n_rcpts);
		if (v->rcpts_truncated)
			bh_log_bool(&l, "recipients_truncated", true);
		bh_log_str(&l, "loop", bh_loop_kind_name(v->loop.kind));
		if (v->loop.why != NULL)
			bh_log_untrusted(&l, "loop_why", v->loop.why, strlen(v->loop.why));
		bh_log_str(&l, "verp", verp);
		if (v->verp.checked && !v->verp.valid)
			bh_log_str(&l, "verp_why", v->verp.why);
		if (v->verp.valid && v->verp.list != NULL)
			bh_log_untrusted(&l, "list", v->verp.list, strlen(v->verp.list));
		bh_log_str(&l, "outcome", outcomes_of(j, NULL, &out));
		if (j->decided && j->d.refused)
			bh_log_bool(&l, "refused", true);
	}
	bh_log_str(&l, "folder", j->dest == DEST_KEEP ? "-" : folder_of(w, j->dest));
	bh_log_end(&l);
	for (i = 0; v->error == NULL && i < v->n_rcpts; i++) {
		const struct bh_rcpt *r = &v->rcpts[i];

		bh_log_begin(&l, BH_LOG_DEBUG, "verdict_rcpt");
		bh_log_ctx(&l, &c);
		if (r->address != NULL)
			bh_log_untrusted(&l, "address", r->address, strlen(r->address));
		bh_log_str(&l, "reason", bh_reason_name(r->reason));
		if (r->status[0] != '\0')
			bh_log_str(&l, "status", r->status);
		if (r->reply_code[0] != '\0')
			bh_log_str(&l, "reply_code", r->reply_code);
		if (r->action != BH_ACTION_NONE)
			bh_log_str(&l, "action", bh_action_name(r->action));
		bh_log_bool(&l, "hard", r->hard);
		if (r->rule != NULL)
			bh_log_untrusted(&l, "rule", r->rule, strlen(r->rule));
		bh_log_str(&l, "outcome", outcomes_of(j, r, &out));
		bh_log_end(&l);
	}
}

/* print_decisions - dry run: one JSON line per decision (one per message without any) */
static void
print_decisions(struct bh_worker *w, const struct job *j)
{
	struct bh_buf b;
	size_t i, n = j->decided ? j->d.n : 0;

	bh_buf_init(&b);
	for (i = 0; i == 0 || i < n; i++) {
		const struct bh_decision *dc = i < n ? &j->d.v[i] : NULL;

		bh_buf_puts(&b, "{\"mailbox\":");
		bh_json_cstr(&b, w->cfg->imap.mailbox);
		bh_buf_printf(&b, ",\"uidvalidity\":%u,\"uid\":%u,\"size\":%zu", w->uidvalidity,
			      j->m->uid, j->m->size);
		bh_buf_puts(&b, ",\"stable_id\":");
		bh_json_cstr(&b,
			     j->classified && j->v.stable_id[0] != '\0' ? j->v.stable_id : NULL);
		bh_buf_puts(&b, ",\"message_id\":");
		bh_json_cstr(&b, j->classified ? j->v.env.message_id : NULL);
		bh_buf_puts(&b, ",\"type\":");
		bh_json_cstr(&b, j->classified ? bh_msg_type_name(j->v.type) : NULL);
		bh_buf_puts(&b, ",\"verp_valid\":");
		bh_buf_puts(&b, j->classified && j->v.verp.valid ? "true" : "false");
		bh_buf_puts(&b, ",\"loop\":");
		bh_json_cstr(&b, j->classified && j->v.loop.kind != BH_LOOP_NONE
				     ? bh_loop_kind_name(j->v.loop.kind)
				     : NULL);
		bh_buf_puts(&b, ",\"address\":");
		bh_json_cstr(&b, dc != NULL ? dc->address : NULL);
		bh_buf_puts(&b, ",\"list\":");
		bh_json_cstr(&b, dc != NULL ? dc->list : NULL);
		bh_buf_puts(&b, ",\"reason\":");
		bh_json_cstr(&b, dc != NULL && dc->rcpt != NULL ? bh_reason_name(dc->rcpt->reason)
								: NULL);
		bh_buf_puts(&b, ",\"status\":");
		bh_json_cstr(&b, dc != NULL && dc->rcpt != NULL && dc->rcpt->status[0] != '\0'
				     ? dc->rcpt->status
				     : NULL);
		bh_buf_puts(&b, ",\"outcome\":");
		bh_json_cstr(&b, dc != NULL ? bh_outcome_name(dc->outcome) : NULL);
		bh_buf_puts(&b, ",\"policy\":");
		bh_json_cstr(&b, dc != NULL ? bh_policy_kind_name(dc->action.kind) : NULL);
		bh_buf_puts(&b, ",\"why\":");
		bh_json_cstr(&b, dc != NULL ? dc->why : j->why);
		bh_buf_puts(&b, ",\"folder\":");
		bh_json_cstr(&b, folder_of(w, j->dest));
		bh_buf_puts(&b, ",\"dry_run\":true}\n");
		w->st.decisions++;
	}
	fwrite(b.data, 1, b.len, w->o.decisions);
	fflush(w->o.decisions);
	bh_buf_deinit(&b);
}

/* log_job - the info line of a bounce decision (one per decision) or of a message */
static void
log_job(struct bh_worker *w, const struct job *j, const struct bh_store_item *it)
{
	struct bh_log_ctx c;
	struct bh_logline l;
	size_t i, n = j->decided ? j->d.n : 0;

	log_ctx(w, j, &c);
	for (i = 0; i == 0 || i < n; i++) {
		const struct bh_decision *dc = i < n ? &j->d.v[i] : NULL;

		bh_log_begin(&l, j->dest == DEST_QUARANTINE ? BH_LOG_WARN : BH_LOG_INFO,
			     dc != NULL ? "decision" : "message");
		bh_log_ctx(&l, &c);
		if (j->classified && j->v.error == NULL) {
			bh_log_str(&l, "type", bh_msg_type_name(j->v.type));
			bh_log_str(&l, "recognizer", j->v.recognizer);
			if (j->v.loop.kind != BH_LOOP_NONE)
				bh_log_str(&l, "loop", bh_loop_kind_name(j->v.loop.kind));
			if (j->v.verp.checked && !j->v.verp.valid)
				bh_log_str(&l, "verp", j->v.verp.why);
		}
		if (dc != NULL) {
			if (dc->address != NULL)
				bh_log_untrusted(&l, "address", dc->address, strlen(dc->address));
			if (dc->list != NULL)
				bh_log_untrusted(&l, "list", dc->list, strlen(dc->list));
			if (dc->rcpt != NULL) {
				bh_log_str(&l, "reason", bh_reason_name(dc->rcpt->reason));
				if (dc->rcpt->status[0] != '\0')
					bh_log_str(&l, "status", dc->rcpt->status);
			}
			/* a repeat found by the store counted and suppressed nothing */
			bh_log_str(
			    &l, "outcome",
			    it != NULL && it->loop == BH_LOOP_REPEAT &&
				    (dc->outcome == BH_OUT_COUNT || dc->outcome == BH_OUT_SUPPRESS)
				? "refuse"
				: bh_outcome_name(dc->outcome));
			bh_log_str(&l, "why", dc->why);
		} else if (j->why != NULL) {
			bh_log_str(&l, "why", j->why);
		}
		if (it != NULL) {
			bh_log_str(&l, "store",
				   it->status == BH_STORE_APPLIED     ? "applied"
				   : it->status == BH_STORE_DUPLICATE ? "duplicate"
				   : it->status == BH_STORE_INVALID   ? "invalid"
								      : "unconfirmed");
			if (it->error != NULL && !bh_store_is_confirmed(it))
				bh_log_str(&l, "store_error", it->error);
		}
		bh_log_str(&l, "folder", j->dest == DEST_KEEP ? "-" : folder_of(w, j->dest));
		bh_log_end(&l);
	}
}

/* count_metrics - a confirmed message in the metrics */
static void
count_metrics(struct bh_worker *w, const struct job *j, bool repeat)
{
	size_t i;

	if (w->o.metrics == NULL || !j->decided)
		return;
	if (j->v.loop.kind != BH_LOOP_NONE)
		bh_metrics_loop(w->o.metrics, bh_loop_kind_name(j->v.loop.kind));
	for (i = 0; i < j->d.n; i++) {
		const struct bh_decision *dc = &j->d.v[i];

		enum bh_outcome o = dc->outcome;

		/* a repeat found by the store counted and suppressed nothing */
		if (repeat && (o == BH_OUT_COUNT || o == BH_OUT_SUPPRESS))
			o = BH_OUT_REFUSE;
		bh_metrics_bounce(
		    w->o.metrics, dc->list != NULL ? dc->list : "", bh_msg_type_name(j->v.type),
		    dc->rcpt != NULL ? bh_reason_name(dc->rcpt->reason) : "", bh_outcome_name(o));
	}
}

/* is_big - over limits.message_size: quarantined untouched, never loaded */
static bool
is_big(const struct bh_worker *w, const struct bh_imap_msg *m)
{
	return m->size > w->cfg->limits.message_size;
}

/* chunk_end - the end of the chunk that starts at msgs[start]: consecutive messages up to
 * BH_FETCH_CHUNK_BYTES of announced size (at least one); *bytes_r the bytes to load */
static size_t
chunk_end(const struct bh_worker *w, const struct bh_imap_msg *msgs, size_t start, size_t nm,
	  size_t *bytes_r)
{
	size_t end = start, bytes = 0;

	while (end < nm && (end == start || bytes + msgs[end].size <= BH_FETCH_CHUNK_BYTES)) {
		if (!is_big(w, &msgs[end]))
			bytes += msgs[end].size;
		end++;
	}
	*bytes_r = bytes;
	return end;
}

/* fetch_chunk - UID FETCH the bodies of msgs[start..end) that are not oversized (only the
 * chunk is handed over: the cost of a fetch is the chunk's, not the batch's): 0 or -1 */
static int
fetch_chunk(const struct bh_worker *w, struct bh_imap *im, struct bh_imap_msg *msgs, size_t start,
	    size_t end, const char **error_r)
{
	bool *want;
	size_t i;
	int r;

	if (start >= end)
		return 0;
	want = bh_calloc(end - start, sizeof(*want));
	for (i = start; i < end; i++)
		want[i - start] = !is_big(w, &msgs[i]);
	r = bh_imap_fetch_bodies(im, msgs + start, want, end - start, error_r);
	free(want);
	return r;
}

/* thread_run - fn(w) on a new thread, or here and now when none can be made (*th is then this
 * thread, which thread_join does not wait for) */
static void
thread_run(pthread_t *th, void *(*fn)(void *), struct bh_worker *w)
{
	if (pthread_create(th, NULL, fn, w) != 0) {
		fn(w);
		*th = pthread_self();
	}
}

/* thread_join - wait for a thread thread_run made */
static void
thread_join(pthread_t th)
{
	if (!pthread_equal(th, pthread_self()) && pthread_join(th, NULL) != 0)
		bh_fatal("pthread_join of a helper thread failed");
}

/* ahead_clear - forget the batch listed ahead (the reader is not running) */
static void
ahead_clear(struct bh_worker *w)
{
	struct ahead *ah = &w->ahead;

	assert(!w->rd.running);
	bh_imap_msgs_free(&ah->msgs, ah->nm);
	free(ah->uids);
	memset(ah, 0, sizeof(*ah));
}

/* ahead_fetch - on the reader: list the batch after ah->above (UID SEARCH over ah->window, the
 * batch in hand and the pending moves being still there), its sizes, and, when ah->bodies,
 * the bodies of its first chunk: 0 (ah->ready when there is a batch) or -1 */
static int
ahead_fetch(struct bh_worker *w, const char **error_r)
{
	struct ahead *ah = &w->ahead;
	size_t i, k = 0, end, bytes;

	if (ah->sync && bh_imap_noop(w->imap, error_r) == -1)
		return -1;
	if (bh_imap_search(w->imap, ah->window, &ah->uids, &ah->n, error_r) == -1)
		return -1;
	for (i = 0; i < ah->n; i++)
		if (ah->uids[i] > ah->above && k < ah->max)
			ah->uids[k++] = ah->uids[i];
	ah->n = k;
	if (k == 0)
		return 0;
	if (bh_imap_fetch_sizes(w->imap, ah->uids, ah->n, &ah->msgs, &ah->nm, error_r) == -1)
		return -1;
	ah->ready = ah->nm > 0;
	if (!ah->ready || !ah->bodies)
		return 0; /* the main thread fetches them when their turn comes */
	end = chunk_end(w, ah->msgs, 0, ah->nm, &bytes);
	if (fetch_chunk(w, w->imap, ah->msgs, 0, end, error_r) == -1)
		return -1;
	ah->fetched = end;
	return 0;
}

/* reader_thread - the reader: the bodies of rd->msgs[start..end), then, when asked, the next
 * batch (ahead_fetch). Touches nothing of the worker but w->imap, w->rd, w->ahead and those
 * bodies */
static void *
reader_thread(void *arg)
{
	struct bh_worker *w = arg;
	struct reader *rd = &w->rd;
	const char *err = NULL;

	rd->ret = 0;
	if (fetch_chunk(w, w->imap, rd->msgs, rd->start, rd->end, &err) == -1) {
		snprintf(rd->err, sizeof(rd->err), "%s", err != NULL ? err : "UID FETCH failed");
		rd->ret = -1;
		return NULL;
	}
	if (w->ahead.want && ahead_fetch(w, &err) == -1) {
		snprintf(rd->err, sizeof(rd->err), "%s",
			 err != NULL ? err : "listing the next batch failed");
		rd->ret = -1;
	}
	return NULL;
}

/* reader_start - the reader on msgs[start..end) (none when start == end), and on the next
 * batch after them when w->ahead.want */
static void
reader_start(struct bh_worker *w, struct bh_imap_msg *msgs, size_t start, size_t end)
{
	struct reader *rd = &w->rd;

	assert(!rd->running && w->imap != NULL);
	rd->msgs = msgs;
	rd->start = start;
	rd->end = end;
	if (start == end && !w->ahead.want)
		return;
	rd->running = true;
	thread_run(&rd->th, reader_thread, w);
}

/* reader_join - wait for the reader; -1 when it failed (IMAP down) */
static int
reader_join(struct bh_worker *w, const char **error_r)
{
	struct reader *rd = &w->rd;

	if (!rd->running)
		return 0;
	thread_join(rd->th);
	rd->running = false;
	w->ahead.want = false;
	if (rd->ret == -1) {
		rd->start = rd->end = 0; /* nothing is known to be read */
		return env_fail(w, "imap", rd->err, error_r);
	}
	return 0;
}

/* mv_connect - on the moves thread: the moves' connection, made when there is none, with the
 * mailbox selected under the UIDVALIDITY the main connection knows: 0, -1 when it could not be
 * made (the moves then fall back to the main connection), -2 when the UIDVALIDITY changed */
static int
mv_connect(struct bh_worker *w, const char **error_r)
{
	uint32_t uv = 0;

	if (w->mv_imap != NULL)
		return 0;
	w->mv_imap = bh_imap_connect(&w->cfg->imap, error_r);
	if (w->mv_imap == NULL)
		return -1;
	if (bh_imap_select(w->mv_imap, w->cfg->imap.mailbox, &uv, error_r) == -1)
		return -1;
	if (uv != w->uidvalidity) {
		*error_r = "the mailbox's UIDVALIDITY changed: not moving";
		return -2;
	}
	return 0;
}

/* moves_thread - the moves thread: one UID MOVE per destination folder in flight, in order,
 * until one fails, on the moves' connection (w->mv_single: on the main connection, called in
 * the main thread). Touches nothing of the worker but w->mv_imap and the in-flight half of
 * w->mv */
static void *
moves_thread(void *arg)
{
	struct bh_worker *w = arg;
	struct moves *mv = &w->mv;
	struct bh_imap *im = w->imap;
	const char *err = NULL;
	int d, r;

	mv->ret = 0;
	mv->unconnected = false;
	if (!w->mv_single) {
		if ((r = mv_connect(w, &err)) != 0) {
			mv->unconnected = r == -1;
			bh_imap_free(&w->mv_imap);
			goto fail;
		}
		im = w->mv_imap;
	}
	for (d = 0; d < DEST_KEEP; d++) {
		if (mv->n[d] == 0)
			continue;
		if (bh_imap_move(im, mv->uids[d], mv->n[d], folder_of(w, (enum dest)d), &err) == -1)
			goto fail;
		mv->done[d] = mv->n[d];
	}
	atomic_store(&mv->finished, true);
	return NULL;
fail:
	snprintf(mv->err, sizeof(mv->err), "moves: %s", err != NULL ? err : "UID MOVE failed");
	mv->ret = -1;
	atomic_store(&mv->finished, true);
	return NULL;
}

/* moves_done - forget the moves in flight (done or not) */
static void
moves_done(struct moves *mv)
{
	int d;

	for (d = 0; d < DEST_KEEP; d++) {
		free(mv->uids[d]);
		mv->uids[d] = NULL;
		mv->total -= mv->n[d];
		mv->n[d] = mv->done[d] = 0;
	}
}

/* moves_clear - forget every move, pending or in flight (done or not) */
static void
moves_clear(struct moves *mv)
{
	int d;

	moves_done(mv);
	for (d = 0; d < DEST_KEEP; d++) {
		free(mv->pend[d]);
		mv->pend[d] = NULL;
		mv->pn[d] = mv->pcap[d] = 0;
	}
	mv->total = 0;
}

/* moves_add - the destinations of a part's messages join the pending moves (UIDs ascending:
 * parts come in UID order); the pending lists are the main thread's, the moves thread touches
 * only those in flight */
static void
moves_add(struct bh_worker *w, const struct job *jobs, size_t n)
{
	struct moves *mv = &w->mv;
	size_t i;

	for (i = 0; i < n; i++) {
		enum dest d = jobs[i].dest;

		if (d == DEST_KEEP)
			continue;
		if (mv->pn[d] == mv->pcap[d]) {
			mv->pcap[d] = mv->pcap[d] == 0 ? n : 2 * mv->pcap[d];
			mv->pend[d] =
			    bh_reallocarray(mv->pend[d], mv->pcap[d], sizeof(*mv->pend[d]));
		}
		mv->pend[d][mv->pn[d]++] = jobs[i].m->uid;
		mv->total++;
	}
}

/* moves_due - hand the pending moves of every destination that is due (all of them when flush)
 * to the thread's in-flight lists: the number of moves handed */
static size_t
moves_due(struct moves *mv, bool flush)
{
	size_t k = 0;
	int d;

	for (d = 0; d < DEST_KEEP; d++) {
		if (mv->pn[d] == 0 || (!flush && mv->pn[d] < mv->at))
			continue;
		assert(mv->uids[d] == NULL);
		mv->uids[d] = mv->pend[d];
		mv->n[d] = mv->pn[d];
		k += mv->pn[d];
		mv->pend[d] = NULL;
		mv->pn[d] = mv->pcap[d] = 0;
	}
	return k;
}

/* moves_count - the moves done, in the stats and the metrics (main thread, after the join) */
static void
moves_count(struct bh_worker *w)
{
	const struct moves *mv = &w->mv;

	if (mv->done[DEST_PROCESSED] + mv->done[DEST_IGNORED] + mv->done[DEST_QUARANTINE] > 0)
		w->mv_unsynced = true;
	w->st.processed += mv->done[DEST_PROCESSED];
	w->st.ignored += mv->done[DEST_IGNORED];
	w->st.quarantined += mv->done[DEST_QUARANTINE];
	bh_metrics_messages(w->o.metrics, BH_MF_PROCESSED, mv->done[DEST_PROCESSED]);
	bh_metrics_messages(w->o.metrics, BH_MF_IGNORED, mv->done[DEST_IGNORED]);
	bh_metrics_messages(w->o.metrics, BH_MF_QUARANTINED, mv->done[DEST_QUARANTINE]);
}

/* moves_start - send the moves that are due (all pending when flush) on the moves thread (a
 * failed pthread_create: here and now). Moves go only while the lease cannot have passed to
 * another worker: else they are dropped (the next holder moves them, DUPLICATE in Redis) and
 * -1. Nothing when moves are in flight already: they are joined first (moves_poll). */
static int
moves_start(struct bh_worker *w, bool flush, const char **error_r)
{
	struct moves *mv = &w->mv;

	if (mv->running || mv->total == 0)
		return 0;
	if (!lease_valid(w)) {
		moves_clear(mv);
		return env_fail(w, "lease", "lost or not renewed in time: not moving", error_r);
	}
	if (moves_due(mv, flush) == 0)
		return 0;
	/* one connection: the reader must be done with it (a failure drops the moves due) */
	if (w->mv_single && reader_join(w, error_r) == -1)
		return -1;
	mv->running = true;
	atomic_store(&mv->finished, false);
	if (w->mv_single) {
		mv->th = pthread_self(); /* nothing to join */
		moves_thread(w);
	} else {
		thread_run(&mv->th, moves_thread, w);
	}
	return 0;
}

/* moves_single - the moves' connection could not be made (most likely a server's limit on
 * connections per user): for the rest of the drain the moves go on the main connection, in the
 * main thread, and those in flight go now (after the reader). 0, or -1 when IMAP failed */
static int
moves_single(struct bh_worker *w, const char **error_r)
{
	struct bh_logline l;

	bh_log_begin(&l, w->mv_warned ? BH_LOG_DEBUG : BH_LOG_WARN, "moves_connection");
	bh_log_str(&l, "mailbox", w->cfg->imap.mailbox);
	bh_log_str(&l, "error", w->mv.err);
	bh_log_str(&l, "then", "moving on the main connection this drain");
	bh_log_end(&l);
	w->mv_warned = true;
	w->mv_single = true;
	if (reader_join(w, error_r) == -1)
		return -1;
	moves_thread(w);
	return 0;
}

/* moves_join - wait for the moves in flight and count them; -1 when one failed (IMAP down) */
static int
moves_join(struct bh_worker *w, const char **error_r)
{
	struct moves *mv = &w->mv;

	if (!mv->running)
		return 0;
	thread_join(mv->th);
	mv->running = false;
	if (mv->ret == -1 && mv->unconnected && moves_single(w, error_r) == -1)
		return -1;
	moves_count(w);
	if (mv->ret == -1) {
		/* IMAP failed: the pending ones wait in the mailbox for the next drain too */
		moves_clear(mv);
		return env_fail(w, "imap", mv->err, error_r);
	}
	moves_done(mv);
	return 0;
}

/* moves_poll - join the moves in flight if they are over, then send those that are due */
static int
moves_poll(struct bh_worker *w, const char **error_r)
{
	if (w->mv.running && !atomic_load(&w->mv.finished))
		return 0;
	if (moves_join(w, error_r) == -1)
		return -1;
	return moves_start(w, false, error_r);
}

/* moves_flush - do every pending move now and wait for it: 0 or -1 */
static int
moves_flush(struct bh_worker *w, const char **error_r)
{
	if (w->imap == NULL) {
		moves_drop(w);
		return 0;
	}
	if (moves_join(w, error_r) == -1 || moves_start(w, true, error_r) == -1)
		return -1;
	return moves_join(w, error_r);
}

/* moves_drop - wait for the helper threads, forget the moves not sent and the batch listed
 * ahead; the messages stay in the mailbox (Redis holds their outcome: the next drain moves
 * them as DUPLICATE) */
static void
moves_drop(struct bh_worker *w)
{
	struct moves *mv = &w->mv;

	if (mv->running) {
		thread_join(mv->th);
		mv->running = false;
		moves_count(w);
	}
	moves_clear(mv);
	if (w->rd.running) {
		thread_join(w->rd.th);
		w->rd.running = false;
	}
	w->rd.start = w->rd.end = 0;
	w->ahead.want = false;
	ahead_clear(w);
}

/* crash_hook - test-only: die between the Redis confirmation and the move */
static void
crash_hook(void)
{
	const char *e = getenv("BOUNCER_TEST_CRASH_AFTER_STORE");

	if (e != NULL && strcmp(e, "1") == 0) {
		bh_log(BH_LOG_WARN, "test_crash",
		       "BOUNCER_TEST_CRASH_AFTER_STORE: exiting after the "
		       "Redis confirmation, before the move");
		_exit(BH_WORKER_CRASH_STATUS);
	}
}

/* pause_hook - test-only: BOUNCER_TEST_BATCH_PAUSE_MS, a pause after every batch, so that a
 * test can act in the middle of a drain (kill the Redis master, the lease holder) however fast
 * the drain would be */
static void
pause_hook(void)
{
	const char *e = getenv("BOUNCER_TEST_BATCH_PAUSE_MS");
	long ms = e != NULL ? strtol(e, NULL, 10) : 0;

	if (ms > 0 && ms <= 10000) {
		struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

		nanosleep(&ts, NULL);
	}
}

/* A part: up to BH_STORE_PART messages of a batch, classified one after another and applied in
 * one pipelined call; its store items, of the messages that were decided. */
struct part {
	struct job jobs[BH_STORE_PART];
	struct bh_store_item items[BH_STORE_PART];
	size_t item_of[BH_STORE_PART]; /* jobs[i]'s item, SIZE_MAX: none */
	size_t n, n_items;
};

/* A batch on its way through classify and store: the part being classified (cur) while Redis
 * applies the one before (fly, when flying), so the parts are applied in order and Redis waits
 * for the classifier only at the end of a batch, never at the end of a chunk of bodies. */
struct flow {
	struct part parts[2];
	struct part *cur, *fly;
	bool flying;
	bool store_failed; /* Redis failed on a part: the rest is not sent */
	size_t unconfirmed;
	const char *err;
};

/* part_item - the store item of job i, NULL when it has none (not decided, or a dry run) */
static const struct bh_store_item *
part_item(const struct part *p, size_t i)
{
	return p->item_of[i] != SIZE_MAX ? &p->items[p->item_of[i]] : NULL;
}

/* part_clear - free the jobs' verdicts and decisions: the part is empty again */
static void
part_clear(struct part *p)
{
	size_t i;

	for (i = 0; i < p->n; i++) {
		if (p->jobs[i].decided)
			bh_decisions_deinit(&p->jobs[i].d);
		if (p->jobs[i].classified)
			bh_verdict_deinit(&p->jobs[i].v);
	}
	p->n = p->n_items = 0;
}

/* part_classify - decide the fetched message m as the part's next job, make its store item
 * when it is to be stored, and free its body (the verdict holds what is kept of it) */
static void
part_classify(struct bh_worker *w, struct part *p, struct bh_imap_msg *m)
{
	size_t k = p->n++;
	struct job *j = &p->jobs[k];
	struct bh_store_item *it;

	memset(j, 0, sizeof(*j));
	j->m = m;
	p->item_of[k] = SIZE_MAX;
	if (m->data == NULL) {
		/* gone meanwhile (another client expunged it) */
		j->gone = true;
		j->dest = DEST_KEEP;
		return;
	}
	w->st.seen++;
	decide(w, j);
	log_verdict(w, j);
	bh_imap_msg_release(m);
	if (!j->decided || w->o.dry_run)
		return;
	it = &p->items[p->n_items];
	memset(it, 0, sizeof(*it));
	it->v = &j->v;
	it->d = &j->d;
	it->mailbox = w->cfg->imap.mailbox;
	it->folder = folder_of(w, j->dest);
	it->loop_folder = folder_of(w, DEST_IGNORED);
	it->uidvalidity = w->uidvalidity;
	it->uid = m->uid;
	p->item_of[k] = p->n_items++;
}

/* dest_confirmed - the one safety rule: where a message may go once the store answered. It
 * leaves the mailbox only when Redis confirmed its apply (APPLIED or DUPLICATE, it->loop: a
 * repeat, filed with the ignored mail), when Redis can never take it (INVALID: quarantined), or
 * when it never went to Redis because it is unparseable (quarantined as bad input). Anything
 * else (unconfirmed, not sent, vanished) stays in the mailbox for the next drain. */
static enum dest
dest_confirmed(const struct job *j, const struct bh_store_item *it)
{
	if (j->gone)
		return DEST_KEEP;
	if (it == NULL)
		return !j->decided && j->dest == DEST_QUARANTINE ? DEST_QUARANTINE : DEST_KEEP;
	if (it->status == BH_STORE_INVALID)
		return DEST_QUARANTINE;
	if (!bh_store_is_confirmed(it))
		return DEST_KEEP;
	if (it->loop != BH_LOOP_NONE && j->v.loop.kind == BH_LOOP_NONE)
		return DEST_IGNORED;
	return j->dest;
}

/* note_answer - the store's answer about job j in its verdict, the stats and the metrics */
static void
note_answer(struct bh_worker *w, struct job *j, const struct bh_store_item *it)
{
	if (it->status == BH_STORE_INVALID) {
		j->why = it->error != NULL ? it->error : "refused by the store";
		return;
	}
	if (!bh_store_is_confirmed(it)) {
		w->st.deferred++;
		return;
	}
	if (it->status == BH_STORE_DUPLICATE)
		w->st.duplicates++;
	/* the store knows the history: a repeat is a loop like the others */
	if (it->loop != BH_LOOP_NONE && j->v.loop.kind == BH_LOOP_NONE)
		j->v.loop.kind = it->loop;
	w->st.suppressed += it->n_suppressed;
	bh_metrics_store_item(w->o.metrics, it->n_suppressed, it->n_alerts, it->n_held);
	count_metrics(w, j, it->loop == BH_LOOP_REPEAT);
}

/* note_redis - Redis's state after a part's apply (failed: it could not be reached) */
static void
note_redis(struct bh_worker *w, bool failed)
{
	if (failed) {
		bh_metrics_inc(w->o.metrics, BH_M_REDIS_ERRORS);
		bh_metrics_conn_lost(w->o.metrics, BH_CONN_REDIS);
		w->redis_down = true;
		return;
	}
	/* metrics: counts bouncer_redis_reconnects_total when Redis had been lost */
	bh_metrics_contact(w->o.metrics, BH_CONN_REDIS, bh_now());
	if (w->redis_down) {
		bh_log(BH_LOG_INFO, "redis_back", "Redis answers again");
		w->redis_down = false;
	}
}

/* part_settle - once Redis answered the part (or it was never sent): where each message goes
 * (dest_confirmed), its answer counted and logged, its move gathered; the part is emptied and
 * its lines written */
static void
part_settle(struct bh_worker *w, struct flow *f, struct part *p)
{
	size_t i, confirmed = 0;

	for (i = 0; i < p->n; i++) {
		const struct bh_store_item *it = part_item(p, i);

		if (it != NULL && bh_store_is_confirmed(it))
			confirmed++;
	}
	if (confirmed > 0)
		crash_hook();
	for (i = 0; i < p->n; i++) {
		struct job *j = &p->jobs[i];
		const struct bh_store_item *it = part_item(p, i);

		j->dest = dest_confirmed(j, it);
		if (it != NULL)
			note_answer(w, j, it);
		if (it != NULL && !bh_store_is_confirmed(it) && it->status != BH_STORE_INVALID)
			f->unconfirmed++;
		if (j->dest == DEST_QUARANTINE)
			w->failed = true;
		if (!j->gone)
			log_job(w, j, it);
	}
	moves_add(w, p->jobs, p->n);
	part_clear(p);
	bh_log_flush();
}

/* flow_wait - read Redis's answers to the part in flight, if any, and settle it */
static void
flow_wait(struct bh_worker *w, struct flow *f)
{
	struct part *p = f->fly;
	int r;

	if (!f->flying)
		return;
	f->flying = false;
	r = bh_store_apply_end(w->store, p->items, p->n_items, &f->err);
	note_redis(w, r == -1);
	if (r == -1)
		f->store_failed = true;
	part_settle(w, f, p);
}

/* flow_send - the part classified (cur) goes to Redis, after the answers to the one in flight
 * were read and settled, the lease checked; one without items settles at once. A dry run
 * prints it. -1 when the lease is not ours: nothing was sent, and the drain stops and stands
 * by */
static int
flow_send(struct bh_worker *w, struct flow *f, const char **error_r)
{
	struct part *p = f->cur;
	const char *err = NULL;
	size_t i;

	if (w->o.dry_run) {
		for (i = 0; i < p->n; i++)
			if (p->jobs[i].dest != DEST_KEEP || p->jobs[i].classified)
				print_decisions(w, &p->jobs[i]);
		part_clear(p);
		return 0;
	}
	flow_wait(w, f);
	if (f->store_failed) {
		for (i = 0; i < p->n_items; i++)
			p->items[i].error = "not sent: Redis failed on an earlier part";
	}
	if (f->store_failed || p->n_items == 0) {
		part_settle(w, f, p);
		return 0;
	}
	if (lease_check(w, false, &err) != 1) {
		part_clear(p);
		return env_fail(w, "lease",
				err != NULL ? err : "the mailbox lease is held by another worker",
				error_r);
	}
	bh_store_apply_reset(w->store);
	(void)bh_store_apply_begin(w->store, p->items, p->n_items, &f->err);
	f->fly = p;
	f->flying = true;
	f->cur = p == &f->parts[0] ? &f->parts[1] : &f->parts[0];
	return 0;
}

/* flow_end - send what is left, wait for the last answers: 0, or -1 when the lease is not
 * ours, Redis failed or did not confirm everything (nothing more is sent then) */
static int
flow_end(struct bh_worker *w, struct flow *f, const char **error_r)
{
	if (f->cur->n > 0 && flow_send(w, f, error_r) == -1)
		return -1;
	flow_wait(w, f);
	if (f->store_failed || f->unconfirmed > 0) {
		w->failed = true;
		return env_fail(w, "redis",
				f->err != NULL ? f->err : "not every message was confirmed",
				error_r);
	}
	return 0;
}

/* flow_abandon - after a failure: read the answers to the part in flight (what Redis confirmed
 * may still move), forget the part being classified */
static void
flow_abandon(struct bh_worker *w, struct flow *f)
{
	flow_wait(w, f);
	part_clear(f->cur);
}

/* settle_after_failure - a batch failed: wait for the reader and the moves in flight, then move
 * what Redis confirmed now (when IMAP and the lease allow), keeping the failure's text in w->err */
static void
settle_after_failure(struct bh_worker *w)
{
	const char *err = NULL;
	char saved[sizeof(w->err)];

	memcpy(saved, w->err, sizeof(saved));
	if (reader_join(w, &err) == 0 && moves_join(w, &err) == 0)
		(void)moves_flush(w, &err);
	else
		moves_drop(w);
	memcpy(w->err, saved, sizeof(saved));
}

/* quarantine_oversized - move messages over the size limit untouched, with an event each */
static int
quarantine_oversized(struct bh_worker *w, struct bh_imap_msg *msgs, const bool *big, size_t n,
		     const char **error_r)
{
	uint32_t *uids = bh_calloc(n != 0 ? n : 1, sizeof(*uids));
	const char *err = NULL;
	struct bh_logline l;
	size_t i, k = 0;
	int ret = 0;

	for (i = 0; i < n; i++) {
		if (!big[i])
			continue;
		bh_log_begin(&l, BH_LOG_WARN, "oversized");
		bh_log_str(&l, "mailbox", w->cfg->imap.mailbox);
		bh_log_int(&l, "uidvalidity", w->uidvalidity);
		bh_log_int(&l, "uid", msgs[i].uid);
		bh_log_int(&l, "size", (long long)msgs[i].size);
		bh_log_int(&l, "limit", (long long)w->cfg->limits.message_size);
		bh_log_str(&l, "folder", w->o.dry_run ? "-" : w->cfg->imap.quarantine_folder);
		bh_log_end(&l);
		w->st.seen++;
		w->failed = true;
		uids[k++] = msgs[i].uid;
		if (w->o.dry_run) {
			struct job j;

			memset(&j, 0, sizeof(j));
			j.m = &msgs[i];
			j.dest = DEST_QUARANTINE;
			j.why = "oversized: not loaded";
			print_decisions(w, &j);
		}
	}
	if (k > 0 && !w->o.dry_run) {
		if (bh_imap_move(w->imap, uids, k, w->cfg->imap.quarantine_folder, &err) == -1) {
			ret = env_fail(w, "imap", err, error_r);
		} else {
			w->st.quarantined += k;
			bh_metrics_messages(w->o.metrics, BH_MF_QUARANTINED, k);
		}
	}
	free(uids);
	return ret;
}

/* view_sync - NOOP on the main connection when the moves' connection moved mail since it last
 * synced: until then its view may still hold the moved messages (a server reports another
 * session's expunges at its own pace), and a UID SEARCH would list them. 0 or -1 */
static int
view_sync(struct bh_worker *w, const char **error_r)
{
	const char *err = NULL;

	if (!w->mv_unsynced)
		return 0;
	if (bh_imap_noop(w->imap, &err) == -1)
		return env_fail(w, "imap", err, error_r);
	w->mv_unsynced = false;
	return 0;
}

/* list_batch - the UIDs of the next batch (the lowest max UIDs, above those whose moves are
 * pending) in *uids_r, their count in *n_r: 0 or -1 */
static int
list_batch(struct bh_worker *w, size_t max, uint32_t **uids_r, size_t *n_r, const char **error_r)
{
	const char *err = NULL;
	size_t i, k = 0;

	*uids_r = NULL;
	*n_r = 0;
	if (view_sync(w, error_r) == -1)
		return -1;
	if (w->mv.total > 0) {
		/* earlier batches are still in the mailbox, their moves pending: the next batch
		 * is what comes after them (new mail has higher UIDs) */
		if (bh_imap_search(w->imap, 2 * max + w->mv.total, uids_r, n_r, &err) == -1)
			return env_fail(w, "imap", err, error_r);
		for (i = 0; i < *n_r; i++)
			if ((*uids_r)[i] > w->mv_high && k < max)
				(*uids_r)[k++] = (*uids_r)[i];
		*n_r = k;
		if (k > 0)
			return 0;
		/* nothing after it in the window: move it, then look again */
		free(*uids_r);
		*uids_r = NULL;
		if (moves_flush(w, error_r) == -1 || view_sync(w, error_r) == -1)
			return -1;
	}
	if (bh_imap_search(w->imap, w->o.dry_run ? SIZE_MAX : max, uids_r, n_r, &err) == -1)
		return env_fail(w, "imap", err, error_r);
	return 0;
}

/* read_ahead - msgs[start..have) in hand: the reader goes on with the next chunk (after the
 * last chunk of a batch: with listing the next batch), so that IMAP reads while these are
 * classified and stored, and the moves that are due go out. Only one of two chunks side by
 * side may be larger than BH_FETCH_CHUNK_BYTES (a big message): a big chunk is read ahead only
 * after a small one, so the bodies held are never more than the largest message and a chunk.
 * 0 or -1 */
static int
read_ahead(struct bh_worker *w, struct bh_imap_msg *msgs, size_t nm, size_t start, size_t have,
	   const char **error_r)
{
	size_t bytes, next_end, next_bytes;
	bool small;

	(void)chunk_end(w, msgs, start, nm, &bytes);
	small = bytes <= BH_FETCH_CHUNK_BYTES;
	next_end = chunk_end(w, msgs, have, nm, &next_bytes);
	if (next_end == have && !w->o.dry_run) {
		/* the batch's last chunk: the reader lists the next batch meanwhile */
		w->ahead.want = true;
		w->ahead.above = w->mv_high;
		w->ahead.max = w->mv.at; /* the batch size */
		/* below the next batch: this one and the moves still pending */
		w->ahead.window = 2 * w->mv.at + nm + w->mv.total;
		w->ahead.bodies = small;
		w->ahead.sync = w->mv_unsynced;
		w->mv_unsynced = false;
	}
	if (next_end > have && !small && next_bytes > BH_FETCH_CHUNK_BYTES)
		next_end = have; /* two big ones: the next is read when its turn comes */
	reader_start(w, msgs, have, next_end);
	return moves_poll(w, error_r);
}

/* batch_read - the bodies of the chunk that starts at msgs[*have]: from the reader, which was
 * reading it, or read here; *have becomes its end. Then read_ahead. 0 or -1 */
static int
batch_read(struct bh_worker *w, struct bh_imap_msg *msgs, size_t nm, size_t *have,
	   const char **error_r)
{
	struct reader *rd = &w->rd;
	size_t start = *have, bytes;
	const char *err = NULL;

	if (reader_join(w, error_r) == -1)
		return -1;
	if (rd->end > start) { /* the reader read it: it started there (read_ahead) */
		assert(rd->msgs == msgs && rd->start == start);
		*have = rd->end;
	} else {
		*have = chunk_end(w, msgs, start, nm, &bytes);
		if (fetch_chunk(w, w->imap, msgs, start, *have, &err) == -1)
			return env_fail(w, "imap", err, error_r);
	}
	rd->msgs = NULL;
	rd->start = rd->end = 0;
	return read_ahead(w, msgs, nm, start, *have, error_r);
}

/* run_batch - one batch: sizes, oversized, then every message classified and stored in parts
 * (struct flow) as its chunk of bodies comes in (batch_read). 1 done something, 0 empty. The
 * batch comes from the reader when it listed one ahead (w->ahead), else it is listed here. */
static int
run_batch(struct bh_worker *w, const char **error_r)
{
	struct bh_imap_msg *msgs = NULL;
	struct flow *f = NULL;
	uint32_t *uids = NULL;
	size_t n = 0, nm = 0, i, max, exists, have = 0;
	uint64_t moved_before;
	const char *err = NULL;
	bool *big = NULL;
	int ret = -1;

	moved_before = w->st.processed + w->st.ignored + w->st.quarantined + w->mv.total;
	max = w->cfg->imap.batch_size > 0 ? w->cfg->imap.batch_size : BH_DEF_BATCH_SIZE;
	if (max > BH_MAX_BATCH_SIZE)
		max = BH_MAX_BATCH_SIZE;
	w->mv.at = max; /* a destination moves once it holds a batch's worth */
	if (w->ahead.ready) {
		/* taken over from the reader: the sizes are known, maybe the first bodies */
		uids = w->ahead.uids;
		n = w->ahead.n;
		msgs = w->ahead.msgs;
		nm = w->ahead.nm;
		have = w->ahead.fetched;
		memset(&w->ahead, 0, sizeof(w->ahead));
	} else {
		ahead_clear(w); /* an empty look ahead: new mail may have come since */
		if (list_batch(w, max, &uids, &n, error_r) == -1)
			return -1;
	}
	/* metrics: a short answer is the whole backlog, a full one a window of EXISTS */
	bh_metrics_contact(w->o.metrics, BH_CONN_IMAP, bh_now());
	exists = bh_imap_exists(w->imap);
	bh_metrics_backlog(w->o.metrics, n < max || exists < n ? n : exists);
	if (w->o.dry_run) { /* nothing moves: skip what this run has shown already */
		size_t k = 0;

		for (i = 0; i < n; i++)
			if (uids[i] > w->dry_high && k < max)
				uids[k++] = uids[i];
		n = k;
	}
	if (n == 0) {
		ret = 0;
		goto out;
	}
	w->mv_high = uids[n - 1];
	if (msgs == NULL && bh_imap_fetch_sizes(w->imap, uids, n, &msgs, &nm, &err) == -1) {
		env_fail(w, "imap", err, error_r);
		goto out;
	}
	big = bh_calloc(nm + 1, sizeof(*big));
	for (i = 0; i < nm; i++)
		big[i] = is_big(w, &msgs[i]);
	if (quarantine_oversized(w, msgs, big, nm, error_r) == -1)
		goto out;
	f = bh_calloc(1, sizeof(*f));
	f->cur = &f->parts[0];
	/* the lines go out a part at a time, after its answers (a warning goes at once) */
	bh_log_batch_begin();
	if (have > 0 && read_ahead(w, msgs, nm, 0, have, error_r) == -1)
		goto failed;
	for (i = 0; i < nm && !f->store_failed; i++) {
		/* (Redis failed on a part: the rest waits in the mailbox, unread) */
		if (i >= have && batch_read(w, msgs, nm, &have, error_r) == -1)
			goto failed;
		if (big[i])
			continue;
		part_classify(w, f->cur, &msgs[i]);
		if (f->cur->n == BH_STORE_PART && flow_send(w, f, error_r) == -1)
			goto failed;
	}
	/* the reader may still be listing the next batch */
	if (flow_end(w, f, error_r) == -1 || reader_join(w, error_r) == -1)
		goto failed;
	if (w->o.dry_run)
		w->dry_high = uids[n - 1];
	w->st.batches++;
	ret = 1;
	if (!w->o.dry_run &&
	    w->st.processed + w->st.ignored + w->st.quarantined + w->mv.total == moved_before) {
		/* the server keeps listing messages it will not hand out: do not spin on them */
		bh_log(BH_LOG_WARN, "no_progress", "%zu messages listed but none could be fetched",
		       n);
		ret = 0;
	}
	goto out;
failed:
	flow_abandon(w, f);
	settle_after_failure(w);
out:
	if (f != NULL)
		bh_log_batch_end();
	assert(!w->rd.running);
	w->rd.msgs = NULL; /* freed below */
	w->rd.start = w->rd.end = 0;
	if (ret == -1)
		ahead_clear(w); /* the mailbox is read again from its lowest UID */
	free(f);
	free(big);
	bh_imap_msgs_free(&msgs, nm);
	free(uids);
	return ret;
}

/* redis_keepalive - metrics: a drain that found no mail (seen unchanged since seen_before)
 * asks Redis (PING), so that /healthz and bouncer_redis_up know about Redis while the mailbox
 * stays empty (a lease holder renews only every ttl/3, which may be longer than the health
 * window). Only with metrics on; a failure marks Redis down and nothing else: the drain
 * itself needed no Redis. */
static void
redis_keepalive(struct bh_worker *w, uint64_t seen_before)
{
	const char *err = NULL;

	if (w->o.metrics == NULL || w->store == NULL || w->st.seen != seen_before)
		return;
	if (bh_store_ping(w->store, &err) == -1)
		bh_metrics_conn_lost(w->o.metrics, BH_CONN_REDIS);
	else
		bh_metrics_contact(w->o.metrics, BH_CONN_REDIS, bh_now());
}

/* bh_worker_drain - batches until the mailbox is drained: 0 done, stopped or standby; -1 down */
int
bh_worker_drain(struct bh_worker *w, const char **error_r)
{
	uint64_t seen_before = w->st.seen;
	int64_t start;
	int r;

	for (;;) {
		if (w->o.interrupted != NULL && w->o.interrupted(w->o.ctx))
			return moves_flush(w, error_r);
		if ((r = lease_check(w, false, error_r)) != 1) {
			/* a standby keeps no IMAP connection: the holder may be the only client */
			moves_drop(w);
			if (w->imap != NULL)
				bh_metrics_conn_closed(w->o.metrics, BH_CONN_IMAP);
			bh_imap_free(&w->mv_imap);
			bh_imap_free(&w->imap);
			return r;
		}
		if (ensure_connected(w, error_r) == -1)
			return -1;
		start = bh_mono_ms();
		r = run_batch(w, error_r);
		if (r == 1) {
			bh_metrics_batch_observe(w->o.metrics,
						 (double)(bh_mono_ms() - start) / 1000.0);
			pause_hook();
		}
		if (w->o.progress != NULL)
			w->o.progress(&w->st, w->o.ctx);
		if (r == -1)
			return -1;
		bh_metrics_last_poll(w->o.metrics, bh_now());
		if (r == 0) {
			if (moves_flush(w, error_r) == -1)
				return -1;
			redis_keepalive(w, seen_before);
			return 0;
		}
	}
}

/* bh_worker_wait - wait for news (IDLE, or poll) no longer than the lease renewal allows: 1/0/-1 */
int
bh_worker_wait(struct bh_worker *w, int64_t timeout_ms, const sigset_t *mask, const char **error_r)
{
	const char *err = NULL;
	int r;

	if (w->lease_on) {
		int64_t due = w->lease_ttl / 3 - (bh_mono_ms() - w->lease_at);

		if (w->standby || !w->lease_held) {
			struct timespec ts;
			int64_t ms = timeout_ms < w->lease_ttl / 3 ? timeout_ms : w->lease_ttl / 3;

			ts.tv_sec = (time_t)(ms / 1000);
			ts.tv_nsec = (long)(ms % 1000) * 1000000L;
			ppoll(NULL, 0, &ts, mask);
			return 0;
		}
		/* wake up in time to renew the lease (the next drain renews it) */
		if (timeout_ms > due)
			timeout_ms = due > 100 ? due : 100;
	}
	moves_drop(w);		   /* none: every drain ends with its moves done */
	bh_imap_free(&w->mv_imap); /* the moves' connection lives for a drain */
	w->mv_single = false;	   /* the next drain tries it again */
	if (ensure_connected(w, error_r) == -1)
		return -1;
	/* the last moves' expunges taken in now, not taken for news during IDLE */
	if (view_sync(w, error_r) == -1)
		return -1;
	r = bh_imap_wait(w->imap, timeout_ms, mask, &err);
	if (r == -1)
		return env_fail(w, "imap", err, error_r);
	bh_metrics_contact(w->o.metrics, BH_CONN_IMAP, bh_now());
	return r;
}

/* bh_worker_health - append an imap: and a redis: line to report; 0 when both are fine, else -1 */
int
bh_worker_health(struct bh_worker *w, struct bh_buf *report)
{
	const char *err = NULL;
	char *info = NULL;
	int ret = 0;

	if (ensure_connected(w, &err) == -1 || bh_imap_noop(w->imap, &err) == -1) {
		bh_buf_printf(report, "imap: FAIL %s\n", err);
		ret = -1;
	} else {
		bh_buf_printf(report, "imap: ok %s mailbox=%s uidvalidity=%u\n",
			      bh_imap_describe(w->imap), w->cfg->imap.mailbox, w->uidvalidity);
	}
	if (w->store == NULL) {
		bh_buf_puts(report, "redis: skipped (dry run)\n");
	} else if (bh_store_health(w->store, &info, &err) == -1) {
		bh_buf_printf(report, "redis: FAIL %s\n", err);
		ret = -1;
	} else {
		bh_buf_printf(report, "redis: ok %s\n", info);
	}
	free(info);
	return ret;
}

/*
 * cmd_run.c - `bouncer run` (drain forever: IDLE or poll between drains), `bouncer once` (drain
 * what is there, then exit) and `bouncer health` (do IMAP and Redis answer?).
 *
 * Signals: SIGTERM, SIGINT and SIGHUP stay blocked while a batch is worked on and are let in
 * only while waiting (ppoll in imap.c, or the backoff sleep here). So a stop request finishes the
 * batch in hand (its messages are stored and moved, or left untouched), and a SIGHUP reloads the
 * configuration between batches: a bad file is reported and the old configuration kept.
 *
 * Output: structured log lines on stderr (log.h; cfg->log_format). On a terminal only warnings
 * and errors are logged under a progress line, elsewhere info too; -v adds info, a second -v
 * debug (a `verdict` line per message, a `verdict_rcpt` line per recipient), -q keeps errors
 * only. --dry-run prints every decision as JSON Lines on stdout and changes nothing.
 *
 * Exit status of `once`: 0 every message handled; 1 something was quarantined (unparseable,
 * oversized, refused by the store) or left for later; 75 IMAP or Redis stayed unavailable;
 * 78 bad configuration.
 */
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "util.h"
#include "worker.h"

#define RUN_BACKOFF_MIN_MS 1000
#define RUN_BACKOFF_MAX_MS 60000
#define RUN_ONCE_ATTEMPTS  5
#define RUN_MAX_WAIT_MS	   (20 * 60 * 1000) /* RFC 2177: re-issue IDLE well within 29 min */

static volatile sig_atomic_t got_stop;
static volatile sig_atomic_t got_reload;

/* on_signal - SIGHUP asks for a reload, SIGTERM and SIGINT for a stop: only a flag is set */
static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		got_reload = 1;
	else
		got_stop = 1;
}

struct run_ctx {
	sigset_t waitmask; /* the mask to wait with: our signals let in */
	bool tty;
	bool progress_shown;
	bool ready; /* READY=1 sent (notify.h) */
	struct bh_worker_stats last;
};

/* take_signals - let pending signals run their handlers, then block them again */
static void
take_signals(const struct run_ctx *rc)
{
	sigset_t pending, old;

	if (sigpending(&pending) == -1)
		return;
	if (sigismember(&pending, SIGTERM) || sigismember(&pending, SIGINT) ||
	    sigismember(&pending, SIGHUP)) {
		sigprocmask(SIG_SETMASK, &rc->waitmask, &old);
		sigprocmask(SIG_SETMASK, &old, NULL);
	}
}

/* interrupted - the worker asks between batches (a turn of its loop: the watchdog is fed) */
static bool
interrupted(void *ctx)
{
	bh_notify_watchdog();
	take_signals(ctx);
	return got_stop || got_reload;
}

/* progress_draw - the progress line on a terminal */
static void
progress_draw(struct run_ctx *rc)
{
	const struct bh_worker_stats *s = &rc->last;

	fprintf(stderr,
		"\r\033[Kbouncer: seen %llu  processed %llu  ignored %llu  quarantined %llu"
		"  duplicates %llu  deferred %llu  suppressed %llu",
		(unsigned long long)s->seen, (unsigned long long)s->processed,
		(unsigned long long)s->ignored, (unsigned long long)s->quarantined,
		(unsigned long long)s->duplicates, (unsigned long long)s->deferred,
		(unsigned long long)s->suppressed);
	fflush(stderr);
	rc->progress_shown = true;
}

/* progress - the worker's callback after each drain: keep the counters, redraw on a terminal */
static void
progress(const struct bh_worker_stats *st, void *ctx)
{
	struct run_ctx *rc = ctx;

	rc->last = *st;
	if (rc->tty)
		progress_draw(rc);
}

/* log_hook - clear the progress line before a log line and redraw it after */
static void
log_hook(bool before, void *ctx)
{
	struct run_ctx *rc = ctx;

	if (!rc->progress_shown)
		return;
	if (before)
		fputs("\r\033[K", stderr);
	else
		progress_draw(rc);
}

/* notify_ready - READY=1 once IMAP (a drain just went through) and Redis both answered: an empty
 * mailbox needs no Redis to drain, so ask it (the worker's own connections, once) */
static void
notify_ready(struct run_ctx *rc, struct bh_worker *w, const char *mailbox)
{
	struct bh_buf report;

	if (rc->ready)
		return;
	if (!bh_notify_enabled()) {
		rc->ready = true; /* nobody to tell: no extra round trip */
		return;
	}
	bh_buf_init(&report);
	if (bh_worker_health(w, &report) == 0) {
		bh_notify_ready(mailbox);
		rc->ready = true;
	}
	bh_buf_deinit(&report);
}

/* wait_cap - a wait cut to half the systemd watchdog interval, so the loop feeds it in time */
static int64_t
wait_cap(int64_t ms)
{
	int64_t cap = bh_notify_watchdog_ms();

	return cap > 0 && ms > cap ? cap : ms;
}

/* backoff_sleep - sleep an exponential, jittered delay (signals let in); doubles *delay_ms */
static void
backoff_sleep(struct run_ctx *rc, int64_t *delay_ms)
{
	int64_t d = *delay_ms, ms;
	struct timespec ts;

	ms = d / 2 + (int64_t)(random() % (long)(d / 2 + 1)); /* jitter: [d/2, d] */
	bh_notify_watchdog();
	ms = wait_cap(ms);
	bh_log(BH_LOG_INFO, "backoff", "retrying in %lld ms", (long long)ms);
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	ppoll(NULL, 0, &ts, &rc->waitmask);
	*delay_ms = d * 2 > RUN_BACKOFF_MAX_MS ? RUN_BACKOFF_MAX_MS : d * 2;
}

/* load_config - load and report every problem; NULL when unusable */
static struct bh_config *
load_config(const char *path)
{
	struct bh_config_diags diags = {NULL, 0};
	struct bh_config *cfg;
	size_t i;

	cfg = bh_config_open(path, &diags);
	if (cfg == NULL) {
		for (i = 0; i < diags.n; i++) {
			struct bh_logline l;

			bh_log_begin(&l, BH_LOG_ERROR, "config_error");
			bh_log_str(&l, "file", diags.v[i].file);
			bh_log_int(&l, "line", diags.v[i].line);
			bh_log_int(&l, "column", diags.v[i].column);
			bh_log_str(&l, "msg", diags.v[i].message);
			bh_log_end(&l);
		}
		if (diags.n == 0)
			bh_log(BH_LOG_ERROR, "config_error", "%s: cannot load", path);
	}
	bh_config_diags_deinit(&diags);
	return cfg;
}

/* --json on `run`/`once`: log JSON whatever log_format says (kept across reloads). */
static bool log_json;

/* setup_logging - format from the config (or --json), level from the terminal and -v / -q */
static void
setup_logging(const struct bh_config *cfg, bool tty, int verbose)
{
	int fmt =
	    log_json ? BH_LOG_JSON : bh_log_format_parse(cfg != NULL ? cfg->log_format : NULL);
	enum bh_log_level min = tty ? BH_LOG_WARN : BH_LOG_INFO;
	int prefix = bh_log_prefix_parse(cfg != NULL ? cfg->log_priority_prefix : NULL);

	if (verbose > 0)
		min = verbose > 1 ? BH_LOG_DEBUG : BH_LOG_INFO;
	if (verbose < 0)
		min = BH_LOG_ERROR;
	bh_log_setup(fmt == -1 ? BH_LOG_JSON : (enum bh_log_format)fmt, min, stderr);
	/* "<N>" priorities for journald (log.h): `journalctl -p err` then filters */
	bh_log_set_prefix(
	    bh_log_prefix_wanted(prefix == -1 ? BH_LOG_PREFIX_AUTO : (enum bh_log_prefix)prefix));
}

/* usage - print the synopsis of `run` or `once` (name) on fp */
static void
usage(FILE *fp, const char *name)
{
	fprintf(fp,
		"usage: bouncer %s [-c FILE] [--dry-run] [-v [-v]|-q] [--json]\n"
		"  --json   log JSON lines whatever log_format says (--dry-run prints JSON "
		"Lines)\n",
		name);
}

/* log_stats - the closing line */
static void
log_stats(const char *event, const struct bh_worker_stats *s)
{
	struct bh_logline l;

	bh_log_begin(&l, BH_LOG_INFO, event);
	bh_log_int(&l, "seen", (long long)s->seen);
	bh_log_int(&l, "processed", (long long)s->processed);
	bh_log_int(&l, "ignored", (long long)s->ignored);
	bh_log_int(&l, "quarantined", (long long)s->quarantined);
	bh_log_int(&l, "duplicates", (long long)s->duplicates);
	bh_log_int(&l, "deferred", (long long)s->deferred);
	bh_log_int(&l, "suppressed", (long long)s->suppressed);
	bh_log_int(&l, "batches", s->batches);
	bh_log_end(&l);
}

/* reload - SIGHUP: a new config and worker, or the old ones kept */
static void
reload(const char *path, struct bh_config **cfg, struct bh_worker **w, struct bh_worker_opts *wo,
       bool tty, int verbose)
{
	struct bh_config *ncfg = load_config(path);
	struct bh_worker *nw;
	const char *err = NULL;

	if (ncfg == NULL) {
		bh_log(BH_LOG_ERROR, "reload_failed", "%s: keeping the running configuration",
		       path);
		return;
	}
	nw = bh_worker_new(ncfg, wo, &err);
	if (nw == NULL) {
		bh_log(BH_LOG_ERROR, "reload_failed", "%s: %s; keeping the running configuration",
		       path, err);
		bh_config_free(&ncfg);
		return;
	}
	bh_worker_free(w);
	bh_config_free(cfg);
	*cfg = ncfg;
	*w = nw;
	setup_logging(*cfg, tty, verbose);
	bh_log(BH_LOG_INFO, "reloaded", "%s", path);
}

/* one_arena - one malloc arena for the process (unless MALLOC_ARENA_MAX says otherwise): the
 * worker's reader thread allocates the message bodies that the main thread frees, and an arena
 * per thread keeps a second heap of freed bodies resident (peak RSS at 20,000 bounces 16.5 MB
 * against 15.0, at the same speed; docs/performance.md) */
static void
one_arena(void)
{
	if (getenv("MALLOC_ARENA_MAX") == NULL)
		(void)mallopt(M_ARENA_MAX, 1);
}

/* bh_cmd_run - `run` (drain forever) and `once` (drain, then exit); returns the exit status */
int
bh_cmd_run(int argc, char **argv)
{
	const char *name = argv[0], *opt_c = NULL, *path, *err = NULL;
	bool once = strcmp(name, "once") == 0, dry_run = false;
	struct bh_worker_opts wo;
	struct bh_metrics *metrics = NULL;
	struct bh_config *cfg = NULL;
	struct bh_worker *w = NULL;
	struct run_ctx rc;
	struct sigaction sa;
	sigset_t block;
	int64_t delay = RUN_BACKOFF_MIN_MS, standby_since = 0;
	int i, verbose = 0, attempts = 0, status = BH_EX_OK, r;

	one_arena();
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			opt_c = argv[++i];
		else if (strcmp(argv[i], "--dry-run") == 0 || strcmp(argv[i], "-n") == 0)
			dry_run = true;
		else if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0)
			verbose++;
		else if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0)
			verbose = -1;
		else if (strcmp(argv[i], "--json") == 0)
			log_json = true;
		else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout, name);
			return BH_EX_OK;
		} else {
			usage(stderr, name);
			return BH_EX_USAGE;
		}
	}
	memset(&rc, 0, sizeof(rc));
	rc.tty = isatty(STDERR_FILENO) == 1;
	setup_logging(NULL, rc.tty, verbose);
	path = bh_config_path(opt_c);
	cfg = load_config(path);
	if (cfg == NULL)
		return BH_EX_CONFIG;
	setup_logging(cfg, rc.tty, verbose);
	srandom((unsigned)(bh_mono_ms() ^ (int64_t)getpid()));

	/* our signals: handlers that set flags, blocked except while waiting */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &rc.waitmask);
	sigdelset(&rc.waitmask, SIGTERM);
	sigdelset(&rc.waitmask, SIGINT);
	sigdelset(&rc.waitmask, SIGHUP);

	if (cfg->metrics_listen != NULL && !dry_run) {
		metrics = bh_metrics_new(0);
		if (bh_metrics_start(metrics, cfg->metrics_listen, &err) == -1)
			bh_log(BH_LOG_WARN, "metrics", "not serving metrics on %s: %s",
			       cfg->metrics_listen, err);
		else
			bh_log(BH_LOG_INFO, "metrics", "serving /metrics on %s (port %d)",
			       cfg->metrics_listen, bh_metrics_port(metrics));
	}
	memset(&wo, 0, sizeof(wo));
	wo.dry_run = dry_run;
	wo.decisions = stdout;
	wo.metrics = metrics;
	wo.interrupted = interrupted;
	wo.progress = progress;
	wo.ctx = &rc;
	w = bh_worker_new(cfg, &wo, &err);
	if (w == NULL) {
		bh_log(BH_LOG_ERROR, "config_error", "%s", err);
		status = BH_EX_CONFIG;
		goto out;
	}
	if (rc.tty)
		bh_log_set_hook(log_hook, &rc);
	bh_log(BH_LOG_INFO, "start", "bouncer %s %s%s mailbox=%s", BH_VERSION, name,
	       dry_run ? " (dry run)" : "", cfg->imap.mailbox);

	for (;;) {
		take_signals(&rc);
		if (got_stop)
			break;
		if (got_reload) {
			got_reload = 0;
			if (once)
				bh_log(BH_LOG_INFO, "reload", "ignored by `once`");
			else
				reload(path, &cfg, &w, &wo, rc.tty, verbose);
			continue;
		}
		r = bh_worker_drain(w, &err);
		if (r == -1) {
			bh_log(BH_LOG_ERROR, "unavailable", "%s", err);
			if (once && ++attempts >= RUN_ONCE_ATTEMPTS) {
				status = BH_EX_TEMPFAIL;
				break;
			}
			backoff_sleep(&rc, &delay);
			continue;
		}
		delay = RUN_BACKOFF_MIN_MS;
		attempts = 0;
		notify_ready(&rc, w, cfg->imap.mailbox);
		bh_notify_watchdog();
		if (got_stop || got_reload)
			continue;
		if (bh_worker_standby(w)) {
			/* another worker holds the mailbox lease: `once` waits for it a while (a
			 * crashed holder's lease expires after its ttl), `run` stands by forever */
			if (standby_since == 0)
				standby_since = bh_mono_ms();
			if (once &&
			    bh_mono_ms() - standby_since > 2 * cfg->lease.ttl_s * 1000 + 1000) {
				bh_log(BH_LOG_ERROR, "unavailable",
				       "the mailbox lease stayed with another worker");
				status = BH_EX_TEMPFAIL;
				break;
			}
			bh_worker_wait(w, wait_cap(RUN_MAX_WAIT_MS), &rc.waitmask, &err);
			continue;
		}
		standby_since = 0;
		if (once)
			break;
		{
			int64_t wait_ms = cfg->imap.poll_interval_s > 0
					      ? cfg->imap.poll_interval_s * 1000
					      : 60000;

			if (wait_ms > RUN_MAX_WAIT_MS)
				wait_ms = RUN_MAX_WAIT_MS;
			wait_ms = wait_cap(wait_ms);
			if (bh_worker_wait(w, wait_ms, &rc.waitmask, &err) == -1) {
				bh_log(BH_LOG_ERROR, "unavailable", "%s", err);
				backoff_sleep(&rc, &delay);
			}
		}
	}
	if (rc.progress_shown) {
		fputc('\n', stderr);
		rc.progress_shown = false;
	}
	bh_log_set_hook(NULL, NULL);
	bh_notify_stopping();
	log_stats(got_stop ? "stopped" : "done", bh_worker_stats(w));
	if (status == BH_EX_OK && once && bh_worker_failed(w))
		status = BH_EX_FAIL;
out:
	bh_worker_free(&w);
	bh_metrics_free(&metrics);
	bh_config_free(&cfg);
	return status;
}

/* bh_cmd_health - `health`: connect to IMAP and Redis and report; 0 when both answer, else 69 */
int
bh_cmd_health(int argc, char **argv)
{
	struct bh_worker_opts wo;
	const char *opt_c = NULL, *err = NULL;
	struct bh_config *cfg;
	struct bh_worker *w;
	struct bh_buf report;
	bool json = false;
	int i, status;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			opt_c = argv[++i];
		} else if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			printf("usage: bouncer health [-c FILE] [--json]\n");
			return BH_EX_OK;
		} else {
			fprintf(stderr, "usage: bouncer health [-c FILE] [--json]\n");
			return BH_EX_USAGE;
		}
	}
	setup_logging(NULL, false, -1);
	cfg = load_config(bh_config_path(opt_c));
	if (cfg == NULL)
		return BH_EX_CONFIG;
	setup_logging(cfg, false, -1);
	memset(&wo, 0, sizeof(wo));
	w = bh_worker_new(cfg, &wo, &err);
	if (w == NULL) {
		fprintf(stderr, "bouncer: health: %s\n", err);
		bh_config_free(&cfg);
		return BH_EX_CONFIG;
	}
	bh_buf_init(&report);
	status = bh_worker_health(w, &report) == 0 ? BH_EX_OK : BH_EX_UNAVAIL;
	if (json) {
		struct bh_buf j;

		bh_buf_init(&j);
		bh_buf_printf(&j,
			      "{\"healthy\":%s,\"report\":", status == BH_EX_OK ? "true" : "false");
		bh_json_cstr(&j, report.data != NULL ? report.data : "");
		bh_buf_puts(&j, "}\n");
		fputs(j.data, stdout);
		bh_buf_deinit(&j);
	} else {
		fputs(report.data != NULL ? report.data : "", stdout);
	}
	bh_buf_deinit(&report);
	bh_worker_free(&w);
	bh_config_free(&cfg);
	return status;
}

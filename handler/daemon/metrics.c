/*
 * metrics.c - Prometheus metrics registry and its HTTP endpoint (libmicrohttpd).
 *
 * The registry is a fixed set of families (counters, one histogram, gauges); labelled series
 * live in one array in creation order (so a scrape is stable) and are found through a chained
 * hash table of indices. One mutex guards everything: the worker updates from its thread, and
 * libmicrohttpd renders from its own polling thread.
 *
 * Trusts nothing about label values: they are cut to BH_MAX_METRIC_LABEL octets, invalid UTF-8
 * becomes U+FFFD, control characters become '?', and the renderer escapes '\\', '"' and
 * newline as the text exposition format 0.0.4 requires. The number of labelled series is capped
 * (BH_MAX_METRIC_SERIES); beyond it a family counts into one "__overflow__" series.
 *
 * The process_* metrics (the names every Prometheus client library uses) are read from
 * /proc/self at each scrape, outside the lock; what cannot be read is left out. /proc/stat (the
 * boot time) is hidden by the unit's ProcSubset=pid: the start time then comes from
 * CLOCK_BOOTTIME.
 *
 * The endpoint answers GET and HEAD on /metrics and /healthz only; it binds a numeric address
 * (loopback by default in the configuration), never resolves names and never reads a request
 * body. /healthz judges the last IMAP and Redis contact the worker reported (bh_metrics_health).
 */
#include "metrics.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifdef BH_HAVE_MHD
#include <microhttpd.h>
#endif

#include "bh_limits.h"

#define OVERFLOW_VALUE "__overflow__"

static const char *const bounce_labels[] = {"list", "type", "reason", "outcome"};
static const char *const loop_labels[] = {"kind"};

static const struct family {
	const char *name;
	const char *help;
	unsigned n_labels;
	const char *const *labels;
} families[BH_M_COUNT] = {
    [BH_M_BOUNCES] = {"bouncer_bounces_total",
		      "Recipient verdicts handled, by list, verdict type, reason and outcome.", 4,
		      bounce_labels},
    [BH_M_LOOPS] = {"bouncer_loops_total", "Mail loops detected, by kind.", 1, loop_labels},
    [BH_M_IMAP_ERRORS] = {"bouncer_imap_errors_total", "IMAP errors (protocol or transport).", 0,
			  NULL},
    [BH_M_IMAP_RECONNECTS] = {"bouncer_imap_reconnects_total",
			      "IMAP connections made again after a failure (not the first one).", 0,
			      NULL},
    [BH_M_REDIS_ERRORS] = {"bouncer_redis_errors_total", "Redis errors (reply or transport).", 0,
			   NULL},
    [BH_M_REDIS_RECONNECTS] = {"bouncer_redis_reconnects_total",
			       "Redis answering again after a failure (not the first connection).",
			       0, NULL},
    [BH_M_SUPPRESSIONS] = {"bouncer_suppressions_total",
			   "Suppressions written or extended by confirmed messages.", 0, NULL},
    [BH_M_SUPPRESSIONS_HELD] = {"bouncer_suppressions_held_total",
				"Suppressions held back by the burst guard of a list.", 0, NULL},
    [BH_M_ALERTS] = {"bouncer_alerts_total", "Alert events raised by confirmed messages.", 0, NULL},
};

static const char *const folder_names[BH_MF_COUNT] = {
    [BH_MF_PROCESSED] = "processed",
    [BH_MF_IGNORED] = "ignored",
    [BH_MF_QUARANTINED] = "quarantined",
};

static const char *const conn_names[BH_CONN_COUNT] = {
    [BH_CONN_IMAP] = "imap",
    [BH_CONN_REDIS] = "redis",
};

#define DEFAULT_STALE_AFTER_S 150

/* The state of one connection as the worker reported it. */
struct conn {
	bool up;      /* the last report was a contact */
	bool lost;    /* a failure since the last contact: the next contact is a reconnection */
	int64_t last; /* epoch s of the last contact, 0: never */
};

/* Upper bounds of the batch latency histogram, seconds; +Inf is implicit. */
static const struct {
	const char *text;
	double le;
} batch_buckets[] = {
    {"0.005", 0.005}, {"0.01", 0.01}, {"0.025", 0.025}, {"0.05", 0.05}, {"0.1", 0.1},
    {"0.25", 0.25},   {"0.5", 0.5},   {"1", 1},		{"2.5", 2.5},	{"5", 5},
    {"10", 10},	      {"30", 30},     {"60", 60},	{"120", 120},	{"300", 300},
};
#define N_BUCKETS BH_NELEM(batch_buckets)

struct series {
	unsigned family;
	uint32_t hash;
	char **values; /* families[family].n_labels cleaned copies */
	uint64_t value;
	size_t next; /* next index in the hash chain, SIZE_MAX: end */
};

struct bh_metrics {
	pthread_mutex_t lock;
	unsigned max_series;
	unsigned n_labelled; /* series counted against max_series */
	struct series *series;
	size_t n_series, cap_series;
	size_t *heads; /* hash buckets: first index, SIZE_MAX: empty */
	size_t n_heads;
	size_t overflow[BH_M_COUNT];  /* index of the overflow series, SIZE_MAX: none yet */
	uint64_t plain[BH_M_COUNT];   /* counters without labels */
	uint64_t hist[N_BUCKETS + 1]; /* per bucket, not cumulative; last is +Inf */
	uint64_t hist_count;
	double hist_sum;
	int64_t last_poll;
	uint64_t folders[BH_MF_COUNT];
	uint64_t backlog;
	int lease; /* 1 working the mailbox, 0 standing by, -1 not known yet */
	struct conn conn[BH_CONN_COUNT];
	int64_t stale_after; /* seconds */
	int64_t created;     /* epoch s: the start time when /proc cannot say */
#ifdef BH_HAVE_MHD
	struct MHD_Daemon *daemon;
#endif
	int port;
};

/* lock - take the registry mutex; failing to take it is our bug */
static void
lock(struct bh_metrics *m)
{
	if (pthread_mutex_lock(&m->lock) != 0)
		bh_fatal("metrics: pthread_mutex_lock failed");
}

/* unlock - release the registry mutex */
static void
unlock(struct bh_metrics *m)
{
	if (pthread_mutex_unlock(&m->lock) != 0)
		bh_fatal("metrics: pthread_mutex_unlock failed");
}

/* bh_metrics_new - an empty registry */
struct bh_metrics *
bh_metrics_new(unsigned max_series)
{
	struct bh_metrics *m = bh_calloc(1, sizeof(*m));
	size_t i;

	if (pthread_mutex_init(&m->lock, NULL) != 0)
		bh_fatal("metrics: pthread_mutex_init failed");
	m->max_series = max_series != 0 ? max_series : BH_MAX_METRIC_SERIES;
	m->n_heads = 64;
	while (m->n_heads < m->max_series && m->n_heads < (1u << 20))
		m->n_heads *= 2;
	m->heads = bh_reallocarray(NULL, m->n_heads, sizeof(*m->heads));
	for (i = 0; i < m->n_heads; i++)
		m->heads[i] = SIZE_MAX;
	for (i = 0; i < BH_M_COUNT; i++)
		m->overflow[i] = SIZE_MAX;
	m->lease = -1;
	m->stale_after = DEFAULT_STALE_AFTER_S;
	m->created = bh_now();
	return m;
}

/* bh_metrics_free - stop serving and free everything */
void
bh_metrics_free(struct bh_metrics **mp)
{
	struct bh_metrics *m;
	size_t i, j;

	if (mp == NULL || *mp == NULL)
		return;
	m = *mp;
#ifdef BH_HAVE_MHD
	/* Stopping joins the server thread, so no render runs past this point. */
	if (m->daemon != NULL)
		MHD_stop_daemon(m->daemon);
#endif
	for (i = 0; i < m->n_series; i++) {
		for (j = 0; j < families[m->series[i].family].n_labels; j++)
			free(m->series[i].values[j]);
		free(m->series[i].values);
	}
	free(m->series);
	free(m->heads);
	pthread_mutex_destroy(&m->lock);
	free(m);
	*mp = NULL;
}

/* label_clean - a label value fit for the exposition format: valid UTF-8, no control
 * characters, at most BH_MAX_METRIC_LABEL octets with "..." marking a cut */
static char *
label_clean(const char *s)
{
	const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");
	size_t n = strnlen((const char *)p, 4 * BH_MAX_METRIC_LABEL + 4);
	size_t i = 0, seq;
	struct bh_buf b;

	bh_buf_init(&b);
	while (i < n) {
		seq = bh_utf8_len(p + i, n - i);
		/* Room for this character (U+FFFD is 3 octets) and a "..." mark. */
		if (b.len + (seq == 0 ? 3 : seq) + 3 > BH_MAX_METRIC_LABEL) {
			bh_buf_puts(&b, "...");
			break;
		}
		if (seq == 0) {
			bh_buf_puts(&b, "\xef\xbf\xbd");
			i++;
		} else if (seq == 1 && (p[i] < 0x20 || p[i] == 0x7f)) {
			bh_buf_putc(&b, '?');
			i++;
		} else {
			bh_buf_append(&b, p + i, seq);
			i += seq;
		}
	}
	return bh_buf_steal(&b);
}

/* hash_labels - FNV-1a over the family and its cleaned label values */
static uint32_t
hash_labels(unsigned family, char *const *values, unsigned n)
{
	uint32_t h = 2166136261u;
	unsigned i;
	const char *s;

	h = (h ^ family) * 16777619u;
	for (i = 0; i < n; i++) {
		for (s = values[i]; *s != '\0'; s++)
			h = (h ^ (unsigned char)*s) * 16777619u;
		h = (h ^ 0xffu) * 16777619u; /* separator: 0xff never occurs in UTF-8 */
	}
	return h;
}

/* series_add - append a series owning values; returns its index */
static size_t
series_add(struct bh_metrics *m, unsigned family, char **values, uint32_t hash)
{
	struct series *s;
	size_t idx = m->n_series;

	if (m->n_series == m->cap_series) {
		m->cap_series = m->cap_series != 0 ? m->cap_series * 2 : 32;
		m->series = bh_reallocarray(m->series, m->cap_series, sizeof(*m->series));
	}
	s = &m->series[m->n_series++];
	s->family = family;
	s->hash = hash;
	s->values = values;
	s->value = 0;
	s->next = m->heads[hash & (m->n_heads - 1)];
	m->heads[hash & (m->n_heads - 1)] = idx;
	return idx;
}

/* values_free - free n cleaned label values and their array */
static void
values_free(char **values, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		free(values[i]);
	free(values);
}

/* series_find - the series of (family, values), created when new; takes values. Call locked. */
static struct series *
series_find(struct bh_metrics *m, unsigned family, char **values)
{
	const struct family *f = &families[family];
	uint32_t h = hash_labels(family, values, f->n_labels);
	size_t idx;
	unsigned i;

	for (idx = m->heads[h & (m->n_heads - 1)]; idx != SIZE_MAX; idx = m->series[idx].next) {
		struct series *s = &m->series[idx];

		if (s->family != family || s->hash != h)
			continue;
		for (i = 0; i < f->n_labels; i++)
			if (strcmp(s->values[i], values[i]) != 0)
				break;
		if (i == f->n_labels) {
			values_free(values, f->n_labels);
			return s;
		}
	}
	if (m->n_labelled < m->max_series) {
		m->n_labelled++;
		idx = series_add(m, family, values, h); /* may move m->series */
		return &m->series[idx];
	}
	values_free(values, f->n_labels);
	if (m->overflow[family] == SIZE_MAX) {
		values = bh_reallocarray(NULL, f->n_labels, sizeof(*values));
		for (i = 0; i < f->n_labels; i++)
			values[i] = bh_strdup(OVERFLOW_VALUE);
		/* Not in a chain that a lookup could match by accident: its hash is of its values,
		 * and a real label set equal to it is itself counted in it. */
		m->overflow[family] =
		    series_add(m, family, values, hash_labels(family, values, f->n_labels));
	}
	return &m->series[m->overflow[family]];
}

/* bh_metrics_add - add n to a counter, labelled or not */
void
bh_metrics_add(struct bh_metrics *m, enum bh_metric which, const char *const *labels, uint64_t n)
{
	const struct family *f;
	char **values;
	unsigned i;

	if (m == NULL)
		return;
	if ((unsigned)which >= BH_M_COUNT)
		bh_fatal("metrics: no counter %d", (int)which);
	f = &families[which];
	if (f->n_labels == 0) {
		lock(m);
		m->plain[which] += n;
		unlock(m);
		return;
	}
	/* Clean outside the lock: the scrape thread should not wait on our string work. */
	values = bh_reallocarray(NULL, f->n_labels, sizeof(*values));
	for (i = 0; i < f->n_labels; i++)
		values[i] = label_clean(labels != NULL ? labels[i] : NULL);
	lock(m);
	series_find(m, which, values)->value += n;
	unlock(m);
}

/* bh_metrics_inc - one more on a counter without labels */
void
bh_metrics_inc(struct bh_metrics *m, enum bh_metric which)
{
	bh_metrics_add(m, which, NULL, 1);
}

/* bh_metrics_bounce - count one recipient verdict */
void
bh_metrics_bounce(struct bh_metrics *m, const char *list, const char *type, const char *reason,
		  const char *outcome)
{
	const char *labels[4] = {list, type, reason, outcome};

	bh_metrics_add(m, BH_M_BOUNCES, labels, 1);
}

/* bh_metrics_loop - count one loop */
void
bh_metrics_loop(struct bh_metrics *m, const char *kind)
{
	bh_metrics_add(m, BH_M_LOOPS, &kind, 1);
}

/* bh_metrics_batch_observe - one batch duration into the histogram */
void
bh_metrics_batch_observe(struct bh_metrics *m, double seconds)
{
	size_t i;

	if (m == NULL || !isfinite(seconds) || seconds < 0)
		return;
	for (i = 0; i < N_BUCKETS; i++)
		if (seconds <= batch_buckets[i].le)
			break;
	lock(m);
	m->hist[i]++;
	m->hist_count++;
	m->hist_sum += seconds;
	unlock(m);
}

/* bh_metrics_last_poll - the time of the last successful poll */
void
bh_metrics_last_poll(struct bh_metrics *m, int64_t when)
{
	if (m == NULL)
		return;
	lock(m);
	m->last_poll = when;
	unlock(m);
}

/* bh_metrics_messages - messages moved to the folder of an outcome */
void
bh_metrics_messages(struct bh_metrics *m, enum bh_metric_folder f, uint64_t n)
{
	if (m == NULL)
		return;
	if ((unsigned)f >= BH_MF_COUNT)
		bh_fatal("metrics: no folder %d", (int)f);
	lock(m);
	m->folders[f] += n;
	unlock(m);
}

/* bh_metrics_store_item - the store's counts for one confirmed message */
void
bh_metrics_store_item(struct bh_metrics *m, unsigned suppressed, unsigned alerts, unsigned held)
{
	if (m == NULL)
		return;
	lock(m);
	m->plain[BH_M_SUPPRESSIONS] += suppressed;
	m->plain[BH_M_ALERTS] += alerts;
	m->plain[BH_M_SUPPRESSIONS_HELD] += held;
	unlock(m);
}

/* bh_metrics_backlog - messages waiting in the mailbox */
void
bh_metrics_backlog(struct bh_metrics *m, uint64_t n)
{
	if (m == NULL)
		return;
	lock(m);
	m->backlog = n;
	unlock(m);
}

/* bh_metrics_lease - working the mailbox or standing by */
void
bh_metrics_lease(struct bh_metrics *m, bool held)
{
	if (m == NULL)
		return;
	lock(m);
	m->lease = held ? 1 : 0;
	unlock(m);
}

/* conn_of - the state of connection c; an unknown one is our bug */
static struct conn *
conn_of(struct bh_metrics *m, enum bh_metric_conn c)
{
	if ((unsigned)c >= BH_CONN_COUNT)
		bh_fatal("metrics: no connection %d", (int)c);
	return &m->conn[c];
}

/* bh_metrics_contact - c answered: up, and a reconnection when it had been lost */
void
bh_metrics_contact(struct bh_metrics *m, enum bh_metric_conn c, int64_t when)
{
	struct conn *k;

	if (m == NULL)
		return;
	lock(m);
	k = conn_of(m, c);
	if (k->lost)
		m->plain[c == BH_CONN_IMAP ? BH_M_IMAP_RECONNECTS : BH_M_REDIS_RECONNECTS]++;
	k->lost = false;
	k->up = true;
	if (when > k->last)
		k->last = when;
	unlock(m);
}

/* bh_metrics_conn_lost - c failed: down, and the next contact is a reconnection */
void
bh_metrics_conn_lost(struct bh_metrics *m, enum bh_metric_conn c)
{
	struct conn *k;

	if (m == NULL)
		return;
	lock(m);
	k = conn_of(m, c);
	k->up = false;
	k->lost = true;
	unlock(m);
}

/* bh_metrics_conn_closed - c closed on purpose: down, and coming back is no reconnection */
void
bh_metrics_conn_closed(struct bh_metrics *m, enum bh_metric_conn c)
{
	if (m == NULL)
		return;
	lock(m);
	conn_of(m, c)->up = false;
	unlock(m);
}

/* bh_metrics_health_window - how old a contact may be before it is stale */
void
bh_metrics_health_window(struct bh_metrics *m, int64_t stale_after_s)
{
	if (m == NULL || stale_after_s <= 0)
		return;
	lock(m);
	m->stale_after = stale_after_s;
	unlock(m);
}

/* bh_metrics_health - healthy when each needed connection is up and heard from recently */
int
bh_metrics_health(struct bh_metrics *m, int64_t now, struct bh_buf *b)
{
	const char *state[BH_CONN_COUNT];
	int64_t last[BH_CONN_COUNT], window;
	bool bad[BH_CONN_COUNT], any = false, first = true;
	unsigned c;

	lock(m);
	window = m->stale_after;
	for (c = 0; c < BH_CONN_COUNT; c++) {
		const struct conn *k = &m->conn[c];

		last[c] = k->last;
		bad[c] = true;
		if (c == BH_CONN_IMAP && m->lease == 0) {
			state[c] = "standby"; /* a standby keeps no IMAP connection */
			bad[c] = false;
		} else if (k->last == 0) {
			state[c] = "never";
		} else if (!k->up) {
			state[c] = "down";
		} else if (now - k->last > window) {
			state[c] = "stale";
		} else {
			state[c] = "up";
			bad[c] = false;
		}
		any = any || bad[c];
	}
	unlock(m);
	bh_buf_printf(b, "{\"status\":\"%s\"", any ? "unhealthy" : "ok");
	if (any) {
		bh_buf_puts(b, ",\"stale\":[");
		for (c = 0; c < BH_CONN_COUNT; c++) {
			if (!bad[c])
				continue;
			bh_buf_printf(b, "%s\"%s\"", first ? "" : ",", conn_names[c]);
			first = false;
		}
		bh_buf_putc(b, ']');
	}
	bh_buf_printf(b, ",\"stale_after_seconds\":%lld", (long long)window);
	for (c = 0; c < BH_CONN_COUNT; c++) {
		bh_buf_printf(b, ",\"%s\":{\"state\":\"%s\",\"last_contact_age_seconds\":",
			      conn_names[c], state[c]);
		if (last[c] == 0)
			bh_buf_puts(b, "null}");
		else
			bh_buf_printf(b, "%lld}", (long long)(now - last[c]));
	}
	bh_buf_puts(b, "}\n");
	return any ? -1 : 0;
}

/* put_escaped - a label value, escaped for the text format */
static void
put_escaped(struct bh_buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			bh_buf_puts(b, "\\\\");
		else if (*s == '"')
			bh_buf_puts(b, "\\\"");
		else if (*s == '\n')
			bh_buf_puts(b, "\\n");
		else
			bh_buf_putc(b, *s);
	}
}

/* put_header - the HELP and TYPE lines of a family */
static void
put_header(struct bh_buf *b, const char *name, const char *help, const char *type)
{
	bh_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* boot_time - the boot time, epoch s: /proc/stat's btime, else from CLOCK_BOOTTIME; -1 */
static double
boot_time(void)
{
	char line[256];
	struct timespec real, boot;
	long long btime;
	FILE *fp;

	if ((fp = fopen("/proc/stat", "r")) != NULL) {
		while (fgets(line, sizeof(line), fp) != NULL) {
			if (sscanf(line, "btime %lld", &btime) == 1) {
				fclose(fp);
				return (double)btime;
			}
		}
		fclose(fp);
	}
#ifdef CLOCK_BOOTTIME
	if (clock_gettime(CLOCK_REALTIME, &real) == 0 && clock_gettime(CLOCK_BOOTTIME, &boot) == 0)
		return (double)real.tv_sec - (double)boot.tv_sec +
		       ((double)real.tv_nsec - (double)boot.tv_nsec) / 1e9;
#endif
	return -1;
}

/* open_fds - the number of open descriptors (entries of /proc/self/fd but the one reading
 * it), -1 when /proc cannot say */
static long
open_fds(void)
{
	struct dirent *de;
	long n = 0;
	DIR *d;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (atoi(de->d_name) != dirfd(d))
			n++;
	}
	closedir(d);
	return n;
}

/* put_process - the process_* metrics from /proc/self, each only when it can be read;
 * created (the registry's birth) stands in for the start time when the boot time is hidden */
static void
put_process(struct bh_buf *b, int64_t created)
{
	char buf[1024];
	unsigned long utime, stime, vsize;
	unsigned long long start;
	long rss, tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE), fds;
	const char *p;
	struct rlimit rl;
	size_t len;
	double boot;
	FILE *fp;

	if ((fp = fopen("/proc/self/stat", "r")) != NULL) {
		len = fread(buf, 1, sizeof(buf) - 1, fp);
		fclose(fp);
		buf[len] = '\0';
		/* the command name may hold spaces and parentheses: fields follow the last ')' */
		p = strrchr(buf, ')');
		if (p != NULL && tck > 0 && page > 0 &&
		    sscanf(p + 1,
			   " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d "
			   "%*d %*d %llu %lu %ld",
			   &utime, &stime, &start, &vsize, &rss) == 5) {
			put_header(b, "process_cpu_seconds_total",
				   "Total user and system CPU time spent in seconds.", "counter");
			bh_buf_printf(b, "process_cpu_seconds_total %.2f\n",
				      (double)(utime + stime) / (double)tck);
			put_header(b, "process_resident_memory_bytes",
				   "Resident memory size in bytes.", "gauge");
			bh_buf_printf(b, "process_resident_memory_bytes %lld\n",
				      (long long)rss * page);
			put_header(b, "process_virtual_memory_bytes",
				   "Virtual memory size in bytes.", "gauge");
			bh_buf_printf(b, "process_virtual_memory_bytes %lu\n", vsize);
			boot = boot_time();
			put_header(b, "process_start_time_seconds",
				   "Start time of the process since unix epoch in seconds.",
				   "gauge");
			if (boot > 0)
				bh_buf_printf(b, "process_start_time_seconds %.2f\n",
					      boot + (double)start / (double)tck);
			else
				bh_buf_printf(b, "process_start_time_seconds %lld\n",
					      (long long)created);
		}
	}
	if ((fds = open_fds()) >= 0) {
		put_header(b, "process_open_fds", "Number of open file descriptors.", "gauge");
		bh_buf_printf(b, "process_open_fds %ld\n", fds);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		put_header(b, "process_max_fds", "Maximum number of open file descriptors.",
			   "gauge");
		if (rl.rlim_cur == RLIM_INFINITY)
			bh_buf_puts(b, "process_max_fds +Inf\n");
		else
			bh_buf_printf(b, "process_max_fds %llu\n", (unsigned long long)rl.rlim_cur);
	}
}

/* bh_metrics_render - the exposition text of the whole registry */
void
bh_metrics_render(struct bh_metrics *m, struct bh_buf *b)
{
	unsigned fam, i;
	size_t idx;
	uint64_t cum;
	int64_t created;

	lock(m);
	for (fam = 0; fam < BH_M_COUNT; fam++) {
		const struct family *f = &families[fam];

		put_header(b, f->name, f->help, "counter");
		if (f->n_labels == 0) {
			bh_buf_printf(b, "%s %llu\n", f->name, (unsigned long long)m->plain[fam]);
			continue;
		}
		for (idx = 0; idx < m->n_series; idx++) {
			const struct series *s = &m->series[idx];

			if (s->family != fam)
				continue;
			bh_buf_puts(b, f->name);
			for (i = 0; i < f->n_labels; i++) {
				bh_buf_printf(b, "%c%s=\"", i == 0 ? '{' : ',', f->labels[i]);
				put_escaped(b, s->values[i]);
				bh_buf_putc(b, '"');
			}
			bh_buf_printf(b, "} %llu\n", (unsigned long long)s->value);
		}
	}
	put_header(b, "bouncer_batch_seconds", "Time to handle one batch of messages.",
		   "histogram");
	for (i = 0, cum = 0; i < N_BUCKETS; i++) {
		cum += m->hist[i];
		bh_buf_printf(b, "bouncer_batch_seconds_bucket{le=\"%s\"} %llu\n",
			      batch_buckets[i].text, (unsigned long long)cum);
	}
	bh_buf_printf(b, "bouncer_batch_seconds_bucket{le=\"+Inf\"} %llu\n",
		      (unsigned long long)m->hist_count);
	bh_buf_printf(b, "bouncer_batch_seconds_sum %.9g\n", m->hist_sum);
	bh_buf_printf(b, "bouncer_batch_seconds_count %llu\n", (unsigned long long)m->hist_count);
	put_header(b, "bouncer_last_poll_timestamp_seconds",
		   "Time of the last successful mailbox poll, seconds since the epoch.", "gauge");
	bh_buf_printf(b, "bouncer_last_poll_timestamp_seconds %lld\n", (long long)m->last_poll);
	put_header(b, "bouncer_messages_total",
		   "Messages moved out of the mailbox, by the outcome folder they went to.",
		   "counter");
	for (i = 0; i < BH_MF_COUNT; i++)
		bh_buf_printf(b, "bouncer_messages_total{outcome=\"%s\"} %llu\n", folder_names[i],
			      (unsigned long long)m->folders[i]);
	put_header(b, "bouncer_mailbox_backlog_messages",
		   "Messages waiting in the mailbox at the last search.", "gauge");
	bh_buf_printf(b, "bouncer_mailbox_backlog_messages %llu\n", (unsigned long long)m->backlog);
	put_header(b, "bouncer_lease_held",
		   "1 while this worker works the mailbox (holds its lease, or leases are off), "
		   "0 while it stands by.",
		   "gauge");
	bh_buf_printf(b, "bouncer_lease_held %d\n", m->lease == 1 ? 1 : 0);
	for (i = 0; i < BH_CONN_COUNT; i++) {
		char name[64], help[128];

		snprintf(name, sizeof(name), "bouncer_%s_up", conn_names[i]);
		snprintf(help, sizeof(help), "1 when the last %s command succeeded, else 0.",
			 i == BH_CONN_IMAP ? "IMAP" : "Redis");
		put_header(b, name, help, "gauge");
		bh_buf_printf(b, "%s %d\n", name, m->conn[i].up ? 1 : 0);
		snprintf(name, sizeof(name), "bouncer_%s_last_contact_timestamp_seconds",
			 conn_names[i]);
		snprintf(help, sizeof(help),
			 "Time of the last successful %s command, seconds since the epoch.",
			 i == BH_CONN_IMAP ? "IMAP" : "Redis");
		put_header(b, name, help, "gauge");
		bh_buf_printf(b, "%s %lld\n", name, (long long)m->conn[i].last);
	}
	created = m->created;
	unlock(m);
	put_header(b, "bouncer_build_info", "Always 1; the version label says which build runs.",
		   "gauge");
	bh_buf_puts(b, "bouncer_build_info{version=\"");
	put_escaped(b, BH_VERSION);
	bh_buf_puts(b, "\"} 1\n");
	put_process(b, created);
}

/* bh_metrics_port - the port being served */
int
bh_metrics_port(const struct bh_metrics *m)
{
	return m != NULL ? m->port : 0;
}

#ifdef BH_HAVE_MHD

/* parse_listen - "IPv4:PORT" or "[IPv6]:PORT" into a socket address */
static int
parse_listen(const char *listen, struct sockaddr_storage *ss, bool *v6_r, const char **error_r)
{
	char host[INET6_ADDRSTRLEN];
	const char *colon, *hs, *he;
	long long port;
	const char *err;

	memset(ss, 0, sizeof(*ss));
	if (listen[0] == '[') {
		hs = listen + 1;
		he = strchr(hs, ']');
		if (he == NULL || he[1] != ':') {
			*error_r = "metrics_listen: expected [IPv6]:PORT";
			return -1;
		}
		colon = he + 1;
	} else {
		hs = listen;
		colon = strrchr(listen, ':');
		if (colon == NULL) {
			*error_r = "metrics_listen: expected ADDRESS:PORT";
			return -1;
		}
		he = colon;
	}
	if ((size_t)(he - hs) >= sizeof(host) || he == hs) {
		*error_r = "metrics_listen: bad address";
		return -1;
	}
	memcpy(host, hs, (size_t)(he - hs));
	host[he - hs] = '\0';
	if (bh_strtonum(colon + 1, 0, 65535, &port, &err) == -1) {
		*error_r = "metrics_listen: bad port";
		return -1;
	}
	if (listen[0] == '[') {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
			*error_r = "metrics_listen: bad IPv6 address";
			return -1;
		}
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*v6_r = true;
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
			*error_r = "metrics_listen: bad IPv4 address (numeric only)";
			return -1;
		}
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*v6_r = false;
	}
	return 0;
}

/* reply - queue a response of type ctype (NULL: plain text) */
static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned status, char *body, size_t len, bool must_free,
      const char *ctype)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(
	    len, body, must_free ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (r == NULL) {
		if (must_free)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				ctype != NULL ? ctype : "text/plain; charset=utf-8");
	if (status == MHD_HTTP_SERVICE_UNAVAILABLE || ctype != NULL)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* serve - the request handler, run in libmicrohttpd's thread */
static enum MHD_Result
serve(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
      const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	static char not_found[] = "not found; try /metrics or /healthz\n";
	static char not_allowed[] = "method not allowed\n";
	struct bh_metrics *m = cls;
	struct bh_buf b;
	unsigned status;
	size_t len;

	(void)version, (void)upload_data, (void)con_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, not_allowed,
			     sizeof(not_allowed) - 1, false, NULL);
	/* A GET body is never read; a client that sends one gets the answer anyway. */
	*upload_data_size = 0;
	if (strcmp(url, "/healthz") == 0) {
		bh_buf_init(&b);
		status = bh_metrics_health(m, bh_now(), &b) == 0 ? MHD_HTTP_OK
								 : MHD_HTTP_SERVICE_UNAVAILABLE;
		len = b.len;
		return reply(conn, status, bh_buf_steal(&b), len, true, "application/json");
	}
	if (strcmp(url, "/metrics") != 0)
		return reply(conn, MHD_HTTP_NOT_FOUND, not_found, sizeof(not_found) - 1, false,
			     NULL);
	bh_buf_init(&b);
	bh_metrics_render(m, &b);
	len = b.len;
	return reply(conn, MHD_HTTP_OK, bh_buf_steal(&b), len, true,
		     "text/plain; version=0.0.4; charset=utf-8");
}

/* bh_metrics_start - serve the registry over HTTP */
int
bh_metrics_start(struct bh_metrics *m, const char *listen, const char **error_r)
{
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD;
	sigset_t all, old;
	bool v6;

	if (m->daemon != NULL) {
		*error_r = "metrics: already started";
		return -1;
	}
	if (listen == NULL || parse_listen(listen, &ss, &v6, error_r) == -1) {
		if (listen == NULL)
			*error_r = "metrics_listen: not set";
		return -1;
	}
	if (v6)
		flags |= MHD_USE_IPv6;
	/* The server thread inherits our signal mask: block everything while it is created, so
	 * that SIGTERM, SIGHUP and friends always reach the worker's thread, never this one. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	m->daemon = MHD_start_daemon(flags, 0, NULL, NULL, serve, m, MHD_OPTION_SOCK_ADDR, &ss,
				     MHD_OPTION_CONNECTION_LIMIT, (unsigned)16,
				     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (m->daemon == NULL) {
		*error_r =
		    "metrics: cannot listen on metrics_listen (address in use or not local?)";
		return -1;
	}
	info = MHD_get_daemon_info(m->daemon, MHD_DAEMON_INFO_BIND_PORT);
	m->port = info != NULL ? info->port : 0;
	return 0;
}

#else /* !BH_HAVE_MHD */

/* bh_metrics_start - without libmicrohttpd there is nothing to serve with */
int
bh_metrics_start(struct bh_metrics *m, const char *listen, const char **error_r)
{
	(void)m, (void)listen;
	*error_r = "metrics: built without libmicrohttpd";
	return -1;
}

#endif

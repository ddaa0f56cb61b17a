/*
 * cmd_ops.c - the operator's view of the suppression state: `bouncer suppression
 * check|show|list|add|remove|export`, `bouncer explain`, `bouncer events tail`, `bouncer stats`.
 *
 * Thin edge over store.h: parse arguments, load the configuration (bh_config_open: -c FILE,
 * then the BOUNCER_REDIS_* overrides, as every command does), call the store, print. Human-readable
 * output by default, JSON with --json. Everything read from Redis was written by bouncer from
 * untrusted mail: it is printed through bh_printable (human) or JSON escaping, never raw.
 */
#include <errno.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "cli.h"
#include "config.h"
#include "reason.h"
#include "store.h"
#include "util.h"

/* Options shared by every ops command. */
struct ops_opts {
	const char *config;
	const char *list;
	const char *reason;
	const char *why;
	const char *format;
	int64_t since;
	int64_t duration;
	long long n;
	bool json;
	bool follow;
	bool help;
	bool recount;
	const char *pos[4]; /* positional arguments */
	size_t n_pos;
};

/* Loaded configuration and store. */
struct ops_ctx {
	struct bh_config *cfg;
	struct bh_store *store;
};

static volatile sig_atomic_t stop_follow;

/* on_signal - end `events tail -f` cleanly */
static void
on_signal(int sig)
{
	(void)sig;
	stop_follow = 1;
}

/* fmt_time - epoch seconds as ISO 8601 UTC ("-" for 0) into buf */
static const char *
fmt_time(int64_t t, char *buf, size_t size)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t <= 0 || gmtime_r(&tt, &tm) == NULL) {
		snprintf(buf, size, "-");
		return buf;
	}
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

/* parse_duration - "45s", "30m", "12h", "15d", "2w" or plain seconds; -1 when invalid */
static int64_t
parse_duration(const char *s)
{
	char num[32];
	size_t n = strlen(s);
	int64_t mult = 1;
	long long v;
	const char *e;

	if (n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, s, n + 1);
	switch (num[n - 1]) {
	case 's': mult = 1; break;
	case 'm': mult = 60; break;
	case 'h': mult = 3600; break;
	case 'd': mult = 86400; break;
	case 'w': mult = 7 * 86400; break;
	default: mult = 0; break;
	}
	if (mult != 0)
		num[n - 1] = '\0';
	else
		mult = 1;
	if (bh_strtonum(num, 0, (1LL << 40), &v, &e) == -1)
		return -1;
	return (int64_t)v * mult;
}

/* parse_since - a duration back from now ("2h"), epoch seconds, or a UTC date
 * "YYYY-MM-DD" / "YYYY-MM-DDTHH:MM:SSZ"; -1 when invalid */
static int64_t
parse_since(const char *s)
{
	struct tm tm;
	const char *end;
	long long v;
	const char *e;
	int64_t d;

	if (bh_strtonum(s, 0, (1LL << 40), &v, &e) == 0)
		return (int64_t)v;
	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm)) != NULL && *end == '\0')
		return (int64_t)timegm(&tm);
	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(s, "%Y-%m-%d", &tm)) != NULL && *end == '\0')
		return (int64_t)timegm(&tm);
	if ((d = parse_duration(s)) >= 0)
		return bh_now() - d;
	return -1;
}

/* parse_opts - options anywhere among the arguments; 0, or -1 after printing why */
static int
parse_opts(int argc, char **argv, int first, struct ops_opts *o)
{
	int i;
	const char *e;
	bool dashdash = false;

	memset(o, 0, sizeof(*o));
	o->n = -1;
	for (i = first; i < argc; i++) {
		const char *a = argv[i];
		bool more = i + 1 < argc;

		if (strcmp(a, "--") == 0 && !dashdash) {
			dashdash = true; /* what follows is positional, even "-x" */
		} else if (dashdash || a[0] != '-' || a[1] == '\0') {
			if (o->n_pos == BH_NELEM(o->pos)) {
				fprintf(stderr, "bouncer: too many arguments\n");
				return -1;
			}
			o->pos[o->n_pos++] = a;
		} else if ((strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) && more) {
			o->config = argv[++i];
		} else if (strncmp(a, "--config=", 9) == 0) {
			o->config = a + 9;
		} else if (strcmp(a, "--list") == 0 && more) {
			o->list = argv[++i];
		} else if (strcmp(a, "--reason") == 0 && more) {
			o->reason = argv[++i];
		} else if (strcmp(a, "--why") == 0 && more) {
			o->why = argv[++i];
		} else if (strcmp(a, "--format") == 0 && more) {
			o->format = argv[++i];
		} else if (strcmp(a, "--since") == 0 && more) {
			if ((o->since = parse_since(argv[++i])) < 0) {
				fprintf(stderr,
					"bouncer: --since %s: expected a duration (2h, 7d), "
					"epoch seconds or YYYY-MM-DD[THH:MM:SSZ]\n",
					argv[i]);
				return -1;
			}
		} else if (strcmp(a, "--for") == 0 && more) {
			if ((o->duration = parse_duration(argv[++i])) <= 0) {
				fprintf(stderr,
					"bouncer: --for %s: expected a duration (45s, 30m, 12h, "
					"15d, 2w)\n",
					argv[i]);
				return -1;
			}
		} else if (strcmp(a, "-n") == 0 && more) {
			if (bh_strtonum(argv[++i], 1, 100000, &o->n, &e) == -1) {
				fprintf(stderr, "bouncer: -n %s: %s\n", argv[i], e);
				return -1;
			}
		} else if (strcmp(a, "--json") == 0) {
			o->json = true;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			o->help = true;
		} else if (strcmp(a, "-f") == 0 || strcmp(a, "--follow") == 0) {
			o->follow = true;
		} else if (strcmp(a, "--recount") == 0) {
			o->recount = true;
		} else {
			fprintf(stderr, "bouncer: unknown option '%s'\n", a);
			return -1;
		}
	}
	return 0;
}

/* ops_open - load the configuration and make a store; an exit status on failure, else 0 */
static int
ops_open(const struct ops_opts *o, struct ops_ctx *c)
{
	struct bh_config_diags diags = {NULL, 0};
	const char *error = NULL;
	size_t i;

	memset(c, 0, sizeof(*c));
	c->cfg = bh_config_open(o->config, &diags);
	if (c->cfg == NULL) {
		for (i = 0; i < diags.n; i++) {
			const struct bh_config_diag *d = &diags.v[i];

			if (d->line == 0)
				fprintf(stderr, "%s: %s\n", d->file, d->message);
			else
				fprintf(stderr, "%s:%u:%u: %s\n", d->file, d->line, d->column,
					d->message);
		}
		bh_config_diags_deinit(&diags);
		return BH_EX_CONFIG;
	}
	bh_config_diags_deinit(&diags);
	c->store = bh_store_new(c->cfg, NULL, &error);
	if (c->store == NULL) {
		fprintf(stderr, "bouncer: %s\n", error);
		bh_config_free(&c->cfg);
		return BH_EX_CONFIG;
	}
	return 0;
}

/* ops_close - free what ops_open made (store, then configuration) */
static void
ops_close(struct ops_ctx *c)
{
	bh_store_free(&c->store);
	bh_config_free(&c->cfg);
}

/* redis_fail - report a store error; the exit status */
static int
redis_fail(const char *what, const char *error)
{
	fprintf(stderr, "bouncer: %s: %s\n", what, error != NULL ? error : "failed");
	return BH_EX_UNAVAIL;
}

/* ops_address - an operator's ADDRESS through the one address grammar (bh_addr_normalize):
 * 0 with *key_r (the caller frees), or EX_DATAERR after printing why */
static int
ops_address(const char *in, char **key_r)
{
	const char *error = NULL;

	if (bh_addr_normalize(in, strlen(in), key_r, &error) == -1) {
		char *shown = bh_printable(in, strlen(in), 200);

		fprintf(stderr, "bouncer: invalid address '%s': %s\n", shown, error);
		free(shown);
		return BH_EX_DATAERR;
	}
	return 0;
}

/* p - an untrusted string fit for a terminal (the caller frees) */
static char *
p(const char *s)
{
	static int utf8 = -1;

	if (s == NULL || s[0] == '\0')
		return bh_strdup("-");
	if (utf8 == -1)
		utf8 = bh_locale_utf8();
	return utf8 ? bh_printable_utf8(s, strlen(s), 400) : bh_printable(s, strlen(s), 400);
}

/* sup_json - one suppression as a JSON object */
static void
sup_json(struct bh_buf *b, const struct bh_suppression *s)
{
	char t1[32], t2[32], t3[32];

	bh_buf_puts(b, "{\"address\":");
	bh_json_cstr(b, s->address);
	bh_buf_puts(b, ",\"list\":");
	bh_json_cstr(b, s->list);
	bh_buf_puts(b, ",\"scope\":");
	bh_json_cstr(b, s->list != NULL ? "list" : "global");
	bh_buf_puts(b, ",\"reason\":");
	bh_json_cstr(b, s->reason);
	bh_buf_puts(b, ",\"class\":");
	bh_json_cstr(b, s->class_);
	bh_buf_puts(b, ",\"source\":");
	bh_json_cstr(b, s->source);
	bh_buf_puts(b, ",\"why\":");
	bh_json_cstr(b, s->why);
	bh_buf_printf(b, ",\"count\":%lld,\"first_seen\":", (long long)s->count);
	bh_json_cstr(b, fmt_time(s->first_seen, t1, sizeof(t1)));
	bh_buf_puts(b, ",\"last_seen\":");
	bh_json_cstr(b, fmt_time(s->last_seen, t2, sizeof(t2)));
	bh_buf_puts(b, ",\"expires\":");
	if (s->expires > 0)
		bh_json_cstr(b, fmt_time(s->expires, t3, sizeof(t3)));
	else
		bh_buf_puts(b, "null");
	bh_buf_puts(b, ",\"message_id\":");
	bh_json_cstr(b, s->message_id);
	bh_buf_puts(b, ",\"stable_id\":");
	bh_json_cstr(b, s->stable_id);
	bh_buf_puts(b, ",\"status\":");
	bh_json_cstr(b, s->status);
	bh_buf_puts(b, ",\"rule\":");
	bh_json_cstr(b, s->rule);
	bh_buf_puts(b, ",\"event\":");
	bh_json_cstr(b, s->event_id);
	bh_buf_putc(b, '}');
}

/* sup_human - one suppression as an indented block */
static void
sup_human(FILE *fp, const struct bh_suppression *s)
{
	char t1[32], t2[32], t3[32];
	char *why = p(s->why), *mid = p(s->message_id), *addr = p(s->address), *list = p(s->list);

	fprintf(fp, "%s %s%s: %s (%s, %s)\n", addr, s->list != NULL ? "in list " : "globally",
		s->list != NULL ? list : "", s->reason != NULL ? s->reason : "-",
		s->class_ != NULL ? s->class_ : "-", s->source != NULL ? s->source : "-");
	fprintf(fp, "  first seen %s, last seen %s, %lld time%s, expires %s\n",
		fmt_time(s->first_seen, t1, sizeof(t1)), fmt_time(s->last_seen, t2, sizeof(t2)),
		(long long)s->count, s->count == 1 ? "" : "s",
		s->expires > 0 ? fmt_time(s->expires, t3, sizeof(t3)) : "never");
	fprintf(fp, "  why: %s\n", why);
	if (s->message_id != NULL && s->message_id[0] != '\0')
		fprintf(fp, "  bounce: %s status %s rule %s (event %s)\n", mid,
			s->status != NULL && s->status[0] != '\0' ? s->status : "-",
			s->rule != NULL && s->rule[0] != '\0' ? s->rule : "-",
			s->event_id != NULL ? s->event_id : "-");
	free(why);
	free(mid);
	free(addr);
	free(list);
}

/* event_time - the time of a stream id ("1700000000123-0") */
static int64_t
event_time(const char *id)
{
	return (int64_t)(strtoll(id, NULL, 10) / 1000);
}

/* event_json - an event as one JSON object: id, time, then its fields */
static void
event_json(struct bh_buf *b, const struct bh_store_event *ev)
{
	char t[32];
	size_t i;

	bh_buf_puts(b, "{\"id\":");
	bh_json_cstr(b, ev->id);
	bh_buf_puts(b, ",\"time\":");
	bh_json_cstr(b, fmt_time(event_time(ev->id), t, sizeof(t)));
	for (i = 0; i < ev->n; i++) {
		if (strcmp(ev->kv[2 * i], "id") == 0 || strcmp(ev->kv[2 * i], "time") == 0)
			continue;
		bh_buf_putc(b, ',');
		bh_json_cstr(b, ev->kv[2 * i]);
		bh_buf_putc(b, ':');
		bh_json_cstr(b, ev->kv[2 * i + 1]);
	}
	bh_buf_putc(b, '}');
}

/* ev_field - a printable field of an event ("-" when absent); the caller frees */
static char *
ev_field(const struct bh_store_event *ev, const char *name)
{
	return p(bh_store_event_get(ev, name));
}

/* event_human - an event as one line plus its evidence line */
static void
event_human(FILE *fp, const struct bh_store_event *ev)
{
	static const char *const head[] = {"kind",   "address", "list",
					   "reason", "outcome", "result"};
	static const char *const evidence[] = {
	    "status",	     "reply_code", "rule",   "rules_version", "message_id",
	    "reporting_mta", "stable_id",  "folder", "uid",	      "loop",
	    "why",	     "alert",	   "domain", "count",	      "cause"};
	char t[32], *v;
	size_t i;

	fprintf(fp, "%s %s", fmt_time(event_time(ev->id), t, sizeof(t)), ev->id);
	for (i = 0; i < BH_NELEM(head); i++) {
		if (bh_store_event_get(ev, head[i]) == NULL)
			continue;
		v = ev_field(ev, head[i]);
		fprintf(fp, " %s=%s", head[i], v);
		free(v);
	}
	fputc('\n', fp);
	fputs("   ", fp);
	for (i = 0; i < BH_NELEM(evidence); i++) {
		const char *raw = bh_store_event_get(ev, evidence[i]);

		if (raw == NULL || raw[0] == '\0')
			continue;
		v = p(raw);
		fprintf(fp, " %s=%s", evidence[i], v);
		free(v);
	}
	fputc('\n', fp);
	if (bh_store_event_get(ev, "diagnostic") != NULL &&
	    bh_store_event_get(ev, "diagnostic")[0] != '\0') {
		v = ev_field(ev, "diagnostic");
		fprintf(fp, "    diagnostic: %s\n", v);
		free(v);
	}
}

/* ---- suppression ---- */

static const char sup_synopsis[] =
    "usage: bouncer suppression check ADDRESS [LIST] [--list L] [--json] [-c FILE]\n"
    "       bouncer suppression show ADDRESS [--json]\n"
    "       bouncer suppression list [--list L|-] [--reason R] [--since T] [--json]\n"
    "       bouncer suppression add ADDRESS [--list L] --why TEXT [--for DURATION]\n"
    "       bouncer suppression remove ADDRESS [--list L] --why TEXT\n"
    "       bouncer suppression export --format csv|jsonl [--list L] [--reason R] "
    "[--since T]\n"
    "       bouncer suppression import --format csv|jsonl [--list L] [--why TEXT] "
    "[--for DURATION] FILE\n"
    "ADDRESS is an addr-spec, optionally in <>; it is normalized before use.\n";

/* sup_usage - print the synopsis of `suppression` on stderr; returns BH_EX_USAGE */
static int
sup_usage(void)
{
	fputs(sup_synopsis, stderr);
	return BH_EX_USAGE;
}

/* sup_help - the synopsis on stdout, asked for: exit 0 */
static int
sup_help(void)
{
	fputs(sup_synopsis, stdout);
	return BH_EX_OK;
}

/* cmd_check - exit 0 when suppressed, 1 when not */
static int
cmd_check(struct ops_ctx *c, const struct ops_opts *o)
{
	struct bh_suppression sup;
	const char *list = o->list != NULL ? o->list : (o->n_pos > 1 ? o->pos[1] : NULL);
	const char *error = NULL;
	struct bh_buf b;
	int rc;

	rc = bh_store_check(c->store, o->pos[0], list, &sup, &error);
	if (rc == -1)
		return redis_fail("suppression check", error);
	bh_buf_init(&b);
	if (o->json) {
		bh_buf_puts(&b, "{\"address\":");
		bh_json_cstr(&b, o->pos[0]);
		bh_buf_puts(&b, ",\"list\":");
		bh_json_cstr(&b, list);
		bh_buf_printf(&b,
			      ",\"suppressed\":%s,\"suppression\":", rc == 1 ? "true" : "false");
		if (rc == 1)
			sup_json(&b, &sup);
		else
			bh_buf_puts(&b, "null");
		bh_buf_puts(&b, "}\n");
		fputs(b.data, stdout);
	} else if (rc == 1) {
		printf("suppressed: ");
		sup_human(stdout, &sup);
	} else {
		char *a = p(o->pos[0]), *l = p(list);

		printf("not suppressed: %s %s%s\n", a, list != NULL ? "in list " : "globally",
		       list != NULL ? l : "");
		free(a);
		free(l);
	}
	bh_buf_deinit(&b);
	if (rc == 1)
		bh_suppression_deinit(&sup);
	return rc == 1 ? BH_EX_OK : BH_EX_FAIL;
}

/* cmd_show - every suppression of an address */
static int
cmd_show(struct ops_ctx *c, const struct ops_opts *o)
{
	struct bh_suppression *v;
	const char *error = NULL;
	struct bh_buf b;
	size_t n, i;

	if (bh_store_show(c->store, o->pos[0], &v, &n, &error) == -1)
		return redis_fail("suppression show", error);
	bh_buf_init(&b);
	if (o->json) {
		bh_buf_puts(&b, "{\"address\":");
		bh_json_cstr(&b, o->pos[0]);
		bh_buf_puts(&b, ",\"suppressions\":[");
		for (i = 0; i < n; i++) {
			if (i > 0)
				bh_buf_putc(&b, ',');
			sup_json(&b, &v[i]);
		}
		bh_buf_puts(&b, "]}\n");
		fputs(b.data, stdout);
	} else if (n == 0) {
		char *a = p(o->pos[0]);

		printf("%s: no suppression\n", a);
		free(a);
	} else {
		for (i = 0; i < n; i++)
			sup_human(stdout, &v[i]);
	}
	for (i = 0; i < n; i++)
		bh_suppression_deinit(&v[i]);
	free(v);
	bh_buf_deinit(&b);
	return BH_EX_OK;
}

/* What suppression list / export print per row. */
struct list_out {
	enum { OUT_TABLE, OUT_JSONL, OUT_CSV } mode;
	size_t n;
};

/* csv_field - RFC 4180: quoted when it holds a comma, quote or line break */
static void
csv_field(struct bh_buf *b, const char *s)
{
	if (s == NULL)
		s = "";
	if (strpbrk(s, ",\"\r\n") == NULL) {
		bh_buf_puts(b, s);
		return;
	}
	bh_buf_putc(b, '"');
	for (; *s != '\0'; s++) {
		if (*s == '"')
			bh_buf_putc(b, '"');
		bh_buf_putc(b, *s);
	}
	bh_buf_putc(b, '"');
}

/* list_row - print one suppression in the chosen form */
static int
list_row(const struct bh_suppression *s, void *ctx)
{
	struct list_out *lo = ctx;
	struct bh_buf b;
	char t1[32], t2[32], t3[32];

	bh_buf_init(&b);
	if (lo->mode == OUT_JSONL) {
		sup_json(&b, s);
		bh_buf_putc(&b, '\n');
	} else if (lo->mode == OUT_CSV) {
		char cnt[32];

		snprintf(cnt, sizeof(cnt), "%lld", (long long)s->count);
		csv_field(&b, s->address);
		bh_buf_putc(&b, ',');
		csv_field(&b, s->list);
		bh_buf_putc(&b, ',');
		csv_field(&b, s->reason);
		bh_buf_putc(&b, ',');
		csv_field(&b, s->class_);
		bh_buf_putc(&b, ',');
		csv_field(&b, s->source);
		bh_buf_putc(&b, ',');
		csv_field(&b, cnt);
		bh_buf_putc(&b, ',');
		csv_field(&b, fmt_time(s->first_seen, t1, sizeof(t1)));
		bh_buf_putc(&b, ',');
		csv_field(&b, fmt_time(s->last_seen, t2, sizeof(t2)));
		bh_buf_putc(&b, ',');
		csv_field(&b, s->expires > 0 ? fmt_time(s->expires, t3, sizeof(t3)) : "");
		bh_buf_putc(&b, ',');
		csv_field(&b, s->why);
		bh_buf_putc(&b, ',');
		csv_field(&b, s->message_id);
		bh_buf_putc(&b, ',');
		csv_field(&b, s->status);
		bh_buf_putc(&b, ',');
		csv_field(&b, s->rule);
		bh_buf_puts(&b, "\r\n");
	} else {
		char *a = p(s->address), *l = p(s->list);

		bh_buf_printf(&b, "%-40s %-16s %-16s %-9s %5lld %-20s %s\n", a,
			      s->list != NULL ? l : "(global)", s->reason != NULL ? s->reason : "-",
			      s->class_ != NULL ? s->class_ : "-", (long long)s->count,
			      fmt_time(s->last_seen, t2, sizeof(t2)),
			      s->expires > 0 ? fmt_time(s->expires, t3, sizeof(t3)) : "never");
		free(a);
		free(l);
	}
	fwrite(b.data, 1, b.len, stdout);
	bh_buf_deinit(&b);
	lo->n++;
	return 0;
}

/* cmd_list - list (or export) the suppressions that match */
static int
cmd_list(struct ops_ctx *c, const struct ops_opts *o, bool export)
{
	struct bh_store_filter f = {o->list, o->reason, o->since};
	struct list_out lo = {OUT_TABLE, 0};
	const char *error = NULL;

	if (export) {
		if (o->format != NULL && strcmp(o->format, "csv") == 0)
			lo.mode = OUT_CSV;
		else if (o->format != NULL && strcmp(o->format, "jsonl") == 0)
			lo.mode = OUT_JSONL;
		else
			return sup_usage();
	} else if (o->json) {
		lo.mode = OUT_JSONL;
	}
	if (lo.mode == OUT_CSV)
		fputs("address,list,reason,class,source,count,first_seen,last_seen,expires,why,"
		      "message_id,status,rule\r\n",
		      stdout);
	else if (lo.mode == OUT_TABLE)
		printf("%-40s %-16s %-16s %-9s %5s %-20s %s\n", "ADDRESS", "LIST", "REASON",
		       "CLASS", "COUNT", "LAST SEEN", "EXPIRES");
	if (bh_store_list(c->store, &f, list_row, &lo, &error) == -1)
		return redis_fail("suppression list", error);
	if (lo.mode == OUT_TABLE)
		printf("%zu suppression%s\n", lo.n, lo.n == 1 ? "" : "s");
	return fflush(stdout) == 0 ? BH_EX_OK : BH_EX_FAIL;
}

/* cmd_change - add or remove by hand */
static int
cmd_change(struct ops_ctx *c, const struct ops_opts *o, bool add)
{
	const char *error = NULL,
		   *list = o->list != NULL ? o->list : (o->n_pos > 1 ? o->pos[1] : NULL);
	char *a = p(o->pos[0]), *l = p(list);
	int rc;

	if (o->why == NULL || o->why[0] == '\0') {
		fprintf(stderr,
			"bouncer: suppression %s: --why TEXT is required (it goes into the "
			"audit event)\n",
			add ? "add" : "remove");
		free(a);
		free(l);
		return BH_EX_USAGE;
	}
	if (add)
		rc = bh_store_add(c->store, o->pos[0], list, o->why, o->duration, &error);
	else
		rc = bh_store_remove(c->store, o->pos[0], list, o->why, &error);
	if (rc == -1) {
		free(a);
		free(l);
		return redis_fail(add ? "suppression add" : "suppression remove", error);
	}
	if (o->json) {
		struct bh_buf b;

		bh_buf_init(&b);
		bh_buf_puts(&b, "{\"address\":");
		bh_json_cstr(&b, o->pos[0]);
		bh_buf_puts(&b, ",\"list\":");
		bh_json_cstr(&b, list);
		bh_buf_printf(&b, ",\"action\":\"%s\",\"changed\":%s}\n", add ? "add" : "remove",
			      rc == 1 || add ? "true" : "false");
		fputs(b.data, stdout);
		bh_buf_deinit(&b);
	} else if (add)
		printf("suppressed %s %s%s%s\n", a, list != NULL ? "in list " : "globally",
		       list != NULL ? l : "", o->duration > 0 ? " (time-limited)" : "");
	else
		printf("%s %s %s%s\n", rc == 1 ? "removed" : "was not suppressed:", a,
		       list != NULL ? "in list " : "globally", list != NULL ? l : "");
	free(a);
	free(l);
	return BH_EX_OK;
}

/* ---- import ---- */

#define IMPORT_FIELD_MAX   65536 /* octets of one CSV field or JSON line */
#define IMPORT_REFUSED_MAX 10000 /* refused lines listed in the JSON summary */

/* One line (CSV record or JSON line) of an imported list; strings borrowed, NULL: absent. */
struct import_row {
	const char *address, *list, *why, *reason, *expires;
};

/* What an import did. */
struct import_sum {
	size_t lines, imported, existing, expired, refused;
	struct bh_buf refused_json; /* [{"line":N,"input":...,"error":...},...] without brackets */
	bool stopped;		    /* Redis failed: the rest was not read */
	const char *error;
};

/* csv_record - one RFC 4180 record from fp into fields (each a malloc'd string); *line is the
 * physical line the record starts on (counted on from *next). 1 a record, 0 end of file, -1 a
 * malformed record (*why_r: unterminated quote, field too long); fields are freed by the
 * caller in every case. */
static int
csv_record(FILE *fp, unsigned *next, unsigned *line, char ***fields, size_t *n, const char **why_r)
{
	struct bh_buf f;
	bool quoted = false, any = false, bad = false;
	int ch;

	*fields = NULL;
	*n = 0;
	*line = *next;
	bh_buf_init(&f);
	for (;;) {
		ch = getc(fp);
		if (ch == EOF) {
			if (quoted && !bad) {
				*why_r = "unterminated quoted field";
				bad = true;
			}
			if (!any && f.len == 0 && *n == 0) {
				bh_buf_deinit(&f);
				return bad ? -1 : 0;
			}
			break;
		}
		any = true;
		if (quoted) {
			if (ch == '\n')
				(*next)++;
			if (ch == '"') {
				int c2 = getc(fp);

				if (c2 != '"') {
					quoted = false;
					if (c2 != EOF)
						ungetc(c2, fp);
					continue;
				}
			}
		} else if (ch == '"' && f.len == 0) {
			quoted = true;
			continue;
		} else if (ch == ',' || ch == '\n') {
			*fields = bh_reallocarray(*fields, *n + 1, sizeof(char *));
			(*fields)[(*n)++] = bh_buf_steal(&f);
			bh_buf_init(&f);
			if (ch == '\n') {
				(*next)++;
				bh_buf_deinit(&f);
				/* a CR before the LF ends the last field, not part of it */
				if ((*fields)[*n - 1][0] != '\0') {
					char *l = (*fields)[*n - 1];
					size_t ll = strlen(l);

					if (l[ll - 1] == '\r')
						l[ll - 1] = '\0';
				}
				return bad ? -1 : 1;
			}
			continue;
		}
		if (f.len >= IMPORT_FIELD_MAX) {
			if (!bad)
				*why_r = "field too long";
			bad = true;
			continue;
		}
		bh_buf_putc(&f, (char)ch);
	}
	*fields = bh_reallocarray(*fields, *n + 1, sizeof(char *));
	(*fields)[(*n)++] = bh_buf_steal(&f);
	if (strlen((*fields)[*n - 1]) > 0 &&
	    (*fields)[*n - 1][strlen((*fields)[*n - 1]) - 1] == '\r')
		(*fields)[*n - 1][strlen((*fields)[*n - 1]) - 1] = '\0';
	return bad ? -1 : 1;
}

/* import_refuse - count a refused line, on stderr (text) and in the JSON summary */
static void
import_refuse(struct import_sum *sum, unsigned line, const char *input, const char *why, bool json)
{
	char *shown = p(input);

	sum->refused++;
	if (!json)
		fprintf(stderr, "line %u: refused '%s': %s\n", line, shown, why);
	if (sum->refused <= IMPORT_REFUSED_MAX) {
		if (sum->refused_json.len > 0)
			bh_buf_putc(&sum->refused_json, ',');
		bh_buf_printf(&sum->refused_json, "{\"line\":%u,\"input\":", line);
		bh_json_cstr(&sum->refused_json, input != NULL ? input : "");
		bh_buf_puts(&sum->refused_json, ",\"error\":");
		bh_json_cstr(&sum->refused_json, why);
		bh_buf_putc(&sum->refused_json, '}');
	}
	free(shown);
}

/* import_expiry - a row's expiry ("", epoch seconds, YYYY-MM-DD[THH:MM:SSZ]) as a duration
 * from now: 0 forever (or the --for default), -1 already past, -2 not a time */
static int64_t
import_expiry(const char *e, int64_t dflt, int64_t now)
{
	struct tm tm;
	const char *end, *err;
	long long v;
	int64_t t = -1;

	if (e == NULL || e[0] == '\0')
		return dflt;
	memset(&tm, 0, sizeof(tm));
	if (bh_strtonum(e, 1, (1LL << 40), &v, &err) == 0)
		t = (int64_t)v;
	else if ((end = strptime(e, "%Y-%m-%dT%H:%M:%SZ", &tm)) != NULL && *end == '\0')
		t = (int64_t)timegm(&tm);
	else if (memset(&tm, 0, sizeof(tm)),
		 (end = strptime(e, "%Y-%m-%d", &tm)) != NULL && *end == '\0')
		t = (int64_t)timegm(&tm);
	else
		return -2;
	return t > now ? t - now : -1;
}

/* import_one - one row: validate, normalize, suppress unless suppressed; counts into sum.
 * -1 when Redis failed (sum->error set), else 0 */
static int
import_one(struct ops_ctx *c, const struct ops_opts *o, const struct import_row *row, unsigned line,
	   const char *dflt_why, struct import_sum *sum)
{
	const char *error = NULL,
		   *list = row->list != NULL && row->list[0] != '\0' ? row->list : o->list;
	const char *reason = row->reason;
	char *key = NULL;
	int64_t d;
	int rc;

	sum->lines++;
	if (row->address == NULL) {
		import_refuse(sum, line, "", "no address", o->json);
		return 0;
	}
	if (bh_addr_normalize(row->address, strlen(row->address), &key, &error) == -1) {
		import_refuse(sum, line, row->address, error, o->json);
		return 0;
	}
	if ((d = import_expiry(row->expires, o->duration, bh_now())) == -2) {
		import_refuse(sum, line, row->address, "expires: not a time", o->json);
		free(key);
		return 0;
	}
	if (d == -1) {
		sum->expired++;
		free(key);
		return 0;
	}
	if (reason != NULL && strcmp(reason, "manual") != 0 && bh_reason_lookup(reason) < 0)
		reason = NULL; /* not a reason word: "manual" */
	rc = bh_store_import(c->store, key, list, reason,
			     row->why != NULL && row->why[0] != '\0' ? row->why : dflt_why, d,
			     &error);
	free(key);
	if (rc == -1) {
		sum->stopped = true;
		sum->error = error;
		return -1;
	}
	if (rc == 1)
		sum->imported++;
	else
		sum->existing++;
	return 0;
}

/* import_csv - a CSV file with a header row naming address and optionally list, why, reason,
 * expires (what `suppression export --format csv` writes) */
static int
import_csv(struct ops_ctx *c, const struct ops_opts *o, FILE *fp, const char *why,
	   struct import_sum *sum)
{
	int col[5] = {-1, -1, -1, -1, -1}; /* address, list, why, reason, expires */
	static const char *const names[5] = {"address", "list", "why", "reason", "expires"};
	unsigned next = 1, line;
	char **f = NULL;
	size_t n = 0, i, k;
	const char *bad = NULL;
	int rc, ret = 0;

	rc = csv_record(fp, &next, &line, &f, &n, &bad);
	for (i = 0; rc == 1 && i < n; i++)
		for (k = 0; k < 5; k++)
			if (strcasecmp(f[i], names[k]) == 0 && col[k] < 0)
				col[k] = (int)i;
	for (i = 0; i < n; i++)
		free(f[i]);
	free(f);
	if (rc != 1 || col[0] < 0) {
		import_refuse(sum, 1, "",
			      "the first line must be a header naming an address column", o->json);
		return 0;
	}
	for (;;) {
		struct import_row row = {NULL, NULL, NULL, NULL, NULL};

		rc = csv_record(fp, &next, &line, &f, &n, &bad);
		if (rc == 0)
			break;
		if (rc == -1) {
			sum->lines++;
			import_refuse(sum, line, n > 0 ? f[0] : "", bad, o->json);
		} else if (!(n == 1 && f[0][0] == '\0')) { /* an empty line */
			const char **slot[5] = {&row.address, &row.list, &row.why, &row.reason,
						&row.expires};

			for (k = 0; k < 5; k++)
				if (col[k] >= 0 && (size_t)col[k] < n)
					*slot[k] = f[col[k]];
			ret = import_one(c, o, &row, line, why, sum);
		}
		for (i = 0; i < n; i++)
			free(f[i]);
		free(f);
		if (ret == -1)
			return -1;
	}
	return 0;
}

/* jstr - a string member of a JSON object, NULL when absent or null; -1 in *bad when it is
 * there but not a string (or, for expires, not a number) */
static const char *
jstr(struct json_object *obj, const char *name, char *num, size_t size, bool *bad)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, name, &v) || v == NULL)
		return NULL;
	if (json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	if (num != NULL && json_object_is_type(v, json_type_int)) {
		snprintf(num, size, "%lld", (long long)json_object_get_int64(v));
		return num;
	}
	*bad = true;
	return NULL;
}

/* import_jsonl - one JSON object per line: address and optionally list, why, reason, expires
 * (what `suppression export --format jsonl` writes) */
static int
import_jsonl(struct ops_ctx *c, const struct ops_opts *o, FILE *fp, const char *why,
	     struct import_sum *sum)
{
	char *buf = NULL, num[32];
	size_t cap = 0;
	ssize_t len;
	unsigned line = 0;
	int ret = 0;

	while (ret == 0 && (len = getline(&buf, &cap, fp)) != -1) {
		struct json_object *obj;
		struct import_row row = {NULL, NULL, NULL, NULL, NULL};
		bool bad = false;
		size_t i;

		line++;
		while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
			buf[--len] = '\0';
		for (i = 0; i < (size_t)len && (buf[i] == ' ' || buf[i] == '\t'); i++)
			;
		if (i == (size_t)len)
			continue;
		if (len > IMPORT_FIELD_MAX) {
			sum->lines++;
			import_refuse(sum, line, "", "line too long", o->json);
			continue;
		}
		obj = json_tokener_parse(buf);
		if (obj == NULL || !json_object_is_type(obj, json_type_object)) {
			sum->lines++;
			import_refuse(sum, line, buf, "not a JSON object", o->json);
			json_object_put(obj);
			continue;
		}
		row.address = jstr(obj, "address", NULL, 0, &bad);
		row.list = jstr(obj, "list", NULL, 0, &bad);
		row.why = jstr(obj, "why", NULL, 0, &bad);
		row.reason = jstr(obj, "reason", NULL, 0, &bad);
		row.expires = jstr(obj, "expires", num, sizeof(num), &bad);
		if (bad) {
			sum->lines++;
			import_refuse(sum, line, buf, "a field has the wrong type", o->json);
		} else {
			ret = import_one(c, o, &row, line, why, sum);
		}
		json_object_put(obj);
	}
	free(buf);
	return ret;
}

/* cmd_import - `suppression import --format csv|jsonl FILE`: exit 0 when every line was
 * imported or already suppressed (or had expired), 65 when some were refused (the rest is
 * imported), 66 when FILE cannot be read, 69 when Redis failed (what came before is in) */
static int
cmd_import(struct ops_ctx *c, const struct ops_opts *o)
{
	struct import_sum sum;
	char *why = NULL;
	FILE *fp;
	int rc, ret;

	memset(&sum, 0, sizeof(sum));
	bh_buf_init(&sum.refused_json);
	fp = strcmp(o->pos[0], "-") == 0 ? stdin : fopen(o->pos[0], "r");
	if (fp == NULL) {
		fprintf(stderr, "bouncer: suppression import: %s: %s\n", o->pos[0],
			strerror(errno));
		bh_buf_deinit(&sum.refused_json);
		return BH_EX_NOINPUT;
	}
	why = o->why != NULL ? bh_strdup(o->why) : bh_asprintf("imported from %s", o->pos[0]);
	if (strcmp(o->format, "csv") == 0)
		rc = import_csv(c, o, fp, why, &sum);
	else
		rc = import_jsonl(c, o, fp, why, &sum);
	if (rc == 0 && ferror(fp)) {
		fprintf(stderr, "bouncer: suppression import: %s: read error\n", o->pos[0]);
		sum.stopped = true;
	}
	if (fp != stdin)
		fclose(fp);
	if (o->json) {
		struct bh_buf b;

		bh_buf_init(&b);
		bh_buf_printf(&b,
			      "{\"lines\":%zu,\"imported\":%zu,\"already\":%zu,\"expired\":%zu,"
			      "\"refused\":%zu,\"complete\":%s,\"refused_lines\":[",
			      sum.lines, sum.imported, sum.existing, sum.expired, sum.refused,
			      sum.stopped ? "false" : "true");
		bh_buf_append(&b, sum.refused_json.data, sum.refused_json.len);
		bh_buf_puts(&b, "]}\n");
		fputs(b.data, stdout);
		bh_buf_deinit(&b);
	} else {
		printf(
		    "%zu line%s: %zu imported, %zu already suppressed, %zu expired, %zu refused\n",
		    sum.lines, sum.lines == 1 ? "" : "s", sum.imported, sum.existing, sum.expired,
		    sum.refused);
	}
	if (sum.error != NULL)
		ret = redis_fail("suppression import (run it again: it is idempotent)", sum.error);
	else if (sum.stopped)
		ret = BH_EX_NOINPUT;
	else
		ret = sum.refused > 0 ? BH_EX_DATAERR : BH_EX_OK;
	free(why);
	bh_buf_deinit(&sum.refused_json);
	return ret;
}

/* bh_cmd_suppression - `suppression check|show|list|export|add|remove`; returns the exit status */
int
bh_cmd_suppression(int argc, char **argv)
{
	struct ops_opts o;
	struct ops_ctx c;
	const char *sub;
	char *key = NULL, *lname = NULL;
	int rc;

	if (argc < 2)
		return sup_usage();
	sub = argv[1];
	if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0)
		return sup_help();
	if (parse_opts(argc, argv, 2, &o) == -1)
		return BH_EX_USAGE;
	if (o.help)
		return sup_help();
	if (strcmp(sub, "check") == 0 || strcmp(sub, "show") == 0 || strcmp(sub, "add") == 0 ||
	    strcmp(sub, "remove") == 0) {
		if (o.n_pos < 1 || o.n_pos > 2 || (strcmp(sub, "show") == 0 && o.n_pos != 1))
			return sup_usage();
	} else if (strcmp(sub, "list") == 0 || strcmp(sub, "export") == 0) {
		if (o.n_pos != 0)
			return sup_usage();
	} else if (strcmp(sub, "import") == 0) {
		if (o.n_pos != 1 || o.format == NULL ||
		    (strcmp(o.format, "csv") != 0 && strcmp(o.format, "jsonl") != 0))
			return sup_usage();
	} else {
		return sup_usage();
	}
	if (strcmp(sub, "export") == 0 && o.format == NULL)
		return sup_usage();
	if (o.n_pos > 0 && strcmp(sub, "import") != 0) {
		if ((rc = ops_address(o.pos[0], &key)) != 0)
			return rc;
		o.pos[0] = key;
	}
	/* List names match without regard to case and are kept lower-case (as in VERP). */
	if (o.list == NULL && o.n_pos > 1)
		o.list = o.pos[1];
	if (o.list != NULL && strcmp(o.list, "-") != 0) {
		lname = bh_strdup(o.list);
		bh_lower_ascii(lname);
		o.list = lname;
	}
	if ((rc = ops_open(&o, &c)) != 0) {
		free(key);
		free(lname);
		return rc;
	}
	if (strcmp(sub, "check") == 0)
		rc = cmd_check(&c, &o);
	else if (strcmp(sub, "show") == 0)
		rc = cmd_show(&c, &o);
	else if (strcmp(sub, "list") == 0)
		rc = cmd_list(&c, &o, false);
	else if (strcmp(sub, "export") == 0)
		rc = cmd_list(&c, &o, true);
	else if (strcmp(sub, "import") == 0)
		rc = cmd_import(&c, &o);
	else
		rc = cmd_change(&c, &o, strcmp(sub, "add") == 0);
	ops_close(&c);
	free(key);
	free(lname);
	return rc;
}

/* ---- explain ---- */

/* A soft-bounce window as explain shows it, with the policy that counts into it. */
struct soft_view {
	const struct bh_store_soft *w;
	const char *reason;	     /* of the newest counted event (or the policy's), NULL: none */
	struct bh_policy_action act; /* kind BH_POL_COUNT when known */
	bool known;		     /* the loaded policy still counts this reason here */
	int64_t count, first, last;  /* bounces within the window, oldest and newest */
	int64_t window_end;	     /* the count is forgotten then, unless another bounce comes */
	int64_t next_drop;	     /* the oldest bounce leaves the window then */
	int64_t sup_expires;	     /* a suppression reaching the threshold now would end then */
};

/* ends_with - does s end with suffix? */
static bool
ends_with(const char *s, const char *suffix)
{
	size_t a = s != NULL ? strlen(s) : 0, b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* soft_view - the policy and the times of one window: the reason of the newest event that
 * counted into it, its action in the loaded configuration, the bounces still in its window */
static void
soft_view(const struct bh_config *cfg, const struct bh_store_soft *w,
	  const struct bh_store_event *ev, size_t n_ev, int64_t now, struct soft_view *sv)
{
	const struct bh_list_policy *pol;
	const char *list = w->list;
	size_t i;
	int r = -1;

	memset(sv, 0, sizeof(*sv));
	sv->w = w;
	for (i = 0; i < n_ev && r < 0; i++) {
		const char *o = bh_store_event_get(&ev[i], "outcome"),
			   *l = bh_store_event_get(&ev[i], "list"),
			   *a = bh_store_event_get(&ev[i], "action");

		if (o == NULL || strcmp(o, "count") != 0)
			continue;
		if (w->list != NULL
			? (l == NULL || strcasecmp(l, w->list) != 0 || !ends_with(a, "(list)"))
			: !ends_with(a, "(global)"))
			continue;
		r = bh_reason_lookup(bh_store_event_get(&ev[i], "reason"));
		if (w->list == NULL && l != NULL && l[0] != '\0')
			list = l; /* a global count: the policy of the list it came from */
	}
	pol = bh_config_policy(cfg, list, NULL);
	if (r < 0) /* the events were trimmed: the first reason this policy counts here */
		for (i = 0; i < BH_R_COUNT && r < 0; i++)
			if (pol->by_reason[i].kind == BH_POL_COUNT &&
			    (pol->by_reason[i].scope == BH_SCOPE_GLOBAL) == (w->list == NULL))
				r = (int)i;
	if (r >= 0) {
		sv->reason = bh_reason_name((enum bh_reason)r);
		sv->act = pol->by_reason[r];
		sv->known = sv->act.kind == BH_POL_COUNT && sv->act.window_s > 0;
	}
	for (i = 0; i < w->n; i++) {
		if (sv->known && w->times[i] < now - sv->act.window_s)
			continue; /* the next bounce trims it */
		if (sv->count++ == 0)
			sv->first = w->times[i];
		sv->last = w->times[i];
	}
	if (sv->known) {
		sv->window_end = w->ttl_s > 0 ? now + w->ttl_s : sv->last + sv->act.window_s;
		sv->next_drop = sv->first + sv->act.window_s;
		sv->sup_expires = sv->act.duration_s > 0 ? now + sv->act.duration_s : 0;
	} else if (w->ttl_s > 0) {
		sv->window_end = now + w->ttl_s;
	}
}

/* soft_json - one window as a JSON object */
static void
soft_json(struct bh_buf *b, const struct soft_view *sv)
{
	char t[32];

	bh_buf_puts(b, "{\"list\":");
	bh_json_cstr(b, sv->w->list);
	bh_buf_printf(b, ",\"scope\":\"%s\",\"reason\":", sv->w->list != NULL ? "list" : "global");
	bh_json_cstr(b, sv->reason);
	bh_buf_printf(b, ",\"count\":%lld", (long long)sv->count);
	if (sv->known)
		bh_buf_printf(b, ",\"threshold\":%u,\"window_s\":%lld,\"duration_s\":%lld",
			      sv->act.threshold, (long long)sv->act.window_s,
			      (long long)sv->act.duration_s);
	else
		bh_buf_puts(b, ",\"threshold\":null,\"window_s\":null,\"duration_s\":null");
	bh_buf_puts(b, ",\"first\":");
	bh_json_cstr(b, fmt_time(sv->first, t, sizeof(t)));
	bh_buf_puts(b, ",\"last\":");
	bh_json_cstr(b, fmt_time(sv->last, t, sizeof(t)));
	bh_buf_puts(b, ",\"window_ends\":");
	bh_json_cstr(b, fmt_time(sv->window_end, t, sizeof(t)));
	bh_buf_puts(b, ",\"next_drop\":");
	if (sv->known)
		bh_json_cstr(b, fmt_time(sv->next_drop, t, sizeof(t)));
	else
		bh_buf_puts(b, "null");
	bh_buf_puts(b, ",\"suppression_would_expire\":");
	if (sv->known && sv->sup_expires > 0)
		bh_json_cstr(b, fmt_time(sv->sup_expires, t, sizeof(t)));
	else
		bh_buf_puts(b, "null");
	bh_buf_putc(b, '}');
}

/* soft_human - one window in words */
static void
soft_human(FILE *fp, const struct soft_view *sv)
{
	char t1[32], t2[32], t3[32];
	char *l = p(sv->w->list);

	fprintf(fp, "soft bounces %s%s: ", sv->w->list != NULL ? "in list " : "globally",
		sv->w->list != NULL ? l : "");
	if (sv->known)
		fprintf(fp, "%lld/%u (%s: count %u in %llds)\n", (long long)sv->count,
			sv->act.threshold, sv->reason, sv->act.threshold,
			(long long)sv->act.window_s);
	else
		fprintf(fp, "%lld (the loaded policy no longer counts %s here)\n",
			(long long)sv->count, sv->reason != NULL ? sv->reason : "them");
	fprintf(fp, "  counted %s .. %s; the window ends %s unless another bounce comes\n",
		fmt_time(sv->first, t1, sizeof(t1)), fmt_time(sv->last, t2, sizeof(t2)),
		fmt_time(sv->window_end, t3, sizeof(t3)));
	if (sv->known) {
		fprintf(fp, "  the oldest leaves the window %s; ",
			fmt_time(sv->next_drop, t1, sizeof(t1)));
		if (sv->act.duration_s > 0)
			fprintf(fp,
				"at %u/%u it is suppressed for %llds (until %s if that were now)\n",
				sv->act.threshold, sv->act.threshold, (long long)sv->act.duration_s,
				fmt_time(sv->sup_expires, t2, sizeof(t2)));
		else
			fprintf(fp, "at %u/%u it is suppressed for good\n", sv->act.threshold,
				sv->act.threshold);
	}
	free(l);
}

/* soft_lists - the lists whose soft windows explain looks at: every configured list and every
 * list named by the address's events, once each (borrowed strings; free the array) */
static const char **
soft_lists(const struct bh_config *cfg, const struct bh_store_event *ev, size_t n_ev, size_t *n_r)
{
	const char **v = bh_calloc(cfg->n_lists + n_ev + 1, sizeof(*v));
	size_t n = 0, i, j;

	for (i = 0; i < cfg->n_lists + n_ev; i++) {
		const char *l = i < cfg->n_lists
				    ? cfg->lists[i].name
				    : bh_store_event_get(&ev[i - cfg->n_lists], "list");

		if (l == NULL || l[0] == '\0')
			continue;
		for (j = 0; j < n && strcasecmp(v[j], l) != 0; j++)
			;
		if (j == n)
			v[n++] = l;
	}
	*n_r = n;
	return v;
}

/* bh_cmd_explain - an address's suppressions and its newest events, as text or JSON */
int
bh_cmd_explain(int argc, char **argv)
{
	struct ops_opts o;
	struct ops_ctx c;
	struct bh_suppression *sup = NULL;
	struct bh_store_event *ev = NULL;
	struct bh_store_soft *soft = NULL;
	struct soft_view *sv = NULL;
	size_t n_sup = 0, n_ev = 0, n_soft = 0, n_lists = 0, i;
	const char *error = NULL, **lists = NULL;
	char *key = NULL;
	int64_t now = bh_now();
	struct bh_buf b;
	int rc;

	if (parse_opts(argc, argv, 1, &o) == -1)
		return BH_EX_USAGE;
	if (o.help || o.n_pos != 1) {
		fprintf(o.help ? stdout : stderr,
			"usage: bouncer explain ADDRESS [-n N] [--json] [-c FILE]\n"
			"  the suppressions, the soft-bounce counts (count/threshold, window end, "
			"expiry) and the newest events\n");
		return o.help ? BH_EX_OK : BH_EX_USAGE;
	}
	if ((rc = ops_address(o.pos[0], &key)) != 0)
		return rc;
	o.pos[0] = key;
	if ((rc = ops_open(&o, &c)) != 0) {
		free(key);
		return rc;
	}
	if (bh_store_show(c.store, o.pos[0], &sup, &n_sup, &error) == -1 ||
	    bh_store_explain(c.store, o.pos[0], o.n > 0 ? (size_t)o.n : 0, &ev, &n_ev, &error) ==
		-1) {
		rc = redis_fail("explain", error);
		goto out;
	}
	lists = soft_lists(c.cfg, ev, n_ev, &n_lists);
	if (bh_store_soft(c.store, o.pos[0], lists, n_lists, &soft, &n_soft, &error) == -1) {
		rc = redis_fail("explain", error);
		goto out;
	}
	sv = bh_calloc(n_soft + 1, sizeof(*sv));
	for (i = 0; i < n_soft; i++)
		soft_view(c.cfg, &soft[i], ev, n_ev, now, &sv[i]);
	bh_buf_init(&b);
	if (o.json) {
		bh_buf_puts(&b, "{\"address\":");
		bh_json_cstr(&b, o.pos[0]);
		bh_buf_printf(&b, ",\"suppressed\":%s,\"suppressions\":[",
			      n_sup > 0 ? "true" : "false");
		for (i = 0; i < n_sup; i++) {
			if (i > 0)
				bh_buf_putc(&b, ',');
			sup_json(&b, &sup[i]);
		}
		bh_buf_puts(&b, "],\"soft\":[");
		for (i = 0; i < n_soft; i++) {
			if (i > 0)
				bh_buf_putc(&b, ',');
			soft_json(&b, &sv[i]);
		}
		bh_buf_puts(&b, "],\"events\":[");
		for (i = 0; i < n_ev; i++) {
			if (i > 0)
				bh_buf_putc(&b, ',');
			event_json(&b, &ev[i]);
		}
		bh_buf_puts(&b, "]}\n");
		fputs(b.data, stdout);
	} else {
		char *a = p(o.pos[0]);

		if (n_sup == 0)
			printf("%s: not suppressed\n", a);
		for (i = 0; i < n_sup; i++)
			sup_human(stdout, &sup[i]);
		for (i = 0; i < n_soft; i++)
			soft_human(stdout, &sv[i]);
		printf("\nevents, newest first (%zu):\n", n_ev);
		for (i = 0; i < n_ev; i++)
			event_human(stdout, &ev[i]);
		free(a);
	}
	bh_buf_deinit(&b);
	rc = BH_EX_OK;
out:
	for (i = 0; i < n_sup; i++)
		bh_suppression_deinit(&sup[i]);
	free(sup);
	bh_store_events_free(ev, n_ev);
	bh_store_soft_free(soft, n_soft);
	free(sv);
	free(lists);
	ops_close(&c);
	free(key);
	return rc;
}

/* ---- events ---- */

/* print_events - events in the chosen form */
static void
print_events(const struct bh_store_event *ev, size_t n, bool json)
{
	struct bh_buf b;
	size_t i;

	bh_buf_init(&b);
	for (i = 0; i < n; i++) {
		if (json) {
			bh_buf_reset(&b);
			event_json(&b, &ev[i]);
			bh_buf_putc(&b, '\n');
			fputs(b.data, stdout);
		} else {
			event_human(stdout, &ev[i]);
		}
	}
	bh_buf_deinit(&b);
	fflush(stdout);
}

/* bh_cmd_events - `events tail`: the newest N events, then with -f new ones until SIGINT/SIGTERM */
int
bh_cmd_events(int argc, char **argv)
{
	struct ops_opts o;
	struct ops_ctx c;
	struct bh_store_event *ev = NULL;
	size_t n = 0;
	const char *error = NULL;
	char *last = NULL;
	int rc;

	static const char synopsis[] =
	    "usage: bouncer events tail [-f] [-n N] [--json] [-c FILE]\n";

	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		fputs(synopsis, stdout);
		return BH_EX_OK;
	}
	if (argc < 2 || strcmp(argv[1], "tail") != 0) {
		fputs(synopsis, stderr);
		return BH_EX_USAGE;
	}
	if (parse_opts(argc, argv, 2, &o) == -1 || o.n_pos != 0)
		return BH_EX_USAGE;
	if (o.help) {
		fputs(synopsis, stdout);
		return BH_EX_OK;
	}
	if ((rc = ops_open(&o, &c)) != 0)
		return rc;
	if (bh_store_tail(c.store, o.n > 0 ? (size_t)o.n : 10, &ev, &n, &error) == -1) {
		rc = redis_fail("events tail", error);
		goto out;
	}
	print_events(ev, n, o.json);
	last = bh_strdup(n > 0 ? ev[n - 1].id : "$");
	bh_store_events_free(ev, n);
	ev = NULL;
	n = 0;
	if (o.follow) {
		signal(SIGINT, on_signal);
		signal(SIGTERM, on_signal);
		/* Until interrupted; a Redis outage is waited out with the store's backoff. */
		while (!stop_follow) {
			if (bh_store_follow(c.store, &last, 1000, &ev, &n, &error) == -1) {
				fprintf(stderr, "bouncer: events tail: %s\n", error);
				usleep((useconds_t)(bh_store_backoff_ms(c.store) + 100) * 1000);
				continue;
			}
			print_events(ev, n, o.json);
			bh_store_events_free(ev, n);
			ev = NULL;
			n = 0;
		}
	}
	rc = BH_EX_OK;
out:
	free(last);
	bh_store_events_free(ev, n);
	ops_close(&c);
	return rc;
}

/* ---- stats ---- */

/* Current suppressions per list and reason, counted while walking them. */
struct sup_count {
	char *list;
	char *reason;
	int64_t n;
};
struct sup_counts {
	struct sup_count *v;
	size_t n;
};

/* count_row - add one suppression to its (list, reason) row: the walk `stats` falls back to
 * while the counters were never built (bh_store_sup_counts: complete 0) */
static int
count_row(const struct bh_suppression *s, void *ctx)
{
	struct sup_counts *sc = ctx;
	const char *list = s->list != NULL ? s->list : "(global)";
	const char *reason = s->reason != NULL ? s->reason : "-";
	size_t i;

	for (i = 0; i < sc->n; i++)
		if (strcmp(sc->v[i].list, list) == 0 && strcmp(sc->v[i].reason, reason) == 0)
			break;
	if (i == sc->n) {
		if (sc->n >= 100000)
			return 0; /* XXX: rows beyond this are not counted (a bounded report) */
		sc->v = bh_reallocarray(sc->v, sc->n + 1, sizeof(*sc->v));
		sc->v[i].list = bh_strdup(list);
		sc->v[i].reason = bh_strdup(reason);
		sc->v[i].n = 0;
		sc->n++;
	}
	sc->v[i].n++;
	return 0;
}

/* held_now - the current suppressions per (list, reason): from the counters the scripts keep
 * (constant time), or, when they were never built (`stats --recount`), by walking them all.
 * *scanned_r tells which; 0, or -1 with *error_r */
static int
held_now(struct ops_ctx *c, bool recount, struct sup_counts *sc, bool *scanned_r,
	 int64_t *complete_r, const char **error_r)
{
	struct bh_store_supcount *v = NULL;
	int64_t total;
	size_t n = 0, i;

	*scanned_r = false;
	if (recount && bh_store_sup_recount(c->store, &total, error_r) == -1)
		return -1;
	if (bh_store_sup_counts(c->store, &v, &n, complete_r, error_r) == -1)
		return -1;
	if (*complete_r == 0) {
		bh_store_supcounts_free(v, n);
		*scanned_r = true;
		return bh_store_list(c->store, NULL, count_row, sc, error_r);
	}
	sc->v = bh_calloc(n + 1, sizeof(*sc->v));
	for (i = 0; i < n; i++) {
		sc->v[i].list = bh_strdup(strcmp(v[i].list, "-") == 0 ? "(global)" : v[i].list);
		sc->v[i].reason = bh_strdup(v[i].reason);
		sc->v[i].n = v[i].n;
	}
	sc->n = n;
	bh_store_supcounts_free(v, n);
	return 0;
}

/* bh_cmd_stats - event counts per list, reason and outcome (hour, day), loops, suppressions now */
int
bh_cmd_stats(int argc, char **argv)
{
	struct ops_opts o;
	struct ops_ctx c;
	struct bh_store_stat *st = NULL;
	struct sup_counts sc = {NULL, 0};
	size_t n = 0, i;
	const char *error = NULL;
	int64_t loops_h = 0, loops_d = 0, total = 0;
	int64_t kind_h[BH_LOOP_COUNT] = {0}, kind_d[BH_LOOP_COUNT] = {0};
	struct bh_buf b;
	bool first, scanned = false;
	int64_t complete = 0;
	int rc, k;
	char t[32];

	if (parse_opts(argc, argv, 1, &o) == -1 || o.n_pos != 0 || o.help) {
		fprintf(
		    o.help ? stdout : stderr,
		    "usage: bouncer stats [--recount] [--json] [-c FILE]\n"
		    "  --recount   rebuild the suppression counters by walking every suppression "
		    "(once after an upgrade)\n");
		return o.help ? BH_EX_OK : BH_EX_USAGE;
	}
	if ((rc = ops_open(&o, &c)) != 0)
		return rc;
	if (bh_store_stats(c.store, &st, &n, &error) == -1 ||
	    held_now(&c, o.recount, &sc, &scanned, &complete, &error) == -1) {
		rc = redis_fail("stats", error);
		goto out;
	}
	/* Loops per message and kind: the rows "*", "loop:KIND", "messages" (the per-decision
	 * rows count recipients). */
	for (i = 0; i < n; i++)
		if (strcmp(st[i].list, "*") == 0 && strncmp(st[i].reason, "loop:", 5) == 0 &&
		    (k = bh_loop_kind_lookup(st[i].reason + 5)) > BH_LOOP_NONE) {
			kind_h[k] += st[i].hour;
			kind_d[k] += st[i].day;
			loops_h += st[i].hour;
			loops_d += st[i].day;
		}
	for (i = 0; i < sc.n; i++)
		total += sc.v[i].n;
	bh_buf_init(&b);
	if (o.json) {
		bh_buf_puts(&b, "{\"events\":[");
		for (i = 0, first = true; i < n; i++) {
			if (strcmp(st[i].list, "*") == 0)
				continue;
			if (!first)
				bh_buf_putc(&b, ',');
			first = false;
			bh_buf_puts(&b, "{\"list\":");
			bh_json_cstr(&b, st[i].list);
			bh_buf_puts(&b, ",\"reason\":");
			bh_json_cstr(&b, st[i].reason);
			bh_buf_puts(&b, ",\"outcome\":");
			bh_json_cstr(&b, st[i].outcome);
			bh_buf_printf(&b, ",\"last_hour\":%lld,\"last_day\":%lld}",
				      (long long)st[i].hour, (long long)st[i].day);
		}
		bh_buf_printf(&b, "],\"loops\":{\"last_hour\":%lld,\"last_day\":%lld,\"kinds\":{",
			      (long long)loops_h, (long long)loops_d);
		for (k = 1; k < BH_LOOP_COUNT; k++)
			bh_buf_printf(&b, "%s\"%s\":{\"last_hour\":%lld,\"last_day\":%lld}",
				      k > 1 ? "," : "", bh_loop_kind_name((enum bh_loop_kind)k),
				      (long long)kind_h[k], (long long)kind_d[k]);
		bh_buf_puts(&b, "}}");
		bh_buf_puts(&b, ",\"suppressed\":[");
		for (i = 0; i < sc.n; i++) {
			if (i > 0)
				bh_buf_putc(&b, ',');
			bh_buf_puts(&b, "{\"list\":");
			bh_json_cstr(&b, sc.v[i].list);
			bh_buf_puts(&b, ",\"reason\":");
			bh_json_cstr(&b, sc.v[i].reason);
			bh_buf_printf(&b, ",\"count\":%lld}", (long long)sc.v[i].n);
		}
		bh_buf_printf(&b, "],\"suppressed_total\":%lld,\"suppressed_from\":\"%s\"",
			      (long long)total, scanned ? "scan" : "counters");
		bh_buf_puts(&b, ",\"counters_built\":");
		if (complete > 0)
			bh_json_cstr(&b, fmt_time(complete, t, sizeof(t)));
		else
			bh_buf_puts(&b, "null");
		bh_buf_puts(&b, "}\n");
		fputs(b.data, stdout);
	} else {
		printf("events (5-minute buckets):\n");
		printf("  %-20s %-24s %-22s %10s %10s\n", "LIST", "REASON", "OUTCOME", "LAST HOUR",
		       "LAST DAY");
		for (i = 0; i < n; i++) {
			char *l;

			if (strcmp(st[i].list, "*") == 0)
				continue;
			l = p(st[i].list);
			printf("  %-20s %-24s %-22s %10lld %10lld\n", l, st[i].reason,
			       st[i].outcome, (long long)st[i].hour, (long long)st[i].day);
			free(l);
		}
		printf("loops: %lld in the last hour, %lld in the last day\n", (long long)loops_h,
		       (long long)loops_d);
		for (k = 1; k < BH_LOOP_COUNT; k++)
			printf("  %-20s %10lld %10lld\n", bh_loop_kind_name((enum bh_loop_kind)k),
			       (long long)kind_h[k], (long long)kind_d[k]);
		printf("\nsuppressed now (%lld, %s):\n", (long long)total,
		       scanned ? "by walking every suppression: `bouncer stats --recount` once "
				 "makes this constant-time"
			       : "from the counters");
		printf("  %-20s %-24s %10s\n", "LIST", "REASON", "COUNT");
		for (i = 0; i < sc.n; i++) {
			char *l = p(sc.v[i].list);

			printf("  %-20s %-24s %10lld\n", l, sc.v[i].reason, (long long)sc.v[i].n);
			free(l);
		}
	}
	bh_buf_deinit(&b);
	rc = BH_EX_OK;
out:
	bh_store_stats_free(st, n);
	for (i = 0; i < sc.n; i++) {
		free(sc.v[i].list);
		free(sc.v[i].reason);
	}
	free(sc.v);
	ops_close(&c);
	return rc;
}

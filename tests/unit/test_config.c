/* test_config - the YAML loader: every key, every class of error with its exact message,
 * inheritance of list policies, durations and sizes. */
#include "config.h"
#include "bh_limits.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

static char dir[64];

/* BASE: the two required sections, secrets from the environment (2 lines) */
#define BASE                                                                                       \
	"imap: {host: mail.example.com, user: u, password_env: BH_TEST_PW}\n"                      \
	"verp: {domain: b.example.com, keys: [{id: k1, env: BH_TEST_KEY}]}\n"

static struct bh_config *
load(const char *yaml, struct bh_config_diags *d)
{
	char *name = bh_asprintf("%s/t.yaml", dir);
	struct bh_config *c = bh_config_load_buffer(name, yaml, strlen(yaml), d);

	free(name);
	return c;
}

/* diags_str - "L:C: message" lines, the file name checked and left out */
static char *
diags_str(const struct bh_config_diags *d)
{
	struct bh_buf b;
	size_t i;

	bh_buf_init(&b);
	bh_buf_puts(&b, "");
	for (i = 0; i < d->n; i++) {
		if (strncmp(d->v[i].file, dir, strlen(dir)) != 0)
			bh_buf_printf(&b, "[file %s] ", d->v[i].file);
		bh_buf_printf(&b, "%s%u:%u: %s", i ? "\n" : "", d->v[i].line, d->v[i].column,
			      d->v[i].message);
	}
	return bh_buf_steal(&b);
}

static void
write_file(const char *name, const char *data)
{
	char *p = bh_asprintf("%s/%s", dir, name);
	FILE *fp = fopen(p, "w");

	if (fp == NULL)
		abort();
	fputs(data, fp);
	fclose(fp);
	free(p);
}

static const struct {
	const char *yaml;
	const char *want; /* every problem, in order */
} bad[] = {
    /* YAML itself */
    {"imap: [a, b\n", "2:1: YAML syntax error: did not find expected ',' or ']' (while "
		      "parsing a flow sequence at line 1)"},
    {"a: b\n  c: d\n", "2:4: YAML syntax error: mapping values are not allowed in this context"},
    {"imap: &x {host: a}\nredis: *x\n", "2:8: YAML aliases (*name) are not supported"},
    {BASE "---\nx: 1\n", "3:1: only one YAML document is allowed"},
    {"- a\n- b\n", "1:1: expected a mapping of sections (imap, redis, verp, ...), got a sequence"},
    {"", "1:1: imap: required key is missing\n1:1: verp: required key is missing"},
    {"log_format: json\n", "1:1: imap: required key is missing\n1:1: verp: required key is "
			   "missing"},
    /* unknown keys, duplicates, types */
    {BASE "imap2: {}\n", "3:1: imap2: unknown key; did you mean \"imap\"?"},
    {BASE "whatever: 1\n", "3:1: whatever: unknown key"},
    {BASE "redis: {hots: a}\n", "3:9: redis.hots: unknown key; did you mean \"host\"?"},
    {BASE "redis: {port: 1, port: 2}\n", "3:18: redis.port: duplicate key (first at line 3)"},
    {BASE "redis: [1]\n", "3:8: redis: expected a mapping, got a sequence"},
    {BASE "redis: {host: {a: b}}\n", "3:15: redis.host: expected a string, got a mapping"},
    {BASE "redis: {host: }\n", "3:8: redis: set host or socket"},
    {BASE "redis: {host: \"bad host\"}\n",
     "3:15: redis.host: expected a host name, got \"bad host\""},
    {BASE "redis: {? [a]: b}\n", "3:11: redis: a key must be a plain string"},
    {BASE "redis: {\"host\\0x\": b}\n", "3:9: redis: a key must be a plain string"},
    /* numbers, booleans, words */
    {BASE "redis: {port: 0}\n", "3:15: redis.port: expected an integer from 1 to 65535, got \"0\""},
    {BASE "redis: {port: http}\n",
     "3:15: redis.port: expected an integer from 1 to 65535, got \"http\""},
    {BASE "redis: {stream_maxlen: -5}\n",
     "3:24: redis.stream_maxlen: expected an integer from 1000 to 1000000000, got \"-5\""},
    {BASE "limits: {mime_depth: 65}\n",
     "3:22: limits.mime_depth: expected an integer from 1 to 64, got \"65\""},
    {"imap: {host: h, user: u, password_env: BH_TEST_PW, idle: yes}\n"
     "verp: {domain: b.example.com, keys: [{id: k1, env: BH_TEST_KEY}]}\n",
     "1:58: imap.idle: expected true or false, got \"yes\""},
    {"imap: {host: h, user: u, password_env: BH_TEST_PW, tls: ssl}\n"
     "verp: {domain: b.example.com, keys: [{id: k1, env: BH_TEST_KEY}]}\n",
     "1:57: imap.tls: expected one of tls, starttls or none, got \"ssl\""},
    {"imap: {host: h, user: u, password_env: BH_TEST_PW, auth: plian}\n"
     "verp: {domain: b.example.com, keys: [{id: k1, env: BH_TEST_KEY}]}\n",
     "1:58: imap.auth: expected login or plain, got \"plian\"; did you mean \"plain\"?"},
    {BASE "log_format: text\n", "3:13: log_format: expected json or logfmt, got \"text\""},
    /* durations and sizes */
    {BASE "redis: {connect_timeout: 2}\n",
     "3:26: redis.connect_timeout: expected a duration like 45s, 30m, 12h, 15d or 2w, got \"2\""},
    {BASE "redis: {connect_timeout: 1h}\n",
     "3:26: redis.connect_timeout: expected a duration from 1ms to 5m, got \"1h\""},
    {"imap: {host: h, user: u, password_env: BH_TEST_PW, timeout: 1500ms}\n"
     "verp: {domain: b.example.com, keys: [{id: k1, env: BH_TEST_KEY}]}\n",
     "1:61: imap.timeout: expected a whole number of seconds, got \"1500ms\""},
    {"imap: {host: h, user: u, password_env: BH_TEST_PW, poll_interval: 2d}\n"
     "verp: {domain: b.example.com, keys: [{id: k1, env: BH_TEST_KEY}]}\n",
     "1:67: imap.poll_interval: expected a duration from 1s to 1d, got \"2d\""},
    {BASE "limits: {message_size: 25 MB}\n",
     "3:24: limits.message_size: expected a size like 512KB, 25MB or 1GB, got \"25 MB\""},
    {BASE "limits: {message_size: 1GB}\n",
     "3:24: limits.message_size: expected a size from 1KB to 512MB, got \"1GB\""},
    /* secrets */
    {"imap: {host: h, user: u}\nverp: {domain: b.example.com, keys: [{id: k1, env: "
     "BH_TEST_KEY}]}\n",
     "1:7: imap: a password is required: set password_file or password_env"},
    {"imap: {host: h, user: u, password_env: BH_TEST_PW, password_file: pw}\n"
     "verp: {domain: b.example.com, keys: [{id: k1, env: BH_TEST_KEY}]}\n",
     "1:40: imap.password_env: set only one of password_file and password_env"},
    {"imap: {host: h, user: u, password_env: BH_UNSET_VAR}\n"
     "verp: {domain: b.example.com, keys: [{id: k1, env: BH_TEST_KEY}]}\n",
     "1:40: imap.password_env: environment variable BH_UNSET_VAR is not set"},
    {"imap: {host: h, user: u, password_env: BH_EMPTY_VAR}\n"
     "verp: {domain: b.example.com, keys: [{id: k1, env: BH_TEST_KEY}]}\n",
     "1:40: imap.password_env: environment variable BH_EMPTY_VAR is empty"},
    {"imap: {host: h, user: u, password_env: 9X}\n"
     "verp: {domain: b.example.com, keys: [{id: k1, env: BH_TEST_KEY}]}\n",
     "1:7: imap: a password is required: set password_file or password_env\n"
     "1:40: imap.password_env: expected an environment variable name, got \"9X\""},
    {"imap: {host: h, user: u, password_file: missing.pw}\n"
     "verp: {domain: b.example.com, keys: [{id: k1, env: BH_TEST_KEY}]}\n",
     "1:41: imap.password_file: cannot read \"@/missing.pw\": No such file or directory"},
    {"imap: {host: h, user: u, password_file: empty.pw}\n"
     "verp: {domain: b.example.com, keys: [{id: k1, env: BH_TEST_KEY}]}\n",
     "1:41: imap.password_file: \"@/empty.pw\" is empty"},
    {"imap: {host: h, user: u, password_file: /dev/null}\n"
     "verp: {domain: b.example.com, keys: [{id: k1, env: BH_TEST_KEY}]}\n",
     "1:41: imap.password_file: cannot read \"/dev/null\": not a regular file"},
    {"imap: {host: h, user: u, password_env: BH_TEST_PW, password: x}\n"
     "verp: {domain: b.example.com, keys: [{id: k1, env: BH_TEST_KEY}]}\n",
     "1:52: imap.password: secrets are never written in the file: use password_file or "
     "password_env"},
    {BASE "redis: {user: bouncer}\n",
     "3:15: redis.user: an ACL user needs password_file or password_env"},
    /* TLS */
    {"imap: {host: mail.example.com, tls: none, user: u, password_env: BH_TEST_PW}\n"
     "verp: {domain: b.example.com, keys: [{id: k1, env: BH_TEST_KEY}]}\n",
     "1:37: imap.tls: none (no TLS) is allowed only to a loopback host, not "
     "\"mail.example.com\""},
    {"imap: {host: h, ca_file: /nonexistent/ca.pem, user: u, password_env: BH_TEST_PW}\n"
     "verp: {domain: b.example.com, keys: [{id: k1, env: BH_TEST_KEY}]}\n",
     "1:26: imap.ca_file: cannot read \"/nonexistent/ca.pem\": No such file or directory"},
    {"imap: {host: h, ca_file: /tmp, user: u, password_env: BH_TEST_PW}\n"
     "verp: {domain: b.example.com, keys: [{id: k1, env: BH_TEST_KEY}]}\n",
     "1:26: imap.ca_file: cannot read \"/tmp\": not a regular file"},
    /* redis */
    {BASE "redis: {host: a, socket: /run/r.sock}\n",
     "3:26: redis.socket: set only one of host and socket"},
    /* verp */
    {"imap: {host: h, user: u, password_env: BH_TEST_PW}\nverp: {keys: [{id: k1, env: "
     "BH_TEST_KEY}]}\n",
     "2:7: verp.domain: required key is missing"},
    {"imap: {host: h, user: u, password_env: BH_TEST_PW}\nverp: {domain: b.example.com}\n",
     "2:7: verp.keys: signed VERP needs at least one key"},
    {"imap: {host: h, user: u, password_env: BH_TEST_PW}\nverp: {domain: b.example.com, "
     "keys: [{id: k1, env: BH_SHORT_KEY}]}\n",
     "2:52: verp.keys[0].env: the key is 5 bytes; at least 16 are needed"},
    {"imap: {host: h, user: u, password_env: BH_TEST_PW}\nverp: {domain: b.example.com, "
     "keys: [{id: k1, env: BH_TEST_KEY}, {id: k1, env: BH_TEST_KEY}]}\n",
     "2:71: verp.keys[1]: duplicate key id \"k1\""},
    {"imap: {host: h, user: u, password_env: BH_TEST_PW}\nverp: {domain: b.example.com, "
     "keys: [{id: k1, env: BH_TEST_KEY, file: x}]}\n",
     "2:38: verp.keys[0]: set exactly one of file and env"},
    {"imap: {host: h, user: u, password_env: BH_TEST_PW}\nverp: {domain: b.example.com, "
     "keys: [{env: BH_TEST_KEY}]}\n",
     "2:38: verp.keys[0].id: required key is missing"},
    {"imap: {host: h, user: u, password_env: BH_TEST_PW}\nverp: {domain: b.example.com, "
     "keys: [{id: k1, env: BH_TEST_KEY}], delimiters: \"++\"}\n",
     "2:79: verp.delimiters: expected two different characters of \"+-=._\", got \"++\""},
    {"imap: {host: h, user: u, password_env: BH_TEST_PW}\nverp: {domain: \"b..example\", "
     "keys: [{id: k1, env: BH_TEST_KEY}]}\n",
     "2:16: verp.domain: expected a domain name, got \"b..example\""},
    {"imap: {host: h, user: u, password_env: BH_TEST_PW}\nverp: {domain: b.example.com, "
     "keys: [{id: k1, env: BH_TEST_KEY}], tag_bytes: 4}\n",
     "2:78: verp.tag_bytes: expected an integer from 8 to 32, got \"4\""},
    /* rules */
    {BASE "rules:\n  - id: r1\n    pattern: \"a(b\"\n    reason: userunknown\n",
     "5:18: rules[0].pattern: bad regular expression: missing closing parenthesis (at "
     "offset 3)"},
    {BASE "rules:\n  - {id: r1, status: \"5.1.1\", reason: userunkown}\n",
     "4:39: rules[0].reason: unknown reason \"userunkown\"; did you mean \"userunknown\"?"},
    {BASE "rules:\n  - {id: r1, reason: blocked}\n",
     "4:5: rules[0]: a rule needs status, reply_code or pattern"},
    {BASE "rules:\n  - {id: r1, status: \"5.1\", reason: blocked}\n  - {id: r1, status: "
	  "\"5.1\", reason: blocked}\n",
     "5:10: rules[1]: duplicate rule id \"r1\""},
    {BASE "rules:\n  - {id: r1, status: \"6.1.1\", reply_code: \"5x0\", reason: blocked, "
	  "whose: them}\n",
     "4:22: rules[0].status: expected a status glob like 5.1.1, 5.7.* or ?.2.2, got \"6.1.1\"\n"
     "4:43: rules[0].reply_code: expected a reply code glob like 550, 55? or 5*, got \"5x0\"\n"
     "4:74: rules[0].whose: expected one of none, recipient, sender or either, got \"them\""},
    {BASE "rules:\n  - {status: \"5.1.1\"}\n",
     "4:5: rules[0].id: required key is missing\n4:5: rules[0].reason: required key is missing"},
    {BASE "rules: {replace: maybe}\n",
     "3:18: rules.replace: expected true or false, got \"maybe\""},
    {BASE "rules: 5\n", "3:8: rules: expected a sequence of rules, got \"5\""},
    {BASE "rules:\n  - {id: r1, any: \"x\", reason: blocked}\n",
     "4:19: rules[0].any: expected a list of regular expressions, got \"x\""},
    {BASE "rules:\n  - {id: r1, pattern: a, any: [b], reason: blocked}\n",
     "4:26: rules[0].any: a rule takes pattern or any, not both"},
    /* policies */
    {BASE "defaults:\n  soft: sometimes\n",
     "4:9: defaults.soft: expected one of suppress, suppress_for, count, ignore or alert, "
     "got \"sometimes\""},
    {BASE "defaults:\n  hard: supress\n",
     "4:9: defaults.hard: expected one of suppress, suppress_for, count, ignore or alert, "
     "got \"supress\"; did you mean \"suppress\"?"},
    {BASE "defaults:\n  hard: suppress_for\n",
     "4:9: defaults.hard: suppress_for needs a duration: write {action: suppress_for, for: "
     "7d}"},
    {BASE "defaults:\n  hard: {action: suppress_for}\n",
     "4:9: defaults.hard: suppress_for needs a duration in `for`"},
    {BASE "defaults:\n  sender: suppress\n",
     "4:3: defaults.sender: sender-side failures never suppress unless "
     "sender_side_may_suppress is true"},
    {BASE "defaults:\n  blocked: {action: count}\n",
     "4:3: defaults.blocked: sender-side failures never suppress unless "
     "sender_side_may_suppress is true"},
    {BASE "lists:\n  news: {autoreply: {action: count}}\n",
     "4:10: lists.news.autoreply: auto-replies are not failures: use ignore or alert"},
    {BASE "defaults:\n  hardd: suppress\n",
     "4:3: defaults.hardd: unknown key; did you mean \"hard\"?"},
    {BASE "defaults:\n  mailboxful: ignore\n",
     "4:3: defaults.mailboxful: unknown key; did you mean \"mailboxfull\"?"},
    {BASE "defaults:\n  hard: suppress\n  hard: ignore\n",
     "5:3: defaults.hard: duplicate key (first at line 4)"},
    {BASE "defaults:\n  unknown_list: drop\n",
     "4:17: defaults.unknown_list: expected one of defaults, ignore or quarantine, got \"drop\""},
    {BASE "defaults:\n  loops: {backscater: alert, hops: page}\n",
     "4:11: defaults.loops.backscater: unknown key; did you mean \"backscatter\"?\n"
     "4:36: defaults.loops.hops: expected ignore or alert, got \"page\""},
    {BASE "defaults:\n  soft: {threshold: 0, window: 1s, for: never}\n",
     "4:21: defaults.soft.threshold: expected a positive integer, got \"0\"\n"
     "4:32: defaults.soft.window: expected a duration from 1m to 3650d, got \"1s\"\n"
     "4:41: defaults.soft.for: expected a duration like 45s, 30m, 12h, 15d or 2w, got "
     "\"never\""},
    {BASE "defaults:\n  sender_alert: {threshold: 10, windw: 1h}\n",
     "4:33: defaults.sender_alert.windw: unknown key; did you mean \"window\"?"},
    {BASE "lists:\n  news:\n    soft:\n      threshold: three\n",
     "6:18: lists.news.soft.threshold: expected a positive integer, got \"three\""},
    {BASE "lists:\n  news:\n    unknown_list: ignore\n",
     "5:5: lists.news.unknown_list: unknown_list is a setting of defaults, not of a list"},
    {BASE "lists:\n  \"a b\": {}\n",
     "4:3: lists: expected a list name of 1 to 64 letters, digits, \".\", \"_\" or \"-\", "
     "got \"a b\""},
    {BASE "lists:\n  news: {}\n  News: {}\n", "5:3: lists.News: duplicate list (first at line 4)"},
    {BASE "lists: [news]\n", "3:8: lists: expected a mapping of list names, got a sequence"},
    {BASE "lists:\n  news: {sender: count, count_delayed: 1}\n",
     "4:10: lists.news.sender: sender-side failures never suppress unless "
     "sender_side_may_suppress is true\n"
     "4:40: lists.news.count_delayed: expected true or false, got \"1\""},
    /* the rest */
    {BASE "our_domains: [example.com, \"-bad domain\"]\n",
     "3:28: our_domains[1]: expected a domain name, got \"-bad domain\""},
    {BASE "metrics: {listen: 9356}\n", "3:19: metrics.listen: expected HOST:PORT, got \"9356\""},
    /* scale-out */
    {BASE "redis: {sentinels: [\"10.0.0.5:26379\", \"nope\"], master_name: m}\n",
     "3:39: redis.sentinels[1]: expected HOST:PORT, got \"nope\""},
    {BASE "redis: {sentinels: [\"10.0.0.5:26379\"]}\n",
     "3:8: redis.master_name: set both sentinels and master_name, or neither"},
    {BASE "redis: {sentinel_password_env: BH_TEST_PW}\n",
     "3:32: redis.sentinel_password_env: needs sentinels"},
    {BASE "redis: {sentinel_user: s}\n", "3:24: redis.sentinel_user: needs sentinels"},
    {BASE "redis: {sentinels: [\"10.0.0.5:26379\"], master_name: m, sentinel_user: s}\n",
     "3:71: redis.sentinel_user: a sentinel ACL user needs sentinel_password_file or "
     "sentinel_password_env"},
    {BASE "redis: {sentinels: [\"10.0.0.5:26379\"], master_name: m,\n"
	  "  sentinel_password_env: BH_TEST_PW, sentinel_password_file: imap.pw}\n",
     "4:26: redis.sentinel_password_env: set only one of sentinel_password_file and "
     "sentinel_password_env"},
    {BASE "redis: {sentinels: [\"10.0.0.5:26379\"], master_name: m,\n"
	  "  sentinel_password_env: BH_UNSET_VAR}\n",
     "4:26: redis.sentinel_password_env: environment variable BH_UNSET_VAR is not set"},
    {BASE "redis: {sentinels: [\"10.0.0.5:26379\"], master_name: m, sentinel_password: x}\n",
     "3:56: redis.sentinel_password: secrets are never written in the file: use "
     "sentinel_password_file or sentinel_password_env"},
    {BASE "redis: {wait_replicas: 17}\n",
     "3:24: redis.wait_replicas: expected an integer from 0 to 16, got \"17\""},
    {BASE "lease: {enabled: yes, ttl: 1s}\n",
     "3:18: lease.enabled: expected true or false, got \"yes\"\n"
     "3:28: lease.ttl: expected a duration from 3s to 1h, got \"1s\""},
    {BASE "limits: {header_line: 1B, recipients: 0}\n",
     "3:23: limits.header_line: expected a size from 1KB to 16MB, got \"1B\"\n"
     "3:39: limits.recipients: expected an integer from 1 to 100000, got \"0\""},
};

static void
test_bad(void)
{
	size_t i;

	for (i = 0; i < BH_NELEM(bad); i++) {
		struct bh_config_diags d = {NULL, 0};
		struct bh_config *c = load(bad[i].yaml, &d);
		char *got = diags_str(&d), *want = bh_strdup(bad[i].want), *at;

		/* "@" stands for the test directory */
		while ((at = strchr(want, '@')) != NULL) {
			char *w = bh_asprintf("%.*s%s%s", (int)(at - want), want, dir, at + 1);

			free(want);
			want = w;
		}
		CHECK(c == NULL);
		if (strcmp(got, want) != 0)
			TEST_FAIL("case %zu:\n%s\n  got:\n%s\n  want:\n%s", i, bad[i].yaml, got,
				  want);
		test_checks++;
		free(got);
		free(want);
		bh_config_free(&c);
		bh_config_diags_deinit(&d);
	}
}

/* round_trip - the printed configuration, secrets' lines dropped, loads to the same print */
static void
round_trip(const struct bh_config *c, const char *what)
{
	struct bh_config_diags d = {NULL, 0};
	struct bh_buf b1, b2, in;
	struct bh_config *c2;
	const char *p, *nl;

	bh_buf_init(&b1);
	bh_buf_init(&b2);
	bh_buf_init(&in);
	bh_config_dump(c, &b1);
	for (p = b1.data; *p != '\0'; p = nl + 1) {
		const char *key;

		nl = strchr(p, '\n');
		key = p + strspn(p, " ");
		if (strncmp(key, "password: ", 10) == 0 ||
		    strncmp(key, "sentinel_password: ", 19) == 0)
			continue;
		for (; p < nl; p++) {
			if (strncmp(p, ", key: \"***\"", 12) == 0)
				p += 12;
			bh_buf_putc(&in, *p);
		}
		bh_buf_putc(&in, '\n');
	}
	c2 = load(in.data, &d);
	if (c2 == NULL) {
		char *got = diags_str(&d);

		TEST_FAIL("%s: the printed configuration does not load:\n%s\n%s", what, got,
			  in.data);
		free(got);
	} else {
		bh_config_dump(c2, &b2);
		if (strcmp(b1.data, b2.data) != 0)
			TEST_FAIL("%s: printed again differs:\n%s\n---\n%s", what, b1.data,
				  b2.data);
	}
	test_checks++;
	bh_config_free(&c2);
	bh_config_diags_deinit(&d);
	bh_buf_deinit(&b1);
	bh_buf_deinit(&b2);
	bh_buf_deinit(&in);
}

/* test_all_keys - one file setting every key; each lands where it should */
static void
test_all_keys(void)
{
	static const char yaml[] =
	    "imap:\n"
	    "  host: imap.example.org\n  port: 1993\n  tls: starttls\n  ca_file: ca.pem\n"
	    "  verify_cert: false\n  user: bob\n  password_file: imap.pw\n  auth: plain\n"
	    "  mailbox: Bounces\n  processed_folder: P\n  quarantine_folder: Q\n"
	    "  ignored_folder: I\n  batch_size: 50\n  idle: false\n  poll_interval: 2m\n"
	    "  timeout: 45s\n"
	    "redis:\n"
	    "  socket: /run/redis.sock\n  user: bouncer\n  password_env: BH_TEST_PW\n  db: 3\n"
	    "  prefix: bh\n  connect_timeout: 250ms\n  command_timeout: 2s\n"
	    "  stream_maxlen: 5000\n"
	    "verp:\n"
	    "  format: classic\n  domain: B.Example.COM\n  prefix: rt\n  delimiters: \"-=\"\n"
	    "  keys: [{id: new, file: verp.key}, {id: old, env: BH_TEST_KEY}]\n"
	    "  max_age: 2w\n  tag_bytes: 16\n"
	    "rules:\n  replace: true\n  add:\n"
	    "    - {id: r1, status: \"5.7.*\", reply_code: \"55?\", pattern: \"(?i)blocked\", "
	    "reason: blocked, whose: either}\n"
	    "limits:\n  message_size: 10MB\n  mime_depth: 8\n  mime_parts: 100\n"
	    "  header_line: 16KB\n  header_count: 500\n  recipients: 50\n  hop_limit: 20\n"
	    "  regex_match_limit: 5000\n"
	    "our_domains: [Example.ORG, lists.example.org]\n"
	    "log_format: logfmt\n"
	    "metrics: {listen: \"[::1]:9356\"}\n";
	struct bh_config_diags d = {NULL, 0};
	struct bh_config *c = load(yaml, &d);
	char *got = diags_str(&d), *p;

	CHECK_STR(got, "");
	free(got);
	if (c == NULL)
		return;
	CHECK_STR(c->imap.host, "imap.example.org");
	CHECK_INT(c->imap.port, 1993);
	CHECK_INT(c->imap.tls, BH_TLS_STARTTLS);
	p = bh_asprintf("%s/ca.pem", dir);
	CHECK_STR(c->imap.ca_file, p);
	free(p);
	CHECK(!c->imap.verify_cert);
	CHECK_STR(c->imap.user, "bob");
	CHECK_STR(c->imap.password, "imap secret");
	CHECK_INT(c->imap.auth, BH_AUTH_PLAIN);
	CHECK_STR(c->imap.mailbox, "Bounces");
	CHECK_STR(c->imap.processed_folder, "P");
	CHECK_STR(c->imap.quarantine_folder, "Q");
	CHECK_STR(c->imap.ignored_folder, "I");
	CHECK_INT(c->imap.batch_size, 50);
	CHECK(!c->imap.idle);
	CHECK_INT(c->imap.poll_interval_s, 120);
	CHECK_INT(c->imap.timeout_s, 45);
	CHECK(c->redis.host == NULL);
	CHECK_STR(c->redis.socket, "/run/redis.sock");
	CHECK_STR(c->redis.user, "bouncer");
	CHECK_STR(c->redis.password, "pw-from-env");
	CHECK_INT(c->redis.db, 3);
	CHECK_STR(c->redis.prefix, "bh");
	CHECK_INT(c->redis.connect_timeout_ms, 250);
	CHECK_INT(c->redis.command_timeout_ms, 2000);
	CHECK_INT(c->redis.stream_maxlen, 5000);
	CHECK_INT(c->verp.format, BH_VERP_CLASSIC);
	CHECK_STR(c->verp.domain, "b.example.com");
	CHECK_STR(c->verp.prefix, "rt");
	CHECK_INT(c->verp.delim1, '-');
	CHECK_INT(c->verp.delim2, '=');
	CHECK_INT(c->verp.n_keys, 2);
	CHECK_STR(c->verp.keys[0].id, "new");
	CHECK_INT(c->verp.keys[0].len, 32);
	CHECK(memcmp(c->verp.keys[0].key, "0123456789abcdef0123456789ABCDEF", 32) == 0);
	CHECK_STR(c->verp.keys[1].id, "old");
	CHECK_INT(c->verp.keys[1].len, 20);
	CHECK_INT(c->verp.max_age_s, 14 * 86400);
	CHECK_INT(c->verp.tag_bytes, 16);
	CHECK(c->rules_replace_builtin);
	CHECK_INT(c->n_rules, 1);
	if (c->n_rules == 1) {
		CHECK_STR(c->rules[0].id, "r1");
		CHECK_STR(c->rules[0].status, "5.7.*");
		CHECK_STR(c->rules[0].reply_code, "55?");
		CHECK_STR(c->rules[0].pattern, "(?i)blocked");
		CHECK_INT(c->rules[0].reason, BH_R_BLOCKED);
		CHECK(c->rules[0].has_whose);
		CHECK_INT(c->rules[0].whose, BH_WHOSE_EITHER);
	}
	CHECK_INT(c->limits.message_size, 10 * 1024 * 1024);
	CHECK_INT(c->limits.mime_depth, 8);
	CHECK_INT(c->limits.mime_parts, 100);
	CHECK_INT(c->limits.header_line, 16 * 1024);
	CHECK_INT(c->limits.header_count, 500);
	CHECK_INT(c->limits.recipients, 50);
	CHECK_INT(c->limits.hop_limit, 20);
	CHECK_INT(c->limits.regex_match_limit, 5000);
	CHECK_INT(c->n_our_domains, 2);
	if (c->n_our_domains == 2)
		CHECK_STR(c->our_domains[0], "example.org");
	CHECK_STR(c->log_format, "logfmt");
	CHECK_STR(c->metrics_listen, "[::1]:9356");

	round_trip(c, "all keys");
	/* the printed form masks every secret */
	{
		struct bh_buf b;

		bh_buf_init(&b);
		bh_config_dump(c, &b);
		CHECK(strstr(b.data, "imap secret") == NULL);
		CHECK(strstr(b.data, "pw-from-env") == NULL);
		CHECK(strstr(b.data, "0123456789") == NULL);
		CHECK(strstr(b.data, "  password: \"***\"\n") != NULL);
		CHECK(strstr(b.data, "- {id: \"new\", file: \"") != NULL);
		CHECK(strstr(b.data, "key: \"***\"}") != NULL);
		CHECK(strstr(b.data, "  connect_timeout: 250ms\n") != NULL);
		CHECK(strstr(b.data, "  message_size: 10MB\n") != NULL);
		bh_buf_deinit(&b);
	}
	bh_config_free(&c);
	bh_config_diags_deinit(&d);
}

/* test_scaleout - sentinels, WAIT and the lease load, print and load again */
static void
test_scaleout(void)
{
	struct bh_config_diags d = {NULL, 0};
	struct bh_config *c = load(
	    BASE "redis: {sentinels: [\"10.0.0.5:26379\", \"[::1]:26380\"], master_name: bh,"
		 " wait_replicas: 1,\n  sentinel_user: watch, sentinel_password_file: imap.pw}\n"
		 "lease: {enabled: true, ttl: 9s}\n",
	    &d);

	CHECK(c != NULL);
	if (c == NULL) {
		bh_config_diags_print(&d, stderr);
		bh_config_diags_deinit(&d);
		return;
	}
	CHECK_INT(c->redis.n_sentinels, 2);
	if (c->redis.n_sentinels == 2)
		CHECK_STR(c->redis.sentinels[1], "[::1]:26380");
	CHECK_STR(c->redis.master_name, "bh");
	CHECK_INT(c->redis.wait_replicas, 1);
	CHECK_STR(c->redis.sentinel_user, "watch");
	CHECK_STR(c->redis.sentinel_password, "imap secret");
	CHECK(c->redis.password == NULL);
	CHECK(c->lease.enabled);
	CHECK_INT(c->lease.ttl_s, 9);
	round_trip(c, "scale-out");
	bh_config_free(&c);
	bh_config_diags_deinit(&d);
}

/* test_defaults - a minimal file gets every documented default */
static void
test_defaults(void)
{
	struct bh_config_diags d = {NULL, 0};
	struct bh_config *c = load(BASE, &d);
	const struct bh_list_policy *p;
	bool known = true;

	CHECK(c != NULL);
	if (c == NULL)
		return;
	CHECK_INT(c->imap.port, 993);
	CHECK_INT(c->imap.tls, BH_TLS_TLS);
	CHECK(c->imap.verify_cert);
	CHECK(c->imap.ca_file == NULL);
	CHECK_INT(c->imap.auth, BH_AUTH_LOGIN);
	CHECK_STR(c->imap.mailbox, "INBOX");
	CHECK_STR(c->imap.processed_folder, "bouncer/processed");
	CHECK_INT(c->imap.batch_size, BH_DEF_BATCH_SIZE);
	CHECK(c->imap.idle);
	CHECK_INT(c->imap.poll_interval_s, 60);
	CHECK_INT(c->imap.timeout_s, 60);
	CHECK_STR(c->redis.host, "127.0.0.1");
	CHECK_INT(c->redis.port, 6379);
	CHECK(c->redis.password == NULL);
	CHECK_STR(c->redis.prefix, "bouncer");
	CHECK_INT(c->redis.connect_timeout_ms, 2000);
	CHECK_INT(c->redis.command_timeout_ms, 5000);
	CHECK_INT(c->verp.format, BH_VERP_SIGNED);
	CHECK_STR(c->verp.prefix, "bounces");
	CHECK_INT(c->verp.delim1, '+');
	CHECK_INT(c->limits.message_size, BH_DEF_MESSAGE_SIZE);
	CHECK_INT(c->limits.header_line, BH_DEF_HEADER_LINE);
	CHECK_INT(c->limits.regex_match_limit, BH_DEF_REGEX_MATCH_LIMIT);
	CHECK_STR(c->log_format, "json");
	CHECK(c->metrics_listen == NULL);
	CHECK_INT(c->redis.n_sentinels, 0);
	CHECK(c->redis.master_name == NULL);
	CHECK_INT(c->redis.wait_replicas, 0);
	CHECK(c->redis.sentinel_user == NULL);
	CHECK(c->redis.sentinel_password == NULL);
	CHECK(!c->lease.enabled);
	CHECK_INT(c->lease.ttl_s, 30);
	CHECK_INT(c->unknown_list, BH_UNKNOWN_DEFAULTS);
	p = bh_config_policy(c, "nosuchlist", &known);
	CHECK(!known);
	CHECK(p == &c->defaults);
	CHECK_INT(p->by_reason[BH_R_USERUNKNOWN].kind, BH_POL_SUPPRESS);
	CHECK_INT(p->by_reason[BH_R_FEEDBACK].kind, BH_POL_SUPPRESS);
	CHECK_INT(p->by_reason[BH_R_MAILBOXFULL].kind, BH_POL_COUNT);
	CHECK_INT(p->by_reason[BH_R_MAILBOXFULL].threshold, 3);
	CHECK_INT(p->by_reason[BH_R_MAILBOXFULL].window_s, 15 * 86400);
	CHECK_INT(p->by_reason[BH_R_MAILBOXFULL].duration_s, 30 * 86400);
	CHECK_INT(p->by_reason[BH_R_BLOCKED].kind, BH_POL_ALERT);
	CHECK_INT(p->by_reason[BH_R_VACATION].kind, BH_POL_IGNORE);
	CHECK_INT(p->by_reason[BH_R_UNDEFINED].kind, BH_POL_IGNORE);
	CHECK(!p->sender_side_may_suppress);
	CHECK(!p->count_delayed);
	CHECK_INT(p->loop[BH_LOOP_BACKSCATTER].kind, BH_POL_IGNORE);
	bh_config_free(&c);

	/* plain text IMAP is fine to a loopback host; the port follows the TLS mode */
	{
		static const char *const hosts[] = {"127.0.0.1", "localhost", "\"::1\"",
						    "127.1.2.3"};
		size_t i;

		for (i = 0; i < BH_NELEM(hosts); i++) {
			char *y = bh_asprintf("imap: {host: %s, tls: none, user: u, password_env: "
					      "BH_TEST_PW}\nverp: {domain: b.example.com, format: "
					      "classic}\n",
					      hosts[i]);
			struct bh_config *c2 = load(y, &d);

			CHECK(c2 != NULL);
			if (c2 != NULL) {
				CHECK_INT(c2->imap.port, 143);
				CHECK_INT(c2->verp.n_keys, 0);
			}
			bh_config_free(&c2);
			free(y);
		}
	}

	/* redis: host, port and a password from a file */
	{
		static const char y[] = BASE "redis: {host: r.example, port: 6380, password_file: "
					     "imap.pw}\n";
		struct bh_config *c2 = load(y, &d);

		CHECK(c2 != NULL);
		if (c2 != NULL) {
			CHECK_STR(c2->redis.host, "r.example");
			CHECK_INT(c2->redis.port, 6380);
			CHECK_STR(c2->redis.password, "imap secret");
		}
		bh_config_free(&c2);
	}

	/* the no-file defaults agree */
	c = bh_config_defaults();
	CHECK_INT(c->imap.port, 993);
	CHECK_STR(c->redis.prefix, "bouncer");
	CHECK_INT(c->defaults.by_reason[BH_R_HASMOVED].kind, BH_POL_SUPPRESS);
	bh_config_free(&c);
	bh_config_diags_deinit(&d);
}

/* test_inherit - group < reason; defaults < list; fields merge one by one */
static void
test_inherit(void)
{
	static const char yaml[] =
	    BASE "defaults:\n"
		 "  unknown_list: quarantine\n"
		 "  soft: {action: count, threshold: 4, window: 10d, for: 20d}\n"
		 "  mailboxfull: {threshold: 6}\n"
		 "  complaint: {action: suppress, scope: global}\n"
		 "  sender_side_may_suppress: false\n"
		 "  sender_alert: {threshold: 9}\n"
		 "  loops: {bounce_of_bounce: alert}\n"
		 "lists:\n"
		 "  news:\n"
		 "    soft: {threshold: 2}\n"
		 "    suspend: {action: suppress_for, for: 3d}\n"
		 "    loops: alert\n"
		 "  relaxed:\n"
		 "    sender_side_may_suppress: true\n"
		 "    blocked: {action: count, threshold: 10, window: 1d}\n"
		 "    hard: ignore\n"
		 "    count_delayed: true\n"
		 "  plain:\n";
	struct bh_config_diags d = {NULL, 0};
	struct bh_config *c = load(yaml, &d);
	const struct bh_list_policy *p;
	bool known = false;
	char *got = diags_str(&d);

	CHECK_STR(got, "");
	free(got);
	if (c == NULL)
		return;
	CHECK_INT(c->unknown_list, BH_UNKNOWN_QUARANTINE);
	CHECK_INT(c->n_lists, 3);
	p = &c->defaults;
	CHECK_INT(p->by_reason[BH_R_EXPIRED].threshold, 4);
	CHECK_INT(p->by_reason[BH_R_MAILBOXFULL].threshold, 6);		/* reason beats group */
	CHECK_INT(p->by_reason[BH_R_MAILBOXFULL].window_s, 10 * 86400); /* fields merge */
	CHECK_INT(p->by_reason[BH_R_FEEDBACK].scope, BH_SCOPE_GLOBAL);
	CHECK_INT(p->sender_alert_threshold, 9);
	CHECK_INT(p->sender_alert_window_s, 3600);
	CHECK_INT(p->loop[BH_LOOP_BOUNCE_OF_BOUNCE].kind, BH_POL_ALERT);
	CHECK_INT(p->loop[BH_LOOP_REPEAT].kind, BH_POL_IGNORE);

	p = bh_config_policy(c, "NEWS", &known); /* list names match without case */
	CHECK(known);
	CHECK_STR(p->name, "news");
	CHECK_INT(p->by_reason[BH_R_EXPIRED].kind, BH_POL_COUNT);
	CHECK_INT(p->by_reason[BH_R_EXPIRED].threshold, 2);
	CHECK_INT(p->by_reason[BH_R_EXPIRED].window_s, 10 * 86400);
	CHECK_INT(p->by_reason[BH_R_EXPIRED].duration_s, 20 * 86400);
	/* the list's group beats the defaults' reason */
	CHECK_INT(p->by_reason[BH_R_MAILBOXFULL].threshold, 2);
	CHECK_INT(p->by_reason[BH_R_SUSPEND].kind, BH_POL_SUPPRESS_FOR);
	CHECK_INT(p->by_reason[BH_R_SUSPEND].duration_s, 3 * 86400);
	CHECK_INT(p->by_reason[BH_R_SUSPEND].threshold, 0);
	CHECK_INT(p->by_reason[BH_R_FEEDBACK].scope, BH_SCOPE_GLOBAL);
	CHECK_INT(p->by_reason[BH_R_USERUNKNOWN].kind, BH_POL_SUPPRESS);
	CHECK_INT(p->loop[BH_LOOP_REPEAT].kind, BH_POL_ALERT);
	CHECK_INT(p->sender_alert_threshold, 9);

	p = bh_config_policy(c, "relaxed", &known);
	CHECK(known);
	CHECK(p->sender_side_may_suppress);
	CHECK(p->count_delayed);
	CHECK_INT(p->by_reason[BH_R_BLOCKED].kind, BH_POL_COUNT);
	CHECK_INT(p->by_reason[BH_R_BLOCKED].threshold, 10);
	CHECK_INT(p->by_reason[BH_R_BLOCKED].window_s, 86400);
	CHECK_INT(p->by_reason[BH_R_USERUNKNOWN].kind, BH_POL_IGNORE);
	CHECK_INT(p->by_reason[BH_R_RATELIMITED].kind, BH_POL_ALERT);

	p = bh_config_policy(c, "plain", &known);
	CHECK(known);
	CHECK(memcmp(p->by_reason, c->defaults.by_reason, sizeof(p->by_reason)) == 0);

	{
		struct bh_buf b;

		bh_buf_init(&b);
		bh_config_dump(c, &b);
		round_trip(c, "inheritance");
		CHECK(strstr(b.data, "  plain: {}\n") != NULL);
		CHECK(strstr(b.data, "    suspend: {action: suppress_for, for: 3d}\n") != NULL);
		CHECK(strstr(b.data,
			     "  soft: {action: count, threshold: 4, window: 10d, for: 20d}\n") !=
		      NULL);
		bh_buf_deinit(&b);
	}
	bh_config_free(&c);
	bh_config_diags_deinit(&d);
}

static void
test_values(void)
{
	static const struct {
		const char *in;
		int ret;
		long long ms;
	} durs[] = {
	    {"45s", 0, 45000},
	    {"30m", 0, 1800000},
	    {"12h", 0, 43200000},
	    {"15d", 0, 1296000000LL},
	    {"2w", 0, 1209600000LL},
	    {"500ms", 0, 500},
	    {"0", 0, 0},
	    {"", -1, 0},
	    {"15", -1, 0},
	    {"1.5h", -1, 0},
	    {"-1s", -1, 0},
	    {"+1s", -1, 0},
	    {" 1s", -1, 0},
	    {"1s ", -1, 0},
	    {"1S", -1, 0},
	    {"1y", -1, 0},
	    {"1h30m", -1, 0},
	    {"999999999999999w", -1, 0},
	    {"99999999999999w", -1, 0},
	};
	static const struct {
		const char *in;
		int ret;
		unsigned long long bytes;
	} sizes[] = {
	    {"25MB", 0, 25ull << 20}, {"512KB", 0, 512ull << 10},
	    {"1GB", 0, 1ull << 30},   {"100", 0, 100},
	    {"100B", 0, 100},	      {"2tb", 0, 2ull << 40},
	    {"25 MB", -1, 0},	      {"MB", -1, 0},
	    {"1.5MB", -1, 0},	      {"-1KB", -1, 0},
	    {"1PB", -1, 0},	      {"999999999999999TB", -1, 0},
	};
	char buf[32];
	size_t i;

	for (i = 0; i < BH_NELEM(durs); i++) {
		int64_t ms = -1;
		const char *err = NULL;
		int ret = bh_parse_duration(durs[i].in, &ms, &err);

		if (ret != durs[i].ret)
			TEST_FAIL("duration \"%s\": got %d, want %d", durs[i].in, ret, durs[i].ret);
		else if (ret == 0)
			CHECK_INT(ms, durs[i].ms);
		test_checks++;
	}
	for (i = 0; i < BH_NELEM(sizes); i++) {
		uint64_t v = 0;
		const char *err = NULL;
		int ret = bh_parse_size(sizes[i].in, &v, &err);

		if (ret != sizes[i].ret)
			TEST_FAIL("size \"%s\": got %d, want %d", sizes[i].in, ret, sizes[i].ret);
		else if (ret == 0)
			CHECK_INT(v, sizes[i].bytes);
		test_checks++;
	}
	CHECK_STR(bh_format_duration(1296000000LL, buf, sizeof(buf)), "15d");
	CHECK_STR(bh_format_duration(90000, buf, sizeof(buf)), "90s");
	CHECK_STR(bh_format_duration(3600000, buf, sizeof(buf)), "1h");
	CHECK_STR(bh_format_duration(250, buf, sizeof(buf)), "250ms");
	CHECK_STR(bh_format_duration(0, buf, sizeof(buf)), "0");
	CHECK_STR(bh_format_size(25u << 20, buf, sizeof(buf)), "25MB");
	CHECK_STR(bh_format_size(1000, buf, sizeof(buf)), "1000B");
}

/* test_limits - the structural bounds hold */
static void
test_limits(void)
{
	struct bh_config_diags d = {NULL, 0};
	struct bh_buf b;
	struct bh_config *c;
	char *got;
	unsigned i;

	bh_buf_init(&b);
	for (i = 0; i < BH_MAX_CONFIG_DEPTH + 1; i++)
		bh_buf_putc(&b, '[');
	c = load(b.data, &d);
	CHECK(c == NULL);
	got = diags_str(&d);
	CHECK_STR(got, "1:33: nested deeper than 32 levels");
	free(got);
	bh_config_diags_deinit(&d);

	bh_buf_reset(&b);
	bh_buf_puts(&b, BASE "lists:\n");
	for (i = 0; i < BH_MAX_LISTS + 1; i++)
		bh_buf_printf(&b, "  l%u:\n", i);
	c = load(b.data, &d);
	CHECK(c == NULL);
	got = diags_str(&d);
	CHECK_STR(got, "4:3: lists: more than 10000 lists");
	free(got);
	bh_config_diags_deinit(&d);

	/* exactly the maximum loads */
	bh_buf_reset(&b);
	bh_buf_puts(&b, BASE "lists:\n");
	for (i = 0; i < BH_MAX_LISTS; i++)
		bh_buf_printf(&b, "  l%u: {soft: {threshold: %u}}\n", i, i % 7 + 1);
	c = load(b.data, &d);
	CHECK(c != NULL);
	if (c != NULL) {
		bool known;
		const struct bh_list_policy *p = bh_config_policy(c, "l9999", &known);

		CHECK(known);
		CHECK_INT(p->by_reason[BH_R_MAILBOXFULL].threshold, 9999 % 7 + 1);
	}
	bh_config_free(&c);
	bh_config_diags_deinit(&d);

	/* many problems: all reported, up to the cap */
	bh_buf_reset(&b);
	bh_buf_puts(&b, BASE "redis:\n");
	for (i = 0; i < 1000; i++)
		bh_buf_printf(&b, "  k%u: 1\n", i);
	c = load(b.data, &d);
	CHECK(c == NULL);
	CHECK_INT(d.n, BH_MAX_CONFIG_DIAGS);
	if (d.n > 0)
		CHECK_STR(d.v[d.n - 1].message, "too many problems; stopping here");
	bh_config_diags_deinit(&d);
	bh_buf_deinit(&b);
}

/* test_reload - loading again (SIGHUP) leaves a loaded config and the environment alone */
static void
test_reload(void)
{
	struct bh_config_diags d = {NULL, 0};
	struct bh_config *a = load(BASE "lists: {news: {soft: ignore}}\n", &d), *b;
	struct bh_buf before, after;
	const char *pw = getenv("BH_TEST_PW");
	char *pw_copy = bh_strdup(pw != NULL ? pw : "");

	CHECK(a != NULL);
	if (a == NULL) {
		free(pw_copy);
		return;
	}
	bh_buf_init(&before);
	bh_buf_init(&after);
	bh_config_dump(a, &before);
	b = load(BASE "lists: {news: {soft: sometimes}}\nredis: {port: 0}\n", &d);
	CHECK(b == NULL);
	CHECK_INT(d.n, 2);
	bh_config_diags_deinit(&d);
	b = load(BASE "lists: {news: {soft: suppress}}\n", &d);
	CHECK(b != NULL);
	bh_config_dump(a, &after);
	CHECK_STR(after.data, before.data);
	CHECK_STR(getenv("BH_TEST_PW"), pw_copy);
	if (b != NULL)
		CHECK_INT(b->lists[0].by_reason[BH_R_MAILBOXFULL].kind, BH_POL_SUPPRESS);
	CHECK_INT(a->lists[0].by_reason[BH_R_MAILBOXFULL].kind, BH_POL_IGNORE);
	bh_config_free(&b);
	bh_config_free(&a);
	CHECK(a == NULL);
	bh_config_free(&a); /* NULL is fine */
	bh_config_diags_deinit(&d);
	bh_buf_deinit(&before);
	bh_buf_deinit(&after);
	free(pw_copy);
}

/* test_file - bh_config_load reads a file; a missing file is one problem at line 0 */
static void
test_file(void)
{
	struct bh_config_diags d = {NULL, 0};
	struct bh_config *c;
	char *p = bh_asprintf("%s/real.yaml", dir);

	write_file("real.yaml", BASE);
	c = bh_config_load(p, &d);
	CHECK(c != NULL);
	if (c != NULL)
		CHECK_STR(c->path, p);
	bh_config_free(&c);
	free(p);
	p = bh_asprintf("%s/none.yaml", dir);
	c = bh_config_load(p, &d);
	CHECK(c == NULL);
	CHECK_INT(d.n, 1);
	if (d.n == 1) {
		CHECK_INT(d.v[0].line, 0);
		CHECK_STR(d.v[0].message, "cannot read: No such file or directory");
	}
	free(p);
	bh_config_diags_deinit(&d);
	CHECK_STR(bh_config_path("/x.yaml"), "/x.yaml");
	setenv("BOUNCER_CONFIG", "/y.yaml", 1);
	CHECK_STR(bh_config_path(NULL), "/y.yaml");
	unsetenv("BOUNCER_CONFIG");
	CHECK_STR(bh_config_path(NULL), "/etc/bouncer/bouncer.yaml");
}

int
main(void)
{
	char *p;

	snprintf(dir, sizeof(dir), "/tmp/bh-test-config-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	write_file("imap.pw", "imap secret\n");
	write_file("empty.pw", "\n");
	write_file("ca.pem", "-----BEGIN CERTIFICATE-----\n");
	write_file("verp.key", "0123456789abcdef0123456789ABCDEF\n");
	setenv("BH_TEST_PW", "pw-from-env", 1);
	setenv("BH_TEST_KEY", "k0-key-of-20-bytes!!", 1);
	setenv("BH_SHORT_KEY", "short", 1);
	setenv("BH_EMPTY_VAR", "", 1);
	unsetenv("BH_UNSET_VAR");

	test_values();
	test_bad();
	test_all_keys();
	test_defaults();
	test_scaleout();
	test_inherit();
	test_limits();
	test_reload();
	test_file();

	p = bh_asprintf("rm -rf '%s'", dir);
	if (system(p) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	free(p);
	return test_done("test_config");
}

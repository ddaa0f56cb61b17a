/*
 * test_store_proto.c - the store scripts' calling conventions: what the C packer sends is what
 * the embedded Lua unpacks. Both come from the *.args tables through cmake/store_proto.cmake;
 * this checks the result: every argument of each descriptor is unpacked by the script under its
 * name, in the descriptor's order and with its type, every key group is taken from KEYS in
 * order, and bh_st_emit puts out exactly what the descriptor says (and aborts on a slot left
 * unset or set twice); numbers and RESP lengths as printf writes them. And the bytes: the EVALSHA
 * of a few fixed messages, as RESP, against a golden file (tests/unit/data/store_apply.resp;
 * BH_UPDATE_GOLDEN=1 writes it). No Redis needed.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apply_proto.h"
#include "config.h"
#include "counts_proto.h"
#include "lease_proto.h"
#include "manual_proto.h"
#include "store_int.h"
#include "test.h"

#define GOLDEN "/tests/unit/data/store_apply.resp"

/* One scope of one script and the script's text. */
struct script {
	const struct bh_st_proto *p;
	const char *(*lua)(size_t *len);
	const char *scope; /* "msg" or "dec" */
};

/* check_unpacking - each argument of s->p unpacked under its name, in order, with its type;
 * each key as k_NAME from KEYS; the group mask first when there are groups */
static void
check_unpacking(const struct script *sc)
{
	size_t len, i;
	const char *text = sc->lua(&len), *at, *pos;
	char want[200];

	CHECK(strlen(text) == len);
	snprintf(want, sizeof(want), "local bh_kf_%s = tonumber(ARGV[bh_an]); bh_an = bh_an + 1",
		 sc->scope);
	at = strstr(text, want);
	if (sc->p->n_groups > 1) {
		CHECK(at != NULL);
	} else {
		CHECK(at == NULL);
		at = text;
	}
	if (at == NULL)
		return;
	pos = at;
	for (i = 0; i < sc->p->n_keys; i++) {
		snprintf(want, sizeof(want), "k_%s", sc->p->key_name[i]);
		if ((at = strstr(pos, want)) == NULL) {
			TEST_FAIL("%s: key %s not unpacked in order", sc->p->name,
				  sc->p->key_name[i]);
			return;
		}
		pos = at;
	}
	for (i = 0; i < sc->p->n_args; i++) {
		const char *name = sc->p->arg_name[i];

		switch (sc->p->arg_type[i]) {
		case BH_ST_PAIRS:
			snprintf(want, sizeof(want), "local %s = bh_take()\n", name);
			break;
		case BH_ST_NUM:
			/* the number, and name_s: the string as sent (for redis.call) */
			snprintf(want, sizeof(want),
				 "local %s_s = ARGV[bh_an]; local %s = tonumber(%s_s); "
				 "bh_an = bh_an + 1\n",
				 name, name, name);
			break;
		default:
			snprintf(want, sizeof(want), "local %s = ARGV[bh_an]; bh_an = bh_an + 1\n",
				 name);
			break;
		}
		if ((at = strstr(pos, want)) == NULL) {
			TEST_FAIL("%s: argument %s not unpacked in order as \"%.*s\"", sc->p->name,
				  name, (int)strlen(want) - 1, want);
			return;
		}
		pos = at + strlen(want);
	}
	test_checks++;
}

/* fill - the first n_keys key slots and every argument slot of p (but skip_arg) set: keys
 * "K<i>", scalars "A<i>", pairs one pair */
static void
fill(struct bh_st_pack *k, const struct bh_st_proto *p, unsigned skip_arg, size_t n_keys)
{
	unsigned i;

	bh_st_pack_init(k, p);
	for (i = 0; i < n_keys; i++)
		bh_st_keyf(k, i, "K%u", i);
	for (i = 0; i < p->n_args; i++) {
		if (i == skip_arg)
			continue;
		if (p->arg_type[i] == BH_ST_PAIRS)
			bh_st_pair(bh_st_pairs(k, i), "n", "v");
		else
			bh_st_putf(k, i, "A%u", i);
	}
}

/* check_emit - the order bh_st_emit puts slots out in */
static void
check_emit(const struct bh_st_proto *p)
{
	struct bh_st_pack k;
	struct args keys = {0}, argv = {0};
	size_t i, a = 0;
	char want[32];

	fill(&k, p, (unsigned)-1, p->n_keys);
	bh_st_emit(&k, &keys, &argv);
	bh_st_pack_deinit(&k);
	CHECK_INT(keys.n, p->n_keys);
	for (i = 0; i < keys.n; i++) {
		snprintf(want, sizeof(want), "K%zu", i);
		CHECK_STR(keys.v[i], want);
	}
	if (p->n_groups > 1) {
		snprintf(want, sizeof(want), "%lu", (1UL << p->n_groups) - 1);
		CHECK_STR(argv.v[a++], want); /* every group sent */
	}
	for (i = 0; i < p->n_args && a < argv.n; i++) {
		if (p->arg_type[i] == BH_ST_PAIRS) {
			CHECK_STR(argv.v[a], "1");
			CHECK_STR(argv.v[a + 1], "n");
			CHECK_STR(argv.v[a + 2], "v");
			a += 3;
		} else {
			snprintf(want, sizeof(want), "A%zu", i);
			CHECK_STR(argv.v[a++], want);
		}
	}
	CHECK_INT(a, argv.n);
	bh_st_args_deinit(&keys);
	bh_st_args_deinit(&argv);

	/* a group sent in part drops nothing silently: keys of the apply message's base group
	 * only, the mask says so */
	if (p == &bh_apply_msg_proto) {
		fill(&k, p, (unsigned)-1, BH_APPLY_MSG_K_rpt);
		bh_st_emit(&k, &keys, &argv);
		bh_st_pack_deinit(&k);
		CHECK_INT(keys.n, 3);
		CHECK_STR(argv.v[0], "1");
		bh_st_args_deinit(&keys);
		bh_st_args_deinit(&argv);
	}
}

/* check_abort - an argument left unset is our bug: bh_st_emit aborts */
static void
check_abort(const struct bh_st_proto *p)
{
	pid_t pid = fork();
	int status = 0;

	if (pid == 0) {
		struct bh_st_pack k;
		struct args keys = {0}, argv = {0};

		int null = open("/dev/null", O_WRONLY);

		dup2(null, 2);
		fill(&k, p, 0, p->n_keys);
		bh_st_emit(&k, &keys, &argv);
		_exit(0);
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECK(!(WIFEXITED(status) && WEXITSTATUS(status) == 0));
}

/* check_numbers - bh_st_fmt_num as "%lld", bh_st_resp_bulk's length prefix as "$%zu" */
static void
check_numbers(void)
{
	static const long long nums[] = {0, 7, -1, 10, 99, 100, 4000000000LL, LLONG_MAX, LLONG_MIN};
	static const size_t lens[] = {0, 1, 9, 10, 99, 100, 999, 1000, 5000};
	char buf[BH_ST_NUM_LEN], want[64], *text;
	struct bh_buf b;
	size_t i;

	for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		snprintf(want, sizeof(want), "%lld", nums[i]);
		CHECK_STR(bh_st_fmt_num(buf, nums[i]), want);
	}
	text = bh_malloc(5000);
	memset(text, 'y', 5000);
	bh_buf_init(&b);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		b.len = 0;
		bh_st_resp_bulk(&b, text, lens[i]);
		snprintf(want, sizeof(want), "$%zu\r\n", lens[i]);
		CHECK_INT(b.len, strlen(want) + lens[i] + 2);
		CHECK(strncmp(b.data, want, strlen(want)) == 0);
		CHECK(memcmp(b.data + b.len - 2, "\r\n", 2) == 0 && b.data[b.len] == '\0');
	}
	bh_buf_deinit(&b);
	free(text);
}

/* check_set_twice - a key or scalar slot set twice is our bug: it aborts */
static void
check_set_twice(int key)
{
	pid_t pid = fork();
	int status = 0;

	if (pid == 0) {
		struct bh_st_pack k;
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 2);
		bh_st_pack_init(&k, &bh_apply_msg_proto);
		if (key) {
			bh_st_keycat(&k, BH_APPLY_MSG_K_events, "a", "b", (char *)NULL);
			bh_st_keycat(&k, BH_APPLY_MSG_K_events, "a", "b", (char *)NULL);
		} else {
			bh_st_put_num(&k, BH_APPLY_MSG_A_now, 1);
			bh_st_put(&k, BH_APPLY_MSG_A_now, "1");
		}
		_exit(0);
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECK(!(WIFEXITED(status) && WEXITSTATUS(status) == 0));
}

/* escape - the RESP bytes p[0..n) as text, one line per CRLF: "\r\n" then a newline, a
 * backslash, tab or other unprintable byte as \\, \t or \xHH */
static void
escape(struct bh_buf *out, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '\r' && i + 1 < n && p[i + 1] == '\n') {
			bh_buf_puts(out, "\\r\\n\n");
			i++;
		} else if (c == '\\') {
			bh_buf_puts(out, "\\\\");
		} else if (c == '\t') {
			bh_buf_puts(out, "\\t");
		} else if (c < 0x20 || c >= 0x7f) {
			bh_buf_printf(out, "\\x%02x", c);
		} else {
			bh_buf_append(out, (const char *)&c, 1);
		}
	}
}

/* verdict - a verdict of type with one recipient of reason (BH_R_COUNT: none) */
static struct bh_rcpt *
verdict(struct bh_verdict *v, enum bh_msg_type type, const char *id, enum bh_reason reason)
{
	struct bh_rcpt *r;

	bh_verdict_init(v);
	v->type = type;
	v->recognizer = "rfc3464";
	snprintf(v->stable_id, sizeof(v->stable_id), "%s", id);
	v->env.message_id = bh_asprintf("<%s@mx.example>", id);
	v->env.reporting_mta = bh_strdup("dns; mx.example.net");
	v->original.message_id = bh_asprintf("<sent-%s@list.example>", id);
	v->verp.checked = true;
	v->verp.valid = true;
	if (reason == BH_R_COUNT)
		return NULL;
	r = bh_verdict_add_rcpt(v, 10);
	r->address = bh_strdup("User@Example.NET");
	snprintf(r->status, sizeof(r->status), "%s", "5.1.1");
	snprintf(r->reply_code, sizeof(r->reply_code), "%s", "550");
	r->diagnostic = bh_strdup("smtp; 550 5.1.1 <user@example.net>: no such user\there");
	r->remote_mta = bh_strdup("dns; mx.example.net");
	bh_rcpt_set_reason(r, reason, "test-rule");
	return r;
}

/* check_apply_bytes - the EVALSHA bytes of fixed messages: every key group, a repeat and a
 * burst, a lease, a global scope, a delayed count, a sender-side block without an address, a
 * message without decisions (a loop, a refusal), cut fields, against the golden file */
static void
check_apply_bytes(void)
{
	struct bh_config *cfg = bh_config_defaults();
	struct bh_list_policy pol = cfg->defaults;
	struct bh_verdict v[5];
	struct bh_decision dv[4];
	struct bh_decisions d[5];
	struct bh_store_item it[5];
	struct bh_st_apply_pack ap;
	struct bh_store *s;
	struct bh_rcpt *r;
	struct bh_buf got, want;
	const char *error = NULL;
	char *big;
	size_t i;
	FILE *f;

	s = bh_store_new(cfg, "rules-1", &error);
	CHECK(s != NULL);
	if (s == NULL)
		return;
	snprintf(s->apply_sha, sizeof(s->apply_sha), "%s",
		 "0123456789abcdef0123456789abcdef01234567");
	memset(dv, 0, sizeof(dv));
	memset(d, 0, sizeof(d));
	memset(it, 0, sizeof(it));
	pol.repeat_window_s = 604800;
	pol.repeat_alert = 3;
	pol.burst_max = 50;
	pol.burst_window_s = 600;
	pol.sender_alert_threshold = 5;
	pol.sender_alert_window_s = 3600;
	/* pinned, so that a change of the built-in defaults does not change these bytes */
	cfg->defaults.sender_alert_threshold = 7;
	cfg->defaults.sender_alert_window_s = 7200;
	cfg->redis.stream_maxlen = 0;

	/* 0: a hard bounce suppressed in list "Bench", with a repeat and a burst */
	r = verdict(&v[0], BH_TYPE_DSN, "aaaa0000", BH_R_USERUNKNOWN);
	dv[0] = (struct bh_decision){r,
				     "user@example.net",
				     "Bench",
				     BH_OUT_SUPPRESS,
				     {BH_POL_SUPPRESS_FOR, 86400, 0, 0, BH_SCOPE_LIST},
				     false,
				     false,
				     "hard bounce"};
	d[0] = (struct bh_decisions){&dv[0], 1, BH_TYPE_DSN, false, "processed", &pol};
	/* 1: a delayed soft one counted globally, two decisions, a long diagnostic */
	r = verdict(&v[1], BH_TYPE_DSN, "bbbb1111", BH_R_MAILBOXFULL);
	big = bh_malloc(3 * 4096);
	memset(big, 'x', 3 * 4096 - 1);
	big[3 * 4096 - 1] = '\0';
	free(r->diagnostic);
	r->diagnostic = big;
	r->feedback_type = bh_strdup("abuse");
	dv[1] = (struct bh_decision){r,
				     "user@example.net",
				     "bench",
				     BH_OUT_COUNT,
				     {BH_POL_COUNT, 2592000, 3, 1296000, BH_SCOPE_GLOBAL},
				     false,
				     true,
				     "soft bounce"};
	dv[2] = (struct bh_decision){r,
				     "other@example.org",
				     NULL,
				     BH_OUT_RECORD,
				     {BH_POL_IGNORE, 0, 0, 0, BH_SCOPE_LIST},
				     false,
				     false,
				     "ignored"};
	d[1] = (struct bh_decisions){&dv[1], 2, BH_TYPE_DSN, false, "processed", &pol};
	/* 2: a sender-side block without an address: the domain from the report */
	r = verdict(&v[2], BH_TYPE_DSN, "cccc2222", BH_R_BLOCKED);
	dv[3] = (struct bh_decision){
	    r,	  NULL,	 "Bench",      BH_OUT_ALERT, {BH_POL_ALERT, 0, 0, 0, BH_SCOPE_LIST},
	    true, false, "sender side"};
	d[2] = (struct bh_decisions){&dv[3], 1, BH_TYPE_DSN, false, "processed", &pol};
	/* 3: an auto-reply bounce loop, no decisions */
	verdict(&v[3], BH_TYPE_AUTOREPLY, "dddd3333", BH_R_COUNT);
	v[3].loop.kind = BH_LOOP_AUTOREPLY_BOUNCE;
	d[3] = (struct bh_decisions){NULL, 0, BH_TYPE_AUTOREPLY, false, "ignored", &pol};
	/* 4: refused, no decisions, hand-made (no decisions' policy), no lease */
	verdict(&v[4], BH_TYPE_AUTOREPLY, "eeee4444", BH_R_COUNT);
	v[4].verp.valid = false;
	d[4] = (struct bh_decisions){NULL, 0, BH_TYPE_AUTOREPLY, true, "quarantine", NULL};
	for (i = 0; i < 5; i++) {
		it[i].v = &v[i];
		it[i].d = &d[i];
		it[i].mailbox = i == 4 ? NULL : "INBOX";
		it[i].folder = "bouncer/processed";
		it[i].loop_folder = i == 0 ? "bouncer/loops" : NULL;
		it[i].uidvalidity = 1700000000u + (uint32_t)i;
		it[i].uid = 4000000000u + (uint32_t)i;
	}

	bh_buf_init(&got);
	bh_buf_init(&want);
	bh_st_apply_pack_init(&ap);
	for (i = 0; i < 5; i++) {
		const struct bh_buf *resp;

		if (i == 0) {
			s->lease_key = bh_strdup("{bouncer}:lease:host:user:INBOX");
			s->lease_token = bh_strdup("host.example:4242:0011223344556677");
		} else if (i == 4) {
			free(s->lease_key);
			free(s->lease_token);
			s->lease_key = s->lease_token = NULL;
		}
		resp = bh_st_apply_resp(&ap, s, &it[i], 1764780000 + (int64_t)i * 400);
		bh_buf_printf(&got, "-- item %zu\n", i);
		escape(&got, resp->data, resp->len);
		bh_buf_puts(&got, "\n");
	}
	bh_st_apply_pack_deinit(&ap);

	if (getenv("BH_UPDATE_GOLDEN") != NULL) {
		f = fopen(BH_SOURCE_DIR GOLDEN, "w");
		CHECK(f != NULL && fwrite(got.data, 1, got.len, f) == got.len && fclose(f) == 0);
	} else if ((f = fopen(BH_SOURCE_DIR GOLDEN, "r")) == NULL) {
		TEST_FAIL("%s: cannot open", GOLDEN);
	} else {
		char chunk[4096];
		size_t k, at;

		while ((k = fread(chunk, 1, sizeof(chunk), f)) > 0)
			bh_buf_append(&want, chunk, k);
		fclose(f);
		for (at = 0; at < got.len && at < want.len && got.data[at] == want.data[at]; at++)
			;
		test_checks++;
		if (at != got.len || got.len != want.len)
			TEST_FAIL("%s: differs at byte %zu: got \"%.80s\", want \"%.80s\"", GOLDEN,
				  at, got.data + at, at < want.len ? want.data + at : "");
	}
	bh_buf_deinit(&got);
	bh_buf_deinit(&want);
	for (i = 0; i < 5; i++)
		bh_verdict_deinit(&v[i]);
	bh_store_free(&s);
	bh_config_free(&cfg);
}

/* main - every script's conventions */
int
main(void)
{
	static const struct script scripts[] = {
	    {&bh_apply_msg_proto, bh_st_apply_lua, "msg"},
	    {&bh_apply_dec_proto, bh_st_apply_lua, "dec"},
	    {&bh_manual_msg_proto, bh_st_manual_lua, "msg"},
	    {&bh_lease_msg_proto, bh_st_lease_lua, "msg"},
	    {&bh_counts_msg_proto, bh_st_counts_lua, "msg"},
	};
	size_t i;

	for (i = 0; i < sizeof(scripts) / sizeof(scripts[0]); i++) {
		check_unpacking(&scripts[i]);
		check_emit(scripts[i].p);
	}
	check_abort(&bh_apply_dec_proto);
	check_set_twice(1);
	check_set_twice(0);
	check_numbers();
	check_apply_bytes();
	/* the message scope's unpacking comes before the decisions' */
	{
		size_t len;
		const char *t = bh_st_apply_lua(&len);

		CHECK(strstr(t, "local bh_kf_msg") < strstr(t, "local bh_kf_dec"));
		CHECK(strstr(t, "-- @") == NULL);
	}
	return test_done("test_store_proto");
}

/*
 * test_store_proto.c - the store scripts' calling conventions: what the C packer sends is what
 * the embedded Lua unpacks. Both come from the *.args tables through cmake/store_proto.cmake;
 * this checks the result: every argument of each descriptor is unpacked by the script under its
 * name, in the descriptor's order and with its type, every key group is taken from KEYS in
 * order, and bh_st_emit puts out exactly what the descriptor says (and aborts on a slot left
 * unset). No Redis needed.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apply_proto.h"
#include "counts_proto.h"
#include "lease_proto.h"
#include "manual_proto.h"
#include "store_int.h"
#include "test.h"

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

/* fill - every slot of p set: keys "K<i>", scalars "A<i>", pairs one pair */
static void
fill(struct bh_st_pack *k, const struct bh_st_proto *p, unsigned skip_arg)
{
	unsigned i;

	bh_st_pack_init(k, p);
	for (i = 0; i < p->n_keys; i++)
		bh_st_keyf(k, i, "K%u", i);
	for (i = 0; i < p->n_args; i++) {
		if (i == skip_arg)
			continue;
		if (p->arg_type[i] == BH_ST_PAIRS)
			bh_st_kv(bh_st_pairs(k, i), "n", "v");
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

	fill(&k, p, (unsigned)-1);
	bh_st_emit(&k, &keys, &argv);
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
		fill(&k, p, (unsigned)-1);
		for (i = BH_APPLY_MSG_K_rpt; i < BH_APPLY_MSG_NKEYS; i++) {
			free(k.key[i]);
			k.key[i] = NULL;
		}
		bh_st_emit(&k, &keys, &argv);
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
		fill(&k, p, 0);
		bh_st_emit(&k, &keys, &argv);
		_exit(0);
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECK(!(WIFEXITED(status) && WEXITSTATUS(status) == 0));
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
	/* the message scope's unpacking comes before the decisions' */
	{
		size_t len;
		const char *t = bh_st_apply_lua(&len);

		CHECK(strstr(t, "local bh_kf_msg") < strstr(t, "local bh_kf_dec"));
		CHECK(strstr(t, "-- @") == NULL);
	}
	return test_done("test_store_proto");
}

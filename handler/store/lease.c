/*
 * lease.c - the mailbox lease (docs/scale-out.md): one worker per mailbox may apply. The apply
 * script refuses a message when the lease key does not hold the worker's token (fencing: a
 * paused ex-holder cannot write); lease.lua takes, renews and drops it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "lease_proto.h"
#include "store_int.h"

/* bh_store_lease_set - fence every apply with the lease of one mailbox */
void
bh_store_lease_set(struct bh_store *s, const char *host, const char *user, const char *mailbox)
{
	unsigned char rnd[16];
	char hex[33], hostname[128] = "?";
	size_t i;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		bh_fatal("getrandom: %s", strerror(errno));
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
	gethostname(hostname, sizeof(hostname) - 1);
	hostname[sizeof(hostname) - 1] = '\0';
	free(s->lease_key);
	free(s->lease_token);
	s->lease_key = bh_asprintf("%s:lease:%s:%s:%s", s->tag, host != NULL ? host : "-",
				   user != NULL ? user : "-", mailbox != NULL ? mailbox : "INBOX");
	s->lease_token = bh_asprintf("%s %s pid=%ld", hex, hostname, (long)getpid());
	s->lease_lost = false;
}

/* lease_call - run the lease script with op "take" or "drop"; the reply, or NULL */
static redisReply *
lease_call(struct bh_store *s, const char *op, int64_t ttl_ms, const char **error_r)
{
	struct args keys = {0}, argv = {0};
	struct bh_st_pack k;
	redisReply *r;
	size_t len;

	bh_st_pack_init(&k, &bh_lease_msg_proto);
	bh_st_keyf(&k, BH_LEASE_MSG_K_lease, "%s", s->lease_key);
	bh_st_put(&k, BH_LEASE_MSG_A_token, s->lease_token);
	bh_st_putf(&k, BH_LEASE_MSG_A_ttl, "%lld", (long long)ttl_ms);
	bh_st_put(&k, BH_LEASE_MSG_A_op, op);
	bh_st_emit(&k, &keys, &argv);
	bh_st_pack_deinit(&k);
	r = bh_st_evalsha(s, s->lease_sha, bh_st_lease_lua(&len), &keys, &argv, error_r);
	if (r != NULL && (r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
			  r->element[0]->type != REDIS_REPLY_INTEGER)) {
		bh_st_set_err(s, error_r, "redis: lease: %.200s",
			      r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		freeReplyObject(r);
		r = NULL;
	}
	return r;
}

/* bh_store_lease - take or renew the lease */
int
bh_store_lease(struct bh_store *s, int64_t ttl_ms, const char **holder_r, int64_t *pttl_r,
	       const char **error_r)
{
	redisReply *r;
	int ret;

	*holder_r = NULL;
	*pttl_r = 0;
	if (s->lease_key == NULL) {
		bh_st_set_err(s, error_r, "no lease set");
		return -1;
	}
	if ((r = lease_call(s, "take", ttl_ms, error_r)) == NULL)
		return -1;
	ret = r->element[0]->integer == 1 ? 1 : 0;
	if (ret == 1) {
		s->lease_lost = false;
	} else {
		if (r->element[1]->type == REDIS_REPLY_STRING) {
			char *p = bh_printable(r->element[1]->str, r->element[1]->len, 200);

			snprintf(s->holder, sizeof(s->holder), "%s", p);
			free(p);
		}
		*holder_r = s->holder;
		if (r->elements > 2 && r->element[2]->type == REDIS_REPLY_INTEGER)
			*pttl_r = r->element[2]->integer;
	}
	freeReplyObject(r);
	return ret;
}

/* bh_store_lease_release - give the lease up when it is ours */
int
bh_store_lease_release(struct bh_store *s, const char **error_r)
{
	redisReply *r;
	int ret;

	if (s->lease_key == NULL)
		return 0;
	if ((r = lease_call(s, "drop", 0, error_r)) == NULL)
		return -1;
	ret = r->element[0]->integer == 1 ? 1 : 0;
	freeReplyObject(r);
	return ret;
}

/* bh_store_lease_lost - did the apply script refuse because the lease holds another token? */
bool
bh_store_lease_lost(const struct bh_store *s)
{
	return s->lease_lost;
}

/*
 * conn.c - the store's connection: connect, authenticate and select, ask the sentinels for the
 * master, follow Cluster MOVED replies, back off after a failure, and the command helpers every
 * other file of the store runs its commands through.
 *
 * A hiredis context that returned an error is dead: it is dropped, and the next connection
 * attempt waits for an exponential backoff (100 ms doubling to 30 s).
 *
 * Scale-out (docs/scale-out.md): with redis.sentinels every connection first asks the sentinels
 * (each in turn, after AUTH with redis.sentinel_password when set) for the master's address and
 * checks with ROLE that it is one; a READONLY, MASTERDOWN or LOADING reply drops the connection
 * so that the next one asks again. On Redis Cluster a new connection sends one keyed command and
 * follows a MOVED reply to the node that owns the slot of "{prefix}" (every key is in that slot).
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "store_int.h"

/* bh_st_set_err - format the store's last error and point *error_r at it */
BH_PRINTF(3, 4)
void
bh_st_set_err(struct bh_store *s, const char **error_r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	if (error_r != NULL)
		*error_r = s->err;
}

/* bh_st_drop - forget a dead connection and schedule the next attempt */
void
bh_st_drop(struct bh_store *s)
{
	if (s->ctx != NULL) {
		redisFree(s->ctx);
		s->ctx = NULL;
	}
	bh_free_str(&s->moved_host);
	s->backoff_ms = s->backoff_ms == 0 ? BH_ST_BACKOFF_MIN_MS : s->backoff_ms * 2;
	if (s->backoff_ms > BH_ST_BACKOFF_MAX_MS)
		s->backoff_ms = BH_ST_BACKOFF_MAX_MS;
	s->next_try_ms = bh_mono_ms() + s->backoff_ms;
}

/* bh_st_transport_err - record a transport error of the context, then drop it */
void
bh_st_transport_err(struct bh_store *s, const char **error_r, const char *what)
{
	bh_st_set_err(s, error_r, "redis: %s: %s", what,
		      s->ctx != NULL && s->ctx->errstr[0] != '\0' ? s->ctx->errstr
								  : "connection lost");
	bh_st_drop(s);
}

/* bh_st_reresolve - leave a server that is not the one to write to (must_reresolve): reconnect at
 * once, to the MOVED target or to whatever the sentinels now name */
void
bh_st_reresolve(struct bh_store *s)
{
	if (s->ctx != NULL) {
		redisFree(s->ctx);
		s->ctx = NULL;
	}
	s->next_try_ms = 0;
}

/* bh_st_command - run one command; NULL on a transport error (the context is then dropped). An
 * error reply is returned as a reply: the caller checks its type. A READONLY or MOVED reply (the
 * command did not run) is retried once on the right server. */
redisReply *
bh_st_command(struct bh_store *s, const struct args *a, const char **error_r)
{
	redisReply *r = NULL;
	int attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		if (bh_store_connect(s, error_r) == -1)
			return NULL;
		r = redisCommandArgv(s->ctx, (int)a->n, (const char **)a->v, a->len);
		if (r == NULL) {
			bh_st_transport_err(s, error_r, a->v[0]);
			return NULL;
		}
		if (attempt > 0 || !bh_st_must_reresolve(s, r))
			break;
		freeReplyObject(r);
		r = NULL;
		bh_st_reresolve(s);
	}
	return r;
}

/* bh_st_commandv - build and run a command from C strings (a (char *)NULL ends the list) */
redisReply *
bh_st_commandv(struct bh_store *s, const char **error_r, const char *first, ...)
{
	struct args a = {0};
	const char *p;
	redisReply *r;
	va_list ap;

	bh_st_args_add(&a, first);
	va_start(ap, first);
	while ((p = va_arg(ap, const char *)) != NULL)
		bh_st_args_add(&a, p);
	va_end(ap);
	r = bh_st_command(s, &a, error_r);
	bh_st_args_deinit(&a);
	return r;
}

#define PIPELINE_MAX_ARGS 4

/* bh_st_pipeline_send - queue argv once per string element of keys, each NULL slot of argv replaced
 * by the element; nothing is read yet (pipeline_reply). Needs a live connection. The number of
 * commands queued, or -1 after a transport error (the connection is then dropped). */
int64_t
bh_st_pipeline_send(struct bh_store *s, const redisReply *keys, const char *const *argv, int argc,
		    const char **error_r)
{
	const char *av[PIPELINE_MAX_ARGS];
	size_t al[PIPELINE_MAX_ARGS], i;
	int64_t sent = 0;
	int a;

	assert(argc >= 1 && argc <= PIPELINE_MAX_ARGS && argv[0] != NULL);
	for (i = 0; i < keys->elements; i++) {
		const redisReply *k = keys->element[i];

		if (k->type != REDIS_REPLY_STRING)
			continue;
		for (a = 0; a < argc; a++) {
			av[a] = argv[a] != NULL ? argv[a] : k->str;
			al[a] = argv[a] != NULL ? strlen(argv[a]) : k->len;
		}
		if (redisAppendCommandArgv(s->ctx, argc, av, al) != REDIS_OK) {
			bh_st_transport_err(s, error_r, argv[0]);
			return -1;
		}
		sent++;
	}
	return sent;
}

/* bh_st_pipeline_reply - the next reply of a pipeline (the caller's to free), or NULL after a
 * transport error (the connection is then dropped); what names the command in the error */
redisReply *
bh_st_pipeline_reply(struct bh_store *s, const char *what, const char **error_r)
{
	void *rp;

	if (redisGetReply(s->ctx, &rp) != REDIS_OK) {
		bh_st_transport_err(s, error_r, what);
		return NULL;
	}
	return rp;
}

/* bh_st_load_script - SCRIPT LOAD one script into sha (41 bytes) */
int
bh_st_load_script(struct bh_store *s, const char *lua, char *sha, const char **error_r)
{
	redisReply *r = redisCommand(s->ctx, "SCRIPT LOAD %s", lua);
	int ret = -1;

	if (r == NULL) {
		bh_st_transport_err(s, error_r, "SCRIPT LOAD");
		return -1;
	}
	if (r->type != REDIS_REPLY_STRING || r->len != 40) {
		bh_st_set_err(s, error_r, "redis: SCRIPT LOAD: %.200s",
			      r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		goto out;
	}
	memcpy(sha, r->str, 40);
	sha[40] = '\0';
	ret = 0;
out:
	freeReplyObject(r);
	return ret;
}

/* bh_st_evalsha - EVALSHA with keys and argv (both consumed), the script loaded again from lua
 * after a NOSCRIPT answer (SCRIPT FLUSH, a failover to a server that never saw it) */
redisReply *
bh_st_evalsha(struct bh_store *s, char *sha, const char *lua, struct args *keys, struct args *argv,
	      const char **error_r)
{
	struct args cmd = {0};
	redisReply *r = NULL;
	size_t i;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		if (bh_store_connect(s, error_r) == -1)
			break;
		bh_st_args_add(&cmd, "EVALSHA");
		bh_st_args_add(&cmd, sha);
		bh_st_args_addf(&cmd, "%zu", keys->n);
		for (i = 0; i < keys->n; i++)
			bh_st_args_addn(&cmd, keys->v[i], keys->len[i]);
		for (i = 0; i < argv->n; i++)
			bh_st_args_addn(&cmd, argv->v[i], argv->len[i]);
		r = bh_st_command(s, &cmd, error_r);
		bh_st_args_deinit(&cmd);
		if (r == NULL || r->type != REDIS_REPLY_ERROR ||
		    strncmp(r->str, "NOSCRIPT", 8) != 0 || pass > 0)
			break;
		freeReplyObject(r);
		r = NULL;
		if (bh_st_load_script(s, lua, sha, error_r) == -1)
			break;
	}
	bh_st_args_deinit(keys);
	bh_st_args_deinit(argv);
	return r;
}

/* simple_ok - run a short setup command and require a non-error reply */
static int
simple_ok(struct bh_store *s, const struct args *a, const char **error_r)
{
	redisReply *r = redisCommandArgv(s->ctx, (int)a->n, (const char **)a->v, a->len);
	int ret = -1;

	if (r == NULL) {
		bh_st_transport_err(s, error_r, a->v[0]);
		return -1;
	}
	if (r->type == REDIS_REPLY_ERROR)
		bh_st_set_err(s, error_r, "redis: %s: %.200s", a->v[0], r->str);
	else
		ret = 0;
	freeReplyObject(r);
	return ret;
}

/* split_hostport - "host:port" or "[v6]:port" into host (size bytes) and port; 0 or -1 */
static int
split_hostport(const char *hp, char *host, size_t size, int *port)
{
	const char *colon = strrchr(hp, ':'), *err = NULL;
	long long n;
	size_t hl;

	if (colon == NULL || colon == hp || bh_strtonum(colon + 1, 1, 65535, &n, &err) == -1)
		return -1;
	hl = (size_t)(colon - hp);
	if (hp[0] == '[' && hl > 2 && hp[hl - 1] == ']') {
		hp++;
		hl -= 2;
	}
	if (hl >= size)
		return -1;
	memcpy(host, hp, hl);
	host[hl] = '\0';
	*port = (int)n;
	return 0;
}

/* sentinel_auth - AUTH [user] password on a sentinel connection when redis.sentinel_password
 * is set; 0, or -1 with *error_r naming the sentinel (the reply is quoted, never the secret) */
static int
sentinel_auth(struct bh_store *s, redisContext *c, const char *name, const char **error_r)
{
	const struct bh_redis_conf *rc = s->rc;
	const char *av[3];
	size_t al[3];
	int n = 0;
	redisReply *r;

	if (rc->sentinel_password == NULL)
		return 0;
	av[n++] = "AUTH";
	if (rc->sentinel_user != NULL)
		av[n++] = rc->sentinel_user;
	av[n++] = rc->sentinel_password;
	for (int i = 0; i < n; i++)
		al[i] = strlen(av[i]);
	r = redisCommandArgv(c, n, av, al);
	if (r == NULL) {
		bh_st_set_err(s, error_r, "redis: sentinel %s: AUTH: %s", name, c->errstr);
		return -1;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		bh_st_set_err(s, error_r, "redis: sentinel %s: AUTH: %.200s", name, r->str);
		freeReplyObject(r);
		return -1;
	}
	freeReplyObject(r);
	return 0;
}

/* sentinel_master - ask the sentinels, each in turn, where the master is (after AUTH when
 * they require a password); 0 with host and port, or -1 with *error_r (the last sentinel's
 * problem) */
static int
sentinel_master(struct bh_store *s, char *host, size_t size, int *port, const char **error_r)
{
	const struct bh_redis_conf *rc = s->rc;
	struct timeval ctv, ttv;
	redisContext *c;
	redisReply *r;
	char sh[256];
	int sp;
	size_t i;

	ctv.tv_sec = rc->connect_timeout_ms / 1000;
	ctv.tv_usec = (rc->connect_timeout_ms % 1000) * 1000;
	ttv = ctv;
	bh_st_set_err(s, error_r, "redis: no sentinel configured");
	for (i = 0; i < rc->n_sentinels; i++) {
		if (split_hostport(rc->sentinels[i], sh, sizeof(sh), &sp) == -1)
			continue;
		c = redisConnectWithTimeout(sh, sp, ctv);
		if (c == NULL || c->err != 0) {
			bh_st_set_err(s, error_r, "redis: sentinel %s: %s", rc->sentinels[i],
				      c != NULL ? c->errstr : "out of memory");
			if (c != NULL)
				redisFree(c);
			continue;
		}
		redisSetTimeout(c, ttv);
		if (sentinel_auth(s, c, rc->sentinels[i], error_r) == -1) {
			redisFree(c);
			continue;
		}
		r = redisCommand(c, "SENTINEL get-master-addr-by-name %s", rc->master_name);
		if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
		    r->element[0]->type == REDIS_REPLY_STRING &&
		    r->element[1]->type == REDIS_REPLY_STRING && r->element[0]->len < size) {
			long long n;
			const char *err = NULL;

			if (bh_strtonum(r->element[1]->str, 1, 65535, &n, &err) == 0) {
				memcpy(host, r->element[0]->str, r->element[0]->len + 1);
				*port = (int)n;
				freeReplyObject(r);
				redisFree(c);
				return 0;
			}
		}
		if (r != NULL && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOAUTH", 6) == 0)
			bh_st_set_err(
			    s, error_r,
			    "redis: sentinel %s requires a password: set "
			    "redis.sentinel_password_file or sentinel_password_env (%.200s)",
			    rc->sentinels[i], r->str);
		else
			bh_st_set_err(s, error_r,
				      "redis: sentinel %s does not know master %.100s%s%.200s",
				      rc->sentinels[i], rc->master_name,
				      r != NULL && r->type == REDIS_REPLY_ERROR ? ": " : "",
				      r != NULL && r->type == REDIS_REPLY_ERROR ? r->str : "");
		if (r != NULL)
			freeReplyObject(r);
		redisFree(c);
	}
	return -1;
}

/* open_ctx - connect to the Cluster MOVED target, the sentinels' master or the configured
 * server; authenticate and select. 0, or -1 with *error_r (nothing left open). */
static int
open_ctx(struct bh_store *s, const char **error_r)
{
	const struct bh_redis_conf *rc = s->rc;
	struct timeval ctv, ttv;
	struct args a = {0};
	char host[256];
	int port = rc->port;

	ctv.tv_sec = rc->connect_timeout_ms / 1000;
	ctv.tv_usec = (rc->connect_timeout_ms % 1000) * 1000;
	ttv.tv_sec = rc->command_timeout_ms / 1000;
	ttv.tv_usec = (rc->command_timeout_ms % 1000) * 1000;
	if (s->moved_host != NULL) {
		snprintf(host, sizeof(host), "%s", s->moved_host);
		port = s->moved_port;
	} else if (rc->n_sentinels > 0) {
		if (sentinel_master(s, host, sizeof(host), &port, error_r) == -1)
			return -1;
	} else if (rc->socket == NULL) {
		snprintf(host, sizeof(host), "%s", rc->host != NULL ? rc->host : "127.0.0.1");
	}
	if (rc->socket != NULL && s->moved_host == NULL && rc->n_sentinels == 0) {
		snprintf(s->addr, sizeof(s->addr), "%s", rc->socket);
		s->ctx = redisConnectUnixWithTimeout(rc->socket, ctv);
	} else {
		snprintf(s->addr, sizeof(s->addr), "%s:%d", host, port);
		s->ctx = redisConnectWithTimeout(host, port, ctv);
	}
	if (s->ctx == NULL || s->ctx->err != 0) {
		bh_st_set_err(s, error_r, "redis: connect %s: %s", s->addr,
			      s->ctx != NULL ? s->ctx->errstr : "out of memory");
		return -1;
	}
	if (redisSetTimeout(s->ctx, ttv) != REDIS_OK) {
		bh_st_set_err(s, error_r, "redis: %s: set timeout failed", s->addr);
		return -1;
	}
	if (rc->password != NULL) {
		bh_st_args_add(&a, "AUTH");
		if (rc->user != NULL)
			bh_st_args_add(&a, rc->user);
		bh_st_args_add(&a, rc->password);
		if (simple_ok(s, &a, error_r) == -1)
			goto fail;
		bh_st_args_deinit(&a);
	}
	if (rc->db != 0) {
		bh_st_args_add(&a, "SELECT");
		bh_st_args_addf(&a, "%d", rc->db);
		if (simple_ok(s, &a, error_r) == -1)
			goto fail;
		bh_st_args_deinit(&a);
	}
	return 0;
fail:
	bh_st_args_deinit(&a);
	return -1;
}

/* parse_moved - "MOVED slot host:port" into s->moved_host / moved_port; 0, or -1 when the
 * reply is no redirection */
static int
parse_moved(struct bh_store *s, const char *str)
{
	const char *sp;
	char host[256];
	int port;

	if (strncmp(str, "MOVED ", 6) != 0 || (sp = strchr(str + 6, ' ')) == NULL ||
	    split_hostport(sp + 1, host, sizeof(host), &port) == -1)
		return -1;
	free(s->moved_host);
	s->moved_host = bh_strdup(host);
	s->moved_port = port;
	return 0;
}

/* bh_st_must_reresolve - an error reply saying this server is not (or no longer) the one to write
 * to: a replica after a failover (READONLY), a master without its replicas (MASTERDOWN), one
 * loading its data (LOADING), or a Cluster node that does not own the slot (MOVED) */
bool
bh_st_must_reresolve(struct bh_store *s, const redisReply *r)
{
	if (r == NULL || r->type != REDIS_REPLY_ERROR)
		return false;
	if (parse_moved(s, r->str) == 0)
		return true;
	return strncmp(r->str, "READONLY", 8) == 0 || strncmp(r->str, "MASTERDOWN", 10) == 0 ||
	       strncmp(r->str, "LOADING", 7) == 0 || strstr(r->str, "READONLY") != NULL;
}

/* route - on Cluster, follow MOVED until this node owns the slot of "{prefix}"; with
 * sentinels, check that the server is a master. 0, 1 (s->moved_host set: connect there), -1 */
static int
route(struct bh_store *s, const char **error_r)
{
	redisReply *r;
	char *k = bh_asprintf("%s:-", s->tag);
	int ret = -1;

	r = redisCommand(s->ctx, "EXISTS %s", k);
	free(k);
	if (r == NULL) {
		bh_st_set_err(s, error_r, "redis: %s: %s", s->addr, s->ctx->errstr);
		return -1;
	}
	if (r->type == REDIS_REPLY_ERROR && parse_moved(s, r->str) == 0) {
		freeReplyObject(r);
		return 1;
	}
	freeReplyObject(r);
	if (s->rc->n_sentinels == 0)
		return 0;
	r = redisCommand(s->ctx, "ROLE");
	if (r == NULL) {
		bh_st_set_err(s, error_r, "redis: %s: %s", s->addr, s->ctx->errstr);
		return -1;
	}
	if (r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
	    r->element[0]->type == REDIS_REPLY_STRING && strcmp(r->element[0]->str, "master") == 0)
		ret = 0;
	else
		bh_st_set_err(s, error_r, "redis: %s (from the sentinels) is not a master",
			      s->addr);
	freeReplyObject(r);
	return ret;
}

/* bh_store_connect - connect (through the sentinels, following MOVED), authenticate, select
 * and load the scripts */
int
bh_store_connect(struct bh_store *s, const char **error_r)
{
	int64_t now = bh_mono_ms();
	int hop, r = -1;
	size_t len;

	if (s->ctx != NULL)
		return 0;
	if (now < s->next_try_ms) {
		bh_st_set_err(s, error_r, "redis unavailable: %s (next attempt in %lld ms)",
			      s->err[0] != '\0' ? s->err : "not connected",
			      (long long)(s->next_try_ms - now));
		/* keep the original text in s->err */
		return -1;
	}
	for (hop = 0; hop < 4; hop++) {
		if (open_ctx(s, error_r) == -1)
			goto fail;
		if ((r = route(s, error_r)) != 1)
			break;
		redisFree(s->ctx); /* MOVED: the slot's owner is elsewhere */
		s->ctx = NULL;
	}
	if (r != 0) {
		if (r == 1)
			bh_st_set_err(s, error_r, "redis: too many MOVED redirections");
		goto fail;
	}
	if (bh_st_load_script(s, bh_st_apply_lua(&len), s->apply_sha, error_r) == -1 ||
	    bh_st_load_script(s, bh_st_manual_lua(&len), s->manual_sha, error_r) == -1 ||
	    bh_st_load_script(s, bh_st_lease_lua(&len), s->lease_sha, error_r) == -1)
		goto fail;
	s->backoff_ms = 0;
	s->next_try_ms = 0;
	s->err[0] = '\0';
	return 0;
fail:
	bh_st_drop(s);
	return -1;
}

/* bh_store_backoff_ms - ms before a connection attempt is allowed; 0 when connected or due */
int64_t
bh_store_backoff_ms(const struct bh_store *s)
{
	int64_t left = s->next_try_ms - bh_mono_ms();

	return s->ctx != NULL || left < 0 ? 0 : left;
}

/* bh_store_new - a store over cfg; does not connect */
struct bh_store *
bh_store_new(const struct bh_config *cfg, const char *rules_version, const char **error_r)
{
	const char *prefix = cfg->redis.prefix != NULL ? cfg->redis.prefix : "bouncer";
	struct bh_store *s;

	if (prefix[0] == '\0' || strpbrk(prefix, "{}") != NULL) {
		*error_r = "redis prefix must be non-empty and must not contain '{' or '}'";
		return NULL;
	}
	if (cfg->redis.socket == NULL && (cfg->redis.port <= 0 || cfg->redis.port > 65535)) {
		*error_r = "redis port out of range";
		return NULL;
	}
	s = bh_calloc(1, sizeof(*s));
	s->cfg = cfg;
	s->rc = &cfg->redis;
	s->tag = bh_asprintf("{%s}", prefix);
	s->rules_version = bh_strdup(rules_version != NULL ? rules_version : "-");
	return s;
}

/* bh_store_free - close the connection and free everything; accepts *sp NULL, sets it NULL */
void
bh_store_free(struct bh_store **sp)
{
	struct bh_store *s = *sp;

	if (s == NULL)
		return;
	if (s->ctx != NULL)
		redisFree(s->ctx);
	free(s->pend_todo);
	bh_store_apply_reset(s);
	free(s->lease_key);
	free(s->lease_token);
	free(s->moved_host);
	free(s->tag);
	free(s->rules_version);
	free(s);
	*sp = NULL;
}

/* bh_store_key_prefix - "{prefix}", the hash-tagged start of every key; borrowed from s */
const char *
bh_store_key_prefix(const struct bh_store *s)
{
	return s->tag;
}

/* bh_store_ping - one PING (a kept connection that died while idle gets one fresh attempt) */
int
bh_store_ping(struct bh_store *s, const char **error_r)
{
	redisReply *r;
	bool reused = s->ctx != NULL;

	if ((r = bh_st_commandv(s, error_r, "PING", (char *)NULL)) == NULL) {
		if (!reused)
			return -1;
		s->next_try_ms = 0;
		if ((r = bh_st_commandv(s, error_r, "PING", (char *)NULL)) == NULL)
			return -1;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		bh_st_set_err(s, error_r, "redis: PING: %.200s", r->str);
		freeReplyObject(r);
		return -1;
	}
	freeReplyObject(r);
	return 0;
}

/* bh_store_health - PING, version and key count */
int
bh_store_health(struct bh_store *s, char **info_r, const char **error_r)
{
	redisReply *r;
	char version[32] = "?";
	long long keys = -1;
	const char *p;

	*info_r = NULL;
	if (bh_store_ping(s, error_r) == -1)
		return -1;
	if ((r = bh_st_commandv(s, error_r, "INFO", "server", (char *)NULL)) == NULL)
		return -1;
	if (r->type == REDIS_REPLY_STRING && (p = strstr(r->str, "redis_version:")) != NULL)
		sscanf(p + 14, "%31[0-9.]", version);
	freeReplyObject(r);
	if ((r = bh_st_commandv(s, error_r, "DBSIZE", (char *)NULL)) == NULL)
		return -1;
	if (r->type == REDIS_REPLY_INTEGER)
		keys = r->integer;
	freeReplyObject(r);
	*info_r = bh_asprintf("redis %s %s db=%d keys=%lld%s", version, s->addr, s->rc->db, keys,
			      s->rc->n_sentinels > 0 ? " (master from the sentinels)" : "");
	return 0;
}

/*
 * imap.h - the IMAP client of the worker: one connection to the bounce mailbox.
 *
 * imap.c is the only module that includes libetpan's IMAP headers; no libetpan type appears
 * here. It connects with implicit TLS or STARTTLS and verifies the server's certificate chain
 * and host name before any credential is sent (plain IMAP only to a loopback peer), logs in with
 * LOGIN or AUTHENTICATE PLAIN, reads the capabilities once per connection state, and offers the
 * few commands the worker needs: SELECT, UID SEARCH, batched UID FETCH, UID MOVE (or COPY +
 * STORE \Deleted + UID EXPUNGE), CREATE and IDLE.
 *
 * Errors: every call returns 0 (or a count) on success and -1 with *error_r on failure. The text
 * is owned by the connection and valid until its next call. After a transport error
 * (connection dropped, timeout, protocol garbage) bh_imap_broken() is true and the caller must
 * bh_imap_free() it and connect again; a refused command (NO/BAD) leaves it usable.
 * Server text in error messages is cut and made printable.
 */
#ifndef BH_IMAP_H
#define BH_IMAP_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct bh_imap;

/* One fetched message. data is the caller's (free with bh_imap_msg_release or
 * bh_imap_msgs_free, never free(3)). */
struct bh_imap_msg {
	uint32_t uid;
	size_t size; /* RFC822.SIZE as the server reported it */
	char *data;  /* the whole message (BODY.PEEK[]), NULL when not fetched or gone; freed by
		      * bh_imap_msg_release only (libetpan's own string) */
	size_t len;
};

/* bh_imap_connect - connect, secure, verify, authenticate and read the capabilities, per conf
 * (borrowed: it must outlive the connection). Returns a connection, or NULL with *error_r set
 * (a static or thread-local message valid until the next bh_imap_connect). */
struct bh_imap *bh_imap_connect(const struct bh_imap_conf *conf, const char **error_r);
/* bh_imap_free - LOGOUT (when still usable), close and free; accepts NULL, sets *pp NULL. */
void bh_imap_free(struct bh_imap **pp);

/* bh_imap_broken - true after a transport error: the connection is dead. */
bool bh_imap_broken(const struct bh_imap *im);
/* bh_imap_has - true when the server announced capability name ("MOVE", "IDLE", "UIDPLUS"). */
bool bh_imap_has(const struct bh_imap *im, const char *name);
/* bh_imap_describe - "host:port tls=... caps=..." for a log line; borrowed until the next call. */
const char *bh_imap_describe(struct bh_imap *im);

/* bh_imap_select - SELECT mailbox; *uidvalidity_r gets its UIDVALIDITY. */
int bh_imap_select(struct bh_imap *im, const char *mailbox, uint32_t *uidvalidity_r,
		   const char **error_r);
/* bh_imap_ensure_folder - CREATE folder unless LIST shows it. '/' in the name is replaced by
 * the server's hierarchy delimiter. */
int bh_imap_ensure_folder(struct bh_imap *im, const char *folder, const char **error_r);

/* bh_imap_search - UID SEARCH UNDELETED in the selected mailbox: the lowest max UIDs, ascending,
 * in *uids_r (the caller's, free()) and their number in *n_r. */
int bh_imap_search(struct bh_imap *im, size_t max, uint32_t **uids_r, size_t *n_r,
		   const char **error_r);

/* bh_imap_exists - the selected mailbox's message count (EXISTS) as last announced by the
 * server, \Deleted ones included; 0 before a SELECT. */
uint32_t bh_imap_exists(const struct bh_imap *im);

/* bh_imap_fetch_sizes - UID FETCH (UID RFC822.SIZE) for n UIDs in one command: *msgs_r gets
 * one entry per UID that still exists (size set, data NULL), in the order of uids; *n_r the
 * count. Free with bh_imap_msgs_free. */
int bh_imap_fetch_sizes(struct bh_imap *im, const uint32_t *uids, size_t n,
			struct bh_imap_msg **msgs_r, size_t *n_r, const char **error_r);
/* bh_imap_fetch_bodies - UID FETCH (UID BODY.PEEK[]) for every msgs[i] with want[i] set, in one
 * command; fills data/len. A message that vanished keeps data NULL. Never sets \Seen. */
int bh_imap_fetch_bodies(struct bh_imap *im, struct bh_imap_msg *msgs, const bool *want, size_t n,
			 const char **error_r);
void bh_imap_msgs_free(struct bh_imap_msg **msgs, size_t n);
/* bh_imap_msg_release - free one message's data (libetpan's string) and set it to NULL, 0. */
void bh_imap_msg_release(struct bh_imap_msg *m);

/* bh_imap_move - move n UIDs of the selected mailbox to folder: UID MOVE when the server has
 * MOVE, else UID COPY + UID STORE +FLAGS.SILENT (\Deleted) + UID EXPUNGE (plain EXPUNGE when
 * there is no UIDPLUS). */
int bh_imap_move(struct bh_imap *im, const uint32_t *uids, size_t n, const char *folder,
		 const char **error_r);

/* bh_imap_wait - wait up to timeout_ms for news on the selected mailbox: IDLE when the server
 * has it (and conf->idle), else sleep and NOOP. Signals in mask are unblocked only during the
 * wait (ppoll); a signal ends it early. Returns 1 when the server sent something, 0 on a
 * timeout or a signal, -1 on error. */
int bh_imap_wait(struct bh_imap *im, int64_t timeout_ms, const sigset_t *mask,
		 const char **error_r);

/* bh_imap_noop - NOOP: is the connection alive? */
int bh_imap_noop(struct bh_imap *im, const char **error_r);

#endif

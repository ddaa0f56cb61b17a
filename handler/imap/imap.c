/*
 * imap.c - the worker's IMAP client over libetpan (RFC 3501, RFC 2595 STARTTLS, RFC 4959 SASL-IR,
 * RFC 4616 PLAIN, RFC 2177 IDLE, RFC 6851 MOVE, RFC 4315 UIDPLUS).
 *
 * Trusts nothing the server says: every string from it that reaches an error message is cut and
 * made printable, unsolicited FETCH responses for UIDs we did not ask for are ignored, and the
 * RFC822.SIZE is checked by the caller before a body is fetched.
 *
 * TLS: Debian's libetpan does TLS with GnuTLS and does not verify the peer. We do it ourselves
 * right after the handshake and before any credential leaves: the chain the server presented
 * (mailstream_get_certificate_chain) is verified against the configured CA file or the system
 * store, with the host name (or IP address) and the TLS server purpose, by GnuTLS. SNI is sent
 * for host names. Plain IMAP (tls: none) is only allowed when the connected peer is a loopback
 * address, checked on the socket itself, not on the name.
 *
 * XXX: libetpan reads a literal of any length the server announces; RFC822.SIZE caps what we ask
 * for, but a hostile server could still send more than it announced.
 * XXX: while IDLE we poll the socket; a server line already decrypted inside GnuTLS's buffer is
 * not seen until the next one arrives or the wait ends (at most imap.poll_interval).
 */
#include "imap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <libetpan/libetpan.h>

#include "bh_limits.h"
#include "util.h"

#define BH_IMAP_ERR_SIZE 512
/* bodies shorter than this are copied out of libetpan's string (take_body): glibc's default
 * mmap threshold, above which a malloc'd block's untouched pages cost nothing */
#define BH_IMAP_COPY_BELOW (128u * 1024)

struct bh_imap {
	mailimap *imap;
	const struct bh_imap_conf *conf;
	bool broken;
	char delim;  /* hierarchy delimiter, 0 until known */
	char **caps; /* upper-cased capability names, "AUTH=PLAIN" included */
	size_t n_caps;
	char err[BH_IMAP_ERR_SIZE];
	char desc[BH_IMAP_ERR_SIZE];
};

static _Thread_local char connect_err[BH_IMAP_ERR_SIZE];

/* transport_error - true for libetpan codes that mean the connection is gone */
static bool
transport_error(int r)
{
	switch (r) {
	case MAILIMAP_ERROR_STREAM:
	case MAILIMAP_ERROR_PARSE:
	case MAILIMAP_ERROR_CONNECTION_REFUSED:
	case MAILIMAP_ERROR_MEMORY:
	case MAILIMAP_ERROR_FATAL:
	case MAILIMAP_ERROR_PROTOCOL:
	case MAILIMAP_ERROR_DONT_ACCEPT_CONNECTION:
	case MAILIMAP_ERROR_BAD_STATE:
	case MAILIMAP_ERROR_SSL: return true;
	default: return false;
	}
}

/* fail - record a failed command: what we did, libetpan's code, the server's text (cut) */
static int
fail(struct bh_imap *im, int r, const char *what, const char **error_r)
{
	char *text = NULL;

	if (transport_error(r))
		im->broken = true;
	if (im->imap != NULL && im->imap->imap_response != NULL && !transport_error(r))
		text = bh_printable(im->imap->imap_response, strlen(im->imap->imap_response), 200);
	snprintf(im->err, sizeof(im->err), "%s: %s%s%s", what,
		 im->broken ? "connection lost" : "refused", text != NULL ? ": " : "",
		 text != NULL ? text : "");
	free(text);
	*error_r = im->err;
	return -1;
}

/* caps_forget - drop our list only (libetpan keeps what the last response code said) */
static void
caps_forget(struct bh_imap *im)
{
	size_t i;

	for (i = 0; i < im->n_caps; i++)
		free(im->caps[i]);
	free(im->caps);
	im->caps = NULL;
	im->n_caps = 0;
}

/* caps_stale - drop libetpan's copy before a command whose answer may carry new ones */
static void
caps_stale(struct bh_imap *im)
{
	if (im->imap->imap_connection_info != NULL &&
	    im->imap->imap_connection_info->imap_capability != NULL) {
		mailimap_capability_data_free(im->imap->imap_connection_info->imap_capability);
		im->imap->imap_connection_info->imap_capability = NULL;
	}
}

/* caps_read - take the capabilities libetpan saw in a response code, or ask once */
static int
caps_read(struct bh_imap *im, const char **error_r)
{
	struct mailimap_capability_data *cd = NULL;
	clistiter *it;
	int r;

	if (im->imap->imap_connection_info != NULL)
		cd = im->imap->imap_connection_info->imap_capability;
	if (cd == NULL) {
		struct mailimap_capability_data *tmp = NULL;

		r = mailimap_capability(im->imap, &tmp);
		if (r != MAILIMAP_NO_ERROR)
			return fail(im, r, "CAPABILITY", error_r);
		mailimap_capability_data_free(tmp);
		cd = im->imap->imap_connection_info->imap_capability;
		if (cd == NULL) {
			snprintf(im->err, sizeof(im->err), "CAPABILITY: no answer");
			*error_r = im->err;
			return -1;
		}
	}
	for (it = clist_begin(cd->cap_list); it != NULL; it = clist_next(it)) {
		struct mailimap_capability *c = clist_content(it);
		char *name;

		if (im->n_caps >= BH_MAX_CAPABILITIES)
			break;
		if (c->cap_type == MAILIMAP_CAPABILITY_AUTH_TYPE &&
		    c->cap_data.cap_auth_type != NULL)
			name = bh_asprintf("AUTH=%s", c->cap_data.cap_auth_type);
		else if (c->cap_type == MAILIMAP_CAPABILITY_NAME && c->cap_data.cap_name != NULL)
			name = bh_strdup(c->cap_data.cap_name);
		else
			continue;
		for (char *p = name; *p != '\0'; p++)
			if (*p >= 'a' && *p <= 'z')
				*p = (char)(*p - 'a' + 'A');
		im->caps = bh_reallocarray(im->caps, im->n_caps + 1, sizeof(*im->caps));
		im->caps[im->n_caps++] = name;
	}
	return 0;
}

/* bh_imap_has - did the server announce capability name (case-insensitive)? */
bool
bh_imap_has(const struct bh_imap *im, const char *name)
{
	size_t i;

	for (i = 0; i < im->n_caps; i++)
		if (strcasecmp(im->caps[i], name) == 0)
			return true;
	return false;
}

/* bh_imap_broken - did a transport error kill the connection? (then free it and reconnect) */
bool
bh_imap_broken(const struct bh_imap *im)
{
	return im->broken;
}

/* is_ip_literal - true when host is an IPv4 or IPv6 address (no SNI for those) */
static bool
is_ip_literal(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* tls_setup - libetpan's TLS context callback: send SNI for a host name */
static void
tls_setup(struct mailstream_ssl_context *ctx, void *data)
{
	const char *host = data;

	if (!is_ip_literal(host))
		mailstream_ssl_set_server_name(ctx, (char *)host);
}

/* verify_peer - verify the certificate chain the server presented, and its name */
static int
verify_peer(struct bh_imap *im, const char **error_r)
{
	gnutls_x509_crt_t crts[BH_MAX_TLS_CHAIN];
	gnutls_x509_trust_list_t tl = NULL;
	gnutls_typed_vdata_st vdata[2];
	gnutls_datum_t out = {NULL, 0};
	unsigned int status = 0, n = 0, i;
	carray *chain;
	int r, ret = -1;

	chain = mailstream_get_certificate_chain(im->imap->imap_stream);
	if (chain == NULL || carray_count(chain) == 0) {
		snprintf(im->err, sizeof(im->err), "TLS: the server sent no certificate");
		goto out;
	}
	for (i = 0; i < carray_count(chain) && n < BH_MAX_TLS_CHAIN; i++) {
		MMAPString *s = carray_get(chain, i);
		gnutls_datum_t der = {(unsigned char *)s->str, (unsigned int)s->len};

		if (gnutls_x509_crt_init(&crts[n]) < 0)
			bh_fatal("gnutls_x509_crt_init failed");
		if (gnutls_x509_crt_import(crts[n], &der, GNUTLS_X509_FMT_DER) < 0) {
			gnutls_x509_crt_deinit(crts[n]);
			snprintf(im->err, sizeof(im->err), "TLS: unreadable server certificate");
			goto out;
		}
		n++;
	}
	if (gnutls_x509_trust_list_init(&tl, 0) < 0)
		bh_fatal("gnutls_x509_trust_list_init failed");
	if (im->conf->ca_file != NULL)
		r = gnutls_x509_trust_list_add_trust_file(tl, im->conf->ca_file, NULL,
							  GNUTLS_X509_FMT_PEM, 0, 0);
	else
		r = gnutls_x509_trust_list_add_system_trust(tl, 0, 0);
	if (r <= 0) {
		snprintf(im->err, sizeof(im->err), "TLS: no trusted CA loaded from %s",
			 im->conf->ca_file != NULL ? im->conf->ca_file : "the system store");
		goto out;
	}
	vdata[0].type = GNUTLS_DT_DNS_HOSTNAME;
	vdata[0].data = (unsigned char *)im->conf->host;
	vdata[0].size = 0;
	vdata[1].type = GNUTLS_DT_KEY_PURPOSE_OID;
	vdata[1].data = (unsigned char *)GNUTLS_KP_TLS_WWW_SERVER;
	vdata[1].size = 0;
	r = gnutls_x509_trust_list_verify_crt2(tl, crts, n, vdata, 2, 0, &status, NULL);
	if (r < 0) {
		snprintf(im->err, sizeof(im->err), "TLS: verification failed: %s",
			 gnutls_strerror(r));
		goto out;
	}
	if (status != 0) {
		if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &out, 0) <
		    0)
			out.data = NULL;
		snprintf(im->err, sizeof(im->err), "TLS: certificate of %s refused: %s",
			 im->conf->host, out.data != NULL ? (char *)out.data : "untrusted");
		goto out;
	}
	ret = 0;
out:
	if (out.data != NULL)
		gnutls_free(out.data);
	if (tl != NULL)
		gnutls_x509_trust_list_deinit(tl, 1);
	for (i = 0; i < n; i++)
		gnutls_x509_crt_deinit(crts[i]);
	if (chain != NULL)
		mailstream_certificate_chain_free(chain);
	if (ret == -1) {
		im->broken = true;
		*error_r = im->err;
	}
	return ret;
}

/* peer_is_loopback - is the socket connected to 127.0.0.0/8 or ::1? */
static bool
peer_is_loopback(struct bh_imap *im)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	mailstream_low *low;
	int fd;

	low = mailstream_get_low(im->imap->imap_stream);
	fd = low != NULL ? mailstream_low_get_fd(low) : -1;
	if (fd == -1 || getpeername(fd, (struct sockaddr *)&ss, &sl) == -1)
		return false;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;

		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	}
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
		static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0,    0,
							   0, 0, 0, 0, 0xff, 0xff};

		if (IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
			return true;
		return memcmp(s6->sin6_addr.s6_addr, v4mapped, 12) == 0 &&
		       s6->sin6_addr.s6_addr[12] == 127;
	}
	return false;
}

/* b64 - RFC 4648 base64 of p[0..n) into a new string */
static char *
b64(const unsigned char *p, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = bh_malloc((n + 2) / 3 * 4 + 1), *o = out;
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		*o++ = tab[p[i] >> 2];
		*o++ = tab[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		*o++ = tab[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)];
		*o++ = tab[p[i + 2] & 63];
	}
	if (i < n) {
		*o++ = tab[p[i] >> 2];
		if (i + 1 < n) {
			*o++ = tab[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
			*o++ = tab[(p[i + 1] & 15) << 2];
		} else {
			*o++ = tab[(p[i] & 3) << 4];
			*o++ = '=';
		}
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

/* authenticate - LOGIN, or AUTHENTICATE PLAIN (with SASL-IR when offered, else via SASL) */
static int
authenticate(struct bh_imap *im, const char **error_r)
{
	const struct bh_imap_conf *c = im->conf;
	const char *user = c->user != NULL ? c->user : "";
	const char *pass = c->password != NULL ? c->password : "";
	int r;

	if (c->auth == BH_AUTH_LOGIN) {
		if (bh_imap_has(im, "LOGINDISABLED")) {
			snprintf(im->err, sizeof(im->err),
				 "LOGIN: the server disabled it (LOGINDISABLED)");
			*error_r = im->err;
			return -1;
		}
		caps_stale(im);
		r = mailimap_login(im->imap, user, pass);
		if (r != MAILIMAP_NO_ERROR)
			return fail(im, r, "LOGIN", error_r);
		return 0;
	}
	if (!bh_imap_has(im, "AUTH=PLAIN")) {
		snprintf(im->err, sizeof(im->err), "AUTHENTICATE PLAIN: not offered by the server");
		*error_r = im->err;
		return -1;
	}
	if (bh_imap_has(im, "SASL-IR")) {
		size_t ul = strlen(user), pl = strlen(pass), n = 1 + ul + 1 + pl;
		unsigned char *raw = bh_malloc(n);
		char *enc, *cmd;

		raw[0] = '\0';
		memcpy(raw + 1, user, ul);
		raw[1 + ul] = '\0';
		memcpy(raw + 2 + ul, pass, pl);
		enc = b64(raw, n);
		cmd = bh_asprintf("AUTHENTICATE PLAIN %s", enc);
		caps_stale(im);
		r = mailimap_custom_command(im->imap, cmd);
		bh_secure_zero(raw, n);
		bh_secure_zero(enc, strlen(enc));
		bh_secure_zero(cmd, strlen(cmd));
		free(raw);
		free(enc);
		free(cmd);
	} else {
		caps_stale(im);
		r = mailimap_authenticate(im->imap, "PLAIN", c->host, NULL, NULL, user, user, pass,
					  NULL);
	}
	if (r != MAILIMAP_NO_ERROR)
		return fail(im, r, "AUTHENTICATE PLAIN", error_r);
	/* libetpan does not mark the session authenticated after a custom command */
	im->imap->imap_state = MAILIMAP_STATE_AUTHENTICATED;
	return 0;
}

/* connect_error - copy the connection's error out before it is freed */
static const char *
connect_error(const char *msg)
{
	snprintf(connect_err, sizeof(connect_err), "%s", msg);
	return connect_err;
}

/* bh_imap_connect - connect, secure and verify, authenticate, then read the capabilities afresh */
struct bh_imap *
bh_imap_connect(const struct bh_imap_conf *conf, const char **error_r)
{
	struct bh_imap *im = bh_calloc(1, sizeof(*im));
	const char *err = NULL;
	int r;

	im->conf = conf;
	im->imap = mailimap_new(0, NULL);
	if (im->imap == NULL)
		bh_fatal("mailimap_new: out of memory");
	mailimap_set_timeout(im->imap, conf->timeout_s > 0 ? (time_t)conf->timeout_s : 60);
	if (conf->host == NULL || conf->port <= 0 || conf->port > 65535) {
		err = "no IMAP host or port configured";
		goto fail;
	}
	if (conf->tls == BH_TLS_TLS)
		r = mailimap_ssl_connect_with_callback(im->imap, conf->host, (uint16_t)conf->port,
						       tls_setup, conf->host);
	else
		r = mailimap_socket_connect(im->imap, conf->host, (uint16_t)conf->port);
	if (r != MAILIMAP_NO_ERROR_NON_AUTHENTICATED && r != MAILIMAP_NO_ERROR_AUTHENTICATED) {
		snprintf(im->err, sizeof(im->err), "connect to %s:%d: %s", conf->host, conf->port,
			 r == MAILIMAP_ERROR_SSL ? "TLS handshake failed" : "failed");
		err = im->err;
		goto fail;
	}
	if (conf->tls == BH_TLS_STARTTLS) {
		if (caps_read(im, &err) == -1)
			goto fail;
		if (!bh_imap_has(im, "STARTTLS")) {
			err = "STARTTLS: not offered by the server";
			goto fail;
		}
		r = mailimap_socket_starttls_with_callback(im->imap, tls_setup, conf->host);
		/* bytes that came in the clear after the OK would be read as if TLS had carried
		 * them (response injection, CVE-2020-15953): libetpan 1.9.4 refuses, so do we */
		if (im->imap->imap_stream != NULL && im->imap->imap_stream->read_buffer_len > 0) {
			im->broken = true;
			err =
			    "STARTTLS: the server sent data in the clear after its OK (injection?)";
			goto fail;
		}
		if (r != MAILIMAP_NO_ERROR) {
			fail(im, r, "STARTTLS", &err);
			goto fail;
		}
		caps_forget(im); /* RFC 3501 6.2.1: forget what was said in the clear */
		caps_stale(im);
	}
	if (conf->tls != BH_TLS_NONE) {
		if (conf->verify_cert && verify_peer(im, &err) == -1)
			goto fail;
	} else if (!peer_is_loopback(im)) {
		err = "plain IMAP (tls: none) is only allowed to a loopback address";
		goto fail;
	}
	if (im->n_caps == 0 && caps_read(im, &err) == -1)
		goto fail;
	if (authenticate(im, &err) == -1)
		goto fail;
	/* the capabilities after authentication are the ones that count: from the response code of
	 * the authentication when the server sent one, else asked once */
	caps_forget(im);
	if (caps_read(im, &err) == -1)
		goto fail;
	return im;
fail:
	*error_r = connect_error(err != NULL ? err : "connect failed");
	im->broken = true;
	bh_imap_free(&im);
	return NULL;
}

/* bh_imap_free - LOGOUT unless broken, then free; accepts NULL and sets *pp to NULL */
void
bh_imap_free(struct bh_imap **pp)
{
	struct bh_imap *im;
	size_t i;

	if (pp == NULL || *pp == NULL)
		return;
	im = *pp;
	if (im->imap != NULL) {
		if (!im->broken && im->imap->imap_stream != NULL)
			(void)mailimap_logout(im->imap);
		mailimap_free(im->imap);
	}
	for (i = 0; i < im->n_caps; i++)
		free(im->caps[i]);
	free(im->caps);
	free(im);
	*pp = NULL;
}

/* bh_imap_describe - "host:port tls=... move=... idle=... uidplus=..." in im's buffer (borrowed) */
const char *
bh_imap_describe(struct bh_imap *im)
{
	static const char *tls_names[] = {"tls", "starttls", "none"};

	snprintf(im->desc, sizeof(im->desc), "%s:%d tls=%s move=%s idle=%s uidplus=%s",
		 im->conf->host, im->conf->port, tls_names[im->conf->tls],
		 bh_imap_has(im, "MOVE") ? "yes" : "no", bh_imap_has(im, "IDLE") ? "yes" : "no",
		 bh_imap_has(im, "UIDPLUS") ? "yes" : "no");
	return im->desc;
}

/* bh_imap_select - SELECT mailbox; a server that sends no UIDVALIDITY is an error */
int
bh_imap_select(struct bh_imap *im, const char *mailbox, uint32_t *uidvalidity_r,
	       const char **error_r)
{
	int r;

	r = mailimap_select(im->imap, mailbox);
	if (r != MAILIMAP_NO_ERROR)
		return fail(im, r, "SELECT", error_r);
	if (im->imap->imap_selection_info == NULL ||
	    im->imap->imap_selection_info->sel_uidvalidity == 0) {
		snprintf(im->err, sizeof(im->err), "SELECT: the server sent no UIDVALIDITY");
		*error_r = im->err;
		return -1;
	}
	*uidvalidity_r = im->imap->imap_selection_info->sel_uidvalidity;
	return 0;
}

/* server_name - folder with '/' replaced by the server's hierarchy delimiter; the caller frees */
static char *
server_name(struct bh_imap *im, const char *folder)
{
	char *s = bh_strdup(folder), *p;

	if (im->delim == 0) {
		clist *l = NULL;

		im->delim = '/';
		if (mailimap_list(im->imap, "", "", &l) == MAILIMAP_NO_ERROR && l != NULL &&
		    clist_begin(l) != NULL) {
			struct mailimap_mailbox_list *mb = clist_content(clist_begin(l));

			if (mb->mb_delimiter != 0)
				im->delim = mb->mb_delimiter;
		}
		if (l != NULL)
			mailimap_list_result_free(l);
	}
	for (p = s; *p != '\0'; p++)
		if (*p == '/')
			*p = im->delim;
	return s;
}

/* bh_imap_ensure_folder - CREATE the folder (under the server's delimiter) unless LIST shows it */
int
bh_imap_ensure_folder(struct bh_imap *im, const char *folder, const char **error_r)
{
	char *name = server_name(im, folder);
	clist *l = NULL;
	int r, ret = -1;

	r = mailimap_list(im->imap, "", name, &l);
	if (r != MAILIMAP_NO_ERROR) {
		fail(im, r, "LIST", error_r);
		goto out;
	}
	if (clist_count(l) == 0) {
		r = mailimap_create(im->imap, name);
		if (r != MAILIMAP_NO_ERROR) {
			fail(im, r, "CREATE", error_r);
			goto out;
		}
	}
	ret = 0;
out:
	if (l != NULL)
		mailimap_list_result_free(l);
	free(name);
	return ret;
}

/* cmp_u32 - qsort order of uint32_t */
static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* undeleted_key - the UNDELETED search key, and with window > 0 also the message sequence
 * numbers 1:window (a bare set in UID SEARCH is sequence numbers, RFC 3501 6.4.4) */
static struct mailimap_search_key *
undeleted_key(uint32_t window)
{
	struct mailimap_search_key *key, *all, *seq;
	struct mailimap_set *set;

	key = mailimap_search_key_new(MAILIMAP_SEARCH_KEY_UNDELETED, NULL, NULL, NULL, NULL, NULL,
				      NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL,
				      NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL);
	if (key == NULL)
		bh_fatal("mailimap_search_key_new: out of memory");
	if (window == 0)
		return key;
	if ((set = mailimap_set_new_interval(1, window)) == NULL ||
	    (seq = mailimap_search_key_new_set(set)) == NULL ||
	    (all = mailimap_search_key_new_multiple_empty()) == NULL ||
	    mailimap_search_key_multiple_add(all, seq) != MAILIMAP_NO_ERROR ||
	    mailimap_search_key_multiple_add(all, key) != MAILIMAP_NO_ERROR)
		bh_fatal("mailimap search key: out of memory");
	return all;
}

/* search_uids - UID SEARCH with key (freed here): the UIDs, ascending, in a new array */
static int
search_uids(struct bh_imap *im, struct mailimap_search_key *key, uint32_t **uids_r, size_t *n_r,
	    const char **error_r)
{
	clist *res = NULL;
	clistiter *it;
	uint32_t *uids = NULL;
	size_t n = 0, cap = 0;
	int r;

	r = mailimap_uid_search(im->imap, NULL, key, &res);
	mailimap_search_key_free(key);
	if (r != MAILIMAP_NO_ERROR)
		return fail(im, r, "UID SEARCH", error_r);
	for (it = clist_begin(res); it != NULL; it = clist_next(it)) {
		uint32_t *u = clist_content(it);

		if (n == cap) {
			cap = cap != 0 ? cap * 2 : 64;
			uids = bh_reallocarray(uids, cap, sizeof(*uids));
		}
		uids[n++] = *u;
	}
	mailimap_search_result_free(res);
	if (n > 0)
		qsort(uids, n, sizeof(*uids), cmp_u32);
	*uids_r = uids;
	*n_r = n;
	return 0;
}

/* bh_imap_search - UID SEARCH UNDELETED: the lowest max UIDs, ascending, in a new array. A
 * mailbox holding more than max messages is asked for the first max sequence numbers only
 * (UID SEARCH 1:max UNDELETED), so neither the server nor we list a large backlog at every
 * batch; when deleted messages in that window leave fewer than max, the whole mailbox is
 * searched (an empty window must never read as an empty mailbox). */
int
bh_imap_search(struct bh_imap *im, size_t max, uint32_t **uids_r, size_t *n_r, const char **error_r)
{
	uint32_t exists =
	    im->imap->imap_selection_info != NULL ? im->imap->imap_selection_info->sel_exists : 0;
	uint32_t *uids = NULL;
	size_t n = 0;

	if (max > 0 && max < UINT32_MAX && exists > max) {
		if (search_uids(im, undeleted_key((uint32_t)max), &uids, &n, error_r) == -1)
			return -1;
		if (n >= max) {
			*uids_r = uids;
			*n_r = max;
			return 0;
		}
		free(uids);
	}
	if (search_uids(im, undeleted_key(0), &uids, &n, error_r) == -1)
		return -1;
	*uids_r = uids;
	*n_r = n > max ? max : n;
	return 0;
}

/* uid_set - an IMAP set of the given UIDs, each run of consecutive ones as a range ("7:999"
 * rather than "7,8,9,...": a batch is mostly one run, and the server then reads one range
 * instead of a thousand numbers) */
static struct mailimap_set *
uid_set(const uint32_t *uids, size_t n)
{
	struct mailimap_set *set = mailimap_set_new_empty();
	size_t i, j;

	if (set == NULL)
		bh_fatal("mailimap_set_new_empty: out of memory");
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && uids[j - 1] < UINT32_MAX && uids[j] == uids[j - 1] + 1;
		     j++)
			;
		if ((j - i == 1 ? mailimap_set_add_single(set, uids[i])
				: mailimap_set_add_interval(set, uids[i], uids[j - 1])) !=
		    MAILIMAP_NO_ERROR)
			bh_fatal("mailimap_set_add: out of memory");
	}
	return set;
}

/* A UID with its place (in the answer list, or in the caller's array) and its size. */
struct uidpos {
	uint32_t uid;
	uint32_t size;
	size_t pos;
};

/* cmp_uidpos - by UID, then by place, so the first of equal UIDs comes first */
static int
cmp_uidpos(const void *a, const void *b)
{
	const struct uidpos *x = a, *y = b;

	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* uidpos_lower - the first index in the sorted v[0..n) whose UID is not below uid */
static size_t
uidpos_lower(const struct uidpos *v, size_t n, uint32_t uid)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* att_static - walk a FETCH response: its UID, RFC822.SIZE and body section (with sec_r, the
 * section itself, whose text the caller may take over) */
static void
att_static(struct mailimap_msg_att *att, uint32_t *uid, uint32_t *size, const char **body,
	   size_t *body_len, struct mailimap_msg_att_body_section **sec_r)
{
	clistiter *it;

	*uid = 0;
	for (it = clist_begin(att->att_list); it != NULL; it = clist_next(it)) {
		struct mailimap_msg_att_item *item = clist_content(it);
		struct mailimap_msg_att_static *st;

		if (item->att_type != MAILIMAP_MSG_ATT_ITEM_STATIC)
			continue;
		st = item->att_data.att_static;
		switch (st->att_type) {
		case MAILIMAP_MSG_ATT_UID: *uid = st->att_data.att_uid; break;
		case MAILIMAP_MSG_ATT_RFC822_SIZE:
			if (size != NULL)
				*size = st->att_data.att_rfc822_size;
			break;
		case MAILIMAP_MSG_ATT_BODY_SECTION:
			if (body != NULL && st->att_data.att_body_section != NULL &&
			    st->att_data.att_body_section->sec_body_part != NULL) {
				*body = st->att_data.att_body_section->sec_body_part;
				*body_len = st->att_data.att_body_section->sec_length;
				if (sec_r != NULL)
					*sec_r = st->att_data.att_body_section;
			}
			break;
		default: break;
		}
	}
}

/* bh_imap_fetch_sizes - one UID FETCH RFC822.SIZE; the UIDs that still exist, in the order asked */
int
bh_imap_fetch_sizes(struct bh_imap *im, const uint32_t *uids, size_t n, struct bh_imap_msg **msgs_r,
		    size_t *n_r, const char **error_r)
{
	struct mailimap_fetch_type *ft;
	struct mailimap_set *set;
	struct bh_imap_msg *msgs;
	struct uidpos *at;
	clist *res = NULL;
	clistiter *it;
	size_t i, k = 0, m = 0, nat;
	int r;

	*msgs_r = NULL;
	*n_r = 0;
	if (n == 0)
		return 0;
	set = uid_set(uids, n);
	ft = mailimap_fetch_type_new_fetch_att_list_empty();
	mailimap_fetch_type_new_fetch_att_list_add(ft, mailimap_fetch_att_new_uid());
	mailimap_fetch_type_new_fetch_att_list_add(ft, mailimap_fetch_att_new_rfc822_size());
	r = mailimap_uid_fetch(im->imap, set, ft, &res);
	mailimap_fetch_type_free(ft);
	mailimap_set_free(set);
	if (r != MAILIMAP_NO_ERROR)
		return fail(im, r, "UID FETCH RFC822.SIZE", error_r);
	msgs = bh_calloc(n, sizeof(*msgs));
	/* the answers sorted by UID (then arrival) and looked up per UID asked for: a batch of
	 * 1000 was a million att_static calls when each UID walked the whole answer list */
	nat = (size_t)clist_count(res);
	at = bh_calloc(nat + 1, sizeof(*at));
	for (it = clist_begin(res); it != NULL; it = clist_next(it), m++) {
		at[m].pos = m;
		att_static(clist_content(it), &at[m].uid, &at[m].size, NULL, NULL, NULL);
	}
	if (nat > 0)
		qsort(at, nat, sizeof(*at), cmp_uidpos);
	/* keep the order of uids; the first answer about a UID counts; ignore answers about UIDs
	 * we did not ask for */
	for (i = 0; i < n; i++) {
		size_t j = uidpos_lower(at, nat, uids[i]);

		if (j < nat && at[j].uid == uids[i]) {
			msgs[k].uid = uids[i];
			msgs[k].size = at[j].size;
			k++;
		}
	}
	free(at);
	mailimap_fetch_list_free(res);
	*msgs_r = msgs;
	*n_r = k;
	return 0;
}

/* take_body - a fetched body into m. A small one is copied to a buffer of its size: libetpan
 * holds a literal in an MMAPString whose capacity is rounded up to a power of two, which below
 * malloc's mmap threshold costs resident heap (8 KB for a 4.4 KB bounce). A big one is taken
 * over, not copied, so that it is held once (libetpan's string, NUL-terminated; its untouched
 * tail is never resident); bh_imap_msg_release frees either its way. */
static void
take_body(struct bh_imap_msg *m, struct mailimap_msg_att_body_section *sec, size_t len)
{
	if (len < BH_IMAP_COPY_BELOW) {
		m->data = bh_malloc(len + 1);
		memcpy(m->data, sec->sec_body_part, len);
		m->data[len] = '\0';
	} else {
		m->data = sec->sec_body_part;
		sec->sec_body_part = NULL;
	}
	m->len = len;
}

/* bh_imap_fetch_bodies - one UID FETCH BODY.PEEK[] of the wanted; one that vanished: data NULL */
int
bh_imap_fetch_bodies(struct bh_imap *im, struct bh_imap_msg *msgs, const bool *want, size_t n,
		     const char **error_r)
{
	struct mailimap_fetch_type *ft;
	struct mailimap_set *set;
	clist *res = NULL;
	clistiter *it;
	struct uidpos *idx;
	uint32_t *uids;
	size_t i, j, k = 0;
	int r;

	uids = bh_calloc(n != 0 ? n : 1, sizeof(*uids));
	for (i = 0; i < n; i++)
		if (want[i])
			uids[k++] = msgs[i].uid;
	if (k == 0) {
		free(uids);
		return 0;
	}
	set = uid_set(uids, k);
	free(uids);
	ft = mailimap_fetch_type_new_fetch_att_list_empty();
	mailimap_fetch_type_new_fetch_att_list_add(ft, mailimap_fetch_att_new_uid());
	mailimap_fetch_type_new_fetch_att_list_add(
	    ft, mailimap_fetch_att_new_body_peek_section(mailimap_section_new(NULL)));
	r = mailimap_uid_fetch(im->imap, set, ft, &res);
	mailimap_fetch_type_free(ft);
	mailimap_set_free(set);
	if (r != MAILIMAP_NO_ERROR)
		return fail(im, r, "UID FETCH BODY.PEEK[]", error_r);
	idx = bh_calloc(n, sizeof(*idx)); /* n > 0: k > 0 above */
	for (i = 0; i < n; i++) {
		idx[i].uid = msgs[i].uid;
		idx[i].pos = i;
	}
	qsort(idx, n, sizeof(*idx), cmp_uidpos);
	for (it = clist_begin(res); it != NULL; it = clist_next(it)) {
		struct mailimap_msg_att_body_section *sec = NULL;
		const char *body = NULL;
		size_t body_len = 0;
		uint32_t uid;

		att_static(clist_content(it), &uid, NULL, &body, &body_len, &sec);
		if (uid == 0 || body == NULL)
			continue;
		/* the first wanted, still empty message with this UID (idx: by UID, then order) */
		for (j = uidpos_lower(idx, n, uid); j < n && idx[j].uid == uid; j++) {
			i = idx[j].pos;
			if (want[i] && msgs[i].data == NULL) {
				take_body(&msgs[i], sec, body_len);
				break;
			}
		}
	}
	free(idx);
	mailimap_fetch_list_free(res);
	return 0;
}

/* bh_imap_msgs_free - free the messages and their data; sets *msgs to NULL */
void
bh_imap_msgs_free(struct bh_imap_msg **msgs, size_t n)
{
	size_t i;

	if (msgs == NULL || *msgs == NULL)
		return;
	for (i = 0; i < n; i++)
		bh_imap_msg_release(&(*msgs)[i]);
	free(*msgs);
	*msgs = NULL;
}

/* bh_imap_msg_release - free a message's data, as libetpan frees its strings (a literal is an
 * MMAPString it keeps a reference of, anything else plain malloc), and forget it */
void
bh_imap_msg_release(struct bh_imap_msg *m)
{
	if (m->data != NULL && mmap_string_unref(m->data) != 0)
		free(m->data);
	m->data = NULL;
	m->len = 0;
}

/* bh_imap_move - UID MOVE, else UID COPY + STORE \Deleted + (UID) EXPUNGE; 0 or -1 */
int
bh_imap_move(struct bh_imap *im, const uint32_t *uids, size_t n, const char *folder,
	     const char **error_r)
{
	struct mailimap_store_att_flags *sf;
	struct mailimap_flag_list *fl;
	struct mailimap_set *set;
	char *name;
	int r, ret = -1;

	if (n == 0)
		return 0;
	name = server_name(im, folder);
	set = uid_set(uids, n);
	if (bh_imap_has(im, "MOVE")) {
		r = mailimap_uid_move(im->imap, set, name);
		if (r != MAILIMAP_NO_ERROR) {
			fail(im, r, "UID MOVE", error_r);
			goto out;
		}
		ret = 0;
		goto out;
	}
	r = mailimap_uid_copy(im->imap, set, name);
	if (r != MAILIMAP_NO_ERROR) {
		fail(im, r, "UID COPY", error_r);
		goto out;
	}
	fl = mailimap_flag_list_new_empty();
	mailimap_flag_list_add(fl, mailimap_flag_new_deleted());
	sf = mailimap_store_att_flags_new_add_flags_silent(fl);
	r = mailimap_uid_store(im->imap, set, sf);
	mailimap_store_att_flags_free(sf);
	if (r != MAILIMAP_NO_ERROR) {
		fail(im, r, "UID STORE \\Deleted", error_r);
		goto out;
	}
	/* XXX: without UIDPLUS, EXPUNGE also removes messages someone else flagged \Deleted */
	if (bh_imap_has(im, "UIDPLUS"))
		r = mailimap_uid_expunge(im->imap, set);
	else
		r = mailimap_expunge(im->imap);
	if (r != MAILIMAP_NO_ERROR) {
		fail(im, r, "EXPUNGE", error_r);
		goto out;
	}
	ret = 0;
out:
	mailimap_set_free(set);
	free(name);
	return ret;
}

/* bh_imap_noop - NOOP: 0 when the connection answers, else -1 */
int
bh_imap_noop(struct bh_imap *im, const char **error_r)
{
	int r = mailimap_noop(im->imap);

	if (r != MAILIMAP_NO_ERROR)
		return fail(im, r, "NOOP", error_r);
	return 0;
}

/* wait_fd - ppoll fd (or nothing, when fd is -1) for timeout_ms with mask: 1 readable, 0 not */
static int
wait_fd(int fd, int64_t timeout_ms, const sigset_t *mask)
{
	struct pollfd pfd = {fd, POLLIN, 0};
	struct timespec ts;
	int r;

	if (timeout_ms < 0)
		timeout_ms = 0;
	ts.tv_sec = (time_t)(timeout_ms / 1000);
	ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
	r = ppoll(fd >= 0 ? &pfd : NULL, fd >= 0 ? 1 : 0, &ts, mask);
	if (r > 0)
		return 1;
	return 0; /* timeout, or a signal (EINTR): the caller looks at its flags */
}

/* bh_imap_wait - IDLE (or sleep + NOOP) up to timeout_ms: 1 news, 0 timeout or signal, -1 error */
int
bh_imap_wait(struct bh_imap *im, int64_t timeout_ms, const sigset_t *mask, const char **error_r)
{
	int r, got, fd;

	if (!im->conf->idle || !bh_imap_has(im, "IDLE")) {
		wait_fd(-1, timeout_ms, mask);
		if (bh_imap_noop(im, error_r) == -1)
			return -1;
		return 0;
	}
	r = mailimap_idle(im->imap);
	if (r != MAILIMAP_NO_ERROR)
		return fail(im, r, "IDLE", error_r);
	if (im->imap->imap_stream->read_buffer_len > 0) {
		got = 1; /* the server spoke already: its words sit in libetpan's buffer */
	} else {
		fd = mailimap_idle_get_fd(im->imap);
		got = fd >= 0 ? wait_fd(fd, timeout_ms, mask) : 0;
	}
	r = mailimap_idle_done(im->imap);
	if (r != MAILIMAP_NO_ERROR)
		return fail(im, r, "IDLE DONE", error_r);
	return got;
}

/* bh_imap_exists - EXISTS of the selected mailbox as the server last announced it (metrics) */
uint32_t
bh_imap_exists(const struct bh_imap *im)
{
	return im->imap->imap_selection_info != NULL ? im->imap->imap_selection_info->sel_exists
						     : 0;
}

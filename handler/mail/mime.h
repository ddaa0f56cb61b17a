/*
 * mime.h - a bounded, iterative MIME walker (RFC 2045, 2046): the message as a flat list of
 * parts in document order, each with its parsed header and its raw body span.
 *
 * We do not use libetpan's mailmime_parse here: it recurses into nested multiparts and
 * message/rfc822 parts without a depth bound. This walker keeps an explicit stack, checks the
 * nesting depth and the part count against struct bh_mime_settings before every step, and refuses
 * the message (-1, error) beyond them. Pure: no I/O.
 */
#ifndef BH_MIME_H
#define BH_MIME_H

#include <stdbool.h>
#include <stddef.h>

#include "message.h"

/* What the walker allows (bouncer.yaml limits:, filled by the configuration; bh_limits.h has the
 * defaults). Beyond any of them the message is refused, never cut. */
struct bh_mime_settings {
	unsigned mime_depth;   /* nesting of multipart and message/rfc822 (BH_DEF_MIME_DEPTH);
				* never more than BH_MAX_MIME_DEPTH whatever it says */
	unsigned mime_parts;   /* leaf and container parts in one message (BH_DEF_MIME_PARTS) */
	size_t header_line;    /* one unfolded header field, in bytes (BH_DEF_HEADER_LINE) */
	unsigned header_count; /* fields in one header block (BH_DEF_HEADER_COUNT) */
};

enum bh_cte { BH_CTE_IDENTITY = 0, BH_CTE_QP, BH_CTE_BASE64 };

struct bh_part {
	char type[32];	  /* lower case, "text" when absent */
	char subtype[64]; /* lower case, "plain" when absent */
	char charset[40]; /* lower case, "" when absent */
	enum bh_cte cte;
	bool attachment; /* Content-Disposition: attachment */
	unsigned depth;	 /* 0 for the message itself */
	long parent;	 /* index of the enclosing part, -1 for the message itself */
	struct bh_header hdr;
	const char *body; /* raw (still transfer-encoded) body; borrowed from the input or from
			   * a decoded copy owned by the bh_mime */
	size_t body_len;
};

struct bh_mime {
	struct bh_part *v;
	size_t n;
	char **owned;
	size_t n_owned;
};

/* bh_mime_parse - walk the message p[0..n) (borrowed: it must outlive m). Returns 0, or -1 with
 * *error_r (static) when a limit is broken or a header is unparseable. m must be zeroed; free
 * with bh_mime_deinit in both cases. */
int bh_mime_parse(const char *p, size_t n, const struct bh_mime_settings *lim, struct bh_mime *m,
		  const char **error_r);
void bh_mime_deinit(struct bh_mime *m);

/* bh_mime_is - true when part has type/subtype (lower-case literals). */
bool bh_mime_is(const struct bh_part *part, const char *type, const char *subtype);

/* bh_mime_body - the part's body with its transfer encoding undone: a new NUL-terminated
 * buffer, the caller's to free; *len_r gets its length. At most max bytes are decoded. */
char *bh_mime_body(const struct bh_part *part, size_t max, size_t *len_r);

/* bh_decode_base64, bh_decode_qp - decode p[0..n) into a new buffer (caller frees). */
char *bh_decode_base64(const char *p, size_t n, size_t *len_r);
char *bh_decode_qp(const char *p, size_t n, size_t *len_r);

/* bh_ct_param_ext - the value of parameter name (case-insensitive) in a Content-Type-like value
 * v[0..n) (parameters after the first ';'), RFC 2045 and RFC 2231: a token or a quoted-string
 * (unquoted), "name*=charset'lang'%XX..." (percent-decoded), or continuations "name*0=",
 * "name*1*=" ... in any order (joined; the *-marked sections percent-decoded, the charset taken
 * from section 0). The bytes are NOT converted from the charset: buf gets them raw,
 * NUL-terminated, *len_r their length (never a NUL inside: %00 is refused); charset (csz bytes,
 * may be NULL) gets the RFC 2231 charset, lower case, "" when none or on error. When both
 * forms are present the RFC 2231 one wins; the plain one is the fallback when the other is
 * malformed.
 * Returns 1 (found), 0 (absent), or -1 with *error_r (static): more than BH_MAX_PARAM_SECTIONS
 * sections, a missing or repeated section, a malformed %XX or charset'lang' prefix, a value
 * longer than bufsz - 1 or BH_MAX_PARAM_VALUE octets. */
int bh_ct_param_ext(const char *v, size_t n, const char *name, char *buf, size_t bufsz,
		    size_t *len_r, char *charset, size_t csz, const char **error_r);
/* bh_ct_param - bh_ct_param_ext without the charset: true when found, valid and not empty. */
bool bh_ct_param(const char *v, size_t n, const char *name, char *buf, size_t bufsz);

#endif

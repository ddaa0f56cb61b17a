/*
 * text.h - small scanners over untrusted bounce text: e-mail addresses, SMTP reply codes,
 * RFC 3463 status codes. Pointer + length in, spans out; no allocation unless stated. Pure.
 */
#ifndef BH_TEXT_H
#define BH_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* bh_text_next_addr - the next e-mail address (local@domain.tld, dot-atom) in p[*pos..n): sets
 * *start and *len (a span of p) and advances *pos past it. Returns false when there is none. */
bool bh_text_next_addr(const char *p, size_t n, size_t *pos, size_t *start, size_t *len);

/* bh_text_first_addr - the first address of a header value ("Name <a@b>"), as a new lower-case
 * string, or NULL. */
char *bh_text_first_addr(const char *p, size_t n);

/* bh_text_reply_code - the first SMTP reply code ("550") in p[0..n), class want (a digit, or 0
 * for any), into code[4]. Returns true when found. */
bool bh_text_reply_code(const char *p, size_t n, char want, char code[4]);

/* bh_text_status - the first RFC 3463 status ("5.1.1") in p[0..n), into buf (size bufsz).
 * class_want as above. Returns true when found. */
bool bh_text_status(const char *p, size_t n, char class_want, char *buf, size_t bufsz);

/* bh_text_clean - a copy of p[0..n) with runs of white space (and line ends) collapsed into one
 * space, control bytes dropped, trimmed, cut at max bytes on a UTF-8 boundary. Caller frees. */
char *bh_text_clean(const char *p, size_t n, size_t max);

/* bh_html_to_text - a rough text rendering of HTML: tags dropped, <br>/<p>/<div>/<tr> become
 * line ends, a few entities decoded. Caller frees; *len_r gets the length. */
char *bh_html_to_text(const char *p, size_t n, size_t *len_r);

#endif

/*
 * util.h - allocation, growable buffers, strict numbers, JSON and log escaping.
 *
 * Allocation failure aborts with a message (Postfix mymalloc): callers never test the result of
 * bh_malloc() and friends for NULL. Nothing here trusts a NUL terminator on input spans: every
 * function that reads input takes a pointer and a length.
 */
#ifndef BH_UTIL_H
#define BH_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BH_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define BH_NORETURN	__attribute__((noreturn))
#define BH_NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* bh_fatal - our own bug or an impossible state: print and abort. */
BH_NORETURN void bh_fatal(const char *fmt, ...) BH_PRINTF(1, 2);
/* bh_fatal_set_hook - fn runs once at the start of bh_fatal, before the message (NULL: none). */
void bh_fatal_set_hook(void (*fn)(void));

void *bh_malloc(size_t n);
void *bh_calloc(size_t n, size_t size);
void *bh_realloc(void *p, size_t n);
/* bh_reallocarray - realloc for n * size elements, aborting on overflow. */
void *bh_reallocarray(void *p, size_t n, size_t size);
char *bh_strdup(const char *s);
/* bh_strndup - copy at most n bytes of s (stops at a NUL), always NUL-terminated. */
char *bh_strndup(const char *s, size_t n);
/* bh_memdup0 - copy exactly n bytes and add a NUL (the copy may contain NULs). */
char *bh_memdup0(const void *p, size_t n);
/* bh_asprintf - formatted string, the caller's to free. */
char *bh_asprintf(const char *fmt, ...) BH_PRINTF(1, 2);
/* bh_free_str - free *pp and set it to NULL. */
void bh_free_str(char **pp);

/* A growable byte buffer, always NUL-terminated at len. Embed it and bh_buf_init() it. */
struct bh_buf {
	char *data;
	size_t len;
	size_t cap;
};
void bh_buf_init(struct bh_buf *b);
void bh_buf_deinit(struct bh_buf *b);
void bh_buf_reset(struct bh_buf *b);
void bh_buf_reserve(struct bh_buf *b, size_t extra);
void bh_buf_append(struct bh_buf *b, const void *p, size_t n);
void bh_buf_puts(struct bh_buf *b, const char *s);
/* bh_buf_putc - append one byte (inline: the text scanners call it per byte) */
static inline void
bh_buf_putc(struct bh_buf *b, char c)
{
	if (b->len + 2 > b->cap)
		bh_buf_reserve(b, 1);
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
}
void bh_buf_printf(struct bh_buf *b, const char *fmt, ...) BH_PRINTF(2, 3);
void bh_buf_vprintf(struct bh_buf *b, const char *fmt, va_list ap) BH_PRINTF(2, 0);
/* bh_buf_steal - hand the data to the caller (to free) and reset the buffer. */
char *bh_buf_steal(struct bh_buf *b);

/* bh_json_str - append p[0..n) as a JSON string literal (quotes included). Invalid UTF-8 bytes
 * become U+FFFD, control characters are escaped, NULs become \u0000. */
void bh_json_str(struct bh_buf *b, const char *p, size_t n);
/* bh_json_cstr - the same for a C string; NULL becomes `null`. */
void bh_json_cstr(struct bh_buf *b, const char *s);

/* bh_printable - copy at most max bytes of untrusted p[0..n) into a new string fit for a log
 * line: control bytes and non-ASCII become '?', and a cut is marked with "...". */
char *bh_printable(const char *p, size_t n, size_t max);
/* bh_printable_utf8 - the same, but well-formed UTF-8 is kept (C1 controls and bidirectional
 * overrides are not): for a terminal whose locale is UTF-8. A new string, the caller's. */
char *bh_printable_utf8(const char *p, size_t n, size_t max);
/* bh_operator_name - $USER, else the real uid's name from getpwuid, else "uid N"; the
 * caller's to free. */
char *bh_operator_name(void);
/* bh_locale_utf8 - true when LC_ALL, else LC_CTYPE, else LANG names a UTF-8 codeset. */
bool bh_locale_utf8(void);

/* bh_strtonum - parse a whole decimal string into [min, max]. Returns 0, or -1 with *error_r
 * set to "invalid", "too small" or "too large". */
int bh_strtonum(const char *s, long long min, long long max, long long *out, const char **error_r);

/* Span helpers for untrusted text (pointer + length, never NUL-terminated). */
bool bh_span_ieq_tail(const char *p, size_t n, const char *lit);
/* bh_span_ieq - p[0..n) equals the string lit ignoring ASCII case. Inline, the first byte
 * first: the many look-ups by field name fail there almost always (two bytes equal but for
 * case differ at most in bit 0x20). */
static inline bool
bh_span_ieq(const char *p, size_t n, const char *lit)
{
	if (n == 0)
		return lit[0] == '\0';
	if (((unsigned char)p[0] | 0x20u) != ((unsigned char)lit[0] | 0x20u))
		return false;
	return bh_span_ieq_tail(p, n, lit);
}
bool bh_span_istarts_tail(const char *p, size_t n, const char *lit);
/* bh_span_istarts - p[0..n) starts with the string lit ignoring ASCII case; the first byte
 * tested inline, as in bh_span_ieq (the line scanners ask it of every line) */
static inline bool
bh_span_istarts(const char *p, size_t n, const char *lit)
{
	if (lit[0] == '\0')
		return true;
	if (n == 0 || ((unsigned char)p[0] | 0x20u) != ((unsigned char)lit[0] | 0x20u))
		return false;
	return bh_span_istarts_tail(p, n, lit);
}
const char *bh_memcasemem(const char *hay, size_t hn, const char *needle, size_t nn);
/* A set of at most 64 NUL-terminated needles, searched for in one pass ignoring ASCII case.
 * bh_needles_init keeps v (it must outlive the set) and fills the tables; a set that lists
 * fixed needles is best made once (a static set, initialized at first use: classification runs
 * in one thread). */
struct bh_needles {
	const char *const *v;
	size_t n, minlen;
	size_t len[64];
	uint64_t first[256], second[256]; /* needles by their first, second byte (folded) */
	uint64_t one, all, empty;	  /* needles of one byte, all but the empty, empty */
	unsigned char shift[4096];	  /* Wu-Manber shifts by a hash of a byte pair */
	bool ready;			  /* for the caller: the set was initialized */
};
void bh_needles_init(struct bh_needles *s, const char *const *v, size_t n);
/* bh_needles_find - sets bit i of *found for every needle i that occurs in hay[0..hn). With
 * stop, it returns at the first occurrence of any needle. Returns the offset of the earliest
 * occurrence seen, or hn when none occurs. */
size_t bh_needles_find(const struct bh_needles *s, const char *hay, size_t hn, bool stop,
		       uint64_t *found);
/* bh_multi_casemem - bh_needles_find with a set made for this call. */
size_t bh_multi_casemem(const char *hay, size_t hn, const char *const *needles, size_t nn,
			bool stop, uint64_t *found);
void bh_span_trim(const char **p, size_t *n); /* drop outer white space */

/* bh_lower_ascii - lower-case ASCII letters of s in place. */
void bh_lower_ascii(char *s);
/* bh_hexval - the value of a hex digit (either case), or -1. */
int bh_hexval(unsigned char c);
/* bh_utf8_len - the length of the valid UTF-8 sequence at p[0..n) (n >= 1), 0 when invalid
 * (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF). */
size_t bh_utf8_len(const unsigned char *p, size_t n);

/* bh_now - wall clock, seconds since the epoch. bh_mono_ms - monotonic milliseconds. */
int64_t bh_now(void);
int64_t bh_mono_ms(void);

/* bh_secure_zero - wipe a secret so the compiler cannot elide it. */
void bh_secure_zero(void *p, size_t n);
/* bh_ct_equal - constant-time comparison of two byte strings of length n. */
bool bh_ct_equal(const void *a, const void *b, size_t n);

/* bh_read_file - read a whole file of at most max bytes. Returns 0, or -1 with *error_r set to a
 * static description ("too large") or strerror(). *data_r is the caller's, NUL-terminated. */
int bh_read_file(const char *path, size_t max, char **data_r, size_t *len_r, const char **error_r);

#endif

/*
 * util.c - allocation, buffers, strict numbers and escaping for untrusted text.
 *
 * Trusts nothing about its input spans but their length. Allocation failure aborts.
 */
#include "util.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void (*fatal_hook)(void);

/* bh_fatal_set_hook - call fn first in bh_fatal (the logger writes the lines it holds) */
void
bh_fatal_set_hook(void (*fn)(void))
{
	fatal_hook = fn;
}

/* bh_fatal - report our own bug and abort */
void
bh_fatal(const char *fmt, ...)
{
	va_list ap;

	if (fatal_hook != NULL) {
		void (*fn)(void) = fatal_hook;

		fatal_hook = NULL; /* once: the hook itself may fail */
		fn();
	}
	fputs("bouncer: fatal: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* bh_malloc - allocate n bytes, abort on failure */
void *
bh_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		bh_fatal("out of memory allocating %zu bytes", n);
	return p;
}

/* bh_calloc - allocate zeroed n * size bytes, abort on failure */
void *
bh_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		bh_fatal("out of memory allocating %zu x %zu bytes", n, size);
	return p;
}

/* bh_realloc - resize p to n bytes, abort on failure */
void *
bh_realloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		bh_fatal("out of memory reallocating %zu bytes", n);
	return q;
}

/* bh_reallocarray - resize p to n * size bytes, abort on overflow or failure */
void *
bh_reallocarray(void *p, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		bh_fatal("allocation overflow: %zu x %zu", n, size);
	return bh_realloc(p, n * size);
}

/* bh_strdup - copy a C string */
char *
bh_strdup(const char *s)
{
	return bh_memdup0(s, strlen(s));
}

/* bh_strndup - copy at most n bytes of s, NUL-terminated */
char *
bh_strndup(const char *s, size_t n)
{
	const char *nul = memchr(s, '\0', n);

	return bh_memdup0(s, nul != NULL ? (size_t)(nul - s) : n);
}

/* bh_memdup0 - copy exactly n bytes and add a NUL */
char *
bh_memdup0(const void *p, size_t n)
{
	char *s = bh_malloc(n + 1);

	if (n > 0)
		memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/* bh_asprintf - a formatted string, the caller's to free */
char *
bh_asprintf(const char *fmt, ...)
{
	struct bh_buf b;
	va_list ap;

	bh_buf_init(&b);
	va_start(ap, fmt);
	bh_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	return bh_buf_steal(&b);
}

/* bh_free_str - free *pp and set it to NULL */
void
bh_free_str(char **pp)
{
	if (pp == NULL)
		return;
	free(*pp);
	*pp = NULL;
}

/* bh_buf_init - an empty buffer */
void
bh_buf_init(struct bh_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

/* bh_buf_deinit - free the buffer's data */
void
bh_buf_deinit(struct bh_buf *b)
{
	free(b->data);
	bh_buf_init(b);
}

/* bh_buf_reset - empty the buffer, keeping its memory */
void
bh_buf_reset(struct bh_buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

/* bh_buf_reserve - make room for extra more bytes */
void
bh_buf_reserve(struct bh_buf *b, size_t extra)
{
	size_t need, cap;

	if (extra > SIZE_MAX - b->len - 1)
		bh_fatal("buffer overflow: %zu + %zu", b->len, extra);
	need = b->len + extra + 1;
	if (need <= b->cap)
		return;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	b->data = bh_realloc(b->data, cap);
	b->cap = cap;
	b->data[b->len] = '\0'; /* a fresh buffer is a valid empty string too */
}

/* bh_buf_append - append p[0..n) */
void
bh_buf_append(struct bh_buf *b, const void *p, size_t n)
{
	bh_buf_reserve(b, n);
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

/* bh_buf_puts - append a C string */
void
bh_buf_puts(struct bh_buf *b, const char *s)
{
	bh_buf_append(b, s, strlen(s));
}

/* bh_buf_vprintf - append formatted text (va_list) */
void
bh_buf_vprintf(struct bh_buf *b, const char *fmt, va_list ap)
{
	va_list aq;
	int n;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0)
		bh_fatal("vsnprintf failed for format %s", fmt);
	bh_buf_reserve(b, (size_t)n);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

/* bh_buf_printf - append formatted text */
void
bh_buf_printf(struct bh_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	bh_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

/* bh_buf_steal - hand the data to the caller and reset the buffer */
char *
bh_buf_steal(struct bh_buf *b)
{
	char *s;

	if (b->data == NULL)
		return bh_strdup("");
	s = b->data;
	bh_buf_init(b);
	return s;
}

/* bh_utf8_len - length of a valid UTF-8 sequence at p (at most n bytes), or 0 */
size_t
bh_utf8_len(const unsigned char *p, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/* bh_hexval - the value of a hex digit, -1 otherwise */
int
bh_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* json_esc - how a JSON string carries each byte: 0 as it is (printable ASCII but '"' and
 * '\\'), 1 after a backslash ('"', '\\'), 'n', 'r', 't' as that escape, 'u' as \u00XX (the
 * other control bytes and DEL); a byte of 0x80 and above (8 below) is checked as UTF-8 */
static const unsigned char json_esc[128] = {
    ['\0'] = 'u', [1] = 'u',  [2] = 'u',    [3] = 'u',	  [4] = 'u',  [5] = 'u',  [6] = 'u',
    [7] = 'u',	  [8] = 'u',  ['\t'] = 't', ['\n'] = 'n', [11] = 'u', [12] = 'u', ['\r'] = 'r',
    [14] = 'u',	  [15] = 'u', [16] = 'u',   [17] = 'u',	  [18] = 'u', [19] = 'u', [20] = 'u',
    [21] = 'u',	  [22] = 'u', [23] = 'u',   [24] = 'u',	  [25] = 'u', [26] = 'u', [27] = 'u',
    [28] = 'u',	  [29] = 'u', [30] = 'u',   [31] = 'u',	  ['"'] = 1,  ['\\'] = 1, [0x7f] = 'u',
};

#define BYTES(x) (UINT64_C(0x0101010101010101) * (x))

/* json_word_plain - none of the eight bytes of w needs escaping or a UTF-8 check: none below
 * 0x20, none from 0x7f up, no '"' and no '\\' (a borrow crosses a byte only from a byte that
 * is itself below the bound, so each test is exact for "some byte") */
static inline bool
json_word_plain(uint64_t w)
{
	uint64_t q = w ^ BYTES('"'), bs = w ^ BYTES('\\'), del = w ^ BYTES(0x7f);

	return ((w | ((w - BYTES(0x20)) & ~w) | ((q - BYTES(1)) & ~q) | ((bs - BYTES(1)) & ~bs) |
		 ((del - BYTES(1)) & ~del)) &
		BYTES(0x80)) == 0;
}

/* bh_json_str - append p[0..n) as a JSON string literal. The worst case (six bytes for a
 * control byte) is reserved once and the bytes are written in place: this runs for every
 * field of every verdict. */
void
bh_json_str(struct bh_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;
	char *o;

	if (n > (SIZE_MAX - 3) / 6)
		bh_fatal("buffer overflow: JSON string of %zu bytes", n);
	bh_buf_reserve(b, 6 * n + 2);
	o = b->data + b->len;
	*o++ = '"';
	while (i < n) {
		unsigned char c, e;
		uint64_t w;

		/* eight plain bytes at a time */
		if (n - i >= 8) {
			memcpy(&w, p + i, 8);
			if (json_word_plain(w)) {
				memcpy(o, &w, 8);
				o += 8;
				i += 8;
				continue;
			}
		}
		c = p[i];
		e = c < 0x80 ? json_esc[c] : 8;

		if (e == 0) {
			*o++ = (char)c;
			i++;
		} else if (e == 1) {
			*o++ = '\\';
			*o++ = (char)c;
			i++;
		} else if (e == 'u') {
			memcpy(o, "\\u00", 4);
			o[4] = hex[c >> 4];
			o[5] = hex[c & 15];
			o += 6;
			i++;
		} else if (e != 8) {
			*o++ = '\\';
			*o++ = (char)e;
			i++;
		} else if ((k = bh_utf8_len(p + i, n - i)) != 0) {
			memcpy(o, p + i, k);
			o += k;
			i += k;
		} else {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	*o++ = '"';
	b->len = (size_t)(o - b->data);
	b->data[b->len] = '\0';
}

/* bh_json_cstr - append a C string as a JSON string literal, NULL as null */
void
bh_json_cstr(struct bh_buf *b, const char *s)
{
	if (s == NULL)
		bh_buf_puts(b, "null");
	else
		bh_json_str(b, s, strlen(s));
}

/* bh_printable - a copy of untrusted text fit for a log line */
char *
bh_printable(const char *p, size_t n, size_t max)
{
	struct bh_buf b;
	size_t i, lim = n < max ? n : max;

	bh_buf_init(&b);
	bh_buf_reserve(&b, lim + 3);
	for (i = 0; i < lim; i++) {
		unsigned char c = (unsigned char)p[i];

		bh_buf_putc(&b, (c >= 0x20 && c < 0x7f) ? (char)c : '?');
	}
	if (n > max)
		bh_buf_puts(&b, "...");
	return bh_buf_steal(&b);
}

/* utf8_seq - the length of the well-formed UTF-8 sequence at p[0..n) that a terminal may show
 * (no C1 control, no bidirectional override), or 0 */
static size_t
utf8_seq(const unsigned char *p, size_t n)
{
	size_t len, k;
	unsigned cp;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, cp = p[0] & 0x1fu;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, cp = p[0] & 0x0fu;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, cp = p[0] & 0x07u;
	else
		return 0;
	if (n < len)
		return 0;
	for (k = 1; k < len; k++) {
		if ((p[k] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[k] & 0x3fu);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) || cp < 0xa0 ||
	    (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069))
		return 0;
	return len;
}

/* bh_printable_utf8 - bh_printable that keeps well-formed UTF-8 */
char *
bh_printable_utf8(const char *p, size_t n, size_t max)
{
	struct bh_buf b;
	size_t i = 0, lim = n < max ? n : max, k;

	bh_buf_init(&b);
	bh_buf_reserve(&b, lim + 3);
	while (i < lim) {
		unsigned char c = (unsigned char)p[i];

		if (c >= 0x20 && c < 0x7f) {
			bh_buf_putc(&b, (char)c);
			i++;
		} else if (c >= 0x80 && (k = utf8_seq((const unsigned char *)p + i, lim - i)) > 0) {
			bh_buf_append(&b, p + i, k);
			i += k;
		} else {
			bh_buf_putc(&b, '?');
			i++;
		}
	}
	if (n > max)
		bh_buf_puts(&b, "...");
	return bh_buf_steal(&b);
}

/* bh_locale_utf8 - does the environment's locale (LC_ALL, then LC_CTYPE, then LANG) name UTF-8? */
bool
bh_locale_utf8(void)
{
	static const char *const vars[] = {"LC_ALL", "LC_CTYPE", "LANG"};
	size_t i;

	for (i = 0; i < 3; i++) {
		const char *v = getenv(vars[i]);

		if (v != NULL && v[0] != '\0')
			return strcasestr(v, "utf-8") != NULL || strcasestr(v, "utf8") != NULL;
	}
	return false;
}

/* bh_operator_name - who runs this command: $USER, else the name of the real uid (a service or
 * a sudo environment may have no $USER), else "uid N" */
char *
bh_operator_name(void)
{
	const char *u = getenv("USER");
	struct passwd *pw;

	if (u != NULL && u[0] != '\0')
		return bh_strdup(u);
	if ((pw = getpwuid(getuid())) != NULL && pw->pw_name != NULL && pw->pw_name[0] != '\0')
		return bh_strdup(pw->pw_name);
	return bh_asprintf("uid %u", (unsigned)getuid());
}

/* bh_strtonum - parse a whole decimal string within [min, max] */
int
bh_strtonum(const char *s, long long min, long long max, long long *out, const char **error_r)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s)) {
		*error_r = "invalid";
		return -1;
	}
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end != '\0') {
		*error_r = "invalid";
		return -1;
	}
	if ((errno == ERANGE && v == LLONG_MIN) || v < min) {
		*error_r = "too small";
		return -1;
	}
	if ((errno == ERANGE && v == LLONG_MAX) || v > max) {
		*error_r = "too large";
		return -1;
	}
	*out = v;
	return 0;
}

/* fold - ASCII lower case of a byte (the C locale's tolower) */
static inline unsigned char
fold(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* fold_eq - a[0..n) equals b[0..n) ignoring ASCII case */
static inline bool
fold_eq(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (fold((unsigned char)a[i]) != fold((unsigned char)b[i]))
			return false;
	return true;
}

/* bh_span_ieq_tail - bh_span_ieq past its inline test of the first byte (which it repeats) */
bool
bh_span_ieq_tail(const char *p, size_t n, const char *lit)
{
	size_t i;

	/* lit has no NUL before its end, so a NUL in p never compares equal (as strncasecmp) */
	for (i = 0; i < n; i++)
		if (lit[i] == '\0' || fold((unsigned char)p[i]) != fold((unsigned char)lit[i]))
			return false;
	return lit[n] == '\0';
}

/* bh_span_istarts_tail - bh_span_istarts past its inline test of the first byte */
bool
bh_span_istarts_tail(const char *p, size_t n, const char *lit)
{
	size_t i;

	for (i = 0; lit[i] != '\0'; i++)
		if (i >= n || fold((unsigned char)p[i]) != fold((unsigned char)lit[i]))
			return false;
	return true;
}

/* bh_memcasemem - case-insensitive (ASCII) search of needle in hay. One pass: memchr jumps to
 * each occurrence of the needle's first byte that has no case (a space, ':', '@', a digit),
 * else the scan compares the first two bytes folded before the rest. */
const char *
bh_memcasemem(const char *hay, size_t hn, const char *needle, size_t nn)
{
	const char *p, *last;
	size_t j;
	unsigned char c0;

	if (nn == 0)
		return hay;
	if (nn > hn)
		return NULL;
	last = hay + (hn - nn); /* the last possible start */
	for (j = 0; j < nn; j++) {
		unsigned char c = (unsigned char)needle[j];

		if (c == '\0')
			break; /* strncasecmp semantics for a NUL: the old scan below */
		if (fold(c) == c && !(c >= 'a' && c <= 'z'))
			break;
	}
	if (j < nn && needle[j] != '\0') {
		/* anchor on needle[j], a byte without case */
		for (p = hay + j; p <= last + j; p++) {
			p = memchr(p, needle[j], (size_t)(last + j - p) + 1);
			if (p == NULL)
				return NULL;
			if (fold_eq(p - j, needle, j) && fold_eq(p + 1, needle + j + 1, nn - j - 1))
				return p - j;
		}
		return NULL;
	}
	if (memchr(needle, '\0', nn) != NULL) {
		for (p = hay; p <= last; p++)
			if (strncasecmp(p, needle, nn) == 0)
				return p;
		return NULL;
	}
	c0 = fold((unsigned char)needle[0]);
	for (p = hay; p <= last; p++)
		if (fold((unsigned char)*p) == c0 && fold_eq(p + 1, needle + 1, nn - 1))
			return p;
	return NULL;
}

/* multi_at - the needles (of m) that occur at hay[i..hn): set their bits in *found and drop
 * them from *want; whether any did */
static inline bool
multi_at(const struct bh_needles *s, const char *hay, size_t hn, size_t i, uint64_t m,
	 uint64_t *want, uint64_t *found)
{
	bool hit = false;
	size_t k;

	while (m != 0) {
		k = (size_t)__builtin_ctzll(m);
		m &= m - 1;
		if (s->len[k] > hn - i ||
		    !fold_eq(hay + i + 2, s->v[k] + 2, s->len[k] < 2 ? 0 : s->len[k] - 2))
			continue;
		*found |= UINT64_C(1) << k;
		*want &= ~(UINT64_C(1) << k); /* its first occurrence is known */
		hit = true;
	}
	return hit;
}

/* bh_needles_init - the tables of a needle set: the needles by their first and by their second
 * byte, and the Wu-Manber shifts (blocks of 2 bytes) for a window of the shortest needle */
void
bh_needles_init(struct bh_needles *s, const char *const *v, size_t n)
{
	size_t k, j, w;

	assert(n <= 64);
	memset(s, 0, sizeof(*s));
	s->ready = true;
	s->v = v;
	s->n = n;
	s->minlen = SIZE_MAX;
	for (k = 0; k < n; k++) {
		s->len[k] = strlen(v[k]);
		if (s->len[k] == 0) {
			s->empty |= UINT64_C(1) << k;
			continue;
		}
		if (s->len[k] < s->minlen)
			s->minlen = s->len[k];
		s->first[fold((unsigned char)v[k][0])] |= UINT64_C(1) << k;
		if (s->len[k] == 1)
			s->one |= UINT64_C(1) << k;
		else
			s->second[fold((unsigned char)v[k][1])] |= UINT64_C(1) << k;
		s->all |= UINT64_C(1) << k;
	}
	if (s->minlen < 3 || s->minlen == SIZE_MAX)
		return; /* no skipping: every position is looked at */
	w = s->minlen < 255 ? s->minlen : 255;
	memset(s->shift, (int)(w - 1), sizeof(s->shift));
	for (k = 0; k < n; k++)
		for (j = 1; s->len[k] > 0 && j < w; j++) {
			unsigned h = ((unsigned)fold((unsigned char)v[k][j - 1]) << 4 ^
				      fold((unsigned char)v[k][j])) &
				     4095u;

			if (s->shift[h] > w - 1 - j)
				s->shift[h] = (unsigned char)(w - 1 - j);
		}
}

/* bh_needles_find - every needle of the set in one pass. The two tables send each text
 * position to the few needles that start with its two bytes; in a long text with needles of at
 * least 3 bytes the scan skips: the pair of bytes that ends a window of the shortest needle's
 * length tells how far the next possible start is. */
size_t
bh_needles_find(const struct bh_needles *s, const char *hay, size_t hn, bool stop, uint64_t *found)
{
	uint64_t want = s->all, m;
	size_t i, earliest = hn;

	if (s->empty != 0) {
		*found |= s->empty;
		earliest = 0;
		if (stop)
			return 0;
	}
	if (want != 0 && s->minlen >= 3 && hn >= 256) {
		size_t w = s->minlen < 255 ? s->minlen : 255; /* the window */

		/* i is the last byte of a window that starts at i - w + 1 */
		for (i = w - 1; i < hn && want != 0;) {
			unsigned h = ((unsigned)fold((unsigned char)hay[i - 1]) << 4 ^
				      fold((unsigned char)hay[i])) &
				     4095u;
			size_t st = i - (w - 1);

			if (s->shift[h] != 0) {
				i += s->shift[h];
				continue;
			}
			m = s->first[fold((unsigned char)hay[st])] & want &
			    (s->one | s->second[fold((unsigned char)hay[st + 1])]);
			if (m != 0 && multi_at(s, hay, hn, st, m, &want, found)) {
				if (earliest == hn)
					earliest = st;
				if (stop)
					return st;
			}
			i++;
		}
		return earliest;
	}
	for (i = 0; i < hn && want != 0; i++) {
		m = s->first[fold((unsigned char)hay[i])] & want;
		if (m == 0)
			continue;
		m &= s->one | (i + 1 < hn ? s->second[fold((unsigned char)hay[i + 1])] : 0);
		if (m != 0 && multi_at(s, hay, hn, i, m, &want, found)) {
			if (earliest == hn)
				earliest = i;
			if (stop)
				return i;
		}
	}
	return earliest;
}

/* bh_multi_casemem - bh_needles_find with the tables made for this call */
size_t
bh_multi_casemem(const char *hay, size_t hn, const char *const *needles, size_t nn, bool stop,
		 uint64_t *found)
{
	struct bh_needles s;

	bh_needles_init(&s, needles, nn);
	return bh_needles_find(&s, hay, hn, stop, found);
}

/* bh_span_trim - drop outer white space from a span */
void
bh_span_trim(const char **p, size_t *n)
{
	while (*n > 0 && isspace((unsigned char)(*p)[0]))
		(*p)++, (*n)--;
	while (*n > 0 && isspace((unsigned char)(*p)[*n - 1]))
		(*n)--;
}

/* bh_lower_ascii - lower-case ASCII letters in place */
void
bh_lower_ascii(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/* bh_now - wall clock, seconds since the epoch */
int64_t
bh_now(void)
{
	return (int64_t)time(NULL);
}

/* bh_mono_ms - monotonic clock, milliseconds */
int64_t
bh_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* bh_secure_zero - wipe a secret so the compiler cannot elide it */
void
bh_secure_zero(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n-- > 0)
		*v++ = 0;
}

/* bh_ct_equal - compare two byte strings in constant time */
bool
bh_ct_equal(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	unsigned char d = 0;
	size_t i;

	for (i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

/* bh_read_file - read a whole file of at most max bytes, straight into its buffer: sized from
 * fstat for a regular file (one allocation, no copy), grown by doubling for a pipe */
int
bh_read_file(const char *path, size_t max, char **data_r, size_t *len_r, const char **error_r)
{
	struct bh_buf b;
	struct stat st;
	ssize_t r;
	size_t want;
	int fd, ret = -1;

	bh_buf_init(&b);
	fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		*error_r = strerror(errno);
		return -1;
	}
	/* one byte more than the file, so that its end is seen without a second allocation */
	want = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (uintmax_t)st.st_size < max
		   ? (size_t)st.st_size + 1
		   : 65536;
	for (;;) {
		if (b.cap - b.len <= 1)
			bh_buf_reserve(&b, b.len < want ? want - b.len : b.len);
		r = read(fd, b.data + b.len, b.cap - b.len - 1);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			*error_r = strerror(errno);
			goto out;
		}
		if (r == 0)
			break;
		if (b.len + (size_t)r > max) {
			*error_r = "file too large";
			goto out;
		}
		b.len += (size_t)r;
		b.data[b.len] = '\0';
	}
	if (b.data == NULL)
		bh_buf_reserve(&b, 0), b.data[0] = '\0';
	*len_r = b.len;
	*data_r = bh_buf_steal(&b);
	ret = 0;
out:
	if (fd != STDIN_FILENO)
		close(fd);
	bh_buf_deinit(&b);
	return ret;
}

/*
 * test_message.c - header parsing, unfolding, line ends, NULs, RFC 2047; the MIME walker and
 * its limits; the text scanners.
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "bh_limits.h"
#include "message.h"
#include "mime.h"
#include "text.h"
#include "test.h"

static struct bh_mime_settings lim = {
    .mime_depth = BH_DEF_MIME_DEPTH,
    .mime_parts = BH_DEF_MIME_PARTS,
    .header_line = BH_DEF_HEADER_LINE,
    .header_count = BH_DEF_HEADER_COUNT,
};

static void
test_headers(void)
{
	static const struct {
		const char *in;
		size_t len; /* 0: strlen */
		const char *name, *want;
		size_t nfields;
		const char *body;
	} t[] = {
	    {"Subject: a\n b\n\nbody", 0, "Subject", "a b", 1, "body"},
	    {"Subject: a\r\n\tb\r\nTo: x\r\n\r\nbody", 0, "subject", "a\tb", 2, "body"},
	    {"Subject: a\r b\rTo: x\r\rbody", 0, "To", "x", 2, "body"},
	    {"From MAILER-DAEMON Mon\nFrom: y\n\nB", 0, "From", "y", 1, "B"},
	    {"X-A: 1\nnot a header line\nmore", 0, "X-A", "1", 1, "not a header line\nmore"},
	    {"X-A : spaced\n\n", 0, "X-A", "spaced", 1, ""},
	    {"X-Nul: a\0b\n\nz", 13, "X-Nul", NULL, 1, "z"},
	    {"No-Body: v", 0, "No-Body", "v", 1, ""},
	    {"", 0, "X", NULL, 0, ""},
	};
	size_t i;

	for (i = 0; i < BH_NELEM(t); i++) {
		struct bh_header h;
		const char *err = NULL;
		size_t len = t[i].len ? t[i].len : strlen(t[i].in);
		const struct bh_field *f;

		CHECK_INT(bh_header_parse(t[i].in, len, 1000, 100, &h, &err), 0);
		CHECK_INT(h.n, t[i].nfields);
		f = bh_header_get(&h, t[i].name);
		if (t[i].want != NULL) {
			CHECK(f != NULL);
			if (f != NULL)
				CHECK_STR(f->value, t[i].want);
		}
		CHECK_INT(len - h.body_off, strlen(t[i].body));
		if (h.body_off <= len)
			CHECK(memcmp(t[i].in + h.body_off, t[i].body, strlen(t[i].body)) == 0);
		bh_header_deinit(&h);
	}
	{
		/* NUL kept inside the value */
		struct bh_header h;
		const char *err;

		CHECK_INT(bh_header_parse("X-Nul: a\0b\n\n", 12, 1000, 100, &h, &err), 0);
		CHECK_INT(h.v[0].value_len, 3);
		bh_header_deinit(&h);
	}
	{
		/* limits */
		struct bh_header h;
		const char *err = NULL;

		CHECK_INT(bh_header_parse("A: 1\nB: 2\nC: 3\n\n", 16, 1000, 2, &h, &err), -1);
		CHECK_STR(err, "too many header fields");
		bh_header_deinit(&h);
		CHECK_INT(bh_header_parse("A: 12345\n 678901234\n\n", 21, 10, 20, &h, &err), -1);
		CHECK_STR(err, "header field too long");
		bh_header_deinit(&h);
	}
}

static void
test_decode(void)
{
	char *s = bh_header_decode("=?UTF-8?B?w6nDqQ==?= x", 22, 100);

	CHECK_STR(s, "\xc3\xa9\xc3\xa9 x");
	free(s);
	s = bh_header_decode("=?ISO-8859-1?Q?caf=E9?=", 23, 100);
	CHECK_STR(s, "caf\xc3\xa9");
	free(s);
	s = bh_header_decode("a\tb\x01", 4, 100);
	CHECK_STR(s, "a b ");
	free(s);
	s = bh_header_decode("\xc3\xa9\xc3\xa9", 4, 3);
	CHECK_STR(s, "\xc3\xa9");
	free(s);
}

static void
test_mime(void)
{
	const char *msg =
	    "Content-Type: multipart/mixed; boundary=\"X\"\n\npre\n--X\n"
	    "Content-Type: text/plain\n\nhello\n--X\n"
	    "Content-Type: message/rfc822\n\nSubject: inner\n\nbody\n--X--\nepilogue\n";
	struct bh_mime m;
	const char *err = NULL;
	char *d;
	size_t dl;

	CHECK_INT(bh_mime_parse(msg, strlen(msg), &lim, &m, &err), 0);
	CHECK_INT(m.n, 4);
	if (m.n == 4) {
		CHECK(bh_mime_is(&m.v[0], "multipart", "mixed"));
		CHECK(bh_mime_is(&m.v[1], "text", "plain"));
		CHECK_INT(m.v[1].body_len, 5);
		CHECK(bh_mime_is(&m.v[2], "message", "rfc822"));
		CHECK_INT(m.v[3].parent, 2);
		CHECK_STR(bh_header_get(&m.v[3].hdr, "Subject")->value, "inner");
	}
	bh_mime_deinit(&m);

	/* nesting beyond the limit is refused, not recursed into */
	{
		struct bh_buf b;
		int i;

		bh_buf_init(&b);
		for (i = 0; i < 40; i++)
			bh_buf_printf(&b, "Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n",
				      i, i);
		bh_buf_puts(&b, "\nleaf\n");
		CHECK_INT(bh_mime_parse(b.data, b.len, &lim, &m, &err), -1);
		CHECK_STR(err, "MIME nesting too deep");
		bh_mime_deinit(&m);
		bh_buf_reset(&b);
		bh_buf_puts(&b, "Content-Type: multipart/mixed; boundary=z\n\n");
		for (i = 0; i < 600; i++)
			bh_buf_puts(&b, "--z\n\nx\n");
		CHECK_INT(bh_mime_parse(b.data, b.len, &lim, &m, &err), -1);
		CHECK_STR(err, "too many MIME parts");
		bh_mime_deinit(&m);
		bh_buf_deinit(&b);
	}
	d = bh_decode_base64("aGVs\nbG8=", 9, &dl);
	CHECK_STR(d, "hello");
	free(d);
	d = bh_decode_qp("a=3Db=\nc=ZZ", 12, &dl);
	CHECK_STR(d, "a=bc=ZZ");
	free(d);
}

/* test_ct_param - Content-Type parameters: RFC 2045 tokens and quoted-strings, RFC 2231
 * continuations and charset'language'%XX values, and every way they can be malformed */
static void
test_ct_param(void)
{
	static const struct {
		const char *v, *name;
		int ret;
		const char *want, *charset, *err;
	} cases[] = {
	    /* plain */
	    {"text/plain; charset=us-ascii", "charset", 1, "us-ascii", "", NULL},
	    {"x/y;charset=a;boundary=b", "boundary", 1, "b", "", NULL},
	    {"x/y ; boundary = \"abc\" ; charset = x", "boundary", 1, "abc", "", NULL},
	    {"x/y; BOUNDARY=abc", "boundary", 1, "abc", "", NULL},
	    {"x/y; boundary=abc (comment)", "boundary", 1, "abc", "", NULL},
	    {"text/plain; charset=x", "boundary", 0, "", "", NULL},
	    {"x/y; boundaryx=abc; xboundary=abc", "boundary", 0, "", "", NULL},
	    {"x/y; boundary", "boundary", 0, "", "", NULL},
	    {"boundary=abc", "boundary", 0, "", "", NULL}, /* before the first ';': the type */
	    /* quoted */
	    {"x/y; boundary=\"a\\\"b;c\"", "boundary", 1, "a\"b;c", "", NULL},
	    {"x/y; a=\"; boundary=no\"; boundary=yes", "boundary", 1, "yes", "", NULL},
	    {"x/y; boundary=\"\"", "boundary", 1, "", "", NULL},
	    {"x/y; boundary=\"abc", "boundary", 1, "abc", "", NULL},
	    {"x/y; boundary=first; boundary=second", "boundary", 1, "first", "", NULL},
	    /* continuations, in order and not */
	    {"x/y; boundary*0=\"abc\"; boundary*1=def", "boundary", 1, "abcdef", "", NULL},
	    {"x/y; boundary*2=ghi; boundary*0=abc;\r\n\tboundary*1=\"d;f\"", "boundary", 1,
	     "abcd;fghi", "", NULL},
	    {"x/y; boundary*0=abc; boundary*2=ghi", "boundary", -1, "", "",
	     "missing RFC 2231 section"},
	    {"x/y; boundary*1=abc", "boundary", -1, "", "", "missing RFC 2231 section"},
	    {"x/y; boundary*0=a; boundary*0=b", "boundary", -1, "", "",
	     "repeated RFC 2231 section"},
	    {"x/y; boundary*00=a", "boundary", -1, "", "",
	     "RFC 2231 section number with a leading zero"},
	    {"x/y; boundary*64=a; boundary*0=b", "boundary", -1, "", "",
	     "too many RFC 2231 sections"},
	    {"x/y; boundary*99999999999999999999999=a", "boundary", -1, "", "",
	     "too many RFC 2231 sections"},
	    /* extended: charset'language'%XX */
	    {"x/y; title*=utf-8''%E2%82%AC%20rates", "title", 1, "\xe2\x82\xac rates", "utf-8",
	     NULL},
	    {"x/y; title*=ISO-8859-1'en'%A3%20rates", "title", 1, "\xa3 rates", "iso-8859-1", NULL},
	    {"x/y; title*=''plain", "title", 1, "plain", "", NULL},
	    /* RFC 2231 section 4.1's example: encoded and plain sections mixed */
	    {"application/x-stuff;\r\n title*0*=us-ascii'en'This%20is%20even%20more%20;\r\n"
	     " title*1*=%2A%2A%2Afun%2A%2A%2A%20;\r\n title*2=\"isn't it!\"",
	     "title", 1, "This is even more ***fun*** isn't it!", "us-ascii", NULL},
	    /* only section 0 carries the charset; a plain section is not decoded */
	    {"x/y; n*1*=%41%42; n*0*=utf-8''%43; n*2=%44", "n", 1, "CAB%44", "utf-8", NULL},
	    {"x/y; title*=%E2%82%AC", "title", -1, "", "",
	     "RFC 2231 value without its charset'language' prefix"},
	    {"x/y; title*=utf-8'%E2%82%AC", "title", -1, "", "",
	     "RFC 2231 value without its charset'language' prefix"},
	    {"x/y; title*=\"ut f''x\"", "title", -1, "", "",
	     "RFC 2231 charset name with a control or 8-bit byte"},
	    {"x/y; title*=utf-8''%E2%8", "title", -1, "", "",
	     "RFC 2231 value with a truncated %XX"},
	    {"x/y; title*=utf-8''%", "title", -1, "", "", "RFC 2231 value with a truncated %XX"},
	    {"x/y; title*=utf-8''%G1", "title", -1, "", "", "RFC 2231 value with a malformed %XX"},
	    {"x/y; title*=utf-8''a%00b", "title", -1, "", "", "parameter value with a NUL byte"},
	    {"x/y; title*=averyveryverylongcharsetname''x", "title", -1, "", "",
	     "RFC 2231 charset name too long"},
	    /* both forms: RFC 2231 wins; the plain one is the fallback when it is malformed */
	    {"x/y; filename=\"a.txt\"; filename*=utf-8''b.txt", "filename", 1, "b.txt", "utf-8",
	     NULL},
	    {"x/y; filename=\"a.txt\"; filename*=utf-8''%ZZ", "filename", 1, "a.txt", "", NULL},
	    {"x/y; boundary=plain; boundary*0=a; boundary*2=c", "boundary", 1, "plain", "", NULL},
	    /* length: bufsz (40 here) and BH_MAX_PARAM_VALUE */
	    {"x/y; b*0=01234567890123456789; b*1=01234567890123456789", "b", -1, "", "",
	     "parameter value too long"},
	    {"x/y; b=0123456789012345678901234567890123456789", "b", -1, "", "",
	     "parameter value too long"},
	    {"x/y; b=012345678901234567890123456789012345678", "b", 1,
	     "012345678901234567890123456789012345678", "", NULL},
	};
	char buf[40], cs[16];
	size_t i, len;
	int r;

	for (i = 0; i < BH_NELEM(cases); i++) {
		const char *err = NULL;

		r = bh_ct_param_ext(cases[i].v, strlen(cases[i].v), cases[i].name, buf, sizeof(buf),
				    &len, cs, sizeof(cs), &err);
		if (r != cases[i].ret || strcmp(buf, cases[i].want) != 0 ||
		    len != strlen(cases[i].want) || strcmp(cs, cases[i].charset) != 0 ||
		    (cases[i].err != NULL && (err == NULL || strcmp(err, cases[i].err) != 0)))
			TEST_FAIL("case %zu [%s]: got %d \"%s\" (%zu) charset \"%s\" error \"%s\", "
				  "want %d \"%s\" charset \"%s\" error \"%s\"",
				  i, cases[i].v, r, buf, len, cs, err ? err : "", cases[i].ret,
				  cases[i].want, cases[i].charset,
				  cases[i].err ? cases[i].err : "");
		test_checks++;
	}

	/* BH_MAX_PARAM_SECTIONS sections are read; one more is refused; the joined value stops
	 * at BH_MAX_PARAM_VALUE octets whatever the buffer; NULs in the input are data */
	{
		struct bh_buf b;
		char *big = bh_malloc(4096);
		const char *err = NULL;
		unsigned k;

		bh_buf_init(&b);
		bh_buf_puts(&b, "multipart/mixed");
		for (k = BH_MAX_PARAM_SECTIONS; k > 0; k--)
			bh_buf_printf(&b, "; boundary*%u=%c", k - 1, 'a' + (k - 1) % 26);
		CHECK_INT(
		    bh_ct_param_ext(b.data, b.len, "boundary", big, 4096, &len, NULL, 0, &err), 1);
		CHECK_INT(len, BH_MAX_PARAM_SECTIONS);
		CHECK(strncmp(big, "abcdefghijklmnopqrstuvwxyzab", 28) == 0);
		bh_buf_printf(&b, "; boundary*%u=z", BH_MAX_PARAM_SECTIONS);
		CHECK_INT(
		    bh_ct_param_ext(b.data, b.len, "boundary", big, 4096, &len, NULL, 0, &err), -1);
		CHECK_STR(err, "too many RFC 2231 sections");
		CHECK(!bh_ct_param(b.data, b.len, "boundary", big, 4096));

		bh_buf_reset(&b);
		bh_buf_puts(&b, "x/y");
		for (k = 0; k < 40; k++)
			bh_buf_printf(&b, "; v*%u=\"%s\"", k, "0123456789012345678901234567890");
		CHECK_INT(bh_ct_param_ext(b.data, b.len, "v", big, 4096, &len, NULL, 0, &err), -1);
		CHECK_STR(err, "parameter value too long");

		bh_buf_reset(&b);
		bh_buf_append(&b, "x/y; a=\"\0\"; boundary=ok", 23);
		CHECK_INT(
		    bh_ct_param_ext(b.data, b.len, "boundary", big, 4096, &len, NULL, 0, &err), 1);
		CHECK_STR(big, "ok");
		bh_buf_deinit(&b);
		free(big);
	}

	/* the compatibility form: true only for a found, valid, non-empty value */
	CHECK(bh_ct_param("x/y; boundary*0=a; boundary*1=b", 31, "boundary", buf, sizeof(buf)));
	CHECK_STR(buf, "ab");
	CHECK(!bh_ct_param("x/y; boundary=\"\"", 16, "boundary", buf, sizeof(buf)));
	CHECK(!bh_ct_param("x/y; boundary*1=b", 17, "boundary", buf, sizeof(buf)));

	/* the walker splits a multipart whose boundary comes in sections, out of order */
	{
		const char *msg = "Content-Type: multipart/mixed;\n"
				  " boundary*1*=%2Dpart; boundary*0*=us-ascii''%3D_outer\n\n"
				  "--=_outer-part\nContent-Type: text/plain\n\none\n"
				  "--=_outer-part\nContent-Type: text/plain\n\ntwo\n"
				  "--=_outer-part--\n";
		struct bh_mime m;
		const char *err = NULL;

		CHECK_INT(bh_mime_parse(msg, strlen(msg), &lim, &m, &err), 0);
		CHECK_INT(m.n, 3);
		if (m.n == 3) {
			CHECK_INT(m.v[2].body_len, 3);
			CHECK(strncmp(m.v[2].body, "two", 3) == 0);
		}
		bh_mime_deinit(&m);
	}
}

static void
test_text(void)
{
	static const struct {
		const char *in, *addr, *code, *status;
	} t[] = {
	    {"<user@example.com>: host x said: 550 5.1.1 no", "user@example.com", "550", "5.1.1"},
	    {"to=<a.b+c@sub.example.org>, relay=1.2.3.4:25", "a.b+c@sub.example.org", "", ""},
	    {"no address here 192.0.2.1 at 12:00", NULL, "", ""},
	    {"user@localhost not an address, x@y.example.", "x@y.example", "", ""},
	    {"Status 4.4.7 (#4.4.7) 421-4.7.0 busy", NULL, "421", "4.4.7"},
	    {"version 5.1.10.2 and 550550", NULL, "", ""},
	    /* Exchange's proxy-address type is not part of the address */
	    {"c=US;a= ;p=ORG;o=Site;dda:SMTP=ann@example.com; on Fri", "ann@example.com", "", ""},
	};
	size_t i;

	for (i = 0; i < BH_NELEM(t); i++) {
		size_t pos = 0, s, l, n = strlen(t[i].in);
		char code[4] = "", st[16] = "";
		bool found = bh_text_next_addr(t[i].in, n, &pos, &s, &l);

		CHECK_INT(found, t[i].addr != NULL);
		if (found && t[i].addr != NULL) {
			CHECK_INT(l, strlen(t[i].addr));
			CHECK(memcmp(t[i].in + s, t[i].addr, l) == 0);
		}
		if (!bh_text_reply_code(t[i].in, n, 0, code))
			code[0] = '\0';
		CHECK_STR(code, t[i].code);
		if (!bh_text_status(t[i].in, n, 0, st, sizeof(st)))
			st[0] = '\0';
		CHECK_STR(st, t[i].status);
	}
}

static void
test_clean(void)
{
	char *s = bh_text_clean("  a \r\n\tb\x01"
				"c  ",
				12, 100);

	CHECK_STR(s, "a bc");
	free(s);
	/* a cut never splits a UTF-8 character: "\xe4\xb8\x80" is three bytes */
	s = bh_text_clean("ab\xe4\xb8\x80\xe4\xb8\x80", 8, 4);
	CHECK_STR(s, "ab");
	free(s);
	s = bh_text_clean("ab\xe4\xb8\x80\xe4\xb8\x80", 8, 5);
	CHECK_STR(s, "ab\xe4\xb8\x80");
	free(s);
	s = bh_text_clean("abc def", 7, 4);
	CHECK_STR(s, "abc");
	free(s);
}

/* ref_line_next - bh_line_next's contract, one byte at a time: a line ends at the first CR
 * or LF; CRLF is one end */
static bool
ref_line_next(const char *p, size_t n, size_t *pos, const char **line, size_t *len)
{
	size_t i = *pos, e;

	if (i >= n)
		return false;
	for (e = i; e < n && p[e] != '\r' && p[e] != '\n'; e++)
		;
	*line = p + i;
	*len = e - i;
	*pos = e + (e < n ? (p[e] == '\r' && e + 1 < n && p[e + 1] == '\n' ? 2 : 1) : 0);
	return true;
}

/* every line end and mix of them, lines shorter and longer than the search window, and the
 * shapes that once made the splitter quadratic (bare CR only: each line searched to the end) */
static void
test_lines(void)
{
	static const char alpha[] = "ab\r\n";
	unsigned seed = 12345;
	size_t round, n, pa, pb, la, lb = 0, lc, lines;
	const char *a, *b = NULL, *c;
	struct bh_lines it;
	char *buf = malloc(4096);

	for (round = 0; round < 3000; round++) {
		size_t i, run = round % 7 == 0 ? 700 : 3;

		n = (size_t)(round * 13 % 4096);
		for (i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			/* long runs of letters now and then, so lines cross the window */
			buf[i] = (seed >> 16) % run != 0 ? 'a' : alpha[(seed >> 8) % 4];
			/* every third text without a CR: the iterator's CR windows stay empty */
			if (round % 3 == 1 && buf[i] == '\r')
				buf[i] = '\n';
		}
		pa = pb = 0;
		bh_lines_init(&it, buf, n);
		for (;;) {
			bool ga = bh_line_next(buf, n, &pa, &a, &la);
			bool gb = ref_line_next(buf, n, &pb, &b, &lb);
			bool gc = bh_lines_next(&it, &c, &lc);

			CHECK_INT(ga, gb);
			CHECK_INT(gc, gb);
			if (!ga || !gb || !gc)
				break;
			CHECK(a == b);
			CHECK(c == b);
			CHECK_INT(la, lb);
			CHECK_INT(lc, lb);
			CHECK_INT(pa, pb);
			CHECK_INT(it.pos, pb);
			if (a != b || la != lb || pa != pb || c != b || lc != lb || it.pos != pb)
				break;
		}
	}
	free(buf);
	/* 8 MB of short bare-CR lines: 1M lines, read in one pass */
	n = (size_t)8 << 20;
	buf = malloc(n);
	for (pa = 0; pa < n; pa++)
		buf[pa] = pa % 8 == 7 ? '\r' : 'x';
	for (pa = 0, lines = 0; bh_line_next(buf, n, &pa, &a, &la); lines++)
		CHECK(la == 7 || test_failures > 0);
	CHECK_INT(lines, n / 8);
	bh_lines_init(&it, buf, n);
	for (lines = 0; bh_lines_next(&it, &c, &lc); lines++)
		CHECK(lc == 7 || test_failures > 0);
	CHECK_INT(lines, n / 8);
	free(buf);
}

int
main(void)
{
	test_lines();
	test_headers();
	test_decode();
	test_mime();
	test_ct_param();
	test_text();
	test_clean();
	return test_done("test_message");
}

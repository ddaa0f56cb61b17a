/* test_util - buffers, JSON escaping, strict numbers, spans. */
#include "util.h"
#include "reason.h"

#include <strings.h>

#include "test.h"

/* naive_casemem - the reference: strncasecmp at every offset */
static const char *
naive_casemem(const char *hay, size_t hn, const char *needle, size_t nn)
{
	size_t i;

	if (nn == 0)
		return hay;
	for (i = 0; i + nn <= hn; i++)
		if (strncasecmp(hay + i, needle, nn) == 0)
			return hay + i;
	return NULL;
}

/* check_multi_long - the skipping scan of long texts (needles of 3 bytes or more) finds the
 * same needles and the same earliest offset as the reference, wherever the needle sits */
static void
check_multi_long(void)
{
	static const char *const needles[] = {
	    "original message follows",
	    "Below this line",
	    "---- returned",
	    "mcafee",
	    "user unknown",
	    "abc",
	    "zz9",
	    "<<< ",
	    "dda:smtp=",
	    "for <",
	};
	char hay[1200];
	size_t i, k, pos;

	for (pos = 0; pos < sizeof(hay); pos += 37)
		for (k = 0; k < BH_NELEM(needles); k++) {
			uint64_t found = 0, want = 0;
			size_t earliest = sizeof(hay), nl = strlen(needles[k]);

			for (i = 0; i < sizeof(hay); i++)
				hay[i] =
				    "Lorem ipsum dolor sit amet, -- original message\r\n"[i % 50];
			if (pos + nl <= sizeof(hay))
				for (i = 0; i < nl; i++) /* the needle, in upper case */
					hay[pos + i] =
					    (char)(needles[k][i] >= 'a' && needles[k][i] <= 'z'
						       ? needles[k][i] - 32
						       : needles[k][i]);
			for (i = 0; i < BH_NELEM(needles); i++) {
				const char *p =
				    naive_casemem(hay, sizeof(hay), needles[i], strlen(needles[i]));

				if (p != NULL)
					want |= UINT64_C(1) << i;
				if (p != NULL && (size_t)(p - hay) < earliest)
					earliest = (size_t)(p - hay);
			}
			CHECK_INT(bh_multi_casemem(hay, sizeof(hay), needles, BH_NELEM(needles),
						   false, &found),
				  earliest);
			CHECK(found == want);
			found = 0;
			CHECK_INT(bh_multi_casemem(hay, sizeof(hay), needles, BH_NELEM(needles),
						   true, &found),
				  earliest);
		}
}

/* check_casemem - bh_memcasemem agrees with the reference for every needle at every
 * haystack prefix */
static void
check_casemem(void)
{
	static const char hay[] = "Mail From: <A@B.example>\r\nRCPT TO:<x@y>  host mx1 said: 550"
				  " user unknown\0MAIL FROM:\xc3\xa9t\xc3\xa9 for <a@b>";
	static const char *const needles[] = {
	    "mail from:", "MAIL FROM:", "rcpt to",     "host ",	    "for ",    "a@b",
	    "<a@b>",	  "550",	"said: 55",    "\xc3\xa9t", "unknown", "user unknown",
	    "@",	  ":",		"m",	       "x",	    "zzz",     "\r\n",
	    " ",	  "example>",	"t\xc3\xa9 f",
	};
	size_t hn, i;

	for (i = 0; i < BH_NELEM(needles); i++)
		for (hn = 0; hn <= sizeof(hay) - 1; hn++) {
			size_t nn = strlen(needles[i]);

			CHECK(bh_memcasemem(hay, hn, needles[i], nn) ==
			      naive_casemem(hay, hn, needles[i], nn));
		}
	/* all needles in one pass: the same set, and the earliest offset */
	for (hn = 0; hn <= sizeof(hay) - 1; hn++) {
		uint64_t found = 0, stop_found = 0;
		size_t earliest = hn, off;

		off = bh_multi_casemem(hay, hn, needles, BH_NELEM(needles), false, &found);
		for (i = 0; i < BH_NELEM(needles); i++) {
			const char *p = naive_casemem(hay, hn, needles[i], strlen(needles[i]));

			CHECK(((found >> i) & 1) == (p != NULL));
			if (p != NULL && (size_t)(p - hay) < earliest)
				earliest = (size_t)(p - hay);
		}
		CHECK_INT(bh_multi_casemem(hay, hn, needles, BH_NELEM(needles), true, &stop_found),
			  earliest);
		CHECK_INT(off, earliest);
		CHECK((stop_found != 0) == (earliest < hn));
	}
	check_multi_long();
}

int
main(void)
{
	static const struct {
		const char *in;
		size_t n;
		const char *want;
	} json[] = {
	    {"plain", 5, "\"plain\""},
	    {"q\"b\\", 4, "\"q\\\"b\\\\\""},
	    {"a\nb\tc\r", 6, "\"a\\nb\\tc\\r\""},
	    {"nul\0x", 5, "\"nul\\u0000x\""},
	    {"\xc3\xa9", 2, "\"\xc3\xa9\""},
	    {"bad\xff", 4, "\"bad\xef\xbf\xbd\""},
	    {"\xe2\x82", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\""},
	};
	static const struct {
		const char *in;
		long long min, max, want;
		int ret;
	} nums[] = {
	    {"42", 0, 100, 42, 0},
	    {"-1", 0, 100, 0, -1},
	    {"101", 0, 100, 0, -1},
	    {"4x", 0, 100, 0, -1},
	    {"", 0, 100, 0, -1},
	    {" 4", 0, 100, 0, -1},
	    {"99999999999999999999", 0, 100, 0, -1},
	};
	struct bh_buf b;
	size_t i;

	bh_buf_init(&b);
	for (i = 0; i < BH_NELEM(json); i++) {
		bh_buf_reset(&b);
		bh_json_str(&b, json[i].in, json[i].n);
		CHECK_STR(b.data, json[i].want);
	}
	for (i = 0; i < BH_NELEM(nums); i++) {
		long long v = 0;
		const char *err = NULL;
		int ret = bh_strtonum(nums[i].in, nums[i].min, nums[i].max, &v, &err);

		CHECK_INT(ret, nums[i].ret);
		if (ret == 0)
			CHECK_INT(v, nums[i].want);
	}
	bh_buf_deinit(&b);

	{
		char *p = bh_printable("ab\x01\xff"
				       "cdef",
				       8, 5);

		CHECK_STR(p, "ab??c...");
		free(p);
	}
	CHECK(bh_memcasemem("Hello World", 11, "WORLD", 5) != NULL);
	CHECK(bh_memcasemem("Hello", 5, "hello!", 6) == NULL);
	check_casemem();
	CHECK(bh_span_ieq("Content-Type", 12, "content-type"));
	CHECK(!bh_span_ieq("Content-Type", 11, "content-type"));
	CHECK(!bh_span_ieq("Content-Types", 13, "content-type"));
	CHECK(!bh_span_ieq("a\0c", 3, "a"));
	CHECK(bh_span_ieq("", 0, ""));
	CHECK(bh_span_istarts("Received: from x", 16, "received: from"));
	CHECK(!bh_span_istarts("Recei", 5, "received"));
	CHECK(!bh_span_istarts("re\0eived", 8, "received"));
	CHECK(bh_span_istarts("x", 1, ""));
	CHECK_INT(bh_reason_lookup("UserUnknown"), BH_R_USERUNKNOWN);
	CHECK(bh_reason_hard(BH_R_USERUNKNOWN));
	CHECK(!bh_reason_hard(BH_R_MAILBOXFULL));
	CHECK_INT(bh_reason_group(BH_R_NORELAYING), BH_G_SENDER);
	CHECK_INT(bh_reason_group(BH_R_EXPIRED), BH_G_SOFT);
	return test_done("test_util");
}

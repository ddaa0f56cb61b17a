/*
 * test_addr.c - bh_addr_normalize: one form per subscriber.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "util.h"
#include "verp_conf.h"
#include "test.h"

/* unescape - a table field with the escapes \t \n \r \xNN into out; its length */
static size_t
unescape(const char *s, char *out, size_t size)
{
	size_t n = 0;

	for (; *s != '\0' && n + 1 < size; s++) {
		if (*s != '\\' || s[1] == '\0') {
			out[n++] = *s;
			continue;
		}
		s++;
		if (*s == 't')
			out[n++] = '\t';
		else if (*s == 'n')
			out[n++] = '\n';
		else if (*s == 'r')
			out[n++] = '\r';
		else if (*s == 'x' && isxdigit((unsigned char)s[1]) &&
			 isxdigit((unsigned char)s[2])) {
			char hex[3] = {s[1], s[2], '\0'};

			out[n++] = (char)strtol(hex, NULL, 16);
			s += 2;
		} else {
			out[n++] = '\\'; /* any other backslash is itself */
			s--;
		}
	}
	out[n] = '\0';
	return n;
}

/* test_table - tests/data/addresses.tsv through bh_addr_normalize and through the sender
 * library (bh_verp_encode, then bh_verp_decode): the same key, or the same refusal */
static void
test_table(void)
{
	char path[1024], line[2048], in[1024];
	struct bh_verp_conf c;
	FILE *fp;
	size_t rows = 0, refused = 0;

	snprintf(path, sizeof(path), "%s/tests/data/addresses.tsv", BH_SOURCE_DIR);
	if ((fp = fopen(path, "r")) == NULL) {
		TEST_FAIL("%s: cannot open", path);
		return;
	}
	bh_verp_conf_defaults(&c);
	strcpy(c.domain, "bounce.example.com");
	c.max_local = 255;
	{
		const char *e;

		if (bh_verp_conf_add_key(&c, "k", "0123456789abcdef0123", 20, &e) == -1)
			TEST_FAIL("add key: %s", e);
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		char *tab, *want, *out = NULL, *v, *list = NULL, *rcpt = NULL;
		const char *err = NULL, *verr = NULL;
		size_t n;
		int rc;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		line[strcspn(line, "\n")] = '\0';
		if ((tab = strchr(line, '\t')) == NULL) {
			TEST_FAIL("%s: no TAB in \"%s\"", path, line);
			continue;
		}
		*tab = '\0';
		want = tab + 1;
		n = unescape(line, in, sizeof(in));
		rows++;
		rc = bh_addr_normalize(in, n, &out, &err);
		v = memchr(in, '\0', n) == NULL ? bh_verp_encode(&c, "news", in, 0, &verr) : NULL;
		if (strncmp(want, "refused: ", 9) == 0) {
			refused++;
			test_checks += 2;
			if (rc != -1 || strcmp(err, want + 9) != 0)
				TEST_FAIL("normalize \"%s\": got %s \"%s\", want refused \"%s\"",
					  line, rc == 0 ? "key" : "refused", rc == 0 ? out : err,
					  want + 9);
			if (memchr(in, '\0', n) == NULL &&
			    (v != NULL || strcmp(verr, want + 9) != 0))
				TEST_FAIL("verp encode \"%s\": got \"%s\", want refused \"%s\"",
					  line, v != NULL ? v : verr, want + 9);
		} else {
			test_checks += 2;
			if (rc != 0 || strcmp(out, want) != 0)
				TEST_FAIL("normalize \"%s\": got \"%s\", want \"%s\"", line,
					  rc == 0 ? out : err, want);
			if (strchr(want, '[') != NULL && strrchr(want, '@') < strchr(want, '[')) {
				if (v != NULL || strstr(verr, "address literal") == NULL)
					TEST_FAIL(
					    "verp encode \"%s\": got \"%s\", want the literal "
					    "refused",
					    line, v != NULL ? v : verr);
			} else if (v == NULL) {
				TEST_FAIL("verp encode \"%s\": %s", line, verr);
			} else if (bh_verp_decode(&c, v, strlen(v), 0, &list, &rcpt, &verr) == -1) {
				TEST_FAIL("verp decode %s: %s", v, verr);
			} else if (strcmp(rcpt, want) != 0) {
				TEST_FAIL("verp round trip \"%s\": got \"%s\", want \"%s\"", line,
					  rcpt, want);
			}
		}
		free(out);
		free(v);
		free(list);
		free(rcpt);
	}
	fclose(fp);
	bh_verp_conf_wipe(&c);
	/* Issue 18 asks for at least 40 hostile inputs. */
	CHECK(rows >= 60 && refused >= 40);
}

static const struct {
	const char *in;
	const char *want; /* NULL: an error */
	const char *error;
} cases[] = {
    {"joe@example.com", "joe@example.com", NULL},
    {"Joe.Smith@Example.COM", "Joe.Smith@example.com", NULL},
    {"  joe@example.com\t", "joe@example.com", NULL},
    {"joe@example.com.", "joe@example.com", NULL},
    {"joe@bücher.de", "joe@xn--bcher-kva.de", NULL},
    {"joe@BÜCHER.DE", "joe@xn--bcher-kva.de", NULL},
    {"joe@XN--BCHER-KVA.de", "joe@xn--bcher-kva.de", NULL},
    {"Jöe@bücher.de", "Jöe@xn--bcher-kva.de", NULL},
    {"\"a@b\"@Example.org", "\"a@b\"@example.org", NULL},
    {"joe@[192.0.2.1]", "joe@[192.0.2.1]", NULL},
    {"joe@example.com..", "joe@example.com", NULL},
    {"joe@exa mple.com", NULL, "invalid domain"},
    {"joe@example.com .", NULL, "invalid domain"},
    {"", NULL, "empty"},
    {"   ", NULL, "empty"},
    {"joe", NULL, "no @"},
    {"@example.com", NULL, "empty local part"},
    {"joe@", NULL, "empty domain"},
    {"joe@.", NULL, "empty domain"},
    {"jo\ne@example.com", NULL, "control character"},
    {"joe@exa\x7fmple.com", NULL, "control character"},
    {"joe@\xff\xfe.com", NULL, "invalid domain"},
};

int
main(void)
{
	size_t i;
	char *out;
	const char *error;
	char big[600];

	for (i = 0; i < BH_NELEM(cases); i++) {
		error = NULL;
		int rc = bh_addr_normalize(cases[i].in, strlen(cases[i].in), &out, &error);

		if (cases[i].want != NULL) {
			CHECK_INT(rc, 0);
			CHECK_STR(out, cases[i].want);
		} else {
			CHECK_INT(rc, -1);
			CHECK(out == NULL);
			CHECK_STR(error, cases[i].error);
		}
		free(out);
	}
	/* A NUL inside the span is a control character, not an end. */
	CHECK_INT(bh_addr_normalize("a\0b@example.com", 15, &out, &error), -1);
	CHECK_STR(error, "control character");
	/* Not NUL-terminated: only n bytes are read. */
	CHECK_INT(bh_addr_normalize("joe@EXAMPLE.comXYZ", 15, &out, &error), 0);
	CHECK_STR(out, "joe@example.com");
	free(out);
	memset(big, 'a', sizeof(big));
	memcpy(big + sizeof(big) - 12, "@example.com", 12);
	CHECK_INT(bh_addr_normalize(big, sizeof(big), &out, &error), -1);
	CHECK_STR(error, "too long");
	CHECK_STR(bh_addr_domain("joe@example.com"), "example.com");
	CHECK_STR(bh_addr_domain("joe"), "");
	test_table();
	return test_done("test_addr");
}

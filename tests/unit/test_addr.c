/*
 * test_addr.c - bh_addr_normalize: one form per subscriber.
 */
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "util.h"
#include "test.h"

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
	return test_done("test_addr");
}

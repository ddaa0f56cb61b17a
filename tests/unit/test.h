/*
 * test.h - a tiny table-driven test harness (Dovecot test_run, Postfix ptest style).
 *
 * A failure prints "file:line: got X, want Y" and the program exits 1 at the end.
 * Exit 77 means "skipped" to ctest.
 */
#ifndef BH_TEST_H
#define BH_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failures;
static int test_checks;

#define TEST_FAIL(...)                                                                             \
	do {                                                                                       \
		fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                    \
		fprintf(stderr, __VA_ARGS__);                                                      \
		fputc('\n', stderr);                                                               \
		test_failures++;                                                                   \
	} while (0)

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		test_checks++;                                                                     \
		if (!(cond))                                                                       \
			TEST_FAIL("check failed: %s", #cond);                                      \
	} while (0)

#define CHECK_INT(got, want)                                                                       \
	do {                                                                                       \
		long long g_ = (long long)(got), w_ = (long long)(want);                           \
		test_checks++;                                                                     \
		if (g_ != w_)                                                                      \
			TEST_FAIL("%s: got %lld, want %lld", #got, g_, w_);                        \
	} while (0)

#define CHECK_STR(got, want)                                                                       \
	do {                                                                                       \
		const char *g_ = (got), *w_ = (want);                                              \
		test_checks++;                                                                     \
		if ((g_ == NULL) != (w_ == NULL) || (g_ != NULL && strcmp(g_, w_) != 0))           \
			TEST_FAIL("%s: got \"%s\", want \"%s\"", #got, g_ ? g_ : "(null)",         \
				  w_ ? w_ : "(null)");                                             \
	} while (0)

static inline int
test_done(const char *name)
{
	printf("%s: %d checks, %d failed\n", name, test_checks, test_failures);
	return test_failures ? 1 : 0;
}

#endif

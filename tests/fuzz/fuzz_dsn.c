/*
 * fuzz_dsn.c - delivery-status fields and address decoding over arbitrary bytes.
 */
#include <stdint.h>
#include <stdlib.h>

#include "dsn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bh_dsn d;
	const char *err;
	char *a;

	(void)bh_dsn_parse((const char *)data, size, 50, &d, &err);
	bh_dsn_deinit(&d);
	a = bh_dsn_address((const char *)data, size < 600 ? size : 600, true);
	free(a);
	return 0;
}

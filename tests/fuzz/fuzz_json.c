/*
 * fuzz_json - JSON and log escaping of arbitrary bytes must always give valid, bounded output.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bh_buf b;
	char *p;

	bh_buf_init(&b);
	bh_json_str(&b, (const char *)data, size);
	if (b.len < 2 || b.data[0] != '"' || b.data[b.len - 1] != '"' ||
	    memchr(b.data, '\n', b.len))
		bh_fatal("bad JSON escape");
	bh_buf_deinit(&b);
	p = bh_printable((const char *)data, size, 200);
	if (strlen(p) > 203)
		bh_fatal("bh_printable overran its cap");
	free(p);
	return 0;
}

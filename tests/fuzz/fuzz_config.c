/*
 * fuzz_config.c - random YAML to the configuration loader: it must never crash, leak or hang,
 * whatever the bytes, and must either load or report at least one problem.
 */
#include <stdint.h>
#include <stdlib.h>

#include "config.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bh_config_diags d = {NULL, 0};
	struct bh_config *c;

	c = bh_config_load_buffer("fuzz.yaml", (const char *)data, size, &d);
	if (c == NULL && d.n == 0)
		abort(); /* a refusal always says why */
	if (c != NULL) {
		struct bh_buf b;

		bh_buf_init(&b);
		bh_config_dump(c, &b);
		bh_buf_deinit(&b);
	}
	bh_config_free(&c);
	bh_config_diags_deinit(&d);
	return 0;
}

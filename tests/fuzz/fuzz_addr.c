/*
 * fuzz_addr.c - bh_addr_normalize over untrusted bytes.
 *
 * Nothing may crash, leak or read past the span; a normalized address must normalize to itself
 * (one subscriber, one key) and never hold a control byte.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *out = NULL, *again = NULL;
	const char *err;
	size_t i;

	if (bh_addr_normalize((const char *)data, size, &out, &err) == -1)
		return 0;
	for (i = 0; out[i] != '\0'; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			bh_fatal("control byte in a normalized address");
	if (bh_addr_normalize(out, strlen(out), &again, &err) == -1)
		bh_fatal("normalized address does not normalize again: %s", err);
	if (strcmp(out, again) != 0)
		bh_fatal("normalization is not idempotent");
	free(out);
	free(again);
	return 0;
}

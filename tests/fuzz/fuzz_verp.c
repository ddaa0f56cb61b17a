/*
 * fuzz_verp.c - the VERP decoder and the header address scanner over untrusted bytes.
 *
 * The first input byte picks the format, delimiters and clock; the rest is the address (and,
 * for bh_verp_locate, every envelope field of a verdict). Nothing may crash, leak or read past
 * the span; a verified decode must round-trip through the encoder.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "verdict.h"
#include "verp_conf.h"
#include "verp_locate.h"

#define KEY "bouncer-test-key-0123456789abcdef"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* encode_round_trip - "LIST\nRECIPIENT": whatever encodes must decode to the same list and a
 * recipient that encodes to the very same address (the canonical form is a fixed point) */
static void
encode_round_trip(struct bh_verp_conf *c, const uint8_t *data, size_t size, int64_t now)
{
	const char *nl = memchr(data, '\n', size), *err;
	char *list, *rcpt, *addr, *l2 = NULL, *r2 = NULL, *again;

	if (nl == NULL)
		return;
	list = bh_memdup0(data, (size_t)(nl - (const char *)data));
	rcpt = bh_memdup0(nl + 1, size - (size_t)(nl + 1 - (const char *)data));
	strcpy(c->domain, "bounce.example.com");
	addr = bh_verp_encode(c, list, rcpt, now, &err);
	if (addr != NULL) {
		if (bh_verp_decode(c, addr, strlen(addr), now, &l2, &r2, &err) == -1 ||
		    strcmp(l2, list) != 0)
			abort();
		again = bh_verp_encode(c, l2, r2, now, &err);
		if (again == NULL || strcmp(again, addr) != 0)
			abort();
		free(again);
	}
	free(addr);
	free(l2);
	free(r2);
	free(list);
	free(rcpt);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bh_verp_conf c;
	struct bh_verdict v;
	const char *err, *pos, *end, *a;
	char *list = NULL, *rcpt = NULL, *s;
	int64_t now = 1767225600;
	size_t n, k;
	uint8_t sel;

	if (size == 0)
		return 0;
	sel = data[0];
	data++;
	size--;
	bh_verp_conf_defaults(&c);
	c.format = (sel & 1) ? BH_VERP_CLASSIC : BH_VERP_SIGNED;
	c.delim1 = (sel & 2) ? '-' : '+';
	if (sel & 4)
		strcpy(c.domain, "bounce.example.com");
	if (sel & 8)
		c.tag_bytes = 16;
	now += (int64_t)(sel >> 4) * 86400 * 7;
	if (bh_verp_conf_add_key(&c, "k", KEY, strlen(KEY), &err) == -1)
		abort();

	if (bh_verp_decode(&c, (const char *)data, size, now, &list, &rcpt, &err) == 0) {
		char *again;

		if (list == NULL || rcpt == NULL)
			abort();
		if (c.domain[0] == '\0')
			strcpy(c.domain, "bounce.example.com");
		/* A verified signed address re-encodes (the recipient is canonical). */
		again = bh_verp_encode(&c, list, rcpt, now, &err);
		if (again == NULL && c.format == BH_VERP_SIGNED && strstr(err, "max_local") == NULL)
			abort();
		free(again);
		free(list);
		free(rcpt);
	} else if (err == NULL || list != NULL || rcpt != NULL) {
		abort();
	}

	encode_round_trip(&c, data, size, now);

	pos = (const char *)data;
	end = pos + size;
	for (k = 0; k < 64 && bh_verp_next_address(&pos, end, &a, &n) == 1; k++)
		if (a < (const char *)data || a + n > end || n == 0)
			abort();

	s = bh_memdup0(data, size);
	bh_verdict_init(&v);
	v.env.to = s;
	v.env.original_envelope_id = bh_strdup(s);
	bh_verp_locate(&c, &v, now);
	if (!v.verp.checked || (v.verp.valid && v.verp.recipient == NULL) ||
	    (!v.verp.valid && v.verp.why == NULL))
		abort();
	bh_verdict_deinit(&v);
	bh_verp_conf_wipe(&c);
	return 0;
}

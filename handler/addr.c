/*
 * addr.c - normalize an e-mail address into the form used in Redis keys.
 *
 * Trusts nothing: the input is a span from a bounce or an operator's command line. The local part
 * is kept byte for byte (RFC 5321 2.4: only the receiving host interprets it); the domain is
 * lower-cased (RFC 5321 2.4: domains are case-insensitive) and a U-label domain becomes its
 * A-label form (RFC 5890) through libidn2, so that one subscriber has one key.
 */
#include "addr.h"

#include <idn2.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "limits.h"
#include "util.h"

/* bh_addr_normalize - normalize an address span; see addr.h */
int
bh_addr_normalize(const char *p, size_t n, char **out_r, const char **error_r)
{
	const char *at = NULL, *dom;
	size_t i, local_len, dom_len;
	bool ascii = true;
	char *domain = NULL, *alabel = NULL, *out = NULL;
	int ret = -1;

	*out_r = NULL;
	bh_span_trim(&p, &n);
	if (n == 0) {
		*error_r = "empty";
		goto out;
	}
	if (n > BH_MAX_ADDRESS) {
		*error_r = "too long";
		goto out;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c < 0x20 || c == 0x7f) {
			*error_r = "control character";
			goto out;
		}
		if (c == '@')
			at = p + i;
	}
	if (at == NULL) {
		*error_r = "no @";
		goto out;
	}
	local_len = (size_t)(at - p);
	dom = at + 1;
	dom_len = n - local_len - 1;
	if (local_len == 0) {
		*error_r = "empty local part";
		goto out;
	}
	/* Trailing dots name the same (absolute) domain. */
	while (dom_len > 0 && dom[dom_len - 1] == '.')
		dom_len--;
	if (dom_len == 0) {
		*error_r = "empty domain";
		goto out;
	}
	for (i = 0; i < dom_len; i++) {
		if ((unsigned char)dom[i] >= 0x80)
			ascii = false;
		if (dom[i] == ' ' || dom[i] == '\t') {
			*error_r = "invalid domain";
			goto out;
		}
	}
	domain = bh_memdup0(dom, dom_len);
	if (ascii) {
		/* Pure ASCII (including "xn--" A-labels and address literals) is only lower-cased:
		 * libidn2 would refuse forms that mail uses, such as "[192.0.2.1]". */
		bh_lower_ascii(domain);
	} else {
		int rc = idn2_to_ascii_8z(domain, &alabel, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);

		if (rc != IDN2_OK) {
			*error_r = "invalid domain";
			goto out;
		}
		free(domain);
		domain = bh_strdup(alabel);
		bh_lower_ascii(domain);
		/* IDNA mapping can turn a character into a dot or a blank (U+3000 becomes a
		 * space, U+3002 a dot): hold the A-label to the checks the input passed, so that
		 * a normalized address normalizes to itself (found by fuzz_addr). */
		dom_len = strlen(domain);
		while (dom_len > 0 && domain[dom_len - 1] == '.')
			domain[--dom_len] = '\0';
		if (dom_len == 0 || strpbrk(domain, " \t") != NULL) {
			*error_r = dom_len == 0 ? "empty domain" : "invalid domain";
			goto out;
		}
	}
	out = bh_malloc(local_len + 1 + strlen(domain) + 1);
	memcpy(out, p, local_len);
	out[local_len] = '@';
	memcpy(out + local_len + 1, domain, strlen(domain) + 1);
	if (strlen(out) > BH_MAX_ADDRESS) {
		*error_r = "too long";
		free(out);
		goto out;
	}
	*out_r = out;
	ret = 0;
out:
	/* libidn2 allocates with its own allocator; idn2_free releases it. */
	if (alabel != NULL)
		idn2_free(alabel);
	free(domain);
	return ret;
}

/* bh_addr_domain - the domain part of a normalized address */
const char *
bh_addr_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at == NULL ? "" : at + 1;
}

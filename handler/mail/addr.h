/*
 * addr.h - the one normal form of an e-mail address used in every Redis key.
 *
 * Pure: no I/O. The local part is kept exactly as given (RFC 5321 says only the receiving host
 * may interpret it); the domain is lower-cased and an internationalized domain is converted to
 * its A-label ("xn--...") form with libidn2 (IDNA2008 with TR46 non-transitional mapping), so
 * that "Joe@Bücher.DE" and "Joe@xn--bcher-kva.de" are the same subscriber.
 */
#ifndef BH_ADDR_H
#define BH_ADDR_H

#include <stdbool.h>
#include <stddef.h>

/* bh_addr_normalize - the one address grammar of every entry point (the worker, the ops
 * commands, `verp encode`, the sender library): p[0..n) is an RFC 5322 addr-spec, optionally in
 * one pair of angle brackets, with outer white space dropped; no display name, no comment (see
 * addr.c and tests/data/addresses.tsv). Returns 0 with *out_r, the key form (the caller's to
 * free), or -1 with *error_r set to a static reason ("empty", "no @", "empty local part",
 * "empty domain", "too long", "invalid domain", "control character", "a display name is not
 * part of the address: ...", "more than one @ ...", ...). */
int bh_addr_normalize(const char *p, size_t n, char **out_r, const char **error_r);

/* bh_addr_dot_atom - p[0..n) is an RFC 5322 dot-atom-text (atext, and UTF-8 octets, in
 * dot-separated runs): a local part that needs no quoting */
bool bh_addr_dot_atom(const char *p, size_t n);

/* bh_addr_domain - the domain of a normalized address (after the last '@'); borrowed from addr,
 * "" when there is none. */
const char *bh_addr_domain(const char *addr);

#endif

/*
 * verp_locate.h - find the VERP address a bounce was sent to, and decode it into the verdict.
 */
#ifndef BH_VERP_LOCATE_H
#define BH_VERP_LOCATE_H

#include <stddef.h>
#include <stdint.h>

#include "verdict.h"
#include "verp_conf.h"

/* bh_verp_locate - try the addresses of v in this order of trust, and fill v->verp from the
 * first one that decodes and verifies under c at time now:
 *   1. v->env.delivered_to, 2. v->env.x_original_to, 3. v->env.envelope_to (the envelope
 *      recipient of the bounce, written by our own MTA: the best witness);
 *   4. v->original.return_path (the envelope sender we used, as the bounce returns it);
 *   5. v->env.original_envelope_id (the DSN ENVID, when the sender put the VERP address there;
 *      as given, then xtext-decoded, RFC 3461 4);
 *   6. v->env.to (a header anyone could write; the signature is what makes it count).
 * Each field may hold several addresses with display names, comments and angle brackets; at
 * most BH_MAX_FIELD_ADDRESSES per field are tried.
 * Sets v->verp.checked. On success valid=true and address, list, recipient are set (owned by v).
 * Otherwise valid=false and why is the most telling static reason: the first failure (in trust
 * order) of an address that looked like ours ("bad signature", "expired", ...), else "no VERP
 * address found"; address is then the address that failed, or NULL. Frees what v->verp held. */
void bh_verp_locate(const struct bh_verp_conf *c, struct bh_verdict *v, int64_t now);

/* bh_verp_next_address - iterator over the addresses of a header value [*pos, end): returns 1
 * with the address span (no angle brackets, trimmed; borrowed from the input), 0 at the end.
 * Elements are separated by ',', ';' or a line break outside quotes, comments and angle
 * brackets; "Name <addr>" yields addr, "addr (comment)" yields addr, a group's "name:" is
 * skipped; elements without '@' are skipped.
 * Bounded by end and by the caller's count. */
int bh_verp_next_address(const char **pos, const char *end, const char **addr_r, size_t *len_r);

/* The reason when no field held an address that looked like ours. */
extern const char bh_verp_err_none[]; /* "no VERP address found" */

#endif

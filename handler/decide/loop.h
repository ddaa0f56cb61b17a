/*
 * loop.h - loop and backscatter detection over a finished verdict (after VERP decoding).
 *
 * Message-level kinds are decided here, purely: the bounced message was itself automatic
 * (autoreply_bounce), a report of a report (bounce_of_bounce), a bounce of mail we never sent
 * (backscatter), too many Received hops (hops). "repeat" needs history and is decided by the
 * store; this module only names it.
 */
#ifndef BH_LOOP_H
#define BH_LOOP_H

#include <stdbool.h>
#include <stddef.h>

#include "verdict.h"

/* What the loop check reads (filled by the configuration: bh_config_loop_settings). */
struct bh_loop_settings {
	char *const *our_domains; /* domains whose From / Message-ID are ours (borrowed;
				   * bouncer.yaml our_domains); n_our_domains 0: none, the returned
				   * message's sender is then known only by its VERP Return-Path */
	size_t n_our_domains;
	unsigned hop_limit; /* more Received fields is a loop (limits.hop_limit); 0: the default,
			     * BH_DEF_HOP_LIMIT */
	bool verp_verifies; /* VERP addresses can be verified (a signing key, or the classic format
			     * chosen): only then is a bounce without a valid one backscatter;
			     * default false */
};

/* bh_loop_check - set v->loop when one of the kinds applies, the first found in the order
 * bounce_of_bounce, autoreply_bounce, backscatter, hops (loop.c documents each rule). Only dsn
 * and bounce verdicts are checked; a kind already set is kept. set gives our domains and the
 * hop limit; NULL means no our_domains, the default hop limit and no VERP verification. */
void bh_loop_check(const struct bh_loop_settings *set, struct bh_verdict *v);

#endif

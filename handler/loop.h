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

#include "config.h"
#include "verdict.h"

/* bh_loop_check - set v->loop when one of the kinds applies, the first found in the order
 * bounce_of_bounce, autoreply_bounce, backscatter, hops (loop.c documents each rule). Only dsn
 * and bounce verdicts are checked; a kind already set is kept. cfg gives our domains and the
 * hop limit; NULL means no our_domains and the default hop limit. */
void bh_loop_check(const struct bh_config *cfg, struct bh_verdict *v);

#endif

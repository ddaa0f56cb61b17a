/*
 * notify.h - tell systemd how the service is doing (sd_notify(3)), for a unit of Type=notify
 * with WatchdogSec=: READY=1 once IMAP and Redis answered, WATCHDOG=1 while the main loop turns,
 * STOPPING=1 on the way out.
 *
 * Each call is a no-op when the process was not started with $NOTIFY_SOCKET (a shell, a
 * container, a test), and a failed send is ignored: notifying never stops the work.
 * Process-wide state, not thread-safe, like log.h.
 */
#ifndef BH_NOTIFY_H
#define BH_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

/* bh_notify_enabled - was the process started with $NOTIFY_SOCKET (is anyone listening)? */
bool bh_notify_enabled(void);
/* bh_notify_ready - READY=1 and a STATUS= line the first time; later calls do nothing. */
void bh_notify_ready(const char *mailbox);
/* bh_notify_watchdog - WATCHDOG=1 when a quarter of $WATCHDOG_USEC has passed since the last
 * ping (so calling it often is cheap); nothing without a watchdog. */
void bh_notify_watchdog(void);
/* bh_notify_watchdog_ms - the longest the main loop may wait between two calls of
 * bh_notify_watchdog(): half of $WATCHDOG_USEC, in milliseconds; 0 without a watchdog. */
int64_t bh_notify_watchdog_ms(void);
/* bh_notify_stopping - STOPPING=1: the service is shutting down on purpose. */
void bh_notify_stopping(void);

#endif

/*
 * notify.c - systemd readiness and watchdog notifications through libsystemd's sd_notify(3).
 *
 * The watchdog interval comes from $WATCHDOG_USEC (and $WATCHDOG_PID, checked by
 * sd_watchdog_enabled(3)), read once. systemd kills the service when no WATCHDOG=1 arrives
 * within WatchdogSec=; the main loop waits at most half of it (bh_notify_watchdog_ms) and pings
 * whenever a quarter has passed, so one slow turn of the loop does not cost a restart.
 * Trusts nothing from the socket: it only sends.
 */
#include "notify.h"

#include <stdbool.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>

#include "util.h"

static struct {
	bool init;
	bool ready;
	int64_t interval_ms; /* WATCHDOG_USEC / 1000; 0: no watchdog */
	int64_t last_ping_ms;
} notify;

/* notify_init - read the watchdog interval the first time it is needed */
static void
notify_init(void)
{
	uint64_t usec = 0;

	if (notify.init)
		return;
	notify.init = true;
	if (sd_watchdog_enabled(0, &usec) > 0 && usec >= 1000)
		notify.interval_ms = (int64_t)(usec / 1000);
}

/* bh_notify_enabled - whether $NOTIFY_SOCKET names a socket to tell */
bool
bh_notify_enabled(void)
{
	const char *e = getenv("NOTIFY_SOCKET");

	return e != NULL && e[0] != '\0';
}

/* bh_notify_ready - READY=1 (with a status line) the first time only */
void
bh_notify_ready(const char *mailbox)
{
	if (notify.ready)
		return;
	notify.ready = true;
	(void)sd_notifyf(0, "READY=1\nSTATUS=draining %s", mailbox != NULL ? mailbox : "mailbox");
}

/* bh_notify_watchdog - WATCHDOG=1, at most every quarter of the watchdog interval */
void
bh_notify_watchdog(void)
{
	int64_t now;

	notify_init();
	if (notify.interval_ms == 0)
		return;
	now = bh_mono_ms();
	if (notify.last_ping_ms != 0 && now - notify.last_ping_ms < notify.interval_ms / 4)
		return;
	notify.last_ping_ms = now;
	(void)sd_notify(0, "WATCHDOG=1");
}

/* bh_notify_watchdog_ms - half the watchdog interval: the longest wait between pings */
int64_t
bh_notify_watchdog_ms(void)
{
	notify_init();
	return notify.interval_ms / 2;
}

/* bh_notify_stopping - STOPPING=1 */
void
bh_notify_stopping(void)
{
	(void)sd_notify(0, "STOPPING=1");
}

/*
 * catcher - the probe's own SMTP listener for delivery mode.
 *
 * It accepts every message for any recipient (it is the "outside" mail
 * server of the test), keeps it in memory only long enough to find the
 * probe's tokens (tokscan.h), and reports each token once per message.
 * It runs the same I/O-free session core as sluiced, so it is as strict
 * and as robust on the wire. Messages are capped (CATCHER_MSG_MAX) and
 * then dropped: nothing is written to disk.
 */
#ifndef SLUICE_CATCHER_H
#define SLUICE_CATCHER_H

#include "probe/tokscan.h"

struct event_base;
struct catcher;

#define CATCHER_MSG_MAX	(4 * 1024 * 1024)

struct catcher *catcher_new(struct event_base *base, const char *listen,
	    char *err, size_t errsize);
void	catcher_free(struct catcher *c);
void	catcher_on_token(struct catcher *c, token_cb cb, void *arg);
unsigned catcher_messages(const struct catcher *c);
const char *catcher_address(const struct catcher *c);
int	catcher_busy(const struct catcher *c);
void	catcher_on_idle(struct catcher *c, void (*cb)(void *), void *arg);

#endif

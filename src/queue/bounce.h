/*
 * bounce - delivery status notifications (RFC 3464 multipart/report).
 *
 * Pure: composes the DSN text from the envelope, the recipients it is
 * about and the original message's headers. A DSN is sent from the null
 * sender <> and only to a non-null sender, so bounces never loop; the
 * caller enforces that and queues the result like any message.
 */
#ifndef SLUICE_BOUNCE_H
#define SLUICE_BOUNCE_H

#include <stddef.h>
#include <time.h>

#include "util/buf.h"

struct qenv;

enum dsn_kind {
	DSN_FAILED,	/* permanent: the message was not delivered */
	DSN_DELAYED	/* still trying: a warning */
};

struct dsn_rcpt {
	const char	*addr;		/* "<user@domain>" */
	const char	*status;	/* "5.1.1" */
	const char	*diag;		/* the remote reply or our reason */
	const char	*remote_mta;	/* host name, or NULL */
};

int	dsn_compose(struct buf *b, enum dsn_kind kind, const struct qenv *e,
	    const struct dsn_rcpt *rcpts, size_t n, const char *hostname,
	    const char *headers, size_t hlen, time_t now, const char *boundary);
void	dsn_status_from_reply(const char *why, int perm, char *dst,
	    size_t dstsize);

#endif

/*
 * reply - SMTP replies: the builder (server side) and the parser (client
 * side, for the probe and outbound delivery).
 *
 * Pure. The builder appends to a caller's buf: one reply, possibly
 * multi-line ("250-a" ... "250 z"), each line with the enhanced status
 * code of RFC 3463 when one is given. Text is cut at SMTP_REPLYLINE_MAX and
 * control bytes are replaced, so nothing a client sent can break a reply.
 */
#ifndef SLUICE_REPLY_H
#define SLUICE_REPLY_H

#include <stddef.h>

#include "util/buf.h"

int	reply_add(struct buf *out, int code, const char *enh, const char *fmt,
	    ...) __attribute__((format(printf, 4, 5)));
int	reply_lines(struct buf *out, int code, const char *enh,
	    const char *const *lines, size_t n);

/* A parsed reply (client side). */
#define REPLY_MAXLINES	64
struct reply {
	int		code;		/* 3 digits, or 0 if none yet */
	char		enh[16];	/* from the last line, "" if none */
	size_t		nlines;
	struct buf	text;		/* all lines' text, '\n'-separated */
	int		bad;		/* malformed line seen */
};

enum reply_feed_res {
	REPLY_MORE,	/* need another line */
	REPLY_DONE,	/* a full reply is parsed */
	REPLY_ERROR	/* not SMTP: give up on this peer */
};

void	reply_init(struct reply *r);
void	reply_release(struct reply *r);
void	reply_reset(struct reply *r);
enum reply_feed_res reply_feed_line(struct reply *r, const char *line,
	    size_t len);
int	reply_parse_enh(const char *s, size_t n, char *dst, size_t dstsize);

#endif

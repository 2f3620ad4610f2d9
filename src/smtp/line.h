/*
 * line - command-line framing with a hard length cap.
 *
 * Pure: bytes in, complete lines out. Only LF ends a line, and a line is
 * well-formed only if that LF follows a CR; a bare LF, a CR inside the line
 * or a NUL byte is reported in the line's flags, never silently accepted.
 * A line longer than the cap is not buffered: its bytes are dropped up to
 * the next LF, and the line is reported as LINE_TOOLONG then.
 */
#ifndef SLUICE_LINE_H
#define SLUICE_LINE_H

#include <stddef.h>

#include "util/buf.h"

/* flags of a complete line */
#define LINE_BARELF	0x01	/* ended by LF without CR */
#define LINE_CR		0x02	/* a CR not followed by LF inside the line */
#define LINE_NUL	0x04	/* a NUL byte */
#define LINE_TOOLONG	0x08	/* over the cap; text was dropped */
#define LINE_8BIT	0x10	/* a byte >= 0x80 */
/* Octets kept of every line, over-long ones too (the verb, for replies). */
#define LINE_HEAD	8

struct linebuf {
	struct buf	b;	/* the line so far, without CRLF */
	size_t		max;	/* cap, including CRLF */
	unsigned	flags;
	int		overflow;
	int		ready;	/* a complete line is in b */
	char		head[LINE_HEAD];	/* its first octets, kept even */
	size_t		headlen;		/* when the rest is dropped */
};

void	line_init(struct linebuf *lb, size_t max);
void	line_release(struct linebuf *lb);
void	line_set_max(struct linebuf *lb, size_t max);
size_t	line_feed(struct linebuf *lb, const char *p, size_t n);
int	line_ready(const struct linebuf *lb);
void	line_clear(struct linebuf *lb);
int	line_partial(const struct linebuf *lb);

#endif

#include <string.h>

#include "smtp/line.h"

/* line_init - an empty framer for lines of at most max octets with CRLF */
void
line_init(struct linebuf *lb, size_t max)
{
	buf_init(&lb->b, max);
	lb->max = max;
	lb->flags = 0;
	lb->overflow = 0;
	lb->ready = 0;
	lb->headlen = 0;
}

/* line_release - free the buffer */
void
line_release(struct linebuf *lb)
{
	buf_release(&lb->b);
}

/* line_set_max - change the cap (between lines only) */
void
line_set_max(struct linebuf *lb, size_t max)
{
	lb->max = max;
	lb->b.max = max;
}

/*
 * line_feed - consume bytes up to and including the next LF. Returns the
 * number consumed; after it, line_ready() says whether a line is complete.
 * The line in lb->b excludes the final CRLF (or bare LF).
 */
size_t
line_feed(struct linebuf *lb, const char *p, size_t n)
{
	const char *lf;
	size_t take, i;

	if (lb->ready)
		return 0;
	lf = memchr(p, '\n', n);
	take = lf ? (size_t)(lf - p) + 1 : n;
	if (lb->headlen < LINE_HEAD) {
		size_t k = LINE_HEAD - lb->headlen;

		k = take < k ? take : k;
		memcpy(lb->head + lb->headlen, p, k);
		lb->headlen += k;
	}
	for (i = 0; i < take; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == 0)
			lb->flags |= LINE_NUL;
		else if (c >= 0x80)
			lb->flags |= LINE_8BIT;
	}
	if (!lb->overflow) {
		/* max counts CRLF; the buffer holds the line and its CR */
		if (buf_append(&lb->b, p, take) == -1 ||
		    (lf == NULL && lb->b.len >= lb->max)) {
			lb->overflow = 1;
			lb->flags |= LINE_TOOLONG;
			buf_reset(&lb->b);
		}
	}
	if (lf == NULL)
		return take;
	lb->ready = 1;
	if (!lb->overflow) {
		/* strip LF, then CR; note any other CR inside */
		lb->b.len--;
		if (lb->b.len > 0 && lb->b.data[lb->b.len - 1] == '\r')
			lb->b.len--;
		else
			lb->flags |= LINE_BARELF;
		lb->b.data[lb->b.len] = '\0';
		if (memchr(lb->b.data, '\r', lb->b.len) != NULL)
			lb->flags |= LINE_CR;
	}
	return take;
}

/* line_ready - is a complete line waiting? */
int
line_ready(const struct linebuf *lb)
{
	return lb->ready;
}

/* line_clear - forget the current line, ready for the next */
void
line_clear(struct linebuf *lb)
{
	buf_reset(&lb->b);
	lb->flags = 0;
	lb->overflow = 0;
	lb->ready = 0;
	lb->headlen = 0;
}

/* line_partial - are some bytes of an unfinished line buffered? */
int
line_partial(const struct linebuf *lb)
{
	return !lb->ready && (lb->b.len > 0 || lb->overflow);
}

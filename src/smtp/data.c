#include "smtp/data.h"
#include "smtp/limits.h"

enum {
	S_BOL,		/* at the start of a line (after CR LF) */
	S_MID,		/* inside a line */
	S_CR,		/* inside a line, a CR pending */
	S_DOT,		/* "." at the start of a line */
	S_DOTCR		/* "." CR at the start of a line */
};

/* data_init - ready for the first byte after the 354 reply */
void
data_init(struct data_dec *d)
{
	d->state = S_BOL;
	d->flags = 0;
	d->linelen = 0;
	d->done = 0;
}

/*
 * data_feed - decode in[0..n) into out, stopping right after the end
 * marker. Returns the bytes of in consumed (the rest belongs to the next
 * command); *outlen gets the bytes written. After the end, d->done is set.
 * Output keeps CR LF line ends; a dot-stuffed line loses its first dot.
 */
size_t
data_feed(struct data_dec *d, const char *in, size_t n, char *out,
    size_t *outlen)
{
	size_t i, o = 0;

	for (i = 0; i < n && !d->done; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == 0)
			d->flags |= DATA_NUL;
		else if (c >= 0x80)
			d->flags |= DATA_8BIT;
		if (++d->linelen > SMTP_TEXTLINE_MAX)
			d->flags |= DATA_LONGLINE;
		switch (d->state) {
		case S_BOL:
			if (c == '.') {
				d->state = S_DOT;
				continue;
			}
			/* FALLTHROUGH */
		case S_MID:
		mid:
			if (c == '\r')
				d->state = S_CR;
			else {
				if (c == '\n')
					d->flags |= DATA_BARELF;
				out[o++] = (char)c;
				d->state = S_MID;
			}
			break;
		case S_CR:
			if (c == '\n') {
				out[o++] = '\r';
				out[o++] = '\n';
				d->state = S_BOL;
				d->linelen = 0;
			} else {
				/* the pending CR was bare */
				d->flags |= DATA_BARECR;
				out[o++] = '\r';
				goto mid;
			}
			break;
		case S_DOT:
			/* RFC 5321 4.5.2: drop the first dot of the line */
			if (c == '\r')
				d->state = S_DOTCR;
			else
				goto mid;
			break;
		case S_DOTCR:
			if (c == '\n') {
				d->done = 1;
				break;
			}
			/* "." CR x: the dot is dropped, the CR was bare */
			d->flags |= DATA_BARECR;
			out[o++] = '\r';
			goto mid;
		}
	}
	*outlen = o;
	return i;
}

/*
 * data - the DATA phase: dot-unstuffing and end-of-data detection.
 *
 * Pure, streaming, no allocation: bytes in (any split), message bytes out.
 * The end of data is only CR LF "." CR LF, where the first CR LF is a real
 * line end (the 354 reply counts as one). A bare LF or bare CR never starts
 * or ends a line here, so "\n.\n", "\r.\r", "\n.\r\n" and "\r\n.\n" are
 * ordinary data, never the end: SMTP smuggling finds no second end marker.
 * Such bytes, and NUL, are flagged so that the session can refuse the
 * message once the real end has been read.
 */
#ifndef SLUICE_DATA_H
#define SLUICE_DATA_H

#include <stddef.h>

#define DATA_BARELF	0x01
#define DATA_BARECR	0x02
#define DATA_NUL	0x04
#define DATA_LONGLINE	0x08	/* a line over 1000 octets with CRLF */
#define DATA_8BIT	0x10

struct data_dec {
	int		state;
	unsigned	flags;
	size_t		linelen;	/* octets in the current line so far */
	int		done;
};

void	data_init(struct data_dec *d);
size_t	data_feed(struct data_dec *d, const char *in, size_t n, char *out,
	    size_t *outlen);

/* out must have room for n + DATA_OUT_SLACK bytes */
#define DATA_OUT_SLACK	2

#endif

/*
 * base64 - RFC 4648 base64, strict: the decoder refuses bad characters,
 * wrong padding and non-canonical trailing bits, so SMTP AUTH can answer a
 * malformed string with 501 instead of guessing. Pure; caller's buffers.
 */
#ifndef SLUICE_BASE64_H
#define SLUICE_BASE64_H

#include <stddef.h>

#define BASE64_ENCODED_LEN(n)	((((n) + 2) / 3) * 4 + 1)

size_t	base64_encode(const unsigned char *in, size_t n, char *out,
	    size_t outsize);
int	base64_decode(const char *in, size_t n, unsigned char *out,
	    size_t outsize, size_t *outlen);

#endif

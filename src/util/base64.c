#include "util/base64.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/*
 * base64_encode - encode n bytes into out (NUL-terminated). Returns the
 * length written, or 0 if outsize < BASE64_ENCODED_LEN(n).
 */
size_t
base64_encode(const unsigned char *in, size_t n, char *out, size_t outsize)
{
	size_t i, o = 0;

	if (outsize < BASE64_ENCODED_LEN(n))
		return 0;
	for (i = 0; i + 2 < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 |
		    in[i + 2];

		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = alphabet[(v >> 6) & 63];
		out[o++] = alphabet[v & 63];
	}
	if (i < n) {
		unsigned v = (unsigned)in[i] << 16 |
		    (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0);

		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

/* value - the 6-bit value of c, or -1 */
static int
value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * base64_decode - decode n characters (a multiple of 4, padded) into out.
 * 0 with *outlen set, or -1 on any malformation or if out is too small.
 */
int
base64_decode(const char *in, size_t n, unsigned char *out, size_t outsize,
    size_t *outlen)
{
	size_t i, o = 0;

	if (n % 4 != 0)
		return -1;
	for (i = 0; i < n; i += 4) {
		int a = value(in[i]), b = value(in[i + 1]);
		int c = in[i + 2] == '=' ? -2 : value(in[i + 2]);
		int d = in[i + 3] == '=' ? -2 : value(in[i + 3]);
		unsigned v;

		if (a < 0 || b < 0 || c == -1 || d == -1)
			return -1;
		if ((c == -2 || d == -2) && i + 4 != n)
			return -1;	/* padding only at the very end */
		if (c == -2 && d != -2)
			return -1;
		v = (unsigned)a << 18 | (unsigned)b << 12 |
		    (c >= 0 ? (unsigned)c << 6 : 0) | (d >= 0 ? (unsigned)d : 0);
		if (c == -2 && (v & 0xffff) != 0)
			return -1;	/* non-canonical trailing bits */
		if (c >= 0 && d == -2 && (v & 0xff) != 0)
			return -1;
		if (o + 3 > outsize && !(c == -2 && o + 1 <= outsize) &&
		    !(d == -2 && c >= 0 && o + 2 <= outsize))
			return -1;
		out[o++] = (unsigned char)(v >> 16);
		if (c >= 0)
			out[o++] = (unsigned char)(v >> 8);
		if (d >= 0)
			out[o++] = (unsigned char)v;
	}
	*outlen = o;
	return 0;
}

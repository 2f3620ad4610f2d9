#include <stdio.h>
#include <string.h>

#include "util/json.h"

/* json_strn - a JSON string of n bytes */
int
json_strn(struct buf *b, const char *s, size_t n)
{
	size_t i;
	int r = buf_putc(b, '"');

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		switch (c) {
		case '"': r |= buf_puts(b, "\\\""); break;
		case '\\': r |= buf_puts(b, "\\\\"); break;
		case '\n': r |= buf_puts(b, "\\n"); break;
		case '\r': r |= buf_puts(b, "\\r"); break;
		case '\t': r |= buf_puts(b, "\\t"); break;
		default:
			if (c < 0x20 || c >= 0x7f || c == '<' || c == '>' ||
			    c == '&')
				r |= buf_printf(b, "\\u%04x", c);
			else
				r |= buf_putc(b, c);
		}
	}
	return r | buf_putc(b, '"');
}

/* json_str - a JSON string; NULL is null */
int
json_str(struct buf *b, const char *s)
{
	if (s == NULL)
		return buf_puts(b, "null");
	return json_strn(b, s, strlen(s));
}

/* key - ",\"key\":" */
static int
key(struct buf *b, int comma, const char *k)
{
	return (comma ? buf_putc(b, ',') : 0) | json_str(b, k) |
	    buf_putc(b, ':');
}

int
json_kv_str(struct buf *b, int comma, const char *k, const char *v)
{
	return key(b, comma, k) | json_str(b, v);
}

int
json_kv_int(struct buf *b, int comma, const char *k, long long v)
{
	return key(b, comma, k) | buf_printf(b, "%lld", v);
}

int
json_kv_num(struct buf *b, int comma, const char *k, double v)
{
	return key(b, comma, k) | buf_printf(b, "%.3f", v);
}

int
json_kv_bool(struct buf *b, int comma, const char *k, int v)
{
	return key(b, comma, k) | buf_puts(b, v ? "true" : "false");
}

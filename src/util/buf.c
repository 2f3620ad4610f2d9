#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/xalloc.h"

/* buf_init - empty buffer that may hold at most max bytes */
void
buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->size = 0;
	/* keep len + n + 1 and the doubling below from overflowing */
	b->max = max < SIZE_MAX / 2 ? max : SIZE_MAX / 2;
}

/* buf_release - free the storage; the buf may be reused after buf_init */
void
buf_release(struct buf *b)
{
	if (b == NULL)
		return;
	free(b->data);
	b->data = NULL;
	b->len = b->size = 0;
}

/* buf_reset - drop the contents, keep the storage */
void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

/* reserve - make room for n more bytes plus the NUL; -1 if over the cap */
static int
reserve(struct buf *b, size_t n)
{
	size_t need, size;

	if (n > b->max - b->len)
		return -1;
	need = b->len + n + 1;
	if (need <= b->size)
		return 0;
	size = b->size ? b->size : 64;
	while (size < need)
		size *= 2;
	if (size > b->max + 1)
		size = b->max + 1;
	b->data = xrealloc(b->data, size);
	b->size = size;
	return 0;
}

/* buf_append - append n bytes; 0, or -1 (unchanged) if the cap would be passed */
int
buf_append(struct buf *b, const void *p, size_t n)
{
	if (reserve(b, n) == -1)
		return -1;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

/* buf_puts - append a C string */
int
buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

/* buf_putc - append one byte */
int
buf_putc(struct buf *b, int c)
{
	char ch = (char)c;

	return buf_append(b, &ch, 1);
}

/* buf_vprintf - append formatted text; -1 (unchanged) if over the cap */
int
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0 || reserve(b, (size_t)n) == -1)
		return -1;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

/* buf_printf - append formatted text */
int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

/* buf_consume - remove the first n bytes (all if n >= len) */
void
buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

/* buf_cstr - the contents as a C string ("" when empty) */
const char *
buf_cstr(const struct buf *b)
{
	return b->data ? b->data : "";
}

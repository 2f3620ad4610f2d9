/*
 * buf - one growable, binary-safe byte buffer with a hard cap.
 *
 * A buf owns its storage. Appends beyond the cap fail (return -1) and leave
 * the buffer unchanged; the cap is enforced on every path, never advisory.
 * The data is always followed by a NUL byte that is not counted in len, so
 * text buffers can be used as C strings. buf_free(NULL) is a no-op.
 */
#ifndef SLUICE_BUF_H
#define SLUICE_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char	*data;	/* NUL-terminated; NULL until the first append */
	size_t	 len;	/* bytes in use */
	size_t	 size;	/* bytes allocated */
	size_t	 max;	/* hard cap on len */
};

void	buf_init(struct buf *b, size_t max);
void	buf_release(struct buf *b);
void	buf_reset(struct buf *b);
int	buf_append(struct buf *b, const void *p, size_t n);
int	buf_puts(struct buf *b, const char *s);
int	buf_putc(struct buf *b, int c);
int	buf_printf(struct buf *b, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
int	buf_vprintf(struct buf *b, const char *fmt, va_list ap)
	    __attribute__((format(printf, 2, 0)));
void	buf_consume(struct buf *b, size_t n);
const char *buf_cstr(const struct buf *b);

#endif

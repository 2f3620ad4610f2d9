/*
 * log - one line per event, key=value, to stderr, a file or syslog.
 *
 * Owns the log destination. Lines are written whole with one write(2) so
 * concurrent writers (threads, processes sharing a file) never interleave
 * within a line. Client-supplied bytes must go through log_quote() before
 * they reach a line: it escapes CR, LF, quotes and control bytes, so a
 * client can neither forge log lines nor break key=value parsing.
 */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

#include <stddef.h>

enum log_level {
	LVL_ERR,
	LVL_WARN,
	LVL_INFO,
	LVL_DEBUG
};

/* Enough for a quoted 512-byte SMTP line with every byte escaped. */
#define LOG_QUOTE_MAX	2200

int	log_open(const char *ident, const char *dest);
void	log_close(void);
void	log_set_level(enum log_level lvl);
int	log_enabled(enum log_level lvl);
void	log_set_capture(void (*fn)(void *, const char *), void *arg);
void	log_line(enum log_level lvl, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
#define log_err(...)	log_line(LVL_ERR, __VA_ARGS__)
#define log_warn(...)	log_line(LVL_WARN, __VA_ARGS__)
#define log_info(...)	log_line(LVL_INFO, __VA_ARGS__)
#define log_debug(...)	log_line(LVL_DEBUG, __VA_ARGS__)
void	fatal(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

const char *log_quote(char *dst, size_t dstsize, const char *s, size_t n);
const char *log_quotes(char *dst, size_t dstsize, const char *s);

#endif

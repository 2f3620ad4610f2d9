#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <sys/time.h>

#include "util/log.h"

static enum { DEST_STDERR, DEST_FILE, DEST_SYSLOG } dest = DEST_STDERR;
static int log_fd = 2;
static enum log_level level = LVL_INFO;
static char ident[32] = "sluice";
static void (*capture_fn)(void *, const char *);
static void *capture_arg;

static const char *level_names[] = { "err", "warning", "info", "debug" };

/* log_open - send log lines to dest: "stderr", "syslog" or a file path */
int
log_open(const char *id, const char *d)
{
	int fd;

	snprintf(ident, sizeof(ident), "%s", id);
	if (d == NULL || *d == '\0' || strcmp(d, "stderr") == 0) {
		dest = DEST_STDERR;
		log_fd = 2;
		return 0;
	}
	if (strcmp(d, "syslog") == 0) {
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
		dest = DEST_SYSLOG;
		return 0;
	}
	fd = open(d, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1)
		return -1;
	if (dest == DEST_FILE && log_fd > 2)
		close(log_fd);
	log_fd = fd;
	dest = DEST_FILE;
	return 0;
}

/* log_close - back to stderr */
void
log_close(void)
{
	if (dest == DEST_FILE && log_fd > 2)
		close(log_fd);
	if (dest == DEST_SYSLOG)
		closelog();
	dest = DEST_STDERR;
	log_fd = 2;
}

/* log_set_level - lines above lvl are dropped */
void
log_set_level(enum log_level lvl)
{
	level = lvl;
}

/* log_enabled - would a line at lvl be written? */
int
log_enabled(enum log_level lvl)
{
	return lvl <= level;
}

/* log_set_capture - also hand each line (without prefix) to fn; tests use it */
void
log_set_capture(void (*fn)(void *, const char *), void *arg)
{
	capture_fn = fn;
	capture_arg = arg;
}

/* vlog - format one line and write it with a single write(2) */
static void
vlog(enum log_level lvl, const char *fmt, va_list ap)
{
	char line[8192], stamp[40];
	struct timeval tv;
	struct tm tm;
	int pre, n;
	ssize_t w;
	size_t len;

	if (lvl > level)
		return;
	if (dest == DEST_SYSLOG) {
		pre = snprintf(line, sizeof(line), "level=%s ", level_names[lvl]);
		vsnprintf(line + pre, sizeof(line) - (size_t)pre, fmt, ap);
		syslog(lvl == LVL_ERR ? LOG_ERR : lvl == LVL_WARN ?
		    LOG_WARNING : lvl == LVL_INFO ? LOG_INFO : LOG_DEBUG,
		    "%s", line);
		return;
	}
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	pre = snprintf(line, sizeof(line), "%s.%03ldZ %s[%ld]: level=%s ",
	    stamp, (long)tv.tv_usec / 1000, ident, (long)getpid(),
	    level_names[lvl]);
	n = vsnprintf(line + pre, sizeof(line) - (size_t)pre - 1, fmt, ap);
	if (n < 0)
		return;
	len = (size_t)pre + (size_t)n;
	if (len > sizeof(line) - 2) {
		/* Truncated: mark it so a reader knows. */
		len = sizeof(line) - 2;
		memcpy(line + len - 3, "...", 3);
	}
	if (capture_fn != NULL) {
		line[len] = '\0';
		capture_fn(capture_arg, line + pre);
	}
	line[len++] = '\n';
	do {
		w = write(log_fd, line, len);
	} while (w == -1 && errno == EINTR);
}

/* log_line - write one event line at lvl */
void
log_line(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(lvl, fmt, ap);
	va_end(ap);
}

/* fatal - log an error and exit(1); for our own unrecoverable state */
void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LVL_ERR, fmt, ap);
	va_end(ap);
	if (dest != DEST_STDERR) {
		va_start(ap, fmt);
		fputs("fatal: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		va_end(ap);
	}
	exit(1);
}

/*
 * log_quote - render n bytes of s as one log value: bare when it is plain
 * (letters, digits and @<>.-_+:/[]=), else in double quotes with \" \\ \r \n
 * \t and \xNN escapes. Truncates with "..." to fit dstsize. Returns dst.
 */
const char *
log_quote(char *dst, size_t dstsize, const char *s, size_t n)
{
	static const char plain[] =
	    "@<>.-_+:/[]=,%!#$&'*?^`{|}~";
	size_t i, o = 0;
	int quote = (n == 0);
	char tmp[5];

	if (dstsize < 8) {
		if (dstsize > 0)
			dst[0] = '\0';
		return dst;
	}
	for (i = 0; i < n && !quote; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || (c != 0 && strchr(plain, c))))
			quote = 1;
	}
	if (quote)
		dst[o++] = '"';
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *e = tmp;
		size_t elen;

		switch (c) {
		case '"': e = "\\\""; break;
		case '\\': e = "\\\\"; break;
		case '\r': e = "\\r"; break;
		case '\n': e = "\\n"; break;
		case '\t': e = "\\t"; break;
		default:
			if (c < 0x20 || c >= 0x7f)
				snprintf(tmp, sizeof(tmp), "\\x%02x", c);
			else {
				tmp[0] = (char)c;
				tmp[1] = '\0';
			}
		}
		elen = strlen(e);
		/* keep room for "...", the closing quote and the NUL */
		if (o + elen + 5 > dstsize) {
			memcpy(dst + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(dst + o, e, elen);
		o += elen;
	}
	if (quote)
		dst[o++] = '"';
	dst[o] = '\0';
	return dst;
}

/* log_quotes - log_quote of a C string; NULL renders as "" */
const char *
log_quotes(char *dst, size_t dstsize, const char *s)
{
	if (s == NULL)
		s = "";
	return log_quote(dst, dstsize, s, strlen(s));
}

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "smtp/limits.h"
#include "smtp/reply.h"
#include "util/str.h"

/* put_line - "CODE[-| ][ENH ]text\r\n", sanitised and cut to fit */
static int
put_line(struct buf *out, int code, int more, const char *enh,
    const char *text, size_t tlen)
{
	char line[SMTP_REPLYLINE_MAX + 1];
	size_t o, i;

	o = (size_t)snprintf(line, sizeof(line), "%03d%c", code,
	    more ? '-' : ' ');
	if (enh != NULL && *enh != '\0')
		o += (size_t)snprintf(line + o, sizeof(line) - o, "%s ", enh);
	for (i = 0; i < tlen && o < SMTP_REPLYLINE_MAX - 2; i++) {
		unsigned char c = (unsigned char)text[i];

		line[o++] = (c < ' ' || c >= 0x7f) ? '?' : (char)c;
	}
	/* RFC 5321 4.2: a reply line is never empty after the code */
	while (o > 4 && line[o - 1] == ' ')
		o--;
	line[o++] = '\r';
	line[o++] = '\n';
	return buf_append(out, line, o);
}

/*
 * reply_add - append one reply. A '\n' in the formatted text starts a new
 * line of a multi-line reply.
 */
int
reply_add(struct buf *out, int code, const char *enh, const char *fmt, ...)
{
	char text[SMTP_REPLY_MAX];
	const char *p, *nl;
	va_list ap;
	int r = 0;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	for (p = text;; p = nl + 1) {
		nl = strchr(p, '\n');
		if (nl == NULL)
			return r | put_line(out, code, 0, enh, p, strlen(p));
		r |= put_line(out, code, 1, enh, p, (size_t)(nl - p));
	}
}

/* reply_lines - append a multi-line reply from an array of lines */
int
reply_lines(struct buf *out, int code, const char *enh,
    const char *const *lines, size_t n)
{
	size_t i;
	int r = 0;

	for (i = 0; i < n; i++)
		r |= put_line(out, code, i + 1 < n, enh, lines[i],
		    strlen(lines[i]));
	return r;
}

/* reply_init - an empty reply (client side) */
void
reply_init(struct reply *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->text, SMTP_REPLY_MAX * 4);
}

/* reply_release - free its text */
void
reply_release(struct reply *r)
{
	buf_release(&r->text);
}

/* reply_reset - ready for the next reply */
void
reply_reset(struct reply *r)
{
	r->code = 0;
	r->enh[0] = '\0';
	r->nlines = 0;
	r->bad = 0;
	buf_reset(&r->text);
}

/*
 * reply_parse_enh - an enhanced status code "c.s.d" at the start of s
 * (class 2, 4 or 5; subject and detail up to 3 digits). Its length, or 0.
 */
int
reply_parse_enh(const char *s, size_t n, char *dst, size_t dstsize)
{
	size_t i = 0, part, digits;

	if (n < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') ||
	    s[1] != '.')
		return 0;
	i = 2;
	for (part = 0; part < 2; part++) {
		for (digits = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			digits++;
		if (digits == 0 || digits > 3)
			return 0;
		if (part == 0) {
			if (i >= n || s[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < n && s[i] != ' ')
		return 0;
	str_ncopy(dst, dstsize, s, i);
	return (int)i;
}

/*
 * reply_feed_line - add one received line (without CRLF). Lines are
 * "DDD-text" (more follow) or "DDD text"/"DDD" (last). A line with a
 * different code from the first, or without a code, makes the reply bad
 * (REPLY_ERROR): the peer is not speaking SMTP, or is hostile.
 */
enum reply_feed_res
reply_feed_line(struct reply *r, const char *line, size_t len)
{
	int code, last;
	size_t skip;

	if (len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' ||
	    line[1] > '9' || line[2] < '0' || line[2] > '9' ||
	    (len > 3 && line[3] != ' ' && line[3] != '-')) {
		r->bad = 1;
		return REPLY_ERROR;
	}
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (r->nlines > 0 && code != r->code) {
		r->bad = 1;
		return REPLY_ERROR;
	}
	r->code = code;
	last = len == 3 || line[3] == ' ';
	skip = len > 4 ? 4 : len;
	if (r->nlines > 0)
		(void)buf_putc(&r->text, '\n');
	(void)buf_append(&r->text, line + skip, len - skip);
	if (++r->nlines > REPLY_MAXLINES) {
		r->bad = 1;
		return REPLY_ERROR;
	}
	if (last) {
		char enh[16];

		if (reply_parse_enh(line + skip, len - skip, enh,
		    sizeof(enh)) > 0 && enh[0] == line[0])
			str_copy(r->enh, sizeof(r->enh), enh);
		return REPLY_DONE;
	}
	return REPLY_MORE;
}

/*
 * fuzz_reply - SMTP replies, src/smtp/reply.c: the client-side parser
 * and, as its oracle, the server-side builder.
 *
 * Parser: the input is what a peer sent; it is cut at each LF (a CR
 * before it is dropped, as the client's framer does) and fed line by
 * line, each line an exact-size heap copy, to reply_feed_line. After a
 * REPLY_DONE the reply has a code of 200..599, 1..REPLY_MAXLINES lines,
 * text within its cap and an enhanced code of its own class or none;
 * after REPLY_ERROR it is marked bad. Every reply is reset and the next
 * one parsed from the following line.
 *
 * Builder: the input (up to its first NUL) becomes the text of a reply
 * made by reply_add. Each line it writes must be a well-formed reply line
 * of at most 512 octets with CRLF and no control byte, and the parser
 * must read the reply back with its code and line count.
 */
#include <string.h>

#include "fuzz.h"
#include "smtp/limits.h"
#include "smtp/reply.h"

/* check_enh - "c.s.d" with 1-3 digit parts, or empty */
static void
check_enh(const char *enh, size_t size, int code)
{
	char tmp[16];

	FZ_CHECK(memchr(enh, '\0', size) != NULL);
	if (enh[0] == '\0')
		return;
	FZ_CHECK(enh[0] == '0' + code / 100);
	FZ_CHECK(reply_parse_enh(enh, strlen(enh), tmp, sizeof(tmp)) ==
	    (int)strlen(enh));
}

/* check_done - a complete parsed reply */
static void
check_done(const struct reply *r)
{
	FZ_CHECK(r->code >= 200 && r->code <= 599);
	FZ_CHECK(r->nlines >= 1 && r->nlines <= REPLY_MAXLINES);
	FZ_CHECK(!r->bad);
	FZ_CHECK(r->text.len <= r->text.max);
	FZ_CHECK(r->text.data == NULL || r->text.data[r->text.len] == '\0');
	check_enh(r->enh, sizeof(r->enh), r->code);
}

/* parse_lines - feed p[0..n) line by line; returns replies completed */
static size_t
parse_lines(struct reply *r, const char *p, size_t n, int strict,
    int *lastcode, size_t *lastlines)
{
	size_t a = 0, done = 0;

	while (a < n) {
		const char *lf = memchr(p + a, '\n', n - a);
		size_t end = lf ? (size_t)(lf - p) : n, len = end - a;
		char *line, enh[6];
		enum reply_feed_res res;
		int k;

		if (len > 0 && p[a + len - 1] == '\r')
			len--;
		line = fz_dup(p + a, len);
		k = reply_parse_enh(line, len, enh, sizeof(enh));
		FZ_CHECK(k >= 0 && (size_t)k <= len && k <= 9);
		if (k > 0)
			FZ_CHECK(strlen(enh) == ((size_t)k < sizeof(enh) ?
			    (size_t)k : sizeof(enh) - 1));
		res = reply_feed_line(r, line, len);
		free(line);
		if (res == REPLY_DONE) {
			check_done(r);
			*lastcode = r->code;
			*lastlines = r->nlines;
			done++;
			reply_reset(r);
		} else if (res == REPLY_ERROR) {
			FZ_CHECK(!strict);
			FZ_CHECK(r->bad);
			reply_reset(r);
		} else {
			FZ_CHECK(res == REPLY_MORE);
			FZ_CHECK(r->nlines >= 1 &&
			    r->nlines <= REPLY_MAXLINES);
		}
		a = lf ? end + 1 : n;
	}
	return done;
}

/* build - reply_add on the input's text, then read it back */
static void
build(const uint8_t *data, size_t size)
{
	static const char *const enhs[] = { NULL, "", "0.0.0", "5.5.2",
	    "4.7.1", "2.0.0" };
	char text[SMTP_REPLY_MAX];
	struct buf out;
	struct reply r;
	size_t i, n, lines = 0, want = 1, a, gotlines = 0;
	int code, gotcode = 0;
	const char *enh;

	if (size < 2)
		return;
	code = 200 + (data[0] % 4) * 100 + data[1] % 100;
	enh = enhs[data[1] % 6];
	n = strnlen((const char *)data + 2, size - 2);
	if (n >= sizeof(text))
		n = sizeof(text) - 1;
	memcpy(text, data + 2, n);
	text[n] = '\0';

	buf_init(&out, 1024 * 1024);
	FZ_CHECK(reply_add(&out, code, enh, "%s", text) == 0);
	for (a = 0; a < out.len; a = i + 2, lines++) {
		for (i = a; i < out.len && out.data[i] != '\r'; i++)
			FZ_CHECK(out.data[i] >= ' ' && out.data[i] < 0x7f);
		FZ_CHECK(i + 1 < out.len && out.data[i + 1] == '\n');
		FZ_CHECK(i + 2 - a <= SMTP_REPLYLINE_MAX);
		FZ_CHECK(i - a >= 4);
		FZ_CHECK(out.data[a + 3] == (i + 2 == out.len ? ' ' : '-'));
	}
	for (i = 0; i < n; i++)
		want += text[i] == '\n';
	FZ_CHECK(lines == want);
	reply_init(&r);
	if (lines <= REPLY_MAXLINES) {
		FZ_CHECK(parse_lines(&r, out.data, out.len, 1, &gotcode,
		    &gotlines) == 1);
		FZ_CHECK(gotcode == code && gotlines == lines);
	}
	reply_release(&r);
	buf_release(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reply r;
	int code = 0;
	size_t lines = 0;

	reply_init(&r);
	parse_lines(&r, (const char *)data, size, 0, &code, &lines);
	reply_release(&r);
	build(data, size);
	return 0;
}

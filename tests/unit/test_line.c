/*
 * test_line - command line framing (smtp/line): CRLF only, bare LF, inner
 * CR, NUL and 8-bit flagged, over-long lines dropped and flagged, and the
 * same lines whatever the input's split.
 */
#include <stdlib.h>

#include "unit.h"

#include "smtp/limits.h"
#include "smtp/line.h"

#define MAXLINES	8

/* the lines one input gives */
struct lines {
	size_t		 n;
	char		 text[MAXLINES][1200];
	size_t		 len[MAXLINES];
	unsigned	 flags[MAXLINES];
	int		 partial;	/* line_partial() at the end */
	int		 stuck;		/* line_feed() consumed nothing */
	size_t		 maxsize;	/* largest storage the buffer used */
};

/*
 * run - feed in[0..n) cut at the given points (sorted, may repeat),
 * collecting every complete line.
 */
static void
run(size_t max, const char *in, size_t n, const size_t *cuts, size_t ncuts,
    struct lines *out)
{
	struct linebuf lb;
	size_t off = 0, c;

	memset(out, 0, sizeof(*out));
	line_init(&lb, max);
	for (c = 0; c <= ncuts; c++) {
		size_t end = c < ncuts ? cuts[c] : n;

		while (off < end) {
			size_t k = line_feed(&lb, in + off, end - off);

			if (lb.b.size > out->maxsize)
				out->maxsize = lb.b.size;
			off += k;
			if (line_ready(&lb)) {
				if (out->n < MAXLINES) {
					size_t l = lb.b.len;

					if (l >= sizeof(out->text[0]))
						l = sizeof(out->text[0]) - 1;
					memcpy(out->text[out->n], lb.b.data ?
					    lb.b.data : "", l);
					out->len[out->n] = lb.b.len;
					out->flags[out->n] = lb.flags;
				}
				out->n++;
				line_clear(&lb);
			} else if (k == 0) {
				out->stuck = 1;
				goto done;
			}
		}
	}
done:
	out->partial = line_partial(&lb);
	line_release(&lb);
}

struct line_case {
	const char	*name;
	const char	*in;
	size_t		 inlen;		/* 0: strlen */
	size_t		 max;		/* 0: SMTP_CMDLINE_MAX */
	size_t		 nlines;
	const char	*text[4];
	size_t		 len[4];	/* 0: strlen(text) */
	unsigned	 flags[4];
	int		 partial;
};

#define BIN(s)	s, sizeof(s) - 1

static const struct line_case cases[] = {
	{ "one line", "HELO x\r\n", 0, 0, 1, { "HELO x" }, { 0 }, { 0 }, 0 },
	{ "two lines", "A\r\nB\r\n", 0, 0, 2, { "A", "B" }, { 0 }, { 0, 0 },
	    0 },
	{ "empty line", "\r\n", 0, 0, 1, { "" }, { 0 }, { 0 }, 0 },
	{ "bare LF", "A\nB\r\n", 0, 0, 2, { "A", "B" }, { 0 },
	    { LINE_BARELF, 0 }, 0 },
	{ "bare LF alone", "\n", 0, 0, 1, { "" }, { 0 }, { LINE_BARELF }, 0 },
	{ "inner CR", "A\rB\r\n", 0, 0, 1, { "A\rB" }, { 0 }, { LINE_CR }, 0 },
	{ "CR CR LF", "A\r\r\n", 0, 0, 1, { "A\r" }, { 0 }, { LINE_CR }, 0 },
	{ "CR only never ends a line", "A\rB\rC", 0, 0, 0, { NULL }, { 0 },
	    { 0 }, 1 },
	{ "inner CR and bare LF", "A\rB\n", 0, 0, 1, { "A\rB" }, { 0 },
	    { LINE_CR | LINE_BARELF }, 0 },
	{ "NUL", BIN("A\0B\r\n"), 0, 1, { "A\0B" }, { 3 }, { LINE_NUL }, 0 },
	{ "NUL at start", BIN("\0\r\nOK\r\n"), 0, 2, { "\0", "OK" }, { 1, 2 },
	    { LINE_NUL, 0 }, 0 },
	{ "8-bit", "\xc3\xa9\r\n", 0, 0, 1, { "\xc3\xa9" }, { 0 },
	    { LINE_8BIT }, 0 },
	{ "flags do not leak", "A\0\nB\r\n", 6, 0, 2, { "A\0", "B" },
	    { 2, 1 }, { LINE_NUL | LINE_BARELF, 0 }, 0 },
	{ "partial line", "MAIL FROM", 0, 0, 0, { NULL }, { 0 }, { 0 }, 1 },
	{ "line then partial", "NOOP\r\nQU", 0, 0, 1, { "NOOP" }, { 0 },
	    { 0 }, 1 },
	{ "pending CR", "QUIT\r", 0, 0, 0, { NULL }, { 0 }, { 0 }, 1 },
	/* a cap of 16 octets with CRLF: 14 of text */
	{ "14+CRLF fits 16", "0123456789abcd\r\n", 0, 16, 1,
	    { "0123456789abcd" }, { 0 }, { 0 }, 0 },
	{ "15+CRLF over 16", "0123456789abcde\r\nOK\r\n", 0, 16, 2,
	    { "", "OK" }, { 0 }, { LINE_TOOLONG, 0 }, 0 },
	{ "very long then OK", "0123456789abcdef0123456789abcdef0123456789"
	    "\r\nOK\r\n", 0, 16, 2, { "", "OK" }, { 0 }, { LINE_TOOLONG, 0 },
	    0 },
	{ "long with NUL", BIN("0123456789abcdef\0xyz\r\n"), 16, 1, { "" },
	    { 0 }, { LINE_TOOLONG | LINE_NUL }, 0 },
	{ "long, unfinished", "0123456789abcdef0123", 0, 16, 0, { NULL },
	    { 0 }, { 0 }, 1 },
	{ "16 octets, no LF yet", "0123456789abcdef", 0, 16, 0, { NULL },
	    { 0 }, { 0 }, 1 },
	{ "15 octets, pending", "0123456789abcd\r", 0, 16, 0, { NULL },
	    { 0 }, { 0 }, 1 },
};

/* check_lines - compare what run() gave with the case */
static void
check_lines(const char *name, const struct line_case *t,
    const struct lines *got)
{
	size_t i;

	CHECK_INT(name, got->stuck, 0);
	if (!CHECK_UINT(name, got->n, t->nlines))
		return;
	for (i = 0; i < t->nlines; i++) {
		size_t wl = t->len[i] ? t->len[i] : strlen(t->text[i]);

		CHECK_MEM(name, got->text[i], got->len[i], t->text[i], wl);
		CHECK_INT(name, got->flags[i], t->flags[i]);
	}
	CHECK_INT(name, got->partial, t->partial);
}

/* every_split - the whole input, every cut, every pair of cuts, bytewise */
static void
every_split(void **state)
{
	size_t i, a, b, cuts[2048];
	struct lines got;
	char name[200];

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		const struct line_case *t = &cases[i];
		size_t n = t->inlen ? t->inlen : strlen(t->in);
		size_t max = t->max ? t->max : SMTP_CMDLINE_MAX;

		run(max, t->in, n, NULL, 0, &got);
		check_lines(t->name, t, &got);
		for (a = 0; a <= n; a++)
			for (b = a; b <= n; b++) {
				cuts[0] = a;
				cuts[1] = b;
				run(max, t->in, n, cuts, 2, &got);
				snprintf(name, sizeof(name), "%s, cut at %zu "
				    "and %zu", t->name, a, b);
				check_lines(name, t, &got);
			}
		for (a = 0; a < n; a++)
			cuts[a] = a + 1;
		run(max, t->in, n, cuts, n, &got);
		snprintf(name, sizeof(name), "%s, byte by byte", t->name);
		check_lines(name, t, &got);
	}
	UNIT_DONE();
}

/* rfc_limit - 512 octets with CRLF (RFC 5321 4.5.3.1.4), at every cut */
static void
rfc_limit(void **state)
{
	static const struct {
		const char *name;
		size_t textlen;
		unsigned flags;
		int bare;	/* end with LF alone */
	} cases_[] = {
		{ "510+CRLF", 510, 0, 0 },
		{ "511+CRLF", 511, LINE_TOOLONG, 0 },
		{ "512+CRLF", 512, LINE_TOOLONG, 0 },
		{ "2000+CRLF", 2000, LINE_TOOLONG, 0 },
		{ "510+LF", 510, LINE_BARELF, 1 },
	};
	char in[2100], name[100];
	size_t i, a, cuts[2100];
	struct lines got;

	(void)state;
	for (i = 0; i < NELEM(cases_); i++) {
		size_t n = cases_[i].textlen, k;
		struct line_case t = { cases_[i].name, in, 0, 0, 2,
		    { NULL, "QUIT" }, { 0, 4 }, { cases_[i].flags, 0 }, 0 };
		char text[2100];

		memset(in, 'x', n);
		if (cases_[i].bare)
			in[n++] = '\n';
		else {
			in[n++] = '\r';
			in[n++] = '\n';
		}
		memcpy(in + n, "QUIT\r\n", 6);
		n += 6;
		memset(text, 'x', cases_[i].textlen);
		t.text[0] = cases_[i].flags & LINE_TOOLONG ? "" : text;
		t.len[0] = cases_[i].flags & LINE_TOOLONG ? 0 :
		    cases_[i].textlen;
		if (t.len[0] == 0)
			t.text[0] = "";
		for (a = 0; a <= n; a++) {
			cuts[0] = a;
			run(SMTP_CMDLINE_MAX, in, n, cuts, 1, &got);
			snprintf(name, sizeof(name), "%s, cut at %zu",
			    cases_[i].name, a);
			check_lines(name, &t, &got);
			/* the cap is enforced on storage, not only on text */
			CHECK_TRUE(name, got.maxsize <= SMTP_CMDLINE_MAX + 1);
		}
		for (k = 0; k < n; k++)
			cuts[k] = k + 1;
		run(SMTP_CMDLINE_MAX, in, n, cuts, n, &got);
		snprintf(name, sizeof(name), "%s, byte by byte",
		    cases_[i].name);
		check_lines(name, &t, &got);
	}
	UNIT_DONE();
}

/* huge_line - a megabyte without LF is never buffered */
static void
huge_line(void **state)
{
	size_t n = 1024 * 1024, off = 0;
	char *junk = malloc(n);
	struct linebuf lb;

	(void)state;
	assert_non_null(junk);
	memset(junk, 'A', n);
	line_init(&lb, SMTP_CMDLINE_MAX);
	while (off < n) {
		size_t k = line_feed(&lb, junk + off, n - off < 4096 ?
		    n - off : 4096);

		off += k;
		if (k == 0)
			break;
	}
	CHECK_UINT("all consumed", off, n);
	CHECK_INT("not ready", line_ready(&lb), 0);
	CHECK_INT("partial", line_partial(&lb), 1);
	CHECK_TRUE("storage capped", lb.b.size <= SMTP_CMDLINE_MAX + 1);
	CHECK_UINT("nothing kept", lb.b.len, 0);
	CHECK_UINT("LF ends it", line_feed(&lb, "\r\n", 2), 2);
	CHECK_INT("ready", line_ready(&lb), 1);
	CHECK_INT("flagged", lb.flags, LINE_TOOLONG);
	line_clear(&lb);
	CHECK_UINT("next line", line_feed(&lb, "RSET\r\n", 6), 6);
	CHECK_INT("next line ready", line_ready(&lb), 1);
	CHECK_STR("next line", lb.b.data, "RSET");
	CHECK_INT("next line flags", lb.flags, 0);
	line_release(&lb);
	free(junk);
	UNIT_DONE();
}

/* stops_at_lf - one line per feed; nothing taken while a line waits */
static void
stops_at_lf(void **state)
{
	struct linebuf lb;

	(void)state;
	line_init(&lb, SMTP_CMDLINE_MAX);
	CHECK_UINT("first", line_feed(&lb, "NOOP\r\nRSET\r\n", 12), 6);
	CHECK_INT("first ready", line_ready(&lb), 1);
	CHECK_INT("not partial when ready", line_partial(&lb), 0);
	CHECK_UINT("blocked", line_feed(&lb, "RSET\r\n", 6), 0);
	CHECK_STR("kept", lb.b.data, "NOOP");
	line_clear(&lb);
	CHECK_INT("cleared", line_ready(&lb), 0);
	CHECK_INT("cleared, not partial", line_partial(&lb), 0);
	CHECK_UINT("second", line_feed(&lb, "RSET\r\n", 6), 6);
	CHECK_STR("second", lb.b.data, "RSET");
	CHECK_UINT("zero bytes", line_feed(&lb, "", 0), 0);
	line_clear(&lb);
	CHECK_UINT("zero bytes, empty", line_feed(&lb, "", 0), 0);
	CHECK_INT("zero bytes, nothing", line_ready(&lb), 0);
	line_release(&lb);
	UNIT_DONE();
}

/* set_max - the cap can be raised between lines (MAIL's ESMTP params) */
static void
set_max(void **state)
{
	char in[700];
	struct linebuf lb;

	(void)state;
	memset(in, 'p', 600);
	memcpy(in + 600, "\r\n", 2);
	line_init(&lb, SMTP_CMDLINE_MAX);
	CHECK_UINT("512 cap", line_feed(&lb, in, 602), 602);
	CHECK_INT("512 cap", lb.flags, LINE_TOOLONG);
	line_clear(&lb);
	line_set_max(&lb, SMTP_CMDLINE_EXT_MAX);
	CHECK_UINT("1024 cap", line_feed(&lb, in, 602), 602);
	CHECK_INT("1024 cap", lb.flags, 0);
	CHECK_UINT("1024 cap", lb.b.len, 600);
	line_clear(&lb);
	line_set_max(&lb, SMTP_CMDLINE_MAX);
	CHECK_UINT("back to 512", line_feed(&lb, in, 602), 602);
	CHECK_INT("back to 512", lb.flags, LINE_TOOLONG);
	line_release(&lb);
	UNIT_DONE();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_split),
		cmocka_unit_test(rfc_limit),
		cmocka_unit_test(huge_line),
		cmocka_unit_test(stops_at_lf),
		cmocka_unit_test(set_max),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_reply - the reply builder (server side) and the reply parser
 * (client side) of smtp/reply.
 */
#include "unit.h"

#include "smtp/limits.h"
#include "smtp/reply.h"

/* add_cases - reply_add: code, enhanced code, lines, sanitising */
static void
add_cases(void **state)
{
	static const struct {
		const char *name;
		int code;
		const char *enh;
		const char *text;	/* passed as "%s" */
		const char *want;
	} cases[] = {
		{ "with enh", 250, "2.0.0", "Ok", "250 2.0.0 Ok\r\n" },
		{ "NULL enh", 250, NULL, "Ok", "250 Ok\r\n" },
		{ "empty enh", 354, "", "End data", "354 End data\r\n" },
		{ "multi-line", 250, NULL, "a\nb\nc",
		    "250-a\r\n250-b\r\n250 c\r\n" },
		{ "multi-line with enh", 250, "2.0.0", "a\nb",
		    "250-2.0.0 a\r\n250 2.0.0 b\r\n" },
		{ "CR replaced", 550, "5.1.1", "a\rb", "550 5.1.1 a?b\r\n" },
		{ "CRLF inside starts a line of the same reply", 550, "5.1.1",
		    "<x\r\n250 2.0.0 Ok>",
		    "550-5.1.1 <x?\r\n550 5.1.1 250 2.0.0 Ok>\r\n" },
		{ "control bytes", 500, NULL, "\x01\x1b[2J\t", "500 ??[2J?\r\n" },
		{ "DEL and 8-bit", 500, NULL, "\x7f\xc3\xa9", "500 ???\r\n" },
		{ "trailing spaces cut", 250, NULL, "Ok   ", "250 Ok\r\n" },
		{ "empty text with enh", 250, "2.0.0", "", "250 2.0.0\r\n" },
		{ "4xx", 421, "4.7.0", "closing", "421 4.7.0 closing\r\n" },
	};
	struct buf b;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		buf_init(&b, 4096);
		CHECK_INT(cases[i].name, reply_add(&b, cases[i].code,
		    cases[i].enh, "%s", cases[i].text), 0);
		CHECK_MEM(cases[i].name, b.data, b.len, cases[i].want,
		    strlen(cases[i].want));
		buf_release(&b);
	}
	UNIT_DONE();
}

/* lines_ok - every line is "CODE[- ]...CRLF", the last with a space */
static int
lines_ok(const char *s, size_t n, int code)
{
	char want[4];
	size_t i = 0;

	snprintf(want, sizeof(want), "%03d", code);
	while (i < n) {
		const char *e = memchr(s + i, '\n', n - i);
		size_t len;

		if (e == NULL)
			return 0;
		len = (size_t)(e - (s + i)) + 1;
		if (len < 6 || len > SMTP_REPLYLINE_MAX ||
		    memcmp(s + i, want, 3) != 0 || s[i + len - 2] != '\r' ||
		    memchr(s + i, '\r', len - 2) != NULL)
			return 0;
		if (s[i + 3] != (i + len == n ? ' ' : '-'))
			return 0;
		i += len;
	}
	return n > 0;
}

/* hostile_text - whatever a client sent, the reply stays well formed */
static void
hostile_text(void **state)
{
	static const char *texts[] = { "\r\n250 Ok\r\n", "\n\n\n", "\r\r\r",
	    "a\0b", "\xff\xfe", "x\r\n.\r\n", "" };
	char big[3000];
	struct buf b;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(texts); i++) {
		char name[40];

		snprintf(name, sizeof(name), "hostile #%zu", i);
		buf_init(&b, 8192);
		reply_add(&b, 550, "5.7.1", "<%s>: Relaying denied", texts[i]);
		CHECK_TRUE(name, lines_ok(b.data, b.len, 550));
		buf_release(&b);
	}
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_init(&b, 8192);
	CHECK_INT("long text", reply_add(&b, 550, "5.1.1", "%s", big), 0);
	CHECK_UINT("long text cut to one line", b.len, SMTP_REPLYLINE_MAX);
	CHECK_TRUE("long text", lines_ok(b.data, b.len, 550));
	buf_release(&b);
	UNIT_DONE();
}

/* lines_cases - reply_lines from an array */
static void
lines_cases(void **state)
{
	static const char *ehlo[] = { "mx.example Hello", "PIPELINING",
	    "SIZE 26214400", "8BITMIME" };
	static const char *nl[] = { "a\nb" };
	struct buf b;

	(void)state;
	buf_init(&b, 4096);
	CHECK_INT("ehlo", reply_lines(&b, 250, NULL, ehlo, 4), 0);
	CHECK_STR("ehlo", b.data, "250-mx.example Hello\r\n250-PIPELINING\r\n"
	    "250-SIZE 26214400\r\n250 8BITMIME\r\n");
	buf_reset(&b);
	CHECK_INT("one", reply_lines(&b, 214, "2.0.0", ehlo + 1, 1), 0);
	CHECK_STR("one", b.data, "214 2.0.0 PIPELINING\r\n");
	buf_reset(&b);
	CHECK_INT("newline in a line", reply_lines(&b, 250, NULL, nl, 1), 0);
	CHECK_STR("newline in a line", b.data, "250 a?b\r\n");
	buf_reset(&b);
	CHECK_INT("none", reply_lines(&b, 250, NULL, ehlo, 0), 0);
	CHECK_UINT("none", b.len, 0);
	buf_release(&b);
	UNIT_DONE();
}

/* cap - a reply over the buffer's cap is refused, the buffer unchanged */
static void
cap(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 10);
	CHECK_INT("too big", reply_add(&b, 250, "2.0.0", "Ok fine"), -1);
	CHECK_UINT("too big", b.len, 0);
	CHECK_INT("fits", reply_add(&b, 250, NULL, "Ok"), 0);
	CHECK_STR("fits", b.data, "250 Ok\r\n");
	CHECK_INT("then too big", reply_add(&b, 250, NULL, "Ok"), -1);
	CHECK_STR("then too big", b.data, "250 Ok\r\n");
	buf_release(&b);
	UNIT_DONE();
}

/* feed - give reply_feed_line each line; the last result */
static enum reply_feed_res
feed(struct reply *r, const char *const *lines, size_t n, size_t *used)
{
	enum reply_feed_res res = REPLY_MORE;
	size_t i;

	for (i = 0; i < n; i++) {
		res = reply_feed_line(r, lines[i], strlen(lines[i]));
		if (res != REPLY_MORE) {
			i++;
			break;
		}
	}
	*used = i;
	return res;
}

/* parse_cases - reply_feed_line on single and multi-line replies */
static void
parse_cases(void **state)
{
	static const struct {
		const char *name;
		const char *lines[5];
		enum reply_feed_res res;
		size_t used;		/* lines taken */
		int code;
		const char *enh;
		size_t nlines;
		const char *text;
	} cases[] = {
		{ "simple", { "250 Ok" }, REPLY_DONE, 1, 250, "", 1, "Ok" },
		{ "with enh", { "250 2.1.0 Ok" }, REPLY_DONE, 1, 250, "2.1.0", 1,
		    "2.1.0 Ok" },
		{ "code only", { "250" }, REPLY_DONE, 1, 250, "", 1, "" },
		{ "code and space", { "354 " }, REPLY_DONE, 1, 354, "", 1, "" },
		{ "multi-line", { "250-mx Hello", "250-PIPELINING",
		    "250 8BITMIME" }, REPLY_DONE, 3, 250, "", 3,
		    "mx Hello\nPIPELINING\n8BITMIME" },
		{ "multi-line enh from last", { "550-5.1.1 a", "550 5.1.1 b" },
		    REPLY_DONE, 2, 550, "5.1.1", 2, "5.1.1 a\n5.1.1 b" },
		{ "still more", { "250-a", "250-b" }, REPLY_MORE, 2, 250, "", 2,
		    "a\nb" },
		{ "enh of another class ignored", { "550 2.0.0 odd" },
		    REPLY_DONE, 1, 550, "", 1, "2.0.0 odd" },
		{ "enh bad form ignored", { "550 5.1 x" }, REPLY_DONE, 1, 550,
		    "", 1, "5.1 x" },
		{ "enh glued to text ignored", { "550 5.1.1x" }, REPLY_DONE, 1,
		    550, "", 1, "5.1.1x" },
		{ "421", { "421 4.7.0 bye" }, REPLY_DONE, 1, 421, "4.7.0", 1,
		    "4.7.0 bye" },
		/* not SMTP */
		{ "HTTP", { "HTTP/1.1 400 Bad" }, REPLY_ERROR, 1, 0, NULL, 0,
		    NULL },
		{ "two digits", { "25" }, REPLY_ERROR, 1, 0, NULL, 0, NULL },
		{ "empty", { "" }, REPLY_ERROR, 1, 0, NULL, 0, NULL },
		{ "1xx", { "150 go" }, REPLY_ERROR, 1, 0, NULL, 0, NULL },
		{ "6xx", { "650 no" }, REPLY_ERROR, 1, 0, NULL, 0, NULL },
		{ "letter in code", { "2x0 no" }, REPLY_ERROR, 1, 0, NULL, 0,
		    NULL },
		{ "bad separator", { "250_ok" }, REPLY_ERROR, 1, 0, NULL, 0,
		    NULL },
		{ "four digits", { "2500 ok" }, REPLY_ERROR, 1, 0, NULL, 0,
		    NULL },
		{ "code changes", { "250-a", "550 b" }, REPLY_ERROR, 2, 0,
		    NULL, 0, NULL },
		{ "garbage continuation", { "250-a", "hello" }, REPLY_ERROR, 2,
		    0, NULL, 0, NULL },
	};
	struct reply r;
	size_t i, used;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		size_t nl;
		enum reply_feed_res res;

		for (nl = 0; nl < 5 && cases[i].lines[nl]; nl++)
			;
		reply_init(&r);
		res = feed(&r, cases[i].lines, nl, &used);
		CHECK_INT(cases[i].name, res, cases[i].res);
		CHECK_UINT(cases[i].name, used, cases[i].used);
		if (res == REPLY_ERROR)
			CHECK_INT(cases[i].name, r.bad, 1);
		else {
			CHECK_INT(cases[i].name, r.code, cases[i].code);
			CHECK_STR(cases[i].name, r.enh, cases[i].enh);
			CHECK_UINT(cases[i].name, r.nlines, cases[i].nlines);
			CHECK_MEM(cases[i].name, r.text.data ? r.text.data : "",
			    r.text.len, cases[i].text, strlen(cases[i].text));
			CHECK_INT(cases[i].name, r.bad, 0);
		}
		reply_release(&r);
	}
	UNIT_DONE();
}

/* too_many_lines - a peer that never ends its reply is cut off */
static void
too_many_lines(void **state)
{
	struct reply r;
	size_t i;
	enum reply_feed_res res = REPLY_MORE;

	(void)state;
	reply_init(&r);
	for (i = 0; i < 10000 && res == REPLY_MORE; i++)
		res = reply_feed_line(&r, "250-more", 8);
	CHECK_INT("endless", res, REPLY_ERROR);
	CHECK_UINT("endless", i, REPLY_MAXLINES + 1);
	CHECK_INT("endless", r.bad, 1);
	reply_release(&r);
	reply_init(&r);
	for (i = 0; i + 1 < REPLY_MAXLINES; i++)
		reply_feed_line(&r, "250-x", 5);
	CHECK_INT("at the limit", reply_feed_line(&r, "250 end", 7),
	    REPLY_DONE);
	reply_release(&r);
	UNIT_DONE();
}

/* reset_reuse - after reply_reset the next reply starts clean */
static void
reset_reuse(void **state)
{
	struct reply r;

	(void)state;
	reply_init(&r);
	CHECK_INT("first", reply_feed_line(&r, "550 5.7.1 no", 12), REPLY_DONE);
	reply_reset(&r);
	CHECK_INT("reset", r.code, 0);
	CHECK_UINT("reset", r.nlines, 0);
	CHECK_STR("reset", r.enh, "");
	CHECK_INT("second", reply_feed_line(&r, "250 Ok", 6), REPLY_DONE);
	CHECK_INT("second", r.code, 250);
	CHECK_STR("second", r.enh, "");
	CHECK_STR("second", r.text.data, "Ok");
	reply_release(&r);
	UNIT_DONE();
}

/* enh_cases - reply_parse_enh */
static void
enh_cases(void **state)
{
	static const struct {
		const char *in;
		int len;
		const char *want;
	} cases[] = {
		{ "2.0.0", 5, "2.0.0" }, { "5.7.1 text", 5, "5.7.1" },
		{ "4.4.2", 5, "4.4.2" }, { "5.123.456 x", 9, "5.123.456" },
		{ "3.0.0", 0, NULL }, { "5.1", 0, NULL }, { "5.1.", 0, NULL },
		{ "5..1", 0, NULL }, { "5.1234.1", 0, NULL },
		{ "5.1.1234", 0, NULL }, { "5.1.1x", 0, NULL },
		{ "51.1.1", 0, NULL }, { "", 0, NULL }, { "x.1.1", 0, NULL },
	};
	char dst[16];
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		int n = reply_parse_enh(cases[i].in, strlen(cases[i].in), dst,
		    sizeof(dst));

		CHECK_INT(cases[i].in, n, cases[i].len);
		if (n > 0)
			CHECK_STR(cases[i].in, dst, cases[i].want);
	}
	CHECK_INT("bounded by n", reply_parse_enh("5.7.12", 5, dst,
	    sizeof(dst)), 5);
	CHECK_STR("bounded by n", dst, "5.7.1");
	UNIT_DONE();
}

/* round_trip - what the builder writes, the parser reads back */
static void
round_trip(void **state)
{
	struct buf b;
	struct reply r;
	size_t off = 0;
	enum reply_feed_res res = REPLY_MORE;

	(void)state;
	buf_init(&b, 4096);
	reply_add(&b, 250, "2.0.0", "first\nsecond\nthird");
	reply_init(&r);
	while (off < b.len && res == REPLY_MORE) {
		const char *e = memchr(b.data + off, '\n', b.len - off);

		assert_non_null(e);
		res = reply_feed_line(&r, b.data + off,
		    (size_t)(e - (b.data + off)) - 1);
		off = (size_t)(e - b.data) + 1;
	}
	CHECK_INT("round trip", res, REPLY_DONE);
	CHECK_UINT("round trip", off, b.len);
	CHECK_INT("round trip", r.code, 250);
	CHECK_STR("round trip", r.enh, "2.0.0");
	CHECK_UINT("round trip", r.nlines, 3);
	CHECK_STR("round trip", r.text.data,
	    "2.0.0 first\n2.0.0 second\n2.0.0 third");
	reply_release(&r);
	buf_release(&b);
	UNIT_DONE();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(add_cases),
		cmocka_unit_test(hostile_text),
		cmocka_unit_test(lines_cases),
		cmocka_unit_test(cap),
		cmocka_unit_test(parse_cases),
		cmocka_unit_test(too_many_lines),
		cmocka_unit_test(reset_reuse),
		cmocka_unit_test(enh_cases),
		cmocka_unit_test(round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

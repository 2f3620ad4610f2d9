/*
 * test_data - the DATA decoder (smtp/data): dot-unstuffing, the end only
 * at CR LF "." CR LF, bare CR / LF / NUL flagged, and no SMTP smuggling
 * variant ending the data, whatever the input's split.
 */
#include <stdlib.h>

#include "unit.h"

#include "smtp/data.h"

struct result {
	char		 out[8192];
	size_t		 outlen;
	size_t		 consumed;
	int		 done;
	unsigned	 flags;
	int		 slack_ok;	/* every call kept within n + SLACK */
};

/*
 * run - feed in[0..n) cut at cuts[] (sorted), stopping at the end of data
 * as a session would. Each call gets an output buffer of exactly
 * n + DATA_OUT_SLACK bytes from malloc, so ASan sees any overrun.
 */
static void
run(const char *in, size_t n, const size_t *cuts, size_t ncuts,
    struct result *r)
{
	struct data_dec d;
	size_t off = 0, c;

	memset(r, 0, sizeof(*r));
	r->slack_ok = 1;
	data_init(&d);
	for (c = 0; c <= ncuts && !d.done; c++) {
		size_t end = c < ncuts ? cuts[c] : n, len = end - off, k, o;
		char *out = malloc(len + DATA_OUT_SLACK);

		assert_non_null(out);
		o = 9999;
		k = data_feed(&d, in + off, len, out, &o);
		if (o > len + DATA_OUT_SLACK || k > len)
			r->slack_ok = 0;
		else if (r->outlen + o <= sizeof(r->out)) {
			memcpy(r->out + r->outlen, out, o);
			r->outlen += o;
		}
		free(out);
		off += k;
		if (!d.done && k != len)
			r->slack_ok = 0;	/* stopped early, not at the end */
	}
	r->consumed = off;
	r->done = d.done;
	r->flags = d.flags;
}

struct data_case {
	const char	*name;
	const char	*in;
	size_t		 inlen;		/* 0: strlen */
	const char	*out;
	size_t		 outlen;	/* 0: strlen */
	int		 done;
	size_t		 consumed;	/* 0: all of the input */
	unsigned	 flags;
};

#define BIN(s)	s, sizeof(s) - 1

static const struct data_case cases[] = {
	/* ordinary messages */
	{ "simple", "hello\r\n.\r\n", 0, "hello\r\n", 0, 1, 0, 0 },
	{ "empty message", ".\r\n", 0, "", 0, 1, 0, 0 },
	{ "blank line then end", "\r\n.\r\n", 0, "\r\n", 0, 1, 0, 0 },
	{ "headers and body", "Subject: x\r\n\r\nbody\r\n.\r\n", 0,
	    "Subject: x\r\n\r\nbody\r\n", 0, 1, 0, 0 },
	{ "next command left over", "a\r\n.\r\nQUIT\r\n", 0, "a\r\n", 0, 1, 6,
	    0 },
	{ "second end left over", "a\r\n.\r\n.\r\n", 0, "a\r\n", 0, 1, 6, 0 },
	/* dot-unstuffing */
	{ "stuffed dot", "a\r\n..b\r\n.\r\n", 0, "a\r\n.b\r\n", 0, 1, 0, 0 },
	{ "stuffed lone dot", "a\r\n..\r\n.\r\n", 0, "a\r\n.\r\n", 0, 1, 0,
	    0 },
	{ "first line stuffed", "..x\r\n.\r\n", 0, ".x\r\n", 0, 1, 0, 0 },
	{ "first line dot text", ".x\r\n.\r\n", 0, "x\r\n", 0, 1, 0, 0 },
	{ "dot space", ". \r\n.\r\n", 0, " \r\n", 0, 1, 0, 0 },
	{ "three dots", "...\r\n.\r\n", 0, "..\r\n", 0, 1, 0, 0 },
	{ "dot inside line kept", "a.b\r\n.\r\n", 0, "a.b\r\n", 0, 1, 0, 0 },
	/* SMTP smuggling: none of these is the end */
	{ "LF.LF", "a\n.\nb\r\n.\r\n", 0, "a\n.\nb\r\n", 0, 1, 0,
	    DATA_BARELF },
	{ "CR.CR", "a\r.\rb\r\n.\r\n", 0, "a\r.\rb\r\n", 0, 1, 0,
	    DATA_BARECR },
	{ "LF.CRLF", "a\n.\r\nb\r\n.\r\n", 0, "a\n.\r\nb\r\n", 0, 1, 0,
	    DATA_BARELF },
	{ "CRLF.LF", "a\r\n.\nb\r\n.\r\n", 0, "a\r\n\nb\r\n", 0, 1, 0,
	    DATA_BARELF },
	{ "CRLF.CR", "a\r\n.\rb\r\n.\r\n", 0, "a\r\n\rb\r\n", 0, 1, 0,
	    DATA_BARECR },
	{ "CR.CRLF", "a\r.\r\nb\r\n.\r\n", 0, "a\r.\r\nb\r\n", 0, 1, 0,
	    DATA_BARECR },
	{ "CRLF.CR CRLF", "a\r\n.\r\r\n.\r\n", 0, "a\r\n\r\r\n", 0, 1, 0,
	    DATA_BARECR },
	{ "CRLF.LF.CRLF", "x\r\n.\n.\r\n", 0, "x\r\n\n.\r\n", 0, 0, 0,
	    DATA_BARELF },
	{ "LF.LF alone", "a\n.\n", 0, "a\n.\n", 0, 0, 0, DATA_BARELF },
	{ "CR.CR alone", "a\r.\r", 0, "a\r.", 0, 0, 0, DATA_BARECR },
	{ "LF.CRLF alone", "a\n.\r\n", 0, "a\n.\r\n", 0, 0, 0, DATA_BARELF },
	{ "CRLF.LF alone", "a\r\n.\n", 0, "a\r\n\n", 0, 0, 0, DATA_BARELF },
	{ "CRLF.CR alone", "a\r\n.\r", 0, "a\r\n", 0, 0, 0, 0 },
	{ "CRLF.CR then X", "a\r\n.\rX", 0, "a\r\n\rX", 0, 0, 0,
	    DATA_BARECR },
	{ "smuggled command after LF.LF", "a\n.\nMAIL FROM:<x@y>\r\n", 0,
	    "a\n.\nMAIL FROM:<x@y>\r\n", 0, 0, 0, DATA_BARELF },
	{ "CR CR LF", "a\r\r\n.\r\n", 0, "a\r\r\n", 0, 1, 0, DATA_BARECR },
	{ "LF at the very start", "\n.\r\n", 0, "\n.\r\n", 0, 0, 0,
	    DATA_BARELF },
	{ "CR at the very start", "\r.\r\n", 0, "\r.\r\n", 0, 0, 0,
	    DATA_BARECR },
	/* other flags */
	{ "NUL", BIN("a\0b\r\n.\r\n"), BIN("a\0b\r\n"), 1, 0, DATA_NUL },
	{ "8-bit", "\xc3\xa9\r\n.\r\n", 0, "\xc3\xa9\r\n", 0, 1, 0,
	    DATA_8BIT },
	{ "nothing yet", "", 0, "", 0, 0, 0, 0 },
	{ "unfinished line", "partial", 0, "partial", 0, 0, 0, 0 },
};

/* check - compare a run with the case */
static void
check(const char *name, const struct data_case *t, size_t n,
    const struct result *r)
{
	CHECK_INT(name, r->slack_ok, 1);
	CHECK_INT(name, r->done, t->done);
	CHECK_UINT(name, r->consumed, t->consumed ? t->consumed : n);
	CHECK_MEM(name, r->out, r->outlen, t->out,
	    t->outlen ? t->outlen : strlen(t->out));
	CHECK_INT(name, r->flags, t->flags);
}

/* every_split - every case whole, cut once, cut twice, and bytewise */
static void
every_split(void **state)
{
	size_t i, a, b, cuts[256];
	struct result r;
	char name[200];

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		const struct data_case *t = &cases[i];
		size_t n = t->inlen ? t->inlen : strlen(t->in);

		run(t->in, n, NULL, 0, &r);
		check(t->name, t, n, &r);
		for (a = 0; a <= n; a++)
			for (b = a; b <= n; b++) {
				cuts[0] = a;
				cuts[1] = b;
				run(t->in, n, cuts, 2, &r);
				snprintf(name, sizeof(name), "%s, cut at %zu "
				    "and %zu", t->name, a, b);
				check(name, t, n, &r);
			}
		for (a = 0; a < n; a++)
			cuts[a] = a + 1;
		run(t->in, n, cuts, n, &r);
		snprintf(name, sizeof(name), "%s, byte by byte", t->name);
		check(name, t, n, &r);
	}
	UNIT_DONE();
}

/*
 * reference - what any input must give, from first principles: the end is
 * the first CR LF "." CR LF in CR LF + input; the message is what precedes
 * its "." with every dot right after a CR LF (or at the start) removed; a
 * CR not followed by LF is bare, and so is an LF not preceded by CR. When
 * the end has not come, a trailing CR is still pending (not yet output).
 */
static void
reference(const char *in, size_t n, struct result *r)
{
	size_t i, end = n, mlen;

	memset(r, 0, sizeof(*r));
	r->slack_ok = 1;
	for (i = 0; i + 2 < n + 2; i++) {
		/* virtual CR LF before in[0] */
		int crlf = i == 0 || (i >= 2 && in[i - 2] == '\r' &&
		    in[i - 1] == '\n');

		if (crlf && i + 3 <= n && in[i] == '.' && in[i + 1] == '\r' &&
		    in[i + 2] == '\n') {
			end = i;
			r->done = 1;
			break;
		}
	}
	r->consumed = r->done ? end + 3 : n;
	mlen = r->done ? end : n;
	for (i = 0; i < mlen; i++) {
		int bol = i == 0 || (i >= 2 && in[i - 2] == '\r' &&
		    in[i - 1] == '\n');

		if (in[i] == '.' && bol)
			continue;
		r->out[r->outlen++] = in[i];
	}
	if (!r->done && n > 0 && in[n - 1] == '\r')
		r->outlen--;	/* pending */
	for (i = 0; i < r->consumed; i++) {
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			r->flags |= DATA_BARELF;
		if (in[i] == '\r' && i + 1 < r->consumed && in[i + 1] != '\n')
			r->flags |= DATA_BARECR;
		if (in[i] == '\0')
			r->flags |= DATA_NUL;
	}
}

/* rnd - xorshift, so a failure can be replayed */
static uint32_t
rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* random_inputs - the decoder against the reference, random splits */
static void
random_inputs(void **state)
{
	static const char alphabet[] = { '\r', '\n', '.', 'a', '\r', '\n',
	    '.', '\0' };
	uint32_t seed = 0x5eed1234;
	char in[24], name[200], esc[200];
	size_t iter, i, cuts[24];
	struct result r, want;

	(void)state;
	for (iter = 0; iter < 40000; iter++) {
		size_t n = rnd(&seed) % 18, ncuts = 0;

		for (i = 0; i < n; i++)
			in[i] = alphabet[rnd(&seed) % sizeof(alphabet)];
		for (i = 1; i < n; i++)
			if (rnd(&seed) % 3 == 0)
				cuts[ncuts++] = i;
		reference(in, n, &want);
		snprintf(name, sizeof(name), "random #%zu \"%s\"", iter,
		    unit_esc(in, n, esc, sizeof(esc)));
		run(in, n, NULL, 0, &r);
		CHECK_INT(name, r.slack_ok, 1);
		CHECK_INT(name, r.done, want.done);
		CHECK_UINT(name, r.consumed, want.consumed);
		CHECK_MEM(name, r.out, r.outlen, want.out, want.outlen);
		CHECK_INT(name, r.flags & (DATA_BARELF | DATA_BARECR |
		    DATA_NUL), want.flags);
		run(in, n, cuts, ncuts, &r);
		CHECK_INT(name, r.done, want.done);
		CHECK_UINT(name, r.consumed, want.consumed);
		CHECK_MEM(name, r.out, r.outlen, want.out, want.outlen);
		CHECK_INT(name, r.flags & (DATA_BARELF | DATA_BARECR |
		    DATA_NUL), want.flags);
		if (*unit_nfail() > 20)
			break;
	}
	UNIT_DONE();
}

/* long_lines - over 1000 octets with CRLF (RFC 5321 4.5.3.1.6) is flagged */
static void
long_lines(void **state)
{
	static const struct {
		const char *name;
		size_t textlen;
		int dot;	/* first line starts with a stuffed dot */
		unsigned flags;
	} cases_[] = {
		{ "998+CRLF", 998, 0, 0 },
		{ "999+CRLF", 999, 0, DATA_LONGLINE },
		{ "5000+CRLF", 5000, 0, DATA_LONGLINE },
		{ "short lines only", 10, 0, 0 },
	};
	char in[6000];
	size_t i, n, a, cuts[2];
	struct result r;

	(void)state;
	for (i = 0; i < NELEM(cases_); i++) {
		n = 0;
		memset(in, 'x', cases_[i].textlen);
		n += cases_[i].textlen;
		memcpy(in + n, "\r\nshort\r\n.\r\n", 12);
		n += 12;
		for (a = 0; a <= n; a += 37) {
			char name[80];

			cuts[0] = a;
			run(in, n, cuts, 1, &r);
			snprintf(name, sizeof(name), "%s, cut at %zu",
			    cases_[i].name, a);
			CHECK_INT(name, r.done, 1);
			CHECK_UINT(name, r.consumed, n);
			CHECK_UINT(name, r.outlen, n - 3);
			CHECK_INT(name, r.flags, cases_[i].flags);
		}
	}
	/* 1000 octets of CRLF lines in total never add up to a long line */
	n = 0;
	for (i = 0; i < 600; i++) {
		memcpy(in + n, "ab\r\n", 4);
		n += 4;
	}
	memcpy(in + n, ".\r\n", 3);
	run(in, n + 3, NULL, 0, &r);
	CHECK_INT("many short lines", r.flags, 0);
	CHECK_INT("many short lines", r.done, 1);
	UNIT_DONE();
}

/* after_done - once done, the decoder takes nothing more */
static void
after_done(void **state)
{
	struct data_dec d;
	char out[32];
	size_t o;

	(void)state;
	data_init(&d);
	CHECK_UINT("end", data_feed(&d, ".\r\nDATA", 7, out, &o), 3);
	CHECK_INT("done", d.done, 1);
	CHECK_UINT("end", o, 0);
	CHECK_UINT("nothing after", data_feed(&d, "more\r\n", 6, out, &o), 0);
	CHECK_UINT("nothing after", o, 0);
	data_init(&d);
	CHECK_INT("re-init", d.done, 0);
	CHECK_INT("re-init", d.flags, 0);
	CHECK_UINT("re-init", data_feed(&d, "x\r\n", 3, out, &o), 3);
	CHECK_MEM("re-init", out, o, "x\r\n", 3);
	UNIT_DONE();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_split),
		cmocka_unit_test(random_inputs),
		cmocka_unit_test(long_lines),
		cmocka_unit_test(after_done),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

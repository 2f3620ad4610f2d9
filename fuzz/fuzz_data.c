/*
 * fuzz_data - the DATA decoder, src/smtp/data.c (dot-unstuffing and the
 * end of data, where SMTP smuggling lives).
 *
 * Input: a split header (fuzz.h), then the bytes after the 354 reply.
 * They are decoded three ways: in one call, in the fuzzer's chunks and one
 * byte at a time, each chunk an exact-size heap copy and each output
 * buffer exactly n + DATA_OUT_SLACK bytes, as data.h demands. Invariants:
 *   - differential: every way gives the same output bytes, flags, done
 *     and end position;
 *   - the end is found only right after "\r\n.\r\n" in the raw input
 *     (the start of input counts as after CRLF), and at the first one;
 *     without one, all input is consumed and done stays 0;
 *   - output and flags equal an independent model: a "." at a line start
 *     is dropped, everything else is copied (a final CR is held back until
 *     the next byte shows whether it ends a line); BARELF is an LF without
 *     CR before it, BARECR a CR with something else after it, LONGLINE a
 *     line over 1000 octets counting its CRLF;
 *   - once done, data_feed consumes nothing.
 */
#include <string.h>

#include "fuzz.h"
#include "smtp/data.h"
#include "smtp/limits.h"

struct result {
	char		*out;
	size_t		 outlen, end;	/* end: input consumed */
	unsigned	 flags;
	int		 done;
};

/* model - what data.h promises for p[0..n) */
static void
model(const uint8_t *p, size_t n, struct result *w)
{
	size_t i, e = n, line = 0, upto;
	int bol = 1;

	memset(w, 0, sizeof(*w));
	/* the first "." CR LF at a line start, the start counting as one */
	for (i = 0; i + 2 < n; i++)
		if (p[i] == '.' && p[i + 1] == '\r' && p[i + 2] == '\n' &&
		    (i == 0 || (i >= 2 && p[i - 2] == '\r' &&
		    p[i - 1] == '\n'))) {
			e = i + 3;
			w->done = 1;
			break;
		}
	w->end = e;
	w->out = malloc(n + 1);
	if (w->out == NULL)
		abort();
	/* the final "\r\n" of the end marker is not message data */
	upto = w->done ? e - 2 : n;
	for (i = 0; i < upto; i++) {
		uint8_t c = p[i];

		if (bol && c == '.') {
			bol = 0;
			continue;
		}
		w->out[w->outlen++] = (char)c;
		bol = c == '\n' && i > 0 && p[i - 1] == '\r';
	}
	/* an undecided CR at the end of the input is held back */
	if (!w->done && n > 0 && p[n - 1] == '\r')
		w->outlen--;
	for (i = 0; i < e; i++) {
		if (p[i] == 0)
			w->flags |= DATA_NUL;
		else if (p[i] >= 0x80)
			w->flags |= DATA_8BIT;
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			w->flags |= DATA_BARELF;
		if (p[i] == '\r' && i + 1 < e && p[i + 1] != '\n')
			w->flags |= DATA_BARECR;
		if (++line > SMTP_TEXTLINE_MAX)
			w->flags |= DATA_LONGLINE;
		if (p[i] == '\n' && i > 0 && p[i - 1] == '\r')
			line = 0;
	}
}

/*
 * feed_in - decode in[0..n) (an exact-size heap block) into r, through
 * out, an exact n + DATA_OUT_SLACK heap block; stops adding once done
 */
static void
feed_in(struct data_dec *d, struct result *r, const char *in, size_t n,
    char *out)
{
	size_t used, olen = (size_t)-1;

	used = data_feed(d, in, n, out, &olen);
	FZ_CHECK(used <= n);
	FZ_CHECK(olen <= n + DATA_OUT_SLACK);
	if (r->done)
		FZ_CHECK(used == 0 && olen == 0);
	if (!d->done)
		FZ_CHECK(used == n);
	memcpy(r->out + r->outlen, out, olen);
	r->outlen += olen;
	r->end += used;
	r->done = d->done;
	r->flags = d->flags;
}

/* feed - decode one chunk, copied to exact-size blocks */
static void
feed(struct data_dec *d, struct result *r, const uint8_t *p, size_t n)
{
	char *in = fz_dup(p, n), *out = malloc(n + DATA_OUT_SLACK);

	if (out == NULL)
		abort();
	feed_in(d, r, in, n, out);
	free(out);
	free(in);
}

/* same - two results agree in everything */
static void
same(const struct result *a, const struct result *b)
{
	FZ_CHECK(a->done == b->done);
	FZ_CHECK(a->end == b->end);
	FZ_CHECK(a->flags == b->flags);
	FZ_CHECK(a->outlen == b->outlen);
	FZ_CHECK(memcmp(a->out, b->out, a->outlen) == 0);
}

/* start - an empty result with room for everything */
static void
start(struct data_dec *d, struct result *r, size_t n)
{
	data_init(d);
	memset(r, 0, sizeof(r[0]));
	r->out = malloc(n + DATA_OUT_SLACK);
	if (r->out == NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	struct fz_split sp;
	struct result want, one, chunks, bytes;
	struct data_dec d;
	char *in1, *out1;
	size_t i;

	fz_split_read(&f, &sp);
	model(f.p, f.n, &want);

	start(&d, &one, f.n);
	feed(&d, &one, f.p, f.n);
	feed(&d, &one, f.p, 0);

	start(&d, &chunks, f.n);
	for (i = 0; i + 1 < sp.ncut; i++) {
		/* after the end the rest is the next command's: refused */
		int was_done = chunks.done;

		feed(&d, &chunks, f.p + sp.cut[i], sp.cut[i + 1] - sp.cut[i]);
		if (was_done)
			break;
	}

	/* one-byte blocks, reused: still exact-size for ASan */
	start(&d, &bytes, f.n);
	if ((in1 = malloc(1)) == NULL || (out1 = malloc(1 +
	    DATA_OUT_SLACK)) == NULL)
		abort();
	for (i = 0; i < f.n && !bytes.done; i++) {
		in1[0] = (char)f.p[i];
		feed_in(&d, &bytes, in1, 1, out1);
	}
	free(in1);
	free(out1);
	if (bytes.done && i < f.n)
		feed(&d, &bytes, f.p + i, f.n - i);

	same(&one, &want);
	same(&chunks, &want);
	same(&bytes, &want);
	free(want.out);
	free(one.out);
	free(chunks.out);
	free(bytes.out);
	return 0;
}

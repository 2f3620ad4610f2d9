/*
 * fuzz_line - command-line framing with a cap, src/smtp/line.c.
 *
 * Input: two bytes choosing the cap, a split header (fuzz.h), then the
 * bytes a client sent. They are framed three ways, each chunk passed as
 * an exact-size heap copy so a read past a chunk is caught by ASan:
 * in one piece, in the fuzzer's chunks, and one byte at a time. Every
 * way must give exactly the lines (text and flags) of a simple model of
 * line.h's contract, and:
 *   - a ready line never exceeds the cap: text + CRLF <= max (text + LF
 *     for a bare-LF line), and is NUL-terminated;
 *   - a line over the cap is reported LINE_TOOLONG with its text dropped;
 *   - line_feed consumes nothing while a line is ready;
 *   - what is left at the end is reported by line_partial.
 */
#include <string.h>

#include "fuzz.h"
#include "smtp/line.h"
#include "smtp/limits.h"

struct mline {
	size_t		off, len;	/* text in the payload */
	unsigned	flags;
};

struct model {
	struct mline	*l;
	size_t		 n;
	size_t		 tail;		/* bytes after the last LF */
	unsigned	 tailflags;	/* NUL, 8BIT, TOOLONG of the tail */
};

/* model_build - the lines line.h promises for p[0..n) with cap max */
static void
model_build(struct model *m, const uint8_t *p, size_t n, size_t max)
{
	size_t a = 0, i;

	m->l = calloc(n + 1, sizeof(*m->l));
	if (m->l == NULL)
		abort();
	m->n = 0;
	while (a < n) {
		const uint8_t *lf = memchr(p + a, '\n', n - a);
		size_t end = lf ? (size_t)(lf - p) + 1 : n;
		unsigned f = 0;

		for (i = a; i < end; i++) {
			if (p[i] == 0)
				f |= LINE_NUL;
			else if (p[i] >= 0x80)
				f |= LINE_8BIT;
		}
		if (lf == NULL) {
			m->tail = end - a;
			m->tailflags = f | (m->tail >= max ? LINE_TOOLONG : 0);
			return;
		}
		if (end - a > max) {
			m->l[m->n].off = a;
			m->l[m->n].len = 0;
			m->l[m->n].flags = f | LINE_TOOLONG;
		} else {
			size_t len = end - a - 1;

			if (len > 0 && p[a + len - 1] == '\r')
				len--;
			else
				f |= LINE_BARELF;
			if (memchr(p + a, '\r', len) != NULL)
				f |= LINE_CR;
			m->l[m->n].off = a;
			m->l[m->n].len = len;
			m->l[m->n].flags = f;
		}
		m->n++;
		a = end;
	}
	m->tail = 0;
	m->tailflags = 0;
}

struct run {
	struct linebuf	 lb;
	const struct model *m;
	const uint8_t	*payload;
	size_t		 max, got;
};

/* take_line - compare a ready line with the model's next one */
static void
take_line(struct run *r)
{
	const struct mline *want;
	struct linebuf *lb = &r->lb;

	FZ_CHECK(r->got < r->m->n);
	want = &r->m->l[r->got++];
	FZ_CHECK(lb->flags == want->flags);
	FZ_CHECK(lb->b.len == want->len);
	FZ_CHECK(lb->b.len <= lb->b.max);
	if (!(lb->flags & LINE_TOOLONG))
		FZ_CHECK(lb->b.len + ((lb->flags & LINE_BARELF) ? 1 : 2) <=
		    r->max);
	if (lb->b.len > 0) {
		FZ_CHECK(memcmp(lb->b.data, r->payload + want->off,
		    want->len) == 0);
		FZ_CHECK(lb->b.data[lb->b.len] == '\0');
	}
	/* a ready line blocks the framer until it is cleared */
	FZ_CHECK(line_feed(lb, "x\n", 2) == 0);
	FZ_CHECK(!line_partial(lb));
	line_clear(lb);
}

/* feed_in - frame copy[0..n) (exact-size heap block), taking its lines */
static void
feed_in(struct run *r, const char *copy, size_t n)
{
	size_t used = 0, k;

	do {
		k = line_feed(&r->lb, copy + used, n - used);
		FZ_CHECK(k <= n - used);
		used += k;
		if (line_ready(&r->lb))
			take_line(r);
		else
			FZ_CHECK(used == n);
	} while (used < n);
}

/* feed_chunk - frame one chunk from an exact-size copy */
static void
feed_chunk(struct run *r, const uint8_t *p, size_t n)
{
	char *copy = fz_dup(p, n);

	feed_in(r, copy, n);
	free(copy);
}

/* run_end - all lines seen, and the tail is what the model says */
static void
run_end(struct run *r)
{
	const struct model *m = r->m;
	struct linebuf *lb = &r->lb;

	FZ_CHECK(r->got == m->n);
	FZ_CHECK(!line_ready(lb));
	FZ_CHECK(line_partial(lb) == (m->tail > 0));
	if (m->tail > 0) {
		FZ_CHECK(lb->flags == m->tailflags);
		if (!(lb->flags & LINE_TOOLONG))
			FZ_CHECK(lb->b.len == m->tail);
	}
	line_release(lb);
}

/* choose_max - a cap from two bytes: small ones, and the real ones */
static size_t
choose_max(unsigned v)
{
	static const size_t real[] = { SMTP_CMDLINE_MAX,
	    SMTP_CMDLINE_EXT_MAX, SMTP_TEXTLINE_MAX, 12288 };

	if (v & 0x8000)
		return real[v % 4];
	return 1 + v % 1100;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	struct fz_split sp;
	struct model m;
	struct run r;
	size_t max, i;
	char *one;

	max = choose_max(fz_u16(&f));
	fz_split_read(&f, &sp);
	model_build(&m, f.p, f.n, max);

	/* one piece */
	memset(&r, 0, sizeof(r));
	r.m = &m, r.payload = f.p, r.max = max;
	line_init(&r.lb, max);
	feed_chunk(&r, f.p, f.n);
	run_end(&r);

	/* the fuzzer's chunks */
	memset(&r, 0, sizeof(r));
	r.m = &m, r.payload = f.p, r.max = max;
	line_init(&r.lb, max);
	for (i = 0; i + 1 < sp.ncut; i++)
		feed_chunk(&r, f.p + sp.cut[i], sp.cut[i + 1] - sp.cut[i]);
	run_end(&r);

	/* byte by byte: every boundary at once */
	memset(&r, 0, sizeof(r));
	r.m = &m, r.payload = f.p, r.max = max;
	line_init(&r.lb, max);
	if ((one = malloc(1)) == NULL)
		abort();
	for (i = 0; i < f.n; i++) {
		one[0] = (char)f.p[i];
		feed_in(&r, one, 1);
	}
	free(one);
	run_end(&r);

	free(m.l);
	return 0;
}

/*
 * fuzz - helpers shared by the libFuzzer targets (fuzz_*.c).
 *
 * Header-only (static functions): each target is one .c file that includes
 * this. Owns nothing; every pointer it returns is the caller's to free.
 *
 * Split header: targets that feed their input in pieces read a header
 * first: one byte k, then (k % (FZ_MAXSPLIT + 1)) little-endian 16-bit
 * offsets, each taken modulo the payload length + 1 and sorted. The rest
 * of the input is the payload. A header of a single 0x00 byte means "no
 * splits", which is what most seeds use.
 */
#ifndef SLUICE_FUZZ_H
#define SLUICE_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int	LLVMFuzzerInitialize(int *argc, char ***argv);

/* FZ_CHECK - an invariant of the code under test; abort() when broken */
#define FZ_CHECK(cond)							\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "invariant violated: %s at %s:%d\n", \
			    #cond, __FILE__, __LINE__);			\
			abort();					\
		}							\
	} while (0)

/*
 * fz_strict - is FUZZ_STRICT set in the environment? Checks for bugs that
 * are known and reported (fuzz/crashes/) are skipped unless it is, so that
 * fuzzing can go on looking for new ones; `make repro` sets it.
 */
static inline int
fz_strict(void)
{
	static int v = -1;

	if (v == -1) {
		const char *e = getenv("FUZZ_STRICT");

		v = e != NULL && *e != '\0' && *e != '0';
	}
	return v;
}

#define FZ_MAXSPLIT	32

/* A reader over the fuzzer's input. */
struct fz {
	const uint8_t	*p;
	size_t		 n;
};

/* fz_u8 - next byte, 0 once the input is used up */
static inline unsigned
fz_u8(struct fz *f)
{
	unsigned v;

	if (f->n == 0)
		return 0;
	v = f->p[0];
	f->p++;
	f->n--;
	return v;
}

/* fz_u16 - next little-endian 16-bit value */
static inline unsigned
fz_u16(struct fz *f)
{
	unsigned lo = fz_u8(f);

	return lo | (fz_u8(f) << 8);
}

/* Chunk boundaries: payload[cut[i] .. cut[i + 1]) for i < ncut - 1. */
struct fz_split {
	size_t	cut[FZ_MAXSPLIT + 2];
	size_t	ncut;
};

/* size_cmp - qsort order for offsets */
static inline int
fz_size_cmp(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * fz_split_read - read a split header from f; what is left in f is the
 * payload. Empty chunks (repeated offsets) are kept on purpose: feeding
 * zero bytes is a case the code under test must handle.
 */
static inline void
fz_split_read(struct fz *f, struct fz_split *sp)
{
	size_t k = fz_u8(f) % (FZ_MAXSPLIT + 1), offs[FZ_MAXSPLIT], i;

	for (i = 0; i < k; i++)
		offs[i] = fz_u16(f);
	for (i = 0; i < k; i++)
		offs[i] %= f->n + 1;
	qsort(offs, k, sizeof(offs[0]), fz_size_cmp);
	sp->ncut = 0;
	sp->cut[sp->ncut++] = 0;
	for (i = 0; i < k; i++)
		sp->cut[sp->ncut++] = offs[i];
	sp->cut[sp->ncut++] = f->n;
}

/*
 * fz_dup - an exact-size heap copy of p[0..n), so that AddressSanitizer
 * catches a read one byte past a chunk (malloc(0) is a valid, empty block).
 */
static inline char *
fz_dup(const void *p, size_t n)
{
	char *d = malloc(n);

	if (d == NULL)
		abort();	/* ASan's malloc(0) is never NULL */
	if (n > 0)
		memcpy(d, p, n);
	return d;
}

#endif

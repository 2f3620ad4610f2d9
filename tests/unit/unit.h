/*
 * unit - helpers shared by the table-driven cmocka tests.
 *
 * A test walks its table and checks each case with CHECK_*; a failed check
 * prints the case name, the expression, what it got and what it wanted,
 * and is counted, so one run shows every failing case. UNIT_DONE() at the
 * end of a test fails it if any check failed.
 */
#ifndef SLUICE_UNIT_H
#define SLUICE_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

/* Tables leave the fields a case does not check at zero. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

/* unit_nfail - the failed checks of the running test */
static inline int *
unit_nfail(void)
{
	static int n;

	return &n;
}

/* unit_esc - s[0..n) with control and 8-bit bytes escaped, for messages */
static inline const char *
unit_esc(const char *s, size_t n, char *dst, size_t dstsize)
{
	size_t i, o = 0;

	if (s == NULL)
		return "(null)";
	for (i = 0; i < n && o + 6 < dstsize; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r')
			o += (size_t)snprintf(dst + o, dstsize - o, "\\r");
		else if (c == '\n')
			o += (size_t)snprintf(dst + o, dstsize - o, "\\n");
		else if (c == '\\' || c == '"')
			o += (size_t)snprintf(dst + o, dstsize - o, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			o += (size_t)snprintf(dst + o, dstsize - o, "\\x%02x",
			    c);
		else
			dst[o++] = (char)c;
	}
	if (i < n && o + 4 < dstsize)
		o += (size_t)snprintf(dst + o, dstsize - o, "...");
	dst[o < dstsize ? o : dstsize - 1] = '\0';
	return dst;
}

static inline void
unit_fail(const char *file, int line, const char *cname, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

/* unit_fail - report one failed check of case cname */
static inline void
unit_fail(const char *file, int line, const char *cname, const char *fmt,
    ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	print_error("%s:%d: case \"%s\": %s\n", file, line, cname ? cname :
	    "?", msg);
	(*unit_nfail())++;
}

/* unit_check_int - integers */
static inline int
unit_check_int(const char *file, int line, const char *cname,
    const char *expr, long long got, long long want)
{
	if (got == want)
		return 1;
	unit_fail(file, line, cname, "%s: got %lld, want %lld", expr, got,
	    want);
	return 0;
}

/* unit_check_uint - unsigned 64-bit integers */
static inline int
unit_check_uint(const char *file, int line, const char *cname,
    const char *expr, unsigned long long got, unsigned long long want)
{
	if (got == want)
		return 1;
	unit_fail(file, line, cname, "%s: got %llu, want %llu", expr, got,
	    want);
	return 0;
}

/* unit_check_mem - byte strings (may hold NULs) */
static inline int
unit_check_mem(const char *file, int line, const char *cname,
    const char *expr, const char *got, size_t glen, const char *want,
    size_t wlen)
{
	char g[700], w[700];

	if (got != NULL && want != NULL && glen == wlen &&
	    memcmp(got, want, glen) == 0)
		return 1;
	if (got == NULL && want == NULL)
		return 1;
	unit_fail(file, line, cname, "%s: got \"%s\" (%zu bytes), want "
	    "\"%s\" (%zu bytes)", expr, unit_esc(got, glen, g, sizeof(g)),
	    glen, unit_esc(want, wlen, w, sizeof(w)), wlen);
	return 0;
}

/* unit_check_str - C strings; NULL equals only NULL */
static inline int
unit_check_str(const char *file, int line, const char *cname,
    const char *expr, const char *got, const char *want)
{
	return unit_check_mem(file, line, cname, expr, got,
	    got ? strlen(got) : 0, want, want ? strlen(want) : 0);
}

/* unit_check_has - does got contain want? */
static inline int
unit_check_has(const char *file, int line, const char *cname,
    const char *expr, const char *got, const char *want)
{
	char g[1200], w[400];

	if (got != NULL && strstr(got, want) != NULL)
		return 1;
	unit_fail(file, line, cname, "%s: got \"%s\", want it to contain "
	    "\"%s\"", expr, unit_esc(got, got ? strlen(got) : 0, g,
	    sizeof(g)), unit_esc(want, strlen(want), w, sizeof(w)));
	return 0;
}

#define CHECK_INT(c, got, want) \
	unit_check_int(__FILE__, __LINE__, (c), #got, (long long)(got), \
	    (long long)(want))
#define CHECK_UINT(c, got, want) \
	unit_check_uint(__FILE__, __LINE__, (c), #got, \
	    (unsigned long long)(got), (unsigned long long)(want))
#define CHECK_STR(c, got, want) \
	unit_check_str(__FILE__, __LINE__, (c), #got, (got), (want))
#define CHECK_MEM(c, got, glen, want, wlen) \
	unit_check_mem(__FILE__, __LINE__, (c), #got, (got), (glen), \
	    (want), (wlen))
#define CHECK_HAS(c, got, want) \
	unit_check_has(__FILE__, __LINE__, (c), #got, (got), (want))
#define CHECK_TRUE(c, cond) \
	unit_check_int(__FILE__, __LINE__, (c), #cond, !!(cond), 1)

/* UNIT_DONE - end of a test: fail it if any check failed */
#define UNIT_DONE() do { \
	int n_ = *unit_nfail(); \
	*unit_nfail() = 0; \
	if (n_ > 0) \
		fail_msg("%d check(s) failed, see above", n_); \
} while (0)

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

#endif

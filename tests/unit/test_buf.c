/*
 * test_buf - the growable, binary-safe buffer and its hard cap
 * (util/buf).
 */
#include "unit.h"

#include "util/buf.h"

/* cap_cases - appends that reach, meet and pass the cap */
static void
cap_cases(void **state)
{
	static const struct {
		const char *name;
		size_t max;
		size_t pre;		/* bytes appended first */
		size_t n;		/* then this many */
		int rc;
	} cases[] = {
		{ "well under", 100, 0, 10, 0 },
		{ "exactly the cap", 100, 0, 100, 0 },
		{ "one over", 100, 0, 101, -1 },
		{ "fill then one more", 100, 100, 1, -1 },
		{ "fill then zero", 100, 100, 0, 0 },
		{ "half then to the cap", 100, 50, 50, 0 },
		{ "half then over", 100, 50, 51, -1 },
		{ "cap 0, one byte", 0, 0, 1, -1 },
		{ "cap 0, nothing", 0, 0, 0, 0 },
		{ "large cap, at it", 100000, 99999, 1, 0 },
		{ "large cap, past it", 100000, 99999, 2, -1 },
		{ "cap 64 (first chunk)", 64, 0, 64, 0 },
		{ "cap 65", 65, 64, 1, 0 },
	};
	static char src[200000];
	size_t i;

	(void)state;
	memset(src, 'z', sizeof(src));
	for (i = 0; i < NELEM(cases); i++) {
		struct buf b;
		size_t want;

		buf_init(&b, cases[i].max);
		CHECK_INT(cases[i].name, buf_append(&b, src, cases[i].pre), 0);
		CHECK_INT(cases[i].name, buf_append(&b, src, cases[i].n),
		    cases[i].rc);
		want = cases[i].pre + (cases[i].rc == 0 ? cases[i].n : 0);
		CHECK_UINT(cases[i].name, b.len, want);
		CHECK_TRUE(cases[i].name, b.len <= b.max);
		/* storage is bounded by the cap too */
		CHECK_TRUE(cases[i].name, b.size <= cases[i].max + 1);
		if (b.data != NULL) {
			CHECK_INT(cases[i].name, b.data[b.len], '\0');
			CHECK_TRUE(cases[i].name, b.size > b.len);
		}
		buf_release(&b);
	}
	UNIT_DONE();
}

/* every_path - puts, putc and printf enforce the same cap, unchanged on -1 */
static void
every_path(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 8);
	CHECK_INT("puts fits", buf_puts(&b, "abcdef"), 0);
	CHECK_INT("puts over", buf_puts(&b, "xyz"), -1);
	CHECK_STR("puts over, unchanged", buf_cstr(&b), "abcdef");
	CHECK_INT("putc", buf_putc(&b, 'g'), 0);
	CHECK_INT("putc to the cap", buf_putc(&b, 'h'), 0);
	CHECK_INT("putc over", buf_putc(&b, 'i'), -1);
	CHECK_STR("putc over, unchanged", buf_cstr(&b), "abcdefgh");
	buf_reset(&b);
	CHECK_INT("printf fits", buf_printf(&b, "%d-%s", 42, "ab"), 0);
	CHECK_STR("printf fits", buf_cstr(&b), "42-ab");
	CHECK_INT("printf over", buf_printf(&b, "%s", "1234"), -1);
	CHECK_STR("printf over, unchanged", buf_cstr(&b), "42-ab");
	CHECK_UINT("printf over, unchanged", b.len, 5);
	CHECK_INT("printf to the cap", buf_printf(&b, "%03d", 7), 0);
	CHECK_STR("printf to the cap", buf_cstr(&b), "42-ab007");
	CHECK_INT("printf nothing", buf_printf(&b, "%s", ""), 0);
	CHECK_TRUE("storage", b.size <= 9);
	buf_release(&b);
	UNIT_DONE();
}

/* many_small - byte by byte up to the cap, then every further byte fails */
static void
many_small(void **state)
{
	struct buf b;
	size_t i, ok = 0;

	(void)state;
	buf_init(&b, 5000);
	for (i = 0; i < 6000; i++)
		if (buf_putc(&b, (int)('a' + i % 26)) == 0)
			ok++;
	CHECK_UINT("accepted", ok, 5000);
	CHECK_UINT("len", b.len, 5000);
	CHECK_TRUE("storage", b.size <= 5001);
	CHECK_INT("content", b.data[4999], 'a' + 4999 % 26);
	CHECK_INT("terminated", b.data[5000], '\0');
	buf_release(&b);
	UNIT_DONE();
}

/* huge_n - a length that would wrap around is refused */
static void
huge_n(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1000);
	CHECK_INT("some", buf_append(&b, "abc", 3), 0);
	CHECK_INT("SIZE_MAX", buf_append(&b, "x", SIZE_MAX), -1);
	CHECK_INT("SIZE_MAX - 1", buf_append(&b, "x", SIZE_MAX - 1), -1);
	CHECK_INT("SIZE_MAX - len", buf_append(&b, "x", SIZE_MAX - 2), -1);
	CHECK_STR("unchanged", buf_cstr(&b), "abc");
	buf_release(&b);
	UNIT_DONE();
}

/* no_practical_cap - a cap of SIZE_MAX ("no limit") still grows safely */
static void
no_practical_cap(void **state)
{
	struct buf b;
	size_t i;

	(void)state;
	buf_init(&b, SIZE_MAX);
	CHECK_INT("append", buf_append(&b, "hello", 5), 0);
	if (!CHECK_TRUE("storage holds the data", b.size > b.len)) {
		/* the buffer was overrun already: do not write more */
		buf_release(&b);
		UNIT_DONE();
		return;
	}
	CHECK_STR("content", buf_cstr(&b), "hello");
	for (i = 0; i < 100; i++)
		buf_puts(&b, "0123456789");
	CHECK_UINT("grown", b.len, 1005);
	CHECK_TRUE("storage holds the data", b.size > b.len);
	buf_release(&b);
	UNIT_DONE();
}

/* binary - NULs are data; len counts them, the NUL after is not counted */
static void
binary(void **state)
{
	static const char bin[] = { 'a', '\0', 'b', '\0', '\r', '\n', '\xff' };
	struct buf b;

	(void)state;
	buf_init(&b, 100);
	CHECK_INT("append", buf_append(&b, bin, sizeof(bin)), 0);
	CHECK_MEM("binary", b.data, b.len, bin, sizeof(bin));
	CHECK_INT("terminated", b.data[b.len], '\0');
	buf_release(&b);
	UNIT_DONE();
}

/* consume_cases - drop n bytes from the front */
static void
consume_cases(void **state)
{
	static const struct {
		size_t n;
		const char *want;
	} cases[] = {
		{ 0, "hello world" }, { 1, "ello world" }, { 6, "world" },
		{ 10, "d" }, { 11, "" }, { 12, "" }, { SIZE_MAX, "" },
	};
	struct buf b;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		char name[32];

		snprintf(name, sizeof(name), "consume %zu", cases[i].n);
		buf_init(&b, 64);
		buf_puts(&b, "hello world");
		buf_consume(&b, cases[i].n);
		CHECK_STR(name, buf_cstr(&b), cases[i].want);
		CHECK_UINT(name, b.len, strlen(cases[i].want));
		/* and it can fill to the cap again */
		CHECK_INT(name, buf_append(&b, "0123456789012345678901234567890"
		    "12345678901234567890123456789012", 64 - b.len), 0);
		CHECK_INT(name, buf_putc(&b, 'x'), -1);
		buf_release(&b);
	}
	buf_init(&b, 64);
	buf_consume(&b, 5);
	CHECK_STR("consume empty", buf_cstr(&b), "");
	buf_release(&b);
	UNIT_DONE();
}

/* lifecycle - reset keeps storage, release frees, NULL is a no-op */
static void
lifecycle(void **state)
{
	struct buf b;
	size_t size;

	(void)state;
	buf_init(&b, 100);
	CHECK_STR("fresh", buf_cstr(&b), "");
	CHECK_UINT("fresh", b.len, 0);
	buf_reset(&b);
	CHECK_STR("reset fresh", buf_cstr(&b), "");
	buf_puts(&b, "abc");
	size = b.size;
	buf_reset(&b);
	CHECK_STR("reset", buf_cstr(&b), "");
	CHECK_UINT("reset keeps storage", b.size, size);
	buf_puts(&b, "xyz");
	CHECK_STR("reused", buf_cstr(&b), "xyz");
	buf_release(&b);
	CHECK_TRUE("released", b.data == NULL);
	CHECK_UINT("released", b.len, 0);
	buf_release(NULL);
	buf_init(&b, 4);
	CHECK_INT("after release", buf_puts(&b, "abcd"), 0);
	CHECK_INT("after release, cap", buf_puts(&b, "e"), -1);
	buf_release(&b);
	UNIT_DONE();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cap_cases),
		cmocka_unit_test(every_path),
		cmocka_unit_test(many_small),
		cmocka_unit_test(huge_n),
		cmocka_unit_test(binary),
		cmocka_unit_test(consume_cases),
		cmocka_unit_test(lifecycle),
		/* last: when it fails, it has overrun the heap */
		cmocka_unit_test(no_practical_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

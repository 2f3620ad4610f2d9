/*
 * test_str - bounded string helpers, number/size/duration parsing and
 * formatting (util/str).
 */
#include "unit.h"

#include "util/str.h"

/* copy_cases - str_copy / str_ncopy: bounded, terminated, truncation told */
static void
copy_cases(void **state)
{
	static const struct {
		const char *name;
		const char *src;
		size_t n;		/* bytes of src for str_ncopy */
		size_t dstsize;
		int rc;
		const char *want;
	} cases[] = {
		{ "fits", "hello", 5, 8, 0, "hello" },
		{ "exact", "hello", 5, 6, 0, "hello" },
		{ "one short", "hello", 5, 5, -1, "hell" },
		{ "much too long", "hello world", 11, 3, -1, "he" },
		{ "size one", "hello", 5, 1, -1, "" },
		{ "empty", "", 0, 4, 0, "" },
		{ "n shorter than src", "hello", 3, 8, 0, "hel" },
	};
	char dst[16];
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		memset(dst, 'X', sizeof(dst));
		CHECK_INT(cases[i].name, str_ncopy(dst, cases[i].dstsize,
		    cases[i].src, cases[i].n), cases[i].rc);
		CHECK_STR(cases[i].name, dst, cases[i].want);
		CHECK_INT(cases[i].name, dst[cases[i].dstsize], 'X');
		if (cases[i].n == strlen(cases[i].src)) {
			memset(dst, 'X', sizeof(dst));
			CHECK_INT(cases[i].name, str_copy(dst,
			    cases[i].dstsize, cases[i].src), cases[i].rc);
			CHECK_STR(cases[i].name, dst, cases[i].want);
			CHECK_INT(cases[i].name, dst[cases[i].dstsize], 'X');
		}
	}
	dst[0] = 'X';
	CHECK_INT("size zero", str_copy(dst, 0, "a"), -1);
	CHECK_INT("size zero writes nothing", dst[0], 'X');
	UNIT_DONE();
}

/* u64_cases - str_parse_u64: whole string, decimal, in range */
static void
u64_cases(void **state)
{
	static const struct {
		const char *in;
		uint64_t min, max;
		int rc;
		uint64_t want;
	} cases[] = {
		{ "0", 0, 10, 0, 0 }, { "5", 1, 10, 0, 5 }, { "10", 1, 10, 0, 10 },
		{ "007", 0, 10, 0, 7 },
		{ "18446744073709551615", 0, UINT64_MAX, 0, UINT64_MAX },
		{ "18446744073709551616", 0, UINT64_MAX, -1, 0 },
		{ "99999999999999999999999", 0, UINT64_MAX, -1, 0 },
		{ "0", 1, 10, -1, 0 }, { "11", 1, 10, -1, 0 },
		{ "", 0, 10, -1, 0 }, { "-1", 0, UINT64_MAX, -1, 0 },
		{ "+1", 0, 10, -1, 0 }, { " 1", 0, 10, -1, 0 },
		{ "1 ", 0, 10, -1, 0 }, { "1x", 0, 10, -1, 0 },
		{ "0x10", 0, 100, -1, 0 }, { "1.5", 0, 10, -1, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		uint64_t v = 12345;

		CHECK_INT(cases[i].in, str_parse_u64(cases[i].in, cases[i].min,
		    cases[i].max, &v), cases[i].rc);
		CHECK_UINT(cases[i].in, v, cases[i].rc == 0 ? cases[i].want :
		    12345);
	}
	CHECK_INT("NULL", str_parse_u64(NULL, 0, 10, NULL), -1);
	UNIT_DONE();
}

/* size_cases - str_parse_size: bytes, k, m, g (binary) */
static void
size_cases(void **state)
{
	static const struct {
		const char *in;
		int rc;
		uint64_t want;
	} cases[] = {
		{ "1048576", 0, 1048576 }, { "512k", 0, 512 * 1024 },
		{ "25m", 0, 25 * 1024 * 1024 }, { "25M", 0, 25 * 1024 * 1024 },
		{ "2g", 0, 2ULL << 30 }, { "0k", 0, 0 }, { "1K", 0, 1024 },
		{ "17179869183g", 0, 17179869183ULL << 30 },
		{ "17179869184g", -1, 0 }, { "", -1, 0 }, { "k", -1, 0 },
		{ "25mb", -1, 0 }, { "25 m", -1, 0 }, { "25t", -1, 0 },
		{ "-1m", -1, 0 }, { "1.5m", -1, 0 }, { "m25", -1, 0 },
		{ "25s", -1, 0 }, { "1234567890123456789012345678901234", -1, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		uint64_t v = 12345;

		CHECK_INT(cases[i].in, str_parse_size(cases[i].in, &v),
		    cases[i].rc);
		if (cases[i].rc == 0)
			CHECK_UINT(cases[i].in, v, cases[i].want);
	}
	UNIT_DONE();
}

/* duration_cases - str_parse_duration: s, m, h, d, w */
static void
duration_cases(void **state)
{
	static const struct {
		const char *in;
		int rc;
		uint64_t want;
	} cases[] = {
		{ "30", 0, 30 }, { "30s", 0, 30 }, { "5m", 0, 300 },
		{ "4h", 0, 14400 }, { "5d", 0, 432000 }, { "1w", 0, 604800 },
		{ "1W", 0, 604800 }, { "0", 0, 0 }, { "90M", 0, 5400 },
		{ "", -1, 0 }, { "s", -1, 0 }, { "1y", -1, 0 },
		{ "5 m", -1, 0 }, { "5mm", -1, 0 }, { "-5m", -1, 0 },
		{ "5k", -1, 0 }, { "40000000000000w", -1, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		uint64_t v = 12345;

		CHECK_INT(cases[i].in, str_parse_duration(cases[i].in, &v),
		    cases[i].rc);
		if (cases[i].rc == 0)
			CHECK_UINT(cases[i].in, v, cases[i].want);
	}
	UNIT_DONE();
}

/* fmt_duration - the largest exact unit, and it parses back */
static void
fmt_duration(void **state)
{
	static const struct {
		uint64_t secs;
		const char *want;
	} cases[] = {
		{ 0, "0s" }, { 1, "1s" }, { 59, "59s" }, { 60, "1m" },
		{ 90, "90s" }, { 300, "5m" }, { 3600, "1h" }, { 3660, "61m" },
		{ 7200, "2h" }, { 86400, "1d" }, { 90000, "25h" },
		{ 604800, "1w" }, { 1209600, "2w" }, { 691200, "8d" },
	};
	static const uint64_t back[] = { 0, 1, 7, 60, 61, 3599, 3600, 86399,
	    86400, 604800, 604801, 1000000 };
	char dst[32], name[40];
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		snprintf(name, sizeof(name), "%llu s",
		    (unsigned long long)cases[i].secs);
		str_fmt_duration(dst, sizeof(dst), cases[i].secs);
		CHECK_STR(name, dst, cases[i].want);
	}
	for (i = 0; i < NELEM(back); i++) {
		uint64_t v = 0;

		snprintf(name, sizeof(name), "round trip %llu",
		    (unsigned long long)back[i]);
		str_fmt_duration(dst, sizeof(dst), back[i]);
		CHECK_INT(name, str_parse_duration(dst, &v), 0);
		CHECK_UINT(name, v, back[i]);
	}
	UNIT_DONE();
}

/* case_cases - str_lower, str_ieq, str_ieqn, str_has_suffix_ci */
static void
case_cases(void **state)
{
	char s[32];

	(void)state;
	str_copy(s, sizeof(s), "MiXeD.Example-1\xc3\x80Z");
	str_lower(s);
	CHECK_STR("lower, 8-bit untouched", s, "mixed.example-1\xc3\x80z");
	CHECK_INT("ieq", str_ieq("Example.COM", "example.com"), 1);
	CHECK_INT("ieq differs", str_ieq("example.co", "example.com"), 0);
	CHECK_INT("ieqn", str_ieqn("HELOx", 4, "helo"), 1);
	CHECK_INT("ieqn shorter", str_ieqn("HEL", 3, "helo"), 0);
	CHECK_INT("ieqn longer", str_ieqn("HELOO", 5, "helo"), 0);
	CHECK_INT("ieqn empty", str_ieqn("", 0, ""), 1);
	CHECK_INT("ieqn NUL inside", str_ieqn("HE\0O", 4, "he"), 0);
	CHECK_INT("suffix", str_has_suffix_ci("mail.Example.COM",
	    ".example.com"), 1);
	CHECK_INT("suffix whole", str_has_suffix_ci("com", "COM"), 1);
	CHECK_INT("suffix longer", str_has_suffix_ci("com", ".com"), 0);
	CHECK_INT("suffix no", str_has_suffix_ci("example.org", ".com"), 0);
	CHECK_INT("suffix empty", str_has_suffix_ci("", ""), 1);
	UNIT_DONE();
}

/* date_cases - str_rfc5322_date, always UTC */
static void
date_cases(void **state)
{
	static const struct {
		time_t t;
		const char *want;
	} cases[] = {
		{ 0, "Thu, 1 Jan 1970 00:00:00 +0000" },
		{ 1732464925, "Sun, 24 Nov 2024 16:15:25 +0000" },
		{ 951782400, "Tue, 29 Feb 2000 00:00:00 +0000" },
		{ 1735689599, "Tue, 31 Dec 2024 23:59:59 +0000" },
	};
	char dst[64];
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		str_rfc5322_date(dst, sizeof(dst), cases[i].t);
		CHECK_STR(cases[i].want, dst, cases[i].want);
	}
	str_rfc5322_date(dst, 8, 0);
	CHECK_STR("truncated", dst, "Thu, 1 ");
	UNIT_DONE();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(copy_cases),
		cmocka_unit_test(u64_cases),
		cmocka_unit_test(size_cases),
		cmocka_unit_test(duration_cases),
		cmocka_unit_test(fmt_duration),
		cmocka_unit_test(case_cases),
		cmocka_unit_test(date_cases),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

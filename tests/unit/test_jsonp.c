/*
 * test_jsonp - the JSON reader (util/jsonp) on what web visitors POST:
 * the strict grammar (fuzz_jsonp found NULs, short escapes and "+1"
 * accepted), decoding, limits and the lookups the API uses.
 */
#include <math.h>
#include <stdlib.h>

#include "unit.h"

#include "util/jsonp.h"

#define Z10	"0000000000"

/* parse_cases - accepted or refused; root "s" and "n" when accepted */
static void
parse_cases(void **state)
{
	static const struct {
		const char *name, *text;
		size_t len;		/* 0: strlen(text) */
		int ok;
		const char *s;		/* the string member "s" */
		double n;		/* the number member "n" */
	} cases[] = {
		/* fuzz_jsonp: a NUL was a number (strchr finds the NUL) */
		{ "NUL alone", "\0", 1, 0 },
		{ "NUL then LF (crashes/jsonp-nul-number.bin)", "\0\n", 2, 0 },
		{ "NUL after a number", "{\"n\":25\0}", 9, 0 },
		{ "NUL for a number", "{\"n\":\0}", 7, 0 },
		/* a raw NUL cut the string short, other controls went in */
		{ "NUL in a string", "{\"s\":\"mx.example.org\0.evil\"}", 28,
		  0 },
		{ "raw TAB in a string", "{\"s\":\"a\tb\"}", 0, 0 },
		{ "raw LF in a string", "{\"s\":\"a\nb\"}", 0, 0 },
		/* a short \u ate the closing quote and what followed */
		{ "short \\u", "[\"\\u12\",\",\"x\"]", 0, 0 },
		{ "\\u not hex", "{\"s\":\"\\u00G0\"}", 0, 0 },
		{ "\\u at the end", "{\"s\":\"\\u00", 0, 0 },
		{ "unknown escape", "{\"s\":\"\\x41\"}", 0, 0 },
		{ "escaped quote", "{\"s\":\"\\'\"}", 0, 0 },
		{ "backslash at the end", "{\"s\":\"\\", 0, 0 },
		/* numbers strtod took but JSON does not have */
		{ "plus", "{\"n\":+1}", 0, 0 },
		{ "leading zero", "{\"n\":01}", 0, 0 },
		{ "no integer part", "{\"n\":.5}", 0, 0 },
		{ "no fraction digits", "{\"n\":1.}", 0, 0 },
		{ "minus alone", "{\"n\":-}", 0, 0 },
		{ "minus dot", "{\"n\":-.5}", 0, 0 },
		{ "no exponent digits", "{\"n\":1e}", 0, 0 },
		{ "exponent sign only", "{\"n\":1e+}", 0, 0 },
		{ "hex", "{\"n\":0x10}", 0, 0 },
		{ "Infinity", "{\"n\":Infinity}", 0, 0 },
		{ "64 characters", "{\"n\":1" Z10 Z10 Z10 Z10 Z10 Z10 "000}", 0,
		  0 },
		{ "trailing comma", "{\"n\":1,}", 0, 0 },
		{ "garbage after", "{\"n\":1} x", 0, 0 },
		{ "single quotes", "{'s':'x'}", 0, 0 },
		{ "empty", "", 0, 0 },
		/* what is JSON */
		{ "API body", "{\"s\":\"mx.example.org\",\"n\":25,\"mode\":"
		  "\"delivery\"}", 0, 1, "mx.example.org", 25 },
		{ "white space", " {\r\n\t\"s\" : \"\" ,\n \"n\" : 0 }\n", 0, 1,
		  "", 0 },
		{ "escapes", "{\"s\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\",\"n\":1E+2}",
		  0, 1, "\"\\/\b\f\n\r\t", 100 },
		{ "\\u0000 is '?'", "{\"s\":\"a\\u0000b\",\"n\":-0}", 0, 1,
		  "a?b", 0 },
		{ "\\u outside ASCII is '?'",
		  "{\"s\":\"\\u0041\\u00e9\\uD83D\\uDE00\\u007F\",\"n\":-1.5e-3}",
		  0, 1, "A???\x7f", -0.0015 },
		{ "raw UTF-8 kept", "{\"s\":\"b\xc3\xbc" "cher\",\"n\":0.5e0}", 0,
		  1, "b\xc3\xbc" "cher", 0.5 },
		{ "63 characters", "{\"n\":1" Z10 Z10 Z10 Z10 Z10 Z10 "00}", 0, 1,
		  "", 1e62 },
		{ "huge", "{\"n\":1e999}", 0, 1, "", HUGE_VAL },
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		size_t len = cases[i].len ? cases[i].len :
		    strlen(cases[i].text);
		struct jval *v = jsonp_parse(cases[i].text, len);

		if (!CHECK_INT(cases[i].name, v != NULL, cases[i].ok) ||
		    v == NULL) {
			jsonp_free(v);
			continue;
		}
		CHECK_STR(cases[i].name, jsonp_str(v, "s"), cases[i].s);
		CHECK_TRUE(cases[i].name, jsonp_num(v, "n") == cases[i].n);
		jsonp_free(v);
	}
	UNIT_DONE();
}

/* depth - 64 levels of nesting are read, 65 are not */
static void
depth(void **state)
{
	char text[300];
	size_t d, i, o;

	(void)state;
	for (d = 63; d <= 66; d++) {
		struct jval *v;
		char name[32];

		o = 0;
		for (i = 0; i < d; i++)
			text[o++] = '[';
		text[o++] = '1';
		for (i = 0; i < d; i++)
			text[o++] = ']';
		v = jsonp_parse(text, o);
		snprintf(name, sizeof(name), "depth %zu", d);
		CHECK_INT(name, v != NULL, d <= 64);
		jsonp_free(v);
	}
	UNIT_DONE();
}

/* lookups - what post_api reads: the first member, "" and 0 otherwise */
static void
lookups(void **state)
{
	static const char text[] = "{\"target\":\"a.example\",\"port\":\"25\","
	    "\"target\":\"b.example\",\"n\":[1],\"t\":true}";
	struct jval *v = jsonp_parse(text, sizeof(text) - 1);

	(void)state;
	if (!CHECK_TRUE("parsed", v != NULL))
		return;
	CHECK_STR("first of two", jsonp_str(v, "target"), "a.example");
	CHECK_STR("a string, not a number", jsonp_str(v, "port"), "25");
	CHECK_TRUE("port is no number", jsonp_num(v, "port") == 0);
	CHECK_STR("an array is no string", jsonp_str(v, "n"), "");
	CHECK_TRUE("true is 1", jsonp_num(v, "t") == 1);
	CHECK_TRUE("missing", jsonp_get(v, "mode") == NULL);
	CHECK_TRUE("not an object", jsonp_get(jsonp_get(v, "n"), "x") ==
	    NULL);
	jsonp_free(v);
	UNIT_DONE();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_cases),
		cmocka_unit_test(depth),
		cmocka_unit_test(lookups),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_html - the web tester's HTML building (web/html): escaping of text
 * and attribute values, caps, URL path components, templates; and the
 * report page (web/pages) built from hostile JSON and its advice on
 * closing a relay.
 */
#include <stdlib.h>

#include "unit.h"

#include "util/jsonp.h"
#include "web/html.h"
#include "web/pages.h"

/* text_cases - html_text */
static void
text_cases(void **state)
{
	static const struct {
		const char *name, *in;
		size_t max;
		const char *want;
	} cases[] = {
		{ "plain", "220 mx.example.com ESMTP", 0,
		  "220 mx.example.com ESMTP" },
		{ "markup", "<script>alert(1)</script>", 0,
		  "&lt;script&gt;alert(1)&lt;/script&gt;" },
		{ "attribute breakout", "\" onmouseover='x' a=\"", 0,
		  "&quot; onmouseover=&#39;x&#39; a=&quot;" },
		{ "ampersand", "a&b &amp;", 0, "a&amp;b &amp;amp;" },
		{ "backslash", "C:\\x41", 0, "C:\\\\x41" },
		{ "escape sequence", "\x1b[31mred\x1b[0m", 0,
		  "\\x1b[31mred\\x1b[0m" },
		{ "CR and controls", "a\rb\x01\x7f", 0, "a\\x0db\\x01\\x7f" },
		{ "tab and newline kept", "a\tb\nc", 0, "a\tb\nc" },
		{ "8-bit", "caf\xc3\xa9", 0, "caf\\xc3\\xa9" },
		{ "cap", "abcdef", 3, "abc..." },
		{ "cap exact", "abc", 3, "abc" },
		{ "cap counts input bytes", "<<<<", 2, "&lt;&lt;..." },
		{ "empty", "", 0, "" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		struct buf b;

		buf_init(&b, 4096);
		html_text(&b, cases[i].in, cases[i].max);
		CHECK_STR(cases[i].name, buf_cstr(&b), cases[i].want);
		buf_release(&b);
	}
	{
		struct buf b;

		buf_init(&b, 64);
		html_text(&b, NULL, 0);
		CHECK_UINT("NULL", b.len, 0);
		buf_release(&b);
	}
	UNIT_DONE();
}

/* url_cases - html_attr_url */
static void
url_cases(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "0123abcdef", "0123abcdef" },
		{ "mx.example.com", "mx.example.com" },
		{ "a b", "a%20b" },
		{ "\"><script>", "%22%3E%3Cscript%3E" },
		{ "javascript:alert(1)", "javascript%3Aalert%281%29" },
		{ "../x?y=1&z#f", "..%2Fx%3Fy%3D1%26z%23f" },
		{ "::1", "%3A%3A1" },
		{ "\xff\n", "%FF%0A" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		struct buf b;

		buf_init(&b, 4096);
		html_attr_url(&b, cases[i].in);
		CHECK_STR(cases[i].in, buf_cstr(&b), cases[i].want);
		buf_release(&b);
	}
	UNIT_DONE();
}

/* render_cases - html_render: escaped, raw, capped, unknown names */
static void
render_cases(void **state)
{
	struct tvar v[] = {
		{ "t", "<b>&", 0 },
		{ "raw", "<i>ours</i>", 0 },
		{ "cap", "0123456789", 4 },
		{ "null", NULL, 0 },
	};
	static const struct {
		const char *tmpl;
		int rc;
		const char *want;
	} cases[] = {
		{ "<p>{{t}}</p>", 0, "<p>&lt;b&gt;&amp;</p>" },
		{ "{{{raw}}}|{{raw}}", 0,
		  "<i>ours</i>|&lt;i&gt;ours&lt;/i&gt;" },
		{ "[{{cap}}]", 0, "[0123...]" },
		{ "[{{null}}{{{null}}}]", 0, "[]" },
		{ "no placeholders", 0, "no placeholders" },
		{ "{{t}}{{t}}", 0, "&lt;b&gt;&amp;&lt;b&gt;&amp;" },
		{ "a {{nope}} b", -1, NULL },
		{ "a {{t b", -1, NULL },
		{ "a {{{raw}} b", -1, NULL },
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		struct buf b;

		buf_init(&b, 4096);
		if (CHECK_INT(cases[i].tmpl, html_render(&b, cases[i].tmpl, v,
		    NELEM(v)), cases[i].rc) && cases[i].want)
			CHECK_STR(cases[i].tmpl, buf_cstr(&b), cases[i].want);
		buf_release(&b);
	}
	UNIT_DONE();
}

/* report - page_report of a JSON text, as a string (caller frees) */
static char *
report(const char *json)
{
	struct jval *v = jsonp_parse(json, strlen(json));
	struct buf b;
	char *s;

	assert_non_null(v);
	buf_init(&b, 1 << 20);
	page_report(&b, v);
	s = strdup(buf_cstr(&b));
	buf_release(&b);
	jsonp_free(v);
	return s;
}

#define JOB(verdict, tests) \
	"{\"id\":\"0123456789abcdef\",\"target\":\"mx.test\",\"port\":25," \
	"\"mode\":\"anonymous\",\"status\":\"done\",\"created\":1," \
	"\"verdict\":\"" verdict "\",\"summary\":\"s\",\"hosts\":[{" \
	"\"host\":\"mx.test\",\"address\":\"192.0.2.25\",\"verdict\":\"" \
	verdict "\",\"tests\":[" tests "]}]}"
#define T(trick, verdict) \
	"{\"id\":\"t\",\"kind\":\"relay\",\"trick\":\"" trick "\"," \
	"\"verdict\":\"" verdict "\"}"

/* advice_cases - what the advice names follows what worked */
static void
advice_cases(void **state)
{
	static const struct {
		const char *name, *json;
		const char *has[4], *not[4];
	} cases[] = {
		{ "closed: none", JOB("closed", T("percent-hack", "closed") ","
		  T("third-party", "closed")),
		  { NULL }, { "How to close it", "allow_percent_hack" } },
		{ "percent only", JOB("accepted", T("percent-hack", "accepted")
		  "," T("bang-path", "closed")),
		  { "allow_percent_hack = no", "loose_relay_check",
		    "In any case", NULL },
		  { "swap_bangpath", "DontPruneRoutes", "It relays for anyone",
		    NULL } },
		{ "open: delivered", JOB("open", T("third-party", "open")),
		  { "It relays for anyone", "permit_sasl_authenticated", NULL },
		  { "allow_percent_hack", NULL } },
		{ "partly open", JOB("ambiguous-local", T("bang-path",
		  "ambiguous-local")),
		  { "Addresses with no domain", "reject_non_fqdn_recipient",
		    "In any case", NULL },
		  { "swap_bangpath", NULL } },
		{ "senders and HELO", JOB("accepted", T("null-sender",
		  "accepted") "," T("helo-spoof", "accepted") ","
		  T("source-route", "accepted")),
		  { "relay_local_from", "check_helo_access",
		    "DontPruneRoutes", NULL },
		  { "percent_hack", NULL } },
		{ "controls do not count", JOB("refuses-all",
		  "{\"kind\":\"control\",\"trick\":\"control\","
		  "\"verdict\":\"accepted\"}"),
		  { NULL }, { "How to close it", NULL } },
	};
	size_t i, k;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		char *page = report(cases[i].json);

		for (k = 0; k < 4 && cases[i].has[k]; k++)
			CHECK_HAS(cases[i].name, page, cases[i].has[k]);
		for (k = 0; k < 4 && cases[i].not[k]; k++)
			CHECK_TRUE(cases[i].not[k], strstr(page,
			    cases[i].not[k]) == NULL);
		free(page);
	}
	UNIT_DONE();
}

/* hostile_report - bytes from a server stay text on the report page */
static void
hostile_report(void **state)
{
	char *page;

	(void)state;
	page = report("{\"id\":\"\\\"><x\",\"target\":\"<t>\",\"status\":"
	    "\"done\",\"verdict\":\"closed\",\"hosts\":[{\"host\":\"<h>\","
	    "\"banner\":\"220 <script>alert(1)</script>\\u001b[2J\","
	    "\"reused_from\":\"\\\"><img src=x>\",\"tests\":[{\"id\":"
	    "\"<i>\",\"rcpt_reply\":\"550 <b>no</b>\",\"verdict\":"
	    "\"closed\\\" onclick=\\\"x\"}],\"transcript\":\"S: <svg>\"}]}");
	CHECK_TRUE("no script", strstr(page, "<script") == NULL);
	CHECK_TRUE("no img", strstr(page, "<img") == NULL);
	CHECK_TRUE("no svg", strstr(page, "<svg") == NULL);
	CHECK_TRUE("no attribute", strstr(page, "\" onclick") == NULL);
	CHECK_HAS("banner", page, "220 &lt;script&gt;alert(1)&lt;/script&gt;"
	    "\\x1b[2J");
	CHECK_HAS("reused link", page, "href=\"/r/%22%3E%3Cimg%20src%3Dx%3E\"");
	free(page);
	UNIT_DONE();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(text_cases),
		cmocka_unit_test(url_cases),
		cmocka_unit_test(render_cases),
		cmocka_unit_test(advice_cases),
		cmocka_unit_test(hostile_report),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

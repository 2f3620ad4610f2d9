/*
 * test_battery - the relay tests (probe/battery): the table itself, every
 * combination nmap's smtp-open-relay tries, and template expansion.
 */
#include "unit.h"

#include "probe/battery.h"

/* table - ids unique and set, counts, every test has its envelope */
static void
table(void **state)
{
	size_t i, j, relay = 0, ctl = 0;

	(void)state;
	CHECK_UINT("count", battery_count(), 46);
	for (i = 0; i < battery_count(); i++) {
		const struct btest *b = battery_get(i);

		CHECK_TRUE(b->id, b->id[0] != '\0' && b->desc[0] != '\0' &&
		    b->trick[0] != '\0' && b->from != NULL && b->rcpt[0]);
		CHECK_TRUE(b->id, battery_find(b->id) == b);
		for (j = i + 1; j < battery_count(); j++)
			if (strcmp(b->id, battery_get(j)->id) == 0)
				CHECK_STR("duplicate id", battery_get(j)->id,
				    "(unique)");
		/* a HELO test has a HELO of its own, and only it */
		CHECK_INT(b->id, (b->flags & BT_HELO) != 0, b->helo != NULL);
		if (b->kind == BT_RELAY)
			relay++;
		else
			ctl++;
	}
	CHECK_UINT("relay tests", relay, 43);
	CHECK_UINT("controls", ctl, 3);
	CHECK_TRUE("past the end", battery_get(battery_count()) == NULL);
	CHECK_TRUE("unknown id", battery_find("no-such-test") == NULL);
	CHECK_TRUE("known id", battery_find("relay-plain") != NULL);
	UNIT_DONE();
}

/*
 * nmap - every MAIL FROM / RCPT TO pair of nmap's smtp-open-relay.nse is
 * in the battery, written in our placeholders: nmap's "domain" is
 * {outside}, "srvname" {target}, "ip" the target's address; its "from"
 * and "to" are {sl} and {rl}.
 */
static void
nmap(void **state)
{
	static const struct {
		const char *from, *rcpt;
	} pairs[] = {
		{ "", "{rl}@{outside}" },
		{ "{sl}@{outside}", "{rl}@{outside}" },
		{ "{sl}@{target}", "{rl}@{outside}" },
		{ "{sl}@[{ip6}]", "{rl}@{outside}" },
		{ "{sl}@[{ip6}]", "{rl}%{outside}@[{ip6}]" },
		{ "{sl}@[{ip6}]", "{rl}%{outside}@{target}" },
		{ "{sl}@[{ip6}]", "\"{rl}@{outside}\"" },
		{ "{sl}@[{ip6}]", "\"{rl}%{outside}\"" },
		{ "{sl}@[{ip6}]", "{rl}@{outside}@[{ip6}]" },
		{ "{sl}@[{ip6}]", "\"{rl}@{outside}\"@[{ip6}]" },
		{ "{sl}@[{ip6}]", "{rl}@{outside}@{target}" },
		{ "{sl}@[{ip6}]", "@[{ip6}]:{rl}@{outside}" },
		{ "{sl}@[{ip6}]", "@{target}:{rl}@{outside}" },
		{ "{sl}@[{ip6}]", "{outside}!{rl}" },
		{ "{sl}@[{ip6}]", "{outside}!{rl}@[{ip6}]" },
		{ "{sl}@[{ip6}]", "{outside}!{rl}@{target}" },
	};
	size_t i, k;

	(void)state;
	for (i = 0; i < NELEM(pairs); i++) {
		int found = 0;

		for (k = 0; k < battery_count(); k++) {
			const struct btest *b = battery_get(k);

			if (b->kind == BT_RELAY && b->helo == NULL &&
			    strcmp(b->from, pairs[i].from) == 0 &&
			    strcmp(b->rcpt, pairs[i].rcpt) == 0)
				found++;
		}
		CHECK_INT(pairs[i].rcpt, found, 1);
	}
	UNIT_DONE();
}

/* expand - every placeholder, unknown ones kept, room checked */
static void
expand(void **state)
{
	static const struct bvars v4 = { "outside.test", "mx.target.test",
	    "target.test", "192.0.2.25", 0, "198.51.100.7", "0123456789ab" };
	static const struct bvars v6 = { "outside.test", "[IPv6:2001:db8::1]",
	    "[IPv6:2001:db8::1]", "2001:db8::1", 1, "198.51.100.7",
	    "0123456789ab" };
	static const struct {
		const char *name;
		const struct bvars *v;
		const char *tmpl, *want;
	} cases[] = {
		{ "outside", &v4, "{rl}@{outside}",
		  "sluice-relay-0123456789ab@outside.test" },
		{ "upper", &v4, "{rl}@{OUTSIDE}",
		  "sluice-relay-0123456789ab@OUTSIDE.TEST" },
		{ "sender", &v4, "{sl}@{target}",
		  "sluice-probe-0123456789ab@mx.target.test" },
		{ "parent", &v4, "{rl}%{outside}@{parent}",
		  "sluice-relay-0123456789ab%outside.test@target.test" },
		{ "ip", &v4, "[{ip}]", "[192.0.2.25]" },
		{ "ip6 of an IPv4 target", &v4, "{sl}@[{ip6}]",
		  "sluice-probe-0123456789ab@[192.0.2.25]" },
		{ "ip6 of an IPv6 target", &v6, "{sl}@[{ip6}]",
		  "sluice-probe-0123456789ab@[IPv6:2001:db8::1]" },
		{ "extip", &v4, "{rl}@[{extip}]",
		  "sluice-relay-0123456789ab@[198.51.100.7]" },
		{ "route", &v4, "@{target},@{parent}:{rl}@{outside}",
		  "@mx.target.test,@target.test:"
		  "sluice-relay-0123456789ab@outside.test" },
		{ "bang", &v4, "{outside}!{rl}",
		  "outside.test!sluice-relay-0123456789ab" },
		{ "null", &v4, "", "" },
		{ "unknown placeholder", &v4, "{nope}@{outside}",
		  "{nope}@outside.test" },
		{ "unclosed brace", &v4, "a{outside", "a{outside" },
		{ "empty braces", &v4, "{}", "{}" },
	};
	char dst[300];
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		CHECK_INT(cases[i].name, battery_expand(cases[i].tmpl,
		    cases[i].v, dst, sizeof(dst)), 0);
		CHECK_STR(cases[i].name, dst, cases[i].want);
	}
	/* exactly the room needed, one byte less */
	CHECK_INT("fits", battery_expand("{outside}", &v4, dst, 13), 0);
	CHECK_STR("fits", dst, "outside.test");
	CHECK_INT("too small", battery_expand("{outside}", &v4, dst, 12), -1);
	CHECK_INT("too small, literal", battery_expand("abc", &v4, dst, 3),
	    -1);
	UNIT_DONE();
}

/* expand_all - every test expands in full with long names */
static void
expand_all(void **state)
{
	static const struct bvars v = { "outside.example.net",
	    "mx1.mail.example.com", "mail.example.com", "2001:db8::25", 1,
	    "192.0.2.1", "0123456789ab" };
	char dst[300];
	size_t i;

	(void)state;
	for (i = 0; i < battery_count(); i++) {
		const struct btest *b = battery_get(i);
		const char *t[3] = { b->from, b->rcpt, b->helo ? b->helo : "" };
		size_t k;

		for (k = 0; k < 3; k++) {
			CHECK_INT(b->id, battery_expand(t[k], &v, dst,
			    sizeof(dst)), 0);
			CHECK_TRUE(b->id, strchr(dst, '{') == NULL);
		}
		/* the token is in every recipient that can relay to us */
		if (b->kind == BT_RELAY && strcmp(b->id,
		    "relay-postmaster-outside") != 0) {
			battery_expand(b->rcpt, &v, dst, sizeof(dst));
			CHECK_HAS(b->id, dst, "sluice-relay-0123456789ab");
		}
	}
	UNIT_DONE();
}

/* parent - one label off, unless that leaves a TLD or it is a literal */
static void
parent(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "mx.example.com", "example.com" },
		{ "a.b.example.com", "b.example.com" },
		{ "example.com", "example.com" },
		{ "localhost", "localhost" },
		{ "[192.0.2.1]", "[192.0.2.1]" },
		{ "[IPv6:2001:db8::1]", "[IPv6:2001:db8::1]" },
		{ "", "" },
	};
	char dst[256];
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		battery_parent(cases[i].in, dst, sizeof(dst));
		CHECK_STR(cases[i].in, dst, cases[i].want);
	}
	UNIT_DONE();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(table),
		cmocka_unit_test(nmap),
		cmocka_unit_test(expand),
		cmocka_unit_test(expand_all),
		cmocka_unit_test(parent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

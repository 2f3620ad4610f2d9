/*
 * test_domset - domain and address pattern sets (policy/domset).
 */
#include "unit.h"

#include "policy/domset.h"

/* add_cases - which patterns domset_add takes */
static void
add_cases(void **state)
{
	static const struct {
		const char *in;
		int rc;
	} cases[] = {
		{ "example.com", 0 }, { "EXAMPLE.com", 0 }, { ".example.com", 0 },
		{ "*.example.com", 0 }, { "user@example.com", 0 },
		{ "user@", 0 }, { "User.Name+x@", 0 }, { "[192.0.2.1]", 0 },
		{ "[IPv6:2001:db8::1]", 0 }, { "u@[192.0.2.1]", 0 },
		{ "localhost", 0 },
		{ "", -1 }, { ".", -1 }, { "*.", -1 }, { "*", -1 },
		{ "*example.com", -1 }, { "..example.com", -1 },
		{ "example..com", -1 }, { "example.com.", -1 },
		{ "exa mple.com", -1 }, { "-example.com", -1 },
		{ "@example.com", -1 }, { "user@exa mple", -1 },
		{ "us er@example.com", -1 }, { "u\x01@example.com", -1 },
		{ "u\xc3\xa9@example.com", -1 }, { "user@.example.com", -1 },
		{ "[300.1.1.1]", -1 }, { "[192.0.2.1", -1 },
		{ "exampl\xc3\xa9.com", -1 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		struct domset *d = domset_new();

		CHECK_INT(cases[i].in, domset_add(d, cases[i].in, NULL),
		    cases[i].rc);
		CHECK_UINT(cases[i].in, domset_count(d), cases[i].rc == 0);
		domset_free(d);
	}
	UNIT_DONE();
}

/* long_pattern - over-long patterns are refused, not cut */
static void
long_pattern(void **state)
{
	struct domset *d = domset_new();
	char p[400];

	(void)state;
	memset(p, 'a', sizeof(p) - 1);
	p[sizeof(p) - 1] = '\0';
	CHECK_INT("400 octets", domset_add(d, p, NULL), -1);
	CHECK_UINT("400 octets", domset_count(d), 0);
	domset_free(d);
	UNIT_DONE();
}

/* match_domain_cases - exact, then ".parent" patterns; case-insensitive */
static void
match_domain_cases(void **state)
{
	static const char *patterns[] = { "example.com", ".sub.example",
	    "*.wild.example", "[192.0.2.1]", "Upper.Example" };
	static const struct {
		const char *domain;
		const char *want;	/* NULL: no match */
	} cases[] = {
		{ "example.com", "example.com" },
		{ "EXAMPLE.COM", "example.com" },
		{ "www.example.com", NULL },
		{ "example.com.evil", NULL },
		{ "notexample.com", NULL },
		{ "sub.example", NULL },
		{ "a.sub.example", ".sub.example" },
		{ "A.B.SUB.EXAMPLE", ".sub.example" },
		{ "x.wild.example", ".wild.example" },
		{ "wild.example", NULL },
		{ "[192.0.2.1]", "[192.0.2.1]" },
		{ "[192.0.2.2]", NULL },
		{ "upper.example", "upper.example" },
		{ "com", NULL }, { "", NULL }, { "example", NULL },
	};
	struct domset *d = domset_new();
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(patterns); i++)
		assert_int_equal(domset_add(d, patterns[i],
		    (void *)patterns[i]), 0);
	for (i = 0; i < NELEM(cases); i++) {
		void *v = NULL;
		const char *m = domset_match_domain(d, cases[i].domain, &v);

		CHECK_STR(cases[i].domain, m, cases[i].want);
		if (m != NULL)
			CHECK_TRUE(cases[i].domain, v != NULL);
	}
	CHECK_TRUE("NULL set", domset_match_domain(NULL, "example.com",
	    NULL) == NULL);
	CHECK_UINT("NULL count", domset_count(NULL), 0);
	domset_free(d);
	domset_free(NULL);
	UNIT_DONE();
}

/* most_specific - the nearest parent wins, and its value comes back */
static void
most_specific(void **state)
{
	static const struct {
		const char *domain;
		const char *want;
	} cases[] = {
		{ "b.a.example.com", "b.a.example.com" },
		{ "c.b.a.example.com", ".b.a.example.com" },
		{ "c.a.example.com", ".a.example.com" },
		{ "c.example.com", ".example.com" },
	};
	struct domset *d = domset_new();
	size_t i;

	(void)state;
	domset_add(d, ".example.com", (void *)".example.com");
	domset_add(d, ".a.example.com", (void *)".a.example.com");
	domset_add(d, "b.a.example.com", (void *)"b.a.example.com");
	domset_add(d, ".b.a.example.com", (void *)".b.a.example.com");
	for (i = 0; i < NELEM(cases); i++) {
		void *v = NULL;

		CHECK_STR(cases[i].domain, domset_match_domain(d,
		    cases[i].domain, &v), cases[i].want);
		CHECK_STR(cases[i].domain, (const char *)v, cases[i].want);
	}
	domset_free(d);
	UNIT_DONE();
}

/* match_addr_cases - "local@domain", then "local@", then the domain */
static void
match_addr_cases(void **state)
{
	static const char *patterns[] = { "alice@example.com", "bob@",
	    "example.org", ".example.net", "u@[192.0.2.1]" };
	static const struct {
		const char *name;
		const char *local, *domain;
		const char *want;
	} cases[] = {
		{ "address", "alice", "example.com", "alice@example.com" },
		{ "address any case", "ALICE", "Example.COM",
		    "alice@example.com" },
		{ "other user", "carol", "example.com", NULL },
		{ "same user elsewhere", "alice", "other.com", NULL },
		{ "local part anywhere", "bob", "anything.test", "bob@" },
		{ "local part any case", "Bob", "x.test", "bob@" },
		{ "local part before domain", "bob", "example.org", "bob@" },
		{ "domain", "carol", "example.org", "example.org" },
		{ "subdomain pattern", "carol", "x.example.net",
		    ".example.net" },
		{ "subdomain pattern not the parent", "carol", "example.net",
		    NULL },
		{ "literal address", "u", "[192.0.2.1]", "u@[192.0.2.1]" },
		{ "no domain", "bob", NULL, "bob@" },
		{ "empty domain", "bob", "", "bob@" },
		{ "no domain, no match", "alice", NULL, NULL },
		{ "prefix of local", "bo", "x.test", NULL },
	};
	struct domset *d = domset_new();
	char longlocal[400];
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(patterns); i++)
		assert_int_equal(domset_add(d, patterns[i],
		    (void *)patterns[i]), 0);
	for (i = 0; i < NELEM(cases); i++) {
		void *v = NULL;
		const char *m = domset_match_addr(d, cases[i].local,
		    cases[i].domain, &v);

		CHECK_STR(cases[i].name, m, cases[i].want);
		if (m != NULL)
			CHECK_STR(cases[i].name, (const char *)v, m);
	}
	memset(longlocal, 'b', sizeof(longlocal) - 1);
	longlocal[sizeof(longlocal) - 1] = '\0';
	CHECK_TRUE("over-long local", domset_match_addr(d, longlocal,
	    "example.org", NULL) == NULL);
	CHECK_TRUE("NULL set", domset_match_addr(NULL, "bob", "x", NULL) ==
	    NULL);
	domset_free(d);
	UNIT_DONE();
}

/* duplicates - patterns equal but for case are one, the last value wins */
static void
duplicates(void **state)
{
	struct domset *d = domset_new();
	void *v = NULL;

	(void)state;
	domset_add(d, "Example.com", (void *)"first");
	domset_add(d, "example.COM", (void *)"second");
	domset_add(d, "*.example.com", (void *)"third");
	domset_add(d, ".example.com", (void *)"fourth");
	CHECK_UINT("count", domset_count(d), 2);
	domset_match_domain(d, "example.com", &v);
	CHECK_STR("value", (const char *)v, "second");
	domset_match_domain(d, "x.example.com", &v);
	CHECK_STR("value", (const char *)v, "fourth");
	domset_free(d);
	UNIT_DONE();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(add_cases),
		cmocka_unit_test(long_pattern),
		cmocka_unit_test(match_domain_cases),
		cmocka_unit_test(most_specific),
		cmocka_unit_test(match_addr_cases),
		cmocka_unit_test(duplicates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

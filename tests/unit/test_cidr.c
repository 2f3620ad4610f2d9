/*
 * test_cidr - IPv4/IPv6 prefix sets with longest-prefix match
 * (policy/cidr), IPv4-mapped IPv6 matched as IPv4.
 */
#include <arpa/inet.h>

#include "unit.h"

#include "policy/cidr.h"

/* parse_cases - cidr_parse and cidr_format */
static void
parse_cases(void **state)
{
	static const struct {
		const char *in;
		int rc;
		int family;
		unsigned bits;
		const char *fmt;
	} cases[] = {
		{ "192.0.2.0/24", 0, AF_INET, 24, "192.0.2.0/24" },
		{ "192.0.2.1", 0, AF_INET, 32, "192.0.2.1/32" },
		{ "0.0.0.0/0", 0, AF_INET, 0, "0.0.0.0/0" },
		{ "10.0.0.0/8", 0, AF_INET, 8, "10.0.0.0/8" },
		{ "10.0.0.0/08", 0, AF_INET, 8, "10.0.0.0/8" },
		{ "192.0.2.128/25", 0, AF_INET, 25, "192.0.2.128/25" },
		{ "2001:db8::/32", 0, AF_INET6, 32, "2001:db8::/32" },
		{ "2001:DB8:0:0::/64", 0, AF_INET6, 64, "2001:db8::/64" },
		{ "::1", 0, AF_INET6, 128, "::1/128" },
		{ "::/0", 0, AF_INET6, 0, "::/0" },
		/* an IPv4-mapped prefix is stored as the IPv4 one it means */
		{ "::ffff:192.0.2.0/120", 0, AF_INET, 24, "192.0.2.0/24" },
		/* host bits set: a likely mistake, refused */
		{ "10.0.0.1/8", -1 }, { "192.0.2.1/24", -1 },
		{ "2001:db8::1/64", -1 }, { "192.0.2.129/25", -1 },
		/* bad syntax */
		{ "192.0.2.0/33", -1 }, { "2001:db8::/129", -1 },
		{ "192.0.2.0/", -1 }, { "192.0.2.0/-1", -1 },
		{ "192.0.2.0/ 24", -1 }, { "192.0.2.0/24x", -1 },
		{ "192.0.2.0/24/8", -1 }, { "300.0.0.0/8", -1 },
		{ "192.0.2/24", -1 }, { "example.com", -1 }, { "", -1 },
		{ "/24", -1 }, { "192.0.2.1 ", -1 }, { " 192.0.2.1", -1 },
		{ "fe80::1%eth0", -1 },
		{ "1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb:cccc"
		    ":dddd/128", -1 },
	};
	char out[64];
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		struct cidr c;

		if (!CHECK_INT(cases[i].in, cidr_parse(cases[i].in, &c),
		    cases[i].rc) || cases[i].rc != 0)
			continue;
		CHECK_INT(cases[i].in, c.family, cases[i].family);
		CHECK_UINT(cases[i].in, c.bits, cases[i].bits);
		cidr_format(&c, out, sizeof(out));
		CHECK_STR(cases[i].in, out, cases[i].fmt);
	}
	UNIT_DONE();
}

/* parse_ip - cidr_parse_ip: plain addresses only */
static void
parse_ip(void **state)
{
	static const struct {
		const char *in;
		int rc, family;
	} cases[] = {
		{ "192.0.2.7", 0, AF_INET }, { "::1", 0, AF_INET6 },
		{ "::ffff:192.0.2.7", 0, AF_INET6 },
		{ "192.0.2.7/32", -1, 0 }, { "", -1, 0 }, { "x", -1, 0 },
		{ "1.2.3.4.5", -1, 0 },
	};
	unsigned char ip[16];
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		int fam = -1;

		CHECK_INT(cases[i].in, cidr_parse_ip(cases[i].in, &fam, ip),
		    cases[i].rc);
		if (cases[i].rc == 0)
			CHECK_INT(cases[i].in, fam, cases[i].family);
	}
	UNIT_DONE();
}

/* a set and the value each prefix carries */
static const struct {
	const char *prefix;
	const char *value;
} entries[] = {
	{ "10.0.0.0/8", "a" }, { "10.1.0.0/16", "b" }, { "10.1.2.3", "c" },
	{ "2001:db8::/32", "d" }, { "2001:db8:0:1::/64", "e" },
	{ "192.0.2.128/25", "f" }, { "198.51.100.0/24", "g" },
};

/* match_cases - longest prefix, per family, mapped IPv6 as IPv4 */
static void
match_cases(void **state)
{
	static const struct {
		const char *ip;
		const char *prefix;	/* NULL: no match */
		const char *value;
	} cases[] = {
		{ "10.9.9.9", "10.0.0.0/8", "a" },
		{ "10.1.9.9", "10.1.0.0/16", "b" },
		{ "10.1.2.3", "10.1.2.3/32", "c" },
		{ "10.1.2.4", "10.1.0.0/16", "b" },
		{ "10.255.255.255", "10.0.0.0/8", "a" },
		{ "11.0.0.0", NULL, NULL },
		{ "9.255.255.255", NULL, NULL },
		{ "192.0.2.127", NULL, NULL },
		{ "192.0.2.128", "192.0.2.128/25", "f" },
		{ "192.0.2.255", "192.0.2.128/25", "f" },
		{ "198.51.100.77", "198.51.100.0/24", "g" },
		{ "::ffff:10.1.2.3", "10.1.2.3/32", "c" },
		{ "::ffff:10.200.0.1", "10.0.0.0/8", "a" },
		{ "::ffff:192.0.2.200", "192.0.2.128/25", "f" },
		{ "::ffff:11.0.0.1", NULL, NULL },
		/* IPv4-compatible (not mapped) stays IPv6 */
		{ "::10.1.2.3", NULL, NULL },
		{ "2001:db8::1", "2001:db8::/32", "d" },
		{ "2001:db8:0:1::9", "2001:db8:0:1::/64", "e" },
		{ "2001:db8:0:2::9", "2001:db8::/32", "d" },
		{ "2001:db9::", NULL, NULL },
		{ "::1", NULL, NULL },
		/* an IPv6 address whose first bytes look like 10/8 */
		{ "a00::1", NULL, NULL },
	};
	struct cidr_set *s = cidr_set_new();
	size_t i;
	char out[64];

	(void)state;
	for (i = 0; i < NELEM(entries); i++)
		assert_int_equal(cidr_set_add_str(s, entries[i].prefix,
		    (void *)entries[i].value), 0);
	CHECK_UINT("count", cidr_set_count(s), NELEM(entries));
	for (i = 0; i < NELEM(cases); i++) {
		unsigned char ip[16];
		const struct cidr *m;
		void *v = (void *)"untouched";
		int fam;

		assert_int_equal(cidr_parse_ip(cases[i].ip, &fam, ip), 0);
		m = cidr_set_match(s, fam, ip, &v);
		if (cases[i].prefix == NULL) {
			if (m != NULL) {
				cidr_format(m, out, sizeof(out));
				CHECK_STR(cases[i].ip, out, "(no match)");
			}
			CHECK_STR(cases[i].ip, (const char *)v, "untouched");
			continue;
		}
		if (!CHECK_TRUE(cases[i].ip, m != NULL))
			continue;
		cidr_format(m, out, sizeof(out));
		CHECK_STR(cases[i].ip, out, cases[i].prefix);
		CHECK_STR(cases[i].ip, (const char *)v, cases[i].value);
		CHECK_TRUE(cases[i].ip, cidr_set_match(s, fam, ip, NULL) == m);
	}
	cidr_set_free(s);
	UNIT_DONE();
}

/* defaults - 0/0 matches all IPv4 (and mapped), never native IPv6 */
static void
defaults(void **state)
{
	struct cidr_set *s4 = cidr_set_new(), *s6 = cidr_set_new();
	struct cidr_set *empty = cidr_set_new();
	unsigned char ip[16];
	int fam;

	(void)state;
	cidr_set_add_str(s4, "0.0.0.0/0", NULL);
	cidr_set_add_str(s6, "::/0", NULL);
	cidr_parse_ip("203.0.113.9", &fam, ip);
	CHECK_TRUE("v4 any, v4", cidr_set_match(s4, fam, ip, NULL) != NULL);
	CHECK_TRUE("v6 any, v4", cidr_set_match(s6, fam, ip, NULL) == NULL);
	cidr_parse_ip("::ffff:203.0.113.9", &fam, ip);
	CHECK_TRUE("v4 any, mapped", cidr_set_match(s4, fam, ip, NULL) !=
	    NULL);
	cidr_parse_ip("2001:db8::1", &fam, ip);
	CHECK_TRUE("v4 any, v6", cidr_set_match(s4, fam, ip, NULL) == NULL);
	CHECK_TRUE("v6 any, v6", cidr_set_match(s6, fam, ip, NULL) != NULL);
	CHECK_TRUE("empty", cidr_set_match(empty, fam, ip, NULL) == NULL);
	CHECK_TRUE("NULL set", cidr_set_match(NULL, fam, ip, NULL) == NULL);
	CHECK_UINT("NULL count", cidr_set_count(NULL), 0);
	cidr_set_free(s4);
	cidr_set_free(s6);
	cidr_set_free(empty);
	cidr_set_free(NULL);
	UNIT_DONE();
}

/* readd_and_entries - re-adding replaces the value; entries in order */
static void
readd_and_entries(void **state)
{
	struct cidr_set *s = cidr_set_new();
	unsigned char ip[16];
	char out[64];
	void *v = NULL;
	size_t i;
	int fam;

	(void)state;
	cidr_set_add_str(s, "192.0.2.0/24", (void *)"one");
	cidr_set_add_str(s, "2001:db8::/32", (void *)"two");
	cidr_set_add_str(s, "192.0.2.0/24", (void *)"three");
	CHECK_UINT("no duplicate", cidr_set_count(s), 2);
	cidr_parse_ip("192.0.2.9", &fam, ip);
	cidr_set_match(s, fam, ip, &v);
	CHECK_STR("replaced", (const char *)v, "three");
	CHECK_INT("bad prefix", cidr_set_add_str(s, "192.0.2.1/24", NULL), -1);
	CHECK_UINT("bad prefix not added", cidr_set_count(s), 2);
	cidr_format(cidr_set_entry(s, 0), out, sizeof(out));
	CHECK_STR("entry 0", out, "192.0.2.0/24");
	cidr_format(cidr_set_entry(s, 1), out, sizeof(out));
	CHECK_STR("entry 1", out, "2001:db8::/32");
	CHECK_TRUE("entry 2", cidr_set_entry(s, 2) == NULL);
	/* many entries: growth keeps earlier ones */
	for (i = 0; i < 300; i++) {
		char p[32];

		snprintf(p, sizeof(p), "10.%zu.%zu.0/24", i / 256, i % 256);
		cidr_set_add_str(s, p, NULL);
	}
	CHECK_UINT("grown", cidr_set_count(s), 302);
	cidr_set_match(s, fam, ip, &v);
	CHECK_STR("still there", (const char *)v, "three");
	cidr_parse_ip("10.1.43.7", &fam, ip);
	CHECK_TRUE("added late", cidr_set_match(s, fam, ip, NULL) != NULL);
	cidr_set_free(s);
	UNIT_DONE();
}

/* broad_cases - cidr_is_broad: trusting it would trust strangers */
static void
broad_cases(void **state)
{
	static const struct {
		const char *in;
		int want;
	} cases[] = {
		{ "0.0.0.0/0", 1 }, { "0.0.0.0/1", 1 }, { "10.0.0.0/7", 1 },
		{ "10.0.0.0/8", 1 }, { "172.16.0.0/12", 1 },
		{ "172.0.0.0/8", 1 }, { "192.168.0.0/16", 1 },
		{ "192.0.0.0/8", 1 }, { "100.64.0.0/10", 1 }, { "::/0", 1 },
		{ "2000::/3", 1 }, { "fc00::/7", 1 }, { "2000::/15", 1 },
		{ "10.1.0.0/16", 0 }, { "172.16.0.0/16", 0 },
		{ "192.168.1.0/24", 0 }, { "100.64.0.0/16", 0 },
		{ "127.0.0.0/8", 0 }, { "8.0.0.0/8", 0 },
		{ "192.0.2.0/24", 0 }, { "::1/128", 0 },
		{ "2001:db8::/32", 0 }, { "2001::/16", 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		struct cidr c;

		if (!CHECK_INT(cases[i].in, cidr_parse(cases[i].in, &c), 0))
			continue;
		CHECK_INT(cases[i].in, cidr_is_broad(&c), cases[i].want);
	}
	UNIT_DONE();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_cases),
		cmocka_unit_test(parse_ip),
		cmocka_unit_test(match_cases),
		cmocka_unit_test(defaults),
		cmocka_unit_test(readd_and_entries),
		cmocka_unit_test(broad_cases),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

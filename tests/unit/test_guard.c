/*
 * test_guard - the web tester's guard (web/guard): addresses it must not
 * test, the one text form of an address, and the sliding-window rate
 * limits.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "unit.h"

#include "web/guard.h"

/* addr - a sockaddr_storage from text (IPv4 or IPv6) */
static struct sockaddr_storage
addr(const char *s)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, s, &((struct sockaddr_in *)&ss)->sin_addr) ==
	    1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, s,
	    &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	return ss;
}

/* forbidden_cases - why an address may not be tested; NULL: it may */
static void
forbidden_cases(void **state)
{
	static const struct {
		const char *ip, *why;
	} cases[] = {
		{ "127.0.0.1", "loopback" }, { "127.255.255.254", "loopback" },
		{ "10.1.2.3", "private" }, { "172.16.0.1", "private" },
		{ "172.31.255.255", "private" }, { "192.168.0.1", "private" },
		{ "100.64.0.1", "shared (CGNAT)" }, { "0.0.0.0", "this-network" },
		{ "169.254.169.254", "link-local" },
		{ "192.0.0.8", "IETF protocol assignments" },
		{ "192.0.2.1", "documentation" },
		{ "198.51.100.7", "documentation" },
		{ "203.0.113.9", "documentation" },
		{ "198.18.0.1", "benchmarking" }, { "192.88.99.1", "6to4 relay" },
		{ "224.0.0.1", "multicast" }, { "239.255.255.250", "multicast" },
		{ "240.0.0.1", "reserved" }, { "255.255.255.255", "reserved" },
		{ "::", "unspecified" }, { "::1", "loopback" },
		{ "fe80::1", "link-local" }, { "febf::1", "link-local" },
		{ "fec0::1", "site-local" }, { "fc00::1", "unique local" },
		{ "fd12:3456::1", "unique local" }, { "ff02::1", "multicast" },
		{ "ff0e::101", "multicast" }, { "2001:db8::25", "documentation" },
		{ "3fff::1", "documentation" }, { "100::1", "discard" },
		{ "2001::1", "IETF protocol assignments" },
		{ "64:ff9b:1::1", "local NAT64" },
		/* IPv4-compatible (::/96, deprecated): refused, whatever it holds */
		{ "::7f00:1", "IPv4-compatible (deprecated)" },
		{ "::8.8.8.8", "IPv4-compatible (deprecated)" },
		{ "::2", "IPv4-compatible (deprecated)" },
		/* IPv4 carried in IPv6: judged as that IPv4 address */
		{ "::ffff:127.0.0.1", "loopback" },
		{ "0:0:0:0:0:ffff:7f00:1", "loopback" },
		{ "::ffff:10.0.0.1", "private" },
		{ "::ffff:0:10.0.0.1", "private" },
		{ "::ffff:0:7f00:1", "loopback" },
		{ "64:ff9b::10.0.0.1", "private" },
		{ "64:ff9b::7f00:1", "loopback" },
		{ "2002:7f00:1::1", "loopback" },
		{ "2002:c0a8:101::", "private" },
		{ "2002:e000:1::1", "multicast" },
		/* public: allowed */
		{ "8.8.8.8", NULL }, { "192.0.1.1", NULL }, { "1.1.1.1", NULL },
		{ "100.63.255.255", NULL }, { "100.128.0.1", NULL },
		{ "172.32.0.1", NULL }, { "223.255.255.255", NULL },
		{ "2a00:1450:4001::1", NULL }, { "2600::1", NULL },
		{ "::ffff:8.8.8.8", NULL }, { "64:ff9b::8.8.8.8", NULL },
		{ "2002:808:808::1", NULL }, { "::1:0:0:1", NULL },
	};
	struct sockaddr_storage none;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		struct sockaddr_storage ss = addr(cases[i].ip);

		assert_true(ss.ss_family != 0);
		CHECK_STR(cases[i].ip, guard_forbidden(&ss), cases[i].why);
	}
	memset(&none, 0, sizeof(none));
	none.ss_family = AF_UNIX;
	CHECK_STR("AF_UNIX", guard_forbidden(&none), "not an internet address");
	UNIT_DONE();
}

/* canon_cases - one text form per address */
static void
canon_cases(void **state)
{
	static const struct {
		const char *in, *want;	/* want NULL: not an address */
	} cases[] = {
		{ "127.0.0.1", "127.0.0.1" },
		{ "::ffff:127.0.0.1", "127.0.0.1" },
		{ "::FFFF:7F00:1", "127.0.0.1" },
		{ "0:0:0:0:0:ffff:7f00:1", "127.0.0.1" },
		{ "0000:0000:0000:0000:0000:ffff:7f00:0001", "127.0.0.1" },
		{ "2001:DB8:0:0:0:0:0:1", "2001:db8::1" },
		{ "2001:db8:0000::0001", "2001:db8::1" },
		{ "FE80::1", "fe80::1" },
		{ "::1", "::1" }, { "0:0:0:0:0:0:0:1", "::1" },
		{ "::7f00:1", "::127.0.0.1" },
		{ "example.com", NULL }, { "", NULL }, { "127.1", NULL },
		{ "127.0.0.1 ", NULL }, { "[::1]", NULL }, { "fe80::1%lo", NULL },
	};
	char out[64], tiny[4];
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		int rc = guard_canon_ip(cases[i].in, out, sizeof(out));

		if (cases[i].want == NULL) {
			CHECK_INT(cases[i].in, rc, -1);
			continue;
		}
		if (CHECK_INT(cases[i].in, rc, 0))
			CHECK_STR(cases[i].in, out, cases[i].want);
	}
	CHECK_INT("too small", guard_canon_ip("127.0.0.1", tiny,
	    sizeof(tiny)), -1);
	UNIT_DONE();
}

/* ratelimit_window - limit uses per window, then retry time; per key */
static void
ratelimit_window(void **state)
{
	struct ratelimit *r = ratelimit_new(100);
	time_t retry = 0, t0 = 1000000;
	int i;

	(void)state;
	for (i = 0; i < 3; i++)
		CHECK_INT("within limit", ratelimit_take(r, "a", 3, 60,
		    t0 + i, &retry), 1);
	CHECK_INT("over limit", ratelimit_take(r, "a", 3, 60, t0 + 10,
	    &retry), 0);
	CHECK_INT("retry when the oldest leaves", retry, t0 + 60);
	CHECK_INT("other key", ratelimit_take(r, "b", 3, 60, t0 + 10, &retry),
	    1);
	/* a refused use does not count: still three inside at t0+59 */
	CHECK_INT("still over", ratelimit_take(r, "a", 3, 60, t0 + 59,
	    &retry), 0);
	/* the first use leaves the window at t0+60: one place */
	CHECK_INT("one left", ratelimit_take(r, "a", 3, 60, t0 + 60, &retry),
	    1);
	CHECK_INT("then full", ratelimit_take(r, "a", 3, 60, t0 + 60, &retry),
	    0);
	CHECK_INT("retry next", retry, t0 + 61);
	/* long after: all free */
	for (i = 0; i < 3; i++)
		CHECK_INT("later", ratelimit_take(r, "a", 3, 60, t0 + 1000,
		    &retry), 1);
	ratelimit_free(r);
	UNIT_DONE();
}

/* ratelimit_caps - limits above 64 hold 64; a full table forgets */
static void
ratelimit_caps(void **state)
{
	struct ratelimit *r = ratelimit_new(2);
	time_t retry, t = 5000;
	int i, ok = 0;

	(void)state;
	for (i = 0; i < 100; i++)
		ok += ratelimit_take(r, "big", 1000, 3600, t, &retry);
	CHECK_INT("capped at 64", ok, 64);
	/* two keys fit; a third evicts the least recently used one */
	CHECK_INT("x", ratelimit_take(r, "x", 1, 3600, t + 1, &retry), 1);
	CHECK_INT("y", ratelimit_take(r, "y", 1, 3600, t + 2, &retry), 1);
	CHECK_INT("x again refused", ratelimit_take(r, "x", 1, 3600, t + 3,
	    &retry), 0);
	CHECK_INT("z evicts", ratelimit_take(r, "z", 1, 3600, t + 4, &retry),
	    1);
	/* x was used last at t+1, y at t+2: x went, so x starts afresh */
	CHECK_INT("x forgotten", ratelimit_take(r, "x", 1, 3600, t + 5,
	    &retry), 1);
	ratelimit_free(r);
	ratelimit_free(NULL);
	UNIT_DONE();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(forbidden_cases),
		cmocka_unit_test(canon_cases),
		cmocka_unit_test(ratelimit_window),
		cmocka_unit_test(ratelimit_caps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_dnsbl - the names a DNSBL is asked about (server/dnsbl.c,
 * dnsbl_name): RFC 5782 2.1 reverses an IPv4 address's octets and 2.4 an
 * IPv6 address's 32 nibbles, in lower-case hex, under the zone; a name
 * that does not fit its buffer is refused, never cut short.
 */
#include <arpa/inet.h>
#include <sys/socket.h>

#include "unit.h"

#include "server/dnsbl.h"

struct name_case {
	const char	*name;
	const char	*ip;
	const char	*zone;
	const char	*want;
};

static const struct name_case cases[] = {
	{ "IPv4, RFC 5782 example", "192.0.2.99", "bad.example.com",
	    "99.2.0.192.bad.example.com" },
	{ "IPv4 test address", "127.0.0.2", "zen.example",
	    "2.0.0.127.zen.example" },
	{ "IPv4 extremes", "255.0.0.1", "z", "1.0.0.255.z" },
	/* RFC 5782 2.4: 2001:db8:1:2:3:4:567:89ab */
	{ "IPv6, RFC 5782 example", "2001:db8:1:2:3:4:567:89ab",
	    "ugly.example.com",
	    "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2."
	    "ugly.example.com" },
	{ "IPv6 loopback", "::1", "bl.test",
	    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	    "bl.test" },
	{ "IPv6, every nibble, lower case", "fedc:ba98:7654:3210:0123:4567:"
	    "89ab:cdef", "bl.test",
	    "f.e.d.c.b.a.9.8.7.6.5.4.3.2.1.0.0.1.2.3.4.5.6.7.8.9.a.b.c.d.e.f."
	    "bl.test" },
	{ "IPv4-mapped IPv6 is asked as IPv6", "::ffff:192.0.2.1", "bl.test",
	    "1.0.2.0.0.0.0.c.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	    "bl.test" },
};

/* names - the table */
static void
names(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		const struct name_case *t = &cases[i];
		unsigned char ip[16];
		int family = strchr(t->ip, ':') ? AF_INET6 : AF_INET;
		char got[512];

		if (inet_pton(family, t->ip, ip) != 1)
			fail_msg("bad test address %s", t->ip);
		memset(got, 'x', sizeof(got));
		CHECK_INT(t->name, dnsbl_name(family, ip, t->zone, got,
		    sizeof(got)), 0);
		CHECK_STR(t->name, got, t->want);
	}
	UNIT_DONE();
}

/* too_small - a buffer one short of the name is an error */
static void
too_small(void **state)
{
	unsigned char ip[16];
	char got[128];
	size_t want = strlen("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	    "0.0.0.0.0.0.0.0.bl.test");

	(void)state;
	inet_pton(AF_INET6, "::1", ip);
	CHECK_INT("IPv6, exact fit", dnsbl_name(AF_INET6, ip, "bl.test", got,
	    want + 1), 0);
	CHECK_UINT("IPv6, exact fit: length", strlen(got), want);
	CHECK_INT("IPv6, one short", dnsbl_name(AF_INET6, ip, "bl.test", got,
	    want), -1);
	CHECK_INT("IPv6, nibbles cut", dnsbl_name(AF_INET6, ip, "bl.test", got,
	    20), -1);
	CHECK_INT("IPv6, nibbles cut, empty zone", dnsbl_name(AF_INET6, ip, "",
	    got, 20), -1);
	inet_pton(AF_INET, "192.0.2.99", ip);
	CHECK_INT("IPv4, exact fit", dnsbl_name(AF_INET, ip, "z", got,
	    sizeof("99.2.0.192.z")), 0);
	CHECK_INT("IPv4, one short", dnsbl_name(AF_INET, ip, "z", got,
	    sizeof("99.2.0.192.z") - 1), -1);
	CHECK_INT("IPv4, octets cut", dnsbl_name(AF_INET, ip, "z", got, 6),
	    -1);
	UNIT_DONE();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names),
		cmocka_unit_test(too_small),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

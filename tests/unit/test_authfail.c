/*
 * test_authfail - the AUTH failure throttle (server/authfail): slowing,
 * blocking, a success forgetting, the window, IPv6 counted by /64, and a
 * table full of blocks failing closed. The time is passed in.
 */
#include <stdlib.h>

#include "unit.h"

#include "server/authfail.h"

#define T0	((time_t)1800000000)

/* slow_then_block - delays grow after slow_after, a block at the max */
static void
slow_then_block(void **state)
{
	struct authfail *a = authfail_new(5, 2, 600, 3600);
	unsigned delay, i;
	int blocked;

	(void)state;
	for (i = 1; i <= 4; i++) {
		CHECK_UINT("count", authfail_record(a, "192.0.2.1", T0, &delay,
		    &blocked), i);
		CHECK_UINT("delay", delay, i < 2 ? 0 : i - 1);
		CHECK_INT("not yet blocked", blocked, 0);
	}
	authfail_record(a, "192.0.2.1", T0, &delay, &blocked);
	CHECK_INT("blocked at the fifth", blocked, 1);
	CHECK_INT("blocked now", authfail_blocked(a, "192.0.2.1", T0 + 1), 1);
	CHECK_INT("another address free", authfail_blocked(a, "192.0.2.2",
	    T0 + 1), 0);
	CHECK_INT("block ends", authfail_blocked(a, "192.0.2.1", T0 + 3600),
	    0);
	/* a success while blocked does not lift the block */
	authfail_clear(a, "192.0.2.1", T0 + 2);
	CHECK_INT("still blocked", authfail_blocked(a, "192.0.2.1", T0 + 3),
	    1);
	authfail_free(a);
	UNIT_DONE();
}

/* window_and_clear - old failures age out; a success forgets */
static void
window_and_clear(void **state)
{
	struct authfail *a = authfail_new(5, 3, 600, 3600);
	unsigned delay;
	int blocked;

	(void)state;
	authfail_record(a, "192.0.2.1", T0, &delay, &blocked);
	authfail_record(a, "192.0.2.1", T0, &delay, &blocked);
	CHECK_UINT("window restarts", authfail_record(a, "192.0.2.1",
	    T0 + 601, &delay, &blocked), 1);
	authfail_clear(a, "192.0.2.1", T0 + 602);
	CHECK_UINT("forgotten", authfail_record(a, "192.0.2.1", T0 + 603,
	    &delay, &blocked), 1);
	authfail_free(a);
	UNIT_DONE();
}

/* ipv6_by_64 - addresses of one /64 share a count; another /64 not */
static void
ipv6_by_64(void **state)
{
	struct authfail *a = authfail_new(3, 0, 600, 3600);
	char ip[64];
	unsigned delay, i;
	int blocked = 0;

	(void)state;
	for (i = 1; i <= 3; i++) {
		snprintf(ip, sizeof(ip), "2001:db8:1:2::%x", i * 17);
		authfail_record(a, ip, T0, &delay, &blocked);
	}
	CHECK_INT("three addresses, one /64: blocked", blocked, 1);
	CHECK_INT("the whole /64", authfail_blocked(a,
	    "2001:db8:1:2:ffff::1", T0 + 1), 1);
	CHECK_INT("the next /64 free", authfail_blocked(a, "2001:db8:1:3::1",
	    T0 + 1), 0);
	/* IPv4-mapped addresses are IPv4 clients: counted one by one */
	authfail_record(a, "::ffff:192.0.2.7", T0, &delay, &blocked);
	CHECK_INT("mapped: one failure", blocked, 0);
	CHECK_INT("mapped neighbour free", authfail_blocked(a,
	    "::ffff:192.0.2.8", T0), 0);
	authfail_free(a);
	UNIT_DONE();
}

/* full_of_blocks - more attackers than entries: the rest are slowed */
static void
full_of_blocks(void **state)
{
	struct authfail *a = authfail_new(1, 1, 600, 3600);
	char ip[64];
	unsigned delay, i;
	int blocked;

	(void)state;
	for (i = 0; i < AUTHFAIL_MAX; i++) {
		snprintf(ip, sizeof(ip), "10.%u.%u.%u", (i >> 16) & 0xff,
		    (i >> 8) & 0xff, i & 0xff);
		authfail_record(a, ip, T0, &delay, &blocked);
		if (!blocked)
			break;
	}
	CHECK_UINT("every one blocked", i, AUTHFAIL_MAX);
	authfail_record(a, "192.0.2.99", T0 + 1, &delay, &blocked);
	CHECK_UINT("an untracked address is slowed to the most", delay,
	    AUTHFAIL_MAX_DELAY);
	CHECK_INT("the old blocks stay", authfail_blocked(a, "10.0.0.0",
	    T0 + 2), 1);
	authfail_free(a);
	UNIT_DONE();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(slow_then_block),
		cmocka_unit_test(window_and_clear),
		cmocka_unit_test(ipv6_by_64),
		cmocka_unit_test(full_of_blocks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

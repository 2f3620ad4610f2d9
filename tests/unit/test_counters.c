/*
 * test_counters - the sliding-window counters of the abuse defense
 * (policy/counters): minute buckets over an hour, events ageing out,
 * distinct recipient domains, saturation, the fixed-size table with LRU
 * eviction, and a flood of 100,000 distinct sources in bounded memory.
 * The time is passed in, so every test runs on a fixed clock.
 */
#include <malloc.h>
#include <stdlib.h>

#include "unit.h"

#include "policy/counters.h"

/* A minute boundary, so that "T0 + 59" is still the first minute. */
#define T0	((time_t)1800000000 - (time_t)1800000000 % 60)

/* ipkey - "ip:10.A.B.C" for the n-th source of a flood */
static const char *
ipkey(char *dst, size_t dstsize, unsigned n)
{
	snprintf(dst, dstsize, "ip:10.%u.%u.%u", (n >> 16) & 0xff,
	    (n >> 8) & 0xff, n & 0xff);
	return dst;
}

/* names - counter names both ways */
static void
names(void **state)
{
	static const char *want[CNT_MAX] = {
		"connections", "messages", "recipients", "unknown_recipients",
		"relay_denied", "auth_failures", "kbytes", "rejections",
		"domains"
	};
	enum counter c;
	int i;

	(void)state;
	for (i = 0; i < CNT_MAX; i++) {
		CHECK_STR(want[i], counter_name((enum counter)i), want[i]);
		c = CNT_MAX;
		CHECK_INT(want[i], counter_parse(want[i], &c), 0);
		CHECK_INT(want[i], c, i);
	}
	CHECK_STR("out of range", counter_name(CNT_MAX), "?");
	CHECK_INT("unknown", counter_parse("bytes", &c), -1);
	CHECK_INT("empty", counter_parse("", &c), -1);
	CHECK_INT("case matters", counter_parse("Messages", &c), -1);
	CHECK_INT("prefix", counter_parse("message", &c), -1);
	UNIT_DONE();
}

/* window_basics - events count inside the window, age out after it */
static void
window_basics(void **state)
{
	struct counters *t = counters_new(8);
	struct ckey *k;

	(void)state;
	k = counters_get(t, "ip:192.0.2.1", T0, 1);
	assert_non_null(k);
	CHECK_STR("key name", k->name, "ip:192.0.2.1");
	CHECK_UINT("fresh key", counters_sum(k, CNT_MESSAGES, 3600, T0), 0);
	counters_add(k, CNT_MESSAGES, 3, T0);
	counters_add(k, CNT_MESSAGES, 2, T0 + 59);	/* same minute */
	CHECK_UINT("same minute", counters_sum(k, CNT_MESSAGES, 60, T0 + 59),
	    5);
	CHECK_UINT("other counters untouched",
	    counters_sum(k, CNT_RECIPIENTS, 3600, T0 + 59), 0);
	/* the next minute: a 1m window no longer sees them, 2m does */
	CHECK_UINT("1m, next minute", counters_sum(k, CNT_MESSAGES, 60,
	    T0 + 60), 0);
	CHECK_UINT("2m, next minute", counters_sum(k, CNT_MESSAGES, 120,
	    T0 + 60), 5);
	CHECK_UINT("90s rounds up to 2 minutes", counters_sum(k, CNT_MESSAGES,
	    90, T0 + 60), 5);
	CHECK_UINT("10m after 9 minutes", counters_sum(k, CNT_MESSAGES, 600,
	    T0 + 9 * 60), 5);
	CHECK_UINT("10m after 10 minutes", counters_sum(k, CNT_MESSAGES, 600,
	    T0 + 10 * 60), 0);
	CHECK_UINT("1h after 59 minutes", counters_sum(k, CNT_MESSAGES, 3600,
	    T0 + 59 * 60 + 59), 5);
	CHECK_UINT("1h after 60 minutes", counters_sum(k, CNT_MESSAGES, 3600,
	    T0 + 60 * 60), 0);
	CHECK_UINT("a zero window is the current minute",
	    counters_sum(k, CNT_MESSAGES, 0, T0 + 30), 5);
	CHECK_UINT("a window over an hour is an hour",
	    counters_sum(k, CNT_MESSAGES, 86400, T0 + 61 * 60), 0);
	CHECK_UINT("totals keep everything", k->total[CNT_MESSAGES], 5);
	/* new events after a long silence: the old buckets were cleared */
	counters_add(k, CNT_MESSAGES, 1, T0 + 3 * 3600 + 5);
	CHECK_UINT("after hours of silence", counters_sum(k, CNT_MESSAGES,
	    3600, T0 + 3 * 3600 + 5), 1);
	CHECK_UINT("totals after silence", k->total[CNT_MESSAGES], 6);
	CHECK_TRUE("last event time", k->last == T0 + 3 * 3600 + 5);
	counters_free(t);
	UNIT_DONE();
}

/* buckets - one event a minute for 90 minutes: an hour is the most kept */
static void
buckets(void **state)
{
	struct counters *t = counters_new(8);
	struct ckey *k = counters_get(t, "user:alice", T0, 1);
	time_t now = T0;
	unsigned i;

	(void)state;
	for (i = 0; i < 90; i++) {
		now = T0 + (time_t)i * 60 + 17;
		counters_add(k, CNT_RECIPIENTS, 1, now);
		if (i < 60)
			CHECK_UINT("filling the hour", counters_sum(k,
			    CNT_RECIPIENTS, 3600, now), i + 1);
	}
	CHECK_UINT("1h holds 60 minutes", counters_sum(k, CNT_RECIPIENTS, 3600,
	    now), 60);
	CHECK_UINT("10m", counters_sum(k, CNT_RECIPIENTS, 600, now), 10);
	CHECK_UINT("5m", counters_sum(k, CNT_RECIPIENTS, 300, now), 5);
	CHECK_UINT("1m", counters_sum(k, CNT_RECIPIENTS, 60, now), 1);
	CHECK_UINT("total", k->total[CNT_RECIPIENTS], 90);
	/* skipped minutes are cleared as the window moves over them */
	now += 5 * 60;
	counters_add(k, CNT_RECIPIENTS, 7, now);
	CHECK_UINT("gap of 5 minutes, 10m window", counters_sum(k,
	    CNT_RECIPIENTS, 600, now), 7 + 5);
	CHECK_UINT("gap of 5 minutes, 1h window", counters_sum(k,
	    CNT_RECIPIENTS, 3600, now), 7 + 55);
	/* reading later without new events */
	CHECK_UINT("read 30 minutes later", counters_sum(k, CNT_RECIPIENTS,
	    3600, now + 30 * 60), 7 + 25);
	CHECK_UINT("read 2 hours later", counters_sum(k, CNT_RECIPIENTS, 3600,
	    now + 2 * 3600), 0);
	counters_free(t);
	UNIT_DONE();
}

/* domains - distinct recipient domains, forgotten after their window */
static void
domains(void **state)
{
	struct counters *t = counters_new(8);
	struct ckey *k = counters_get(t, "ip:192.0.2.2", T0, 1);
	char d[64];
	unsigned i;

	(void)state;
	/* 30 recipients: a.example every third time, the rest d0..d9 */
	for (i = 0; i < 30; i++) {
		if (i % 3 == 0)
			snprintf(d, sizeof(d), "a.example");
		else
			snprintf(d, sizeof(d), "d%u.example", i % 10);
		counters_domain(k, d, T0 + i);
	}
	CHECK_UINT("repeats count once", counters_sum(k, CNT_DOMAINS, 60,
	    T0 + 30), 11);
	for (i = 0; i < 10; i++) {
		snprintf(d, sizeof(d), "d%u.example", i);
		counters_domain(k, d, T0 + 40);
	}
	CHECK_UINT("ten more, some repeated", counters_sum(k, CNT_DOMAINS,
	    600, T0 + 40), 11);
	CHECK_UINT("total distinct", k->total[CNT_DOMAINS], 11);
	/* five minutes later: b.example is new, d3 seen again */
	counters_domain(k, "b.example", T0 + 5 * 60);
	counters_domain(k, "d3.example", T0 + 5 * 60);
	CHECK_UINT("1m window sees the recent two", counters_sum(k,
	    CNT_DOMAINS, 60, T0 + 5 * 60), 2);
	CHECK_UINT("10m window sees all", counters_sum(k, CNT_DOMAINS, 600,
	    T0 + 5 * 60), 12);
	CHECK_UINT("10m later: the old ones left the window", counters_sum(k,
	    CNT_DOMAINS, 600, T0 + 10 * 60), 2);
	CHECK_UINT("an hour later: none", counters_sum(k, CNT_DOMAINS, 3600,
	    T0 + 65 * 60), 0);
	/* a domain seen again after its window counts again */
	counters_domain(k, "a.example", T0 + 65 * 60);
	CHECK_UINT("seen again", counters_sum(k, CNT_DOMAINS, 3600,
	    T0 + 65 * 60), 1);
	counters_free(t);
	UNIT_DONE();
}

/*
 * domains_many - a worm writes to hundreds of domains: at least
 * COUNTERS_DOMAINS distinct ones are seen in the window, and memory does
 * not grow with them.
 */
static void
domains_many(void **state)
{
	struct counters *t = counters_new(8);
	struct ckey *k = counters_get(t, "ip:192.0.2.3", T0, 1);
	size_t mem = counters_memory(t);
	char d[64];
	unsigned i;

	(void)state;
	for (i = 0; i < COUNTERS_DOMAINS; i++) {
		snprintf(d, sizeof(d), "victim%u.example", i);
		counters_domain(k, d, T0 + 1);
	}
	CHECK_UINT("as many as are remembered", counters_sum(k, CNT_DOMAINS,
	    3600, T0 + 1), COUNTERS_DOMAINS);
	for (; i < 500; i++) {
		snprintf(d, sizeof(d), "victim%u.example", i);
		counters_domain(k, d, T0 + 2);
	}
	CHECK_TRUE("500 domains: at least the remembered ones count",
	    counters_sum(k, CNT_DOMAINS, 3600, T0 + 2) >= COUNTERS_DOMAINS);
	CHECK_UINT("total distinct so far", k->total[CNT_DOMAINS], 500);
	CHECK_UINT("memory unchanged", counters_memory(t), mem);
	counters_free(t);
	UNIT_DONE();
}

/* saturation - a bucket stops at its maximum, never wraps */
static void
saturation(void **state)
{
	struct counters *t = counters_new(4);
	struct ckey *k = counters_get(t, "ip:192.0.2.4", T0, 1);

	(void)state;
	counters_add(k, CNT_KBYTES, 65000, T0);
	counters_add(k, CNT_KBYTES, 1000, T0);
	CHECK_UINT("a bucket saturates", counters_sum(k, CNT_KBYTES, 60, T0),
	    65535);
	counters_add(k, CNT_KBYTES, 1, T0);
	CHECK_UINT("and stays", counters_sum(k, CNT_KBYTES, 60, T0), 65535);
	counters_add(k, CNT_KBYTES, UINT32_MAX, T0);
	CHECK_UINT("a huge n does not wrap", counters_sum(k, CNT_KBYTES, 60,
	    T0), 65535);
	counters_add(k, CNT_KBYTES, UINT32_MAX, T0 + 60);
	CHECK_UINT("a huge n in a fresh bucket", counters_sum(k, CNT_KBYTES,
	    60, T0 + 60), 65535);
	CHECK_UINT("two saturated minutes add up", counters_sum(k, CNT_KBYTES,
	    120, T0 + 60), 2 * 65535);
	CHECK_UINT("the total is exact", k->total[CNT_KBYTES],
	    65000ull + 1000 + 1 + 2ull * UINT32_MAX);
	counters_add(k, CNT_KBYTES, 5, T0 + 120);
	CHECK_UINT("a new minute starts from zero", counters_sum(k,
	    CNT_KBYTES, 60, T0 + 120), 5);
	counters_free(t);
	UNIT_DONE();
}

/* present - is name in the table? (a lookup also refreshes it) */
static int
present(struct counters *t, const char *name, time_t now)
{
	return counters_get(t, name, now, 0) != NULL;
}

/* lru - the least recently used key goes first */
static void
lru(void **state)
{
	struct counters *t = counters_new(3);
	struct ckey *k;

	(void)state;
	CHECK_UINT("capacity", counters_capacity(t), 3);
	CHECK_TRUE("absent, not made", counters_get(t, "ip:a", T0, 0) == NULL);
	CHECK_UINT("nothing made", counters_count(t), 0);
	counters_add(counters_get(t, "ip:a", T0, 1), CNT_MESSAGES, 1, T0);
	counters_add(counters_get(t, "ip:b", T0, 1), CNT_MESSAGES, 2, T0);
	counters_add(counters_get(t, "ip:c", T0, 1), CNT_MESSAGES, 3, T0);
	CHECK_UINT("three", counters_count(t), 3);
	CHECK_UINT("no evictions yet", counters_evictions(t), 0);
	/* most recent first */
	k = counters_first(t);
	CHECK_STR("head", k ? k->name : NULL, "ip:c");
	CHECK_STR("second", k && k->next ? k->next->name : NULL, "ip:b");
	CHECK_STR("third", k && k->next && k->next->next ?
	    k->next->next->name : NULL, "ip:a");
	/* touching a makes b the oldest */
	k = counters_get(t, "ip:a", T0 + 1, 1);
	CHECK_UINT("same key back", counters_sum(k, CNT_MESSAGES, 60, T0 + 1),
	    1);
	counters_get(t, "ip:d", T0 + 2, 1);
	CHECK_UINT("still three", counters_count(t), 3);
	CHECK_UINT("one eviction", counters_evictions(t), 1);
	CHECK_TRUE("b was evicted", !present(t, "ip:b", T0 + 3));
	CHECK_TRUE("c stays", present(t, "ip:c", T0 + 3));
	CHECK_TRUE("a stays", present(t, "ip:a", T0 + 3));
	CHECK_TRUE("d made", present(t, "ip:d", T0 + 3));
	/* the lookups above refreshed c, a, d in that order: c is the
	 * oldest now; an evicted key comes back empty */
	counters_get(t, "ip:b", T0 + 4, 1);
	CHECK_TRUE("c was the oldest", !present(t, "ip:c", T0 + 5));
	k = counters_get(t, "ip:b", T0 + 5, 0);
	CHECK_UINT("b starts over", k ? counters_sum(k, CNT_MESSAGES, 3600,
	    T0 + 5) : 99, 0);
	CHECK_UINT("b's totals start over", k ? k->total[CNT_MESSAGES] : 99,
	    0);
	CHECK_UINT("two evictions", counters_evictions(t), 2);
	counters_free(t);

	/* a table of zero is a table of one */
	t = counters_new(0);
	CHECK_UINT("capacity 0 -> 1", counters_capacity(t), 1);
	CHECK_TRUE("one key", counters_get(t, "ip:x", T0, 1) != NULL);
	CHECK_TRUE("another replaces it", counters_get(t, "ip:y", T0, 1) !=
	    NULL);
	CHECK_UINT("still one", counters_count(t), 1);
	CHECK_TRUE("x gone", !present(t, "ip:x", T0));
	counters_free(t);
	UNIT_DONE();
}

/* reachable - keys found by walking the LRU list, each also by lookup */
static size_t
reachable(struct counters *t, time_t now, const char *cname)
{
	struct ckey *k, *prev = NULL;
	size_t n = 0;

	for (k = counters_first(t); k; prev = k, k = k->next) {
		n++;
		if (k->prev != prev) {
			CHECK_TRUE(cname, k->prev == prev);
			break;
		}
		if (n > counters_capacity(t) + 1)
			break;
	}
	(void)now;
	return n;
}

/* heap_in_use - bytes malloc has handed out (glibc) */
static size_t
heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

/*
 * flood - 100,000 distinct source addresses into a table of 1000: the
 * count never passes the capacity, the memory is what it was, the newest
 * sources are there, and every kept key is still found by lookup.
 */
static void
flood(void **state)
{
	const unsigned N = 100000, CAP = 1000;
	struct counters *t = counters_new(CAP);
	size_t mem = counters_memory(t), heap, over = 0, lost = 0;
	char name[64];
	unsigned i;

	(void)state;
	CHECK_TRUE("memory covers the keys", mem >= CAP * sizeof(struct ckey));
	CHECK_TRUE("memory is about the keys", mem <= CAP * (sizeof(struct ckey)
	    + 2 * sizeof(void *)) + 4096);
	heap = heap_in_use();
	for (i = 0; i < N; i++) {
		time_t now = T0 + i / 100;
		struct ckey *k = counters_get(t, ipkey(name, sizeof(name), i),
		    now, 1);

		if (k == NULL) {
			CHECK_TRUE("a key is always made", k != NULL);
			break;
		}
		counters_add(k, CNT_CONNECTIONS, 1, now);
		counters_domain(k, "victim.example", now);
		if (counters_count(t) > CAP)
			over++;
	}
	CHECK_UINT("never over capacity", over, 0);
	CHECK_UINT("count", counters_count(t), CAP);
	CHECK_UINT("memory constant", counters_memory(t), mem);
	CHECK_UINT("no heap growth", heap_in_use(), heap);
	CHECK_UINT("evictions", counters_evictions(t), N - CAP);
	CHECK_UINT("LRU list intact", reachable(t, T0 + N / 100, "links"),
	    CAP);
	/* the newest CAP are all there, with their counts */
	for (i = N - CAP; i < N; i++) {
		struct ckey *k = counters_get(t, ipkey(name, sizeof(name), i),
		    T0 + N / 100, 0);

		if (k == NULL || counters_sum(k, CNT_CONNECTIONS, 3600,
		    T0 + N / 100) != 1)
			lost++;
	}
	CHECK_UINT("newest kept", lost, 0);
	CHECK_TRUE("oldest gone", !present(t, ipkey(name, sizeof(name), 0),
	    T0 + N / 100));
	CHECK_TRUE("one before the newest 1000 gone", !present(t,
	    ipkey(name, sizeof(name), N - CAP - 1), T0 + N / 100));
	CHECK_UINT("lookups made nothing", counters_count(t), CAP);
	counters_free(t);
	UNIT_DONE();
}

/*
 * blocked_survives - a key whose block (or hold) is in force is not the
 * one evicted while others can go; once it has expired it can go too.
 */
static void
blocked_survives(void **state)
{
	const unsigned CAP = 100;
	struct counters *t = counters_new(CAP);
	struct ckey *k;
	char name[64];
	unsigned i, others = 0;
	time_t now = T0;

	(void)state;
	k = counters_get(t, "ip:198.51.100.66", now, 1);
	counters_add(k, CNT_UNKNOWN_RCPTS, 40, now);
	k->blocked_until = now + 3600;
	k = counters_get(t, "user:worm", now, 1);
	k->held_until = now + 3600;
	for (i = 0; i < 20000; i++) {
		now = T0 + i / 10;	/* 2000 seconds: still blocked */
		if (counters_get(t, ipkey(name, sizeof(name), i), now, 1) ==
		    NULL) {
			CHECK_TRUE("a key is always made", 0);
			break;
		}
	}
	CHECK_UINT("bounded", counters_count(t), CAP);
	k = counters_get(t, "ip:198.51.100.66", now, 0);
	CHECK_TRUE("the blocked key survived", k != NULL);
	CHECK_TRUE("its block is intact", k && k->blocked_until == T0 + 3600);
	CHECK_UINT("its counts are intact", k ? counters_sum(k,
	    CNT_UNKNOWN_RCPTS, 3600, now) : 0, 40);
	CHECK_TRUE("the held key survived", present(t, "user:worm", now));
	for (i = 0; i < 20000 - (CAP - 2); i++)
		if (present(t, ipkey(name, sizeof(name), i), now))
			others++;
	CHECK_UINT("the others went", others, 0);
	/* after its block ended, pressure takes it like anyone */
	now = T0 + 3600 + 1;
	for (i = 100000; i < 100000 + 2 * CAP; i++)
		counters_get(t, ipkey(name, sizeof(name), i), now, 1);
	CHECK_TRUE("expired block: evicted", !present(t, "ip:198.51.100.66",
	    now));
	CHECK_TRUE("expired hold: evicted", !present(t, "user:worm", now));
	counters_free(t);

	/* a table full of blocked keys still takes new ones (bounded) */
	t = counters_new(40);
	for (i = 0; i < 40; i++) {
		k = counters_get(t, ipkey(name, sizeof(name), i), T0, 1);
		k->blocked_until = T0 + 600;
	}
	for (i = 1000; i < 1100; i++)
		if (counters_get(t, ipkey(name, sizeof(name), i), T0 + 1, 1) ==
		    NULL)
			break;
	CHECK_UINT("all new keys made", i, 1100);
	CHECK_UINT("still bounded", counters_count(t), 40);
	counters_free(t);
	UNIT_DONE();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(names),
		cmocka_unit_test(window_basics),
		cmocka_unit_test(buckets),
		cmocka_unit_test(domains),
		cmocka_unit_test(domains_many),
		cmocka_unit_test(saturation),
		cmocka_unit_test(lru),
		cmocka_unit_test(flood),
		cmocka_unit_test(blocked_survives),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

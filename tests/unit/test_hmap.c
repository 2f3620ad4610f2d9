/*
 * test_hmap - the string-keyed hash map (util/hmap): put, get, del with
 * long probe runs of colliding keys, growth, iteration.
 */
#include <stdlib.h>

#include "unit.h"

#include "util/hmap.h"

/* basic - put, replace, get, getn, del, count */
static void
basic(void **state)
{
	static int v1, v2, v3;
	struct hmap *m = hmap_new();

	(void)state;
	CHECK_UINT("empty", hmap_count(m), 0);
	CHECK_TRUE("empty get", hmap_get(m, "a") == NULL);
	CHECK_INT("new key", hmap_put(m, "alpha", &v1), 0);
	CHECK_INT("second key", hmap_put(m, "beta", &v2), 0);
	CHECK_INT("empty key", hmap_put(m, "", &v3), 0);
	CHECK_UINT("three", hmap_count(m), 3);
	CHECK_TRUE("get alpha", hmap_get(m, "alpha") == &v1);
	CHECK_TRUE("get beta", hmap_get(m, "beta") == &v2);
	CHECK_TRUE("get empty key", hmap_get(m, "") == &v3);
	CHECK_TRUE("case matters", hmap_get(m, "ALPHA") == NULL);
	CHECK_TRUE("prefix is not a key", hmap_get(m, "alph") == NULL);
	CHECK_TRUE("longer is not a key", hmap_get(m, "alphas") == NULL);
	CHECK_TRUE("getn", hmap_getn(m, "alphabet", 5) == &v1);
	CHECK_TRUE("getn short", hmap_getn(m, "alphabet", 4) == NULL);
	CHECK_INT("replace", hmap_put(m, "alpha", &v2), 1);
	CHECK_UINT("replace keeps count", hmap_count(m), 3);
	CHECK_TRUE("replaced", hmap_get(m, "alpha") == &v2);
	CHECK_TRUE("del returns value", hmap_del(m, "alpha") == &v2);
	CHECK_TRUE("deleted", hmap_get(m, "alpha") == NULL);
	CHECK_UINT("two", hmap_count(m), 2);
	CHECK_TRUE("del absent", hmap_del(m, "alpha") == NULL);
	CHECK_TRUE("del never-seen", hmap_del(m, "gamma") == NULL);
	CHECK_UINT("still two", hmap_count(m), 2);
	CHECK_TRUE("beta survives", hmap_get(m, "beta") == &v2);
	CHECK_INT("re-add", hmap_put(m, "alpha", &v1), 0);
	CHECK_TRUE("re-added", hmap_get(m, "alpha") == &v1);
	hmap_free(m);
	hmap_free(NULL);
	CHECK_UINT("NULL count", hmap_count(NULL), 0);
	CHECK_TRUE("NULL getn", hmap_getn(NULL, "a", 1) == NULL);
	UNIT_DONE();
}

/* the key owns a copy: the caller's buffer may change after put */
static void
owns_keys(void **state)
{
	static int v;
	struct hmap *m = hmap_new();
	char key[16];

	(void)state;
	snprintf(key, sizeof(key), "user");
	hmap_put(m, key, &v);
	snprintf(key, sizeof(key), "XXXX");
	CHECK_TRUE("copied", hmap_get(m, "user") == &v);
	CHECK_TRUE("not aliased", hmap_get(m, "XXXX") == NULL);
	hmap_free(m);
	UNIT_DONE();
}

/*
 * fnv - FNV-1a as hmap.c uses it. Only to build keys whose low bits agree
 * (one long probe run); if the map's hash changes, the keys merely stop
 * colliding and the test still checks the same behaviour.
 */
static uint64_t
fnv(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

#define NCOLL	240

/* colliding - n keys with hash & 1023 == low, written into keys[] */
static void
colliding(char keys[][16], size_t n, unsigned low, unsigned tag)
{
	size_t found = 0;
	unsigned i;

	for (i = 0; found < n; i++) {
		snprintf(keys[found], 16, "k%u-%u", tag, i);
		if ((fnv(keys[found]) & 1023) == low)
			found++;
	}
}

/* check_all - present[i] says whether keys[i] must be in m, with value i */
static void
check_all(const char *name, const struct hmap *m, char keys[][16],
    const int *present, size_t n)
{
	size_t i, count = 0;

	for (i = 0; i < n; i++) {
		void *v = hmap_get(m, keys[i]);

		if (present[i]) {
			count++;
			if (v != (void *)(keys[i])) {
				unit_fail(__FILE__, __LINE__, name, "key %s: "
				    "got %p, want %p", keys[i], v,
				    (void *)keys[i]);
				return;
			}
		} else if (v != NULL) {
			unit_fail(__FILE__, __LINE__, name, "key %s: got %p, "
			    "want NULL (deleted)", keys[i], v);
			return;
		}
	}
	CHECK_UINT(name, hmap_count(m), count);
}

/*
 * collisions - keys sharing one home slot near the end of the table (so
 * the probe run wraps around) and keys homed at slot 0, interleaved;
 * deleted in several orders, every survivor checked after each delete.
 */
static void
collisions(void **state)
{
	static char keys[2 * NCOLL][16];
	static int present[2 * NCOLL];
	static const char *orders[] = { "forward", "backward", "middle out",
	    "random", "every third" };
	size_t o, i, k, n = 2 * NCOLL;

	(void)state;
	colliding(keys, NCOLL, 1020, 1);
	colliding(keys + NCOLL, NCOLL, 0, 2);
	for (o = 0; o < NELEM(orders); o++) {
		struct hmap *m = hmap_new();
		size_t perm[2 * NCOLL];
		uint32_t seed = 12345;
		char name[64];

		/* interleave the two runs */
		for (i = 0; i < NCOLL; i++) {
			hmap_put(m, keys[i], keys[i]);
			hmap_put(m, keys[NCOLL + i], keys[NCOLL + i]);
		}
		for (i = 0; i < n; i++) {
			present[i] = 1;
			perm[i] = i;
		}
		snprintf(name, sizeof(name), "%s, after insert", orders[o]);
		check_all(name, m, keys, present, n);
		if (o == 1)
			for (i = 0; i < n; i++)
				perm[i] = n - 1 - i;
		else if (o == 2)
			for (i = 0; i < n; i++)
				perm[i] = i % 2 ? n / 2 + i / 2 :
				    n / 2 - 1 - i / 2;
		else if (o == 3)
			for (i = n - 1; i > 0; i--) {
				size_t j, t;

				seed = seed * 1103515245 + 12345;
				j = (seed >> 8) % (i + 1);
				t = perm[i];
				perm[i] = perm[j];
				perm[j] = t;
			}
		else if (o == 4)
			for (i = 0, k = 0; k < 3; k++)
				for (size_t j = k; j < n; j += 3)
					perm[i++] = j;
		for (i = 0; i < n; i++) {
			snprintf(name, sizeof(name), "%s, delete #%zu (%s)",
			    orders[o], i, keys[perm[i]]);
			if (hmap_del(m, keys[perm[i]]) != keys[perm[i]])
				unit_fail(__FILE__, __LINE__, name, "del "
				    "returned the wrong value");
			present[perm[i]] = 0;
			check_all(name, m, keys, present, n);
			if (*unit_nfail() > 10)
				break;
		}
		CHECK_UINT(orders[o], hmap_count(m), 0);
		hmap_free(m);
	}
	UNIT_DONE();
}

/* growth - many keys through several doublings, deletes and re-inserts */
static void
growth(void **state)
{
	enum { N = 20000 };
	static char keys[N][16];
	static int present[N];
	struct hmap *m = hmap_new();
	size_t i, pos, seen;
	const char *k;
	void *v;

	(void)state;
	for (i = 0; i < N; i++) {
		snprintf(keys[i], sizeof(keys[i]), "key%zu", i);
		CHECK_INT("insert", hmap_put(m, keys[i], keys[i]), 0);
		present[i] = 1;
	}
	check_all("inserted", m, keys, present, N);
	for (i = 0; i < N; i += 2) {
		hmap_del(m, keys[i]);
		present[i] = 0;
	}
	check_all("half deleted", m, keys, present, N);
	for (i = 0; i < N; i += 4) {
		CHECK_INT("re-insert", hmap_put(m, keys[i], keys[i]), 0);
		present[i] = 1;
	}
	check_all("re-inserted", m, keys, present, N);
	/* iteration sees each key exactly once, with its value */
	memset(present, 0, sizeof(present));
	pos = 0;
	seen = 0;
	while (hmap_iter(m, &pos, &k, &v)) {
		size_t idx = (size_t)strtoul(k + 3, NULL, 10);

		seen++;
		if (idx >= N || strcmp(keys[idx], k) != 0 || v != keys[idx] ||
		    present[idx]++) {
			unit_fail(__FILE__, __LINE__, "iterate", "bad entry "
			    "%s", k);
			break;
		}
	}
	CHECK_UINT("iterate", seen, hmap_count(m));
	CHECK_UINT("iterate", seen, N / 2 + N / 4);
	hmap_free(m);
	pos = 0;
	CHECK_INT("iterate NULL", hmap_iter(NULL, &pos, &k, &v), 0);
	UNIT_DONE();
}

/* churn - a small map under many put/del cycles never loses a key */
static void
churn(void **state)
{
	enum { N = 64 };
	static char keys[N][16];
	static int present[N];
	struct hmap *m = hmap_new();
	uint32_t s = 99;
	size_t i, step;

	(void)state;
	for (i = 0; i < N; i++)
		snprintf(keys[i], sizeof(keys[i]), "c%zu", i);
	memset(present, 0, sizeof(present));
	for (step = 0; step < 20000; step++) {
		s ^= s << 13;
		s ^= s >> 17;
		s ^= s << 5;
		i = s % N;
		if (present[i]) {
			if (hmap_del(m, keys[i]) != keys[i]) {
				unit_fail(__FILE__, __LINE__, keys[i], "del "
				    "at step %zu lost the key", step);
				break;
			}
			present[i] = 0;
		} else {
			hmap_put(m, keys[i], keys[i]);
			present[i] = 1;
		}
		if (step % 97 == 0)
			check_all("churn", m, keys, present, N);
		if (*unit_nfail() > 0)
			break;
	}
	check_all("churn end", m, keys, present, N);
	hmap_free(m);
	UNIT_DONE();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(basic),
		cmocka_unit_test(owns_keys),
		cmocka_unit_test(collisions),
		cmocka_unit_test(growth),
		cmocka_unit_test(churn),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

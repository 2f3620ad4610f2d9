#include <stdlib.h>
#include <string.h>

#include "policy/counters.h"
#include "util/str.h"
#include "util/xalloc.h"

struct counters {
	struct ckey	**buckets;	/* hash chains */
	size_t		 nbuckets;
	struct ckey	*pool;		/* capacity keys, allocated once */
	size_t		 fresh;		/* pool[fresh..] never used yet */
	struct ckey	*free;		/* used once, free again */
	struct ckey	*head, *tail;	/* LRU: head is the most recent */
	size_t		 count, capacity;
	uint64_t	 evictions;
	uint32_t	 seed;
};

static const char *names[CNT_MAX] = {
	"connections", "messages", "recipients", "unknown_recipients",
	"relay_denied", "auth_failures", "kbytes", "rejections", "domains"
};

/* counter_name - the counter's name in configs and reports */
const char *
counter_name(enum counter c)
{
	return (unsigned)c < CNT_MAX ? names[c] : "?";
}

/* counter_parse - a counter by name; 0 or -1 */
int
counter_parse(const char *name, enum counter *c)
{
	int i;

	for (i = 0; i < CNT_MAX; i++)
		if (strcmp(names[i], name) == 0) {
			*c = (enum counter)i;
			return 0;
		}
	return -1;
}

/* hash - FNV-1a with the table's seed (keys are attacker-chosen) */
static uint32_t
hash(uint32_t seed, const char *s)
{
	uint32_t h = 2166136261u ^ seed;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

/* counters_new - a table of at most capacity keys, all memory up front */
struct counters *
counters_new(size_t capacity)
{
	struct counters *t = xcalloc(1, sizeof(*t));

	t->capacity = capacity ? capacity : 1;
	t->nbuckets = 1;
	while (t->nbuckets < t->capacity)
		t->nbuckets *= 2;
	t->buckets = xcalloc(t->nbuckets, sizeof(*t->buckets));
	/* calloc'd and handed out in order: pages of keys never used are
	 * never touched, so an idle server stays small */
	t->pool = xcalloc(t->capacity, sizeof(*t->pool));
	t->seed = arc4random();
	return t;
}

/* counters_free - free the table */
void
counters_free(struct counters *t)
{
	if (t == NULL)
		return;
	free(t->buckets);
	free(t->pool);
	free(t);
}

/* unlink_lru - take k out of the LRU list */
static void
unlink_lru(struct counters *t, struct ckey *k)
{
	if (k->prev)
		k->prev->next = k->next;
	else
		t->head = k->next;
	if (k->next)
		k->next->prev = k->prev;
	else
		t->tail = k->prev;
	k->prev = k->next = NULL;
}

/* push_lru - make k the most recent */
static void
push_lru(struct counters *t, struct ckey *k)
{
	k->next = t->head;
	k->prev = NULL;
	if (t->head)
		t->head->prev = k;
	t->head = k;
	if (t->tail == NULL)
		t->tail = k;
}

/* unchain - take k out of its hash chain */
static void
unchain(struct counters *t, struct ckey *k)
{
	struct ckey **pp = &t->buckets[hash(t->seed, k->name) &
	    (t->nbuckets - 1)];

	for (; *pp; pp = &(*pp)->hnext)
		if (*pp == k) {
			*pp = k->hnext;
			return;
		}
}

/*
 * counters_get - the key's counters, made if create (evicting the least
 * recently used key when full, but never one whose block or hold is still
 * in force while another can go). NULL if absent and !create.
 */
struct ckey *
counters_get(struct counters *t, const char *name, time_t now, int create)
{
	uint32_t h = hash(t->seed, name) & (t->nbuckets - 1);
	struct ckey *k;

	for (k = t->buckets[h]; k; k = k->hnext)
		if (strcmp(k->name, name) == 0) {
			unlink_lru(t, k);
			push_lru(t, k);
			return k;
		}
	if (!create)
		return NULL;
	if (t->free == NULL && t->fresh < t->capacity) {
		t->pool[t->fresh].next = NULL;
		t->free = &t->pool[t->fresh++];
	}
	if (t->free == NULL) {
		struct ckey *v = t->tail;
		int n = 0;

		/* prefer a victim with nothing in force (look a little) */
		while (v && n++ < 32 && (v->blocked_until > now ||
		    v->held_until > now))
			v = v->prev;
		if (v == NULL || n > 32)
			v = t->tail;
		unlink_lru(t, v);
		unchain(t, v);
		v->next = t->free;
		t->free = v;
		t->count--;
		t->evictions++;
	}
	k = t->free;
	t->free = k->next;
	memset(k, 0, sizeof(*k));
	str_copy(k->name, sizeof(k->name), name);
	k->minute = (uint32_t)(now / 60);
	k->last = now;
	k->hnext = t->buckets[h];
	t->buckets[h] = k;
	push_lru(t, k);
	t->count++;
	return k;
}

/* advance - move the key's window to now, clearing passed buckets */
static void
advance(struct ckey *k, time_t now)
{
	uint32_t m = (uint32_t)(now / 60), i, j, steps;

	if (m <= k->minute)
		return;
	steps = m - k->minute;
	if (steps > COUNTERS_BUCKETS)
		steps = COUNTERS_BUCKETS;
	for (i = 1; i <= steps; i++)
		for (j = 0; j < CNT_MAX; j++)
			k->b[j][(k->minute + i) % COUNTERS_BUCKETS] = 0;
	k->minute = m;
}

/* counters_add - n more events of kind c, now */
void
counters_add(struct ckey *k, enum counter c, uint32_t n, time_t now)
{
	uint16_t *b;

	advance(k, now);
	b = &k->b[c][k->minute % COUNTERS_BUCKETS];
	*b = (uint16_t)(*b + n < *b || *b + n > 0xffff ? 0xffff : *b + n);
	k->total[c] += n;
	k->last = now;
}

/* counters_domain - a recipient domain was used (distinct ones count) */
void
counters_domain(struct ckey *k, const char *domain, time_t now)
{
	uint32_t h = hash(0x9e3779b9u, domain) | 1, m = (uint32_t)(now / 60);
	size_t i, oldest = 0;

	for (i = 0; i < COUNTERS_DOMAINS; i++) {
		if (k->dom[i] == h) {
			k->dom_min[i] = m;
			return;
		}
		if (k->dom[i] == 0 || k->dom_min[i] < k->dom_min[oldest])
			oldest = i;
		if (k->dom[i] == 0)
			break;
	}
	k->dom[oldest] = h;
	k->dom_min[oldest] = m;
	k->total[CNT_DOMAINS]++;
}

/* counters_sum - events of kind c in the last secs (at most an hour) */
uint32_t
counters_sum(const struct ckey *k, enum counter c, unsigned secs, time_t now)
{
	uint32_t m = (uint32_t)(now / 60), span, i, sum = 0;

	span = (secs + 59) / 60;
	if (span == 0)
		span = 1;
	if (span > COUNTERS_BUCKETS)
		span = COUNTERS_BUCKETS;
	if (c == CNT_DOMAINS) {
		for (i = 0; i < COUNTERS_DOMAINS; i++)
			if (k->dom[i] && m - k->dom_min[i] < span)
				sum++;
		return sum;
	}
	for (i = 0; i < span; i++) {
		uint32_t b = m - i;

		if (b > k->minute || k->minute - b >= COUNTERS_BUCKETS)
			continue;	/* in the future, or already cleared */
		sum += k->b[c][b % COUNTERS_BUCKETS];
	}
	return sum;
}

size_t
counters_count(const struct counters *t)
{
	return t->count;
}

size_t
counters_capacity(const struct counters *t)
{
	return t->capacity;
}

/* counters_memory - bytes the table uses (fixed at creation) */
size_t
counters_memory(const struct counters *t)
{
	return sizeof(*t) + t->nbuckets * sizeof(*t->buckets) +
	    t->capacity * sizeof(*t->pool);
}

uint64_t
counters_evictions(const struct counters *t)
{
	return t->evictions;
}

/* counters_first - the most recently used key; walk with ->next */
struct ckey *
counters_first(struct counters *t)
{
	return t->head;
}

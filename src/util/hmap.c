#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/hmap.h"
#include "util/xalloc.h"

struct slot {
	char	*key;	/* owned; NULL = empty */
	size_t	 klen;
	uint64_t hash;
	void	*value;
};

struct hmap {
	struct slot *slots;
	size_t	 size;	/* power of two */
	size_t	 count;
};

/* hash - FNV-1a, 64 bit */
static uint64_t
hash(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* hmap_new - empty map */
struct hmap *
hmap_new(void)
{
	struct hmap *m = xcalloc(1, sizeof(*m));

	m->size = 16;
	m->slots = xcalloc(m->size, sizeof(*m->slots));
	return m;
}

/* hmap_free - free the map and its keys, not the values */
void
hmap_free(struct hmap *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->size; i++)
		free(m->slots[i].key);
	free(m->slots);
	free(m);
}

/* find - the slot holding key, or the empty slot where it would go */
static struct slot *
find(const struct hmap *m, const char *key, size_t n, uint64_t h)
{
	size_t i = (size_t)h & (m->size - 1);

	for (;;) {
		struct slot *s = &m->slots[i];

		if (s->key == NULL || (s->hash == h && s->klen == n &&
		    memcmp(s->key, key, n) == 0))
			return s;
		i = (i + 1) & (m->size - 1);
	}
}

/* grow - double the table */
static void
grow(struct hmap *m)
{
	struct slot *old = m->slots;
	size_t i, oldsize = m->size;

	m->size *= 2;
	m->slots = xcalloc(m->size, sizeof(*m->slots));
	for (i = 0; i < oldsize; i++)
		if (old[i].key != NULL)
			*find(m, old[i].key, old[i].klen, old[i].hash) = old[i];
	free(old);
}

/* hmap_put - set key to value; returns 1 if the key existed (replaced) */
int
hmap_put(struct hmap *m, const char *key, void *value)
{
	size_t n = strlen(key);
	uint64_t h = hash(key, n);
	struct slot *s;

	if ((m->count + 1) * 4 > m->size * 3)
		grow(m);
	s = find(m, key, n, h);
	if (s->key != NULL) {
		s->value = value;
		return 1;
	}
	s->key = xmemdup0(key, n);
	s->klen = n;
	s->hash = h;
	s->value = value;
	m->count++;
	return 0;
}

/* hmap_getn - value for the len-byte key, or NULL */
void *
hmap_getn(const struct hmap *m, const char *key, size_t len)
{
	struct slot *s;

	if (m == NULL)
		return NULL;
	s = find(m, key, len, hash(key, len));
	return s->key ? s->value : NULL;
}

/* hmap_get - value for key, or NULL */
void *
hmap_get(const struct hmap *m, const char *key)
{
	return hmap_getn(m, key, strlen(key));
}

/*
 * hmap_del - remove key; returns its value (NULL if absent). Linear
 * probing lets us delete without tombstones: later entries of the same
 * probe run are shifted back into the gap.
 */
void *
hmap_del(struct hmap *m, const char *key)
{
	size_t n = strlen(key), i, j, k;
	struct slot *s = find(m, key, n, hash(key, n));
	void *v;

	if (s->key == NULL)
		return NULL;
	v = s->value;
	free(s->key);
	s->key = NULL;
	m->count--;
	i = (size_t)(s - m->slots);
	for (j = (i + 1) & (m->size - 1); m->slots[j].key != NULL;
	    j = (j + 1) & (m->size - 1)) {
		k = (size_t)m->slots[j].hash & (m->size - 1);
		/* move j into the gap at i unless its home lies in (i, j] */
		if ((j > i && (k <= i || k > j)) || (j < i && k <= i && k > j)) {
			m->slots[i] = m->slots[j];
			m->slots[j].key = NULL;
			i = j;
		}
	}
	return v;
}

/* hmap_count - number of keys */
size_t
hmap_count(const struct hmap *m)
{
	return m ? m->count : 0;
}

/* hmap_iter - next entry from *pos (start at 0); 0 when done */
int
hmap_iter(const struct hmap *m, size_t *pos, const char **key, void **value)
{
	if (m == NULL)
		return 0;
	for (; *pos < m->size; (*pos)++)
		if (m->slots[*pos].key != NULL) {
			*key = m->slots[*pos].key;
			*value = m->slots[*pos].value;
			(*pos)++;
			return 1;
		}
	return 0;
}

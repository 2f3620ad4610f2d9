/*
 * hmap - a string-keyed hash map with open addressing.
 *
 * Owns copies of its keys; values are the caller's (never freed here).
 * Keys are compared bytewise; callers that want case-insensitive lookups
 * lower-case the key first. Keys come from configuration, so the hash need
 * not resist chosen-key flooding; it is seeded per process all the same.
 */
#ifndef SLUICE_HMAP_H
#define SLUICE_HMAP_H

#include <stddef.h>

struct hmap;

struct hmap *hmap_new(void);
void	hmap_free(struct hmap *m);
int	hmap_put(struct hmap *m, const char *key, void *value);
void	*hmap_get(const struct hmap *m, const char *key);
void	*hmap_del(struct hmap *m, const char *key);
void	*hmap_getn(const struct hmap *m, const char *key, size_t len);
size_t	hmap_count(const struct hmap *m);
int	hmap_iter(const struct hmap *m, size_t *pos, const char **key,
	    void **value);

#endif

/*
 * domset - sets of domain and address patterns.
 *
 * Pure: no I/O. Patterns, all case-insensitive:
 *   example.com        that domain
 *   .example.com       any subdomain of it (also written *.example.com)
 *   user@example.com   one address          (address lookups only)
 *   user@              that local part in any domain
 * Each pattern may carry a value (the caller's, never freed here). Lookups
 * return the pattern that matched, most specific first, or NULL.
 */
#ifndef SLUICE_DOMSET_H
#define SLUICE_DOMSET_H

#include <stddef.h>

struct domset;

struct domset *domset_new(void);
void	domset_free(struct domset *d);
int	domset_add(struct domset *d, const char *pattern, void *value);
size_t	domset_count(const struct domset *d);
const char *domset_match_domain(const struct domset *d, const char *domain,
	    void **value);
const char *domset_match_addr(const struct domset *d, const char *local,
	    const char *domain, void **value);

#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/domset.h"
#include "smtp/addr.h"
#include "util/hmap.h"
#include "util/str.h"
#include "util/xalloc.h"

struct entry {
	char	*pattern;	/* owned: the lower-case key */
	void	*value;		/* the caller's */
};

struct domset {
	struct hmap	*map;	/* lower-case pattern -> struct entry */
};

/* domset_new - empty set */
struct domset *
domset_new(void)
{
	struct domset *d = xcalloc(1, sizeof(*d));

	d->map = hmap_new();
	return d;
}

/* domset_free - free the set (not the values) */
void
domset_free(struct domset *d)
{
	size_t pos = 0;
	const char *k;
	void *v;

	if (d == NULL)
		return;
	while (hmap_iter(d->map, &pos, &k, &v)) {
		struct entry *e = v;

		free(e->pattern);
		free(e);
	}
	hmap_free(d->map);
	free(d);
}

/* valid_domain_text - a domain name or [literal] (for patterns) */
static int
valid_domain_text(const char *s)
{
	size_t n = strlen(s);
	struct addr a;

	if (n >= 2 && s[0] == '[' && s[n - 1] == ']')
		return addr_parse_literal(s + 1, n - 2, &a);
	return addr_parse_domain(s, n);
}

/* domset_add - add a pattern (see header); -1 if it is malformed */
int
domset_add(struct domset *d, const char *pattern, void *value)
{
	char key[SMTP_PATH_MAX + 2];
	const char *at, *dom;
	struct entry *e;

	if (strncmp(pattern, "*.", 2) == 0)
		pattern++;
	if (str_copy(key, sizeof(key), pattern) == -1 || key[0] == '\0')
		return -1;
	str_lower(key);
	at = strrchr(key, '@');
	dom = at ? at + 1 : key[0] == '.' ? key + 1 : key;
	if (at != NULL) {
		size_t i;

		if (at == key)
			return -1;
		for (i = 0; key + i < at; i++)
			if ((unsigned char)key[i] <= ' ' ||
			    (unsigned char)key[i] >= 0x7f)
				return -1;
		if (*dom != '\0' && !valid_domain_text(dom))
			return -1;
	} else if (!valid_domain_text(dom))
		return -1;
	e = hmap_get(d->map, key);
	if (e == NULL) {
		e = xcalloc(1, sizeof(*e));
		e->pattern = xstrdup(key);
		hmap_put(d->map, key, e);
	}
	e->value = value;
	return 0;
}

/* domset_count - number of patterns */
size_t
domset_count(const struct domset *d)
{
	return d ? hmap_count(d->map) : 0;
}

/* get - look up one key; the matched pattern (owned by the set) or NULL */
static const char *
get(const struct domset *d, const char *key, void **value)
{
	struct entry *e = hmap_get(d->map, key);

	if (e == NULL)
		return NULL;
	if (value)
		*value = e->value;
	return e->pattern;
}

/* domset_match_domain - exact domain, then ".parent" patterns upward */
const char *
domset_match_domain(const struct domset *d, const char *domain, void **value)
{
	char key[SMTP_DOMAIN_MAX + 3];
	const char *p, *m;

	if (d == NULL || str_copy(key, sizeof(key), domain) == -1)
		return NULL;
	str_lower(key);
	if ((m = get(d, key, value)) != NULL)
		return m;
	if (key[0] == '[')
		return NULL;	/* literals have no parents */
	for (p = key; (p = strchr(p, '.')) != NULL; p++)
		if ((m = get(d, p, value)) != NULL)
			return m;
	return NULL;
}

/* domset_match_addr - "local@domain", then "local@", then the domain */
const char *
domset_match_addr(const struct domset *d, const char *local,
    const char *domain, void **value)
{
	char key[SMTP_PATH_MAX + 4];
	const char *m;

	if (d == NULL)
		return NULL;
	if (str_copy(key, sizeof(key), local) == -1)
		return NULL;
	str_lower(key);
	if (domain != NULL && *domain != '\0') {
		size_t n = strlen(key);
		char dom[SMTP_DOMAIN_MAX + 3];

		if (str_copy(dom, sizeof(dom), domain) == -1)
			return NULL;
		str_lower(dom);
		if (snprintf(key + n, sizeof(key) - n, "@%s", dom) <
		    (int)(sizeof(key) - n) && (m = get(d, key, value)) != NULL)
			return m;
		key[n] = '\0';
	}
	if (str_copy(key + strlen(key), sizeof(key) - strlen(key), "@") == 0 &&
	    (m = get(d, key, value)) != NULL)
		return m;
	if (domain != NULL && *domain != '\0')
		return domset_match_domain(d, domain, value);
	return NULL;
}

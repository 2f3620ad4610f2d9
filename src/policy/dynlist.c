#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/cidr.h"
#include "policy/domset.h"
#include "policy/dynlist.h"
#include "util/json.h"
#include "util/xalloc.h"

/*
 * Lists are short (an admin types them), so a linear scan with one small
 * matcher per entry is enough and keeps deletion simple.
 */
struct dent {
	struct dl_entry	 e;
	struct cidr	 net;		/* DL_CLIENT */
	struct domset	*pat;		/* the others */
};

struct dynlist {
	struct dent	*v;
	size_t		 n, cap;
};

static const char *type_names[DL_NTYPES] = { "client", "sender",
    "recipient", "helo" };

/* dynlist_type_name - "client", "sender", "recipient", "helo" */
const char *
dynlist_type_name(enum dl_type t)
{
	return (unsigned)t < DL_NTYPES ? type_names[t] : "?";
}

/* dynlist_parse_type - the inverse; 0 or -1 */
int
dynlist_parse_type(const char *s, enum dl_type *t)
{
	int i;

	for (i = 0; i < DL_NTYPES; i++)
		if (strcmp(s, type_names[i]) == 0) {
			*t = (enum dl_type)i;
			return 0;
		}
	return -1;
}

struct dynlist *
dynlist_new(void)
{
	return xcalloc(1, sizeof(struct dynlist));
}

/* drop - free entry i's matcher and remove it */
static void
drop(struct dynlist *d, size_t i)
{
	domset_free(d->v[i].pat);
	memmove(&d->v[i], &d->v[i + 1], (d->n - i - 1) * sizeof(d->v[0]));
	d->n--;
}

void
dynlist_free(struct dynlist *d)
{
	if (d == NULL)
		return;
	while (d->n > 0)
		drop(d, d->n - 1);
	free(d->v);
	free(d);
}

/*
 * dynlist_add - add (or replace: same kind, type and pattern) an entry.
 * 0, or -1 with err when the pattern is malformed.
 */
int
dynlist_add(struct dynlist *d, const struct dl_entry *e, char *err,
    size_t errsize)
{
	struct dent t;

	memset(&t, 0, sizeof(t));
	t.e = *e;
	if (e->type == DL_CLIENT) {
		if (cidr_parse(e->pattern, &t.net) == -1) {
			snprintf(err, errsize, "bad address or network \"%s\"",
			    e->pattern);
			return -1;
		}
	} else {
		t.pat = domset_new();
		if (domset_add(t.pat, e->pattern, NULL) == -1 ||
		    (e->type == DL_HELO && strchr(e->pattern, '@'))) {
			snprintf(err, errsize, "bad %s pattern \"%s\"",
			    type_names[e->type], e->pattern);
			domset_free(t.pat);
			return -1;
		}
	}
	dynlist_del(d, e->kind, e->type, e->pattern);
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 16;
		d->v = xreallocarray(d->v, d->cap, sizeof(*d->v));
	}
	d->v[d->n++] = t;
	return 0;
}

/* dynlist_del - remove an entry; 1 if it was there */
int
dynlist_del(struct dynlist *d, enum dl_kind kind, enum dl_type type,
    const char *pattern)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		if (d->v[i].e.kind == kind && d->v[i].e.type == type &&
		    strcasecmp(d->v[i].e.pattern, pattern) == 0) {
			drop(d, i);
			return 1;
		}
	return 0;
}

/* dynlist_expire - remove expired entries; how many went */
size_t
dynlist_expire(struct dynlist *d, time_t now)
{
	size_t i = 0, n = 0;

	while (i < d->n)
		if (d->v[i].e.expires && d->v[i].e.expires <= now) {
			drop(d, i);
			n++;
		} else
			i++;
	return n;
}

size_t
dynlist_count(const struct dynlist *d)
{
	return d ? d->n : 0;
}

const struct dl_entry *
dynlist_entry(const struct dynlist *d, size_t i)
{
	return i < d->n ? &d->v[i].e : NULL;
}

/* live - not expired */
static int
live(const struct dent *t, time_t now)
{
	return t->e.expires == 0 || t->e.expires > now;
}

/* dynlist_match_client - the most specific live client entry of kind */
const struct dl_entry *
dynlist_match_client(const struct dynlist *d, enum dl_kind kind, int family,
    const unsigned char *ip, time_t now)
{
	const struct dent *best = NULL;
	size_t i;

	for (i = 0; d && i < d->n; i++) {
		const struct dent *t = &d->v[i];
		struct cidr_set *one;

		if (t->e.kind != kind || t->e.type != DL_CLIENT || !live(t, now))
			continue;
		one = cidr_set_new();
		cidr_set_add(one, &t->net, NULL);
		if (cidr_set_match(one, family, ip, NULL) &&
		    (best == NULL || t->net.bits > best->net.bits))
			best = t;
		cidr_set_free(one);
	}
	return best ? &best->e : NULL;
}

/* dynlist_match_addr - a live sender/recipient/HELO entry of kind */
const struct dl_entry *
dynlist_match_addr(const struct dynlist *d, enum dl_kind kind,
    enum dl_type type, const char *local, const char *domain, time_t now)
{
	size_t i;

	for (i = 0; d && i < d->n; i++) {
		const struct dent *t = &d->v[i];

		if (t->e.kind != kind || t->e.type != type || !live(t, now))
			continue;
		if (type == DL_HELO ?
		    domset_match_domain(t->pat, domain, NULL) != NULL :
		    domset_match_addr(t->pat, local, domain, NULL) != NULL)
			return &t->e;
	}
	return NULL;
}

/* dynlist_json - every entry, as a JSON array */
void
dynlist_json(const struct dynlist *d, struct buf *b)
{
	size_t i;

	(void)buf_putc(b, '[');
	for (i = 0; d && i < d->n; i++) {
		const struct dl_entry *e = &d->v[i].e;

		(void)buf_puts(b, i ? ",{" : "{");
		json_kv_str(b, 0, "list", e->kind == DL_ALLOW ? "allow" : "deny");
		json_kv_str(b, 1, "type", type_names[e->type]);
		json_kv_str(b, 1, "pattern", e->pattern);
		json_kv_int(b, 1, "added", (long long)e->added);
		json_kv_int(b, 1, "expires", (long long)e->expires);
		json_kv_str(b, 1, "reason", e->reason);
		(void)buf_putc(b, '}');
	}
	(void)buf_putc(b, ']');
}

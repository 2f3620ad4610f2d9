#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "policy/cidr.h"
#include "util/hmap.h"
#include "util/str.h"
#include "util/xalloc.h"
#include "web/guard.h"

static const struct {
	const char *net, *why;
} forbidden[] = {
	{ "0.0.0.0/8", "this-network" }, { "10.0.0.0/8", "private" },
	{ "100.64.0.0/10", "shared (CGNAT)" }, { "127.0.0.0/8", "loopback" },
	{ "169.254.0.0/16", "link-local" }, { "172.16.0.0/12", "private" },
	{ "192.0.0.0/24", "IETF protocol assignments" },
	{ "192.0.2.0/24", "documentation" }, { "192.88.99.0/24", "6to4 relay" },
	{ "192.168.0.0/16", "private" }, { "198.18.0.0/15", "benchmarking" },
	{ "198.51.100.0/24", "documentation" },
	{ "203.0.113.0/24", "documentation" }, { "224.0.0.0/4", "multicast" },
	{ "240.0.0.0/4", "reserved" }, { "::/128", "unspecified" },
	{ "::1/128", "loopback" },
	{ "::/96", "IPv4-compatible (deprecated)" },
	{ "64:ff9b:1::/48", "local NAT64" },
	{ "100::/64", "discard" }, { "2001:db8::/32", "documentation" },
	{ "3fff::/20", "documentation" },
	{ "2001::/23", "IETF protocol assignments" },
	{ "fc00::/7", "unique local" }, { "fe80::/10", "link-local" },
	{ "fec0::/10", "site-local" }, { "ff00::/8", "multicast" },
};

/* check - the reason an address of family is off limits, or NULL */
static const char *
check(int family, const unsigned char *ip)
{
	struct cidr_set *s = cidr_set_new();
	const char *why = NULL;
	size_t i;
	void *v;

	for (i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++)
		cidr_set_add_str(s, forbidden[i].net, (void *)forbidden[i].why);
	if (cidr_set_match(s, family, ip, &v))
		why = v;
	cidr_set_free(s);
	return why;
}

/*
 * guard_forbidden - NULL if the address may be tested, else why not.
 * IPv4 embedded in IPv6 (mapped ::ffff:a.b.c.d, translated
 * ::ffff:0:a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16) is checked as the
 * IPv4 address it carries; IPv4-compatible ::a.b.c.d (deprecated, RFC
 * 4291 2.5.5.1) is refused whatever it carries.
 */
const char *
guard_forbidden(const struct sockaddr_storage *ss)
{
	static const unsigned char nat64[12] = { 0, 0x64, 0xff, 0x9b };
	static const unsigned char siit[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0xff,
	    0xff, 0, 0 };
	const unsigned char *ip;

	if (ss->ss_family == AF_INET)
		return check(AF_INET,
		    (const unsigned char *)&((const struct sockaddr_in *)
		    (const void *)ss)->sin_addr);
	if (ss->ss_family != AF_INET6)
		return "not an internet address";
	ip = (const unsigned char *)&((const struct sockaddr_in6 *)
	    (const void *)ss)->sin6_addr;
	if (memcmp(ip, nat64, 12) == 0 || memcmp(ip, siit, 12) == 0)
		return check(AF_INET, ip + 12);
	if (ip[0] == 0x20 && ip[1] == 0x02)
		return check(AF_INET, ip + 2);
	/* cidr_set_match sees ::ffff:a.b.c.d as IPv4 itself */
	return check(AF_INET6, ip);
}

/*
 * guard_canon_ip - the one text form of an address: IPv4 dotted quad for
 * IPv4 and IPv4-mapped IPv6 (::ffff:a.b.c.d, however written), RFC 5952
 * text for other IPv6. 0, or -1 if s is not an address (or dst too small).
 */
int
guard_canon_ip(const char *s, char *dst, size_t dstsize)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 0xff, 0xff };
	unsigned char ip[16];
	char out[INET6_ADDRSTRLEN];
	int fam;

	if (cidr_parse_ip(s, &fam, ip) == -1)
		return -1;
	if (fam == AF_INET6 && memcmp(ip, mapped, 12) == 0) {
		memmove(ip, ip + 12, 4);
		fam = AF_INET;
	}
	if (inet_ntop(fam, ip, out, sizeof(out)) == NULL)
		return -1;
	return str_copy(dst, dstsize, out);
}

/* ---- rate limits ---- */

#define STAMPS	64	/* the largest limit a window can hold */

struct rl {
	char		 key[128];
	time_t		 t[STAMPS];	/* ring of the last uses */
	unsigned	 n, head;
	time_t		 last;
};

struct ratelimit {
	struct hmap	*map;
	size_t		 max;
};

struct ratelimit *
ratelimit_new(size_t keys)
{
	struct ratelimit *r = xcalloc(1, sizeof(*r));

	r->map = hmap_new();
	r->max = keys ? keys : 1;
	return r;
}

void
ratelimit_free(struct ratelimit *r)
{
	size_t pos = 0;
	const char *k;
	void *v;

	if (r == NULL)
		return;
	while (hmap_iter(r->map, &pos, &k, &v))
		free(v);
	hmap_free(r->map);
	free(r);
}

/* evict - forget the key used longest ago */
static void
evict(struct ratelimit *r)
{
	size_t pos = 0;
	const char *k, *old = NULL;
	void *v;
	time_t t = 0;

	while (hmap_iter(r->map, &pos, &k, &v))
		if (old == NULL || ((struct rl *)v)->last < t) {
			old = k;
			t = ((struct rl *)v)->last;
		}
	if (old)
		free(hmap_del(r->map, old));
}

/*
 * ratelimit_take - one use of key, if fewer than limit (at most 64) were
 * made in the last window seconds: 1. Else 0, and *retry gets when the
 * oldest use leaves the window.
 */
int
ratelimit_take(struct ratelimit *r, const char *key, unsigned limit,
    unsigned window, time_t now, time_t *retry)
{
	struct rl *e = hmap_get(r->map, key);
	unsigned i, inside = 0;
	time_t oldest = 0;

	if (limit > STAMPS)
		limit = STAMPS;
	if (e == NULL) {
		if (hmap_count(r->map) >= r->max)
			evict(r);
		e = xcalloc(1, sizeof(*e));
		str_copy(e->key, sizeof(e->key), key);
		hmap_put(r->map, e->key, e);
	}
	for (i = 0; i < e->n; i++) {
		time_t t = e->t[(e->head + STAMPS - 1 - i) % STAMPS];

		if (now - t < (time_t)window) {
			inside++;
			oldest = t;
		}
	}
	if (inside >= limit) {
		*retry = oldest + (time_t)window;
		return 0;
	}
	e->t[e->head] = now;
	e->head = (e->head + 1) % STAMPS;
	if (e->n < STAMPS)
		e->n++;
	e->last = now;
	return 1;
}

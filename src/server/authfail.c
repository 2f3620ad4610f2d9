#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/authfail.h"
#include "util/hmap.h"
#include "util/json.h"
#include "util/str.h"
#include "util/xalloc.h"

struct entry {
	char		ip[64];
	unsigned	fails;
	time_t		first, last, blocked_until;
};

struct authfail {
	struct hmap	*map;		/* ip -> struct entry */
	unsigned	 max_failures, slow_after, window, block_time;
};

/* authfail_new - an empty table */
struct authfail *
authfail_new(unsigned max_failures, unsigned slow_after, unsigned window,
    unsigned block_time)
{
	struct authfail *a = xcalloc(1, sizeof(*a));

	a->map = hmap_new();
	authfail_set_limits(a, max_failures, slow_after, window, block_time);
	return a;
}

/* authfail_set_limits - new limits (a reload); the counts stay */
void
authfail_set_limits(struct authfail *a, unsigned max_failures,
    unsigned slow_after, unsigned window, unsigned block_time)
{
	a->max_failures = max_failures;
	a->slow_after = slow_after;
	a->window = window;
	a->block_time = block_time;
}

/* authfail_free - free the table */
void
authfail_free(struct authfail *a)
{
	size_t pos = 0;
	const char *k;
	void *v;

	if (a == NULL)
		return;
	while (hmap_iter(a->map, &pos, &k, &v))
		free(v);
	hmap_free(a->map);
	free(a);
}

/* evict - drop the entry seen longest ago (the table is full) */
static void
evict(struct authfail *a, time_t now)
{
	size_t pos = 0;
	const char *k, *oldest = NULL;
	void *v;
	time_t t = now + 1;

	while (hmap_iter(a->map, &pos, &k, &v)) {
		struct entry *e = v;

		if (e->blocked_until <= now && e->last < t) {
			t = e->last;
			oldest = k;
		}
	}
	if (oldest == NULL)
		return;	/* everyone is blocked: keep them, refuse growth */
	free(hmap_del(a->map, oldest));
}

/*
 * source_key - what failures are counted under: the IPv4 address, or the
 * /64 of an IPv6 one (one site gets a whole /64: counting its addresses
 * one by one would let it guess without end).
 */
static const char *
source_key(const char *ip, char *buf, size_t bufsize)
{
	unsigned char a[16];
	char text[INET6_ADDRSTRLEN];

	if (strchr(ip, ':') == NULL || inet_pton(AF_INET6, ip, a) != 1 ||
	    (a[0] == 0 && a[1] == 0 && a[10] == 0xff && a[11] == 0xff))
		return ip;
	memset(a + 8, 0, 8);
	if (inet_ntop(AF_INET6, a, text, sizeof(text)) == NULL)
		return ip;
	snprintf(buf, bufsize, "%s/64", text);
	return buf;
}

/* authfail_blocked - is ip blocked now? */
int
authfail_blocked(struct authfail *a, const char *ip, time_t now)
{
	char kb[64];
	struct entry *e = hmap_get(a->map, source_key(ip, kb, sizeof(kb)));

	return e != NULL && e->blocked_until > now;
}

/*
 * authfail_record - one more failure from ip. Returns the failures in the
 * window; *delay gets the seconds to wait before answering, and
 * *blocked_now is set when this failure blocked the address.
 */
unsigned
authfail_record(struct authfail *a, const char *ip, time_t now,
    unsigned *delay, int *blocked_now)
{
	char kb[64];
	struct entry *e;

	ip = source_key(ip, kb, sizeof(kb));
	e = hmap_get(a->map, ip);
	*delay = 0;
	*blocked_now = 0;
	if (e == NULL) {
		if (hmap_count(a->map) >= AUTHFAIL_MAX)
			evict(a, now);
		if (hmap_count(a->map) >= AUTHFAIL_MAX) {
			/*
			 * Every entry is a block in force: an attacker with
			 * more addresses than the table holds. Fail closed:
			 * an address that cannot be tracked is slowed down
			 * as far as the throttle goes.
			 */
			*delay = a->slow_after ? AUTHFAIL_MAX_DELAY : 0;
			return 0;
		}
		e = xcalloc(1, sizeof(*e));
		str_copy(e->ip, sizeof(e->ip), ip);
		e->first = now;
		hmap_put(a->map, e->ip, e);
	}
	if (now - e->first > (time_t)a->window) {
		e->fails = 0;
		e->first = now;
	}
	e->fails++;
	e->last = now;
	if (a->max_failures && e->fails >= a->max_failures) {
		e->blocked_until = now + (time_t)a->block_time;
		*blocked_now = 1;
	} else if (a->slow_after && e->fails >= a->slow_after)
		*delay = e->fails - a->slow_after + 1 > AUTHFAIL_MAX_DELAY ?
		    AUTHFAIL_MAX_DELAY : e->fails - a->slow_after + 1;
	return e->fails;
}

/* authfail_clear - a success forgets the failures */
void
authfail_clear(struct authfail *a, const char *ip, time_t now)
{
	char kb[64];
	struct entry *e;

	ip = source_key(ip, kb, sizeof(kb));
	e = hmap_get(a->map, ip);

	/* not while a block is in force (a check begun before it) */
	if (e != NULL && e->blocked_until <= now)
		free(hmap_del(a->map, ip));
}

/*
 * authfail_blocks_json - the addresses blocked now, as JSON objects for
 * the actions `sluice stats` lists (comma-separated, no brackets).
 * Returns how many.
 */
size_t
authfail_blocks_json(struct authfail *a, struct buf *b, time_t now)
{
	size_t pos = 0, n = 0;
	const char *k;
	void *v;

	while (hmap_iter(a->map, &pos, &k, &v)) {
		const struct entry *e = v;
		char src[80];

		if (e->blocked_until <= now)
			continue;
		snprintf(src, sizeof(src), "ip:%s", e->ip);
		(void)buf_puts(b, n++ ? ",{" : "{");
		json_kv_str(b, 0, "source", src);
		json_kv_str(b, 1, "action", "auth-block");
		json_kv_int(b, 1, "until", (long long)e->blocked_until);
		json_kv_str(b, 1, "rule", "auth.max_failures");
		json_kv_int(b, 1, "failures", (long long)e->fails);
		(void)buf_putc(b, '}');
	}
	return n;
}

/*
 * counters - sliding-window event counters per client address and per
 * authenticated user, in a table of fixed size.
 *
 * Pure: no I/O, the caller passes the time. Each key keeps one-minute
 * buckets over the last hour (COUNTERS_BUCKETS) for every counter, and a
 * small set of recently seen recipient domains for "distinct domains".
 * The table holds at most `capacity` keys; the least recently used key is
 * evicted, so a flood of distinct addresses costs fixed memory, which
 * counters_memory() reports. Each key also carries the state the abuse
 * rules set on it (blocked, held, rate-limited until a time).
 */
#ifndef SLUICE_COUNTERS_H
#define SLUICE_COUNTERS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum counter {
	CNT_CONNECTIONS,
	CNT_MESSAGES,
	CNT_RECIPIENTS,
	CNT_UNKNOWN_RCPTS,	/* 550 5.1.1 at RCPT */
	CNT_RELAY_DENIED,	/* 550 5.7.1 relay refusals */
	CNT_AUTH_FAILURES,
	CNT_KBYTES,		/* message data, in KiB */
	CNT_REJECTIONS,		/* any 4xx/5xx to this source */
	CNT_DOMAINS,		/* distinct recipient domains (derived) */
	CNT_MAX
};

#define COUNTERS_BUCKETS	60	/* one per minute: an hour */
#define COUNTERS_DOMAINS	128	/* distinct domains remembered per key */

struct ckey {
	char		 name[72];	/* "ip:192.0.2.7" or "user:alice" */
	time_t		 last;		/* last event */
	uint32_t	 minute;	/* bucket of the newest event */
	uint16_t	 b[CNT_MAX][COUNTERS_BUCKETS];
	uint32_t	 dom[COUNTERS_DOMAINS];	/* domain hashes */
	uint32_t	 dom_min[COUNTERS_DOMAINS];	/* minute last seen */
	uint64_t	 total[CNT_MAX];	/* since the key was made */
	/* actions in force */
	time_t		 blocked_until, held_until, tempfail_until;
	time_t		 noted_until;	/* allow-listed: alert given */
	char		 why[3][64];	/* the rule behind each action:
					   block, hold, tempfail */
	/* LRU list and hash chain (counters.c) */
	struct ckey	*prev, *next, *hnext;
};

struct counters;

struct counters *counters_new(size_t capacity);
void	counters_free(struct counters *t);
struct ckey *counters_get(struct counters *t, const char *name, time_t now,
	    int create);
void	counters_add(struct ckey *k, enum counter c, uint32_t n, time_t now);
void	counters_domain(struct ckey *k, const char *domain, time_t now);
uint32_t counters_sum(const struct ckey *k, enum counter c, unsigned secs,
	    time_t now);
size_t	counters_count(const struct counters *t);
size_t	counters_capacity(const struct counters *t);
size_t	counters_memory(const struct counters *t);
uint64_t counters_evictions(const struct counters *t);
struct ckey *counters_first(struct counters *t);
const char *counter_name(enum counter c);
int	counter_parse(const char *name, enum counter *c);

#endif

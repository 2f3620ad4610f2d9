/*
 * authfail - AUTH failures per client address, against password guessing.
 *
 * A bounded table (AUTHFAIL_MAX addresses; the stalest entry is evicted),
 * so a flood of addresses costs fixed memory; when every entry is a block
 * in force, failures from new addresses get the longest delay. IPv6
 * clients are counted by their /64. After slow_after failures
 * within window the answers are delayed; after max_failures the address
 * is blocked for block_time. `sluice stats` lists the blocks in force
 * (authfail_blocks_json). Failures per login tried are the abuse rules'
 * (auth_failures per user), not this table's.
 */
#ifndef SLUICE_AUTHFAIL_H
#define SLUICE_AUTHFAIL_H

#include <stddef.h>
#include <time.h>

#include "util/buf.h"

#define AUTHFAIL_MAX	4096
#define AUTHFAIL_MAX_DELAY	10	/* seconds: the slowest answer */

struct authfail;

struct authfail *authfail_new(unsigned max_failures, unsigned slow_after,
	    unsigned window, unsigned block_time);
void	authfail_set_limits(struct authfail *a, unsigned max_failures,
	    unsigned slow_after, unsigned window, unsigned block_time);
void	authfail_free(struct authfail *a);
int	authfail_blocked(struct authfail *a, const char *ip, time_t now);
unsigned authfail_record(struct authfail *a, const char *ip, time_t now,
	    unsigned *delay, int *blocked_now);
void	authfail_clear(struct authfail *a, const char *ip, time_t now);
size_t	authfail_blocks_json(struct authfail *a, struct buf *b, time_t now);

#endif

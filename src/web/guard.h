/*
 * guard - what keeps the web tester from being an attack tool: addresses
 * it must not test (loopback, private, link-local, multicast, reserved,
 * documentation ranges; IPv4-mapped and NAT64-embedded forms included)
 * and sliding-window rate limits per key in a bounded table. Also the
 * one text form of an address (guard_canon_ip), so that every spelling of
 * an address is the same key. No I/O.
 */
#ifndef SLUICE_GUARD_H
#define SLUICE_GUARD_H

#include <stddef.h>
#include <sys/socket.h>
#include <time.h>

struct ratelimit;

const char *guard_forbidden(const struct sockaddr_storage *ss);
int	guard_canon_ip(const char *s, char *dst, size_t dstsize);
struct ratelimit *ratelimit_new(size_t keys);
void	ratelimit_free(struct ratelimit *r);
int	ratelimit_take(struct ratelimit *r, const char *key, unsigned limit,
	    unsigned window, time_t now, time_t *retry);

#endif

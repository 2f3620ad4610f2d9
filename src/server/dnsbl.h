/*
 * dnsbl - is a client listed in a DNS blocklist? (RFC 5782)
 *
 * All zones are asked at once (A record of the reversed address under the
 * zone: IPv4 octets, IPv6 nibbles); the first zone answering 127.0.0.x
 * wins and its TXT record is fetched for the reason. Answers outside
 * 127.0.0.0/8, and 127.255.255.x (a list's own error codes), do not list.
 * Failures and timeouts never list: a DNS problem must not block mail.
 * The caller drops its reference with dnsbl_cancel() once: after the
 * callback, or instead of it when it no longer cares.
 */
#ifndef SLUICE_DNSBL_H
#define SLUICE_DNSBL_H

#include <stddef.h>

struct dns;

typedef void (*dnsbl_cb)(void *arg, const char *zone, const char *txt);

struct dnsbl_q;

struct dnsbl_q *dnsbl_check(struct dns *dns, char **zones, int family,
	    const unsigned char *ip, dnsbl_cb cb, void *arg);
void	dnsbl_cancel(struct dnsbl_q *q);
int	dnsbl_name(int family, const unsigned char *ip, const char *zone,
	    char *dst, size_t dstsize);

#endif

/*
 * cidr - sets of IPv4 and IPv6 prefixes with longest-prefix match.
 *
 * Pure: no I/O. A binary trie per family; each prefix may carry a value
 * pointer (the caller's, never freed here) and keeps its own text form for
 * log lines ("192.0.2.0/24"). IPv4-mapped IPv6 addresses (::ffff:a.b.c.d)
 * are matched as IPv4, so a dual-stack listener cannot bypass a v4 rule.
 */
#ifndef SLUICE_CIDR_H
#define SLUICE_CIDR_H

#include <stddef.h>

struct cidr_set;

struct cidr {
	int		family;		/* AF_INET or AF_INET6 */
	unsigned char	addr[16];
	unsigned	bits;
};

int	cidr_parse(const char *s, struct cidr *c);
void	cidr_format(const struct cidr *c, char *dst, size_t dstsize);
int	cidr_parse_ip(const char *s, int *family, unsigned char ip[16]);
int	cidr_is_broad(const struct cidr *c);

struct cidr_set *cidr_set_new(void);
void	cidr_set_free(struct cidr_set *s);
int	cidr_set_add(struct cidr_set *s, const struct cidr *c, void *value);
int	cidr_set_add_str(struct cidr_set *s, const char *text, void *value);
const struct cidr *cidr_set_match(const struct cidr_set *s, int family,
	    const unsigned char *ip, void **value);
size_t	cidr_set_count(const struct cidr_set *s);
const struct cidr *cidr_set_entry(const struct cidr_set *s, size_t i);

#endif

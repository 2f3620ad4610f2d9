/*
 * battery - the relay tests, as a data table, and their expansion.
 *
 * Pure. Each test names a trick and gives templates for the HELO name,
 * the sender and the recipient. Placeholders:
 *   {outside}   the outside domain (where relayed mail would go)
 *   {OUTSIDE}   the same, upper-cased (a case trick)
 *   {target}    the target's own host name (from its banner or --target-domain)
 *   {parent}    the target's parent domain (mx.example.com -> example.com)
 *   {ip}        the target's IP address (for [IP] literals)
 *   {ip6}       "IPv6:" + address when the target is IPv6, else the IPv4 one
 *   {extip}     an IP literal that is not the target's (--outside-ip)
 *   {rl}        the relay recipient's local part: "sluice-relay-TOKEN"
 *   {sl}        the sender's local part: "sluice-probe-TOKEN"
 * TOKEN is unique per test and run, so delivery mode can tell which
 * attempt relayed and whether what came back was a bounce.
 */
#ifndef SLUICE_BATTERY_H
#define SLUICE_BATTERY_H

#include <stddef.h>

/* test kinds */
#define BT_RELAY	0	/* a relay attempt: acceptance is a hit */
#define BT_CONTROL	1	/* a positive control: must be accepted */

/* flags */
#define BT_LOCALFORM	0x01	/* no outside domain after the last '@' */
#define BT_AUTH		0x02	/* needs --auth (authenticated relay) */
#define BT_HELO		0x04	/* sends its own HELO name first */

struct btest {
	const char	*id;
	int		 kind;
	unsigned	 flags;
	const char	*trick;		/* short name of the trick */
	const char	*desc;
	const char	*helo;		/* NULL: the probe's own */
	const char	*from;		/* path text without <> ("" = null) */
	const char	*rcpt;
};

struct bvars {
	const char	*outside;
	const char	*target;
	const char	*parent;
	const char	*ip;
	int		 ipv6;
	const char	*extip;
	const char	*token;
};

size_t	battery_count(void);
const struct btest *battery_get(size_t i);
const struct btest *battery_find(const char *id);
int	battery_expand(const char *tmpl, const struct bvars *v, char *dst,
	    size_t dstsize);
void	battery_parent(const char *host, char *dst, size_t dstsize);

#endif

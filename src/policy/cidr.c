#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/cidr.h"
#include "util/str.h"
#include "util/xalloc.h"

struct node {
	struct node	*child[2];
	int		 entry;		/* index into entries, or -1 */
};

struct cidr_set {
	struct node	*root4, *root6;
	struct cidr	*entries;
	void		**values;
	size_t		 n, cap;
};

/* cidr_parse_ip - an IPv4 or IPv6 address in text form; 0 or -1 */
int
cidr_parse_ip(const char *s, int *family, unsigned char ip[16])
{
	memset(ip, 0, 16);
	if (inet_pton(AF_INET, s, ip) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, ip) == 1) {
		*family = AF_INET6;
		return 0;
	}
	return -1;
}

/*
 * cidr_parse - "a.b.c.d/n", "x::/n" or a bare address (a host prefix).
 * Host bits below the prefix must be zero: "10.0.0.1/8" is an error, since
 * it usually means the administrator meant something else.
 */
int
cidr_parse(const char *s, struct cidr *c)
{
	char tmp[64];
	const char *slash;
	uint64_t bits;
	unsigned maxbits, i;

	memset(c, 0, sizeof(*c));
	slash = strchr(s, '/');
	if (str_ncopy(tmp, sizeof(tmp), s, slash ? (size_t)(slash - s) :
	    strlen(s)) == -1)
		return -1;
	if (cidr_parse_ip(tmp, &c->family, c->addr) == -1)
		return -1;
	maxbits = c->family == AF_INET ? 32 : 128;
	if (slash == NULL)
		bits = maxbits;
	else if (str_parse_u64(slash + 1, 0, maxbits, &bits) == -1)
		return -1;
	c->bits = (unsigned)bits;
	if (c->family == AF_INET6 && c->bits >= 96 &&
	    memcmp(c->addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
		/* ::ffff:a.b.c.d/n is matched as IPv4, so store it so */
		memmove(c->addr, c->addr + 12, 4);
		memset(c->addr + 4, 0, 12);
		c->family = AF_INET;
		c->bits -= 96;
		maxbits = 32;
	}
	for (i = c->bits; i < maxbits; i++)
		if (c->addr[i / 8] & (0x80 >> (i % 8)))
			return -1;
	return 0;
}

/* cidr_format - "192.0.2.0/24" */
void
cidr_format(const struct cidr *c, char *dst, size_t dstsize)
{
	char ip[INET6_ADDRSTRLEN];

	inet_ntop(c->family, c->addr, ip, sizeof(ip));
	snprintf(dst, dstsize, "%s/%u", ip, c->bits);
}

/* contains - does prefix c contain the whole of prefix b? */
static int
contains(const struct cidr *c, const struct cidr *b)
{
	unsigned i;

	if (c->family != b->family || c->bits > b->bits)
		return 0;
	for (i = 0; i < c->bits; i++)
		if (((c->addr[i / 8] ^ b->addr[i / 8]) >> (7 - i % 8)) & 1)
			return 0;
	return 1;
}

/*
 * cidr_is_broad - would trusting this prefix trust strangers? True for
 * anything shorter than /8 (IPv4) or /16 (IPv6), such as 0.0.0.0/0 and
 * ::/0, and for a prefix that covers a whole private or shared block
 * (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7): a site's LAN is
 * one subnet, not the whole block.
 */
int
cidr_is_broad(const struct cidr *c)
{
	static const char *blocks[] = { "10.0.0.0/8", "172.16.0.0/12",
	    "192.168.0.0/16", "100.64.0.0/10", "fc00::/7" };
	struct cidr b;
	size_t i;

	if (c->family == AF_INET ? c->bits < 8 : c->bits < 16)
		return 1;
	for (i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++)
		if (cidr_parse(blocks[i], &b) == 0 && contains(c, &b))
			return 1;
	return 0;
}

/* cidr_set_new - empty set */
struct cidr_set *
cidr_set_new(void)
{
	return xcalloc(1, sizeof(struct cidr_set));
}

/* free_nodes - free a trie */
static void
free_nodes(struct node *n)
{
	if (n == NULL)
		return;
	free_nodes(n->child[0]);
	free_nodes(n->child[1]);
	free(n);
}

/* cidr_set_free - free the set (not the values) */
void
cidr_set_free(struct cidr_set *s)
{
	if (s == NULL)
		return;
	free_nodes(s->root4);
	free_nodes(s->root6);
	free(s->entries);
	free(s->values);
	free(s);
}

/* new_node - an empty trie node */
static struct node *
new_node(void)
{
	struct node *n = xcalloc(1, sizeof(*n));

	n->entry = -1;
	return n;
}

/* cidr_set_add - add a prefix; re-adding replaces its value. 0 */
int
cidr_set_add(struct cidr_set *s, const struct cidr *c, void *value)
{
	struct node **np = c->family == AF_INET ? &s->root4 : &s->root6;
	struct node *n;
	unsigned i;

	if (*np == NULL)
		*np = new_node();
	n = *np;
	for (i = 0; i < c->bits; i++) {
		int b = (c->addr[i / 8] >> (7 - i % 8)) & 1;

		if (n->child[b] == NULL)
			n->child[b] = new_node();
		n = n->child[b];
	}
	if (n->entry >= 0) {
		s->values[n->entry] = value;
		return 0;
	}
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 8;
		s->entries = xreallocarray(s->entries, s->cap,
		    sizeof(*s->entries));
		s->values = xreallocarray(s->values, s->cap,
		    sizeof(*s->values));
	}
	s->entries[s->n] = *c;
	s->values[s->n] = value;
	n->entry = (int)s->n++;
	return 0;
}

/* cidr_set_add_str - parse and add; -1 on a bad prefix */
int
cidr_set_add_str(struct cidr_set *s, const char *text, void *value)
{
	struct cidr c;

	if (cidr_parse(text, &c) == -1)
		return -1;
	return cidr_set_add(s, &c, value);
}

/*
 * cidr_set_match - longest prefix containing ip, or NULL. *value (if not
 * NULL) gets that prefix's value.
 */
const struct cidr *
cidr_set_match(const struct cidr_set *s, int family, const unsigned char *ip,
    void **value)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 0xff, 0xff };
	const struct node *n;
	unsigned i, bits;
	int best = -1;

	if (s == NULL)
		return NULL;
	if (family == AF_INET6 && memcmp(ip, mapped, 12) == 0) {
		family = AF_INET;
		ip += 12;
	}
	n = family == AF_INET ? s->root4 : s->root6;
	bits = family == AF_INET ? 32 : 128;
	for (i = 0; n != NULL; i++) {
		if (n->entry >= 0)
			best = n->entry;
		if (i == bits)
			break;
		n = n->child[(ip[i / 8] >> (7 - i % 8)) & 1];
	}
	if (best < 0)
		return NULL;
	if (value != NULL)
		*value = s->values[best];
	return &s->entries[best];
}

/* cidr_set_count - number of prefixes */
size_t
cidr_set_count(const struct cidr_set *s)
{
	return s ? s->n : 0;
}

/* cidr_set_entry - the i-th prefix in insertion order */
const struct cidr *
cidr_set_entry(const struct cidr_set *s, size_t i)
{
	return i < s->n ? &s->entries[i] : NULL;
}

/*
 * addr - the mailbox and path grammar of RFC 5321 section 4.1.2.
 *
 * Pure: no I/O, no allocation; a struct addr is a plain value the caller
 * owns. Parsing is strict (RFC 5321 grammar only: no RFC 822 comments, no
 * missing angle brackets, no 8-bit bytes since SMTPUTF8 is not offered)
 * because every relay trick lives in the corners a lenient parser forgives.
 * The result is structured: the decoded local part, the domain (lower-case)
 * or address literal, and flags for what the path carried (source route,
 * quoting), so policy decides on meaning, never on the raw string.
 */
#ifndef SLUICE_ADDR_H
#define SLUICE_ADDR_H

#include <stddef.h>

#include "smtp/limits.h"

enum addr_dtype {
	ADDR_DNONE,	/* null path, or bare <postmaster> */
	ADDR_DNAME,	/* a domain name */
	ADDR_DIPV4,	/* [192.0.2.1] */
	ADDR_DIPV6,	/* [IPv6:2001:db8::1] */
	ADDR_DGENERAL	/* [tag:content], syntactically valid, never ours */
};

/* flags on a parsed address */
#define ADDR_NULL	0x01	/* <> */
#define ADDR_QUOTED	0x02	/* local part was a quoted-string */
#define ADDR_ROUTE	0x04	/* had a source route, which was dropped */
#define ADDR_POSTMASTER	0x08	/* bare <postmaster>, no domain */

/* parse options */
#define ADDR_ALLOW_NULL		0x01	/* reverse-path: <> is valid */
#define ADDR_ALLOW_POSTMASTER	0x02	/* forward-path: <postmaster> */

enum addr_err {
	ADDR_OK = 0,
	ADDR_ESYNTAX,		/* not a path */
	ADDR_ELOCAL_LONG,	/* local part over 64 octets */
	ADDR_EDOMAIN_LONG,	/* domain over 255 octets, or a label over 63 */
	ADDR_EPATH_LONG,	/* path over 256 octets */
	ADDR_E8BIT,		/* non-ASCII byte, SMTPUTF8 not in use */
	ADDR_ENULL		/* <> where it is not allowed */
};

struct addr {
	/* decoded local part: quotes and quoted-pair backslashes removed */
	char		local[SMTP_LOCAL_MAX + 1];
	/* lower-case domain, or the literal's text between the brackets */
	char		domain[SMTP_DOMAIN_MAX + 1];
	enum addr_dtype	dtype;
	unsigned	flags;
	unsigned char	ip[16];	/* address literal, network order */
};

enum addr_err addr_parse_path(const char *s, size_t len, unsigned opts,
		    struct addr *a, size_t *consumed);
int	addr_parse_domain(const char *s, size_t len);
int	addr_parse_literal(const char *s, size_t len, struct addr *a);
const char *addr_strerror(enum addr_err e);
int	addr_format(const struct addr *a, char *dst, size_t dstsize);
int	addr_local_needs_quotes(const char *local);
int	addr_is_atext(int c);

#endif

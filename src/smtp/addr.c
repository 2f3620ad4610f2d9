#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "smtp/addr.h"
#include "util/str.h"

/* addr_is_atext - RFC 5322 atext: ALPHA DIGIT and !#$%&'*+-/=?^_`{|}~ */
int
addr_is_atext(int c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* is_letdig - ALPHA / DIGIT */
static int
is_letdig(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/*
 * domain_len - length of the Domain (sub-domain *("." sub-domain)) at the
 * start of s[0..n), or 0 if there is none. Sets *toolong if a label is over
 * 63 octets. Stops at the first byte that cannot continue a domain.
 */
static size_t
domain_len(const char *s, size_t n, int *toolong)
{
	size_t i = 0, label, last_ok = 0;

	for (;;) {
		/* sub-domain = Let-dig [Ldh-str] ; Ldh-str ends in Let-dig */
		if (i >= n || !is_letdig((unsigned char)s[i]))
			return last_ok;
		label = i;
		while (i < n && (is_letdig((unsigned char)s[i]) || s[i] == '-'))
			i++;
		if (s[i - 1] == '-')
			return 0;	/* a label may not end with a hyphen */
		if (i - label > 63)
			*toolong = 1;
		last_ok = i;
		if (i < n && s[i] == '.' && i + 1 < n &&
		    is_letdig((unsigned char)s[i + 1]))
			i++;
		else
			return last_ok;
	}
}

/* addr_parse_domain - is s[0..len) exactly one valid Domain? 1 or 0 */
int
addr_parse_domain(const char *s, size_t len)
{
	int toolong = 0;

	if (len == 0 || len > SMTP_DOMAIN_MAX)
		return 0;
	return domain_len(s, len, &toolong) == len && !toolong;
}

/* parse_ipv4 - dotted quad of 1-3 digit decimals 0..255 into ip[4] */
static int
parse_ipv4(const char *s, size_t n, unsigned char *ip)
{
	size_t i = 0;
	int part, digits, v;

	for (part = 0; part < 4; part++) {
		if (part > 0) {
			if (i >= n || s[i] != '.')
				return 0;
			i++;
		}
		for (v = 0, digits = 0; i < n && s[i] >= '0' && s[i] <= '9';
		    i++) {
			if (++digits > 3)
				return 0;	/* and v stays small */
			v = v * 10 + (s[i] - '0');
		}
		if (digits == 0 || v > 255)
			return 0;
		ip[part] = (unsigned char)v;
	}
	return i == n;
}

/*
 * addr_parse_literal - the text between "[" and "]": an IPv4 address,
 * "IPv6:" and an IPv6 address, or a General-address-literal. Fills
 * a->dtype, a->ip and a->domain (the text). 1 if valid, else 0.
 */
int
addr_parse_literal(const char *s, size_t n, struct addr *a)
{
	char tmp[64];
	size_t i, tag;

	if (n == 0 || n > SMTP_DOMAIN_MAX - 2)
		return 0;
	if (parse_ipv4(s, n, a->ip)) {
		a->dtype = ADDR_DIPV4;
		return str_ncopy(a->domain, sizeof(a->domain), s, n) == 0;
	}
	/* General-address-literal = Standardized-tag ":" 1*dcontent */
	for (tag = 0; tag < n && (is_letdig((unsigned char)s[tag]) ||
	    s[tag] == '-'); tag++)
		;
	if (tag == 0 || tag >= n || s[tag] != ':' || s[tag - 1] == '-' ||
	    tag + 1 == n)
		return 0;
	if (str_ieqn(s, tag, "IPv6")) {
		if (n - tag - 1 >= sizeof(tmp) ||
		    memchr(s + tag + 1, '\0', n - tag - 1) != NULL)
			return 0;
		memcpy(tmp, s + tag + 1, n - tag - 1);
		tmp[n - tag - 1] = '\0';
		if (inet_pton(AF_INET6, tmp, a->ip) != 1)
			return 0;
		a->dtype = ADDR_DIPV6;
		return str_ncopy(a->domain, sizeof(a->domain), s, n) == 0;
	}
	/* dcontent = %d33-90 / %d94-126 (printable except "[", "\", "]") */
	for (i = tag + 1; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 33 || c > 126 || c == '[' || c == '\\' || c == ']')
			return 0;
	}
	a->dtype = ADDR_DGENERAL;
	return str_ncopy(a->domain, sizeof(a->domain), s, n) == 0;
}

/*
 * parse_local - Dot-string or Quoted-string at s[0..n). On success stores
 * the decoded local part and returns the raw length; 0 on syntax error.
 */
static size_t
parse_local(const char *s, size_t n, struct addr *a, enum addr_err *err)
{
	size_t i = 0, o = 0;

	if (n > 0 && s[0] == '"') {
		/* Quoted-string = DQUOTE *QcontentSMTP DQUOTE */
		for (i = 1; i < n && s[i] != '"'; i++) {
			unsigned char c = (unsigned char)s[i];

			if (c == '\\') {
				/* quoted-pairSMTP = %d92 %d32-126 */
				if (++i >= n)
					return 0;
				c = (unsigned char)s[i];
			}
			if (c >= 0x80) {
				*err = ADDR_E8BIT;
				return 0;
			}
			if (c < 32 || c > 126)
				return 0;
			if (o >= SMTP_LOCAL_MAX) {
				*err = ADDR_ELOCAL_LONG;
				return 0;
			}
			a->local[o++] = (char)c;
		}
		if (i >= n)
			return 0;
		i++;	/* closing quote */
		a->flags |= ADDR_QUOTED;
	} else {
		/* Dot-string = Atom *("." Atom) */
		for (;;) {
			size_t start = i;

			while (i < n && addr_is_atext((unsigned char)s[i]))
				i++;
			if (i < n && (unsigned char)s[i] >= 0x80) {
				*err = ADDR_E8BIT;
				return 0;
			}
			if (i == start)
				return 0;	/* empty atom: leading, trailing or double dot */
			if (i < n && s[i] == '.')
				i++;
			else
				break;
		}
		if (i > SMTP_LOCAL_MAX) {
			*err = ADDR_ELOCAL_LONG;
			return 0;
		}
		memcpy(a->local, s, i);
		o = i;
	}
	if (i > SMTP_LOCAL_MAX) {
		*err = ADDR_ELOCAL_LONG;
		return 0;
	}
	a->local[o] = '\0';
	return i;
}

/*
 * parse_mailbox - Mailbox = Local-part "@" ( Domain / address-literal ),
 * which must fill s[0..n) exactly.
 */
static enum addr_err
parse_mailbox(const char *s, size_t n, struct addr *a)
{
	enum addr_err err = ADDR_ESYNTAX;
	size_t i, dl;
	int toolong = 0;

	i = parse_local(s, n, a, &err);
	if (i == 0)
		return err;
	if (i >= n || s[i] != '@')
		return ADDR_ESYNTAX;
	i++;
	if (i < n && s[i] == '[') {
		if (s[n - 1] != ']' || n - i < 3)
			return ADDR_ESYNTAX;
		if (!addr_parse_literal(s + i + 1, n - i - 2, a))
			return ADDR_ESYNTAX;
		return ADDR_OK;
	}
	dl = domain_len(s + i, n - i, &toolong);
	if (dl == 0 || dl != n - i) {
		size_t k;

		for (k = i; k < n; k++)
			if ((unsigned char)s[k] >= 0x80)
				return ADDR_E8BIT;
		return ADDR_ESYNTAX;
	}
	if (toolong || dl > SMTP_DOMAIN_MAX)
		return ADDR_EDOMAIN_LONG;
	memcpy(a->domain, s + i, dl);
	a->domain[dl] = '\0';
	str_lower(a->domain);
	a->dtype = ADDR_DNAME;
	return ADDR_OK;
}

/*
 * parse_route - A-d-l = At-domain *( "," At-domain ), At-domain = "@"
 * Domain, followed by ":". Returns its length including the ":", 0 if the
 * path has no route, or (size_t)-1 on a syntax error.
 */
static size_t
parse_route(const char *s, size_t n)
{
	size_t i = 0, dl;
	int toolong = 0;

	if (n == 0 || s[0] != '@')
		return 0;
	for (;;) {
		if (i >= n || s[i] != '@')
			return (size_t)-1;
		i++;
		dl = domain_len(s + i, n - i, &toolong);
		if (dl == 0 || toolong)
			return (size_t)-1;
		i += dl;
		if (i < n && s[i] == ',') {
			i++;
			continue;
		}
		if (i < n && s[i] == ':')
			return i + 1;
		return (size_t)-1;
	}
}

/*
 * addr_parse_path - parse a Path ("<" [A-d-l ":"] Mailbox ">") at the
 * start of s[0..len). The closing ">" is the first one outside a quoted
 * string. Options allow the null path "<>" (reverse-path) and the bare
 * "<postmaster>" (forward-path, RFC 5321 4.1.1.3). On success fills *a,
 * sets *consumed to the bytes used (through ">") and returns ADDR_OK.
 */
enum addr_err
addr_parse_path(const char *s, size_t len, unsigned opts, struct addr *a,
    size_t *consumed)
{
	size_t i, end, route;
	int inq = 0;

	memset(a, 0, sizeof(*a));
	if (len == 0 || s[0] != '<')
		return ADDR_ESYNTAX;
	/* find the closing bracket, skipping quoted-strings */
	for (end = 1; end < len; end++) {
		if (inq && s[end] == '\\' && end + 1 < len) {
			end++;
			continue;
		}
		if (s[end] == '"')
			inq = !inq;
		else if (!inq && s[end] == '>')
			break;
	}
	if (end >= len)
		return ADDR_ESYNTAX;
	for (i = 0; i <= end; i++)
		if ((unsigned char)s[i] >= 0x80)
			return ADDR_E8BIT;
	if (end + 1 > SMTP_PATH_MAX)
		return ADDR_EPATH_LONG;
	*consumed = end + 1;
	if (end == 1) {
		if (!(opts & ADDR_ALLOW_NULL))
			return ADDR_ENULL;
		a->flags |= ADDR_NULL;
		a->dtype = ADDR_DNONE;
		return ADDR_OK;
	}
	if ((opts & ADDR_ALLOW_POSTMASTER) && str_ieqn(s + 1, end - 1,
	    "postmaster")) {
		memcpy(a->local, s + 1, end - 1);
		a->local[end - 1] = '\0';
		a->flags |= ADDR_POSTMASTER;
		a->dtype = ADDR_DNONE;
		return ADDR_OK;
	}
	route = parse_route(s + 1, end - 1);
	if (route == (size_t)-1)
		return ADDR_ESYNTAX;
	if (route > 0)
		a->flags |= ADDR_ROUTE;
	return parse_mailbox(s + 1 + route, end - 1 - route, a);
}

/* addr_strerror - human text for an error, for the 5xx reply */
const char *
addr_strerror(enum addr_err e)
{
	switch (e) {
	case ADDR_OK:
		return "ok";
	case ADDR_ESYNTAX:
		return "syntax error in mailbox address";
	case ADDR_ELOCAL_LONG:
		return "local part longer than 64 octets";
	case ADDR_EDOMAIN_LONG:
		return "domain name too long";
	case ADDR_EPATH_LONG:
		return "path longer than 256 octets";
	case ADDR_E8BIT:
		return "non-ASCII address without SMTPUTF8";
	case ADDR_ENULL:
		return "null address not allowed here";
	}
	return "bad address";
}

/* addr_local_needs_quotes - is local not a valid Dot-string? */
int
addr_local_needs_quotes(const char *local)
{
	size_t i, n = strlen(local);

	if (n == 0 || local[0] == '.' || local[n - 1] == '.')
		return 1;
	for (i = 0; i < n; i++) {
		if (local[i] == '.') {
			if (local[i + 1] == '.')
				return 1;
		} else if (!addr_is_atext((unsigned char)local[i]))
			return 1;
	}
	return 0;
}

/*
 * addr_format - the canonical path text "<local@domain>" (source route
 * dropped, local part quoted only when it must be). 0, or -1 if dst was
 * too small (truncated).
 */
int
addr_format(const struct addr *a, char *dst, size_t dstsize)
{
	char local[2 * SMTP_LOCAL_MAX + 3];
	size_t o = 0, i;
	int n;

	if (a->flags & ADDR_NULL)
		return str_copy(dst, dstsize, "<>");
	if (a->flags & ADDR_POSTMASTER)
		n = snprintf(dst, dstsize, "<%s>", a->local);
	else {
		if (addr_local_needs_quotes(a->local)) {
			local[o++] = '"';
			for (i = 0; a->local[i]; i++) {
				if (a->local[i] == '"' || a->local[i] == '\\')
					local[o++] = '\\';
				local[o++] = a->local[i];
			}
			local[o++] = '"';
			local[o] = '\0';
		} else
			str_copy(local, sizeof(local), a->local);
		if (a->dtype == ADDR_DNAME)
			n = snprintf(dst, dstsize, "<%s@%s>", local, a->domain);
		else
			n = snprintf(dst, dstsize, "<%s@[%s]>", local,
			    a->domain);
	}
	return (n < 0 || (size_t)n >= dstsize) ? -1 : 0;
}

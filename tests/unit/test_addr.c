/*
 * test_addr - the RFC 5321 4.1.2 path grammar (smtp/addr).
 */
#include <arpa/inet.h>

#include "unit.h"

#include "smtp/addr.h"

#define OPT_RCPT	ADDR_ALLOW_POSTMASTER
#define OPT_MAIL	ADDR_ALLOW_NULL

struct path_case {
	const char	*name;
	const char	*in;
	size_t		 inlen;		/* 0: strlen(in) */
	unsigned	 opts;
	enum addr_err	 err;
	/* ADDR_OK only: */
	const char	*local;
	const char	*domain;
	enum addr_dtype	 dtype;
	unsigned	 flags;
	size_t		 consumed;	/* 0: strlen(in) */
};

/* a literal holding NULs: its text and length */
#define BIN(s)	s, sizeof(s) - 1

static const struct path_case path_cases[] = {
	/* valid dot-strings and domains */
	{ "plain", "<user@example.com>", 0, 0, ADDR_OK, "user",
	    "example.com", ADDR_DNAME, 0, 0 },
	{ "domain lower-cased, local kept", "<User.Name+tag@Example.COM>", 0,
	    0, ADDR_OK, "User.Name+tag", "example.com", ADDR_DNAME, 0, 0 },
	{ "all atext specials", "<!#$%&'*+-/=?^_`{|}~@example.com>", 0, 0,
	    ADDR_OK, "!#$%&'*+-/=?^_`{|}~", "example.com", ADDR_DNAME, 0, 0 },
	{ "dotted local", "<a.b.c@x.example>", 0, 0, ADDR_OK, "a.b.c",
	    "x.example", ADDR_DNAME, 0, 0 },
	{ "single-label domain", "<user@localhost>", 0, 0, ADDR_OK, "user",
	    "localhost", ADDR_DNAME, 0, 0 },
	{ "hyphen inside label", "<u@mail-1.ex-ample.org>", 0, 0, ADDR_OK,
	    "u", "mail-1.ex-ample.org", ADDR_DNAME, 0, 0 },
	{ "label starting with digit", "<u@123.example>", 0, 0, ADDR_OK, "u",
	    "123.example", ADDR_DNAME, 0, 0 },
	{ "parameters follow", "<a@b.example> SIZE=10", 0, 0, ADDR_OK, "a",
	    "b.example", ADDR_DNAME, 0, 13 },
	{ "8-bit after the path is not ours", "<a@b.example> X=\xff", 0, 0,
	    ADDR_OK, "a", "b.example", ADDR_DNAME, 0, 13 },
	/* quoted strings */
	{ "quoted with space", "<\"john doe\"@example.com>", 0, 0, ADDR_OK,
	    "john doe", "example.com", ADDR_DNAME, ADDR_QUOTED, 0 },
	{ "quoted-pairs decoded", "<\"a\\\"b\\\\c\"@x.example>", 0, 0,
	    ADDR_OK, "a\"b\\c", "x.example", ADDR_DNAME, ADDR_QUOTED, 0 },
	{ "quoted '>' does not end the path", "<\"a>b\"@x.example> X", 0, 0,
	    ADDR_OK, "a>b", "x.example", ADDR_DNAME, ADDR_QUOTED, 17 },
	{ "quoted '@' kept", "<\"a@b\"@x.example>", 0, 0, ADDR_OK, "a@b",
	    "x.example", ADDR_DNAME, ADDR_QUOTED, 0 },
	{ "quoted empty", "<\"\"@x.example>", 0, 0, ADDR_OK, "", "x.example",
	    ADDR_DNAME, ADDR_QUOTED, 0 },
	/* source routes: parsed, dropped, flagged */
	{ "source route", "<@a.example,@b.example:user@c.example>", 0, 0,
	    ADDR_OK, "user", "c.example", ADDR_DNAME, ADDR_ROUTE, 0 },
	{ "one-hop route", "<@relay.example:u@d.example>", 0, 0, ADDR_OK, "u",
	    "d.example", ADDR_DNAME, ADDR_ROUTE, 0 },
	/* null path and postmaster */
	{ "null path allowed", "<>", 0, OPT_MAIL, ADDR_OK, "", "", ADDR_DNONE,
	    ADDR_NULL, 0 },
	{ "null path with params", "<> BODY=8BITMIME", 0, OPT_MAIL, ADDR_OK,
	    "", "", ADDR_DNONE, ADDR_NULL, 2 },
	{ "null path refused", "<>", 0, OPT_RCPT, ADDR_ENULL },
	{ "null path refused, no opts", "<>", 0, 0, ADDR_ENULL },
	{ "bare postmaster", "<postmaster>", 0, OPT_RCPT, ADDR_OK,
	    "postmaster", "", ADDR_DNONE, ADDR_POSTMASTER, 0 },
	{ "bare postmaster any case", "<PostMaster>", 0, OPT_RCPT, ADDR_OK,
	    "PostMaster", "", ADDR_DNONE, ADDR_POSTMASTER, 0 },
	{ "bare postmaster not for MAIL", "<postmaster>", 0, OPT_MAIL,
	    ADDR_ESYNTAX },
	{ "bare other user", "<root>", 0, OPT_RCPT, ADDR_ESYNTAX },
	{ "postmaster with domain is a mailbox", "<postmaster@x.example>", 0,
	    OPT_RCPT, ADDR_OK, "postmaster", "x.example", ADDR_DNAME, 0, 0 },
	/* address literals */
	{ "IPv4 literal", "<u@[192.0.2.1]>", 0, 0, ADDR_OK, "u", "192.0.2.1",
	    ADDR_DIPV4, 0, 0 },
	{ "IPv6 literal", "<u@[IPv6:2001:db8::1]>", 0, 0, ADDR_OK, "u",
	    "IPv6:2001:db8::1", ADDR_DIPV6, 0, 0 },
	{ "IPv6 tag any case", "<u@[ipv6:::1]>", 0, 0, ADDR_OK, "u",
	    "ipv6:::1", ADDR_DIPV6, 0, 0 },
	{ "IPv6 with IPv4 tail", "<u@[IPv6:::ffff:192.0.2.1]>", 0, 0,
	    ADDR_OK, "u", "IPv6:::ffff:192.0.2.1", ADDR_DIPV6, 0, 0 },
	{ "general literal", "<u@[x-tag:abc]>", 0, 0, ADDR_OK, "u",
	    "x-tag:abc", ADDR_DGENERAL, 0, 0 },
	/* syntax errors */
	{ "empty", "", 0, 0, ADDR_ESYNTAX },
	{ "no brackets", "user@example.com", 0, 0, ADDR_ESYNTAX },
	{ "no closing bracket", "<user@example.com", 0, 0, ADDR_ESYNTAX },
	{ "no domain", "<user>", 0, 0, ADDR_ESYNTAX },
	{ "empty local", "<@example.com>", 0, 0, ADDR_ESYNTAX },
	{ "empty domain", "<user@>", 0, 0, ADDR_ESYNTAX },
	{ "empty domain, quoted local", "<\"a b\"@>", 0, 0, ADDR_ESYNTAX },
	{ "empty domain after route", "<@r.example:user@>", 0, 0,
	    ADDR_ESYNTAX },
	{ "leading dot", "<.user@x.example>", 0, 0, ADDR_ESYNTAX },
	{ "trailing dot", "<user.@x.example>", 0, 0, ADDR_ESYNTAX },
	{ "double dot", "<us..er@x.example>", 0, 0, ADDR_ESYNTAX },
	{ "space in local", "<us er@x.example>", 0, 0, ADDR_ESYNTAX },
	{ "space in domain", "<user@exa mple.com>", 0, 0, ADDR_ESYNTAX },
	{ "space before '>'", "<user@example.com >", 0, 0, ADDR_ESYNTAX },
	{ "domain double dot", "<user@example..com>", 0, 0, ADDR_ESYNTAX },
	{ "domain leading dot", "<user@.example.com>", 0, 0, ADDR_ESYNTAX },
	{ "domain trailing dot", "<user@example.com.>", 0, 0, ADDR_ESYNTAX },
	{ "label leading hyphen", "<user@-example.com>", 0, 0, ADDR_ESYNTAX },
	{ "label trailing hyphen", "<user@example-.com>", 0, 0, ADDR_ESYNTAX },
	{ "underscore in domain", "<user@exa_mple.com>", 0, 0, ADDR_ESYNTAX },
	{ "two '@'", "<user@@example.com>", 0, 0, ADDR_ESYNTAX },
	{ "'@' in local unquoted", "<a@b@example.com>", 0, 0, ADDR_ESYNTAX },
	{ "RFC 822 comment", "<user(c)@example.com>", 0, 0, ADDR_ESYNTAX },
	{ "backslash unquoted", "<a\\b@x.example>", 0, 0, ADDR_ESYNTAX },
	{ "quoted then atom", "<\"a\"b@x.example>", 0, 0, ADDR_ESYNTAX },
	{ "obs-local-part", "<\"a\".b@x.example>", 0, 0, ADDR_ESYNTAX },
	{ "unterminated quote", "<\"user@x.example>", 0, 0, ADDR_ESYNTAX },
	{ "tab in quotes", "<\"a\tb\"@x.example>", 0, 0, ADDR_ESYNTAX },
	{ "NUL in quotes", BIN("<\"a\0b\"@x.example>"), 0, ADDR_ESYNTAX },
	{ "NUL in atom", BIN("<a\0b@x.example>"), 0, ADDR_ESYNTAX },
	{ "NUL in domain", BIN("<a@x\0.example>"), 0, ADDR_ESYNTAX },
	{ "CR in local", "<a\rb@x.example>", 0, 0, ADDR_ESYNTAX },
	{ "route without ':'", "<@a.example user@x.example>", 0, 0,
	    ADDR_ESYNTAX },
	{ "route with ',' only", "<@a.example,user@x.example>", 0, 0,
	    ADDR_ESYNTAX },
	{ "empty route domain", "<@:user@x.example>", 0, 0, ADDR_ESYNTAX },
	{ "route with a literal", "<@[192.0.2.1]:u@x.example>", 0, 0,
	    ADDR_ESYNTAX },
	{ "route only", "<@a.example:>", 0, 0, ADDR_ESYNTAX },
	{ "two route groups", "<@a.example:@b.example:u@x.example>", 0, 0,
	    ADDR_ESYNTAX },
	{ "octet over 255", "<u@[300.1.1.1]>", 0, 0, ADDR_ESYNTAX },
	{ "three octets", "<u@[1.2.3]>", 0, 0, ADDR_ESYNTAX },
	{ "five octets", "<u@[1.2.3.4.5]>", 0, 0, ADDR_ESYNTAX },
	{ "four-digit octet", "<u@[1.2.3.0004]>", 0, 0, ADDR_ESYNTAX },
	{ "bad IPv6", "<u@[IPv6:zz::1]>", 0, 0, ADDR_ESYNTAX },
	{ "IPv6 tag, IPv4 text", "<u@[IPv6:192.0.2.1]>", 0, 0, ADDR_ESYNTAX },
	{ "IPv6 without tag", "<u@[2001:db8::1]>", 0, 0, ADDR_OK, "u",
	    "2001:db8::1", ADDR_DGENERAL, 0, 0 },
	{ "IPv6 zone id", "<u@[IPv6:fe80::1%eth0]>", 0, 0, ADDR_ESYNTAX },
	{ "empty literal", "<u@[]>", 0, 0, ADDR_ESYNTAX },
	{ "literal unclosed", "<u@[192.0.2.1>", 0, 0, ADDR_ESYNTAX },
	{ "literal then text", "<u@[192.0.2.1]x>", 0, 0, ADDR_ESYNTAX },
	{ "general tag ends with '-'", "<u@[tag-:x]>", 0, 0, ADDR_ESYNTAX },
	{ "general empty content", "<u@[tag:]>", 0, 0, ADDR_ESYNTAX },
	{ "general with '['", "<u@[tag:a[b]>", 0, 0, ADDR_ESYNTAX },
	{ "general with space", "<u@[tag:a b]>", 0, 0, ADDR_ESYNTAX },
	{ "literal with space", "<u@[192.0.2.1 ]>", 0, 0, ADDR_ESYNTAX },
	/* 8-bit anywhere in the path */
	{ "8-bit local", "<us\xc3\xa9r@x.example>", 0, 0, ADDR_E8BIT },
	{ "8-bit domain", "<u@exampl\xc3\xa9.com>", 0, 0, ADDR_E8BIT },
	{ "8-bit quoted", "<\"\xc3\xa9\"@x.example>", 0, 0, ADDR_E8BIT },
	{ "8-bit route", "<@\xc3\xa9.example:u@x.example>", 0, 0,
	    ADDR_E8BIT },
	{ "8-bit literal", "<u@[tag:\xff]>", 0, 0, ADDR_E8BIT },
};

/* parse_path_cases - every table case, with the full result checked */
static void
parse_path_cases(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(path_cases); i++) {
		const struct path_case *t = &path_cases[i];
		size_t n = t->inlen ? t->inlen : strlen(t->in);
		size_t used = 12345;
		struct addr a;
		enum addr_err r;

		r = addr_parse_path(t->in, n, t->opts, &a, &used);
		if (!CHECK_INT(t->name, r, t->err) || r != ADDR_OK)
			continue;
		CHECK_STR(t->name, a.local, t->local);
		CHECK_STR(t->name, a.domain, t->domain);
		CHECK_INT(t->name, a.dtype, t->dtype);
		CHECK_INT(t->name, a.flags, t->flags);
		CHECK_UINT(t->name, used, t->consumed ? t->consumed : n);
	}
	UNIT_DONE();
}

/* literal_ip_bytes - literals fill a.ip in network order */
static void
literal_ip_bytes(void **state)
{
	static const struct {
		const char *in;
		int family;
		const char *ip;
	} cases[] = {
		{ "<u@[192.0.2.1]>", AF_INET, "192.0.2.1" },
		{ "<u@[0.0.0.0]>", AF_INET, "0.0.0.0" },
		{ "<u@[255.255.255.255]>", AF_INET, "255.255.255.255" },
		{ "<u@[IPv6:2001:db8::1]>", AF_INET6, "2001:db8::1" },
		{ "<u@[IPv6:::ffff:198.51.100.1]>", AF_INET6,
		    "::ffff:198.51.100.1" },
		{ "<u@[IPv6:2001:DB8:0:0:0:0:0:25]>", AF_INET6, "2001:db8::25" },
	};
	size_t i, used;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		unsigned char want[16] = { 0 };
		struct addr a;

		if (!CHECK_INT(cases[i].in, addr_parse_path(cases[i].in,
		    strlen(cases[i].in), 0, &a, &used), ADDR_OK))
			continue;
		inet_pton(cases[i].family, cases[i].ip, want);
		CHECK_MEM(cases[i].in, (const char *)a.ip,
		    cases[i].family == AF_INET ? 4 : 16, (const char *)want,
		    cases[i].family == AF_INET ? 4 : 16);
	}
	UNIT_DONE();
}

/* fill - n copies of c */
static void
fill(char *dst, char c, size_t n)
{
	memset(dst, c, n);
	dst[n] = '\0';
}

/* domain_of - a valid domain of exactly n octets (labels of <= 63) */
static void
domain_of(char *dst, size_t n, size_t label)
{
	size_t i, run = 0;

	for (i = 0; i < n; i++) {
		if (run == label && i + 1 < n) {
			dst[i] = '.';
			run = 0;
		} else {
			dst[i] = 'd';
			run++;
		}
	}
	dst[n] = '\0';
}

/* length_limits - 64 local, 63 label, 255 domain, 256 path */
static void
length_limits(void **state)
{
	struct {
		char name[48];
		char in[600];
		enum addr_err err;
	} c[12];
	char local[200], dom[600];
	size_t i, nc = 0, used;
	struct addr a;

	(void)state;
	fill(local, 'l', 64);
	snprintf(c[nc].name, sizeof(c[nc].name), "local 64");
	snprintf(c[nc].in, sizeof(c[nc].in), "<%s@x.example>", local);
	c[nc++].err = ADDR_OK;
	fill(local, 'l', 65);
	snprintf(c[nc].name, sizeof(c[nc].name), "local 65");
	snprintf(c[nc].in, sizeof(c[nc].in), "<%s@x.example>", local);
	c[nc++].err = ADDR_ELOCAL_LONG;
	fill(local, 'q', 62);
	snprintf(c[nc].name, sizeof(c[nc].name), "quoted local 64 raw");
	snprintf(c[nc].in, sizeof(c[nc].in), "<\"%s\"@x.example>", local);
	c[nc++].err = ADDR_OK;
	fill(local, 'q', 63);
	snprintf(c[nc].name, sizeof(c[nc].name), "quoted local 65 raw");
	snprintf(c[nc].in, sizeof(c[nc].in), "<\"%s\"@x.example>", local);
	c[nc++].err = ADDR_ELOCAL_LONG;
	fill(local, 'q', 70);
	snprintf(c[nc].name, sizeof(c[nc].name), "quoted local 72 raw");
	snprintf(c[nc].in, sizeof(c[nc].in), "<\"%s\"@x.example>", local);
	c[nc++].err = ADDR_ELOCAL_LONG;
	fill(dom, 'd', 63);
	snprintf(c[nc].name, sizeof(c[nc].name), "label 63");
	snprintf(c[nc].in, sizeof(c[nc].in), "<u@%s.example>", dom);
	c[nc++].err = ADDR_OK;
	fill(dom, 'd', 64);
	snprintf(c[nc].name, sizeof(c[nc].name), "label 64");
	snprintf(c[nc].in, sizeof(c[nc].in), "<u@%s.example>", dom);
	c[nc++].err = ADDR_EDOMAIN_LONG;
	/* "<" 64 "@" d ">" = 67 + d octets */
	fill(local, 'l', 64);
	domain_of(dom, 189, 63);
	snprintf(c[nc].name, sizeof(c[nc].name), "path 256");
	snprintf(c[nc].in, sizeof(c[nc].in), "<%s@%s>", local, dom);
	c[nc++].err = ADDR_OK;
	domain_of(dom, 190, 63);
	snprintf(c[nc].name, sizeof(c[nc].name), "path 257");
	snprintf(c[nc].in, sizeof(c[nc].in), "<%s@%s>", local, dom);
	c[nc++].err = ADDR_EPATH_LONG;
	domain_of(dom, 400, 50);
	snprintf(c[nc].name, sizeof(c[nc].name), "path 400+");
	snprintf(c[nc].in, sizeof(c[nc].in), "<u@%s>", dom);
	c[nc++].err = ADDR_EPATH_LONG;
	/* a route counts towards the path */
	domain_of(dom, 250, 60);
	snprintf(c[nc].name, sizeof(c[nc].name), "route makes path long");
	snprintf(c[nc].in, sizeof(c[nc].in), "<@%s:u@x.example>", dom);
	c[nc++].err = ADDR_EPATH_LONG;

	for (i = 0; i < nc; i++) {
		enum addr_err r = addr_parse_path(c[i].in, strlen(c[i].in),
		    0, &a, &used);

		CHECK_INT(c[i].name, r, c[i].err);
		if (r == ADDR_OK)
			CHECK_UINT(c[i].name, used, strlen(c[i].in));
	}
	CHECK_UINT("path 256 is 256", strlen(c[7].in), 256);
	UNIT_DONE();
}

/* parse_domain - addr_parse_domain: exactly one Domain */
static void
parse_domain(void **state)
{
	static const struct {
		const char *in;
		int want;
	} cases[] = {
		{ "example.com", 1 }, { "a", 1 }, { "a-b.c", 1 },
		{ "xn--bcher-kva.example", 1 }, { "1.2.3.4", 1 },
		{ "", 0 }, { "-a", 0 }, { "a-", 0 }, { "a..b", 0 },
		{ ".a", 0 }, { "a.", 0 }, { "a_b", 0 }, { "a b", 0 },
		{ "[1.2.3.4]", 0 }, { "a.-b", 0 }, { "a@b", 0 },
	};
	char big[300];
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++)
		CHECK_INT(cases[i].in, addr_parse_domain(cases[i].in,
		    strlen(cases[i].in)), cases[i].want);
	CHECK_INT("NUL inside", addr_parse_domain("a\0b", 3), 0);
	CHECK_INT("length bounds the text", addr_parse_domain("ab.c", 2), 1);
	fill(big, 'x', 63);
	CHECK_INT("label 63", addr_parse_domain(big, 63), 1);
	fill(big, 'x', 64);
	CHECK_INT("label 64", addr_parse_domain(big, 64), 0);
	domain_of(big, 255, 63);
	CHECK_INT("domain 255", addr_parse_domain(big, 255), 1);
	domain_of(big, 256, 63);
	CHECK_INT("domain 256", addr_parse_domain(big, 256), 0);
	UNIT_DONE();
}

/* parse_literal - addr_parse_literal on the text between brackets */
static void
parse_literal(void **state)
{
	static const struct {
		const char *in;
		int ok;
		enum addr_dtype dtype;
	} cases[] = {
		{ "192.0.2.1", 1, ADDR_DIPV4 },
		{ "IPv6:::1", 1, ADDR_DIPV6 },
		{ "IPV6:2001:db8::", 1, ADDR_DIPV6 },
		{ "x:y", 1, ADDR_DGENERAL },
		{ "a-b:!~", 1, ADDR_DGENERAL },
		{ "", 0, 0 }, { "192.0.2", 0, 0 }, { "192.0.2.1.", 0, 0 },
		{ ".192.0.2.1", 0, 0 }, { "256.0.0.0", 0, 0 },
		{ "IPv6:", 0, 0 }, { "IPv6:1::2::3", 0, 0 },
		{ ":x", 0, 0 }, { "x", 0, 0 }, { "x:a\\b", 0, 0 },
		{ "x:a]b", 0, 0 }, { "x:a\x7f", 0, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		struct addr a;
		int r;

		memset(&a, 0, sizeof(a));
		r = addr_parse_literal(cases[i].in, strlen(cases[i].in), &a);
		if (!CHECK_INT(cases[i].in, r, cases[i].ok) || !r)
			continue;
		CHECK_INT(cases[i].in, a.dtype, cases[i].dtype);
		CHECK_STR(cases[i].in, a.domain, cases[i].in);
	}
	UNIT_DONE();
}

/* format_cases - the canonical form: route dropped, quotes only if needed */
static void
format_cases(void **state)
{
	static const struct {
		const char *in;
		unsigned opts;
		const char *want;
	} cases[] = {
		{ "<user@Example.COM>", 0, "<user@example.com>" },
		{ "<@a.example,@b.example:u@c.example>", 0, "<u@c.example>" },
		{ "<\"john doe\"@x.example>", 0, "<\"john doe\"@x.example>" },
		{ "<\"john\"@x.example>", 0, "<john@x.example>" },
		{ "<\"j\\ohn\"@x.example>", 0, "<john@x.example>" },
		{ "<\"a\\\"b\"@x.example>", 0, "<\"a\\\"b\"@x.example>" },
		{ "<\"a\\\\b\"@x.example>", 0, "<\"a\\\\b\"@x.example>" },
		{ "<\".a\"@x.example>", 0, "<\".a\"@x.example>" },
		{ "<\"a.\"@x.example>", 0, "<\"a.\"@x.example>" },
		{ "<\"a..b\"@x.example>", 0, "<\"a..b\"@x.example>" },
		{ "<\"a@b\"@x.example>", 0, "<\"a@b\"@x.example>" },
		{ "<\"\"@x.example>", 0, "<\"\"@x.example>" },
		{ "<>", ADDR_ALLOW_NULL, "<>" },
		{ "<Postmaster>", ADDR_ALLOW_POSTMASTER, "<Postmaster>" },
		{ "<u@[192.0.2.1]>", 0, "<u@[192.0.2.1]>" },
		{ "<u@[IPv6:2001:db8::1]>", 0, "<u@[IPv6:2001:db8::1]>" },
		{ "<u@[x-tag:abc]>", 0, "<u@[x-tag:abc]>" },
	};
	char out[SMTP_PATH_MAX + 8];
	size_t i, used;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		struct addr a, b;

		if (!CHECK_INT(cases[i].in, addr_parse_path(cases[i].in,
		    strlen(cases[i].in), cases[i].opts, &a, &used), ADDR_OK))
			continue;
		if (!CHECK_INT(cases[i].in, addr_format(&a, out, sizeof(out)),
		    0))
			continue;
		CHECK_STR(cases[i].in, out, cases[i].want);
		/* the canonical form parses back to the same address */
		if (!CHECK_INT(cases[i].in, addr_parse_path(out, strlen(out),
		    cases[i].opts, &b, &used), ADDR_OK))
			continue;
		CHECK_STR(cases[i].in, b.local, a.local);
		CHECK_STR(cases[i].in, b.domain, a.domain);
		CHECK_INT(cases[i].in, b.dtype, a.dtype);
		CHECK_INT(cases[i].in, b.flags & ~ADDR_QUOTED,
		    a.flags & ~(ADDR_QUOTED | ADDR_ROUTE));
	}
	UNIT_DONE();
}

/* format_truncation - a short buffer is reported, and still terminated */
static void
format_truncation(void **state)
{
	struct addr a;
	char out[32];
	size_t used, n;

	(void)state;
	assert_int_equal(addr_parse_path("<user@example.com>", 18, 0, &a,
	    &used), ADDR_OK);
	for (n = 1; n <= 19; n++) {
		char name[32];

		snprintf(name, sizeof(name), "dstsize %zu", n);
		memset(out, 'X', sizeof(out));
		CHECK_INT(name, addr_format(&a, out, n), n < 19 ? -1 : 0);
		CHECK_TRUE(name, memchr(out, '\0', n) != NULL);
		CHECK_INT(name, out[n], 'X');
	}
	UNIT_DONE();
}

/* needs_quotes - addr_local_needs_quotes: not a Dot-string */
static void
needs_quotes(void **state)
{
	static const struct {
		const char *in;
		int want;
	} cases[] = {
		{ "a", 0 }, { "a.b", 0 }, { "a+b", 0 }, { "!#$%", 0 },
		{ "", 1 }, { ".a", 1 }, { "a.", 1 }, { "a..b", 1 },
		{ "a b", 1 }, { "a@b", 1 }, { "a\"b", 1 }, { "a\\b", 1 },
		{ "a(b)", 1 }, { "a,b", 1 }, { "a\x01", 1 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++)
		CHECK_INT(cases[i].in, addr_local_needs_quotes(cases[i].in),
		    cases[i].want);
	UNIT_DONE();
}

/* atext - addr_is_atext over every byte value */
static void
atext(void **state)
{
	const char *specials = "!#$%&'*+-/=?^_`{|}~";
	int c;

	(void)state;
	for (c = 0; c < 256; c++) {
		char name[16];
		int want = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || (c != 0 &&
		    strchr(specials, c) != NULL);

		snprintf(name, sizeof(name), "byte 0x%02x", c);
		CHECK_INT(name, addr_is_atext(c), want);
	}
	UNIT_DONE();
}

/* strerror_all - every error has its own text */
static void
strerror_all(void **state)
{
	static const enum addr_err errs[] = { ADDR_OK, ADDR_ESYNTAX,
	    ADDR_ELOCAL_LONG, ADDR_EDOMAIN_LONG, ADDR_EPATH_LONG, ADDR_E8BIT,
	    ADDR_ENULL };
	size_t i, j;

	(void)state;
	for (i = 0; i < NELEM(errs); i++) {
		char name[16];

		snprintf(name, sizeof(name), "error %d", (int)errs[i]);
		CHECK_TRUE(name, addr_strerror(errs[i]) != NULL &&
		    *addr_strerror(errs[i]) != '\0');
		for (j = 0; j < i; j++)
			CHECK_TRUE(name, strcmp(addr_strerror(errs[i]),
			    addr_strerror(errs[j])) != 0);
	}
	CHECK_HAS("E8BIT", addr_strerror(ADDR_E8BIT), "SMTPUTF8");
	CHECK_HAS("ELOCAL_LONG", addr_strerror(ADDR_ELOCAL_LONG), "64");
	UNIT_DONE();
}

/* prefixes - no prefix of a valid path parses as the same path */
static void
prefixes(void **state)
{
	static const char *paths[] = { "<user@example.com>",
	    "<\"a>b\"@x.example>", "<@r.example:u@x.example>",
	    "<u@[192.0.2.1]>" };
	size_t i, n, used;

	(void)state;
	for (i = 0; i < NELEM(paths); i++)
		for (n = 0; n < strlen(paths[i]); n++) {
			struct addr a;
			char name[64];

			snprintf(name, sizeof(name), "%s cut at %zu", paths[i],
			    n);
			CHECK_INT(name, addr_parse_path(paths[i], n, 0, &a,
			    &used), ADDR_ESYNTAX);
		}
	UNIT_DONE();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_path_cases),
		cmocka_unit_test(literal_ip_bytes),
		cmocka_unit_test(length_limits),
		cmocka_unit_test(parse_domain),
		cmocka_unit_test(parse_literal),
		cmocka_unit_test(format_cases),
		cmocka_unit_test(format_truncation),
		cmocka_unit_test(needs_quotes),
		cmocka_unit_test(atext),
		cmocka_unit_test(strerror_all),
		cmocka_unit_test(prefixes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

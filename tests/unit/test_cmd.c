/*
 * test_cmd - command lines: verb split, MAIL/RCPT arguments, ESMTP
 * parameters and the HELO argument (smtp/cmd).
 */
#include "unit.h"

#include "smtp/cmd.h"

/* split_cases - cmd_split: verb, canonical name, argument */
static void
split_cases(void **state)
{
	static const struct {
		const char *name;
		const char *line;
		enum cmd_verb verb;
		const char *vname;	/* NULL for CMD_UNKNOWN */
		const char *arg;
	} cases[] = {
		{ "HELO", "HELO example.com", CMD_HELO, "HELO", "example.com" },
		{ "lower case", "ehlo example.com", CMD_EHLO, "EHLO",
		    "example.com" },
		{ "mixed case", "MaIl FROM:<a@b>", CMD_MAIL, "MAIL",
		    "FROM:<a@b>" },
		{ "RCPT", "RCPT TO:<a@b>", CMD_RCPT, "RCPT", "TO:<a@b>" },
		{ "no argument", "DATA", CMD_DATA, "DATA", "" },
		{ "spaces around argument", "HELO   x.example   ", CMD_HELO,
		    "HELO", "x.example" },
		{ "trailing tab cut", "MAIL FROM:<a@b>\t", CMD_MAIL, "MAIL",
		    "FROM:<a@b>" },
		{ "trailing spaces, no argument", "QUIT   ", CMD_QUIT, "QUIT",
		    "" },
		{ "inner spaces kept", "NOOP a  b", CMD_NOOP, "NOOP", "a  b" },
		{ "RSET", "RSET", CMD_RSET, "RSET", "" },
		{ "VRFY", "VRFY root", CMD_VRFY, "VRFY", "root" },
		{ "EXPN", "EXPN list", CMD_EXPN, "EXPN", "list" },
		{ "HELP", "help", CMD_HELP, "HELP", "" },
		{ "STARTTLS", "STARTTLS", CMD_STARTTLS, "STARTTLS", "" },
		{ "AUTH", "AUTH PLAIN", CMD_AUTH, "AUTH", "PLAIN" },
		{ "BDAT", "BDAT 100 LAST", CMD_BDAT, "BDAT", "100 LAST" },
		{ "TURN", "TURN", CMD_NOTIMPL, "TURN", "" },
		{ "ETRN", "ETRN example.com", CMD_NOTIMPL, "ETRN",
		    "example.com" },
		{ "XCLIENT", "XCLIENT ADDR=1.2.3.4", CMD_NOTIMPL, "XCLIENT",
		    "ADDR=1.2.3.4" },
		{ "HTTP GET", "GET / HTTP/1.0", CMD_HTTP, "GET", "/ HTTP/1.0" },
		{ "HTTP POST", "POST /x HTTP/1.1", CMD_HTTP, "POST",
		    "/x HTTP/1.1" },
		{ "CONNECT proxy", "CONNECT 1.2.3.4:25 HTTP/1.0", CMD_HTTP,
		    "CONNECT", "1.2.3.4:25 HTTP/1.0" },
		{ "POP3 USER", "USER bob", CMD_HTTP, "USER", "bob" },
		{ "unknown verb", "XYZZY", CMD_UNKNOWN, NULL, "" },
		{ "verb prefix", "HEL x", CMD_UNKNOWN, NULL, "x" },
		{ "verb too long", "HELOO x", CMD_UNKNOWN, NULL, "x" },
		{ "no space after verb", "MAILFROM:<a@b>", CMD_UNKNOWN, NULL,
		    "" },
		{ "leading space", " HELO x", CMD_UNKNOWN, NULL, "HELO x" },
		{ "empty line", "", CMD_UNKNOWN, NULL, "" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		struct cmd c;

		cmd_split(cases[i].line, strlen(cases[i].line), &c);
		CHECK_INT(cases[i].name, c.verb, cases[i].verb);
		CHECK_STR(cases[i].name, c.name, cases[i].vname);
		CHECK_MEM(cases[i].name, c.arg, c.arglen, cases[i].arg,
		    strlen(cases[i].arg));
	}
	UNIT_DONE();
}

/* split_bounded - cmd_split reads only len bytes */
static void
split_bounded(void **state)
{
	struct cmd c;

	(void)state;
	cmd_split("HELO x.example GARBAGE", 14, &c);
	CHECK_INT("bounded", c.verb, CMD_HELO);
	CHECK_MEM("bounded", c.arg, c.arglen, "x.example", 9);
	cmd_split("DATAX", 4, &c);
	CHECK_INT("bounded verb", c.verb, CMD_DATA);
	CHECK_UINT("bounded verb", c.arglen, 0);
	UNIT_DONE();
}

#define NOSIZE	(UINT64_MAX - 7)	/* do not check the size */

struct mail_case {
	const char	*name;
	const char	*arg;
	int		 rc;
	int		 code;		/* rc == -1 */
	const char	*enh;
	const char	*text;		/* substring of the error text */
	const char	*local;		/* rc == 0 */
	const char	*domain;
	unsigned	 flags;
	uint64_t	 size;
	int		 body;
	int		 auth;
};

static const struct mail_case mail_cases[] = {
	{ "plain", "FROM:<a@b.example>", 0, 0, NULL, NULL, "a", "b.example",
	    0, 0, BODY_NONE, 0 },
	{ "keyword any case", "from:<a@B.Example>", 0, 0, NULL, NULL, "a",
	    "b.example", 0, 0, BODY_NONE, 0 },
	{ "space after colon", "FROM: <a@b.example>", 0, 0, NULL, NULL, "a",
	    "b.example", 0, 0, BODY_NONE, 0 },
	{ "null sender", "FROM:<>", 0, 0, NULL, NULL, "", "", ADDR_NULL, 0,
	    BODY_NONE, 0 },
	{ "null sender with SIZE", "FROM:<> SIZE=42", 0, 0, NULL, NULL, "",
	    "", ADDR_NULL, 42, BODY_NONE, 0 },
	{ "route dropped", "FROM:<@r.example:a@b.example>", 0, 0, NULL, NULL,
	    "a", "b.example", ADDR_ROUTE, 0, BODY_NONE, 0 },
	{ "SIZE", "FROM:<a@b.example> SIZE=1000", 0, 0, NULL, NULL, "a",
	    "b.example", 0, 1000, BODY_NONE, 0 },
	{ "SIZE zero accepted", "FROM:<a@b.example> SIZE=0", 0, 0, NULL, NULL,
	    "a", "b.example", 0, NOSIZE, BODY_NONE, 0 },
	{ "SIZE max", "FROM:<a@b.example> SIZE=18446744073709551615", 0, 0,
	    NULL, NULL, "a", "b.example", 0, UINT64_MAX, BODY_NONE, 0 },
	{ "size lower case", "FROM:<a@b.example> size=7", 0, 0, NULL, NULL,
	    "a", "b.example", 0, 7, BODY_NONE, 0 },
	{ "BODY=8BITMIME", "FROM:<a@b.example> BODY=8BITMIME", 0, 0, NULL,
	    NULL, "a", "b.example", 0, 0, BODY_8BITMIME, 0 },
	{ "body=7bit", "FROM:<a@b.example> body=7bit", 0, 0, NULL, NULL, "a",
	    "b.example", 0, 0, BODY_7BIT, 0 },
	{ "AUTH=<>", "FROM:<a@b.example> AUTH=<>", 0, 0, NULL, NULL, "a",
	    "b.example", 0, 0, BODY_NONE, 1 },
	{ "all three", "FROM:<a@b.example> SIZE=100 BODY=8BITMIME "
	    "AUTH=x@y.example", 0, 0, NULL, NULL, "a", "b.example", 0, 100,
	    BODY_8BITMIME, 1 },
	{ "two spaces between params", "FROM:<a@b.example>  SIZE=10", 0, 0,
	    NULL, NULL, "a", "b.example", 0, 10, BODY_NONE, 0 },
	/* errors */
	{ "RCPT keyword", "TO:<a@b.example>", -1, 501, "5.5.4", "FROM:" },
	{ "no keyword", "<a@b.example>", -1, 501, "5.5.4", "MAIL FROM:" },
	{ "empty", "", -1, 501, "5.5.4", NULL },
	{ "no brackets", "FROM:a@b.example", -1, 501, "5.1.7",
	    "angle brackets" },
	{ "nothing after colon", "FROM:", -1, 501, "5.1.7", NULL },
	{ "unclosed", "FROM:<a@b.example", -1, 501, "5.1.7", "sender" },
	{ "bad local", "FROM:<a b@x.example>", -1, 501, "5.1.7", "sender" },
	{ "postmaster alone", "FROM:<postmaster>", -1, 501, "5.1.7", NULL },
	{ "8-bit", "FROM:<us\xc3\xa9r@x.example>", -1, 553, "5.6.7",
	    "SMTPUTF8" },
	{ "SIZE without value", "FROM:<a@b.example> SIZE", -1, 501, "5.5.4",
	    "SIZE" },
	{ "SIZE empty value", "FROM:<a@b.example> SIZE=", -1, 501, "5.5.4",
	    NULL },
	{ "SIZE not a number", "FROM:<a@b.example> SIZE=abc", -1, 501,
	    "5.5.4", "SIZE" },
	{ "SIZE negative", "FROM:<a@b.example> SIZE=-1", -1, 501, "5.5.4",
	    "SIZE" },
	{ "SIZE signed", "FROM:<a@b.example> SIZE=+1", -1, 501, "5.5.4",
	    "SIZE" },
	{ "SIZE hex", "FROM:<a@b.example> SIZE=0x10", -1, 501, "5.5.4",
	    "SIZE" },
	{ "SIZE overflow", "FROM:<a@b.example> SIZE=18446744073709551616", -1,
	    501, "5.5.4", "SIZE" },
	{ "SIZE very long", "FROM:<a@b.example> "
	    "SIZE=1000000000000000000000000000000", -1, 501, "5.5.4", "SIZE" },
	{ "SIZE twice", "FROM:<a@b.example> SIZE=10 SIZE=20", -1, 501,
	    "5.5.4", "SIZE" },
	{ "SIZE=0 twice", "FROM:<a@b.example> SIZE=0 SIZE=0", -1, 501,
	    "5.5.4", "SIZE" },
	{ "BODY unknown", "FROM:<a@b.example> BODY=BINARYMIME", -1, 501,
	    "5.5.4", "BODY" },
	{ "BODY without value", "FROM:<a@b.example> BODY", -1, 501, "5.5.4",
	    "BODY" },
	{ "BODY twice", "FROM:<a@b.example> BODY=7BIT BODY=8BITMIME", -1, 501,
	    "5.5.4", "BODY" },
	{ "AUTH without value", "FROM:<a@b.example> AUTH", -1, 501, "5.5.4",
	    "AUTH" },
	{ "AUTH twice", "FROM:<a@b.example> AUTH=<> AUTH=<>", -1, 501, "5.5.4",
	    "AUTH" },
	{ "unknown param", "FROM:<a@b.example> FOO=bar", -1, 555, "5.5.4",
	    "FOO" },
	{ "SMTPUTF8 not offered", "FROM:<a@b.example> SMTPUTF8", -1, 555,
	    "5.5.4", "SMTPUTF8" },
	{ "param glued to path", "FROM:<a@b.example>SIZE=10", -1, 501,
	    "5.5.4", NULL },
	{ "param without key", "FROM:<a@b.example> =x", -1, 501, "5.5.4",
	    NULL },
	{ "value with '='", "FROM:<a@b.example> SIZE=1=2", -1, 501, "5.5.4",
	    NULL },
	{ "control byte in value", "FROM:<a@b.example> AUTH=a\x01", -1, 501,
	    "5.5.4", NULL },
	{ "8-bit value", "FROM:<a@b.example> AUTH=\xff", -1, 501, "5.5.4",
	    NULL },
	{ "bad keyword char", "FROM:<a@b.example> SI_ZE=1", -1, 501, "5.5.4",
	    NULL },
};

/* mail_args - cmd_parse_mail: path, parameters, error replies */
static void
mail_args(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(mail_cases); i++) {
		const struct mail_case *t = &mail_cases[i];
		struct mail_params mp;
		struct cmd_err e;
		struct addr a;
		int r;

		memset(&e, 0, sizeof(e));
		r = cmd_parse_mail(t->arg, strlen(t->arg), &a, &mp, &e);
		if (!CHECK_INT(t->name, r, t->rc))
			continue;
		if (r == -1) {
			CHECK_INT(t->name, e.code, t->code);
			CHECK_STR(t->name, e.enh, t->enh);
			if (t->text)
				CHECK_HAS(t->name, e.text, t->text);
			continue;
		}
		CHECK_STR(t->name, a.local, t->local);
		CHECK_STR(t->name, a.domain, t->domain);
		CHECK_INT(t->name, a.flags, t->flags);
		if (t->size != NOSIZE)
			CHECK_UINT(t->name, mp.size, t->size);
		CHECK_INT(t->name, mp.body, t->body);
		CHECK_INT(t->name, mp.has_auth, t->auth);
	}
	UNIT_DONE();
}

static const struct mail_case rcpt_cases[] = {
	{ "plain", "TO:<a@b.example>", 0, 0, NULL, NULL, "a", "b.example",
	    0 },
	{ "any case", "to:<A@B.EXAMPLE>", 0, 0, NULL, NULL, "A", "b.example",
	    0 },
	{ "space after colon", "TO: <a@b.example>", 0, 0, NULL, NULL, "a",
	    "b.example", 0 },
	{ "postmaster", "TO:<postmaster>", 0, 0, NULL, NULL, "postmaster", "",
	    ADDR_POSTMASTER },
	{ "Postmaster", "TO:<Postmaster>", 0, 0, NULL, NULL, "Postmaster", "",
	    ADDR_POSTMASTER },
	{ "source route", "TO:<@r.example,@s.example:a@b.example>", 0, 0,
	    NULL, NULL, "a", "b.example", ADDR_ROUTE },
	{ "quoted", "TO:<\"a b\"@b.example>", 0, 0, NULL, NULL, "a b",
	    "b.example", ADDR_QUOTED },
	/* errors */
	{ "null path", "TO:<>", -1, 501, "5.1.3", "recipient" },
	{ "MAIL keyword", "FROM:<a@b.example>", -1, 501, "5.5.4", "TO:" },
	{ "no brackets", "TO:a@b.example", -1, 501, "5.1.3",
	    "angle brackets" },
	{ "bad domain", "TO:<a@b..example>", -1, 501, "5.1.3", "recipient" },
	{ "empty domain", "TO:<a@>", -1, 501, "5.1.3", "recipient" },
	{ "8-bit", "TO:<a@\xc3\xa9.example>", -1, 553, "5.6.7", NULL },
	{ "NOTIFY not offered", "TO:<a@b.example> NOTIFY=NEVER", -1, 555,
	    "5.5.4", "NOTIFY" },
	{ "ORCPT not offered", "TO:<a@b.example> ORCPT=rfc822;a@b", -1, 555,
	    "5.5.4", "ORCPT" },
	{ "junk after path", "TO:<a@b.example>X", -1, 501, "5.5.4", NULL },
	{ "empty parameter", "TO:<a@b.example> =", -1, 501, "5.5.4", NULL },
};

/* rcpt_args - cmd_parse_rcpt */
static void
rcpt_args(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(rcpt_cases); i++) {
		const struct mail_case *t = &rcpt_cases[i];
		struct cmd_err e;
		struct addr a;
		int r;

		memset(&e, 0, sizeof(e));
		r = cmd_parse_rcpt(t->arg, strlen(t->arg), &a, &e);
		if (!CHECK_INT(t->name, r, t->rc))
			continue;
		if (r == -1) {
			CHECK_INT(t->name, e.code, t->code);
			CHECK_STR(t->name, e.enh, t->enh);
			if (t->text)
				CHECK_HAS(t->name, e.text, t->text);
			continue;
		}
		CHECK_STR(t->name, a.local, t->local);
		CHECK_STR(t->name, a.domain, t->domain);
		CHECK_INT(t->name, a.flags, t->flags);
	}
	UNIT_DONE();
}

/* args_bounded - the parsers read only n bytes of the argument */
static void
args_bounded(void **state)
{
	const char *arg = "FROM:<a@b.example> SIZE=10XXXX";
	struct mail_params mp;
	struct cmd_err e;
	struct addr a;

	(void)state;
	CHECK_INT("mail bounded", cmd_parse_mail(arg, 26, &a, &mp, &e), 0);
	CHECK_UINT("mail bounded", mp.size, 10);
	CHECK_INT("rcpt bounded", cmd_parse_rcpt("TO:<a@b.example>>>", 16, &a,
	    &e), 0);
	/* the path may not run past n even if the bytes after would close it */
	CHECK_INT("path past n", cmd_parse_rcpt("TO:<a@b.example>", 15, &a,
	    &e), -1);
	UNIT_DONE();
}

/* helo_args - cmd_parse_helo: first word, length, control bytes */
static void
helo_args(void **state)
{
	static const struct {
		const char *name;
		const char *arg;
		int rc;
		const char *want;	/* rc 0: the name; -1: text */
	} cases[] = {
		{ "domain", "mail.example.com", 0, "mail.example.com" },
		{ "literal", "[192.0.2.1]", 0, "[192.0.2.1]" },
		{ "IPv6 literal", "[IPv6:2001:db8::1]", 0, "[IPv6:2001:db8::1]" },
		{ "underscore tolerated", "host_name.example", 0,
		    "host_name.example" },
		{ "first word only", "mail.example.com extra words", 0,
		    "mail.example.com" },
		{ "empty", "", -1, "Syntax" },
		{ "leading space", " mail.example", -1, "Syntax" },
		{ "control byte", "a\x01" "b", -1, "Invalid character" },
		{ "tab", "a\tb", -1, "Invalid character" },
		{ "DEL", "a\x7f", -1, "Invalid character" },
		{ "8-bit", "h\xc3\xa9.example", -1, "Invalid character" },
		{ "CR", "a\rb", -1, "Invalid character" },
	};
	char dst[SMTP_HELO_MAX + 1], big[400];
	struct cmd_err e;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		int r;

		memset(&e, 0, sizeof(e));
		r = cmd_parse_helo(cases[i].arg, strlen(cases[i].arg), dst,
		    sizeof(dst), &e);
		if (!CHECK_INT(cases[i].name, r, cases[i].rc))
			continue;
		if (r == 0)
			CHECK_STR(cases[i].name, dst, cases[i].want);
		else {
			CHECK_INT(cases[i].name, e.code, 501);
			CHECK_STR(cases[i].name, e.enh, "5.5.4");
			CHECK_HAS(cases[i].name, e.text, cases[i].want);
		}
	}
	CHECK_INT("NUL byte", cmd_parse_helo("a\0b", 3, dst, sizeof(dst), &e),
	    -1);
	memset(big, 'h', 255);
	CHECK_INT("255 octets", cmd_parse_helo(big, 255, dst, sizeof(dst),
	    &e), 0);
	CHECK_UINT("255 octets", strlen(dst), 255);
	memset(big, 'h', 256);
	CHECK_INT("256 octets", cmd_parse_helo(big, 256, dst, sizeof(dst),
	    &e), -1);
	CHECK_HAS("256 octets", e.text, "too long");
	CHECK_INT("small dst", cmd_parse_helo("longername", 10, dst, 8, &e),
	    -1);
	CHECK_INT("dst just fits", cmd_parse_helo("1234567", 7, dst, 8, &e),
	    0);
	CHECK_STR("dst just fits", dst, "1234567");
	UNIT_DONE();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(split_cases),
		cmocka_unit_test(split_bounded),
		cmocka_unit_test(mail_args),
		cmocka_unit_test(rcpt_args),
		cmocka_unit_test(args_bounded),
		cmocka_unit_test(helo_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

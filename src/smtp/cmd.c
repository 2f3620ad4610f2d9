#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "smtp/cmd.h"
#include "util/str.h"

static const struct {
	const char	*name;
	enum cmd_verb	 verb;
} verbs[] = {
	{ "HELO", CMD_HELO }, { "EHLO", CMD_EHLO }, { "MAIL", CMD_MAIL },
	{ "RCPT", CMD_RCPT }, { "DATA", CMD_DATA }, { "RSET", CMD_RSET },
	{ "NOOP", CMD_NOOP }, { "QUIT", CMD_QUIT }, { "VRFY", CMD_VRFY },
	{ "EXPN", CMD_EXPN }, { "HELP", CMD_HELP },
	{ "STARTTLS", CMD_STARTTLS }, { "AUTH", CMD_AUTH },
	{ "BDAT", CMD_BDAT },
	{ "TURN", CMD_NOTIMPL }, { "ETRN", CMD_NOTIMPL },
	{ "ATRN", CMD_NOTIMPL }, { "SEND", CMD_NOTIMPL },
	{ "SOML", CMD_NOTIMPL }, { "SAML", CMD_NOTIMPL },
	{ "XCLIENT", CMD_NOTIMPL }, { "XFORWARD", CMD_NOTIMPL },
	{ "GET", CMD_HTTP }, { "POST", CMD_HTTP }, { "HEAD", CMD_HTTP },
	{ "PUT", CMD_HTTP }, { "CONNECT", CMD_HTTP }, { "OPTIONS", CMD_HTTP },
	{ "USER", CMD_HTTP },	/* a POP3 client at the wrong port */
};

/* seterr - fill an error reply */
static int __attribute__((format(printf, 4, 5)))
seterr(struct cmd_err *e, int code, const char *enh, const char *fmt, ...)
{
	va_list ap;

	e->code = code;
	e->enh = enh;
	va_start(ap, fmt);
	vsnprintf(e->text, sizeof(e->text), fmt, ap);
	va_end(ap);
	return -1;
}

/* cmd_split - the verb and its argument; CMD_UNKNOWN if not a verb */
void
cmd_split(const char *line, size_t len, struct cmd *c)
{
	size_t v = 0, i;

	while (v < len && line[v] != ' ')
		v++;
	c->verb = CMD_UNKNOWN;
	c->name = NULL;
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (str_ieqn(line, v, verbs[i].name)) {
			c->verb = verbs[i].verb;
			c->name = verbs[i].name;
			break;
		}
	while (v < len && line[v] == ' ')
		v++;
	while (len > v && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	c->arg = line + v;
	c->arglen = len - v;
}

/* is_keychar - esmtp-keyword character: ALPHA / DIGIT / "-" */
static int
is_keychar(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-';
}

/*
 * next_param - split the next " KEY[=VALUE]" at *pos. Returns 1 and the
 * pieces, 0 at the end, -1 on a syntax error.
 */
static int
next_param(const char *s, size_t n, size_t *pos, const char **key,
    size_t *klen, const char **val, size_t *vlen)
{
	size_t i = *pos, k;

	if (i >= n)
		return 0;
	if (s[i] != ' ')
		return -1;
	while (i < n && s[i] == ' ')
		i++;
	k = i;
	while (i < n && is_keychar((unsigned char)s[i]))
		i++;
	if (i == k)
		return -1;
	*key = s + k;
	*klen = i - k;
	*val = NULL;
	*vlen = 0;
	if (i < n && s[i] == '=') {
		size_t v = ++i;

		/* esmtp-value = 1*(%d33-60 / %d62-126) */
		while (i < n && s[i] > 32 && s[i] < 127 && s[i] != '=')
			i++;
		if (i == v)
			return -1;
		*val = s + v;
		*vlen = i - v;
	}
	if (i < n && s[i] != ' ')
		return -1;
	*pos = i;
	return 1;
}

/*
 * path_arg - "FROM:" or "TO:" then the path. RFC 5321 allows no space
 * after the colon, but many clients send one; it is accepted.
 */
static int
path_arg(const char *arg, size_t n, const char *kw, unsigned opts,
    struct addr *a, size_t *pos, const char *enh, struct cmd_err *e)
{
	size_t kl = strlen(kw), used, i;
	enum addr_err r;

	if (n < kl || !str_ieqn(arg, kl, kw))
		return seterr(e, 501, "5.5.4", "Syntax: %s %s<address>",
		    strcmp(kw, "FROM:") == 0 ? "MAIL" : "RCPT", kw);
	for (i = kl; i < n && arg[i] == ' '; i++)
		;
	if (i >= n || arg[i] != '<')
		return seterr(e, 501, enh, "Syntax error in %s address "
		    "(angle brackets required)",
		    strcmp(kw, "FROM:") == 0 ? "sender" : "recipient");
	r = addr_parse_path(arg + i, n - i, opts, a, &used);
	if (r == ADDR_E8BIT)
		return seterr(e, 553, "5.6.7", "Non-ASCII address not "
		    "permitted without SMTPUTF8");
	if (r != ADDR_OK)
		return seterr(e, 501, enh, "Bad %s address syntax: %s",
		    strcmp(kw, "FROM:") == 0 ? "sender" : "recipient",
		    addr_strerror(r));
	*pos = i + used;
	return 0;
}

/*
 * cmd_parse_mail - the argument of MAIL: "FROM:<path> [SIZE=n]
 * [BODY=7BIT|8BITMIME] [AUTH=x]". 0, or -1 with the reply in *e.
 */
int
cmd_parse_mail(const char *arg, size_t n, struct addr *a,
    struct mail_params *mp, struct cmd_err *e)
{
	const char *key, *val;
	size_t pos, klen, vlen;
	char num[24];
	int r;

	memset(mp, 0, sizeof(*mp));
	if (path_arg(arg, n, "FROM:", ADDR_ALLOW_NULL, a, &pos, "5.1.7",
	    e) == -1)
		return -1;
	while ((r = next_param(arg, n, &pos, &key, &klen, &val, &vlen)) == 1) {
		if (str_ieqn(key, klen, "SIZE")) {
			uint64_t size;

			if (mp->size || val == NULL || vlen >= sizeof(num))
				return seterr(e, 501, "5.5.4", "Bad SIZE "
				    "parameter");
			memcpy(num, val, vlen);
			num[vlen] = '\0';
			if (str_parse_u64(num, 0, UINT64_MAX, &size) == -1)
				return seterr(e, 501, "5.5.4", "Bad SIZE "
				    "parameter");
			mp->size = size ? size : 1;
		} else if (str_ieqn(key, klen, "BODY")) {
			if (mp->body != BODY_NONE || val == NULL)
				return seterr(e, 501, "5.5.4", "Bad BODY "
				    "parameter");
			if (str_ieqn(val, vlen, "8BITMIME"))
				mp->body = BODY_8BITMIME;
			else if (str_ieqn(val, vlen, "7BIT"))
				mp->body = BODY_7BIT;
			else
				return seterr(e, 501, "5.5.4", "Unsupported "
				    "BODY type (7BIT or 8BITMIME)");
		} else if (str_ieqn(key, klen, "AUTH")) {
			/* RFC 4954 5: recorded, never trusted */
			if (mp->has_auth || val == NULL)
				return seterr(e, 501, "5.5.4", "Bad AUTH "
				    "parameter");
			mp->has_auth = 1;
		} else
			return seterr(e, 555, "5.5.4", "Unsupported MAIL "
			    "parameter %.*s", (int)(klen > 32 ? 32 : klen),
			    key);
	}
	if (r == -1)
		return seterr(e, 501, "5.5.4", "Syntax error in MAIL "
		    "parameters");
	return 0;
}

/*
 * cmd_parse_rcpt - the argument of RCPT: "TO:<path>". No RCPT parameters
 * are offered (no DSN), so any is 555. 0, or -1 with the reply in *e.
 */
int
cmd_parse_rcpt(const char *arg, size_t n, struct addr *a, struct cmd_err *e)
{
	const char *key, *val;
	size_t pos, klen, vlen;
	int r;

	if (path_arg(arg, n, "TO:", ADDR_ALLOW_POSTMASTER, a, &pos, "5.1.3",
	    e) == -1)
		return -1;
	r = next_param(arg, n, &pos, &key, &klen, &val, &vlen);
	if (r == 1)
		return seterr(e, 555, "5.5.4", "Unsupported RCPT parameter "
		    "%.*s", (int)(klen > 32 ? 32 : klen), key);
	if (r == -1)
		return seterr(e, 501, "5.5.4", "Syntax error in RCPT "
		    "parameters");
	return 0;
}

/*
 * cmd_parse_helo - the HELO/EHLO argument: its first word, which should be
 * a domain or an address literal. Real clients send names with "_" and
 * other sins, so only emptiness, length and control bytes are refused
 * here; policy may refuse more. 0, or -1 with the reply in *e.
 */
int
cmd_parse_helo(const char *arg, size_t n, char *dst, size_t dstsize,
    struct cmd_err *e)
{
	size_t i, w = 0;

	while (w < n && arg[w] != ' ')
		w++;
	if (w == 0)
		return seterr(e, 501, "5.5.4", "Syntax: EHLO hostname");
	if (w > SMTP_HELO_MAX || w >= dstsize)
		return seterr(e, 501, "5.5.4", "HELO name too long");
	for (i = 0; i < w; i++)
		if ((unsigned char)arg[i] <= ' ' ||
		    (unsigned char)arg[i] >= 0x7f)
			return seterr(e, 501, "5.5.4", "Invalid character in "
			    "HELO name");
	memcpy(dst, arg, w);
	dst[w] = '\0';
	return 0;
}

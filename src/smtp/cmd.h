/*
 * cmd - SMTP command lines: the verb, MAIL/RCPT arguments and their ESMTP
 * parameters (RFC 5321 4.1.1, RFC 1870 SIZE, RFC 6152 8BITMIME).
 *
 * Pure: no I/O, no allocation. Arguments point into the caller's line.
 * Errors come back as a ready reply (code, enhanced code, text).
 */
#ifndef SLUICE_CMD_H
#define SLUICE_CMD_H

#include <stddef.h>
#include <stdint.h>

#include "smtp/addr.h"

enum cmd_verb {
	CMD_UNKNOWN,
	CMD_HELO, CMD_EHLO, CMD_MAIL, CMD_RCPT, CMD_DATA, CMD_RSET,
	CMD_NOOP, CMD_QUIT, CMD_VRFY, CMD_EXPN, CMD_HELP, CMD_STARTTLS,
	CMD_AUTH, CMD_BDAT, CMD_NOTIMPL,	/* TURN, ETRN, ATRN, SEND ... */
	CMD_HTTP				/* GET, POST, CONNECT ...: a proxy probe */
};

struct cmd {
	enum cmd_verb	verb;
	const char	*name;	/* canonical verb name, "MAIL" */
	const char	*arg;	/* after the verb and spaces; trailing spaces cut */
	size_t		arglen;
};

#define BODY_NONE	0
#define BODY_7BIT	1
#define BODY_8BITMIME	2

struct mail_params {
	uint64_t	size;		/* SIZE=, 0 if absent */
	int		body;		/* BODY_* */
	int		has_auth;	/* AUTH= seen (RFC 4954) */
};

struct cmd_err {
	int		code;
	const char	*enh;
	char		text[160];
};

void	cmd_split(const char *line, size_t len, struct cmd *c);
int	cmd_parse_mail(const char *arg, size_t n, struct addr *a,
	    struct mail_params *mp, struct cmd_err *e);
int	cmd_parse_rcpt(const char *arg, size_t n, struct addr *a,
	    struct cmd_err *e);
int	cmd_parse_helo(const char *arg, size_t n, char *dst, size_t dstsize,
	    struct cmd_err *e);

#endif

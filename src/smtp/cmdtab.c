/*
 * cmdtab - the command table and the command handlers.
 *
 * The table says, for each verb, in which states it is allowed and
 * whether it must end a pipelined group; dispatch() enforces both, so no
 * handler checks ordering itself.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "smtp/cmd.h"
#include "smtp/limits.h"
#include "smtp/reply.h"
#include "smtp/session_int.h"
#include "util/log.h"
#include "util/str.h"

#define S(x)		(1u << (x))
#define ANY_OPEN	(S(ST_GREET) | S(ST_READY) | S(ST_MAIL) | S(ST_RCPT))
#define AFTER_HELO	(S(ST_READY) | S(ST_MAIL) | S(ST_RCPT))

/* flags */
#define F_SYNC		0x01	/* must be the last command of a group */
#define F_NOARG		0x02	/* takes no argument */

struct cmdent {
	enum cmd_verb	 verb;
	unsigned	 states;
	unsigned	 flags;
	size_t		 maxlen;	/* longest line without CRLF */
	void		(*fn)(struct smtp_session *, const struct cmd *);
};

static void do_helo(struct smtp_session *, const struct cmd *);
static void do_mail(struct smtp_session *, const struct cmd *);
static void do_rcpt(struct smtp_session *, const struct cmd *);
static void do_data(struct smtp_session *, const struct cmd *);
static void do_rset(struct smtp_session *, const struct cmd *);
static void do_noop(struct smtp_session *, const struct cmd *);
static void do_quit(struct smtp_session *, const struct cmd *);
static void do_vrfy(struct smtp_session *, const struct cmd *);
static void do_expn(struct smtp_session *, const struct cmd *);
static void do_help(struct smtp_session *, const struct cmd *);
static void do_notimpl(struct smtp_session *, const struct cmd *);
static void do_http(struct smtp_session *, const struct cmd *);
static void do_starttls(struct smtp_session *, const struct cmd *);
static void do_auth(struct smtp_session *, const struct cmd *);

/* RFC 5321 4.5.3.1.4: 512 with CRLF; MAIL may carry ESMTP parameters. */
#define CMDLEN	(SMTP_CMDLINE_MAX - 2)
#define MAILLEN	(SMTP_CMDLINE_EXT_MAX - 2)
/* RFC 4954 4: an AUTH line may be up to 12288 octets. */
#define AUTHLEN	(SMTP_AUTHLINE_MAX - 2)

static const struct cmdent table[] = {
	{ CMD_HELO, ANY_OPEN, F_SYNC, CMDLEN, do_helo },
	{ CMD_EHLO, ANY_OPEN, F_SYNC, CMDLEN, do_helo },
	{ CMD_MAIL, S(ST_READY), 0, MAILLEN, do_mail },
	{ CMD_RCPT, S(ST_MAIL) | S(ST_RCPT), 0, CMDLEN, do_rcpt },
	{ CMD_DATA, S(ST_RCPT), F_SYNC | F_NOARG, CMDLEN, do_data },
	{ CMD_RSET, ANY_OPEN, F_NOARG, CMDLEN, do_rset },
	{ CMD_NOOP, ANY_OPEN, 0, CMDLEN, do_noop },
	{ CMD_QUIT, ANY_OPEN | S(ST_REJECTED), F_NOARG, CMDLEN, do_quit },
	{ CMD_VRFY, ANY_OPEN, 0, CMDLEN, do_vrfy },
	{ CMD_EXPN, ANY_OPEN, 0, CMDLEN, do_expn },
	{ CMD_HELP, ANY_OPEN, 0, CMDLEN, do_help },
	{ CMD_STARTTLS, S(ST_GREET) | S(ST_READY), F_NOARG, CMDLEN,
	  do_starttls },
	{ CMD_AUTH, S(ST_READY), 0, AUTHLEN, do_auth },
	{ CMD_BDAT, ANY_OPEN, 0, CMDLEN, do_notimpl },
	{ CMD_NOTIMPL, ANY_OPEN, 0, CMDLEN, do_notimpl },
	{ CMD_HTTP, ANY_OPEN, 0, CMDLEN, do_http },
};

/* out_of_order - the 503 text for a verb in the wrong state */
static const char *
out_of_order(const struct smtp_session *s, enum cmd_verb v)
{
	switch (v) {
	case CMD_MAIL:
		if (s->state == ST_GREET)
			return "Error: send HELO/EHLO first";
		return "Error: nested MAIL command";
	case CMD_RCPT:
		return s->state == ST_GREET ? "Error: send HELO/EHLO first" :
		    "Error: need MAIL command";
	case CMD_DATA:
		if (s->state == ST_MAIL)
			return "Error: no valid recipients";
		return s->state == ST_GREET ? "Error: send HELO/EHLO first" :
		    "Error: need RCPT command";
	case CMD_AUTH:
		return s->state == ST_GREET ? "Error: send EHLO first" :
		    "Error: AUTH not allowed during a mail transaction";
	case CMD_STARTTLS:
		return "Error: STARTTLS not allowed during a mail transaction";
	default:
		return "Error: bad sequence of commands";
	}
}

static void dispatch(struct smtp_session *, const char *, size_t, int);

/*
 * log_refusal - log a 4xx/5xx reply that its handler did not log: every
 * refused command leaves a line with the client, the command and the
 * reply. AUTH data is never logged, only the mechanism.
 */
static void
log_refusal(struct smtp_session *s, const char *line, size_t len, int auth,
    size_t mark)
{
	const char *r = s->out.data + mark, *end = s->out.data + s->out.len;
	const char *eol, *sp;
	char qc[LOG_QUOTE_MAX], qr[LOG_QUOTE_MAX];

	if (s->logged || mark >= s->out.len || (r[0] != '4' && r[0] != '5'))
		return;
	if ((eol = memchr(r, '\r', (size_t)(end - r))) == NULL)
		eol = end;
	if (len > 5 && strncasecmp(line, "AUTH ", 5) == 0 &&
	    (sp = memchr(line + 5, ' ', len - 5)) != NULL)
		len = (size_t)(sp - line);	/* "AUTH PLAIN", no response */
	if (len > 256)
		len = 256;
	log_info("session=%s event=command-rejected client=%s command=%s "
	    "reply=%s", s->id, s->client.ipstr,
	    auth ? "\"(AUTH response)\"" : log_quote(qc, sizeof(qc), line, len),
	    log_quote(qr, sizeof(qr), r, (size_t)(eol - r)));
}

/* cmdtab_dispatch - run one complete command line, logging a refusal */
void
cmdtab_dispatch(struct smtp_session *s, const char *line, size_t len,
    int pipelined)
{
	size_t mark = s->out.len;
	int auth = s->state == ST_AUTH;
	char head[300];
	size_t headlen = 0;

	if (s->lb.flags & LINE_TOOLONG) {
		/* the line itself is gone: its head shows what it was */
		headlen = s->lb.headlen < sizeof(head) ? s->lb.headlen :
		    sizeof(head);
		memcpy(head, s->lb.head, headlen);
	}
	s->logged = 0;
	dispatch(s, line, len, pipelined);
	if (s->lb.flags & LINE_TOOLONG)
		log_refusal(s, head, headlen, auth, mark);
	else
		log_refusal(s, line, len, auth, mark);
}

/* dispatch - run one complete command line */
static void
dispatch(struct smtp_session *s, const char *line, size_t len, int pipelined)
{
	const struct cmdent *e = NULL;
	unsigned flags = s->lb.flags;
	struct cmd c;
	size_t i;

	if (s->state == ST_AUTH) {
		auth_line(s, line, len, flags);
		return;
	}
	if ((flags & LINE_TOOLONG) && s->lb.headlen >= 5 &&
	    strncasecmp(s->lb.head, "AUTH ", 5) == 0) {
		/* RFC 4954 4: an over-long initial response */
		reply_add(&s->out, 500, "5.5.6", "Authentication exchange "
		    "line is too long");
		session_error(s);
		return;
	}
	if (flags & LINE_TOOLONG) {
		reply_add(&s->out, 500, "5.5.2", "Error: line too long");
		session_error(s);
		return;
	}
	if (flags & LINE_BARELF) {
		/*
		 * Only CR LF ends a line. After a bare LF we cannot know
		 * where the client meant its commands to end, so nothing
		 * more is read (Postfix's smtpd_forbid_bare_newline does
		 * the same).
		 */
		log_info("session=%s event=bare-newline client=%s", s->id,
		    s->client.ipstr);
		s->logged = 1;
		reply_add(&s->out, 521, "5.5.2", "%s Error: bare <LF> "
		    "received; command lines must end with <CR><LF>",
		    s->sp->hostname);
		session_drop_tx(s);
		session_set_state(s, ST_CLOSING);
		return;
	}
	if (flags & (LINE_CR | LINE_NUL)) {
		reply_add(&s->out, 500, "5.5.2", "Error: invalid character "
		    "(CR or NUL) in command");
		session_error(s);
		return;
	}
	cmd_split(line, len, &c);
	if (s->state == ST_REJECTED && c.verb != CMD_QUIT) {
		reply_add(&s->out, 503, "5.7.1", "Error: access denied, "
		    "send QUIT");
		session_error(s);
		return;
	}
	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].verb == c.verb) {
			e = &table[i];
			break;
		}
	if (len > (e != NULL ? e->maxlen : CMDLEN)) {
		/* RFC 5321 4.5.3.1.4: too long, whatever its verb */
		reply_add(&s->out, 500, "5.5.2", "Error: line too long");
		session_error(s);
		return;
	}
	if (e == NULL) {
		reply_add(&s->out, 500, "5.5.1", "Error: command not "
		    "recognized");
		session_error(s);
		return;
	}
	if (!(e->states & S(s->state))) {
		reply_add(&s->out, 503, "5.5.1", "%s", out_of_order(s, c.verb));
		session_error(s);
		return;
	}
	if ((e->flags & F_SYNC) && pipelined) {
		/* RFC 2920 3.1: this command must end a group */
		log_info("session=%s event=pipelining-violation client=%s "
		    "command=%s", s->id, s->client.ipstr, c.name);
		s->logged = 1;
		reply_add(&s->out, 554, "5.5.0", "Error: SMTP protocol "
		    "synchronization: %s must be the last command before "
		    "waiting for the reply", c.name);
		session_drop_tx(s);
		session_set_state(s, ST_CLOSING);
		return;
	}
	if ((e->flags & F_NOARG) && c.arglen > 0) {
		reply_add(&s->out, 501, "5.5.4", "Syntax: %s (no arguments)",
		    c.name);
		session_error(s);
		return;
	}
	e->fn(s, &c);
}

/* allow_log - an allow-list entry applied to this step: say which */
static void
allow_log(struct smtp_session *s, const char *step, const struct verdict *v)
{
	char q[LOG_QUOTE_MAX];

	if (v->allow[0])
		log_info("session=%s event=allow-hit client=%s step=%s rule=%s",
		    s->id, s->client.ipstr, step,
		    log_quotes(q, sizeof(q), v->allow));
}

/* do_helo - HELO and EHLO: a fresh start (an implicit RSET) */
static void
do_helo(struct smtp_session *s, const struct cmd *c)
{
	struct cmd_err err;
	struct verdict v;
	char name[SMTP_HELO_MAX + 1], q[LOG_QUOTE_MAX], qr[LOG_QUOTE_MAX];

	if (cmd_parse_helo(c->arg, c->arglen, name, sizeof(name), &err)) {
		reply_add(&s->out, err.code, err.enh, "%s", err.text);
		session_error(s);
		return;
	}
	policy_helo(s->sp->policy, &s->client, name, &v);
	allow_log(s, "helo", &v);
	if (v.kind != POLICY_ACCEPT) {
		log_info("session=%s event=helo-rejected client=%s helo=%s "
		    "rule=%s reply=%d", s->id, s->client.ipstr,
		    log_quotes(q, sizeof(q), name),
		    log_quotes(qr, sizeof(qr), v.rule), v.code);
		s->logged = 1;
		reply_add(&s->out, v.code, v.enh, "%s", v.text);
		session_error(s);
		return;
	}
	session_drop_tx(s);
	str_copy(s->helo, sizeof(s->helo), name);
	s->client.helo = s->helo;
	s->esmtp = c->verb == CMD_EHLO;
	session_set_state(s, ST_READY);
	if (!s->esmtp) {
		reply_add(&s->out, 250, NULL, "%s", s->sp->hostname);
		return;
	}
	/* STARTTLS until encrypted; AUTH only once encrypted */
	reply_add(&s->out, 250, NULL, "%s Hello %s [%s]\nPIPELINING\n"
	    "SIZE %llu\n8BITMIME\nENHANCEDSTATUSCODES%s%s\nHELP",
	    s->sp->hostname, s->helo, s->client.ipstr,
	    (unsigned long long)s->sp->max_msgsize,
	    s->sp->starttls && !s->tls ? "\nSTARTTLS" : "",
	    s->sp->auth && s->tls && !s->user[0] ? "\nAUTH PLAIN LOGIN" : "");
}

/* do_mail - MAIL FROM: opens a transaction */
static void
do_mail(struct smtp_session *s, const struct cmd *c)
{
	struct mail_params mp;
	struct cmd_err err;
	struct verdict v;
	struct addr a;
	char shown[SMTP_PATH_MAX + 8], q[LOG_QUOTE_MAX], qr[LOG_QUOTE_MAX];

	if (s->sp->require_auth && s->user[0] == '\0') {
		/* a submission port: no mail without a login (RFC 4954 6) */
		reply_add(&s->out, 530, "5.7.0", "Authentication required");
		session_error(s);
		return;
	}
	if (cmd_parse_mail(c->arg, c->arglen, &a, &mp, &err) == -1) {
		log_info("session=%s event=mail-rejected client=%s arg=%s "
		    "reply=%d", s->id, s->client.ipstr,
		    log_quote(q, sizeof(q), c->arg, c->arglen), err.code);
		s->logged = 1;
		reply_add(&s->out, err.code, err.enh, "%s", err.text);
		session_error(s);
		return;
	}
	if (s->host->gate && s->host->gate(s->ctx, GATE_MAIL, &v)) {
		log_info("session=%s event=mail-rejected client=%s rule=%s "
		    "reply=%d", s->id, s->client.ipstr, v.rule, v.code);
		s->logged = 1;
		reply_add(&s->out, v.code, v.enh, "%s", v.text);
		session_note(s, SN_REJECT, v.rule, 0);
		session_error(s);
		return;
	}
	if (mp.size > s->sp->max_msgsize) {
		reply_add(&s->out, 552, "5.3.4", "Message size exceeds fixed "
		    "limit");
		session_error(s);
		return;
	}
	policy_mail(s->sp->policy, &s->client, &a, &v);
	allow_log(s, "mail", &v);
	addr_format(&a, shown, sizeof(shown));
	if (v.kind != POLICY_ACCEPT) {
		log_info("session=%s event=mail-rejected client=%s from=%s "
		    "rule=%s reply=%d", s->id, s->client.ipstr,
		    log_quotes(q, sizeof(q), shown),
		    log_quotes(qr, sizeof(qr), v.rule), v.code);
		s->logged = 1;
		reply_add(&s->out, v.code, v.enh, "%s: %s", shown, v.text);
		session_note(s, SN_REJECT, v.rule, 0);
		session_error(s);
		return;
	}
	s->tx = tx_new(&a, &mp, session_now(s));
	session_set_state(s, ST_MAIL);
	reply_add(&s->out, 250, "2.1.0", "Ok");
}

/* do_rcpt - RCPT TO: the relay decision */
static void
do_rcpt(struct smtp_session *s, const struct cmd *c)
{
	struct cmd_err err;
	struct verdict v;
	struct addr a;
	char shown[SMTP_PATH_MAX + 8], from[SMTP_PATH_MAX + 8],
	    q1[LOG_QUOTE_MAX], q2[LOG_QUOTE_MAX], q3[LOG_QUOTE_MAX],
	    q4[LOG_QUOTE_MAX];

	if (cmd_parse_rcpt(c->arg, c->arglen, &a, &err) == -1) {
		log_info("session=%s event=rcpt-rejected client=%s arg=%s "
		    "rule=syntax reply=%d", s->id, s->client.ipstr,
		    log_quote(q1, sizeof(q1), c->arg, c->arglen), err.code);
		s->logged = 1;
		reply_add(&s->out, err.code, err.enh, "%s", err.text);
		s->st.rcpt_rejected++;
		session_note(s, SN_REJECT, "syntax", 0);
		session_error(s);
		return;
	}
	if (s->tx->nrcpt >= s->sp->max_rcpts) {
		/* RFC 5321 4.5.3.1.10: the client sends the rest later */
		reply_add(&s->out, 452, "4.5.3", "Error: too many recipients");
		s->st.rcpt_rejected++;
		return;
	}
	if (s->host->gate && s->host->gate(s->ctx, GATE_RCPT, &v)) {
		log_info("session=%s event=rcpt-rejected client=%s rule=%s "
		    "reply=\"%d %s\"", s->id, s->client.ipstr, v.rule, v.code,
		    v.enh);
		s->logged = 1;
		reply_add(&s->out, v.code, v.enh, "%s", v.text);
		s->st.rcpt_rejected++;
		session_note(s, SN_REJECT, v.rule, 0);
		session_error(s);
		return;
	}
	policy_rcpt(s->sp->policy, &s->client, &s->tx->sender, &a, &v);
	allow_log(s, "rcpt", &v);
	addr_format(&a, shown, sizeof(shown));
	addr_format(&s->tx->sender, from, sizeof(from));
	if (v.kind != POLICY_ACCEPT) {
		log_info("session=%s event=rcpt-rejected client=%s helo=%s "
		    "from=%s rcpt=%s rule=%s reply=\"%d %s\"", s->id,
		    s->client.ipstr, log_quotes(q1, sizeof(q1), s->helo),
		    log_quotes(q2, sizeof(q2), from),
		    log_quotes(q3, sizeof(q3), shown),
		    log_quotes(q4, sizeof(q4), v.rule), v.code, v.enh);
		s->logged = 1;
		reply_add(&s->out, v.code, v.enh, "%s", v.text);
		s->st.rcpt_rejected++;
		session_note(s, SN_REJECT, v.rule, 0);
		session_error(s);
		return;
	}
	if (log_enabled(LVL_DEBUG))
		log_debug("session=%s event=rcpt-accepted client=%s rcpt=%s "
		    "rule=%s", s->id, s->client.ipstr,
		    log_quotes(q3, sizeof(q3), shown),
		    log_quotes(q4, sizeof(q4), v.rule));
	tx_add_rcpt(s->tx, &v);
	s->st.rcpt_ok++;
	session_note(s, SN_RCPT_OK, v.resolved.domain, 0);
	session_set_state(s, ST_RCPT);
	reply_add(&s->out, 250, "2.1.5", "Ok");
}

/* do_data - DATA: open the message and start reading it */
static void
do_data(struct smtp_session *s, const struct cmd *c)
{
	(void)c;
	if (session_open_message(s) == -1) {
		reply_add(&s->out, 451, "4.3.0", "Error: local error, try "
		    "again later");
		session_drop_tx(s);
		session_set_state(s, ST_READY);
		return;
	}
	session_set_state(s, ST_DATA);
	reply_add(&s->out, 354, NULL, "End data with <CR><LF>.<CR><LF>");
}

/* do_rset - RSET: drop the transaction */
static void
do_rset(struct smtp_session *s, const struct cmd *c)
{
	(void)c;
	session_drop_tx(s);
	if (s->state != ST_GREET)
		session_set_state(s, ST_READY);
	reply_add(&s->out, 250, "2.0.0", "Ok");
}

/* do_noop - NOOP */
static void
do_noop(struct smtp_session *s, const struct cmd *c)
{
	(void)c;
	reply_add(&s->out, 250, "2.0.0", "Ok");
}

/* do_quit - QUIT */
static void
do_quit(struct smtp_session *s, const struct cmd *c)
{
	(void)c;
	reply_add(&s->out, 221, "2.0.0", "Bye");
	session_drop_tx(s);
	session_set_state(s, ST_CLOSING);
}

/* do_vrfy - VRFY: never confirms or denies a user (RFC 5321 3.5.3) */
static void
do_vrfy(struct smtp_session *s, const struct cmd *c)
{
	if (c->arglen == 0) {
		reply_add(&s->out, 501, "5.5.4", "Syntax: VRFY address");
		session_error(s);
		return;
	}
	reply_add(&s->out, 252, "2.5.0", "Cannot VRFY user, but will accept "
	    "message and attempt delivery");
}

/* do_expn - EXPN: lists are not disclosed */
static void
do_expn(struct smtp_session *s, const struct cmd *c)
{
	(void)c;
	reply_add(&s->out, 502, "5.5.1", "Error: EXPN not available");
}

/* do_help - HELP */
static void
do_help(struct smtp_session *s, const struct cmd *c)
{
	(void)c;
	reply_add(&s->out, 214, "2.0.0", "Commands: EHLO HELO MAIL RCPT DATA "
	    "RSET NOOP QUIT VRFY HELP\nsluiced relays only for authorized "
	    "clients");
}

/* do_notimpl - verbs we know but do not offer */
static void
do_notimpl(struct smtp_session *s, const struct cmd *c)
{
	reply_add(&s->out, 502, "5.5.1", "Error: %s not implemented", c->name);
	session_error(s);
}

/* do_starttls - STARTTLS (RFC 3207) */
static void
do_starttls(struct smtp_session *s, const struct cmd *c)
{
	(void)c;
	if (s->tls) {
		reply_add(&s->out, 503, "5.5.1", "Error: TLS already active");
		session_error(s);
		return;
	}
	if (!s->sp->starttls) {
		reply_add(&s->out, 502, "5.5.1", "Error: STARTTLS not "
		    "available");
		session_error(s);
		return;
	}
	reply_add(&s->out, 220, "2.0.0", "Ready to start TLS");
	session_drop_tx(s);
	session_set_state(s, ST_TLS);
}

/* do_auth - AUTH (RFC 4954): only over TLS, once, outside a transaction */
static void
do_auth(struct smtp_session *s, const struct cmd *c)
{
	if (!s->sp->auth || s->host->auth_check == NULL) {
		reply_add(&s->out, 502, "5.5.1", "Error: authentication not "
		    "enabled");
		session_error(s);
		return;
	}
	if (s->user[0]) {
		reply_add(&s->out, 503, "5.5.1", "Error: already "
		    "authenticated");
		session_error(s);
		return;
	}
	if (!s->tls) {
		reply_add(&s->out, 538, "5.7.11", "Encryption required for "
		    "requested authentication mechanism");
		session_error(s);
		return;
	}
	auth_start(s, c->arg, c->arglen);
}

/* do_http - an HTTP (or POP3) request: a proxy scanner, not a mailer */
static void
do_http(struct smtp_session *s, const struct cmd *c)
{
	log_info("session=%s event=non-smtp-client client=%s command=%s",
	    s->id, s->client.ipstr, c->name);
	s->logged = 1;
	reply_add(&s->out, 554, "5.7.0", "Error: this is an SMTP server; "
	    "closing connection");
	session_drop_tx(s);
	session_set_state(s, ST_CLOSING);
}

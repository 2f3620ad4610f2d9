/*
 * session - one SMTP server session, as an I/O-free state machine.
 *
 * Bytes in (smtp_session_feed), reply bytes out (smtp_session_output), and
 * calls to the host for what needs the outside world: storing the message
 * (msg_open/msg_write/msg_commit/msg_abort). The host is the connection
 * driver in the server, or the transcript replayer in the tests; the
 * session never touches a socket, a file or the clock except through it.
 *
 * Ownership: the host owns the session (smtp_session_free) and the params
 * it was created with, which must outlive it. The session owns its
 * transaction, its buffers and its copy of the client.
 *
 * Flow control: feed() may consume less than it was given: while the spool
 * commits a message or credentials are checked (paused) or while unsent
 * output is large. The host keeps the rest and feeds it again after
 * smtp_session_committed(), smtp_session_auth_done() or when the output
 * drained.
 *
 * STARTTLS: after its 220 the session wants TLS (smtp_session_wants_tls).
 * Everything the client sent after the command is discarded, here and by
 * the host (RFC 3207 5: no command injection across the handshake); the
 * host does the handshake and calls smtp_session_tls_done(), after which
 * the session starts over (the client must EHLO again). A session on an
 * implicit-TLS port is told with smtp_session_tls_done() before start.
 */
#ifndef SLUICE_SESSION_H
#define SLUICE_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "policy/policy.h"
#include "util/buf.h"

struct smtp_session;
struct tx;

enum smtp_state {
	ST_GREET,	/* greeted, no HELO/EHLO yet */
	ST_READY,	/* HELO/EHLO done, no transaction */
	ST_MAIL,	/* MAIL accepted, no recipient yet */
	ST_RCPT,	/* at least one recipient accepted */
	ST_DATA,	/* reading the message */
	ST_COMMIT,	/* message read; waiting for the spool */
	ST_REJECTED,	/* refused at connect: only QUIT (RFC 5321 3.1) */
	ST_TLS,		/* 220 to STARTTLS sent: the host does the handshake */
	ST_AUTH,	/* SMTP AUTH: waiting for the client's next response */
	ST_AUTHWAIT,	/* SMTP AUTH: the host checks the credentials */
	ST_CLOSING	/* 221 or 421 sent: close once output is flushed */
};

/* What the session tells its host, for accounting (smtp_host.note). */
enum smtp_note {
	SN_RCPT_OK,	/* arg: the recipient's domain */
	SN_REJECT,	/* arg: the rule of a refused MAIL/RCPT/DATA */
	SN_MESSAGE,	/* n: the message's size */
	SN_AUTH_FAIL,	/* arg: the user name tried */
	SN_AUTH_OK	/* arg: the user */
};

/* Where the host may refuse a step for its own reasons (smtp_host.gate). */
enum smtp_gate { GATE_MAIL, GATE_RCPT };

/* Results of an authentication check (smtp_session_auth_done). */
enum { AUTH_OK, AUTH_FAIL, AUTH_TEMP, AUTH_BLOCKED };

/* Results of a spool commit, mirroring 2xx/4xx/5xx. */
enum { SMTP_OK, SMTP_TEMP, SMTP_PERM };

struct smtp_host {
	/* The envelope is complete: start a message, fill in its queue id. */
	int	(*msg_open)(void *ctx, const struct tx *tx, char *qid,
		    size_t qidsize);
	/* The message bytes, in order, CRLF line ends. 0 or -1. */
	int	(*msg_write)(void *ctx, const char *p, size_t n);
	/* Make it durable, then call smtp_session_committed(). */
	void	(*msg_commit)(void *ctx);
	/* Forget the open message. */
	void	(*msg_abort)(void *ctx);
	/* Check credentials (never logged); answer with
	 * smtp_session_auth_done(). May be NULL when no AUTH is offered. */
	void	(*auth_check)(void *ctx, const char *user, const char *pass);
	/* Accounting: what just happened (may be NULL). */
	void	(*note)(void *ctx, enum smtp_note ev, const char *arg,
		    uint64_t n);
	/* Rate limits and blocks: fill *v and return 1 to refuse the step
	 * (may be NULL). */
	int	(*gate)(void *ctx, enum smtp_gate step, struct verdict *v);
};

struct smtp_params {
	const char		*hostname;	/* in banner, EHLO, Received */
	const char		*banner;	/* text after the host name */
	const struct policy	*policy;
	uint64_t		 max_msgsize;
	size_t			 max_rcpts;
	unsigned		 max_errors;
	int			 reject_long_lines;
	time_t			 (*clock)(void);	/* NULL: time() */
	int			 starttls;	/* STARTTLS can be offered */
	int			 auth;		/* AUTH can be offered (over TLS) */
	int			 require_auth;	/* submission: AUTH before MAIL */
};

struct smtp_stats {
	unsigned	commands, errors, messages, rcpt_ok, rcpt_rejected;
	uint64_t	bytes;
};

struct smtp_session *smtp_session_new(const struct smtp_params *sp,
	    const struct smtp_host *host, void *ctx, const char *id,
	    const struct policy_client *client);
void	smtp_session_free(struct smtp_session *s);
void	smtp_session_start(struct smtp_session *s);
size_t	smtp_session_feed(struct smtp_session *s, const char *p, size_t n,
	    int more_after);
struct buf *smtp_session_output(struct smtp_session *s);
int	smtp_session_closing(const struct smtp_session *s);
int	smtp_session_paused(const struct smtp_session *s);
enum smtp_state smtp_session_state(const struct smtp_session *s);
const char *smtp_state_name(enum smtp_state st);
void	smtp_session_committed(struct smtp_session *s, int result,
	    const char *why);
void	smtp_session_timeout(struct smtp_session *s);
void	smtp_session_shutdown(struct smtp_session *s, const char *why);
void	smtp_session_reject(struct smtp_session *s, int code,
	    const char *enh, const char *text);
const struct smtp_stats *smtp_session_stats(const struct smtp_session *s);
const char *smtp_session_id(const struct smtp_session *s);
const char *smtp_session_helo(const struct smtp_session *s);
const char *smtp_session_proto(const struct smtp_session *s);
const char *smtp_session_user(const struct smtp_session *s);
int	smtp_session_wants_tls(const struct smtp_session *s);
void	smtp_session_tls_done(struct smtp_session *s, int ok,
	    const char *info);
void	smtp_session_auth_done(struct smtp_session *s, int result,
	    const char *why);
void	smtp_session_set_dnsbl(struct smtp_session *s, const char *zone,
	    const char *txt);

#endif

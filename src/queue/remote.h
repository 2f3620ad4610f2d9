/*
 * remote - one delivery attempt of one message to one destination.
 *
 * On the event loop: the route (static host, relayhost or MX lookup with
 * implicit-MX fallback and null-MX refusal), then each MX in preference
 * order (random among equals) and each of its addresses until one takes
 * the message: EHLO (HELO fallback), STARTTLS when offered (required for
 * some destinations), AUTH to a smarthost, MAIL/RCPT/DATA pipelined when
 * offered, the message streamed from the queue file. Every recipient gets
 * SMTP_OK, SMTP_TEMP or SMTP_PERM with the reason, in one callback.
 *
 * Connection reuse: when the caller asks (keep), a session that is still
 * healthy after the transaction (the message sent, or refused without a
 * protocol error, a timeout or a 421) is handed back with the result
 * instead of being closed: after the reply to the data it is ready for
 * the next MAIL; after a transaction that ended early, RSET made it so.
 * The caller passes it to the next remote_deliver() for the same next
 * hop, keeps it idle (remote_conn_idle) or closes it (remote_conn_close).
 * A reused session that fails or says 421 before the message data went
 * out (the server hung up while it was idle) is replaced at once by a new
 * connection: nothing was delivered on it, so nothing is duplicated.
 *
 * The caller owns the request and what it points to until the callback.
 */
#ifndef SLUICE_REMOTE_H
#define SLUICE_REMOTE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#include <openssl/ssl.h>

struct event_base;
struct dns;
struct remote_conn;	/* an open session, ready for MAIL */

#define REMOTE_WHY	300

struct remote_req {
	struct event_base	*base;
	struct dns		*dns;
	SSL_CTX			*ssl_ctx;
	const char		*helo;		/* our name */
	const char		*domain;	/* destination domain */
	const char		*host;		/* NULL: MX of domain */
	unsigned		 port;		/* 0: 25 */
	int			 host_mx;	/* look up host's MX (no [..]) */
	int			 tls_required;
	const char		*auth_user, *auth_pass;	/* relayhost */
	int			 fd;		/* queue file */
	off_t			 off;
	uint64_t		 size;
	int			 body8;
	const char		*sender;	/* "<a@b>" or "<>" */
	const char *const	*rcpts;		/* "<c@d>" */
	size_t			 nrcpt;
	unsigned		 t_connect, t_cmd;
	int			 keep;		/* hand a healthy session back */
	/* our own listening addresses: an MX pointing at us is a loop */
	const struct sockaddr_storage *self;
	size_t			 nself;
};

struct remote_result {
	int		*status;	/* per recipient: SMTP_OK/TEMP/PERM */
	char		(*why)[REMOTE_WHY];
	char		 relay[300];	/* "mx.example[192.0.2.1]:25" */
	char		 tls[200];
	unsigned	 conn_use;	/* transactions on the connection so
					   far, this one included (0: none) */
	struct remote_conn *conn;	/* with keep: the session, if healthy;
					   the callback owns it */
};

typedef void (*remote_cb)(void *arg, const struct remote_result *r);

void	remote_deliver(const struct remote_req *rq, struct remote_conn *conn,
	    remote_cb cb, void *arg);
void	remote_abort_all(void);

/*
 * A kept session. remote_deliver() takes it over (conn != NULL: no route,
 * no connect, straight to MAIL). remote_conn_idle() watches it while it
 * waits: gone(arg, conn) runs from the loop when secs are up or the peer
 * closes it; the caller still owns it then and closes it.
 * remote_conn_close() says QUIT (unless the peer is gone), waits for the
 * reply (at most REMOTE_QUIT_WAIT seconds) and frees it; closed(arg, conn)
 * runs from the loop afterwards (conn only names it then), or from
 * remote_conn_close_all() when the process exits first.
 */
#define REMOTE_QUIT_WAIT	10

typedef void (*remote_conn_cb)(void *arg, struct remote_conn *conn);

void	remote_conn_idle(struct remote_conn *conn, unsigned secs,
	    remote_conn_cb gone, void *arg);
void	remote_conn_close(struct remote_conn *conn, remote_conn_cb closed,
	    void *arg);
void	remote_conn_close_all(void);
unsigned remote_conn_msgs(const struct remote_conn *conn);
time_t	remote_conn_born(const struct remote_conn *conn);
int	remote_conn_tls(const struct remote_conn *conn);
int	remote_conn_auth(const struct remote_conn *conn);
const char *remote_conn_relay(const struct remote_conn *conn);

#endif

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
 * The caller owns the request and what it points to until the callback.
 */
#ifndef SLUICE_REMOTE_H
#define SLUICE_REMOTE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <openssl/ssl.h>

struct event_base;
struct dns;

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
	/* our own listening addresses: an MX pointing at us is a loop */
	const struct sockaddr_storage *self;
	size_t			 nself;
};

struct remote_result {
	int		*status;	/* per recipient: SMTP_OK/TEMP/PERM */
	char		(*why)[REMOTE_WHY];
	char		 relay[300];	/* "mx.example[192.0.2.1]:25" */
	char		 tls[200];
};

typedef void (*remote_cb)(void *arg, const struct remote_result *r);

void	remote_deliver(const struct remote_req *rq, remote_cb cb, void *arg);
void	remote_abort_all(void);

#endif

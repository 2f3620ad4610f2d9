/*
 * smtpc - an asynchronous SMTP client connection (libevent, optional TLS).
 *
 * Used by the probe and by outbound delivery. One operation at a time:
 * connect (ends with the greeting), send a command line, send message data,
 * start TLS; each ends in exactly one callback with the server's reply or
 * an error. The callback is the last thing smtpc does for that operation,
 * so it may free the smtpc or start the next operation.
 *
 * Everything the peer sends is untrusted: reply lines are capped
 * (SMTPC_LINE_MAX), replies are capped at REPLY_MAXLINES lines, a reply
 * that is not SMTP is an error (SMTPC_EPROTO), and every step has a
 * timeout. Lines ending in a bare LF are accepted (servers do that).
 *
 * Ownership: the caller owns the smtpc (smtpc_free), and the SSL_CTX and
 * addresses passed in, which must outlive it.
 */
#ifndef SLUICE_SMTPC_H
#define SLUICE_SMTPC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "smtp/reply.h"

struct event_base;
struct smtpc;

enum smtpc_err {
	SMTPC_OK = 0,
	SMTPC_ETIMEOUT,		/* no (complete) reply in time */
	SMTPC_ECONNECT,		/* connect failed (refused, unreachable) */
	SMTPC_ECLOSED,		/* the peer closed the connection */
	SMTPC_EPROTO,		/* the peer does not speak SMTP */
	SMTPC_ETLS		/* TLS handshake failed */
};

/* transcript directions */
#define SMTPC_SENT	0
#define SMTPC_RECV	1
#define SMTPC_NOTE	2

/* Longest reply line accepted (RFC 5321 says 512; servers exceed it). */
#define SMTPC_LINE_MAX	2048

struct smtpc_opts {
	struct event_base	*base;
	const struct sockaddr	*addr;
	socklen_t		 addrlen;
	const struct sockaddr	*source;	/* NULL: any */
	socklen_t		 sourcelen;
	SSL_CTX			*ssl_ctx;	/* needed for TLS */
	int			 implicit_tls;	/* port 465 style */
	const char		*sni;		/* server name for TLS, or NULL */
	unsigned		 connect_timeout;	/* seconds */
	unsigned		 greeting_timeout;	/* seconds */
	/* every line sent and received, for transcripts (may be NULL) */
	void			(*on_line)(void *arg, int dir, const char *line,
				    size_t len);
	void			*arg;
};

typedef void (*smtpc_cb)(void *arg, struct smtpc *c, enum smtpc_err err,
    const struct reply *r);

struct smtpc *smtpc_connect(const struct smtpc_opts *o, smtpc_cb cb,
	    void *arg);
void	smtpc_command(struct smtpc *c, const char *line, unsigned timeout,
	    smtpc_cb cb, void *arg);
void	smtpc_data(struct smtpc *c, const char *p, size_t n, unsigned timeout,
	    smtpc_cb cb, void *arg);
void	smtpc_starttls(struct smtpc *c, unsigned timeout, smtpc_cb cb,
	    void *arg);

/*
 * smtpc_idle - no operation under way: watch the connection for at most
 * timeout seconds (a connection kept for the next message). cb gets
 * SMTPC_ETIMEOUT when the time is up, SMTPC_ECLOSED when the peer closes
 * the connection, SMTPC_EPROTO when it sends anything (unasked, a server
 * only says 421 before it hangs up). Any other operation started on c
 * ends the watch without a callback.
 */
void	smtpc_idle(struct smtpc *c, unsigned timeout, smtpc_cb cb, void *arg);

/*
 * A pipelined group (RFC 2920): every line is sent at once, then one reply
 * per line is read; cb gets them all (replies[i] for lines[i]) or an error.
 */
typedef void (*smtpc_batch_cb)(void *arg, struct smtpc *c, enum smtpc_err err,
    const struct reply *replies, size_t n);
void	smtpc_batch(struct smtpc *c, const char *const *lines, size_t n,
	    unsigned timeout, smtpc_batch_cb cb, void *arg);

/*
 * smtpc_send_file - after 354: send size bytes of fd from off, dot-stuffed,
 * line ends made CRLF (a bare CR or LF never goes out), then CRLF.CRLF;
 * cb gets the final reply. The file is read as the socket drains.
 */
void	smtpc_send_file(struct smtpc *c, int fd, off_t off, uint64_t size,
	    unsigned timeout, smtpc_cb cb, void *arg);
void	smtpc_free(struct smtpc *c);
int	smtpc_is_tls(const struct smtpc *c);
const char *smtpc_tls_summary(const struct smtpc *c);
const char *smtpc_strerror(enum smtpc_err e);
double	smtpc_last_rtt(const struct smtpc *c);

#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "net/smtpc.h"
#include "util/str.h"
#include "util/xalloc.h"

enum op {
	OP_NONE,
	OP_CONNECT,	/* TCP (and implicit TLS), then the greeting */
	OP_REPLY,	/* waiting for the reply to what we sent */
	OP_TLS,		/* STARTTLS handshake */
	OP_BATCH,	/* waiting for the replies to a pipelined group */
	OP_FILE,	/* sending message data, then its reply */
	OP_IDLE		/* between operations, watching for a close */
};

/* Seconds to wait for the reply to the final "." (RFC 5321 4.5.3.2.6). */
#define SMTPC_DATA_DONE	600

/* Refill the socket's output when it drops below this. */
#define FILE_LOWAT	(64 * 1024)

struct smtpc;
static void read_cb(struct bufferevent *bev, void *arg);
static void file_drained_cb(struct bufferevent *bev, void *arg);
static void event_cb(struct bufferevent *bev, short what, void *arg);

struct smtpc {
	struct smtpc_opts	 o;
	struct bufferevent	*bev;
	SSL			*ssl;
	struct event		*timer;
	enum op			 op;
	smtpc_cb		 cb;
	void			*arg;
	struct reply		 r;
	int			 tls;
	char			 tls_summary[512];
	struct timeval		 sent_at;
	double			 rtt;
	int			 fail_err;	/* pending from fail_soon() */
	/* OP_BATCH */
	smtpc_batch_cb		 bcb;
	struct reply		*replies;
	size_t			 nbatch, got;
	/* OP_FILE */
	int			 fd;
	off_t			 foff;
	uint64_t		 fleft;
	int			 bol, cr;	/* dot-stuffing state */
	unsigned		 ftimeout;	/* per block, then for the reply */
	struct event		*kick;		/* read already-buffered input */
};

/* note - a transcript line */
static void
note(struct smtpc *c, int dir, const char *s, size_t n)
{
	if (c->o.on_line)
		c->o.on_line(c->o.arg, dir, s, n);
}

/*
 * finish - end the current operation with err and call back. Nothing may
 * touch c after this returns (the callback may have freed it).
 */
static void
finish(struct smtpc *c, enum smtpc_err err)
{
	smtpc_cb cb = c->cb;
	smtpc_batch_cb bcb = c->op == OP_BATCH ? c->bcb : NULL;
	void *arg = c->arg;
	struct timeval now, d;

	evtimer_del(c->timer);
	event_del(c->kick);
	c->op = OP_NONE;
	c->cb = NULL;
	if (c->bev)
		bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
	gettimeofday(&now, NULL);
	timersub(&now, &c->sent_at, &d);
	c->rtt = (double)d.tv_sec + (double)d.tv_usec / 1e6;
	if (err != SMTPC_OK) {
		char msg[96];

		snprintf(msg, sizeof(msg), "(%s)", smtpc_strerror(err));
		note(c, SMTPC_NOTE, msg, strlen(msg));
		if (c->bev)
			bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	}
	if (bcb) {
		c->bcb = NULL;
		bcb(arg, c, err, err == SMTPC_OK ? c->replies : NULL,
		    c->nbatch);
		return;
	}
	if (cb)
		cb(arg, c, err, err == SMTPC_OK ? &c->r : NULL);
}

/* arm - start the operation's timeout */
static void
arm(struct smtpc *c, unsigned secs)
{
	struct timeval tv = { (time_t)(secs ? secs : 300), 0 };

	evtimer_add(c->timer, &tv);
	gettimeofday(&c->sent_at, NULL);
}

/*
 * read_replies - parse buffered lines; finish when a reply is complete.
 * 1 if it finished the operation (c may be freed by then), else 0.
 */
static int
read_replies(struct smtpc *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);

	if (c->op == OP_IDLE && evbuffer_get_length(in) > 0) {
		/* nothing was asked: a server only talks now to say goodbye */
		note(c, SMTPC_NOTE, "(the server spoke while idle)", 29);
		finish(c, SMTPC_EPROTO);
		return 1;
	}
	while (c->op == OP_REPLY || c->op == OP_CONNECT ||
	    (c->op == OP_FILE && c->fleft == 0) || c->op == OP_BATCH) {
		size_t len;
		char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF);
		enum reply_feed_res res;

		if (line == NULL) {
			if (evbuffer_get_length(in) > SMTPC_LINE_MAX) {
				note(c, SMTPC_NOTE, "(reply line too long)", 21);
				finish(c, SMTPC_EPROTO);
				return 1;
			}
			return 0;
		}
		if (len > SMTPC_LINE_MAX) {
			free(line);
			note(c, SMTPC_NOTE, "(reply line too long)", 21);
			finish(c, SMTPC_EPROTO);
			return 1;
		}
		note(c, SMTPC_RECV, line, len);
		res = reply_feed_line(c->op == OP_BATCH ?
		    &c->replies[c->got] : &c->r, line, len);
		free(line);
		if (res == REPLY_ERROR) {
			finish(c, SMTPC_EPROTO);
			return 1;
		}
		if (res == REPLY_DONE && c->op == OP_BATCH) {
			if (++c->got < c->nbatch)
				continue;
			finish(c, SMTPC_OK);
			return 1;
		}
		if (res == REPLY_DONE) {
			finish(c, SMTPC_OK);
			return 1;
		}
	}
	return 0;
}

/* read_cb - bytes from the server */
static void
read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	(void)read_replies(arg);
}

/* tls_describe - "TLSv1.3 TLS_AES_256_GCM_SHA384 subject=... expires=..." */
static void
tls_describe(struct smtpc *c)
{
	X509 *cert = SSL_get_peer_certificate(c->ssl);
	char subj[256] = "-", exp[64] = "-";

	if (cert) {
		const ASN1_TIME *na = X509_get0_notAfter(cert);
		BIO *b = BIO_new(BIO_s_mem());

		X509_NAME_oneline(X509_get_subject_name(cert), subj,
		    sizeof(subj));
		if (b && ASN1_TIME_print(b, na) > 0) {
			int n = BIO_read(b, exp, sizeof(exp) - 1);

			exp[n > 0 ? n : 0] = '\0';
		}
		BIO_free(b);
		X509_free(cert);
	}
	snprintf(c->tls_summary, sizeof(c->tls_summary),
	    "version=%s cipher=%s subject=\"%s\" expires=\"%s\"",
	    SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl), subj, exp);
	note(c, SMTPC_NOTE, c->tls_summary, strlen(c->tls_summary));
}

/* event_cb - connected, TLS done, EOF or error */
static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct smtpc *c = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		if (c->tls) {
			tls_describe(c);
			if (c->op == OP_TLS) {
				finish(c, SMTPC_OK);
				return;
			}
		}
		/* OP_CONNECT: connected; the greeting has its own time */
		if (c->op == OP_CONNECT)
			arm(c, c->o.greeting_timeout);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		enum smtpc_err e = SMTPC_ECLOSED;
		int serr = EVUTIL_SOCKET_ERROR();

		if (c->op == OP_NONE)
			return;
		if (c->tls && bufferevent_get_openssl_error(bev) != 0)
			e = SMTPC_ETLS;
		else if (c->op == OP_CONNECT && (what & BEV_EVENT_ERROR) &&
		    serr != 0)
			e = SMTPC_ECONNECT;
		if (c->op == OP_TLS)
			e = SMTPC_ETLS;
		/* a reply may have arrived just before the close (and its
		 * callback may have freed c) */
		if (read_replies(c) == 0 && c->op != OP_NONE)
			finish(c, e);
	}
}

/* kick_cb - input was already buffered when a command went out */
static void
kick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)read_replies(arg);
}

/* timer_cb - the step took too long, or a deferred result is due */
static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtpc *c = arg;
	int e = c->fail_err;

	(void)fd;
	(void)what;
	c->fail_err = 0;
	finish(c, e ? (enum smtpc_err)e : SMTPC_ETIMEOUT);
}

/* new_ssl - an SSL object for the peer */
static SSL *
new_ssl(struct smtpc *c)
{
	SSL *ssl = SSL_new(c->o.ssl_ctx);

	if (ssl && c->o.sni && *c->o.sni && c->o.sni[0] != '[')
		SSL_set_tlsext_host_name(ssl, c->o.sni);
	return ssl;
}

/* fail_soon - report err from the loop (never from inside a call) */
static void
fail_soon(struct smtpc *c, enum smtpc_err err)
{
	struct timeval z = { 0, 0 };

	c->fail_err = err;
	evtimer_add(c->timer, &z);
}

/*
 * smtpc_connect - connect (from o->source if set), do implicit TLS if
 * asked, and read the greeting; cb gets it, or the error, always later
 * from the event loop.
 */
struct smtpc *
smtpc_connect(const struct smtpc_opts *o, smtpc_cb cb, void *arg)
{
	struct smtpc *c = xcalloc(1, sizeof(*c));
	evutil_socket_t fd;
	int one = 1;

	c->o = *o;
	c->cb = cb;
	c->arg = arg;
	c->op = OP_CONNECT;
	reply_init(&c->r);
	c->timer = evtimer_new(o->base, timer_cb, c);
	c->kick = event_new(o->base, -1, 0, kick_cb, c);
	gettimeofday(&c->sent_at, NULL);
	fd = socket(o->addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd != -1 && o->source != NULL) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, o->source, o->sourcelen) == -1) {
			close(fd);
			fd = -1;
		}
	}
	if (fd == -1) {
		char msg[128];

		snprintf(msg, sizeof(msg), "(socket/bind: %s)",
		    strerror(errno));
		note(c, SMTPC_NOTE, msg, strlen(msg));
		fail_soon(c, SMTPC_ECONNECT);
		return c;
	}
	if (o->implicit_tls) {
		c->ssl = new_ssl(c);
		c->bev = bufferevent_openssl_socket_new(o->base, fd, c->ssl,
		    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
		c->tls = 1;
	} else
		c->bev = bufferevent_socket_new(o->base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	arm(c, o->connect_timeout + o->greeting_timeout);
	if (bufferevent_socket_connect(c->bev, o->addr, (int)o->addrlen) < 0) {
		bufferevent_free(c->bev);
		c->bev = NULL;
		fail_soon(c, SMTPC_ECONNECT);
	}
	return c;
}

/* send_line - write a command with CRLF; the transcript gets it too */
static void
send_line(struct smtpc *c, const char *line)
{
	size_t n = strlen(line);

	note(c, SMTPC_SENT, line, n);
	bufferevent_write(c->bev, line, n);
	bufferevent_write(c->bev, "\r\n", 2);
}

/* begin - start waiting for one reply to what is being sent */
static int
begin(struct smtpc *c, unsigned timeout, smtpc_cb cb, void *arg)
{
	c->cb = cb;
	c->arg = arg;
	reply_reset(&c->r);
	if (c->bev == NULL) {
		c->op = OP_REPLY;
		fail_soon(c, SMTPC_ECLOSED);
		return -1;
	}
	c->op = OP_REPLY;
	arm(c, timeout);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	return 0;
}

/* smtpc_command - send one command line; cb gets the reply */
void
smtpc_command(struct smtpc *c, const char *line, unsigned timeout,
    smtpc_cb cb, void *arg)
{
	if (begin(c, timeout, cb, arg) == -1)
		return;
	send_line(c, line);
	/* a reply already buffered (a server that talks ahead) is read now */
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		event_active(c->kick, EV_TIMEOUT, 0);
}

/*
 * smtpc_data - send message bytes exactly as given (already dot-stuffed
 * and ended with CRLF.CRLF); cb gets the reply.
 */
void
smtpc_data(struct smtpc *c, const char *p, size_t n, unsigned timeout,
    smtpc_cb cb, void *arg)
{
	char msg[64];

	if (begin(c, timeout, cb, arg) == -1)
		return;
	snprintf(msg, sizeof(msg), "(message, %zu bytes)", n);
	note(c, SMTPC_SENT, msg, strlen(msg));
	bufferevent_write(c->bev, p, n);
}

/*
 * smtpc_starttls - after the server's 220 to STARTTLS: wrap the
 * connection in TLS and handshake. cb gets SMTPC_OK (no reply) or an error.
 * Bytes the server sent before the handshake are discarded, as RFC 3207
 * requires of both sides.
 */
void
smtpc_starttls(struct smtpc *c, unsigned timeout, smtpc_cb cb, void *arg)
{
	struct bufferevent *tls;

	c->cb = cb;
	c->arg = arg;
	c->op = OP_TLS;
	arm(c, timeout);
	if (c->bev == NULL || c->o.ssl_ctx == NULL ||
	    (c->ssl = new_ssl(c)) == NULL) {
		fail_soon(c, SMTPC_ETLS);
		return;
	}
	evbuffer_drain(bufferevent_get_input(c->bev),
	    evbuffer_get_length(bufferevent_get_input(c->bev)));
	tls = bufferevent_openssl_filter_new(c->o.base, c->bev, c->ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (tls == NULL) {
		fail_soon(c, SMTPC_ETLS);
		return;
	}
	c->bev = tls;
	c->tls = 1;
	bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* smtpc_idle - see smtpc.h */
void
smtpc_idle(struct smtpc *c, unsigned timeout, smtpc_cb cb, void *arg)
{
	c->cb = cb;
	c->arg = arg;
	c->op = OP_IDLE;
	if (c->bev == NULL) {
		fail_soon(c, SMTPC_ECLOSED);
		return;
	}
	arm(c, timeout);
	bufferevent_enable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		event_active(c->kick, EV_TIMEOUT, 0);
}

/* free_batch - release a pipelined group's replies */
static void
free_batch(struct smtpc *c)
{
	size_t i;

	for (i = 0; i < c->nbatch; i++)
		reply_release(&c->replies[i]);
	free(c->replies);
	c->replies = NULL;
	c->nbatch = c->got = 0;
}

/* smtpc_batch - send a pipelined group; cb gets every reply */
void
smtpc_batch(struct smtpc *c, const char *const *lines, size_t n,
    unsigned timeout, smtpc_batch_cb bcb, void *arg)
{
	size_t i;

	free_batch(c);
	c->replies = xcalloc(n ? n : 1, sizeof(*c->replies));
	for (i = 0; i < n; i++)
		reply_init(&c->replies[i]);
	c->nbatch = n;
	c->got = 0;
	c->bcb = bcb;
	c->arg = arg;
	c->cb = NULL;
	if (c->bev == NULL) {
		c->op = OP_BATCH;
		fail_soon(c, SMTPC_ECLOSED);
		return;
	}
	c->op = OP_BATCH;
	arm(c, timeout);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	for (i = 0; i < n; i++)
		send_line(c, lines[i]);
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		event_active(c->kick, EV_TIMEOUT, 0);
}

/*
 * fill_file - move the next piece of the file into the output, stuffed:
 * a "." at a line start is doubled, and every line end goes out as CRLF.
 */
static void
fill_file(struct smtpc *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	char in[32768], st[2 * sizeof(in) + 8];

	while (c->fleft > 0 && evbuffer_get_length(out) < FILE_LOWAT) {
		size_t want = c->fleft > sizeof(in) ? sizeof(in) :
		    (size_t)c->fleft, i, o = 0;
		ssize_t r = pread(c->fd, in, want, c->foff);

		if (r <= 0) {
			note(c, SMTPC_NOTE, "(queue file read failed)", 24);
			finish(c, SMTPC_ECLOSED);
			return;
		}
		for (i = 0; i < (size_t)r; i++) {
			char ch = in[i];

			if (c->cr && ch != '\n') {
				/* a bare CR goes out as CRLF */
				st[o++] = '\n';
				c->bol = 1;
			}
			if (ch == '\r') {
				st[o++] = '\r';
				c->cr = 1;
				continue;
			}
			if (ch == '\n') {
				if (!c->cr)
					st[o++] = '\r';	/* bare LF */
				st[o++] = '\n';
				c->cr = 0;
				c->bol = 1;
				continue;
			}
			c->cr = 0;
			if (c->bol && ch == '.')
				st[o++] = '.';
			c->bol = 0;
			st[o++] = ch;
		}
		evbuffer_add(out, st, o);
		c->foff += r;
		c->fleft -= (uint64_t)r;
	}
	if (c->fleft == 0 && c->fd >= 0) {
		/* the end: finish the last line, then the terminator */
		if (c->cr)
			evbuffer_add(out, "\n", 1);
		else if (!c->bol)
			evbuffer_add(out, "\r\n", 2);
		evbuffer_add(out, ".\r\n", 3);
		c->fd = -1;
		/* the reply's time starts when the last byte has gone out */
		bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
		bufferevent_setcb(c->bev, read_cb, file_drained_cb, event_cb, c);
	}
}

/* file_write_cb - the socket drained: the peer is reading (RFC 5321
 * 4.5.3.2.5: the timeout is per block of data), send more of the file */
static void
file_write_cb(struct bufferevent *bev, void *arg)
{
	struct smtpc *c = arg;

	(void)bev;
	if (c->op == OP_FILE) {
		arm(c, c->ftimeout);
		fill_file(c);
	}
}

/*
 * file_drained_cb - all of the message is handed to the kernel: wait for
 * the reply. Much of the message may still be in socket buffers on its
 * way, so this is RFC 5321 4.5.3.2.6's "DATA termination" wait: at least
 * 10 minutes.
 */
static void
file_drained_cb(struct bufferevent *bev, void *arg)
{
	struct smtpc *c = arg;

	bufferevent_setcb(bev, read_cb, NULL, event_cb, c);
	if (c->op == OP_FILE)
		arm(c, c->ftimeout > SMTPC_DATA_DONE ? c->ftimeout :
		    SMTPC_DATA_DONE);
}

/* smtpc_send_file - see smtpc.h */
void
smtpc_send_file(struct smtpc *c, int fd, off_t off, uint64_t size,
    unsigned timeout, smtpc_cb cb, void *arg)
{
	char msg[64];

	if (begin(c, timeout, cb, arg) == -1)
		return;
	c->op = OP_FILE;
	c->fd = fd;
	c->foff = off;
	c->fleft = size;
	c->bol = 1;
	c->cr = 0;
	c->ftimeout = timeout;
	snprintf(msg, sizeof(msg), "(message, %llu bytes)",
	    (unsigned long long)size);
	note(c, SMTPC_SENT, msg, strlen(msg));
	bufferevent_setcb(c->bev, read_cb, file_write_cb, event_cb, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, FILE_LOWAT, 0);
	fill_file(c);
}

/* smtpc_free - close and free; NULL is a no-op */
void
smtpc_free(struct smtpc *c)
{
	if (c == NULL)
		return;
	if (c->bev)
		bufferevent_free(c->bev);	/* frees the SSL and the socket */
	else if (c->ssl)
		SSL_free(c->ssl);
	event_free(c->timer);
	event_free(c->kick);
	reply_release(&c->r);
	free_batch(c);
	free(c);
}

/* smtpc_is_tls - is the connection encrypted now? */
int
smtpc_is_tls(const struct smtpc *c)
{
	return c->tls == 1;
}

/* smtpc_tls_summary - protocol, cipher and certificate, or "" */
const char *
smtpc_tls_summary(const struct smtpc *c)
{
	return c->tls_summary;
}

/* smtpc_last_rtt - seconds the last operation took */
double
smtpc_last_rtt(const struct smtpc *c)
{
	return c->rtt;
}

/* smtpc_strerror - words for an error */
const char *
smtpc_strerror(enum smtpc_err e)
{
	switch (e) {
	case SMTPC_OK: return "ok";
	case SMTPC_ETIMEOUT: return "timeout";
	case SMTPC_ECONNECT: return "connection failed";
	case SMTPC_ECLOSED: return "connection closed by peer";
	case SMTPC_EPROTO: return "not an SMTP reply";
	case SMTPC_ETLS: return "TLS handshake failed";
	}
	return "error";
}

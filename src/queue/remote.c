#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>

#include "net/dns.h"
#include "net/smtpc.h"
#include "queue/remote.h"
#include "smtp/session.h"
#include "util/base64.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xalloc.h"

#define MAX_HOSTS	10
#define MAX_ADDRS	8

enum { R_GREET, R_EHLO, R_HELO, R_STARTTLS, R_TLS, R_EHLO2, R_AUTH,
	R_MAIL, R_RCPT, R_DATA, R_BODY, R_RSET, R_QUIT };

/* A session kept for the next message (remote.h). */
struct remote_conn {
	struct smtpc		*c;
	int			 esmtp, pipelining, size_ok, eightbit;
	int			 tls, auth;
	int			 dead;		/* the peer went while idle */
	unsigned		 msgs;		/* transactions so far */
	time_t			 born;
	unsigned		 t_cmd;
	char			 relay[300];
	char			 tls_summary[200];
	remote_conn_cb		 cb;		/* gone (idle) or closed */
	void			*arg;
	struct event		*ev;		/* closing a dead one */
	struct remote_conn	*prev, *next;	/* closing */
};

struct rd {
	struct remote_req	 rq;
	remote_cb		 cb;
	void			*arg;
	struct remote_result	 res;
	struct dns_mx		 hosts[MAX_HOSTS];
	size_t			 nhosts, hi;
	struct sockaddr_storage	 addrs[MAX_ADDRS];
	size_t			 naddrs, ai;
	struct smtpc		*c;
	int			 state;
	int			 no_tls;	/* retrying after a TLS failure */
	int			 esmtp, pipelining, starttls, size_ok, eightbit,
				 auth;
	unsigned		 accepted;	/* RCPTs answered 2xx */
	size_t			 ri;		/* next RCPT (no pipelining) */
	int			 started;	/* MAIL was sent: results final */
	int			 implicit;	/* no MX: the domain is the host */
	char			 lasterr[REMOTE_WHY];
	int			 lasttemp;
	struct event		*done_ev;
	struct rd		*prev, *next;	/* in flight */
	int			 dns_wait;	/* a lookup will call back */
	int			 reported;	/* cb ran; free after DNS */
	int			 reused;	/* the session was kept */
	int			 keep;		/* hand the session back */
	int			 best;		/* to a most preferred MX */
	unsigned		 msgs;		/* transactions on it */
	time_t			 born;		/* when it was connected */
};

static struct rd *inflight;
static struct remote_conn *closing;	/* saying QUIT */

static void next_host(struct rd *d);
static void rd_free(struct rd *d);
static void next_addr(struct rd *d);
static void route(struct rd *d);
static void on_reply(void *arg, struct smtpc *c, enum smtpc_err err,
    const struct reply *r);

/* rd_free - free an attempt whose callback ran and no lookup is out */
static void
rd_free(struct rd *d)
{
	event_free(d->done_ev);
	free(d->res.status);
	free(d->res.why);
	free(d);
}

/* dns_back - a lookup returned; 1 if d was already finished (and freed) */
static int
dns_back(struct rd *d)
{
	d->dns_wait = 0;
	if (d->reported) {
		rd_free(d);
		return 1;
	}
	return 0;
}

/* ---- kept sessions ---- */

/* conn_end - a closing session is done: free it, then tell its owner */
static void
conn_end(struct remote_conn *k)
{
	remote_conn_cb cb = k->cb;
	void *arg = k->arg;

	if (k->prev)
		k->prev->next = k->next;
	else
		closing = k->next;
	if (k->next)
		k->next->prev = k->prev;
	smtpc_free(k->c);
	event_free(k->ev);
	if (cb)
		cb(arg, k);	/* k is only a name now */
	free(k);
}

/* conn_ev_cb - a dead session is closed from the loop */
static void
conn_ev_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_end(arg);
}

/* quit_cb - the reply to QUIT, or none */
static void
quit_cb(void *arg, struct smtpc *c, enum smtpc_err err,
    const struct reply *r)
{
	(void)c;
	(void)err;
	(void)r;
	conn_end(arg);
}

/* idle_cb - a kept session's time is up, or the peer left */
static void
idle_cb(void *arg, struct smtpc *c, enum smtpc_err err,
    const struct reply *r)
{
	struct remote_conn *k = arg;

	(void)c;
	(void)r;
	if (err != SMTPC_ETIMEOUT)
		k->dead = 1;
	log_debug("event=connection-idle-end relay=%s transactions=%u "
	    "reason=\"%s\"", k->relay, k->msgs, err == SMTPC_ETIMEOUT ?
	    "idle time over" : smtpc_strerror(err));
	k->cb(k->arg, k);
}

/* remote_conn_idle - see remote.h */
void
remote_conn_idle(struct remote_conn *k, unsigned secs, remote_conn_cb gone,
    void *arg)
{
	k->cb = gone;
	k->arg = arg;
	smtpc_idle(k->c, secs ? secs : 1, idle_cb, k);
}

/* remote_conn_close - see remote.h */
void
remote_conn_close(struct remote_conn *k, remote_conn_cb closed, void *arg)
{
	k->cb = closed;
	k->arg = arg;
	k->prev = NULL;
	k->next = closing;
	if (closing)
		closing->prev = k;
	closing = k;
	if (k->dead) {
		event_active(k->ev, EV_TIMEOUT, 0);
		return;
	}
	smtpc_command(k->c, "QUIT", k->t_cmd < REMOTE_QUIT_WAIT ? k->t_cmd :
	    REMOTE_QUIT_WAIT, quit_cb, k);
}

/* remote_conn_msgs - transactions made on the session */
unsigned
remote_conn_msgs(const struct remote_conn *k)
{
	return k->msgs;
}

/* remote_conn_born - when the session was connected */
time_t
remote_conn_born(const struct remote_conn *k)
{
	return k->born;
}

/* remote_conn_tls - is the session encrypted? */
int
remote_conn_tls(const struct remote_conn *k)
{
	return k->tls;
}

/* remote_conn_auth - did the session authenticate (to the relayhost)? */
int
remote_conn_auth(const struct remote_conn *k)
{
	return k->auth;
}

/* remote_conn_relay - "host[address]:port" */
const char *
remote_conn_relay(const struct remote_conn *k)
{
	return k->relay;
}

/* conn_new - the session of d, kept for the next message */
static struct remote_conn *
conn_new(struct rd *d)
{
	struct remote_conn *k = xcalloc(1, sizeof(*k));

	k->c = d->c;
	k->esmtp = d->esmtp;
	k->pipelining = d->pipelining;
	k->size_ok = d->size_ok;
	k->eightbit = d->eightbit;
	k->tls = smtpc_is_tls(d->c);
	k->auth = d->rq.auth_user != NULL;
	k->msgs = d->msgs;
	k->born = d->born;
	k->t_cmd = d->rq.t_cmd;
	str_copy(k->relay, sizeof(k->relay), d->res.relay);
	str_copy(k->tls_summary, sizeof(k->tls_summary), d->res.tls);
	k->ev = event_new(d->rq.base, -1, 0, conn_ev_cb, k);
	return k;
}

/* done_cb - report and free (from the loop) */
static void
done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rd *d = arg;
	size_t i;

	(void)fd;
	(void)what;
	if (d->prev)
		d->prev->next = d->next;
	else
		inflight = d->next;
	if (d->next)
		d->next->prev = d->prev;
	for (i = 0; i < d->rq.nrcpt; i++)
		if (d->res.status[i] < 0) {
			/* never reached a final answer: try again later */
			d->res.status[i] = SMTP_TEMP;
			if (d->res.why[i][0] == '\0' || d->res.status[i] == -2)
				str_copy(d->res.why[i], sizeof(d->res.why[i]),
				    "no final reply from the server");
		}
	d->res.conn_use = d->msgs;
	if (d->c && d->keep)
		d->res.conn = conn_new(d);
	else if (d->c)
		smtpc_free(d->c);
	d->c = NULL;
	d->cb(d->arg, &d->res);
	d->reported = 1;
	if (!d->dns_wait)
		rd_free(d);
	/* else the lookup's callback frees it */
}

/* finish - every recipient has its result */
static void
finish(struct rd *d)
{
	event_active(d->done_ev, EV_TIMEOUT, 0);
}

/* all - give every still-undecided recipient the same result */
static void
all(struct rd *d, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void
all(struct rd *d, int status, const char *fmt, ...)
{
	char why[REMOTE_WHY];
	va_list ap;
	size_t i;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	/* -1: not tried yet; -2: RCPT accepted, DATA not finished */
	for (i = 0; i < d->rq.nrcpt; i++)
		if (d->res.status[i] < 0) {
			d->res.status[i] = status;
			str_copy(d->res.why[i], sizeof(d->res.why[i]), why);
		}
}

/* reply_line - "550 5.1.1 text" in one line */
static void
reply_line(const struct reply *r, char *dst, size_t dstsize)
{
	const char *t = buf_cstr(&r->text);
	size_t i, o;

	o = (size_t)snprintf(dst, dstsize, "%03d ", r->code);
	for (i = 0; t[i] && o + 1 < dstsize; i++)
		dst[o++] = t[i] == '\n' ? ' ' : (t[i] < ' ' || t[i] > '~') ?
		    '?' : t[i];
	dst[o < dstsize ? o : dstsize - 1] = '\0';
}

/* host_failed - this host did not take the message: try the next */
static void
host_failed(struct rd *d, int temp, const char *why)
{
	if (d->c) {
		smtpc_free(d->c);
		d->c = NULL;
	}
	snprintf(d->lasterr, sizeof(d->lasterr), "%s", why);
	d->lasttemp = temp;
	next_addr(d);
}

/* cmd - send one command */
static void
cmd(struct rd *d, int state, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void
cmd(struct rd *d, int state, const char *fmt, ...)
{
	char line[1100];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	d->state = state;
	smtpc_command(d->c, line, d->rq.t_cmd, on_reply, d);
}

/* mail_line - "MAIL FROM:<...> [SIZE=n] [BODY=8BITMIME]" */
static void
mail_line(struct rd *d, char *dst, size_t dstsize)
{
	int n = snprintf(dst, dstsize, "MAIL FROM:%s", d->rq.sender);

	if (d->size_ok)
		n += snprintf(dst + n, dstsize - (size_t)n, " SIZE=%llu",
		    (unsigned long long)d->rq.size);
	if (d->eightbit && d->rq.body8)
		snprintf(dst + n, dstsize - (size_t)n, " BODY=8BITMIME");
}

/* rcpt_result - record one RCPT reply */
static void
rcpt_result(struct rd *d, size_t i, const struct reply *r)
{
	char line[REMOTE_WHY];

	reply_line(r, line, sizeof(line));
	if (r->code / 100 == 2) {
		d->accepted++;
		d->res.status[i] = -2;	/* accepted, waiting for DATA */
		str_copy(d->res.why[i], sizeof(d->res.why[i]), line);
		return;
	}
	d->res.status[i] = r->code / 100 == 5 ? SMTP_PERM : SMTP_TEMP;
	str_copy(d->res.why[i], sizeof(d->res.why[i]), line);
}

/* data_result - the final reply decides for every accepted recipient */
static void
data_result(struct rd *d, const struct reply *r)
{
	char line[REMOTE_WHY];
	size_t i;
	int st = r->code / 100 == 2 ? SMTP_OK : r->code / 100 == 5 ?
	    SMTP_PERM : SMTP_TEMP;

	reply_line(r, line, sizeof(line));
	for (i = 0; i < d->rq.nrcpt; i++)
		if (d->res.status[i] == -2) {
			d->res.status[i] = st;
			str_copy(d->res.why[i], sizeof(d->res.why[i]), line);
		}
}

/*
 * tx_end - the transaction is over; r is its last reply. aborted: it
 * ended before the message data (the server still holds our MAIL and
 * RCPTs until RSET). The session is kept when the caller wants it, the
 * server is not going away (421) and it is a most preferred MX (a backup
 * MX is used while the primary is down; the next message tries the
 * primary again, as Postfix does); else QUIT.
 */
static void
tx_end(struct rd *d, const struct reply *r, int aborted)
{
	if (!d->rq.keep || !d->best || r->code == 421) {
		cmd(d, R_QUIT, "QUIT");
		return;
	}
	if (aborted) {
		cmd(d, R_RSET, "RSET");
		return;
	}
	d->keep = 1;
	finish(d);
}

/*
 * stale - a kept session failed (err) or said 421 before the message
 * data went out: the server closed it while it was idle, or is closing
 * it. Nothing was delivered on it; start again on a new connection.
 * 0 if the session was not a kept one (the failure counts).
 */
static int
stale(struct rd *d, enum smtpc_err err, const struct reply *r)
{
	char line[REMOTE_WHY];
	size_t i;

	if (!d->reused)
		return 0;
	if (r)
		reply_line(r, line, sizeof(line));
	log_info("event=connection-reuse-failed relay=%s transactions=%u "
	    "reason=\"%s\" action=reconnect", d->res.relay, d->msgs - 1,
	    r ? line : smtpc_strerror(err));
	smtpc_free(d->c);
	d->c = NULL;
	d->reused = 0;
	d->started = 0;
	d->accepted = 0;
	d->ri = 0;
	d->msgs = 0;
	for (i = 0; i < d->rq.nrcpt; i++) {
		d->res.status[i] = -1;
		d->res.why[i][0] = '\0';
	}
	d->res.relay[0] = d->res.tls[0] = '\0';
	route(d);
	return 1;
}

/* batch_done - replies to the pipelined MAIL, RCPTs and DATA */
static void
batch_done(void *arg, struct smtpc *c, enum smtpc_err err,
    const struct reply *rs, size_t n)
{
	struct rd *d = arg;
	char line[REMOTE_WHY];
	size_t i;

	(void)c;
	if (err != SMTPC_OK) {
		if (stale(d, err, NULL))
			return;
		all(d, SMTP_TEMP, "lost connection with %s during MAIL/RCPT: %s",
		    d->res.relay, smtpc_strerror(err));
		finish(d);
		return;
	}
	for (i = 0; i < n; i++)
		if (rs[i].code == 421 && stale(d, SMTPC_OK, &rs[i]))
			return;
	if (rs[0].code / 100 != 2) {
		reply_line(&rs[0], line, sizeof(line));
		all(d, rs[0].code / 100 == 5 ? SMTP_PERM : SMTP_TEMP,
		    "%s said: %s (in reply to MAIL)", d->res.relay, line);
		tx_end(d, &rs[0], 1);
		return;
	}
	for (i = 0; i < d->rq.nrcpt; i++)
		rcpt_result(d, i, &rs[1 + i]);
	if (d->accepted == 0 || rs[n - 1].code != 354) {
		if (d->accepted > 0) {
			reply_line(&rs[n - 1], line, sizeof(line));
			for (i = 0; i < d->rq.nrcpt; i++)
				if (d->res.status[i] == -2) {
					d->res.status[i] = rs[n - 1].code / 100 ==
					    5 ? SMTP_PERM : SMTP_TEMP;
					snprintf(d->res.why[i],
					    sizeof(d->res.why[i]), "%s said: %s "
					    "(in reply to DATA)", d->res.relay,
					    line);
				}
		}
		if (rs[n - 1].code == 354) {
			/* in DATA with no recipient (a broken server): the
			 * session cannot be kept */
			cmd(d, R_QUIT, "QUIT");
			return;
		}
		tx_end(d, &rs[n - 1], 1);
		return;
	}
	d->state = R_BODY;
	smtpc_send_file(d->c, d->rq.fd, d->rq.off, d->rq.size, d->rq.t_cmd * 2,
	    on_reply, d);
}

/* transaction - MAIL, RCPTs, DATA: pipelined when the server offers it */
static void
transaction(struct rd *d)
{
	char mail[1100];
	size_t i;

	d->started = 1;
	d->msgs++;
	mail_line(d, mail, sizeof(mail));
	if (d->pipelining) {
		const char **lines = xcalloc(d->rq.nrcpt + 2, sizeof(*lines));
		char **own = xcalloc(d->rq.nrcpt, sizeof(*own));

		lines[0] = mail;
		for (i = 0; i < d->rq.nrcpt; i++) {
			size_t len = strlen(d->rq.rcpts[i]) + 10;

			own[i] = xmalloc(len);
			snprintf(own[i], len, "RCPT TO:%s", d->rq.rcpts[i]);
			lines[1 + i] = own[i];
		}
		lines[d->rq.nrcpt + 1] = "DATA";
		d->state = R_MAIL;
		smtpc_batch(d->c, lines, d->rq.nrcpt + 2, d->rq.t_cmd,
		    batch_done, d);
		for (i = 0; i < d->rq.nrcpt; i++)
			free(own[i]);
		free(own);
		free(lines);
		return;
	}
	d->ri = 0;
	cmd(d, R_MAIL, "%s", mail);
}

/* ehlo_parse - what the server offers */
static void
ehlo_parse(struct rd *d, const struct reply *r)
{
	const char *s = buf_cstr(&r->text), *l;

	d->esmtp = 1;
	d->pipelining = d->starttls = d->size_ok = d->eightbit = d->auth = 0;
	for (l = s; l != NULL && *l; l = strchr(l, '\n') ?
	    strchr(l, '\n') + 1 : NULL) {
		size_t n = strcspn(l, " \n");

		if (n == 10 && strncasecmp(l, "PIPELINING", 10) == 0)
			d->pipelining = 1;
		else if (n == 8 && strncasecmp(l, "STARTTLS", 8) == 0)
			d->starttls = 1;
		else if (n == 4 && strncasecmp(l, "SIZE", 4) == 0)
			d->size_ok = 1;
		else if (n == 8 && strncasecmp(l, "8BITMIME", 8) == 0)
			d->eightbit = 1;
		else if (n == 4 && strncasecmp(l, "AUTH", 4) == 0)
			d->auth = 1;
	}
}

/* after_ehlo - STARTTLS, AUTH, then the transaction */
static void
after_ehlo(struct rd *d)
{
	int tls = smtpc_is_tls(d->c);

	if (!tls && d->starttls && !d->no_tls && d->rq.ssl_ctx) {
		cmd(d, R_STARTTLS, "STARTTLS");
		return;
	}
	if (!tls && d->rq.tls_required) {
		host_failed(d, 1, "TLS is required for this destination but "
		    "was not available");
		return;
	}
	if (d->rq.auth_user && d->state != R_AUTH) {
		unsigned char raw[600];
		char b64[BASE64_ENCODED_LEN(600)], line[sizeof(b64) + 16];
		size_t u = strlen(d->rq.auth_user), w = strlen(d->rq.auth_pass);

		if (!tls) {
			host_failed(d, 1, "refusing to send credentials to the "
			    "relayhost without TLS");
			return;
		}
		if (u + w + 2 > sizeof(raw)) {
			all(d, SMTP_TEMP, "relayhost credentials too long");
			finish(d);
			return;
		}
		raw[0] = '\0';
		memcpy(raw + 1, d->rq.auth_user, u);
		raw[1 + u] = '\0';
		memcpy(raw + 2 + u, d->rq.auth_pass, w);
		base64_encode(raw, u + w + 2, b64, sizeof(b64));
		snprintf(line, sizeof(line), "AUTH PLAIN %s", b64);
		d->state = R_AUTH;
		smtpc_command(d->c, line, d->rq.t_cmd, on_reply, d);
		return;
	}
	transaction(d);
}

/* on_reply - the dialogue */
static void
on_reply(void *arg, struct smtpc *c, enum smtpc_err err,
    const struct reply *r)
{
	struct rd *d = arg;
	char line[REMOTE_WHY], why[REMOTE_WHY + 64];

	(void)c;
	if (err != SMTPC_OK) {
		if (d->state == R_QUIT || d->state == R_RSET) {
			finish(d);
			return;
		}
		if (d->state != R_BODY && stale(d, err, NULL))
			return;
		if (d->state == R_TLS || d->state == R_STARTTLS) {
			if (d->rq.tls_required) {
				host_failed(d, 1, "TLS handshake failed");
				return;
			}
			/* try the same address again, in plain text */
			d->no_tls = 1;
			smtpc_free(d->c);
			d->c = NULL;
			d->ai--;
			next_addr(d);
			return;
		}
		if (d->started) {
			all(d, SMTP_TEMP, "lost connection with %s: %s",
			    d->res.relay, smtpc_strerror(err));
			finish(d);
			return;
		}
		snprintf(why, sizeof(why), "%s: %s", d->res.relay,
		    smtpc_strerror(err));
		host_failed(d, 1, why);
		return;
	}
	reply_line(r, line, sizeof(line));
	if (r->code == 421 && d->state != R_BODY && d->state != R_QUIT &&
	    d->state != R_RSET && stale(d, SMTPC_OK, r))
		return;
	switch (d->state) {
	case R_GREET:
		if (r->code != 220) {
			snprintf(why, sizeof(why), "%s greeted us with: %s",
			    d->res.relay, line);
			host_failed(d, 1, why);
			return;
		}
		cmd(d, R_EHLO, "EHLO %s", d->rq.helo);
		return;
	case R_EHLO:
	case R_EHLO2:
		if (r->code / 100 == 2) {
			ehlo_parse(d, r);
			after_ehlo(d);
			return;
		}
		if (d->state == R_EHLO2) {
			snprintf(why, sizeof(why), "%s refused EHLO after "
			    "STARTTLS: %s", d->res.relay, line);
			host_failed(d, 1, why);
			return;
		}
		cmd(d, R_HELO, "HELO %s", d->rq.helo);
		return;
	case R_HELO:
		if (r->code / 100 != 2) {
			snprintf(why, sizeof(why), "%s refused HELO: %s",
			    d->res.relay, line);
			host_failed(d, 1, why);
			return;
		}
		d->esmtp = 0;
		after_ehlo(d);
		return;
	case R_STARTTLS:
		if (r->code != 220) {
			d->starttls = 0;
			after_ehlo(d);
			return;
		}
		d->state = R_TLS;
		smtpc_starttls(d->c, d->rq.t_cmd, on_reply, d);
		return;
	case R_TLS:
		str_copy(d->res.tls, sizeof(d->res.tls),
		    smtpc_tls_summary(d->c));
		cmd(d, R_EHLO2, "EHLO %s", d->rq.helo);
		return;
	case R_AUTH:
		if (r->code != 235) {
			snprintf(why, sizeof(why), "%s refused our credentials:"
			    " %s", d->res.relay, line);
			all(d, SMTP_TEMP, "%s", why);
			cmd(d, R_QUIT, "QUIT");
			return;
		}
		transaction(d);
		return;
	case R_MAIL:
		if (r->code / 100 != 2) {
			all(d, r->code / 100 == 5 ? SMTP_PERM : SMTP_TEMP,
			    "%s said: %s (in reply to MAIL)", d->res.relay,
			    line);
			tx_end(d, r, 1);
			return;
		}
		cmd(d, R_RCPT, "RCPT TO:%s", d->rq.rcpts[d->ri]);
		return;
	case R_RCPT:
		rcpt_result(d, d->ri, r);
		if (++d->ri < d->rq.nrcpt) {
			cmd(d, R_RCPT, "RCPT TO:%s", d->rq.rcpts[d->ri]);
			return;
		}
		if (d->accepted == 0) {
			tx_end(d, r, 1);
			return;
		}
		cmd(d, R_DATA, "DATA");
		return;
	case R_DATA:
		if (r->code != 354) {
			snprintf(why, sizeof(why), "%s said: %s (in reply to "
			    "DATA)", d->res.relay, line);
			data_result(d, r);
			tx_end(d, r, 1);
			return;
		}
		d->state = R_BODY;
		smtpc_send_file(d->c, d->rq.fd, d->rq.off, d->rq.size,
		    d->rq.t_cmd * 2, on_reply, d);
		return;
	case R_BODY:
		data_result(d, r);
		tx_end(d, r, 0);
		return;
	case R_RSET:
		if (r->code / 100 == 2) {
			d->keep = 1;
			finish(d);
			return;
		}
		cmd(d, R_QUIT, "QUIT");
		return;
	case R_QUIT:
		finish(d);
		return;
	}
}

/* is_self - is this address one we listen on (a mail loop)? */
static int
is_self(const struct rd *d, const struct sockaddr_storage *a, unsigned port)
{
	size_t i;

	for (i = 0; i < d->rq.nself; i++) {
		const struct sockaddr_storage *s = &d->rq.self[i];

		if (s->ss_family != a->ss_family)
			continue;
		if (s->ss_family == AF_INET) {
			const struct sockaddr_in *x = (const void *)s,
			    *y = (const void *)a;

			if (ntohs(x->sin_port) == port &&
			    (x->sin_addr.s_addr == y->sin_addr.s_addr ||
			    x->sin_addr.s_addr == htonl(INADDR_ANY)))
				return 1;
		} else {
			const struct sockaddr_in6 *x = (const void *)s,
			    *y = (const void *)a;

			if (ntohs(x->sin6_port) == port &&
			    (memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0 ||
			    IN6_IS_ADDR_UNSPECIFIED(&x->sin6_addr)))
				return 1;
		}
	}
	return 0;
}

/* next_addr - connect to the next address of the current host */
static void
next_addr(struct rd *d)
{
	struct smtpc_opts o;
	char ip[64];
	unsigned port = d->rq.port ? d->rq.port : 25;
	struct sockaddr_storage *a;

	if (d->ai >= d->naddrs) {
		d->hi++;
		next_host(d);
		return;
	}
	a = &d->addrs[d->ai++];
	if (a->ss_family == AF_INET) {
		((struct sockaddr_in *)a)->sin_port = htons((uint16_t)port);
		inet_ntop(AF_INET, &((struct sockaddr_in *)a)->sin_addr, ip,
		    sizeof(ip));
	} else {
		((struct sockaddr_in6 *)a)->sin6_port = htons((uint16_t)port);
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)a)->sin6_addr, ip,
		    sizeof(ip));
	}
	snprintf(d->res.relay, sizeof(d->res.relay), "%s[%s]:%u",
	    d->hosts[d->hi].host, ip, port);
	if (is_self(d, a, port)) {
		/*
		 * RFC 5321 5.1: we are one of the MX hosts, so only the more
		 * preferred ones count. If some were tried, their (last)
		 * failure decides: the primary of a domain we back up being
		 * down is a temporary failure, not a loop.
		 */
		if (d->hi > 0 && d->hosts[0].pref < d->hosts[d->hi].pref &&
		    d->lasterr[0])
			all(d, d->lasttemp ? SMTP_TEMP : SMTP_PERM, "%s",
			    d->lasterr);
		else
			all(d, SMTP_PERM, "mail for %s loops back to myself "
			    "(%s)", d->rq.domain, d->res.relay);
		finish(d);
		return;
	}
	memset(&o, 0, sizeof(o));
	o.base = d->rq.base;
	o.addr = (struct sockaddr *)a;
	o.addrlen = a->ss_family == AF_INET ? sizeof(struct sockaddr_in) :
	    sizeof(struct sockaddr_in6);
	o.ssl_ctx = d->rq.ssl_ctx;
	o.sni = d->hosts[d->hi].host;
	o.connect_timeout = d->rq.t_connect;
	o.greeting_timeout = d->rq.t_cmd;
	d->state = R_GREET;
	d->born = time(NULL);
	d->best = d->hosts[d->hi].pref == d->hosts[0].pref;
	d->c = smtpc_connect(&o, on_reply, d);
}

/* addrs_cb - the current host's addresses */
static void
addrs_cb(void *arg, enum dns_status st, const struct sockaddr_storage *a,
    size_t n)
{
	struct rd *d = arg;
	size_t i;

	if (dns_back(d))
		return;
	if (st != DNS_OK || n == 0) {
		snprintf(d->lasterr, sizeof(d->lasterr), "%s: %s",
		    d->hosts[d->hi].host, dns_strstatus(st));
		/* a domain with neither MX nor address takes no mail; an MX
		 * host that does not resolve may be fixed soon */
		d->lasttemp = !(d->implicit && (st == DNS_NXDOMAIN ||
		    st == DNS_NODATA));
		d->hi++;
		next_host(d);
		return;
	}
	d->naddrs = 0;
	d->ai = 0;
	for (i = 0; i < n && d->naddrs < MAX_ADDRS; i++)
		d->addrs[d->naddrs++] = a[i];
	next_addr(d);
}

/* next_host - resolve the next MX host (or give up) */
static void
next_host(struct rd *d)
{
	if (d->hi >= d->nhosts) {
		all(d, d->lasttemp ? SMTP_TEMP : SMTP_PERM,
		    "%s", d->lasterr[0] ? d->lasterr : "no host to deliver to");
		finish(d);
		return;
	}
	d->no_tls = 0;
	d->dns_wait = 1;
	dns_lookup_addr(d->rq.dns, d->hosts[d->hi].host, AF_UNSPEC, addrs_cb,
	    d);
}

/* shuffle_equal - random order among MX hosts of the same preference */
static void
shuffle_equal(struct rd *d)
{
	size_t i, j, start = 0;

	for (i = 1; i <= d->nhosts; i++) {
		if (i < d->nhosts && d->hosts[i].pref == d->hosts[start].pref)
			continue;
		for (j = i - 1; j > start; j--) {
			size_t k = start + arc4random_uniform(
			    (uint32_t)(j - start + 1));
			struct dns_mx t = d->hosts[j];

			d->hosts[j] = d->hosts[k];
			d->hosts[k] = t;
		}
		start = i;
	}
}

/* mx_cb - the destination's MX records */
static void
mx_cb(void *arg, enum dns_status st, const struct dns_mx *mx, size_t n)
{
	struct rd *d = arg;
	const char *name = d->rq.host && d->rq.host_mx ? d->rq.host :
	    d->rq.domain;
	size_t i;

	if (dns_back(d))
		return;
	switch (st) {
	case DNS_OK:
		for (i = 0; i < n && i < MAX_HOSTS; i++)
			d->hosts[i] = mx[i];
		d->nhosts = i;
		shuffle_equal(d);
		break;
	case DNS_NODATA:
		/* RFC 5321 5.1: no MX, the domain itself is the host */
		str_copy(d->hosts[0].host, sizeof(d->hosts[0].host), name);
		d->nhosts = 1;
		d->implicit = 1;
		break;
	case DNS_NULLMX:
		all(d, SMTP_PERM, "5.1.10 %s does not accept mail (null MX, "
		    "RFC 7505)", name);
		finish(d);
		return;
	case DNS_NXDOMAIN:
		all(d, SMTP_PERM, "Host or domain name not found: %s", name);
		finish(d);
		return;
	default:
		all(d, SMTP_TEMP, "DNS lookup of %s failed: %s", name,
		    dns_strstatus(st));
		finish(d);
		return;
	}
	next_host(d);
}

/*
 * remote_abort_all - shutting down: every attempt under way ends now,
 * its undecided recipients deferred, its callback run before returning.
 */
void
remote_abort_all(void)
{
	while (inflight != NULL) {
		struct rd *d = inflight;

		all(d, SMTP_TEMP, "delivery interrupted: mail system "
		    "shutting down");
		event_del(d->done_ev);
		done_cb(-1, 0, d);	/* unlinks d from inflight */
	}
}

/* remote_conn_close_all - exiting: sessions still waiting for the reply
 * to QUIT are closed now (their closed callbacks run before returning) */
void
remote_conn_close_all(void)
{
	while (closing != NULL)
		conn_end(closing);
}

/* route - find the destination's hosts, then connect */
static void
route(struct rd *d)
{
	if (d->rq.host && !d->rq.host_mx) {
		str_copy(d->hosts[0].host, sizeof(d->hosts[0].host), d->rq.host);
		d->nhosts = 1;
		next_host(d);
		return;
	}
	d->dns_wait = 1;
	dns_lookup_mx(d->rq.dns, d->rq.host ? d->rq.host : d->rq.domain, mx_cb,
	    d);
}

/*
 * remote_deliver - start an attempt, on a kept session if conn is not
 * NULL (remote_deliver owns it from now on); cb gets the results later
 */
void
remote_deliver(const struct remote_req *rq, struct remote_conn *conn,
    remote_cb cb, void *arg)
{
	struct rd *d = xcalloc(1, sizeof(*d));
	size_t i;

	d->rq = *rq;
	d->cb = cb;
	d->arg = arg;
	d->res.status = xcalloc(rq->nrcpt ? rq->nrcpt : 1, sizeof(int));
	d->res.why = xcalloc(rq->nrcpt ? rq->nrcpt : 1, REMOTE_WHY);
	for (i = 0; i < rq->nrcpt; i++)
		d->res.status[i] = -1;
	d->done_ev = event_new(rq->base, -1, 0, done_cb, d);
	d->lasttemp = 1;
	d->next = inflight;
	if (inflight)
		inflight->prev = d;
	inflight = d;
	if (conn == NULL) {
		route(d);
		return;
	}
	/* no callback of the session can run before transaction() gives it
	 * its next operation: the shell goes now */
	d->c = conn->c;
	d->esmtp = conn->esmtp;
	d->pipelining = conn->pipelining;
	d->size_ok = conn->size_ok;
	d->eightbit = conn->eightbit;
	d->msgs = conn->msgs;
	d->born = conn->born;
	d->reused = 1;
	d->best = 1;
	str_copy(d->res.relay, sizeof(d->res.relay), conn->relay);
	str_copy(d->res.tls, sizeof(d->res.tls), conn->tls_summary);
	event_free(conn->ev);
	free(conn);
	transaction(d);
}

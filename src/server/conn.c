/*
 * conn - the connection driver: bytes between a socket and an SMTP
 * session, timers, limits, and the session's storage calls into the spool.
 *
 * A connection is never freed inside one of its own callbacks: it is
 * marked dead and reaped from a deferred event.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>

#include "conf/conf.h"
#include "net/dovecot.h"
#include "net/tls.h"
#include "net/workq.h"
#include "policy/policy.h"
#include "queue/spool.h"
#include "server/abuse.h"
#include "server/authfail.h"
#include "server/dnsbl.h"
#include "server/passwd.h"
#include "server/server.h"
#include "smtp/session.h"
#include "smtp/tx.h"
#include "util/hmap.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xalloc.h"

/* Feed the session at most this much at once. */
#define FEED_MAX	(64 * 1024)
/* Stop reading while this much output waits for a slow reader. */
#define OUTPUT_MAX	(256 * 1024)
/* Input buffered while the session is paused (spool commit). */
#define INPUT_MAX	(256 * 1024)
/* Time to flush the last reply before closing anyway. */
#define LINGER_SECS	10

struct conn {
	struct server		*srv;
	struct listener		*l;
	struct bufferevent	*bev;
	struct smtp_session	*s;
	struct spool_msg	*msg;	/* open message, or one committing */
	struct event		*timer;
	struct event		*reap;
	char			 id[16];
	struct policy_client	 client;
	unsigned		 port;
	int			 trusted;	/* exempt from per-IP limit */
	int			 eof;		/* client closed its side */
	int			 closing;	/* flushing the last reply */
	int			 dead;
	int			 tls_pending;	/* handshake under way */
	int			 greeted;	/* banner sent */
	struct verdict		*reject;	/* refused at connect, after TLS */
	struct authjob		*auth;	/* credentials being checked */
	struct dnsbl_q		*dnsbl;	/* blocklist lookup, or NULL */
	int			 waiting_dnsbl;	/* banner waits for it */
	char			 listed_zone[256], listed_txt[256];
	char			 user[256];	/* once authenticated */
	int			 exempt;	/* allow-listed: no abuse actions */
	struct timeval		 start, closed_at;
	time_t			 active;	/* last progress (arm) */
	struct conn		*next, *prev;
};

/* A credentials check; outlives its connection if that goes first. */
struct authjob {
	struct conn	*c;	/* NULL once the connection is gone */
	char		 ip[64];
	char		 hash[256];
	char		 pass[256];
	int		 result;
	unsigned	 delay;
	char		 why[96];	/* AUTH_BLOCKED by a rule: its name */
	struct event	*ev;
};

/* The longest a TLS handshake may take. */
#define TLS_HANDSHAKE_SECS	30

/*
 * At a session limit, a session that made no progress for this long may
 * be closed to serve a new client (the longest idle first), looking at
 * most ROOM_SCAN sessions from the idle end.
 */
#define ROOM_IDLE_SECS	5
#define ROOM_SCAN	1024

static void process(struct conn *c);
static void arm(struct conn *c);
static void greet(struct conn *c);
static void start_tls(struct conn *c);
static void read_cb(struct bufferevent *bev, void *arg);
static void refuse(int fd, const char *reply);
static void write_cb(struct bufferevent *bev, void *arg);
static void event_cb(struct bufferevent *bev, short what, void *arg);
static void flush(struct conn *c);
static void start_close(struct conn *c);

/* ---- the session's storage calls ---- */

/* h_open - a message starts: create it in the spool */
static int
h_open(void *ctx, const struct tx *tx, char *qid, size_t qidsize)
{
	struct conn *c = ctx;
	struct spool_meta m = { c->id, c->client.ipstr,
	    smtp_session_helo(c->s), smtp_session_proto(c->s), c->user };

	c->msg = spool_msg_new(c->srv->spool, tx, &m, time(NULL), qid,
	    qidsize);
	return c->msg ? 0 : -1;
}

/* h_write - message bytes */
static int
h_write(void *ctx, const char *p, size_t n)
{
	struct conn *c = ctx;

	return spool_msg_write(c->msg, p, n);
}

/* commit_cb - the spool's answer */
static void
commit_cb(void *arg, int result, const char *why)
{
	struct conn *c = arg;

	c->msg = NULL;
	smtp_session_committed(c->s, result, why);
	if (c->srv->stopping) {
		smtp_session_shutdown(c->s, NULL);
		flush(c);
		start_close(c);
		return;
	}
	process(c);
}

/* h_commit - the message is complete */
static void
h_commit(void *ctx)
{
	struct conn *c = ctx;

	spool_msg_commit(c->msg, commit_cb, c);
}

/* h_abort - forget the message (or detach from its commit) */
static void
h_abort(void *ctx)
{
	struct conn *c = ctx;

	spool_msg_abort(c->msg);
	c->msg = NULL;
}

/* auth_deliver - hand the result to the session (after any delay) */
static void
auth_deliver(evutil_socket_t fd, short what, void *arg)
{
	struct authjob *j = arg;
	struct conn *c = j->c;

	(void)fd;
	(void)what;
	if (c != NULL) {
		c->auth = NULL;
		smtp_session_auth_done(c->s, j->result, j->why[0] ? j->why :
		    NULL);
		process(c);
	}
	if (j->ev)
		event_free(j->ev);
	explicit_bzero(j, sizeof(*j));
	free(j);
}

/* auth_result - a backend answered: count failures, then deliver */
static void
auth_result(struct authjob *j, int ok, int temp)
{
	struct server *srv;
	struct timeval tv = { 0, 0 };
	int blocked = 0;
	unsigned fails;

	if (j->c == NULL) {
		auth_deliver(-1, 0, j);
		return;
	}
	srv = j->c->srv;
	if (ok) {
		j->result = AUTH_OK;
		authfail_clear(srv->authfail, j->ip, time(NULL));
	} else if (temp)
		j->result = AUTH_TEMP;
	else {
		fails = authfail_record(srv->authfail, j->ip, time(NULL),
		    &j->delay, &blocked);
		j->result = blocked ? AUTH_BLOCKED : AUTH_FAIL;
		if (blocked)
			srv->st.auth_blocked++;
		if (blocked)
			log_warn("event=auth-throttle client=%s failures=%u "
			    "action=block duration=%llus", j->ip, fails,
			    (unsigned long long)srv->conf->auth_block_time);
		else if (j->delay)
			log_info("event=auth-throttle client=%s failures=%u "
			    "action=slow delay=%us", j->ip, fails, j->delay);
	}
	tv.tv_sec = (time_t)j->delay;
	j->ev = evtimer_new(srv->base, auth_deliver, j);
	evtimer_add(j->ev, &tv);
}

/* passwd_work - pool thread: the slow hash */
static void
passwd_work(void *arg)
{
	struct authjob *j = arg;

	j->result = passwd_verify(j->hash, j->pass);
	explicit_bzero(j->pass, sizeof(j->pass));
}

static void
passwd_done(void *arg)
{
	struct authjob *j = arg;

	auth_result(j, j->result, 0);
}

/* dovecot_done - Dovecot answered */
static void
dovecot_done(void *arg, int result, const char *why)
{
	struct authjob *j = arg;

	if (result == DOVECOT_TEMP)
		log_warn("event=auth-backend-error backend=dovecot reason=\"%s\"",
		    why ? why : "");
	auth_result(j, result == DOVECOT_OK, result == DOVECOT_TEMP);
}

/* h_auth - check credentials: blocked, Dovecot, or the passwd file */
static void
h_auth(void *ctx, const char *user, const char *pass)
{
	struct conn *c = ctx;
	struct server *srv = c->srv;
	struct authjob *j = xcalloc(1, sizeof(*j));
	char rule[64];

	j->c = c;
	c->auth = j;
	str_copy(j->ip, sizeof(j->ip), c->client.ipstr);
	/* a login guessed at from many addresses: a per-user rule stops it */
	if (!c->exempt && abuse_login_refused(srv->abuse, user, time(NULL),
	    rule, sizeof(rule)) != 0)
		snprintf(j->why, sizeof(j->why), "abuse-block:%s", rule);
	if (j->why[0] || authfail_blocked(srv->authfail, j->ip, time(NULL))) {
		j->result = AUTH_BLOCKED;
		j->ev = evtimer_new(srv->base, auth_deliver, j);
		event_active(j->ev, EV_TIMEOUT, 0);
		return;
	}
	if (srv->conf->auth_dovecot[0]) {
		dovecot_auth(srv->base, srv->conf->auth_dovecot, user, pass,
		    c->client.ipstr, 1, dovecot_done, j);
		return;
	}
	str_copy(j->hash, sizeof(j->hash), passwd_hash(srv->passwd, user));
	str_copy(j->pass, sizeof(j->pass), pass);
	workq_submit(srv->deliver_wq, passwd_work, passwd_done, j);
}

/* h_note - what the session did, for the counters and stats */
static void
h_note(void *ctx, enum smtp_note ev, const char *arg, uint64_t n)
{
	struct conn *c = ctx;
	struct server *srv = c->srv;
	const char *ip = c->client.ipstr, *user = c->user;
	time_t now = time(NULL);

	switch (ev) {
	case SN_RCPT_OK:
		abuse_event(srv->abuse, ip, user, CNT_RECIPIENTS, 1, NULL,
		    c->exempt, now);
		abuse_event(srv->abuse, ip, user, CNT_DOMAINS, 1, arg,
		    c->exempt, now);
		break;
	case SN_REJECT:
		stats_reject(srv, arg);
		abuse_event(srv->abuse, ip, user, CNT_REJECTIONS, 1, NULL,
		    c->exempt, now);
		if (arg && strcmp(arg, "unknown-user") == 0)
			abuse_event(srv->abuse, ip, user, CNT_UNKNOWN_RCPTS, 1,
			    NULL, c->exempt, now);
		else if (arg && (strcmp(arg, "relay-denied") == 0 ||
		    strcmp(arg, "percent-hack") == 0 ||
		    strcmp(arg, "bang-path") == 0 ||
		    strcmp(arg, "quoted-at") == 0))
			abuse_event(srv->abuse, ip, user, CNT_RELAY_DENIED, 1,
			    NULL, c->exempt, now);
		break;
	case SN_MESSAGE:
		srv->st.messages++;
		srv->st.bytes += n;
		abuse_event(srv->abuse, ip, user, CNT_MESSAGES, 1, NULL,
		    c->exempt, now);
		abuse_event(srv->abuse, ip, user, CNT_KBYTES,
		    (uint32_t)((n + 1023) / 1024), NULL, c->exempt, now);
		break;
	case SN_AUTH_FAIL:
		/* per address, and per login tried (arg) */
		srv->st.auth_fail++;
		abuse_event(srv->abuse, ip, arg, CNT_AUTH_FAILURES, 1, NULL,
		    c->exempt, now);
		break;
	case SN_AUTH_OK:
		srv->st.auth_ok++;
		str_copy(c->user, sizeof(c->user), arg ? arg : "");
		break;
	}
}

/* h_gate - the abuse rules' blocks and rate limits, at MAIL and RCPT */
static int
h_gate(void *ctx, enum smtp_gate step, struct verdict *v)
{
	struct conn *c = ctx;
	struct server *srv = c->srv;
	time_t now = time(NULL), t;

	(void)step;
	if (c->exempt)
		return 0;
	memset(v, 0, sizeof(*v));
	if ((t = abuse_blocked(srv->abuse, c->client.ipstr, c->user,
	    now)) != 0) {
		v->kind = POLICY_TEMPFAIL;
		v->code = 451;
		str_copy(v->enh, sizeof(v->enh), "4.7.1");
		snprintf(v->text, sizeof(v->text), "Temporarily blocked for "
		    "abuse; try again in %lld minutes",
		    (long long)(t - now + 59) / 60);
		str_copy(v->rule, sizeof(v->rule), "abuse-block");
		return 1;
	}
	if ((t = abuse_tempfail(srv->abuse, c->client.ipstr, c->user,
	    now)) != 0) {
		v->kind = POLICY_TEMPFAIL;
		v->code = 451;
		str_copy(v->enh, sizeof(v->enh), "4.7.1");
		snprintf(v->text, sizeof(v->text), "Rate limit exceeded; try "
		    "again later");
		str_copy(v->rule, sizeof(v->rule), "abuse-ratelimit");
		return 1;
	}
	return 0;
}

static const struct smtp_host host = {
	.msg_open = h_open, .msg_write = h_write, .msg_commit = h_commit,
	.msg_abort = h_abort, .auth_check = h_auth, .note = h_note,
	.gate = h_gate
};

/* ---- lifetime ---- */

/* per_ip - adjust the per-address session count; returns the new count */
static uintptr_t
per_ip(struct server *srv, const char *ip, int delta)
{
	uintptr_t n = (uintptr_t)hmap_get(srv->per_ip, ip);

	n = (uintptr_t)((intptr_t)n + delta);
	if (n == 0)
		hmap_del(srv->per_ip, ip);
	else
		hmap_put(srv->per_ip, ip, (void *)n);
	return n;
}

/* kill - mark dead and reap from a deferred event */
static void
kill_conn(struct conn *c)
{
	if (c->dead)
		return;
	c->dead = 1;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	event_active(c->reap, EV_TIMEOUT, 0);
}

/* unlink_conn - take c out of the server's list */
static void
unlink_conn(struct server *srv, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		srv->conns_tail = c->prev;
	c->next = c->prev = NULL;
}

/* link_conn - put c at the head (the most recently active end) */
static void
link_conn(struct server *srv, struct conn *c)
{
	c->prev = NULL;
	c->next = srv->conns;
	if (c->next)
		c->next->prev = c;
	else
		srv->conns_tail = c;
	srv->conns = c;
}

/*
 * make_room - at a session limit (of ip, or in total when ip is NULL),
 * close the session that has made no progress for longest, if that is at
 * least ROOM_IDLE_SECS: slow and idle clients cannot keep a working one
 * out. 1 if one was closed (its slot frees when it is reaped).
 */
static int
make_room(struct server *srv, const char *ip)
{
	time_t now = time(NULL);
	struct conn *c;
	size_t n = 0;

	for (c = srv->conns_tail; c != NULL && n < ROOM_SCAN; c = c->prev,
	    n++) {
		if (now - c->active < ROOM_IDLE_SECS)
			return 0;	/* the rest are more recent still */
		if (c->dead || c->closing || c->msg != NULL ||
		    (ip != NULL && strcmp(c->client.ipstr, ip) != 0))
			continue;
		log_info("session=%s event=session-dropped client=%s idle=%lld "
		    "state=%s reason=%s", c->id, c->client.ipstr,
		    (long long)(now - c->active),
		    smtp_state_name(smtp_session_state(c->s)),
		    ip ? "room-for-same-client" : "room-for-new-client");
		if (!c->tls_pending && bufferevent_openssl_get_ssl(c->bev) ==
		    NULL)
			refuse(bufferevent_getfd(c->bev), "421 4.4.2 Error: "
			    "idle too long while the server is busy\r\n");
		kill_conn(c);
		return 1;
	}
	return 0;
}

/* reap_cb - log the disconnect and free everything */
static void
reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct server *srv = c->srv;
	const struct smtp_stats *st = smtp_session_stats(c->s);
	struct timeval now, d;

	(void)fd;
	(void)what;
	gettimeofday(&now, NULL);
	timersub(&now, &c->start, &d);
	log_info("session=%s event=disconnect client=%s duration=%ld.%03ld "
	    "commands=%u errors=%u messages=%u rcpt=%u rejected=%u "
	    "bytes=%llu", c->id, c->client.ipstr, (long)d.tv_sec,
	    (long)d.tv_usec / 1000, st->commands, st->errors, st->messages,
	    st->rcpt_ok, st->rcpt_rejected, (unsigned long long)st->bytes);
	if (c->auth)
		c->auth->c = NULL;	/* the check finishes on its own */
	dnsbl_cancel(c->dnsbl);
	smtp_session_free(c->s);	/* aborts or detaches a message */
	bufferevent_free(c->bev);
	free(c->reject);
	event_free(c->timer);
	event_free(c->reap);
	per_ip(srv, c->client.ipstr, -1);
	srv->nsessions--;
	unlink_conn(srv, c);
	free(c);
	if (srv->stopping && srv->stopcheck)
		event_active(srv->stopcheck, EV_TIMEOUT, 0);
}

/* timer_cb - idle timeout, or the linger time after the last reply */
static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	if (c->closing) {
		kill_conn(c);
		return;
	}
	if (c->tls_pending) {
		log_info("session=%s event=tls-timeout client=%s", c->id,
		    c->client.ipstr);
		kill_conn(c);
		return;
	}
	if (c->waiting_dnsbl) {
		/* the lists are slow: a DNS problem never blocks mail */
		log_info("session=%s event=dnsbl-timeout client=%s", c->id,
		    c->client.ipstr);
		c->waiting_dnsbl = 0;
		if (!c->greeted)
			greet(c);
		return;
	}
	smtp_session_timeout(c->s);
	process(c);
}

/* arm - (re)start the idle timer for the session's current state */
static void
arm(struct conn *c)
{
	const struct conf *cf = c->srv->conf;
	struct timeval tv = { 0, 0 };

	tv.tv_sec = (time_t)(smtp_session_state(c->s) == ST_DATA ?
	    cf->data_timeout : cf->idle_timeout);
	evtimer_add(c->timer, &tv);
	/* progress: to the active end of the list */
	c->active = time(NULL);
	if (c->srv->conns != c) {
		unlink_conn(c->srv, c);
		link_conn(c->srv, c);
	}
}

/* flush - move the session's replies to the socket */
static void
flush(struct conn *c)
{
	struct buf *out = smtp_session_output(c->s);

	if (out->len > 0) {
		bufferevent_write(c->bev, out->data, out->len);
		buf_reset(out);
	}
}

/*
 * unsent - bytes not yet handed to the kernel. After STARTTLS the
 * connection is a TLS filter over the socket's bufferevent, and the
 * encrypted bytes wait in the one underneath.
 */
static size_t
unsent(struct conn *c)
{
	struct bufferevent *under = bufferevent_get_underlying(c->bev);

	return evbuffer_get_length(bufferevent_get_output(c->bev)) +
	    (under ? evbuffer_get_length(bufferevent_get_output(under)) : 0);
}

/* linger_cb - poll until the last reply left (or the linger time ends) */
static void
linger_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct timeval now, d, tick = { 0, 20000 };

	(void)fd;
	(void)what;
	gettimeofday(&now, NULL);
	timersub(&now, &c->closed_at, &d);
	if (unsent(c) == 0 || d.tv_sec >= LINGER_SECS) {
		kill_conn(c);
		return;
	}
	evtimer_add(c->timer, &tick);
}

/* start_close - stop reading; close once the last reply is sent */
static void
start_close(struct conn *c)
{
	struct timeval tick = { 0, 0 };

	if (c->closing)
		return;
	c->closing = 1;
	bufferevent_disable(c->bev, EV_READ);
	gettimeofday(&c->closed_at, NULL);
	/* the timer now only watches the last reply go out */
	evtimer_del(c->timer);
	evtimer_assign(c->timer, c->srv->base, linger_cb, c);
	if (unsent(c) == 0)
		kill_conn(c);
	else
		evtimer_add(c->timer, &tick);
}

/*
 * process - feed buffered input to the session, send its replies, and
 * decide what the connection does next.
 */
static void
process(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer *out = bufferevent_get_output(c->bev);
	int progress = 0;

	if (c->dead || c->closing)
		return;
	while (!smtp_session_closing(c->s) && !smtp_session_paused(c->s) &&
	    evbuffer_get_length(out) < OUTPUT_MAX) {
		size_t n = evbuffer_get_length(in), k, used;
		unsigned cmds = smtp_session_stats(c->s)->commands;
		enum smtp_state st = smtp_session_state(c->s);
		unsigned char *p;

		if (n == 0)
			break;
		k = n > FEED_MAX ? FEED_MAX : n;
		p = evbuffer_pullup(in, (ev_ssize_t)k);
		used = smtp_session_feed(c->s, (const char *)p, k, n > k);
		evbuffer_drain(in, used);
		flush(c);
		if (smtp_session_stats(c->s)->commands != cmds ||
		    (st == ST_DATA && used > 0))
			progress = 1;
		if (used == 0)
			break;
	}
	flush(c);
	if (smtp_session_closing(c->s)) {
		start_close(c);
		return;
	}
	if (smtp_session_wants_tls(c->s) && !c->tls_pending) {
		start_tls(c);
		return;
	}
	if (progress || smtp_session_paused(c->s))
		arm(c);
	if (c->eof && !smtp_session_paused(c->s)) {
		/* the client is gone and nothing it sent is left to do */
		start_close(c);
		return;
	}
	/* read more only when there is room: paused sessions buffer a little */
	if (evbuffer_get_length(out) >= OUTPUT_MAX ||
	    (smtp_session_paused(c->s) && evbuffer_get_length(in) >= INPUT_MAX))
		bufferevent_disable(c->bev, EV_READ);
	else
		bufferevent_enable(c->bev, EV_READ);
}

/*
 * start_tls - the 220 to STARTTLS is queued: drop whatever the client sent
 * after the command (never executed, RFC 3207 5) and wrap the connection.
 */
static void
start_tls(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct timeval tv = { TLS_HANDSHAKE_SECS, 0 };
	struct bufferevent *tls;
	SSL *ssl = SSL_new(c->srv->tls);

	if (evbuffer_get_length(in) > 0) {
		log_info("session=%s event=starttls-injection client=%s "
		    "discarded=%zu", c->id, c->client.ipstr,
		    evbuffer_get_length(in));
		evbuffer_drain(in, evbuffer_get_length(in));
	}
	tls = ssl ? bufferevent_openssl_filter_new(c->srv->base, c->bev, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE) : NULL;
	if (tls == NULL) {
		smtp_session_tls_done(c->s, 0, NULL);
		kill_conn(c);
		return;
	}
	c->bev = tls;
	c->tls_pending = 1;
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	evtimer_add(c->timer, &tv);
}

/*
 * greet - the banner (or the refusal that replaces it), once the TLS
 * handshake (port 465) and the blocklist lookups are done.
 */
static void
greet(struct conn *c)
{
	c->greeted = 1;
	if (c->reject)
		smtp_session_reject(c->s, c->reject->code, c->reject->enh,
		    c->reject->text);
	else
		smtp_session_start(c->s);
	flush(c);
	arm(c);
	process(c);
}

/* listed - the blocklists answered (zone NULL: not listed) */
static void
listed(void *arg, const char *zone, const char *txt)
{
	struct conn *c = arg;
	size_t i;

	if (zone != NULL) {
		c->srv->st.dnsbl_listed++;
		str_copy(c->listed_zone, sizeof(c->listed_zone), zone);
		/* a TXT is shown in our reply: printable ASCII, one line */
		str_copy(c->listed_txt, sizeof(c->listed_txt), txt ? txt : "");
		for (i = 0; c->listed_txt[i]; i++)
			if ((unsigned char)c->listed_txt[i] < ' ' ||
			    (unsigned char)c->listed_txt[i] > '~')
				c->listed_txt[i] = '?';
		smtp_session_set_dnsbl(c->s, c->listed_zone,
		    c->listed_txt[0] ? c->listed_txt : NULL);
		log_info("session=%s event=dnsbl-listed client=%s zone=%s",
		    c->id, c->client.ipstr, zone);
	}
	if (c->waiting_dnsbl) {
		c->waiting_dnsbl = 0;
		if (!c->tls_pending && !c->greeted)
			greet(c);
	}
}

/* tls_ready - the handshake finished */
static void
tls_ready(struct conn *c)
{
	char info[160];

	c->tls_pending = 0;
	c->srv->st.tls++;
	tls_describe(bufferevent_openssl_get_ssl(c->bev), info, sizeof(info));
	smtp_session_tls_done(c->s, 1, info);
	if (!c->greeted && !c->waiting_dnsbl)
		greet(c);
	arm(c);
	process(c);
}

/* read_cb - bytes arrived */
static void
read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	process(arg);
}

/* write_cb - output drained to the low watermark (empty) */
static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (c->closing) {
		if (unsent(c) == 0)
			kill_conn(c);
		return;
	}
	process(c);
}

/* event_cb - EOF or error on the socket */
static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		if (c->tls_pending)
			tls_ready(c);
		return;
	}
	if (c->tls_pending && (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))) {
		unsigned long e = bufferevent_get_openssl_error(c->bev);

		log_info("session=%s event=tls-failed client=%s reason=\"%s\"",
		    c->id, c->client.ipstr, e ? ERR_reason_error_string(e) :
		    "connection closed during handshake");
		kill_conn(c);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		c->eof = 1;
		if (c->closing || !smtp_session_paused(c->s)) {
			if (!c->closing && smtp_session_state(c->s) !=
			    ST_CLOSING)
				log_info("session=%s event=lost client=%s "
				    "state=%s", c->id, c->client.ipstr,
				    smtp_state_name(smtp_session_state(c->s)));
			kill_conn(c);
		}
		/* else: finish the commit, answer, then close */
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		int err = EVUTIL_SOCKET_ERROR();
		unsigned long e = bufferevent_get_openssl_error(bev);
		const char *why = e ? ERR_reason_error_string(e) : NULL;

		/* a TLS error has no errno: say what TLS saw */
		if (err != 0)
			why = strerror(err);
		else if (why == NULL)
			why = "connection closed without TLS close_notify";
		log_info("session=%s event=lost client=%s state=%s error=\"%s\"",
		    c->id, c->client.ipstr,
		    smtp_state_name(smtp_session_state(c->s)), why);
		kill_conn(c);
	}
}

/* refuse - a 421 straight on the socket, then close (over a limit) */
static void
refuse(int fd, const char *reply)
{
	ssize_t w = send(fd, reply, strlen(reply), MSG_DONTWAIT | MSG_NOSIGNAL);

	(void)w;
	close(fd);
}

/* conn_accept - a new client on listener l */
void
conn_accept(struct server *srv, struct listener *l, int fd,
    const struct sockaddr *sa, socklen_t salen)
{
	struct policy_client pc;
	struct verdict v;
	struct conn *c;
	char rule[128], line[256];

	(void)salen;
	memset(&pc, 0, sizeof(pc));
	pc.family = sa->sa_family;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		memcpy(pc.ip, &in->sin_addr, 4);
	} else {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		memcpy(pc.ip, &in6->sin6_addr, 16);
	}
	inet_ntop(pc.family, pc.ip, pc.ipstr, sizeof(pc.ipstr));
	if (srv->stopping) {
		refuse(fd, "421 4.3.2 Service shutting down\r\n");
		return;
	}
	if (srv->nsessions >= srv->max_sessions && !make_room(srv, NULL)) {
		srv->st.refused++;
		log_warn("event=connect-refused client=%s reason=too-many-"
		    "sessions sessions=%u limit=%u", pc.ipstr, srv->nsessions,
		    srv->max_sessions);
		snprintf(line, sizeof(line), "421 4.3.2 %s Error: too many "
		    "connections, try again later\r\n", srv->params.hostname);
		refuse(fd, line);
		return;
	}
	pc.trusted = l->trusted;
	if (!policy_client_allowed(srv->policy, &pc) &&
	    abuse_blocked(srv->abuse, pc.ipstr, NULL, time(NULL))) {
		srv->st.refused++;
		log_info("event=connect-refused client=%s reason=abuse-block",
		    pc.ipstr);
		snprintf(line, sizeof(line), "421 4.7.0 %s Error: temporarily "
		    "blocked for abuse; try again later\r\n",
		    srv->params.hostname);
		refuse(fd, line);
		return;
	}
	if (!policy_client_trusted(srv->policy, &pc, rule, sizeof(rule)) &&
	    (uintptr_t)hmap_get(srv->per_ip, pc.ipstr) >=
	    srv->conf->sessions_per_ip && !make_room(srv, pc.ipstr)) {
		srv->st.refused++;
		log_warn("event=connect-refused client=%s reason=too-many-"
		    "sessions-from-client limit=%llu", pc.ipstr,
		    (unsigned long long)srv->conf->sessions_per_ip);
		snprintf(line, sizeof(line), "421 4.7.0 %s Error: too many "
		    "connections from your address\r\n", srv->params.hostname);
		refuse(fd, line);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->srv = srv;
	c->l = l;
	c->client = pc;
	c->exempt = policy_client_allowed(srv->policy, &pc);
	abuse_event(srv->abuse, pc.ipstr, NULL, CNT_CONNECTIONS, 1, NULL,
	    c->exempt, time(NULL));
	c->port = ntohs(sa->sa_family == AF_INET ?
	    ((const struct sockaddr_in *)(const void *)sa)->sin_port :
	    ((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
	gettimeofday(&c->start, NULL);
	snprintf(c->id, sizeof(c->id), "%08x", srv->idnext++);
	if (l->role == ROLE_SUBMISSIONS) {
		SSL *ssl = SSL_new(srv->tls);

		c->bev = bufferevent_openssl_socket_new(srv->base, fd, ssl,
		    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
		c->tls_pending = 1;
	} else
		c->bev = bufferevent_socket_new(srv->base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
	c->timer = evtimer_new(srv->base, timer_cb, c);
	c->reap = event_new(srv->base, -1, 0, reap_cb, c);
	c->s = smtp_session_new(&l->params, &host, c, c->id, &c->client);
	srv->nsessions++;
	srv->st.sessions++;
	per_ip(srv, pc.ipstr, 1);
	c->active = time(NULL);
	link_conn(srv, c);
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	log_info("session=%s event=connect client=%s port=%u listener=%s "
	    "role=%s", c->id, pc.ipstr, c->port, l->name, role_name(l->role));
	policy_connect(srv->policy, &c->client, &v);
	if (v.allow[0]) {
		char qa[LOG_QUOTE_MAX];

		log_info("session=%s event=allow-hit client=%s step=connect "
		    "rule=%s", c->id, pc.ipstr,
		    log_quotes(qa, sizeof(qa), v.allow));
	}
	if (v.kind != POLICY_ACCEPT) {
		char qr[LOG_QUOTE_MAX];

		log_info("session=%s event=connect-rejected client=%s rule=%s "
		    "reply=%d", c->id, pc.ipstr,
		    log_quotes(qr, sizeof(qr), v.rule), v.code);
		if (c->tls_pending) {
			c->reject = xmalloc(sizeof(v));
			*c->reject = v;
		} else {
			smtp_session_reject(c->s, v.code, v.enh, v.text);
			c->greeted = 1;
		}
	} else if (srv->conf->dnsbl_zones && srv->conf->dnsbl_zones[0] &&
	    !c->exempt && !policy_client_trusted(srv->policy, &c->client, rule,
	    sizeof(rule))) {
		/* the banner waits for the blocklists (bounded) */
		c->waiting_dnsbl = 1;
		c->dnsbl = dnsbl_check(srv->dns, srv->conf->dnsbl_zones,
		    pc.family, pc.ip, listed, c);
	}
	if (!c->greeted && !c->tls_pending && !c->waiting_dnsbl) {
		smtp_session_start(c->s);
		c->greeted = 1;
	}
	flush(c);
	if (c->tls_pending || c->waiting_dnsbl) {
		struct timeval tv = { c->tls_pending ? TLS_HANDSHAKE_SECS :
		    (time_t)srv->conf->dnsbl_timeout, 0 };

		evtimer_add(c->timer, &tv);
	} else
		arm(c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* conn_free_all - at exit: free connections the grace time left over */
void
conn_free_all(struct server *srv)
{
	while (srv->conns != NULL)
		reap_cb(-1, 0, srv->conns);
}

/*
 * conn_shutdown_all - the server is stopping: sessions that are idle or
 * mid-command get 421 now; those committing a message finish first.
 */
void
conn_shutdown_all(struct server *srv)
{
	struct conn *c;

	for (c = srv->conns; c != NULL; c = c->next) {
		if (c->dead || c->closing)
			continue;
		if (c->tls_pending) {
			/* mid-handshake: no channel for a 421, nothing to
			 * finish; kill_conn only marks it, the list stays */
			kill_conn(c);
			continue;
		}
		if (smtp_session_paused(c->s))
			continue;
		smtp_session_shutdown(c->s, NULL);
		flush(c);
		start_close(c);
	}
}

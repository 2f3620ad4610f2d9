#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "conf/conf.h"
#include "policy/policy.h"
#include "probe/catcher.h"
#include "smtp/session.h"
#include "smtp/tx.h"
#include "util/buf.h"
#include "util/str.h"
#include "util/xalloc.h"

#define CATCHER_IDLE	60

struct catcher {
	struct event_base	*base;
	struct evconnlistener	*l;
	struct policy		*policy;
	struct smtp_params	 params;
	token_cb		 cb;
	void			*arg;
	unsigned		 messages;
	unsigned		 seq;
	char			 addr[80];
	struct cconn		*conns;		/* open connections */
	void			(*idle_cb)(void *);
	void			*idle_arg;
};

struct cconn {
	struct catcher		*k;
	struct bufferevent	*bev;
	struct smtp_session	*s;
	struct event		*timer;
	struct buf		 msg;
	char			**rcpts;
	size_t			 nrcpt;
	int			 null_sender;
	int			 dead;
	struct cconn		*next, **prevp;	/* in k->conns */
};

/* free_rcpts - forget the envelope */
static void
free_rcpts(struct cconn *c)
{
	size_t i;

	for (i = 0; i < c->nrcpt; i++)
		free(c->rcpts[i]);
	free(c->rcpts);
	c->rcpts = NULL;
	c->nrcpt = 0;
}

/* h_open - keep the envelope, start an in-memory message */
static int
h_open(void *ctx, const struct tx *tx, char *qid, size_t qidsize)
{
	struct cconn *c = ctx;
	size_t i;

	free_rcpts(c);
	buf_reset(&c->msg);
	c->null_sender = (tx->sender.flags & ADDR_NULL) != 0;
	c->rcpts = xcalloc(tx->nrcpt ? tx->nrcpt : 1, sizeof(*c->rcpts));
	for (i = 0; i < tx->nrcpt; i++) {
		char a[SMTP_PATH_MAX + 8];

		addr_format(&tx->rcpts[i].addr, a, sizeof(a));
		c->rcpts[c->nrcpt++] = xstrdup(a);
	}
	snprintf(qid, qidsize, "C%06u", ++c->k->seq);
	return 0;
}

/* h_write - keep what fits; the rest is dropped (tokens are up front) */
static int
h_write(void *ctx, const char *p, size_t n)
{
	struct cconn *c = ctx;
	size_t room = c->msg.max - c->msg.len;

	(void)buf_append(&c->msg, p, n < room ? n : room);
	return 0;
}

/* h_commit - scan for tokens and answer 250 */
static void
h_commit(void *ctx)
{
	struct cconn *c = ctx;
	struct catcher *k = c->k;

	k->messages++;
	if (k->cb)
		tokscan_message(c->msg.data ? c->msg.data : "", c->msg.len,
		    c->null_sender, (const char *const *)c->rcpts, c->nrcpt,
		    k->cb, k->arg);
	free_rcpts(c);
	buf_reset(&c->msg);
	smtp_session_committed(c->s, SMTP_OK, NULL);
}

/* h_abort - forget the message */
static void
h_abort(void *ctx)
{
	struct cconn *c = ctx;

	free_rcpts(c);
	buf_reset(&c->msg);
}

static const struct smtp_host host = {
	.msg_open = h_open, .msg_write = h_write, .msg_commit = h_commit,
	.msg_abort = h_abort
};

/* cconn_free - close and free a connection */
static void
cconn_free(struct cconn *c)
{
	struct catcher *k = c->k;

	if ((*c->prevp = c->next) != NULL)
		c->next->prevp = c->prevp;
	smtp_session_free(c->s);
	bufferevent_free(c->bev);
	event_free(c->timer);
	buf_release(&c->msg);
	free_rcpts(c);
	free(c);
	if (k->conns == NULL && k->idle_cb != NULL)
		k->idle_cb(k->idle_arg);
}

/* reap - free from the loop, not from inside a callback of c's */
static void
reap_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	cconn_free(arg);
}

/* kill_conn - schedule the free */
static void
kill_conn(struct cconn *c)
{
	if (c->dead)
		return;
	c->dead = 1;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	event_base_once(c->k->base, -1, EV_TIMEOUT, reap_cb, c, NULL);
}

/* pump - feed input, send replies, close when the session says so */
static void
pump(struct cconn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct timeval tv = { CATCHER_IDLE, 0 };
	struct buf *out;

	while (!c->dead && evbuffer_get_length(in) > 0 &&
	    !smtp_session_closing(c->s)) {
		size_t n = evbuffer_get_length(in), k = n > 65536 ? 65536 : n;
		unsigned char *p = evbuffer_pullup(in, (ev_ssize_t)k);
		size_t used = smtp_session_feed(c->s, (const char *)p, k,
		    n > k);

		evbuffer_drain(in, used);
		out = smtp_session_output(c->s);
		bufferevent_write(c->bev, out->data, out->len);
		buf_reset(out);
		if (used == 0)
			break;
	}
	out = smtp_session_output(c->s);
	if (out->len) {
		bufferevent_write(c->bev, out->data, out->len);
		buf_reset(out);
	}
	evtimer_add(c->timer, &tv);
	if (smtp_session_closing(c->s)) {
		bufferevent_disable(c->bev, EV_READ);
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
			kill_conn(c);
	}
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	pump(arg);
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct cconn *c = arg;

	(void)bev;
	if (smtp_session_closing(c->s))
		kill_conn(c);
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		kill_conn(arg);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cconn *c = arg;

	(void)fd;
	(void)what;
	smtp_session_timeout(c->s);
	pump(c);
	kill_conn(c);
}

/* accept_cb - a relayed message (or a bounce) is on its way */
static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct catcher *k = arg;
	struct cconn *c = xcalloc(1, sizeof(*c));
	struct policy_client pc;
	char id[16];

	(void)l;
	(void)salen;
	memset(&pc, 0, sizeof(pc));
	pc.family = sa->sa_family;
	if (sa->sa_family == AF_INET)
		memcpy(pc.ip, &((struct sockaddr_in *)(void *)sa)->sin_addr, 4);
	else
		memcpy(pc.ip, &((struct sockaddr_in6 *)(void *)sa)->sin6_addr,
		    16);
	inet_ntop(pc.family, pc.ip, pc.ipstr, sizeof(pc.ipstr));
	c->k = k;
	if ((c->next = k->conns) != NULL)
		c->next->prevp = &c->next;
	k->conns = c;
	c->prevp = &k->conns;
	buf_init(&c->msg, CATCHER_MSG_MAX);
	c->bev = bufferevent_socket_new(k->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->timer = evtimer_new(k->base, timer_cb, c);
	snprintf(id, sizeof(id), "c%07u", ++k->seq);
	c->s = smtp_session_new(&k->params, &host, c, id, &pc);
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	smtp_session_start(c->s);
	pump(c);
}

/* catcher_new - listen on "ADDR:PORT" or "[V6]:PORT"; NULL with err */
struct catcher *
catcher_new(struct event_base *base, const char *listen, char *err,
    size_t errsize)
{
	static char *any[] = { "0.0.0.0/0", "::/0", NULL };
	static char *none[] = { NULL };
	struct catcher *k = xcalloc(1, sizeof(*k));
	struct sockaddr_storage ss;
	int sslen = sizeof(ss);
	struct policy_conf pc;

	memset(&ss, 0, sizeof(ss));
	if (evutil_parse_sockaddr_port(listen, (struct sockaddr *)&ss,
	    &sslen) == -1) {
		snprintf(err, errsize, "catcher: bad address \"%s\" (want "
		    "ADDR:PORT)", listen);
		free(k);
		return NULL;
	}
	memset(&pc, 0, sizeof(pc));
	pc.local_domains = none;
	pc.relay_domains = none;
	pc.authorized_networks = any;	/* the catcher takes mail for anyone */
	pc.local_users = none;
	pc.local_addresses = none;
	if ((k->policy = policy_new(&pc, err, errsize)) == NULL) {
		free(k);
		return NULL;
	}
	k->base = base;
	k->params.hostname = "sluice-catcher";
	k->params.banner = "ESMTP sluice probe catcher";
	k->params.policy = k->policy;
	k->params.max_msgsize = 64 * 1024 * 1024;
	k->params.max_rcpts = 1000;
	k->params.max_errors = 100;
	k->l = evconnlistener_new_bind(base, accept_cb, k,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 128,
	    (struct sockaddr *)&ss, sslen);
	if (k->l == NULL) {
		snprintf(err, errsize, "catcher: cannot listen on %s: %s",
		    listen, strerror(errno));
		policy_free(k->policy);
		free(k);
		return NULL;
	}
	str_copy(k->addr, sizeof(k->addr), listen);
	return k;
}

/* catcher_free - stop listening (open connections are dropped) */
void
catcher_free(struct catcher *k)
{
	if (k == NULL)
		return;
	k->idle_cb = NULL;
	while (k->conns != NULL)
		cconn_free(k->conns);
	evconnlistener_free(k->l);
	policy_free(k->policy);
	free(k);
}

/* catcher_on_token - where tokens are reported */
void
catcher_on_token(struct catcher *k, token_cb cb, void *arg)
{
	k->cb = cb;
	k->arg = arg;
}

/* catcher_messages - messages received */
unsigned
catcher_messages(const struct catcher *k)
{
	return k->messages;
}

/* catcher_address - where it listens */
const char *
catcher_address(const struct catcher *k)
{
	return k->addr;
}

/* catcher_busy - is a connection open (a message may be on its way)? */
int
catcher_busy(const struct catcher *k)
{
	return k->conns != NULL;
}

/* catcher_on_idle - call cb once no connection is open any more */
void
catcher_on_idle(struct catcher *k, void (*cb)(void *), void *arg)
{
	k->idle_cb = cb;
	k->idle_arg = arg;
}

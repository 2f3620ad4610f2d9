#include <sys/queue.h>
#include <sys/socket.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#include "util/hmap.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xalloc.h"
#include "web/conn.h"
#include "web/guard.h"

enum cstate {
	C_IDLE,		/* no byte of a request yet */
	C_READING,	/* a request is coming: the deadline runs */
	C_WRITING	/* a reply is being written */
};

struct conn {
	struct conns		*g;
	struct bufferevent	*bev;		/* evhttp's, made by make_bev */
	struct evhttp_connection *evcon;	/* NULL until setup_cb */
	struct evbuffer_cb_entry *in_cb, *out_cb;
	struct event		*setup;		/* next turn of the loop */
	struct event		*deadline;	/* REQUEST_SECS */
	char			 ip[64];
	enum cstate		 state;
	long long		 since;		/* ms: state entered */
	int			 ref;		/* our reference on bev */
	int			 counted;	/* in g->n and per client */
	TAILQ_ENTRY(conn)	 entry;
};

struct client {
	char		 ip[64];
	unsigned	 n;
};

struct conns {
	struct event_base	*base;
	struct evhttp		*http;
	char			*headers;	/* "Name: value\r\n" lines */
	TAILQ_HEAD(, conn)	 all;		/* oldest first */
	unsigned		 n;
	struct hmap		*clients;	/* ip -> struct client */
	int			 replying;	/* our own reply is written */
};

/* now_ms - a monotonic clock */
static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* proxy - the reverse proxy's address: not limited per client */
static int
proxy(const char *ip)
{
	return strcmp(ip, "127.0.0.1") == 0 || strcmp(ip, "::1") == 0;
}

/* drop - forget c (evhttp has freed, or is freeing, its connection) */
static void
drop(struct conn *c)
{
	struct conns *g = c->g;

	if (c->counted) {
		struct client *cl = hmap_get(g->clients, c->ip);

		g->n--;
		if (cl != NULL && --cl->n == 0)
			free(hmap_del(g->clients, c->ip));
	}
	if (c->in_cb)
		evbuffer_remove_cb_entry(bufferevent_get_input(c->bev),
		    c->in_cb);
	if (c->out_cb)
		evbuffer_remove_cb_entry(bufferevent_get_output(c->bev),
		    c->out_cb);
	if (c->ref)
		bufferevent_decref(c->bev);
	event_free(c->setup);
	event_free(c->deadline);
	TAILQ_REMOVE(&g->all, c, entry);
	free(c);
}

/* closed_cb - evhttp frees the connection */
static void
closed_cb(struct evhttp_connection *evcon, void *arg)
{
	(void)evcon;
	drop(arg);
}

/*
 * answer - write a whole reply straight to the socket and free the
 * connection (c is gone after). The request's unread bytes are read and
 * thrown away first: closing with them unread would reset the connection
 * and could lose the reply at the client.
 */
static void
answer(struct conn *c, int code, const char *reason, const char *text)
{
	evutil_socket_t fd = bufferevent_getfd(c->bev);
	char head[2048], junk[4096];
	size_t n;
	int len, i;

	if (fd >= 0 && evbuffer_get_length(bufferevent_get_output(c->bev)) ==
	    0) {
		for (i = 0; i < 16 && recv(fd, junk, sizeof(junk),
		    MSG_DONTWAIT) > 0; i++)
			;
		len = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\n%s"
		    "Content-Type: text/plain; charset=utf-8\r\n"
		    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
		    code, reason, c->g->headers, strlen(text), text);
		if (len > 0 && (size_t)len < sizeof(head)) {
			n = (size_t)len;
			/* a fresh socket's buffer takes a reply this small */
			(void)send(fd, head, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		}
	}
	evhttp_connection_free(c->evcon);
}

/* deadline_cb - a request did not arrive whole in REQUEST_SECS */
static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	if (c->state != C_READING || c->evcon == NULL)
		return;
	log_info("event=web-request-timeout visitor=%s seconds=%d", c->ip,
	    REQUEST_SECS);
	answer(c, 408, "Request Timeout", "The request did not arrive in "
	    "time.\n");
}

/* set_state - c enters state s */
static void
set_state(struct conn *c, enum cstate s)
{
	struct timeval tv = { REQUEST_SECS, 0 };

	if (c->state == s)
		return;
	c->state = s;
	c->since = now_ms();
	if (s == C_READING)
		evtimer_add(c->deadline, &tv);
	else
		evtimer_del(c->deadline);
}

/* in_cb - bytes came in: the first of a request starts its deadline */
static void
in_cb(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg)
{
	struct conn *c = arg;

	(void)b;
	if (info->n_added > 0 && c->state == C_IDLE)
		set_state(c, C_READING);
}

/*
 * peek - the first bytes of b as a string (evbuffer_copyout refuses a
 * bufferevent's output, whose start is frozen); their count
 */
static size_t
peek(struct evbuffer *b, char *dst, size_t dstsize)
{
	struct evbuffer_iovec v[4];
	size_t n = 0;
	int i, nv;

	nv = evbuffer_peek(b, (ev_ssize_t)dstsize - 1, NULL, v, 4);
	for (i = 0; i < nv && i < 4 && n < dstsize - 1; i++) {
		size_t k = v[i].iov_len;

		if (k > dstsize - 1 - n)
			k = dstsize - 1 - n;
		memcpy(dst + n, v[i].iov_base, k);
		n += k;
	}
	dst[n] = '\0';
	return n;
}

/*
 * out_cb - bytes go out. A reply starts in an empty buffer; one we did
 * not write is evhttp's own error page, which gets the security headers
 * right after its status line (evhttp writes that line in one piece,
 * then its headers). Once all is written, the connection waits for the
 * next request (which may have started already).
 */
static void
out_cb(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg)
{
	struct conn *c = arg;
	char line[16];
	size_t n;

	if (info->n_added > 0 && info->orig_size == 0) {
		set_state(c, C_WRITING);
		n = peek(b, line, sizeof(line));
		if (!c->g->replying && n >= 12 && strncmp(line, "HTTP/1.",
		    7) == 0 && strncmp(line + 9, "100", 3) != 0)
			evbuffer_add(b, c->g->headers, strlen(c->g->headers));
	}
	if (info->n_deleted > 0 && evbuffer_get_length(b) == 0 &&
	    c->state == C_WRITING) {
		set_state(c, C_IDLE);
		if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
			set_state(c, C_READING);
	}
}

/* evict - make room: close the connection waiting longest, if any */
static int
evict(struct conns *g, struct conn *except)
{
	struct conn *c, *old = NULL;

	TAILQ_FOREACH(c, &g->all, entry)
		if (c != except && c->evcon != NULL && c->state != C_WRITING &&
		    (old == NULL || c->since < old->since))
			old = c;
	if (old == NULL)
		return -1;
	log_info("event=web-connection-evicted visitor=%s state=%s",
	    old->ip, old->state == C_READING ? "reading" : "idle");
	if (old->state == C_READING)
		answer(old, 408, "Request Timeout", "The service is busy and "
		    "the request did not arrive in time.\n");
	else
		evhttp_connection_free(old->evcon);
	return 0;
}

/*
 * setup_cb - right after the connection was accepted and evhttp set it
 * up: learn it, count it, and apply the limits.
 */
static void
setup_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct conns *g = c->g;
	struct client *cl;
	char *peer = NULL;
	ev_uint16_t port;
	void *evcon = NULL;

	(void)fd;
	(void)what;
	bufferevent_getcb(c->bev, NULL, NULL, NULL, &evcon);
	if (evcon == NULL) {	/* evhttp is done with it already */
		drop(c);
		return;
	}
	c->evcon = evcon;
	evhttp_connection_set_closecb(c->evcon, closed_cb, c);
	bufferevent_decref(c->bev);
	c->ref = 0;
	evhttp_connection_get_peer(c->evcon, &peer, &port);
	if (peer == NULL || guard_canon_ip(peer, c->ip, sizeof(c->ip)) == -1)
		str_copy(c->ip, sizeof(c->ip), peer ? peer : "?");
	if ((cl = hmap_get(g->clients, c->ip)) == NULL) {
		cl = xcalloc(1, sizeof(*cl));
		str_copy(cl->ip, sizeof(cl->ip), c->ip);
		hmap_put(g->clients, cl->ip, cl);
	}
	cl->n++;
	g->n++;
	c->counted = 1;
	if (c->state == C_WRITING)	/* answered already: let it be */
		return;
	if (cl->n > CONN_PER_CLIENT && !proxy(c->ip)) {
		log_info("event=web-connection-refused visitor=%s "
		    "reason=per-client connections=%u", c->ip, cl->n);
		answer(c, 429, "Too Many Requests", "Too many connections "
		    "from your address.\n");
		return;
	}
	if (g->n > CONN_MAX && evict(g, c) == -1) {
		log_info("event=web-connection-refused visitor=%s "
		    "reason=total connections=%u", c->ip, g->n);
		answer(c, 503, "Service Unavailable", "The service is busy; "
		    "try again in a moment.\n");
	}
}

/* make_bev - evhttp's bevcb: a new connection's bufferevent, watched */
static struct bufferevent *
make_bev(struct event_base *base, void *arg)
{
	struct conns *g = arg;
	struct conn *c = xcalloc(1, sizeof(*c));

	c->g = g;
	if ((c->bev = bufferevent_socket_new(base, -1,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		free(c);
		return NULL;	/* evhttp makes one itself */
	}
	bufferevent_incref(c->bev);	/* until setup_cb has looked */
	c->ref = 1;
	c->in_cb = evbuffer_add_cb(bufferevent_get_input(c->bev), in_cb, c);
	c->out_cb = evbuffer_add_cb(bufferevent_get_output(c->bev), out_cb,
	    c);
	c->setup = event_new(base, -1, 0, setup_cb, c);
	c->deadline = evtimer_new(base, deadline_cb, c);
	c->state = C_IDLE;
	c->since = now_ms();
	TAILQ_INSERT_TAIL(&g->all, c, entry);
	/*
	 * Active now, so it runs once evhttp has set the connection up,
	 * before the loop polls again (no byte is read before it), and in
	 * the order the connections were accepted.
	 */
	event_active(c->setup, EV_TIMEOUT, 0);
	return c->bev;
}

/*
 * conns_new - watch http's connections; headers ("Name: value\r\n"
 * lines) go on every reply evhttp or conn writes itself.
 */
struct conns *
conns_new(struct event_base *base, struct evhttp *http, const char *headers)
{
	struct conns *g = xcalloc(1, sizeof(*g));

	g->base = base;
	g->http = http;
	g->headers = xstrdup(headers);
	g->clients = hmap_new();
	TAILQ_INIT(&g->all);
	evhttp_set_bevcb(http, make_bev, g);
	return g;
}

/*
 * conns_free - after evhttp_free (which closed every connection it
 * knew): what is left had not been set up yet.
 */
void
conns_free(struct conns *g)
{
	size_t pos = 0;
	const char *k;
	void *v;

	if (g == NULL)
		return;
	while (!TAILQ_EMPTY(&g->all))
		drop(TAILQ_FIRST(&g->all));
	while (hmap_iter(g->clients, &pos, &k, &v))
		free(v);
	hmap_free(g->clients);
	free(g->headers);
	free(g);
}

/* conns_request - r arrived whole and is being answered: no deadline */
void
conns_request(struct conns *g, struct evhttp_request *r)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(
	    evhttp_request_get_connection(r));
	struct conn *c;

	TAILQ_FOREACH(c, &g->all, entry)
		if (c->bev == bev) {
			set_state(c, C_WRITING);
			return;
		}
}

/* conns_replying - on: the reply being written is ours (has headers) */
void
conns_replying(struct conns *g, int on)
{
	g->replying = on;
}

/* conns_count - connections open now */
unsigned
conns_count(const struct conns *g)
{
	return g->n;
}

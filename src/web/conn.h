/*
 * conn - the web tester's HTTP connections, around evhttp: how many one
 * client and all clients may hold, how long a request may take to arrive
 * (then 408), and the security headers on the error replies evhttp
 * writes by itself (400, 413, 501).
 *
 * evhttp (libevent 2.1) has no hook for any of these; conn uses the ones
 * it has. It makes each connection's bufferevent (evhttp_set_bevcb), so it
 * can watch the bytes coming in and going out (evbuffer callbacks); it
 * learns the evhttp connection from that bufferevent's callback argument
 * (evhttp sets it to the connection) right after the accept, and
 * evhttp's close callback tells it of the end. Its own replies (408, 429,
 * 503) are written straight to the socket, then the connection is freed:
 * only from conn's own timers and events, never inside evhttp's callbacks.
 *
 * Limits (fixed; documented in sluice-web(1)):
 *   CONN_MAX          connections in all; at the limit a new connection
 *                     makes room by closing the one that has waited
 *                     longest for a request to be complete (an idle
 *                     keep-alive one silently, one with half a request
 *                     with 408); if every one is being answered, the new
 *                     one gets 503
 *   CONN_PER_CLIENT   connections per client address; more get 429 and
 *                     are closed. 127.0.0.1 and ::1 (the reverse proxy,
 *                     whose X-Forwarded-For is trusted) are not limited.
 *   REQUEST_SECS      from a request's first byte to its last; then 408
 *                     and the connection is closed
 * A connection with no byte of a request waits evhttp's idle timeout.
 */
#ifndef SLUICE_CONN_H
#define SLUICE_CONN_H

#define CONN_MAX	512
#define CONN_PER_CLIENT	32
#define REQUEST_SECS	10

struct event_base;
struct evhttp;
struct evhttp_request;
struct conns;

struct conns *conns_new(struct event_base *base, struct evhttp *http,
	    const char *headers);
void	conns_free(struct conns *g);
void	conns_request(struct conns *g, struct evhttp_request *r);
void	conns_replying(struct conns *g, int on);
unsigned conns_count(const struct conns *g);

#endif

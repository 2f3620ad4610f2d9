#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "server/metrics.h"
#include "server/server.h"
#include "util/buf.h"
#include "util/str.h"
#include "util/xalloc.h"

struct metrics {
	struct evhttp	*http;
	struct server	*srv;
};

/* handle - /metrics, or 404 */
static void
handle(struct evhttp_request *req, void *arg)
{
	struct metrics *m = arg;
	struct evbuffer *out;
	struct buf b;
	const char *uri = evhttp_request_get_uri(req);

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET ||
	    uri == NULL || (strcmp(uri, "/metrics") != 0 &&
	    strncmp(uri, "/metrics?", 9) != 0)) {
		evhttp_send_error(req, HTTP_NOTFOUND, "only GET /metrics");
		return;
	}
	buf_init(&b, 16 * 1024 * 1024);
	stats_prometheus(m->srv, &b);
	out = evbuffer_new();
	evbuffer_add(out, b.data, b.len);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, HTTP_OK, "OK", out);
	evbuffer_free(out);
	buf_release(&b);
}

/*
 * metrics_parse_listen - "ADDR:PORT" or "[ADDR]:PORT" with a loopback
 * ADDR (127.0.0.0/8, ::1): the counters are nobody else's business, and
 * the endpoint has no TLS or login. 0, or -1 with err.
 */
int
metrics_parse_listen(const char *listen, char *host, size_t hostsize,
    unsigned *port, char *err, size_t errsize)
{
	const char *colon = strrchr(listen, ':');
	unsigned char ip[16];
	uint64_t v;
	size_t n;

	if (colon == NULL || (n = (size_t)(colon - listen)) >= hostsize ||
	    str_parse_u64(colon + 1, 1, 65535, &v) == -1) {
		snprintf(err, errsize, "metrics.listen: want ADDR:PORT, not "
		    "\"%s\"", listen);
		return -1;
	}
	*port = (unsigned)v;
	if (n >= 2 && listen[0] == '[' && listen[n - 1] == ']')
		str_ncopy(host, hostsize, listen + 1, n - 2);
	else
		str_ncopy(host, hostsize, listen, n);
	if (!(inet_pton(AF_INET, host, ip) == 1 && ip[0] == 127) &&
	    !(inet_pton(AF_INET6, host, ip) == 1 &&
	    IN6_IS_ADDR_LOOPBACK((struct in6_addr *)(void *)ip))) {
		snprintf(err, errsize, "metrics.listen: \"%s\" is not a "
		    "loopback address (127.0.0.1, [::1]); the metrics have no "
		    "TLS or login: scrape them on this host, or through a "
		    "proxy or tunnel that has", listen);
		return -1;
	}
	return 0;
}

/* metrics_new - listen on "ADDR:PORT" (loopback); NULL with err */
struct metrics *
metrics_new(struct server *srv, const char *listen, char *err,
    size_t errsize)
{
	struct metrics *m;
	char host[128];
	unsigned port;

	if (metrics_parse_listen(listen, host, sizeof(host), &port, err,
	    errsize) == -1)
		return NULL;
	m = xcalloc(1, sizeof(*m));
	m->srv = srv;
	m->http = evhttp_new(srv->base);
	evhttp_set_timeout(m->http, 10);
	evhttp_set_max_headers_size(m->http, 8192);
	evhttp_set_max_body_size(m->http, 0);
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET);
	evhttp_set_gencb(m->http, handle, m);
	if (evhttp_bind_socket(m->http, host, (ev_uint16_t)port) != 0) {
		snprintf(err, errsize, "metrics.listen: cannot listen on %s",
		    listen);
		evhttp_free(m->http);
		free(m);
		return NULL;
	}
	return m;
}

/* metrics_free - stop serving */
void
metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	evhttp_free(m->http);
	free(m);
}

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "server/metrics.h"
#include "server/server.h"
#include "util/buf.h"
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

/* metrics_new - listen on "ADDR:PORT"; NULL with err */
struct metrics *
metrics_new(struct server *srv, const char *listen, char *err,
    size_t errsize)
{
	struct metrics *m = xcalloc(1, sizeof(*m));
	char host[128];
	const char *colon = strrchr(listen, ':');
	long port;

	if (colon == NULL || (size_t)(colon - listen) >= sizeof(host) ||
	    (port = strtol(colon + 1, NULL, 10)) <= 0 || port > 65535) {
		snprintf(err, errsize, "metrics.listen: want ADDR:PORT, not "
		    "\"%s\"", listen);
		free(m);
		return NULL;
	}
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';
	if (host[0] == '[') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
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

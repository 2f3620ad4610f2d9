/*
 * web.c - the `sluice web` service: web_main sets it up (the store, with
 * the reports a stop interrupted marked so; the resolver, TLS, the
 * catcher, the rate limits, evhttp and its connection limits, the
 * listening socket), runs the event loop until SIGTERM or SIGINT, and
 * tears it down. The jobs are job.c's, the requests route.c's.
 */
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <event2/http.h>

#include "conf/conf.h"
#include "net/dns.h"
#include "net/tls.h"
#include "policy/cidr.h"
#include "probe/catcher.h"
#include "util/hmap.h"
#include "util/json.h"
#include "util/log.h"
#include "util/str.h"
#include "web/conn.h"
#include "web/guard.h"
#include "web/store.h"
#include "web/web.h"
#include "web/web_int.h"

/* mark_interrupted - reports left running by a crash or stop */
static void
mark_interrupted(void *arg, const struct store_row *r)
{
	struct web *w = arg;
	char why[] = "The test was interrupted (the service restarted).";
	const char *hosts;
	struct store_row c;
	struct buf b;

	if (strcmp(r->status, "queued") != 0 &&
	    strcmp(r->status, "running") != 0)
		return;
	/* the pages and the API serve the JSON: new head, same hosts */
	hosts = strstr(r->json, ",\"hosts\":");
	buf_init(&b, 64 * 1024 * 1024);
	(void)buf_putc(&b, '{');
	json_kv_str(&b, 0, "id", r->id);
	json_kv_str(&b, 1, "target", r->target);
	json_kv_int(&b, 1, "port", r->port);
	json_kv_str(&b, 1, "mode", r->mode);
	json_kv_str(&b, 1, "status", "error");
	json_kv_int(&b, 1, "created", (long long)r->created);
	json_kv_int(&b, 1, "finished", (long long)time(NULL));
	json_kv_str(&b, 1, "verdict", "error");
	json_kv_str(&b, 1, "summary", why);
	json_kv_str(&b, 1, "error", why);
	json_kv_int(&b, 1, "queue_position", 0);
	(void)buf_puts(&b, hosts ? hosts : ",\"hosts\":[]}");
	c = *r;
	c.status = "error";
	c.verdict = "error";
	c.summary = why;
	c.finished = time(NULL);
	c.json = b.data;
	store_put(w->st, &c);
	buf_release(&b);
}

/* stop_cb - SIGTERM/SIGINT */
static void
stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct web *w = arg;

	(void)sig;
	(void)what;
	log_info("event=web-stopping");
	event_base_loopexit(w->base, NULL);
}

/* web_main - run the service until a signal; 0, or 1 on a startup error */
int
web_main(struct conf *cf)
{
	struct web w;
	struct event *sigs[2];
	struct rlimit rl;
	char err[512], host[128];
	const char *colon;
	long port;

	memset(&w, 0, sizeof(w));
	w.cf = cf;
	signal(SIGPIPE, SIG_IGN);
	/* room for CONN_MAX visitors besides the tests' own sockets */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096 &&
	    rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	w.base = event_base_new();
	if ((w.st = store_open(cf->web_database, err, sizeof(err))) == NULL ||
	    (w.dns = dns_new(w.base, cf->resolver, 5000, err,
	    sizeof(err))) == NULL || (w.ssl = tls_client_ctx(err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "sluice web: %s\n", err);
		return 1;
	}
	store_recent(w.st, 1000000, mark_interrupted, &w);
	if (cf->web_catcher[0] && (w.catcher = catcher_new(w.base,
	    cf->web_catcher, err, sizeof(err))) == NULL) {
		fprintf(stderr, "sluice web: %s\n", err);
		return 1;
	}
	if (w.catcher)
		catcher_on_token(w.catcher, job_on_token, &w);
	if (cf->web_source[0]) {
		unsigned char ip[16];
		int fam;

		if (cidr_parse_ip(cf->web_source, &fam, ip) == -1) {
			fprintf(stderr, "sluice web: web.source is not an "
			    "address\n");
			return 1;
		}
		w.source.ss_family = (sa_family_t)fam;
		if (fam == AF_INET) {
			memcpy(&((struct sockaddr_in *)&w.source)->sin_addr,
			    ip, 4);
			w.sourcelen = sizeof(struct sockaddr_in);
		} else {
			memcpy(&((struct sockaddr_in6 *)&w.source)->sin6_addr,
			    ip, 16);
			w.sourcelen = sizeof(struct sockaddr_in6);
		}
	}
	w.rl_ip = ratelimit_new(65536);
	w.rl_user = ratelimit_new(65536);
	w.rl_login = ratelimit_new(65536);
	w.live = hmap_new();
	w.http = evhttp_new(w.base);
	evhttp_set_timeout(w.http, 30);
	evhttp_set_max_headers_size(w.http, 16384);
	evhttp_set_max_body_size(w.http, BODY_MAX);
	evhttp_set_allowed_methods(w.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT |
	    EVHTTP_REQ_PATCH);
	evhttp_set_gencb(w.http, route_request, &w);
	{
		struct buf hb;

		buf_init(&hb, 4096);
		req_secure_lines(&hb);
		w.conns = conns_new(w.base, w.http, buf_cstr(&hb));
		buf_release(&hb);
	}
	colon = strrchr(cf->web_listen, ':');
	if (colon == NULL || (size_t)(colon - cf->web_listen) >= sizeof(host) ||
	    (port = strtol(colon + 1, NULL, 10)) <= 0 || port > 65535) {
		fprintf(stderr, "sluice web: web.listen: want ADDR:PORT\n");
		return 1;
	}
	str_ncopy(host, sizeof(host), cf->web_listen,
	    (size_t)(colon - cf->web_listen));
	if (host[0] == '[') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	if (evhttp_bind_socket(w.http, host, (ev_uint16_t)port) != 0) {
		fprintf(stderr, "sluice web: cannot listen on %s\n",
		    cf->web_listen);
		return 1;
	}
	sigs[0] = evsignal_new(w.base, SIGTERM, stop_cb, &w);
	sigs[1] = evsignal_new(w.base, SIGINT, stop_cb, &w);
	event_add(sigs[0], NULL);
	event_add(sigs[1], NULL);
	log_info("event=web-started listen=%s database=%s delivery=%s "
	    "allow_private=%s", cf->web_listen, cf->web_database,
	    w.catcher && cf->web_test_domain[0] ? "on" : "off",
	    cf->web_allow_private ? "yes" : "no");
	event_base_dispatch(w.base);
	/*
	 * Tests under way are marked interrupted next start. Stop their
	 * probes and the resolver first, and let the loop run what that
	 * cancelled (callbacks see w.stopping; pending free_job events
	 * free their jobs), then free the jobs that are left.
	 */
	w.stopping = 1;
	job_stop_all(&w);
	evhttp_free(w.http);
	conns_free(w.conns);
	catcher_free(w.catcher);
	dns_free(w.dns);
	event_base_loop(w.base, EVLOOP_NONBLOCK);
	job_free_all(&w);
	hmap_free(w.live);
	event_free(sigs[0]);
	event_free(sigs[1]);
	ratelimit_free(w.rl_ip);
	ratelimit_free(w.rl_user);
	ratelimit_free(w.rl_login);
	SSL_CTX_free(w.ssl);
	store_close(w.st);
	event_base_free(w.base);
	return 0;
}

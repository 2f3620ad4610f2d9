/*
 * route.c - what each address of `sluice web` answers: the home page and
 * its form, reports (page, live fragment, JSON), a target's history, the
 * API, sign-in and sign-out. A submitted target is checked here and the
 * limits applied (a recent report reused, rate limits, the queue bound)
 * before job.c queues the test.
 */
#include <sys/queue.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "conf/conf.h"
#include "server/passwd.h"
#include "smtp/addr.h"
#include "util/json.h"
#include "util/jsonp.h"
#include "util/log.h"
#include "util/str.h"
#include "web/conn.h"
#include "web/guard.h"
#include "web/html.h"
#include "web/pages.h"
#include "web/store.h"
#include "web/web_int.h"

#define TARGET_SIZE	256		/* a target's buffer, NUL included */
#define SESSION_TTL	(12 * 3600)

/*
 * check_target - a host name, an IP address or a mail domain; -1 with
 * why. Nothing else (no URLs, no ports inside, no spaces) gets through.
 * t is rewritten in its one form, the key of web.target_cache and of the
 * history: lower case, no trailing dot, an address as guard_canon_ip
 * writes it (::ffff:127.0.0.1 is 127.0.0.1; [::1] is ::1).
 */
static int
check_target(char *t, size_t tsize, char *why, size_t whysize)
{
	size_t n = strlen(t);
	char ip[64];

	while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '.'))
		t[--n] = '\0';
	while (*t == ' ')
		memmove(t, t + 1, n--);
	if (n > 2 && t[0] == '[' && t[n - 1] == ']') {
		t[--n] = '\0';
		memmove(t, t + 1, n--);
	}
	str_lower(t);
	if (n == 0 || n > 253) {
		snprintf(why, whysize, "enter a host name, address or domain");
		return -1;
	}
	if (guard_canon_ip(t, ip, sizeof(ip)) == 0)
		return str_copy(t, tsize, ip) == 0 ? 0 : -1;
	if (!addr_parse_domain(t, n) || strchr(t, '.') == NULL) {
		snprintf(why, whysize, "not a valid host name, address or "
		    "domain");
		return -1;
	}
	return 0;
}

/* cached - a recent report of the same test, to reuse; or NULL id */
struct find {
	const char	*mode;
	unsigned	 port;
	time_t		 since;
	char		 id[24];
};

static void
find_cb(void *arg, const struct store_row *r)
{
	struct find *f = arg;

	if (f->id[0] == '\0' && r->created >= f->since &&
	    (unsigned)r->port == f->port && strcmp(r->mode, f->mode) == 0 &&
	    strcmp(r->status, "error") != 0)
		str_copy(f->id, sizeof(f->id), r->id);
}

/*
 * submit - start (or reuse) a test. Returns the report id in id, or -1
 * with an HTTP code and a message.
 */
static int
submit(struct req *q, char *target, unsigned port, int delivery, char *id,
    size_t idsize, int *code, char *msg, size_t msgsize)
{
	struct web *w = q->w;
	struct find f;
	time_t now = time(NULL), retry;
	char key[128];

	if (check_target(target, TARGET_SIZE, msg, msgsize) == -1) {
		*code = 400;
		return -1;
	}
	if (port != 25 && port != 587 && port != 465 &&
	    !w->cf->web_allow_private) {
		/* the lab option also allows the test servers' odd ports */
		*code = 400;
		snprintf(msg, msgsize, "the port must be 25, 587 or 465");
		return -1;
	}
	if (delivery && (!w->cf->web_test_domain[0] || w->catcher == NULL)) {
		*code = 400;
		snprintf(msg, msgsize, "delivery mode is not enabled here");
		return -1;
	}
	if (delivery && q->user[0] == '\0') {
		*code = 403;
		snprintf(msg, msgsize, "delivery mode is for signed-in users");
		return -1;
	}
	memset(&f, 0, sizeof(f));
	f.mode = delivery ? "delivery" : "anonymous";
	f.port = port;
	f.since = now - (time_t)w->cf->web_target_cache;
	if (w->cf->web_target_cache > 0 &&
	    store_history(w->st, target, 10, find_cb, &f) >= 0 && f.id[0]) {
		str_copy(id, idsize, f.id);
		return 0;	/* tested a moment ago: that report */
	}
	snprintf(key, sizeof(key), "ip:%s", q->ip);
	if (!ratelimit_take(w->rl_ip, key, (unsigned)w->cf->web_per_ip, 3600,
	    now, &retry)) {
		*code = 429;
		snprintf(msg, msgsize, "too many tests from your address; try "
		    "again in %lld minutes", (long long)(retry - now + 59) / 60);
		return -1;
	}
	if (delivery) {
		snprintf(key, sizeof(key), "user:%s", q->user);
		if (!ratelimit_take(w->rl_user, key,
		    (unsigned)w->cf->web_per_user, 86400, now, &retry)) {
			*code = 429;
			snprintf(msg, msgsize, "your account's delivery tests "
			    "for today are used up");
			return -1;
		}
	}
	if (w->queued >= w->cf->web_queue_max &&
	    w->running >= w->cf->web_concurrency) {
		*code = 429;
		snprintf(msg, msgsize, "the tester is busy; try again in a few "
		    "minutes");
		return -1;
	}
	job_enqueue(w, target, port, delivery, q->user, q->ip, now, id,
	    idsize);
	return 0;
}

/* get_report - /r/ID (page or fragment) and /api/tests/ID */
static void
get_report(struct req *q, const char *id, int api, int fragment)
{
	struct buf b, page;
	struct jval *v;
	int running;

	if (!req_hex_token(id)) {
		if (api)
			req_json_error(q, 404, "Not Found", "no such report");
		else
			req_message(q, 404, "Not Found", "No such report",
			    "That report does not exist.");
		return;
	}
	buf_init(&b, 64 * 1024 * 1024);
	if (job_report_json(q->w, id, &b) == -1) {
		if (api)
			req_json_error(q, 404, "Not Found", "no such report");
		else
			req_message(q, 404, "Not Found", "No such report",
			    "That report does not exist.");
		buf_release(&b);
		return;
	}
	if (api) {
		req_json(q, 200, "OK", &b);
		buf_release(&b);
		return;
	}
	v = jsonp_parse(b.data, b.len);
	buf_init(&page, 64 * 1024 * 1024);
	if (v != NULL)
		page_report(&page, v);
	running = v && (strcmp(jsonp_str(v, "status"), "queued") == 0 ||
	    strcmp(jsonp_str(v, "status"), "running") == 0);
	if (fragment)
		req_send(q, 200, "OK", "text/html; charset=utf-8", &page);
	else
		req_page(q, 200, "OK", v ? jsonp_str(v, "target") : "report",
		    &page, running);
	jsonp_free(v);
	buf_release(&page);
	buf_release(&b);
}

/* history_row - one line of the history table */
static void
history_row(void *arg, const struct store_row *r)
{
	char when[64];
	struct tm tm;

	gmtime_r(&r->created, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
	page_row(arg, r->id, r->target, r->mode, r->status, r->verdict, when);
}

/* get_home - the form and the latest reports */
static void
get_home(struct req *q, const char *error, const char *target, int code)
{
	struct buf b;

	buf_init(&b, 1024 * 1024);
	page_form(&b, q->csrf, q->user[0] != '\0',
	    q->w->cf->web_test_domain[0] && q->w->catcher != NULL, error,
	    target);
	(void)buf_puts(&b, "<h2>Recent tests</h2><table><thead><tr><th>Target"
	    "</th><th>Mode</th><th>Verdict</th><th>When</th></tr></thead>"
	    "<tbody>");
	store_recent(q->w->st, 15, history_row, &b);
	(void)buf_puts(&b, "</tbody></table>");
	req_page(q, code, code == 200 ? "OK" : "Bad Request", "Relay test",
	    &b, 0);
	buf_release(&b);
}

/* get_history - /history?target=NAME */
static void
get_history(struct req *q, const struct evkeyvalq *qs)
{
	const char *t = evhttp_find_header(qs, "target");
	char target[256], why[128];
	struct buf b;
	struct tvar v[] = { { "t", target, 255 } };

	if (t == NULL || str_copy(target, sizeof(target), t) == -1 ||
	    check_target(target, sizeof(target), why, sizeof(why)) == -1) {
		req_message(q, 400, "Bad Request", "Bad target",
		    "Give a host name, address or domain.");
		return;
	}
	buf_init(&b, 1024 * 1024);
	html_render(&b, "<h1>Tests of {{t}}</h1><table><thead><tr><th>Target"
	    "</th><th>Mode</th><th>Verdict</th><th>When</th></tr></thead>"
	    "<tbody>", v, 1);
	store_history(q->w->st, target, 100, history_row, &b);
	(void)buf_puts(&b, "</tbody></table>");
	req_page(q, 200, "OK", target, &b, 0);
	buf_release(&b);
}

/* post_test - the form: CSRF, then submit and go to the report */
static void
post_test(struct req *q)
{
	struct evkeyvalq kv;
	const char *t, *p, *m;
	char target[256], id[24], msg[300], where[64];
	int code;
	uint64_t port;

	TAILQ_INIT(&kv);
	if (req_form(q->r, &kv) == -1) {
		req_message(q, 400, "Bad Request", "Bad form",
		    "The form could not be read.");
		return;
	}
	if (!req_csrf_ok(q, evhttp_find_header(&kv, "csrf"))) {
		evhttp_clear_headers(&kv);
		req_message(q, 403, "Forbidden", "Form expired",
		    "This form was not sent from our page (CSRF check "
		    "failed). Reload the page and try again.");
		return;
	}
	t = evhttp_find_header(&kv, "target");
	p = evhttp_find_header(&kv, "port");
	m = evhttp_find_header(&kv, "mode");
	if (t == NULL || str_copy(target, sizeof(target), t) == -1 ||
	    (p && str_parse_u64(p, 1, 65535, &port) == -1)) {
		evhttp_clear_headers(&kv);
		get_home(q, "enter a host name, address or domain, and a port",
		    NULL, 400);
		return;
	}
	if (p == NULL)
		port = 25;
	if (submit(q, target, (unsigned)port, m && strcmp(m, "delivery") == 0,
	    id, sizeof(id), &code, msg, sizeof(msg)) == -1) {
		evhttp_clear_headers(&kv);
		if (code == 429)
			req_message(q, 429, "Too Many Requests", "Please wait",
			    msg);
		else
			get_home(q, msg, target, code);
		return;
	}
	evhttp_clear_headers(&kv);
	snprintf(where, sizeof(where), "/r/%s", id);
	req_redirect(q, where);
}

/* media_is - the Content-Type header names media type t (any params) */
static int
media_is(const char *ctype, const char *t)
{
	size_t n = strlen(t);

	if (ctype == NULL)
		return 0;
	while (*ctype == ' ')
		ctype++;
	return strncasecmp(ctype, t, n) == 0 && (ctype[n] == '\0' ||
	    ctype[n] == ';' || ctype[n] == ' ');
}

/*
 * post_api - POST /api/tests: a JSON object (Content-Type
 * application/json, which no other site's page can send without a CORS
 * preflight, and we answer none), or form fields with the CSRF token
 * (field csrf or header X-CSRF-Token): else any site could make its
 * visitors' browsers start tests on their behalf.
 */
static void
post_api(struct req *q)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(q->r);
	struct evkeyvalq *ih = evhttp_request_get_input_headers(q->r);
	size_t n = evbuffer_get_length(in);
	char body[BODY_MAX + 1], target[TARGET_SIZE], id[24], msg[300],
	    url[64];
	const char *mode = "anonymous", *hdr, *ctype;
	unsigned port = 25;
	struct buf b;
	int code, token;

	if (n > BODY_MAX) {
		req_json_error(q, 413, "Payload Too Large", "body too large");
		return;
	}
	evbuffer_copyout(in, body, n);
	body[n] = '\0';
	target[0] = '\0';
	hdr = evhttp_find_header(ih, "X-CSRF-Token");
	token = req_csrf_ok(q, hdr);
	ctype = evhttp_find_header(ih, "Content-Type");
	if (!media_is(ctype, "application/json") &&
	    !media_is(ctype, "application/x-www-form-urlencoded")) {
		req_json_error(q, 415, "Unsupported Media Type", "send a JSON "
		    "object (Content-Type: application/json), or form fields "
		    "with the CSRF token");
		return;
	}
	if (media_is(ctype, "application/json")) {
		struct jval *v = jsonp_parse(body, n);
		const struct jval *pv;
		double pn;

		if (v == NULL) {
			req_json_error(q, 400, "Bad Request", "not JSON");
			return;
		}
		pv = jsonp_get(v, "port");
		pn = jsonp_num(v, "port");

		str_copy(target, sizeof(target), jsonp_str(v, "target"));
		if (pv != NULL && (pv->type != J_NUM || pn < 1 || pn > 65535 ||
		    pn != (double)(unsigned)pn)) {
			jsonp_free(v);
			req_json_error(q, 400, "Bad Request", "the port must "
			    "be a number from 1 to 65535");
			return;
		}
		if (pv != NULL)
			port = (unsigned)pn;
		mode = strcmp(jsonp_str(v, "mode"), "delivery") == 0 ?
		    "delivery" : "anonymous";
		jsonp_free(v);
	} else {
		struct evkeyvalq kv;
		const char *t, *p, *m;
		uint64_t pp;

		TAILQ_INIT(&kv);
		if (evhttp_parse_query_str(body, &kv) == -1) {
			req_json_error(q, 400, "Bad Request", "bad form");
			return;
		}
		if (!token && !(token = req_csrf_ok(q, evhttp_find_header(&kv,
		    "csrf")))) {
			evhttp_clear_headers(&kv);
			req_json_error(q, 403, "Forbidden", "a form needs the "
			    "CSRF token (field csrf or header X-CSRF-Token); "
			    "or send JSON (Content-Type: application/json)");
			return;
		}
		if ((t = evhttp_find_header(&kv, "target")) != NULL)
			str_copy(target, sizeof(target), t);
		if ((p = evhttp_find_header(&kv, "port")) != NULL) {
			if (str_parse_u64(p, 1, 65535, &pp) == -1) {
				evhttp_clear_headers(&kv);
				req_json_error(q, 400, "Bad Request",
				    "the port must be a number from 1 to "
				    "65535");
				return;
			}
			port = (unsigned)pp;
		}
		m = evhttp_find_header(&kv, "mode");
		mode = m && strcmp(m, "delivery") == 0 ? "delivery" :
		    "anonymous";
		evhttp_clear_headers(&kv);
	}
	/* delivery through the API needs the session and its CSRF token */
	if (strcmp(mode, "delivery") == 0 && !token) {
		req_json_error(q, 403, "Forbidden", "delivery mode needs a "
		    "signed-in session and its X-CSRF-Token header");
		return;
	}
	if (submit(q, target, port, strcmp(mode, "delivery") == 0, id,
	    sizeof(id), &code, msg, sizeof(msg)) == -1) {
		req_json_error(q, code, code == 429 ? "Too Many Requests" :
		    code == 403 ? "Forbidden" : "Bad Request", msg);
		return;
	}
	buf_init(&b, 4096);
	snprintf(url, sizeof(url), "/r/%s", id);
	(void)buf_putc(&b, '{');
	json_kv_str(&b, 0, "id", id);
	json_kv_str(&b, 1, "url", url);
	(void)buf_puts(&b, ",\"json\":");
	snprintf(url, sizeof(url), "/api/tests/%s", id);
	json_str(&b, url);
	(void)buf_putc(&b, '}');
	req_json(q, 202, "Accepted", &b);
	buf_release(&b);
}

/* login - POST /login: password check (rate-limited), then a session */
static void
post_login(struct req *q)
{
	struct evkeyvalq kv;
	const char *u, *pw;
	char *hash, token[40], csrf[40], ck[200], user[64];
	time_t now = time(NULL), retry;
	char key[96];
	struct buf b;
	int ok;

	TAILQ_INIT(&kv);
	if (req_form(q->r, &kv) == -1 || !req_csrf_ok(q, evhttp_find_header(&kv,
	    "csrf"))) {
		evhttp_clear_headers(&kv);
		req_message(q, 403, "Forbidden", "Form expired",
		    "The CSRF check failed. Reload the sign-in page and try "
		    "again.");
		return;
	}
	snprintf(key, sizeof(key), "login:%s", q->ip);
	if (!ratelimit_take(q->w->rl_login, key, 10, 900, now, &retry)) {
		evhttp_clear_headers(&kv);
		req_message(q, 429, "Too Many Requests", "Please wait",
		    "Too many sign-in attempts from your address.");
		return;
	}
	u = evhttp_find_header(&kv, "user");
	pw = evhttp_find_header(&kv, "password");
	ok = u && pw && str_copy(user, sizeof(user), u) == 0 &&
	    (hash = store_user_hash(q->w->st, user)) != NULL;
	if (ok) {
		ok = passwd_verify(hash, pw);
		free(hash);
	}
	evhttp_clear_headers(&kv);
	if (!ok) {
		buf_init(&b, 65536);
		page_login(&b, q->csrf, "wrong user name or password");
		req_page(q, 403, "Forbidden", "Sign in", &b, 0);
		buf_release(&b);
		log_info("event=web-login-failure visitor=%s", q->ip);
		return;
	}
	snprintf(token, sizeof(token), "%08x%08x%08x%08x", arc4random(),
	    arc4random(), arc4random(), arc4random());
	snprintf(csrf, sizeof(csrf), "%08x%08x", arc4random(), arc4random());
	store_session_put(q->w->st, token, user, csrf, now + SESSION_TTL);
	snprintf(ck, sizeof(ck), "sluice_session=%s; Path=/; HttpOnly; "
	    "SameSite=Strict; Max-Age=%d%s", token, SESSION_TTL,
	    q->https || q->w->cf->web_secure_cookies ? "; Secure" : "");
	evhttp_add_header(evhttp_request_get_output_headers(q->r),
	    "Set-Cookie", ck);
	log_info("event=web-login user=%s visitor=%s", user, q->ip);
	req_redirect(q, "/");
}

/* post_logout - forget the session */
static void
post_logout(struct req *q)
{
	struct evkeyvalq kv;
	char sess[80];

	TAILQ_INIT(&kv);
	if (req_form(q->r, &kv) == -1 || !req_csrf_ok(q, evhttp_find_header(&kv,
	    "csrf"))) {
		evhttp_clear_headers(&kv);
		req_message(q, 403, "Forbidden", "Form expired",
		    "The CSRF check failed.");
		return;
	}
	evhttp_clear_headers(&kv);
	if (req_cookie(q->r, "sluice_session", sess, sizeof(sess)) == 0)
		store_session_del(q->w->st, sess);
	evhttp_add_header(evhttp_request_get_output_headers(q->r),
	    "Set-Cookie", "sluice_session=; Path=/; HttpOnly; "
	    "SameSite=Strict; Max-Age=0");
	req_redirect(q, "/");
}

/* api_help - what the API takes */
static void
api_help(struct req *q)
{
	struct buf b;

	buf_init(&b, 8192);
	(void)buf_puts(&b, "<h1>API</h1><p><code>POST /api/tests</code> with "
	    "a JSON object <code>{\"target\": \"mx.example.com\", \"port\": 25, "
	    "\"mode\": \"anonymous\"}</code> sent as <code>Content-Type: "
	    "application/json</code> (or the same as form fields, with the "
	    "CSRF token in the field <code>csrf</code> or the header "
	    "<code>X-CSRF-Token</code>) answers <code>202</code> and "
	    "<code>{\"id\", \"url\", \"json\"}</code>. <code>GET "
	    "/api/tests/ID</code> is the report as JSON; its <code>status"
	    "</code> is queued, running, done or error. Delivery mode needs a "
	    "signed-in session and its <code>X-CSRF-Token</code> header. The "
	    "limits of the form apply (429 when exceeded). See sluice-web(1)."
	    "</p>");
	req_page(q, 200, "OK", "API", &b, 0);
	buf_release(&b);
}

/* route_request - every request */
void
route_request(struct evhttp_request *r, void *arg)
{
	struct web *w = arg;
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(r);
	const char *path = u ? evhttp_uri_get_path(u) : NULL,
	    *query = u ? evhttp_uri_get_query(u) : NULL;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(r);
	struct evkeyvalq qs;
	struct req q;

	conns_request(w->conns, r);
	/* HEAD is answered as GET (evhttp sends the headers only) */
	if (cmd == EVHTTP_REQ_HEAD)
		cmd = EVHTTP_REQ_GET;
	req_begin(w, r, &q);
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_POST) {
		/* evhttp lets every method through, so that this 405 (not
		 * its own 501) carries the security headers; no CORS */
		evhttp_add_header(evhttp_request_get_output_headers(r),
		    "Allow", "GET, HEAD, POST");
		req_message(&q, 405, "Method Not Allowed", "Method not allowed",
		    "This page takes GET and POST only.");
		return;
	}
	TAILQ_INIT(&qs);
	if (query && evhttp_parse_query_str(query, &qs) == -1) {
		req_message(&q, 400, "Bad Request", "Bad request",
		    "The address could not be read.");
		return;
	}
	if (path == NULL || strlen(path) > 200) {
		req_message(&q, 404, "Not Found", "Not found", "No such page.");
	} else if (cmd == EVHTTP_REQ_GET && strcmp(path, "/") == 0) {
		get_home(&q, NULL, NULL, 200);
	} else if (cmd == EVHTTP_REQ_GET && strcmp(path,
	    "/static/style.css") == 0) {
		struct buf b = { (char *)style_css, strlen(style_css), 0,
		    0 };

		req_send(&q, 200, "OK", "text/css; charset=utf-8", &b);
	} else if (cmd == EVHTTP_REQ_GET && strcmp(path,
	    "/static/app.js") == 0) {
		struct buf b = { (char *)app_js, strlen(app_js), 0, 0 };

		req_send(&q, 200, "OK", "text/javascript; charset=utf-8", &b);
	} else if (cmd == EVHTTP_REQ_POST && strcmp(path, "/test") == 0) {
		post_test(&q);
	} else if (cmd == EVHTTP_REQ_GET && strncmp(path, "/r/", 3) == 0) {
		get_report(&q, path + 3, 0,
		    evhttp_find_header(&qs, "fragment") != NULL);
	} else if (cmd == EVHTTP_REQ_GET && strncmp(path, "/api/tests/",
	    11) == 0) {
		get_report(&q, path + 11, 1, 0);
	} else if (cmd == EVHTTP_REQ_POST && strcmp(path, "/api/tests") == 0) {
		post_api(&q);
	} else if (cmd == EVHTTP_REQ_GET && strcmp(path, "/api/help") == 0) {
		api_help(&q);
	} else if (cmd == EVHTTP_REQ_GET && strcmp(path, "/history") == 0) {
		get_history(&q, &qs);
	} else if (cmd == EVHTTP_REQ_GET && strcmp(path, "/login") == 0) {
		struct buf b;

		buf_init(&b, 65536);
		page_login(&b, q.csrf, NULL);
		req_page(&q, 200, "OK", "Sign in", &b, 0);
		buf_release(&b);
	} else if (cmd == EVHTTP_REQ_POST && strcmp(path, "/login") == 0) {
		post_login(&q);
	} else if (cmd == EVHTTP_REQ_POST && strcmp(path, "/logout") == 0) {
		post_logout(&q);
	} else
		req_message(&q, 404, "Not Found", "Not found", "No such page.");
	evhttp_clear_headers(&qs);
}

/*
 * req.c - one HTTP request to `sluice web`: who asks (the address, behind
 * a reverse proxy on loopback the one it forwards; the session; the CSRF
 * cookie, issued on first sight), reading a form, the CSRF check, and the
 * replies (pages, JSON, redirects), each with the security headers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "conf/conf.h"
#include "policy/cidr.h"
#include "util/json.h"
#include "util/str.h"
#include "util/xalloc.h"
#include "web/conn.h"
#include "web/pages.h"
#include "web/store.h"
#include "web/web_int.h"

#define CSP		"default-src 'none'; script-src 'self'; " \
			"style-src 'self'; img-src 'self'; connect-src 'self'; " \
			"form-action 'self'; frame-ancestors 'none'; " \
			"base-uri 'none'"

/* on every reply, ours and evhttp's own error pages (conn.h) */
static const struct {
	const char *name, *value;
} secure[] = {
	{ "Content-Security-Policy", CSP },
	{ "X-Content-Type-Options", "nosniff" },
	{ "X-Frame-Options", "DENY" },
	{ "Referrer-Policy", "no-referrer" },
	{ "Cache-Control", "no-store" },
};

/* req_cookie - the value of a cookie in the request, into dst; 0 or -1 */
int
req_cookie(struct evhttp_request *r, const char *name, char *dst,
    size_t dstsize)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(r),
	    "Cookie"), *p;
	size_t n = strlen(name);

	for (p = h; p && *p;) {
		while (*p == ' ' || *p == ';')
			p++;
		if (strncmp(p, name, n) == 0 && p[n] == '=') {
			size_t len = strcspn(p + n + 1, ";");

			return str_ncopy(dst, dstsize, p + n + 1, len);
		}
		p = strchr(p, ';');
	}
	return -1;
}

/* req_hex_token - only [0-9a-f], 8..64 long (cookies we issued) */
int
req_hex_token(const char *s)
{
	size_t n = strlen(s), i;

	if (n < 8 || n > 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* req_begin - who is asking: address, session, CSRF cookie */
void
req_begin(struct web *w, struct evhttp_request *r, struct req *q)
{
	struct evhttp_connection *c = evhttp_request_get_connection(r);
	const char *xff = evhttp_find_header(evhttp_request_get_input_headers(r),
	    "X-Forwarded-For"), *proto = evhttp_find_header(
	    evhttp_request_get_input_headers(r), "X-Forwarded-Proto");
	char *peer = NULL, sess[80], csrf[40];
	ev_uint16_t port;

	memset(q, 0, sizeof(*q));
	q->w = w;
	q->r = r;
	evhttp_connection_get_peer(c, &peer, &port);
	str_copy(q->ip, sizeof(q->ip), peer ? peer : "?");
	/* behind a reverse proxy on loopback, the client is in X-F-F */
	if (xff && (strcmp(q->ip, "127.0.0.1") == 0 ||
	    strcmp(q->ip, "::1") == 0)) {
		const char *last = strrchr(xff, ',');
		char ip[64];
		unsigned char b[16];
		int fam;

		last = last ? last + 1 : xff;
		while (*last == ' ')
			last++;
		if (str_copy(ip, sizeof(ip), last) == 0 &&
		    cidr_parse_ip(ip, &fam, b) == 0)
			str_copy(q->ip, sizeof(q->ip), ip);
		q->https = proto && strcmp(proto, "https") == 0;
	}
	if (req_cookie(r, "sluice_session", sess, sizeof(sess)) == 0 &&
	    req_hex_token(sess)) {
		char user[64], scsrf[40];

		if (store_session_get(w->st, sess, time(NULL), user,
		    sizeof(user), scsrf, sizeof(scsrf)) == 0)
			str_copy(q->user, sizeof(q->user), user);
	}
	if (req_cookie(r, "sluice_csrf", csrf, sizeof(csrf)) == 0 &&
	    req_hex_token(csrf))
		str_copy(q->csrf, sizeof(q->csrf), csrf);
	else {
		snprintf(q->csrf, sizeof(q->csrf), "%08x%08x%08x%08x",
		    arc4random(), arc4random(), arc4random(), arc4random());
		q->new_csrf = 1;
	}
}

/* headers - security headers on every answer */
static void
headers(struct req *q, const char *type)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(q->r);
	char ck[160];
	size_t i;

	evhttp_add_header(h, "Content-Type", type);
	for (i = 0; i < sizeof(secure) / sizeof(secure[0]); i++)
		evhttp_add_header(h, secure[i].name, secure[i].value);
	if (q->new_csrf) {
		snprintf(ck, sizeof(ck), "sluice_csrf=%s; Path=/; HttpOnly; "
		    "SameSite=Strict%s", q->csrf, q->https ||
		    q->w->cf->web_secure_cookies ? "; Secure" : "");
		evhttp_add_header(h, "Set-Cookie", ck);
	}
}

/* req_send - the reply */
void
req_send(struct req *q, int code, const char *reason, const char *type,
    const struct buf *b)
{
	struct evbuffer *out = evbuffer_new();

	headers(q, type);
	evbuffer_add(out, b->data ? b->data : "", b->len);
	conns_replying(q->w->conns, 1);
	evhttp_send_reply(q->r, code, reason, out);
	conns_replying(q->w->conns, 0);
	evbuffer_free(out);
}

/* req_page - a whole page around a body fragment */
void
req_page(struct req *q, int code, const char *reason, const char *title,
    const struct buf *body, int refresh)
{
	struct page p = { title, q->user[0] ? q->user : NULL, q->csrf,
	    refresh };
	struct buf b;

	buf_init(&b, 64 * 1024 * 1024);
	page_begin(&b, &p);
	(void)buf_append(&b, body->data ? body->data : "", body->len);
	page_end(&b);
	req_send(q, code, reason, "text/html; charset=utf-8", &b);
	buf_release(&b);
}

/* req_message - a short page (errors, 404, 429) */
void
req_message(struct req *q, int code, const char *reason, const char *heading,
    const char *text)
{
	struct buf b;

	buf_init(&b, 65536);
	page_message(&b, heading, text);
	req_page(q, code, reason, heading, &b, 0);
	buf_release(&b);
}

/* req_json - JSON for the API */
void
req_json(struct req *q, int code, const char *reason, const struct buf *b)
{
	req_send(q, code, reason, "application/json", b);
}

/* req_json_error - {"error": ...} */
void
req_json_error(struct req *q, int code, const char *reason, const char *msg)
{
	struct buf b;

	buf_init(&b, 4096);
	(void)buf_putc(&b, '{');
	json_kv_str(&b, 0, "error", msg);
	(void)buf_putc(&b, '}');
	req_json(q, code, reason, &b);
	buf_release(&b);
}

/* req_redirect - 303 See Other */
void
req_redirect(struct req *q, const char *to)
{
	headers(q, "text/plain");
	evhttp_add_header(evhttp_request_get_output_headers(q->r), "Location",
	    to);
	conns_replying(q->w->conns, 1);
	evhttp_send_reply(q->r, 303, "See Other", NULL);
	conns_replying(q->w->conns, 0);
}

/* req_form - the body's fields (application/x-www-form-urlencoded) */
int
req_form(struct evhttp_request *r, struct evkeyvalq *kv)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r);
	size_t n = evbuffer_get_length(in);
	char *body;
	int rc;

	if (n > BODY_MAX)
		return -1;
	body = xmalloc(n + 1);
	evbuffer_copyout(in, body, n);
	body[n] = '\0';
	rc = evhttp_parse_query_str(body, kv);
	free(body);
	return rc;
}

/* req_csrf_ok - the form's token matches the visitor's cookie */
int
req_csrf_ok(struct req *q, const char *token)
{
	return !q->new_csrf && token != NULL && strcmp(token, q->csrf) == 0;
}

/* req_secure_lines - the security headers as header lines, for the
 * error replies that conns and evhttp write (conn.h) */
void
req_secure_lines(struct buf *b)
{
	size_t i;

	for (i = 0; i < sizeof(secure) / sizeof(secure[0]); i++)
		(void)buf_printf(b, "%s: %s\r\n", secure[i].name,
		    secure[i].value);
}

/*
 * web_int.h - what the parts of `sluice web` share: the service (struct
 * web, set up and torn down by web.c), one HTTP request (struct req), and
 * the verbs of the job lifecycle (job.c), of the request and its replies
 * (req.c) and of the pages and the API (route.c). Not for callers outside
 * src/web.
 *
 * A job (struct job) is opaque outside job.c: a test from the queue to
 * its stored report. The service owns the jobs through its live map and
 * its queue; job.c frees them.
 */
#ifndef SLUICE_WEB_INT_H
#define SLUICE_WEB_INT_H

#include <sys/socket.h>
#include <stddef.h>
#include <time.h>

#include <openssl/ssl.h>

struct buf;
struct catcher;
struct conf;
struct conns;
struct dns;
struct event_base;
struct evhttp;
struct evhttp_request;
struct evkeyvalq;
struct hmap;
struct job;
struct ratelimit;
struct store;
struct tokhit;

#define BODY_MAX	8192		/* form or API body */

struct web {
	struct event_base	*base;
	struct conf		*cf;
	struct evhttp		*http;
	struct conns		*conns;
	struct store		*st;
	struct dns		*dns;
	SSL_CTX			*ssl;
	struct catcher		*catcher;
	struct ratelimit	*rl_ip, *rl_user, *rl_login;
	struct hmap		*live;		/* id -> struct job */
	struct job		*qhead, *qtail;
	size_t			 queued;
	unsigned		 running;
	struct sockaddr_storage	 source;
	socklen_t		 sourcelen;
	int			 stopping;	/* web_main is tearing down */
};

struct req {
	struct web		*w;
	struct evhttp_request	*r;
	char			 ip[64];	/* the visitor */
	char			 user[64];	/* signed in as, or "" */
	char			 csrf[40];	/* the visitor's CSRF cookie */
	int			 new_csrf;	/* set the cookie in the reply */
	int			 https;
};

/* job.c: queue, resolve, probe, web.target_cache, finish and store */
void	job_enqueue(struct web *, const char *target, unsigned port,
	    int delivery, const char *owner, const char *visitor,
	    time_t created, char *id, size_t idsize);
int	job_report_json(struct web *, const char *id, struct buf *);
void	job_on_token(void *arg, const struct tokhit *);
void	job_stop_all(struct web *);
void	job_free_all(struct web *);

/* req.c: who asks, cookies and CSRF, replies with the security headers */
void	req_begin(struct web *, struct evhttp_request *, struct req *);
int	req_cookie(struct evhttp_request *, const char *name, char *dst,
	    size_t dstsize);
int	req_hex_token(const char *);
int	req_form(struct evhttp_request *, struct evkeyvalq *);
int	req_csrf_ok(struct req *, const char *token);
void	req_send(struct req *, int code, const char *reason,
	    const char *type, const struct buf *);
void	req_page(struct req *, int code, const char *reason,
	    const char *title, const struct buf *body, int refresh);
void	req_message(struct req *, int code, const char *reason,
	    const char *heading, const char *text);
void	req_json(struct req *, int code, const char *reason,
	    const struct buf *);
void	req_json_error(struct req *, int code, const char *reason,
	    const char *msg);
void	req_redirect(struct req *, const char *to);
void	req_secure_lines(struct buf *);

/* route.c: what each address answers */
void	route_request(struct evhttp_request *, void *arg);

#endif

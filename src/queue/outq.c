/*
 * outq - destination queues: remote recipients grouped by next hop, run
 * through remote.c within the concurrency limits (queue.concurrency in
 * all, queue.per_destination per next hop).
 *
 * Connection cache: a session that is healthy after a delivery is kept
 * for the destination's next message, which goes on it at once (the
 * next MAIL right after the reply to the data), or waits idle for up to
 * queue.connection_cache_time for one to come. A session carries at most
 * OUTQ_REUSE_MAX transactions and starts none after OUTQ_REUSE_TIME. It
 * serves only a job with the same next hop (its dest), the same AUTH
 * (relayhost credentials or none) and, when the job requires TLS, only
 * an encrypted one. The limits count connections: idle sessions, and
 * those saying QUIT, count against both (a server that allows N
 * connections from us never sees N + 1), but a job that needs a place
 * closes the least recently used idle session rather than wait for it to
 * expire.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>

#include <event2/event.h>

#include "net/workq.h"
#include "policy/cidr.h"
#include "policy/domset.h"
#include "policy/policy.h"
#include "queue/bounce.h"
#include "queue/maildir.h"
#include "queue/qfile.h"
#include "queue/remote.h"
#include "queue/runner.h"
#include "queue/runner_int.h"
#include "queue/spool.h"
#include "smtp/cmd.h"
#include "smtp/session.h"
#include "smtp/tx.h"
#include "util/hmap.h"
#include "util/json.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xalloc.h"

/* The original headers quoted in a bounce are cut at this size. */
#define BOUNCE_HEADERS_MAX	(32 * 1024)

/* A kept session takes at most this many transactions (Postfix's
 * smtp_connection_reuse_count_limit is unlimited; a bound keeps one
 * connection from carrying a whole queue)... */
#define OUTQ_REUSE_MAX		100
/* ...and starts none after this many seconds (as Postfix's
 * smtp_connection_reuse_time_limit). */
#define OUTQ_REUSE_TIME		300

/* a kept session: idle (on its destination's list and the runner's), or
 * saying QUIT */
struct cconn {
	struct remote_conn	*k;
	struct dest		*d;
	struct runner		*r;
	struct cconn		*prev, *next;	/* d's, most recent first */
	struct cconn		*gprev, *gnext;	/* r's, most recent first */
};

/* ---- remote delivery ---- */

/* route_for - the next hop for a domain: a static route, the relayhost,
 * or NULL for its MX */
static const struct route *
route_for(const struct runner *r, const char *domain)
{
	void *v;

	if (domset_match_domain(r->routes, domain, &v))
		return v;
	return r->rc.relayhost.host ? &r->rc.relayhost : NULL;
}

/* outq_job_free - free a finished job */
void
outq_job_free(struct job *j)
{
	if (j->fd >= 0)
		close(j->fd);
	free(j->idx);
	free(j->rcpts);
	free(j);
}

static void job_done(void *arg, const struct remote_result *res);

/* ---- kept sessions ---- */

/* job_auth - does the job authenticate (to the relayhost)? */
static int
job_auth(const struct runner *r, const struct job *j)
{
	return j->route == &r->rc.relayhost && r->rc.auth_user != NULL;
}

/* fits - may job j go on the kept session k? */
static int
fits(const struct runner *r, const struct job *j, const struct remote_conn *k)
{
	return remote_conn_auth(k) == job_auth(r, j) &&
	    (!j->tls_required || remote_conn_tls(k));
}

/* conn_take - an idle session off the lists; the caller owns it (and
 * frees cc) */
static struct remote_conn *
conn_take(struct cconn *cc)
{
	struct dest *d = cc->d;
	struct runner *r = cc->r;
	struct remote_conn *k = cc->k;

	if (cc->prev)
		cc->prev->next = cc->next;
	else
		d->idle = cc->next;
	if (cc->next)
		cc->next->prev = cc->prev;
	else
		d->idle_last = cc->prev;
	if (cc->gprev)
		cc->gprev->gnext = cc->gnext;
	else
		r->idle = cc->gnext;
	if (cc->gnext)
		cc->gnext->gprev = cc->gprev;
	else
		r->idle_last = cc->gprev;
	cc->prev = cc->next = cc->gprev = cc->gnext = NULL;
	cc->k = NULL;
	d->nidle--;
	r->nidle--;
	return k;
}

/* closed_cb - a session said goodbye: its place is free */
static void
closed_cb(void *arg, struct remote_conn *k)
{
	struct cconn *cc = arg;
	struct runner *r = cc->r;

	(void)k;
	cc->d->nclosing--;
	r->nclosing--;
	r->st.active--;
	free(cc);
	outq_pump(r);
}

/* conn_close - QUIT a session of d; it keeps its place until it is gone
 * (and counts as active, so that a stopping sluiced waits for it). cc is
 * reused when given. */
static void
conn_close(struct runner *r, struct dest *d, struct remote_conn *k,
    struct cconn *cc)
{
	if (cc == NULL)
		cc = xcalloc(1, sizeof(*cc));
	cc->r = r;
	cc->d = d;
	d->nclosing++;
	r->nclosing++;
	r->st.active++;
	remote_conn_close(k, closed_cb, cc);
}

/* close_idle - QUIT one idle session */
static void
close_idle(struct cconn *cc)
{
	struct remote_conn *k = conn_take(cc);

	conn_close(cc->r, cc->d, k, cc);
}

/* gone_cb - an idle session's time is up, or its peer left */
static void
gone_cb(void *arg, struct remote_conn *k)
{
	(void)k;
	close_idle(arg);
}

/* conn_keep - a session came back from a delivery to d: keep it idle for
 * the next message, or close it if it has done its share */
static void
conn_keep(struct runner *r, struct dest *d, struct remote_conn *k)
{
	time_t age = time(NULL) - remote_conn_born(k);
	unsigned secs = r->rc.conn_cache_time;
	struct cconn *cc;

	if (r->stopping || secs == 0 || remote_conn_msgs(k) >= OUTQ_REUSE_MAX ||
	    age < 0 || age >= OUTQ_REUSE_TIME) {
		conn_close(r, d, k, NULL);
		return;
	}
	if (secs > OUTQ_REUSE_TIME - age)
		secs = (unsigned)(OUTQ_REUSE_TIME - age);
	cc = xcalloc(1, sizeof(*cc));
	cc->k = k;
	cc->d = d;
	cc->r = r;
	cc->next = d->idle;
	if (d->idle)
		d->idle->prev = cc;
	else
		d->idle_last = cc;
	d->idle = cc;
	cc->gnext = r->idle;
	if (r->idle)
		r->idle->gprev = cc;
	else
		r->idle_last = cc;
	r->idle = cc;
	d->nidle++;
	r->nidle++;
	remote_conn_idle(k, secs, gone_cb, cc);
}

/* conn_for - an idle session of d that job j may use, or NULL */
static struct cconn *
conn_for(const struct runner *r, const struct dest *d, const struct job *j)
{
	struct cconn *cc;

	for (cc = d->idle; cc != NULL; cc = cc->next)
		if (fits(r, j, cc->k))
			return cc;
	return NULL;
}

/* room - may d open one more connection? */
static int
room(const struct runner *r, const struct dest *d)
{
	return d->active + d->nidle + d->nclosing < r->rc.per_destination &&
	    r->active + r->nidle + r->nclosing < r->rc.concurrency;
}

/*
 * make_room - d has a job for a new connection but no place: close the
 * least recently used idle session in the way, unless one is already
 * closing (its place comes back then, and closed_cb pumps again)
 */
static void
make_room(struct runner *r, struct dest *d)
{
	if (d->active + d->nidle + d->nclosing >= r->rc.per_destination) {
		if (d->nclosing == 0 && d->idle_last != NULL)
			close_idle(d->idle_last);
		return;
	}
	if (r->nclosing == 0 && r->idle_last != NULL)
		close_idle(r->idle_last);
}

/* outq_close_idle - QUIT every idle session (stopping) */
void
outq_close_idle(struct runner *r)
{
	while (r->idle_last != NULL)
		close_idle(r->idle_last);
}

/* open_failed - the queue file could not be opened: try again later */
static void
open_failed(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;
	struct remote_result res;
	int *st = xcalloc(j->n, sizeof(int));
	char (*why)[REMOTE_WHY] = xcalloc(j->n, REMOTE_WHY);
	size_t i;

	(void)fd;
	(void)what;
	for (i = 0; i < j->n; i++) {
		st[i] = SMTP_TEMP;
		snprintf(why[i], REMOTE_WHY, "cannot open queue file");
	}
	memset(&res, 0, sizeof(res));
	res.status = st;
	res.why = why;
	job_done(j, &res);
	free(st);
	free(why);
}

/* start - begin a remote attempt for a job, on the kept session k if
 * not NULL (start owns it) */
static void
start(struct runner *r, struct job *j, struct remote_conn *k)
{
	struct qmsg *m = j->m;
	struct remote_req rq;
	size_t i;

	if (m->held || m->deleted) {
		/* held or deleted while it waited: drop the attempt */
		if (k)
			conn_keep(r, j->d, k);
		for (i = 0; i < j->n; i++)
			m->rs[j->idx[i]].inflight = 0;
		m->busy--;
		outq_job_free(j);
		if (m->deleted && m->busy == 0)
			runner_forget(m);
		return;
	}
	j->d->active++;
	r->active++;
	r->st.active++;
	j->fd = openat(runner_qdir(m), m->qid, O_RDONLY | O_CLOEXEC);
	memset(&rq, 0, sizeof(rq));
	rq.base = r->base;
	rq.dns = r->rc.dns;
	rq.ssl_ctx = r->rc.ssl_ctx;
	rq.helo = r->rc.hostname;
	rq.domain = j->domain;
	if (j->route) {
		rq.host = j->route->host;
		rq.port = j->route->port;
		rq.host_mx = j->route->host_mx;
	}
	if (job_auth(r, j)) {
		rq.auth_user = r->rc.auth_user;
		rq.auth_pass = r->rc.auth_pass;
	}
	rq.tls_required = j->tls_required;
	rq.fd = j->fd;
	rq.off = m->env.data_off;
	rq.size = m->env.size;
	rq.body8 = strcmp(m->env.body, "8BITMIME") == 0;
	rq.sender = m->env.from;
	j->rcpts = xcalloc(j->n, sizeof(*j->rcpts));
	for (i = 0; i < j->n; i++)
		j->rcpts[i] = m->env.rcpts[j->idx[i]].addr;
	rq.rcpts = j->rcpts;
	rq.nrcpt = j->n;
	rq.t_connect = r->rc.t_connect;
	rq.t_cmd = r->rc.t_cmd;
	rq.self = r->rc.self;
	rq.nself = r->rc.nself;
	rq.keep = r->rc.conn_cache_time > 0;
	if (j->fd == -1) {
		/* report from the loop: outq_pump() may be iterating over dests */
		struct timeval z = { 0, 0 };

		if (k)
			conn_keep(r, j->d, k);
		event_base_once(r->base, -1, EV_TIMEOUT, open_failed, j, &z);
		return;
	}
	remote_deliver(&rq, k, job_done, j);
}

/*
 * outq_pump - start waiting jobs: on an idle session that fits, else on
 * a new connection while the limits allow (closing idle sessions to make
 * room)
 */
void
outq_pump(struct runner *r)
{
	size_t pos = 0;
	const char *key;
	void *v;

	while (!r->stopping && (r->active < r->rc.concurrency ||
	    r->nidle > 0) && hmap_iter(r->dests, &pos, &key, &v)) {
		struct dest *d = v;

		while (d->head && !r->stopping) {
			struct job *j = d->head;
			struct cconn *cc = conn_for(r, d, j);
			struct remote_conn *k = NULL;

			if (cc == NULL && !room(r, d)) {
				make_room(r, d);
				break;
			}
			d->head = j->next;
			if (d->head == NULL)
				d->tail = NULL;
			if (cc) {
				k = conn_take(cc);
				free(cc);
			}
			start(r, j, k);
		}
	}
}

/* job_done - the attempt ended: record each recipient's runner_result */
static void
job_done(void *arg, const struct remote_result *res)
{
	struct job *j = arg;
	struct qmsg *m = j->m;
	struct runner *r = m->r;
	struct dest *d = j->d;
	size_t i;

	d->active--;
	r->active--;
	r->st.active--;
	m->busy--;
	for (i = 0; i < j->n; i++) {
		size_t k = j->idx[i];

		m->rs[k].inflight = 0;
		if (!m->deleted)
			runner_result(m, k, res->status[i], res->why[i],
			    res->relay, res->conn_use);
	}
	outq_job_free(j);
	/* kept first: the pumps below hand it the destination's next job */
	if (res->conn)
		conn_keep(r, d, res->conn);
	runner_schedule(m);
	outq_pump(r);
}

/* enqueue - a job for the recipients idx[0..n) of m */
static void
enqueue(struct qmsg *m, const char *domain, const struct route *rt,
    size_t *idx, size_t n)
{
	struct runner *r = m->r;
	struct job *j = xcalloc(1, sizeof(*j));
	char key[400];
	struct dest *d;

	j->m = m;
	j->fd = -1;
	j->idx = idx;
	j->n = n;
	j->route = rt;
	str_copy(j->domain, sizeof(j->domain), domain);
	if (rt == NULL && domain[0] == '[') {
		/* an address literal names its host: no MX lookup */
		const char *a = domain + 1;
		size_t len;

		if (strncasecmp(a, "ipv6:", 5) == 0)
			a += 5;
		len = strlen(a);
		str_ncopy(j->lithost, sizeof(j->lithost), a,
		    len > 0 ? len - 1 : 0);
		j->lit.host = j->lithost;
		j->lit.port = 25;
		j->route = rt = &j->lit;
	}
	j->tls_required = domset_match_domain(r->tls, domain, NULL) != NULL;
	if (rt)
		snprintf(key, sizeof(key), "%s%s%s:%u", rt->host_mx ? "" : "[",
		    rt->host, rt->host_mx ? "" : "]", rt->port);
	else
		snprintf(key, sizeof(key), "mx:%s", domain);
	if ((d = hmap_get(r->dests, key)) == NULL) {
		d = xcalloc(1, sizeof(*d));
		d->key = xstrdup(key);
		hmap_put(r->dests, key, d);
	}
	j->d = d;
	if (d->tail)
		d->tail->next = j;
	else
		d->head = j;
	d->tail = j;
	m->busy++;
}

/* rcpt_domain - "<u@d>" -> "d" (or "[literal]") */
static void
rcpt_domain(const char *addr, char *dst, size_t dstsize)
{
	const char *at = strrchr(addr, '@');
	size_t n;

	if (at == NULL) {
		str_copy(dst, dstsize, "");
		return;
	}
	n = strlen(at + 1);
	str_ncopy(dst, dstsize, at + 1, n > 0 && at[n] == '>' ? n - 1 : n);
	str_lower(dst);
}

/* outq_dispatch - group the due remote recipients by next hop */
void
outq_dispatch(struct qmsg *m, time_t now)
{
	struct runner *r = m->r;
	size_t i, k;

	for (i = 0; i < m->env.nrcpt; i++) {
		char dom[SMTP_DOMAIN_MAX + 3], other[SMTP_DOMAIN_MAX + 3];
		const struct route *rt;
		size_t *idx, n = 0;

		if (m->env.rcpts[i].cls != 'R' ||
		    m->env.rcpts[i].status != QR_PENDING ||
		    m->rs[i].inflight || m->rs[i].next > now)
			continue;
		rcpt_domain(m->env.rcpts[i].addr, dom, sizeof(dom));
		rt = route_for(r, dom);
		idx = xcalloc(m->env.nrcpt, sizeof(*idx));
		/* the same domain goes in one transaction */
		for (k = i; k < m->env.nrcpt; k++) {
			if (m->env.rcpts[k].cls != 'R' ||
			    m->env.rcpts[k].status != QR_PENDING ||
			    m->rs[k].inflight || m->rs[k].next > now)
				continue;
			rcpt_domain(m->env.rcpts[k].addr, other, sizeof(other));
			if (strcmp(other, dom) != 0)
				continue;
			idx[n++] = k;
			m->rs[k].inflight = 1;
		}
		enqueue(m, dom, rt, idx, n);
	}
}

/*
 * runner_stop - shutting down: start nothing new, end remote attempts
 * (their recipients deferred, retried at the next start), drop waiting
 * jobs. Local deliveries finish on their own (runner_stats()->active).
 */
void
runner_stop(struct runner *r)
{
	size_t pos = 0;
	const char *k;
	void *v;

	r->stopping = 1;
	remote_abort_all();
	outq_close_idle(r);
	while (hmap_iter(r->dests, &pos, &k, &v)) {
		struct dest *d = v;

		while (d->head) {
			struct job *j = d->head;
			size_t i;

			d->head = j->next;
			for (i = 0; i < j->n; i++)
				j->m->rs[j->idx[i]].inflight = 0;
			j->m->busy--;
			outq_job_free(j);
		}
		d->tail = NULL;
	}
}

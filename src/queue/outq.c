/*
 * outq - destination queues: remote recipients grouped by next hop, run
 * through remote.c within the concurrency limits (queue.concurrency in
 * all, queue.per_destination per next hop).
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

/* start - begin a remote attempt for a job */
static void
start(struct runner *r, struct job *j)
{
	struct qmsg *m = j->m;
	struct remote_req rq;
	size_t i;

	if (m->held || m->deleted) {
		/* held or deleted while it waited: drop the attempt */
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
	if (j->route == &r->rc.relayhost && r->rc.auth_user) {
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
	if (j->fd == -1) {
		/* report from the loop: outq_pump() may be iterating over dests */
		struct timeval z = { 0, 0 };

		event_base_once(r->base, -1, EV_TIMEOUT, open_failed, j, &z);
		return;
	}
	remote_deliver(&rq, job_done, j);
}

/* outq_pump - start waiting jobs while the limits allow */
void
outq_pump(struct runner *r)
{
	size_t pos = 0;
	const char *k;
	void *v;

	while (!r->stopping && r->active < r->rc.concurrency &&
	    hmap_iter(r->dests, &pos, &k, &v)) {
		struct dest *d = v;

		while (d->head && d->active < r->rc.per_destination &&
		    r->active < r->rc.concurrency) {
			struct job *j = d->head;

			d->head = j->next;
			if (d->head == NULL)
				d->tail = NULL;
			start(r, j);
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
	size_t i;

	j->d->active--;
	r->active--;
	r->st.active--;
	m->busy--;
	for (i = 0; i < j->n; i++) {
		size_t k = j->idx[i];

		m->rs[k].inflight = 0;
		if (!m->deleted)
			runner_result(m, k, res->status[i], res->why[i], res->relay);
	}
	outq_job_free(j);
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

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "conf/conf.h"
#include "net/dns.h"
#include "net/tls.h"
#include "policy/cidr.h"
#include "probe/catcher.h"
#include "probe/engine.h"
#include "probe/report.h"
#include "server/passwd.h"
#include "smtp/addr.h"
#include "util/hmap.h"
#include "util/json.h"
#include "util/jsonp.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xalloc.h"
#include "web/conn.h"
#include "web/guard.h"
#include "web/html.h"
#include "web/pages.h"
#include "web/store.h"
#include "web/web.h"

#define MAX_HOSTS	5		/* MX hosts tested per domain */
#define BODY_MAX	8192		/* form or API body */
#define TARGET_SIZE	256		/* a target's buffer, NUL included */
#define SESSION_TTL	(12 * 3600)
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

enum jstate { J_QUEUED, J_RESOLVING, J_RUNNING, J_DONE, J_ERROR };

static const char *state_names[] = { "queued", "running", "running",
    "done", "error" };

struct whost {
	char			 name[256];
	char			 ip[64];
	char			 canon[64];	/* ip, one form (guard.h) */
	struct sockaddr_storage	 addr;
	char			 ptr[256];
	int			 resolved, skip;
	struct buf		 json;	/* the probe's report, as it grows */
	char			 verdict[32];
	char			 why[300];	/* skip: why not tested */
	/* web.target_cache: the result is another report's */
	char			 from[24];	/* that report */
	time_t			 from_time;	/* when it tested the address */
	int			 follow;	/* it is testing it now */
	size_t			 lead;		/* its host that does */
};

struct web;

struct job {
	struct web	*w;
	char		 id[24];
	char		 target[256];	/* as the visitor typed it (checked) */
	unsigned	 port;
	int		 delivery;
	char		 owner[64];
	time_t		 created, finished;
	enum jstate	 state;
	char		 error[300];
	struct whost	 hosts[MAX_HOSTS];
	size_t		 nhosts, lookups;
	struct probe	*p;
	int		 probe_done;
	int		 counted;	/* holds a place in web.concurrency */
	size_t		 following;	/* hosts waiting for another report */
	char		 verdict[32];
	char		 summary[1024];
	struct job	*next;		/* the queue */
};

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

/* ---- small helpers ---- */

/* new_id - 16 random hex characters */
static void
new_id(char *dst, size_t dstsize)
{
	snprintf(dst, dstsize, "%08x%08x", arc4random(), arc4random());
}

/* json_job - the whole report as JSON (live or final) */
static void
json_job(struct job *j, struct buf *b, size_t qpos)
{
	size_t i;

	(void)buf_putc(b, '{');
	json_kv_str(b, 0, "id", j->id);
	json_kv_str(b, 1, "target", j->target);
	json_kv_int(b, 1, "port", j->port);
	json_kv_str(b, 1, "mode", j->delivery ? "delivery" : "anonymous");
	json_kv_str(b, 1, "status", state_names[j->state]);
	json_kv_int(b, 1, "created", (long long)j->created);
	json_kv_int(b, 1, "finished", (long long)j->finished);
	json_kv_str(b, 1, "verdict", j->verdict);
	json_kv_str(b, 1, "summary", j->summary);
	json_kv_str(b, 1, "error", j->error);
	json_kv_int(b, 1, "queue_position", (long long)qpos);
	(void)buf_puts(b, ",\"hosts\":[");
	for (i = 0; i < j->nhosts; i++) {
		struct whost *h = &j->hosts[i];

		if (i)
			(void)buf_putc(b, ',');
		if (h->json.len > 2) {
			/* the probe's object, with our facts added */
			(void)buf_append(b, h->json.data, h->json.len - 1);
			json_kv_str(b, 1, "ptr", h->ptr);
			if (h->from[0]) {
				json_kv_str(b, 1, "reused_from", h->from);
				json_kv_int(b, 1, "reused_time",
				    (long long)h->from_time);
			}
			(void)buf_putc(b, '}');
		} else {
			(void)buf_putc(b, '{');
			json_kv_str(b, 0, "host", h->name);
			json_kv_str(b, 1, "address", h->ip);
			json_kv_str(b, 1, "ptr", h->ptr);
			json_kv_str(b, 1, "verdict", h->skip ? "error" :
			    "pending");
			json_kv_str(b, 1, "note", h->skip || h->follow ?
			    h->why : "");
			(void)buf_puts(b, ",\"tests\":[]}");
		}
	}
	(void)buf_puts(b, "]}");
}

/* save - write the job's report to the database */
static void
save(struct job *j)
{
	struct store_row r;
	struct buf b;

	buf_init(&b, 64 * 1024 * 1024);
	json_job(j, &b, 0);
	memset(&r, 0, sizeof(r));
	r.id = j->id;
	r.created = j->created;
	r.finished = j->finished;
	r.target = j->target;
	r.port = (int)j->port;
	r.mode = j->delivery ? "delivery" : "anonymous";
	r.owner = j->owner;
	r.status = (char *)state_names[j->state];
	r.verdict = j->verdict;
	r.summary = j->summary;
	r.json = b.data ? b.data : "";
	if (store_put(j->w->st, &r) == -1)
		log_err("event=web-store-error report=%s", j->id);
	buf_release(&b);
}

/* qpos - place in the queue (1 = next), 0 if not waiting */
static size_t
qpos(struct web *w, struct job *j)
{
	struct job *q;
	size_t n = 1;

	for (q = w->qhead; q; q = q->next, n++)
		if (q == j)
			return n;
	return 0;
}

static void pump(struct web *w);

/* free_job - forget a finished job (its report is in the database) */
static void
free_job(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;
	size_t i;

	(void)fd;
	(void)what;
	probe_free(j->p);
	for (i = 0; i < j->nhosts; i++)
		buf_release(&j->hosts[i].json);
	hmap_del(j->w->live, j->id);
	free(j);
}

static void finish(struct job *j, enum jstate st);

/* release - the job's place in web.concurrency, if it holds one */
static void
release(struct job *j)
{
	if (j->counted && j->w->running > 0)
		j->w->running--;
	j->counted = 0;
}

/* probed - the host is tested by its own job's probe */
static int
probed(const struct whost *h)
{
	return !h->skip && !h->follow && h->from[0] == '\0';
}

/* maybe_done - a running job whose probe and followed hosts are over */
static void
maybe_done(struct job *j)
{
	if (j->state == J_RUNNING && j->following == 0 &&
	    (j->p == NULL || j->probe_done))
		finish(j, J_DONE);
}

/*
 * propagate - host k of lead has news (final: its result): copy it to
 * every host that follows it (web.target_cache), and end the jobs that
 * have nothing else to wait for.
 */
static void
propagate(struct job *lead, size_t k, int final)
{
	struct whost *src = &lead->hosts[k];
	size_t pos = 0, i;
	const char *key;
	void *v;

	while (hmap_iter(lead->w->live, &pos, &key, &v)) {
		struct job *j = v;
		int got = 0;

		for (i = 0; i < j->nhosts; i++) {
			struct whost *h = &j->hosts[i];

			if (!h->follow || h->lead != k ||
			    strcmp(h->from, lead->id) != 0)
				continue;
			buf_reset(&h->json);
			(void)buf_append(&h->json, src->json.data,
			    src->json.len);
			if (!final)
				continue;
			str_copy(h->verdict, sizeof(h->verdict), src->verdict);
			h->follow = 0;
			h->why[0] = '\0';
			j->following--;
			got = 1;
		}
		if (got && j != lead)
			maybe_done(j);
	}
}

/* unclaim - lead ends: hosts still waiting for it are not tested */
static void
unclaim(struct job *lead)
{
	size_t pos = 0, i;
	const char *key;
	void *v;

	while (hmap_iter(lead->w->live, &pos, &key, &v)) {
		struct job *j = v;
		int got = 0;

		if (j == lead)
			continue;
		for (i = 0; i < j->nhosts; i++) {
			struct whost *h = &j->hosts[i];

			if (!h->follow || strcmp(h->from, lead->id) != 0)
				continue;
			h->follow = 0;
			h->skip = 1;
			snprintf(h->why, sizeof(h->why), "not tested: report "
			    "%s, which was testing this address, ended without "
			    "a result", lead->id);
			j->following--;
			got = 1;
		}
		if (got)
			maybe_done(j);
	}
}

/*
 * reuse - web.target_cache: an address (and port, and mode) that another
 * report tested within the period, or is testing now, is not tested
 * again. 1 if h takes (or will take) that result, 0 if h is tested.
 */
static int
reuse(struct job *j, struct whost *h)
{
	struct web *w = j->w;
	char *report = NULL, *json = NULL;
	size_t pos = 0, k;
	const char *key;
	struct jval *p;
	time_t created;
	void *v;

	if (w->cf->web_target_cache == 0)
		return 0;
	while (hmap_iter(w->live, &pos, &key, &v)) {
		struct job *o = v;

		if ((o->state != J_RESOLVING && o->state != J_RUNNING) ||
		    o->port != j->port || o->delivery != j->delivery)
			continue;
		for (k = 0; k < o->nhosts; k++) {
			struct whost *l = &o->hosts[k];

			if (l == h || !l->resolved || !probed(l) ||
			    l->verdict[0] || strcmp(l->canon, h->canon) != 0)
				continue;
			h->follow = 1;
			h->lead = k;
			str_copy(h->from, sizeof(h->from), o->id);
			h->from_time = o->created;
			snprintf(h->why, sizeof(h->why), "being tested by "
			    "report %s: its result will be this one", o->id);
			(void)buf_append(&h->json, l->json.data, l->json.len);
			j->following++;
			return 1;
		}
	}
	if (store_tested_get(w->st, h->canon, (int)j->port, j->delivery ?
	    "delivery" : "anonymous", time(NULL) -
	    (time_t)w->cf->web_target_cache, &report, &json, &created) == -1)
		return 0;
	p = jsonp_parse(json, strlen(json));
	buf_reset(&h->json);
	(void)buf_puts(&h->json, json);
	str_copy(h->verdict, sizeof(h->verdict), jsonp_str(p, "verdict"));
	str_copy(h->from, sizeof(h->from), report);
	h->from_time = created;
	jsonp_free(p);
	free(report);
	free(json);
	return 1;
}

/* rank - how bad a verdict is, for the overall one */
static int
rank(const char *v)
{
	static const char *order[] = { "open", "accepted", "ambiguous-local",
	    "refuses-all", "tempfail", "timeout", "error", "closed-temp",
	    "auth-required", "closed" };
	size_t i;

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (strcmp(v, order[i]) == 0)
			return (int)i;
	return 99;
}

/* finish - the job is over (done or failed): verdict, save, free later */
static void
finish(struct job *j, enum jstate st)
{
	struct timeval z = { 0, 0 };
	size_t i, worst = 0;
	int best = 100;

	j->state = st;
	j->finished = time(NULL);
	for (i = 0; i < j->nhosts; i++) {
		int r = j->hosts[i].verdict[0] ? rank(j->hosts[i].verdict) :
		    99;

		if (r < best) {
			best = r;
			worst = i;
		}
	}
	if (st == J_DONE && j->nhosts > 0 && best < 99) {
		struct jval *v = jsonp_parse(j->hosts[worst].json.data,
		    j->hosts[worst].json.len);

		str_copy(j->verdict, sizeof(j->verdict),
		    j->hosts[worst].verdict);
		snprintf(j->summary, sizeof(j->summary), "%s%s%s",
		    j->nhosts > 1 ? j->hosts[worst].name : "",
		    j->nhosts > 1 ? ": " : "", v ? jsonp_str(v, "summary") : "");
		jsonp_free(v);
	} else if (st == J_ERROR) {
		str_copy(j->verdict, sizeof(j->verdict), "error");
		str_copy(j->summary, sizeof(j->summary), j->error);
	}
	save(j);
	log_info("event=web-test-done report=%s target=%s verdict=%s",
	    j->id, j->target, j->verdict);
	release(j);
	unclaim(j);
	/* never free the probe from inside its own callback */
	event_base_once(j->w->base, -1, EV_TIMEOUT, free_job, j, &z);
	pump(j->w);
}

/* fail - the job cannot run */
static void
fail(struct job *j, const char *fmt, const char *arg)
{
	char msg[sizeof(j->error)];

	/* arg is often j->error itself: format apart, then copy */
	snprintf(msg, sizeof(msg), fmt, arg);
	str_copy(j->error, sizeof(j->error), msg);
	finish(j, J_ERROR);
}

/* ---- the probe, as a library ---- */

struct feed {
	struct job	*j;
	size_t		 next;
};

/* next_spec - "NAME ADDR:PORT" for each allowed host */
static int
next_spec(void *arg, char *buf, size_t size)
{
	struct feed *f = arg;
	struct job *j = f->j;

	while (f->next < j->nhosts && !probed(&j->hosts[f->next]))
		f->next++;
	if (f->next >= j->nhosts)
		return 0;
	snprintf(buf, size, j->hosts[f->next].addr.ss_family == AF_INET6 ?
	    "%s [%s]:%u" : "%s %s:%u", j->hosts[f->next].name,
	    j->hosts[f->next].ip, j->port);
	f->next++;
	return 1;
}

/* host_of - the job host a probe target is */
static struct whost *
host_of(struct job *j, const struct ptarget *t)
{
	size_t i, k = 0;

	for (i = 0; i < j->nhosts; i++) {
		if (!probed(&j->hosts[i]))
			continue;
		if (k++ == t->index)
			return &j->hosts[i];
	}
	return NULL;
}

/* snapshot - the target's report as the host's JSON */
static void
snapshot(struct job *j, const struct ptarget *t, int final)
{
	struct whost *h = host_of(j, t);

	if (h == NULL)
		return;
	buf_reset(&h->json);
	report_json(&h->json, t, 1);
	if (final) {
		str_copy(h->verdict, sizeof(h->verdict), pv_name(t->verdict));
		/* for web.target_cache; a failed connection is tried again */
		if (j->w->cf->web_target_cache > 0 &&
		    strcmp(h->verdict, "error") != 0)
			store_tested_put(j->w->st, h->canon, (int)j->port,
			    j->delivery ? "delivery" : "anonymous", j->id,
			    j->created, buf_cstr(&h->json), time(NULL) -
			    (time_t)j->w->cf->web_target_cache);
	}
	propagate(j, (size_t)(h - j->hosts), final);
}

static void
on_test(void *arg, const struct ptarget *t, size_t i)
{
	struct feed *f = arg;

	(void)i;
	snapshot(f->j, t, 0);
}

static void
on_done(void *arg, const struct ptarget *t)
{
	struct feed *f = arg;

	snapshot(f->j, t, 1);
}

static void
on_finished(void *arg)
{
	struct feed *f = arg;
	struct job *j = f->j;

	free(f);
	j->probe_done = 1;
	maybe_done(j);
}

/* run - every host is resolved: start the probe */
static void
run(struct job *j)
{
	struct web *w = j->w;
	struct probe_opts o;
	struct feed *f = xcalloc(1, sizeof(*f));
	char err[256];
	size_t i, ok = 0, reused = 0;

	for (i = 0; i < j->nhosts; i++) {
		if (probed(&j->hosts[i]))
			ok++;
		else if (!j->hosts[i].skip)
			reused++;
	}
	if (ok == 0 && reused > 0) {
		/* every result comes from other reports: no probe */
		free(f);
		j->state = J_RUNNING;
		save(j);
		release(j);
		maybe_done(j);
		pump(w);
		return;
	}
	if (ok == 0) {
		free(f);
		fail(j, "%s", j->error[0] ? j->error :
		    "no host of this target can be tested");
		return;
	}
	f->j = j;
	memset(&o, 0, sizeof(o));
	o.delivery = j->delivery;
	o.port = j->port;
	o.implicit_tls = -1;
	o.outside = j->delivery ? w->cf->web_test_domain : "example.net";
	o.outside_ip = "192.0.2.1";
	o.helo = w->cf->web_helo[0] ? w->cf->web_helo : NULL;
	o.source = w->sourcelen ? (struct sockaddr *)&w->source : NULL;
	o.sourcelen = w->sourcelen;
	o.concurrency = (unsigned)ok;
	o.t_connect = 30;
	o.t_greeting = o.t_cmd = o.t_data = o.t_end =
	    (unsigned)w->cf->web_timeout;
	o.max_reconnects = 10;
	o.wait_secs = (unsigned)w->cf->web_wait;
	o.ssl_ctx = w->ssl;
	o.keep_transcript = 1;
	o.next = next_spec;
	o.next_arg = f;
	o.done = on_done;
	o.done_arg = f;
	o.test_done = on_test;
	o.finished = on_finished;
	if ((j->p = probe_new(w->base, &o, err, sizeof(err))) == NULL) {
		free(f);
		fail(j, "%s", err);
		return;
	}
	j->state = J_RUNNING;
	save(j);
	probe_start(j->p);
}

/* ptr_done - a host's reverse DNS (facts only, never awaited long) */
static void
ptr_done(void *arg, enum dns_status st, const char *name)
{
	struct job *j = arg;

	(void)st;
	(void)name;
	if (--j->lookups == 0 && j->state == J_RESOLVING)
		run(j);
}

/* host_ptr - look up a host's PTR, counted in j->lookups */
struct ptrq {
	struct job	*j;
	size_t		 i;
};

static void
ptr_cb(void *arg, enum dns_status st, const char *name)
{
	struct ptrq *q = arg;

	if (q->j->w->stopping) {	/* cancelled by dns_free */
		free(q);
		return;
	}
	if (st == DNS_OK && name)
		str_copy(q->j->hosts[q->i].ptr, sizeof(q->j->hosts[q->i].ptr),
		    name);
	ptr_done(q->j, st, name);
	free(q);
}

/* addr_cb - one host's addresses: take the first allowed one */
struct addrq {
	struct job	*j;
	size_t		 i;
};

static void
addr_cb(void *arg, enum dns_status st, const struct sockaddr_storage *a,
    size_t n)
{
	struct addrq *q = arg;
	struct job *j = q->j;
	struct whost *h = &j->hosts[q->i];
	const char *why = NULL;
	size_t k;

	free(q);
	if (j->w->stopping)		/* cancelled by dns_free */
		return;
	if (st != DNS_OK || n == 0) {
		h->skip = 1;
		snprintf(j->error, sizeof(j->error), "%s: %s", h->name,
		    dns_strstatus(st));
		snprintf(h->why, sizeof(h->why), "not tested: %s",
		    dns_strstatus(st));
	} else {
		/* prefer IPv4 (more often reachable), checked either way */
		for (k = 0; k < n && a[k].ss_family != AF_INET; k++)
			;
		h->addr = a[k < n ? k : 0];
		inet_ntop(h->addr.ss_family, h->addr.ss_family == AF_INET ?
		    (void *)&((struct sockaddr_in *)&h->addr)->sin_addr :
		    (void *)&((struct sockaddr_in6 *)&h->addr)->sin6_addr,
		    h->ip, sizeof(h->ip));
		if (guard_canon_ip(h->ip, h->canon, sizeof(h->canon)) == -1)
			str_copy(h->canon, sizeof(h->canon), h->ip);
		if (!j->w->cf->web_allow_private &&
		    (why = guard_forbidden(&h->addr)) != NULL) {
			char ip[sizeof(h->ip)];	/* apart: gcc -Wrestrict */

			h->skip = 1;
			snprintf(j->error, sizeof(j->error), "%s resolves to "
			    "%s, a %s address: not tested", h->name, h->ip,
			    why);
			memcpy(ip, h->ip, sizeof(ip));
			snprintf(h->why, sizeof(h->why), "not tested: %s is a "
			    "%s address", ip, why);
		} else {
			struct ptrq *p = xcalloc(1, sizeof(*p));

			h->resolved = 1;
			(void)reuse(j, h);
			p->j = j;
			p->i = (size_t)(h - j->hosts);
			j->lookups++;
			dns_lookup_ptr(j->w->dns, &h->addr, ptr_cb, p);
		}
	}
	ptr_done(j, DNS_OK, NULL);
}

/* resolve_hosts - the addresses of every host (names resolved once) */
static void
resolve_hosts(struct job *j)
{
	size_t i;

	j->lookups = j->nhosts + 1;
	for (i = 0; i < j->nhosts; i++) {
		struct addrq *q = xcalloc(1, sizeof(*q));
		unsigned char ip[16];
		int fam;

		q->j = j;
		q->i = i;
		if (cidr_parse_ip(j->hosts[i].name, &fam, ip) == 0) {
			/* an address as given: no lookup to trust */
			struct sockaddr_storage ss;

			memset(&ss, 0, sizeof(ss));
			ss.ss_family = (sa_family_t)fam;
			if (fam == AF_INET)
				memcpy(&((struct sockaddr_in *)&ss)->sin_addr,
				    ip, 4);
			else
				memcpy(&((struct sockaddr_in6 *)&ss)->sin6_addr,
				    ip, 16);
			addr_cb(q, DNS_OK, &ss, 1);
			continue;
		}
		dns_lookup_addr(j->w->dns, j->hosts[i].name, AF_UNSPEC,
		    addr_cb, q);
	}
	ptr_done(j, DNS_OK, NULL);
}

/* mx_cb - a domain's MX hosts, or the name itself */
static void
mx_cb(void *arg, enum dns_status st, const struct dns_mx *mx, size_t n)
{
	struct job *j = arg;
	size_t i;

	if (j->w->stopping)		/* cancelled by dns_free */
		return;
	if (st == DNS_OK) {
		for (i = 0; i < n && j->nhosts < MAX_HOSTS; i++)
			if (mx[i].host[0])
				str_copy(j->hosts[j->nhosts++].name,
				    sizeof(j->hosts[0].name), mx[i].host);
	} else if (st == DNS_NULLMX) {
		fail(j, "%s publishes a null MX: it accepts no mail", j->target);
		return;
	}
	if (j->nhosts == 0) {
		/* no MX: the name is the mail server (or is not one) */
		str_copy(j->hosts[0].name, sizeof(j->hosts[0].name), j->target);
		j->nhosts = 1;
	}
	for (i = 0; i < j->nhosts; i++)
		buf_init(&j->hosts[i].json, 64 * 1024 * 1024);
	resolve_hosts(j);
}

/* start - take a job from the queue */
static void
start(struct job *j)
{
	unsigned char ip[16];
	int fam;

	j->w->running++;
	j->counted = 1;
	j->state = J_RESOLVING;
	if (cidr_parse_ip(j->target, &fam, ip) == 0) {
		str_copy(j->hosts[0].name, sizeof(j->hosts[0].name), j->target);
		j->nhosts = 1;
		buf_init(&j->hosts[0].json, 64 * 1024 * 1024);
		resolve_hosts(j);
		return;
	}
	dns_lookup_mx(j->w->dns, j->target, mx_cb, j);
}

/* pump - start queued jobs while the concurrency bound allows */
static void
pump(struct web *w)
{
	while (w->qhead && w->running < w->cf->web_concurrency) {
		struct job *j = w->qhead;

		w->qhead = j->next;
		if (w->qhead == NULL)
			w->qtail = NULL;
		w->queued--;
		j->next = NULL;
		start(j);
	}
}

/* on_token - the catcher got a token: every running delivery probe
 * (each checks the token's proof against its own secret) */
static void
on_token(void *arg, const struct tokhit *h)
{
	struct web *w = arg;
	size_t pos = 0;
	const char *k;
	void *v;

	while (hmap_iter(w->live, &pos, &k, &v)) {
		struct job *j = v;

		if (j->p && j->delivery)
			probe_token(j->p, h);
	}
}

/* ---- HTTP ---- */

struct req {
	struct web		*w;
	struct evhttp_request	*r;
	char			 ip[64];	/* the visitor */
	char			 user[64];	/* signed in as, or "" */
	char			 csrf[40];	/* the visitor's CSRF cookie */
	int			 new_csrf;	/* set the cookie in the reply */
	int			 https;
};

/* cookie - the value of a cookie in the request, into dst; 0 or -1 */
static int
cookie(struct evhttp_request *r, const char *name, char *dst, size_t dstsize)
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

/* hex_token - only [0-9a-f], 8..64 long (cookies we issued) */
static int
hex_token(const char *s)
{
	size_t n = strlen(s), i;

	if (n < 8 || n > 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* begin - who is asking: address, session, CSRF cookie */
static void
begin(struct web *w, struct evhttp_request *r, struct req *q)
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
	if (cookie(r, "sluice_session", sess, sizeof(sess)) == 0 &&
	    hex_token(sess)) {
		char user[64], scsrf[40];

		if (store_session_get(w->st, sess, time(NULL), user,
		    sizeof(user), scsrf, sizeof(scsrf)) == 0)
			str_copy(q->user, sizeof(q->user), user);
	}
	if (cookie(r, "sluice_csrf", csrf, sizeof(csrf)) == 0 &&
	    hex_token(csrf))
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

/* send - the reply */
static void
send_body(struct req *q, int code, const char *reason, const char *type,
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

/* html_page - a whole page around a body fragment */
static void
html_page(struct req *q, int code, const char *reason, const char *title,
    const struct buf *body, int refresh)
{
	struct page p = { title, q->user[0] ? q->user : NULL, q->csrf,
	    refresh };
	struct buf b;

	buf_init(&b, 64 * 1024 * 1024);
	page_begin(&b, &p);
	(void)buf_append(&b, body->data ? body->data : "", body->len);
	page_end(&b);
	send_body(q, code, reason, "text/html; charset=utf-8", &b);
	buf_release(&b);
}

/* message - a short page (errors, 404, 429) */
static void
message(struct req *q, int code, const char *reason, const char *heading,
    const char *text)
{
	struct buf b;

	buf_init(&b, 65536);
	page_message(&b, heading, text);
	html_page(q, code, reason, heading, &b, 0);
	buf_release(&b);
}

/* json_reply - JSON for the API */
static void
json_reply(struct req *q, int code, const char *reason, const struct buf *b)
{
	send_body(q, code, reason, "application/json", b);
}

/* json_error - {"error": ...} */
static void
json_error(struct req *q, int code, const char *reason, const char *msg)
{
	struct buf b;

	buf_init(&b, 4096);
	(void)buf_putc(&b, '{');
	json_kv_str(&b, 0, "error", msg);
	(void)buf_putc(&b, '}');
	json_reply(q, code, reason, &b);
	buf_release(&b);
}

/* redirect - 303 See Other */
static void
redirect(struct req *q, const char *to)
{
	headers(q, "text/plain");
	evhttp_add_header(evhttp_request_get_output_headers(q->r), "Location",
	    to);
	conns_replying(q->w->conns, 1);
	evhttp_send_reply(q->r, 303, "See Other", NULL);
	conns_replying(q->w->conns, 0);
}

/* form - the body's fields (application/x-www-form-urlencoded) */
static int
form(struct evhttp_request *r, struct evkeyvalq *kv)
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

/* csrf_ok - the form's token matches the visitor's cookie */
static int
csrf_ok(struct req *q, const char *token)
{
	return !q->new_csrf && token != NULL && strcmp(token, q->csrf) == 0;
}

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
	struct job *j;
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
	j = xcalloc(1, sizeof(*j));
	j->w = w;
	new_id(j->id, sizeof(j->id));
	str_copy(j->target, sizeof(j->target), target);
	j->port = port;
	j->delivery = delivery;
	str_copy(j->owner, sizeof(j->owner), q->user);
	j->created = now;
	j->state = J_QUEUED;
	hmap_put(w->live, j->id, j);
	if (w->qtail)
		w->qtail->next = j;
	else
		w->qhead = j;
	w->qtail = j;
	w->queued++;
	save(j);
	log_info("event=web-test report=%s target=%s port=%u mode=%s "
	    "visitor=%s user=%s", j->id, target, port, delivery ? "delivery" :
	    "anonymous", q->ip, q->user[0] ? q->user : "-");
	str_copy(id, idsize, j->id);
	pump(w);
	return 0;
}

/* report_json_of - a report's JSON: live from memory, else the store */
static int
report_json_of(struct web *w, const char *id, struct buf *b)
{
	struct job *j = hmap_get(w->live, id);
	struct store_row r;

	if (j != NULL) {
		json_job(j, b, qpos(w, j));
		return 0;
	}
	if (store_get(w->st, id, &r) == -1)
		return -1;
	(void)buf_puts(b, r.json);
	store_row_free(&r);
	return 0;
}

/* get_report - /r/ID (page or fragment) and /api/tests/ID */
static void
get_report(struct req *q, const char *id, int api, int fragment)
{
	struct buf b, page;
	struct jval *v;
	int running;

	if (!hex_token(id)) {
		if (api)
			json_error(q, 404, "Not Found", "no such report");
		else
			message(q, 404, "Not Found", "No such report",
			    "That report does not exist.");
		return;
	}
	buf_init(&b, 64 * 1024 * 1024);
	if (report_json_of(q->w, id, &b) == -1) {
		if (api)
			json_error(q, 404, "Not Found", "no such report");
		else
			message(q, 404, "Not Found", "No such report",
			    "That report does not exist.");
		buf_release(&b);
		return;
	}
	if (api) {
		json_reply(q, 200, "OK", &b);
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
		send_body(q, 200, "OK", "text/html; charset=utf-8", &page);
	else
		html_page(q, 200, "OK", v ? jsonp_str(v, "target") : "report",
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
	html_page(q, code, code == 200 ? "OK" : "Bad Request", "Relay test",
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
		message(q, 400, "Bad Request", "Bad target", "Give a host name, "
		    "address or domain.");
		return;
	}
	buf_init(&b, 1024 * 1024);
	html_render(&b, "<h1>Tests of {{t}}</h1><table><thead><tr><th>Target"
	    "</th><th>Mode</th><th>Verdict</th><th>When</th></tr></thead>"
	    "<tbody>", v, 1);
	store_history(q->w->st, target, 100, history_row, &b);
	(void)buf_puts(&b, "</tbody></table>");
	html_page(q, 200, "OK", target, &b, 0);
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
	if (form(q->r, &kv) == -1) {
		message(q, 400, "Bad Request", "Bad form", "The form could not "
		    "be read.");
		return;
	}
	if (!csrf_ok(q, evhttp_find_header(&kv, "csrf"))) {
		evhttp_clear_headers(&kv);
		message(q, 403, "Forbidden", "Form expired", "This form was not "
		    "sent from our page (CSRF check failed). Reload the page "
		    "and try again.");
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
			message(q, 429, "Too Many Requests", "Please wait", msg);
		else
			get_home(q, msg, target, code);
		return;
	}
	evhttp_clear_headers(&kv);
	snprintf(where, sizeof(where), "/r/%s", id);
	redirect(q, where);
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
		json_error(q, 413, "Payload Too Large", "body too large");
		return;
	}
	evbuffer_copyout(in, body, n);
	body[n] = '\0';
	target[0] = '\0';
	hdr = evhttp_find_header(ih, "X-CSRF-Token");
	token = csrf_ok(q, hdr);
	ctype = evhttp_find_header(ih, "Content-Type");
	if (!media_is(ctype, "application/json") &&
	    !media_is(ctype, "application/x-www-form-urlencoded")) {
		json_error(q, 415, "Unsupported Media Type", "send a JSON "
		    "object (Content-Type: application/json), or form fields "
		    "with the CSRF token");
		return;
	}
	if (media_is(ctype, "application/json")) {
		struct jval *v = jsonp_parse(body, n);
		const struct jval *pv;
		double pn;

		if (v == NULL) {
			json_error(q, 400, "Bad Request", "not JSON");
			return;
		}
		pv = jsonp_get(v, "port");
		pn = jsonp_num(v, "port");

		str_copy(target, sizeof(target), jsonp_str(v, "target"));
		if (pv != NULL && (pv->type != J_NUM || pn < 1 || pn > 65535 ||
		    pn != (double)(unsigned)pn)) {
			jsonp_free(v);
			json_error(q, 400, "Bad Request", "the port must be a "
			    "number from 1 to 65535");
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
			json_error(q, 400, "Bad Request", "bad form");
			return;
		}
		if (!token && !(token = csrf_ok(q, evhttp_find_header(&kv,
		    "csrf")))) {
			evhttp_clear_headers(&kv);
			json_error(q, 403, "Forbidden", "a form needs the CSRF "
			    "token (field csrf or header X-CSRF-Token); or send "
			    "JSON (Content-Type: application/json)");
			return;
		}
		if ((t = evhttp_find_header(&kv, "target")) != NULL)
			str_copy(target, sizeof(target), t);
		if ((p = evhttp_find_header(&kv, "port")) != NULL) {
			if (str_parse_u64(p, 1, 65535, &pp) == -1) {
				evhttp_clear_headers(&kv);
				json_error(q, 400, "Bad Request", "the port must "
				    "be a number from 1 to 65535");
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
		json_error(q, 403, "Forbidden", "delivery mode needs a signed-in "
		    "session and its X-CSRF-Token header");
		return;
	}
	if (submit(q, target, port, strcmp(mode, "delivery") == 0, id,
	    sizeof(id), &code, msg, sizeof(msg)) == -1) {
		json_error(q, code, code == 429 ? "Too Many Requests" :
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
	json_reply(q, 202, "Accepted", &b);
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
	if (form(q->r, &kv) == -1 || !csrf_ok(q, evhttp_find_header(&kv,
	    "csrf"))) {
		evhttp_clear_headers(&kv);
		message(q, 403, "Forbidden", "Form expired", "The CSRF check "
		    "failed. Reload the sign-in page and try again.");
		return;
	}
	snprintf(key, sizeof(key), "login:%s", q->ip);
	if (!ratelimit_take(q->w->rl_login, key, 10, 900, now, &retry)) {
		evhttp_clear_headers(&kv);
		message(q, 429, "Too Many Requests", "Please wait", "Too many "
		    "sign-in attempts from your address.");
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
		html_page(q, 403, "Forbidden", "Sign in", &b, 0);
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
	redirect(q, "/");
}

/* post_logout - forget the session */
static void
post_logout(struct req *q)
{
	struct evkeyvalq kv;
	char sess[80];

	TAILQ_INIT(&kv);
	if (form(q->r, &kv) == -1 || !csrf_ok(q, evhttp_find_header(&kv,
	    "csrf"))) {
		evhttp_clear_headers(&kv);
		message(q, 403, "Forbidden", "Form expired", "The CSRF check "
		    "failed.");
		return;
	}
	evhttp_clear_headers(&kv);
	if (cookie(q->r, "sluice_session", sess, sizeof(sess)) == 0)
		store_session_del(q->w->st, sess);
	evhttp_add_header(evhttp_request_get_output_headers(q->r),
	    "Set-Cookie", "sluice_session=; Path=/; HttpOnly; "
	    "SameSite=Strict; Max-Age=0");
	redirect(q, "/");
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
	html_page(q, 200, "OK", "API", &b, 0);
	buf_release(&b);
}

/* handle - every request */
static void
handle(struct evhttp_request *r, void *arg)
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
	begin(w, r, &q);
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_POST) {
		/* evhttp lets every method through, so that this 405 (not
		 * its own 501) carries the security headers; no CORS */
		evhttp_add_header(evhttp_request_get_output_headers(r),
		    "Allow", "GET, HEAD, POST");
		message(&q, 405, "Method Not Allowed", "Method not allowed",
		    "This page takes GET and POST only.");
		return;
	}
	TAILQ_INIT(&qs);
	if (query && evhttp_parse_query_str(query, &qs) == -1) {
		message(&q, 400, "Bad Request", "Bad request", "The address "
		    "could not be read.");
		return;
	}
	if (path == NULL || strlen(path) > 200) {
		message(&q, 404, "Not Found", "Not found", "No such page.");
	} else if (cmd == EVHTTP_REQ_GET && strcmp(path, "/") == 0) {
		get_home(&q, NULL, NULL, 200);
	} else if (cmd == EVHTTP_REQ_GET && strcmp(path,
	    "/static/style.css") == 0) {
		struct buf b = { (char *)style_css, strlen(style_css), 0,
		    0 };

		send_body(&q, 200, "OK", "text/css; charset=utf-8", &b);
	} else if (cmd == EVHTTP_REQ_GET && strcmp(path,
	    "/static/app.js") == 0) {
		struct buf b = { (char *)app_js, strlen(app_js), 0, 0 };

		send_body(&q, 200, "OK", "text/javascript; charset=utf-8", &b);
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
		html_page(&q, 200, "OK", "Sign in", &b, 0);
		buf_release(&b);
	} else if (cmd == EVHTTP_REQ_POST && strcmp(path, "/login") == 0) {
		post_login(&q);
	} else if (cmd == EVHTTP_REQ_POST && strcmp(path, "/logout") == 0) {
		post_logout(&q);
	} else
		message(&q, 404, "Not Found", "Not found", "No such page.");
	evhttp_clear_headers(&qs);
}

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
	size_t pos = 0;
	const char *k;
	void *v;

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
		catcher_on_token(w.catcher, on_token, &w);
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
	evhttp_set_gencb(w.http, handle, &w);
	{
		struct buf hb;
		size_t i;

		buf_init(&hb, 4096);
		for (i = 0; i < sizeof(secure) / sizeof(secure[0]); i++)
			(void)buf_printf(&hb, "%s: %s\r\n", secure[i].name,
			    secure[i].value);
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
	while (hmap_iter(w.live, &pos, &k, &v)) {
		struct job *j = v;

		probe_free(j->p);
		j->p = NULL;
	}
	evhttp_free(w.http);
	conns_free(w.conns);
	catcher_free(w.catcher);
	dns_free(w.dns);
	event_base_loop(w.base, EVLOOP_NONBLOCK);
	pos = 0;
	while (hmap_iter(w.live, &pos, &k, &v)) {
		struct job *j = v;
		size_t i;

		for (i = 0; i < j->nhosts; i++)
			buf_release(&j->hosts[i].json);
		free(j);
	}
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

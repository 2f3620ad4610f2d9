/*
 * job.c - the life of a test in `sluice web`: queued under
 * web.concurrency, its target resolved (MX hosts, addresses checked by the
 * guard, PTR), the probe run as a library with each host's report growing
 * as it goes, results shared between reports (web.target_cache), and the
 * verdict saved to the store when it ends.
 *
 * A job is in the service's live map from its submission until a
 * deferred event frees it after finish; a job is never freed inside the
 * probe's own callback.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "conf/conf.h"
#include "net/dns.h"
#include "policy/cidr.h"
#include "probe/engine.h"
#include "probe/report.h"
#include "util/hmap.h"
#include "util/json.h"
#include "util/jsonp.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xalloc.h"
#include "web/guard.h"
#include "web/store.h"
#include "web/web_int.h"

#define MAX_HOSTS	5		/* MX hosts tested per domain */

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

/* on_test - a test of a target is over: the host's report so far */
static void
on_test(void *arg, const struct ptarget *t, size_t i)
{
	struct feed *f = arg;

	(void)i;
	snapshot(f->j, t, 0);
}

/* on_done - a target is over: the host's final report */
static void
on_done(void *arg, const struct ptarget *t)
{
	struct feed *f = arg;

	snapshot(f->j, t, 1);
}

/* on_finished - the probe is over (it frees nothing of ours) */
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

/* a PTR lookup under way: host i of job j */
struct ptrq {
	struct job	*j;
	size_t		 i;
};

/* ptr_cb - a host's PTR, counted in j->lookups */
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

/* an address lookup under way: host i of job j */
struct addrq {
	struct job	*j;
	size_t		 i;
};

/* addr_cb - one host's addresses: take the first allowed one */
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

/* job_on_token - the catcher got a token: every running delivery probe
 * (each checks the token's proof against its own secret) */
void
job_on_token(void *arg, const struct tokhit *h)
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

/*
 * job_enqueue - a new test, created at the given time, at the end of the
 * queue (the caller checked the target and the limits); its report id
 * into id.
 */
void
job_enqueue(struct web *w, const char *target, unsigned port, int delivery,
    const char *owner, const char *visitor, time_t created, char *id,
    size_t idsize)
{
	struct job *j;

	j = xcalloc(1, sizeof(*j));
	j->w = w;
	new_id(j->id, sizeof(j->id));
	str_copy(j->target, sizeof(j->target), target);
	j->port = port;
	j->delivery = delivery;
	str_copy(j->owner, sizeof(j->owner), owner);
	j->created = created;
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
	    "anonymous", visitor, owner[0] ? owner : "-");
	str_copy(id, idsize, j->id);
	pump(w);
}

/* job_report_json - a report's JSON: live from memory, else the store */
int
job_report_json(struct web *w, const char *id, struct buf *b)
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

/* job_stop_all - web_main is stopping: stop every job's probe */
void
job_stop_all(struct web *w)
{
	size_t pos = 0;
	const char *k;
	void *v;

	while (hmap_iter(w->live, &pos, &k, &v)) {
		struct job *j = v;

		probe_free(j->p);
		j->p = NULL;
	}
}

/* job_free_all - web_main is stopping: free the jobs that are left */
void
job_free_all(struct web *w)
{
	size_t pos = 0;
	const char *k;
	void *v;

	while (hmap_iter(w->live, &pos, &k, &v)) {
		struct job *j = v;
		size_t i;

		for (i = 0; i < j->nhosts; i++)
			buf_release(&j->hosts[i].json);
		free(j);
	}
}

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ares.h>
#include <event2/event.h>

#include "net/dns.h"
#include "util/buf.h"
#include "util/str.h"
#include "util/xalloc.h"

#define MAX_SOCKS	16

struct dsock {
	ares_socket_t	 fd;
	struct event	*ev;
};

struct dns {
	struct event_base	*base;
	ares_channel		 ch;
	struct event		*timer;
	struct dsock		 socks[MAX_SOCKS];
};

/* one lookup; its result is handed to the caller from a deferred event */
struct q {
	struct dns		*d;
	int			 mx;	/* 1 MX, 2 TXT, else addresses */
	dns_addr_cb		 acb;
	dns_mx_cb		 mcb;
	dns_txt_cb		 tcb;
	dns_ptr_cb		 pcb;
	char			*txt[DNS_MAX_ANSWERS];
	void			*arg;
	enum dns_status		 st;
	struct sockaddr_storage	 addrs[DNS_MAX_ANSWERS];
	struct dns_mx		 mxs[DNS_MAX_ANSWERS];
	size_t			 n;
	struct event		*ev;
};

static int library_users;

/* reschedule - run c-ares's own timeouts */
static void
reschedule(struct dns *d)
{
	struct timeval tv, *t = ares_timeout(d->ch, NULL, &tv);

	if (t != NULL)
		evtimer_add(d->timer, t);
	else
		evtimer_del(d->timer);
}

/* io_cb - a DNS socket is ready */
static void
io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns *d = arg;

	ares_process_fd(d->ch, (what & EV_READ) ? fd : ARES_SOCKET_BAD,
	    (what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
	reschedule(d);
}

/* timer_cb - a query timed out (c-ares retries or fails it) */
static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns *d = arg;

	(void)fd;
	(void)what;
	ares_process_fd(d->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	reschedule(d);
}

/* sock_state_cb - c-ares wants fd watched (or not) */
static void
sock_state_cb(void *arg, ares_socket_t fd, int readable, int writable)
{
	struct dns *d = arg;
	struct dsock *s = NULL, *free_slot = NULL;
	size_t i;

	for (i = 0; i < MAX_SOCKS; i++) {
		if (d->socks[i].ev != NULL && d->socks[i].fd == fd)
			s = &d->socks[i];
		else if (d->socks[i].ev == NULL && free_slot == NULL)
			free_slot = &d->socks[i];
	}
	if (s != NULL) {
		event_free(s->ev);
		s->ev = NULL;
	}
	if (!readable && !writable)
		return;
	if (s == NULL)
		s = free_slot;
	if (s == NULL)
		return;	/* over MAX_SOCKS: c-ares's timeouts still apply */
	s->fd = fd;
	s->ev = event_new(d->base, fd, EV_PERSIST | (readable ? EV_READ : 0) |
	    (writable ? EV_WRITE : 0), io_cb, d);
	event_add(s->ev, NULL);
}

/*
 * dns_new - a resolver on base. servers: NULL for the system's, or
 * "ADDR[:PORT],..." (c-ares CSV form). NULL with err on failure.
 */
struct dns *
dns_new(struct event_base *base, const char *servers, unsigned timeout_ms,
    char *err, size_t errsize)
{
	struct dns *d = xcalloc(1, sizeof(*d));
	struct ares_options o;
	int r;

	if (library_users++ == 0 && ares_library_init(ARES_LIB_INIT_ALL)) {
		snprintf(err, errsize, "c-ares library init failed");
		free(d);
		return NULL;
	}
	memset(&o, 0, sizeof(o));
	o.sock_state_cb = sock_state_cb;
	o.sock_state_cb_data = d;
	o.timeout = (int)(timeout_ms ? timeout_ms : 3000);
	o.tries = 2;
	r = ares_init_options(&d->ch, &o, ARES_OPT_SOCK_STATE_CB |
	    ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
	if (r != ARES_SUCCESS) {
		snprintf(err, errsize, "c-ares init: %s", ares_strerror(r));
		free(d);
		return NULL;
	}
	if (servers && *servers &&
	    (r = ares_set_servers_ports_csv(d->ch, servers)) != ARES_SUCCESS) {
		snprintf(err, errsize, "resolver \"%s\": %s", servers,
		    ares_strerror(r));
		ares_destroy(d->ch);
		free(d);
		return NULL;
	}
	d->base = base;
	d->timer = evtimer_new(base, timer_cb, d);
	return d;
}

/* dns_free - cancel lookups (their callbacks run with DNS_TEMP) and free */
void
dns_free(struct dns *d)
{
	size_t i;

	if (d == NULL)
		return;
	ares_destroy(d->ch);
	for (i = 0; i < MAX_SOCKS; i++)
		if (d->socks[i].ev)
			event_free(d->socks[i].ev);
	event_free(d->timer);
	free(d);
	if (--library_users == 0)
		ares_library_cleanup();
}

/* deliver_cb - hand a finished lookup to its caller */
static void
deliver_cb(evutil_socket_t fd, short what, void *arg)
{
	struct q *q = arg;

	(void)fd;
	(void)what;
	size_t i;

	if (q->mx == 1)
		q->mcb(q->arg, q->st, q->mxs, q->n);
	else if (q->mx == 3)
		q->pcb(q->arg, q->st, q->n ? q->mxs[0].host : NULL);
	else if (q->mx == 2)
		q->tcb(q->arg, q->st, (const char *const *)q->txt, q->n);
	else
		q->acb(q->arg, q->st, q->addrs, q->n);
	for (i = 0; q->mx == 2 && i < q->n; i++)
		free(q->txt[i]);
	event_free(q->ev);
	free(q);
}

/* done - schedule the caller's callback (never from inside c-ares) */
static void
done(struct q *q, enum dns_status st)
{
	q->st = st;
	event_active(q->ev, EV_TIMEOUT, 0);
}

/* status - c-ares status to ours */
static enum dns_status
status(int s)
{
	switch (s) {
	case ARES_SUCCESS: return DNS_OK;
	case ARES_ENOTFOUND: return DNS_NXDOMAIN;
	case ARES_ENODATA: return DNS_NODATA;
	case ARES_EBADNAME: case ARES_EBADRESP: case ARES_EFORMERR:
		return DNS_BAD;
	default: return DNS_TEMP;
	}
}

/* new_q - a lookup record */
static struct q *
new_q(struct dns *d, void *arg)
{
	struct q *q = xcalloc(1, sizeof(*q));

	q->d = d;
	q->arg = arg;
	q->ev = event_new(d->base, -1, 0, deliver_cb, q);
	return q;
}

/* addr_cb - c-ares getaddrinfo result */
static void
addr_cb(void *arg, int st, int timeouts, struct ares_addrinfo *ai)
{
	struct q *q = arg;
	struct ares_addrinfo_node *n;

	(void)timeouts;
	if (st != ARES_SUCCESS || ai == NULL) {
		if (ai)
			ares_freeaddrinfo(ai);
		done(q, status(st));
		return;
	}
	for (n = ai->nodes; n != NULL && q->n < DNS_MAX_ANSWERS; n = n->ai_next)
		if ((n->ai_family == AF_INET || n->ai_family == AF_INET6) &&
		    (size_t)n->ai_addrlen <= sizeof(q->addrs[0]))
			memcpy(&q->addrs[q->n++], n->ai_addr, n->ai_addrlen);
	ares_freeaddrinfo(ai);
	done(q, q->n ? DNS_OK : DNS_NODATA);
}

/* dns_lookup_addr - A and/or AAAA (family AF_UNSPEC for both) */
void
dns_lookup_addr(struct dns *d, const char *name, int family, dns_addr_cb cb,
    void *arg)
{
	struct ares_addrinfo_hints h;
	struct q *q = new_q(d, arg);

	q->acb = cb;
	/* an address literal is its own answer: never a query */
	if (family != AF_INET6 && inet_pton(AF_INET, name,
	    &((struct sockaddr_in *)&q->addrs[0])->sin_addr) == 1) {
		q->addrs[0].ss_family = AF_INET;
		q->n = 1;
		done(q, DNS_OK);
		return;
	}
	if (family != AF_INET && inet_pton(AF_INET6, name,
	    &((struct sockaddr_in6 *)&q->addrs[0])->sin6_addr) == 1) {
		q->addrs[0].ss_family = AF_INET6;
		q->n = 1;
		done(q, DNS_OK);
		return;
	}
	memset(&h, 0, sizeof(h));
	h.ai_family = family;
	h.ai_socktype = SOCK_STREAM;
	ares_getaddrinfo(d->ch, name, NULL, &h, addr_cb, q);
	reschedule(d);
}

/* cmp_mx - by preference */
static int
cmp_mx(const void *a, const void *b)
{
	const struct dns_mx *x = a, *y = b;

	return (x->pref > y->pref) - (x->pref < y->pref);
}

/* mx_cb - c-ares MX answer */
static void
mx_cb(void *arg, int st, int timeouts, unsigned char *abuf, int alen)
{
	struct q *q = arg;
	struct ares_mx_reply *mx = NULL, *m;
	size_t seen = 0;

	(void)timeouts;
	if (st != ARES_SUCCESS) {
		done(q, status(st));
		return;
	}
	if ((st = ares_parse_mx_reply(abuf, alen, &mx)) != ARES_SUCCESS) {
		done(q, status(st) == DNS_NXDOMAIN ? DNS_NODATA : status(st));
		return;
	}
	for (m = mx; m != NULL && q->n < DNS_MAX_ANSWERS; m = m->next) {
		seen++;
		if (str_copy(q->mxs[q->n].host, sizeof(q->mxs[0].host),
		    m->host) == -1)
			continue;
		q->mxs[q->n].pref = m->priority;
		q->n++;
	}
	ares_free_data(mx);
	/* RFC 7505: a single MX "." with preference 0 is a null MX */
	if (q->n == 1 && (q->mxs[0].host[0] == '\0' ||
	    strcmp(q->mxs[0].host, ".") == 0)) {
		q->n = 0;
		done(q, DNS_NULLMX);
		return;
	}
	qsort(q->mxs, q->n, sizeof(q->mxs[0]), cmp_mx);
	/* MX records that are all unusable are a bad answer, not "no MX":
	 * the implicit MX (RFC 5321 5.1) is only for domains without any */
	done(q, q->n ? DNS_OK : seen ? DNS_BAD : DNS_NODATA);
}

/* dns_lookup_mx - the MX records of domain, sorted by preference */
void
dns_lookup_mx(struct dns *d, const char *domain, dns_mx_cb cb, void *arg)
{
	struct q *q = new_q(d, arg);

	q->mx = 1;
	q->mcb = cb;
	ares_query(d->ch, domain, ns_c_in, ns_t_mx, mx_cb, q);
	reschedule(d);
}

/* dns_strstatus - words for a status */
const char *
dns_strstatus(enum dns_status st)
{
	switch (st) {
	case DNS_OK: return "ok";
	case DNS_NXDOMAIN: return "no such domain";
	case DNS_NODATA: return "no records";
	case DNS_NULLMX: return "null MX: the domain accepts no mail";
	case DNS_TEMP: return "temporary DNS failure";
	case DNS_BAD: return "malformed name or answer";
	}
	return "?";
}

/* txt_cb - c-ares TXT answer: one string per record (chunks joined) */
static void
txt_cb(void *arg, int st, int timeouts, unsigned char *abuf, int alen)
{
	struct q *q = arg;
	struct ares_txt_ext *txt = NULL, *t;
	struct buf b;

	(void)timeouts;
	if (st != ARES_SUCCESS) {
		done(q, status(st));
		return;
	}
	if ((st = ares_parse_txt_reply_ext(abuf, alen, &txt)) != ARES_SUCCESS) {
		done(q, status(st) == DNS_NXDOMAIN ? DNS_NODATA : status(st));
		return;
	}
	buf_init(&b, 4096);
	for (t = txt; t != NULL; t = t->next) {
		if (t->record_start && b.len > 0 && q->n < DNS_MAX_ANSWERS) {
			q->txt[q->n++] = xstrdup(buf_cstr(&b));
			buf_reset(&b);
		}
		(void)buf_append(&b, t->txt, t->length);
	}
	if (b.len > 0 && q->n < DNS_MAX_ANSWERS)
		q->txt[q->n++] = xstrdup(buf_cstr(&b));
	buf_release(&b);
	ares_free_data(txt);
	done(q, q->n ? DNS_OK : DNS_NODATA);
}

/* dns_lookup_txt - the TXT records of name */
void
dns_lookup_txt(struct dns *d, const char *name, dns_txt_cb cb, void *arg)
{
	struct q *q = new_q(d, arg);

	q->mx = 2;
	q->tcb = cb;
	ares_query(d->ch, name, ns_c_in, ns_t_txt, txt_cb, q);
	reschedule(d);
}

/* a_cb - c-ares A answer */
static void
a_cb(void *arg, int st, int timeouts, unsigned char *abuf, int alen)
{
	struct q *q = arg;
	struct ares_addrttl ttls[DNS_MAX_ANSWERS];
	int n = DNS_MAX_ANSWERS, i;

	(void)timeouts;
	if (st != ARES_SUCCESS) {
		done(q, status(st));
		return;
	}
	if ((st = ares_parse_a_reply(abuf, alen, NULL, ttls, &n)) !=
	    ARES_SUCCESS) {
		done(q, status(st) == DNS_NXDOMAIN ? DNS_NODATA : status(st));
		return;
	}
	for (i = 0; i < n && q->n < DNS_MAX_ANSWERS; i++) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&q->addrs[q->n++];

		sin->sin_family = AF_INET;
		sin->sin_addr = ttls[i].ipaddr;
	}
	done(q, q->n ? DNS_OK : DNS_NODATA);
}

/* dns_lookup_a - the A records of an absolute name */
void
dns_lookup_a(struct dns *d, const char *name, dns_addr_cb cb, void *arg)
{
	struct q *q = new_q(d, arg);

	q->acb = cb;
	ares_query(d->ch, name, ns_c_in, ns_t_a, a_cb, q);
	reschedule(d);
}

/* ptr_cb - c-ares reverse lookup */
static void
ptr_cb(void *arg, int st, int timeouts, struct hostent *h)
{
	struct q *q = arg;

	(void)timeouts;
	if (st == ARES_SUCCESS && h && h->h_name &&
	    str_copy(q->mxs[0].host, sizeof(q->mxs[0].host), h->h_name) == 0)
		q->n = 1;
	done(q, st == ARES_SUCCESS ? (q->n ? DNS_OK : DNS_BAD) : status(st));
}

/* dns_lookup_ptr - the PTR name of an address */
void
dns_lookup_ptr(struct dns *d, const struct sockaddr_storage *a,
    dns_ptr_cb cb, void *arg)
{
	struct q *q = new_q(d, arg);

	q->mx = 3;
	q->pcb = cb;
	if (a->ss_family == AF_INET)
		ares_gethostbyaddr(d->ch, &((const struct sockaddr_in *)
		    (const void *)a)->sin_addr, 4, AF_INET, ptr_cb, q);
	else
		ares_gethostbyaddr(d->ch, &((const struct sockaddr_in6 *)
		    (const void *)a)->sin6_addr, 16, AF_INET6, ptr_cb, q);
	reschedule(d);
}

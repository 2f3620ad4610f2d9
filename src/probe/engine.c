#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "net/dns.h"
#include "net/smtpc.h"
#include "probe/catcher.h"
#include "probe/engine_int.h"
#include "probe/tokscan.h"
#include "smtp/addr.h"
#include "util/hmap.h"
#include "util/str.h"
#include "util/xalloc.h"

static void all_done(struct probe *p);
static void fill(struct probe *p);

/* probe_now - wall time in seconds */
double
probe_now(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* target_verdict - from its tests, or from why it has none */
static enum pv
target_verdict(const struct ptarget *t, const enum pv *relay, size_t nr,
    const enum pv *ctl, size_t nc)
{
	if (t->refused_at_connect)
		return PV_REFUSES_ALL;
	if (t->ntests == 0)
		return t->verdict != PV_PENDING ? t->verdict : PV_ERROR;
	return classify_target(relay, nr, ctl, nc, t->greeted);
}

/* target_free - a finished target's memory (its session is gone) */
static void
target_free(struct ptarget *t)
{
	if (t->pace)
		event_free(t->pace);
	buf_release(&t->ehlo);
	buf_release(&t->transcript);
	free(t->tests);
	free(t);
}

/* target_finish - the target is done: verdict, then report or hold */
void
target_finish(struct ptarget *t)
{
	struct probe *p = t->p;
	enum pv relay[64], ctl[8];
	size_t i, nr = 0, nc = 0;

	if (t->finished)
		return;
	t->finished = 1;
	if (t->c) {
		smtpc_free(t->c);
		t->c = NULL;
	}
	t->t_end = probe_now();
	TAILQ_REMOVE(&t->p->live, t, link);
	for (i = 0; i < t->ntests; i++) {
		if (t->tests[i].verdict == PV_PENDING) {
			t->tests[i].verdict = t->refused_at_connect ?
			    PV_CLOSED : PV_ERROR;
			if (t->tests[i].note[0] == '\0')
				str_copy(t->tests[i].note,
				    sizeof(t->tests[i].note),
				    t->refused_at_connect ? "refused at connect" :
				    "not run");
		}
		if (t->tests[i].bt->kind == BT_CONTROL) {
			if (nc < 8)
				ctl[nc++] = t->tests[i].verdict;
		} else if (nr < 64)
			relay[nr++] = t->tests[i].verdict;
	}
	p->running--;
	if (p->o.delivery) {
		if (p->nheld == p->capheld) {
			p->capheld = p->capheld ? p->capheld * 2 : 16;
			p->held = xreallocarray(p->held, p->capheld,
			    sizeof(*p->held));
		}
		p->held[p->nheld++] = t;
		/* its verdict waits for the tokens; the line still moves */
		if (p->o.progress)
			p->o.progress(p->o.done_arg, p->started, p->finished,
			    p->hits);
	} else {
		t->verdict = target_verdict(t, relay, nr, ctl, nc);
		p->finished++;
		if (pv_is_hit(t->verdict))
			p->hits++;
		if (t->verdict == PV_ERROR || t->verdict == PV_TIMEOUT ||
		    t->verdict == PV_TEMPFAIL)
			p->errors++;	/* could not be assessed */
		if (p->o.done)
			p->o.done(p->o.done_arg, t);
		if (p->o.progress)
			p->o.progress(p->o.done_arg, p->started, p->finished,
			    p->hits);
		target_free(t);
	}
	event_active(p->kick, EV_TIMEOUT, 0);
}

/* resolved - the target's name lookup finished */
static void
resolved(void *arg, enum dns_status st, const struct sockaddr_storage *a,
    size_t n)
{
	struct ptarget *t = arg;

	if (st != DNS_OK || n == 0) {
		snprintf(t->note, sizeof(t->note), "cannot resolve %s: %s",
		    t->host, dns_strstatus(st));
		t->ntests = 0;
		target_finish(t);
		return;
	}
	memcpy(&t->addr, &a[0], sizeof(t->addr));
	dialog_begin(t);
}

/*
 * parse_spec - "host", "host:port", "[v6]:port", "a.b.c.d", "v6::addr".
 * 0, or -1 if malformed.
 */
static int
parse_spec(struct ptarget *t, unsigned defport)
{
	const char *s = t->spec, *colon, *sp;
	uint64_t port = defport;
	unsigned char ip[16];
	char name[256] = "";

	if ((sp = strchr(s, ' ')) != NULL) {
		/* "NAME ADDR:PORT": the address is given, the name shown */
		if (str_ncopy(name, sizeof(name), s, (size_t)(sp - s)) == -1)
			return -1;
		s = sp + 1;
	}

	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (rb == NULL || str_ncopy(t->host, sizeof(t->host), s + 1,
		    (size_t)(rb - s - 1)) == -1)
			return -1;
		if (rb[1] == ':' && str_parse_u64(rb + 2, 1, 65535, &port))
			return -1;
		if (rb[1] != '\0' && rb[1] != ':')
			return -1;
	} else if ((colon = strchr(s, ':')) != NULL &&
	    strchr(colon + 1, ':') == NULL) {
		if (str_ncopy(t->host, sizeof(t->host), s,
		    (size_t)(colon - s)) == -1 ||
		    str_parse_u64(colon + 1, 1, 65535, &port))
			return -1;
	} else if (str_copy(t->host, sizeof(t->host), s) == -1)
		return -1;
	if (t->host[0] == '\0')
		return -1;
	t->port = (unsigned)port;
	memset(&t->addr, 0, sizeof(t->addr));
	if (inet_pton(AF_INET, t->host, ip) == 1) {
		t->addr.ss_family = AF_INET;
		memcpy(&((struct sockaddr_in *)&t->addr)->sin_addr, ip, 4);
	} else if (inet_pton(AF_INET6, t->host, ip) == 1) {
		t->addr.ss_family = AF_INET6;
		memcpy(&((struct sockaddr_in6 *)&t->addr)->sin6_addr, ip, 16);
	} else if (name[0])
		return -1;	/* "NAME ADDR" needs an address */
	if (name[0])
		str_copy(t->host, sizeof(t->host), name);
	return 0;
}

/* start_target - a new target from its spec */
static void
start_target(struct probe *p, const char *spec)
{
	struct ptarget *t = xcalloc(1, sizeof(*t));

	t->p = p;
	t->index = p->started++;
	p->running++;
	TAILQ_INSERT_TAIL(&p->live, t, link);
	t->t_start = probe_now();
	str_copy(t->spec, sizeof(t->spec), spec);
	buf_init(&t->ehlo, 8192);
	buf_init(&t->transcript, TRANSCRIPT_MAX + 64);
	if (parse_spec(t, p->o.port) == -1) {
		snprintf(t->note, sizeof(t->note), "bad target \"%s\" (want "
		    "HOST, HOST:PORT or [IPV6]:PORT)", spec);
		target_finish(t);
		return;
	}
	if (t->addr.ss_family != 0) {
		dialog_begin(t);
		return;
	}
	if (p->dns == NULL) {
		char err[200];

		p->dns = dns_new(p->base, p->o.resolver, 3000, err,
		    sizeof(err));
		if (p->dns == NULL) {
			snprintf(t->note, sizeof(t->note), "%s", err);
			target_finish(t);
			return;
		}
	}
	dns_lookup_addr(p->dns, t->host, AF_UNSPEC, resolved, t);
}

/* all_done - every target has its verdict */
static void
all_done(struct probe *p)
{
	if (p->o.finished)
		p->o.finished(p->o.done_arg);
	else
		event_base_loopexit(p->base, NULL);
}

/* catcher_idle_cb - the catcher answered everything: done */
static void
catcher_idle_cb(void *arg)
{
	struct probe *p = arg;

	evtimer_del(p->wait_timer);
	catcher_on_idle(p->o.catcher, NULL, NULL);
	all_done(p);
}

/* relay_note - a relay test's note once its token had its time */
static void
relay_note(struct probe *p, struct ptest *pt, int failed)
{
	char was[sizeof(pt->note)];

	if (pt->token_state == TOKEN_RELAYED) {
		if (failed) {
			/* the session failed after the message went out */
			str_copy(was, sizeof(was), pt->note);
			snprintf(pt->note, sizeof(pt->note), "relayed: token "
			    "received (then: %.150s)", was[0] ? was : "?");
		} else
			str_copy(pt->note, sizeof(pt->note),
			    "relayed: token received");
	} else if (failed)
		;	/* the timeout or error says it */
	else if (pt->token_state == TOKEN_BOUNCED)
		str_copy(pt->note, sizeof(pt->note), "accepted, then bounced");
	else if (pt->data_code / 100 == 2)
		snprintf(pt->note, sizeof(pt->note),
		    "accepted, not relayed within %us", p->o.wait_secs);
	if (pt->unproven) {
		size_t n = strlen(pt->note);

		snprintf(pt->note + n, sizeof(pt->note) - n, "%s%s",
		    n ? "; " : "", "ignored a message with this token but "
		    "without the probe's proof");
	}
}

/* finalize - delivery mode: verdicts once the tokens had their time */
static void
finalize(struct probe *p)
{
	size_t i, j;

	p->finalized = 1;
	event_del(p->poll_timer);
	for (i = 0; i < p->nheld; i++) {
		struct ptarget *t = p->held[i];
		enum pv relay[64], ctl[8];
		size_t nr = 0, nc = 0;

		for (j = 0; j < t->ntests; j++) {
			struct ptest *pt = &t->tests[j];
			int failed = pt->verdict == PV_TIMEOUT ||
			    pt->verdict == PV_ERROR;

			if (pt->bt->kind == BT_RELAY &&
			    pt->token_state == TOKEN_RELAYED) {
				/* the token proves it, whatever the session
				 * did after the message went out */
				pt->verdict = PV_OPEN;
				relay_note(p, pt, failed);
			} else if (pt->bt->kind == BT_RELAY &&
			    pt->rcpt_code / 100 == 2 && !failed) {
				pt->verdict = classify_test(0,
				    (pt->bt->flags & BT_LOCALFORM) != 0, 1,
				    pt->mail_code, pt->mail_enh, pt->mail_reply,
				    pt->rcpt_code, pt->rcpt_enh, pt->rcpt_reply,
				    pt->data_code, pt->data_enh, pt->data_reply,
				    pt->token_state);
				relay_note(p, pt, 0);
			} else if (pt->unproven)
				relay_note(p, pt, 1);
			if (pt->bt->kind == BT_CONTROL) {
				if (nc < 8)
					ctl[nc++] = pt->verdict;
			} else if (nr < 64)
				relay[nr++] = pt->verdict;
		}
		t->verdict = target_verdict(t, relay, nr, ctl, nc);
		p->finished++;
		if (pv_is_hit(t->verdict))
			p->hits++;
		if (t->verdict == PV_ERROR || t->verdict == PV_TIMEOUT ||
		    t->verdict == PV_TEMPFAIL)
			p->errors++;	/* could not be assessed */
		if (p->o.done)
			p->o.done(p->o.done_arg, t);
		if (p->o.progress)
			p->o.progress(p->o.done_arg, p->started, p->finished,
			    p->hits);
	}
	/* let the catcher answer what it is receiving (a relay that loses
	 * its connection after the data retries the message for days) */
	if (p->o.catcher != NULL && catcher_busy(p->o.catcher)) {
		struct timeval grace = { 5, 0 };

		catcher_on_idle(p->o.catcher, catcher_idle_cb, p);
		evtimer_add(p->wait_timer, &grace);
		p->draining = 1;
		return;
	}
	all_done(p);
}

/*
 * token_seen - the catcher or the Maildir produced a token. Only a token
 * with this run's proof counts (tokens are shown while the probe waits;
 * anyone could send one to the catcher). A copy of the message that comes
 * back with the null sender is a bounce, unless the test itself used the
 * null sender.
 */
static void
token_seen(void *arg, const struct tokhit *h)
{
	struct probe *p = arg;
	struct ptest *pt = hmap_get(p->tokens, h->token);
	enum ptoken kind = h->kind;

	if (pt == NULL)
		return;
	if (!tokscan_proof_ok(p->secret, sizeof(p->secret), h->token,
	    h->proof)) {
		pt->unproven = 1;
		return;
	}
	if (kind == TOKEN_RELAYED && h->null_sender && pt->from[0] != '\0')
		kind = TOKEN_BOUNCED;
	/* relayed wins over bounced: both may arrive */
	if (kind == TOKEN_RELAYED || pt->token_state == TOKEN_NONE)
		pt->token_state = kind;
	if (!pt->counted)
		return;		/* seen before (a Maildir is read again) */
	pt->counted = 0;
	if (p->outstanding > 0 && --p->outstanding == 0 && p->waiting &&
	    !p->finalized)
		event_active(p->wait_timer, EV_TIMEOUT, 0);
}

/* probe_token - a token arrived at a catcher the caller runs itself */
void
probe_token(struct probe *p, const struct tokhit *h)
{
	token_seen(p, h);
}

/* probe_outstanding - a message went out whose token may come back */
void
probe_outstanding(struct probe *p, struct ptest *pt)
{
	if (pt->counted || pt->token_state != TOKEN_NONE)
		return;
	pt->counted = 1;
	p->outstanding++;
}

/* probe_proof - the proof a test message carries for its token */
void
probe_proof(const struct probe *p, const char *token,
    char proof[PROOF_LEN + 1])
{
	tokscan_proof(p->secret, sizeof(p->secret), token, proof);
}

/* wait_cb - the wait for tokens is over */
static void
wait_cb(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;

	(void)fd;
	(void)what;
	if (p->draining) {		/* the catcher had its grace time */
		catcher_on_idle(p->o.catcher, NULL, NULL);
		all_done(p);
		return;
	}
	if (p->finalized)
		return;
	if (p->o.maildir)
		tokscan_maildir(p->o.maildir, token_seen, p);
	finalize(p);
}

/* poll_cb - look in the Maildir for tokens */
static void
poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;

	(void)fd;
	(void)what;
	tokscan_maildir(p->o.maildir, token_seen, p);
}

/* fill - start targets up to the concurrency bound; end when all done */
static void
fill(struct probe *p)
{
	char spec[300];

	while (!p->source_done && p->running < p->o.concurrency) {
		if (!p->o.next(p->o.next_arg, spec, sizeof(spec))) {
			p->source_done = 1;
			break;
		}
		start_target(p, spec);
	}
	if (p->source_done && p->running == 0 && !p->waiting) {
		if (!p->o.delivery) {
			p->waiting = 1;
			all_done(p);
			return;
		}
		p->waiting = 1;
		if (p->outstanding == 0)
			event_active(p->wait_timer, EV_TIMEOUT, 0);
		else {
			struct timeval tv = { (time_t)p->o.wait_secs, 0 };
			struct timeval pt = { 0, 250000 };

			evtimer_add(p->wait_timer, &tv);
			if (p->o.maildir)
				event_add(p->poll_timer, &pt);
		}
	}
}

/* kick_cb - a target finished: refill from the event loop */
static void
kick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	fill(arg);
}

/* select_tests - the run order: controls, relay tests, the auth control */
static int
select_tests(struct probe *p, char *err, size_t errsize)
{
	size_t i, pass;

	p->order = xcalloc(battery_count(), sizeof(*p->order));
	for (pass = 0; pass < 3; pass++)
		for (i = 0; i < battery_count(); i++) {
			const struct btest *b = battery_get(i);
			int want = pass == 0 ? (b->kind == BT_CONTROL &&
			    !(b->flags & BT_AUTH)) : pass == 1 ?
			    b->kind == BT_RELAY : (b->flags & BT_AUTH) != 0;

			if (!want)
				continue;
			if (p->o.tests && b->kind == BT_RELAY) {
				char list[1024], *tok, *save = NULL;
				int found = 0;

				str_copy(list, sizeof(list), p->o.tests);
				for (tok = strtok_r(list, ",", &save); tok;
				    tok = strtok_r(NULL, ",", &save))
					if (strcmp(tok, b->id) == 0 ||
					    strcmp(tok, b->trick) == 0)
						found = 1;
				if (!found)
					continue;
			}
			p->order[p->norder++] = i;
		}
	if (p->o.tests) {
		char list[1024], *tok, *save = NULL;

		str_copy(list, sizeof(list), p->o.tests);
		for (tok = strtok_r(list, ",", &save); tok;
		    tok = strtok_r(NULL, ",", &save)) {
			size_t k;
			int ok = 0;

			for (k = 0; k < battery_count(); k++)
				if (strcmp(battery_get(k)->id, tok) == 0 ||
				    strcmp(battery_get(k)->trick, tok) == 0)
					ok = 1;
			if (!ok) {
				snprintf(err, errsize, "unknown test \"%s\" "
				    "(see --list-tests)", tok);
				return -1;
			}
		}
	}
	return 0;
}

/* probe_new - an engine for o (copied; what it points to is borrowed) */
struct probe *
probe_new(struct event_base *base, const struct probe_opts *o, char *err,
    size_t errsize)
{
	struct probe *p = xcalloc(1, sizeof(*p));

	TAILQ_INIT(&p->live);

	p->base = base;
	p->o = *o;
	if (p->o.concurrency == 0)
		p->o.concurrency = 1;
	if (select_tests(p, err, errsize) == -1) {
		probe_free(p);
		return NULL;
	}
	if (o->helo && *o->helo)
		str_copy(p->helo, sizeof(p->helo), o->helo);
	else if (gethostname(p->helo, sizeof(p->helo)) == -1 || !*p->helo)
		str_copy(p->helo, sizeof(p->helo), "sluice-probe.invalid");
	p->helo[sizeof(p->helo) - 1] = '\0';
	/* never written anywhere: it signs this run's test messages */
	arc4random_buf(p->secret, sizeof(p->secret));
	p->tokens = hmap_new();
	p->kick = event_new(base, -1, 0, kick_cb, p);
	p->wait_timer = evtimer_new(base, wait_cb, p);
	p->poll_timer = event_new(base, -1, EV_PERSIST, poll_cb, p);
	if (o->catcher)
		catcher_on_token(o->catcher, token_seen, p);
	return p;
}

/* probe_free - free the engine and any held targets */
void
probe_free(struct probe *p)
{
	struct ptarget *t;
	size_t i;

	if (p == NULL)
		return;
	/* targets still talking: end their sessions (no callback after) */
	while ((t = TAILQ_FIRST(&p->live)) != NULL) {
		TAILQ_REMOVE(&p->live, t, link);
		smtpc_free(t->c);
		target_free(t);
	}
	for (i = 0; i < p->nheld; i++)
		target_free(p->held[i]);
	free(p->held);
	hmap_free(p->tokens);
	if (p->kick)
		event_free(p->kick);
	if (p->wait_timer)
		event_free(p->wait_timer);
	if (p->poll_timer)
		event_free(p->poll_timer);
	dns_free(p->dns);
	free(p->order);
	explicit_bzero(p->secret, sizeof(p->secret));
	free(p);
}

/* probe_start - start (the caller's loop runs it; see opts.finished) */
void
probe_start(struct probe *p)
{
	event_active(p->kick, EV_TIMEOUT, 0);
}

/* probe_run - run every target to its verdict; 0 */
int
probe_run(struct probe *p)
{
	fill(p);
	event_base_dispatch(p->base);
	return 0;
}

/* probe_hits - targets found open or accepting relay */
unsigned
probe_hits(const struct probe *p)
{
	return p->hits;
}

/* probe_errors - targets that could not be assessed */
unsigned
probe_errors(const struct probe *p)
{
	return p->errors;
}

/* probe_count - targets finished */
unsigned
probe_count(const struct probe *p)
{
	return p->finished;
}

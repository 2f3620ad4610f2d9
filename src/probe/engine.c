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
#include "probe/engine.h"
#include "probe/tokscan.h"
#include "smtp/addr.h"
#include "util/base64.h"
#include "util/hmap.h"
#include "util/str.h"
#include "util/xalloc.h"

/* A transcript is cut beyond this (hostile servers can talk forever). */
#define TRANSCRIPT_MAX	(256 * 1024)

enum {
	S_IDLE, S_GREETING, S_EHLO, S_HELO, S_STARTTLS, S_TLS, S_EHLO_TLS,
	S_AUTH, S_SPOOF, S_MAIL, S_RCPT, S_DATA, S_DATA_END, S_RSET, S_QUIT
};

struct probe {
	struct event_base	*base;
	struct probe_opts	 o;
	struct dns		*dns;
	size_t			*order;		/* battery indices, run order */
	size_t			 norder;
	char			 helo[256];
	unsigned		 running, started, finished, hits, errors;
	int			 source_done;
	struct ptarget		**held;		/* delivery: awaiting tokens */
	size_t			 nheld, capheld;
	struct hmap		*tokens;	/* token -> struct ptest */
	size_t			 outstanding;	/* tokens sent, not seen */
	struct event		*wait_timer, *poll_timer, *kick;
	int			 waiting;
	int			 draining;	/* finalized, catcher busy */
};

static void names(struct ptarget *t);
static void all_done(struct probe *p);
static void expand_tests(struct ptarget *t);
static void on_reply(void *arg, struct smtpc *c, enum smtpc_err err,
    const struct reply *r);
static void start_session(struct ptarget *t);
static void fill(struct probe *p);

/* now - wall time in seconds */
static double
now(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* on_line - transcript hook */
static void
on_line(void *arg, int dir, const char *line, size_t len)
{
	struct ptarget *t = arg;
	static const char *pre[] = { "C: ", "S: ", "*: " };

	if (dir == SMTPC_SENT && t->hide_sent)
		return;
	if (!t->p->o.keep_transcript || t->transcript.len > TRANSCRIPT_MAX)
		return;
	if (buf_puts(&t->transcript, pre[dir]) == -1 ||
	    buf_append(&t->transcript, line, len > 1000 ? 1000 : len) == -1 ||
	    buf_putc(&t->transcript, '\n') == -1)
		(void)buf_puts(&t->transcript, "*: (transcript cut)\n");
}

/* cur_test - the test being run, or NULL */
static struct ptest *
cur_test(struct ptarget *t)
{
	return t->cur < t->ntests ? &t->tests[t->cur] : NULL;
}

/* reply_text - the reply's text, as one line (lines joined by " / ") */
static void
reply_text(const struct reply *r, char *dst, size_t dstsize)
{
	size_t i, o = 0;
	const char *s = buf_cstr(&r->text);

	o = (size_t)snprintf(dst, dstsize, "%03d ", r->code);
	for (i = 0; s[i] && o + 4 < dstsize; i++) {
		if (s[i] == '\n') {
			memcpy(dst + o, " / ", 3);
			o += 3;
		} else
			dst[o++] = s[i];
	}
	dst[o < dstsize ? o : dstsize - 1] = '\0';
}

/* send_cmd - one command, then on_reply */
static void
send_cmd(struct ptarget *t, int state, unsigned timeout, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void
send_cmd(struct ptarget *t, int state, unsigned timeout, const char *fmt, ...)
{
	char line[1100];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	t->state = state;
	smtpc_command(t->c, line, timeout, on_reply, t);
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

/* finish - the target is done: verdict, then report or hold */
static void
finish_target(struct ptarget *t)
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
	t->t_end = now();
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
		if (t->pace)
			event_free(t->pace);
		buf_release(&t->ehlo);
		buf_release(&t->transcript);
		free(t->tests);
		free(t);
	}
	event_active(p->kick, EV_TIMEOUT, 0);
}

/* fail_remaining - the target cannot be reached any more */
static void
fail_remaining(struct ptarget *t, enum pv v, const char *why)
{
	size_t i;

	if (t->ntests == 0) {
		t->verdict = v;
		str_copy(t->note, sizeof(t->note), why);
	}
	for (i = t->cur; i < t->ntests; i++)
		if (t->tests[i].verdict == PV_PENDING &&
		    (t->tests[i].bt->flags & BT_AUTH) &&
		    t->p->o.auth_user == NULL) {
			t->tests[i].verdict = PV_SKIPPED;
			str_copy(t->tests[i].note, sizeof(t->tests[i].note),
			    "no --auth given");
		} else if (t->tests[i].verdict == PV_PENDING) {
			t->tests[i].verdict = v;
			str_copy(t->tests[i].note, sizeof(t->tests[i].note),
			    why);
		}
	finish_target(t);
}

/*
 * lost - the session ended under us (error, timeout, 421). The test in
 * flight is retried once on a new session; reconnects are bounded.
 */
static void
lost(struct ptarget *t, enum pv v, const char *why)
{
	struct ptest *pt = cur_test(t);
	struct probe *p = t->p;

	if (t->c) {
		smtpc_free(t->c);
		t->c = NULL;
	}
	t->session_ok = t->authed = t->spoofed = 0;
	if (t->state == S_GREETING && !t->greeted) {
		/* never got in: retry once, then give up saying why */
		if (t->reconnects++ >= 1) {
			fail_remaining(t, v, why);
			return;
		}
		start_session(t);
		return;
	}
	/* a server that stops answering is not retried until the budget
	 * is spent: two timeouts in a row without a reply to any test */
	if (v == PV_TIMEOUT && ++t->idle_timeouts >= 2) {
		struct ptest *cpt = cur_test(t);

		if (cpt != NULL && cpt->verdict == PV_PENDING &&
		    t->state >= S_SPOOF && t->state != S_RSET &&
		    t->state != S_QUIT) {
			cpt->verdict = v;
			snprintf(cpt->note, sizeof(cpt->note), "%s", why);
		}
		fail_remaining(t, v, why);
		return;
	}
	if (pt != NULL && t->state >= S_SPOOF && t->state != S_RSET &&
	    t->state != S_QUIT) {
		if (++pt->attempts >= 2) {
			pt->verdict = v;
			snprintf(pt->note, sizeof(pt->note), "%s", why);
			if (p->o.test_done)
				p->o.test_done(p->o.done_arg, t, t->cur);
			t->cur++;
		}
	} else if (t->state == S_RSET)
		t->cur++;	/* its result is in; the server hung up after */
	if (t->state == S_QUIT || cur_test(t) == NULL) {
		finish_target(t);
		return;
	}
	t->reconnects++;
	if (t->idle_reconnects++ >= p->o.max_reconnects) {
		fail_remaining(t, v, why);
		return;
	}
	start_session(t);
}

/* lost_err - lost() for an smtpc error */
static void
lost_err(struct ptarget *t, enum smtpc_err err)
{
	lost(t, err == SMTPC_ETIMEOUT ? PV_TIMEOUT : PV_ERROR,
	    smtpc_strerror(err));
}

/* ehlo_parse - note what the server offers */
static void
ehlo_parse(struct ptarget *t, const struct reply *r)
{
	const char *s = buf_cstr(&r->text), *l;

	buf_reset(&t->ehlo);
	(void)buf_puts(&t->ehlo, s);
	t->esmtp = 1;
	t->starttls_offered = t->auth_offered = 0;
	for (l = s; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncasecmp(l, "STARTTLS", 8) == 0 &&
		    (l[8] == '\0' || l[8] == '\n' || l[8] == ' '))
			t->starttls_offered = 1;
		if (strncasecmp(l, "AUTH", 4) == 0 && (l[4] == ' ' ||
		    l[4] == '='))
			t->auth_offered = 1;
	}
}

/* message - the tokened relay test message, dot-stuffed and terminated */
static void
message(struct ptarget *t, struct ptest *pt, struct buf *b)
{
	char date[64];

	str_rfc5322_date(date, sizeof(date), time(NULL));
	(void)buf_printf(b,
	    "From: <%s>\r\nTo: <%s>\r\nSubject: sluice relay test %s\r\n"
	    "Message-ID: <%s@sluice-probe.invalid>\r\nDate: %s\r\n"
	    "X-Sluice-Probe: token=%s test=%s target=%s\r\n"
	    "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii"
	    "\r\n\r\n"
	    "This message is an open-relay test made by sluice probe.\r\n"
	    "Token %s, test %s (%s), target %s.\r\n"
	    "If it reached you, that server relayed mail for a stranger.\r\n"
	    ".\r\n", pt->from[0] ? pt->from : "MAILER-DAEMON", pt->rcpt,
	    pt->token, pt->token, date, pt->token, pt->bt->id, t->spec,
	    pt->token, pt->bt->id, pt->bt->trick, t->spec);
}

/* run_test - start the current test (or quit after the last) */
static void
run_test(struct ptarget *t)
{
	struct probe *p = t->p;
	struct ptest *pt = cur_test(t);

	if (pt == NULL) {
		send_cmd(t, S_QUIT, p->o.t_cmd, "QUIT");
		return;
	}
	if (pt->bt->flags & BT_AUTH) {
		if (p->o.auth_user == NULL) {
			pt->verdict = PV_SKIPPED;
			str_copy(pt->note, sizeof(pt->note), "no --auth given");
			t->cur++;
			run_test(t);
			return;
		}
		if (!t->authed) {
			/* a session of its own, so no relay test is authed */
			t->auth_phase = 1;
			smtpc_free(t->c);
			t->c = NULL;
			t->session_ok = 0;
			start_session(t);
			return;
		}
	}
	if (pt->bt->flags & BT_HELO) {
		t->spoofed = 1;
		send_cmd(t, S_SPOOF, p->o.t_cmd, "%s %s", t->esmtp ? "EHLO" :
		    "HELO", pt->helo);
		return;
	}
	if (t->spoofed) {
		t->spoofed = 0;
		send_cmd(t, S_SPOOF, p->o.t_cmd, "%s %s", t->esmtp ? "EHLO" :
		    "HELO", p->helo);
		return;
	}
	send_cmd(t, S_MAIL, p->o.t_cmd, "MAIL FROM:<%s>", pt->from);
}

/* test_done - record the verdict of the current test and go on */
static void
test_done(struct ptarget *t)
{
	struct ptest *pt = cur_test(t);
	struct probe *p = t->p;

	t->idle_reconnects = t->idle_timeouts = 0;	/* progress */
	pt->verdict = classify_test(pt->bt->kind == BT_CONTROL,
	    (pt->bt->flags & BT_LOCALFORM) != 0, p->o.delivery, pt->mail_code,
	    pt->mail_enh, pt->mail_reply, pt->rcpt_code, pt->rcpt_enh,
	    pt->rcpt_reply, pt->data_code, pt->data_enh, pt->data_reply,
	    pt->token_state);
	if (p->o.test_done)
		p->o.test_done(p->o.done_arg, t, t->cur);
	send_cmd(t, S_RSET, p->o.t_cmd, "RSET");
}

/* pace_cb - the pause between tests is over */
static void
pace_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	run_test(arg);
}

/* next_test - after RSET: pause if asked, then the next test */
static void
next_test(struct ptarget *t)
{
	struct probe *p = t->p;
	struct timeval tv = { (time_t)(p->o.pace_ms / 1000),
	    (suseconds_t)(p->o.pace_ms % 1000) * 1000 };

	t->cur++;
	if (p->o.pace_ms == 0 || cur_test(t) == NULL) {
		run_test(t);
		return;
	}
	if (t->pace == NULL)
		t->pace = evtimer_new(p->base, pace_cb, t);
	evtimer_add(t->pace, &tv);
}

/* auth_plain - AUTH PLAIN with the initial response (RFC 4954) */
static void
auth_plain(struct ptarget *t)
{
	struct probe *p = t->p;
	unsigned char raw[600];
	char b64[BASE64_ENCODED_LEN(600)];
	size_t u = strlen(p->o.auth_user), w = strlen(p->o.auth_pass);

	if (u + w + 2 > sizeof(raw)) {
		fail_remaining(t, PV_ERROR, "credentials too long");
		return;
	}
	raw[0] = '\0';
	memcpy(raw + 1, p->o.auth_user, u);
	raw[1 + u] = '\0';
	memcpy(raw + 2 + u, p->o.auth_pass, w);
	base64_encode(raw, u + w + 2, b64, sizeof(b64));
	t->state = S_AUTH;
	/* keep the password out of the transcript */
	{
		char line[sizeof(b64) + 16];

		snprintf(line, sizeof(line), "AUTH PLAIN %s", b64);
		on_line(t, SMTPC_NOTE, "(AUTH PLAIN credentials sent)", 29);
		t->hide_sent = 1;
		smtpc_command(t->c, line, p->o.t_cmd, on_reply, t);
		t->hide_sent = 0;
		explicit_bzero(line, sizeof(line));
	}
}

/* session_ready - EHLO done (and TLS, AUTH): run tests */
static void
session_ready(struct ptarget *t)
{
	struct probe *p = t->p;

	if (p->o.starttls == 1 && !smtpc_is_tls(t->c)) {
		fail_remaining(t, PV_ERROR, "STARTTLS required but not "
		    "offered or failed");
		return;
	}
	if (t->auth_phase && !t->authed) {
		auth_plain(t);
		return;
	}
	t->session_ok = 1;
	run_test(t);
}

/* after_ehlo - decide on STARTTLS */
static void
after_ehlo(struct ptarget *t)
{
	struct probe *p = t->p;

	if (!smtpc_is_tls(t->c) && p->o.starttls >= 0 && p->o.ssl_ctx &&
	    (t->starttls_offered || p->o.starttls == 1) && !t->tls_failed) {
		send_cmd(t, S_STARTTLS, p->o.t_cmd, "STARTTLS");
		return;
	}
	session_ready(t);
}

/* greeting - the banner decides whether we are served at all */
static void
greeting(struct ptarget *t, const struct reply *r)
{
	struct probe *p = t->p;
	char text[600];

	reply_text(r, text, sizeof(text));
	if (!t->greeted)
		str_copy(t->banner, sizeof(t->banner), text);
	if (r->code / 100 == 5) {
		t->refused_at_connect = 1;
		snprintf(t->note, sizeof(t->note), "refused at connect: %s",
		    text);
		send_cmd(t, S_QUIT, p->o.t_cmd, "QUIT");
		return;
	}
	if (r->code != 220) {
		lost(t, PV_TEMPFAIL, text);
		return;
	}
	if (!t->greeted) {
		const char *s = buf_cstr(&r->text);
		size_t n = strcspn(s, " \n");

		t->greeted = 1;
		str_ncopy(t->server_name, sizeof(t->server_name), s,
		    n < sizeof(t->server_name) ? n : 0);
		names(t);
		expand_tests(t);
	}
	send_cmd(t, S_EHLO, p->o.t_cmd, "EHLO %s", p->helo);
}

/* record - store a step's reply in the test */
static void
record(const struct reply *r, int *code, char *text, size_t textsize,
    char *enh, size_t enhsize)
{
	*code = r->code;
	reply_text(r, text, textsize);
	str_copy(enh, enhsize, r->enh);
}

/* on_reply - every reply (or error) of a target's session lands here */
static void
on_reply(void *arg, struct smtpc *c, enum smtpc_err err,
    const struct reply *r)
{
	struct ptarget *t = arg;
	struct probe *p = t->p;
	struct ptest *pt = cur_test(t);

	(void)c;
	if (err != SMTPC_OK) {
		if (t->state == S_TLS || t->state == S_STARTTLS) {
			/* retry without TLS, unless it is required */
			t->tls_failed = 1;
			if (p->o.starttls == 1) {
				fail_remaining(t, PV_ERROR, "STARTTLS failed");
				return;
			}
		}
		if (t->state == S_QUIT) {
			finish_target(t);
			return;
		}
		lost_err(t, err);
		return;
	}
	if (r->code == 421 && t->state != S_GREETING) {
		char text[600];

		reply_text(r, text, sizeof(text));
		lost(t, PV_TEMPFAIL, text);
		return;
	}
	switch (t->state) {
	case S_GREETING:
		greeting(t, r);
		return;
	case S_EHLO:
	case S_EHLO_TLS:
		if (r->code / 100 == 2) {
			ehlo_parse(t, r);
			if (t->state == S_EHLO_TLS) {
				session_ready(t);
				return;
			}
			after_ehlo(t);
			return;
		}
		if (t->state == S_EHLO_TLS) {
			session_ready(t);
			return;
		}
		send_cmd(t, S_HELO, p->o.t_cmd, "HELO %s", p->helo);
		return;
	case S_HELO:
		t->esmtp = 0;
		session_ready(t);
		return;
	case S_STARTTLS:
		if (r->code != 220) {
			t->tls_failed = 1;
			session_ready(t);
			return;
		}
		t->state = S_TLS;
		smtpc_starttls(t->c, p->o.t_cmd, on_reply, t);
		return;
	case S_TLS:
		t->tls_used = 1;
		str_copy(t->tls, sizeof(t->tls), smtpc_tls_summary(t->c));
		send_cmd(t, S_EHLO_TLS, p->o.t_cmd, "EHLO %s", p->helo);
		return;
	case S_AUTH:
		if (r->code == 235) {
			t->authed = 1;
			t->session_ok = 1;
			run_test(t);
			return;
		}
		/* the authenticated control cannot run */
		if (pt) {
			pt->verdict = PV_ERROR;
			reply_text(r, pt->note, sizeof(pt->note));
			t->cur++;
		}
		t->auth_phase = 0;
		send_cmd(t, S_QUIT, p->o.t_cmd, "QUIT");
		return;
	case S_SPOOF:
		send_cmd(t, S_MAIL, p->o.t_cmd, "MAIL FROM:<%s>", pt->from);
		return;
	case S_MAIL:
		record(r, &pt->mail_code, pt->mail_reply,
		    sizeof(pt->mail_reply), pt->mail_enh, sizeof(pt->mail_enh));
		if (r->code / 100 != 2) {
			test_done(t);
			return;
		}
		send_cmd(t, S_RCPT, p->o.t_cmd, "RCPT TO:<%s>", pt->rcpt);
		return;
	case S_RCPT:
		record(r, &pt->rcpt_code, pt->rcpt_reply,
		    sizeof(pt->rcpt_reply), pt->rcpt_enh, sizeof(pt->rcpt_enh));
		pt->rtt = smtpc_last_rtt(t->c);
		if (r->code / 100 == 2 && p->o.delivery &&
		    pt->bt->kind == BT_RELAY) {
			send_cmd(t, S_DATA, p->o.t_data, "DATA");
			return;
		}
		test_done(t);
		return;
	case S_DATA:
		if (r->code != 354) {
			record(r, &pt->data_code, pt->data_reply,
			    sizeof(pt->data_reply), pt->data_enh,
			    sizeof(pt->data_enh));
			test_done(t);
			return;
		}
		/* known before the message goes: a fast relay may deliver it
		 * to the catcher before its 250 reaches us */
		hmap_put(p->tokens, pt->token, pt);
		{
			struct buf b;

			buf_init(&b, 8192);
			message(t, pt, &b);
			t->state = S_DATA_END;
			smtpc_data(t->c, b.data, b.len, p->o.t_end, on_reply,
			    t);
			buf_release(&b);
		}
		return;
	case S_DATA_END:
		record(r, &pt->data_code, pt->data_reply,
		    sizeof(pt->data_reply), pt->data_enh, sizeof(pt->data_enh));
		if (r->code / 100 == 2 && pt->token_state == TOKEN_NONE)
			p->outstanding++;
		test_done(t);
		return;
	case S_RSET:
		next_test(t);
		return;
	case S_QUIT:
		finish_target(t);
		return;
	}
}

/* start_session - connect and begin with the greeting */
static void
start_session(struct ptarget *t)
{
	struct probe *p = t->p;
	struct smtpc_opts o;

	memset(&o, 0, sizeof(o));
	o.base = p->base;
	o.addr = (const struct sockaddr *)&t->addr;
	o.addrlen = t->addrlen;
	o.source = p->o.source;
	o.sourcelen = p->o.sourcelen;
	o.ssl_ctx = p->o.ssl_ctx;
	o.implicit_tls = t->implicit_tls;
	o.sni = t->host;
	o.connect_timeout = p->o.t_connect;
	o.greeting_timeout = p->o.t_greeting;
	o.on_line = on_line;
	o.arg = t;
	t->state = S_GREETING;
	t->session_ok = 0;
	t->c = smtpc_connect(&o, on_reply, t);
}

/* expand_tests - the target's tests, with its names and fresh tokens */
static void
expand_tests(struct ptarget *t)
{
	struct probe *p = t->p;
	struct bvars v;
	size_t i;

	t->ntests = p->norder;
	t->tests = xcalloc(t->ntests ? t->ntests : 1, sizeof(*t->tests));
	memset(&v, 0, sizeof(v));
	v.outside = p->o.outside;
	v.target = t->domain;
	v.parent = t->parent;
	v.ip = t->ip;
	v.ipv6 = t->addr.ss_family == AF_INET6;
	v.extip = p->o.outside_ip;
	for (i = 0; i < t->ntests; i++) {
		struct ptest *pt = &t->tests[i];

		pt->bt = battery_get(p->order[i]);
		snprintf(pt->token, sizeof(pt->token), "%08x%04x",
		    arc4random(), arc4random() & 0xffff);
		v.token = pt->token;
		battery_expand(pt->bt->helo ? pt->bt->helo : p->helo, &v,
		    pt->helo, sizeof(pt->helo));
		battery_expand(pt->bt->from, &v, pt->from, sizeof(pt->from));
		battery_expand(pt->bt->rcpt, &v, pt->rcpt, sizeof(pt->rcpt));
	}
}

/*
 * names - {target} and {parent}: --target-domain, else the server's name
 * from its banner (when it is a domain name), else the name we were given,
 * else the [IP] literal.
 */
static void
names(struct ptarget *t)
{
	const char *d = t->p->o.target_domain;

	char lit[80];

	if ((d == NULL || *d == '\0') &&
	    addr_parse_domain(t->server_name, strlen(t->server_name)))
		d = t->server_name;
	if ((d == NULL || *d == '\0') && strcmp(t->host, t->ip) != 0)
		d = t->host;
	if (d == NULL || *d == '\0') {
		snprintf(lit, sizeof(lit), "[%s%s]",
		    t->addr.ss_family == AF_INET6 ? "IPv6:" : "", t->ip);
		d = lit;
	}
	str_copy(t->domain, sizeof(t->domain), d);
	battery_parent(t->domain, t->parent, sizeof(t->parent));
}

/* begin - the address is known: run */
static void
begin(struct ptarget *t)
{
	struct probe *p = t->p;
	void *a = t->addr.ss_family == AF_INET ?
	    (void *)&((struct sockaddr_in *)&t->addr)->sin_addr :
	    (void *)&((struct sockaddr_in6 *)&t->addr)->sin6_addr;

	inet_ntop(t->addr.ss_family, a, t->ip, sizeof(t->ip));
	if (t->addr.ss_family == AF_INET) {
		((struct sockaddr_in *)&t->addr)->sin_port = htons((uint16_t)t->port);
		t->addrlen = sizeof(struct sockaddr_in);
	} else {
		((struct sockaddr_in6 *)&t->addr)->sin6_port =
		    htons((uint16_t)t->port);
		t->addrlen = sizeof(struct sockaddr_in6);
	}
	t->implicit_tls = p->o.implicit_tls == -1 ? t->port == 465 :
	    p->o.implicit_tls;
	start_session(t);
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
		finish_target(t);
		return;
	}
	memcpy(&t->addr, &a[0], sizeof(t->addr));
	begin(t);
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
	t->t_start = now();
	str_copy(t->spec, sizeof(t->spec), spec);
	buf_init(&t->ehlo, 8192);
	buf_init(&t->transcript, TRANSCRIPT_MAX + 64);
	if (parse_spec(t, p->o.port) == -1) {
		snprintf(t->note, sizeof(t->note), "bad target \"%s\" (want "
		    "HOST, HOST:PORT or [IPV6]:PORT)", spec);
		finish_target(t);
		return;
	}
	if (t->addr.ss_family != 0) {
		begin(t);
		return;
	}
	if (p->dns == NULL) {
		char err[200];

		p->dns = dns_new(p->base, p->o.resolver, 3000, err,
		    sizeof(err));
		if (p->dns == NULL) {
			snprintf(t->note, sizeof(t->note), "%s", err);
			finish_target(t);
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

/* finalize - delivery mode: verdicts once the tokens had their time */
static void
finalize(struct probe *p)
{
	size_t i, j;

	for (i = 0; i < p->nheld; i++) {
		struct ptarget *t = p->held[i];
		enum pv relay[64], ctl[8];
		size_t nr = 0, nc = 0;

		for (j = 0; j < t->ntests; j++) {
			struct ptest *pt = &t->tests[j];

			if (pt->bt->kind == BT_RELAY && pt->rcpt_code / 100 == 2 &&
			    pt->verdict != PV_TIMEOUT && pt->verdict != PV_ERROR) {
				pt->verdict = classify_test(0,
				    (pt->bt->flags & BT_LOCALFORM) != 0, 1,
				    pt->mail_code, pt->mail_enh, pt->mail_reply,
				    pt->rcpt_code, pt->rcpt_enh, pt->rcpt_reply,
				    pt->data_code, pt->data_enh, pt->data_reply,
				    pt->token_state);
				if (pt->token_state == TOKEN_BOUNCED)
					str_copy(pt->note, sizeof(pt->note),
					    "accepted, then bounced");
				else if (pt->token_state == TOKEN_NONE &&
				    pt->data_code / 100 == 2)
					snprintf(pt->note, sizeof(pt->note),
					    "accepted, not relayed within %us",
					    p->o.wait_secs);
				else if (pt->token_state == TOKEN_RELAYED)
					str_copy(pt->note, sizeof(pt->note),
					    "relayed: token received");
			}
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

/* token_seen - the catcher or the Maildir produced a token */
static void
token_seen(void *arg, const char *token, enum ptoken kind)
{
	struct probe *p = arg;
	struct ptest *pt = hmap_get(p->tokens, token);

	if (pt == NULL)
		return;
	if (pt->token_state == TOKEN_NONE && pt->data_code / 100 == 2 &&
	    p->outstanding > 0)
		p->outstanding--;
	/* relayed wins over bounced: both may arrive */
	if (kind == TOKEN_RELAYED || pt->token_state == TOKEN_NONE)
		pt->token_state = kind;
	if (p->waiting && !p->draining && p->outstanding == 0)
		event_active(p->wait_timer, EV_TIMEOUT, 0);
}

/* probe_token - a token arrived at a catcher the caller runs itself */
void
probe_token(struct probe *p, const char *token, enum ptoken kind)
{
	token_seen(p, token, kind);
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
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->nheld; i++) {
		struct ptarget *t = p->held[i];

		if (t->pace)
			event_free(t->pace);
		buf_release(&t->ehlo);
		buf_release(&t->transcript);
		free(t->tests);
		free(t);
	}
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

/*
 * dialog.c - one target's SMTP dialogue: greeting, EHLO, STARTTLS, AUTH,
 * then each relay test as MAIL/RCPT (and DATA in delivery mode) with RSET
 * between; lost sessions are retried within a budget.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "net/smtpc.h"
#include "probe/engine_int.h"
#include "smtp/addr.h"
#include "util/base64.h"
#include "util/hmap.h"
#include "util/str.h"
#include "util/xalloc.h"

static void names(struct ptarget *t);
static void expand_tests(struct ptarget *t);
static void ehlo_named(struct ptarget *t, const struct reply *r);
static void on_reply(void *arg, struct smtpc *c, enum smtpc_err err,
    const struct reply *r);
static void start_session(struct ptarget *t);

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
	target_finish(t);
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
	/* the message went out, its fate unknown: it may still be relayed */
	if (pt != NULL && t->state == S_DATA_END)
		probe_outstanding(p, pt);
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
		target_finish(t);
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
	/* the EHLO after STARTTLS no longer lists it: it was offered */
	if (t->state != S_EHLO_TLS)
		t->starttls_offered = 0;
	t->auth_offered = 0;
	for (l = s; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncasecmp(l, "STARTTLS", 8) == 0 &&
		    (l[8] == '\0' || l[8] == '\n' || l[8] == ' '))
			t->starttls_offered = 1;
		if (strncasecmp(l, "AUTH", 4) == 0 && (l[4] == ' ' ||
		    l[4] == '='))
			t->auth_offered = 1;
	}
}

/*
 * message - the tokened relay test message, dot-stuffed and terminated.
 * Its X-Sluice-Probe header carries the proof (tokscan.h) that this run
 * sent it; the message text never goes into the transcript.
 */
static void
message(struct ptarget *t, struct ptest *pt, struct buf *b)
{
	char date[64], proof[PROOF_LEN + 1];

	str_rfc5322_date(date, sizeof(date), time(NULL));
	probe_proof(t->p, pt->token, proof);
	(void)buf_printf(b,
	    "From: <%s>\r\nTo: <%s>\r\nSubject: sluice relay test %s\r\n"
	    "Message-ID: <%s@sluice-probe.invalid>\r\nDate: %s\r\n"
	    "X-Sluice-Probe: token=%s proof=%s test=%s target=%s\r\n"
	    "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii"
	    "\r\n\r\n"
	    "This message is an open-relay test made by sluice probe.\r\n"
	    "Token %s, test %s (%s), target %s.\r\n"
	    "If it reached you, that server relayed mail for a stranger.\r\n"
	    ".\r\n", pt->from[0] ? pt->from : "MAILER-DAEMON", pt->rcpt,
	    pt->token, pt->token, date, pt->token, proof, pt->bt->id, t->spec,
	    pt->token, pt->bt->id, pt->bt->trick, t->spec);
	explicit_bzero(proof, sizeof(proof));
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
	if (smtpc_is_tls(t->c) && !t->tls_used) {
		/* implicit TLS (port 465, --tls): TLS from the start */
		t->tls_used = 1;
		str_copy(t->tls, sizeof(t->tls), smtpc_tls_summary(t->c));
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
	if (enh != NULL)
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
			target_finish(t);
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
			if (t->state == S_EHLO)
				ehlo_named(t, r);
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
		if (r->code / 100 == 2)
			ehlo_named(t, r);
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
		if (pt->bt->flags & BT_HELO)
			record(r, &pt->helo_code, pt->helo_reply,
			    sizeof(pt->helo_reply), NULL, 0);
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
		if (r->code / 100 == 2)
			probe_outstanding(p, pt);
		test_done(t);
		return;
	case S_RSET:
		next_test(t);
		return;
	case S_QUIT:
		target_finish(t);
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

/* fill_templates - each test's HELO, sender and recipient, from names */
static void
fill_templates(struct ptarget *t)
{
	struct probe *p = t->p;
	struct bvars v;
	size_t i;

	memset(&v, 0, sizeof(v));
	v.outside = p->o.outside;
	v.target = t->domain;
	v.parent = t->parent;
	v.ip = t->ip;
	v.ipv6 = t->addr.ss_family == AF_INET6;
	v.extip = p->o.outside_ip;
	for (i = 0; i < t->ntests; i++) {
		struct ptest *pt = &t->tests[i];

		v.token = pt->token;
		battery_expand(pt->bt->helo ? pt->bt->helo : p->helo, &v,
		    pt->helo, sizeof(pt->helo));
		battery_expand(pt->bt->from, &v, pt->from, sizeof(pt->from));
		battery_expand(pt->bt->rcpt, &v, pt->rcpt, sizeof(pt->rcpt));
	}
}

/* expand_tests - the target's tests, with its names and fresh tokens */
static void
expand_tests(struct ptarget *t)
{
	struct probe *p = t->p;
	size_t i;

	t->ntests = p->norder;
	t->tests = xcalloc(t->ntests ? t->ntests : 1, sizeof(*t->tests));
	for (i = 0; i < t->ntests; i++) {
		struct ptest *pt = &t->tests[i];

		pt->bt = battery_get(p->order[i]);
		snprintf(pt->token, sizeof(pt->token), "%08x%04x",
		    arc4random(), arc4random() & 0xffff);
	}
	fill_templates(t);
}

/*
 * host_name - is s a host name worth calling the target by: a domain with
 * a dot in it, not an address? ("ESMTP" or "localhost" in a banner are
 * words, not names.)
 */
static int
host_name(const char *s)
{
	unsigned char ip[16];
	const char *last;
	size_t n = strlen(s);

	if (n == 0 || strchr(s, '.') == NULL || !addr_parse_domain(s, n))
		return 0;
	if (inet_pton(AF_INET, s, ip) == 1 || inet_pton(AF_INET6, s, ip) == 1)
		return 0;
	last = strrchr(s, '.') + 1;
	return last[strspn(last, "0123456789")] != '\0';	/* not 1.2.3 */
}

/* given_name - is the name we were given a domain (not an address)? */
static int
given_name(const char *s)
{
	unsigned char ip[16];

	return addr_parse_domain(s, strlen(s)) &&
	    inet_pton(AF_INET, s, ip) != 1 && inet_pton(AF_INET6, s, ip) != 1;
}

/*
 * names - {target} and {parent}: --target-domain, else the server's name
 * from its banner, else the first word of its EHLO (or HELO) reply, else
 * the name we were given (not an address), else the [IP] literal.
 */
static void
names(struct ptarget *t)
{
	const char *d = t->p->o.target_domain;
	char lit[80];

	if ((d == NULL || *d == '\0') && host_name(t->server_name))
		d = t->server_name;
	if ((d == NULL || *d == '\0') && host_name(t->ehlo_name))
		d = t->ehlo_name;
	if ((d == NULL || *d == '\0') && given_name(t->host))
		d = t->host;
	if (d == NULL || *d == '\0') {
		snprintf(lit, sizeof(lit), "[%s%s]",
		    t->addr.ss_family == AF_INET6 ? "IPv6:" : "", t->ip);
		d = lit;
	}
	str_copy(t->domain, sizeof(t->domain), d);
	battery_parent(t->domain, t->parent, sizeof(t->parent));
}

/*
 * ehlo_named - the first EHLO (or HELO) reply of the run: its first word
 * may name the server when the banner did not. No test has run yet, so
 * the tests are expanded again if the name changes.
 */
static void
ehlo_named(struct ptarget *t, const struct reply *r)
{
	const char *s = buf_cstr(&r->text);
	size_t n = strcspn(s, " \n");
	char was[sizeof(t->domain)];

	if (t->named)
		return;
	t->named = 1;
	if (n >= sizeof(t->ehlo_name))
		return;
	str_ncopy(t->ehlo_name, sizeof(t->ehlo_name), s, n);
	str_copy(was, sizeof(was), t->domain);
	names(t);
	if (strcmp(was, t->domain) != 0)
		fill_templates(t);
}

/* dialog_begin - the address is known: run */
void
dialog_begin(struct ptarget *t)
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

#include <stdio.h>
#include <string.h>

#include "probe/report.h"
#include "util/json.h"

/* report_clean - append s with unprintable bytes as \xNN, cut at maxlen */
void
report_clean(struct buf *b, const char *s, size_t maxlen)
{
	size_t i;

	for (i = 0; s[i] && i < maxlen; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c >= 0x7f || c == '\\')
			(void)buf_printf(b, "\\x%02x", c);
		else
			(void)buf_putc(b, c);
	}
	if (s[i])
		(void)buf_puts(b, "...");
}

/* clean_n - n bytes (NUL included) with unprintable bytes as \\xNN */
static void
clean_n(struct buf *b, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c >= 0x7f || c == '\\')
			(void)buf_printf(b, "\\x%02x", c);
		else
			(void)buf_putc(b, c);
	}
}

/* counts - how many relay tests ended in each verdict */
static void
counts(const struct ptarget *t, unsigned *n, unsigned *ctl_ok,
    unsigned *ctl_n)
{
	size_t i;

	memset(n, 0, sizeof(unsigned) * (PV_SKIPPED + 1));
	*ctl_ok = *ctl_n = 0;
	for (i = 0; i < t->ntests; i++) {
		const struct ptest *pt = &t->tests[i];

		if (pt->bt->kind == BT_CONTROL) {
			if (pt->verdict == PV_SKIPPED)
				continue;
			(*ctl_n)++;
			if (pt->verdict == PV_ACCEPTED ||
			    pt->verdict == PV_AMBIGUOUS_LOCAL)
				(*ctl_ok)++;
		} else
			n[pt->verdict]++;
	}
}

/* hits - "id, id, id" of the tests with verdict v */
static void
hits(struct buf *b, const struct ptarget *t, enum pv v)
{
	size_t i, k = 0;

	for (i = 0; i < t->ntests; i++)
		if (t->tests[i].bt->kind == BT_RELAY &&
		    t->tests[i].verdict == v) {
			if (k++ == 6) {
				(void)buf_puts(b, ", ...");
				return;
			}
			(void)buf_printf(b, "%s%s", k > 1 ? ", " : "",
			    t->tests[i].bt->id);
		}
}

/* count_bounced - relay tests accepted whose message came back bounced */
static unsigned
count_bounced(const struct ptarget *t)
{
	size_t i;
	unsigned k = 0;

	for (i = 0; i < t->ntests; i++)
		k += t->tests[i].bt->kind == BT_RELAY &&
		    t->tests[i].verdict == PV_ACCEPTED &&
		    t->tests[i].token_state == TOKEN_BOUNCED;
	return k;
}

/* report_sentence - the verdict and why, in one sentence */
void
report_sentence(struct buf *b, const struct ptarget *t)
{
	unsigned n[PV_SKIPPED + 1], ok, nc, relay = 0, bounced;
	size_t i;

	counts(t, n, &ok, &nc);
	for (i = 0; i <= PV_SKIPPED; i++)
		relay += n[i];
	switch (t->verdict) {
	case PV_OPEN:
		(void)buf_printf(b, "OPEN RELAY: %u of %u relay attempts were "
		    "delivered to the outside mailbox (", n[PV_OPEN], relay);
		hits(b, t, PV_OPEN);
		(void)buf_puts(b, ").");
		return;
	case PV_ACCEPTED:
		(void)buf_printf(b, "Probably an open relay: the server "
		    "accepted %u of %u relay attempts at RCPT (", n[PV_ACCEPTED],
		    relay);
		hits(b, t, PV_ACCEPTED);
		(void)buf_puts(b, "); not confirmed by delivery");
		if ((bounced = count_bounced(t)) > 0)
			(void)buf_printf(b, "; %u of them came back as bounces "
			    "(accepted, then refused)", bounced);
		(void)buf_putc(b, '.');
		return;
	case PV_AMBIGUOUS_LOCAL:
		(void)buf_printf(b, "Unclear: the server refused every relay "
		    "attempt with an outside domain but accepted %u local-looking "
		    "forms (", n[PV_AMBIGUOUS_LOCAL]);
		hits(b, t, PV_AMBIGUOUS_LOCAL);
		(void)buf_puts(b, "), which it may deliver locally or bounce.");
		return;
	case PV_CLOSED:
		(void)buf_printf(b, "Closed: all %u relay attempts were refused"
		    "%s.", relay, ok ? ", while mail for the server's own "
		    "postmaster was accepted" : "");
		return;
	case PV_CLOSED_TEMP:
		(void)buf_printf(b, "Closed, temporarily: relay attempts were "
		    "refused, %u of them only with a 4xx (try-again) reply.",
		    n[PV_CLOSED_TEMP]);
		return;
	case PV_AUTH_REQUIRED:
		(void)buf_puts(b, "Closed to strangers: the server requires "
		    "authentication before it accepts mail.");
		return;
	case PV_TEMPFAIL:
		if (n[PV_TEMPFAIL] == 0) {
			/* turned away before any attempt (421 at the greeting) */
			(void)buf_puts(b, "Inconclusive: the server turned the "
			    "session away for now (4xx), before any relay "
			    "attempt");
			if (t->banner[0] || t->note[0]) {
				(void)buf_puts(b, ": ");
				report_clean(b, t->banner[0] ? t->banner :
				    t->note, 200);
			}
			(void)buf_puts(b, "; test again later.");
			return;
		}
		(void)buf_printf(b, "Inconclusive: %u attempts got temporary "
		    "(4xx) replies, as from greylisting or rate limits; test "
		    "again later.", n[PV_TEMPFAIL]);
		return;
	case PV_TIMEOUT:
		(void)buf_puts(b, "Inconclusive: the server stopped answering "
		    "(timeout).");
		return;
	case PV_REFUSES_ALL:
		(void)buf_puts(b, "The server refuses everything, even mail to "
		    "its own postmaster, so this test cannot tell whether it "
		    "relays");
		if (t->note[0]) {
			(void)buf_puts(b, "; ");
			report_clean(b, t->note, 200);
		}
		(void)buf_putc(b, '.');
		return;
	default:
		(void)buf_puts(b, "Could not test: ");
		report_clean(b, t->note[0] ? t->note : "connection failed",
		    200);
		(void)buf_putc(b, '.');
		return;
	}
}

/* name - "spec (ip)" */
static void
name(struct buf *b, const struct ptarget *t)
{
	report_clean(b, t->spec, 300);
	if (t->ip[0] && strcmp(t->host, t->ip) != 0)
		(void)buf_printf(b, " (%s)", t->ip);
}

/* report_text - the human report for one target */
void
report_text(struct buf *b, const struct ptarget *t, int verbose)
{
	size_t i;

	name(b, t);
	(void)buf_printf(b, "  %s\n  ", pv_name(t->verdict));
	report_sentence(b, t);
	(void)buf_putc(b, '\n');
	if (t->banner[0]) {
		(void)buf_puts(b, "  banner: ");
		report_clean(b, t->banner, 300);
		(void)buf_putc(b, '\n');
	}
	if (t->greeted) {
		unsigned n[PV_SKIPPED + 1], ok, nc;

		counts(t, n, &ok, &nc);
		(void)buf_printf(b, "  esmtp: %s  starttls: %s  auth: %s  "
		    "controls accepted: %u/%u%s%s\n", t->esmtp ? "yes" : "no",
		    t->starttls_offered ? "offered" : "no",
		    t->auth_offered ? "offered" : "no", ok, nc,
		    t->tls[0] ? "  tls: " : "", t->tls);
	}
	for (i = 0; i < t->ntests; i++) {
		const struct ptest *pt = &t->tests[i];

		if (!verbose && (pt->bt->kind == BT_CONTROL ||
		    (!pv_is_hit(pt->verdict) &&
		    pt->verdict != PV_AMBIGUOUS_LOCAL)))
			continue;
		(void)buf_printf(b, "  %-15s %-24s ", pv_name(pt->verdict),
		    pt->bt->id);
		(void)buf_puts(b, "<");
		report_clean(b, pt->from, 120);
		(void)buf_puts(b, "> -> <");
		report_clean(b, pt->rcpt, 120);
		(void)buf_puts(b, ">: ");
		report_clean(b, pt->rcpt_code ? pt->rcpt_reply :
		    pt->mail_code ? pt->mail_reply : pt->note, 160);
		if (pt->note[0] && (pt->rcpt_code || pt->mail_code)) {
			(void)buf_puts(b, " [");
			report_clean(b, pt->note, 120);
			(void)buf_putc(b, ']');
		}
		(void)buf_putc(b, '\n');
	}
	if (verbose && t->transcript.len) {
		const char *s = t->transcript.data, *e;
		const char *end = s + t->transcript.len;

		(void)buf_puts(b, "  transcript:\n");
		while (s < end) {
			e = memchr(s, '\n', (size_t)(end - s));
			(void)buf_puts(b, "    ");
			clean_n(b, s, e ? (size_t)(e - s) : (size_t)(end - s));
			(void)buf_putc(b, '\n');
			if (e == NULL)
				break;
			s = e + 1;
		}
	}
}

/* report_json - one target as a JSON object (one line) */
void
report_json(struct buf *b, const struct ptarget *t, int transcript)
{
	struct buf sentence;
	size_t i;

	buf_init(&sentence, 4096);
	report_sentence(&sentence, t);
	(void)buf_putc(b, '{');
	json_kv_str(b, 0, "target", t->spec);
	json_kv_str(b, 1, "host", t->host);
	json_kv_str(b, 1, "address", t->ip);
	json_kv_int(b, 1, "port", t->port);
	json_kv_str(b, 1, "verdict", pv_name(t->verdict));
	json_kv_str(b, 1, "summary", buf_cstr(&sentence));
	json_kv_str(b, 1, "note", t->note);
	json_kv_str(b, 1, "banner", t->banner);
	json_kv_str(b, 1, "ehlo", buf_cstr(&t->ehlo));
	json_kv_bool(b, 1, "esmtp", t->esmtp);
	json_kv_bool(b, 1, "starttls_offered", t->starttls_offered);
	json_kv_bool(b, 1, "auth_offered", t->auth_offered);
	json_kv_str(b, 1, "tls", t->tls[0] ? t->tls : NULL);
	json_kv_str(b, 1, "target_domain", t->domain);
	json_kv_num(b, 1, "seconds", t->t_end - t->t_start);
	(void)buf_puts(b, ",\"tests\":[");
	for (i = 0; i < t->ntests; i++) {
		const struct ptest *pt = &t->tests[i];

		(void)buf_puts(b, i ? ",{" : "{");
		json_kv_str(b, 0, "id", pt->bt->id);
		json_kv_str(b, 1, "kind", pt->bt->kind == BT_CONTROL ?
		    "control" : "relay");
		json_kv_str(b, 1, "trick", pt->bt->trick);
		json_kv_str(b, 1, "description", pt->bt->desc);
		json_kv_str(b, 1, "helo", pt->helo);
		json_kv_str(b, 1, "helo_reply", pt->helo_code ?
		    pt->helo_reply : NULL);
		json_kv_str(b, 1, "mail_from", pt->from);
		json_kv_str(b, 1, "rcpt_to", pt->rcpt);
		json_kv_str(b, 1, "token", pt->token);
		json_kv_str(b, 1, "mail_reply", pt->mail_code ? pt->mail_reply :
		    NULL);
		json_kv_str(b, 1, "rcpt_reply", pt->rcpt_code ? pt->rcpt_reply :
		    NULL);
		json_kv_str(b, 1, "data_reply", pt->data_code ? pt->data_reply :
		    NULL);
		json_kv_num(b, 1, "rcpt_seconds", pt->rtt);
		json_kv_str(b, 1, "verdict", pv_name(pt->verdict));
		json_kv_str(b, 1, "note", pt->note);
		(void)buf_putc(b, '}');
	}
	(void)buf_putc(b, ']');
	if (transcript) {
		(void)buf_puts(b, ",\"transcript\":");
		(void)json_strn(b, t->transcript.data ? t->transcript.data : "",
		    t->transcript.len);
	}
	(void)buf_putc(b, '}');
	buf_release(&sentence);
}

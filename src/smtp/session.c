#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/limits.h"
#include "smtp/reply.h"
#include "smtp/session_int.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xalloc.h"

/* Unsent replies: stop reading input above OUT_HIGH; never exceed OUT_MAX. */
#define OUT_HIGH	(64 * 1024)
#define OUT_MAX		(1024 * 1024)
/* DATA is decoded through a stack buffer of this size. */
#define DATA_CHUNK	16384
/* The longest line the framer keeps: an AUTH line (RFC 4954 4). */
#define LINE_MAX_ANY	SMTP_AUTHLINE_MAX

static const char *state_names[] = {
	"greet", "ready", "mail", "rcpt", "data", "commit", "rejected",
	"tls", "auth", "authwait", "closing"
};

/* smtp_state_name - the state's name, for logs */
const char *
smtp_state_name(enum smtp_state st)
{
	return (unsigned)st < sizeof(state_names) / sizeof(state_names[0]) ?
	    state_names[st] : "?";
}

/* smtp_session_new - a session for one connection, not yet greeted */
struct smtp_session *
smtp_session_new(const struct smtp_params *sp, const struct smtp_host *host,
    void *ctx, const char *id, const struct policy_client *client)
{
	struct smtp_session *s = xcalloc(1, sizeof(*s));

	s->sp = sp;
	s->host = host;
	s->ctx = ctx;
	str_copy(s->id, sizeof(s->id), id);
	s->client = *client;
	s->client.helo = NULL;
	s->state = ST_GREET;
	line_init(&s->lb, LINE_MAX_ANY);
	buf_init(&s->out, OUT_MAX);
	return s;
}

/* smtp_session_free - free the session; aborts an open message */
void
smtp_session_free(struct smtp_session *s)
{
	if (s == NULL)
		return;
	session_drop_tx(s);
	line_release(&s->lb);
	buf_release(&s->out);
	free(s);
}

/* session_now - the host's clock */
time_t
session_now(const struct smtp_session *s)
{
	return s->sp->clock ? s->sp->clock() : time(NULL);
}

/* session_set_state - the one place where the state changes */
void
session_set_state(struct smtp_session *s, enum smtp_state st)
{
	if (s->state == st)
		return;
	if (log_enabled(LVL_DEBUG))
		log_debug("session=%s event=state from=%s to=%s", s->id,
		    smtp_state_name(s->state), smtp_state_name(st));
	s->state = st;
}

/*
 * session_error - count a client error; at the limit, say 421 and close
 * (the reply for the error itself was already queued).
 */
void
session_error(struct smtp_session *s)
{
	s->st.errors++;
	if (s->st.errors >= s->sp->max_errors && s->state != ST_CLOSING) {
		reply_add(&s->out, 421, "4.7.0", "%s Error: too many errors, "
		    "closing connection", s->sp->hostname);
		log_info("session=%s event=too-many-errors client=%s "
		    "errors=%u", s->id, s->client.ipstr, s->st.errors);
		session_drop_tx(s);
		session_set_state(s, ST_CLOSING);
	}
}

/* session_note - tell the host, if it listens */
void
session_note(struct smtp_session *s, enum smtp_note ev, const char *arg,
    uint64_t n)
{
	if (s->host->note)
		s->host->note(s->ctx, ev, arg, n);
}

/* session_drop_tx - end the transaction, aborting any open message */
void
session_drop_tx(struct smtp_session *s)
{
	if (s->msg_open) {
		s->host->msg_abort(s->ctx);
		s->msg_open = 0;
	}
	tx_free(s->tx);
	s->tx = NULL;
}

/* smtp_session_start - send the greeting */
void
smtp_session_start(struct smtp_session *s)
{
	reply_add(&s->out, 220, NULL, "%s %s", s->sp->hostname,
	    s->sp->banner);
}

/*
 * smtp_session_reject - refuse the session at connect: the reply replaces
 * the greeting and every command but QUIT gets 503 (RFC 5321 3.1).
 */
void
smtp_session_reject(struct smtp_session *s, int code, const char *enh,
    const char *text)
{
	reply_add(&s->out, code, enh, "%s", text);
	session_set_state(s, ST_REJECTED);
}

/* received - the Received: header (RFC 5321 4.4) for this message */
static int
received(struct smtp_session *s, struct buf *b)
{
	char date[64], lit[64], rc[SMTP_PATH_MAX + 16] = "";
	const struct tx *t = s->tx;

	str_rfc5322_date(date, sizeof(date), session_now(s));
	snprintf(lit, sizeof(lit), s->client.family == AF_INET6 ?
	    "[IPv6:%s]" : "[%s]", s->client.ipstr);
	if (t->nrcpt == 1) {
		/* the recipient is named only when alone (no bcc leaks) */
		char a[SMTP_PATH_MAX + 8];

		addr_format(&t->rcpts[0].addr, a, sizeof(a));
		snprintf(rc, sizeof(rc), "\r\n\tfor %s", a);
	}
	if (s->tls) {
		/* "(using TLSv1.3 with cipher ...)", as other MTAs write it */
		char tls[200];

		snprintf(tls, sizeof(tls), "\r\n\t(%s)", s->tls_info);
		return buf_printf(b, "Received: from %s (%s)\r\n\tby %s "
		    "(sluiced) with %s id %s%s%s;\r\n\t%s\r\n", s->helo, lit,
		    s->sp->hostname, smtp_session_proto(s), t->qid, tls, rc,
		    date);
	}
	return buf_printf(b, "Received: from %s (%s)\r\n\tby %s (sluiced) "
	    "with %s id %s%s;\r\n\t%s\r\n", s->helo, lit, s->sp->hostname,
	    smtp_session_proto(s), t->qid, rc, date);
}

/*
 * session_open_message - the envelope is complete (DATA accepted): ask
 * the host for a message and write our Received: header. 0 or -1.
 */
int
session_open_message(struct smtp_session *s)
{
	struct buf hdr;
	int r;

	if (s->host->msg_open(s->ctx, s->tx, s->tx->qid,
	    sizeof(s->tx->qid)) == -1)
		return -1;
	s->msg_open = 1;
	s->write_failed = 0;
	s->oversize = 0;
	buf_init(&hdr, 4096);
	r = received(s, &hdr);
	if (r == 0)
		r = s->host->msg_write(s->ctx, hdr.data, hdr.len);
	buf_release(&hdr);
	if (r == -1) {
		session_drop_tx(s);
		return -1;
	}
	s->tx->datasize = 0;
	data_init(&s->dd);
	return 0;
}

/* log_rcpts - "<a>,<b>" for the message log line (cut when long) */
static void
log_rcpts(const struct tx *t, char *dst, size_t dstsize)
{
	size_t i, o = 0;

	dst[0] = '\0';
	for (i = 0; i < t->nrcpt && o + 8 < dstsize; i++) {
		char a[SMTP_PATH_MAX + 8];

		addr_format(&t->rcpts[i].addr, a, sizeof(a));
		o += (size_t)snprintf(dst + o, dstsize - o, "%s%s",
		    i ? "," : "", a);
	}
	if (o >= dstsize)
		memcpy(dst + dstsize - 4, "...", 4);
}

/* end_of_data - the final "." was read: refuse or commit the message */
static void
end_of_data(struct smtp_session *s)
{
	struct tx *t = s->tx;
	int code = 0;
	const char *enh = NULL, *text = NULL, *why = NULL;

	t->dflags = s->dd.flags;
	if (t->dflags & (DATA_BARELF | DATA_BARECR)) {
		code = 550, enh = "5.6.0", why = "bare-newline";
		text = "Message contains a bare CR or LF; line ends must be "
		    "CRLF";
	} else if (t->dflags & DATA_NUL) {
		code = 554, enh = "5.6.0", why = "nul-byte";
		text = "Message contains NUL bytes";
	} else if (s->oversize) {
		code = 552, enh = "5.3.4", why = "message-size";
		text = "Message size exceeds fixed limit";
	} else if ((t->dflags & DATA_LONGLINE) && s->sp->reject_long_lines) {
		code = 500, enh = "5.5.2", why = "long-line";
		text = "Message has a line longer than 1000 octets";
	} else if (s->write_failed) {
		code = 451, enh = "4.3.0", why = "local-error";
		text = "Local error in processing; try again later";
	}
	if (code != 0) {
		char from[SMTP_PATH_MAX + 8], q[LOG_QUOTE_MAX];

		addr_format(&t->sender, from, sizeof(from));
		log_info("session=%s event=message-rejected client=%s from=%s "
		    "size=%llu rule=%s reply=%s", s->id, s->client.ipstr,
		    log_quotes(q, sizeof(q), from),
		    (unsigned long long)t->datasize, why,
		    code >= 500 ? "5xx" : "4xx");
		reply_add(&s->out, code, enh, "%s", text);
		session_note(s, SN_REJECT, why, 0);
		session_drop_tx(s);
		session_set_state(s, ST_READY);
		if (code >= 500)
			session_error(s);
		return;
	}
	session_set_state(s, ST_COMMIT);
	s->host->msg_commit(s->ctx);
}

/*
 * smtp_session_committed - the host's answer to msg_commit: the message
 * is durable (SMTP_OK) or not (SMTP_TEMP: 451, the client keeps it).
 */
void
smtp_session_committed(struct smtp_session *s, int result, const char *why)
{
	struct tx *t = s->tx;
	char from[SMTP_PATH_MAX + 8], to[1024], q1[LOG_QUOTE_MAX],
	    q2[LOG_QUOTE_MAX], q3[LOG_QUOTE_MAX], q4[LOG_QUOTE_MAX];

	if (s->state != ST_COMMIT || t == NULL)
		return;
	s->msg_open = 0;
	addr_format(&t->sender, from, sizeof(from));
	if (result == SMTP_OK) {
		log_rcpts(t, to, sizeof(to));
		log_info("session=%s event=message-accepted qid=%s client=%s "
		    "helo=%s from=%s nrcpt=%zu to=%s size=%llu%s%s%s%s", s->id,
		    t->qid, s->client.ipstr,
		    log_quotes(q1, sizeof(q1), s->helo),
		    log_quotes(q2, sizeof(q2), from), t->nrcpt,
		    log_quotes(q3, sizeof(q3), to),
		    (unsigned long long)t->datasize,
		    (t->dflags & DATA_8BIT) ? " body=8bit" : "",
		    s->tls ? " tls=yes" : "", s->user[0] ? " user=" : "",
		    s->user[0] ? log_quotes(q4, sizeof(q4), s->user) : "");
		reply_add(&s->out, 250, "2.0.0", "Ok: queued as %s", t->qid);
		s->st.messages++;
		session_note(s, SN_MESSAGE, t->qid, t->datasize);
	} else {
		log_warn("session=%s event=message-tempfail client=%s from=%s "
		    "reason=%s", s->id, s->client.ipstr,
		    log_quotes(q2, sizeof(q2), from),
		    log_quotes(q1, sizeof(q1), why ? why : "spool"));
		reply_add(&s->out, result == SMTP_PERM ? 554 : 451,
		    result == SMTP_PERM ? "5.3.0" : "4.3.0",
		    "Local error in processing; try again later");
	}
	session_drop_tx(s);
	session_set_state(s, ST_READY);
}

/* data_chunk - decode message bytes; returns the input consumed */
static size_t
data_chunk(struct smtp_session *s, const char *p, size_t n)
{
	char tmp[DATA_CHUNK + DATA_OUT_SLACK];
	size_t used, olen, m = n > DATA_CHUNK ? DATA_CHUNK : n;

	used = data_feed(&s->dd, p, m, tmp, &olen);
	s->tx->datasize += olen;
	if (s->tx->datasize > s->sp->max_msgsize)
		s->oversize = 1;
	else if (!s->write_failed && olen > 0 &&
	    s->host->msg_write(s->ctx, tmp, olen) == -1)
		s->write_failed = 1;
	if (s->dd.done)
		end_of_data(s);
	return used;
}

/* smtp_session_feed - see session.h; returns the bytes consumed */
size_t
smtp_session_feed(struct smtp_session *s, const char *p, size_t n,
    int more_after)
{
	size_t used = 0;

	while (used < n && s->out.len < OUT_HIGH) {
		if (s->state == ST_CLOSING || s->state == ST_COMMIT ||
		    s->state == ST_AUTHWAIT)
			break;
		if (s->state == ST_TLS) {
			/* RFC 3207 5: what came after STARTTLS is dropped */
			log_info("session=%s event=starttls-injection client=%s "
			    "discarded=%zu", s->id, s->client.ipstr, n - used);
			used = n;
			break;
		}
		if (s->state == ST_DATA) {
			used += data_chunk(s, p + used, n - used);
			continue;
		}
		used += line_feed(&s->lb, p + used, n - used);
		if (!line_ready(&s->lb))
			break;
		s->st.commands++;
		cmdtab_dispatch(s, s->lb.b.data, s->lb.b.len,
		    used < n || more_after);
		line_clear(&s->lb);
	}
	s->st.bytes += used;
	return used;
}

/* smtp_session_output - pending reply bytes; the host drains and resets */
struct buf *
smtp_session_output(struct smtp_session *s)
{
	return &s->out;
}

/* smtp_session_closing - should the host close after flushing output? */
int
smtp_session_closing(const struct smtp_session *s)
{
	return s->state == ST_CLOSING;
}

/* smtp_session_paused - is input on hold (commit, AUTH check, TLS)? */
int
smtp_session_paused(const struct smtp_session *s)
{
	return s->state == ST_COMMIT || s->state == ST_AUTHWAIT ||
	    s->state == ST_TLS;
}

/* smtp_session_wants_tls - 220 to STARTTLS sent: start the handshake */
int
smtp_session_wants_tls(const struct smtp_session *s)
{
	return s->state == ST_TLS;
}

/*
 * smtp_session_tls_done - the handshake finished. On success the session
 * forgets everything (RFC 3207 4.2) and waits for EHLO; on failure it
 * closes. info describes protocol and cipher, for logs and Received:.
 */
void
smtp_session_tls_done(struct smtp_session *s, int ok, const char *info)
{
	if (!ok) {
		log_info("session=%s event=tls-failed client=%s", s->id,
		    s->client.ipstr);
		session_drop_tx(s);
		session_set_state(s, ST_CLOSING);
		return;
	}
	s->tls = 1;
	str_copy(s->tls_info, sizeof(s->tls_info), info ? info : "");
	session_drop_tx(s);
	s->helo[0] = '\0';
	s->client.helo = NULL;
	s->esmtp = 0;
	s->user[0] = '\0';
	s->client.auth_user = NULL;
	log_info("session=%s event=tls client=%s %s", s->id, s->client.ipstr,
	    s->tls_info);
	session_set_state(s, ST_GREET);
}

/*
 * smtp_session_set_dnsbl - the client is on a blocklist: policy refuses
 * it at RCPT (unless trusted or authenticated). The strings are the
 * host's and must outlive the session.
 */
void
smtp_session_set_dnsbl(struct smtp_session *s, const char *zone,
    const char *txt)
{
	s->client.dnsbl = zone;
	s->client.dnsbl_txt = txt;
}

/* smtp_session_user - the authenticated user, or "" */
const char *
smtp_session_user(const struct smtp_session *s)
{
	return s->user;
}

/* smtp_session_state - the current state */
enum smtp_state
smtp_session_state(const struct smtp_session *s)
{
	return s->state;
}

/* smtp_session_timeout - the client was silent too long: 421 and close */
void
smtp_session_timeout(struct smtp_session *s)
{
	if (s->state == ST_CLOSING)
		return;
	log_info("session=%s event=timeout client=%s state=%s", s->id,
	    s->client.ipstr, smtp_state_name(s->state));
	if (s->state == ST_COMMIT || s->state == ST_AUTHWAIT)
		return;	/* our own delay, not the client's */
	reply_add(&s->out, 421, "4.4.2", "%s Error: timeout exceeded",
	    s->sp->hostname);
	session_drop_tx(s);
	session_set_state(s, ST_CLOSING);
}

/* smtp_session_shutdown - the server is stopping: 421 and close */
void
smtp_session_shutdown(struct smtp_session *s, const char *why)
{
	if (s->state == ST_CLOSING)
		return;
	reply_add(&s->out, 421, "4.3.2", "%s %s", s->sp->hostname,
	    why ? why : "Service shutting down, closing connection");
	session_drop_tx(s);
	session_set_state(s, ST_CLOSING);
}

/* smtp_session_stats - counters for the disconnect log line */
const struct smtp_stats *
smtp_session_stats(const struct smtp_session *s)
{
	return &s->st;
}

/* smtp_session_id - the session's id */
const char *
smtp_session_id(const struct smtp_session *s)
{
	return s->id;
}

/* smtp_session_helo - the client's HELO/EHLO name ("" before it) */
const char *
smtp_session_helo(const struct smtp_session *s)
{
	return s->helo;
}

/*
 * smtp_session_proto - the protocol word of RFC 3848 for Received:
 * SMTP, ESMTP, and ESMTPS (TLS), ESMTPA (AUTH), ESMTPSA (both).
 */
const char *
smtp_session_proto(const struct smtp_session *s)
{
	static const char *names[] = { "ESMTP", "ESMTPS", "ESMTPA",
	    "ESMTPSA" };

	if (!s->esmtp)
		return "SMTP";
	return names[(s->tls ? 1 : 0) + (s->user[0] ? 2 : 0)];
}

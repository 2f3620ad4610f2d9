/*
 * replay - the golden-transcript replayer: drives one I/O-free SMTP
 * session (src/smtp/session.h) from a transcript input file (.in) and
 * prints the dialogue on stdout; run.sh diffs that with the reviewed .ref.
 *
 * Usage: transcript FILE.in
 *
 * The .in format, one item per line:
 *
 *   # text            a comment; blank lines are ignored too
 *   @client ADDR      the client's IPv4 or IPv6 address (default 192.0.2.1,
 *                     an outside client: a test that forgets it fails closed)
 *   @config           libconfig text up to a line "@end", read over the
 *   ...               built-in defaults as sluiced reads its file
 *   @end              (sluice.conf(5)); hostname defaults to mx.sluice.test
 *   @spool MODE       the fake spool from now on: ok (default); fail (the
 *                     commit answers SMTP_TEMP); perm (SMTP_PERM); open-fail
 *                     (msg_open fails); write-fail (msg_write fails after the
 *                     Received: header)
 *   @log debug        also print debug log lines (state changes)
 *                     (@client, @config and @log come before any other line)
 *   @split N          feed every send in N-byte pieces (1: byte by byte;
 *                     0: whole, the default), each piece one feed call
 *   @batch            queue the following client lines ...
 *   @send             ... and feed them as ONE send (a pipelined group)
 *   @repeat N         send the next client line N times
 *   @timeout          the idle timer fires (smtp_session_timeout)
 *   C: text           a client line: text and CRLF, one send of its own
 *                     unless batched ("C:" alone sends an empty line)
 *   C-raw: text       exact bytes, nothing appended; escapes \r \n \t \0 \\
 *                     \xNN, and \{N}c for the character c (or one escape)
 *                     repeated N times
 *
 * Output: "# client ADDR" and the greeting; then for each send, its client
 * lines as written in the .in ("C: ...", "C-raw: ...", "C[xN]: ..." for a
 * @repeat), the server's reply lines ("S: ...", escaped like C-raw), and
 * what happened meanwhile, as "#" lines:
 *
 *   # log: ...        a server log line, without its timestamp
 *   # host: ...       a call into the fake host: open (with the envelope
 *                     as the session handed it over), commit, abort
 *   # stored: ...     the message as stored, one line each, after a commit
 *   # one send of N bytes, pipelined, fed in K-byte pieces
 *                     before the lines of a send of several lines (a
 *                     @batch or @repeat) or of a @split send
 *   # after K of N bytes   what follows came before the send was wholly fed
 *   # closed by server[, N bytes not read]
 *   # not sent: ...   client lines after the close
 *   # idle timeout    a @timeout
 *   # end: ...        the final state and the session's counters
 *
 * The host completes a commit as soon as the session pauses for it, as the
 * server's connection driver would with an instant spool. Everything is
 * deterministic: fixed clock, session id and queue ids (Q0001, Q0002 ...).
 * Exit status: 0 replayed, 2 bad .in or config, 3 the session misbehaved
 * (consumed nothing, yet neither waited for a commit nor closed).
 */
#include <arpa/inet.h>
#include <sys/socket.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "policy/policy.h"
#include "smtp/session.h"
#include "smtp/tx.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xalloc.h"

/* Tue, 14 Nov 2023 22:13:20 +0000 */
#define FIXED_TIME	((time_t)1700000000)
#define SESSION_ID	"00000001"
#define DEF_CLIENT	"192.0.2.1"
#define DEF_HOSTNAME	"mx.sluice.test"
#define STORE_MAX	(64 * 1024 * 1024)
#define SEND_MAX	(64 * 1024 * 1024)
#define REPEAT_MAX	1000000

enum spool_mode { SP_OK, SP_FAIL, SP_PERM, SP_OPEN_FAIL, SP_WRITE_FAIL };

struct replay {
	const char		*path;
	unsigned		 lineno;
	struct smtp_session	*s;
	struct policy_client	 client;
	enum spool_mode		 spool;
	/* the fake host's one message */
	int			 open;
	int			 commit_pending;
	int			 writes;	/* msg_write calls since open */
	unsigned		 nqid;
	char			 qid[32];
	struct buf		 msg;
	/* "#" lines to print after the next replies */
	struct buf		 events;
	/* the send being built: its bytes and its lines as shown */
	struct buf		 send;
	struct buf		 shown;
	int			 batching;
	size_t			 split;
	unsigned long		 repeat;
	int			 closed;
	size_t			 noted;		/* 1 + offset of the last "after" */
	int			 nlines;	/* client lines in the send */
};

/* fixed_clock - the session's clock: always the same instant */
static time_t
fixed_clock(void)
{
	return FIXED_TIME;
}

/* die - a bad .in file or config: say where, exit 2 */
static void __attribute__((format(printf, 2, 3), noreturn))
die(const struct replay *r, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s:%u: ", r->path, r->lineno);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

/* event - queue one "#" line, printed after the replies of this step */
static void __attribute__((format(printf, 2, 3)))
event(struct replay *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)buf_vprintf(&r->events, fmt, ap);
	va_end(ap);
	(void)buf_putc(&r->events, '\n');
}

/* put_escaped - bytes as text: controls and 8-bit bytes escaped */
static void
put_escaped(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '\r')
			fputs("\\r", stdout);
		else if (c == '\n')
			fputs("\\n", stdout);
		else if (c == '\t')
			fputs("\\t", stdout);
		else if (c == 0)
			fputs("\\0", stdout);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
}

/*
 * put_lines - print CRLF-terminated lines of p[0..n), each after prefix;
 * an unterminated tail is marked.
 */
static void
put_lines(const char *prefix, const char *p, size_t n)
{
	const char *e;

	while (n > 0) {
		e = memmem(p, n, "\r\n", 2);
		fputs(prefix, stdout);
		if ((e ? (size_t)(e - p) : n) > 0)
			putchar(' ');
		put_escaped(p, e ? (size_t)(e - p) : n);
		if (e == NULL) {
			fputs("  (no CRLF at the end)\n", stdout);
			return;
		}
		putchar('\n');
		n -= (size_t)(e - p) + 2;
		p = e + 2;
	}
}

/*
 * flush - print the replies the session queued, then the events. When
 * the send is not wholly fed yet (off < total), say how far it got.
 */
static void
flush(struct replay *r, size_t off, size_t total)
{
	struct buf *out = smtp_session_output(r->s);

	if (out->len == 0 && r->events.len == 0)
		return;
	if (off < total && off + 1 != r->noted) {
		printf("# after %zu of %zu bytes\n", off, total);
		r->noted = off + 1;
	}
	put_lines("S:", out->data, out->len);
	buf_reset(out);
	if (r->events.len > 0)
		fwrite(r->events.data, 1, r->events.len, stdout);
	buf_reset(&r->events);
}

/* capture - the log's hook: keep the line (already timestamp-free) */
static void
capture(void *arg, const char *line)
{
	event(arg, "# log: %s", line);
}

/* ---- the fake host ---- */

/* h_open - a message starts; show the envelope as the session gave it */
static int
h_open(void *ctx, const struct tx *tx, char *qid, size_t qidsize)
{
	struct replay *r = ctx;
	char a[SMTP_PATH_MAX + 8];
	size_t i;

	if (r->spool == SP_OPEN_FAIL) {
		event(r, "# host: open refused (@spool open-fail)");
		return -1;
	}
	if (r->open)
		event(r, "# host: BUG: open while %s is open", r->qid);
	snprintf(r->qid, sizeof(r->qid), "Q%04u", ++r->nqid);
	if (str_copy(qid, qidsize, r->qid) == -1)
		event(r, "# host: BUG: queue id buffer too small");
	buf_reset(&r->msg);
	r->open = 1;
	r->writes = 0;
	addr_format(&tx->sender, a, sizeof(a));
	event(r, "# host: open %s from=%s nrcpt=%zu", r->qid, a, tx->nrcpt);
	for (i = 0; i < tx->nrcpt; i++) {
		const struct tx_rcpt *t = &tx->rcpts[i];

		addr_format(&t->addr, a, sizeof(a));
		if (t->cls == RCPT_LOCAL)
			event(r, "# host:   to=%s local mailbox=%s rule=%s", a,
			    t->mailbox, t->rule);
		else
			event(r, "# host:   to=%s %s rule=%s", a,
			    t->cls == RCPT_REMOTE ? "remote" : "BUG-no-class",
			    t->rule);
	}
	return 0;
}

/* h_write - message bytes, kept in memory */
static int
h_write(void *ctx, const char *p, size_t n)
{
	struct replay *r = ctx;

	if (!r->open) {
		event(r, "# host: BUG: write with no open message");
		return -1;
	}
	if (r->spool == SP_WRITE_FAIL && r->writes++ > 0) {
		if (r->writes == 2)
			event(r, "# host: write failed (@spool write-fail)");
		return -1;
	}
	return buf_append(&r->msg, p, n);
}

/* h_commit - note it; replay() completes it once feed() returns */
static void
h_commit(void *ctx)
{
	struct replay *r = ctx;

	if (!r->open || r->commit_pending)
		event(r, "# host: BUG: commit with no open message");
	r->commit_pending = 1;
	event(r, "# host: commit %s (%zu bytes)", r->qid, r->msg.len);
}

/* h_abort - forget the message */
static void
h_abort(void *ctx)
{
	struct replay *r = ctx;

	if (!r->open)
		event(r, "# host: BUG: abort with no open message");
	event(r, "# host: abort %s (%zu bytes dropped)%s", r->qid, r->msg.len,
	    r->commit_pending ? " during its commit" : "");
	r->open = 0;
	r->commit_pending = 0;
	buf_reset(&r->msg);
}

static const struct smtp_host host = {
	.msg_open = h_open, .msg_write = h_write, .msg_commit = h_commit,
	.msg_abort = h_abort
};

/* commit - the spool answers: print what was stored, tell the session */
static void
commit(struct replay *r, size_t off, size_t total)
{
	int result = r->spool == SP_FAIL ? SMTP_TEMP :
	    r->spool == SP_PERM ? SMTP_PERM : SMTP_OK;

	r->commit_pending = 0;
	flush(r, off, total);
	if (result == SMTP_OK)
		put_lines("# stored:", r->msg.data, r->msg.len);
	else
		printf("# host: commit of %s failed (@spool %s)\n", r->qid,
		    result == SMTP_TEMP ? "fail" : "perm");
	r->open = 0;
	buf_reset(&r->msg);
	smtp_session_committed(r->s, result, result == SMTP_OK ? NULL :
	    "test spool failure");
	flush(r, off, total);
}

/* ---- sending ---- */

/* not_sent - the server closed: show the lines that never went out */
static void
not_sent(struct replay *r)
{
	const char *p = r->shown.data, *e;
	size_t n = r->shown.len;

	while (n > 0 && (e = memchr(p, '\n', n)) != NULL) {
		printf("# not sent: %.*s\n", (int)(e - p), p);
		n -= (size_t)(e - p) + 1;
		p = e + 1;
	}
}

/*
 * send_now - feed the queued bytes to the session (in @split pieces), with
 * the replies and events after each feed call.
 */
static void
send_now(struct replay *r)
{
	const char *p = r->send.data;
	size_t n = r->send.len, off = 0, end, used;

	if (r->closed) {
		not_sent(r);
		goto done;
	}
	if (r->nlines > 1 || r->split)
		printf("# one send of %zu bytes%s", n, r->nlines > 1 ?
		    ", pipelined" : "");
	if (r->split)
		printf(", fed in %zu-byte pieces", r->split);
	if (r->nlines > 1 || r->split)
		putchar('\n');
	if (r->shown.len > 0)
		fwrite(r->shown.data, 1, r->shown.len, stdout);
	r->noted = 0;
	while (off < n) {
		end = r->split && n - off > r->split ? off + r->split : n;
		while (off < end) {
			used = smtp_session_feed(r->s, p + off, end - off, 0);
			off += used;
			flush(r, off, n);
			if (r->commit_pending)
				commit(r, off, n);
			else if (used == 0 && !smtp_session_closing(r->s)) {
				printf("# BUG: the session consumed nothing of "
				    "%zu bytes (state %s)\n", end - off,
				    smtp_state_name(smtp_session_state(r->s)));
				exit(3);
			}
			if (smtp_session_closing(r->s)) {
				printf("# closed by server");
				if (off < n)
					printf(", %zu bytes not read", n - off);
				putchar('\n');
				r->closed = 1;
				goto done;
			}
		}
	}
done:
	buf_reset(&r->send);
	buf_reset(&r->shown);
	r->nlines = 0;
}

/* hexval - a hex digit's value, or -1 */
static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* unescape1 - one character or escape at *s into *c; advances *s */
static void
unescape1(struct replay *r, const char **s, char *c)
{
	const char *p = *s;
	int hi, lo;

	if (*p != '\\') {
		*c = *p;
		*s = p + 1;
		return;
	}
	switch (p[1]) {
	case 'r': *c = '\r'; break;
	case 'n': *c = '\n'; break;
	case 't': *c = '\t'; break;
	case '0': *c = '\0'; break;
	case '\\': *c = '\\'; break;
	case 'x':
		if ((hi = hexval((unsigned char)p[2])) == -1 ||
		    (lo = hexval((unsigned char)p[3])) == -1)
			die(r, "\\x needs two hex digits");
		*c = (char)(hi * 16 + lo);
		*s = p + 4;
		return;
	default:
		die(r, "unknown escape \\%c (want \\r \\n \\t \\0 \\\\ \\xNN "
		    "\\{N}c)", p[1] ? p[1] : ' ');
	}
	*s = p + 2;
}

/* unescape - C-raw text into bytes, appended to out */
static void
unescape(struct replay *r, const char *s, struct buf *out)
{
	unsigned long long count;
	char c, num[24];
	const char *e;
	uint64_t v;

	while (*s) {
		count = 1;
		if (s[0] == '\\' && s[1] == '{') {
			e = strchr(s + 2, '}');
			if (e == NULL || (size_t)(e - s - 2) >= sizeof(num) ||
			    str_ncopy(num, sizeof(num), s + 2,
			    (size_t)(e - s - 2)) == -1 ||
			    str_parse_u64(num, 1, REPEAT_MAX, &v) == -1 ||
			    e[1] == '\0')
				die(r, "\\{N}c: N from 1 to %d, then one "
				    "character", REPEAT_MAX);
			count = v;
			s = e + 1;
		}
		unescape1(r, &s, &c);
		while (count-- > 0)
			if (buf_putc(out, c) == -1)
				die(r, "send too large");
	}
}

/* client_line - "C: text" or "C-raw: text": queue it, or send it now */
static void
client_line(struct replay *r, const char *line, int raw)
{
	const char *text = line + (raw ? 6 : 2);
	unsigned long i, times = r->repeat ? r->repeat : 1;
	size_t start = r->send.len;

	if (*text == ' ')
		text++;
	else if (*text != '\0')
		die(r, "want \"%s \" then the text", raw ? "C-raw:" : "C:");
	if (raw)
		unescape(r, text, &r->send);
	else if (buf_puts(&r->send, text) == -1 ||
	    buf_puts(&r->send, "\r\n") == -1)
		die(r, "send too large");
	if (times > 1) {
		size_t ulen = r->send.len - start;
		char *unit = xmemdup0(r->send.data + start, ulen);

		for (i = 1; i < times; i++)
			if (buf_append(&r->send, unit, ulen) == -1)
				die(r, "send too large");
		free(unit);
	}
	if (times > 1)
		(void)buf_printf(&r->shown, "C[x%lu]:%s%s\n", times,
		    raw ? "raw " : " ", text);
	else
		(void)buf_printf(&r->shown, "%s\n", line);
	r->repeat = 0;
	r->nlines += (int)times;
	if (!r->batching)
		send_now(r);
}

/* ---- setup ---- */

/* load_config - the defaults, or the @config text over them */
static struct conf *
load_config(struct replay *r, const struct buf *text)
{
	char path[] = "/tmp/sluice-replay-XXXXXX";
	struct conf *c;
	FILE *f;
	int fd;

	if (text->len == 0)
		return conf_default();
	if ((fd = mkstemp(path)) == -1 || (f = fdopen(fd, "w")) == NULL)
		die(r, "temporary config: %s", strerror(errno));
	fwrite(text->data, 1, text->len, f);
	if (fclose(f) != 0)
		die(r, "temporary config: %s", strerror(errno));
	c = conf_load(path, stderr);
	unlink(path);
	if (c == NULL)
		die(r, "@config was refused (errors above)");
	return c;
}

/* set_client - the client's address from @client */
static void
set_client(struct replay *r, const char *s)
{
	struct policy_client *c = &r->client;

	memset(c, 0, sizeof(*c));
	if (inet_pton(AF_INET, s, c->ip) == 1)
		c->family = AF_INET;
	else if (inet_pton(AF_INET6, s, c->ip) == 1)
		c->family = AF_INET6;
	else
		die(r, "@client: not an IPv4 or IPv6 address: \"%s\"", s);
	inet_ntop(c->family, c->ip, c->ipstr, sizeof(c->ipstr));
}

/*
 * start - build the policy and the session, connect as the server's
 * connection driver does: a client on a deny list is refused at once.
 */
static void
start(struct replay *r, struct conf *cf, struct policy **pp,
    struct smtp_params *sp)
{
	struct policy_conf pc;
	struct verdict v;
	char err[512];

	conf_policy(cf, &pc);
	if ((*pp = policy_new(&pc, err, sizeof(err))) == NULL)
		die(r, "policy: %s", err);
	memset(sp, 0, sizeof(*sp));
	sp->hostname = cf->hostname[0] ? cf->hostname : DEF_HOSTNAME;
	sp->banner = cf->banner;
	sp->policy = *pp;
	sp->max_msgsize = cf->message_size;
	sp->max_rcpts = (size_t)cf->recipients;
	sp->max_errors = (unsigned)cf->errors;
	sp->reject_long_lines = cf->reject_long_lines;
	sp->clock = fixed_clock;
	printf("# client %s\n", r->client.ipstr);
	r->s = smtp_session_new(sp, &host, r, SESSION_ID, &r->client);
	policy_connect(*pp, &r->client, &v);
	if (v.kind != POLICY_ACCEPT) {
		char q[LOG_QUOTE_MAX];

		log_info("session=%s event=connect-rejected client=%s rule=%s "
		    "reply=%d", SESSION_ID, r->client.ipstr,
		    log_quotes(q, sizeof(q), v.rule), v.code);
		smtp_session_reject(r->s, v.code, v.enh, v.text);
	} else
		smtp_session_start(r->s);
	flush(r, 0, 0);
}

/* number - a directive's count argument */
static unsigned long
number(struct replay *r, const char *s, uint64_t min, uint64_t max)
{
	uint64_t v;

	if (str_parse_u64(s, min, max, &v) == -1)
		die(r, "want a number from %llu to %llu, not \"%s\"",
		    (unsigned long long)min, (unsigned long long)max, s);
	return (unsigned long)v;
}

/* main - replay one transcript file */
int
main(int argc, char **argv)
{
	struct replay r;
	struct buf conftext;
	struct smtp_params sp;
	struct policy *pol = NULL;
	struct conf *cf = NULL;
	const struct smtp_stats *st;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int inconf = 0, debug = 0;
	FILE *in;

	if (argc != 2) {
		fprintf(stderr, "usage: %s FILE.in\n", argv[0]);
		return 2;
	}
	memset(&r, 0, sizeof(r));
	r.path = argv[1];
	buf_init(&r.msg, STORE_MAX);
	buf_init(&r.events, SEND_MAX);
	buf_init(&r.send, SEND_MAX);
	buf_init(&r.shown, SEND_MAX);
	buf_init(&conftext, 1024 * 1024);
	set_client(&r, DEF_CLIENT);
	if ((in = fopen(r.path, "r")) == NULL) {
		fprintf(stderr, "%s: %s\n", r.path, strerror(errno));
		return 2;
	}
	/* the server's log lines go to the output, not to stderr */
	if (log_open("sluiced", "/dev/null") == -1) {
		fprintf(stderr, "/dev/null: %s\n", strerror(errno));
		return 2;
	}
	log_set_level(LVL_INFO);
	log_set_capture(capture, &r);

	while ((len = getline(&line, &cap, in)) != -1) {
		r.lineno++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (memchr(line, '\0', (size_t)len) || strchr(line, '\r'))
			die(&r, "CR or NUL in the .in file: use C-raw escapes");
		if (inconf) {
			if (strcmp(line, "@end") == 0)
				inconf = 0;
			else if (buf_puts(&conftext, line) == -1 ||
			    buf_putc(&conftext, '\n') == -1)
				die(&r, "@config too long");
			continue;
		}
		if (line[0] == '\0' || line[0] == '#')
			continue;
		if (r.s == NULL) {
			if (strcmp(line, "@config") == 0) {
				inconf = 1;
				continue;
			}
			if (strncmp(line, "@client ", 8) == 0) {
				set_client(&r, line + 8);
				continue;
			}
			if (strcmp(line, "@log debug") == 0) {
				debug = 1;
				continue;
			}
			cf = load_config(&r, &conftext);
			log_set_level(debug ? LVL_DEBUG : LVL_INFO);
			start(&r, cf, &pol, &sp);
		}
		if (strncmp(line, "C: ", 3) == 0 || strcmp(line, "C:") == 0)
			client_line(&r, line, 0);
		else if (strncmp(line, "C-raw: ", 7) == 0)
			client_line(&r, line, 1);
		else if (strcmp(line, "@batch") == 0) {
			if (r.batching)
				die(&r, "@batch inside @batch");
			r.batching = 1;
		} else if (strcmp(line, "@send") == 0) {
			if (!r.batching || r.send.len == 0)
				die(&r, "@send without @batch and client lines");
			r.batching = 0;
			send_now(&r);
		} else if (strncmp(line, "@split ", 7) == 0)
			r.split = number(&r, line + 7, 0, SEND_MAX);
		else if (strncmp(line, "@repeat ", 8) == 0)
			r.repeat = number(&r, line + 8, 1, REPEAT_MAX);
		else if (strncmp(line, "@spool ", 7) == 0) {
			const char *m = line + 7;

			if (strcmp(m, "ok") == 0)
				r.spool = SP_OK;
			else if (strcmp(m, "fail") == 0)
				r.spool = SP_FAIL;
			else if (strcmp(m, "perm") == 0)
				r.spool = SP_PERM;
			else if (strcmp(m, "open-fail") == 0)
				r.spool = SP_OPEN_FAIL;
			else if (strcmp(m, "write-fail") == 0)
				r.spool = SP_WRITE_FAIL;
			else
				die(&r, "@spool ok|fail|perm|open-fail|"
				    "write-fail");
		} else if (strcmp(line, "@timeout") == 0) {
			if (r.batching)
				die(&r, "@timeout inside @batch");
			printf("# idle timeout\n");
			if (!r.closed) {
				smtp_session_timeout(r.s);
				flush(&r, 0, 0);
				if (smtp_session_closing(r.s)) {
					printf("# closed by server\n");
					r.closed = 1;
				}
			}
		} else if (strcmp(line, "@config") == 0 ||
		    strncmp(line, "@client ", 8) == 0 ||
		    strcmp(line, "@log debug") == 0)
			die(&r, "%s must come before the first client line",
			    line);
		else
			die(&r, "unknown line (want C:, C-raw:, # or an "
			    "@directive)");
	}
	free(line);
	fclose(in);
	if (inconf)
		die(&r, "@config without @end");
	if (r.batching)
		die(&r, "@batch without @send");
	if (r.s == NULL) {
		cf = load_config(&r, &conftext);
		start(&r, cf, &pol, &sp);
	}
	if (r.repeat)
		die(&r, "@repeat at the end, with no line to repeat");

	st = smtp_session_stats(r.s);
	printf("# end: state=%s commands=%u errors=%u messages=%u "
	    "rcpt_ok=%u rcpt_rejected=%u bytes=%llu\n",
	    smtp_state_name(smtp_session_state(r.s)), st->commands,
	    st->errors, st->messages, st->rcpt_ok, st->rcpt_rejected,
	    (unsigned long long)st->bytes);
	smtp_session_free(r.s);	/* aborts an open message */
	r.s = NULL;
	if (r.events.len > 0)
		fwrite(r.events.data, 1, r.events.len, stdout);
	log_set_capture(NULL, NULL);
	log_close();
	policy_free(pol);
	conf_free(cf);
	buf_release(&r.msg);
	buf_release(&r.events);
	buf_release(&r.send);
	buf_release(&r.shown);
	buf_release(&conftext);
	return fflush(stdout) == 0 ? 0 : 2;
}

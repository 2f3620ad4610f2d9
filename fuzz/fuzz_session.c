/*
 * fuzz_session - the whole I/O-free SMTP server session,
 * src/smtp/session.c and cmdtab.c, with the command, address, DATA and
 * reply modules and the relay policy under it.
 *
 * A fake host plays the connection driver (server/conn.c): the client's
 * bytes arrive in fuzzer-chosen pieces; after each arrival the host feeds
 * what it holds, at most `cap` bytes a call, with more_after set when it
 * holds more than it passes (as conn.c does), keeps what the session did
 * not consume, drains the output after every call, and stops once the
 * session is closing. Messages go to an in-memory sink; msg_commit calls
 * smtp_session_committed() at once, at the next arrival, or at the end.
 * STARTTLS: once the session wants TLS the host drops what it holds (RFC
 * 3207 5) and "handshakes" at once; later pieces are the encrypted
 * stream. AUTH: auth_check answers at once or at the next arrival.
 *
 * Input layout:
 *   byte 0  client (bits 0-2), policy (bit 3: default or the rewriting
 *           one below), reject_long_lines (4), small message size (5),
 *           small recipient limit (6), refuse at connect (7)
 *   byte 1  commit timing (bits 0-1), commit result (2-3), msg_open
 *           fails (4), msg_write fails after the first write (5), at the
 *           end: nothing, timeout or shutdown (6-7)
 *   byte 2  STARTTLS offered (bit 0), AUTH offered (1), AUTH required
 *           (2), implicit TLS (3), AUTH result: ok, fail, temp, blocked
 *           (4-5), AUTH answer deferred (6), TLS handshake fails (7)
 *   byte 3  feed cap: 0 = all held bytes, else 1..255 bytes a call
 *   then a split header (fuzz.h) for the arrivals, then the client bytes.
 *
 * Invariants, besides "no crash, no leak, no undefined behaviour":
 *   - output: under its cap; only complete reply lines, each at most 512
 *     octets with CRLF, printable, "DDD-" or "DDD "; the client-side
 *     parser reads them without error and no reply is left half-sent;
 *   - flow: a call that consumes nothing happens only while closing or
 *     paused; the session's byte count matches what it consumed;
 *   - host contract: open, write, commit and abort come in order; a
 *     message is open exactly in the DATA state; paused means the host
 *     holds a commit or a credentials check, or TLS is wanted; free
 *     leaves no message open;
 *   - STARTTLS: the 220 is the last reply before the handshake (nothing
 *     the client pipelined behind STARTTLS is answered), and afterwards
 *     the session starts over (greeted, no HELO, no user);
 *   - AUTH: credentials reach the host only over TLS, with a non-empty
 *     user name, both at most 255 octets;
 *   - a committed message contains no NUL, bare CR or bare LF and ends
 *     with CRLF (what end_of_data refuses never reaches the spool);
 *   - "250 ... queued as" is said exactly once per successful commit;
 *   - every envelope address handed to the host is a valid path;
 *   - relay: a client neither in the authorized networks nor
 *     authenticated (by its AUTH, or by the host) gets only local recipients (with a mailbox name that
 *     is safe as a file name) or, under the second policy, recipients in
 *     its relay domain: never an open relay.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "fuzz.h"
#include "policy/policy.h"
#include "smtp/limits.h"
#include "smtp/reply.h"
#include "smtp/session.h"
#include "smtp/tx.h"
#include "util/buf.h"
#include "util/log.h"

/* session.c's OUT_HIGH: it stops reading above this much unsent output */
#define OUT_HIGH	(64 * 1024)
/* what one command may add on top of it (a reply and a 421) */
#define OUT_SLACK	(4 * SMTP_REPLY_MAX)

#define HOSTNAME	"mx.sluice.test"
#define RELAY_DOMAIN	"relay.example"

/* The second policy: every rewrite allowed, users, lists, a relay domain. */
static const char rich_conf[] =
    "hostname = \"" HOSTNAME "\";\n"
    "local_domains = [ \"localhost\", \"example.test\", "
    "\".sub.example.test\" ];\n"
    "relay_domains = [ \"" RELAY_DOMAIN "\" ];\n"
    "local_users = [ \"alice\", \"bob@example.test\", \"postmaster\" ];\n"
    "accept_literals = true;\n"
    "local_addresses = [ \"192.0.2.1\", \"2001:db8::1\" ];\n"
    "allow_percent_hack = true;\n"
    "allow_bang_path = true;\n"
    "allow_quoted_at = true;\n"
    "deny = {\n"
    "  clients = ( \"198.51.100.0/24\" );\n"
    "  helo = ( \"evil.example\", { pattern = \".spam.example\"; "
    "reply = \"550 5.7.1 No thanks\"; reason = \"test\"; } );\n"
    "  senders = ( \"spam.example\", \"bad@\", { pattern = "
    "\"later@example.org\"; reply = \"451 4.7.1 Try later\"; } );\n"
    "  recipients = ( \"blocked@example.test\" );\n"
    "};\n"
    "allow = { senders = ( \"ok@spam.example\" ); };\n";

static struct conf *conf_def, *conf_rich;
static struct policy *pol_def, *pol_rich;

struct client_choice {
	int		 family;
	const char	*ip;
	const char	*auth;
	int		 trusted;
};

static const struct client_choice clients[8] = {
	{ AF_INET, "127.0.0.1", NULL, 1 },
	{ AF_INET, "192.0.2.7", NULL, 0 },
	{ AF_INET6, "::1", NULL, 1 },
	{ AF_INET6, "2001:db8::7", NULL, 0 },
	{ AF_INET, "198.51.100.9", NULL, 0 },	/* denied by the 2nd policy */
	{ AF_INET, "192.0.2.8", "fuzzuser", 1 },	/* authenticated */
	{ AF_INET, "10.1.2.3", NULL, 0 },
	{ AF_INET6, "2001:db8::1", NULL, 0 },	/* our own literal */
};

enum { M_NONE, M_OPEN, M_COMMITTING };
enum { C_NOW, C_NOW2, C_NEXT, C_END };

struct host {
	struct smtp_session *s;
	int		 mstate;
	struct buf	 msg;		/* the open message */
	int		 fail_open, fail_write, commit_mode, commit_result;
	unsigned	 writes;
	int		 trusted, rich;
	size_t		 max_rcpts;
	unsigned	 commits_ok, queued_replies;
	struct reply	 rp;		/* our output, read back */
	int		 last_code;	/* of the last line drained */
	size_t		 fed_used;	/* bytes the session consumed */
	int		 tls, tls_fail;
	int		 auth_result, auth_deferred, auth_pending, authed;
};

/* fixed_clock - a deterministic clock */
static time_t
fixed_clock(void)
{
	return 1732464925;
}

/* load_policy - a configuration and its policy; abort if either fails */
static void
load_policy(struct conf *c, struct policy **pp)
{
	struct policy_conf pc;
	char err[512];

	if (c == NULL)
		abort();
	conf_policy(c, &pc);
	if ((*pp = policy_new(&pc, err, sizeof(err))) == NULL) {
		fprintf(stderr, "fuzz_session: policy: %s\n", err);
		abort();
	}
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[64];
	FILE *f;

	(void)argc;
	(void)argv;
	/* log every line (debug too) to nowhere: the formatting still runs */
	if (log_open("fuzz", "/dev/null") == -1)
		abort();
	log_set_level(LVL_DEBUG);

	conf_def = conf_default();
	load_policy(conf_def, &pol_def);

	snprintf(path, sizeof(path), "/tmp/sluice-fuzz-session.%ld.conf",
	    (long)getpid());
	if ((f = fopen(path, "w")) == NULL ||
	    fwrite(rich_conf, 1, sizeof(rich_conf) - 1, f) !=
	    sizeof(rich_conf) - 1 || fclose(f) != 0)
		abort();
	conf_rich = conf_load(path, stderr);
	unlink(path);
	load_policy(conf_rich, &pol_rich);
	return 0;
}

/* safe_mailbox - [a-z0-9._-]+, no leading dot, no ".." */
static int
safe_mailbox(const char *m)
{
	size_t i;

	if (m[0] == '\0' || m[0] == '.')
		return 0;
	for (i = 0; m[i]; i++) {
		char c = m[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '_' || c == '-'))
			return 0;
		if (c == '.' && m[i + 1] == '.')
			return 0;
	}
	return 1;
}

/* valid_addr - an envelope address is a valid path once formatted */
static void
valid_addr(const struct addr *a, unsigned opts)
{
	char text[SMTP_PATH_MAX + 1];
	struct addr b;
	size_t used;

	if (a->dtype != ADDR_DNONE && a->domain[0] == '\0') {
		/* crashes/session-empty-domain-relay.bin, fixed in 397de55 */
		fprintf(stderr, "envelope address <%s@> has no domain\n",
		    a->local);
		abort();
	}
	FZ_CHECK(addr_format(a, text, sizeof(text)) == 0);
	if (addr_parse_path(text, strlen(text), opts, &b, &used) != ADDR_OK) {
		fprintf(stderr, "envelope address %s is not a path\n", text);
		abort();
	}
	FZ_CHECK(strcmp(a->local, b.local) == 0 &&
	    strcmp(a->domain, b.domain) == 0 && a->dtype == b.dtype);
}

/* h_open - msg_open: check the envelope, then open a message */
static int
h_open(void *ctx, const struct tx *tx, char *qid, size_t qidsize)
{
	struct host *h = ctx;
	size_t i;

	FZ_CHECK(h->mstate == M_NONE);
	FZ_CHECK(tx != NULL && tx->nrcpt >= 1 && tx->nrcpt <= h->max_rcpts);
	valid_addr(&tx->sender, ADDR_ALLOW_NULL);
	for (i = 0; i < tx->nrcpt; i++) {
		const struct tx_rcpt *r = &tx->rcpts[i];

		valid_addr(&r->addr, ADDR_ALLOW_POSTMASTER);
		if (r->cls == RCPT_LOCAL) {
			FZ_CHECK(safe_mailbox(r->mailbox));
			continue;
		}
		FZ_CHECK(r->cls == RCPT_REMOTE);
		if (h->trusted || h->authed)
			continue;
		/* an untrusted client got a remote recipient */
		if (!(h->rich && r->addr.dtype == ADDR_DNAME &&
		    strcmp(r->addr.domain, RELAY_DOMAIN) == 0)) {
			fprintf(stderr, "OPEN RELAY: remote recipient "
			    "local=\"%s\" domain=\"%s\" rule=%s\n",
			    r->addr.local, r->addr.domain, r->rule);
			abort();
		}
	}
	if (h->fail_open)
		return -1;
	snprintf(qid, qidsize, "FUZZ%08u", h->commits_ok);
	buf_reset(&h->msg);
	h->writes = 0;
	h->mstate = M_OPEN;
	return 0;
}

/* h_write - msg_write: into the sink */
static int
h_write(void *ctx, const char *p, size_t n)
{
	struct host *h = ctx;

	FZ_CHECK(h->mstate == M_OPEN);
	FZ_CHECK(n > 0);
	if (h->fail_write && h->writes > 0)
		return -1;
	h->writes++;
	/* the sink is big enough for any input libFuzzer gives */
	FZ_CHECK(buf_append(&h->msg, p, n) == 0);
	return 0;
}

/* finish_commit - the "spool" answers */
static void
finish_commit(struct host *h)
{
	static const int results[] = { SMTP_OK, SMTP_OK, SMTP_TEMP,
	    SMTP_PERM };
	int res = results[h->commit_result];

	FZ_CHECK(h->mstate == M_COMMITTING);
	h->mstate = M_NONE;
	if (res == SMTP_OK)
		h->commits_ok++;
	smtp_session_committed(h->s, res, res == SMTP_OK ? NULL :
	    "fuzz spool says no");
}

/* h_commit - msg_commit: the message must be clean */
static void
h_commit(void *ctx)
{
	struct host *h = ctx;
	const char *m = h->msg.data;
	size_t i, n = h->msg.len;

	FZ_CHECK(h->mstate == M_OPEN);
	FZ_CHECK(n >= 2 && m[n - 2] == '\r' && m[n - 1] == '\n');
	for (i = 0; i < n; i++) {
		FZ_CHECK(m[i] != '\0');
		if (m[i] == '\r')
			FZ_CHECK(i + 1 < n && m[i + 1] == '\n');
		if (m[i] == '\n')
			FZ_CHECK(i > 0 && m[i - 1] == '\r');
	}
	FZ_CHECK(strncmp(m, "Received: from ", 15) == 0);
	h->mstate = M_COMMITTING;
	if (h->commit_mode == C_NOW || h->commit_mode == C_NOW2)
		finish_commit(h);
}

/* h_abort - msg_abort: forget it (or detach from its commit) */
static void
h_abort(void *ctx)
{
	struct host *h = ctx;

	FZ_CHECK(h->mstate == M_OPEN || h->mstate == M_COMMITTING);
	h->mstate = M_NONE;
}

/* finish_auth - the host's verdict on the credentials */
static void
finish_auth(struct host *h)
{
	static const int results[] = { AUTH_OK, AUTH_FAIL, AUTH_TEMP,
	    AUTH_BLOCKED };
	int res = results[h->auth_result];

	FZ_CHECK(h->auth_pending);
	h->auth_pending = 0;
	if (res == AUTH_OK && smtp_session_state(h->s) == ST_AUTHWAIT)
		h->authed = 1;
	smtp_session_auth_done(h->s, res, res == AUTH_BLOCKED ?
	    "fuzz-blocked" : NULL);
	if (h->authed)
		FZ_CHECK(smtp_session_user(h->s)[0] != '\0');
}

/* h_auth - auth_check: credentials only ever arrive over TLS */
static void
h_auth(void *ctx, const char *user, const char *pass)
{
	struct host *h = ctx;

	FZ_CHECK(h->tls);
	FZ_CHECK(!h->auth_pending && !h->authed);
	FZ_CHECK(smtp_session_state(h->s) == ST_AUTHWAIT);
	FZ_CHECK(user[0] != '\0' && strlen(user) <= 255);
	FZ_CHECK(strlen(pass) <= 255);
	h->auth_pending = 1;
	if (!h->auth_deferred)
		finish_auth(h);
}

static const struct smtp_host host_ops = {
	.msg_open = h_open,
	.msg_write = h_write,
	.msg_commit = h_commit,
	.msg_abort = h_abort,
	.auth_check = h_auth,
};

#define TLS_INFO	"TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)"

/* handshake - the host's TLS handshake, done or failed at once */
static void
handshake(struct host *h)
{
	smtp_session_tls_done(h->s, !h->tls_fail, TLS_INFO);
	if (h->tls_fail) {
		FZ_CHECK(smtp_session_closing(h->s));
		return;
	}
	h->tls = 1;
	h->authed = 0;
	/* RFC 3207 4.2: everything is forgotten, the client says EHLO again */
	FZ_CHECK(smtp_session_state(h->s) == ST_GREET);
	FZ_CHECK(smtp_session_user(h->s)[0] == '\0');
	FZ_CHECK(h->mstate == M_NONE);
}

/* drain - check and read back the session's output, then discard it */
static void
drain(struct host *h)
{
	struct buf *out = smtp_session_output(h->s);
	const char *d = out->data;
	size_t a, i;

	FZ_CHECK(out->len <= out->max);
	FZ_CHECK(out->len <= OUT_HIGH + OUT_SLACK);
	if (getenv("FUZZ_DEBUG") != NULL)
		fwrite(out->data ? out->data : "", 1, out->len, stderr);
	for (a = 0; a < out->len; a = i + 2) {
		enum reply_feed_res res;

		for (i = a; i < out->len && d[i] != '\r'; i++)
			FZ_CHECK(d[i] >= ' ' && d[i] < 0x7f);
		FZ_CHECK(i + 1 < out->len && d[i + 1] == '\n');
		FZ_CHECK(i + 2 - a <= SMTP_REPLYLINE_MAX);
		FZ_CHECK(i - a >= 4 && (d[a + 3] == ' ' || d[a + 3] == '-'));
		h->last_code = (d[a] - '0') * 100 + (d[a + 1] - '0') * 10 +
		    (d[a + 2] - '0');
		res = reply_feed_line(&h->rp, d + a, i - a);
		FZ_CHECK(res != REPLY_ERROR);
		if (res == REPLY_DONE) {
			if (h->rp.code == 250 && strncmp(buf_cstr(&h->rp.text),
			    "2.0.0 Ok: queued as ", 20) == 0)
				h->queued_replies++;
			reply_reset(&h->rp);
		}
	}
	FZ_CHECK(h->rp.nlines == 0);	/* no reply left half-sent */
	buf_reset(out);
	FZ_CHECK(h->queued_replies == h->commits_ok);
	/* a message is open exactly while DATA is being read */
	FZ_CHECK((h->mstate == M_OPEN) ==
	    (smtp_session_state(h->s) == ST_DATA));
	switch (smtp_session_state(h->s)) {
	case ST_COMMIT:
		FZ_CHECK(h->mstate == M_COMMITTING);
		break;
	case ST_AUTHWAIT:
		FZ_CHECK(h->auth_pending);
		break;
	case ST_TLS:
		FZ_CHECK(smtp_session_wants_tls(h->s));
		break;
	default:
		FZ_CHECK(!smtp_session_paused(h->s));
		break;
	}
}

/* process - feed what the host holds, as conn.c's process() does */
static void
process(struct host *h, const uint8_t *p, size_t *consumed, size_t held,
    size_t cap)
{
	while (!smtp_session_closing(h->s) && !smtp_session_paused(h->s)) {
		size_t n = held - *consumed, k, used;
		char *chunk;

		if (n == 0)
			break;
		k = n > cap ? cap : n;
		chunk = fz_dup(p + *consumed, k);
		used = smtp_session_feed(h->s, chunk, k, n > k);
		free(chunk);
		FZ_CHECK(used <= k);
		*consumed += used;
		h->fed_used += used;
		FZ_CHECK(smtp_session_stats(h->s)->bytes == h->fed_used);
		h->last_code = 0;
		drain(h);
		if (smtp_session_wants_tls(h->s)) {
			/* nothing pipelined behind STARTTLS was answered */
			FZ_CHECK(h->last_code == 220);
			*consumed = held;	/* RFC 3207 5: dropped */
			handshake(h);
			drain(h);
			continue;
		}
		if (used == 0) {
			/* no progress is only allowed when told why */
			FZ_CHECK(smtp_session_closing(h->s) ||
			    smtp_session_paused(h->s));
			break;
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	unsigned a = fz_u8(&f), b = fz_u8(&f), t = fz_u8(&f), capb = fz_u8(&f);
	const struct client_choice *cc = &clients[a & 7];
	struct policy_client client;
	struct smtp_params sp;
	struct fz_split split;
	struct verdict v;
	struct host h;
	const struct conf *c;
	size_t consumed = 0, i, cap = capb ? capb : SIZE_MAX;
	char id[24];

	fz_split_read(&f, &split);

	memset(&h, 0, sizeof(h));
	h.rich = (a >> 3) & 1;
	h.trusted = cc->trusted;
	h.commit_mode = b & 3;
	h.commit_result = (b >> 2) & 3;
	h.fail_open = (b >> 4) & 1;
	h.fail_write = (b >> 5) & 1;
	h.auth_result = (t >> 4) & 3;
	h.auth_deferred = (t >> 6) & 1;
	h.tls_fail = (t >> 7) & 1;
	buf_init(&h.msg, 4 * 1024 * 1024);
	reply_init(&h.rp);

	c = h.rich ? conf_rich : conf_def;
	memset(&sp, 0, sizeof(sp));
	sp.hostname = HOSTNAME;
	sp.banner = c->banner;
	sp.policy = h.rich ? pol_rich : pol_def;
	sp.max_msgsize = (a & 0x20) ? 2048 : c->message_size;
	sp.max_rcpts = (a & 0x40) ? 3 : (size_t)c->recipients;
	sp.max_errors = (unsigned)c->errors;
	sp.reject_long_lines = (a & 0x10) ? 1 : c->reject_long_lines;
	sp.clock = fixed_clock;
	sp.starttls = t & 1;
	sp.auth = (t >> 1) & 1;
	sp.require_auth = (t >> 2) & 1;
	h.max_rcpts = sp.max_rcpts;

	memset(&client, 0, sizeof(client));
	client.family = cc->family;
	if (inet_pton(cc->family, cc->ip, client.ip) != 1)
		abort();
	snprintf(client.ipstr, sizeof(client.ipstr), "%s", cc->ip);
	client.auth_user = cc->auth;

	snprintf(id, sizeof(id), "fz%06zx", size);
	h.s = smtp_session_new(&sp, &host_ops, &h, id, &client);
	if (t & 8) {	/* implicit TLS: told before the greeting */
		smtp_session_tls_done(h.s, 1, TLS_INFO);
		h.tls = 1;
	}
	policy_connect(sp.policy, &client, &v);
	if (v.kind != POLICY_ACCEPT)
		smtp_session_reject(h.s, v.code, v.enh, v.text);
	else if (a & 0x80)
		smtp_session_reject(h.s, 554, "5.7.1", "Access denied");
	else
		smtp_session_start(h.s);
	drain(&h);

	/* the client's bytes arrive in pieces */
	for (i = 0; i + 1 < split.ncut; i++) {
		if (smtp_session_closing(h.s))
			break;
		if (h.commit_mode == C_NEXT && h.mstate == M_COMMITTING) {
			finish_commit(&h);
			drain(&h);
		}
		if (h.auth_pending) {
			finish_auth(&h);
			drain(&h);
		}
		process(&h, f.p, &consumed, split.cut[i + 1], cap);
	}

	/* end of input: what the host does at EOF or on its timers */
	switch ((b >> 6) & 3) {
	case 1:
		smtp_session_timeout(h.s);
		break;
	case 2:
		smtp_session_shutdown(h.s, (b & 1) ? NULL : "fuzz stopping");
		break;
	default:
		break;
	}
	/* answer what is pending, and feed what that lets in, until quiet */
	for (;;) {
		size_t before = consumed;
		int answered = 0;

		if (h.mstate == M_COMMITTING) {
			finish_commit(&h);
			answered = 1;
		}
		if (h.auth_pending) {
			finish_auth(&h);
			answered = 1;
		}
		drain(&h);
		process(&h, f.p, &consumed, f.n, cap);
		if (!answered && consumed == before)
			break;
	}

	smtp_session_free(h.s);
	FZ_CHECK(h.mstate == M_NONE);
	buf_release(&h.msg);
	reply_release(&h.rp);
	return 0;
}

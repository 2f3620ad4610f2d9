/*
 * dsnq - the runner's bounces and delay warnings: which recipients a DSN
 * is owed for, queueing it through the spool (bounce.c composes it), and
 * recording the outcome only once the DSN is committed.
 *
 * A DSN is queued like any message, through the spool's commit thread.
 * Until its commit is durable the original keeps the failure (status N in
 * the queue file, the message busy), so a crash at any instant leaves
 * either the original with a failure to report or the committed DSN (a
 * crash between the two sends the DSN twice; it never loses one). A DSN
 * the spool could not take is tried again after retry_min.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"
#include "queue/bounce.h"
#include "queue/qfile.h"
#include "queue/remote.h"
#include "queue/runner.h"
#include "queue/runner_int.h"
#include "queue/spool.h"
#include "smtp/cmd.h"
#include "smtp/session.h"
#include "smtp/tx.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xalloc.h"

/* The original headers quoted in a bounce are cut at this size. */
#define BOUNCE_HEADERS_MAX	(32 * 1024)

struct dsnjob {
	struct qmsg	*m;
	enum dsn_kind	 kind;
	size_t		*idx;		/* the recipients concerned */
	size_t		 n;
	char		 qid[32];	/* the DSN's */
};

/* dsn_kind_name - for the log */
static const char *
dsn_kind_name(enum dsn_kind kind)
{
	return kind == DSN_FAILED ? "failed" : "delayed";
}

/* dsn_settled - the recipients idx[0..n) need no DSN (any more) */
static void
dsn_settled(struct qmsg *m, enum dsn_kind kind, const size_t *idx,
    size_t n)
{
	size_t k;

	if (m->deleted)
		return;
	if (kind == DSN_DELAYED) {
		runner_mark_warned(m);
		return;
	}
	/* not synced: a lost mark only means a second DSN after a crash */
	for (k = 0; k < n; k++)
		runner_mark(m, idx[k], QR_FAILED, 0);
}

/* dsn_retry - the DSN could not be queued: try again later */
static void
dsn_retry(struct qmsg *m, enum dsn_kind kind, const char *why)
{
	struct runner *r = m->r;
	char qw[LOG_QUOTE_MAX];

	m->bounce_next = time(NULL) + (time_t)r->rc.retry_min;
	log_warn("event=bounce-error qid=%s kind=%s reason=%s action=retry "
	    "retry_in=%us", m->qid, dsn_kind_name(kind),
	    log_quotes(qw, sizeof(qw), why), r->rc.retry_min);
}

/*
 * dsn_committed - the spool's answer for a DSN (loop thread; also called
 * from within spool_msg_commit() when the spool fails at once). Only now
 * are the recipients marked bounced, or the warning sent.
 */
static void
dsn_committed(void *arg, int result, const char *err)
{
	struct dsnjob *j = arg;
	struct qmsg *m = j->m;
	struct runner *r = m->r;
	size_t k;

	m->busy--;
	if (j->kind == DSN_DELAYED)
		m->warning = 0;
	else
		for (k = 0; k < j->n; k++)
			m->rs[j->idx[k]].bouncing = 0;
	if (result == SMTP_OK) {
		r->st.bounces++;
		log_info("event=bounce qid=%s dsn=%s kind=%s to=%s rcpts=%zu",
		    m->qid, j->qid, dsn_kind_name(j->kind), m->env.from, j->n);
		dsn_settled(m, j->kind, j->idx, j->n);
	} else if (!m->deleted)
		dsn_retry(m, j->kind, err && *err ? err : "spool");
	free(j->idx);
	free(j);
	if (!m->in_bounces)
		runner_schedule(m);	/* may finish (or forget) m */
}

/*
 * inject - queue a DSN from <> to the failed message's sender about the
 * recipients idx[0..n). Where it goes is decided by the same policy as
 * mail from a trusted client. The outcome is recorded later, by
 * dsn_committed(); a DSN that can never go (the sender's address is bad,
 * the policy refuses it) is logged and settled at once.
 */
static void
inject(struct qmsg *m, enum dsn_kind kind, const size_t *idx, size_t n)
{
	struct runner *r = m->r;
	struct policy_client pc;
	struct mail_params mp;
	struct cmd_err ce;
	struct verdict v;
	struct spool_meta meta = { "internal", "internal", r->rc.hostname,
	    "local", NULL };
	struct addr null, to;
	struct spool_msg *sm;
	struct dsn_rcpt *dr;
	struct dsnjob *j;
	struct tx *tx;
	struct buf b;
	char line[SMTP_PATH_MAX + 8], boundary[64], qid[32], *hdr;
	char (*st)[16];
	size_t hlen, k;

	memset(&pc, 0, sizeof(pc));
	pc.family = AF_INET;
	pc.auth_user = "MAILER-DAEMON";	/* our own mail may relay */
	str_copy(pc.ipstr, sizeof(pc.ipstr), "127.0.0.1");
	snprintf(line, sizeof(line), "TO:%s", m->env.from);
	if (cmd_parse_rcpt(line, strlen(line), &to, &ce) == -1) {
		log_warn("event=bounce-dropped qid=%s to=%s reason=\"bad sender "
		    "address\"", m->qid, m->env.from);
		dsn_settled(m, kind, idx, n);
		return;
	}
	memset(&null, 0, sizeof(null));
	null.flags = ADDR_NULL;
	policy_rcpt(r->rc.policy, &pc, &null, &to, &v);
	if (v.kind == POLICY_TEMPFAIL) {
		dsn_retry(m, kind, v.text);
		return;
	}
	if (v.kind != POLICY_ACCEPT) {
		log_warn("event=bounce-dropped qid=%s to=%s reason=\"%d %s\"",
		    m->qid, m->env.from, v.code, v.text);
		dsn_settled(m, kind, idx, n);
		return;
	}
	memset(&mp, 0, sizeof(mp));
	tx = tx_new(&null, &mp, time(NULL));
	tx_add_rcpt(tx, &v);
	sm = spool_msg_new(r->sp, tx, &meta, time(NULL), qid, sizeof(qid));
	tx_free(tx);
	if (sm == NULL) {
		dsn_retry(m, kind, "spool");
		return;
	}
	dr = xcalloc(n, sizeof(*dr));
	st = xcalloc(n, sizeof(*st));
	for (k = 0; k < n; k++) {
		struct rstate *s = &m->rs[idx[k]];

		dsn_status_from_reply(s->why, kind == DSN_FAILED, st[k],
		    sizeof(st[k]));
		dr[k].addr = m->env.rcpts[idx[k]].addr;
		dr[k].status = st[k];
		dr[k].diag = s->why[0] ? s->why : kind == DSN_FAILED ?
		    "failed" : "delivery deferred";
		dr[k].remote_mta = s->relay;
	}
	runner_read_headers(m, &hdr, &hlen, BOUNCE_HEADERS_MAX);
	snprintf(boundary, sizeof(boundary), "%s/%s.%08x", m->qid,
	    r->rc.hostname, arc4random());
	/* room for every recipient: a DSN is never cut short */
	buf_init(&b, BOUNCE_HEADERS_MAX + 64 * 1024 + n * (2 * (REMOTE_WHY +
	    SMTP_PATH_MAX) + sizeof(m->rs->relay) + 256));
	if (dsn_compose(&b, kind, &m->env, dr, n, r->rc.hostname, hdr, hlen,
	    time(NULL), boundary) == -1) {
		/* our own limit: trying again would fail the same way */
		spool_msg_abort(sm);
		log_warn("event=bounce-dropped qid=%s to=%s reason=\"DSN too "
		    "large\"", m->qid, m->env.from);
		dsn_settled(m, kind, idx, n);
	} else if (spool_msg_write(sm, b.data, b.len) == -1) {
		spool_msg_abort(sm);
		dsn_retry(m, kind, "spool write");
	} else {
		j = xcalloc(1, sizeof(*j));
		j->m = m;
		j->kind = kind;
		j->idx = xcalloc(n, sizeof(*j->idx));
		memcpy(j->idx, idx, n * sizeof(*idx));
		j->n = n;
		str_copy(j->qid, sizeof(j->qid), qid);
		if (kind == DSN_DELAYED)
			m->warning = 1;
		else
			for (k = 0; k < n; k++)
				m->rs[idx[k]].bouncing = 1;
		/* the original stays until the DSN is durable */
		m->busy++;
		spool_msg_commit(sm, dsn_committed, j);
	}
	buf_release(&b);
	free(hdr);
	free(dr);
	free(st);
}

/*
 * dsnq_bounces - one DSN for the recipients that failed since the last one,
 * and a delay warning once; none for a null sender (no bounce loops).
 * Nothing new while stopping: the queue file keeps what is owed.
 */
void
dsnq_bounces(struct qmsg *m)
{
	struct runner *r = m->r;
	size_t *idx, i, n = 0;
	int null = strcmp(m->env.from, "<>") == 0;
	time_t now = time(NULL);

	if (r->stopping || now < m->bounce_next)
		return;
	idx = xcalloc(m->env.nrcpt, sizeof(*idx));
	m->in_bounces = 1;
	for (i = 0; i < m->env.nrcpt; i++)
		if (m->env.rcpts[i].status == QR_NOTIFY && !m->rs[i].bouncing)
			idx[n++] = i;
	if (n > 0 && null) {
		log_info("event=bounce-suppressed qid=%s reason=\"null "
		    "sender\" rcpts=%zu", m->qid, n);
		dsn_settled(m, DSN_FAILED, idx, n);
	} else if (n > 0)
		inject(m, DSN_FAILED, idx, n);
	n = 0;
	/* a held message is not being tried: no "still trying" warning */
	if (!m->warned && !m->warning && !m->held && !null &&
	    r->rc.delay_warning &&
	    now - m->env.time >= (time_t)r->rc.delay_warning &&
	    now >= m->bounce_next) {	/* (not if the DSN above failed) */
		for (i = 0; i < m->env.nrcpt; i++)
			if (m->env.rcpts[i].status == QR_PENDING &&
			    m->rs[i].attempts > 0)
				idx[n++] = i;
		if (n > 0)
			inject(m, DSN_DELAYED, idx, n);
	}
	m->in_bounces = 0;
	free(idx);
}

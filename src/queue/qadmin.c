/*
 * qadmin - the admin's verbs on the queue (sluice queue, abuse holds):
 * selection, listing as JSON, hold, release, delete, flush.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>

#include <event2/event.h>

#include "net/workq.h"
#include "policy/cidr.h"
#include "policy/domset.h"
#include "policy/policy.h"
#include "queue/bounce.h"
#include "queue/maildir.h"
#include "queue/qfile.h"
#include "queue/remote.h"
#include "queue/runner.h"
#include "queue/runner_int.h"
#include "queue/spool.h"
#include "smtp/cmd.h"
#include "smtp/session.h"
#include "smtp/tx.h"
#include "util/hmap.h"
#include "util/json.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xalloc.h"

/* The original headers quoted in a bounce are cut at this size. */
#define BOUNCE_HEADERS_MAX	(32 * 1024)

/* ---- the admin's verbs ---- */

/* pat_match - an address against "user@domain", "user@", "domain", ".domain" */
static int
pat_match(const char *pat, const char *addr)
{
	struct domset *d;
	char local[SMTP_PATH_MAX + 1], dom[SMTP_PATH_MAX + 1];
	const char *at;
	int hit;
	size_t n = strlen(addr);

	if (n >= 2 && addr[0] == '<')
		str_ncopy(local, sizeof(local), addr + 1, n - 2);
	else
		str_copy(local, sizeof(local), addr);
	at = strrchr(local, '@');
	if (at) {
		str_copy(dom, sizeof(dom), at + 1);
		local[at - local] = '\0';
	} else
		dom[0] = '\0';
	if (strcasecmp(pat, "<>") == 0)
		return n == 2 && strcmp(addr, "<>") == 0;
	d = domset_new();
	if (domset_add(d, pat, NULL) == -1) {
		domset_free(d);
		return 0;
	}
	hit = domset_match_addr(d, local, dom, NULL) != NULL;
	domset_free(d);
	return hit;
}

/* selected - does m match the selection? */
static int
selected(const struct qmsg *m, const struct qsel *s)
{
	time_t age = time(NULL) - m->env.time;
	size_t i;
	int hit;

	if (m->deleted)
		return 0;
	if (s->qid[0] && strcmp(s->qid, m->qid) != 0)
		return 0;
	if (s->held >= 0 && m->held != s->held)
		return 0;
	if (s->internal && !m->internal)
		return 0;
	if (s->older && age < s->older)
		return 0;
	if (s->newer && age > s->newer)
		return 0;
	if (s->sender[0] && !pat_match(s->sender, m->env.from))
		return 0;
	if (s->user[0] && strcasecmp(s->user, m->env.auth) != 0)
		return 0;
	if (s->rcpt[0]) {
		for (hit = 0, i = 0; i < m->env.nrcpt && !hit; i++)
			hit = m->env.rcpts[i].status == QR_PENDING &&
			    pat_match(s->rcpt, m->env.rcpts[i].addr);
		if (!hit)
			return 0;
	}
	if (s->bits >= 0) {
		/* sluiced's own mail has no client address ("internal") */
		struct cidr_set *cs = cidr_set_new();
		struct cidr c;
		int fam;
		unsigned char ip[16];

		memset(&c, 0, sizeof(c));
		c.family = s->family;
		memcpy(c.addr, s->net, 16);
		c.bits = (unsigned)s->bits;
		cidr_set_add(cs, &c, NULL);
		hit = cidr_parse_ip(m->env.client, &fam, ip) == 0 &&
		    cidr_set_match(cs, fam, ip, NULL) != NULL;
		cidr_set_free(cs);
		if (!hit)
			return 0;
	}
	return 1;
}

/* each - call fn on every selected message; returns how many */
static size_t
each(struct runner *r, const struct qsel *s, int (*fn)(struct qmsg *,
    void *), void *arg)
{
	struct qmsg **list;
	size_t pos = 0, n = 0, i, done;
	const char *k;
	void *v;

	list = xcalloc(hmap_count(r->msgs) + 1, sizeof(*list));
	while (hmap_iter(r->msgs, &pos, &k, &v))
		if (selected(v, s))
			list[n++] = v;
	for (i = 0, done = 0; i < n; i++)
		done += fn(list[i], arg) > 0;
	free(list);
	return done;
}

struct listing {
	struct buf	*b;
	size_t		 n;
};

/* json_msg - one message as JSON */
static int
json_msg(struct qmsg *m, void *arg)
{
	struct listing *ls = arg;
	struct buf *b = ls->b;
	size_t i;

	if (ls->n++ > 0)
		(void)buf_putc(b, ',');
	(void)buf_putc(b, '{');
	json_kv_str(b, 0, "id", m->qid);
	json_kv_int(b, 1, "time", (long long)m->env.time);
	json_kv_int(b, 1, "age", (long long)(time(NULL) - m->env.time));
	json_kv_str(b, 1, "from", m->env.from);
	json_kv_str(b, 1, "client", m->env.client);
	json_kv_str(b, 1, "user", m->env.auth);
	json_kv_str(b, 1, "helo", m->env.helo);
	json_kv_int(b, 1, "size", (long long)m->env.size);
	json_kv_str(b, 1, "state", m->held ? "held" : m->busy ? "active" :
	    "queued");
	(void)buf_puts(b, ",\"recipients\":[");
	for (i = 0; i < m->env.nrcpt; i++) {
		const struct qrcpt *q = &m->env.rcpts[i];

		(void)buf_puts(b, i ? ",{" : "{");
		json_kv_str(b, 0, "address", q->addr);
		json_kv_str(b, 1, "class", q->cls == 'L' ? "local" : "remote");
		json_kv_str(b, 1, "status", q->status == QR_DONE ? "delivered" :
		    q->status == QR_FAILED || q->status == QR_NOTIFY ? "failed" :
		    m->rs[i].inflight ?
		    "delivering" : "pending");
		json_kv_int(b, 1, "attempts", m->rs[i].attempts);
		json_kv_int(b, 1, "next_attempt", (long long)m->rs[i].next);
		json_kv_str(b, 1, "last_error", m->rs[i].why);
		json_kv_str(b, 1, "relay", m->rs[i].relay);
		(void)buf_putc(b, '}');
	}
	(void)buf_puts(b, "]}");
	return 1;
}

/* runner_list - the selected messages as a JSON array into b */
size_t
runner_list(struct runner *r, const struct qsel *s, struct buf *b)
{
	struct listing ls = { b, 0 };
	size_t n;

	(void)buf_putc(b, '[');
	n = each(r, s, json_msg, &ls);
	(void)buf_putc(b, ']');
	return n;
}

/* qadmin_hold_one - move to hold/ and stop scheduling; 1 if it moved */
int
qadmin_hold_one(struct qmsg *m, void *arg)
{
	struct runner *r = m->r;
	const char *by = arg ? arg : "admin";

	if (m->held)
		return 0;
	if (renameat(spool_dirfd(r->sp, "queue"), m->qid,
	    spool_dirfd(r->sp, "hold"), m->qid) == -1) {
		log_warn("event=queue-error op=hold qid=%s error=\"%s\"",
		    m->qid, strerror(errno));
		return 0;
	}
	m->held = 1;
	r->st.held++;
	if (m->timer)
		evtimer_del(m->timer);
	log_info("event=held qid=%s by=%s client=%s%s%s", m->qid, by,
	    m->env.client, m->env.auth[0] ? " user=" : "", m->env.auth);
	return 1;
}

/* do_release - back to queue/, due at once */
static int
do_release(struct qmsg *m, void *arg)
{
	struct runner *r = m->r;
	size_t i;

	(void)arg;
	if (!m->held)
		return 0;
	if (renameat(spool_dirfd(r->sp, "hold"), m->qid,
	    spool_dirfd(r->sp, "queue"), m->qid) == -1) {
		log_warn("event=queue-error op=release qid=%s error=\"%s\"",
		    m->qid, strerror(errno));
		return 0;
	}
	m->held = 0;
	r->st.held--;
	m->bounce_next = 0;
	for (i = 0; i < m->env.nrcpt; i++)
		m->rs[i].next = 0;
	log_info("event=released qid=%s by=admin", m->qid);
	runner_schedule(m);
	return 1;
}

/* do_delete - remove the message; a delivery under way ends first */
static int
do_delete(struct qmsg *m, void *arg)
{
	(void)arg;
	if (unlinkat(runner_qdir(m), m->qid, 0) == -1 && errno != ENOENT) {
		log_warn("event=queue-error op=delete qid=%s error=\"%s\"",
		    m->qid, strerror(errno));
		return 0;
	}
	log_info("event=deleted qid=%s from=%s client=%s by=admin", m->qid,
	    m->env.from, m->env.client);
	m->deleted = 1;
	if (m->timer)
		evtimer_del(m->timer);
	if (m->busy == 0)
		runner_forget(m);
	return 1;
}

/* do_flush - every pending recipient due now, and any DSN owed */
static int
do_flush(struct qmsg *m, void *arg)
{
	size_t i;

	(void)arg;
	m->bounce_next = 0;
	for (i = 0; i < m->env.nrcpt; i++)
		m->rs[i].next = 0;
	runner_schedule(m);
	return 1;
}

size_t
runner_hold(struct runner *r, const struct qsel *s)
{
	return each(r, s, qadmin_hold_one, s->by[0] ? (void *)s->by : NULL);
}

size_t
runner_release(struct runner *r, const struct qsel *s)
{
	return each(r, s, do_release, NULL);
}

size_t
runner_delete(struct runner *r, const struct qsel *s)
{
	return each(r, s, do_delete, NULL);
}

size_t
runner_flush(struct runner *r, const struct qsel *s)
{
	return each(r, s, do_flush, NULL);
}

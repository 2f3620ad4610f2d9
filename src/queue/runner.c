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


/* runner_qdir - the directory holding m's file */
int
runner_qdir(const struct qmsg *m)
{
	return spool_dirfd(m->r->sp, m->held ? "hold" : "queue");
}

/*
 * route_parse - "[host]:port", "host:port", "[host]", "host" (without
 * brackets the host's MX records are used, as Postfix does). 0 or -1.
 */
int
route_parse(const char *text, struct route *rt, char *err, size_t errsize)
{
	char host[300];
	const char *p = text, *colon = NULL;
	uint64_t port = 25;

	memset(rt, 0, sizeof(*rt));
	if (*p == '[') {
		const char *rb = strchr(p, ']');

		if (rb == NULL || str_ncopy(host, sizeof(host), p + 1,
		    (size_t)(rb - p - 1)) == -1)
			goto bad;
		if (rb[1] == ':')
			colon = rb + 1;
		else if (rb[1] != '\0')
			goto bad;
	} else {
		colon = strrchr(p, ':');
		if (str_ncopy(host, sizeof(host), p, colon ? (size_t)(colon - p) :
		    strlen(p)) == -1)
			goto bad;
		rt->host_mx = 1;
	}
	if (colon && str_parse_u64(colon + 1, 1, 65535, &port) == -1)
		goto bad;
	if (host[0] == '\0')
		goto bad;
	rt->host = xstrdup(host);
	rt->port = (unsigned)port;
	return 0;
bad:
	snprintf(err, errsize, "bad next hop \"%s\" (want [HOST]:PORT or "
	    "HOST:PORT)", text);
	return -1;
}

/* runner_new - a runner for the spool; call runner_load() next */
struct runner *
runner_new(struct event_base *base, struct spool *sp, struct workq *wq,
    const struct runner_conf *rc)
{
	struct runner *r = xcalloc(1, sizeof(*r));
	size_t i;
	char *p;

	r->base = base;
	r->sp = sp;
	r->wq = wq;
	r->rc = *rc;
	r->root = xstrdup(rc->maildir_root);
	r->host = xstrdup(rc->hostname);
	for (p = r->host; *p; p++)
		if (*p == '/' || *p == ':')
			*p = '_';
	r->msgs = hmap_new();
	r->dests = hmap_new();
	r->routes = domset_new();
	for (i = 0; i < rc->nroutes; i++)
		domset_add(r->routes, rc->routes[i].pattern, &rc->routes[i]);
	r->tls = domset_new();
	for (i = 0; rc->tls_required && rc->tls_required[i]; i++)
		domset_add(r->tls, rc->tls_required[i], NULL);
	if (r->rc.retry_min == 0)
		r->rc.retry_min = 300;
	if (r->rc.retry_max < r->rc.retry_min)
		r->rc.retry_max = r->rc.retry_min;
	if (r->rc.concurrency == 0)
		r->rc.concurrency = 100;
	if (r->rc.per_destination == 0)
		r->rc.per_destination = 10;
	return r;
}

/* qmsg_free - free one message's memory */
static void
qmsg_free(struct qmsg *m)
{
	if (m->timer)
		event_free(m->timer);
	qenv_release(&m->env);
	free(m->rs);
	free(m->res);
	free(m->why);
	free(m);
}

/* runner_free - free the runner (no job may be under way) */
void
runner_free(struct runner *r)
{
	size_t pos = 0;
	const char *k;
	void *v;

	if (r == NULL)
		return;
	/* sessions still open (a stop that did not wait for them) */
	r->stopping = 1;
	outq_close_idle(r);
	remote_conn_close_all();
	while (hmap_iter(r->msgs, &pos, &k, &v))
		qmsg_free(v);
	hmap_free(r->msgs);
	pos = 0;
	while (hmap_iter(r->dests, &pos, &k, &v)) {
		free(((struct dest *)v)->key);
		free(v);
	}
	hmap_free(r->dests);
	domset_free(r->routes);
	domset_free(r->tls);
	free(r->root);
	free(r->host);
	free(r);
}

/* runner_set_policy - bounces are routed by p from now on (a reload) */
void
runner_set_policy(struct runner *r, const struct policy *p)
{
	r->rc.policy = p;
}

/* runner_stats - counters */
const struct runner_stats *
runner_stats(const struct runner *r)
{
	return &r->st;
}

/*
 * read_env - parse a queue file's envelope and check that the file is
 * whole (its length matches the size field). 0, or -1 with a reason.
 */
static int
read_env(int dirfd, const char *qid, struct qenv *e, char *err,
    size_t errsize)
{
	int fd = openat(dirfd, qid, O_RDONLY | O_CLOEXEC);
	struct buf b;
	struct stat st;
	char chunk[65536];
	ssize_t n;
	int rc = -1;

	if (fd == -1) {
		snprintf(err, errsize, "open: %s", strerror(errno));
		return -1;
	}
	buf_init(&b, QFILE_HEADER_MAX);
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errsize, "read: %s", strerror(errno));
			break;
		}
		if (n > 0 && buf_append(&b, chunk, (size_t)n) == -1) {
			snprintf(err, errsize, "envelope too large");
			break;
		}
		if (n == 0 || memmem(b.data, b.len, "\ndata\n", 6) != NULL) {
			rc = qfile_parse(b.data, b.len, e, err, errsize);
			break;
		}
	}
	if (rc == 0 && (fstat(fd, &st) == -1 ||
	    (uint64_t)st.st_size != (uint64_t)e->data_off + e->size)) {
		snprintf(err, errsize, "incomplete: file has %lld bytes, "
		    "envelope says %llu", (long long)st.st_size,
		    (unsigned long long)((uint64_t)e->data_off + e->size));
		qenv_release(e);
		rc = -1;
	}
	if (rc == 0 && strcmp(e->qid, qid) != 0) {
		snprintf(err, errsize, "queue id %s does not match file name",
		    e->qid);
		qenv_release(e);
		rc = -1;
	}
	buf_release(&b);
	close(fd);
	return rc;
}

/*
 * runner_read_headers - the message's header block (up to max bytes),
 * and the number of Received: headers in it. The caller frees *hdr.
 */
unsigned
runner_read_headers(struct qmsg *m, char **hdr, size_t *hlen, size_t max)
{
	int fd = openat(runner_qdir(m), m->qid, O_RDONLY | O_CLOEXEC);
	size_t want = m->env.size < max ? (size_t)m->env.size : max, i;
	char *b = xmalloc(want + 1);
	ssize_t n = fd == -1 ? -1 : pread(fd, b, want, m->env.data_off);
	unsigned hops = 0;

	if (fd != -1)
		close(fd);
	if (n < 0)
		n = 0;
	b[n] = '\0';
	for (i = 0; i < (size_t)n; i++) {
		if ((i == 0 || b[i - 1] == '\n') && (b[i] == '\r' ||
		    b[i] == '\n')) {
			n = (ssize_t)i;	/* the blank line ends the headers */
			break;
		}
		if ((i == 0 || b[i - 1] == '\n') &&
		    strncasecmp(b + i, "Received:", 9) == 0)
			hops++;
	}
	b[n] = '\0';
	if (hdr) {
		*hdr = b;
		*hlen = (size_t)n;
	} else
		free(b);
	return hops;
}

/* quarantine - move a bad queue file to corrupt/ for the admin */
static void
quarantine(struct runner *r, int dirfd, const char *qid, const char *why)
{
	renameat(dirfd, qid, spool_dirfd(r->sp, "corrupt"), qid);
	log_warn("event=queue-corrupt qid=%s reason=\"%s\" action=moved-to-"
	    "corrupt", qid, why);
}

/* pending - does the message still have recipients to deliver? */
static int
pending(const struct qmsg *m, char cls)
{
	size_t i;

	for (i = 0; i < m->env.nrcpt; i++)
		if (m->env.rcpts[i].status == QR_PENDING &&
		    (cls == 0 || m->env.rcpts[i].cls == cls))
			return 1;
	return 0;
}

/* notifying - does a failed recipient still wait for its DSN? */
static int
notifying(const struct qmsg *m)
{
	size_t i;

	for (i = 0; i < m->env.nrcpt; i++)
		if (m->env.rcpts[i].status == QR_NOTIFY)
			return 1;
	return 0;
}

/* runner_forget - drop a message from memory (its file is already gone) */
void
runner_forget(struct qmsg *m)
{
	struct runner *r = m->r;

	hmap_del(r->msgs, m->qid);
	if (m->held)
		r->st.held--;
	r->st.queued--;
	qmsg_free(m);
}

/*
 * finish - remove a message with nothing left to do: no recipient
 * pending, every failure's DSN committed (the original is the only
 * record of a failure until then), no job or DSN commit under way.
 */
static void
finish(struct qmsg *m)
{
	if (m->busy)
		return;	/* the last job to end comes back here */
	if (unlinkat(runner_qdir(m), m->qid, 0) == -1 && errno != ENOENT)
		log_warn("event=queue-error op=unlink qid=%s error=\"%s\"",
		    m->qid, strerror(errno));
	else
		log_info("event=removed qid=%s", m->qid);
	runner_forget(m);
}

/* sync_work - pool thread: make a status byte durable */
struct syncjob {
	int	dirfd;
	char	qid[32];
};

static void
sync_work(void *arg)
{
	struct syncjob *j = arg;
	int fd = openat(j->dirfd, j->qid, O_RDONLY | O_CLOEXEC);

	if (fd != -1) {
		fdatasync(fd);
		close(fd);
	}
}

static void
sync_done(void *arg)
{
	free(arg);
}

/* runner_mark - write recipient i's final status into the queue file */
void
runner_mark(struct qmsg *m, size_t i, char status, int durable)
{
	int fd = openat(runner_qdir(m), m->qid, O_WRONLY | O_CLOEXEC);

	m->env.rcpts[i].status = status;
	if (fd == -1)
		return;
	if (pwrite(fd, &status, 1, m->env.rcpts[i].status_off) != 1)
		log_warn("event=queue-error op=mark qid=%s error=\"%s\"",
		    m->qid, strerror(errno));
	close(fd);
	if (durable) {
		/* a lost "delivered" mark means a duplicate, never a loss */
		struct syncjob *j = xcalloc(1, sizeof(*j));

		j->dirfd = runner_qdir(m);
		str_copy(j->qid, sizeof(j->qid), m->qid);
		workq_submit(m->r->wq, sync_work, sync_done, j);
	}
}

/*
 * mark_retry - write recipient i's attempts and next attempt into the
 * queue file, so a restart keeps the schedule. Not synced: a lost update
 * only means an early retry after a crash.
 */
static void
mark_retry(struct qmsg *m, size_t i)
{
	char v[QFILE_RETRY_LEN];
	int fd;

	if (m->env.rcpts[i].retry_off == 0 ||
	    (fd = openat(runner_qdir(m), m->qid, O_WRONLY | O_CLOEXEC)) == -1)
		return;
	qfile_retry_field(v, m->rs[i].attempts, m->rs[i].next);
	if (pwrite(fd, v, sizeof(v), m->env.rcpts[i].retry_off) !=
	    (ssize_t)sizeof(v))
		log_warn("event=queue-error op=mark-retry qid=%s error=\"%s\"",
		    m->qid, strerror(errno));
	close(fd);
}

/* runner_mark_warned - record in the queue file that the delay warning
 * went out (so that a restart does not send another) */
void
runner_mark_warned(struct qmsg *m)
{
	int fd;

	m->warned = 1;
	if (m->env.warned_off == 0 ||
	    (fd = openat(runner_qdir(m), m->qid, O_WRONLY | O_CLOEXEC)) == -1)
		return;
	if (pwrite(fd, "1", 1, m->env.warned_off) != 1)
		log_warn("event=queue-error op=mark-warned qid=%s error=\"%s\"",
		    m->qid, strerror(errno));
	close(fd);
}

/* backoff - seconds before attempt n+1: retry_min doubling to retry_max */
static time_t
backoff(const struct runner *r, unsigned attempts)
{
	uint64_t d = r->rc.retry_min;

	while (attempts-- > 1 && d < r->rc.retry_max)
		d *= 2;
	return (time_t)(d > r->rc.retry_max ? r->rc.retry_max : d);
}

/*
 * runner_result - record one recipient's delivery runner_result: done, failed, or
 * deferred until the next retry (failed once the message is too old).
 */
void
runner_result(struct qmsg *m, size_t i, int status, const char *why,
    const char *relay, unsigned conn_use)
{
	struct runner *r = m->r;
	struct qrcpt *q = &m->env.rcpts[i];
	struct rstate *s = &m->rs[i];
	time_t now = time(NULL);
	const char *word;
	char qw[LOG_QUOTE_MAX], use[32] = "";

	s->attempts++;
	str_copy(s->why, sizeof(s->why), why ? why : "");
	str_copy(s->relay, sizeof(s->relay), relay ? relay : "");
	if (status == SMTP_TEMP && r->rc.lifetime &&
	    now - m->env.time >= (time_t)r->rc.lifetime) {
		char w[REMOTE_WHY];

		snprintf(w, sizeof(w), "5.4.7 delivery time expired after %u "
		    "attempts; last error: %s", s->attempts, s->why);
		str_copy(s->why, sizeof(s->why), w);
		status = SMTP_PERM;
	}
	if (status == SMTP_OK) {
		runner_mark(m, i, QR_DONE, q->cls == 'R');
		r->st.delivered++;
		word = "sent";
	} else if (status == SMTP_PERM) {
		/* failed, the sender still to be told (bounces()) */
		runner_mark(m, i, QR_NOTIFY, 1);
		r->st.failed++;
		word = "bounced";
	} else {
		s->next = now + backoff(r, s->attempts);
		r->st.deferred++;
		word = "deferred";
		/* an attempt our own shutdown cut short does not count */
		if (!r->stopping)
			mark_retry(m, i);
	}
	/* the nth transaction on its connection (as Postfix's conn_use) */
	if (conn_use > 1)
		snprintf(use, sizeof(use), " conn_use=%u", conn_use);
	log_info("event=delivery qid=%s to=%s relay=%s status=%s attempt=%u%s "
	    "reason=%s", m->qid, q->addr, q->cls == 'L' ? "local" :
	    (relay && *relay ? relay : "none"), word, s->attempts, use,
	    log_quotes(qw, sizeof(qw), s->why));
}

/* ---- local delivery ---- */

/* local_work - pool thread: every due local recipient of m */
static void
local_work(void *arg)
{
	struct qmsg *m = arg;
	struct runner *r = m->r;
	int fd = openat(runner_qdir(m), m->qid, O_RDWR | O_CLOEXEC);
	size_t i;

	for (i = 0; i < m->env.nrcpt; i++) {
		struct qrcpt *q = &m->env.rcpts[i];
		struct maildir_msg mm;
		char name[256], to[SMTP_PATH_MAX + 1];

		if (m->res[i] != -2)
			continue;	/* not in this job */
		if (m->held) {
			/* held after this job was queued: not now */
			m->res[i] = SMTP_TEMP;
			str_copy(m->why[i], sizeof(m->why[i]), "held");
			continue;
		}
		if (fd == -1) {
			m->res[i] = SMTP_TEMP;
			snprintf(m->why[i], sizeof(m->why[i]), "open queue file: "
			    "%s", strerror(errno));
			continue;
		}
		/* the name depends only on the message and recipient */
		snprintf(name, sizeof(name), "%lld.Q%sR%zu.%s",
		    (long long)m->env.time, m->qid, i, r->host);
		str_ncopy(to, sizeof(to), q->addr + 1, strlen(q->addr) - 2);
		mm.fd = fd;
		mm.off = m->env.data_off;
		mm.size = m->env.size;
		mm.return_path = m->env.from;
		mm.delivered_to = to;
		mm.name = name;
		m->why[i][0] = '\0';
		m->res[i] = maildir_deliver(r->root, q->mailbox, &mm,
		    m->why[i], sizeof(m->why[i]));
	}
	if (fd != -1)
		close(fd);
}

/* local_done - loop thread: record the local results */
static void
local_done(void *arg)
{
	struct qmsg *m = arg;
	size_t i;

	m->busy--;
	m->r->st.active--;
	for (i = 0; i < m->env.nrcpt; i++) {
		if (m->res[i] < 0)
			continue;
		m->rs[i].inflight = 0;
		if (!m->deleted)
			runner_result(m, i, m->res[i], m->why[i], "local", 0);
		m->res[i] = -1;
	}
	runner_schedule(m);
}

/* timer_cb - a message's next retry is due */
static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	runner_schedule(arg);
}

/*
 * runner_schedule - start what is due now, then set the timer for the rest;
 * bounce what failed; finish the message when nothing is pending.
 */
void
runner_schedule(struct qmsg *m)
{
	struct runner *r = m->r;
	time_t now = time(NULL), first = 0;
	size_t i;
	int local = 0;

	if (m->deleted) {
		if (m->busy == 0)
			runner_forget(m);
		return;
	}
	dsnq_bounces(m);
	if (!pending(m, 0) && !notifying(m)) {
		finish(m);
		return;
	}
	if (m->held || r->stopping)
		return;
	for (i = 0; i < m->env.nrcpt; i++) {
		struct rstate *s = &m->rs[i];

		if (m->env.rcpts[i].status != QR_PENDING || s->inflight)
			continue;
		if (s->next <= now && m->env.rcpts[i].cls == 'L') {
			s->inflight = 1;
			m->res[i] = -2;
			local = 1;
		}
	}
	if (local) {
		m->busy++;
		r->st.active++;
		workq_submit(r->wq, local_work, local_done, m);
	}
	outq_dispatch(m, now);
	outq_pump(r);
	for (i = 0; i < m->env.nrcpt; i++)
		if (m->env.rcpts[i].status == QR_PENDING &&
		    !m->rs[i].inflight && (first == 0 || m->rs[i].next < first))
			first = m->rs[i].next;
	/* a DSN that could not be queued is tried again then */
	if (m->bounce_next > now && (first == 0 || m->bounce_next < first))
		first = m->bounce_next;
	if (first) {
		struct timeval tv = { first > now ? first - now : 0, 0 };

		if (m->timer == NULL)
			m->timer = evtimer_new(r->base, timer_cb, m);
		evtimer_add(m->timer, &tv);
	}
}

/* ---- loading ---- */

/* track - start tracking a loaded message */
static void
track(struct runner *r, const char *qid, struct qenv *e, int held)
{
	struct qmsg *m = xcalloc(1, sizeof(*m));
	time_t now = time(NULL);
	size_t i;

	m->r = r;
	m->held = held;
	m->warned = e->warned;
	m->internal = qenv_internal(e);
	str_copy(m->qid, sizeof(m->qid), qid);
	m->env = *e;
	m->rs = xcalloc(e->nrcpt, sizeof(*m->rs));
	m->res = xcalloc(e->nrcpt, sizeof(*m->res));
	m->why = xcalloc(e->nrcpt, sizeof(*m->why));
	for (i = 0; i < e->nrcpt; i++) {
		struct rstate *s = &m->rs[i];

		m->res[i] = -1;
		/* the schedule the last run left (a shorter retry_max now
		 * applies at once) */
		s->attempts = e->rcpts[i].attempts;
		s->next = e->rcpts[i].next;
		if (s->next > now + (time_t)r->rc.retry_max)
			s->next = now + (time_t)r->rc.retry_max;
	}
	hmap_put(r->msgs, m->qid, m);
	r->st.queued++;
	if (held)
		r->st.held++;
	m->hops = runner_read_headers(m, NULL, NULL, 256 * 1024);
	if (r->rc.max_hops && m->hops > r->rc.max_hops) {
		char why[128];

		snprintf(why, sizeof(why), "5.4.6 mail loop: %u Received: "
		    "headers (more than %u)", m->hops, r->rc.max_hops);
		for (i = 0; i < e->nrcpt; i++)
			if (m->env.rcpts[i].status == QR_PENDING) {
				m->rs[i].attempts = 0;
				str_copy(m->rs[i].why, sizeof(m->rs[i].why), why);
				runner_mark(m, i, QR_NOTIFY, 1);
				r->st.failed++;
				log_info("event=delivery qid=%s to=%s relay=none "
				    "status=bounced reason=\"%s\"", m->qid,
				    m->env.rcpts[i].addr, why);
			}
	}
	runner_schedule(m);
}

/*
 * add - load one file from a directory. A new message (check_hold) from
 * a source the abuse rules hold goes to hold/ before anything is tried.
 */
static void
add(struct runner *r, const char *qid, int held, int check_hold)
{
	int dirfd = spool_dirfd(r->sp, held ? "hold" : "queue");
	struct qenv e;
	char err[256];

	if (hmap_get(r->msgs, qid) != NULL)
		return;
	if (read_env(dirfd, qid, &e, err, sizeof(err)) == -1) {
		quarantine(r, dirfd, qid, err);
		return;
	}
	/* sluiced's own DSNs are not the client's: no client-IP hold */
	if (check_hold && !held && r->rc.is_held && !qenv_internal(&e) &&
	    r->rc.is_held(r->rc.held_arg, e.client, e.auth)) {
		if (renameat(dirfd, qid, spool_dirfd(r->sp, "hold"), qid) == 0) {
			held = 1;
			log_info("event=held qid=%s by=abuse-rule client=%s%s%s",
			    qid, e.client, e.auth[0] ? " user=" : "", e.auth);
		} else
			log_warn("event=queue-error op=hold qid=%s error=\"%s\"",
			    qid, strerror(errno));
	}
	track(r, qid, &e, held);
}


/*
 * runner_add - the spool committed qid (spool_on_queued callback). Mail
 * from a source the abuse rules hold goes on hold at once.
 */
void
runner_add(void *arg, const char *qid)
{
	add(arg, qid, 0, 1);
}

/* load_dir - every file of one spool directory */
static unsigned
load_dir(struct runner *r, const char *sub, int held)
{
	int fd = dup(spool_dirfd(r->sp, sub));
	struct dirent *de;
	DIR *d;
	unsigned n = 0;
	char **names = NULL;
	size_t i, cnt = 0, cap = 0;

	if (fd == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return 0;
	}
	/* read the names first: loading may unlink finished files */
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 64;
			names = xreallocarray(names, cap, sizeof(*names));
		}
		names[cnt++] = xstrdup(de->d_name);
	}
	closedir(d);
	for (i = 0; i < cnt; i++) {
		add(r, names[i], held, 0);
		free(names[i]);
		n++;
	}
	free(names);
	return n;
}

/* runner_load - take over every message in queue/ and hold/ (startup) */
int
runner_load(struct runner *r)
{
	unsigned q = load_dir(r, "queue", 0), h = load_dir(r, "hold", 1);

	if (q + h > 0)
		log_info("event=queue-loaded messages=%u held=%u", q + h, h);
	return 0;
}

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <event2/event.h>

#include "net/workq.h"
#include "queue/maildir.h"
#include "queue/qfile.h"
#include "queue/runner.h"
#include "queue/spool.h"
#include "smtp/session.h"
#include "util/hmap.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xalloc.h"

struct qmsg {
	struct runner	*r;
	char		 qid[32];
	struct qenv	 env;
	int		 busy;		/* a delivery job is under way */
	int		 remote_noted;	/* logged that remote waits */
	unsigned	 attempts;
	struct event	*retry;
	/* job results, one per recipient (SMTP_OK/TEMP/PERM or -1 = not tried) */
	int		*res;
	char		(*why)[160];
};

struct runner {
	struct event_base	*base;
	struct spool		*sp;
	struct workq		*wq;
	struct runner_conf	 rc;
	char			*root;
	char			*host;	/* hostname made safe for file names */
	struct hmap		*msgs;	/* qid -> struct qmsg */
	struct runner_stats	 st;
};

static void schedule(struct qmsg *m);

/* runner_new - a runner for the spool; call runner_load() next */
struct runner *
runner_new(struct event_base *base, struct spool *sp, struct workq *wq,
    const struct runner_conf *rc)
{
	struct runner *r = xcalloc(1, sizeof(*r));
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
	r->rc.maildir_root = r->root;
	r->rc.hostname = r->host;
	r->msgs = hmap_new();
	return r;
}

/* qmsg_free - free one message's memory */
static void
qmsg_free(struct qmsg *m)
{
	if (m->retry)
		event_free(m->retry);
	qenv_release(&m->env);
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
	while (hmap_iter(r->msgs, &pos, &k, &v))
		qmsg_free(v);
	hmap_free(r->msgs);
	free(r->root);
	free(r->host);
	free(r);
}

/* runner_stats - counters */
const struct runner_stats *
runner_stats(const struct runner *r)
{
	return &r->st;
}

/*
 * read_env - parse queue/QID's envelope and check that the file is whole
 * (its length matches the size field). 0, or -1 with a reason.
 */
static int
read_env(struct runner *r, const char *qid, struct qenv *e, char *err,
    size_t errsize)
{
	int fd = openat(spool_dirfd(r->sp, "queue"), qid,
	    O_RDONLY | O_CLOEXEC);
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

/* quarantine - move a bad queue file to corrupt/ for the admin */
static void
quarantine(struct runner *r, const char *qid, const char *why)
{
	renameat(spool_dirfd(r->sp, "queue"), qid,
	    spool_dirfd(r->sp, "corrupt"), qid);
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

/* finish - remove a message with nothing left to do */
static void
finish(struct qmsg *m)
{
	struct runner *r = m->r;

	if (unlinkat(spool_dirfd(r->sp, "queue"), m->qid, 0) == -1)
		log_warn("event=queue-error op=unlink qid=%s error=\"%s\"",
		    m->qid, strerror(errno));
	else
		log_info("event=removed qid=%s", m->qid);
	hmap_del(r->msgs, m->qid);
	r->st.queued--;
	qmsg_free(m);
}

/* deliver_work - pool thread: every pending local recipient of m */
static void
deliver_work(void *arg)
{
	struct qmsg *m = arg;
	struct runner *r = m->r;
	int fd;
	size_t i;

	fd = openat(spool_dirfd(r->sp, "queue"), m->qid, O_RDWR | O_CLOEXEC);
	for (i = 0; i < m->env.nrcpt; i++) {
		struct qrcpt *q = &m->env.rcpts[i];
		struct maildir_msg mm;
		char name[256], to[SMTP_PATH_MAX + 1];
		size_t n;

		m->res[i] = -1;
		if (q->status != QR_PENDING || q->cls != 'L')
			continue;
		if (fd == -1) {
			m->res[i] = SMTP_TEMP;
			snprintf(m->why[i], sizeof(m->why[i]), "open queue file: "
			    "%s", strerror(errno));
			continue;
		}
		/* the name depends only on the message and recipient */
		snprintf(name, sizeof(name), "%lld.Q%sR%zu.%s",
		    (long long)m->env.time, m->qid, i, r->host);
		n = strlen(q->addr);
		str_ncopy(to, sizeof(to), q->addr + 1, n - 2);
		mm.fd = fd;
		mm.off = m->env.data_off;
		mm.size = m->env.size;
		mm.return_path = m->env.from;
		mm.delivered_to = to;
		mm.name = name;
		m->res[i] = maildir_deliver(r->root, q->mailbox, &mm,
		    m->why[i], sizeof(m->why[i]));
		if (m->res[i] != SMTP_TEMP) {
			char st = m->res[i] == SMTP_OK ? QR_DONE : QR_FAILED;

			/* No fsync: a lost mark means a retry, which the
			 * Maildir name makes harmless. */
			if (pwrite(fd, &st, 1, q->status_off) != 1)
				m->res[i] = SMTP_TEMP;
		}
	}
	if (fd != -1)
		close(fd);
}

/* retry_cb - a retry timer fired */
static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	schedule(arg);
}

/* deliver_done - loop thread: record results, log, retry or finish */
static void
deliver_done(void *arg)
{
	struct qmsg *m = arg;
	struct runner *r = m->r;
	size_t i;
	int temp = 0;

	m->busy = 0;
	r->st.active--;
	m->attempts++;
	for (i = 0; i < m->env.nrcpt; i++) {
		struct qrcpt *q = &m->env.rcpts[i];
		const char *status;

		if (m->res[i] == -1)
			continue;
		if (m->res[i] == SMTP_OK) {
			q->status = QR_DONE;
			r->st.delivered++;
			status = "sent";
		} else if (m->res[i] == SMTP_PERM) {
			q->status = QR_FAILED;
			r->st.failed++;
			status = "bounced";
		} else {
			temp = 1;
			r->st.deferred++;
			status = "deferred";
		}
		log_info("event=delivery qid=%s to=%s relay=local mailbox=%s "
		    "status=%s attempt=%u%s%s%s", m->qid, q->addr, q->mailbox,
		    status, m->attempts, m->res[i] == SMTP_OK ? "" :
		    " reason=\"", m->res[i] == SMTP_OK ? "" : m->why[i],
		    m->res[i] == SMTP_OK ? "" : "\"");
	}
	if (!pending(m, 0)) {
		finish(m);
		return;
	}
	if (temp) {
		struct timeval tv = { (time_t)r->rc.retry, 0 };

		if (m->retry == NULL)
			m->retry = evtimer_new(r->base, retry_cb, m);
		evtimer_add(m->retry, &tv);
		return;
	}
	schedule(m);
}

/* schedule - start whatever the message needs now */
static void
schedule(struct qmsg *m)
{
	struct runner *r = m->r;

	if (m->busy)
		return;
	if (pending(m, 'L')) {
		m->busy = 1;
		r->st.active++;
		workq_submit(r->wq, deliver_work, deliver_done, m);
		return;
	}
	if (pending(m, 'R') && !m->remote_noted) {
		size_t i;

		m->remote_noted = 1;
		for (i = 0; i < m->env.nrcpt; i++)
			if (m->env.rcpts[i].status == QR_PENDING)
				log_info("event=delivery qid=%s to=%s "
				    "relay=remote status=queued reason=\"remote "
				    "delivery is not enabled in this build\"",
				    m->qid, m->env.rcpts[i].addr);
	}
}

/* track - start tracking a loaded message */
static void
track(struct runner *r, const char *qid, struct qenv *e)
{
	struct qmsg *m = xcalloc(1, sizeof(*m));

	m->r = r;
	str_copy(m->qid, sizeof(m->qid), qid);
	m->env = *e;
	m->res = xcalloc(e->nrcpt, sizeof(*m->res));
	m->why = xcalloc(e->nrcpt, sizeof(*m->why));
	hmap_put(r->msgs, m->qid, m);
	r->st.queued++;
	if (!pending(m, 0)) {
		finish(m);
		return;
	}
	schedule(m);
}

/* runner_add - the spool committed qid (spool_on_queued callback) */
void
runner_add(void *arg, const char *qid)
{
	struct runner *r = arg;
	struct qenv e;
	char err[256];

	if (hmap_get(r->msgs, qid) != NULL)
		return;
	if (read_env(r, qid, &e, err, sizeof(err)) == -1) {
		quarantine(r, qid, err);
		return;
	}
	track(r, qid, &e);
}

/* runner_load - take over every message in queue/ (startup) */
int
runner_load(struct runner *r)
{
	int fd = dup(spool_dirfd(r->sp, "queue"));
	struct dirent *de;
	DIR *d;
	unsigned n = 0;

	if (fd == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		runner_add(r, de->d_name);
		n++;
	}
	closedir(d);
	if (n > 0)
		log_info("event=queue-loaded messages=%u", n);
	return 0;
}

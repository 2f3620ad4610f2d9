#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "net/workq.h"
#include "queue/qfile.h"
#include "queue/spool.h"
#include "smtp/session.h"
#include "smtp/tx.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xalloc.h"

struct spool_msg {
	struct spool	*sp;
	int		 fd;
	char		 qid[32];
	struct qenv	 env;
	uint64_t	 written;	/* message bytes after the header */
	int		 failed;	/* a write failed */
	int		 committing;	/* handed to spool_msg_commit() */
	char		 err[128];
	int		 result;	/* SMTP_OK / SMTP_TEMP, set by the thread */
	void		(*cb)(void *, int, const char *);
	void		*cb_arg;
	struct spool_msg *next;
};

struct group {
	struct spool	*sp;
	struct spool_msg *msgs;
	size_t		 n;
	int		 dirsync_failed;
};

struct spool {
	char		*dir;
	int		 tmpfd, queuefd, corruptfd, holdfd, rootfd;
	struct workq	*wq;
	struct spool_msg *pending, **pending_tail;	/* waiting for a group */
	size_t		 npending;
	int		 busy;		/* a group is being committed */
	unsigned	 committing;	/* messages in pending + the group */
	unsigned	 counter;
	void		(*on_queued)(void *, const char *);
	void		*on_queued_arg;
	struct spool_stats st;
};

/* open_sub - create (if needed) and open a subdirectory */
static int
open_sub(int rootfd, const char *name)
{
	if (mkdirat(rootfd, name, 0700) == -1 && errno != EEXIST)
		return -1;
	return openat(rootfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* clean_tmp - remove messages that were never answered 250 */
static void
clean_tmp(struct spool *sp)
{
	int fd = dup(sp->tmpfd);
	DIR *d;
	struct dirent *de;
	unsigned n = 0;

	if (fd == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (unlinkat(sp->tmpfd, de->d_name, 0) == 0)
			n++;
	}
	closedir(d);
	if (n > 0)
		log_info("event=spool-clean removed=%u dir=tmp reason="
		    "\"never acknowledged\"", n);
}

/*
 * spool_open - open (creating) the spool directory. Leftovers in tmp/
 * are removed: their clients never got 250. NULL with err on failure.
 */
struct spool *
spool_open(const char *dir, struct workq *wq, char *err, size_t errsize)
{
	struct spool *sp = xcalloc(1, sizeof(*sp));

	sp->dir = xstrdup(dir);
	sp->wq = wq;
	sp->pending_tail = &sp->pending;
	sp->tmpfd = sp->queuefd = sp->corruptfd = sp->holdfd = sp->rootfd = -1;
	if (fs_mkdir_p(dir, 0700) == -1 ||
	    (sp->rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    (sp->tmpfd = open_sub(sp->rootfd, "tmp")) == -1 ||
	    (sp->queuefd = open_sub(sp->rootfd, "queue")) == -1 ||
	    (sp->corruptfd = open_sub(sp->rootfd, "corrupt")) == -1 ||
	    (sp->holdfd = open_sub(sp->rootfd, "hold")) == -1) {
		snprintf(err, errsize, "spool %s: %s", dir, strerror(errno));
		spool_free(sp);
		return NULL;
	}
	clean_tmp(sp);
	return sp;
}

/* spool_free - close the spool (no commit may be under way) */
void
spool_free(struct spool *sp)
{
	if (sp == NULL)
		return;
	if (sp->tmpfd >= 0)
		close(sp->tmpfd);
	if (sp->queuefd >= 0)
		close(sp->queuefd);
	if (sp->corruptfd >= 0)
		close(sp->corruptfd);
	if (sp->holdfd >= 0)
		close(sp->holdfd);
	if (sp->rootfd >= 0)
		close(sp->rootfd);
	free(sp->dir);
	free(sp);
}

/* spool_dirfd - the fd of "tmp", "queue", "hold", "corrupt", "" (root) */
int
spool_dirfd(const struct spool *sp, const char *sub)
{
	if (strcmp(sub, "tmp") == 0)
		return sp->tmpfd;
	if (strcmp(sub, "queue") == 0)
		return sp->queuefd;
	if (strcmp(sub, "corrupt") == 0)
		return sp->corruptfd;
	if (strcmp(sub, "hold") == 0)
		return sp->holdfd;
	return sp->rootfd;
}

/* spool_path - the spool directory */
const char *
spool_path(const struct spool *sp)
{
	return sp->dir;
}

/* spool_on_queued - fn(arg, qid) runs for every message committed */
void
spool_on_queued(struct spool *sp, void (*fn)(void *, const char *),
    void *arg)
{
	sp->on_queued = fn;
	sp->on_queued_arg = arg;
}

/* spool_committing - messages between commit request and result */
unsigned
spool_committing(const struct spool *sp)
{
	return sp->committing;
}

/* spool_stats - counters */
const struct spool_stats *
spool_stats(const struct spool *sp)
{
	return &sp->st;
}

/*
 * spool_new_qid - a new queue id, with its file created in tmp/ (fd
 * returned). Ids are time-ordered hex: seconds, microseconds, a counter;
 * one that exists in tmp/ or queue/ is skipped. 0 or -1.
 */
int
spool_new_qid(struct spool *sp, char *qid, size_t qidsize, int *fd)
{
	struct timeval tv;
	int tries;

	for (tries = 0; tries < 100; tries++) {
		gettimeofday(&tv, NULL);
		snprintf(qid, qidsize, "%08llX%05lX%03X",
		    (unsigned long long)tv.tv_sec & 0xffffffffULL,
		    (unsigned long)tv.tv_usec, sp->counter++ & 0xfff);
		if (faccessat(sp->queuefd, qid, F_OK, 0) == 0)
			continue;
		*fd = openat(sp->tmpfd, qid, O_WRONLY | O_CREAT | O_EXCL |
		    O_CLOEXEC, 0600);
		if (*fd >= 0)
			return 0;
		if (errno != EEXIST)
			return -1;
	}
	errno = EEXIST;
	return -1;
}

/* write_all - write(2) until done; 0 or -1 */
static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * spool_msg_new - start a message for tx: create tmp/QID and write the
 * envelope. Fills qid. NULL (logged) when the disk refuses.
 */
struct spool_msg *
spool_msg_new(struct spool *sp, const struct tx *tx,
    const struct spool_meta *m, time_t now, char *qid, size_t qidsize)
{
	struct spool_msg *msg = xcalloc(1, sizeof(*msg));
	struct buf hdr;

	msg->sp = sp;
	if (spool_new_qid(sp, msg->qid, sizeof(msg->qid), &msg->fd) == -1) {
		log_warn("event=spool-error op=create error=\"%s\"",
		    strerror(errno));
		free(msg);
		return NULL;
	}
	buf_init(&hdr, QFILE_HEADER_MAX);
	if (qfile_format(&hdr, tx, msg->qid, now, m->session, m->client,
	    m->helo, m->proto, m->auth, &msg->env) == -1 ||
	    write_all(msg->fd, hdr.data, hdr.len) == -1) {
		log_warn("event=spool-error op=write qid=%s error=\"%s\"",
		    msg->qid, strerror(errno));
		buf_release(&hdr);
		spool_msg_abort(msg);
		return NULL;
	}
	buf_release(&hdr);
	str_copy(qid, qidsize, msg->qid);
	return msg;
}

/* spool_msg_write - append message bytes; -1 once a write has failed */
int
spool_msg_write(struct spool_msg *m, const char *p, size_t n)
{
	if (m->failed)
		return -1;
	if (write_all(m->fd, p, n) == -1) {
		snprintf(m->err, sizeof(m->err), "%s", strerror(errno));
		log_warn("event=spool-error op=write qid=%s error=\"%s\"",
		    m->qid, m->err);
		m->failed = 1;
		return -1;
	}
	m->written += n;
	return 0;
}

/* msg_free - close and free; unlinks tmp/QID unless it was queued */
static void
msg_free(struct spool_msg *m, int unlink_tmp)
{
	if (m->fd >= 0)
		close(m->fd);
	if (unlink_tmp)
		unlinkat(m->sp->tmpfd, m->qid, 0);
	qenv_release(&m->env);
	free(m);
}

/* commit_work - pool thread: make a group durable */
static void
commit_work(void *arg)
{
	struct group *g = arg;
	struct spool *sp = g->sp;
	struct spool_msg *m;
	int renamed = 0;

	for (m = g->msgs; m != NULL; m = m->next) {
		m->result = SMTP_TEMP;
		if (fdatasync(m->fd) == -1) {
			snprintf(m->err, sizeof(m->err), "fdatasync: %s",
			    strerror(errno));
			continue;
		}
		close(m->fd);
		m->fd = -1;
		if (renameat(sp->tmpfd, m->qid, sp->queuefd, m->qid) == -1) {
			snprintf(m->err, sizeof(m->err), "rename: %s",
			    strerror(errno));
			continue;
		}
		m->result = SMTP_OK;
		renamed++;
	}
	if (renamed > 0 && fsync(sp->queuefd) == -1) {
		/* the renames may not survive a crash: nobody gets 250 */
		for (m = g->msgs; m != NULL; m = m->next)
			if (m->result == SMTP_OK) {
				m->result = SMTP_TEMP;
				snprintf(m->err, sizeof(m->err), "fsync dir: "
				    "%s", strerror(errno));
				/* back out, so it is not delivered either */
				renameat(sp->queuefd, m->qid, sp->tmpfd,
				    m->qid);
			}
		g->dirsync_failed = 1;
	}
}

static void start_group(struct spool *sp);

/* commit_done - loop thread: tell sessions, then the runner */
static void
commit_done(void *arg)
{
	struct group *g = arg;
	struct spool *sp = g->sp;
	struct spool_msg *m, *next;

	sp->busy = 0;
	sp->st.groups++;
	for (m = g->msgs; m != NULL; m = next) {
		next = m->next;
		sp->committing--;
		if (m->result == SMTP_OK)
			sp->st.commits++;
		else {
			sp->st.failures++;
			log_warn("event=spool-error op=commit qid=%s error=\"%s\"",
			    m->qid, m->err);
		}
		/* the owner first (the session logs its message-accepted),
		 * then the runner, whose first words on it come after */
		if (m->cb)
			m->cb(m->cb_arg, m->result, m->err);
		if (m->result == SMTP_OK && sp->on_queued)
			sp->on_queued(sp->on_queued_arg, m->qid);
		msg_free(m, m->result != SMTP_OK);
	}
	free(g);
	if (sp->pending != NULL)
		start_group(sp);
}

/* start_group - hand everything pending to the commit thread */
static void
start_group(struct spool *sp)
{
	struct group *g;

	if (sp->busy || sp->pending == NULL)
		return;
	g = xcalloc(1, sizeof(*g));
	g->sp = sp;
	g->msgs = sp->pending;
	g->n = sp->npending;
	sp->pending = NULL;
	sp->pending_tail = &sp->pending;
	sp->npending = 0;
	sp->busy = 1;
	workq_submit(sp->wq, commit_work, commit_done, g);
}

/*
 * spool_msg_commit - the message is complete: make it durable, then call
 * cb(arg, SMTP_OK or SMTP_TEMP, error text) on the loop thread.
 */
void
spool_msg_commit(struct spool_msg *m, void (*cb)(void *, int, const char *),
    void *arg)
{
	struct spool *sp = m->sp;
	char digits[QFILE_SIZE_DIGITS];

	m->cb = cb;
	m->cb_arg = arg;
	qfile_size_field(digits, m->written);
	if (!m->failed && pwrite(m->fd, digits, sizeof(digits),
	    m->env.size_off) != (ssize_t)sizeof(digits)) {
		snprintf(m->err, sizeof(m->err), "%s", strerror(errno));
		m->failed = 1;
	}
	if (m->failed) {
		if (cb)
			cb(arg, SMTP_TEMP, m->err);
		msg_free(m, 1);
		return;
	}
	m->committing = 1;
	m->next = NULL;
	*sp->pending_tail = m;
	sp->pending_tail = &m->next;
	sp->npending++;
	sp->committing++;
	start_group(sp);
}

/*
 * spool_msg_abort - forget a message. Before commit it is removed; during
 * commit only its callback is detached (see the header).
 */
void
spool_msg_abort(struct spool_msg *m)
{
	if (m == NULL)
		return;
	if (m->committing) {
		m->cb = NULL;
		return;
	}
	msg_free(m, 1);
}

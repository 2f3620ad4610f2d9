/*
 * spool - durable message intake: write, fsync, rename, fsync the dir.
 *
 * Layout under the spool directory:
 *   tmp/     messages being received (removed at startup: never answered)
 *   queue/   committed messages, each answered 250; the queue runner's
 *   hold/    messages put on hold (sluice queue hold, abuse rules)
 *   corrupt/ files that failed to parse at startup, kept for the admin
 *
 * A message is written in tmp/ as it arrives, on the event loop (page
 * cache writes). spool_msg_commit() queues it for the commit thread, which
 * takes every message waiting at that moment as one group: fdatasync each
 * file, rename each into queue/, then one fsync of queue/ for the group.
 * Only then is each session told SMTP_OK and its client answered 250. So a
 * crash at any instant loses no message that was answered 250, and
 * concurrent sessions share the directory fsync (group commit).
 *
 * Ownership: the spool owns its messages. A session that goes away while
 * its message is committing calls spool_msg_abort(), which only detaches
 * the callback: the commit finishes and the message is queued (the client
 * never saw 250, so it may send it again: a duplicate, never a loss).
 */
#ifndef SLUICE_SPOOL_H
#define SLUICE_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct event_base;
struct workq;
struct tx;
struct spool;
struct spool_msg;

struct spool_meta {
	const char	*session;
	const char	*client;
	const char	*helo;
	const char	*proto;
	const char	*auth;		/* authenticated user, or NULL */
};

struct spool_stats {
	uint64_t	commits;	/* messages committed */
	uint64_t	groups;		/* fsync groups */
	uint64_t	failures;
};

struct spool *spool_open(const char *dir, struct workq *wq, char *err,
	    size_t errsize);
void	spool_free(struct spool *sp);
int	spool_dirfd(const struct spool *sp, const char *sub);
const char *spool_path(const struct spool *sp);
void	spool_on_queued(struct spool *sp, void (*fn)(void *, const char *),
	    void *arg);
unsigned spool_committing(const struct spool *sp);
const struct spool_stats *spool_stats(const struct spool *sp);
int	spool_new_qid(struct spool *sp, char *qid, size_t qidsize, int *fd);

struct spool_msg *spool_msg_new(struct spool *sp, const struct tx *tx,
	    const struct spool_meta *m, time_t now, char *qid,
	    size_t qidsize);
int	spool_msg_write(struct spool_msg *m, const char *p, size_t n);
void	spool_msg_commit(struct spool_msg *m,
	    void (*cb)(void *, int, const char *), void *arg);
void	spool_msg_abort(struct spool_msg *m);

#endif

/*
 * runner - the queue runner: delivers what the spool committed.
 *
 * Lives on the event loop; the deliveries themselves (Maildir writes and
 * fsyncs) run on the worker pool. At startup it loads every file in
 * queue/ (a restart resumes where the last run stopped; files that do not
 * parse or are incomplete go to corrupt/, never silently away). After a
 * message is committed the spool hands it over here at once.
 *
 * Each recipient's result is written into the queue file (qfile.h) as it
 * happens; a message leaves the queue when no recipient is pending.
 * Temporary failures are retried after queue_retry.
 */
#ifndef SLUICE_RUNNER_H
#define SLUICE_RUNNER_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct spool;
struct workq;
struct runner;

struct runner_conf {
	const char	*maildir_root;
	const char	*hostname;
	unsigned	 retry;		/* seconds */
};

struct runner_stats {
	uint64_t	queued;		/* messages in the queue now */
	uint64_t	delivered;	/* recipients delivered */
	uint64_t	deferred;	/* temporary failures */
	uint64_t	failed;		/* permanent failures */
	unsigned	active;		/* deliveries under way */
};

struct runner *runner_new(struct event_base *base, struct spool *sp,
	    struct workq *wq, const struct runner_conf *rc);
void	runner_free(struct runner *r);
int	runner_load(struct runner *r);
void	runner_add(void *r, const char *qid);
const struct runner_stats *runner_stats(const struct runner *r);

#endif

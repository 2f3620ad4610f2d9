/*
 * workq - a small pool of threads for blocking disk work (write, fsync,
 * rename), so that the event loop never waits on the disk.
 *
 * A job's work() runs on a pool thread; its done() runs afterwards on the
 * event loop's thread. The caller owns the job's argument; the pool owns
 * nothing but its threads. Jobs run in no particular order across threads.
 */
#ifndef SLUICE_WORKQ_H
#define SLUICE_WORKQ_H

struct event_base;
struct workq;

struct workq *workq_new(struct event_base *base, unsigned nthreads);
void	workq_free(struct workq *q);
void	workq_submit(struct workq *q, void (*work)(void *),
	    void (*done)(void *), void *arg);
unsigned workq_pending(const struct workq *q);

#endif

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>

#include "net/workq.h"
#include "util/log.h"
#include "util/xalloc.h"

struct job {
	void		(*work)(void *);
	void		(*done)(void *);
	void		*arg;
	struct job	*next;
};

struct workq {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct job	*todo, *todo_tail;	/* guarded by mu */
	struct job	*done, *done_tail;	/* guarded by mu */
	int		 stop;			/* guarded by mu */
	unsigned	 pending;		/* loop thread only */
	pthread_t	*threads;
	unsigned	 nthreads;
	int		 pipe[2];		/* wakes the loop */
	struct event	*ev;
};

/* push - append a job to a list */
static void
push(struct job **head, struct job **tail, struct job *j)
{
	j->next = NULL;
	if (*tail)
		(*tail)->next = j;
	else
		*head = j;
	*tail = j;
}

/* worker - pool thread: run jobs, hand them back to the loop */
static void *
worker(void *arg)
{
	struct workq *q = arg;
	struct job *j;
	char c = 1;

	for (;;) {
		pthread_mutex_lock(&q->mu);
		while (q->todo == NULL && !q->stop)
			pthread_cond_wait(&q->cv, &q->mu);
		if (q->todo == NULL) {
			pthread_mutex_unlock(&q->mu);
			return NULL;
		}
		j = q->todo;
		q->todo = j->next;
		if (q->todo == NULL)
			q->todo_tail = NULL;
		pthread_mutex_unlock(&q->mu);

		j->work(j->arg);

		pthread_mutex_lock(&q->mu);
		push(&q->done, &q->done_tail, j);
		pthread_mutex_unlock(&q->mu);
		while (write(q->pipe[1], &c, 1) == -1 && errno == EINTR)
			;
	}
}

/* wake - loop thread: run done() of finished jobs */
static void
wake(evutil_socket_t fd, short what, void *arg)
{
	struct workq *q = arg;
	struct job *j, *next;
	char buf[256];

	(void)what;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&q->mu);
	j = q->done;
	q->done = q->done_tail = NULL;
	pthread_mutex_unlock(&q->mu);
	for (; j != NULL; j = next) {
		next = j->next;
		q->pending--;
		if (j->done)
			j->done(j->arg);
		free(j);
	}
}

/* workq_new - start nthreads workers bound to base's loop */
struct workq *
workq_new(struct event_base *base, unsigned nthreads)
{
	struct workq *q = xcalloc(1, sizeof(*q));
	unsigned i;

	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	if (pipe2(q->pipe, O_NONBLOCK | O_CLOEXEC) == -1)
		fatal("event=workq-pipe error=%d", errno);
	q->ev = event_new(base, q->pipe[0], EV_READ | EV_PERSIST, wake, q);
	event_add(q->ev, NULL);
	q->nthreads = nthreads ? nthreads : 1;
	q->threads = xcalloc(q->nthreads, sizeof(*q->threads));
	for (i = 0; i < q->nthreads; i++)
		if (pthread_create(&q->threads[i], NULL, worker, q) != 0)
			fatal("event=workq-thread error=cannot-create");
	return q;
}

/* workq_free - finish queued jobs, stop the threads, run the last done()s */
void
workq_free(struct workq *q)
{
	unsigned i;

	if (q == NULL)
		return;
	pthread_mutex_lock(&q->mu);
	q->stop = 1;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	for (i = 0; i < q->nthreads; i++)
		pthread_join(q->threads[i], NULL);
	wake(q->pipe[0], EV_READ, q);
	event_free(q->ev);
	close(q->pipe[0]);
	close(q->pipe[1]);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv);
	free(q->threads);
	free(q);
}

/* workq_submit - run work(arg) on a pool thread, then done(arg) here */
void
workq_submit(struct workq *q, void (*work)(void *), void (*done)(void *),
    void *arg)
{
	struct job *j = xcalloc(1, sizeof(*j));

	j->work = work;
	j->done = done;
	j->arg = arg;
	q->pending++;
	pthread_mutex_lock(&q->mu);
	push(&q->todo, &q->todo_tail, j);
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

/* workq_pending - jobs submitted whose done() has not run yet */
unsigned
workq_pending(const struct workq *q)
{
	return q->pending;
}

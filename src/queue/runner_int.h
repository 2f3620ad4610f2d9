/*
 * runner_int - the queue runner's insides, shared by runner.c (messages,
 * scheduling, local delivery, loading), dsnq.c (bounces and delay
 * warnings), outq.c (destination queues and remote attempts) and qadmin.c
 * (the admin's verbs). Nothing else includes this.
 */
#ifndef SLUICE_RUNNER_INT_H
#define SLUICE_RUNNER_INT_H

#include <time.h>

#include "queue/qfile.h"
#include "queue/remote.h"
#include "queue/runner.h"

struct rstate {
	time_t		 next;		/* when to try again */
	unsigned	 attempts;
	int		 inflight;	/* a delivery is under way */
	int		 bouncing;	/* a DSN for its failure is committing */
	char		 why[REMOTE_WHY];	/* last runner_result */
	char		 relay[160];
};

struct qmsg {
	struct runner	*r;
	char		 qid[32];
	struct qenv	 env;
	struct rstate	*rs;		/* one per recipient */
	int		 held, deleted, warned;
	int		 internal;	/* made by sluiced (a DSN) */
	int		 warning;	/* the delay warning is committing */
	int		 in_bounces;	/* bounces() is running */
	time_t		 bounce_next;	/* a failed DSN is tried again then */
	unsigned	 busy;		/* jobs (and DSN commits) under way */
	unsigned	 hops;		/* Received: headers */
	struct event	*timer;
	/* local job results (SMTP_OK/TEMP/PERM, -1 = not tried) */
	int		*res;
	char		(*why)[160];
};

struct cconn;

struct dest {
	char		*key;
	unsigned	 active;
	struct job	*head, *tail;	/* waiting */
	struct cconn	*idle, *idle_last;	/* kept sessions (outq.c) */
	unsigned	 nidle, nclosing;
};

struct job {
	struct qmsg	*m;
	struct dest	*d;
	size_t		*idx;		/* recipients of m */
	size_t		 n;
	const struct route *route;	/* NULL: MX of domain */
	struct route	 lit;		/* user@[address]: that address */
	char		 lithost[64];
	char		 domain[SMTP_DOMAIN_MAX + 1];
	int		 tls_required;
	int		 fd;
	const char	**rcpts;
	struct job	*next;
};

struct runner {
	struct event_base	*base;
	struct spool		*sp;
	struct workq		*wq;
	struct runner_conf	 rc;
	char			*root;
	char			*host;	/* hostname made safe for file names */
	struct hmap		*msgs;	/* qid -> struct qmsg */
	struct hmap		*dests;	/* route key -> struct dest */
	struct domset		*routes;	/* pattern -> struct route */
	struct domset		*tls;		/* tls_required */
	unsigned		 active;	/* remote deliveries */
	struct cconn		*idle, *idle_last;	/* kept sessions */
	unsigned		 nidle, nclosing;
	int			 stopping;	/* start nothing new */
	struct runner_stats	 st;
};


/* runner.c */
int	runner_qdir(const struct qmsg *m);
void	runner_schedule(struct qmsg *m);
void	runner_result(struct qmsg *m, size_t i, int status, const char *why,
	    const char *relay, unsigned conn_use);
void	runner_forget(struct qmsg *m);
void	runner_mark(struct qmsg *m, size_t i, char status, int durable);
void	runner_mark_warned(struct qmsg *m);
unsigned runner_read_headers(struct qmsg *m, char **hdr, size_t *hlen,
	    size_t max);

/* dsnq.c */
void	dsnq_bounces(struct qmsg *m);

/* outq.c */
void	outq_dispatch(struct qmsg *m, time_t now);
void	outq_pump(struct runner *r);
void	outq_job_free(struct job *j);
void	outq_close_idle(struct runner *r);

/* qadmin.c */
int	qadmin_hold_one(struct qmsg *m, void *arg);

#endif

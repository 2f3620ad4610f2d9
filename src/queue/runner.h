/*
 * runner - the queue runner: delivers what the spool committed.
 *
 * Lives on the event loop. Local recipients are written to Maildirs on the
 * worker pool; remote ones go through outq (destination queues with
 * concurrency limits) to remote.c. At startup it loads every file in
 * queue/ and hold/ (a restart resumes where the last run stopped; files
 * that do not parse or are incomplete go to corrupt/, never silently
 * away). After a message is committed the spool hands it over at once.
 *
 * Each recipient's final result is written into the queue file (qfile.h);
 * a message leaves the queue when none is pending and every failure's DSN
 * is committed. Temporary failures are retried with exponential backoff
 * (retry_min doubling up to retry_max, the schedule kept in the queue
 * file) until the message is older than lifetime; permanent failures and
 * expiries are bounced to the sender (never for a null sender), and a
 * delay warning goes out once after delay_warning.
 *
 * The admin's verbs (hold, release, delete, flush) and the listing behind
 * `sluice queue` are here too, for the control socket.
 */
#ifndef SLUICE_RUNNER_H
#define SLUICE_RUNNER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include <openssl/ssl.h>

struct event_base;
struct spool;
struct workq;
struct runner;
struct policy;
struct dns;
struct buf;

struct route {
	char		*pattern;	/* domain pattern (domset syntax) */
	char		*host;		/* NULL: MX of the domain */
	unsigned	 port;
	int		 host_mx;	/* host given without [] */
};

struct runner_conf {
	const char	*maildir_root;
	const char	*hostname;
	unsigned	 retry_min, retry_max, lifetime, delay_warning;
	unsigned	 concurrency, per_destination, max_hops;
	unsigned	 t_connect, t_cmd;
	unsigned	 conn_cache_time;	/* 0: no connection reuse */
	struct route	 relayhost;	/* host NULL: none */
	const char	*auth_user, *auth_pass;
	struct route	*routes;
	size_t		 nroutes;
	char		**tls_required;
	const struct policy *policy;	/* where bounces go */
	struct dns	*dns;
	SSL_CTX		*ssl_ctx;
	const struct sockaddr_storage *self;
	size_t		 nself;
	/* abuse rules: should new mail from this source be held? */
	int		(*is_held)(void *arg, const char *client,
			    const char *user);
	void		*held_arg;
};

struct runner_stats {
	uint64_t	queued;		/* messages in the queue now */
	uint64_t	held;
	uint64_t	delivered;	/* recipients delivered */
	uint64_t	deferred;	/* temporary failures */
	uint64_t	failed;		/* permanent failures */
	uint64_t	bounces;	/* DSNs queued */
	unsigned	active;		/* deliveries under way (and kept
					   connections saying QUIT) */
};

/* A selection of messages for the queue tool. Empty fields match all. */
struct qsel {
	char		 qid[32];
	char		 sender[300];	/* address or domain pattern */
	char		 rcpt[300];	/* address or domain pattern */
	char		 user[256];	/* authenticated user */
	char		 by[32];	/* who acts, for the log ("" admin) */
	int		 family;	/* client network, if bits >= 0 */
	unsigned char	 net[16];
	int		 bits;
	time_t		 older, newer;	/* age bounds in seconds, 0: none */
	int		 held;		/* -1 any, 0 active only, 1 held only */
	int		 internal;	/* 1: only sluiced's own mail (DSNs) */
};

struct runner *runner_new(struct event_base *base, struct spool *sp,
	    struct workq *wq, const struct runner_conf *rc);
void	runner_free(struct runner *r);
int	runner_load(struct runner *r);
void	runner_add(void *r, const char *qid);
const struct runner_stats *runner_stats(const struct runner *r);
void	runner_stop(struct runner *r);
void	runner_set_policy(struct runner *r, const struct policy *p);
int	route_parse(const char *text, struct route *rt, char *err,
	    size_t errsize);

/* the admin's verbs; each returns how many messages it touched */
size_t	runner_list(struct runner *r, const struct qsel *s, struct buf *json);
size_t	runner_hold(struct runner *r, const struct qsel *s);
size_t	runner_release(struct runner *r, const struct qsel *s);
size_t	runner_delete(struct runner *r, const struct qsel *s);
size_t	runner_flush(struct runner *r, const struct qsel *s);

#endif

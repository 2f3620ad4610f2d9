/*
 * server - sluiced's running state, shared by the listener, the
 * connection driver and main. One instance per process, owned by main.
 */
#ifndef SLUICE_SERVER_H
#define SLUICE_SERVER_H

#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "smtp/session.h"

struct event_base;
struct event;
struct evconnlistener;
struct conf;
struct policy;
struct spool;
struct runner;
struct workq;
struct hmap;
struct conn;

enum role {
	ROLE_SMTP,		/* port 25: inbound MX, AUTH only after STARTTLS */
	ROLE_SUBMISSION,	/* port 587: STARTTLS, then AUTH before MAIL */
	ROLE_SUBMISSIONS	/* port 465: implicit TLS, AUTH before MAIL */
};

struct listener {
	struct server		*srv;
	struct evconnlistener	*ev;
	char			 name[64];	/* "127.0.0.1:2525" */
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	int			 fd;
	int			 loopback;
	enum role		 role;
	struct cidr_set		*trusted;	/* networks=..., or NULL */
	struct smtp_params	 params;	/* this listener's */
};
struct cidr_set;

/* Counters for `sluice stats` and /metrics (since start). */
struct srvstats {
	uint64_t	sessions, refused, messages, bytes, tls, auth_ok,
			auth_fail, auth_blocked, dnsbl_listed;
	struct hmap	*rejections;	/* rule class -> count (uintptr) */
};

struct server {
	struct event_base	*base;
	struct conf		*conf;
	struct policy		*policy;
	struct smtp_params	 params;
	struct spool		*spool;
	struct runner		*runner;
	struct workq		*commit_wq;	/* the spool's commit thread */
	struct workq		*deliver_wq;	/* Maildir deliveries */
	struct listener		*listeners;
	size_t			 nlisteners;
	struct event		*relisten;	/* after EMFILE */
	unsigned		 nsessions;
	unsigned		 max_sessions;
	unsigned long long	 nofile;	/* descriptor limit, for reloads */
	int			 debug;		/* -d: debug log whatever the file says */
	struct hmap		*per_ip;	/* ip text -> count (uintptr) */
	struct conn		*conns;		/* every live connection, the */
	struct conn		*conns_tail;	/* most recently active first */
	uint32_t		 idnext;
	int			 stopping;
	struct event		*stopcheck;
	struct control		*control;
	struct dns		*dns;
	SSL_CTX			*tls;		/* server context, or NULL */
	struct passwd_db	*passwd;
	struct authfail		*authfail;
	struct abuse		*abuse;
	struct dynlist		*lists;
	char			*lists_path;
	struct metrics		*metrics;
	struct event		*expire;
	const char		*conf_path;	/* -c FILE, or NULL */
	struct {
		struct conf	*conf;
		struct policy	*policy;
	}			*old;		/* replaced by reloads */
	size_t			 nold;
	struct srvstats		 st;
};

struct abuse;
struct dynlist;
struct metrics;
struct passwd_db;
struct authfail;
struct control;
struct dns;

/* listener.c */
int	listener_parse(const char *text, struct listener **out, size_t *n,
	    char *err, size_t errsize);
const char *role_name(enum role r);
int	listener_bind(struct listener *l, char *err, size_t errsize);
int	listener_start(struct server *srv);
void	listener_stop(struct server *srv);

/* ctl.c */
struct buf;
int	ctl_handle(void *arg, const char *verb, char **keys, char **vals,
	    size_t n, struct buf *out);

/* stats.c */
void	stats_reject(struct server *srv, const char *rule);
void	stats_json(struct server *srv, struct buf *b);
int	stats_prometheus(struct server *srv, struct buf *b);

/* conn.c */
void	conn_accept(struct server *srv, struct listener *l, int fd,
	    const struct sockaddr *sa, socklen_t salen);
void	conn_shutdown_all(struct server *srv);
void	conn_free_all(struct server *srv);

#endif

/*
 * engine - runs the relay battery against many targets on one event loop.
 *
 * Targets come from a callback (so a list of thousands is read as it is
 * used); at most opts.concurrency run at once. Each target gets one SMTP
 * session at a time: greeting, EHLO (HELO if refused), STARTTLS when
 * offered, the positive controls, then every relay test (RSET between),
 * reconnecting when the server drops the session or hits its error limit.
 * The authenticated control runs last on a fresh session of its own.
 * Anonymous mode stops at RCPT; delivery mode completes DATA with a token
 * and, at the end, waits for the tokens to reach the catcher or Maildir.
 *
 * A finished target is handed to opts.done (the report) and freed after.
 * The engine owns targets; the caller owns opts and what it points to.
 *
 * A target spec is "HOST", "HOST:PORT", "[IPV6]:PORT", or "NAME ADDR:PORT"
 * (connect to ADDR, call it NAME: a caller that resolved and checked the
 * address itself uses this so that no second lookup can differ).
 *
 * probe_run() runs the loop until all targets are done; probe_start()
 * only starts, for a caller whose loop is already running (the web
 * tester), which hears of the end through opts.finished.
 */
#ifndef SLUICE_ENGINE_H
#define SLUICE_ENGINE_H

#include <stddef.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "probe/battery.h"
#include "probe/classify.h"
#include "probe/tokscan.h"
#include "util/buf.h"

struct event_base;
struct probe;
struct catcher;
struct ptarget;
struct smtpc;

struct probe_opts {
	int		 delivery;
	unsigned	 port;		/* default port for targets */
	int		 implicit_tls;	/* -1 auto (port 465), 0 no, 1 yes */
	int		 starttls;	/* -1 never, 0 when offered, 1 insist */
	const char	*outside;
	const char	*outside_ip;
	const char	*target_domain;	/* NULL: from the banner */
	const char	*helo;
	const char	*auth_user, *auth_pass;
	const struct sockaddr *source;
	socklen_t	 sourcelen;
	unsigned	 concurrency;
	unsigned	 pace_ms;
	unsigned	 t_connect, t_greeting, t_cmd, t_data, t_end;
	unsigned	 max_reconnects;
	const char	*tests;		/* comma-separated ids, or NULL */
	const char	*resolver;	/* NULL: system */
	unsigned	 wait_secs;	/* delivery: how long to wait for tokens */
	const char	*maildir;	/* delivery: where tokens may arrive */
	struct catcher	*catcher;	/* delivery: the built-in catcher */
	SSL_CTX		*ssl_ctx;
	int		 keep_transcript;
	/* the next target spec into buf; 1, or 0 at the end */
	int		(*next)(void *arg, char *buf, size_t size);
	void		*next_arg;
	/* a target is finished (its verdict is final) */
	void		(*done)(void *arg, const struct ptarget *t);
	void		*done_arg;
	/* progress (for a terminal line); may be NULL */
	void		(*progress)(void *arg, unsigned started,
			    unsigned finished, unsigned hits);
	/* a test of a target got its verdict (for live pages); may be NULL */
	void		(*test_done)(void *arg, const struct ptarget *t,
			    size_t i);
	/* every target is finished: probe_start()'s end; NULL means
	 * probe_run() ends its event loop */
	void		(*finished)(void *arg);
};

struct ptest {
	const struct btest *bt;
	char		 token[24];
	char		 helo[300], from[300], rcpt[300];
	int		 mail_code, rcpt_code, data_code;
	char		 mail_reply[512], rcpt_reply[512], data_reply[512];
	char		 mail_enh[16], rcpt_enh[16], data_enh[16];
	enum pv		 verdict;
	enum ptoken	 token_state;
	int		 counted;	/* in the probe's outstanding count */
	int		 unproven;	/* a copy without our proof came in */
	int		 helo_code;	/* reply to the spoofed HELO, or 0 */
	char		 helo_reply[512];
	char		 note[200];
	unsigned	 attempts;
	double		 rtt;		/* RCPT reply time, seconds */
};

struct ptarget {
	struct probe	*p;
	unsigned	 index;
	char		 spec[300];	/* as given */
	char		 host[256];	/* name, or the address text */
	char		 ip[64];
	unsigned	 port;
	struct sockaddr_storage addr;
	socklen_t	 addrlen;
	int		 implicit_tls;
	char		 banner[600];
	char		 server_name[256];	/* first word of the banner */
	char		 ehlo_name[256];	/* first word of the EHLO reply */
	int		 named;		/* the first EHLO reply was seen */
	char		 domain[256];		/* {target} */
	char		 parent[256];		/* {parent} */
	struct buf	 ehlo;			/* EHLO reply text */
	int		 esmtp, starttls_offered, auth_offered, tls_used;
	int		 tls_failed;	/* STARTTLS failed: do not try again */
	char		 tls[512];
	int		 greeted, refused_at_connect;
	enum pv		 verdict;
	char		 note[300];
	struct ptest	*tests;		/* owned */
	size_t		 ntests;
	struct buf	 transcript;
	double		 t_start, t_end;
	unsigned	 reconnects;
	unsigned	 idle_reconnects;	/* since a test last got a reply */
	unsigned	 idle_timeouts;	/* timeouts since then */
	/* run state (engine.c) */
	int		 state;
	size_t		 cur;
	int		 spoofed, authed, auth_phase, session_ok;
	int		 hide_sent;	/* keep the next line sent out of the transcript */
	struct smtpc	*c;
	struct event	*pace;
	TAILQ_ENTRY(ptarget) link;	/* probe's live list (engine.c) */
	int		 finished;
};

struct probe *probe_new(struct event_base *base, const struct probe_opts *o,
	    char *err, size_t errsize);
void	probe_free(struct probe *p);
int	probe_run(struct probe *p);
void	probe_start(struct probe *p);
void	probe_token(struct probe *p, const struct tokhit *h);
unsigned probe_hits(const struct probe *p);
unsigned probe_errors(const struct probe *p);
unsigned probe_count(const struct probe *p);

#endif

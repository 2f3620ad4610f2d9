/*
 * sluiced - the SMTP server. See sluiced(8).
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <event2/event.h>

#include "conf/conf.h"
#include "net/control.h"
#include "net/dns.h"
#include "net/tls.h"
#include "net/workq.h"
#include "policy/cidr.h"
#include "policy/policy.h"
#include "queue/maildir.h"
#include "queue/runner.h"
#include "queue/spool.h"
#include "policy/dynlist.h"
#include "server/abuse.h"
#include "server/authfail.h"
#include "server/lists.h"
#include "server/metrics.h"
#include "server/passwd.h"
#include "server/server.h"
#include "util/fs.h"
#include "util/hmap.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xalloc.h"

#define VERSION	"0.1"
/* Descriptors kept back from the session limit (spool, logs, DNS...). */
#define FD_RESERVE	64
/* Longest wait for in-flight commits and deliveries at shutdown. */
#define STOP_GRACE	30

static void
usage(void)
{
	fprintf(stderr,
	    "usage: sluiced [-c file] [-n | -p | -R] [-d] [-V]\n"
	    "  -c file  configuration file (default: the built-in one)\n"
	    "  -n       check the configuration and exit\n"
	    "  -p       print the effective configuration and exit\n"
	    "  -R       print the configuration key reference (man format)\n"
	    "  -d       log at debug level\n"
	    "  -V       print the version and exit\n");
	exit(2);
}

/*
 * check_broad - warn (or refuse) when a listener that strangers can reach
 * trusts a broad network: that is an open relay in the making.
 */
static int
check_broad(const struct server *srv, const struct policy *pol, FILE *out)
{
	const struct cidr_set *nets = policy_authorized(pol);
	int exposed = 0, bad = 0;
	size_t i;

	for (i = 0; i < srv->nlisteners; i++) {
		const struct listener *l = &srv->listeners[i];
		size_t k;

		if (l->loopback)
			continue;
		exposed = 1;
		/* a listener's own networks= count as much */
		for (k = 0; k < cidr_set_count(l->trusted); k++) {
			const struct cidr *c = cidr_set_entry(l->trusted, k);
			char text[64];

			if (!cidr_is_broad(c))
				continue;
			cidr_format(c, text, sizeof(text));
			bad++;
			if (out)
				fprintf(out, "sluiced: WARNING: listener %s "
				    "trusts %s (networks=): every client in %s "
				    "may relay mail through it (an open relay "
				    "for that range)\n", l->name, text, text);
			log_warn("event=config-warning listener=%s network=%s "
			    "problem=\"broad network trusted on a non-loopback "
			    "listener: OPEN RELAY RISK\"", l->name, text);
		}
	}
	if (!exposed)
		return bad;
	for (i = 0; i < cidr_set_count(nets); i++) {
		const struct cidr *c = cidr_set_entry(nets, i);
		char text[64];

		if (!cidr_is_broad(c))
			continue;
		cidr_format(c, text, sizeof(text));
		bad++;
		if (out)
			fprintf(out, "sluiced: WARNING: authorized_networks "
			    "has %s and a listener is not on loopback: every "
			    "client in %s may relay mail through this server "
			    "(an open relay for that range)\n", text, text);
		log_warn("event=config-warning key=authorized_networks "
		    "network=%s problem=\"broad network trusted on a "
		    "non-loopback listener: OPEN RELAY RISK\"", text);
	}
	return bad;
}

/* raise_nofile - lift the descriptor limit to its hard maximum */
static rlim_t
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur;
}

/*
 * rereadable - can uid/gid (no supplementary groups: they are dropped)
 * read path? SIGHUP re-reads files after privileges are dropped.
 */
static int
rereadable(const char *path, uid_t uid, gid_t gid)
{
	struct stat st;

	if (stat(path, &st) == -1)
		return 0;
	if (st.st_uid == uid)
		return (st.st_mode & S_IRUSR) != 0;
	if (st.st_gid == gid)
		return (st.st_mode & S_IRGRP) != 0;
	return (st.st_mode & S_IROTH) != 0;
}

/* warn_unreadable - say now that a reload could not read path */
static void
warn_unreadable(const char *what, const char *path, const struct passwd *pw)
{
	struct group *gr = getgrgid(pw->pw_gid);

	if (path == NULL || path[0] == '\0' ||
	    rereadable(path, pw->pw_uid, pw->pw_gid))
		return;
	log_warn("event=config-warning file=%s path=%s problem=\"user %s "
	    "cannot read it: SIGHUP will not reload it\" fix=\"chown root:%s "
	    "%s; chmod 0640 %s\"", what, path, pw->pw_name,
	    gr ? gr->gr_name : "GROUP", path, path);
}

/*
 * drop_privileges - become conf->user (after binding), giving it the
 * spool and mailboxes first; verify that root cannot be regained.
 */
static void
drop_privileges(const struct conf *cf, const char *conf_path)
{
	struct passwd *pw;

	if (cf->user[0] == '\0')
		return;
	if ((pw = getpwnam(cf->user)) == NULL)
		fatal("event=startup-error problem=\"user %s does not exist\"",
		    cf->user);
	if (getuid() != 0) {
		if (getuid() != pw->pw_uid)
			fatal("event=startup-error problem=\"must start as root "
			    "to become user %s\"", cf->user);
		return;
	}
	if (chown(cf->spool_dir, pw->pw_uid, pw->pw_gid) == -1 ||
	    chown(cf->maildir_root, pw->pw_uid, pw->pw_gid) == -1)
		fatal("event=startup-error problem=\"chown spool/maildir: %s\"",
		    strerror(errno));
	{
		static const char *subs[] = { "tmp", "queue", "hold",
		    "corrupt" };
		char p[4096];
		size_t i;

		for (i = 0; i < 4; i++) {
			snprintf(p, sizeof(p), "%s/%s", cf->spool_dir, subs[i]);
			if (chown(p, pw->pw_uid, pw->pw_gid) == -1)
				fatal("event=startup-error problem=\"chown %s: "
				    "%s\"", p, strerror(errno));
		}
	}
	warn_unreadable("config", conf_path, pw);
	warn_unreadable("auth.passwd_file", cf->auth_passwd, pw);
	if (setgroups(0, NULL) == -1 || setgid(pw->pw_gid) == -1 ||
	    setuid(pw->pw_uid) == -1)
		fatal("event=startup-error problem=\"cannot become %s: %s\"",
		    cf->user, strerror(errno));
	if (setuid(0) != -1 || geteuid() == 0)
		fatal("event=startup-error problem=\"privileges were not "
		    "dropped\"");
	log_info("event=privileges-dropped user=%s uid=%u gid=%u", cf->user,
	    (unsigned)pw->pw_uid, (unsigned)pw->pw_gid);
}

/* stopcheck_cb - exit the loop once sessions and disk work are done */
static void
stopcheck_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	(void)fd;
	(void)what;
	if (srv->nsessions > 0 || spool_committing(srv->spool) > 0)
		return;
	/* no client left: end deliveries (remote ones are deferred) */
	runner_stop(srv->runner);
	if (runner_stats(srv->runner)->active == 0 &&
	    workq_pending(srv->commit_wq) == 0 &&
	    workq_pending(srv->deliver_wq) == 0)
		event_base_loopexit(srv->base, NULL);
}

/* stop_cb - SIGTERM/SIGINT: stop accepting, let in-flight work finish */
static void
stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;
	struct timeval grace = { STOP_GRACE, 0 }, tick = { 0, 100000 };

	(void)what;
	if (srv->stopping) {
		log_warn("event=stopping signal=%d action=exit-now", (int)sig);
		event_base_loopexit(srv->base, NULL);
		return;
	}
	log_info("event=stopping signal=%d sessions=%u", (int)sig,
	    srv->nsessions);
	srv->stopping = 1;
	listener_stop(srv);
	conn_shutdown_all(srv);
	srv->stopcheck = event_new(srv->base, -1, EV_PERSIST, stopcheck_cb,
	    srv);
	event_add(srv->stopcheck, &tick);
	event_base_loopexit(srv->base, &grace);
}

/* set_max_sessions - limits.sessions, within the descriptor limit */
static void
set_max_sessions(struct server *srv)
{
	srv->max_sessions = (unsigned)srv->conf->sessions;
	if (srv->max_sessions > srv->nofile - FD_RESERVE) {
		srv->max_sessions = (unsigned)(srv->nofile - FD_RESERVE);
		log_warn("event=config-warning key=limits.sessions "
		    "configured=%llu effective=%u problem=\"open-file limit "
		    "is %llu\"", (unsigned long long)srv->conf->sessions,
		    srv->max_sessions, srv->nofile);
	}
}

/* set_log_level - log.level (or debug with -d) */
static void
set_log_level(const struct conf *cf, int debug)
{
	log_set_level(debug ? LVL_DEBUG :
	    strcmp(cf->log_level, "err") == 0 ? LVL_ERR :
	    strcmp(cf->log_level, "warning") == 0 ? LVL_WARN :
	    strcmp(cf->log_level, "debug") == 0 ? LVL_DEBUG : LVL_INFO);
}

/*
 * Keys a reload applies (the others wait for a restart). "x." is a group;
 * web.* belongs to sluice web, not to sluiced.
 */
static const char *const live_keys[] = {
	"hostname", "banner", "local_domains", "relay_domains",
	"authorized_networks", "refuse_broad_networks", "local_users",
	"recipient_delimiter", "postmaster", "accept_literals",
	"local_addresses", "allow_percent_hack", "allow_bang_path",
	"allow_quoted_at", "log_level", "limits.", "auth.sender_check",
	"auth.sender_logins", "auth.max_failures", "auth.slow_after",
	"auth.window", "auth.block_time", "abuse.rules", "dnsbl.", "web.",
	"deny.", "allow.", NULL
};

/* restart_key - collect a changed key that a reload cannot apply */
static void
restart_key(const char *key, void *arg)
{
	struct buf *b = arg;
	size_t i, n;

	for (i = 0; live_keys[i] != NULL; i++) {
		n = strlen(live_keys[i]);
		if (live_keys[i][n - 1] == '.' ? strncmp(key, live_keys[i], n) == 0 :
		    strcmp(key, live_keys[i]) == 0)
			return;
	}
	(void)buf_printf(b, "%s%s", b->len ? "," : "", key);
}

/*
 * reload - SIGHUP: read the configuration file again. The policy, the
 * lists, the limits and the abuse rules change at once; the counters and
 * the runtime lists stay. What the running process cannot change (the
 * listeners, spool, TLS keys, outbound routing) waits for a restart, and
 * the log says so. A file with errors changes nothing.
 */
static void
reload(struct server *srv)
{
	struct abuse_rule *rules;
	struct policy_conf pc;
	struct policy *np;
	struct conf *nc;
	struct buf restart;
	char err[512], *errs = NULL;
	size_t errlen = 0, i, n = 0;
	FILE *ef;

	if (srv->conf_path == NULL)
		return;
	if ((ef = open_memstream(&errs, &errlen)) == NULL)
		return;
	nc = conf_load(srv->conf_path, ef);
	fclose(ef);
	if (nc == NULL) {
		char q[LOG_QUOTE_MAX];

		log_warn("event=config-reload-failed path=%s action=keeping-"
		    "old errors=%s", srv->conf_path,
		    log_quote(q, sizeof(q), errs, errlen));
		free(errs);
		return;
	}
	free(errs);
	if (nc->hostname[0] == '\0') {
		free(nc->hostname);
		nc->hostname = xstrdup(srv->conf->hostname);
	}
	conf_policy(nc, &pc);
	if ((np = policy_new(&pc, err, sizeof(err))) == NULL) {
		log_warn("event=config-reload-failed problem=\"%s\"", err);
		conf_free(nc);
		return;
	}
	if (check_broad(srv, np, NULL) > 0 && nc->refuse_broad_networks) {
		log_warn("event=config-reload-failed action=keeping-old "
		    "problem=\"a broad network is trusted and "
		    "refuse_broad_networks is set\"");
		policy_free(np);
		conf_free(nc);
		return;
	}
	for (i = 0; nc->abuse_rules && nc->abuse_rules[i]; i++)
		n++;
	rules = xcalloc(n ? n : 1, sizeof(*rules));
	for (i = 0; i < n; i++)
		abuse_parse_rule(nc->abuse_rules[i], &rules[i], err,
		    sizeof(err));
	abuse_set_rules(srv->abuse, rules, n);
	free(rules);
	policy_set_dynlist(np, srv->lists);
	buf_init(&restart, 4096);
	if (conf_diff(srv->conf, nc, restart_key, &restart) > 0 && restart.len)
		log_warn("event=config-reload-partial keys=%s problem=\"these "
		    "change only with a restart\"", buf_cstr(&restart));
	buf_release(&restart);
	set_log_level(nc, srv->debug);
	authfail_set_limits(srv->authfail, (unsigned)nc->auth_max_failures,
	    (unsigned)nc->auth_slow_after, (unsigned)nc->auth_window,
	    (unsigned)nc->auth_block_time);
	srv->params.policy = np;
	srv->params.hostname = nc->hostname;
	srv->params.banner = nc->banner;
	srv->params.max_msgsize = nc->message_size;
	srv->params.max_rcpts = (size_t)nc->recipients;
	srv->params.max_errors = (unsigned)nc->errors;
	srv->params.reject_long_lines = nc->reject_long_lines;
	for (i = 0; i < srv->nlisteners; i++) {
		struct smtp_params *lp = &srv->listeners[i].params;

		lp->policy = np;
		lp->hostname = nc->hostname;
		lp->banner = nc->banner;
		lp->max_msgsize = nc->message_size;
		lp->max_rcpts = (size_t)nc->recipients;
		lp->max_errors = (unsigned)nc->errors;
		lp->reject_long_lines = nc->reject_long_lines;
	}
	/*
	 * Sessions read the policy through their listener's params and the
	 * queue runner (bounce routing) is told here. The old policy and
	 * configuration are kept until exit all the same: a session or a
	 * message under way may hold strings and verdicts that point into
	 * them.
	 */
	runner_set_policy(srv->runner, np);
	srv->old = xreallocarray(srv->old, srv->nold + 1, sizeof(*srv->old));
	srv->old[srv->nold].conf = srv->conf;
	srv->old[srv->nold++].policy = srv->policy;
	srv->policy = np;
	srv->conf = nc;
	set_max_sessions(srv);
	log_info("event=config-reloaded path=%s rules=%zu", srv->conf_path, n);
}

/* hup_cb - SIGHUP: reload the configuration, reopen the log file,
 * reload the passwd file */
static void
hup_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;
	char err[512];

	(void)sig;
	(void)what;
	reload(srv);
	if (log_open("sluiced", srv->conf->log) == -1)
		log_warn("event=log-reopen-failed path=%s", srv->conf->log);
	else
		log_info("event=log-reopened");
	if (srv->conf->auth_passwd[0]) {
		struct passwd_db *db = passwd_load(srv->conf->auth_passwd, err,
		    sizeof(err));

		if (db == NULL) {
			log_warn("event=passwd-reload-failed problem=\"%s\" "
			    "action=keeping-old-file", err);
			return;
		}
		passwd_free(srv->passwd);
		srv->passwd = db;
		log_info("event=passwd-reloaded users=%zu", passwd_count(db));
	}
}

/*
 * setup_tls_auth - the TLS context (a self-signed pair when none is
 * configured), the credentials, and each listener's view of them.
 */
static void
setup_tls_auth(struct server *srv)
{
	struct conf *cf = srv->conf;
	char err[512], cert[4096], key[4096], dir[4096];
	int auth;
	size_t i;

	if (cf->tls_cert[0]) {
		str_copy(cert, sizeof(cert), cf->tls_cert);
		str_copy(key, sizeof(key), cf->tls_key[0] ? cf->tls_key :
		    cf->tls_cert);
	} else {
		snprintf(dir, sizeof(dir), "%s/tls", cf->spool_dir);
		snprintf(cert, sizeof(cert), "%s/selfsigned.crt", dir);
		snprintf(key, sizeof(key), "%s/selfsigned.key", dir);
		if (fs_mkdir_p(dir, 0700) == -1)
			fatal("event=startup-error problem=\"mkdir %s: %s\"",
			    dir, strerror(errno));
		if (tls_selfsigned(cert, key, cf->hostname, err,
		    sizeof(err)) == -1)
			fatal("event=startup-error problem=\"%s\"", err);
	}
	if ((srv->tls = tls_server_ctx(cert, key, err, sizeof(err))) == NULL)
		fatal("event=startup-error problem=\"%s\"", err);
	if (cf->auth_passwd[0] && (srv->passwd = passwd_load(cf->auth_passwd,
	    err, sizeof(err))) == NULL)
		fatal("event=startup-error problem=\"%s\"", err);
	auth = cf->auth_passwd[0] || cf->auth_dovecot[0];
	srv->authfail = authfail_new((unsigned)cf->auth_max_failures,
	    (unsigned)cf->auth_slow_after, (unsigned)cf->auth_window,
	    (unsigned)cf->auth_block_time);
	for (i = 0; i < srv->nlisteners; i++) {
		struct listener *l = &srv->listeners[i];

		l->params = srv->params;
		l->params.starttls = l->role != ROLE_SUBMISSIONS;
		l->params.auth = auth;
		l->params.require_auth = l->role != ROLE_SMTP;
		if (l->role != ROLE_SMTP && !auth)
			log_warn("event=config-warning listener=%s role=%s "
			    "problem=\"no auth.passwd_file or "
			    "auth.dovecot_socket: nobody can send here\"",
			    l->name, role_name(l->role));
	}
}

/* is_held - the runner asks: does an abuse rule hold this source? */
static int
is_held(void *arg, const char *client, const char *user)
{
	struct server *srv = arg;

	return abuse_held(srv->abuse, client, user, time(NULL));
}

/* hold_source - an abuse rule started a hold: its queued mail too */
static void
hold_source(void *arg, const char *ip, const char *user)
{
	struct server *srv = arg;
	struct qsel s;
	size_t n;

	memset(&s, 0, sizeof(s));
	s.held = 0;
	s.bits = -1;
	str_copy(s.by, sizeof(s.by), "abuse-rule");
	if (ip) {
		struct cidr c;

		if (cidr_parse(ip, &c) == -1)
			return;
		s.family = c.family;
		memcpy(s.net, c.addr, 16);
		s.bits = (int)c.bits;
	} else
		str_copy(s.user, sizeof(s.user), user);
	n = runner_hold(srv->runner, &s);
	log_warn("event=abuse-hold source=%s%s queued_held=%zu", ip ? "ip:" :
	    "user:", ip ? ip : user, n);
}

/* expire_cb - once a second: drop runtime list entries that expired */
static void
expire_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	char err[300];
	size_t n;

	(void)fd;
	(void)what;
	if ((n = dynlist_expire(srv->lists, time(NULL))) == 0)
		return;
	log_info("event=list-expired entries=%zu", n);
	if (lists_save(srv->lists_path, srv->lists, err, sizeof(err)) == -1)
		log_err("event=lists-save-failed problem=\"%s\"", err);
}

/*
 * setup_abuse - the counters and rules, the runtime lists (loaded from
 * the spool: they survive restarts), the metrics endpoint.
 */
static void
setup_abuse(struct server *srv)
{
	struct abuse_rule *rules;
	struct timeval sec = { 1, 0 };
	char err[512], path[4096];
	size_t i, n = 0;

	srv->abuse = abuse_new((size_t)srv->conf->abuse_table);
	for (i = 0; srv->conf->abuse_rules && srv->conf->abuse_rules[i]; i++)
		n++;
	rules = xcalloc(n ? n : 1, sizeof(*rules));
	for (i = 0; i < n; i++)
		if (abuse_parse_rule(srv->conf->abuse_rules[i], &rules[i], err,
		    sizeof(err)) == -1)
			fatal("event=startup-error problem=\"%s\"", err);
	abuse_set_rules(srv->abuse, rules, n);
	free(rules);
	abuse_on_hold(srv->abuse, hold_source, srv);
	srv->lists = dynlist_new();
	snprintf(path, sizeof(path), "%s/lists", srv->conf->spool_dir);
	srv->lists_path = xstrdup(path);
	if (lists_load(path, srv->lists, err, sizeof(err)) == -1)
		fatal("event=startup-error problem=\"%s\"", err);
	dynlist_expire(srv->lists, time(NULL));
	policy_set_dynlist(srv->policy, srv->lists);
	srv->expire = event_new(srv->base, -1, EV_PERSIST, expire_cb, srv);
	event_add(srv->expire, &sec);
	if (srv->conf->metrics_listen[0] && (srv->metrics = metrics_new(srv,
	    srv->conf->metrics_listen, err, sizeof(err))) == NULL)
		fatal("event=startup-error problem=\"%s\"", err);
}

/*
 * runner_conf - the queue runner's settings from the configuration (the
 * strings stay owned by the configuration, which lives as long).
 */
static void
runner_conf(struct server *srv, struct runner_conf *rc)
{
	const struct conf *cf = srv->conf;
	char err[256];
	size_t i, n = 0;
	struct sockaddr_storage *self;

	memset(rc, 0, sizeof(*rc));
	rc->maildir_root = cf->maildir_root;
	rc->hostname = cf->hostname;
	rc->retry_min = (unsigned)cf->retry_min;
	rc->retry_max = (unsigned)cf->retry_max;
	rc->lifetime = (unsigned)cf->lifetime;
	rc->delay_warning = (unsigned)cf->delay_warning;
	rc->concurrency = (unsigned)cf->out_concurrency;
	rc->per_destination = (unsigned)cf->per_destination;
	rc->conn_cache_time = (unsigned)cf->conn_cache_time;
	rc->max_hops = (unsigned)cf->max_hops;
	rc->t_connect = (unsigned)cf->out_connect_timeout;
	rc->t_cmd = (unsigned)cf->out_timeout;
	if (cf->relayhost[0] && route_parse(cf->relayhost, &rc->relayhost, err,
	    sizeof(err)) == -1)
		fatal("event=startup-error problem=\"%s\"", err);
	if (cf->relayhost_auth[0]) {
		char *auth = xstrdup(cf->relayhost_auth), *colon;

		colon = strchr(auth, ':');
		*colon = '\0';
		rc->auth_user = auth;
		rc->auth_pass = colon + 1;
	}
	for (i = 0; cf->routes && cf->routes[i]; i++)
		n++;
	rc->routes = xcalloc(n ? n : 1, sizeof(*rc->routes));
	for (i = 0; i < n; i++) {
		char dom[300], hop[300];

		if (sscanf(cf->routes[i], "%299s %299s", dom, hop) != 2 ||
		    route_parse(hop, &rc->routes[i], err, sizeof(err)) == -1)
			fatal("event=startup-error problem=\"bad route %s\"",
			    cf->routes[i]);
		rc->routes[i].pattern = xstrdup(dom);
	}
	rc->nroutes = n;
	rc->tls_required = cf->tls_required;
	rc->policy = srv->policy;
	rc->dns = srv->dns;
	{
		char e2[256];

		if ((rc->ssl_ctx = tls_client_ctx(e2, sizeof(e2))) == NULL)
			fatal("event=startup-error problem=\"%s\"", e2);
	}
	self = xcalloc(srv->nlisteners ? srv->nlisteners : 1, sizeof(*self));
	for (i = 0; i < srv->nlisteners; i++)
		memcpy(&self[i], &srv->listeners[i].ss, sizeof(self[i]));
	rc->self = self;
	rc->nself = srv->nlisteners;
}

/*
 * teardown - free everything (so that a leak checker at exit sees only
 * real leaks); the loop has stopped and no work is in flight.
 */
static void
teardown(struct server *srv, struct runner_conf *rc)
{
	size_t i;

	control_free(srv->control);
	metrics_free(srv->metrics);
	if (srv->stopcheck)
		event_free(srv->stopcheck);
	if (srv->expire)
		event_free(srv->expire);
	listener_stop(srv);
	if (srv->relisten)
		event_free(srv->relisten);
	runner_free(srv->runner);
	spool_free(srv->spool);
	dns_free(srv->dns);
	/* deliver the cancelled lookups' callbacks (they only free) */
	event_base_loop(srv->base, EVLOOP_NONBLOCK);
	for (i = 0; i < rc->nroutes; i++) {
		free(rc->routes[i].pattern);
		free(rc->routes[i].host);
	}
	free(rc->routes);
	free(rc->relayhost.host);
	free((char *)rc->auth_user);
	free((void *)rc->self);
	SSL_CTX_free(rc->ssl_ctx);
	SSL_CTX_free(srv->tls);
	passwd_free(srv->passwd);
	authfail_free(srv->authfail);
	abuse_free(srv->abuse);
	dynlist_free(srv->lists);
	free(srv->lists_path);
	for (i = 0; i < srv->nlisteners; i++)
		cidr_set_free(srv->listeners[i].trusted);
	free(srv->listeners);
	hmap_free(srv->per_ip);
	hmap_free(srv->st.rejections);
	policy_free(srv->policy);
	conf_free(srv->conf);
	for (i = 0; i < srv->nold; i++) {
		policy_free(srv->old[i].policy);
		conf_free(srv->old[i].conf);
	}
	free(srv->old);
	event_base_free(srv->base);
	log_close();
}

/* early_exit - free what -n and -p set up, then return rc */
static int
early_exit(struct server *srv, int rc)
{
	size_t i;

	for (i = 0; i < srv->nlisteners; i++)
		cidr_set_free(srv->listeners[i].trusted);
	free(srv->listeners);
	policy_free(srv->policy);
	conf_free(srv->conf);
	return rc;
}

int
main(int argc, char **argv)
{
	struct server srv;
	const char *path = NULL;
	int ch, check = 0, print = 0, debug = 0;
	char err[512], host[256];
	struct runner_conf rc;
	struct policy_conf pc;
	struct event *sigs[3];
	rlim_t nofile;
	size_t i;

	while ((ch = getopt(argc, argv, "c:npRdV")) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'n': check = 1; break;
		case 'p': print = 1; break;
		case 'd': debug = srv.debug = 1; break;
		case 'R':
			conf_print_reference(stdout);
			return 0;
		case 'V':
			printf("sluiced %s\n", VERSION);
			return 0;
		default: usage();
		}
	}
	if (optind != argc)
		usage();

	memset(&srv, 0, sizeof(srv));
	srv.debug = debug;
	srv.conf_path = path;
	srv.conf = path ? conf_load(path, stderr) : conf_default();
	if (srv.conf == NULL) {
		fprintf(stderr, "sluiced: %s has errors; not starting\n", path);
		return 1;
	}
	/* no hostname configured: the system's (the policy needs it too) */
	if (gethostname(host, sizeof(host)) == -1)
		str_copy(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	conf_policy(srv.conf, &pc);
	if (srv.conf->hostname[0] == '\0')
		pc.hostname = host;
	if ((srv.policy = policy_new(&pc, err, sizeof(err))) == NULL) {
		fprintf(stderr, "sluiced: %s\n", err);
		return 1;
	}
	for (i = 0; srv.conf->listen[i]; i++)
		if (listener_parse(srv.conf->listen[i], &srv.listeners,
		    &srv.nlisteners, err, sizeof(err)) == -1) {
			fprintf(stderr, "sluiced: %s: %s\n", path ? path :
			    "built-in configuration", err);
			return 1;
		}
	if (print) {
		conf_print(srv.conf, stdout);
		return early_exit(&srv, 0);
	}
	log_set_level(LVL_WARN);	/* check_broad logs only on stderr */
	if (check_broad(&srv, srv.policy, stderr) > 0 && srv.conf->refuse_broad_networks) {
		fprintf(stderr, "sluiced: refusing: refuse_broad_networks is "
		    "set\n");
		return early_exit(&srv, 1);
	}
	if (check) {
		printf("sluiced: configuration %s is valid\n",
		    path ? path : "(built-in)");
		return early_exit(&srv, 0);
	}

	if (log_open("sluiced", srv.conf->log) == -1) {
		fprintf(stderr, "sluiced: cannot open log %s: %s\n",
		    srv.conf->log, strerror(errno));
		return 1;
	}
	set_log_level(srv.conf, debug);
	if (srv.conf->hostname[0] == '\0') {
		free(srv.conf->hostname);
		srv.conf->hostname = xstrdup(host);
	}
	signal(SIGPIPE, SIG_IGN);
	nofile = raise_nofile();
	if (nofile < FD_RESERVE * 2)
		fatal("event=startup-error problem=\"open-file limit %llu is "
		    "too low\"", (unsigned long long)nofile);
	srv.nofile = (unsigned long long)nofile;
	set_max_sessions(&srv);
	check_broad(&srv, srv.policy, NULL);

	srv.params.hostname = srv.conf->hostname;
	srv.params.banner = srv.conf->banner;
	srv.params.policy = srv.policy;
	srv.params.max_msgsize = srv.conf->message_size;
	srv.params.max_rcpts = (size_t)srv.conf->recipients;
	srv.params.max_errors = (unsigned)srv.conf->errors;
	srv.params.reject_long_lines = srv.conf->reject_long_lines;
	setup_tls_auth(&srv);
	srv.per_ip = hmap_new();
	srv.idnext = (uint32_t)arc4random();

	if ((srv.base = event_base_new()) == NULL)
		fatal("event=startup-error problem=\"event_base_new failed\"");
	for (i = 0; i < srv.nlisteners; i++)
		if (listener_bind(&srv.listeners[i], err, sizeof(err)) == -1)
			fatal("event=startup-error problem=\"%s\"", err);
	srv.commit_wq = workq_new(srv.base, 1);
	srv.deliver_wq = workq_new(srv.base,
	    (unsigned)srv.conf->delivery_workers);
	if ((srv.spool = spool_open(srv.conf->spool_dir, srv.commit_wq, err,
	    sizeof(err))) == NULL)
		fatal("event=startup-error problem=\"%s\"", err);
	if (fs_mkdir_p(srv.conf->maildir_root, 0700) == -1)
		fatal("event=startup-error problem=\"mkdir %s: %s\"",
		    srv.conf->maildir_root, strerror(errno));
	drop_privileges(srv.conf, srv.conf_path);

	if ((srv.dns = dns_new(srv.base, srv.conf->resolver, 5000, err,
	    sizeof(err))) == NULL)
		fatal("event=startup-error problem=\"%s\"", err);
	runner_conf(&srv, &rc);
	rc.is_held = is_held;
	rc.held_arg = &srv;
	srv.runner = runner_new(srv.base, srv.spool, srv.deliver_wq, &rc);
	setup_abuse(&srv);
	spool_on_queued(srv.spool, runner_add, srv.runner);
	runner_load(srv.runner);
	if (listener_start(&srv) == -1)
		fatal("event=startup-error problem=\"cannot start listeners\"");
	{
		char sock[4096];

		if (srv.conf->control_socket[0])
			str_copy(sock, sizeof(sock), srv.conf->control_socket);
		else {
			struct stat st;

			snprintf(sock, sizeof(sock), "%s/control.sock",
			    srv.conf->spool_dir);
			/* members of our group reach the socket through the
			 * spool: they may pass it (not list it; what is
			 * inside stays 0700) */
			if (stat(srv.conf->spool_dir, &st) == 0 &&
			    !(st.st_mode & S_IXGRP) &&
			    chmod(srv.conf->spool_dir,
			    (st.st_mode & 07777) | S_IXGRP) == -1)
				log_warn("event=config-warning problem=\"chmod "
				    "g+x %s: %s: only root and our user reach "
				    "the control socket\"", srv.conf->spool_dir,
				    strerror(errno));
		}
		if ((srv.control = control_new(srv.base, sock, ctl_handle, &srv,
		    err, sizeof(err))) == NULL)
			fatal("event=startup-error problem=\"%s\"", err);
	}

	sigs[0] = evsignal_new(srv.base, SIGTERM, stop_cb, &srv);
	sigs[1] = evsignal_new(srv.base, SIGINT, stop_cb, &srv);
	sigs[2] = evsignal_new(srv.base, SIGHUP, hup_cb, &srv);
	for (i = 0; i < 3; i++)
		event_add(sigs[i], NULL);
	{
		char names[512] = "";
		size_t o = 0;

		for (i = 0; i < srv.nlisteners && o < sizeof(names) - 70; i++)
			o += (size_t)snprintf(names + o, sizeof(names) - o,
			    "%s%s", i ? "," : "", srv.listeners[i].name);
		log_info("event=started version=%s pid=%ld listen=%s hostname=%s "
		    "config=%s max_sessions=%u", VERSION, (long)getpid(), names,
		    srv.conf->hostname, path ? path : "built-in",
		    srv.max_sessions);
	}

	event_base_dispatch(srv.base);

	log_info("event=stopped sessions=%u", srv.nsessions);
	runner_stop(srv.runner);
	workq_free(srv.commit_wq);	/* finishes what is in flight */
	workq_free(srv.deliver_wq);
	conn_free_all(&srv);
	for (i = 0; i < 3; i++)
		event_free(sigs[i]);
	teardown(&srv, &rc);
	return 0;
}

/*
 * abuse - watching every client, trusted ones too.
 *
 * Counts what each client address and each authenticated user does
 * (policy/counters.h) and applies the configured rules: past a threshold
 * within a window, the source is rate-limited (451 4.7.1), its mail is
 * held (new and already queued: visible and releasable with `sluice
 * queue`), or it is blocked for a while; each trigger writes one alert
 * line. Authorized networks and authenticated users are counted and acted
 * on like anyone (that is how a LAN worm is caught); only allow-listed
 * clients are exempt from the actions.
 *
 * Rules are written "NAME: COUNTER per ip|user >= LIMIT in WINDOW ->
 * ACTION [DURATION]", e.g. "worm: domains per ip >= 100 in 1h -> hold 4h".
 * A user is the authenticated login, or for auth_failures the login tried
 * (compared without case). A rule's hit count survives a reload that
 * keeps its name.
 */
#ifndef SLUICE_ABUSE_H
#define SLUICE_ABUSE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "policy/counters.h"
#include "util/buf.h"

enum abuse_action { ACT_TEMPFAIL, ACT_HOLD, ACT_BLOCK };

struct abuse_rule {
	char		 name[64];
	enum counter	 counter;
	int		 per_user;	/* else per client address */
	uint32_t	 limit;
	unsigned	 window;	/* seconds, at most an hour */
	enum abuse_action action;
	unsigned	 duration;	/* seconds */
	uint64_t	 hits;
};

struct abuse;

int	abuse_parse_rule(const char *text, struct abuse_rule *r, char *err,
	    size_t errsize);
struct abuse *abuse_new(size_t capacity);
void	abuse_free(struct abuse *a);
void	abuse_set_rules(struct abuse *a, const struct abuse_rule *rules,
	    size_t n);
void	abuse_on_hold(struct abuse *a, void (*fn)(void *, const char *ip,
	    const char *user), void *arg);
void	abuse_event(struct abuse *a, const char *ip, const char *user,
	    enum counter c, uint32_t n, const char *domain, int exempt,
	    time_t now);
time_t	abuse_blocked(struct abuse *a, const char *ip, const char *user,
	    time_t now);
time_t	abuse_tempfail(struct abuse *a, const char *ip, const char *user,
	    time_t now);
int	abuse_held(struct abuse *a, const char *ip, const char *user,
	    time_t now);
time_t	abuse_login_refused(struct abuse *a, const char *login, time_t now,
	    char *rule, size_t rulesize);
void	abuse_stats_json(struct abuse *a, struct buf *b, const char *more,
	    time_t now);
size_t	abuse_rules(const struct abuse *a, const struct abuse_rule **r);
struct counters *abuse_counters(struct abuse *a);

#endif

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/abuse.h"
#include "util/json.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xalloc.h"

struct abuse {
	struct counters		*t;
	struct abuse_rule	*rules;
	size_t			 nrules;
	void			(*hold)(void *, const char *, const char *);
	void			*hold_arg;
};

static const char *action_names[] = { "tempfail", "hold", "block" };

/*
 * abuse_parse_rule - "NAME: COUNTER per ip|user >= LIMIT in WINDOW ->
 * ACTION [DURATION]". 0, or -1 with err.
 */
int
abuse_parse_rule(const char *text, struct abuse_rule *r, char *err,
    size_t errsize)
{
	char name[64], counter[32], word[8], per[8], ge[4], in[4], arrow[4],
	    act[16], lim[24], win[24], dur[24] = "1h";
	const char *colon = strchr(text, ':'), *p = text, *e;
	uint64_t v;
	int n, end = 0;

	memset(r, 0, sizeof(*r));
	if (colon == NULL) {
		snprintf(err, errsize, "rule \"%s\": no ':' after the rule's "
		    "name (want \"NAME: COUNTER per ip|user >= LIMIT in WINDOW "
		    "-> ACTION [DURATION]\")", text);
		return -1;
	}
	/* the name: what precedes the colon, blanks around it dropped */
	while (*p == ' ' || *p == '\t')
		p++;
	for (e = colon; e > p && (e[-1] == ' ' || e[-1] == '\t'); e--)
		;
	if (e == p) {
		snprintf(err, errsize, "rule \"%s\": no name before the ':'",
		    text);
		return -1;
	}
	if ((size_t)(e - p) >= sizeof(name)) {
		snprintf(err, errsize, "rule \"%s\": a name is at most %zu "
		    "characters", text, sizeof(name) - 1);
		return -1;
	}
	str_ncopy(name, sizeof(name), p, (size_t)(e - p));
	for (p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
		    *p == '.')) {
			/* it goes into key=value log lines unquoted */
			snprintf(err, errsize, "rule \"%s\": the name \"%s\" "
			    "may hold only letters, digits, '-', '_' and '.'",
			    text, name);
			return -1;
		}
	n = sscanf(colon + 1, " %31s %7s %7s %3s %23s %3s %23s %3s %15s "
	    "%23s %n", counter, word, per, ge, lim, in, win, arrow, act, dur,
	    &end);
	if (n == 10 && colon[1 + end] != '\0')
		goto bad;	/* words after the duration: a typo, not ignored */
	if (n < 9 || strcmp(word, "per") != 0 || strcmp(ge, ">=") != 0 ||
	    strcmp(in, "in") != 0 ||
	    strcmp(arrow, "->") != 0)
		goto bad;
	if (counter_parse(counter, &r->counter) == -1) {
		snprintf(err, errsize, "rule \"%s\": unknown counter %s", text,
		    counter);
		return -1;
	}
	if (strcmp(per, "ip") == 0)
		r->per_user = 0;
	else if (strcmp(per, "user") == 0)
		r->per_user = 1;
	else
		goto bad;
	if (str_parse_u64(lim, 1, UINT32_MAX, &v) == -1)
		goto bad;
	r->limit = (uint32_t)v;
	if (str_parse_duration(win, &v) == -1 || v < 60 || v > 3600) {
		snprintf(err, errsize, "rule \"%s\": window from 1m to 1h", text);
		return -1;
	}
	r->window = (unsigned)v;
	if (r->counter == CNT_DOMAINS && r->limit > COUNTERS_DOMAINS) {
		snprintf(err, errsize, "rule \"%s\": at most %d distinct "
		    "domains are counted", text, COUNTERS_DOMAINS);
		return -1;
	}
	if (r->per_user && r->counter == CNT_CONNECTIONS) {
		snprintf(err, errsize, "rule \"%s\": connections are counted "
		    "per ip only (no user is known yet)", text);
		return -1;
	}
	if (strcmp(act, "tempfail") == 0)
		r->action = ACT_TEMPFAIL;
	else if (strcmp(act, "hold") == 0)
		r->action = ACT_HOLD;
	else if (strcmp(act, "block") == 0)
		r->action = ACT_BLOCK;
	else
		goto bad;
	if (str_parse_duration(dur, &v) == -1 || v == 0 || v > 30 * 86400)
		goto bad;
	r->duration = (unsigned)v;
	str_copy(r->name, sizeof(r->name), name);
	return 0;
bad:
	snprintf(err, errsize, "rule \"%s\": want \"NAME: COUNTER per ip|user "
	    ">= LIMIT in WINDOW -> tempfail|hold|block [DURATION]\"", text);
	return -1;
}

/* abuse_new - a table of capacity sources */
struct abuse *
abuse_new(size_t capacity)
{
	struct abuse *a = xcalloc(1, sizeof(*a));

	a->t = counters_new(capacity);
	return a;
}

void
abuse_free(struct abuse *a)
{
	if (a == NULL)
		return;
	counters_free(a->t);
	free(a->rules);
	free(a);
}

/*
 * abuse_set_rules - replace the rules (a config reload). The counters
 * stay, and so does the hit count of each rule whose name survives.
 */
void
abuse_set_rules(struct abuse *a, const struct abuse_rule *rules, size_t n)
{
	struct abuse_rule *nr = xcalloc(n ? n : 1, sizeof(*nr));
	size_t i, j;

	memcpy(nr, rules, n * sizeof(*rules));
	for (i = 0; i < n; i++) {
		nr[i].hits = 0;
		for (j = 0; j < a->nrules; j++)
			if (strcmp(nr[i].name, a->rules[j].name) == 0) {
				nr[i].hits = a->rules[j].hits;
				break;
			}
	}
	free(a->rules);
	a->rules = nr;
	a->nrules = n;
}

/* abuse_on_hold - called when a hold starts, to hold queued mail too */
void
abuse_on_hold(struct abuse *a, void (*fn)(void *, const char *,
    const char *), void *arg)
{
	a->hold = fn;
	a->hold_arg = arg;
}

/*
 * key - "ip:ADDR" or "user:NAME"; a login is compared without case (the
 * passwd file's are), so "Alice" and "alice" are one source
 */
static void
key(char *dst, size_t dstsize, int user, const char *v)
{
	snprintf(dst, dstsize, "%s:%s", user ? "user" : "ip", v);
	if (user)
		str_lower(dst);
}

/* apply - a rule fired for k */
static void
apply(struct abuse *a, struct abuse_rule *r, struct ckey *k, uint32_t value,
    int exempt, const char *ip, const char *user, time_t now)
{
	time_t until = now + (time_t)r->duration;
	time_t *slot = r->action == ACT_BLOCK ? &k->blocked_until :
	    r->action == ACT_HOLD ? &k->held_until : &k->tempfail_until;
	char q[LOG_QUOTE_MAX];

	if (*slot > now || (exempt && k->noted_until > now))
		return;		/* in force already: one alert per trigger */
	r->hits++;
	log_warn("event=abuse-alert rule=%s source=%s counter=%s value=%u "
	    "limit=%u window=%us action=%s duration=%us%s", r->name,
	    log_quotes(q, sizeof(q), k->name), counter_name(r->counter), value,
	    r->limit, r->window, exempt ? "none" : action_names[r->action],
	    r->duration, exempt ? " reason=allow-listed" : "");
	if (exempt) {
		/* not acted on; remembered so the alert is not repeated */
		k->noted_until = until;
		return;
	}
	*slot = until;
	str_copy(k->why[r->action == ACT_BLOCK ? 0 : r->action == ACT_HOLD ?
	    1 : 2], sizeof(k->why[0]), r->name);
	if (r->action == ACT_HOLD && a->hold)
		a->hold(a->hold_arg, r->per_user ? NULL : ip,
		    r->per_user ? user : NULL);
}

/* event - count for one source and check its rules */
static void
event(struct abuse *a, int per_user, const char *who, const char *ip,
    const char *user, enum counter c, uint32_t n, const char *domain,
    int exempt, time_t now)
{
	char name[80];
	struct ckey *k;
	size_t i;

	key(name, sizeof(name), per_user, who);
	if ((k = counters_get(a->t, name, now, 1)) == NULL)
		return;
	if (c == CNT_DOMAINS)
		counters_domain(k, domain, now);
	else
		counters_add(k, c, n, now);
	for (i = 0; i < a->nrules; i++) {
		struct abuse_rule *r = &a->rules[i];
		uint32_t sum;

		if (r->per_user != per_user || r->counter != c)
			continue;
		sum = counters_sum(k, c, r->window, now);
		if (sum >= r->limit)
			apply(a, r, k, sum, exempt, ip, user, now);
	}
}

/*
 * abuse_event - n events of kind c from a client (and its user, if
 * authenticated); c == CNT_DOMAINS counts domain once per distinct value.
 * exempt: the client is allow-listed (counted, not acted on).
 */
void
abuse_event(struct abuse *a, const char *ip, const char *user,
    enum counter c, uint32_t n, const char *domain, int exempt, time_t now)
{
	event(a, 0, ip, ip, user, c, n, domain, exempt, now);
	if (user && *user)
		event(a, 1, user, ip, user, c, n, domain, exempt, now);
}

/* until - the later of the two sources' times for a slot */
static time_t
until(struct abuse *a, const char *ip, const char *user, time_t now,
    size_t off)
{
	char name[80];
	struct ckey *k;
	time_t t = 0;

	key(name, sizeof(name), 0, ip ? ip : "");
	if (ip && (k = counters_get(a->t, name, now, 0)) != NULL)
		t = *(time_t *)((char *)k + off);
	if (user && *user) {
		key(name, sizeof(name), 1, user);
		if ((k = counters_get(a->t, name, now, 0)) != NULL &&
		    *(time_t *)((char *)k + off) > t)
			t = *(time_t *)((char *)k + off);
	}
	return t > now ? t : 0;
}

/* abuse_blocked - blocked until when (0: not blocked) */
time_t
abuse_blocked(struct abuse *a, const char *ip, const char *user, time_t now)
{
	return until(a, ip, user, now, offsetof(struct ckey, blocked_until));
}

/* abuse_tempfail - rate-limited until when (0: not) */
time_t
abuse_tempfail(struct abuse *a, const char *ip, const char *user, time_t now)
{
	return until(a, ip, user, now, offsetof(struct ckey, tempfail_until));
}

/* counts_auth - does the rule of that name count AUTH failures? */
static int
counts_auth(const struct abuse *a, const char *name)
{
	size_t i;

	for (i = 0; i < a->nrules; i++)
		if (strcmp(a->rules[i].name, name) == 0)
			return a->rules[i].counter == CNT_AUTH_FAILURES;
	return 0;
}

/*
 * abuse_login_refused - may nobody log in as this user now? True while
 * the user is blocked (by any rule), or rate-limited by a rule counting
 * AUTH failures (a password guessed at from many addresses); a message
 * rate limit only answers MAIL and RCPT. The rule's name goes to rule.
 * Until when, or 0.
 */
time_t
abuse_login_refused(struct abuse *a, const char *login, time_t now,
    char *rule, size_t rulesize)
{
	char name[80];
	struct ckey *k;

	key(name, sizeof(name), 1, login);
	if ((k = counters_get(a->t, name, now, 0)) == NULL)
		return 0;
	if (k->blocked_until > now) {
		str_copy(rule, rulesize, k->why[0]);
		return k->blocked_until;
	}
	if (k->tempfail_until > now && counts_auth(a, k->why[2])) {
		str_copy(rule, rulesize, k->why[2]);
		return k->tempfail_until;
	}
	return 0;
}

/* abuse_held - is new mail from this source to be held? */
int
abuse_held(struct abuse *a, const char *ip, const char *user, time_t now)
{
	return until(a, ip, user, now, offsetof(struct ckey, held_until)) != 0;
}

/* abuse_rules - the rules in force */
size_t
abuse_rules(const struct abuse *a, const struct abuse_rule **r)
{
	*r = a->rules;
	return a->nrules;
}

struct counters *
abuse_counters(struct abuse *a)
{
	return a->t;
}

/* top - the n keys with the most events of c in the last hour */
static void
top(struct abuse *a, struct buf *b, enum counter c, size_t n, time_t now)
{
	struct ckey **best = xcalloc(n, sizeof(*best));
	uint32_t *val = xcalloc(n, sizeof(*val));
	struct ckey *k;
	size_t i, j, got = 0;

	for (k = counters_first(a->t); k; k = k->next) {
		uint32_t v = counters_sum(k, c, 3600, now);

		if (v == 0)
			continue;
		for (i = 0; i < got && val[i] >= v; i++)
			;
		if (i >= n)
			continue;
		if (got < n)
			got++;
		for (j = got - 1; j > i; j--) {
			best[j] = best[j - 1];
			val[j] = val[j - 1];
		}
		best[i] = k;
		val[i] = v;
	}
	(void)buf_putc(b, '[');
	for (i = 0; i < got; i++) {
		(void)buf_puts(b, i ? ",{" : "{");
		json_kv_str(b, 0, "source", best[i]->name);
		json_kv_int(b, 1, "count", val[i]);
		(void)buf_putc(b, '}');
	}
	(void)buf_putc(b, ']');
	free(best);
	free(val);
}

/*
 * abuse_stats_json - members for `sluice stats`. more: other actions in
 * force (JSON objects separated by commas, e.g. AUTH blocks), or NULL.
 */
void
abuse_stats_json(struct abuse *a, struct buf *b, const char *more,
    time_t now)
{
	struct ckey *k;
	size_t i, n = 0;

	(void)buf_puts(b, "\"sources\":{");
	json_kv_int(b, 0, "tracked", (long long)counters_count(a->t));
	json_kv_int(b, 1, "capacity", (long long)counters_capacity(a->t));
	json_kv_int(b, 1, "memory_bytes", (long long)counters_memory(a->t));
	json_kv_int(b, 1, "evictions", (long long)counters_evictions(a->t));
	(void)buf_puts(b, "},\"top_messages\":");
	top(a, b, CNT_MESSAGES, 10, now);
	(void)buf_puts(b, ",\"top_rejections\":");
	top(a, b, CNT_REJECTIONS, 10, now);
	(void)buf_puts(b, ",\"actions\":[");
	for (k = counters_first(a->t); k; k = k->next) {
		static const char *what[] = { "block", "hold", "tempfail" };
		time_t t[3] = { k->blocked_until, k->held_until,
		    k->tempfail_until };

		for (i = 0; i < 3; i++) {
			if (t[i] <= now)
				continue;
			(void)buf_puts(b, n++ ? ",{" : "{");
			json_kv_str(b, 0, "source", k->name);
			json_kv_str(b, 1, "action", what[i]);
			json_kv_int(b, 1, "until", (long long)t[i]);
			json_kv_str(b, 1, "rule", k->why[i]);
			(void)buf_putc(b, '}');
		}
	}
	if (more && *more) {
		if (n++)
			(void)buf_putc(b, ',');
		(void)buf_puts(b, more);
	}
	(void)buf_puts(b, "],\"rules\":[");
	for (i = 0; i < a->nrules; i++) {
		(void)buf_puts(b, i ? ",{" : "{");
		json_kv_str(b, 0, "name", a->rules[i].name);
		json_kv_str(b, 1, "counter", counter_name(a->rules[i].counter));
		json_kv_str(b, 1, "per", a->rules[i].per_user ? "user" : "ip");
		json_kv_int(b, 1, "limit", a->rules[i].limit);
		json_kv_int(b, 1, "window", a->rules[i].window);
		json_kv_str(b, 1, "action", action_names[a->rules[i].action]);
		json_kv_int(b, 1, "hits", (long long)a->rules[i].hits);
		(void)buf_putc(b, '}');
	}
	(void)buf_putc(b, ']');
}

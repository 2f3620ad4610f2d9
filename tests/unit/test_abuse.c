/*
 * test_abuse - the abuse rules (server/abuse): parsing "NAME: COUNTER per
 * ip|user >= LIMIT in WINDOW -> ACTION DURATION", and what abuse_event,
 * abuse_blocked, abuse_tempfail and abuse_held do on a fixed clock: a
 * rule fires at its limit within its window, acts for its duration, logs
 * one alert per trigger, holds through the callback, leaves allow-listed
 * (exempt) sources alone, and keeps its counts across a rule reload.
 */
#include <stdlib.h>

#include "unit.h"

#include "server/abuse.h"
#include "util/buf.h"
#include "util/log.h"

#define T0	((time_t)1800000000 - (time_t)1800000000 % 60)

/* ---- parsing ---- */

struct parse_case {
	const char	*name;
	const char	*text;
	int		 ok;		/* 0 or -1 */
	/* ok only: */
	const char	*rname;
	enum counter	 counter;
	int		 per_user;
	uint32_t	 limit;
	unsigned	 window;
	enum abuse_action action;
	unsigned	 duration;
	/* -1 only: the error mentions this */
	const char	*err;
};

static const struct parse_case parse_cases[] = {
	/* the built-in defaults */
	{ "default unknown-recipients", "unknown-recipients: "
	    "unknown_recipients per ip >= 100 in 10m -> block 1h", 0,
	    "unknown-recipients", CNT_UNKNOWN_RCPTS, 0, 100, 600, ACT_BLOCK,
	    3600 },
	{ "default relay-probing", "relay-probing: relay_denied per ip >= 100 "
	    "in 10m -> block 1h", 0, "relay-probing", CNT_RELAY_DENIED, 0, 100,
	    600, ACT_BLOCK, 3600 },
	{ "default worm-domains", "worm-domains: domains per ip >= 100 in 1h "
	    "-> hold 4h", 0, "worm-domains", CNT_DOMAINS, 0, 100, 3600,
	    ACT_HOLD, 4 * 3600 },
	{ "default worm-domains-user", "worm-domains-user: domains per user "
	    ">= 100 in 1h -> hold 4h", 0, "worm-domains-user", CNT_DOMAINS, 1,
	    100, 3600, ACT_HOLD, 4 * 3600 },
	{ "default message-rate", "message-rate: messages per ip >= 1000 in "
	    "1h -> tempfail 15m", 0, "message-rate", CNT_MESSAGES, 0, 1000,
	    3600, ACT_TEMPFAIL, 900 },
	{ "default message-rate-user", "message-rate-user: messages per user "
	    ">= 1000 in 1h -> tempfail 15m", 0, "message-rate-user",
	    CNT_MESSAGES, 1, 1000, 3600, ACT_TEMPFAIL, 900 },
	/* every counter, the bounds */
	{ "connections, smallest values", "c: connections per ip >= 1 in 1m "
	    "-> tempfail 1s", 0, "c", CNT_CONNECTIONS, 0, 1, 60, ACT_TEMPFAIL,
	    1 },
	{ "recipients per user", "r: recipients per user >= 500 in 30m -> "
	    "block 2h", 0, "r", CNT_RECIPIENTS, 1, 500, 1800, ACT_BLOCK, 7200 },
	{ "auth failures, seconds", "a: auth_failures per ip >= 5 in 3600s -> "
	    "block 300s", 0, "a", CNT_AUTH_FAILURES, 0, 5, 3600, ACT_BLOCK,
	    300 },
	{ "kbytes, largest values", "k: kbytes per user >= 4294967295 in 60m "
	    "-> hold 30d", 0, "k", CNT_KBYTES, 1, 4294967295u, 3600, ACT_HOLD,
	    30 * 86400 },
	{ "rejections, 60s window", "rej: rejections per ip >= 10 in 60s -> "
	    "tempfail 5m", 0, "rej", CNT_REJECTIONS, 0, 10, 60, ACT_TEMPFAIL,
	    300 },
	{ "duration left out: an hour", "d: messages per ip >= 5 in 1m -> "
	    "block", 0, "d", CNT_MESSAGES, 0, 5, 60, ACT_BLOCK, 3600 },
	{ "extra blanks", "  spaced:   messages   per   ip   >=   5   in   2m  "
	    "  ->   hold   2h  ", 0, "spaced", CNT_MESSAGES, 0, 5, 120,
	    ACT_HOLD, 7200 },
	{ "weeks", "w: messages per ip >= 5 in 1m -> block 1w", 0, "w",
	    CNT_MESSAGES, 0, 5, 60, ACT_BLOCK, 7 * 86400 },

	{ "domains at the most that is counted", "d: domains per ip >= "
	    "128 in 1h -> hold 1h", 0, "d", CNT_DOMAINS, 0, COUNTERS_DOMAINS,
	    3600, ACT_HOLD, 3600 },
	{ "auth failures per user (the login tried)", "guess: auth_failures "
	    "per user >= 20 in 1h -> block 1h", 0, "guess", CNT_AUTH_FAILURES,
	    1, 20, 3600, ACT_BLOCK, 3600 },
	{ "name at the longest", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaa: messages per ip >= 5 in 1m -> block 1h", 0,
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    CNT_MESSAGES, 0, 5, 60, ACT_BLOCK, 3600 },
	{ "blanks around the name", "  spaced-name  : messages per ip >= 5 in "
	    "1m -> block 1h", 0, "spaced-name", CNT_MESSAGES, 0, 5, 60,
	    ACT_BLOCK, 3600 },
	{ "name with dots and underscores", "worm_v2.lan-1: domains per user "
	    ">= 50 in 1h -> hold 4h", 0, "worm_v2.lan-1", CNT_DOMAINS, 1, 50,
	    3600, ACT_HOLD, 4 * 3600 },

	/* refused */
	{ "more domains than are counted", "d: domains per ip >= 129 in 1h -> "
	    "hold 1h", -1, .err = "distinct" },
	{ "connections per user (no user at connect)", "c: connections per "
	    "user >= 5 in 1m -> block 1h", -1, .err = "per ip only" },
	{ "empty", "", -1, .err = "no ':'" },
	{ "blanks", "   ", -1, .err = "no ':'" },
	{ "no name", ": messages per ip >= 5 in 1m -> block 1h", -1,
	    .err = "no name before the ':'" },
	{ "blank name", "   : messages per ip >= 5 in 1m -> block 1h", -1,
	    .err = "no name before the ':'" },
	/* the error says what is wrong, not that the name is bad */
	{ "no colon", "x messages per ip >= 5 in 1m -> block 1h", -1,
	    .err = "no ':' after the rule's name" },
	{ "name too long", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaa: messages per ip >= 5 in 1m -> block 1h", -1,
	    .err = "at most 63 characters" },
	{ "unknown counter", "x: bytes per ip >= 5 in 1m -> block 1h", -1,
	    .err = "unknown counter bytes" },
	{ "per host", "x: messages per host >= 5 in 1m -> block 1h", -1 },
	{ "by ip", "x: messages by ip >= 5 in 1m -> block 1h", -1 },
	{ "greater than", "x: messages per ip > 5 in 1m -> block 1h", -1 },
	{ "limit 0", "x: messages per ip >= 0 in 1m -> block 1h", -1 },
	{ "negative limit", "x: messages per ip >= -1 in 1m -> block 1h", -1 },
	{ "limit over 32 bits", "x: messages per ip >= 4294967296 in 1m -> "
	    "block 1h", -1 },
	{ "limit with a unit", "x: messages per ip >= 5k in 1m -> block 1h",
	    -1 },
	{ "no window", "x: messages per ip >= 5 -> block 1h", -1 },
	{ "window 30s", "x: messages per ip >= 5 in 30s -> block 1h", -1,
	    .err = "window from 1m to 1h" },
	{ "window 59s", "x: messages per ip >= 5 in 59s -> block 1h", -1,
	    .err = "window from 1m to 1h" },
	{ "window 61m", "x: messages per ip >= 5 in 61m -> block 1h", -1,
	    .err = "window from 1m to 1h" },
	{ "window 2h", "x: messages per ip >= 5 in 2h -> block 1h", -1,
	    .err = "window from 1m to 1h" },
	{ "window not a duration", "x: messages per ip >= 5 in soon -> block "
	    "1h", -1 },
	{ "fat arrow", "x: messages per ip >= 5 in 1m => block 1h", -1 },
	{ "unknown action", "x: messages per ip >= 5 in 1m -> drop 1h", -1 },
	{ "action case", "x: messages per ip >= 5 in 1m -> Block 1h", -1 },
	{ "duration 0", "x: messages per ip >= 5 in 1m -> block 0s", -1 },
	{ "duration over 30 days", "x: messages per ip >= 5 in 1m -> block 31d",
	    -1 },
	{ "duration not a duration", "x: messages per ip >= 5 in 1m -> block "
	    "forever", -1 },
	/* what follows the duration is not silently dropped: "4 h" is not
	 * four seconds, and a typo does not pass unnoticed */
	{ "unit apart from the number", "x: messages per ip >= 5 in 1m -> hold "
	    "4 h", -1 },
	{ "trailing words", "x: messages per ip >= 5 in 1m -> block 1h now",
	    -1 },
	/* the name goes into key=value log lines unquoted (rule=NAME) */
	{ "blank in the name", "my rule: messages per ip >= 5 in 1m -> block "
	    "1h", -1, .err = "the name \"my rule\" may hold only letters, "
	    "digits, '-', '_' and '.'" },
	{ "'=' in the name", "a=b: messages per ip >= 5 in 1m -> block 1h",
	    -1, .err = "may hold only letters" },
	{ "a colon later, none after the name", "my rule -> block 1h: x", -1,
	    .err = "may hold only letters" },
};

/* parse - the table */
static void
parse(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(parse_cases); i++) {
		const struct parse_case *pc = &parse_cases[i];
		struct abuse_rule r;
		char err[512] = "";
		int rc = abuse_parse_rule(pc->text, &r, err, sizeof(err));

		if (!CHECK_INT(pc->name, rc, pc->ok))
			continue;
		if (rc == -1) {
			CHECK_TRUE(pc->name, err[0] != '\0');
			if (pc->err)
				CHECK_HAS(pc->name, err, pc->err);
			continue;
		}
		CHECK_STR(pc->name, r.name, pc->rname);
		CHECK_INT(pc->name, r.counter, pc->counter);
		CHECK_INT(pc->name, r.per_user, pc->per_user);
		CHECK_UINT(pc->name, r.limit, pc->limit);
		CHECK_UINT(pc->name, r.window, pc->window);
		CHECK_INT(pc->name, r.action, pc->action);
		CHECK_UINT(pc->name, r.duration, pc->duration);
		CHECK_UINT(pc->name, r.hits, 0);
	}
	UNIT_DONE();
}

/* ---- behaviour ---- */

/* The log lines of the running test. */
struct logcap {
	char	lines[64][1024];
	int	n;
};

static struct logcap cap;

static void
capture(void *arg, const char *line)
{
	struct logcap *c = arg;

	if (c->n < (int)NELEM(c->lines))
		snprintf(c->lines[c->n], sizeof(c->lines[0]), "%s", line);
	c->n++;
}

/* alerts - captured lines with event=abuse-alert (and needle, if any) */
static int
alerts(const char *needle)
{
	int i, n = 0;

	for (i = 0; i < cap.n && i < (int)NELEM(cap.lines); i++)
		if (strstr(cap.lines[i], "event=abuse-alert") &&
		    (needle == NULL || strstr(cap.lines[i], needle)))
			n++;
	return n;
}

/* The hold callback's calls. */
struct holds {
	int	n;
	char	ip[64], user[64];
};

static void
on_hold(void *arg, const char *ip, const char *user)
{
	struct holds *h = arg;

	h->n++;
	snprintf(h->ip, sizeof(h->ip), "%s", ip ? ip : "(null)");
	snprintf(h->user, sizeof(h->user), "%s", user ? user : "(null)");
}

/* with_rules - a table of capacity with these rules (which must parse) */
static struct abuse *
with_rules(size_t capacity, const char *const *texts, size_t n)
{
	struct abuse *a = abuse_new(capacity);
	struct abuse_rule rules[16];
	char err[512];
	size_t i;

	assert_true(n <= NELEM(rules));
	for (i = 0; i < n; i++)
		if (abuse_parse_rule(texts[i], &rules[i], err, sizeof(err)) ==
		    -1)
			fail_msg("rule does not parse: %s", err);
	abuse_set_rules(a, rules, n);
	return a;
}

static int
setup(void **state)
{
	(void)state;
	memset(&cap, 0, sizeof(cap));
	log_open("test_abuse", "/dev/null");
	log_set_capture(capture, &cap);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	log_set_capture(NULL, NULL);
	log_set_level(LVL_INFO);
	return 0;
}

/* block - at the limit within the window; for the duration; one alert */
static void
block(void **state)
{
	static const char *const r[] = {
		"blk: messages per ip >= 3 in 1m -> block 10m" };
	struct abuse *a = with_rules(64, r, 1);
	const struct abuse_rule *rules;
	const char *ip = "192.0.2.10";

	(void)state;
	log_set_level(LVL_WARN);	/* the alert is a warning: still seen */
	abuse_event(a, ip, NULL, CNT_MESSAGES, 1, NULL, 0, T0);
	abuse_event(a, ip, NULL, CNT_MESSAGES, 1, NULL, 0, T0 + 1);
	CHECK_TRUE("under the limit", abuse_blocked(a, ip, NULL, T0 + 1) == 0);
	CHECK_INT("no alert yet", alerts(NULL), 0);
	abuse_event(a, ip, NULL, CNT_MESSAGES, 1, NULL, 0, T0 + 2);
	CHECK_TRUE("at the limit: blocked for 10m",
	    abuse_blocked(a, ip, NULL, T0 + 2) == T0 + 2 + 600);
	CHECK_TRUE("not rate-limited", abuse_tempfail(a, ip, NULL, T0 + 2) ==
	    0);
	CHECK_TRUE("not held", !abuse_held(a, ip, NULL, T0 + 2));
	CHECK_TRUE("another address is not blocked",
	    abuse_blocked(a, "192.0.2.11", NULL, T0 + 2) == 0);
	CHECK_TRUE("a user on the address is blocked with it",
	    abuse_blocked(a, ip, "alice", T0 + 2) == T0 + 2 + 600);
	CHECK_INT("one alert", alerts(NULL), 1);
	CHECK_INT("the alert line", alerts("rule=blk source=ip:192.0.2.10 "
	    "counter=messages value=3 limit=3 window=60s action=block "
	    "duration=600s"), 1);
	/* more events while blocked: no more alerts */
	abuse_event(a, ip, NULL, CNT_MESSAGES, 5, NULL, 0, T0 + 3);
	CHECK_INT("still one alert", alerts(NULL), 1);
	CHECK_UINT("one hit", abuse_rules(a, &rules) == 1 ? rules[0].hits :
	    99, 1);
	CHECK_TRUE("blocked until the end", abuse_blocked(a, ip, NULL,
	    T0 + 2 + 599) == T0 + 2 + 600);
	CHECK_TRUE("free after it", abuse_blocked(a, ip, NULL, T0 + 2 + 600) ==
	    0);
	/* a new burst later triggers again, with a new alert */
	abuse_event(a, ip, NULL, CNT_MESSAGES, 3, NULL, 0, T0 + 700);
	CHECK_TRUE("blocked again", abuse_blocked(a, ip, NULL, T0 + 700) ==
	    T0 + 700 + 600);
	CHECK_INT("second alert", alerts(NULL), 2);
	CHECK_UINT("two hits", rules[0].hits, 2);
	abuse_free(a);
	UNIT_DONE();
}

/* window - events spread wider than the window do not add up */
static void
window(void **state)
{
	static const char *const r[] = {
		"one: unknown_recipients per ip >= 3 in 1m -> tempfail 5m",
		"two: unknown_recipients per ip >= 3 in 2m -> block 5m" };
	struct abuse *a = with_rules(64, r, 2);
	const char *ip = "192.0.2.20";

	(void)state;
	abuse_event(a, ip, NULL, CNT_UNKNOWN_RCPTS, 2, NULL, 0, T0 + 50);
	abuse_event(a, ip, NULL, CNT_UNKNOWN_RCPTS, 1, NULL, 0, T0 + 70);
	CHECK_TRUE("1m window: 1 in this minute",
	    abuse_tempfail(a, ip, NULL, T0 + 70) == 0);
	CHECK_TRUE("2m window: 3", abuse_blocked(a, ip, NULL, T0 + 70) ==
	    T0 + 70 + 300);
	CHECK_INT("one alert", alerts(NULL), 1);
	CHECK_INT("for rule two", alerts("rule=two "), 1);
	/* other counters do not feed the rule */
	abuse_event(a, "192.0.2.21", NULL, CNT_RECIPIENTS, 50, NULL, 0, T0);
	abuse_event(a, "192.0.2.21", NULL, CNT_REJECTIONS, 50, NULL, 0, T0);
	CHECK_TRUE("other counters", abuse_blocked(a, "192.0.2.21", NULL, T0) ==
	    0 && abuse_tempfail(a, "192.0.2.21", NULL, T0) == 0);
	abuse_free(a);
	UNIT_DONE();
}

/* hold - the hold starts once, calls back once, and ends */
static void
hold(void **state)
{
	static const char *const r[] = {
		"worm: domains per ip >= 5 in 10m -> hold 1h",
		"worm-user: domains per user >= 8 in 10m -> hold 2h" };
	struct abuse *a = with_rules(64, r, 2);
	struct holds h;
	const char *ip = "127.0.0.5";
	char d[64];
	int i;

	(void)state;
	memset(&h, 0, sizeof(h));
	abuse_on_hold(a, on_hold, &h);
	/* the same few domains again and again: no hold */
	for (i = 0; i < 40; i++) {
		snprintf(d, sizeof(d), "d%d.example", i % 4);
		abuse_event(a, ip, NULL, CNT_DOMAINS, 1, d, 0, T0 + i);
	}
	CHECK_TRUE("4 distinct domains", !abuse_held(a, ip, NULL, T0 + 40));
	CHECK_INT("no callback", h.n, 0);
	abuse_event(a, ip, NULL, CNT_DOMAINS, 1, "d4.example", 0, T0 + 41);
	CHECK_TRUE("the 5th distinct domain: held", abuse_held(a, ip, NULL,
	    T0 + 41));
	CHECK_INT("one callback", h.n, 1);
	CHECK_STR("for the address", h.ip, ip);
	CHECK_STR("not a user", h.user, "(null)");
	CHECK_INT("one alert", alerts("rule=worm source=ip:127.0.0.5 "
	    "counter=domains value=5 limit=5 window=600s action=hold "
	    "duration=3600s"), 1);
	for (i = 5; i < 30; i++) {
		snprintf(d, sizeof(d), "d%d.example", i);
		abuse_event(a, ip, NULL, CNT_DOMAINS, 1, d, 0, T0 + 42);
	}
	CHECK_INT("still one callback", h.n, 1);
	CHECK_INT("still one alert", alerts(NULL), 1);
	CHECK_TRUE("held for the hour", abuse_held(a, ip, NULL,
	    T0 + 41 + 3599));
	CHECK_TRUE("released after it", !abuse_held(a, ip, NULL,
	    T0 + 41 + 3600));
	CHECK_TRUE("no block, no rate limit", abuse_blocked(a, ip, NULL,
	    T0 + 42) == 0 && abuse_tempfail(a, ip, NULL, T0 + 42) == 0);

	/* per user: from any address */
	memset(&h, 0, sizeof(h));
	for (i = 0; i < 8; i++) {
		snprintf(d, sizeof(d), "u%d.example", i);
		abuse_event(a, i % 2 ? "192.0.2.30" : "192.0.2.31", "mallory",
		    CNT_DOMAINS, 1, d, 0, T0 + 100);
	}
	CHECK_INT("one callback for the user", h.n, 1);
	CHECK_STR("for the user", h.user, "mallory");
	CHECK_STR("not an address", h.ip, "(null)");
	CHECK_TRUE("the user is held anywhere", abuse_held(a, "203.0.113.9",
	    "mallory", T0 + 101));
	CHECK_TRUE("the addresses are not (4 domains each)",
	    !abuse_held(a, "192.0.2.30", NULL, T0 + 101) &&
	    !abuse_held(a, "192.0.2.31", NULL, T0 + 101));
	CHECK_TRUE("another user is not", !abuse_held(a, "192.0.2.30", "bob",
	    T0 + 101));
	CHECK_INT("the user's alert", alerts("rule=worm-user source=user:"
	    "mallory "), 1);
	abuse_free(a);
	UNIT_DONE();
}

/* tempfail - a rate limit */
static void
tempfail(void **state)
{
	static const char *const r[] = {
		"rate: messages per user >= 10 in 1h -> tempfail 15m" };
	struct abuse *a = with_rules(64, r, 1);
	int i;

	(void)state;
	for (i = 0; i < 9; i++)
		abuse_event(a, "192.0.2.40", "carol", CNT_MESSAGES, 1, NULL, 0,
		    T0 + i * 60);
	CHECK_TRUE("nine", abuse_tempfail(a, "192.0.2.40", "carol",
	    T0 + 9 * 60) == 0);
	abuse_event(a, "192.0.2.41", "carol", CNT_MESSAGES, 1, NULL, 0,
	    T0 + 9 * 60);
	CHECK_TRUE("ten: limited", abuse_tempfail(a, "192.0.2.40", "carol",
	    T0 + 9 * 60) == T0 + 9 * 60 + 900);
	CHECK_TRUE("per user, not per address",
	    abuse_tempfail(a, "192.0.2.40", NULL, T0 + 9 * 60) == 0);
	CHECK_TRUE("not blocked", abuse_blocked(a, "192.0.2.40", "carol",
	    T0 + 9 * 60) == 0);
	CHECK_INT("one alert", alerts("action=tempfail duration=900s"), 1);
	abuse_free(a);
	UNIT_DONE();
}

/* exempt - allow-listed: counted, one alert, never acted on */
static void
exempt(void **state)
{
	static const char *const r[] = {
		"blk: connections per ip >= 2 in 1m -> block 10m",
		"hld: messages per ip >= 2 in 1m -> hold 10m" };
	struct abuse *a = with_rules(64, r, 2);
	const struct abuse_rule *rules;
	struct holds h;
	const char *ip = "192.0.2.50";
	int i;

	(void)state;
	memset(&h, 0, sizeof(h));
	abuse_on_hold(a, on_hold, &h);
	for (i = 0; i < 10; i++)
		abuse_event(a, ip, NULL, CNT_CONNECTIONS, 1, NULL, 1, T0 + i);
	CHECK_TRUE("not blocked", abuse_blocked(a, ip, NULL, T0 + 10) == 0);
	CHECK_INT("one alert, no action", alerts("rule=blk source=ip:"
	    "192.0.2.50 counter=connections value=2 limit=2 window=60s "
	    "action=none duration=600s reason=allow-listed"), 1);
	CHECK_INT("only one", alerts(NULL), 1);
	CHECK_UINT("the rule counts its hit", abuse_rules(a, &rules) == 2 ?
	    rules[0].hits : 99, 1);
	abuse_event(a, ip, NULL, CNT_MESSAGES, 5, NULL, 1, T0 + 11);
	CHECK_TRUE("not held", !abuse_held(a, ip, NULL, T0 + 11));
	CHECK_INT("no hold callback", h.n, 0);
	/* the same source, no longer allow-listed, is acted on */
	abuse_event(a, ip, NULL, CNT_CONNECTIONS, 1, NULL, 0, T0 + 12);
	CHECK_TRUE("blocked once not exempt", abuse_blocked(a, ip, NULL,
	    T0 + 12) == T0 + 12 + 600);
	abuse_free(a);
	UNIT_DONE();
}

/* reload - new rules keep the counts (a config reload) */
static void
reload(void **state)
{
	static const char *const r1[] = {
		"old: messages per ip >= 100 in 1h -> block 1h" };
	static const char *const r2[] = {
		"new: messages per ip >= 5 in 1h -> block 1h" };
	struct abuse *a = with_rules(64, r1, 1);
	struct abuse_rule rule;
	const struct abuse_rule *rules;
	char err[256];

	(void)state;
	abuse_event(a, "192.0.2.60", NULL, CNT_MESSAGES, 4, NULL, 0, T0);
	CHECK_TRUE("under the old rule", abuse_blocked(a, "192.0.2.60", NULL,
	    T0) == 0);
	assert_int_equal(abuse_parse_rule(r2[0], &rule, err, sizeof(err)), 0);
	abuse_set_rules(a, &rule, 1);
	CHECK_UINT("one rule", abuse_rules(a, &rules), 1);
	CHECK_STR("the new one", rules[0].name, "new");
	abuse_event(a, "192.0.2.60", NULL, CNT_MESSAGES, 1, NULL, 0, T0 + 60);
	CHECK_TRUE("4 before the reload + 1 after", abuse_blocked(a,
	    "192.0.2.60", NULL, T0 + 60) == T0 + 60 + 3600);
	CHECK_UINT("the new rule fired once", rules[0].hits, 1);
	/* a reload with the same rule and another: its hits stay (they are
	 * sluice_abuse_alerts_total, a Prometheus counter), the other's 0 */
	{
		struct abuse_rule two[2];

		assert_int_equal(abuse_parse_rule("other: messages per ip >= "
		    "50 in 1h -> block 1h", &two[0], err, sizeof(err)), 0);
		two[1] = rule;
		two[1].hits = 0;	/* as parsed anew */
		two[1].limit = 7;	/* the rule may change, not its name */
		abuse_set_rules(a, two, 2);
		CHECK_UINT("two rules", abuse_rules(a, &rules), 2);
		CHECK_STR("order of the file", rules[1].name, "new");
		CHECK_UINT("new: hits survive the reload", rules[1].hits, 1);
		CHECK_UINT("new: changed limit applies", rules[1].limit, 7);
		CHECK_UINT("other: a new name starts at 0", rules[0].hits, 0);
		abuse_set_rules(a, two, 2);	/* rules is stale now */
		CHECK_UINT("again: still 1", abuse_rules(a, &rules) == 2 ?
		    rules[1].hits : 99, 1);
		assert_int_equal(abuse_parse_rule("renamed: messages per ip >= "
		    "5 in 1h -> block 1h", &two[1], err, sizeof(err)), 0);
		abuse_set_rules(a, two, 2);
		CHECK_UINT("renamed: a new rule, 0 hits", abuse_rules(a,
		    &rules) == 2 ? rules[1].hits : 99, 0);
	}
	abuse_set_rules(a, &rule, 0);	/* as a reload to "rules = [ ]" does */
	CHECK_UINT("no rules", abuse_rules(a, &rules), 0);
	CHECK_TRUE("the block stays", abuse_blocked(a, "192.0.2.60", NULL,
	    T0 + 61) != 0);
	abuse_event(a, "192.0.2.61", NULL, CNT_MESSAGES, 1000, NULL, 0, T0);
	CHECK_TRUE("no rules, no action", abuse_blocked(a, "192.0.2.61", NULL,
	    T0) == 0);
	abuse_free(a);
	UNIT_DONE();
}

/*
 * login_guessing - AUTH failures counted per login tried, from many
 * addresses: a per-user rule refuses that login (any case), not others,
 * and leaves the addresses alone
 */
static void
login_guessing(void **state)
{
	static const char *const r[] = {
		"guess-ip: auth_failures per ip >= 5 in 1h -> block 1h",
		"guess-user: auth_failures per user >= 10 in 1h -> block 30m",
		"slow-user: auth_failures per user >= 3 in 1h -> tempfail 10m" };
	struct abuse *a = with_rules(256, r, 3);
	char ip[32], rule[64] = "";
	int i;

	(void)state;
	/* one failure from each of 9 addresses: no address reaches 5 */
	for (i = 0; i < 9; i++) {
		snprintf(ip, sizeof(ip), "203.0.113.%d", i + 1);
		abuse_event(a, ip, i % 2 ? "Alice" : "alice", CNT_AUTH_FAILURES,
		    1, NULL, 0, T0 + i);
	}
	CHECK_TRUE("3 failures: the login is rate-limited",
	    abuse_login_refused(a, "alice", T0 + 9, rule, sizeof(rule)) ==
	    T0 + 2 + 600);
	CHECK_STR("by slow-user", rule, "slow-user");
	CHECK_TRUE("not blocked yet", abuse_blocked(a, NULL, "alice",
	    T0 + 9) == 0);
	abuse_event(a, "203.0.113.10", "ALICE", CNT_AUTH_FAILURES, 1, NULL, 0,
	    T0 + 10);
	CHECK_TRUE("10 failures, any case: blocked",
	    abuse_login_refused(a, "aLiCe", T0 + 10, rule, sizeof(rule)) ==
	    T0 + 10 + 1800);
	CHECK_STR("by guess-user", rule, "guess-user");
	CHECK_INT("one alert for the user", alerts("rule=guess-user "
	    "source=user:alice counter=auth_failures value=10 limit=10"), 1);
	CHECK_TRUE("another login is not refused",
	    abuse_login_refused(a, "bob", T0 + 10, rule, sizeof(rule)) == 0);
	CHECK_TRUE("no address is blocked", abuse_blocked(a, "203.0.113.1",
	    NULL, T0 + 10) == 0);
	CHECK_INT("no per-ip alert", alerts("rule=guess-ip"), 0);
	CHECK_TRUE("the block ends", abuse_login_refused(a, "alice",
	    T0 + 10 + 1800, rule, sizeof(rule)) == 0);
	abuse_free(a);
	/* a message rate limit does not refuse the login; a block does */
	{
		static const char *const r2[] = {
			"rate-user: messages per user >= 2 in 1h -> tempfail "
			"10m",
			"flood-user: recipients per user >= 5 in 1h -> block "
			"10m" };

		a = with_rules(64, r2, 2);
		abuse_event(a, "192.0.2.90", "carol", CNT_MESSAGES, 2, NULL, 0,
		    T0);
		CHECK_TRUE("carol is rate-limited", abuse_tempfail(a,
		    "192.0.2.90", "carol", T0) != 0);
		CHECK_TRUE("but may log in", abuse_login_refused(a, "carol",
		    T0, rule, sizeof(rule)) == 0);
		abuse_event(a, "192.0.2.90", "carol", CNT_RECIPIENTS, 5, NULL,
		    0, T0);
		CHECK_TRUE("blocked: may not", abuse_login_refused(a, "Carol",
		    T0, rule, sizeof(rule)) == T0 + 600);
		CHECK_STR("by flood-user", rule, "flood-user");
		abuse_free(a);
	}
	UNIT_DONE();
}

/* stats_more - other actions in force (AUTH blocks) join the list */
static void
stats_more(void **state)
{
	static const char *const r[] = {
		"blk: messages per ip >= 1 in 1m -> block 10m" };
	struct abuse *a = with_rules(64, r, 1);
	const char *more = "{\"source\":\"ip:198.51.100.9\",\"action\":"
	    "\"auth-block\",\"until\":5,\"rule\":\"auth.max_failures\"}";
	struct buf b;

	(void)state;
	buf_init(&b, 1 << 20);
	abuse_stats_json(a, &b, more, T0);
	CHECK_HAS("alone", buf_cstr(&b), "\"actions\":[{\"source\":"
	    "\"ip:198.51.100.9\",\"action\":\"auth-block\",");
	abuse_event(a, "192.0.2.80", NULL, CNT_MESSAGES, 1, NULL, 0, T0);
	buf_reset(&b);
	abuse_stats_json(a, &b, more, T0);
	CHECK_HAS("after the rule's, a comma between", buf_cstr(&b),
	    "\"rule\":\"blk\"},{\"source\":\"ip:198.51.100.9\"");
	buf_release(&b);
	abuse_free(a);
	UNIT_DONE();
}

/* defaults - the built-in rules: a worm is held, an office is not */
static const char *const default_rules[] = {
	"unknown-recipients: unknown_recipients per ip >= 100 in 10m -> "
	"block 1h",
	"relay-probing: relay_denied per ip >= 100 in 10m -> block 1h",
	"worm-domains: domains per ip >= 100 in 1h -> hold 4h",
	"worm-domains-user: domains per user >= 100 in 1h -> hold 4h",
	"message-rate: messages per ip >= 1000 in 1h -> tempfail 15m",
	"message-rate-user: messages per user >= 1000 in 1h -> tempfail 15m",
};

static void
defaults(void **state)
{
	struct abuse *a = with_rules(8192, default_rules,
	    NELEM(default_rules));
	char ip[32], d[64];
	int i, c;

	(void)state;
	/* an office: 5 clients, 40 messages each over an hour, 3 recipients
	 * in 20 domains, a few typos */
	for (c = 0; c < 5; c++) {
		snprintf(ip, sizeof(ip), "10.1.1.%d", c + 10);
		for (i = 0; i < 40; i++) {
			time_t now = T0 + i * 90;

			abuse_event(a, ip, NULL, CNT_CONNECTIONS, 1, NULL, 0,
			    now);
			abuse_event(a, ip, NULL, CNT_MESSAGES, 1, NULL, 0, now);
			abuse_event(a, ip, NULL, CNT_RECIPIENTS, 3, NULL, 0,
			    now);
			snprintf(d, sizeof(d), "partner%d.example", i % 20);
			abuse_event(a, ip, NULL, CNT_DOMAINS, 1, d, 0, now);
			if (i % 10 == 0)
				abuse_event(a, ip, NULL, CNT_UNKNOWN_RCPTS, 1,
				    NULL, 0, now);
		}
	}
	CHECK_INT("an office: no alert", alerts(NULL), 0);
	/* a worm: 150 domains in a few minutes */
	for (i = 0; i < 150; i++) {
		snprintf(d, sizeof(d), "victim%d.example", i);
		abuse_event(a, "10.1.1.99", NULL, CNT_MESSAGES, 1, NULL, 0,
		    T0 + 4000 + i);
		abuse_event(a, "10.1.1.99", NULL, CNT_DOMAINS, 1, d, 0,
		    T0 + 4000 + i);
	}
	CHECK_TRUE("a worm writing to 150 domains is held",
	    abuse_held(a, "10.1.1.99", NULL, T0 + 4150));
	CHECK_INT("with one alert", alerts("rule=worm-domains "), 1);
	/* a worm guessing local users */
	for (i = 0; i < 105; i++)
		abuse_event(a, "10.1.1.98", NULL, CNT_UNKNOWN_RCPTS, 1, NULL, 0,
		    T0 + 4000 + i);
	CHECK_TRUE("105 unknown recipients: blocked",
	    abuse_blocked(a, "10.1.1.98", NULL, T0 + 4105) != 0);
	abuse_free(a);
	UNIT_DONE();
}

/* bounded - the abuse table stays within its size under a flood */
static void
bounded(void **state)
{
	static const char *const r[] = {
		"c: connections per ip >= 3 in 1m -> block 1h" };
	struct abuse *a = with_rules(16, r, 1);
	size_t mem = counters_memory(abuse_counters(a));
	char ip[32];
	int i;

	(void)state;
	for (i = 0; i < 3; i++)
		abuse_event(a, "198.51.100.1", NULL, CNT_CONNECTIONS, 1, NULL, 0,
		    T0);
	for (i = 0; i < 10000; i++) {
		snprintf(ip, sizeof(ip), "10.2.%d.%d", i / 256, i % 256);
		abuse_event(a, ip, NULL, CNT_CONNECTIONS, 1, NULL, 0, T0 + 1);
	}
	/* the man pages (abuse.table_size) say 2,512 bytes, about 2.5 KB */
	CHECK_UINT("the size of an entry, as documented", sizeof(struct ckey),
	    2512);
	CHECK_UINT("bounded", counters_count(abuse_counters(a)), 16);
	CHECK_UINT("memory", counters_memory(abuse_counters(a)), mem);
	CHECK_TRUE("the blocked source is remembered",
	    abuse_blocked(a, "198.51.100.1", NULL, T0 + 2) == T0 + 3600);
	abuse_free(a);
	UNIT_DONE();
}

/* stats - the JSON for `sluice stats` */
static void
stats(void **state)
{
	static const char *const r[] = {
		"blk: messages per ip >= 3 in 1m -> block 10m",
		"hld: domains per user >= 2 in 1m -> hold 1h" };
	struct abuse *a = with_rules(64, r, 2);
	struct buf b;
	char want[256];

	(void)state;
	abuse_event(a, "192.0.2.70", NULL, CNT_MESSAGES, 3, NULL, 0, T0);
	abuse_event(a, "192.0.2.71", NULL, CNT_MESSAGES, 1, NULL, 0, T0);
	abuse_event(a, "192.0.2.72", "dave", CNT_DOMAINS, 1, "a.example", 0,
	    T0);
	abuse_event(a, "192.0.2.72", "dave", CNT_DOMAINS, 1, "b.example", 0,
	    T0);
	buf_init(&b, 1 << 20);
	(void)buf_putc(&b, '{');
	abuse_stats_json(a, &b, NULL, T0 + 1);
	(void)buf_putc(&b, '}');
	CHECK_HAS("tracked", buf_cstr(&b), "\"sources\":{\"tracked\":4,"
	    "\"capacity\":64,");
	CHECK_HAS("top", buf_cstr(&b), "\"top_messages\":[{\"source\":"
	    "\"ip:192.0.2.70\",\"count\":3},{\"source\":\"ip:192.0.2.71\","
	    "\"count\":1}]");
	snprintf(want, sizeof(want), "{\"source\":\"ip:192.0.2.70\","
	    "\"action\":\"block\",\"until\":%lld,\"rule\":\"blk\"}",
	    (long long)(T0 + 600));
	CHECK_HAS("block in force", buf_cstr(&b), want);
	snprintf(want, sizeof(want), "{\"source\":\"user:dave\","
	    "\"action\":\"hold\",\"until\":%lld,\"rule\":\"hld\"}",
	    (long long)(T0 + 3600));
	CHECK_HAS("hold in force", buf_cstr(&b), want);
	CHECK_HAS("rules", buf_cstr(&b), "{\"name\":\"blk\",\"counter\":"
	    "\"messages\",\"per\":\"ip\",\"limit\":3,\"window\":60,"
	    "\"action\":\"block\",\"hits\":1}");
	buf_release(&b);
	abuse_free(a);
	UNIT_DONE();
}

/* stats_two_actions - one source, two rules: each action names its own */
static void
stats_two_actions(void **state)
{
	static const char *const r[] = {
		"worm-domains: domains per ip >= 2 in 10m -> hold 1h",
		"worm-unknown: unknown_recipients per ip >= 2 in 10m -> tempfail "
		"10m" };
	struct abuse *a = with_rules(64, r, 2);
	struct buf b;
	char want[256];

	(void)state;
	abuse_event(a, "127.0.0.5", NULL, CNT_DOMAINS, 1, "a.example", 0, T0);
	abuse_event(a, "127.0.0.5", NULL, CNT_DOMAINS, 1, "b.example", 0, T0);
	abuse_event(a, "127.0.0.5", NULL, CNT_UNKNOWN_RCPTS, 2, NULL, 0,
	    T0 + 1);
	buf_init(&b, 1 << 20);
	(void)buf_putc(&b, '{');
	abuse_stats_json(a, &b, NULL, T0 + 2);
	(void)buf_putc(&b, '}');
	snprintf(want, sizeof(want), "{\"source\":\"ip:127.0.0.5\","
	    "\"action\":\"hold\",\"until\":%lld,\"rule\":\"worm-domains\"}",
	    (long long)(T0 + 3600));
	CHECK_HAS("the hold names its rule", buf_cstr(&b), want);
	snprintf(want, sizeof(want), "{\"source\":\"ip:127.0.0.5\","
	    "\"action\":\"tempfail\",\"until\":%lld,\"rule\":"
	    "\"worm-unknown\"}", (long long)(T0 + 1 + 600));
	CHECK_HAS("the rate limit names its rule", buf_cstr(&b), want);
	buf_reset(&b);
	(void)buf_putc(&b, '{');
	abuse_stats_json(a, &b, NULL, T0 + 7200);
	CHECK_HAS("nothing in force later", buf_cstr(&b), "\"actions\":[]");
	buf_release(&b);
	abuse_free(a);
	UNIT_DONE();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse),
		cmocka_unit_test_setup_teardown(block, setup, teardown),
		cmocka_unit_test_setup_teardown(window, setup, teardown),
		cmocka_unit_test_setup_teardown(hold, setup, teardown),
		cmocka_unit_test_setup_teardown(tempfail, setup, teardown),
		cmocka_unit_test_setup_teardown(exempt, setup, teardown),
		cmocka_unit_test_setup_teardown(reload, setup, teardown),
		cmocka_unit_test_setup_teardown(defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(stats, setup, teardown),
		cmocka_unit_test_setup_teardown(stats_two_actions, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(login_guessing, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(stats_more, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

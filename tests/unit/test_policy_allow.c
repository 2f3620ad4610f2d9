/*
 * test_policy_allow - what the policy says about allow-list hits (the
 * verdict's allow field, which the server logs with event=allow-hit): the
 * configuration's entries and runtime ones, at connect, HELO, MAIL and
 * RCPT, with the entry's pattern and reason; nothing when no allow entry
 * applied. And postmaster at the server's own hostname: accepted from
 * anyone, a DNSBL-listed client included, like postmaster at a local
 * domain.
 */
#include <arpa/inet.h>

#include "unit.h"

#include "policy/cidr.h"
#include "policy/dynlist.h"
#include "policy/policy.h"

static char *local_domains[] = { "example.com", NULL };
static char *networks[] = { "192.0.2.0/24", NULL };
static char *users[] = { "alice", NULL };

static struct policy_entry deny_clients[] = {
	{ "203.0.113.0/24", NULL, "spam run" },
};
static struct policy_entry allow_clients[] = {
	{ "203.0.113.7", NULL, "partner" },
	{ "198.51.100.0/24", NULL, NULL },
};
static struct policy_entry deny_helo[] = {
	{ ".bad.example", NULL, NULL },
};
static struct policy_entry allow_helo[] = {
	{ "ok.bad.example", NULL, "their relay" },
};
static struct policy_entry deny_senders[] = {
	{ "evil.example", NULL, NULL },
};
static struct policy_entry allow_senders[] = {
	{ "ok@evil.example", NULL, "billing" },
};
static struct policy_entry deny_rcpts[] = {
	{ "example.com", NULL, NULL },
};
static struct policy_entry allow_rcpts[] = {
	{ "alice@example.com", NULL, "the boss" },
};

/* make - the policy, with the runtime lists d (or NULL) */
static struct policy *
make(const struct dynlist *d)
{
	struct policy_conf pc;
	char err[256] = "";
	struct policy *p;

	memset(&pc, 0, sizeof(pc));
	pc.local_domains = local_domains;
	pc.authorized_networks = networks;
	pc.local_users = users;
	pc.postmaster = "admin";
	pc.hostname = "mx.test";
	pc.deny_clients = deny_clients;
	pc.n_deny_clients = NELEM(deny_clients);
	pc.allow_clients = allow_clients;
	pc.n_allow_clients = NELEM(allow_clients);
	pc.deny_helo = deny_helo;
	pc.n_deny_helo = NELEM(deny_helo);
	pc.allow_helo = allow_helo;
	pc.n_allow_helo = NELEM(allow_helo);
	pc.deny_senders = deny_senders;
	pc.n_deny_senders = NELEM(deny_senders);
	pc.allow_senders = allow_senders;
	pc.n_allow_senders = NELEM(allow_senders);
	pc.deny_recipients = deny_rcpts;
	pc.n_deny_recipients = NELEM(deny_rcpts);
	pc.allow_recipients = allow_rcpts;
	pc.n_allow_recipients = NELEM(allow_rcpts);
	if ((p = policy_new(&pc, err, sizeof(err))) == NULL)
		fail_msg("policy_new: %s", err);
	policy_set_dynlist(p, d);
	return p;
}

/* client - a client at ip */
static struct policy_client
client(const char *ip)
{
	struct policy_client c;

	memset(&c, 0, sizeof(c));
	if (cidr_parse_ip(ip, &c.family, c.ip) == -1)
		fail_msg("bad test ip %s", ip);
	snprintf(c.ipstr, sizeof(c.ipstr), "%s", ip);
	return c;
}

/* path - parse a path for the test, or fail */
static struct addr
path(const char *s)
{
	struct addr a;
	size_t used;

	if (addr_parse_path(s, strlen(s), ADDR_ALLOW_NULL |
	    ADDR_ALLOW_POSTMASTER, &a, &used) != ADDR_OK)
		fail_msg("bad test path %s", s);
	return a;
}

/* runtime - the runtime lists of the test */
static struct dynlist *
runtime(void)
{
	static const struct {
		enum dl_kind kind;
		enum dl_type type;
		const char *pattern, *reason;
	} e[] = {
		{ DL_ALLOW, DL_CLIENT, "192.0.2.128/25", "lab" },
		{ DL_ALLOW, DL_HELO, ".partner.example", "" },
		{ DL_ALLOW, DL_SENDER, "boss@", "vip" },
		{ DL_ALLOW, DL_RECIPIENT, "bob@example.com", "new hire" },
		{ DL_DENY, DL_SENDER, "boss@", "never seen" },
	};
	struct dynlist *d = dynlist_new();
	char err[256];
	size_t i;

	for (i = 0; i < NELEM(e); i++) {
		struct dl_entry x;

		memset(&x, 0, sizeof(x));
		x.kind = e[i].kind;
		x.type = e[i].type;
		snprintf(x.pattern, sizeof(x.pattern), "%s", e[i].pattern);
		snprintf(x.reason, sizeof(x.reason), "%s", e[i].reason);
		if (dynlist_add(d, &x, err, sizeof(err)) == -1)
			fail_msg("dynlist_add: %s", err);
	}
	return d;
}

enum step { CONNECT, HELO, MAIL, RCPT };

struct hit_case {
	const char	*name;
	enum step	 step;
	const char	*ip;
	const char	*in;		/* HELO name or path */
	enum verdict_kind kind;
	const char	*allow;		/* "": no allow entry applied */
};

static const struct hit_case hit_cases[] = {
	/* the configuration's entries */
	{ "client, with reason", CONNECT, "203.0.113.7", NULL, POLICY_ACCEPT,
	    "allow-client:203.0.113.7 reason=partner" },
	{ "client network, no reason", CONNECT, "198.51.100.9", NULL,
	    POLICY_ACCEPT, "allow-client:198.51.100.0/24" },
	{ "client denied", CONNECT, "203.0.113.9", NULL, POLICY_REJECT, "" },
	{ "client on no list", CONNECT, "192.0.2.9", NULL, POLICY_ACCEPT,
	    "" },
	{ "helo", HELO, "192.0.2.9", "ok.bad.example", POLICY_ACCEPT,
	    "allow-helo:ok.bad.example reason=their relay" },
	{ "helo, root dot", HELO, "192.0.2.9", "OK.bad.example.",
	    POLICY_ACCEPT, "allow-helo:ok.bad.example reason=their relay" },
	{ "helo denied", HELO, "192.0.2.9", "x.bad.example", POLICY_REJECT,
	    "" },
	{ "helo on no list", HELO, "192.0.2.9", "mail.example.org",
	    POLICY_ACCEPT, "" },
	{ "sender", MAIL, "192.0.2.9", "<ok@evil.example>", POLICY_ACCEPT,
	    "allow-sender:ok@evil.example reason=billing" },
	{ "sender denied", MAIL, "192.0.2.9", "<x@evil.example>",
	    POLICY_REJECT, "" },
	{ "null sender", MAIL, "192.0.2.9", "<>", POLICY_ACCEPT, "" },
	{ "recipient", RCPT, "203.0.113.50", "<alice@example.com>",
	    POLICY_ACCEPT, "allow-recipient:alice@example.com reason=the "
	    "boss" },
	{ "recipient denied", RCPT, "203.0.113.50", "<carol@example.com>",
	    POLICY_REJECT, "" },
	{ "look-alike recipient: no hit", RCPT, "203.0.113.50",
	    "<alice@example.com.evil.example>", POLICY_REJECT, "" },
	/* runtime entries */
	{ "runtime client", CONNECT, "192.0.2.200", NULL, POLICY_ACCEPT,
	    "runtime-allow-client:192.0.2.128/25 reason=lab" },
	{ "runtime helo, no reason", HELO, "192.0.2.9", "mx.partner.example",
	    POLICY_ACCEPT, "runtime-allow-helo:.partner.example" },
	{ "runtime sender beats a runtime deny", MAIL, "192.0.2.9",
	    "<boss@anywhere.example>", POLICY_ACCEPT,
	    "runtime-allow-sender:boss@ reason=vip" },
	/* a hit even when another rule refuses (bob is no user here) */
	{ "runtime recipient beats the file's deny", RCPT, "203.0.113.50",
	    "<bob@example.com>", POLICY_REJECT, "runtime-allow-recipient:"
	    "bob@example.com reason=new hire" },
};

/* hits - the table */
static void
hits(void **state)
{
	struct dynlist *d = runtime();
	struct policy *p = make(d);
	struct addr from = path("<>");
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(hit_cases); i++) {
		const struct hit_case *t = &hit_cases[i];
		struct policy_client c = client(t->ip);
		struct verdict v;
		struct addr a;

		memset(&v, 0xa5, sizeof(v));
		switch (t->step) {
		case CONNECT:
			policy_connect(p, &c, &v);
			break;
		case HELO:
			policy_helo(p, &c, t->in, &v);
			break;
		case MAIL:
			a = path(t->in);
			policy_mail(p, &c, &a, &v);
			break;
		case RCPT:
			a = path(t->in);
			policy_rcpt(p, &c, &from, &a, &v);
			break;
		}
		CHECK_INT(t->name, v.kind, t->kind);
		CHECK_STR(t->name, v.allow, t->allow);
	}
	policy_free(p);
	dynlist_free(d);
	UNIT_DONE();
}

/*
 * postmaster_hostname - <postmaster@HOSTNAME> from a listed client is
 * accepted and goes to the postmaster mailbox; its other recipients are
 * refused with the listing
 */
static void
postmaster_hostname(void **state)
{
	struct policy *p = make(NULL);
	struct policy_client c = client("203.0.113.50");
	struct addr from = path("<x@foreign.example>");
	struct addr pm = path("<Postmaster@MX.TEST>");
	struct addr other = path("<alice@mx.test>");
	struct verdict v;

	(void)state;
	c.dnsbl = "bl.test";
	c.dnsbl_txt = "listed";
	policy_rcpt(p, &c, &from, &pm, &v);
	CHECK_INT("listed client, postmaster@hostname", v.kind,
	    POLICY_ACCEPT);
	CHECK_INT("delivered here", v.cls, RCPT_LOCAL);
	CHECK_STR("to the postmaster mailbox", v.mailbox, "admin");
	CHECK_STR("rule", v.rule, "postmaster:mx.test");
	policy_rcpt(p, &c, &from, &other, &v);
	CHECK_INT("listed client, user@hostname", v.kind, POLICY_REJECT);
	CHECK_STR("the listing", v.rule, "dnsbl:bl.test");
	c.dnsbl = NULL;
	policy_rcpt(p, &c, &from, &other, &v);
	CHECK_STR("unlisted: user@hostname is relaying", v.rule,
	    "relay-denied");
	CHECK_TRUE("the hostname is no local domain",
	    !policy_is_local_domain(p, "mx.test"));
	policy_free(p);
	UNIT_DONE();
}

/* no_hostname - without a hostname nothing more is accepted */
static void
no_hostname(void **state)
{
	struct policy_conf pc;
	struct policy *p;
	struct policy_client c = client("203.0.113.50");
	struct addr from = path("<>");
	struct addr pm = path("<postmaster@mx.test>");
	char err[256];
	struct verdict v;

	(void)state;
	memset(&pc, 0, sizeof(pc));
	pc.local_domains = local_domains;
	pc.hostname = "";
	if ((p = policy_new(&pc, err, sizeof(err))) == NULL)
		fail_msg("policy_new: %s", err);
	policy_rcpt(p, &c, &from, &pm, &v);
	CHECK_STR("empty hostname", v.rule, "relay-denied");
	policy_free(p);
	UNIT_DONE();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hits),
		cmocka_unit_test(postmaster_hostname),
		cmocka_unit_test(no_hostname),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

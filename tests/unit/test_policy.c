/*
 * test_policy - the relay rules (policy/policy): every relay trick against
 * a policy built with policy_new, for every kind of client and sender.
 */
#include <arpa/inet.h>

#include "unit.h"

#include "policy/cidr.h"
#include "policy/policy.h"

/* policy variants */
#define V_PERCENT	0x01
#define V_BANG		0x02
#define V_QUOTED	0x04
#define V_NOLIT		0x08
#define V_NOUSERS	0x10

static char *local_domains[] = { "example.com", ".lan.example.com", "ex",
    NULL };
static char *relay_domains[] = { "backup.example", NULL };
static char *networks[] = { "192.0.2.0/24", "192.0.2.128/25",
    "2001:db8:1::/48", NULL };
static char *users[] = { "alice", "Bob@Example.com", "abuse", NULL };
static char *addresses[] = { "198.51.100.1", "2001:db8::25", NULL };

static struct policy_entry deny_rcpts[] = {
	{ "victim@example.com", "550 5.1.1 gone", NULL },
	{ "abuse@", NULL, "spamtrap" },
};
static struct policy_entry allow_rcpts[] = {
	{ "abuse@example.com", NULL, NULL },
	{ "abuse@foreign.example", NULL, NULL },
};

/* base_conf - the configuration every test starts from */
static void
base_conf(struct policy_conf *pc, unsigned variant)
{
	memset(pc, 0, sizeof(*pc));
	pc->local_domains = local_domains;
	pc->relay_domains = relay_domains;
	pc->authorized_networks = networks;
	pc->local_users = variant & V_NOUSERS ? NULL : users;
	pc->local_addresses = addresses;
	pc->accept_literals = !(variant & V_NOLIT);
	pc->allow_percent_hack = !!(variant & V_PERCENT);
	pc->allow_bang_path = !!(variant & V_BANG);
	pc->allow_quoted_at = !!(variant & V_QUOTED);
	pc->recipient_delimiter = '+';
	pc->postmaster = "admin";
	pc->hostname = "MX.Example.NET.";	/* not a local domain */
	pc->deny_recipients = deny_rcpts;
	pc->n_deny_recipients = NELEM(deny_rcpts);
	pc->allow_recipients = allow_rcpts;
	pc->n_allow_recipients = NELEM(allow_rcpts);
}

/* make - a policy for the variant, or the test fails */
static struct policy *
make(unsigned variant)
{
	struct policy_conf pc;
	char err[256] = "";
	struct policy *p;

	base_conf(&pc, variant);
	p = policy_new(&pc, err, sizeof(err));
	if (p == NULL)
		fail_msg("policy_new: %s", err);
	return p;
}

/* client - a client at ip, authenticated as auth (or NULL) */
static struct policy_client
client(const char *ip, const char *auth)
{
	struct policy_client c;

	memset(&c, 0, sizeof(c));
	if (cidr_parse_ip(ip, &c.family, c.ip) == -1)
		fail_msg("bad test ip %s", ip);
	snprintf(c.ipstr, sizeof(c.ipstr), "%s", ip);
	c.auth_user = auth;
	return c;
}

/* path - parse a path for the test, or fail */
static struct addr
path(const char *s, unsigned opts)
{
	struct addr a;
	size_t used;

	if (addr_parse_path(s, strlen(s), opts, &a, &used) != ADDR_OK)
		fail_msg("bad test path %s", s);
	return a;
}

enum who { U, T24, T25, T6, MAPPED, MAPPED_U, U6, AUTH };

static const struct {
	const char *ip, *auth;
} clients[] = {
	[U] = { "203.0.113.9", NULL },
	[T24] = { "192.0.2.10", NULL },
	[T25] = { "192.0.2.200", NULL },
	[T6] = { "2001:db8:1::5", NULL },
	[MAPPED] = { "::ffff:192.0.2.10", NULL },
	[MAPPED_U] = { "::ffff:203.0.113.9", NULL },
	[U6] = { "2001:db8:2::1", NULL },
	[AUTH] = { "203.0.113.9", "carol" },
};

/* Every case is decided the same for each of these senders. */
static const char *senders[] = { "<>", "<alice@example.com>",
    "<postmaster@example.com>", "<Admin@EXAMPLE.COM>",
    "<x@foreign.example>", "<a@backup.example>", "<u@[198.51.100.1]>",
    "<@example.com:alice@example.com>" };

#define ACC	POLICY_ACCEPT
#define REJ	POLICY_REJECT

struct rcpt_case {
	const char	*name;
	unsigned	 variant;
	enum who	 who;
	const char	*rcpt;
	enum verdict_kind kind;
	int		 code;
	const char	*enh;
	const char	*rule;
	enum rcpt_class	 cls;
	const char	*mailbox;	/* RCPT_LOCAL */
	const char	*resolved;	/* NULL: the rcpt itself, canonical */
	const char	*text;		/* substring, or NULL */
};

#define DENIED	REJ, 550, "5.7.1", "relay-denied", RCPT_NONE, NULL
#define UNKNOWN	REJ, 550, "5.1.1", "unknown-user", RCPT_NONE, NULL
#define LOCAL(rule, mb)	ACC, 250, "2.1.5", rule, RCPT_LOCAL, mb
#define REMOTE(rule)	ACC, 250, "2.1.5", rule, RCPT_REMOTE, NULL
#define TRICK(rule)	REJ, 550, "5.7.1", rule, RCPT_NONE, NULL

static const struct rcpt_case rcpt_cases[] = {
	/* other domains: only trusted clients relay */
	{ "foreign, untrusted", 0, U, "<victim@foreign.example>", DENIED,
	    NULL, "<victim@foreign.example>: Relaying denied" },
	{ "foreign upper case, untrusted", 0, U, "<victim@FOREIGN.Example>",
	    DENIED, NULL, "Relaying denied" },
	{ "foreign, /24", 0, T24, "<victim@foreign.example>",
	    REMOTE("authorized-network:192.0.2.0/24") },
	{ "foreign, longest prefix /25", 0, T25, "<victim@foreign.example>",
	    REMOTE("authorized-network:192.0.2.128/25") },
	{ "foreign, IPv6 network", 0, T6, "<victim@foreign.example>",
	    REMOTE("authorized-network:2001:db8:1::/48") },
	{ "foreign, IPv4-mapped trusted", 0, MAPPED,
	    "<victim@foreign.example>",
	    REMOTE("authorized-network:192.0.2.0/24") },
	{ "foreign, IPv4-mapped untrusted", 0, MAPPED_U,
	    "<victim@foreign.example>", DENIED },
	{ "foreign, IPv6 untrusted", 0, U6, "<victim@foreign.example>",
	    DENIED },
	{ "foreign, authenticated", 0, AUTH, "<victim@foreign.example>",
	    REMOTE("authenticated:carol") },
	/* local domains */
	{ "local user", 0, U, "<alice@example.com>",
	    LOCAL("local-domain:example.com", "alice") },
	{ "local user, any case", 0, U, "<ALICE@EXAMPLE.COM>",
	    LOCAL("local-domain:example.com", "alice") },
	{ "local user, extension", 0, U, "<alice+lists@example.com>",
	    LOCAL("local-domain:example.com", "alice") },
	{ "local user, quoted", 0, U, "<\"alice\"@example.com>",
	    LOCAL("local-domain:example.com", "alice") },
	{ "domain-qualified user", 0, U, "<bob@example.com>",
	    LOCAL("local-domain:example.com", "bob") },
	{ "domain-qualified user, extension", 0, U, "<Bob+x@example.com>",
	    LOCAL("local-domain:example.com", "bob") },
	{ "domain-qualified user, other domain", 0, U,
	    "<bob@x.lan.example.com>", UNKNOWN },
	{ "subdomain pattern", 0, U, "<alice@x.lan.example.com>",
	    LOCAL("local-domain:x.lan.example.com", "alice") },
	{ "parent of subdomain pattern", 0, U, "<alice@lan.example.com>",
	    DENIED },
	{ "look-alike domain", 0, U, "<alice@example.com.evil.example>",
	    DENIED },
	{ "unknown user", 0, U, "<mallory@example.com>", UNKNOWN, NULL,
	    "User unknown" },
	{ "unknown user, trusted", 0, T24, "<mallory@example.com>", UNKNOWN },
	{ "no user list: anyone", V_NOUSERS, U, "<mallory@example.com>",
	    LOCAL("local-domain:example.com", "mallory") },
	{ "no user list: unsafe name", V_NOUSERS, U, "<a/b@example.com>",
	    UNKNOWN },
	{ "no user list: dot name", V_NOUSERS, U, "<\".x\"@example.com>",
	    UNKNOWN },
	{ "no user list: dot dot", V_NOUSERS, U, "<\"a..b\"@example.com>",
	    UNKNOWN },
	{ "no user list: space", V_NOUSERS, U, "<\"a b\"@example.com>",
	    UNKNOWN },
	{ "no user list: only extension", V_NOUSERS, U, "<+x@example.com>",
	    UNKNOWN },
	/* postmaster */
	{ "postmaster@local", 0, U, "<postmaster@example.com>",
	    ACC, 250, "2.1.5", "postmaster", RCPT_LOCAL, "admin" },
	{ "POSTMASTER@LOCAL", 0, U, "<POSTMASTER@EXAMPLE.COM>",
	    ACC, 250, "2.1.5", "postmaster", RCPT_LOCAL, "admin" },
	{ "bare <postmaster>", 0, U, "<postmaster>",
	    ACC, 250, "2.1.5", "postmaster", RCPT_LOCAL, "admin" },
	{ "postmaster of a subdomain", 0, U, "<postmaster@a.lan.example.com>",
	    ACC, 250, "2.1.5", "postmaster", RCPT_LOCAL, "admin" },
	{ "postmaster@our literal", 0, U, "<postmaster@[198.51.100.1]>",
	    ACC, 250, "2.1.5", "postmaster", RCPT_LOCAL, "admin" },
	{ "postmaster@foreign", 0, U, "<postmaster@foreign.example>",
	    DENIED },
	/* RFC 5321 4.5.1: postmaster at our own hostname, from anyone */
	{ "postmaster@hostname, untrusted", 0, U,
	    "<postmaster@mx.example.net>",
	    LOCAL("postmaster:MX.Example.NET", "admin") },
	{ "postmaster@hostname, any case", 0, U6,
	    "<PostMaster@MX.EXAMPLE.net>",
	    LOCAL("postmaster:MX.Example.NET", "admin") },
	{ "postmaster@hostname, trusted", 0, T24,
	    "<postmaster@mx.example.net>",
	    LOCAL("postmaster:MX.Example.NET", "admin") },
	{ "postmaster@hostname, authenticated", 0, AUTH,
	    "<postmaster@mx.example.net>",
	    LOCAL("postmaster:MX.Example.NET", "admin") },
	/* ... and nothing else at the hostname: it is no local domain */
	{ "user@hostname, untrusted", 0, U, "<alice@mx.example.net>",
	    DENIED },
	{ "user@hostname, trusted: relayed, not local", 0, T24,
	    "<alice@mx.example.net>",
	    REMOTE("authorized-network:192.0.2.0/24") },
	{ "postmaster+ext@hostname", 0, U, "<postmaster+x@mx.example.net>",
	    DENIED },
	{ "postmaster@sub.hostname", 0, U, "<postmaster@a.mx.example.net>",
	    DENIED },
	{ "postmaster@parent of hostname", 0, U, "<postmaster@example.net>",
	    DENIED },
	{ "postmaster@look-alike of hostname", 0, U,
	    "<postmaster@mx.example.net.evil.example>", DENIED },
	/* relay domains: anyone */
	{ "relay domain", 0, U, "<anyone@backup.example>",
	    REMOTE("relay-domain:backup.example") },
	{ "relay domain, any case", 0, U, "<anyone@BACKUP.Example>",
	    REMOTE("relay-domain:backup.example") },
	{ "relay domain, subdomain", 0, U, "<anyone@x.backup.example>",
	    DENIED },
	/* source routes: only the final mailbox counts */
	{ "route via us to foreign", 0, U,
	    "<@example.com:victim@foreign.example>", DENIED,
	    "<victim@foreign.example>" },
	{ "route via relay domain to foreign", 0, U,
	    "<@backup.example,@example.com:victim@foreign.example>", DENIED,
	    "<victim@foreign.example>" },
	{ "route via foreign to us", 0, U,
	    "<@foreign.example,@x.example:alice@example.com>",
	    LOCAL("local-domain:example.com", "alice"),
	    "<alice@example.com>" },
	/* tricks, refused for local and relay domains, for everyone */
	{ "percent hack", 0, U, "<victim%foreign.example@example.com>",
	    TRICK("percent-hack"), NULL, "percent hack" },
	{ "percent hack, trusted", 0, T24,
	    "<victim%foreign.example@example.com>", TRICK("percent-hack") },
	{ "percent hack, authenticated", 0, AUTH,
	    "<victim%foreign.example@example.com>", TRICK("percent-hack") },
	{ "percent hack, relay domain", 0, U,
	    "<victim%foreign.example@backup.example>", TRICK("percent-hack") },
	{ "percent hack, upper case", 0, U,
	    "<victim%foreign.example@EXAMPLE.COM>", TRICK("percent-hack") },
	{ "percent hack to foreign", 0, U,
	    "<victim%x.example@foreign.example>", DENIED },
	{ "percent hack, our literal", 0, U,
	    "<victim%foreign.example@[198.51.100.1]>", TRICK("percent-hack") },
	{ "percent hack after extension", 0, U,
	    "<alice+victim%foreign.example@example.com>",
	    TRICK("percent-hack") },
	{ "bang path", 0, U, "<foreign.example!victim@example.com>",
	    TRICK("bang-path"), NULL, "bang path" },
	{ "bang path, relay domain", 0, U,
	    "<foreign.example!victim@backup.example>", TRICK("bang-path") },
	{ "bang path, trusted", 0, T24,
	    "<foreign.example!victim@example.com>", TRICK("bang-path") },
	{ "quoted @", 0, U, "<\"victim@foreign.example\"@example.com>",
	    TRICK("quoted-at"), NULL, "quoted address" },
	{ "quoted @, relay domain", 0, U,
	    "<\"victim@foreign.example\"@backup.example>",
	    TRICK("quoted-at") },
	{ "quoted @ and route", 0, U,
	    "<@foreign.example:\"victim@foreign.example\"@example.com>",
	    TRICK("quoted-at") },
	{ "quoted %", 0, U, "<\"victim%foreign.example\"@example.com>",
	    TRICK("percent-hack") },
	{ "quoted !", 0, U, "<\"foreign.example!victim\"@example.com>",
	    TRICK("bang-path") },
	/* allowed tricks: rewritten, then decided again */
	{ "percent allowed, to foreign", V_PERCENT, U,
	    "<victim%foreign.example@example.com>", DENIED,
	    "<victim@foreign.example>" },
	{ "percent allowed, to foreign, trusted", V_PERCENT, T24,
	    "<victim%foreign.example@example.com>",
	    REMOTE("percent-hack+authorized-network:192.0.2.0/24"),
	    "<victim@foreign.example>" },
	{ "percent allowed, to local", V_PERCENT, U,
	    "<alice%example.com@example.com>",
	    LOCAL("percent-hack+local-domain:example.com", "alice"),
	    "<alice@example.com>" },
	{ "percent allowed, to relay domain", V_PERCENT, U,
	    "<x%backup.example@example.com>",
	    REMOTE("percent-hack+relay-domain:backup.example"),
	    "<x@backup.example>" },
	{ "percent allowed, to unknown user", V_PERCENT, U,
	    "<mallory%example.com@example.com>", UNKNOWN },
	{ "percent allowed, nested to foreign", V_PERCENT, U,
	    "<victim%foreign.example%example.com@example.com>", DENIED,
	    "<victim@foreign.example>" },
	{ "percent allowed, upper case target", V_PERCENT, U,
	    "<victim%FOREIGN.example@example.com>", DENIED,
	    "<victim@foreign.example>" },
	{ "percent allowed, bad target", V_PERCENT, U,
	    "<victim%-bad@example.com>", TRICK("percent-hack") },
	{ "percent allowed, empty user", V_PERCENT, U,
	    "<%foreign.example@example.com>", TRICK("percent-hack") },
	{ "percent allowed, four deep", V_PERCENT, U,
	    "<alice%ex%ex%ex%ex@ex>", LOCAL("percent-hack+percent-hack+"
	    "percent-hack+percent-hack+local-domain:ex", "alice"),
	    "<alice@ex>" },
	{ "percent allowed, too deep", V_PERCENT, U,
	    "<alice%ex%ex%ex%ex%ex@ex>", TRICK("percent-hack"), NULL,
	    "too many" },
	{ "percent allowed, bang still refused", V_PERCENT, U,
	    "<foreign.example!victim@example.com>", TRICK("bang-path") },
	{ "percent allowed, quoted @ still refused", V_PERCENT, U,
	    "<\"victim@foreign.example\"@example.com>", TRICK("quoted-at") },
	{ "bang allowed, to foreign", V_BANG, U,
	    "<foreign.example!victim@example.com>", DENIED,
	    "<victim@foreign.example>" },
	{ "bang allowed, to local", V_BANG, U,
	    "<example.com!alice@example.com>",
	    LOCAL("bang-path+local-domain:example.com", "alice"),
	    "<alice@example.com>" },
	{ "bang allowed, empty host", V_BANG, U, "<!victim@example.com>",
	    TRICK("bang-path") },
	{ "bang allowed, empty user", V_BANG, U,
	    "<foreign.example!@example.com>", TRICK("bang-path") },
	{ "bang allowed, percent still refused", V_BANG, U,
	    "<victim%foreign.example@example.com>", TRICK("percent-hack") },
	{ "quoted allowed, to foreign", V_QUOTED, U,
	    "<\"victim@foreign.example\"@example.com>", DENIED,
	    "<victim@foreign.example>" },
	{ "quoted allowed, to local", V_QUOTED, U,
	    "<\"alice@example.com\"@example.com>",
	    LOCAL("quoted-at+local-domain:example.com", "alice"),
	    "<alice@example.com>" },
	{ "quoted allowed, hides a percent", V_QUOTED, U,
	    "<\"victim%foreign.example@example.com\"@example.com>",
	    TRICK("percent-hack") },
	/* address literals */
	{ "our IPv4 literal", 0, U, "<alice@[198.51.100.1]>",
	    LOCAL("local-domain:[198.51.100.1]", "alice") },
	{ "our IPv6 literal", 0, U, "<alice@[IPv6:2001:db8::25]>",
	    LOCAL("local-domain:[IPv6:2001:db8::25]", "alice") },
	{ "our IPv4 as mapped IPv6", 0, U,
	    "<alice@[IPv6:::ffff:198.51.100.1]>",
	    LOCAL("local-domain:[IPv6:::ffff:198.51.100.1]", "alice") },
	{ "foreign literal, untrusted", 0, U, "<alice@[203.0.113.5]>",
	    DENIED },
	{ "foreign literal, trusted", 0, T24, "<alice@[203.0.113.5]>",
	    REMOTE("authorized-network:192.0.2.0/24") },
	{ "literals off", V_NOLIT, U, "<alice@[198.51.100.1]>", DENIED },
	{ "general literal", 0, U, "<alice@[x-foo:bar]>", DENIED },
	{ "general literal with our text", 0, U,
	    "<alice@[x-foo:198.51.100.1]>", DENIED },
	/* recipient lists */
	{ "denied address, own reply", 0, U, "<victim@example.com>",
	    REJ, 550, "5.1.1", "deny-recipient:victim@example.com",
	    RCPT_NONE, NULL, NULL, "gone" },
	{ "denied local part, reason", 0, U, "<abuse@backup.example>",
	    REJ, 550, "5.7.1", "deny-recipient:abuse@ reason=spamtrap",
	    RCPT_NONE, NULL, NULL, "Recipient address rejected" },
	{ "denied local part, any case", 0, U, "<ABUSE@backup.example>",
	    REJ, 550, "5.7.1", "deny-recipient:abuse@ reason=spamtrap" },
	{ "denied even when trusted", 0, T24, "<abuse@other.example>",
	    REJ, 550, "5.7.1", "deny-recipient:abuse@ reason=spamtrap" },
	{ "allow list exception", 0, U, "<abuse@example.com>",
	    LOCAL("local-domain:example.com", "abuse") },
	{ "allow list never grants relay", 0, U, "<abuse@foreign.example>",
	    DENIED },
	{ "allow list exception, trusted", 0, T24, "<abuse@foreign.example>",
	    REMOTE("authorized-network:192.0.2.0/24") },
	{ "percent rewrite hits deny list", V_PERCENT, T24,
	    "<abuse%other.example@example.com>",
	    REJ, 550, "5.7.1", "deny-recipient:abuse@ reason=spamtrap" },
};

/* rcpt_cases_all - every case, for every sender, decided the same */
static void
rcpt_cases_all(void **state)
{
	struct policy *p[32] = { NULL };
	char name[300], shown[300];
	size_t i, s;

	(void)state;
	for (i = 0; i < NELEM(rcpt_cases); i++) {
		const struct rcpt_case *t = &rcpt_cases[i];
		struct policy_client c = client(clients[t->who].ip,
		    clients[t->who].auth);
		struct addr r = path(t->rcpt, ADDR_ALLOW_POSTMASTER);

		if (p[t->variant] == NULL)
			p[t->variant] = make(t->variant);
		for (s = 0; s < NELEM(senders); s++) {
			struct addr from = path(senders[s], ADDR_ALLOW_NULL);
			struct verdict v;

			snprintf(name, sizeof(name), "%s (from %s)", t->name,
			    senders[s]);
			memset(&v, 0xa5, sizeof(v));
			policy_rcpt(p[t->variant], &c, &from, &r, &v);
			CHECK_INT(name, v.kind, t->kind);
			CHECK_INT(name, v.code, t->code);
			CHECK_STR(name, v.enh, t->enh);
			CHECK_STR(name, v.rule, t->rule);
			CHECK_INT(name, v.cls, t->cls);
			if (t->cls == RCPT_LOCAL)
				CHECK_STR(name, v.mailbox, t->mailbox);
			if (t->text)
				CHECK_HAS(name, v.text, t->text);
			if (t->kind == POLICY_ACCEPT || t->resolved) {
				addr_format(&v.resolved, shown, sizeof(shown));
				if (t->resolved)
					CHECK_STR(name, shown, t->resolved);
				else {
					char want[300];

					addr_format(&r, want, sizeof(want));
					CHECK_STR(name, shown, want);
				}
			}
		}
	}
	for (i = 0; i < NELEM(p); i++)
		policy_free(p[i]);
	UNIT_DONE();
}

/* listener_networks - a listener's own list replaces authorized_networks */
static void
listener_networks(void **state)
{
	struct policy *p = make(0);
	struct cidr_set *lan = cidr_set_new();
	struct policy_client c = client("192.0.2.10", NULL);
	struct addr from = path("<>", ADDR_ALLOW_NULL);
	struct addr r = path("<victim@foreign.example>", 0);
	struct verdict v;
	char rule[128];

	(void)state;
	cidr_set_add_str(lan, "10.0.0.0/24", NULL);
	c.trusted = lan;
	policy_rcpt(p, &c, &from, &r, &v);
	CHECK_INT("policy network, other listener", v.kind, POLICY_REJECT);
	CHECK_STR("policy network, other listener", v.rule, "relay-denied");
	CHECK_INT("trusted()", policy_client_trusted(p, &c, rule,
	    sizeof(rule)), 0);
	CHECK_STR("trusted()", rule, "relay-denied");
	c = client("10.0.0.7", NULL);
	c.trusted = lan;
	policy_rcpt(p, &c, &from, &r, &v);
	CHECK_INT("listener network", v.kind, POLICY_ACCEPT);
	CHECK_STR("listener network", v.rule,
	    "authorized-network:10.0.0.0/24");
	CHECK_INT("trusted()", policy_client_trusted(p, &c, rule,
	    sizeof(rule)), 1);
	CHECK_TRUE("authorized()", policy_authorized(p) != NULL &&
	    cidr_set_count(policy_authorized(p)) == 3);
	cidr_set_free(lan);
	policy_free(p);
	UNIT_DONE();
}

/* local_domain_cases - policy_is_local_domain */
static void
local_domain_cases(void **state)
{
	static const struct {
		const char *domain;
		int want;
	} cases[] = {
		{ "example.com", 1 }, { "EXAMPLE.COM", 1 },
		{ "x.lan.example.com", 1 }, { "lan.example.com", 0 },
		{ "www.example.com", 0 }, { "backup.example", 0 },
		{ "foreign.example", 0 }, { "", 0 },
	};
	struct policy *p = make(0);
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++)
		CHECK_INT(cases[i].domain, policy_is_local_domain(p,
		    cases[i].domain), cases[i].want);
	policy_free(p);
	UNIT_DONE();
}

/* mailbox_names - policy_mailbox_name: always a safe file name */
static void
mailbox_names(void **state)
{
	static const struct {
		const char *local;
		int rc;
		const char *want;
	} cases[] = {
		{ "alice", 0, "alice" }, { "Alice", 0, "alice" },
		{ "alice+lists", 0, "alice" }, { "a.b", 0, "a.b" },
		{ "a-b_c9", 0, "a-b_c9" }, { "alice+", 0, "alice" },
		{ "", -1, NULL }, { "+x", -1, NULL }, { ".a", -1, NULL },
		{ "..", -1, NULL }, { "a..b", -1, NULL }, { "a/b", -1, NULL },
		{ "../etc", -1, NULL }, { "a b", -1, NULL },
		{ "a\\b", -1, NULL }, { "a%b", -1, NULL }, { "a!b", -1, NULL },
		{ "a@b", -1, NULL }, { "\xc3\xa9", -1, NULL },
	};
	struct policy *p = make(0);
	char dst[SMTP_LOCAL_MAX + 1];
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		int r = policy_mailbox_name(p, cases[i].local, dst,
		    sizeof(dst));

		if (CHECK_INT(cases[i].local, r, cases[i].rc) && r == 0)
			CHECK_STR(cases[i].local, dst, cases[i].want);
	}
	CHECK_INT("too small", policy_mailbox_name(p, "alice", dst, 5), -1);
	CHECK_INT("just fits", policy_mailbox_name(p, "alice", dst, 6), 0);
	policy_free(p);
	UNIT_DONE();
}

static struct policy_entry deny_clients[] = {
	{ "203.0.113.0/24", "554 5.7.1 go away", "abuse" },
	{ "198.51.100.0/24", NULL, NULL },
	{ "2001:db8:bad::/48", "421 4.7.0 try later", NULL },
	{ "192.0.2.66", "550 no", NULL },
};
static struct policy_entry allow_clients[] = {
	{ "203.0.113.7", NULL, NULL },
};
static struct policy_entry deny_helo[] = {
	{ "localhost", NULL, NULL },
	{ ".bad.example", "550 5.7.1 Bad HELO", "forged" },
	{ "[127.0.0.1]", NULL, NULL },
};
static struct policy_entry allow_helo[] = {
	{ "ok.bad.example", NULL, NULL },
};
static struct policy_entry deny_senders[] = {
	{ "spammer@", NULL, NULL },
	{ "evil.example", "550 5.7.1 No thanks", NULL },
	{ ".evil.example", NULL, NULL },
	{ "bad@good.example", NULL, "manual" },
	{ "[192.0.2.99]", NULL, NULL },
};
static struct policy_entry allow_senders[] = {
	{ "ok@evil.example", NULL, NULL },
};

/* lists_policy - the base policy with client, helo and sender lists */
static struct policy *
lists_policy(void)
{
	struct policy_conf pc;
	char err[256] = "";
	struct policy *p;

	base_conf(&pc, 0);
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
	p = policy_new(&pc, err, sizeof(err));
	if (p == NULL)
		fail_msg("policy_new: %s", err);
	return p;
}

struct list_case {
	const char	*name;
	const char	*in;		/* ip, helo or sender path */
	enum verdict_kind kind;
	int		 code;
	const char	*enh;
	const char	*rule;
	const char	*text;
};

/* connect_cases - deny.clients with allow.clients exceptions */
static void
connect_cases(void **state)
{
	static const struct list_case cases[] = {
		{ "denied net, own reply", "203.0.113.9", REJ, 554, "5.7.1",
		    "deny-client:203.0.113.0/24 reason=abuse", "go away" },
		{ "allowed exception", "203.0.113.7", ACC, 220, "2.0.0",
		    "default", NULL },
		{ "denied net, default reply", "198.51.100.3", REJ, 554,
		    "5.7.1", "deny-client:198.51.100.0/24",
		    "Access denied for your address" },
		{ "denied, mapped IPv6", "::ffff:203.0.113.9", REJ, 554,
		    "5.7.1", "deny-client:203.0.113.0/24 reason=abuse",
		    "go away" },
		{ "4xx reply tempfails", "2001:db8:bad::1", POLICY_TEMPFAIL,
		    421, "4.7.0", "deny-client:2001:db8:bad::/48",
		    "try later" },
		{ "reply without enh", "192.0.2.66", REJ, 550, "5.7.1",
		    "deny-client:192.0.2.66", "no" },
		{ "not listed", "192.0.2.1", ACC, 220, "2.0.0", "default",
		    NULL },
		{ "not listed, IPv6", "2001:db8:2::1", ACC, 220, "2.0.0",
		    "default", NULL },
	};
	struct policy *p = lists_policy();
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		struct policy_client c = client(cases[i].in, NULL);
		struct verdict v;

		policy_connect(p, &c, &v);
		CHECK_INT(cases[i].name, v.kind, cases[i].kind);
		CHECK_INT(cases[i].name, v.code, cases[i].code);
		CHECK_STR(cases[i].name, v.enh, cases[i].enh);
		CHECK_STR(cases[i].name, v.rule, cases[i].rule);
		if (cases[i].text)
			CHECK_STR(cases[i].name, v.text, cases[i].text);
	}
	policy_free(p);
	UNIT_DONE();
}

/* allowed_client_no_relay - allow.clients never grants relay */
static void
allowed_client_no_relay(void **state)
{
	struct policy *p = lists_policy();
	struct policy_client c = client("203.0.113.7", NULL);
	struct addr from = path("<>", ADDR_ALLOW_NULL);
	struct addr r = path("<victim@foreign.example>", 0);
	struct verdict v;

	(void)state;
	policy_rcpt(p, &c, &from, &r, &v);
	CHECK_INT("allowed client, foreign rcpt", v.kind, POLICY_REJECT);
	CHECK_STR("allowed client, foreign rcpt", v.rule, "relay-denied");
	policy_free(p);
	UNIT_DONE();
}

/* helo_cases - deny.helo with allow.helo exceptions */
static void
helo_cases(void **state)
{
	static const struct list_case cases[] = {
		{ "denied", "localhost", REJ, 550, "5.7.1",
		    "deny-helo:localhost", "HELO name rejected" },
		{ "denied, any case", "LocalHost", REJ, 550, "5.7.1",
		    "deny-helo:localhost", NULL },
		{ "denied, root dot", "localhost.", REJ, 550, "5.7.1",
		    "deny-helo:localhost", NULL },
		{ "denied subdomain, own reply", "x.bad.example", REJ, 550,
		    "5.7.1", "deny-helo:.bad.example reason=forged",
		    "Bad HELO" },
		{ "allowed exception", "ok.bad.example", ACC, 250, "2.0.0",
		    "default", NULL },
		{ "denied literal", "[127.0.0.1]", REJ, 550, "5.7.1",
		    "deny-helo:[127.0.0.1]", NULL },
		{ "fine", "mail.example.org", ACC, 250, "2.0.0", "default",
		    NULL },
		{ "fine, parent of denied", "bad.example", ACC, 250, "2.0.0",
		    "default", NULL },
		{ "fine, junk", "host_name", ACC, 250, "2.0.0", "default",
		    NULL },
	};
	struct policy *p = lists_policy();
	struct policy_client c = client("192.0.2.1", NULL);
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		struct verdict v;

		policy_helo(p, &c, cases[i].in, &v);
		CHECK_INT(cases[i].name, v.kind, cases[i].kind);
		CHECK_INT(cases[i].name, v.code, cases[i].code);
		CHECK_STR(cases[i].name, v.enh, cases[i].enh);
		CHECK_STR(cases[i].name, v.rule, cases[i].rule);
		if (cases[i].text)
			CHECK_STR(cases[i].name, v.text, cases[i].text);
	}
	policy_free(p);
	UNIT_DONE();
}

/*
 * helo_long - policy_helo is given whatever the client sent; a name longer
 * than SMTP_HELO_MAX must neither overrun its copy nor dodge the list.
 */
static void
helo_long(void **state)
{
	struct policy *p = lists_policy();
	struct policy_client c = client("192.0.2.1", NULL);
	char helo[600];
	struct verdict v;

	(void)state;
	memset(helo, 'a', sizeof(helo));
	helo[sizeof(helo) - 2] = '.';
	helo[sizeof(helo) - 1] = '\0';
	policy_helo(p, &c, helo, &v);
	CHECK_TRUE("600 octets ending in a dot", v.kind == POLICY_ACCEPT ||
	    v.kind == POLICY_REJECT);
	policy_free(p);
	UNIT_DONE();
}

/* mail_cases - deny.senders with allow.senders; <> never listed */
static void
mail_cases(void **state)
{
	static const struct list_case cases[] = {
		{ "local part anywhere", "<spammer@any.example>", REJ, 550,
		    "5.7.1", "deny-sender:spammer@",
		    "Sender address rejected" },
		{ "local part, any case", "<SPAMMER@Any.Example>", REJ, 550,
		    "5.7.1", "deny-sender:spammer@", NULL },
		{ "domain, own reply", "<x@evil.example>", REJ, 550, "5.7.1",
		    "deny-sender:evil.example", "No thanks" },
		{ "subdomain", "<x@a.evil.example>", REJ, 550, "5.7.1",
		    "deny-sender:.evil.example", NULL },
		{ "allowed exception", "<ok@evil.example>", ACC, 250, "2.1.0",
		    "default", NULL },
		{ "address, reason", "<bad@good.example>", REJ, 550, "5.7.1",
		    "deny-sender:bad@good.example reason=manual", NULL },
		{ "other address, same domain", "<good@good.example>", ACC,
		    250, "2.1.0", "default", NULL },
		{ "literal", "<x@[192.0.2.99]>", REJ, 550, "5.7.1",
		    "deny-sender:[192.0.2.99]", NULL },
		{ "route does not hide it", "<@ok.example:x@evil.example>",
		    REJ, 550, "5.7.1", "deny-sender:evil.example", NULL },
		{ "null sender", "<>", ACC, 250, "2.1.0", "default", NULL },
		{ "our own domain", "<alice@example.com>", ACC, 250, "2.1.0",
		    "default", NULL },
	};
	struct policy *p = lists_policy();
	struct policy_client c = client("203.0.113.7", NULL);
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		struct addr from = path(cases[i].in, ADDR_ALLOW_NULL);
		struct verdict v;

		policy_mail(p, &c, &from, &v);
		CHECK_INT(cases[i].name, v.kind, cases[i].kind);
		CHECK_INT(cases[i].name, v.code, cases[i].code);
		CHECK_STR(cases[i].name, v.enh, cases[i].enh);
		CHECK_STR(cases[i].name, v.rule, cases[i].rule);
		if (cases[i].text)
			CHECK_STR(cases[i].name, v.text, cases[i].text);
	}
	policy_free(p);
	UNIT_DONE();
}

/* new_errors - a broken configuration is refused, and says where */
static void
new_errors(void **state)
{
	static char *bad_domain[] = { "exa mple.com", NULL };
	static char *addr_domain[] = { "user@example.com", NULL };
	static char *bad_net[] = { "192.0.2.0/24", "10.0.0.1/8", NULL };
	static char *name_net[] = { "lan.example", NULL };
	static char *empty_user[] = { "alice", "", NULL };
	static struct policy_entry bad_reply[] = { { "x.example", "250 ok",
	    NULL } };
	static struct policy_entry bad_reply2[] = { { "x.example",
	    "550 5.7.1 a\nb", NULL } };
	static struct policy_entry bad_cidr[] = { { "not-an-ip", NULL,
	    NULL } };
	static struct policy_entry bad_pat[] = { { "a b", NULL, NULL } };
	struct policy_conf pc;
	char err[256];
	size_t i;
	static const struct {
		const char *name;
		const char *want;
	} cases[] = {
		{ "bad local domain", "local_domains" },
		{ "address as local domain", "local_domains" },
		{ "bad relay domain", "relay_domains" },
		{ "host bits set", "authorized_networks" },
		{ "name as network", "authorized_networks" },
		{ "bad local address", "local_addresses" },
		{ "empty user", "local_users" },
		{ "2xx reply in a list", "deny.helo" },
		{ "newline in a reply", "deny.senders" },
		{ "bad client pattern", "deny.clients" },
		{ "bad recipient pattern", "allow.recipients" },
	};

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		struct policy *p;

		base_conf(&pc, 0);
		switch (i) {
		case 0: pc.local_domains = bad_domain; break;
		case 1: pc.local_domains = addr_domain; break;
		case 2: pc.relay_domains = bad_domain; break;
		case 3: pc.authorized_networks = bad_net; break;
		case 4: pc.authorized_networks = name_net; break;
		case 5: pc.local_addresses = name_net; break;
		case 6: pc.local_users = empty_user; break;
		case 7: pc.deny_helo = bad_reply; pc.n_deny_helo = 1; break;
		case 8: pc.deny_senders = bad_reply2; pc.n_deny_senders = 1;
			break;
		case 9: pc.deny_clients = bad_cidr; pc.n_deny_clients = 1;
			break;
		case 10: pc.allow_recipients = bad_pat;
			pc.n_allow_recipients = 1; break;
		}
		err[0] = '\0';
		p = policy_new(&pc, err, sizeof(err));
		CHECK_TRUE(cases[i].name, p == NULL);
		CHECK_HAS(cases[i].name, err, cases[i].want);
		policy_free(p);
	}
	policy_free(NULL);
	UNIT_DONE();
}

/* empty_policy - nothing configured: nothing is accepted but postmaster */
static void
empty_policy(void **state)
{
	static const struct {
		const char *rcpt;
		enum verdict_kind kind;
	} cases[] = {
		{ "<alice@example.com>", POLICY_REJECT },
		{ "<victim@foreign.example>", POLICY_REJECT },
		{ "<alice@[198.51.100.1]>", POLICY_REJECT },
		{ "<postmaster>", POLICY_ACCEPT },
	};
	struct policy_conf pc;
	struct policy *p;
	char err[256];
	struct policy_client c = client("192.0.2.10", NULL);
	struct addr from = path("<>", ADDR_ALLOW_NULL);
	size_t i;

	(void)state;
	memset(&pc, 0, sizeof(pc));
	p = policy_new(&pc, err, sizeof(err));
	assert_non_null(p);
	for (i = 0; i < NELEM(cases); i++) {
		struct addr r = path(cases[i].rcpt, ADDR_ALLOW_POSTMASTER);
		struct verdict v;

		policy_rcpt(p, &c, &from, &r, &v);
		CHECK_INT(cases[i].rcpt, v.kind, cases[i].kind);
	}
	policy_free(p);
	UNIT_DONE();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rcpt_cases_all),
		cmocka_unit_test(listener_networks),
		cmocka_unit_test(local_domain_cases),
		cmocka_unit_test(mailbox_names),
		cmocka_unit_test(connect_cases),
		cmocka_unit_test(allowed_client_no_relay),
		cmocka_unit_test(helo_cases),
		cmocka_unit_test(mail_cases),
		cmocka_unit_test(new_errors),
		cmocka_unit_test(empty_policy),
		/* last: when it fails, it has overrun the stack (ASan) */
		cmocka_unit_test(helo_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_conf - the configuration (conf/conf): defaults, loading real files,
 * and every error reported with its file and line.
 */
#include <stdlib.h>
#include <unistd.h>

#include "unit.h"

#include "conf/conf.h"
#include "policy/cidr.h"
#include "smtp/limits.h"

static char dir[64];

/* setup - a private directory for the test files */
static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/sluice-test-conf-XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

/* teardown - remove the files written, then the directory */
static int
teardown(void **state)
{
	static const char *names[] = { "valid.conf", "edge.conf", "one.conf",
	    "many.conf", "phases.conf", "once.conf", "print1.conf",
	    "print2.conf", "default.conf" };
	char path[128];
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(names); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	return rmdir(dir);
}

/* writef - write text into dir/name; the path in path */
static void
writef(const char *name, const char *text, char *path, size_t pathsize)
{
	FILE *f;

	snprintf(path, pathsize, "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* load - conf_load of text; errors into *errs (caller frees) */
static struct conf *
load(const char *name, const char *text, char **errs, char *path,
    size_t pathsize)
{
	struct conf *c;
	size_t len;
	FILE *f;

	writef(name, text, path, pathsize);
	*errs = NULL;
	f = open_memstream(errs, &len);
	assert_non_null(f);
	c = conf_load(path, f);
	fclose(f);
	return c;
}

/* nlines - how many lines s has */
static size_t
nlines(const char *s)
{
	size_t n = 0;

	for (; s && *s; s++)
		n += *s == '\n';
	return n;
}

/* line_has - is there a line "<prefix>...<msg>..." in errs? */
static int
line_has(const char *errs, const char *prefix, const char *msg)
{
	const char *p = errs;
	size_t n = strlen(prefix);

	while (p != NULL && *p) {
		const char *e = strchr(p, '\n'), *m;

		if (e == NULL)
			e = p + strlen(p);
		if (strncmp(p, prefix, n) == 0 && (m = strstr(p + n, msg)) !=
		    NULL && m < e)
			return 1;
		p = *e ? e + 1 : e;
	}
	return 0;
}

/* strlist_is - does the NULL-terminated l hold exactly the want list? */
static int
strlist_is(char **l, const char *const *want)
{
	size_t i;

	for (i = 0; want[i]; i++)
		if (l == NULL || l[i] == NULL || strcmp(l[i], want[i]) != 0)
			return 0;
	return l != NULL && l[i] == NULL;
}

/* defaults - conf_default matches the documented defaults and limits.h */
static void
defaults(void **state)
{
	static const char *listen[] = { "127.0.0.1:2525", NULL };
	static const char *local[] = { "localhost", NULL };
	static const char *nets[] = { "127.0.0.0/8", "::1/128", NULL };
	static const char *none[] = { NULL };
	struct conf *c = conf_default();

	(void)state;
	CHECK_STR("hostname", c->hostname, "");
	CHECK_STR("banner", c->banner, "ESMTP sluiced");
	CHECK_TRUE("listen", strlist_is(c->listen, listen));
	CHECK_TRUE("local_domains", strlist_is(c->local_domains, local));
	CHECK_TRUE("relay_domains", strlist_is(c->relay_domains, none));
	CHECK_TRUE("authorized_networks", strlist_is(c->authorized_networks,
	    nets));
	CHECK_TRUE("local_users", strlist_is(c->local_users, none));
	CHECK_TRUE("local_addresses", strlist_is(c->local_addresses, none));
	CHECK_STR("recipient_delimiter", c->recipient_delimiter, "+");
	CHECK_STR("postmaster", c->postmaster, "postmaster");
	CHECK_STR("log_level", c->log_level, "info");
	CHECK_INT("accept_literals", c->accept_literals, 0);
	CHECK_INT("allow_percent_hack", c->allow_percent_hack, 0);
	CHECK_INT("allow_bang_path", c->allow_bang_path, 0);
	CHECK_INT("allow_quoted_at", c->allow_quoted_at, 0);
	CHECK_INT("refuse_broad_networks", c->refuse_broad_networks, 0);
	CHECK_INT("reject_long_lines", c->reject_long_lines, 0);
	CHECK_UINT("message_size", c->message_size, SMTP_MSGSIZE_DEFAULT);
	CHECK_UINT("recipients", c->recipients, SMTP_RCPT_DEFAULT);
	CHECK_UINT("errors", c->errors, SMTP_ERRORS_DEFAULT);
	CHECK_UINT("idle_timeout", c->idle_timeout, SMTP_IDLE_TIMEOUT);
	CHECK_UINT("data_timeout", c->data_timeout, SMTP_DATA_TIMEOUT);
	CHECK_UINT("sessions", c->sessions, SMTP_SESSIONS_DEFAULT);
	CHECK_UINT("sessions_per_ip", c->sessions_per_ip,
	    SMTP_SESSIONS_PER_IP);
	CHECK_UINT("delivery_workers", c->delivery_workers, 2);
	CHECK_UINT("deny.clients", c->deny_clients.n, 0);
	CHECK_UINT("allow.recipients", c->allow_recipients.n, 0);
	CHECK_TRUE("path", c->path == NULL);
	conf_free(c);
	conf_free(NULL);
	UNIT_DONE();
}

/* default_is_closed - the built-in policy relays for loopback only */
static void
default_is_closed(void **state)
{
	static const struct {
		const char *ip, *rcpt;
		enum verdict_kind want;
	} cases[] = {
		{ "203.0.113.9", "<victim@example.com>", POLICY_REJECT },
		{ "192.168.1.5", "<victim@example.com>", POLICY_REJECT },
		{ "::ffff:203.0.113.9", "<victim@example.com>", POLICY_REJECT },
		{ "2001:db8::1", "<victim@example.com>", POLICY_REJECT },
		{ "203.0.113.9", "<victim%example.com@localhost>",
		    POLICY_REJECT },
		{ "203.0.113.9", "<example.com!victim@localhost>",
		    POLICY_REJECT },
		{ "203.0.113.9", "<\"victim@example.com\"@localhost>",
		    POLICY_REJECT },
		{ "203.0.113.9", "<alice@[127.0.0.1]>", POLICY_REJECT },
		{ "203.0.113.9", "<alice@localhost>", POLICY_ACCEPT },
		{ "127.0.0.1", "<victim@example.com>", POLICY_ACCEPT },
		{ "::1", "<victim@example.com>", POLICY_ACCEPT },
		{ "::ffff:127.0.0.1", "<victim@example.com>", POLICY_ACCEPT },
	};
	struct conf *c = conf_default();
	struct policy_conf pc;
	struct policy *p;
	char err[256];
	size_t i, used;

	(void)state;
	conf_policy(c, &pc);
	p = policy_new(&pc, err, sizeof(err));
	assert_non_null(p);
	for (i = 0; i < NELEM(cases); i++) {
		struct policy_client cl;
		struct addr from, r;
		struct verdict v;
		char name[128];

		memset(&cl, 0, sizeof(cl));
		assert_int_equal(cidr_parse_ip(cases[i].ip, &cl.family, cl.ip),
		    0);
		assert_int_equal(addr_parse_path("<>", 2, ADDR_ALLOW_NULL,
		    &from, &used), ADDR_OK);
		assert_int_equal(addr_parse_path(cases[i].rcpt,
		    strlen(cases[i].rcpt), 0, &r, &used), ADDR_OK);
		snprintf(name, sizeof(name), "%s -> %s", cases[i].ip,
		    cases[i].rcpt);
		policy_rcpt(p, &cl, &from, &r, &v);
		CHECK_INT(name, v.kind, cases[i].want);
	}
	policy_free(p);
	conf_free(c);
	UNIT_DONE();
}

/* valid_file - every kind of key, in a real file */
static void
valid_file(void **state)
{
	static const char text[] =
	    "# a comment\n"
	    "hostname = \"mx.example.com\";\n"
	    "listen = [ \"*:25\", \"[::1]:2525\" ];\n"
	    "local_domains = \"example.com\";\n"
	    "relay_domains = [ \"backup.example\", \".sub.example\" ];\n"
	    "authorized_networks = [ \"127.0.0.0/8\", \"192.168.10.0/24\" ];\n"
	    "local_users = [ \"alice\", \"info@example.com\" ];\n"
	    "accept_literals = true;\n"
	    "local_addresses = [ \"198.51.100.1\" ];\n"
	    "recipient_delimiter = \"-\";\n"
	    "log_level = \"debug\";\n"
	    "delivery_workers = 4;\n"
	    "limits = {\n"
	    "  message_size = \"50m\";\n"
	    "  recipients = 500;\n"
	    "  errors = 5;\n"
	    "  idle_timeout = 120;\n"
	    "  data_timeout = \"10m\";\n"
	    "  sessions = 200L;\n"
	    "  reject_long_lines = true;\n"
	    "};\n"
	    "deny = {\n"
	    "  clients = ( \"203.0.113.0/24\",\n"
	    "    { pattern = \"198.51.100.0/24\"; reply = \"554 5.7.1 no\";\n"
	    "      reason = \"abuse\"; } );\n"
	    "  senders = [ \"spammer@\" ];\n"
	    "};\n"
	    "allow = { clients = ( \"203.0.113.7\" ); };\n";
	static const char *listen[] = { "*:25", "[::1]:2525", NULL };
	static const char *local[] = { "example.com", NULL };
	static const char *relay[] = { "backup.example", ".sub.example",
	    NULL };
	char path[128], *errs;
	struct conf *c;

	(void)state;
	c = load("valid.conf", text, &errs, path, sizeof(path));
	if (!CHECK_TRUE("loaded", c != NULL)) {
		print_error("errors:\n%s", errs);
		free(errs);
		UNIT_DONE();
		return;
	}
	CHECK_STR("no errors", errs, "");
	CHECK_STR("path", c->path, path);
	CHECK_STR("hostname", c->hostname, "mx.example.com");
	CHECK_TRUE("listen", strlist_is(c->listen, listen));
	CHECK_TRUE("one string as a list", strlist_is(c->local_domains,
	    local));
	CHECK_TRUE("relay_domains", strlist_is(c->relay_domains, relay));
	CHECK_INT("accept_literals", c->accept_literals, 1);
	CHECK_STR("recipient_delimiter", c->recipient_delimiter, "-");
	CHECK_STR("log_level", c->log_level, "debug");
	CHECK_UINT("delivery_workers", c->delivery_workers, 4);
	CHECK_UINT("message_size 50m", c->message_size, 50ULL << 20);
	CHECK_UINT("recipients", c->recipients, 500);
	CHECK_UINT("errors", c->errors, 5);
	CHECK_UINT("idle_timeout as a number", c->idle_timeout, 120);
	CHECK_UINT("data_timeout 10m", c->data_timeout, 600);
	CHECK_UINT("sessions (int64)", c->sessions, 200);
	CHECK_INT("reject_long_lines", c->reject_long_lines, 1);
	CHECK_UINT("untouched default", c->sessions_per_ip, 100);
	CHECK_STR("untouched default", c->banner, "ESMTP sluiced");
	if (CHECK_UINT("deny.clients", c->deny_clients.n, 2)) {
		CHECK_STR("string entry", c->deny_clients.e[0].pattern,
		    "203.0.113.0/24");
		CHECK_TRUE("string entry", c->deny_clients.e[0].reply == NULL);
		CHECK_STR("group entry", c->deny_clients.e[1].pattern,
		    "198.51.100.0/24");
		CHECK_STR("group entry", c->deny_clients.e[1].reply,
		    "554 5.7.1 no");
		CHECK_STR("group entry", c->deny_clients.e[1].reason, "abuse");
	}
	if (CHECK_UINT("deny.senders (array)", c->deny_senders.n, 1))
		CHECK_STR("deny.senders", c->deny_senders.e[0].pattern,
		    "spammer@");
	CHECK_UINT("allow.clients", c->allow_clients.n, 1);
	free(errs);
	conf_free(c);
	UNIT_DONE();
}

/* edge_values - the ends of each range are accepted */
static void
edge_values(void **state)
{
	static const struct {
		const char *text;
		size_t off;	/* offsetof the uint64_t field */
		uint64_t want;
	} cases[] = {
		{ "limits = { message_size = 1024; };",
		    offsetof(struct conf, message_size), 1024 },
		{ "limits = { message_size = \"1k\"; };",
		    offsetof(struct conf, message_size), 1024 },
		{ "limits = { message_size = \"4g\"; };",
		    offsetof(struct conf, message_size), 1ULL << 32 },
		{ "limits = { message_size = 4294967296L; };",
		    offsetof(struct conf, message_size), 1ULL << 32 },
		{ "limits = { message_size = 3221225472L; };",
		    offsetof(struct conf, message_size), 3221225472ULL },
		{ "limits = { message_size = \"25m\"; };",
		    offsetof(struct conf, message_size), 25ULL << 20 },
		{ "limits = { idle_timeout = \"5m\"; };",
		    offsetof(struct conf, idle_timeout), 300 },
		{ "limits = { recipients = 1; };",
		    offsetof(struct conf, recipients), 1 },
		{ "limits = { recipients = 100000; };",
		    offsetof(struct conf, recipients), 100000 },
		{ "limits = { idle_timeout = \"1h\"; };",
		    offsetof(struct conf, idle_timeout), 3600 },
		{ "limits = { idle_timeout = \"1s\"; };",
		    offsetof(struct conf, idle_timeout), 1 },
		{ "limits = { data_timeout = \"1h\"; };",
		    offsetof(struct conf, data_timeout), 3600 },
		{ "delivery_workers = 64;",
		    offsetof(struct conf, delivery_workers), 64 },
	};
	char path[128], *errs;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		struct conf *c = load("edge.conf", cases[i].text, &errs, path,
		    sizeof(path));

		if (CHECK_TRUE(cases[i].text, c != NULL))
			CHECK_UINT(cases[i].text, *(uint64_t *)((char *)c +
			    cases[i].off), cases[i].want);
		else
			print_error("  errors: %s", errs);
		free(errs);
		conf_free(c);
	}
	UNIT_DONE();
}

/* one_error - each broken file is refused with file:line: and a reason */
static void
one_error(void **state)
{
	static const struct {
		const char *name;
		const char *text;
		int line;		/* 0: any line */
		const char *want;
	} cases[] = {
		{ "unknown key", "hostname = \"x\";\nfoo = 1;\n", 2,
		    "unknown key \"foo\"" },
		{ "unknown key in group", "limits = {\n  recipients = 5;\n"
		    "  foo = 1;\n};\n", 3, "unknown key \"limits.foo\"" },
		{ "group as a scalar", "limits = 5;\n", 1,
		    "unknown key \"limits\"" },
		{ "key as a group", "hostname = { a = 1; };\n", 1,
		    "hostname: must be a string" },
		{ "misspelt key", "\n\nlocal_domain = \"x\";\n", 3,
		    "unknown key \"local_domain\"" },
		{ "string wanted", "banner = 5;\n", 1, "must be a string" },
		{ "bool wanted", "accept_literals = \"yes\";\n", 1,
		    "must be true or false" },
		{ "bool as a number", "accept_literals = 1;\n", 1,
		    "must be true or false" },
		{ "number wanted", "limits = { recipients = \"100\"; };\n", 1,
		    "must be a number" },
		{ "float", "limits = { message_size = 1.5; };\n", 1,
		    "must be a number" },
		{ "list wanted", "listen = 5;\n", 1, "must be a list" },
		{ "list element", "listen = [ \"a:1\",\n  \"b:2\" ];\n"
		    "local_users = ( \"a\", 5 );\n", 3, "element 2" },
		{ "too small", "limits = { recipients = 0; };\n", 1,
		    "out of range [1, 100000]" },
		{ "too big", "limits = { recipients = 100001; };\n", 1,
		    "out of range" },
		{ "size too small", "limits = { message_size = 1023; };\n", 1,
		    "out of range" },
		{ "size too big", "limits = { message_size = \"5g\"; };\n", 1,
		    "out of range" },
		{ "duration too long", "limits = { idle_timeout = \"2h\"; };\n",
		    1, "out of range" },
		{ "workers", "delivery_workers = 65;\n", 1, "out of range" },
		{ "negative", "limits = { errors = -1; };\n", 1,
		    "must not be negative" },
		{ "bad size", "limits = { message_size = \"25x\"; };\n", 1,
		    "bad size" },
		{ "bad size number", "limits = { message_size = \"m\"; };\n", 1,
		    "bad size" },
		{ "bad duration", "limits = { data_timeout = \"5y\"; };\n", 1,
		    "bad duration" },
		{ "choice", "log_level = \"verbose\";\n", 1,
		    "must be one of err|warning|info|debug" },
		{ "entry field", "deny = { clients = ( { pattern = \"1.2.3.4\";"
		    " colour = \"red\"; } ); };\n", 1,
		    "unknown entry field \"colour\"" },
		{ "entry without pattern", "deny = {\n helo = ( { reason = "
		    "\"x\"; } );\n};\n", 2, "entries are" },
		{ "entry not a string", "deny = { helo = ( { pattern = 5; } );"
		    " };\n", 1, "must be a string" },
		{ "empty entry", "deny = { helo = ( \"\" ); };\n", 1,
		    "entries are" },
		{ "access list not a list", "deny = { clients = \"1.2.3.4\"; };"
		    "\n", 1, "must be a list" },
		{ "syntax error", "hostname = \"x\";\nbanner = ;\n", 2,
		    "syntax error" },
		{ "bad string", "hostname = \"x;\n", 0, "" },
		{ "unterminated group", "limits = {\n recipients = 5;\n", 0,
		    "" },
		{ "duplicate key", "hostname = \"a\";\nhostname = \"b\";\n",
		    0, "" },
		/* checks across keys, after the file is read */
		{ "delimiter", "recipient_delimiter = \"+-\";\n", 0,
		    "one character" },
		{ "bad network", "authorized_networks = [ \"10.0.0.1/8\" ];\n",
		    0, "10.0.0.1/8" },
		{ "no listener", "listen = [ ];\n", 0, "listen" },
		{ "bad domain", "local_domains = [ \"a b\" ];\n", 0,
		    "local_domains" },
		{ "bad list pattern", "deny = { clients = ( \"x\" ); };\n", 0,
		    "deny.clients" },
		{ "bad list reply", "deny = { helo = ( { pattern = \"x.example\";"
		    " reply = \"250 ok\"; } ); };\n", 0, "bad reply" },
	};
	char path[128], prefix[160], *errs;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		struct conf *c = load("one.conf", cases[i].text, &errs, path,
		    sizeof(path));

		CHECK_TRUE(cases[i].name, c == NULL);
		if (cases[i].line)
			snprintf(prefix, sizeof(prefix), "%s:%d: ", path,
			    cases[i].line);
		else
			snprintf(prefix, sizeof(prefix), "%s:", path);
		if (!CHECK_TRUE(cases[i].name, line_has(errs, prefix,
		    cases[i].want)))
			print_error("  wanted a line \"%s...%s\" in:\n%s",
			    prefix, cases[i].want, errs ? errs : "");
		CHECK_TRUE(cases[i].name, nlines(errs) >= 1);
		free(errs);
		conf_free(c);
	}
	UNIT_DONE();
}

/* missing_file - an unreadable file is an error, never the defaults */
static void
missing_file(void **state)
{
	char path[128], *errs = NULL;
	size_t len;
	struct conf *c;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/does-not-exist.conf", dir);
	f = open_memstream(&errs, &len);
	c = conf_load(path, f);
	fclose(f);
	CHECK_TRUE("refused", c == NULL);
	CHECK_HAS("says which file", errs, path);
	free(errs);
	conf_free(c);
	UNIT_DONE();
}

/* many_errors - the whole file is read: every error, each on its line */
static void
many_errors(void **state)
{
	static const char text[] =
	    "foo = 1;\n"					/* 1 */
	    "limits = {\n"					/* 2 */
	    "  recipients = 0;\n"				/* 3 */
	    "  message_size = \"lots\";\n"			/* 4 */
	    "};\n"						/* 5 */
	    "accept_literals = \"yes\";\n"			/* 6 */
	    "deny = { clients = ( { pattern = \"1.2.3.4\"; x = \"y\"; },\n"
	    "  { reason = \"r\"; } ); };\n"			/* 7-8 */
	    "log_level = \"loud\";\n";				/* 9 */
	static const struct {
		int line;
		const char *want;
	} want[] = {
		{ 1, "unknown key \"foo\"" },
		{ 3, "limits.recipients" },
		{ 4, "limits.message_size" },
		{ 6, "accept_literals" },
		{ 7, "unknown entry field \"x\"" },
		{ 8, "entries are" },
		{ 9, "log_level" },
	};
	char path[128], line[300], *errs;
	struct conf *c;
	size_t i;

	(void)state;
	c = load("many.conf", text, &errs, path, sizeof(path));
	CHECK_TRUE("refused", c == NULL);
	for (i = 0; i < NELEM(want); i++) {
		snprintf(line, sizeof(line), "%s:%d: ", path, want[i].line);
		if (!CHECK_TRUE(want[i].want, line_has(errs, line,
		    want[i].want)))
			print_error("  wanted a line \"%s...%s\" in:\n%s", line,
			    want[i].want, errs);
	}
	CHECK_UINT("one line per error", nlines(errs), NELEM(want));
	free(errs);
	conf_free(c);
	UNIT_DONE();
}

/*
 * errors_across_phases - a file with both a per-key error and an error
 * found by the checks across keys reports both (the header: "every error
 * reported before the caller refuses to start").
 */
static void
errors_across_phases(void **state)
{
	static const char text[] =
	    "foo = 1;\n"
	    "authorized_networks = [ \"10.0.0.1/8\" ];\n"
	    "local_domains = [ \"a b\" ];\n";
	char path[128], *errs;
	struct conf *c;

	(void)state;
	c = load("phases.conf", text, &errs, path, sizeof(path));
	CHECK_TRUE("refused", c == NULL);
	CHECK_HAS("per-key error", errs, "unknown key \"foo\"");
	CHECK_HAS("network error", errs, "10.0.0.1/8");
	CHECK_HAS("domain error", errs, "a b");
	free(errs);
	conf_free(c);
	UNIT_DONE();
}

/* each_error_once - one mistake gives one message */
static void
each_error_once(void **state)
{
	static const struct {
		const char *name;
		const char *text;
		size_t n;
	} cases[] = {
		{ "bad network", "authorized_networks = [ \"10.0.0.1/8\" ];\n",
		    1 },
		{ "two bad list elements", "listen = [ \"127.0.0.1:1\" ];\n"
		    "local_users = ( 1, \"b\", 2 );\n", 2 },
		{ "two bad networks", "authorized_networks = [ \"10.0.0.1/8\","
		    " \"x\" ];\n", 2 },
		{ "bad listener", "listen = [ \"a:1\" ];\n", 1 },
	};
	char path[128], *errs;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		struct conf *c = load("once.conf", cases[i].text, &errs, path,
		    sizeof(path));

		CHECK_TRUE(cases[i].name, c == NULL);
		if (!CHECK_UINT(cases[i].name, nlines(errs), cases[i].n))
			print_error("  errors were:\n%s", errs);
		free(errs);
		conf_free(c);
	}
	UNIT_DONE();
}

/* print_reload - conf_print writes a file that loads back the same */
static void
print_reload(void **state)
{
	static const char text[] =
	    "hostname = \"mx \\\"quoted\\\" \\\\ name\";\n"
	    "local_domains = [ \"example.com\", \".lan.example.com\" ];\n"
	    "limits = { message_size = \"4g\"; idle_timeout = \"1h\";\n"
	    "  data_timeout = 90; };\n"
	    "deny = { senders = ( { pattern = \"x@\"; reply = \"550 5.7.1 "
	    "no\"; reason = \"r\"; }, \"y.example\" ); };\n";
	char path[128], *errs, *printed = NULL;
	struct conf *a, *b;
	size_t len;
	FILE *f;

	(void)state;
	a = load("print1.conf", text, &errs, path, sizeof(path));
	free(errs);
	if (!CHECK_TRUE("first load", a != NULL)) {
		UNIT_DONE();
		return;
	}
	f = open_memstream(&printed, &len);
	conf_print(a, f);
	fclose(f);
	b = load("print2.conf", printed, &errs, path, sizeof(path));
	if (CHECK_TRUE("printed file loads", b != NULL)) {
		CHECK_STR("hostname", b->hostname, a->hostname);
		CHECK_TRUE("local_domains", strlist_is(b->local_domains,
		    (const char *const *)a->local_domains));
		CHECK_UINT("data_timeout", b->data_timeout, 90);
		CHECK_UINT("message_size", b->message_size, a->message_size);
		CHECK_UINT("idle_timeout", b->idle_timeout, 3600);
		if (CHECK_UINT("deny.senders", b->deny_senders.n, 2)) {
			CHECK_STR("entry", b->deny_senders.e[0].reply,
			    "550 5.7.1 no");
			CHECK_STR("entry", b->deny_senders.e[1].pattern,
			    "y.example");
		}
	} else
		print_error("  errors: %s\n  printed:\n%s", errs, printed);
	free(errs);
	free(printed);
	conf_free(a);
	conf_free(b);
	UNIT_DONE();
}

/* default_print_reload - the built-in defaults print as a valid file */
static void
default_print_reload(void **state)
{
	char path[128], *errs, *printed = NULL;
	struct conf *a = conf_default(), *b;
	size_t len;
	FILE *f;

	(void)state;
	f = open_memstream(&printed, &len);
	conf_print(a, f);
	fclose(f);
	b = load("default.conf", printed, &errs, path, sizeof(path));
	if (CHECK_TRUE("defaults reload", b != NULL)) {
		CHECK_UINT("message_size", b->message_size, a->message_size);
		CHECK_UINT("data_timeout", b->data_timeout, a->data_timeout);
		CHECK_STR("banner", b->banner, a->banner);
	} else
		print_error("  errors: %s\n", errs);
	free(errs);
	free(printed);
	conf_free(a);
	conf_free(b);
	UNIT_DONE();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults),
		cmocka_unit_test(default_is_closed),
		cmocka_unit_test(valid_file),
		cmocka_unit_test(edge_values),
		cmocka_unit_test(one_error),
		cmocka_unit_test(missing_file),
		cmocka_unit_test(many_errors),
		cmocka_unit_test(errors_across_phases),
		cmocka_unit_test(each_error_once),
		cmocka_unit_test(print_reload),
		cmocka_unit_test(default_print_reload),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

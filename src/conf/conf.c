#include <libconfig.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "policy/cidr.h"
#include "policy/domset.h"
#include "queue/runner.h"
#include "server/abuse.h"
#include "server/metrics.h"
#include "server/server.h"
#include "util/str.h"
#include "util/xalloc.h"

enum ctype {
	T_STR,		/* char * */
	T_STRLIST,	/* char ** (NULL-terminated) */
	T_BOOL,		/* int */
	T_UINT,		/* uint64_t */
	T_SIZE,		/* uint64_t, "25m" or bytes */
	T_DUR,		/* uint64_t seconds, "5m" or seconds */
	T_LIST		/* struct conf_list: access list entries */
};

struct key {
	const char	*name;
	enum ctype	 type;
	const char	*def;		/* default, as text */
	uint64_t	 min, max;	/* numbers only */
	size_t		 off;
	const char	*choices;	/* strings: "a|b|c", or NULL = any */
	const char	*doc;
};

#define F(x)	offsetof(struct conf, x)
#define UMAX	UINT64_MAX

/*
 * Every key sluiced knows. The order here is the order of sluiced -p and
 * of the reference in sluice.conf(5).
 */
static const struct key keys[] = {
	{ "hostname", T_STR, "", 0, 0, F(hostname), NULL,
	  "Name in the banner, EHLO reply and Received: headers; empty means "
	  "the system's host name." },
	{ "banner", T_STR, "ESMTP sluiced", 0, 0, F(banner), NULL,
	  "Text after the host name in the 220 greeting." },
	{ "listen", T_STRLIST, "127.0.0.1:2525", 0, 0, F(listen), NULL,
	  "Addresses to accept SMTP on: \"ADDR:PORT\", \"[IPV6]:PORT\" or "
	  "\"*:PORT\" (every IPv4 and IPv6 address), then optionally a role, "
	  "smtp (inbound MX: AUTH only after STARTTLS, never required), "
	  "submission (STARTTLS, AUTH required before MAIL) or submissions "
	  "(implicit TLS, AUTH required), and networks=CIDR,... to trust "
	  "those networks on this listener only (instead of "
	  "authorized_networks): \"*:587 submission\"." },
	{ "local_domains", T_STRLIST, "localhost", 0, 0, F(local_domains),
	  NULL, "Domains whose mail is delivered here, into Maildirs. "
	  "\".example.com\" also matches every subdomain." },
	{ "relay_domains", T_STRLIST, "", 0, 0, F(relay_domains), NULL,
	  "Domains we are a backup MX for: accepted from anyone and queued "
	  "for relay." },
	{ "authorized_networks", T_STRLIST, "127.0.0.0/8, ::1/128", 0, 0,
	  F(authorized_networks), NULL,
	  "Client networks (CIDR) that may relay to any domain. Loopback "
	  "only by default; never the whole Internet." },
	{ "refuse_broad_networks", T_BOOL, "false", 0, 0,
	  F(refuse_broad_networks), NULL,
	  "Refuse to start (instead of warning) when a non-loopback listener "
	  "trusts a broad network such as 0.0.0.0/0 or all of 10.0.0.0/8." },
	{ "local_users", T_STRLIST, "", 0, 0, F(local_users), NULL,
	  "Users with a mailbox: \"alice\" (in every local domain) or "
	  "\"alice@example.com\". Empty means any local part that is a "
	  "safe mailbox name is accepted. Others get 550 5.1.1 at RCPT." },
	{ "recipient_delimiter", T_STR, "+", 0, 0, F(recipient_delimiter),
	  NULL, "Separates a user from an extension (alice+lists goes to "
	  "alice); empty for none." },
	{ "postmaster", T_STR, "postmaster", 0, 0, F(postmaster), NULL,
	  "Mailbox that receives mail for postmaster, which is always "
	  "accepted for local domains and for postmaster@HOSTNAME, from any "
	  "client (RFC 5321 4.5.1)." },
	{ "accept_literals", T_BOOL, "false", 0, 0, F(accept_literals), NULL,
	  "Treat user@[IP] as local when IP is in local_addresses." },
	{ "local_addresses", T_STRLIST, "", 0, 0, F(local_addresses), NULL,
	  "Our own IP addresses, for accept_literals." },
	{ "allow_percent_hack", T_BOOL, "false", 0, 0,
	  F(allow_percent_hack), NULL,
	  "Rewrite user%host@local to user@host and decide again, instead of "
	  "refusing it." },
	{ "allow_bang_path", T_BOOL, "false", 0, 0, F(allow_bang_path), NULL,
	  "Rewrite host!user@local to user@host and decide again, instead of "
	  "refusing it." },
	{ "allow_quoted_at", T_BOOL, "false", 0, 0, F(allow_quoted_at), NULL,
	  "Rewrite \"user@host\"@local to user@host and decide again, instead "
	  "of refusing it." },
	{ "spool_dir", T_STR, "var/spool", 0, 0, F(spool_dir), NULL,
	  "The queue: accepted messages wait here until delivered." },
	{ "maildir_root", T_STR, "var/mail", 0, 0, F(maildir_root), NULL,
	  "Local mailboxes: one Maildir per user, MAILDIR_ROOT/USER/." },
	{ "user", T_STR, "", 0, 0, F(user), NULL,
	  "After binding its ports, sluiced drops root privileges to this "
	  "user (and its group). Empty: keep running as started." },
	{ "log", T_STR, "stderr", 0, 0, F(log), NULL,
	  "Where log lines go: \"stderr\", \"syslog\" (facility mail) or a "
	  "file path." },
	{ "log_level", T_STR, "info", 0, 0, F(log_level),
	  "err|warning|info|debug", "Least severe level logged." },
	{ "delivery_workers", T_UINT, "2", 1, 64, F(delivery_workers), NULL,
	  "Threads that write and fsync Maildir files (the spool has its "
	  "own commit thread)." },
	{ "control_socket", T_STR, "", 0, 0, F(control_socket), NULL,
	  "Unix socket for `sluice queue` (mode 0660); empty means "
	  "SPOOL_DIR/control.sock." },
	{ "queue.retry_min", T_DUR, "5m", 1, 86400, F(retry_min), NULL,
	  "Delay before the first retry of a temporary failure; it doubles "
	  "with each attempt up to queue.retry_max." },
	{ "queue.retry_max", T_DUR, "4h", 1, 604800, F(retry_max), NULL,
	  "Longest delay between two attempts." },
	{ "queue.lifetime", T_DUR, "5d", 60, 2592000, F(lifetime), NULL,
	  "A message still undelivered after this long is bounced." },
	{ "queue.delay_warning", T_DUR, "4h", 0, 2592000, F(delay_warning),
	  NULL, "Send the sender one delay warning (a DSN) when a message "
	  "has waited this long; 0 for never." },
	{ "queue.concurrency", T_UINT, "100", 1, 10000, F(out_concurrency),
	  NULL, "Outbound SMTP deliveries at once, in total." },
	{ "queue.per_destination", T_UINT, "10", 1, 1000, F(per_destination),
	  NULL, "Outbound SMTP deliveries at once to one destination (domain "
	  "or next hop)." },
	{ "queue.connection_cache_time", T_DUR, "2s", 0, 300,
	  F(conn_cache_time), NULL, "How long a connection to a remote "
	  "server is kept open after a delivery, for the next message to the "
	  "same next hop (which then needs no new connection, EHLO, STARTTLS "
	  "or AUTH); messages already waiting go on it at once. A connection "
	  "carries at most 100 messages and starts none after 5 minutes; an "
	  "idle one counts against queue.per_destination and "
	  "queue.concurrency until a new connection needs its place. 0: QUIT "
	  "after every message." },
	{ "queue.max_hops", T_UINT, "50", 1, 1000, F(max_hops), NULL,
	  "A message with more Received: headers is a mail loop and is "
	  "bounced." },
	{ "outbound.relayhost", T_STR, "", 0, 0, F(relayhost), NULL,
	  "Send all remote mail through this smarthost: \"[host]:port\" "
	  "(no MX lookup) or \"host:port\" (its MX). Empty: deliver "
	  "directly to each domain's MX." },
	{ "outbound.relayhost_auth", T_STR, "", 0, 0, F(relayhost_auth), NULL,
	  "\"user:password\" for SMTP AUTH PLAIN at the relayhost, sent "
	  "only over TLS. Keep this file readable by root and the run user's "
	  "group only (root:GROUP 0640: SIGHUP re-reads it as the run "
	  "user)." },
	{ "outbound.routes", T_STRLIST, "", 0, 0, F(routes), NULL,
	  "Static routes, \"DOMAIN NEXTHOP\": mail for DOMAIN (or "
	  ".DOMAIN for its subdomains) goes to NEXTHOP ([host]:port or "
	  "host:port), as with Postfix's transport map." },
	{ "outbound.tls_required", T_STRLIST, "", 0, 0, F(tls_required), NULL,
	  "Destination domains that must be reached over TLS; without it "
	  "their mail waits (4xx) instead of going in clear." },
	{ "outbound.resolver", T_STR, "", 0, 0, F(resolver), NULL,
	  "DNS server for MX lookups, \"ADDR[:PORT]\"; empty means the "
	  "system's (/etc/resolv.conf)." },
	{ "outbound.connect_timeout", T_DUR, "30s", 1, 600,
	  F(out_connect_timeout), NULL, "Time to connect to a remote server." },
	{ "outbound.timeout", T_DUR, "5m", 1, 3600, F(out_timeout), NULL,
	  "Time to wait for each reply of a remote server (RFC 5321 "
	  "4.5.3.2)." },
	{ "limits.message_size", T_SIZE, "25m", 1024, 1ULL << 32, F(message_size),
	  NULL, "Largest message accepted (SIZE= and the data itself); "
	  "larger ones get 552 5.3.4." },
	{ "limits.recipients", T_UINT, "100", 1, 100000, F(recipients), NULL,
	  "Recipients per message; more get 452 4.5.3 (RFC 5321 4.5.3.1.8)." },
	{ "limits.errors", T_UINT, "20", 1, 1000, F(errors), NULL,
	  "Client errors in one session before it is disconnected with 421." },
	{ "limits.idle_timeout", T_DUR, "5m", 1, 3600, F(idle_timeout), NULL,
	  "Time to wait for the next command (RFC 5321 4.5.3.2.7)." },
	{ "limits.data_timeout", T_DUR, "3m", 1, 3600, F(data_timeout), NULL,
	  "Time to wait for the next block of message data "
	  "(RFC 5321 4.5.3.2.5)." },
	{ "limits.sessions", T_UINT, "10000", 1, 1000000, F(sessions), NULL,
	  "Concurrent sessions in total; more get 421 4.3.2. Bounded by the "
	  "open-file limit, which sluiced raises to its hard maximum." },
	{ "limits.sessions_per_ip", T_UINT, "100", 1, 1000000,
	  F(sessions_per_ip), NULL,
	  "Concurrent sessions per client address; more get 421 4.7.0. "
	  "Clients in authorized_networks are exempt." },
	{ "limits.reject_long_lines", T_BOOL, "false", 0, 0,
	  F(reject_long_lines), NULL,
	  "Refuse a message with a line over 1000 octets (RFC 5321 "
	  "4.5.3.1.6) with 500 5.5.2 after its end, instead of storing it "
	  "unchanged." },
	{ "tls.cert", T_STR, "", 0, 0, F(tls_cert), NULL,
	  "Certificate chain (PEM) for STARTTLS and implicit TLS. Empty: a "
	  "self-signed one is made in SPOOL_DIR/tls/ (fine for tests, not for "
	  "the Internet)." },
	{ "tls.key", T_STR, "", 0, 0, F(tls_key), NULL,
	  "Private key (PEM) of tls.cert." },
	{ "auth.passwd_file", T_STR, "", 0, 0, F(auth_passwd), NULL,
	  "Credentials for SMTP AUTH: lines \"user:hash\" with crypt(3) "
	  "hashes as in /etc/shadow (make one with `sluice passwd`). "
	  "Reloaded on SIGHUP." },
	{ "auth.dovecot_socket", T_STR, "", 0, 0, F(auth_dovecot), NULL,
	  "Check credentials with Dovecot's auth service instead (its "
	  "auth-client socket, e.g. /run/dovecot/auth-client)." },
	{ "auth.sender_check", T_BOOL, "true", 0, 0, F(sender_check), NULL,
	  "An authenticated user may use only their own envelope senders "
	  "(else 553 5.7.1): those in auth.sender_logins, or by default the "
	  "login itself when it is an address, or LOGIN@ a local domain." },
	{ "auth.sender_logins", T_STRLIST, "", 0, 0, F(sender_logins), NULL,
	  "\"USER: PATTERN, PATTERN...\": the senders USER may use "
	  "(user@domain, user@, domain, .domain)." },
	{ "auth.max_failures", T_UINT, "10", 1, 10000, F(auth_max_failures),
	  NULL, "AUTH failures from one address within auth.window before it "
	  "is blocked (454 4.7.0, disconnect) for auth.block_time." },
	{ "auth.slow_after", T_UINT, "3", 1, 10000, F(auth_slow_after), NULL,
	  "From this many failures on, each failure is answered more slowly "
	  "(up to 10 seconds)." },
	{ "auth.window", T_DUR, "15m", 1, 86400, F(auth_window), NULL,
	  "The window in which AUTH failures are counted." },
	{ "auth.block_time", T_DUR, "1h", 1, 604800, F(auth_block_time), NULL,
	  "How long an address stays blocked after too many failures." },
	{ "abuse.rules", T_STRLIST,
	  "unknown-recipients: unknown_recipients per ip >= 100 in 10m -> "
	  "block 1h, "
	  "relay-probing: relay_denied per ip >= 100 in 10m -> block 1h, "
	  "worm-domains: domains per ip >= 100 in 1h -> hold 4h, "
	  "worm-domains-user: domains per user >= 100 in 1h -> hold 4h, "
	  "message-rate: messages per ip >= 1000 in 1h -> tempfail 15m, "
	  "message-rate-user: messages per user >= 1000 in 1h -> tempfail 15m",
	  0, 0, F(abuse_rules), NULL,
	  "Abuse rules, for every client and user including trusted ones: "
	  "\"NAME: COUNTER per ip|user >= LIMIT in WINDOW -> "
	  "tempfail|hold|block DURATION\". Counters: connections, messages, "
	  "recipients, unknown_recipients, relay_denied, auth_failures (per "
	  "user: the login tried), kbytes, rejections, domains (distinct "
	  "recipient domains). WINDOW "
	  "from 1m to 1h. tempfail: 451 4.7.1 at MAIL/RCPT; hold: the "
	  "source's new and queued mail goes on hold; block: 421 at "
	  "connect. Each trigger logs one event=abuse-alert line. An "
	  "allow.clients entry exempts from the actions, not the counting." },
	{ "abuse.table_size", T_UINT, "8192", 16, 1000000, F(abuse_table),
	  NULL, "Client addresses and users tracked at once, about 2.5 KB "
	  "each (the default reserves 20 MB of address space, but only "
	  "entries in use take memory); the least recently seen is "
	  "forgotten first." },
	{ "dnsbl.zones", T_STRLIST, "", 0, 0, F(dnsbl_zones), NULL,
	  "DNS blocklists (RFC 5782) asked about each client at connect; a "
	  "listed client is refused at RCPT (554 5.7.1, naming the zone and "
	  "its TXT) unless trusted or authenticated. Lookup failures never "
	  "block mail." },
	{ "dnsbl.timeout", T_DUR, "5s", 1, 60, F(dnsbl_timeout), NULL,
	  "The greeting waits at most this long for the blocklists." },
	{ "metrics.listen", T_STR, "", 0, 0, F(metrics_listen), NULL,
	  "Serve Prometheus metrics at http://ADDR:PORT/metrics; ADDR must "
	  "be a loopback address (127.0.0.1, [::1]): the endpoint has no TLS "
	  "or login. Empty: off." },
	{ "web.listen", T_STR, "127.0.0.1:8025", 0, 0, F(web_listen), NULL,
	  "Where `sluice web` serves HTTP (put a TLS reverse proxy in "
	  "front; see etc/nginx-sluice-web.conf)." },
	{ "web.database", T_STR, "var/web.db", 0, 0, F(web_database), NULL,
	  "The web tester's SQLite database: reports, accounts, sessions." },
	{ "web.allow_private", T_BOOL, "false", 0, 0, F(web_allow_private),
	  NULL, "Allow tests of loopback, private, link-local, multicast and "
	  "reserved addresses (a lab option: never on a public service)." },
	{ "web.test_domain", T_STR, "", 0, 0, F(web_test_domain), NULL,
	  "Delivery mode: the domain relayed test messages are addressed to; "
	  "its MX must be web.catcher. Empty: delivery mode is off." },
	{ "web.catcher", T_STR, "", 0, 0, F(web_catcher), NULL,
	  "Delivery mode: ADDR:PORT of the built-in SMTP listener that "
	  "receives relayed test messages (and bounces)." },
	{ "web.helo", T_STR, "", 0, 0, F(web_helo), NULL,
	  "The HELO name of the tester; empty: this host's name." },
	{ "web.source", T_STR, "", 0, 0, F(web_source), NULL,
	  "Local address the tester connects from; empty: any." },
	{ "web.concurrency", T_UINT, "4", 1, 1000, F(web_concurrency), NULL,
	  "Tests run at once; more wait in a queue (their page shows their "
	  "place)." },
	{ "web.queue_max", T_UINT, "50", 0, 100000, F(web_queue_max), NULL,
	  "Tests allowed to wait; beyond, visitors get 429." },
	{ "web.per_ip", T_UINT, "10", 1, 64, F(web_per_ip), NULL,
	  "Tests one visitor address may start per hour (then 429)." },
	{ "web.per_user", T_UINT, "50", 1, 64, F(web_per_user), NULL,
	  "Delivery tests one account may start per day (then 429)." },
	{ "web.target_cache", T_DUR, "15m", 0, 86400, F(web_target_cache),
	  NULL, "A target tested within this time is not tested again: the "
	  "visitor gets that report. Targets are compared by their normal "
	  "form and by the address and port actually tested, so other "
	  "spellings or names of one server share the report." },
	{ "web.secure_cookies", T_BOOL, "false", 0, 0, F(web_secure_cookies),
	  NULL, "Mark cookies Secure (set when served over HTTPS; also done "
	  "per request when the proxy sends X-Forwarded-Proto: https)." },
	{ "web.timeout", T_DUR, "60s", 1, 600, F(web_timeout), NULL,
	  "Per-command timeout of the tester's SMTP sessions." },
	{ "web.wait", T_DUR, "60s", 0, 3600, F(web_wait), NULL,
	  "Delivery mode: how long to wait for relayed tokens." },
	{ "deny.clients", T_LIST, "", 0, 0, F(deny_clients), NULL,
	  "Client addresses or networks refused at connect (554 5.7.1)." },
	{ "deny.helo", T_LIST, "", 0, 0, F(deny_helo), NULL,
	  "HELO/EHLO names refused (550 5.7.1)." },
	{ "deny.senders", T_LIST, "", 0, 0, F(deny_senders), NULL,
	  "Envelope senders refused at MAIL: user@domain, user@, domain or "
	  ".domain (550 5.7.1)." },
	{ "deny.recipients", T_LIST, "", 0, 0, F(deny_recipients), NULL,
	  "Recipients refused at RCPT, same patterns (550 5.7.1)." },
	{ "allow.clients", T_LIST, "", 0, 0, F(allow_clients), NULL,
	  "Exceptions to deny.clients. An allow entry never grants relay." },
	{ "allow.helo", T_LIST, "", 0, 0, F(allow_helo), NULL,
	  "Exceptions to deny.helo." },
	{ "allow.senders", T_LIST, "", 0, 0, F(allow_senders), NULL,
	  "Exceptions to deny.senders." },
	{ "allow.recipients", T_LIST, "", 0, 0, F(allow_recipients), NULL,
	  "Exceptions to deny.recipients." },
};

#define NKEYS	(sizeof(keys) / sizeof(keys[0]))

/* field - the address of a key's field in c */
static void *
field(struct conf *c, const struct key *k)
{
	return (char *)c + k->off;
}

/* cfield - the same, read-only */
static const void *
cfield(const struct conf *c, const struct key *k)
{
	return (const char *)c + k->off;
}

/* strlist_free - free a NULL-terminated array of strings */
static void
strlist_free(char **l)
{
	char **p;

	for (p = l; p && *p; p++)
		free(*p);
	free(l);
}

/* strlist_split - "a, b,c" -> {"a","b","c",NULL} */
static char **
strlist_split(const char *s)
{
	char **l = xcalloc(1, sizeof(*l));
	size_t n = 0;

	while (*s) {
		const char *e = strchr(s, ',');
		size_t len = e ? (size_t)(e - s) : strlen(s);

		while (len > 0 && *s == ' ')
			s++, len--;
		while (len > 0 && s[len - 1] == ' ')
			len--;
		if (len > 0) {
			l = xreallocarray(l, n + 2, sizeof(*l));
			l[n++] = xstrndup(s, len);
			l[n] = NULL;
		}
		if (e == NULL)
			break;
		s = e + 1;
	}
	return l;
}

/* list_free - free access-list entries */
static void
list_free(struct conf_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->e[i].pattern);
		free(l->e[i].reply);
		free(l->e[i].reason);
	}
	free(l->e);
	l->e = NULL;
	l->n = 0;
}

/* free_field - release a key's current value */
static void
free_field(struct conf *c, const struct key *k)
{
	switch (k->type) {
	case T_STR:
		free(*(char **)field(c, k));
		*(char **)field(c, k) = NULL;
		break;
	case T_STRLIST:
		strlist_free(*(char ***)field(c, k));
		*(char ***)field(c, k) = NULL;
		break;
	case T_LIST:
		list_free(field(c, k));
		break;
	default:
		break;
	}
}

/* parse_number - a number key from text; 0 or -1 */
static int
parse_number(const struct key *k, const char *s, uint64_t *v)
{
	int r;

	if (k->type == T_SIZE)
		r = str_parse_size(s, v);
	else if (k->type == T_DUR)
		r = str_parse_duration(s, v);
	else
		r = str_parse_u64(s, 0, UMAX, v);
	return r;
}

/* set_default - give a key its default value */
static void
set_default(struct conf *c, const struct key *k)
{
	uint64_t v;

	switch (k->type) {
	case T_STR:
		*(char **)field(c, k) = xstrdup(k->def);
		break;
	case T_STRLIST:
		*(char ***)field(c, k) = strlist_split(k->def);
		break;
	case T_BOOL:
		*(int *)field(c, k) = strcmp(k->def, "true") == 0;
		break;
	case T_UINT:
	case T_SIZE:
	case T_DUR:
		if (parse_number(k, k->def, &v) == -1)
			abort();	/* our table is wrong */
		*(uint64_t *)field(c, k) = v;
		break;
	case T_LIST:
		break;
	}
}

/* conf_default - the embedded default configuration */
struct conf *
conf_default(void)
{
	struct conf *c = xcalloc(1, sizeof(*c));
	size_t i;

	for (i = 0; i < NKEYS; i++)
		set_default(c, &keys[i]);
	return c;
}

/* conf_free - free a configuration; NULL is a no-op */
void
conf_free(struct conf *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < NKEYS; i++)
		free_field(c, &keys[i]);
	free(c->path);
	free(c);
}

/* lookup - the table entry for a dotted name */
static const struct key *
lookup(const char *name)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* is_group - is name a prefix ("limits") of some key? */
static int
is_group(const char *name)
{
	size_t i, n = strlen(name);

	for (i = 0; i < NKEYS; i++)
		if (strncmp(keys[i].name, name, n) == 0 &&
		    keys[i].name[n] == '.')
			return 1;
	return 0;
}

struct loader {
	struct conf	*c;
	FILE		*errs;
	const char	*path;
	int		 nerr;
	config_t	*cfg;		/* the file read, for error lines */
};

/* lerr - report one error with file and line */
static void __attribute__((format(printf, 3, 4)))
lerr(struct loader *l, const config_setting_t *s, const char *fmt, ...)
{
	const char *file = s ? config_setting_source_file(s) : NULL;
	va_list ap;

	if (s != NULL)
		fprintf(l->errs, "%s:%u: ", file ? file : l->path,
		    config_setting_source_line(s));
	else
		fprintf(l->errs, "%s: ", l->path);
	va_start(ap, fmt);
	vfprintf(l->errs, fmt, ap);
	va_end(ap);
	fputc('\n', l->errs);
	l->nerr++;
}

/* number_value - an int64 setting, or a string with a unit */
static int
number_value(struct loader *l, const struct key *k, config_setting_t *s,
    uint64_t *v)
{
	int t = config_setting_type(s);

	if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) {
		long long x = config_setting_get_int64(s);

		if (x < 0) {
			lerr(l, s, "%s: must not be negative", k->name);
			return -1;
		}
		*v = (uint64_t)x;
	} else if (t == CONFIG_TYPE_STRING && k->type != T_UINT) {
		if (parse_number(k, config_setting_get_string(s), v) == -1) {
			lerr(l, s, "%s: bad %s \"%s\"", k->name,
			    k->type == T_SIZE ? "size (like 25m)" :
			    "duration (like 5m)",
			    config_setting_get_string(s));
			return -1;
		}
	} else {
		lerr(l, s, "%s: must be a number", k->name);
		return -1;
	}
	if (*v < k->min || *v > k->max) {
		lerr(l, s, "%s: %llu is out of range [%llu, %llu]", k->name,
		    (unsigned long long)*v, (unsigned long long)k->min,
		    (unsigned long long)k->max);
		return -1;
	}
	return 0;
}

/* choice_ok - is s one of the "a|b|c" choices? */
static int
choice_ok(const char *choices, const char *s)
{
	size_t n = strlen(s);
	const char *p = choices;

	while (p) {
		const char *e = strchr(p, '|');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (len == n && strncmp(p, s, n) == 0)
			return 1;
		p = e ? e + 1 : NULL;
	}
	return 0;
}

/* list_entry - one access-list element: "pattern" or { pattern, reply, reason } */
static int
list_entry(struct loader *l, const struct key *k, config_setting_t *el,
    struct policy_entry *e)
{
	const char *pat = NULL, *reply = NULL, *reason = NULL;
	int i;

	memset(e, 0, sizeof(*e));
	if (config_setting_type(el) == CONFIG_TYPE_STRING)
		pat = config_setting_get_string(el);
	else if (config_setting_type(el) == CONFIG_TYPE_GROUP) {
		for (i = 0; i < config_setting_length(el); i++) {
			config_setting_t *m = config_setting_get_elem(el,
			    (unsigned)i);
			const char *name = config_setting_name(m);

			if (config_setting_type(m) != CONFIG_TYPE_STRING) {
				lerr(l, m, "%s: \"%s\" must be a string",
				    k->name, name);
				return -1;
			}
			if (strcmp(name, "pattern") == 0)
				pat = config_setting_get_string(m);
			else if (strcmp(name, "reply") == 0)
				reply = config_setting_get_string(m);
			else if (strcmp(name, "reason") == 0)
				reason = config_setting_get_string(m);
			else {
				lerr(l, m, "%s: unknown entry field \"%s\" "
				    "(want pattern, reply, reason)", k->name,
				    name);
				return -1;
			}
		}
	}
	if (pat == NULL || *pat == '\0') {
		lerr(l, el, "%s: entries are \"pattern\" or { pattern = "
		    "\"...\"; reply = \"550 5.7.1 ...\"; reason = \"...\"; }",
		    k->name);
		return -1;
	}
	e->pattern = xstrdup(pat);
	e->reply = reply ? xstrdup(reply) : NULL;
	e->reason = reason ? xstrdup(reason) : NULL;
	return 0;
}

/* load_key - read one setting into its field */
static void
load_key(struct loader *l, const struct key *k, config_setting_t *s)
{
	int t = config_setting_type(s), i, n;
	uint64_t v;

	switch (k->type) {
	case T_STR:
		if (t != CONFIG_TYPE_STRING) {
			lerr(l, s, "%s: must be a string", k->name);
			return;
		}
		if (k->choices && !choice_ok(k->choices,
		    config_setting_get_string(s))) {
			lerr(l, s, "%s: must be one of %s", k->name,
			    k->choices);
			return;
		}
		free_field(l->c, k);
		*(char **)field(l->c, k) = xstrdup(config_setting_get_string(s));
		return;
	case T_BOOL:
		if (t != CONFIG_TYPE_BOOL) {
			lerr(l, s, "%s: must be true or false", k->name);
			return;
		}
		*(int *)field(l->c, k) = config_setting_get_bool(s);
		return;
	case T_UINT:
	case T_SIZE:
	case T_DUR:
		if (number_value(l, k, s, &v) == 0)
			*(uint64_t *)field(l->c, k) = v;
		return;
	case T_STRLIST: {
		char **list;
		int bad;

		if (t == CONFIG_TYPE_STRING) {
			free_field(l->c, k);
			list = xcalloc(2, sizeof(*list));
			list[0] = xstrdup(config_setting_get_string(s));
			*(char ***)field(l->c, k) = list;
			return;
		}
		if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST) {
			lerr(l, s, "%s: must be a list of strings", k->name);
			return;
		}
		n = config_setting_length(s);
		list = xcalloc((size_t)n + 1, sizeof(*list));
		for (i = 0, bad = 0; i < n; i++) {
			config_setting_t *el = config_setting_get_elem(s,
			    (unsigned)i);

			if (config_setting_type(el) != CONFIG_TYPE_STRING) {
				lerr(l, el, "%s: element %d must be a string",
				    k->name, i + 1);
				bad = 1;
				continue;
			}
			list[i] = xstrdup(config_setting_get_string(el));
		}
		if (bad) {
			for (i = 0; i < n; i++)
				free(list[i]);
			free(list);
			return;
		}
		free_field(l->c, k);
		*(char ***)field(l->c, k) = list;
		return;
	}
	case T_LIST: {
		struct conf_list *cl = field(l->c, k);

		if (t != CONFIG_TYPE_LIST && t != CONFIG_TYPE_ARRAY) {
			lerr(l, s, "%s: must be a list, like ( \"a\", "
			    "{ pattern = \"b\"; reason = \"why\"; } )",
			    k->name);
			return;
		}
		list_free(cl);
		n = config_setting_length(s);
		cl->e = xcalloc((size_t)n + 1, sizeof(*cl->e));
		for (i = 0; i < n; i++)
			if (list_entry(l, k, config_setting_get_elem(s,
			    (unsigned)i), &cl->e[cl->n]) == 0)
				cl->n++;
		return;
	}
	}
}

/* walk - check and load every setting under group g (prefix "a.b.") */
static void
walk(struct loader *l, config_setting_t *g, const char *prefix)
{
	int i, n = config_setting_length(g);

	for (i = 0; i < n; i++) {
		config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		char name[256];
		const struct key *k;

		snprintf(name, sizeof(name), "%s%s", prefix,
		    config_setting_name(s));
		if ((k = lookup(name)) != NULL)
			load_key(l, k, s);
		else if (is_group(name) &&
		    config_setting_type(s) == CONFIG_TYPE_GROUP) {
			char sub[260];

			snprintf(sub, sizeof(sub), "%s.", name);
			walk(l, s, sub);
		} else
			lerr(l, s, "unknown key \"%s\"", name);
	}
}

/* at - where key (its element i, when a list) is in the file, or NULL */
static const config_setting_t *
at(struct loader *l, const char *key, size_t i)
{
	config_setting_t *s = l->cfg ? config_lookup(l->cfg, key) : NULL;

	if (s != NULL && config_setting_is_aggregate(s) &&
	    i < (size_t)config_setting_length(s))
		return config_setting_get_elem(s, (unsigned)i);
	return s;
}

/* check_nets - every element a network (each error reported) */
static void
check_nets(struct loader *l, const char *key, char **list)
{
	struct cidr x;
	size_t i;

	for (i = 0; list && list[i]; i++)
		if (cidr_parse(list[i], &x) == -1)
			lerr(l, at(l, key, i), "%s: bad network \"%s\" (want "
			    "ADDR or ADDR/BITS with the host bits zero)", key,
			    list[i]);
}

/* check_domains - every element a domain pattern */
static void
check_domains(struct loader *l, const char *key, char **list)
{
	struct domset *d = domset_new();
	size_t i;

	for (i = 0; list && list[i]; i++)
		if (strchr(list[i], '@') || domset_add(d, list[i], NULL) == -1)
			lerr(l, at(l, key, i), "%s: bad domain \"%s\"", key,
			    list[i]);
	domset_free(d);
}

/* check_list - every access-list pattern well-formed */
static void
check_list(struct loader *l, const char *key, const struct conf_list *cl,
    int cidr)
{
	struct domset *d = domset_new();
	struct cidr x;
	size_t i;

	for (i = 0; i < cl->n; i++)
		if (cidr ? cidr_parse(cl->e[i].pattern, &x) == -1 :
		    domset_add(d, cl->e[i].pattern, NULL) == -1)
			lerr(l, at(l, key, i), "%s: bad pattern \"%s\"", key,
			    cl->e[i].pattern);
	domset_free(d);
}

/* check - cross-key checks the table cannot express */
static void
check(struct loader *l)
{
	struct conf *c = l->c;
	struct policy_conf pc;
	struct policy *p;
	char err[512];
	size_t i;
	int before;

	if (c->listen == NULL || c->listen[0] == NULL)
		lerr(l, at(l, "listen", 0), "listen: at least one address is "
		    "needed");
	for (i = 0; c->listen && c->listen[i]; i++) {
		struct listener *ls = NULL;
		size_t k, n = 0;

		if (listener_parse(c->listen[i], &ls, &n, err,
		    sizeof(err)) == -1)
			lerr(l, at(l, "listen", i), "%s", err);
		for (k = 0; k < n; k++)
			cidr_set_free(ls[k].trusted);
		free(ls);
	}
	if (strlen(c->recipient_delimiter) > 1)
		lerr(l, at(l, "recipient_delimiter", 0), "recipient_delimiter: "
		    "one character or empty");
	for (i = 0; c->routes && c->routes[i]; i++) {
		char dom[300], hop[300];
		struct route rt;

		if (sscanf(c->routes[i], "%299s %299s", dom, hop) != 2 ||
		    route_parse(hop, &rt, err, sizeof(err)) == -1)
			lerr(l, at(l, "outbound.routes", i), "outbound.routes: "
			    "bad route \"%s\" (want \"DOMAIN [HOST]:PORT\")",
			    c->routes[i]);
		else
			free(rt.host);
	}
	if (c->relayhost[0]) {
		struct route rt;

		if (route_parse(c->relayhost, &rt, err, sizeof(err)) == -1)
			lerr(l, at(l, "outbound.relayhost", 0),
			    "outbound.relayhost: %s", err);
		else
			free(rt.host);
	}
	for (i = 0; c->abuse_rules && c->abuse_rules[i]; i++) {
		struct abuse_rule ar;

		if (abuse_parse_rule(c->abuse_rules[i], &ar, err,
		    sizeof(err)) == -1)
			lerr(l, at(l, "abuse.rules", i), "abuse.rules: %s",
			    err);
	}
	if (c->metrics_listen[0]) {
		char host[128];
		unsigned port;

		if (metrics_parse_listen(c->metrics_listen, host, sizeof(host),
		    &port, err, sizeof(err)) == -1)
			lerr(l, at(l, "metrics.listen", 0), "%s", err);
	}
	if (c->relayhost_auth[0] && strchr(c->relayhost_auth, ':') == NULL)
		lerr(l, at(l, "outbound.relayhost_auth", 0),
		    "outbound.relayhost_auth: want \"user:password\"");
	before = l->nerr;
	check_nets(l, "authorized_networks", c->authorized_networks);
	check_nets(l, "local_addresses", c->local_addresses);
	check_domains(l, "local_domains", c->local_domains);
	check_domains(l, "relay_domains", c->relay_domains);
	check_list(l, "deny.clients", &c->deny_clients, 1);
	check_list(l, "allow.clients", &c->allow_clients, 1);
	check_list(l, "deny.helo", &c->deny_helo, 0);
	check_list(l, "allow.helo", &c->allow_helo, 0);
	check_list(l, "deny.senders", &c->deny_senders, 0);
	check_list(l, "allow.senders", &c->allow_senders, 0);
	check_list(l, "deny.recipients", &c->deny_recipients, 0);
	check_list(l, "allow.recipients", &c->allow_recipients, 0);
	if (l->nerr > before)
		return;	/* policy_new would only repeat the first of them */
	conf_policy(c, &pc);
	if ((p = policy_new(&pc, err, sizeof(err))) == NULL)
		lerr(l, NULL, "%s", err);
	policy_free(p);
}

/*
 * conf_load - the defaults, overridden by the file at path. Every error
 * is written to errs; NULL if there was any.
 */
struct conf *
conf_load(const char *path, FILE *errs)
{
	struct loader l = { NULL, errs, path, 0, NULL };
	config_t cfg;

	l.c = conf_default();
	config_init(&cfg);
	if (config_read_file(&cfg, path) != CONFIG_TRUE) {
		if (config_error_type(&cfg) == CONFIG_ERR_FILE_IO)
			fprintf(errs, "%s: cannot read the file\n", path);
		else
			fprintf(errs, "%s:%d: %s\n", config_error_file(&cfg) ?
			    config_error_file(&cfg) : path,
			    config_error_line(&cfg), config_error_text(&cfg));
		config_destroy(&cfg);
		conf_free(l.c);
		return NULL;
	}
	walk(&l, config_root_setting(&cfg), "");
	l.cfg = &cfg;
	check(&l);	/* a key with an error kept its default */
	config_destroy(&cfg);
	if (l.nerr > 0) {
		conf_free(l.c);
		return NULL;
	}
	l.c->path = xstrdup(path);
	return l.c;
}

/* print_string - a libconfig string literal */
static void
print_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

/* print_value - one key's value in libconfig syntax */
static void
print_value(FILE *out, const struct conf *c, const struct key *k)
{
	char tmp[32];
	size_t i;

	switch (k->type) {
	case T_STR:
		print_string(out, *(char *const *)cfield(c, k));
		break;
	case T_BOOL:
		fputs(*(const int *)cfield(c, k) ? "true" : "false", out);
		break;
	case T_UINT:
	case T_SIZE: {
		uint64_t v = *(const uint64_t *)cfield(c, k);

		/* libconfig reads a bare integer as 32 bits: mark 64 */
		fprintf(out, "%llu%s", (unsigned long long)v,
		    v > INT32_MAX ? "L" : "");
		break;
	}
	case T_DUR:
		str_fmt_duration(tmp, sizeof(tmp),
		    *(const uint64_t *)cfield(c, k));
		print_string(out, tmp);
		break;
	case T_STRLIST: {
		char *const *l = *(char **const *)cfield(c, k);

		fputs("[ ", out);
		for (i = 0; l && l[i]; i++) {
			if (i)
				fputs(", ", out);
			print_string(out, l[i]);
		}
		fputs(" ]", out);
		break;
	}
	case T_LIST: {
		const struct conf_list *cl = cfield(c, k);

		fputs("( ", out);
		for (i = 0; i < cl->n; i++) {
			if (i)
				fputs(", ", out);
			fputs("{ pattern = ", out);
			print_string(out, cl->e[i].pattern);
			if (cl->e[i].reply) {
				fputs("; reply = ", out);
				print_string(out, cl->e[i].reply);
			}
			if (cl->e[i].reason) {
				fputs("; reason = ", out);
				print_string(out, cl->e[i].reason);
			}
			fputs("; }", out);
		}
		fputs(" )", out);
		break;
	}
	}
}

/* conf_print - the whole effective configuration, as a valid file */
void
conf_print(const struct conf *c, FILE *out)
{
	const char *group = "";
	size_t i, glen = 0;

	fprintf(out, "# sluiced configuration (%s)\n",
	    c->path ? c->path : "built-in defaults");
	for (i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		const char *dot = strchr(k->name, '.');
		size_t plen = dot ? (size_t)(dot - k->name) : 0;

		if (glen && (plen != glen || strncmp(k->name, group, glen))) {
			fputs("};\n", out);
			glen = 0;
		}
		if (plen && !glen) {
			fprintf(out, "%.*s = {\n", (int)plen, k->name);
			group = k->name;
			glen = plen;
		}
		fprintf(out, "%s%s = ", glen ? "  " : "",
		    glen ? k->name + glen + 1 : k->name);
		print_value(out, c, k);
		fputs(";\n", out);
	}
	if (glen)
		fputs("};\n", out);
}

/* value_text - a key's value as conf_print writes it (malloc'd) */
static char *
value_text(const struct conf *c, const struct key *k)
{
	char *t = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&t, &len);

	if (f == NULL)
		return NULL;
	print_value(f, c, k);
	if (fclose(f) != 0) {
		free(t);
		return NULL;
	}
	return t;
}

/* conf_diff - call cb with the name of each key whose value differs */
size_t
conf_diff(const struct conf *a, const struct conf *b,
    void (*cb)(const char *key, void *arg), void *arg)
{
	size_t i, n = 0;

	for (i = 0; i < NKEYS; i++) {
		char *ta = value_text(a, &keys[i]), *tb = value_text(b, &keys[i]);

		if (ta == NULL || tb == NULL || strcmp(ta, tb) != 0) {
			cb(keys[i].name, arg);
			n++;
		}
		free(ta);
		free(tb);
	}
	return n;
}

/* troff - write text with troff's special characters escaped */
static void
troff(FILE *out, const char *s)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", out);
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\e", out);
		else if (*s == '-')
			fputs("\\-", out);
		else
			fputc(*s, out);
	}
}

/* conf_print_reference - the key reference, as man(7) source */
void
conf_print_reference(FILE *out)
{
	static const char *tnames[] = { "string", "list of strings", "boolean",
	    "number", "size", "duration", "access list" };
	size_t i;

	for (i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];

		fprintf(out, ".TP\n.B %s\n(%s; default ", k->name,
		    tnames[k->type]);
		if (*k->def == '\0')
			fputs("empty", out);
		else {
			fputs("\\(lq", out);
			troff(out, k->def);
			fputs("\\(rq", out);
		}
		if (k->type == T_UINT || k->type == T_SIZE || k->type == T_DUR)
			fprintf(out, "; %llu to %llu%s", (unsigned long long)k->min,
			    (unsigned long long)k->max,
			    k->type == T_SIZE ? " bytes" :
			    k->type == T_DUR ? " seconds" : "");
		if (k->choices) {
			fputs("; one of ", out);
			troff(out, k->choices);
		}
		fputs(")\n", out);
		troff(out, k->doc);
		fputc('\n', out);
	}
}

/* conf_policy - the policy's view of the configuration (borrowed) */
void
conf_policy(const struct conf *c, struct policy_conf *pc)
{
	memset(pc, 0, sizeof(*pc));
	pc->local_domains = c->local_domains;
	pc->relay_domains = c->relay_domains;
	pc->authorized_networks = c->authorized_networks;
	pc->local_users = c->local_users;
	pc->local_addresses = c->local_addresses;
	pc->accept_literals = c->accept_literals;
	pc->allow_percent_hack = c->allow_percent_hack;
	pc->allow_bang_path = c->allow_bang_path;
	pc->allow_quoted_at = c->allow_quoted_at;
	pc->recipient_delimiter = c->recipient_delimiter[0];
	pc->postmaster = c->postmaster;
	pc->hostname = c->hostname;
	pc->sender_check = c->sender_check;
	pc->sender_logins = c->sender_logins;
#define L(x)	pc->x = c->x.e; pc->n_##x = c->x.n
	L(deny_clients);
	L(allow_clients);
	L(deny_helo);
	L(allow_helo);
	L(deny_senders);
	L(allow_senders);
	L(deny_recipients);
	L(allow_recipients);
#undef L
}

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/cidr.h"
#include "policy/domset.h"
#include "policy/dynlist.h"
#include "policy/policy.h"
#include "smtp/reply.h"
#include "util/hmap.h"
#include "util/str.h"
#include "util/xalloc.h"

/* a list: the patterns, and the entries they point to (owned) */
struct plist {
	struct cidr_set		*cidrs;		/* client lists */
	struct domset		*pats;		/* helo, sender, recipient */
	struct policy_entry	*entries;
	size_t			 n;
};

struct policy {
	struct domset	*local_domains;
	struct domset	*relay_domains;
	struct cidr_set	*authorized;
	struct cidr_set	*local_addresses;
	struct hmap	*users;		/* NULL = any user */
	int		 accept_literals;
	int		 allow_percent_hack, allow_bang_path, allow_quoted_at;
	char		 delim;
	char		 postmaster[SMTP_LOCAL_MAX + 1];
	char		 hostname[SMTP_DOMAIN_MAX + 1];	/* "": none */
	int		 sender_check;
	struct hmap	*logins;	/* user -> struct domset of patterns */
	struct plist	 deny_clients, allow_clients, deny_helo, allow_helo,
			 deny_senders, allow_senders, deny_rcpts, allow_rcpts;
	const struct dynlist *dyn;	/* runtime lists, not owned */
};

/* Rewrites of a recipient (allowed %-hack etc.) nest at most this deep. */
#define REWRITE_DEPTH	4

/* set - fill a verdict */
static void __attribute__((format(printf, 6, 7)))
set(struct verdict *v, enum verdict_kind kind, int code, const char *enh,
    const char *rule, const char *fmt, ...)
{
	va_list ap;

	v->kind = kind;
	v->code = code;
	str_copy(v->enh, sizeof(v->enh), enh);
	str_copy(v->rule, sizeof(v->rule), rule);
	va_start(ap, fmt);
	vsnprintf(v->text, sizeof(v->text), fmt, ap);
	va_end(ap);
}

/*
 * parse_reply - "550 5.7.1 text" or "550 text" into a verdict's reply.
 * Only 4xx and 5xx codes are allowed in a list. 0 or -1.
 */
static int
parse_reply(const char *s, int *code, char *enh, size_t enhsize,
    const char **text)
{
	size_t i;
	int n;

	if (strlen(s) < 3 || s[0] < '4' || s[0] > '5' ||
	    s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9' ||
	    (s[3] != ' ' && s[3] != '\0'))
		return -1;
	*code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
	s += 3;
	while (*s == ' ')
		s++;
	/* an enhanced code starts with the reply's class digit */
	if ((n = reply_parse_enh(s, strlen(s), enh, enhsize)) > 0 &&
	    s[0] == '0' + *code / 100) {
		s += n;
		while (*s == ' ')
			s++;
	} else
		str_copy(enh, enhsize, *code >= 500 ? "5.7.1" : "4.7.1");
	for (i = 0; s[i]; i++)
		if ((unsigned char)s[i] < ' ' || (unsigned char)s[i] >= 0x7f)
			return -1;
	*text = s;
	return 0;
}

/* list_build - copy entries into a list keyed by CIDR or pattern */
static int
list_build(struct plist *l, const struct policy_entry *src, size_t n,
    int cidr, const char *what, char *err, size_t errsize)
{
	size_t i;
	int code;
	char enh[12];
	const char *text;

	l->entries = xcalloc(n ? n : 1, sizeof(*l->entries));
	l->n = n;
	if (cidr)
		l->cidrs = cidr_set_new();
	else
		l->pats = domset_new();
	for (i = 0; i < n; i++) {
		struct policy_entry *e = &l->entries[i];

		e->pattern = xstrdup(src[i].pattern);
		e->reply = src[i].reply ? xstrdup(src[i].reply) : NULL;
		e->reason = src[i].reason ? xstrdup(src[i].reason) : NULL;
		if (e->reply && parse_reply(e->reply, &code, enh, sizeof(enh),
		    &text) == -1) {
			snprintf(err, errsize, "%s: bad reply \"%s\" (want "
			    "\"550 5.7.1 text\")", what, e->reply);
			return -1;
		}
		if (cidr ? cidr_set_add_str(l->cidrs, e->pattern, e) :
		    domset_add(l->pats, e->pattern, e)) {
			snprintf(err, errsize, "%s: bad pattern \"%s\"", what,
			    e->pattern);
			return -1;
		}
	}
	return 0;
}

/* list_free - free a list's entries and index */
static void
list_free(struct plist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->entries[i].pattern);
		free(l->entries[i].reply);
		free(l->entries[i].reason);
	}
	free(l->entries);
	cidr_set_free(l->cidrs);
	domset_free(l->pats);
}

/* domains - build a domain set from a NULL-terminated array */
static struct domset *
domains(char **list, const char *what, char *err, size_t errsize)
{
	struct domset *d = domset_new();

	for (; list && *list; list++)
		if (domset_add(d, *list, NULL) == -1 || strchr(*list, '@')) {
			snprintf(err, errsize, "%s: bad domain \"%s\"", what,
			    *list);
			domset_free(d);
			return NULL;
		}
	return d;
}

/* cidrs - build a prefix set from a NULL-terminated array */
static struct cidr_set *
cidrs(char **list, const char *what, char *err, size_t errsize)
{
	struct cidr_set *s = cidr_set_new();

	for (; list && *list; list++)
		if (cidr_set_add_str(s, *list, NULL) == -1) {
			snprintf(err, errsize, "%s: bad network \"%s\" (want "
			    "an address or address/prefix, host bits zero)",
			    what, *list);
			cidr_set_free(s);
			return NULL;
		}
	return s;
}

/*
 * policy_new - build the policy from its configuration. On error returns
 * NULL with a message in err (the configuration is refused, never guessed).
 */
struct policy *
policy_new(const struct policy_conf *pc, char *err, size_t errsize)
{
	struct policy *p = xcalloc(1, sizeof(*p));
	char **u;

	p->accept_literals = pc->accept_literals;
	p->allow_percent_hack = pc->allow_percent_hack;
	p->allow_bang_path = pc->allow_bang_path;
	p->allow_quoted_at = pc->allow_quoted_at;
	p->delim = pc->recipient_delimiter;
	str_copy(p->postmaster, sizeof(p->postmaster),
	    pc->postmaster ? pc->postmaster : "postmaster");
	if (pc->hostname && str_copy(p->hostname, sizeof(p->hostname),
	    pc->hostname) == 0 && p->hostname[0] &&
	    p->hostname[strlen(p->hostname) - 1] == '.')
		p->hostname[strlen(p->hostname) - 1] = '\0';
	if ((p->local_domains = domains(pc->local_domains, "local_domains",
	    err, errsize)) == NULL ||
	    (p->relay_domains = domains(pc->relay_domains, "relay_domains",
	    err, errsize)) == NULL ||
	    (p->authorized = cidrs(pc->authorized_networks,
	    "authorized_networks", err, errsize)) == NULL ||
	    (p->local_addresses = cidrs(pc->local_addresses,
	    "local_addresses", err, errsize)) == NULL)
		goto fail;
	p->sender_check = pc->sender_check;
	p->logins = hmap_new();
	for (u = pc->sender_logins; u && *u; u++) {
		char user[256], *colon, *save = NULL, *tok, *copy;
		struct domset *d;

		colon = strchr(*u, ':');
		if (colon == NULL || colon == *u || str_ncopy(user, sizeof(user),
		    *u, (size_t)(colon - *u)) == -1) {
			snprintf(err, errsize, "auth.sender_logins: want "
			    "\"USER: PATTERN, ...\", not \"%s\"", *u);
			goto fail;
		}
		str_lower(user);
		if ((d = hmap_get(p->logins, user)) == NULL) {
			d = domset_new();
			hmap_put(p->logins, user, d);
		}
		copy = xstrdup(colon + 1);
		for (tok = strtok_r(copy, ", ", &save); tok;
		    tok = strtok_r(NULL, ", ", &save))
			if (domset_add(d, tok, NULL) == -1) {
				snprintf(err, errsize, "auth.sender_logins: bad "
				    "pattern \"%s\"", tok);
				free(copy);
				goto fail;
			}
		free(copy);
	}
	if (pc->local_users && pc->local_users[0]) {
		p->users = hmap_new();
		for (u = pc->local_users; *u; u++) {
			char key[SMTP_PATH_MAX];

			if (str_copy(key, sizeof(key), *u) == -1 || !*key) {
				snprintf(err, errsize, "local_users: bad user "
				    "\"%s\"", *u);
				goto fail;
			}
			str_lower(key);
			hmap_put(p->users, key, p);
		}
	}
	if (list_build(&p->deny_clients, pc->deny_clients,
	    pc->n_deny_clients, 1, "deny.clients", err, errsize) ||
	    list_build(&p->allow_clients, pc->allow_clients,
	    pc->n_allow_clients, 1, "allow.clients", err, errsize) ||
	    list_build(&p->deny_helo, pc->deny_helo, pc->n_deny_helo, 0,
	    "deny.helo", err, errsize) ||
	    list_build(&p->allow_helo, pc->allow_helo, pc->n_allow_helo, 0,
	    "allow.helo", err, errsize) ||
	    list_build(&p->deny_senders, pc->deny_senders,
	    pc->n_deny_senders, 0, "deny.senders", err, errsize) ||
	    list_build(&p->allow_senders, pc->allow_senders,
	    pc->n_allow_senders, 0, "allow.senders", err, errsize) ||
	    list_build(&p->deny_rcpts, pc->deny_recipients,
	    pc->n_deny_recipients, 0, "deny.recipients", err, errsize) ||
	    list_build(&p->allow_rcpts, pc->allow_recipients,
	    pc->n_allow_recipients, 0, "allow.recipients", err, errsize))
		goto fail;
	return p;
fail:
	policy_free(p);
	return NULL;
}

/* policy_free - free a policy; NULL is a no-op */
void
policy_free(struct policy *p)
{
	if (p == NULL)
		return;
	domset_free(p->local_domains);
	domset_free(p->relay_domains);
	cidr_set_free(p->authorized);
	cidr_set_free(p->local_addresses);
	hmap_free(p->users);
	if (p->logins) {
		size_t pos = 0;
		const char *k;
		void *v;

		while (hmap_iter(p->logins, &pos, &k, &v))
			domset_free(v);
		hmap_free(p->logins);
	}
	list_free(&p->deny_clients);
	list_free(&p->allow_clients);
	list_free(&p->deny_helo);
	list_free(&p->allow_helo);
	list_free(&p->deny_senders);
	list_free(&p->allow_senders);
	list_free(&p->deny_rcpts);
	list_free(&p->allow_rcpts);
	free(p);
}

/* policy_set_dynlist - consult the runtime lists too (the server's) */
void
policy_set_dynlist(struct policy *p, const struct dynlist *d)
{
	p->dyn = d;
}

/*
 * allow_hit - note in v the allow entry that applied, for the log:
 * "allow-WHAT:PATTERN reason=..." (runtime entries: "runtime-allow-...")
 */
static void
allow_hit(struct verdict *v, int runtime, const char *what,
    const char *pattern, const char *reason)
{
	snprintf(v->allow, sizeof(v->allow), "%sallow-%s:%s%s%s",
	    runtime ? "runtime-" : "", what, pattern, reason && *reason ?
	    " reason=" : "", reason && *reason ? reason : "");
}

/* client_allow - is the client allow-listed? Notes the entry in v. */
static int
client_allow(const struct policy *p, const struct policy_client *c,
    struct verdict *v)
{
	const struct dl_entry *e;
	void *val = NULL;

	if (cidr_set_match(p->allow_clients.cidrs, c->family, c->ip,
	    &val) != NULL) {
		const struct policy_entry *pe = val;

		if (v && pe)
			allow_hit(v, 0, "client", pe->pattern, pe->reason);
		return 1;
	}
	if ((e = dynlist_match_client(p->dyn, DL_ALLOW, c->family, c->ip,
	    0)) != NULL) {
		if (v)
			allow_hit(v, 1, "client", e->pattern, e->reason);
		return 1;
	}
	return 0;
}

/*
 * addr_allow - is a HELO name, sender or recipient on an allow list (the
 * configuration's l, or a runtime entry of type)? Notes the entry in v.
 */
static int
addr_allow(const struct policy *p, const struct plist *l, enum dl_type type,
    const char *local, const char *dom, struct verdict *v)
{
	const char *what = dynlist_type_name(type);
	const struct dl_entry *e;
	void *val = NULL;

	if ((type == DL_HELO ? domset_match_domain(l->pats, dom, &val) :
	    domset_match_addr(l->pats, local, dom, &val)) != NULL) {
		const struct policy_entry *pe = val;

		if (pe)
			allow_hit(v, 0, what, pe->pattern, pe->reason);
		return 1;
	}
	if ((e = dynlist_match_addr(p->dyn, DL_ALLOW, type, local, dom,
	    0)) != NULL) {
		allow_hit(v, 1, what, e->pattern, e->reason);
		return 1;
	}
	return 0;
}

/*
 * policy_client_allowed - is the client on an allow list (configuration
 * or runtime)? Such clients are exempt from deny lists and blocking rules,
 * never granted relay.
 */
int
policy_client_allowed(const struct policy *p, const struct policy_client *c)
{
	return client_allow(p, c, NULL);
}

/* dyn_hit - fill v from a runtime deny entry */
static void
dyn_hit(struct verdict *v, const struct dl_entry *e, int code,
    const char *enh, const char *text)
{
	char rule[sizeof(v->rule)];

	snprintf(rule, sizeof(rule), "runtime-deny-%s:%s%s%s",
	    dynlist_type_name(e->type), e->pattern, e->reason[0] ?
	    " reason=" : "", e->reason);
	set(v, POLICY_REJECT, code, enh, rule, "%s", text);
}

/* policy_authorized - the authorized networks, for startup checks */
const struct cidr_set *
policy_authorized(const struct policy *p)
{
	return p->authorized;
}

/* policy_is_local_domain - is domain (a name) one of ours? */
int
policy_is_local_domain(const struct policy *p, const char *domain)
{
	return domset_match_domain(p->local_domains, domain, NULL) != NULL;
}

/*
 * deny_hit - fill v from a deny entry: its own reply or the default one,
 * and the rule "deny-<what>:<pattern>" (with the reason if any).
 */
static void
deny_hit(struct verdict *v, const struct policy_entry *e, const char *what,
    int defcode, const char *defenh, const char *deftext)
{
	char rule[sizeof(v->rule)];
	const char *text = deftext;
	char enh[12];
	int code = defcode;

	str_copy(enh, sizeof(enh), defenh);
	if (e->reply)
		(void)parse_reply(e->reply, &code, enh, sizeof(enh), &text);
	snprintf(rule, sizeof(rule), "deny-%s:%s%s%s", what, e->pattern,
	    e->reason ? " reason=" : "", e->reason ? e->reason : "");
	set(v, code >= 500 ? POLICY_REJECT : POLICY_TEMPFAIL, code, enh, rule,
	    "%s", text);
}

/* policy_connect - may this client talk to us at all? */
void
policy_connect(const struct policy *p, const struct policy_client *c,
    struct verdict *v)
{
	const struct dl_entry *e;
	void *val;

	memset(v, 0, sizeof(*v));
	if (!client_allow(p, c, v)) {
		if (cidr_set_match(p->deny_clients.cidrs, c->family, c->ip,
		    &val)) {
			deny_hit(v, val, "client", 554, "5.7.1",
			    "Access denied for your address");
			return;
		}
		if ((e = dynlist_match_client(p->dyn, DL_DENY, c->family,
		    c->ip, 0)) != NULL) {
			dyn_hit(v, e, 554, "5.7.1",
			    "Access denied for your address");
			return;
		}
	}
	set(v, POLICY_ACCEPT, 220, "2.0.0", "default", "ok");
}

/* policy_helo - is this HELO/EHLO name acceptable? */
void
policy_helo(const struct policy *p, const struct policy_client *c,
    const char *helo, struct verdict *v)
{
	void *val;
	char name[SMTP_HELO_MAX + 1];
	size_t n = strlen(helo);

	(void)c;
	memset(v, 0, sizeof(*v));
	if (str_copy(name, sizeof(name), helo) == -1) {
		set(v, POLICY_REJECT, 550, "5.7.1", "helo-too-long",
		    "HELO name too long");
		return;
	}
	if (n > 0 && name[n - 1] == '.')
		name[n - 1] = '\0';	/* a trailing root dot is the same name */
	/* an allow entry, in the file or at run time, beats any deny */
	if (!addr_allow(p, &p->allow_helo, DL_HELO, NULL, name, v)) {
		const struct dl_entry *e;

		if (domset_match_domain(p->deny_helo.pats, name, &val)) {
			deny_hit(v, val, "helo", 550, "5.7.1",
			    "HELO name rejected");
			return;
		}
		if ((e = dynlist_match_addr(p->dyn, DL_DENY, DL_HELO, NULL,
		    name, 0)) != NULL) {
			dyn_hit(v, e, 550, "5.7.1", "HELO name rejected");
			return;
		}
	}
	set(v, POLICY_ACCEPT, 250, "2.0.0", "default", "ok");
}

/* domain_key - the text a domain set is searched with: name or [literal] */
static void
domain_key(const struct addr *a, char *dst, size_t dstsize)
{
	if (a->dtype == ADDR_DNAME)
		str_copy(dst, dstsize, a->domain);
	else if (a->dtype == ADDR_DNONE)
		str_copy(dst, dstsize, "");
	else
		snprintf(dst, dstsize, "[%s]", a->domain);
}

/*
 * owns - may the authenticated user send as this sender? The null sender
 * always; then the user's auth.sender_logins patterns if any, else the
 * login itself when it is an address, else LOGIN[+ext]@ a local domain.
 */
static int
owns(const struct policy *p, const char *user, const struct addr *s)
{
	char key[256], dom[SMTP_DOMAIN_MAX + 3], mb[SMTP_LOCAL_MAX + 1];
	const struct domset *d;
	const char *at;

	if (s->flags & ADDR_NULL)
		return 1;
	domain_key(s, dom, sizeof(dom));
	str_copy(key, sizeof(key), user);
	str_lower(key);
	if ((d = hmap_get(p->logins, key)) != NULL)
		return domset_match_addr(d, s->local, dom, NULL) != NULL;
	if ((at = strchr(key, '@')) != NULL)
		return strlen(s->local) == (size_t)(at - key) &&
		    strncasecmp(s->local, key, (size_t)(at - key)) == 0 &&
		    strcasecmp(at + 1, dom) == 0;
	return s->dtype == ADDR_DNAME &&
	    domset_match_domain(p->local_domains, s->domain, NULL) &&
	    policy_mailbox_name(p, s->local, mb, sizeof(mb)) == 0 &&
	    strcmp(mb, key) == 0;
}

/* policy_mail - may this envelope sender be used? It never grants relay. */
void
policy_mail(const struct policy *p, const struct policy_client *c,
    const struct addr *sender, struct verdict *v)
{
	char dom[SMTP_DOMAIN_MAX + 3];
	const struct dl_entry *e;
	void *val;

	memset(v, 0, sizeof(*v));
	if (c->auth_user != NULL && p->sender_check &&
	    !owns(p, c->auth_user, sender)) {
		char rule[sizeof(v->rule)];

		snprintf(rule, sizeof(rule), "sender-login-mismatch:%s",
		    c->auth_user);
		set(v, POLICY_REJECT, 553, "5.7.1", rule, "Sender address "
		    "rejected: not owned by user %s", c->auth_user);
		return;
	}
	if (!(sender->flags & ADDR_NULL)) {
		domain_key(sender, dom, sizeof(dom));
		if (!addr_allow(p, &p->allow_senders, DL_SENDER,
		    sender->local, dom, v)) {
			if (domset_match_addr(p->deny_senders.pats,
			    sender->local, dom, &val)) {
				deny_hit(v, val, "sender", 550, "5.7.1",
				    "Sender address rejected");
				return;
			}
			if ((e = dynlist_match_addr(p->dyn, DL_DENY, DL_SENDER,
			    sender->local, dom, 0)) != NULL) {
				dyn_hit(v, e, 550, "5.7.1",
				    "Sender address rejected");
				return;
			}
		}
	}
	set(v, POLICY_ACCEPT, 250, "2.1.0", "default", "Ok");
}

/*
 * policy_client_trusted - may this client relay? Authenticated sessions
 * and clients in the authorized networks (the listener's own list when it
 * has one) may. Names the reason in rule. 1 or 0.
 */
int
policy_client_trusted(const struct policy *p, const struct policy_client *c,
    char *rule, size_t rulesize)
{
	const struct cidr_set *nets = c->trusted ? c->trusted : p->authorized;
	const struct cidr *m;
	char net[64];

	if (c->auth_user != NULL) {
		snprintf(rule, rulesize, "authenticated:%s", c->auth_user);
		return 1;
	}
	if ((m = cidr_set_match(nets, c->family, c->ip, NULL)) != NULL) {
		cidr_format(m, net, sizeof(net));
		snprintf(rule, rulesize, "authorized-network:%s", net);
		return 1;
	}
	snprintf(rule, rulesize, "relay-denied");
	return 0;
}

/*
 * policy_mailbox_name - the Maildir name for a local part: lower-case,
 * the recipient delimiter's extension dropped, and only [a-z0-9._-] (not
 * starting with a dot, no ".."), so it is always a safe file name. 0 or -1.
 */
int
policy_mailbox_name(const struct policy *p, const char *local, char *dst,
    size_t dstsize)
{
	size_t i, n = strlen(local);
	const char *d;

	if (p->delim && (d = strchr(local, p->delim)) != NULL && d != local)
		n = (size_t)(d - local);
	if (n == 0 || n >= dstsize)
		return -1;
	for (i = 0; i < n; i++) {
		char ch = local[i];

		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    ch == '.' || ch == '_' || ch == '-'))
			return -1;
		if (ch == '.' && (i == 0 || dst[i - 1] == '.'))
			return -1;
		dst[i] = ch;
	}
	dst[n] = '\0';
	return 0;
}

/* is_our_literal - is an address literal one of our own addresses? */
static int
is_our_literal(const struct policy *p, const struct addr *a)
{
	if (!p->accept_literals)
		return 0;
	if (a->dtype == ADDR_DIPV4)
		return cidr_set_match(p->local_addresses, AF_INET, a->ip,
		    NULL) != NULL;
	if (a->dtype == ADDR_DIPV6)
		return cidr_set_match(p->local_addresses, AF_INET6, a->ip,
		    NULL) != NULL;
	return 0;
}

/*
 * smuggled - does the local part try to name another destination? Returns
 * the trick's rule name and, when the trick is allowed, writes the address
 * it names into *out (1: rewritten, 0: refused). NULL when clean.
 */
static const char *
smuggled(const struct policy *p, const struct addr *a, struct addr *out,
    int *rewritten)
{
	const char *l = a->local, *s;
	size_t n;

	*rewritten = 0;
	memset(out, 0, sizeof(*out));
	if ((a->flags & ADDR_QUOTED) && (s = strrchr(l, '@')) != NULL) {
		/* "user@outside"@target: a quoted relay */
		if (!p->allow_quoted_at)
			return "quoted-at";
		n = (size_t)(s - l);
		goto rewrite;
	}
	if ((s = strrchr(l, '%')) != NULL) {
		/* user%outside@target: the percent hack */
		if (!p->allow_percent_hack)
			return "percent-hack";
		n = (size_t)(s - l);
		goto rewrite;
	}
	if ((s = strchr(l, '!')) != NULL) {
		/* outside!user@target: a UUCP bang path */
		if (!p->allow_bang_path)
			return "bang-path";
		if (s == l || !addr_parse_domain(l, (size_t)(s - l)) ||
		    s[1] == '\0' || strlen(s + 1) > SMTP_LOCAL_MAX)
			return "bang-path";
		memcpy(out->domain, l, (size_t)(s - l));
		out->domain[s - l] = '\0';
		str_lower(out->domain);
		str_copy(out->local, sizeof(out->local), s + 1);
		out->dtype = ADDR_DNAME;
		*rewritten = 1;
		return "bang-path";
	}
	return NULL;
rewrite:
	if (n == 0 || !addr_parse_domain(s + 1, strlen(s + 1)))
		return l[n] == '@' ? "quoted-at" : "percent-hack";
	memcpy(out->local, l, n);
	out->local[n] = '\0';
	str_copy(out->domain, sizeof(out->domain), s + 1);
	str_lower(out->domain);
	out->dtype = ADDR_DNAME;
	out->flags = addr_local_needs_quotes(out->local) ? ADDR_QUOTED : 0;
	*rewritten = 1;
	return l[n] == '@' ? "quoted-at" : "percent-hack";
}

/* user_known - is the mailbox a configured user (any user if no list)? */
static int
user_known(const struct policy *p, const char *mailbox, const char *domain)
{
	char key[SMTP_PATH_MAX];

	if (p->users == NULL)
		return 1;
	if (hmap_get(p->users, mailbox))
		return 1;
	snprintf(key, sizeof(key), "%s@%s", mailbox, domain);
	str_lower(key);
	return hmap_get(p->users, key) != NULL;
}

/* rcpt - policy_rcpt at a given rewrite depth */
static void
rcpt(const struct policy *p, const struct policy_client *c,
    const struct addr *r, struct verdict *v, int depth)
{
	char dom[SMTP_DOMAIN_MAX + 3], shown[SMTP_PATH_MAX + 8], why[128];
	const char *trick;
	struct addr next;
	int local, relay, rewritten;
	void *val;

	v->resolved = *r;
	addr_format(r, shown, sizeof(shown));
	domain_key(r, dom, sizeof(dom));
	if (!(r->flags & ADDR_POSTMASTER) &&
	    !addr_allow(p, &p->allow_rcpts, DL_RECIPIENT, r->local, dom, v)) {
		const struct dl_entry *e;

		if (domset_match_addr(p->deny_rcpts.pats, r->local, dom,
		    &val)) {
			deny_hit(v, val, "recipient", 550, "5.7.1",
			    "Recipient address rejected");
			return;
		}
		if ((e = dynlist_match_addr(p->dyn, DL_DENY, DL_RECIPIENT,
		    r->local, dom, 0)) != NULL) {
			dyn_hit(v, e, 550, "5.7.1",
			    "Recipient address rejected");
			return;
		}
	}
	if (c->dnsbl != NULL && !(r->flags & ADDR_POSTMASTER) &&
	    !str_ieq(r->local, "postmaster") &&
	    !policy_client_trusted(p, c, why, sizeof(why))) {
		/* the client is listed; postmaster still hears complaints */
		snprintf(why, sizeof(why), "dnsbl:%s", c->dnsbl);
		set(v, POLICY_REJECT, 554, "5.7.1", why, "Service unavailable; "
		    "client [%s] blocked using %s%s%s", c->ipstr, c->dnsbl,
		    c->dnsbl_txt ? ": " : "", c->dnsbl_txt ? c->dnsbl_txt : "");
		return;
	}
	if (r->flags & ADDR_POSTMASTER) {
		/* RFC 5321 4.1.1.3: <postmaster> with no domain is ours */
		v->cls = RCPT_LOCAL;
		str_copy(v->mailbox, sizeof(v->mailbox), p->postmaster);
		set(v, POLICY_ACCEPT, 250, "2.1.5", "postmaster", "Ok");
		return;
	}
	if (r->dtype == ADDR_DNAME && p->hostname[0] &&
	    str_ieq(r->local, "postmaster") &&
	    str_ieq(r->domain, p->hostname)) {
		/*
		 * RFC 5321 4.5.1: postmaster at our own name is ours, from
		 * anyone, though the name is no local domain for others
		 */
		v->cls = RCPT_LOCAL;
		str_copy(v->mailbox, sizeof(v->mailbox), p->postmaster);
		snprintf(why, sizeof(why), "postmaster:%s", p->hostname);
		set(v, POLICY_ACCEPT, 250, "2.1.5", why, "Ok");
		return;
	}
	if (r->dtype == ADDR_DNAME) {
		local = domset_match_domain(p->local_domains, r->domain,
		    NULL) != NULL;
		relay = !local && domset_match_domain(p->relay_domains,
		    r->domain, NULL) != NULL;
	} else {
		local = is_our_literal(p, r);
		relay = 0;
	}
	if (local || relay) {
		trick = smuggled(p, r, &next, &rewritten);
		if (trick != NULL && !rewritten) {
			set(v, POLICY_REJECT, 550, "5.7.1", trick,
			    "%s: Relaying denied (%s)", shown,
			    strcmp(trick, "percent-hack") == 0 ?
			    "percent hack not allowed" :
			    strcmp(trick, "bang-path") == 0 ?
			    "bang path not allowed" :
			    "quoted address not allowed");
			return;
		}
		if (trick != NULL) {
			if (depth >= REWRITE_DEPTH) {
				set(v, POLICY_REJECT, 550, "5.7.1", trick,
				    "%s: Relaying denied (address rewritten "
				    "too many times)", shown);
				return;
			}
			rcpt(p, c, &next, v, depth + 1);
			if (v->kind == POLICY_ACCEPT) {
				snprintf(why, sizeof(why), "%s+%s", trick,
				    v->rule);
				str_copy(v->rule, sizeof(v->rule), why);
			}
			return;
		}
	}
	if (local) {
		if (str_ieq(r->local, "postmaster")) {
			v->cls = RCPT_LOCAL;
			str_copy(v->mailbox, sizeof(v->mailbox), p->postmaster);
			set(v, POLICY_ACCEPT, 250, "2.1.5", "postmaster", "Ok");
			return;
		}
		if (policy_mailbox_name(p, r->local, v->mailbox,
		    sizeof(v->mailbox)) == -1 ||
		    !user_known(p, v->mailbox, dom)) {
			v->mailbox[0] = '\0';
			set(v, POLICY_REJECT, 550, "5.1.1", "unknown-user",
			    "%s: Recipient address rejected: User unknown",
			    shown);
			return;
		}
		v->cls = RCPT_LOCAL;
		snprintf(why, sizeof(why), "local-domain:%s", dom);
		set(v, POLICY_ACCEPT, 250, "2.1.5", why, "Ok");
		return;
	}
	if (relay) {
		v->cls = RCPT_REMOTE;
		snprintf(why, sizeof(why), "relay-domain:%s", dom);
		set(v, POLICY_ACCEPT, 250, "2.1.5", why, "Ok");
		return;
	}
	if (policy_client_trusted(p, c, why, sizeof(why))) {
		v->cls = RCPT_REMOTE;
		set(v, POLICY_ACCEPT, 250, "2.1.5", why, "Ok");
		return;
	}
	set(v, POLICY_REJECT, 550, "5.7.1", "relay-denied",
	    "%s: Relaying denied", shown);
}

/*
 * policy_rcpt - may this recipient be accepted, and where does it go?
 * The sender is an argument only so that it can be logged and listed: it
 * never grants relay (DESIGN.md rule 6).
 */
void
policy_rcpt(const struct policy *p, const struct policy_client *c,
    const struct addr *sender, const struct addr *r, struct verdict *v)
{
	(void)sender;
	memset(v, 0, sizeof(*v));
	rcpt(p, c, r, v, 0);
}

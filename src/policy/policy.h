/*
 * policy - the relay decision, one entry point per SMTP step.
 *
 * Pure: no I/O, no clock. A struct policy is built once from the
 * configuration (policy_new) and is read-only afterwards, so sessions share
 * it. Each entry point fills a struct verdict: ACCEPT, REJECT or TEMPFAIL,
 * the SMTP reply to send, and the name of the rule that decided, for the
 * log line and for `sluice policy explain`. Nothing matched means reject:
 * the policy fails closed.
 *
 * The relay rules (DESIGN.md) live in policy_rcpt(): the recipient is
 * resolved first (source route dropped, domain compared case-insensitively,
 * %-hack, bang path and quoted "@" refused or, when allowed, rewritten and
 * decided again), then: local domain -> the user must exist; relay domain
 * -> anyone; any other domain -> only an authenticated session or a client
 * in the authorized networks. The envelope sender never grants relay.
 * postmaster at the server's own hostname is accepted from anyone (RFC
 * 5321 4.5.1), though the hostname is not a local domain otherwise.
 */
#ifndef SLUICE_POLICY_H
#define SLUICE_POLICY_H

#include <stddef.h>

#include "smtp/addr.h"

struct policy;
struct cidr_set;
struct domset;
struct dynlist;

enum verdict_kind {
	POLICY_ACCEPT,
	POLICY_REJECT,
	POLICY_TEMPFAIL
};

enum rcpt_class {
	RCPT_NONE,
	RCPT_LOCAL,	/* delivered here, to mailbox */
	RCPT_REMOTE	/* relayed (relay domain or authorized relay) */
};

struct verdict {
	enum verdict_kind kind;
	int		code;		/* 250, 550, 451 ... */
	char		enh[12];	/* "5.7.1" */
	char		text[320];	/* reply text, no code */
	char		rule[128];	/* the rule that decided, for logs */
	char		allow[192];	/* the allow entry that applied, for
					   logs ("allow-sender:PATTERN
					   reason=..."), or "" */
	/* policy_rcpt only */
	enum rcpt_class	cls;
	char		mailbox[SMTP_LOCAL_MAX + 1];	/* RCPT_LOCAL */
	struct addr	resolved;	/* the mailbox after any rewrite */
};

/* What the policy knows of the client. Owned by the caller. */
struct policy_client {
	int		family;		/* AF_INET or AF_INET6 */
	unsigned char	ip[16];
	char		ipstr[46];
	const char	*helo;		/* NULL before HELO/EHLO */
	const char	*auth_user;	/* NULL unless authenticated */
	const struct cidr_set *trusted;	/* listener's networks, or NULL */
	const char	*dnsbl;		/* zone that lists the client, or NULL */
	const char	*dnsbl_txt;	/* its TXT reason, or NULL */
};

/* A list entry: a pattern and what happens on a hit. */
struct policy_entry {
	char	*pattern;	/* owned */
	char	*reply;		/* owned; "550 5.7.1 text" or NULL = default */
	char	*reason;	/* owned; shown in logs, may be NULL */
};

/* What policy_new() needs; the caller keeps ownership of nothing here. */
struct policy_conf {
	char		**local_domains;	/* NULL-terminated arrays */
	char		**relay_domains;
	char		**authorized_networks;
	char		**local_users;		/* NULL or empty = any user */
	char		**local_addresses;	/* our IPs, for [literal] */
	int		  accept_literals;
	int		  allow_percent_hack;
	int		  allow_bang_path;
	int		  allow_quoted_at;
	char		  recipient_delimiter;	/* 0 = none */
	const char	 *postmaster;		/* mailbox for postmaster */
	const char	 *hostname;		/* ours: postmaster@ it is
						   accepted; NULL or "" */
	int		  sender_check;		/* authenticated senders owned */
	char		**sender_logins;	/* "user: pattern, ..." */
	/* lists: arrays of n entries */
	struct policy_entry *deny_clients, *allow_clients, *deny_helo,
			 *allow_helo, *deny_senders, *allow_senders,
			 *deny_recipients, *allow_recipients;
	size_t		  n_deny_clients, n_allow_clients, n_deny_helo,
			  n_allow_helo, n_deny_senders, n_allow_senders,
			  n_deny_recipients, n_allow_recipients;
};

struct policy *policy_new(const struct policy_conf *pc, char *err,
		    size_t errsize);
void	policy_free(struct policy *p);
const struct cidr_set *policy_authorized(const struct policy *p);
int	policy_is_local_domain(const struct policy *p, const char *domain);

void	policy_connect(const struct policy *p, const struct policy_client *c,
	    struct verdict *v);
void	policy_helo(const struct policy *p, const struct policy_client *c,
	    const char *helo, struct verdict *v);
void	policy_mail(const struct policy *p, const struct policy_client *c,
	    const struct addr *sender, struct verdict *v);
void	policy_rcpt(const struct policy *p, const struct policy_client *c,
	    const struct addr *sender, const struct addr *rcpt,
	    struct verdict *v);
int	policy_client_trusted(const struct policy *p,
	    const struct policy_client *c, char *rule, size_t rulesize);
int	policy_mailbox_name(const struct policy *p, const char *local,
	    char *dst, size_t dstsize);
void	policy_set_dynlist(struct policy *p, const struct dynlist *d);
int	policy_client_allowed(const struct policy *p,
	    const struct policy_client *c);

#endif

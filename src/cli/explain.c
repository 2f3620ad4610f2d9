#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/explain.h"
#include "conf/conf.h"
#include "policy/cidr.h"
#include "policy/policy.h"
#include "server/server.h"
#include "smtp/cmd.h"
#include "util/xalloc.h"

static void
usage(void)
{
	fprintf(stderr,
	    "usage: sluice policy explain --client IP [--helo NAME] "
	    "[--auth USER]\n"
	    "                             [--listener ADDR:PORT|PORT] "
	    "[--from ADDR]\n"
	    "                             --to ADDR [--to ADDR ...] "
	    "[-c FILE]\n");
	exit(2);
}

/* show - one line per step: what, outcome, reply, rule */
static int
show(const char *what, const char *value, const struct verdict *v)
{
	const char *k = v->kind == POLICY_ACCEPT ? "accept" :
	    v->kind == POLICY_REJECT ? "reject" : "tempfail";

	if (v->kind == POLICY_ACCEPT)
		printf("%-6s %-40s %s  rule=%s\n", what, value, k, v->rule);
	else
		printf("%-6s %-40s %s  reply=\"%d %s %s\" rule=%s\n", what,
		    value, k, v->code, v->enh, v->text, v->rule);
	return v->kind == POLICY_ACCEPT ? 0 : 1;
}

/* parse_path - "a@b" or "<a@b>" through the SMTP grammar */
static int
parse_path(const char *s, int rcpt, struct addr *a)
{
	char line[600];
	struct mail_params mp;
	struct cmd_err e;
	size_t n;

	n = (size_t)snprintf(line, sizeof(line), "%s%s%s%s",
	    rcpt ? "TO:" : "FROM:", s[0] == '<' ? "" : "<", s,
	    s[0] == '<' ? "" : ">");
	if (n >= sizeof(line))
		return -1;
	if ((rcpt ? cmd_parse_rcpt(line, n, a, &e) :
	    cmd_parse_mail(line, n, a, &mp, &e)) == -1) {
		fprintf(stderr, "sluice: %s: %d %s %s\n", s, e.code, e.enh,
		    e.text);
		return -1;
	}
	return 0;
}

/*
 * find_listener - the listen entry whose address (as written) or port is
 * want, parsed into *l (the caller frees l->trusted). 0, or -1.
 */
static int
find_listener(const struct conf *cf, const char *want, struct listener *l)
{
	struct listener *ls;
	char err[512], addr[128];
	const char *colon;
	size_t i, n;

	for (i = 0; cf->listen && cf->listen[i]; i++) {
		if (sscanf(cf->listen[i], "%127s", addr) != 1)
			continue;
		colon = strrchr(addr, ':');
		if (strcmp(addr, want) != 0 &&
		    (colon == NULL || strcmp(colon + 1, want) != 0))
			continue;
		ls = NULL;
		n = 0;
		if (listener_parse(cf->listen[i], &ls, &n, err,
		    sizeof(err)) == -1 || n == 0) {
			free(ls);
			return -1;
		}
		*l = ls[0];
		for (i = 1; i < n; i++)
			cidr_set_free(ls[i].trusted);
		free(ls);
		return 0;
	}
	return -1;
}

/* explain - run the steps in SMTP order */
static int
explain(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "client", required_argument, NULL, 'i' },
		{ "helo", required_argument, NULL, 'h' },
		{ "auth", required_argument, NULL, 'a' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "listener", required_argument, NULL, 'l' },
		{ "config", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 }
	};
	const char *client = NULL, *helo = "client.invalid", *auth = NULL,
	    *from = "", *path = NULL, *lname = NULL;
	struct listener lst;
	const char **to = xcalloc((size_t)argc + 1, sizeof(*to));
	size_t nto = 0, i;
	struct policy_client pc;
	struct policy_conf pcf;
	struct policy *p;
	struct conf *cf;
	struct verdict v;
	struct addr sender, rcpt;
	char err[512], shown[600];
	int ch, bad = 0, rc;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		switch (ch) {
		case 'i': client = optarg; break;
		case 'h': helo = optarg; break;
		case 'a': auth = optarg; break;
		case 'f': from = optarg; break;
		case 't': to[nto++] = optarg; break;
		case 'c': path = optarg; break;
		case 'l': lname = optarg; break;
		default: usage();
		}
	}
	if (client == NULL || nto == 0 || optind != argc)
		usage();
	memset(&lst, 0, sizeof(lst));
	p = NULL;
	rc = 2;
	cf = path ? conf_load(path, stderr) : conf_default();
	if (cf == NULL) {
		fprintf(stderr, "sluice: %s has errors\n", path);
		goto out;
	}
	conf_policy(cf, &pcf);
	if ((p = policy_new(&pcf, err, sizeof(err))) == NULL) {
		fprintf(stderr, "sluice: %s\n", err);
		goto out;
	}
	memset(&pc, 0, sizeof(pc));
	if (cidr_parse_ip(client, &pc.family, pc.ip) == -1) {
		fprintf(stderr, "sluice: --client %s: not an IP address\n",
		    client);
		goto out;
	}
	snprintf(pc.ipstr, sizeof(pc.ipstr), "%s", client);
	pc.auth_user = auth;
	if (lname != NULL && find_listener(cf, lname, &lst) == -1) {
		fprintf(stderr, "sluice: --listener %s: no such listen entry "
		    "in %s\n", lname, path ? path : "the built-in defaults");
		goto out;
	}
	pc.trusted = lst.trusted;
	printf("config %s\n", path ? path : "(built-in defaults)");
	if (lname != NULL) {
		printf("listen %-40s role=%s%s\n", lst.name,
		    lst.role == ROLE_SMTP ? "smtp" : lst.role ==
		    ROLE_SUBMISSION ? "submission" : "submissions",
		    lst.trusted ? " networks=(its own)" : "");
	}
	policy_connect(p, &pc, &v);
	bad |= show("client", client, &v);
	policy_helo(p, &pc, helo, &v);
	bad |= show("helo", helo, &v);
	pc.helo = helo;
	if (lname != NULL && lst.role != ROLE_SMTP && auth == NULL) {
		/* a submission port takes no MAIL before AUTH */
		printf("%-6s %-40s reject  reply=\"530 5.7.0 Authentication "
		    "required\" rule=auth-required\n", "mail", "");
		bad = 1;
	}
	if (parse_path(from, 0, &sender) == -1)
		goto out;
	policy_mail(p, &pc, &sender, &v);
	addr_format(&sender, shown, sizeof(shown));
	bad |= show("from", shown, &v);
	for (i = 0; i < nto; i++) {
		if (parse_path(to[i], 1, &rcpt) == -1) {
			bad = 1;
			continue;
		}
		policy_rcpt(p, &pc, &sender, &rcpt, &v);
		addr_format(&rcpt, shown, sizeof(shown));
		bad |= show("to", shown, &v);
		if (v.kind == POLICY_ACCEPT)
			printf("       %-40s -> %s%s\n", "",
			    v.cls == RCPT_LOCAL ? "local mailbox " :
			    "relay to remote domain",
			    v.cls == RCPT_LOCAL ? v.mailbox : "");
	}
	printf("result %s\n", bad ? "refused" : "accepted");
	rc = bad ? 1 : 0;
out:
	cidr_set_free(lst.trusted);
	policy_free(p);
	conf_free(cf);
	free(to);
	return rc;
}

/* cmd_policy - `sluice policy SUBCOMMAND` */
int
cmd_policy(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "explain") == 0)
		return explain(argc - 1, argv + 1);
	usage();
	return 2;
}

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/admin.h"
#include "cli/queue.h"
#include "net/control.h"
#include "policy/cidr.h"
#include "util/buf.h"
#include "util/jsonp.h"
#include "util/str.h"

/* call - one request; the parsed reply, or NULL (message printed) */
static struct jval *
call(const char *config, const char *sock, const char *req, int *rc)
{
	char *reply;
	struct jval *v;

	if ((*rc = cli_call("sluice", config, sock, req, &reply)) != 0)
		return NULL;
	v = jsonp_parse(reply, strlen(reply));
	if (v == NULL || jsonp_num(v, "ok") == 0) {
		fprintf(stderr, "sluice: %s\n", v ? jsonp_str(v, "error") :
		    "unreadable reply from sluiced");
		jsonp_free(v);
		free(reply);
		*rc = 1;
		return NULL;
	}
	free(reply);
	*rc = 0;
	return v;
}

/* when - a local time stamp */
static const char *
when(double t, char *dst, size_t dstsize)
{
	time_t tt = (time_t)t;
	struct tm tm;

	localtime_r(&tt, &tm);
	strftime(dst, dstsize, "%Y-%m-%d %H:%M:%S", &tm);
	return dst;
}

/* top - "name count, name count" */
static void
top(const char *title, const struct jval *arr)
{
	const struct jval *k;

	printf("%s:", title);
	if (arr == NULL || arr->kids == NULL)
		printf(" none");
	for (k = arr ? arr->kids : NULL; k; k = k->next)
		printf(" %s=%.0f", jsonp_str(k, "source"),
		    jsonp_num(k, "count"));
	putchar('\n');
}

/* cmd_stats - `sluice stats [-c FILE] [--socket PATH] [--json]` */
int
cmd_stats(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	const char *config = NULL, *sock = NULL;
	const struct jval *s, *q, *rej, *k, *src;
	struct jval *v;
	int ch, json = 0, rc;
	char t[64];

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': config = optarg; break;
		case 's': sock = optarg; break;
		case 'j': json = 1; break;
		default:
			fprintf(stderr, "usage: sluice stats [-c FILE] "
			    "[--socket PATH] [--json]\n");
			return 2;
		}
	}
	if (json) {
		char *reply;

		if ((rc = cli_call("sluice", config, sock, "stats\n",
		    &reply)) != 0)
			return rc;
		fputs(reply, stdout);
		free(reply);
		return 0;
	}
	if ((v = call(config, sock, "stats\n", &rc)) == NULL)
		return rc;
	s = jsonp_get(v, "server");
	q = jsonp_get(v, "queue");
	src = jsonp_get(v, "sources");
	printf("sessions: %.0f active, %.0f since start, %.0f refused\n",
	    jsonp_num(s, "sessions_active"), jsonp_num(s, "sessions_total"),
	    jsonp_num(s, "sessions_refused"));
	printf("messages: %.0f accepted, %.0f bytes; TLS sessions %.0f; AUTH "
	    "%.0f ok, %.0f failed, %.0f blocked; DNSBL-listed %.0f\n",
	    jsonp_num(s, "messages"), jsonp_num(s, "bytes"),
	    jsonp_num(s, "tls_sessions"), jsonp_num(s, "auth_success"),
	    jsonp_num(s, "auth_failure"), jsonp_num(s, "auth_blocked"),
	    jsonp_num(s, "dnsbl_listed"));
	printf("rejections:");
	rej = jsonp_get(v, "rejections");
	if (rej == NULL || rej->kids == NULL)
		printf(" none");
	for (k = rej ? rej->kids : NULL; k; k = k->next)
		printf(" %s=%.0f", k->key, k->num);
	putchar('\n');
	printf("queue: %.0f messages (%.0f held, %.0f delivering); delivered "
	    "%.0f, deferred %.0f, failed %.0f, bounces %.0f\n",
	    jsonp_num(q, "messages"), jsonp_num(q, "held"),
	    jsonp_num(q, "active"), jsonp_num(q, "delivered"),
	    jsonp_num(q, "deferred"), jsonp_num(q, "failed"),
	    jsonp_num(q, "bounces"));
	printf("sources tracked: %.0f of %.0f (%.0f bytes), %.0f forgotten\n",
	    jsonp_num(src, "tracked"), jsonp_num(src, "capacity"),
	    jsonp_num(src, "memory_bytes"), jsonp_num(src, "evictions"));
	top("top by messages (last hour)", jsonp_get(v, "top_messages"));
	top("top by rejections (last hour)", jsonp_get(v, "top_rejections"));
	k = jsonp_get(v, "actions");
	printf("in force:%s\n", k && k->kids ? "" : " nothing");
	for (k = k ? k->kids : NULL; k; k = k->next)
		printf("  %-8s %-30s until %s (rule %s)\n",
		    jsonp_str(k, "action"), jsonp_str(k, "source"),
		    when(jsonp_num(k, "until"), t, sizeof(t)),
		    jsonp_str(k, "rule"));
	k = jsonp_get(v, "rules");
	printf("rules:\n");
	for (k = k ? k->kids : NULL; k; k = k->next)
		printf("  %-22s %s per %s >= %.0f in %.0fs -> %s  (fired %.0f)\n",
		    jsonp_str(k, "name"), jsonp_str(k, "counter"),
		    jsonp_str(k, "per"), jsonp_num(k, "limit"),
		    jsonp_num(k, "window"), jsonp_str(k, "action"),
		    jsonp_num(k, "hits"));
	jsonp_free(v);
	return 0;
}

static void
list_usage(void)
{
	fprintf(stderr,
"usage: sluice list [-c FILE] [--socket PATH] add|del allow|deny [TYPE] PATTERN\n"
"                   [--expires DURATION] [--reason TEXT]\n"
"       sluice list [-c FILE] [--socket PATH] show [--json]\n"
"  TYPE: client (an address or CIDR network; the default for those),\n"
"        sender, recipient or helo (user@domain, user@, domain, .domain)\n");
	exit(2);
}

/* cmd_list - the runtime allow and deny lists */
int
cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "expires", required_argument, NULL, 'e' },
		{ "reason", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	const char *config = NULL, *sock = NULL, *expires = NULL,
	    *reason = NULL, *op, *kind, *type, *pat;
	const struct jval *k;
	struct jval *v;
	struct buf req;
	int ch, json = 0, rc;
	char t[64];

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': config = optarg; break;
		case 's': sock = optarg; break;
		case 'e': expires = optarg; break;
		case 'r': reason = optarg; break;
		case 'j': json = 1; break;
		default: list_usage();
		}
	}
	op = optind < argc ? argv[optind++] : "show";
	buf_init(&req, 8192);
	if (strcmp(op, "show") == 0) {
		if ((v = call(config, sock, "list-show\n", &rc)) == NULL)
			return rc;
		k = jsonp_get(v, "entries");
		if (json) {
			jsonp_free(v);
			/* ask again for the raw text */
			{
				char *reply;

				if ((rc = cli_call("sluice", config, sock,
				    "list-show\n", &reply)) != 0)
					return rc;
				fputs(reply, stdout);
				free(reply);
			}
			return 0;
		}
		if (k == NULL || k->kids == NULL)
			printf("no runtime list entries\n");
		for (k = k ? k->kids : NULL; k; k = k->next)
			printf("%-5s %-9s %-32s %s%s  %s\n", jsonp_str(k, "list"),
			    jsonp_str(k, "type"), jsonp_str(k, "pattern"),
			    jsonp_num(k, "expires") ? "until " : "permanent",
			    jsonp_num(k, "expires") ? when(jsonp_num(k,
			    "expires"), t, sizeof(t)) : "",
			    jsonp_str(k, "reason"));
		jsonp_free(v);
		return 0;
	}
	if ((strcmp(op, "add") && strcmp(op, "del")) || optind >= argc)
		list_usage();
	kind = argv[optind++];
	if (strcmp(kind, "allow") && strcmp(kind, "deny"))
		list_usage();
	if (optind + 1 < argc) {
		type = argv[optind++];
		pat = argv[optind++];
	} else if (optind < argc) {
		struct cidr c;

		pat = argv[optind++];
		type = cidr_parse(pat, &c) == 0 ? "client" :
		    strchr(pat, '@') ? "sender" : NULL;
		if (type == NULL) {
			fprintf(stderr, "sluice list: say which list: client, "
			    "sender, recipient or helo\n");
			return 2;
		}
	} else
		list_usage();
	if (optind != argc || strpbrk(pat, "\t\r\n") || (reason &&
	    strpbrk(reason, "\t\r\n")))
		list_usage();
	buf_printf(&req, "list-%s\tlist=%s\ttype=%s\tpattern=%s", op, kind,
	    type, pat);
	if (expires)
		buf_printf(&req, "\texpires=%s", expires);
	if (reason)
		buf_printf(&req, "\treason=%s", reason);
	buf_putc(&req, '\n');
	v = call(config, sock, req.data, &rc);
	buf_release(&req);
	if (v == NULL)
		return rc;
	printf("%s %s %s %s: done\n", op, kind, type, pat);
	jsonp_free(v);
	return 0;
}

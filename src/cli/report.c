#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/report.h"
#include "util/buf.h"
#include "util/hmap.h"
#include "util/json.h"
#include "util/str.h"
#include "util/xalloc.h"

/* How many entries each "top" table shows. */
#define TOP	10

/*
 * logline_parse - split "STAMP ident[pid]: key=value key="quoted \" v"..."
 * in place. Lines that are not ours (no level=) give -1.
 */
int
logline_parse(char *line, struct logline *l)
{
	char *p = strstr(line, "level="), *sp;

	memset(l, 0, sizeof(*l));
	if (p == NULL)
		return -1;
	if ((sp = strchr(line, ' ')) != NULL && sp < p)
		str_ncopy(l->stamp, sizeof(l->stamp), line,
		    (size_t)(sp - line));
	while (*p && l->n < 48) {
		char *eq, *v, *o;

		while (*p == ' ')
			p++;
		if (*p == '\0' || *p == '\n')
			break;
		eq = strchr(p, '=');
		if (eq == NULL)
			break;
		*eq = '\0';
		l->keys[l->n] = p;
		v = eq + 1;
		if (*v == '"') {
			/* unescape \" \\ \n ... in place */
			for (o = v, v++; *v && *v != '"'; v++) {
				if (*v == '\\' && v[1]) {
					v++;
					*o++ = *v == 'n' ? '\n' : *v == 'r' ?
					    '\r' : *v == 't' ? '\t' : *v;
				} else
					*o++ = *v;
			}
			l->vals[l->n++] = eq + 1;
			if (*v == '"')
				v++;
			*o = '\0';
			p = v;
		} else {
			l->vals[l->n++] = v;
			p = v + strcspn(v, " \n");
			if (*p)
				*p++ = '\0';
		}
	}
	return 0;
}

/* logline_get - a key's value, or NULL */
const char *
logline_get(const struct logline *l, const char *key)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->keys[i], key) == 0)
			return l->vals[i];
	return NULL;
}

/* count - add n to a tally (key -> uintptr) */
static void
count(struct hmap *m, const char *key, uintptr_t n)
{
	hmap_put(m, key, (void *)((uintptr_t)hmap_get(m, key) + n));
}

struct tally {
	const char	*key;
	uintptr_t	 n;
};

/* cmp_tally - most first, then by name */
static int
cmp_tally(const void *a, const void *b)
{
	const struct tally *x = a, *y = b;

	if (x->n != y->n)
		return x->n < y->n ? 1 : -1;
	return strcmp(x->key, y->key);
}

/* sorted - the tally as an array, most first; *n entries */
static struct tally *
sorted(const struct hmap *m, size_t *n)
{
	struct tally *t = xcalloc(hmap_count(m) + 1, sizeof(*t));
	size_t pos = 0, i = 0;
	const char *k;
	void *v;

	while (hmap_iter(m, &pos, &k, &v)) {
		t[i].key = k;
		t[i++].n = (uintptr_t)v;
	}
	qsort(t, i, sizeof(*t), cmp_tally);
	*n = i;
	return t;
}

struct report {
	unsigned long long lines, ours, sessions, tls, received, bytes,
	    sent_local, sent_remote, deferred, bounced, dsns, auth_ok,
	    auth_fail, auth_blocked, rejected, relay_denied;
	char		 first[40], last[40];
	struct hmap	*by_rule, *clients, *senders, *relay_clients,
			*unknown_clients, *alerts;
};

/*
 * refusal_class - what refused an AUTH: the address's own failures
 * ("auth-blocked"), or a rule's block of the login ("abuse-block:RULE")
 */
static const char *
refusal_class(const struct logline *l)
{
	const char *why = logline_get(l, "reason");

	return why && strncmp(why, "abuse-", 6) == 0 ? why : "auth-blocked";
}

/* feed - one parsed line into the report */
static void
feed(struct report *r, const struct logline *l)
{
	const char *ev = logline_get(l, "event"), *v;

	r->ours++;
	if (l->stamp[0]) {
		if (r->first[0] == '\0')
			str_copy(r->first, sizeof(r->first), l->stamp);
		str_copy(r->last, sizeof(r->last), l->stamp);
	}
	if (ev == NULL)
		return;
	if (strcmp(ev, "connect") == 0)
		r->sessions++;
	else if (strcmp(ev, "tls") == 0)
		r->tls++;
	else if (strcmp(ev, "message-accepted") == 0) {
		r->received++;
		if ((v = logline_get(l, "size")) != NULL)
			r->bytes += strtoull(v, NULL, 10);
		if ((v = logline_get(l, "client")) != NULL)
			count(r->clients, v, 1);
		if ((v = logline_get(l, "from")) != NULL)
			count(r->senders, v, 1);
	} else if (strcmp(ev, "delivery") == 0 &&
	    (v = logline_get(l, "status")) != NULL) {
		const char *relay = logline_get(l, "relay");

		if (strcmp(v, "sent") == 0) {
			if (relay && strcmp(relay, "local") == 0)
				r->sent_local++;
			else
				r->sent_remote++;
		} else if (strcmp(v, "deferred") == 0)
			r->deferred++;
		else if (strcmp(v, "bounced") == 0)
			r->bounced++;
	} else if (strcmp(ev, "bounce") == 0)
		r->dsns++;
	else if (strcmp(ev, "auth-success") == 0)
		r->auth_ok++;
	else if (strcmp(ev, "auth-failure") == 0)
		r->auth_fail++;
	else if ((strstr(ev, "-rejected") != NULL &&
	    (v = logline_get(l, "rule")) != NULL) ||
	    (strcmp(ev, "connect-refused") == 0 &&
	    (v = logline_get(l, "reason")) != NULL) ||
	    (strcmp(ev, "auth-blocked") == 0 && (v = refusal_class(l)))) {
		char cls[64];
		const char *client = logline_get(l, "client");

		/* a rule's class: its name up to ':' or ' ' */
		str_ncopy(cls, sizeof(cls), v, strcspn(v, ": "));
		r->rejected++;
		if (strcmp(ev, "auth-blocked") == 0)
			r->auth_blocked++;
		count(r->by_rule, cls, 1);
		if (client && (strcmp(cls, "relay-denied") == 0 ||
		    strcmp(cls, "percent-hack") == 0 ||
		    strcmp(cls, "bang-path") == 0 ||
		    strcmp(cls, "quoted-at") == 0)) {
			r->relay_denied++;
			count(r->relay_clients, client, 1);
		}
		if (client && strcmp(cls, "unknown-user") == 0)
			count(r->unknown_clients, client, 1);
	} else if (strcmp(ev, "abuse-alert") == 0) {
		char what[256];

		snprintf(what, sizeof(what), "%s rule=%s action=%s",
		    (v = logline_get(l, "source")) ? v : "?",
		    logline_get(l, "rule") ? logline_get(l, "rule") : "?",
		    logline_get(l, "action") ? logline_get(l, "action") : "?");
		count(r->alerts, what, 1);
	}
}

/* table - a top-N table as text */
static void
table(const char *title, const struct hmap *m)
{
	struct tally *t;
	size_t n, i;

	printf("\n%s\n", title);
	t = sorted(m, &n);
	if (n == 0)
		printf("  none\n");
	for (i = 0; i < n && i < TOP; i++)
		printf("  %8lu  %s\n", (unsigned long)t[i].n, t[i].key);
	free(t);
}

/* jtable - the same as a JSON array */
static void
jtable(struct buf *b, const char *name, const struct hmap *m, size_t top)
{
	struct tally *t;
	size_t n, i;

	(void)buf_printf(b, ",\"%s\":[", name);
	t = sorted(m, &n);
	for (i = 0; i < n && i < top; i++) {
		(void)buf_puts(b, i ? ",{" : "{");
		json_kv_str(b, 0, "key", t[i].key);
		json_kv_int(b, 1, "count", (long long)t[i].n);
		(void)buf_putc(b, '}');
	}
	(void)buf_putc(b, ']');
	free(t);
}

/*
 * suspects - sources that look like a worm or a prober: an abuse alert,
 * or at least 10 unknown recipients or relay denials in the logs.
 */
static struct hmap *
suspects(const struct report *r)
{
	struct hmap *s = hmap_new();
	const struct hmap *src[] = { r->unknown_clients, r->relay_clients };
	const char *why[] = { "unknown recipients", "relay denials" };
	size_t pos, i;
	const char *k;
	void *v;

	for (i = 0; i < 2; i++)
		for (pos = 0; hmap_iter(src[i], &pos, &k, &v);)
			if ((uintptr_t)v >= 10) {
				char what[200];

				snprintf(what, sizeof(what), "%s: %lu %s", k,
				    (unsigned long)(uintptr_t)v, why[i]);
				count(s, what, (uintptr_t)v);
			}
	for (pos = 0; hmap_iter(r->alerts, &pos, &k, &v);) {
		char what[300];

		snprintf(what, sizeof(what), "%s (abuse alert)", k);
		count(s, what, (uintptr_t)v);
	}
	return s;
}

/* cmd_report - `sluice report [--json] LOGFILE...` ('-': stdin) */
int
cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct report r;
	struct hmap *sus;
	char line[16384];
	int ch, json = 0, i;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch != 'j') {
			fprintf(stderr, "usage: sluice report [--json] "
			    "LOGFILE...\n");
			return 2;
		}
		json = 1;
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: sluice report [--json] LOGFILE...\n");
		return 2;
	}
	memset(&r, 0, sizeof(r));
	r.by_rule = hmap_new();
	r.clients = hmap_new();
	r.senders = hmap_new();
	r.relay_clients = hmap_new();
	r.unknown_clients = hmap_new();
	r.alerts = hmap_new();
	for (i = optind; i < argc; i++) {
		FILE *f = strcmp(argv[i], "-") == 0 ? stdin :
		    fopen(argv[i], "r");

		if (f == NULL) {
			fprintf(stderr, "sluice report: %s: cannot read\n",
			    argv[i]);
			return 1;
		}
		while (fgets(line, sizeof(line), f) != NULL) {
			struct logline l;

			r.lines++;
			if (logline_parse(line, &l) == 0)
				feed(&r, &l);
		}
		if (f != stdin)
			fclose(f);
	}
	sus = suspects(&r);
	if (json) {
		struct buf b;

		buf_init(&b, 64 * 1024 * 1024);
		(void)buf_putc(&b, '{');
		json_kv_int(&b, 0, "lines", (long long)r.lines);
		json_kv_int(&b, 1, "events", (long long)r.ours);
		json_kv_str(&b, 1, "first", r.first);
		json_kv_str(&b, 1, "last", r.last);
		json_kv_int(&b, 1, "sessions", (long long)r.sessions);
		json_kv_int(&b, 1, "tls_sessions", (long long)r.tls);
		json_kv_int(&b, 1, "messages_in", (long long)r.received);
		json_kv_int(&b, 1, "bytes_in", (long long)r.bytes);
		json_kv_int(&b, 1, "delivered_local", (long long)r.sent_local);
		json_kv_int(&b, 1, "delivered_remote",
		    (long long)r.sent_remote);
		json_kv_int(&b, 1, "deferred", (long long)r.deferred);
		json_kv_int(&b, 1, "bounced", (long long)r.bounced);
		json_kv_int(&b, 1, "dsns", (long long)r.dsns);
		json_kv_int(&b, 1, "auth_success", (long long)r.auth_ok);
		json_kv_int(&b, 1, "auth_failure", (long long)r.auth_fail);
		json_kv_int(&b, 1, "auth_blocked", (long long)r.auth_blocked);
		json_kv_int(&b, 1, "rejections", (long long)r.rejected);
		json_kv_int(&b, 1, "relay_denials", (long long)r.relay_denied);
		jtable(&b, "rejections_by_rule", r.by_rule, 1000);
		jtable(&b, "top_clients", r.clients, TOP);
		jtable(&b, "top_senders", r.senders, TOP);
		jtable(&b, "relay_denials_by_client", r.relay_clients, TOP);
		jtable(&b, "suspects", sus, 1000);
		(void)buf_puts(&b, "}\n");
		fwrite(b.data, 1, b.len, stdout);
		buf_release(&b);
	} else {
		printf("sluice report: %llu lines, %llu events, %s .. %s\n",
		    r.lines, r.ours, r.first[0] ? r.first : "-",
		    r.last[0] ? r.last : "-");
		printf("\nmessages in:  %llu (%llu bytes)\n", r.received,
		    r.bytes);
		printf("delivered:    %llu local, %llu remote; %llu deferrals, "
		    "%llu bounced (%llu DSNs sent)\n", r.sent_local,
		    r.sent_remote, r.deferred, r.bounced, r.dsns);
		printf("sessions:     %llu (%llu with TLS); AUTH %llu ok, "
		    "%llu failed, %llu refused as blocked\n", r.sessions, r.tls,
		    r.auth_ok, r.auth_fail, r.auth_blocked);
		printf("rejections:   %llu, of which relay denials %llu\n",
		    r.rejected, r.relay_denied);
		table("rejections by rule", r.by_rule);
		table("top client addresses (messages in)", r.clients);
		table("top senders (messages in)", r.senders);
		table("relay denials by client", r.relay_clients);
		table("suspected worms and probers", sus);
	}
	hmap_free(sus);
	hmap_free(r.by_rule);
	hmap_free(r.clients);
	hmap_free(r.senders);
	hmap_free(r.relay_clients);
	hmap_free(r.unknown_clients);
	hmap_free(r.alerts);
	return 0;
}

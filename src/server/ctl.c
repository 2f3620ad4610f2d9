/*
 * ctl - what sluiced answers on its control socket (net/control.c): the
 * queue verbs behind `sluice queue`, and a ping.
 */
#include <stdio.h>
#include <unistd.h>
#include <string.h>

#include "net/control.h"
#include "policy/cidr.h"
#include "queue/runner.h"
#include "policy/dynlist.h"
#include "queue/spool.h"
#include "server/lists.h"
#include "server/server.h"
#include "util/json.h"
#include "util/log.h"
#include "util/str.h"

/* selection - the request's selectors; -1 (message in out) if bad */
static int
selection(char **keys, char **vals, size_t n, struct qsel *s, int *any,
    struct buf *out)
{
	size_t i;
	uint64_t v;

	memset(s, 0, sizeof(*s));
	s->bits = -1;
	s->held = -1;
	*any = 0;
	for (i = 0; i < n; i++) {
		const char *k = keys[i], *val = vals[i];
		int bad = 0;

		if (strcmp(k, "all") == 0) {
			*any = 1;
			continue;
		}
		if (strcmp(k, "id") == 0)
			bad = str_copy(s->qid, sizeof(s->qid), val);
		else if (strcmp(k, "sender") == 0)
			bad = str_copy(s->sender, sizeof(s->sender), val);
		else if (strcmp(k, "rcpt") == 0)
			bad = str_copy(s->rcpt, sizeof(s->rcpt), val);
		else if (strcmp(k, "user") == 0)
			bad = str_copy(s->user, sizeof(s->user), val);
		else if (strcmp(k, "client") == 0) {
			struct cidr c;

			if ((bad = cidr_parse(val, &c)) == 0) {
				s->family = c.family;
				memcpy(s->net, c.addr, 16);
				s->bits = (int)c.bits;
			}
		} else if (strcmp(k, "older") == 0 || strcmp(k, "newer") == 0) {
			if ((bad = str_parse_duration(val, &v)) == 0) {
				if (k[0] == 'o')
					s->older = (time_t)v;
				else
					s->newer = (time_t)v;
			}
		} else if (strcmp(k, "held") == 0)
			s->held = strcmp(val, "1") == 0 ? 1 : 0;
		else if (strcmp(k, "internal") == 0)
			s->internal = 1;
		else {
			buf_printf(out, "unknown selector %s", k);
			return -1;
		}
		if (bad) {
			buf_printf(out, "bad value for %s", k);
			return -1;
		}
		*any = 1;
	}
	return 0;
}

/* val - the value of key, or NULL */
static const char *
val(char **keys, char **vals, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(keys[i], key) == 0)
			return vals[i];
	return NULL;
}

/*
 * ctl_lists - list-add, list-del, list-show: the runtime allow and deny
 * lists. A change applies at once and is written to disk before the
 * answer (it survives a restart).
 */
static int
ctl_lists(struct server *srv, const char *op, char **keys, char **vals,
    size_t n, struct buf *out)
{
	const char *kind = val(keys, vals, n, "list"),
	    *type = val(keys, vals, n, "type"),
	    *pat = val(keys, vals, n, "pattern"),
	    *exp = val(keys, vals, n, "expires"),
	    *why = val(keys, vals, n, "reason");
	struct dl_entry e;
	char err[300];
	uint64_t secs;

	if (strcmp(op, "show") == 0) {
		(void)buf_puts(out, "\"entries\":");
		dynlist_json(srv->lists, out);
		return 0;
	}
	memset(&e, 0, sizeof(e));
	if (kind == NULL || (strcmp(kind, "allow") && strcmp(kind, "deny")) ||
	    type == NULL || dynlist_parse_type(type, &e.type) == -1 ||
	    pat == NULL || *pat == '\0') {
		(void)buf_puts(out, "want list=allow|deny type=client|sender|"
		    "recipient|helo pattern=...");
		return -1;
	}
	e.kind = kind[0] == 'a' ? DL_ALLOW : DL_DENY;
	if (strcmp(op, "del") == 0) {
		if (!dynlist_del(srv->lists, e.kind, e.type, pat)) {
			(void)buf_printf(out, "no %s %s entry %s", kind, type,
			    pat);
			return -1;
		}
	} else if (strcmp(op, "add") == 0) {
		if (str_copy(e.pattern, sizeof(e.pattern), pat) == -1) {
			(void)buf_puts(out, "pattern too long");
			return -1;
		}
		e.added = time(NULL);
		if (exp && *exp) {
			if (str_parse_duration(exp, &secs) == -1 || secs == 0) {
				(void)buf_puts(out, "bad expiry (want like 2h)");
				return -1;
			}
			e.expires = e.added + (time_t)secs;
		}
		str_copy(e.reason, sizeof(e.reason), why ? why : "");
		if (dynlist_add(srv->lists, &e, err, sizeof(err)) == -1) {
			(void)buf_puts(out, err);
			return -1;
		}
	} else {
		(void)buf_printf(out, "unknown request list-%s", op);
		return -1;
	}
	if (lists_save(srv->lists_path, srv->lists, err, sizeof(err)) == -1) {
		log_err("event=lists-save-failed problem=\"%s\"", err);
		(void)buf_printf(out, "changed, but not saved: %s", err);
		return -1;
	}
	{
		char q1[LOG_QUOTE_MAX], q2[LOG_QUOTE_MAX];

		log_info("event=list-%s list=%s type=%s pattern=%s reason=%s",
		    op, kind, type, log_quotes(q1, sizeof(q1), pat),
		    log_quotes(q2, sizeof(q2), why));
	}
	json_kv_str(out, 0, "changed", pat);
	return 0;
}

/* ctl_handle - one request */
int
ctl_handle(void *arg, const char *verb, char **keys, char **vals, size_t n,
    struct buf *out)
{
	struct server *srv = arg;
	const struct runner_stats *st = runner_stats(srv->runner);
	struct qsel s;
	size_t count;
	int any;

	if (strcmp(verb, "ping") == 0) {
		json_kv_int(out, 0, "pid", (long long)getpid());
		json_kv_int(out, 1, "sessions", srv->nsessions);
		return 0;
	}
	if (strcmp(verb, "stats") == 0) {
		stats_json(srv, out);
		return 0;
	}
	if (strncmp(verb, "list-", 5) == 0)
		return ctl_lists(srv, verb + 5, keys, vals, n, out);
	if (strcmp(verb, "queue-stats") == 0) {
		json_kv_int(out, 0, "queued", (long long)st->queued);
		json_kv_int(out, 1, "held", (long long)st->held);
		json_kv_int(out, 1, "active", st->active);
		json_kv_int(out, 1, "delivered", (long long)st->delivered);
		json_kv_int(out, 1, "deferred", (long long)st->deferred);
		json_kv_int(out, 1, "failed", (long long)st->failed);
		json_kv_int(out, 1, "bounces", (long long)st->bounces);
		return 0;
	}
	if (selection(keys, vals, n, &s, &any, out) == -1)
		return -1;
	if (strcmp(verb, "list") == 0) {
		(void)buf_puts(out, "\"messages\":");
		count = runner_list(srv->runner, &s, out);
		json_kv_int(out, 1, "count", (long long)count);
		return 0;
	}
	if (!any) {
		(void)buf_puts(out, "refusing to act on the whole queue without "
		    "a selector (use --all)");
		return -1;
	}
	if (strcmp(verb, "hold") == 0)
		count = runner_hold(srv->runner, &s);
	else if (strcmp(verb, "release") == 0)
		count = runner_release(srv->runner, &s);
	else if (strcmp(verb, "delete") == 0)
		count = runner_delete(srv->runner, &s);
	else if (strcmp(verb, "flush") == 0)
		count = runner_flush(srv->runner, &s);
	else {
		buf_printf(out, "unknown request %s", verb);
		return -1;
	}
	log_info("event=queue-admin verb=%s count=%zu", verb, count);
	json_kv_int(out, 0, "count", (long long)count);
	return 0;
}

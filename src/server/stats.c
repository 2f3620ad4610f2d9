/*
 * stats - the server's counters, as JSON for `sluice stats` and in the
 * Prometheus text format for /metrics.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "policy/dynlist.h"
#include "queue/runner.h"
#include "queue/spool.h"
#include "server/abuse.h"
#include "server/authfail.h"
#include "server/server.h"
#include "util/hmap.h"
#include "util/json.h"
#include "util/str.h"

/* A rule's class: its name up to ':' or ' ' ("deny-client:1.2.3.4 ..."). */
#define CLASS_MAX	48
/* Distinct classes kept (they are a small fixed set in practice). */
#define CLASSES_MAX	256

/* stats_reject - count a refusal by its rule's class */
void
stats_reject(struct server *srv, const char *rule)
{
	char cls[CLASS_MAX];
	size_t n = strcspn(rule ? rule : "", ": ");
	uintptr_t v;

	if (srv->st.rejections == NULL)
		srv->st.rejections = hmap_new();
	str_ncopy(cls, sizeof(cls), rule ? rule : "", n);
	if (cls[0] == '\0')
		str_copy(cls, sizeof(cls), "other");
	v = (uintptr_t)hmap_get(srv->st.rejections, cls);
	if (v == 0 && hmap_count(srv->st.rejections) >= CLASSES_MAX)
		str_copy(cls, sizeof(cls), "other");
	hmap_put(srv->st.rejections, cls,
	    (void *)((uintptr_t)hmap_get(srv->st.rejections, cls) + 1));
}

/* stats_json - members for `sluice stats` */
void
stats_json(struct server *srv, struct buf *b)
{
	const struct runner_stats *q = runner_stats(srv->runner);
	time_t now = time(NULL);
	struct buf more;
	const char *k;
	void *v;
	size_t pos = 0, n = 0;

	json_kv_int(b, 0, "time", (long long)now);
	(void)buf_puts(b, ",\"server\":{");
	json_kv_int(b, 0, "sessions_active", srv->nsessions);
	json_kv_int(b, 1, "sessions_total", (long long)srv->st.sessions);
	json_kv_int(b, 1, "sessions_refused", (long long)srv->st.refused);
	json_kv_int(b, 1, "messages", (long long)srv->st.messages);
	json_kv_int(b, 1, "bytes", (long long)srv->st.bytes);
	json_kv_int(b, 1, "tls_sessions", (long long)srv->st.tls);
	json_kv_int(b, 1, "auth_success", (long long)srv->st.auth_ok);
	json_kv_int(b, 1, "auth_failure", (long long)srv->st.auth_fail);
	json_kv_int(b, 1, "auth_blocked", (long long)srv->st.auth_blocked);
	json_kv_int(b, 1, "dnsbl_listed", (long long)srv->st.dnsbl_listed);
	json_kv_int(b, 1, "runtime_list_entries",
	    (long long)dynlist_count(srv->lists));
	(void)buf_puts(b, "},\"rejections\":{");
	while (hmap_iter(srv->st.rejections, &pos, &k, &v)) {
		json_kv_int(b, n++ > 0, k, (long long)(uintptr_t)v);
	}
	(void)buf_puts(b, "},\"queue\":{");
	json_kv_int(b, 0, "messages", (long long)q->queued);
	json_kv_int(b, 1, "held", (long long)q->held);
	json_kv_int(b, 1, "active", q->active);
	json_kv_int(b, 1, "delivered", (long long)q->delivered);
	json_kv_int(b, 1, "deferred", (long long)q->deferred);
	json_kv_int(b, 1, "failed", (long long)q->failed);
	json_kv_int(b, 1, "bounces", (long long)q->bounces);
	(void)buf_puts(b, "},");
	buf_init(&more, 4 * 1024 * 1024);	/* AUTHFAIL_MAX entries */
	(void)authfail_blocks_json(srv->authfail, &more, now);
	abuse_stats_json(srv->abuse, b, buf_cstr(&more), now);
	buf_release(&more);
}

/* label - a Prometheus label value: quoted, \\ " and newline escaped */
static void
label(struct buf *b, const char *s)
{
	(void)buf_putc(b, '"');
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			(void)buf_putc(b, '\\');
		if (*s == '\n')
			(void)buf_puts(b, "\\n");
		else if ((unsigned char)*s >= ' ' && (unsigned char)*s < 0x7f)
			(void)buf_putc(b, *s);
	}
	(void)buf_putc(b, '"');
}

/* metric - one sample, with HELP and TYPE the first time */
static void
metric(struct buf *b, const char *name, const char *type, const char *help,
    const char *labels, unsigned long long v)
{
	(void)buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s%s %llu\n", name,
	    help, name, type, name, labels ? labels : "", v);
}

/* stats_prometheus - the text exposition format (version 0.0.4) */
int
stats_prometheus(struct server *srv, struct buf *b)
{
	const struct runner_stats *q = runner_stats(srv->runner);
	const struct abuse_rule *rules;
	const char *k;
	void *v;
	size_t pos = 0, i, n;

	metric(b, "sluice_sessions_total", "counter",
	    "SMTP sessions accepted.", NULL, srv->st.sessions);
	metric(b, "sluice_sessions_refused_total", "counter",
	    "Connections refused by session limits or blocks.", NULL,
	    srv->st.refused);
	metric(b, "sluice_sessions_active", "gauge", "SMTP sessions now.",
	    NULL, srv->nsessions);
	metric(b, "sluice_messages_accepted_total", "counter",
	    "Messages answered 250 after DATA.", NULL, srv->st.messages);
	metric(b, "sluice_message_bytes_total", "counter",
	    "Bytes of accepted messages.", NULL, srv->st.bytes);
	metric(b, "sluice_tls_sessions_total", "counter",
	    "Sessions that completed a TLS handshake.", NULL, srv->st.tls);
	(void)buf_puts(b, "# HELP sluice_auth_total SMTP AUTH results.\n"
	    "# TYPE sluice_auth_total counter\n");
	(void)buf_printf(b, "sluice_auth_total{result=\"success\"} %llu\n"
	    "sluice_auth_total{result=\"failure\"} %llu\n"
	    "sluice_auth_total{result=\"blocked\"} %llu\n",
	    (unsigned long long)srv->st.auth_ok,
	    (unsigned long long)srv->st.auth_fail,
	    (unsigned long long)srv->st.auth_blocked);
	(void)buf_puts(b, "# HELP sluice_rejections_total Refusals, by rule.\n"
	    "# TYPE sluice_rejections_total counter\n");
	while (hmap_iter(srv->st.rejections, &pos, &k, &v)) {
		(void)buf_puts(b, "sluice_rejections_total{rule=");
		label(b, k);
		(void)buf_printf(b, "} %llu\n",
		    (unsigned long long)(uintptr_t)v);
	}
	(void)buf_puts(b, "# HELP sluice_queue_messages Messages in the queue."
	    "\n# TYPE sluice_queue_messages gauge\n");
	(void)buf_printf(b, "sluice_queue_messages{state=\"active\"} %llu\n"
	    "sluice_queue_messages{state=\"held\"} %llu\n",
	    (unsigned long long)(q->queued - q->held),
	    (unsigned long long)q->held);
	(void)buf_puts(b, "# HELP sluice_deliveries_total Delivery results per "
	    "recipient.\n# TYPE sluice_deliveries_total counter\n");
	(void)buf_printf(b, "sluice_deliveries_total{result=\"sent\"} %llu\n"
	    "sluice_deliveries_total{result=\"deferred\"} %llu\n"
	    "sluice_deliveries_total{result=\"bounced\"} %llu\n",
	    (unsigned long long)q->delivered,
	    (unsigned long long)q->deferred, (unsigned long long)q->failed);
	metric(b, "sluice_bounces_total", "counter", "DSNs queued.", NULL,
	    q->bounces);
	metric(b, "sluice_dnsbl_listed_total", "counter",
	    "Clients found on a DNS blocklist.", NULL, srv->st.dnsbl_listed);
	n = abuse_rules(srv->abuse, &rules);
	(void)buf_puts(b, "# HELP sluice_abuse_alerts_total Abuse rule "
	    "triggers.\n# TYPE sluice_abuse_alerts_total counter\n");
	for (i = 0; i < n; i++) {
		(void)buf_puts(b, "sluice_abuse_alerts_total{rule=");
		label(b, rules[i].name);
		(void)buf_printf(b, "} %llu\n",
		    (unsigned long long)rules[i].hits);
	}
	metric(b, "sluice_abuse_sources_tracked", "gauge",
	    "Client addresses and users with live counters.", NULL,
	    counters_count(abuse_counters(srv->abuse)));
	return 0;
}

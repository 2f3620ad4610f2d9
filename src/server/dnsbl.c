#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/dns.h"
#include "server/dnsbl.h"
#include "util/str.h"
#include "util/xalloc.h"

struct dnsbl_q {
	dnsbl_cb	 cb;	/* NULL once cancelled */
	void		*arg;
	unsigned	 pending;
	unsigned	 txt_pending;	/* zones that listed it: TXT asked */
	int		 reported;
	char		 zone[256];
	struct dns	*dns;
	unsigned	 refs;
};

struct one {
	struct dnsbl_q	*q;
	char		 zone[256];
	char		 name[512];
};

/* dnsbl_name - "4.3.2.1.zone" or the 32 nibbles of an IPv6 address */
int
dnsbl_name(int family, const unsigned char *ip, const char *zone, char *dst,
    size_t dstsize)
{
	size_t o = 0;
	int i;

	if (family == AF_INET)
		o = (size_t)snprintf(dst, dstsize, "%u.%u.%u.%u.", ip[3],
		    ip[2], ip[1], ip[0]);
	else {
		for (i = 15; i >= 0 && o + 4 < dstsize; i--)
			o += (size_t)snprintf(dst + o, dstsize - o, "%x.%x.",
			    ip[i] & 0xf, ip[i] >> 4);
		if (i >= 0)
			return -1;	/* not every nibble fitted */
	}
	if (o >= dstsize)
		return -1;
	return str_copy(dst + o, dstsize - o, zone);
}

/* unref - drop a reference; free at zero */
static void
unref(struct dnsbl_q *q)
{
	if (--q->refs == 0)
		free(q);
}

/* finish - report once (listed or not) */
static void
finish(struct dnsbl_q *q, const char *zone, const char *txt)
{
	if (q->reported)
		return;
	q->reported = 1;
	if (q->cb)
		q->cb(q->arg, zone, txt);
}

/* txt_cb - the listing's reason */
static void
txt_cb(void *arg, enum dns_status st, const char *const *texts, size_t n)
{
	struct one *o = arg;

	o->q->txt_pending--;
	finish(o->q, o->zone, st == DNS_OK && n > 0 ? texts[0] : NULL);
	unref(o->q);
	free(o);
}

/* a_cb - a zone answered */
static void
a_cb(void *arg, enum dns_status st, const struct sockaddr_storage *a,
    size_t n)
{
	struct one *o = arg;
	struct dnsbl_q *q = o->q;
	size_t i;
	int listed = 0;

	q->pending--;
	for (i = 0; st == DNS_OK && i < n; i++) {
		const struct sockaddr_in *sin = (const void *)&a[i];
		uint32_t v = ntohl(sin->sin_addr.s_addr);

		if (a[i].ss_family == AF_INET && (v >> 24) == 127 &&
		    (v & 0xffffff00u) != 0x7fffff00u)
			listed = 1;
	}
	if (listed && !q->reported && q->cb) {
		/* keep o for the TXT lookup */
		q->txt_pending++;
		dns_lookup_txt(q->dns, o->name, txt_cb, o);
		return;
	}
	/* "not listed" only when every zone answered and no listing waits
	 * for its TXT */
	if (q->pending == 0 && q->txt_pending == 0 && !listed)
		finish(q, NULL, NULL);
	unref(q);
	free(o);
}

/*
 * dnsbl_check - ask every zone about ip; cb(arg, zone, txt) once: the
 * listing zone and its reason, or NULL zone when not listed.
 */
struct dnsbl_q *
dnsbl_check(struct dns *dns, char **zones, int family, const unsigned char *ip,
    dnsbl_cb cb, void *arg)
{
	struct dnsbl_q *q = xcalloc(1, sizeof(*q));
	size_t i;

	q->cb = cb;
	q->arg = arg;
	q->dns = dns;
	q->refs = 1;
	for (i = 0; zones && zones[i]; i++) {
		struct one *o = xcalloc(1, sizeof(*o));

		o->q = q;
		str_copy(o->zone, sizeof(o->zone), zones[i]);
		if (dnsbl_name(family, ip, zones[i], o->name,
		    sizeof(o->name)) == -1) {
			free(o);
			continue;
		}
		q->pending++;
		q->refs++;
		dns_lookup_a(dns, o->name, a_cb, o);
	}
	if (q->pending == 0) {
		/* no zone to ask: answer from the loop would be nicer, but
		 * the caller only checks with zones configured */
		q->reported = 1;
	}
	return q;
}

/* dnsbl_cancel - the connection went away: no callback */
void
dnsbl_cancel(struct dnsbl_q *q)
{
	if (q == NULL)
		return;
	q->cb = NULL;
	unref(q);
}

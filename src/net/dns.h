/*
 * dns - asynchronous DNS lookups (c-ares) on the libevent loop.
 *
 * Address (A/AAAA) and MX lookups. The resolver address can be set (tests
 * point it at a DNS server they run on loopback); otherwise the system's
 * resolv.conf is used. Every lookup ends in exactly one callback, from the
 * event loop. Answers are untrusted input: names are length-checked and
 * counts capped (DNS_MAX_ANSWERS).
 */
#ifndef SLUICE_DNS_H
#define SLUICE_DNS_H

#include <stddef.h>
#include <sys/socket.h>

struct event_base;
struct dns;

enum dns_status {
	DNS_OK,
	DNS_NXDOMAIN,	/* the name does not exist */
	DNS_NODATA,	/* it exists, but has no record of that type */
	DNS_NULLMX,	/* RFC 7505: the domain accepts no mail */
	DNS_TEMP,	/* timeout, SERVFAIL, refused: try later */
	DNS_BAD		/* malformed name or answer */
};

#define DNS_MAX_ANSWERS	32

struct dns_mx {
	char		host[256];
	unsigned	pref;
};

typedef void (*dns_addr_cb)(void *arg, enum dns_status st,
    const struct sockaddr_storage *addrs, size_t n);
typedef void (*dns_mx_cb)(void *arg, enum dns_status st,
    const struct dns_mx *mx, size_t n);

struct dns *dns_new(struct event_base *base, const char *servers,
	    unsigned timeout_ms, char *err, size_t errsize);
void	dns_free(struct dns *d);
void	dns_lookup_addr(struct dns *d, const char *name, int family,
	    dns_addr_cb cb, void *arg);
void	dns_lookup_mx(struct dns *d, const char *domain, dns_mx_cb cb,
	    void *arg);
/* TXT records, joined per record: texts[i] (the caller copies) */
typedef void (*dns_txt_cb)(void *arg, enum dns_status st,
    const char *const *texts, size_t n);
void	dns_lookup_txt(struct dns *d, const char *name, dns_txt_cb cb,
	    void *arg);
/* the name of an address (PTR), or NULL */
typedef void (*dns_ptr_cb)(void *arg, enum dns_status st, const char *name);
void	dns_lookup_ptr(struct dns *d, const struct sockaddr_storage *a,
	    dns_ptr_cb cb, void *arg);
/* A records only (DNSBL answers), no search list, no /etc/hosts */
void	dns_lookup_a(struct dns *d, const char *name, dns_addr_cb cb,
	    void *arg);
const char *dns_strstatus(enum dns_status st);

#endif

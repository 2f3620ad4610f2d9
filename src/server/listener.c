#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "policy/cidr.h"
#include "server/server.h"
#include "util/log.h"
#include "util/str.h"
#include "util/xalloc.h"

/* one_addr - fill a listener from a numeric address and port */
static int
one_addr(struct listener *l, const char *host, unsigned port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&l->ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&l->ss;

	memset(l, 0, sizeof(*l));
	l->fd = -1;
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		l->sslen = sizeof(*sin);
		l->loopback = (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
		snprintf(l->name, sizeof(l->name), "%s:%u", host, port);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		l->sslen = sizeof(*sin6);
		l->loopback = IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
		snprintf(l->name, sizeof(l->name), "[%s]:%u", host, port);
		return 0;
	}
	return -1;
}

/* role_name - "smtp", "submission", "submissions" */
const char *
role_name(enum role r)
{
	return r == ROLE_SUBMISSIONS ? "submissions" :
	    r == ROLE_SUBMISSION ? "submission" : "smtp";
}

/*
 * listener_parse - "ADDRESS [ROLE] [networks=CIDR,CIDR...]", where
 * ADDRESS is "ADDR:PORT", "[V6]:PORT" or "*:PORT" (both families) and ROLE
 * smtp (default), submission or submissions; into one or two listeners
 * appended to *out. 0, or -1 with err.
 */
int
listener_parse(const char *spec, struct listener **out, size_t *n, char *err,
    size_t errsize)
{
	char host[64], text[128], word[1024];
	const char *colon, *rest;
	uint64_t port;
	enum role role = ROLE_SMTP;
	struct cidr_set *nets = NULL;
	size_t first = *n, i;
	int off;

	if (sscanf(spec, "%127s%n", text, &off) != 1)
		goto bad;
	for (rest = spec + off; sscanf(rest, "%1023s%n", word, &off) == 1;
	    rest += off) {
		if (strcmp(word, "smtp") == 0)
			role = ROLE_SMTP;
		else if (strcmp(word, "submission") == 0)
			role = ROLE_SUBMISSION;
		else if (strcmp(word, "submissions") == 0)
			role = ROLE_SUBMISSIONS;
		else if (strncmp(word, "networks=", 9) == 0) {
			char *save = NULL, *tok;

			nets = nets ? nets : cidr_set_new();
			for (tok = strtok_r(word + 9, ",", &save); tok;
			    tok = strtok_r(NULL, ",", &save))
				if (cidr_set_add_str(nets, tok, NULL) == -1) {
					snprintf(err, errsize, "listen \"%s\": "
					    "bad network %s", spec, tok);
					cidr_set_free(nets);
					return -1;
				}
		} else {
			snprintf(err, errsize, "listen \"%s\": unknown word "
			    "\"%s\" (want smtp, submission, submissions or "
			    "networks=CIDR,...)", spec, word);
			cidr_set_free(nets);
			return -1;
		}
	}

	if (text[0] == '[') {
		const char *rb = strchr(text, ']');

		if (rb == NULL || rb[1] != ':')
			goto bad;
		if (str_ncopy(host, sizeof(host), text + 1,
		    (size_t)(rb - text - 1)) == -1)
			goto bad;
		colon = rb + 1;
	} else {
		colon = strrchr(text, ':');
		if (colon == NULL || str_ncopy(host, sizeof(host), text,
		    (size_t)(colon - text)) == -1)
			goto bad;
	}
	if (str_parse_u64(colon + 1, 1, 65535, &port) == -1)
		goto bad;
	if (strcmp(host, "*") == 0 || host[0] == '\0') {
		*out = xreallocarray(*out, *n + 2, sizeof(**out));
		one_addr(&(*out)[(*n)++], "0.0.0.0", (unsigned)port);
		one_addr(&(*out)[(*n)++], "::", (unsigned)port);
	} else {
		*out = xreallocarray(*out, *n + 1, sizeof(**out));
		if (one_addr(&(*out)[*n], host, (unsigned)port) == -1)
			goto bad;
		(*n)++;
	}
	for (i = first; i < *n; i++) {
		(*out)[i].role = role;
		/* each listener of a "*" pair gets its own copy */
		if (nets != NULL) {
			size_t k;

			(*out)[i].trusted = cidr_set_new();
			for (k = 0; k < cidr_set_count(nets); k++)
				cidr_set_add((*out)[i].trusted,
				    cidr_set_entry(nets, k), NULL);
		}
	}
	cidr_set_free(nets);
	return 0;
bad:
	cidr_set_free(nets);
	snprintf(err, errsize, "listen: bad address \"%s\" (want ADDR:PORT, "
	    "[IPV6]:PORT or *:PORT, numeric)", spec);
	return -1;
}

/* listener_bind - socket, bind and listen (before dropping privileges) */
int
listener_bind(struct listener *l, char *err, size_t errsize)
{
	int one = 1, fd;

	fd = socket(l->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (l->ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&l->ss, l->sslen) == -1 ||
	    listen(fd, 1024) == -1)
		goto fail;
	l->fd = fd;
	return 0;
fail:
	snprintf(err, errsize, "listen %s: %s", l->name, strerror(errno));
	if (fd != -1)
		close(fd);
	return -1;
}

/* accept_cb - a new connection */
static void
accept_cb(struct evconnlistener *ev, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct listener *l = arg;

	(void)ev;
	conn_accept(l->srv, l, fd, sa, (socklen_t)salen);
}

/* relisten_cb - try accepting again after running out of descriptors */
static void
relisten_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	size_t i;

	(void)fd;
	(void)what;
	if (srv->stopping)
		return;
	for (i = 0; i < srv->nlisteners; i++)
		evconnlistener_enable(srv->listeners[i].ev);
}

/*
 * error_cb - accept failed. Out of descriptors: pause accepting for a
 * second rather than spin (libevent would retry at once, forever).
 */
static void
error_cb(struct evconnlistener *ev, void *arg)
{
	struct listener *l = arg;
	struct server *srv = l->srv;
	int e = EVUTIL_SOCKET_ERROR();
	struct timeval tv = { 1, 0 };
	size_t i;

	(void)ev;
	log_warn("event=accept-error listener=%s error=\"%s\"", l->name,
	    strerror(e));
	if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
		for (i = 0; i < srv->nlisteners; i++)
			evconnlistener_disable(srv->listeners[i].ev);
		evtimer_add(srv->relisten, &tv);
	}
}

/* listener_start - start accepting on every bound listener */
int
listener_start(struct server *srv)
{
	size_t i;

	srv->relisten = evtimer_new(srv->base, relisten_cb, srv);
	for (i = 0; i < srv->nlisteners; i++) {
		struct listener *l = &srv->listeners[i];

		l->srv = srv;
		/* backlog 0: the socket listens already, with 1024 */
		l->ev = evconnlistener_new(srv->base, accept_cb, l,
		    LEV_OPT_CLOSE_ON_FREE, 0, l->fd);
		if (l->ev == NULL)
			return -1;
		evconnlistener_set_error_cb(l->ev, error_cb);
	}
	return 0;
}

/* listener_stop - stop accepting and close the sockets */
void
listener_stop(struct server *srv)
{
	size_t i;

	for (i = 0; i < srv->nlisteners; i++) {
		if (srv->listeners[i].ev)
			evconnlistener_free(srv->listeners[i].ev);
		else if (srv->listeners[i].fd >= 0)
			close(srv->listeners[i].fd);
		srv->listeners[i].ev = NULL;
		srv->listeners[i].fd = -1;
	}
	if (srv->relisten)
		event_del(srv->relisten);
}

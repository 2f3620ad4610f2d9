/*
 * control - sluiced's control socket: a unix-domain stream socket on which
 * the admin's tools ask one question per connection.
 *
 * Request: one line, "VERB\tkey=value\tkey=value...\n" (values never hold
 * a tab or newline). Reply: one JSON object and a newline, then close.
 * Only root, sluiced's own user or members of its group (primary or
 * supplementary) may connect: the socket is mode 0660 and every peer's
 * credentials are checked too (SO_PEERCRED, SO_PEERGROUPS); a refused
 * peer gets {"ok":false,"denied":true,"error":"permission denied: ..."}.
 * Requests are capped (CONTROL_REQ_MAX) and time out; a bad one gets
 * {"ok":false,"error":...}.
 */
#ifndef SLUICE_CONTROL_H
#define SLUICE_CONTROL_H

#include <stddef.h>

#include "util/buf.h"

struct event_base;
struct control;

#define CONTROL_REQ_MAX	4096

/* handler: fill out with the reply's JSON members (after "ok":true) or
 * return -1 with an error message in out */
typedef int (*control_fn)(void *arg, const char *verb, char **keys,
    char **vals, size_t n, struct buf *out);

struct control *control_new(struct event_base *base, const char *path,
	    control_fn fn, void *arg, char *err, size_t errsize);
void	control_free(struct control *c);

/* client side: send a request, return the reply (caller frees); NULL with
 * a message in err and errno set: EACCES when we may not use the socket,
 * else sluiced is not reachable */
char	*control_call(const char *path, const char *request, int timeout_s,
	    char *err, size_t errsize);

#endif

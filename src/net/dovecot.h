/*
 * dovecot - a client of Dovecot's SASL authentication protocol (the
 * "auth-client" socket that Postfix uses too), on the event loop.
 *
 * One connection per check: handshake (VERSION/CPID, then the server's
 * MECH lines up to DONE), one AUTH PLAIN request, its OK or FAIL. Every
 * step has a timeout; a broken or silent server is a temporary failure,
 * never a success.
 */
#ifndef SLUICE_DOVECOT_H
#define SLUICE_DOVECOT_H

struct event_base;

enum { DOVECOT_OK, DOVECOT_FAIL, DOVECOT_TEMP };

typedef void (*dovecot_cb)(void *arg, int result, const char *why);

void	dovecot_auth(struct event_base *base, const char *socket,
	    const char *user, const char *pass, const char *client_ip,
	    int secured, dovecot_cb cb, void *arg);

#endif

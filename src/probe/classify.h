/*
 * classify - verdicts for relay tests and targets, from replies alone.
 *
 * Pure. A test's verdict comes from its MAIL, RCPT and (in delivery mode)
 * DATA replies and whether its token came back; a target's from its tests.
 * The rules keep the uncertain apart from the certain: a 4xx refusal is
 * "closed-temp", never "closed"; greylisting is "tempfail"; a 2xx in
 * anonymous mode is "accepted" (not confirmed), and only a token that
 * really arrived makes "open". A later 530 never hides an earlier hit.
 */
#ifndef SLUICE_CLASSIFY_H
#define SLUICE_CLASSIFY_H

#include <stddef.h>

enum pv {
	PV_PENDING,		/* not run yet */
	PV_OPEN,		/* relayed: the token arrived */
	PV_ACCEPTED,		/* 2xx at RCPT, relaying not confirmed */
	PV_AMBIGUOUS_LOCAL,	/* 2xx for a form with no outside domain */
	PV_CLOSED,		/* refused with 5xx */
	PV_CLOSED_TEMP,		/* refused with a 4xx relay refusal */
	PV_AUTH_REQUIRED,	/* refused: authenticate first */
	PV_TEMPFAIL,		/* 4xx: greylisting, rate limits, trouble */
	PV_TIMEOUT,		/* the server stalled */
	PV_ERROR,		/* connection failed or not SMTP */
	PV_REFUSES_ALL,		/* target: refused even the controls */
	PV_SKIPPED		/* test not applicable (no --auth) */
};

/* delivery outcome of a test's token */
enum ptoken {
	TOKEN_NONE,		/* nothing arrived (yet) */
	TOKEN_RELAYED,		/* arrived at the relay recipient */
	TOKEN_BOUNCED		/* came back as a bounce (accept-then-bounce) */
};

const char *pv_name(enum pv v);
enum pv	classify_refusal(int code, const char *enh, const char *text);
enum pv	classify_test(int is_control, int localform, int delivery,
	    int mail_code, const char *mail_enh, const char *mail_text,
	    int rcpt_code, const char *rcpt_enh, const char *rcpt_text,
	    int data_code, const char *data_enh, const char *data_text,
	    enum ptoken token);
enum pv	classify_target(const enum pv *relay, size_t nrelay,
	    const enum pv *controls, size_t ncontrols, int greeted);
int	pv_is_hit(enum pv v);

#endif

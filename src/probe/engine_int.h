/*
 * engine_int.h - what the probe run (engine.c) and the per-target SMTP
 * dialogue (dialog.c) share.  Not for callers outside src/probe.
 */
#ifndef SLUICE_PROBE_ENGINE_INT_H
#define SLUICE_PROBE_ENGINE_INT_H

#include <stddef.h>

#include "probe/engine.h"
#include "probe/tokscan.h"

struct dns;
struct hmap;
struct event;

/* A transcript is cut beyond this (hostile servers can talk forever). */
#define TRANSCRIPT_MAX	(256 * 1024)

/* Where a target's session is: which reply it waits for. */
enum {
	S_IDLE, S_GREETING, S_EHLO, S_HELO, S_STARTTLS, S_TLS, S_EHLO_TLS,
	S_AUTH, S_SPOOF, S_MAIL, S_RCPT, S_DATA, S_DATA_END, S_RSET, S_QUIT
};

struct probe {
	struct event_base	*base;
	struct probe_opts	 o;
	struct dns		*dns;
	size_t			*order;		/* battery indices, run order */
	size_t			 norder;
	char			 helo[256];
	unsigned		 running, started, finished, hits, errors;
	int			 source_done;
	struct ptarget		**held;		/* delivery: awaiting tokens */
	size_t			 nheld, capheld;
	struct hmap		*tokens;	/* token -> struct ptest */
	unsigned char		 secret[32];	/* proofs (tokscan.h); never shown */
	size_t			 outstanding;	/* tokens sent, not seen */
	struct event		*wait_timer, *poll_timer, *kick;
	int			 waiting;
	int			 finalized;	/* delivery verdicts given */
	int			 draining;	/* finalized, catcher busy */
	TAILQ_HEAD(, ptarget)	 live;		/* started, not finished */
};

/* engine.c */
double	probe_now(void);
void	target_finish(struct ptarget *);

void	probe_outstanding(struct probe *, struct ptest *);
void	probe_proof(const struct probe *, const char *token,
	    char proof[PROOF_LEN + 1]);

/* dialog.c: the address is known; connect and run the target's tests */
void	dialog_begin(struct ptarget *);

#endif

/*
 * session_int - the session's insides, shared by session.c (the state
 * machine, input and DATA) and cmdtab.c (the commands). Nothing else
 * includes this.
 */
#ifndef SLUICE_SESSION_INT_H
#define SLUICE_SESSION_INT_H

#include "smtp/data.h"
#include "smtp/line.h"
#include "smtp/session.h"
#include "smtp/tx.h"

struct smtp_session {
	enum smtp_state		 state;
	const struct smtp_params *sp;		/* the host's */
	const struct smtp_host	*host;		/* the host's */
	void			*ctx;
	char			 id[24];
	struct policy_client	 client;	/* helo points into helo[] */
	char			 helo[SMTP_HELO_MAX + 1];
	int			 esmtp;		/* EHLO (not HELO) */
	struct linebuf		 lb;
	struct buf		 out;
	struct tx		*tx;		/* owned; ST_MAIL .. ST_COMMIT */
	struct data_dec		 dd;
	int			 msg_open;	/* host has an open message */
	int			 write_failed;
	int			 oversize;
	struct smtp_stats	 st;
	int			 tls;		/* the connection is encrypted */
	char			 tls_info[160];
	char			 user[256];	/* authenticated as (or "") */
	int			 auth_mech;	/* AUTH in progress: 1 PLAIN, 2 LOGIN */
	char			 login_user[256];	/* AUTH LOGIN, step 1 */
	int			 logged;	/* this command's refusal is logged */
};

/* session.c */
time_t	session_now(const struct smtp_session *s);
void	session_set_state(struct smtp_session *s, enum smtp_state st);
void	session_error(struct smtp_session *s);
void	session_note(struct smtp_session *s, enum smtp_note ev,
	    const char *arg, uint64_t n);
void	session_drop_tx(struct smtp_session *s);
int	session_open_message(struct smtp_session *s);

/* auth.c */
void	auth_start(struct smtp_session *s, const char *arg, size_t len);
void	auth_line(struct smtp_session *s, const char *line, size_t len,
	    unsigned flags);

/* cmdtab.c */
void	cmdtab_dispatch(struct smtp_session *s, const char *line, size_t len,
	    int pipelined);

#endif

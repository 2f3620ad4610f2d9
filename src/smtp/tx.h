/*
 * tx - one mail transaction: from MAIL to the end of DATA or RSET.
 *
 * Pure data. A tx exists only while a transaction is open; the session
 * owns it and frees it at RSET, at the end of DATA, or when it closes.
 * Recipients are stored resolved (after policy), once each.
 */
#ifndef SLUICE_TX_H
#define SLUICE_TX_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "policy/policy.h"
#include "smtp/addr.h"
#include "smtp/cmd.h"

struct tx_rcpt {
	struct addr	addr;		/* resolved mailbox */
	enum rcpt_class	cls;
	char		mailbox[SMTP_LOCAL_MAX + 1];	/* RCPT_LOCAL */
	char		rule[128];	/* why it was accepted */
};

struct tx {
	struct addr	 sender;
	struct mail_params mp;
	struct tx_rcpt	*rcpts;		/* owned */
	size_t		 nrcpt, cap;
	uint64_t	 datasize;	/* unstuffed message bytes */
	unsigned	 dflags;	/* DATA_* flags seen */
	char		 qid[32];	/* set when the message is opened */
	time_t		 start;
};

struct tx *tx_new(const struct addr *sender, const struct mail_params *mp,
	    time_t now);
void	tx_free(struct tx *t);
int	tx_add_rcpt(struct tx *t, const struct verdict *v);

#endif

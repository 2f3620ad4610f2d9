/*
 * tokscan - find the probe's tokens in messages that came back, and the
 * proofs that the probe itself sent them.
 *
 * Every relay test message carries, in its own header block,
 *   X-Sluice-Probe: token=TOKEN proof=PROOF test=ID target=SPEC
 * where PROOF is an HMAC of TOKEN under a secret of the probe run
 * (tokscan_proof). Tokens are shown to people while the probe waits (the
 * web tester's live reports) and the catcher takes mail from anyone, so a
 * token alone proves nothing: only a token with a valid proof counts.
 *
 * Where the header is decides what the message is: in the message's own
 * top-level header block, the message itself came back (relayed); only
 * inside its body (an attached or quoted original, as in a DSN), the
 * message is a bounce. Mail whose envelope goes back to the test's sender
 * ("sluice-probe-TOKEN") and not to its relay recipient
 * ("sluice-relay-TOKEN") is a bounce too. The envelope sender is passed
 * on: the caller knows whether the test itself used the null sender.
 *
 * tokscan_message and the proof functions are pure; tokscan_maildir reads
 * a Maildir's new/ and cur/.
 */
#ifndef SLUICE_TOKSCAN_H
#define SLUICE_TOKSCAN_H

#include <stddef.h>

#include "probe/classify.h"

#define TOKEN_LEN	12	/* lower-case hex digits */
#define PROOF_LEN	32	/* lower-case hex digits (128 bits of HMAC) */
/* probe headers read in one message: a relayed copy has one, a DSN a few */
#define TOKSCAN_MAXHDRS	16

/* One token found in one message. */
struct tokhit {
	char		 token[TOKEN_LEN + 1];
	char		 proof[PROOF_LEN + 1];	/* "" when there was none */
	enum ptoken	 kind;		/* TOKEN_RELAYED or TOKEN_BOUNCED */
	int		 null_sender;	/* the envelope sender was <> */
};

typedef void (*token_cb)(void *arg, const struct tokhit *h);

void	tokscan_message(const char *msg, size_t len, int null_sender,
	    const char *const *rcpts, size_t nrcpt, token_cb cb, void *arg);
void	tokscan_maildir(const char *dir, token_cb cb, void *arg);
void	tokscan_proof(const unsigned char *key, size_t keylen,
	    const char *token, char proof[PROOF_LEN + 1]);
int	tokscan_proof_ok(const unsigned char *key, size_t keylen,
	    const char *token, const char *proof);

#endif

/*
 * tokscan - find the probe's tokens in messages that came back.
 *
 * A token sits in the relay recipient's local part ("sluice-relay-TOKEN"),
 * in the sender's ("sluice-probe-TOKEN") and in an X-Sluice-Probe header.
 * Mail for the relay recipient was relayed; mail for the sender is a
 * bounce (the server accepted, then refused to relay). When the envelope
 * names no token (postmaster@outside), the header decides: relayed, or a
 * bounce when the sender is null.
 * tokscan_message is pure; tokscan_maildir reads a Maildir's new/ and cur/.
 */
#ifndef SLUICE_TOKSCAN_H
#define SLUICE_TOKSCAN_H

#include <stddef.h>

#include "probe/classify.h"

#define TOKEN_LEN	12

typedef void (*token_cb)(void *arg, const char *token, enum ptoken kind);

void	tokscan_message(const char *msg, size_t len, int null_sender,
	    const char *const *rcpts, size_t nrcpt, token_cb cb, void *arg);
void	tokscan_maildir(const char *dir, token_cb cb, void *arg);

#endif

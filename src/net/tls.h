/*
 * tls - OpenSSL contexts for sluice's two roles.
 *
 * tls_client_ctx: for the probe and outbound delivery. It accepts any
 * certificate (opportunistic TLS; the probe reports what it saw) and old
 * protocol versions, since a tester must talk to old servers too.
 */
#ifndef SLUICE_TLS_H
#define SLUICE_TLS_H

#include <openssl/ssl.h>

SSL_CTX	*tls_client_ctx(char *err, size_t errsize);

#endif

/*
 * tls - OpenSSL contexts for sluice's two roles.
 *
 * tls_client_ctx: for the probe and outbound delivery. It accepts any
 * certificate (opportunistic TLS; the probe reports what it saw) and old
 * protocol versions, since a tester must talk to old servers too.
 *
 * tls_server_ctx: sluiced's listeners: TLS 1.2 and later, the certificate
 * chain and key from PEM files. tls_selfsigned makes a throwaway pair for
 * `make run` and tests when the configuration names none.
 */
#ifndef SLUICE_TLS_H
#define SLUICE_TLS_H

#include <openssl/ssl.h>

SSL_CTX	*tls_client_ctx(char *err, size_t errsize);
SSL_CTX	*tls_server_ctx(const char *cert, const char *key, char *err,
	    size_t errsize);
int	tls_selfsigned(const char *cert, const char *key, const char *cn,
	    char *err, size_t errsize);
void	tls_describe(SSL *ssl, char *dst, size_t dstsize);

#endif

#include <stdio.h>

#include <openssl/err.h>

#include "net/tls.h"

/* tls_client_ctx - a permissive client context; NULL with err */
SSL_CTX *
tls_client_ctx(char *err, size_t errsize)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL) {
		snprintf(err, errsize, "SSL_CTX_new: %s",
		    ERR_error_string(ERR_get_error(), NULL));
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
	/* old servers: allow what OpenSSL 3 refuses by default */
	SSL_CTX_set_security_level(ctx, 0);
	SSL_CTX_set_options(ctx, SSL_OP_ALLOW_UNSAFE_LEGACY_RENEGOTIATION |
	    SSL_OP_LEGACY_SERVER_CONNECT);
	return ctx;
}

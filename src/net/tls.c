#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

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

/* ossl_err - the last OpenSSL error as text */
static const char *
ossl_err(void)
{
	unsigned long e = ERR_get_error();

	return e ? ERR_error_string(e, NULL) : "unknown error";
}

/* tls_server_ctx - a server context from PEM files; NULL with err */
SSL_CTX *
tls_server_ctx(const char *cert, const char *key, char *err, size_t errsize)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL) {
		snprintf(err, errsize, "SSL_CTX_new: %s", ossl_err());
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
	/*
	 * A client that closes without close_notify is an EOF, as in clear
	 * (SMTP frames its own data), not an error with errno 0.
	 */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		snprintf(err, errsize, "tls.cert %s: %s", cert, ossl_err());
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errsize, "tls.key %s: %s", key, ossl_err());
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/*
 * tls_selfsigned - make a self-signed certificate (EC P-256, one year) for
 * cn, unless both files exist already. 0, or -1 with err.
 */
int
tls_selfsigned(const char *cert, const char *key, const char *cn, char *err,
    size_t errsize)
{
	EVP_PKEY *pk = NULL;
	X509 *x = NULL;
	X509_NAME *name;
	FILE *f = NULL;
	int rc = -1, fd;

	if (access(cert, R_OK) == 0 && access(key, R_OK) == 0)
		return 0;
	if ((pk = EVP_EC_gen("P-256")) == NULL || (x = X509_new()) == NULL)
		goto fail;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(arc4random() >> 1));
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 365L * 86400);
	X509_set_pubkey(x, pk);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
	    (const unsigned char *)"sluiced self-signed", -1, -1, 0);
	X509_set_issuer_name(x, name);
	if (X509_sign(x, pk, EVP_sha256()) == 0)
		goto fail;
	fd = open(key, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1 || (f = fdopen(fd, "w")) == NULL ||
	    PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL) != 1) {
		snprintf(err, errsize, "write %s: %s", key, strerror(errno));
		if (f)
			fclose(f);
		else if (fd != -1)
			close(fd);
		goto out;
	}
	fclose(f);
	if ((f = fopen(cert, "w")) == NULL || PEM_write_X509(f, x) != 1) {
		snprintf(err, errsize, "write %s: %s", cert, strerror(errno));
		if (f)
			fclose(f);
		goto out;
	}
	fclose(f);
	rc = 0;
	goto out;
fail:
	snprintf(err, errsize, "self-signed certificate: %s", ossl_err());
out:
	X509_free(x);
	EVP_PKEY_free(pk);
	return rc;
}

/* tls_describe - "using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384" */
void
tls_describe(SSL *ssl, char *dst, size_t dstsize)
{
	snprintf(dst, dstsize, "using %s with cipher %s (%d bits)",
	    SSL_get_version(ssl), SSL_get_cipher_name(ssl),
	    SSL_get_cipher_bits(ssl, NULL));
}

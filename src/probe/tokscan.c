#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "probe/tokscan.h"

#define RELAY_TAG	"sluice-relay-"
#define PROBE_TAG	"sluice-probe-"
#define PROBE_HDR	"X-Sluice-Probe:"

/* is_tokchar - tokens and proofs are lower-case hex */
static int
is_tokchar(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* find_ci - the first case-insensitive occurrence of needle in s[0..n) */
static const char *
find_ci(const char *s, size_t n, const char *needle)
{
	size_t nl = strlen(needle), i;

	for (i = 0; i + nl <= n; i++)
		if (strncasecmp(s + i, needle, nl) == 0)
			return s + i;
	return NULL;
}

/* header_end - where the top-level header block ends (its empty line) */
static size_t
header_end(const char *msg, size_t len)
{
	size_t i = 0;

	while (i < len) {
		const char *e = memchr(msg + i, '\n', len - i);
		size_t ll = e ? (size_t)(e - (msg + i)) : len - i;

		if (ll == 0 || (ll == 1 && msg[i] == '\r'))
			return i;
		if (e == NULL)
			break;
		i += ll + 1;
	}
	return len;
}

/*
 * field_value - a header field's value from p (just after its colon) to
 * the end of its last continuation line, unfolded, into dst (cut to fit).
 */
static void
field_value(const char *p, const char *end, char *dst, size_t dstsize)
{
	size_t o = 0;

	while (p < end && o + 1 < dstsize) {
		if (*p == '\r' || *p == '\n') {
			const char *q = p;

			if (*q == '\r' && q + 1 < end && q[1] == '\n')
				q++;
			q++;
			if (q >= end || (*q != ' ' && *q != '\t'))
				break;		/* not folded: the field ends */
			p = q;
			dst[o++] = ' ';
			continue;
		}
		dst[o++] = *p++;
	}
	dst[o] = '\0';
}

/* word_value - the n hex digits after key ("token=") in v; 0, or -1 */
static int
word_value(const char *v, const char *key, size_t n, char *dst)
{
	size_t kl = strlen(key), i;
	const char *p = v;

	while ((p = strstr(p, key)) != NULL) {
		if (p == v || p[-1] == ' ' || p[-1] == '\t' || p[-1] == ';') {
			p += kl;
			for (i = 0; i < n && is_tokchar(p[i]); i++)
				;
			if (i == n && !is_tokchar(p[n])) {
				memcpy(dst, p, n);
				dst[n] = '\0';
				return 0;
			}
		} else
			p += kl;
	}
	return -1;
}

/* rcpt_has - does a recipient hold tag+token (in any case)? */
static int
rcpt_has(const char *const *rcpts, size_t nrcpt, const char *tag,
    const char *token)
{
	char want[64];
	size_t i;

	snprintf(want, sizeof(want), "%s%s", tag, token);
	for (i = 0; i < nrcpt; i++)
		if (strcasestr(rcpts[i], want) != NULL)
			return 1;
	return 0;
}

/*
 * tokscan_message - report every probe header of one received message,
 * given its envelope: relayed when the header is the message's own (in its
 * top-level header block) and the mail is not addressed back to the test's
 * sender; a bounce when the header is only quoted or attached, or the mail
 * goes back to the sender. The caller checks the proof. Only the first
 * TOKSCAN_MAXHDRS probe headers are looked at: anyone can send the catcher
 * a message of thousands of them and a thousand recipients to check each
 * against, which took minutes of the event loop.
 */
void
tokscan_message(const char *msg, size_t len, int null_sender,
    const char *const *rcpts, size_t nrcpt, token_cb cb, void *arg)
{
	const char *p = msg, *end = msg + len;
	size_t hend = header_end(msg, len), hl = strlen(PROBE_HDR), nhdr = 0;

	while (p < end && nhdr++ < TOKSCAN_MAXHDRS &&
	    (p = find_ci(p, (size_t)(end - p), PROBE_HDR)) != NULL) {
		size_t off = (size_t)(p - msg);
		int top = off < hend && (off == 0 || msg[off - 1] == '\n');
		struct tokhit h;
		char val[1024];

		p += hl;
		field_value(p, end, val, sizeof(val));
		memset(&h, 0, sizeof(h));
		if (word_value(val, "token=", TOKEN_LEN, h.token) == -1)
			continue;
		if (word_value(val, "proof=", PROOF_LEN, h.proof) == -1)
			h.proof[0] = '\0';
		h.null_sender = null_sender;
		h.kind = top ? TOKEN_RELAYED : TOKEN_BOUNCED;
		if (h.kind == TOKEN_RELAYED &&
		    rcpt_has(rcpts, nrcpt, PROBE_TAG, h.token) &&
		    !rcpt_has(rcpts, nrcpt, RELAY_TAG, h.token))
			h.kind = TOKEN_BOUNCED;	/* back to the sender */
		cb(arg, &h);
	}
}

/* tokscan_proof - the proof for token: HMAC-SHA256 under key, in hex */
void
tokscan_proof(const unsigned char *key, size_t keylen, const char *token,
    char proof[PROOF_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	size_t i;

	if (HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)token,
	    strlen(token), mac, &maclen) == NULL || maclen < PROOF_LEN / 2)
		abort();	/* cannot happen with SHA-256 */
	for (i = 0; i < PROOF_LEN / 2; i++) {
		proof[2 * i] = hex[mac[i] >> 4];
		proof[2 * i + 1] = hex[mac[i] & 0xf];
	}
	proof[PROOF_LEN] = '\0';
	OPENSSL_cleanse(mac, sizeof(mac));
}

/* tokscan_proof_ok - is proof the one for token under key? */
int
tokscan_proof_ok(const unsigned char *key, size_t keylen, const char *token,
    const char *proof)
{
	char want[PROOF_LEN + 1];
	int ok;

	if (proof == NULL || strlen(proof) != PROOF_LEN)
		return 0;
	tokscan_proof(key, keylen, token, want);
	ok = CRYPTO_memcmp(want, proof, PROOF_LEN) == 0;
	OPENSSL_cleanse(want, sizeof(want));
	return ok;
}

/* header - the value of header name in the header block, or NULL */
static const char *
header(const char *h, size_t n, const char *name, size_t *vlen)
{
	size_t nl = strlen(name), i = 0;

	while (i < n) {
		const char *line = h + i, *e = memchr(line, '\n', n - i);
		size_t ll = e ? (size_t)(e - line) : n - i;

		if (ll == 0 || (ll == 1 && line[0] == '\r'))
			return NULL;	/* end of headers */
		if (ll > nl && strncasecmp(line, name, nl) == 0 &&
		    line[nl] == ':') {
			*vlen = ll - nl - 1;
			return line + nl + 1;
		}
		i += ll + 1;
	}
	return NULL;
}

/* scan_file - one Maildir message: its headers say who it was for */
static void
scan_file(int dirfd, const char *name, token_cb cb, void *arg)
{
	static const char *to_headers[] = { "Delivered-To", "X-Original-To",
	    "To", "Envelope-To" };
	char buf[65536];
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	size_t vl, i;
	const char *rp, *v;
	int null_sender = 0;

	if (fd == -1)
		return;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n <= 0)
		return;
	rp = header(buf, (size_t)n, "Return-Path", &vl);
	if (rp != NULL && memmem(rp, vl, "<>", 2) != NULL)
		null_sender = 1;
	for (i = 0; i < sizeof(to_headers) / sizeof(to_headers[0]); i++) {
		const char *one[1];
		char tmp[1024];

		if ((v = header(buf, (size_t)n, to_headers[i], &vl)) == NULL)
			continue;
		snprintf(tmp, sizeof(tmp), "%.*s", (int)vl, v);
		one[0] = tmp;
		tokscan_message(buf, (size_t)n, null_sender, one, 1, cb, arg);
		return;
	}
	tokscan_message(buf, (size_t)n, null_sender, NULL, 0, cb, arg);
}

/* tokscan_maildir - scan dir/new and dir/cur */
void
tokscan_maildir(const char *dir, token_cb cb, void *arg)
{
	static const char *subs[] = { "new", "cur" };
	char path[4096];
	size_t i;

	for (i = 0; i < 2; i++) {
		DIR *d;
		struct dirent *de;

		snprintf(path, sizeof(path), "%s/%s", dir, subs[i]);
		if ((d = opendir(path)) == NULL)
			continue;
		while ((de = readdir(d)) != NULL)
			if (de->d_name[0] != '.')
				scan_file(dirfd(d), de->d_name, cb, arg);
		closedir(d);
	}
}

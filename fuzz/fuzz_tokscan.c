/*
 * fuzz_tokscan - the probe's scanner of mail that comes back, src/probe/
 * tokscan.c: messages from anyone at the catcher, and Maildir files.
 *
 * The input is 3 control bytes, an envelope, then a message:
 *   byte 0   bit 0: the envelope sender was <>;
 *            bit 1: a genuine probe header (token TOK_R, with its proof)
 *                   goes before the message, as the first header line;
 *            bit 2: the message is followed by a blank line and a DSN
 *                   part quoting a genuine header (token TOK_B);
 *            bit 3: the message is also read through a Maildir.
 *   byte 1   k = byte % 4 recipient lines follow, each ending in LF;
 *   byte 2   the envelope is those k lines over and over, byte * 4 + 1
 *            times (up to 1000 recipients: the catcher's limit), each
 *            cut to 300 bytes (a path of 256 and its angle brackets).
 * Every token reported:
 *   - is 12 lower-case hex digits, with a proof of 32 or none, and the
 *     null-sender bit of the envelope;
 *   - is "relayed" only if a probe header starts a line of the message's
 *     top-level header block, and the envelope does not send it back to
 *     the test's sender only (sluice-probe-TOKEN and no sluice-relay-);
 *   - passes tokscan_proof_ok only with the proof tokscan_proof makes.
 * There are no more reports than probe headers. The genuine header of
 * bit 1 is the first report, relayed (or bounced by the envelope), and
 * the quoted one of bit 2 the last, bounced (when the message has at most
 * TOKSCAN_MAXHDRS probe headers). Through a Maildir (the message written
 * to new/, envelope from its headers), the same tokens and proofs are
 * found in the same order, in the first 64 KiB.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "probe/tokscan.h"

#define HDR		"x-sluice-probe:"
#define TOK_R		"0123456789ab"
#define TOK_B		"fedcba987654"
#define MAXRCPT		1000
#define RCPT_MAX	300
#define MAILDIR_READ	65536	/* what scan_file reads of a file */
#define KEEP		64	/* hits kept for the checks */
#define FRAME_MAX	1024	/* both genuine headers and their parts */

static const unsigned char key[32] = "fuzz-key-fuzz-key-fuzz-key-fuzz";
static char dir[64], file[96];

struct seen {
	size_t		 n;
	struct tokhit	 h[KEEP];
};

/* cleanup - remove the Maildir at exit */
static void
cleanup(void)
{
	char sub[96];

	unlink(file);
	snprintf(sub, sizeof(sub), "%s/new", dir);
	rmdir(sub);
	rmdir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char sub[96];

	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "/tmp/sluice-fuzz-tokscan.%ld",
	    (long)getpid());
	snprintf(sub, sizeof(sub), "%s/new", dir);
	snprintf(file, sizeof(file), "%s/1.fuzz", sub);
	if ((mkdir(dir, 0700) == -1 || mkdir(sub, 0700) == -1) &&
	    access(sub, W_OK) == -1)
		abort();
	atexit(cleanup);
	return 0;
}

/* frame - one genuine header, and what goes with it, at dst */
static size_t
frame(char *dst, const char *fmt, const char *pre, const char *proof,
    const char *tail)
{
	int k = snprintf(dst, FRAME_MAX / 2, fmt, pre, proof, tail);

	FZ_CHECK(k > 0 && k < FRAME_MAX / 2);
	return (size_t)k;
}

/* collect - the token callback */
static void
collect(void *arg, const struct tokhit *h)
{
	struct seen *s = arg;

	if (s->n < KEEP)
		s->h[s->n] = *h;
	s->n++;
}

/* lc - ASCII lower case, as strncasecmp in the C locale */
static int
lc(char c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : (unsigned char)c;
}

/*
 * ci_find - case-insensitive search of w in s[0..n) from a; offset or n.
 * By hand: the sanitizers' strncasecmp, called at every byte, made long
 * inputs slow enough to pass for hangs.
 */
static size_t
ci_find(const char *s, size_t n, size_t a, const char *w)
{
	size_t k = strlen(w), i, j;

	for (i = a; i + k <= n; i++) {
		for (j = 0; j < k && lc(s[i + j]) == lc(w[j]); j++)
			;
		if (j == k)
			return i;
	}
	return n;
}

/* count_hdrs - probe headers in msg: anywhere, and starting a top line */
static void
count_hdrs(const char *m, size_t n, size_t *all, size_t *top)
{
	size_t i, hend = n, a = 0;

	/* the top-level block ends at the first empty line (LF or CRLF) */
	while (a < n) {
		const char *lf = memchr(m + a, '\n', n - a);
		size_t ll = lf ? (size_t)(lf - (m + a)) : n - a;

		if (ll == 0 || (ll == 1 && m[a] == '\r')) {
			hend = a;
			break;
		}
		a += ll + 1;
	}
	*all = *top = 0;
	for (i = 0; (i = ci_find(m, n, i, HDR)) < n; i++) {
		(*all)++;
		if (i < hend && (i == 0 || m[i - 1] == '\n'))
			(*top)++;
	}
}

/*
 * env_has - is tag+token in a recipient, in any case? The envelope is
 * the same few lines over and over: those are enough to look at.
 */
static int
env_has(char *const *rcpts, size_t nrcpt, const char *tag,
    const char *token)
{
	char want[64];
	size_t i;

	snprintf(want, sizeof(want), "%s%s", tag, token);
	for (i = 0; i < nrcpt; i++)
		if (ci_find(rcpts[i], strlen(rcpts[i]), 0, want) !=
		    strlen(rcpts[i]))
			return 1;
	return 0;
}

/* hexlen - how many lower-case hex digits s is made of, or -1 */
static int
hexlen(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return -1;
	return (int)i;
}

/* check_hit - what holds for every report */
static void
check_hit(const struct tokhit *h, int null_sender, size_t top)
{
	char proof[PROOF_LEN + 1];

	FZ_CHECK(memchr(h->token, '\0', sizeof(h->token)) != NULL);
	FZ_CHECK(memchr(h->proof, '\0', sizeof(h->proof)) != NULL);
	FZ_CHECK(hexlen(h->token) == TOKEN_LEN);
	FZ_CHECK(h->proof[0] == '\0' || hexlen(h->proof) == PROOF_LEN);
	FZ_CHECK(h->null_sender == null_sender);
	FZ_CHECK(h->kind == TOKEN_RELAYED || h->kind == TOKEN_BOUNCED);
	FZ_CHECK(h->kind != TOKEN_RELAYED || top > 0);
	tokscan_proof(key, sizeof(key), h->token, proof);
	FZ_CHECK(tokscan_proof_ok(key, sizeof(key), h->token, h->proof) ==
	    (strcmp(proof, h->proof) == 0));
}

/* via_maildir - the message as a Maildir file: the same tokens */
static void
via_maildir(const char *m, size_t n)
{
	struct seen s, d;
	size_t i, all, top, rn = n < MAILDIR_READ ? n : MAILDIR_READ;
	int fd;

	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FZ_CHECK(fd != -1);
	FZ_CHECK(write(fd, m, n) == (ssize_t)n);
	close(fd);
	memset(&s, 0, sizeof(s));
	memset(&d, 0, sizeof(d));
	tokscan_maildir(dir, collect, &d);
	unlink(file);
	tokscan_message(m, rn, 0, NULL, 0, collect, &s);
	count_hdrs(m, rn, &all, &top);
	FZ_CHECK(d.n == s.n);
	for (i = 0; i < d.n && i < KEEP; i++) {
		check_hit(&d.h[i], d.h[0].null_sender, top);
		FZ_CHECK(strcmp(d.h[i].token, s.h[i].token) == 0);
		FZ_CHECK(strcmp(d.h[i].proof, s.h[i].proof) == 0);
		if (d.h[i].null_sender)
			FZ_CHECK(memmem(m, rn, "<>", 2) != NULL);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char pre_r[] = "X-Sluice-Probe: token=" TOK_R " proof=";
	static const char pre_b[] = "\r\n\r\n--b\r\nContent-Type: "
	    "text/rfc822-headers\r\n\r\nFrom: <sluice-probe-" TOK_B
	    "@outside.test>\r\nX-Sluice-Probe: token=" TOK_B " proof=";
	static const char tail[] = " test=relay-plain target=192.0.2.1:25"
	    "\r\n";
	struct fz f = { data, size };
	char *lines[4], *rcpts[MAXRCPT], proof_r[PROOF_LEN + 1],
	    proof_b[PROOF_LEN + 1], *m;
	unsigned flags, k, copies, i;
	size_t nrcpt = 0, n, all, top, len, cut;
	struct seen s;
	int null_sender, flip;

	flags = fz_u8(&f);
	k = fz_u8(&f) % 4;
	copies = fz_u8(&f) * 4 + 1;
	null_sender = flags & 1;
	for (i = 0; i < k; i++) {
		const uint8_t *lf = memchr(f.p, '\n', f.n);

		len = lf ? (size_t)(lf - f.p) : f.n;
		cut = len < RCPT_MAX ? len : RCPT_MAX;
		lines[i] = malloc(cut + 1);
		FZ_CHECK(lines[i] != NULL);
		memcpy(lines[i], f.p, cut);
		lines[i][cut] = '\0';
		f.p += lf ? len + 1 : len;
		f.n -= lf ? len + 1 : len;
	}
	for (nrcpt = 0; k > 0 && nrcpt < (size_t)k * copies &&
	    nrcpt < MAXRCPT; nrcpt++)
		rcpts[nrcpt] = lines[nrcpt % k];

	/* the message, framed by genuine headers if asked */
	tokscan_proof(key, sizeof(key), TOK_R, proof_r);
	tokscan_proof(key, sizeof(key), TOK_B, proof_b);
	m = malloc(f.n + FRAME_MAX);
	FZ_CHECK(m != NULL);
	n = 0;
	if (flags & 2)
		n += frame(m + n, "%s%s%s", pre_r, proof_r, tail);
	memcpy(m + n, f.p, f.n);
	n += f.n;
	if (flags & 4)
		n += frame(m + n, "%s%s%s--b--\r\n", pre_b, proof_b, tail);
	/* an exact-size copy, so that ASan sees a read past the end */
	{
		char *exact = fz_dup(m, n);

		free(m);
		m = exact;
	}

	memset(&s, 0, sizeof(s));
	tokscan_message(m, n, null_sender, (const char *const *)rcpts, nrcpt,
	    collect, &s);
	count_hdrs(m, n, &all, &top);
	FZ_CHECK(s.n <= all);
	for (i = 0; i < s.n && i < KEEP; i++) {
		check_hit(&s.h[i], null_sender, top);
		flip = env_has(lines, k, "sluice-probe-", s.h[i].token) &&
		    !env_has(lines, k, "sluice-relay-", s.h[i].token);
		FZ_CHECK(s.h[i].kind != TOKEN_RELAYED || !flip);
	}
	if (flags & 2) {
		FZ_CHECK(s.n >= 1);
		FZ_CHECK(strcmp(s.h[0].token, TOK_R) == 0);
		FZ_CHECK(strcmp(s.h[0].proof, proof_r) == 0);
		flip = env_has(lines, k, "sluice-probe-", TOK_R) &&
		    !env_has(lines, k, "sluice-relay-", TOK_R);
		FZ_CHECK(s.h[0].kind == (flip ? TOKEN_BOUNCED :
		    TOKEN_RELAYED));
		FZ_CHECK(tokscan_proof_ok(key, sizeof(key), s.h[0].token,
		    s.h[0].proof));
	}
	if ((flags & 4) && all <= TOKSCAN_MAXHDRS) {
		FZ_CHECK(s.n >= 1 && s.n <= KEEP);
		FZ_CHECK(strcmp(s.h[s.n - 1].token, TOK_B) == 0);
		FZ_CHECK(strcmp(s.h[s.n - 1].proof, proof_b) == 0);
		FZ_CHECK(s.h[s.n - 1].kind == TOKEN_BOUNCED);
	}
	if (flags & 8)
		via_maildir(m, n);

	free(m);
	for (i = 0; i < k; i++)
		free(lines[i]);
	return 0;
}

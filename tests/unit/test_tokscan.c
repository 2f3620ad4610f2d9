/*
 * test_tokscan - what came back to the probe (probe/tokscan): relayed
 * copies, bounces, and forgeries (a token without this run's proof).
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"

#include "probe/tokscan.h"

#define TOK	"0123456789ab"
#define KEY	"0123456789abcdef0123456789abcdef"
/* HMAC-SHA256(KEY, TOK), first 16 bytes (computed with Python's hmac) */
#define PROOF	"4ecb1443593e02dd6ae6165202430287"

struct seen {
	size_t		 n;
	struct tokhit	 h[8];
};

/* collect - the token callback: keep what was reported */
static void
collect(void *arg, const struct tokhit *h)
{
	struct seen *s = arg;

	if (s->n < NELEM(s->h))
		s->h[s->n] = *h;
	s->n++;
}

/* proof_vectors - tokscan_proof against known HMAC values */
static void
proof_vectors(void **state)
{
	unsigned char key2[32];
	char p[PROOF_LEN + 1];
	size_t i;

	(void)state;
	tokscan_proof((const unsigned char *)KEY, 32, TOK, p);
	CHECK_STR("KEY/TOK", p, PROOF);
	for (i = 0; i < sizeof(key2); i++)
		key2[i] = (unsigned char)i;
	tokscan_proof(key2, sizeof(key2), "deadbeef0001", p);
	CHECK_STR("0..31/deadbeef0001", p, "9629f7b29122d570a7277309dc145726");
	UNIT_DONE();
}

/* proof_check - only the exact proof under the same key passes */
static void
proof_check(void **state)
{
	static const struct {
		const char *name, *key, *token, *proof;
		int ok;
	} cases[] = {
		{ "right", KEY, TOK, PROOF, 1 },
		{ "none", KEY, TOK, "", 0 },
		{ "NULL", KEY, TOK, NULL, 0 },
		{ "zeros", KEY, TOK, "00000000000000000000000000000000", 0 },
		{ "one digit off", KEY, TOK,
		  "4ecb1443593e02dd6ae6165202430288", 0 },
		{ "upper case", KEY, TOK, "4ECB1443593E02DD6AE6165202430287",
		  0 },
		{ "too short", KEY, TOK, "4ecb1443593e02dd6ae616520243028", 0 },
		{ "too long", KEY, TOK, PROOF "0", 0 },
		{ "other token", KEY, "0123456789ac", PROOF, 0 },
		{ "other key", "0123456789abcdef0123456789abcdeF", TOK, PROOF,
		  0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++)
		CHECK_INT(cases[i].name, tokscan_proof_ok(
		    (const unsigned char *)cases[i].key, 32, cases[i].token,
		    cases[i].proof), cases[i].ok);
	UNIT_DONE();
}

/* DSN - a bounce: its own headers, the original attached */
#define DSN(sep, orig_hdr) \
	"From: MAILER-DAEMON@mx.example\r\n" \
	"To: <sluice-probe-" TOK "@outside.test>\r\n" \
	"Subject: Undelivered Mail Returned to Sender\r\n" \
	"Content-Type: multipart/report; boundary=\"b\"\r\n" \
	"\r\n" \
	"--b\r\nContent-Type: text/plain\r\n\r\nRelaying denied.\r\n" \
	"--b\r\nContent-Type: message/rfc822\r\n\r\n" \
	sep "From: <sluice-probe-" TOK "@outside.test>\r\n" \
	sep orig_hdr "\r\n" \
	sep "Subject: sluice relay test " TOK "\r\n" \
	sep "\r\n" sep "Token " TOK ".\r\n--b--\r\n"

#define HDR	"X-Sluice-Probe: token=" TOK " proof=" PROOF \
		" test=relay-plain target=127.0.0.1:25"
#define RELAYED	"Received: from mx.example\r\n" \
		"From: <sluice-probe-" TOK "@outside.test>\r\n" \
		HDR "\r\nSubject: sluice relay test " TOK "\r\n\r\n" \
		"Token " TOK ".\r\n"

/* messages - relay or bounce, by where the header is and the envelope */
static void
messages(void **state)
{
	static const char *const to_relay[] = {
	    "sluice-relay-" TOK "@outside.test" };
	static const char *const to_sender[] = {
	    "sluice-probe-" TOK "@outside.test" };
	static const char *const to_pm[] = { "postmaster@outside.test" };
	static const char *const to_both[] = {
	    "sluice-probe-" TOK "@outside.test",
	    "SLUICE-RELAY-" TOK "@outside.test" };
	static const struct {
		const char *name, *msg;
		int null_sender;
		const char *const *rcpts;
		size_t nrcpt;
		size_t nhits;
		enum ptoken kind;
		const char *proof;
	} cases[] = {
		{ "relayed", RELAYED, 0, to_relay, 1, 1, TOKEN_RELAYED, PROOF },
		{ "relayed, no envelope (Maildir)", RELAYED, 0, NULL, 0, 1,
		  TOKEN_RELAYED, PROOF },
		{ "relayed to postmaster@outside", RELAYED, 0, to_pm, 1, 1,
		  TOKEN_RELAYED, PROOF },
		{ "relayed, first header line", HDR "\r\n\r\nbody\r\n", 0,
		  to_relay, 1, 1, TOKEN_RELAYED, PROOF },
		{ "relayed, bare LF", "From: <a@b>\n" HDR "\n\nbody\n", 0,
		  to_relay, 1, 1, TOKEN_RELAYED, PROOF },
		{ "relayed, header name in lower case",
		  "x-sluice-probe: token=" TOK " proof=" PROOF "\r\n\r\n", 0,
		  to_relay, 1, 1, TOKEN_RELAYED, PROOF },
		{ "relayed, folded before the proof",
		  "From: <a@b>\r\nX-Sluice-Probe: token=" TOK "\r\n\tproof="
		  PROOF " test=relay-plain\r\n\r\nbody\r\n", 0, to_relay, 1, 1,
		  TOKEN_RELAYED, PROOF },
		/* the null sender is passed on: the engine knows whether the
		 * test itself used it (relay-null-sender) */
		{ "relayed, null sender", RELAYED, 1, to_relay, 1, 1,
		  TOKEN_RELAYED, PROOF },
		{ "relayed, also to the sender", RELAYED, 0, to_both, 2, 1,
		  TOKEN_RELAYED, PROOF },
		{ "sent back to the sender", RELAYED, 0, to_sender, 1, 1,
		  TOKEN_BOUNCED, PROOF },
		{ "DSN, original attached", DSN("", HDR), 1, to_sender, 1, 1,
		  TOKEN_BOUNCED, PROOF },
		/* relay-sender-is-rcpt: the bounce goes to the relay
		 * recipient; the header is only in the attachment */
		{ "DSN to the relay recipient", DSN("", HDR), 1, to_relay, 1, 1,
		  TOKEN_BOUNCED, PROOF },
		{ "DSN to the relay recipient, sender not null", DSN("", HDR),
		  0, to_relay, 1, 1, TOKEN_BOUNCED, PROOF },
		{ "bounce quoting the original", DSN("> ", HDR), 1, to_relay,
		  1, 1, TOKEN_BOUNCED, PROOF },
		{ "header in the body only",
		  "From: <a@b>\r\n\r\n" HDR "\r\n", 0, to_relay, 1, 1,
		  TOKEN_BOUNCED, PROOF },
		{ "header mid-line in the headers",
		  "Subject: see " HDR "\r\n\r\nbody\r\n", 0, to_relay, 1, 1,
		  TOKEN_BOUNCED, PROOF },
		/* forgeries: the token as a live report shows it */
		{ "forged, no proof",
		  "X-Sluice-Probe: token=" TOK " test=relay-plain\r\n\r\n", 0,
		  to_relay, 1, 1, TOKEN_RELAYED, "" },
		{ "forged, proof too short",
		  "X-Sluice-Probe: token=" TOK " proof=abc\r\n\r\n", 0,
		  to_relay, 1, 1, TOKEN_RELAYED, "" },
		{ "token in the envelope only", "Subject: hi\r\n\r\n" TOK
		  "\r\n", 0, to_relay, 1, 0, TOKEN_NONE, NULL },
		{ "token in Subject only", "Subject: sluice relay test " TOK
		  "\r\n\r\nbody\r\n", 0, to_relay, 1, 0, TOKEN_NONE, NULL },
		{ "token too long",
		  "X-Sluice-Probe: token=" TOK "0 proof=" PROOF "\r\n\r\n", 0,
		  to_relay, 1, 0, TOKEN_NONE, NULL },
		{ "token not hex",
		  "X-Sluice-Probe: token=0123456789ag proof=" PROOF "\r\n\r\n",
		  0, to_relay, 1, 0, TOKEN_NONE, NULL },
		{ "empty", "", 0, to_relay, 1, 0, TOKEN_NONE, NULL },
	};
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		struct seen s;

		memset(&s, 0, sizeof(s));
		tokscan_message(cases[i].msg, strlen(cases[i].msg),
		    cases[i].null_sender, cases[i].rcpts, cases[i].nrcpt,
		    collect, &s);
		if (!CHECK_UINT(cases[i].name, s.n, cases[i].nhits) ||
		    s.n == 0)
			continue;
		CHECK_STR(cases[i].name, s.h[0].token, TOK);
		CHECK_INT(cases[i].name, s.h[0].kind, cases[i].kind);
		CHECK_STR(cases[i].name, s.h[0].proof, cases[i].proof);
		CHECK_INT(cases[i].name, s.h[0].null_sender,
		    cases[i].null_sender);
		/* what the engine then decides: only a valid proof counts */
		CHECK_INT(cases[i].name, tokscan_proof_ok(
		    (const unsigned char *)KEY, 32, s.h[0].token,
		    s.h[0].proof), cases[i].proof[0] != '\0');
	}
	UNIT_DONE();
}

/* two_headers - a relayed copy that also quotes itself: both reported */
static void
two_headers(void **state)
{
	static const char msg[] = HDR "\r\n\r\nAs sent:\r\n> " HDR "\r\n";
	struct seen s;

	(void)state;
	memset(&s, 0, sizeof(s));
	tokscan_message(msg, sizeof(msg) - 1, 0, NULL, 0, collect, &s);
	CHECK_UINT("hits", s.n, 2);
	CHECK_INT("first", s.h[0].kind, TOKEN_RELAYED);
	CHECK_INT("second", s.h[1].kind, TOKEN_BOUNCED);
	UNIT_DONE();
}

/*
 * many_headers - anyone can send the catcher thousands of probe headers
 * and a thousand recipients: only the first TOKSCAN_MAXHDRS are looked
 * at (each was checked against every recipient: minutes of the event
 * loop for 4 MiB; fuzz_tokscan, crashes/tokscan-many-headers.bin).
 */
static void
many_headers(void **state)
{
	static const char line[] = "X-Sluice-Probe: token=000000000000\r\n";
	const char *rcpts[1000];
	char rcpt[257], *msg;
	size_t i, n = 20000, ll = sizeof(line) - 1;
	struct seen s;

	(void)state;
	memset(rcpt, 'r', sizeof(rcpt) - 1);
	rcpt[sizeof(rcpt) - 1] = '\0';
	for (i = 0; i < NELEM(rcpts); i++)
		rcpts[i] = rcpt;
	msg = malloc(n * ll + sizeof(HDR) + 8);
	assert_non_null(msg);
	memcpy(msg, HDR "\r\n", sizeof(HDR) + 1);
	for (i = 0; i < n; i++)
		memcpy(msg + sizeof(HDR) + 1 + i * ll, line, ll);
	memset(&s, 0, sizeof(s));
	tokscan_message(msg, sizeof(HDR) + 1 + n * ll, 0, rcpts,
	    NELEM(rcpts), collect, &s);
	CHECK_UINT("hits", s.n, TOKSCAN_MAXHDRS);
	CHECK_STR("the genuine one first", s.h[0].token, TOK);
	CHECK_INT("relayed", s.h[0].kind, TOKEN_RELAYED);
	CHECK_STR("then the others", s.h[1].token, "000000000000");
	free(msg);
	UNIT_DONE();
}

/* put - write a message file */
static void
put(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* maildir - new/ and cur/ are read; Return-Path says null sender */
static void
maildir(void **state)
{
	char dir[] = "/tmp/sluice-tokscan-XXXXXX", sub[600];
	static const char *const subs[] = { "tmp", "new", "cur" };
	struct seen s;
	size_t i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	for (i = 0; i < NELEM(subs); i++) {
		snprintf(sub, sizeof(sub), "%s/%s", dir, subs[i]);
		assert_int_equal(mkdir(sub, 0700), 0);
	}
	snprintf(sub, sizeof(sub), "%s/new", dir);
	put(sub, "1.relayed", "Return-Path: <sluice-probe-" TOK
	    "@outside.test>\nDelivered-To: sluice-relay-" TOK
	    "@outside.test\n" HDR "\n\nbody\n");
	snprintf(sub, sizeof(sub), "%s/cur", dir);
	put(sub, "2.bounce:2,S", "Return-Path: <>\nDelivered-To: "
	    "sluice-relay-" TOK "@outside.test\nFrom: MAILER-DAEMON\n\n"
	    "Your message:\n\n" HDR "\n");
	memset(&s, 0, sizeof(s));
	tokscan_maildir(dir, collect, &s);
	CHECK_UINT("hits", s.n, 2);
	for (i = 0; i < s.n && i < 2; i++) {
		if (s.h[i].kind == TOKEN_RELAYED)
			CHECK_INT("relayed: sender", s.h[i].null_sender, 0);
		else {
			CHECK_INT("bounce", s.h[i].kind, TOKEN_BOUNCED);
			CHECK_INT("bounce: sender", s.h[i].null_sender, 1);
		}
	}
	CHECK_TRUE("one of each", s.n == 2 && s.h[0].kind != s.h[1].kind);
	snprintf(sub, sizeof(sub), "rm -rf '%s'", dir);
	CHECK_INT("cleanup", system(sub), 0);
	UNIT_DONE();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(proof_vectors),
		cmocka_unit_test(proof_check),
		cmocka_unit_test(messages),
		cmocka_unit_test(two_headers),
		cmocka_unit_test(many_headers),
		cmocka_unit_test(maildir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

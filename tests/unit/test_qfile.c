/*
 * test_qfile - the queue file envelope (queue/qfile): format then parse
 * round trips; truncated and malformed envelopes refused.
 */
#include <stdlib.h>

#include "unit.h"

#include "queue/qfile.h"
#include "smtp/tx.h"

/* parsed - a path for the test, or fail */
static struct addr
parsed(const char *s, unsigned opts)
{
	struct addr a;
	size_t used;

	if (addr_parse_path(s, strlen(s), opts, &a, &used) != ADDR_OK)
		fail_msg("bad test path %s", s);
	return a;
}

/* add - a recipient as the policy would have accepted it */
static void
add(struct tx *t, const char *rcpt, enum rcpt_class cls, const char *mb)
{
	struct verdict v;

	memset(&v, 0, sizeof(v));
	v.kind = POLICY_ACCEPT;
	v.cls = cls;
	v.resolved = parsed(rcpt, ADDR_ALLOW_POSTMASTER);
	snprintf(v.mailbox, sizeof(v.mailbox), "%s", mb ? mb : "");
	snprintf(v.rule, sizeof(v.rule), "test");
	tx_add_rcpt(t, &v);
}

struct rt_case {
	const char	*name;
	const char	*from;
	int		 body;
	const char	*helo;		/* "" is written as "-" */
	const char	*rcpts[4];	/* "L:mailbox:<addr>" or "R:<addr>" */
	size_t		 nrcpt;		/* 0: count rcpts */
	const char	*want_from;
	const char	*want_rcpt[4];	/* canonical addresses */
};

static const struct rt_case rt_cases[] = {
	{ "local and remote", "<alice@example.org>", BODY_8BITMIME,
	    "mail.example", { "L:alice:<alice@localhost>",
	    "R:<bob@example.net>" }, 0, "<alice@example.org>",
	    { "<alice@localhost>", "<bob@example.net>" } },
	{ "null sender, 7bit, no helo", "<>", BODY_7BIT, "",
	    { "L:admin:<postmaster>" }, 0, "<>", { "<postmaster>" } },
	{ "no BODY", "<a@b.example>", BODY_NONE, "[192.0.2.1]",
	    { "R:<c@d.example>" }, 0, "<a@b.example>", { "<c@d.example>" } },
	{ "quoted local parts with spaces", "<\"x y\"@b.example>", BODY_NONE,
	    "h", { "R:<\"john doe\"@example.net>",
	    "L:alice:<\"alice\"@localhost>" }, 0, "<\"x y\"@b.example>",
	    { "<\"john doe\"@example.net>", "<alice@localhost>" } },
	{ "literals", "<u@[IPv6:2001:db8::1]>", BODY_NONE, "h",
	    { "R:<v@[192.0.2.7]>" }, 0, "<u@[IPv6:2001:db8::1]>",
	    { "<v@[192.0.2.7]>" } },
	{ "route dropped", "<@r.example:a@b.example>", BODY_NONE, "h",
	    { "R:<@s.example:c@d.example>" }, 0, "<a@b.example>",
	    { "<c@d.example>" } },
};

/* build - a tx for the case */
static struct tx *
build(const struct rt_case *t)
{
	struct addr from = parsed(t->from, ADDR_ALLOW_NULL);
	struct mail_params mp;
	struct tx *tx;
	size_t i;

	memset(&mp, 0, sizeof(mp));
	mp.body = t->body;
	tx = tx_new(&from, &mp, 1732464925);
	for (i = 0; i < 4 && t->rcpts[i]; i++) {
		const char *r = t->rcpts[i];

		if (r[0] == 'L') {
			char mb[80];
			const char *c = strchr(r + 2, ':');

			snprintf(mb, sizeof(mb), "%.*s", (int)(c - r - 2),
			    r + 2);
			add(tx, c + 1, RCPT_LOCAL, mb);
		} else
			add(tx, r + 2, RCPT_REMOTE, NULL);
	}
	return tx;
}

#define MSG	"Subject: test\r\n\r\nbody\r\n"

/* round_trip - what qfile_format writes, qfile_parse reads back */
static void
round_trip(void **state)
{
	size_t i, j;

	(void)state;
	for (i = 0; i < NELEM(rt_cases); i++) {
		const struct rt_case *t = &rt_cases[i];
		struct tx *tx = build(t);
		struct qenv w, r;
		struct buf b;
		char err[128] = "";
		char *sizep;

		buf_init(&b, QFILE_HEADER_MAX);
		if (!CHECK_INT(t->name, qfile_format(&b, tx, "18c2f3a4b5c00001",
		    1732464925, "7f3a2c01", "192.0.2.7", t->helo, "ESMTP", NULL, &w),
		    0))
			goto next;
		CHECK_UINT(t->name, (size_t)w.data_off, b.len);
		CHECK_UINT(t->name, w.nrcpt, tx->nrcpt);
		/* the message, then the size written in place */
		buf_puts(&b, MSG);
		sizep = b.data + w.size_off;
		CHECK_MEM(t->name, sizep, QFILE_SIZE_DIGITS,
		    "00000000000000000000", QFILE_SIZE_DIGITS);
		qfile_size_field(sizep, strlen(MSG));
		if (!CHECK_INT(t->name, qfile_parse(b.data, b.len, &r, err,
		    sizeof(err)), 0)) {
			print_error("  err: %s\n", err);
			qenv_release(&w);
			goto next;
		}
		CHECK_STR(t->name, r.qid, "18c2f3a4b5c00001");
		CHECK_INT(t->name, r.time, 1732464925);
		CHECK_STR(t->name, r.session, "7f3a2c01");
		CHECK_STR(t->name, r.client, "192.0.2.7");
		CHECK_STR(t->name, r.helo, *t->helo ? t->helo : "-");
		CHECK_STR(t->name, r.proto, "ESMTP");
		CHECK_STR(t->name, r.from, t->want_from);
		CHECK_STR(t->name, r.body, t->body == BODY_8BITMIME ?
		    "8BITMIME" : t->body == BODY_7BIT ? "7BIT" : "-");
		CHECK_UINT(t->name, r.size, strlen(MSG));
		CHECK_INT(t->name, r.size_off, w.size_off);
		CHECK_INT(t->name, r.data_off, w.data_off);
		CHECK_MEM(t->name, b.data + r.data_off, (size_t)r.size, MSG,
		    strlen(MSG));
		if (CHECK_UINT(t->name, r.nrcpt, tx->nrcpt))
			for (j = 0; j < r.nrcpt; j++) {
				const char *want = t->rcpts[j];

				CHECK_INT(t->name, r.rcpts[j].status,
				    QR_PENDING);
				CHECK_INT(t->name, r.rcpts[j].cls, want[0]);
				CHECK_STR(t->name, r.rcpts[j].mailbox,
				    w.rcpts[j].mailbox);
				CHECK_STR(t->name, r.rcpts[j].addr,
				    t->want_rcpt[j]);
				CHECK_INT(t->name, r.rcpts[j].status_off,
				    w.rcpts[j].status_off);
				CHECK_INT(t->name, b.data[r.rcpts[j].status_off],
				    QR_PENDING);
				/* never tried, due at once */
				CHECK_UINT(t->name, r.rcpts[j].attempts, 0);
				CHECK_INT(t->name, r.rcpts[j].next, 0);
				CHECK_INT(t->name, r.rcpts[j].retry_off,
				    w.rcpts[j].retry_off);
				CHECK_TRUE(t->name, w.rcpts[j].retry_off >
				    w.rcpts[j].status_off);
			}
		/* a status and a schedule rewritten in place are read back */
		b.data[w.rcpts[0].status_off] = QR_DONE;
		qfile_retry_field(b.data + w.rcpts[w.nrcpt - 1].retry_off, 7,
		    1732468525);
		qenv_release(&r);
		if (CHECK_INT(t->name, qfile_parse(b.data, b.len, &r, err,
		    sizeof(err)), 0)) {
			CHECK_INT(t->name, r.rcpts[0].status, QR_DONE);
			CHECK_UINT(t->name, r.rcpts[r.nrcpt - 1].attempts, 7);
			CHECK_INT(t->name, r.rcpts[r.nrcpt - 1].next,
			    1732468525);
			CHECK_INT(t->name, r.data_off, w.data_off);
		}
		/* failed, the DSN not yet committed */
		b.data[w.rcpts[0].status_off] = QR_NOTIFY;
		qenv_release(&r);
		if (CHECK_INT(t->name, qfile_parse(b.data, b.len, &r, err,
		    sizeof(err)), 0))
			CHECK_INT(t->name, r.rcpts[0].status, QR_NOTIFY);
		qenv_release(&r);
		qenv_release(&w);
next:
		buf_release(&b);
		tx_free(tx);
	}
	UNIT_DONE();
}

/* many_rcpts - a hundred recipients survive the trip in order */
static void
many_rcpts(void **state)
{
	struct addr from = parsed("<a@b.example>", 0);
	struct mail_params mp;
	struct tx *tx;
	struct qenv w, r;
	struct buf b;
	char err[128], addr[64], name[32];
	size_t i;

	(void)state;
	memset(&mp, 0, sizeof(mp));
	tx = tx_new(&from, &mp, 0);
	for (i = 0; i < 100; i++) {
		snprintf(addr, sizeof(addr), "<user%zu@example.net>", i);
		add(tx, addr, RCPT_REMOTE, NULL);
	}
	buf_init(&b, QFILE_HEADER_MAX);
	assert_int_equal(qfile_format(&b, tx, "q1", 0, "s", "c", "h", "SMTP",
	    "alice x", &w), 0);
	assert_int_equal(qfile_parse(b.data, b.len, &r, err, sizeof(err)), 0);
	/* the authenticated user round-trips, made one word */
	assert_string_equal(r.auth, "alice?x");
	CHECK_UINT("count", r.nrcpt, 100);
	for (i = 0; i < r.nrcpt && i < 100; i++) {
		snprintf(addr, sizeof(addr), "<user%zu@example.net>", i);
		snprintf(name, sizeof(name), "rcpt %zu", i);
		CHECK_STR(name, r.rcpts[i].addr, addr);
		CHECK_INT(name, r.rcpts[i].cls, 'R');
		CHECK_STR(name, r.rcpts[i].mailbox, "-");
	}
	qenv_release(&r);
	qenv_release(&w);
	buf_release(&b);
	tx_free(tx);
	UNIT_DONE();
}

/* a well-formed envelope, for the malformed variants below */
#define HDR	"sluice-queue 1\nqid q1\ntime 1732464925\nsession s1\n" \
		"client 192.0.2.7\nhelo h\nproto ESMTP\nfrom <a@b.example>\n" \
		"body -\nsize 00000000000000000010\n"
#define RCPT	"rcpt P L alice <alice@localhost>\n"
#define RETRY	"retry 0000000003 001732464925\n"

/* truncations - every prefix of an envelope is refused */
static void
truncations(void **state)
{
	static const char file[] = HDR RCPT "rcpt P R - <c@d.example>\n"
	    "data\n0123456789";
	size_t dataoff = strlen(HDR RCPT "rcpt P R - <c@d.example>\ndata\n");
	size_t n;
	struct qenv e;
	char err[128], name[32];

	(void)state;
	for (n = 0; n < dataoff; n++) {
		char *copy = malloc(n ? n : 1);

		/* an exact-size copy: reading past n is an ASan error */
		memcpy(copy, file, n);
		snprintf(name, sizeof(name), "cut at %zu", n);
		err[0] = '\0';
		CHECK_INT(name, qfile_parse(copy, n, &e, err, sizeof(err)), -1);
		CHECK_TRUE(name, err[0] != '\0');
		CHECK_TRUE(name, e.rcpts == NULL && e.nrcpt == 0);
		free(copy);
	}
	CHECK_INT("whole envelope", qfile_parse(file, dataoff, &e, err,
	    sizeof(err)), 0);
	CHECK_UINT("whole envelope", e.nrcpt, 2);
	CHECK_INT("whole envelope", e.data_off, dataoff);
	qenv_release(&e);
	UNIT_DONE();
}

/* malformed - envelopes we did not write are refused, with a reason */
static void
malformed(void **state)
{
	static const struct {
		const char *name;
		const char *file;
		int rc;
		const char *err;
	} cases[] = {
		{ "valid", HDR RCPT "data\n", 0, NULL },
		{ "unknown key kept for newer versions", HDR "future x\n" RCPT
		    "data\n", 0, NULL },
		{ "no retry line (an older file)", HDR RCPT "data\n", 0, NULL },
		{ "retry line", HDR RCPT RETRY "data\n", 0, NULL },
		{ "status N", HDR "rcpt N L alice <a@b>\n" RETRY "data\n", 0,
		    NULL },
		{ "retry before any rcpt", HDR RETRY RCPT "data\n", -1,
		    "retry" },
		{ "two retry lines for one rcpt", HDR RCPT RETRY RETRY "data\n",
		    -1, "retry" },
		{ "retry too short", HDR RCPT "retry 0000000003 00173246492\n"
		    "data\n", -1, "retry" },
		{ "retry too long", HDR RCPT "retry 0000000003 0017324649250\n"
		    "data\n", -1, "retry" },
		{ "retry without the space", HDR RCPT
		    "retry 0000000003x001732464925\n" "data\n", -1, "retry" },
		{ "retry not digits", HDR RCPT "retry 00000000-3 001732464925\n"
		    "data\n", -1, "retry" },
		{ "retry time not digits", HDR RCPT
		    "retry 0000000003 0017324649 5\n" "data\n", -1, "retry" },
		{ "attempts over 32 bits", HDR RCPT
		    "retry 4294967296 001732464925\n" "data\n", -1, "retry" },
		{ "empty", "", -1, "not a queue file" },
		{ "other version", "sluice-queue 2\n" RCPT "data\n", -1,
		    "not a queue file" },
		{ "magic only", "sluice-queue 1\n", -1, "truncated" },
		{ "no data line", HDR RCPT, -1, "truncated" },
		{ "data without LF", HDR RCPT "data", -1, "truncated" },
		{ "no size", "sluice-queue 1\nqid q\nfrom <a@b>\n" RCPT
		    "data\n", -1, "incomplete" },
		{ "no qid", "sluice-queue 1\nfrom <a@b>\n"
		    "size 00000000000000000010\n" RCPT "data\n", -1,
		    "incomplete" },
		{ "no from", "sluice-queue 1\nqid q\n"
		    "size 00000000000000000010\n" RCPT "data\n", -1,
		    "incomplete" },
		{ "from without brackets", "sluice-queue 1\nqid q\nfrom a@b\n"
		    "size 00000000000000000010\n" RCPT "data\n", -1,
		    "incomplete" },
		{ "no rcpt", HDR "data\n", -1, "incomplete" },
		{ "short size", "sluice-queue 1\nqid q\nfrom <a@b>\n"
		    "size 0000000000000000010\n" RCPT "data\n", -1, "size" },
		{ "size not digits", "sluice-queue 1\nqid q\nfrom <a@b>\n"
		    "size 0000000000000000001x\n" RCPT "data\n", -1, "size" },
		{ "size too big", "sluice-queue 1\nqid q\nfrom <a@b>\n"
		    "size 99999999999999999999\n" RCPT "data\n", -1, "size" },
		{ "bad time", HDR "time abc\n" RCPT "data\n", -1, "time" },
		{ "negative time", HDR "time -5\n" RCPT "data\n", -1, "time" },
		{ "line without space", HDR "garbage\n" RCPT "data\n", -1,
		    "bad envelope line" },
		{ "bad status", HDR "rcpt X L alice <a@b>\ndata\n", -1,
		    "rcpt" },
		{ "bad class", HDR "rcpt P Q alice <a@b>\ndata\n", -1,
		    "rcpt" },
		{ "no address", HDR "rcpt P L alice\ndata\n", -1, "rcpt" },
		{ "empty mailbox", HDR "rcpt P L  <a@b>\ndata\n", -1, "rcpt" },
		{ "address without brackets", HDR "rcpt P L alice a@b\ndata\n",
		    -1, "rcpt address" },
		{ "address unclosed", HDR "rcpt P L alice <a@b\ndata\n", -1,
		    "rcpt address" },
		{ "empty address", HDR "rcpt P L alice \ndata\n", -1, "rcpt" },
		{ "short rcpt", HDR "rcpt P\ndata\n", -1, "rcpt" },
		{ "glued fields", HDR "rcpt PL alice <a@b>\ndata\n", -1,
		    "rcpt" },
		{ "mailbox too long", HDR "rcpt P L "
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaa <a@b>\ndata\n", -1, "too long" },
		{ "qid too long", HDR "qid 0123456789012345678901234567890123"
		    "\n" RCPT "data\n", -1, "too long" },
		/* local mailboxes are file names; we never write a path */
		{ "mailbox with a slash", HDR "rcpt P L ../../etc <a@b>\n"
		    "data\n", -1, NULL },
		{ "mailbox starting with a dot", HDR "rcpt P L .ssh <a@b>\n"
		    "data\n", -1, NULL },
	};
	struct qenv e;
	char err[128];
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		int r;

		err[0] = '\0';
		r = qfile_parse(cases[i].file, strlen(cases[i].file), &e, err,
		    sizeof(err));
		CHECK_INT(cases[i].name, r, cases[i].rc);
		if (r == -1 && cases[i].err)
			CHECK_HAS(cases[i].name, err, cases[i].err);
		if (r == -1)
			CHECK_TRUE(cases[i].name, e.rcpts == NULL);
		qenv_release(&e);
	}
	UNIT_DONE();
}

/* size_field - fixed width, zero padded, no NUL written */
static void
size_field(void **state)
{
	static const struct {
		uint64_t v;
		const char *want;
	} cases[] = {
		{ 0, "00000000000000000000" }, { 4096, "00000000000000004096" },
		{ UINT64_MAX, "18446744073709551615" },
	};
	char dst[QFILE_SIZE_DIGITS + 1];
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		memset(dst, 'X', sizeof(dst));
		qfile_size_field(dst, cases[i].v);
		CHECK_MEM(cases[i].want, dst, QFILE_SIZE_DIGITS, cases[i].want,
		    QFILE_SIZE_DIGITS);
		CHECK_INT(cases[i].want, dst[QFILE_SIZE_DIGITS], 'X');
	}
	UNIT_DONE();
}

/* retry_field - fixed width, zero padded, clamped, no NUL written */
static void
retry_field(void **state)
{
	static const struct {
		unsigned attempts;
		long long next;
		const char *want;
	} cases[] = {
		{ 0, 0, "0000000000 000000000000" },
		{ 3, 1732464925, "0000000003 001732464925" },
		{ UINT32_MAX, 999999999999LL, "4294967295 999999999999" },
		{ 1, -5, "0000000001 000000000000" },
		{ 1, 1000000000000LL, "0000000001 999999999999" },
	};
	char dst[QFILE_RETRY_LEN + 1];
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		memset(dst, 'X', sizeof(dst));
		qfile_retry_field(dst, cases[i].attempts,
		    (time_t)cases[i].next);
		CHECK_MEM(cases[i].want, dst, QFILE_RETRY_LEN, cases[i].want,
		    QFILE_RETRY_LEN);
		CHECK_INT(cases[i].want, dst[QFILE_RETRY_LEN], 'X');
	}
	UNIT_DONE();
}

/* internal - sluiced's own mail is told from a client's */
static void
internal(void **state)
{
	static const struct {
		const char *session, *client;
		int want;
	} cases[] = {
		{ "7f3a2c01", "192.0.2.7", 0 },
		{ "7f3a2c01", "127.0.0.1", 0 },
		{ "internal", "internal", 1 },
		{ "internal", "127.0.0.1", 1 },	/* DSNs of older versions */
		{ "7f3a2c01", "internal", 1 },
	};
	struct qenv e;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cases); i++) {
		memset(&e, 0, sizeof(e));
		snprintf(e.session, sizeof(e.session), "%s", cases[i].session);
		snprintf(e.client, sizeof(e.client), "%s", cases[i].client);
		CHECK_INT(cases[i].client, qenv_internal(&e), cases[i].want);
	}
	UNIT_DONE();
}

/* format_cap - a buffer cap too small is reported */
static void
format_cap(void **state)
{
	struct addr from = parsed("<a@b.example>", 0);
	struct mail_params mp;
	struct tx *tx;
	struct qenv w;
	struct buf b;

	(void)state;
	memset(&mp, 0, sizeof(mp));
	tx = tx_new(&from, &mp, 0);
	add(tx, "<c@d.example>", RCPT_REMOTE, NULL);
	buf_init(&b, 64);
	CHECK_INT("cap 64", qfile_format(&b, tx, "q1", 0, "s", "c", "h",
	    "SMTP", NULL, &w), -1);
	qenv_release(&w);
	buf_release(&b);
	tx_free(tx);
	UNIT_DONE();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip),
		cmocka_unit_test(many_rcpts),
		cmocka_unit_test(truncations),
		cmocka_unit_test(malformed),
		cmocka_unit_test(size_field),
		cmocka_unit_test(retry_field),
		cmocka_unit_test(internal),
		cmocka_unit_test(format_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

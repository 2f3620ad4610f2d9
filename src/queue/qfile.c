#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/qfile.h"
#include "smtp/tx.h"
#include "util/str.h"
#include "util/xalloc.h"

/* qenv_release - free what a qenv owns */
void
qenv_release(struct qenv *e)
{
	free(e->rcpts);
	e->rcpts = NULL;
	e->nrcpt = 0;
}

/* qfile_size_field - the fixed-width size digits (no NUL) */
void
qfile_size_field(char *dst, uint64_t size)
{
	char tmp[QFILE_SIZE_DIGITS + 1];

	snprintf(tmp, sizeof(tmp), "%0*" PRIu64, QFILE_SIZE_DIGITS, size);
	memcpy(dst, tmp, QFILE_SIZE_DIGITS);
}

/* qfile_retry_field - the fixed-width retry value (no NUL) */
void
qfile_retry_field(char *dst, unsigned attempts, time_t next)
{
	char tmp[QFILE_RETRY_LEN + 1];

	if (next < 0)
		next = 0;
	if ((uint64_t)next > 999999999999ULL)
		next = (time_t)999999999999LL;
	snprintf(tmp, sizeof(tmp), "%0*u %0*lld", QFILE_TRIES_DIGITS,
	    attempts, QFILE_NEXT_DIGITS, (long long)next);
	memcpy(dst, tmp, QFILE_RETRY_LEN);
}

/*
 * qenv_internal - was the message made by sluiced itself (a DSN)? Such
 * mail has client "internal" (older files: session "internal").
 */
int
qenv_internal(const struct qenv *e)
{
	return strcmp(e->client, "internal") == 0 ||
	    strcmp(e->session, "internal") == 0;
}

/*
 * qfile_format - the envelope of tx as a queue file header, into b. Fills
 * e (offsets relative to the file start) so the caller can update the
 * size and statuses later. 0, or -1 if b's cap was hit.
 */
int
qfile_format(struct buf *b, const struct tx *tx, const char *qid,
    time_t now, const char *session, const char *client, const char *helo,
    const char *proto, const char *auth, struct qenv *e)
{
	char from[SMTP_PATH_MAX + 8];
	size_t i;
	int r = 0;

	memset(e, 0, sizeof(*e));
	addr_format(&tx->sender, from, sizeof(from));
	r |= buf_puts(b, QFILE_MAGIC);
	r |= buf_printf(b, "qid %s\ntime %lld\nsession %s\nclient %s\n"
	    "helo %s\nproto %s\nfrom %s\nbody %s\n", qid,
	    (long long)now, session, client, *helo ? helo : "-", proto, from,
	    tx->mp.body == BODY_8BITMIME ? "8BITMIME" :
	    tx->mp.body == BODY_7BIT ? "7BIT" : "-");
	if (auth && *auth) {
		/* a user name is one word of printable ASCII */
		char u[256];
		size_t k;

		str_copy(u, sizeof(u), auth);
		for (k = 0; u[k]; k++)
			if (u[k] <= ' ' || u[k] > '~')
				u[k] = '?';
		r |= buf_printf(b, "auth %s\n", u);
		str_copy(e->auth, sizeof(e->auth), u);
	}
	r |= buf_puts(b, "warned ");
	e->warned_off = (off_t)b->len;
	r |= buf_puts(b, "0\n");
	r |= buf_puts(b, "size ");
	e->size_off = (off_t)b->len;
	r |= buf_printf(b, "%0*d\n", QFILE_SIZE_DIGITS, 0);
	e->rcpts = xcalloc(tx->nrcpt ? tx->nrcpt : 1, sizeof(*e->rcpts));
	e->nrcpt = tx->nrcpt;
	for (i = 0; i < tx->nrcpt; i++) {
		const struct tx_rcpt *tr = &tx->rcpts[i];
		struct qrcpt *q = &e->rcpts[i];
		char a[SMTP_PATH_MAX + 8];

		addr_format(&tr->addr, a, sizeof(a));
		q->status = QR_PENDING;
		q->cls = tr->cls == RCPT_LOCAL ? 'L' : 'R';
		str_copy(q->mailbox, sizeof(q->mailbox),
		    tr->cls == RCPT_LOCAL ? tr->mailbox : "-");
		str_copy(q->addr, sizeof(q->addr), a);
		r |= buf_puts(b, "rcpt ");
		q->status_off = (off_t)b->len;
		r |= buf_printf(b, "%c %c %s %s\n", q->status, q->cls,
		    q->mailbox, q->addr);
		r |= buf_puts(b, "retry ");
		q->retry_off = (off_t)b->len;
		r |= buf_printf(b, "%0*u %0*u\n", QFILE_TRIES_DIGITS, 0,
		    QFILE_NEXT_DIGITS, 0);
	}
	r |= buf_puts(b, "data\n");
	e->data_off = (off_t)b->len;
	str_copy(e->qid, sizeof(e->qid), qid);
	return r ? -1 : 0;
}

/*
 * mailbox_ok - a local mailbox name is a safe file name (the rule of
 * policy_mailbox_name: [a-z0-9._-], no leading dot, no ".."); a remote
 * recipient's is "-". The queue file is trusted no more than that.
 */
static int
mailbox_ok(const char *mb, char cls)
{
	size_t i;

	if (cls == 'R')
		return strcmp(mb, "-") == 0;
	if (mb[0] == '\0' || mb[0] == '.' || strstr(mb, "..") != NULL)
		return 0;
	for (i = 0; mb[i]; i++)
		if (!((mb[i] >= 'a' && mb[i] <= 'z') ||
		    (mb[i] >= '0' && mb[i] <= '9') || mb[i] == '.' ||
		    mb[i] == '_' || mb[i] == '-'))
			return 0;
	return 1;
}

/* field - copy a header value, refusing over-long ones */
static int
field(char *dst, size_t dstsize, const char *v, size_t n)
{
	return str_ncopy(dst, dstsize, v, n);
}

/*
 * qfile_parse - read the envelope from the start of a queue file, p[0..n)
 * (n may include some of the message). Fills e; 0, or -1 with a reason.
 * Strict: an envelope we did not write is refused, never guessed at.
 */
int
qfile_parse(const char *p, size_t n, struct qenv *e, char *err,
    size_t errsize)
{
	size_t off = strlen(QFILE_MAGIC), cap = 0;
	int have_size = 0;

	memset(e, 0, sizeof(*e));
	if (n < off || memcmp(p, QFILE_MAGIC, off) != 0) {
		snprintf(err, errsize, "not a queue file");
		return -1;
	}
	for (;;) {
		const char *line = p + off, *nl, *sp, *v;
		size_t len, klen, vlen;

		nl = memchr(line, '\n', n - off);
		if (nl == NULL) {
			snprintf(err, errsize, "envelope is truncated");
			goto bad;
		}
		len = (size_t)(nl - line);
		if (memchr(line, '\0', len) != NULL) {
			snprintf(err, errsize, "NUL byte in envelope");
			goto bad;
		}
		if (len == 4 && memcmp(line, "data", 4) == 0) {
			e->data_off = (off_t)(off + 5);
			break;
		}
		sp = memchr(line, ' ', len);
		if (sp == NULL) {
			snprintf(err, errsize, "bad envelope line");
			goto bad;
		}
		klen = (size_t)(sp - line);
		v = sp + 1;
		vlen = len - klen - 1;
#define KEY(k)	(klen == sizeof(k) - 1 && memcmp(line, k, klen) == 0)
		if (KEY("qid")) {
			if (field(e->qid, sizeof(e->qid), v, vlen))
				goto toolong;
		} else if (KEY("time")) {
			char t[24];
			uint64_t x;

			if (field(t, sizeof(t), v, vlen) ||
			    str_parse_u64(t, 0, INT64_MAX, &x)) {
				snprintf(err, errsize, "bad time");
				goto bad;
			}
			e->time = (time_t)x;
		} else if (KEY("session")) {
			if (field(e->session, sizeof(e->session), v, vlen))
				goto toolong;
		} else if (KEY("client")) {
			if (field(e->client, sizeof(e->client), v, vlen))
				goto toolong;
		} else if (KEY("helo")) {
			if (field(e->helo, sizeof(e->helo), v, vlen))
				goto toolong;
		} else if (KEY("proto")) {
			if (field(e->proto, sizeof(e->proto), v, vlen))
				goto toolong;
		} else if (KEY("from")) {
			if (field(e->from, sizeof(e->from), v, vlen))
				goto toolong;
		} else if (KEY("auth")) {
			if (field(e->auth, sizeof(e->auth), v, vlen))
				goto toolong;
		} else if (KEY("warned")) {
			if (vlen != 1 || (v[0] != '0' && v[0] != '1')) {
				snprintf(err, errsize, "bad warned");
				goto bad;
			}
			e->warned = v[0] == '1';
			e->warned_off = (off_t)(v - p);
		} else if (KEY("body")) {
			if (field(e->body, sizeof(e->body), v, vlen))
				goto toolong;
		} else if (KEY("size")) {
			char t[QFILE_SIZE_DIGITS + 1];

			if (vlen != QFILE_SIZE_DIGITS ||
			    field(t, sizeof(t), v, vlen) ||
			    str_parse_u64(t, 0, INT64_MAX, &e->size)) {
				snprintf(err, errsize, "bad size");
				goto bad;
			}
			e->size_off = (off_t)(v - p);
			have_size = 1;
		} else if (KEY("rcpt")) {
			struct qrcpt *q;
			const char *mb, *ad;

			/* "S C mailbox <addr>" */
			if (vlen < 7 || v[1] != ' ' || v[3] != ' ' ||
			    (v[0] != QR_PENDING && v[0] != QR_DONE &&
			    v[0] != QR_NOTIFY && v[0] != QR_FAILED) ||
			    (v[2] != 'L' && v[2] != 'R')) {
				snprintf(err, errsize, "bad rcpt line");
				goto bad;
			}
			mb = v + 4;
			ad = memchr(mb, ' ', vlen - 4);
			if (ad == NULL || ad == mb) {
				snprintf(err, errsize, "bad rcpt line");
				goto bad;
			}
			if (e->nrcpt == cap) {
				cap = cap ? cap * 2 : 8;
				e->rcpts = xreallocarray(e->rcpts, cap,
				    sizeof(*e->rcpts));
			}
			q = &e->rcpts[e->nrcpt];
			memset(q, 0, sizeof(*q));
			q->status = v[0];
			q->cls = v[2];
			q->status_off = (off_t)(v - p);
			if (field(q->mailbox, sizeof(q->mailbox), mb,
			    (size_t)(ad - mb)) ||
			    field(q->addr, sizeof(q->addr), ad + 1,
			    (size_t)(v + vlen - ad - 1)))
				goto toolong;
			if (!mailbox_ok(q->mailbox, q->cls)) {
				snprintf(err, errsize, "bad rcpt mailbox");
				goto bad;
			}
			if (q->addr[0] != '<' ||
			    q->addr[strlen(q->addr) - 1] != '>') {
				snprintf(err, errsize, "bad rcpt address");
				goto bad;
			}
			e->nrcpt++;
		} else if (KEY("retry")) {
			struct qrcpt *q;
			char t[QFILE_NEXT_DIGITS + 1];
			uint64_t a, x;

			/* "AAAAAAAAAA NNNNNNNNNNNN", after its rcpt line */
			if (e->nrcpt == 0 ||
			    (q = &e->rcpts[e->nrcpt - 1])->retry_off != 0 ||
			    vlen != QFILE_RETRY_LEN ||
			    v[QFILE_TRIES_DIGITS] != ' ' ||
			    field(t, sizeof(t), v, QFILE_TRIES_DIGITS) ||
			    str_parse_u64(t, 0, UINT32_MAX, &a) ||
			    field(t, sizeof(t), v + QFILE_TRIES_DIGITS + 1,
			    QFILE_NEXT_DIGITS) ||
			    str_parse_u64(t, 0, INT64_MAX, &x)) {
				snprintf(err, errsize, "bad retry line");
				goto bad;
			}
			q->attempts = (unsigned)a;
			q->next = (time_t)x;
			q->retry_off = (off_t)(v - p);
		}
		/* unknown keys are left for newer versions to use */
#undef KEY
		off += len + 1;
	}
	if (!have_size || e->qid[0] == '\0' || e->nrcpt == 0 ||
	    e->from[0] != '<') {
		snprintf(err, errsize, "envelope is incomplete");
		goto bad;
	}
	return 0;
toolong:
	snprintf(err, errsize, "envelope field too long");
bad:
	qenv_release(e);
	return -1;
}

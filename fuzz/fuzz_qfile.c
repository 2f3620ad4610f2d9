/*
 * fuzz_qfile - the queue file envelope parser, src/queue/qfile.c.
 *
 * The input is the start of a queue file, as the runner reads it back.
 * On failure the reason is a non-empty string and nothing is left owned.
 * On success:
 *   - the envelope holds no NUL byte (qfile_format never writes one, and
 *     a NUL silently cuts a field short);
 *   - there is a qid, a "<...>" sender and at least one recipient, each
 *     with a valid status and class and a "<...>" address;
 *   - the offsets point where the format says: each status byte (and the
 *     class two bytes on), the 20 size digits, and the message just after
 *     "data\n", all inside the input;
 *   - a recipient's retry value, when there is one, is where the format
 *     says (QFILE_RETRY_LEN bytes after its status, inside the envelope);
 *   - the in-place updates the spool and runner make keep the file valid:
 *     marking a recipient delivered (status byte), writing its retry
 *     schedule and writing the size field give back the same envelope
 *     with just that change.
 */
#include <string.h>

#include "fuzz.h"
#include "queue/qfile.h"

/* check_env - invariants of a parsed envelope over p[0..n) */
static void
check_env(const struct qenv *e, const char *p, size_t n)
{
	size_t i;

	FZ_CHECK(e->qid[0] != '\0' && e->from[0] == '<');
	FZ_CHECK(e->nrcpt > 0 && e->rcpts != NULL);
	FZ_CHECK(e->size <= INT64_MAX);
	FZ_CHECK(e->size_off > 0 &&
	    (size_t)e->size_off + QFILE_SIZE_DIGITS <= n);
	for (i = 0; i < QFILE_SIZE_DIGITS; i++)
		FZ_CHECK(p[e->size_off + (off_t)i] >= '0' &&
		    p[e->size_off + (off_t)i] <= '9');
	FZ_CHECK(e->data_off >= 5 && (size_t)e->data_off <= n);
	FZ_CHECK(memcmp(p + e->data_off - 5, "data\n", 5) == 0);
	for (i = 0; i < e->nrcpt; i++) {
		const struct qrcpt *q = &e->rcpts[i];
		size_t al = strlen(q->addr);

		FZ_CHECK(q->status == QR_PENDING || q->status == QR_DONE ||
		    q->status == QR_NOTIFY || q->status == QR_FAILED);
		FZ_CHECK(q->cls == 'L' || q->cls == 'R');
		FZ_CHECK(q->status_off > 0 &&
		    (size_t)q->status_off + 2 < (size_t)e->data_off);
		FZ_CHECK(p[q->status_off] == q->status);
		FZ_CHECK(p[q->status_off + 2] == q->cls);
		FZ_CHECK(q->mailbox[0] != '\0');
		FZ_CHECK(al >= 2 && q->addr[0] == '<' &&
		    q->addr[al - 1] == '>');
		if (q->retry_off == 0) {
			FZ_CHECK(q->attempts == 0 && q->next == 0);
			continue;
		}
		FZ_CHECK(q->retry_off > q->status_off &&
		    (size_t)q->retry_off + QFILE_RETRY_LEN <
		    (size_t)e->data_off);
		FZ_CHECK(memcmp(p + q->retry_off - 6, "retry ", 6) == 0);
		FZ_CHECK(p[q->retry_off + QFILE_RETRY_LEN] == '\n');
		FZ_CHECK(i + 1 == e->nrcpt ||
		    e->rcpts[i + 1].status_off > q->retry_off);
	}
}

/* same_env - two parses agree except where they should not */
static void
same_env(const struct qenv *a, const struct qenv *b, size_t skip_rcpt)
{
	size_t i;

	FZ_CHECK(strcmp(a->qid, b->qid) == 0);
	FZ_CHECK(strcmp(a->from, b->from) == 0);
	FZ_CHECK(strcmp(a->helo, b->helo) == 0);
	FZ_CHECK(strcmp(a->auth, b->auth) == 0);
	FZ_CHECK(a->time == b->time);
	FZ_CHECK(a->size_off == b->size_off && a->data_off == b->data_off);
	FZ_CHECK(a->nrcpt == b->nrcpt);
	for (i = 0; i < a->nrcpt; i++) {
		FZ_CHECK(a->rcpts[i].status_off == b->rcpts[i].status_off);
		FZ_CHECK(strcmp(a->rcpts[i].addr, b->rcpts[i].addr) == 0);
		FZ_CHECK(strcmp(a->rcpts[i].mailbox,
		    b->rcpts[i].mailbox) == 0);
		FZ_CHECK(a->rcpts[i].retry_off == b->rcpts[i].retry_off);
		if (i != skip_rcpt)
			FZ_CHECK(a->rcpts[i].status == b->rcpts[i].status);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct qenv e, e2;
	char err[128], *copy;
	size_t k;
	uint64_t newsize;

	memset(err, 0, sizeof(err));
	if (qfile_parse(p, size, &e, err, sizeof(err)) == -1) {
		FZ_CHECK(err[0] != '\0');
		FZ_CHECK(e.rcpts == NULL && e.nrcpt == 0);
		return 0;
	}
	/* we never write a NUL in an envelope, so none is accepted */
	if (memchr(p, '\0', (size_t)e.data_off) != NULL) {
		fprintf(stderr, "envelope with a NUL byte accepted\n");
		abort();
	}
	check_env(&e, p, size);

	/* the runner marks one recipient done, in place */
	copy = fz_dup(p, size);
	k = size % e.nrcpt;
	copy[e.rcpts[k].status_off] = QR_DONE;
	FZ_CHECK(qfile_parse(copy, size, &e2, err, sizeof(err)) == 0);
	check_env(&e2, copy, size);
	same_env(&e, &e2, k);
	FZ_CHECK(e2.rcpts[k].status == QR_DONE);
	FZ_CHECK(e2.size == e.size);
	qenv_release(&e2);

	/* the runner writes a schedule in place */
	if (e.rcpts[k].retry_off != 0) {
		qfile_retry_field(copy + e.rcpts[k].retry_off,
		    (unsigned)(size * 31u), (time_t)(size * 104729u));
		FZ_CHECK(qfile_parse(copy, size, &e2, err, sizeof(err)) == 0);
		check_env(&e2, copy, size);
		same_env(&e, &e2, k);
		FZ_CHECK(e2.rcpts[k].attempts == (unsigned)(size * 31u));
		FZ_CHECK(e2.rcpts[k].next == (time_t)(size * 104729u));
		qenv_release(&e2);
	}

	/* the spool writes the size last, in place */
	newsize = (uint64_t)size * 7919u;
	qfile_size_field(copy + e.size_off, newsize);
	FZ_CHECK(qfile_parse(copy, size, &e2, err, sizeof(err)) == 0);
	check_env(&e2, copy, size);
	same_env(&e, &e2, k);
	FZ_CHECK(e2.size == newsize);
	qenv_release(&e2);

	free(copy);
	qenv_release(&e);
	return 0;
}

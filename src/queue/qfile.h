/*
 * qfile - the queue file format: one file per message, a text envelope
 * followed by the message itself.
 *
 *   sluice-queue 1
 *   qid 18c2f3a4b5c00001
 *   time 1732464925
 *   session 7f3a2c01
 *   client 192.0.2.7                 "internal": sluiced's own (DSNs)
 *   helo mail.example
 *   proto ESMTP
 *   auth alice                       only when the client authenticated
 *   from <alice@example.org>
 *   body 8BITMIME
 *   warned 0                         1 once the delay warning went out
 *   size 00000000000000004096       fixed width, written last
 *   rcpt P L alice <alice@localhost>     status class mailbox address
 *   retry 0000000000 000000000000        attempts, next attempt (time)
 *   rcpt P R - <bob@example.net>
 *   retry 0000000002 001732465225
 *   data
 *   <message, CRLF line ends>
 *
 * Status is one byte at a known offset, rewritten in place: P pending,
 * D delivered, N failed but the sender not yet notified (its DSN is not
 * committed), F failed and done with (DSN committed, or none is due), so
 * a delivery is recorded without rewriting the file. A recipient's retry
 * line (fixed width, after its rcpt line, rewritten in place too) keeps
 * the retry schedule across restarts; files without one read as never
 * tried. The size field is written after the data, so a file whose
 * length disagrees with it is incomplete and is never delivered.
 *
 * Formatting and parsing are pure (buffers in, buffers out): fuzzable.
 */
#ifndef SLUICE_QFILE_H
#define SLUICE_QFILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "smtp/limits.h"
#include "util/buf.h"

struct tx;

#define QFILE_MAGIC	"sluice-queue 1\n"
#define QFILE_SIZE_DIGITS 20
/* The largest envelope we will read back (100,000 recipients fit). */
#define QFILE_HEADER_MAX (64 * 1024 * 1024)

#define QFILE_TRIES_DIGITS 10
#define QFILE_NEXT_DIGITS 12
/* "AAAAAAAAAA NNNNNNNNNNNN": the retry line's value */
#define QFILE_RETRY_LEN	(QFILE_TRIES_DIGITS + 1 + QFILE_NEXT_DIGITS)

#define QR_PENDING	'P'
#define QR_DONE		'D'
#define QR_NOTIFY	'N'	/* failed, the DSN not yet committed */
#define QR_FAILED	'F'	/* failed, the sender notified (or not due) */

struct qrcpt {
	char	status;
	char	cls;			/* 'L' local, 'R' remote */
	char	mailbox[SMTP_LOCAL_MAX + 1];	/* local only */
	char	addr[SMTP_PATH_MAX + 1];	/* "<user@domain>" */
	off_t	status_off;		/* where status lives in the file */
	unsigned attempts;		/* delivery attempts so far */
	time_t	next;			/* not before this (0: at once) */
	off_t	retry_off;		/* the retry value (0: no such line) */
};

struct qenv {
	char		 qid[32];
	time_t		 time;
	char		 session[24];
	char		 client[64];
	char		 helo[SMTP_HELO_MAX + 1];
	char		 proto[16];
	char		 from[SMTP_PATH_MAX + 1];
	char		 body[16];
	char		 auth[256];	/* authenticated user, or "" */
	uint64_t	 size;		/* message bytes after the header */
	off_t		 size_off;	/* where the size field's digits are */
	off_t		 data_off;	/* where the message starts */
	int		 warned;	/* the delay warning was sent */
	off_t		 warned_off;	/* where its digit is (0: no field) */
	struct qrcpt	*rcpts;		/* owned */
	size_t		 nrcpt;
};

int	qfile_format(struct buf *b, const struct tx *tx, const char *qid,
	    time_t now, const char *session, const char *client,
	    const char *helo, const char *proto, const char *auth,
	    struct qenv *e);
void	qfile_size_field(char *dst, uint64_t size);
void	qfile_retry_field(char *dst, unsigned attempts, time_t next);
int	qenv_internal(const struct qenv *e);
int	qfile_parse(const char *p, size_t n, struct qenv *e, char *err,
	    size_t errsize);
void	qenv_release(struct qenv *e);

#endif

/*
 * qfile - the queue file format: one file per message, a text envelope
 * followed by the message itself.
 *
 *   sluice-queue 1
 *   qid 18c2f3a4b5c00001
 *   time 1732464925
 *   session 7f3a2c01
 *   client 192.0.2.7
 *   helo mail.example
 *   proto ESMTP
 *   auth alice                       only when the client authenticated
 *   from <alice@example.org>
 *   body 8BITMIME
 *   warned 0                         1 once the delay warning went out
 *   size 00000000000000004096       fixed width, written last
 *   rcpt P L alice <alice@localhost>     status class mailbox address
 *   rcpt P R - <bob@example.net>
 *   data
 *   <message, CRLF line ends>
 *
 * Status is one byte at a known offset, rewritten in place: P pending,
 * D delivered, F failed (bounced), so a delivery is recorded without
 * rewriting the file. The size field is written after the data, so a file
 * whose length disagrees with it is incomplete and is never delivered.
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

#define QR_PENDING	'P'
#define QR_DONE		'D'
#define QR_FAILED	'F'

struct qrcpt {
	char	status;
	char	cls;			/* 'L' local, 'R' remote */
	char	mailbox[SMTP_LOCAL_MAX + 1];	/* local only */
	char	addr[SMTP_PATH_MAX + 1];	/* "<user@domain>" */
	off_t	status_off;		/* where status lives in the file */
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
int	qfile_parse(const char *p, size_t n, struct qenv *e, char *err,
	    size_t errsize);
void	qenv_release(struct qenv *e);

#endif

#include <stdio.h>
#include <string.h>

#include "queue/bounce.h"
#include "queue/qfile.h"
#include "smtp/reply.h"
#include "util/str.h"

/*
 * dsn_status_from_reply - the RFC 3463 status for a recipient: the
 * enhanced code in the remote reply ("550 5.1.1 ..."), else a generic one.
 */
void
dsn_status_from_reply(const char *why, int perm, char *dst, size_t dstsize)
{
	const char *p = why;

	/* our own reasons start with the enhanced code: "5.4.6 mail loop" */
	if (reply_parse_enh(why, strlen(why), dst, dstsize) > 0 &&
	    dst[0] == (perm ? '5' : '4'))
		return;
	/* "... said: 550 5.1.1 text": find a reply code, then its enh code */
	while (p && *p) {
		if (p[0] >= '2' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9' &&
		    p[2] >= '0' && p[2] <= '9' && p[3] == ' ' &&
		    (p == why || p[-1] == ' ') &&
		    reply_parse_enh(p + 4, strlen(p + 4), dst, dstsize) > 0 &&
		    dst[0] == (perm ? '5' : '4'))
			return;
		p = strchr(p + 1, ' ');
		if (p)
			p++;
	}
	str_copy(dst, dstsize, perm ? "5.0.0" : "4.0.0");
}

/* put_clean - header-safe text: no CR/LF, printable ASCII only */
static int
put_clean(struct buf *b, const char *s)
{
	int r = 0;

	for (; *s; s++)
		r |= buf_putc(b, (*s < ' ' || *s > '~') ? '?' : *s);
	return r;
}

/* bare - "<a@b>" -> "a@b" (for rfc822; addresses) */
static void
bare(const char *addr, char *dst, size_t dstsize)
{
	size_t n = strlen(addr);

	if (n >= 2 && addr[0] == '<' && addr[n - 1] == '>')
		str_ncopy(dst, dstsize, addr + 1, n - 2);
	else
		str_copy(dst, dstsize, addr);
}

/*
 * dsn_compose - the whole DSN message (headers and body, CRLF) into b:
 * a text part for people, the message/delivery-status part, and the
 * original headers (text/rfc822-headers: the content is not sent back,
 * which keeps backscatter small). 0, or -1 if b's cap was hit.
 */
int
dsn_compose(struct buf *b, enum dsn_kind kind, const struct qenv *e,
    const struct dsn_rcpt *rcpts, size_t n, const char *hostname,
    const char *headers, size_t hlen, time_t now, const char *boundary)
{
	char date[64], arrival[64], to[SMTP_PATH_MAX + 1], a[SMTP_PATH_MAX + 1];
	size_t i;
	int r = 0;

	str_rfc5322_date(date, sizeof(date), now);
	str_rfc5322_date(arrival, sizeof(arrival), e->time);
	bare(e->from, to, sizeof(to));
	r |= buf_printf(b, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n"
	    "To: <%s>\r\nSubject: %s\r\nDate: %s\r\n"
	    "Message-ID: <%s.%lld.dsn@%s>\r\nAuto-Submitted: auto-replied\r\n"
	    "MIME-Version: 1.0\r\nContent-Type: multipart/report; "
	    "report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n\r\n"
	    "This is a MIME-encapsulated message.\r\n\r\n--%s\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n\r\n",
	    hostname, to, kind == DSN_FAILED ?
	    "Undelivered Mail Returned to Sender" :
	    "Delayed Mail (still being retried)", date, e->qid,
	    (long long)now, hostname, boundary, boundary);
	if (kind == DSN_FAILED)
		r |= buf_printf(b, "This is the mail system at host %s.\r\n\r\n"
		    "Your message could not be delivered to one or more "
		    "recipients.\r\nIt is attached below (headers only).\r\n\r\n",
		    hostname);
	else
		r |= buf_printf(b, "This is the mail system at host %s.\r\n\r\n"
		    "Your message has not been delivered yet to the recipients "
		    "below.\r\nThe mail system will keep trying; you do not "
		    "need to send it again.\r\n\r\n", hostname);
	for (i = 0; i < n; i++) {
		r |= buf_printf(b, "%s: ", rcpts[i].addr);
		r |= put_clean(b, rcpts[i].diag);
		r |= buf_puts(b, "\r\n");
	}
	r |= buf_printf(b, "\r\n--%s\r\nContent-Type: message/delivery-status"
	    "\r\n\r\nReporting-MTA: dns; %s\r\nX-Sluice-Queue-ID: %s\r\n"
	    "Arrival-Date: %s\r\n", boundary, hostname, e->qid, arrival);
	for (i = 0; i < n; i++) {
		bare(rcpts[i].addr, a, sizeof(a));
		r |= buf_printf(b, "\r\nFinal-Recipient: rfc822; %s\r\n"
		    "Action: %s\r\nStatus: %s\r\n", a, kind == DSN_FAILED ?
		    "failed" : "delayed", rcpts[i].status);
		if (rcpts[i].remote_mta && *rcpts[i].remote_mta) {
			r |= buf_puts(b, "Remote-MTA: dns; ");
			r |= put_clean(b, rcpts[i].remote_mta);
			r |= buf_puts(b, "\r\n");
		}
		r |= buf_puts(b, "Diagnostic-Code: smtp; ");
		r |= put_clean(b, rcpts[i].diag);
		r |= buf_puts(b, "\r\n");
	}
	r |= buf_printf(b, "\r\n--%s\r\nContent-Type: text/rfc822-headers\r\n"
	    "\r\n", boundary);
	r |= buf_append(b, headers, hlen);
	if (hlen < 2 || headers[hlen - 2] != '\r' || headers[hlen - 1] != '\n')
		r |= buf_puts(b, "\r\n");
	r |= buf_printf(b, "\r\n--%s--\r\n", boundary);
	return r ? -1 : 0;
}

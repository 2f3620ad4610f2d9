/*
 * limits - every protocol limit of sluice in one place, with its source.
 *
 * RFC 5321 section 4.5.3 sets minimums that a server must accept; where a
 * limit here is larger, the comment says why. Configurable limits (message
 * size, recipients, errors, timeouts, sessions) have their defaults here and
 * their bounds in conf/conf.c.
 */
#ifndef SLUICE_LIMITS_H
#define SLUICE_LIMITS_H

/* 4.5.3.1.1: local-part at most 64 octets. */
#define SMTP_LOCAL_MAX		64
/* 4.5.3.1.2: domain at most 255 octets. */
#define SMTP_DOMAIN_MAX		255
/* 4.5.3.1.3: reverse-path/forward-path at most 256 octets with "<>". */
#define SMTP_PATH_MAX		256
/* 4.5.3.1.4: command line at most 512 octets including CRLF. */
#define SMTP_CMDLINE_MAX	512
/*
 * RFC 1869 section 4.1.2 (and 5321 4.5.3.1.4): each ESMTP extension may
 * add to the MAIL/RCPT line; we allow SIZE, BODY and a few more.
 */
#define SMTP_CMDLINE_EXT_MAX	1024
/* RFC 4954 4: an AUTH command or response line, up to 12288 octets. */
#define SMTP_AUTHLINE_MAX	12288
/* 4.5.3.1.5: reply line at most 512 octets including CRLF. */
#define SMTP_REPLYLINE_MAX	512
/* 4.5.3.1.6: text line at most 1000 octets including CRLF. */
#define SMTP_TEXTLINE_MAX	1000
/* 4.5.3.1.8: at least 100 recipients must be buffered. */
#define SMTP_RCPT_DEFAULT	100
/* 4.5.3.1.10: 452 for too many recipients, client retries the rest. */

/* 4.5.3.2.7: server timeout awaiting the next command, 5 minutes. */
#define SMTP_IDLE_TIMEOUT	300
/* 4.5.3.2.4: DATA block timeout 3 minutes (between blocks of data). */
#define SMTP_DATA_TIMEOUT	180

/* Not from the RFC: our defaults. */
#define SMTP_MSGSIZE_DEFAULT	(25 * 1024 * 1024)
#define SMTP_ERRORS_DEFAULT	20	/* Postfix's hard error limit */
#define SMTP_SESSIONS_DEFAULT	10000
#define SMTP_SESSIONS_PER_IP	100
#define SMTP_HELO_MAX		255	/* a domain or an address literal */
/* A multi-line reply (EHLO, HELP) never needs more than this. */
#define SMTP_REPLY_MAX		4096

#endif

/*
 * mkseeds - the seeds that must come from sluice's own code, so that they
 * stay valid as the code changes:
 *   - queue files made by qfile_format exactly as the spool makes them
 *     (envelope, message, then the size field written in place);
 *   - the default configuration as conf_print writes it (`sluiced -p`).
 *
 * Usage: mkseeds CORPUSDIR   (writes CORPUSDIR/qfile/valid-*.qf and
 * CORPUSDIR/conf/printed-defaults)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "policy/policy.h"
#include "queue/qfile.h"
#include "smtp/addr.h"
#include "smtp/tx.h"
#include "util/buf.h"
#include "util/str.h"

/* rcpt - add a recipient, parsed from its path */
static void
rcpt(struct tx *t, const char *path, enum rcpt_class cls, const char *mb)
{
	struct verdict v;
	size_t used;

	memset(&v, 0, sizeof(v));
	if (addr_parse_path(path, strlen(path), ADDR_ALLOW_POSTMASTER,
	    &v.resolved, &used) != ADDR_OK)
		abort();
	v.kind = POLICY_ACCEPT;
	v.cls = cls;
	str_copy(v.mailbox, sizeof(v.mailbox), mb);
	str_copy(v.rule, sizeof(v.rule), "seed");
	tx_add_rcpt(t, &v);
}

/* write_one - format tx and a message into dir/name */
static void
write_one(const char *dir, const char *name, struct tx *t, const char *helo,
    const char *proto, const char *auth, const char *msg)
{
	struct qenv e;
	struct buf b;
	char path[512];
	FILE *f;

	buf_init(&b, 1 << 20);
	if (qfile_format(&b, t, "18c2f3a4b5c00001", 1732464925, "7f3a2c01",
	    "192.0.2.7", helo, proto, auth, &e) == -1 ||
	    buf_puts(&b, msg) == -1)
		abort();
	qfile_size_field(b.data + e.size_off, strlen(msg));
	snprintf(path, sizeof(path), "%s/qfile/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL ||
	    fwrite(b.data, 1, b.len, f) != b.len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
	qenv_release(&e);
	buf_release(&b);
}

/* print_defaults - conf_print of the built-in configuration */
static void
print_defaults(const char *dir)
{
	struct conf *c = conf_default();
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/conf/printed-defaults", dir);
	if ((f = fopen(path, "w")) == NULL) {
		perror(path);
		exit(1);
	}
	conf_print(c, f);
	if (fclose(f) != 0) {
		perror(path);
		exit(1);
	}
	conf_free(c);
}

int
main(int argc, char **argv)
{
	struct mail_params mp = { 0, BODY_8BITMIME, 0 };
	struct addr from;
	struct tx *t;
	size_t used;

	if (argc != 2) {
		fprintf(stderr, "usage: mkseeds CORPUSDIR\n");
		return 2;
	}
	print_defaults(argv[1]);
	if (addr_parse_path("<alice@example.org>", 19, ADDR_ALLOW_NULL, &from,
	    &used) != ADDR_OK)
		abort();

	t = tx_new(&from, &mp, 1732464925);
	rcpt(t, "<alice@localhost>", RCPT_LOCAL, "alice");
	rcpt(t, "<bob@example.net>", RCPT_REMOTE, "");
	rcpt(t, "<\"odd user\"@[192.0.2.1]>", RCPT_LOCAL, "odd");
	write_one(argv[1], "valid-3rcpt.qf", t, "mail.example", "ESMTPSA",
	    "alice",
	    "Subject: hi\r\n\r\nHello.\r\n.a line that began with a dot\r\n");
	tx_free(t);

	memset(&mp, 0, sizeof(mp));
	if (addr_parse_path("<>", 2, ADDR_ALLOW_NULL, &from, &used) !=
	    ADDR_OK)
		abort();
	t = tx_new(&from, &mp, 1732464925);
	rcpt(t, "<postmaster>", RCPT_LOCAL, "postmaster");
	write_one(argv[1], "valid-bounce.qf", t, "", "ESMTP", NULL,
	    "From: MAILER-DAEMON\r\n\r\nbounce\r\n");
	tx_free(t);
	return 0;
}

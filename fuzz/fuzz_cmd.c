/*
 * fuzz_cmd - command lines, src/smtp/cmd.c.
 *
 * The input is one command line without its CRLF, as the framer hands it
 * to the command table. cmd_split cuts it, then MAIL, RCPT and HELO
 * argument parsing run on its argument whatever the verb was (so every
 * parser sees every argument), and once more on the raw line.
 * Invariants: the argument lies inside the line; an error is a complete
 * 5xx reply with an enhanced code of the same class; a parsed address
 * obeys the limits of RFC 5321 4.5.3.1; a HELO name is copied whole,
 * within dstsize, without control bytes or spaces.
 */
#include <string.h>

#include "fuzz.h"
#include "smtp/cmd.h"

/* check_err - a parse error is a full 5xx reply */
static void
check_err(const struct cmd_err *e)
{
	FZ_CHECK(e->code >= 500 && e->code <= 599);
	FZ_CHECK(e->enh != NULL && e->enh[0] == '5' && e->enh[1] == '.');
	FZ_CHECK(memchr(e->text, '\0', sizeof(e->text)) != NULL);
	FZ_CHECK(e->text[0] != '\0');
}

/* check_addr - the RFC 5321 limits on a parsed path */
static void
check_addr(const struct addr *a)
{
	FZ_CHECK(memchr(a->local, '\0', sizeof(a->local)) != NULL);
	FZ_CHECK(memchr(a->domain, '\0', sizeof(a->domain)) != NULL);
	FZ_CHECK(strlen(a->local) <= SMTP_LOCAL_MAX);
	FZ_CHECK(strlen(a->domain) <= SMTP_DOMAIN_MAX);
}

/* parse_all - the three argument parsers on arg[0..n) */
static void
parse_all(const char *arg, size_t n, size_t small)
{
	struct mail_params mp;
	struct cmd_err e;
	struct addr a;
	char helo[SMTP_HELO_MAX + 1], *tiny;
	size_t i;

	memset(&e, 0, sizeof(e));
	if (cmd_parse_mail(arg, n, &a, &mp, &e) == 0) {
		check_addr(&a);
		FZ_CHECK(mp.body == BODY_NONE || mp.body == BODY_7BIT ||
		    mp.body == BODY_8BITMIME);
		FZ_CHECK(!(a.flags & ADDR_POSTMASTER));
	} else
		check_err(&e);

	memset(&e, 0, sizeof(e));
	if (cmd_parse_rcpt(arg, n, &a, &e) == 0) {
		check_addr(&a);
		FZ_CHECK(!(a.flags & ADDR_NULL));
	} else
		check_err(&e);

	memset(&e, 0, sizeof(e));
	if (cmd_parse_helo(arg, n, helo, sizeof(helo), &e) == 0) {
		size_t w = strlen(helo);

		FZ_CHECK(w > 0 && w <= SMTP_HELO_MAX && w <= n);
		FZ_CHECK(memcmp(helo, arg, w) == 0);
		FZ_CHECK(w == n || arg[w] == ' ');
		for (i = 0; i < w; i++)
			FZ_CHECK((unsigned char)helo[i] > ' ' &&
			    (unsigned char)helo[i] < 0x7f);
	} else
		check_err(&e);

	/* a destination of exactly `small` bytes: ASan sees any overflow */
	tiny = malloc(small);
	if (tiny == NULL)
		abort();
	memset(tiny, 'x', small);
	memset(&e, 0, sizeof(e));
	if (cmd_parse_helo(arg, n, tiny, small, &e) == 0)
		FZ_CHECK(strlen(tiny) < small);
	else
		check_err(&e);
	free(tiny);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *line = (const char *)data;
	struct cmd c;

	cmd_split(line, size, &c);
	FZ_CHECK(c.arg >= line && c.arg <= line + size);
	FZ_CHECK(c.arglen <= size && c.arg + c.arglen <= line + size);
	FZ_CHECK((c.verb == CMD_UNKNOWN) == (c.name == NULL));
	if (c.arglen > 0) {
		FZ_CHECK(c.arg[0] != ' ');
		FZ_CHECK(c.arg[c.arglen - 1] != ' ' &&
		    c.arg[c.arglen - 1] != '\t');
	}
	parse_all(c.arg, c.arglen, 1 + size % 16);
	parse_all(line, size, 1 + size % 7);
	return 0;
}

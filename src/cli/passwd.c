/*
 * passwd (cli) - `sluice passwd [USER]`: read a password (twice, without
 * echo, on a terminal; once from a pipe) and print its crypt(3) hash, or
 * the "USER:hash" line for auth.passwd_file.
 */
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/passwd.h"
#include "server/passwd.h"

/* read_pw - one line from stdin, without echo on a terminal */
static int
read_pw(const char *prompt, char *dst, size_t dstsize)
{
	struct termios old, noecho;
	int tty = isatty(0);
	size_t n;

	if (tty) {
		fputs(prompt, stderr);
		tcgetattr(0, &old);
		noecho = old;
		noecho.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(0, TCSAFLUSH, &noecho);
	}
	if (fgets(dst, (int)dstsize, stdin) == NULL)
		dst[0] = '\0';
	if (tty) {
		tcsetattr(0, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	n = strlen(dst);
	if (n > 0 && dst[n - 1] == '\n')
		dst[--n] = '\0';
	else if (n == dstsize - 1)
		return -1;	/* too long */
	return 0;
}

int
cmd_passwd(int argc, char **argv)
{
	char pw[256], again[256], hash[512];

	if (argc > 2) {
		fprintf(stderr, "usage: sluice passwd [USER]\n");
		return 2;
	}
	if (read_pw("Password: ", pw, sizeof(pw)) == -1 || pw[0] == '\0') {
		fprintf(stderr, "sluice passwd: empty or over-long password\n");
		return 1;
	}
	if (isatty(0)) {
		read_pw("Again: ", again, sizeof(again));
		if (strcmp(pw, again) != 0) {
			fprintf(stderr, "sluice passwd: they differ\n");
			return 1;
		}
	}
	if (passwd_make(pw, hash, sizeof(hash)) == -1) {
		fprintf(stderr, "sluice passwd: crypt failed\n");
		return 1;
	}
	explicit_bzero(pw, sizeof(pw));
	explicit_bzero(again, sizeof(again));
	if (argc == 2)
		printf("%s:%s\n", argv[1], hash);
	else
		printf("%s\n", hash);
	return 0;
}

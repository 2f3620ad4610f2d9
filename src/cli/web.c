#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/web.h"
#include "conf/conf.h"
#include "server/passwd.h"
#include "util/log.h"
#include "util/str.h"
#include "web/store.h"
#include "web/web.h"

static void
usage(void)
{
	fprintf(stderr,
"usage: sluice web [-c FILE]                run the web relay tester\n"
"       sluice web [-c FILE] user add NAME  add (or re-set) an account;\n"
"                                           the password is read on stdin\n"
"       sluice web [-c FILE] user del NAME\n"
"       sluice web [-c FILE] user list\n");
	exit(2);
}

static void
print_user(void *arg, const char *name)
{
	(void)arg;
	printf("%s\n", name);
}

/* users - account management on the database */
static int
users(struct conf *cf, int argc, char **argv)
{
	struct store *st;
	char err[512], pw[256], hash[512];
	int rc = 0;
	size_t n;

	if (argc < 1)
		usage();
	if ((st = store_open(cf->web_database, err, sizeof(err))) == NULL) {
		fprintf(stderr, "sluice web: %s\n", err);
		return 1;
	}
	if (strcmp(argv[0], "list") == 0)
		store_users(st, print_user, NULL);
	else if (strcmp(argv[0], "add") == 0 && argc == 2) {
		if (isatty(0))
			fprintf(stderr, "Password for %s: ", argv[1]);
		if (fgets(pw, sizeof(pw), stdin) == NULL) {
			fprintf(stderr, "sluice web: no password given\n");
			rc = 1;
		} else {
			n = strlen(pw);
			if (n > 0 && pw[n - 1] == '\n')
				pw[--n] = '\0';
			if (n == 0 || strlen(argv[1]) > 63 ||
			    strpbrk(argv[1], " \t:") != NULL) {
				fprintf(stderr, "sluice web: bad user name or "
				    "empty password\n");
				rc = 1;
			} else if (passwd_make(pw, hash, sizeof(hash)) == -1 ||
			    store_user_put(st, argv[1], hash) == -1) {
				fprintf(stderr, "sluice web: cannot store the "
				    "account\n");
				rc = 1;
			} else
				printf("user %s saved\n", argv[1]);
			explicit_bzero(pw, sizeof(pw));
		}
	} else if (strcmp(argv[0], "del") == 0 && argc == 2) {
		int r = store_user_del(st, argv[1]);

		if (r != 0) {
			fprintf(stderr, "sluice web: no user %s\n", argv[1]);
			rc = 1;
		} else
			printf("user %s deleted\n", argv[1]);
	} else
		usage();
	store_close(st);
	return rc;
}

/* cmd_web - `sluice web ...` */
int
cmd_web(int argc, char **argv)
{
	const char *path = NULL;
	struct conf *cf;
	int ch, rc;

	optind = 1;
	while ((ch = getopt(argc, argv, "c:")) != -1) {
		if (ch == 'c')
			path = optarg;
		else
			usage();
	}
	cf = path ? conf_load(path, stderr) : conf_default();
	if (cf == NULL) {
		fprintf(stderr, "sluice web: %s has errors\n", path);
		return 2;
	}
	if (optind < argc) {
		if (strcmp(argv[optind], "user") != 0)
			usage();
		rc = users(cf, argc - optind - 1, argv + optind + 1);
		conf_free(cf);
		return rc;
	}
	log_open("sluice-web", cf->log);
	rc = web_main(cf);
	conf_free(cf);
	return rc;
}

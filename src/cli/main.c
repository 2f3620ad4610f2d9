/*
 * sluice - the administrator's tool. See sluice(1).
 */
#include <stdio.h>
#include <string.h>

#include "cli/admin.h"
#include "cli/explain.h"
#include "cli/passwd.h"
#include "cli/probe.h"
#include "cli/queue.h"
#include "cli/report.h"
#include "cli/web.h"
#include "conf/conf.h"

#define VERSION	"0.1"

static int
usage(void)
{
	fprintf(stderr,
	    "usage: sluice COMMAND [ARGS]\n"
	    "commands:\n"
	    "  policy explain --client IP [--helo NAME] [--auth USER]\n"
	    "                 [--from ADDR] --to ADDR... [-c FILE]\n"
	    "                       show the relay decision for an envelope\n"
	    "  probe [OPTIONS] TARGET...\n"
	    "                       test mail servers for open relaying\n"
	    "  queue [list|show ID|hold|release|delete|flush] [SELECTORS]\n"
	    "                       inspect and control the running queue\n"
	    "  stats [--json]       the running server's counters and actions\n"
	    "  list add|del|show allow|deny [TYPE] PATTERN [--expires D]\n"
	    "                       [--reason TEXT]  runtime allow/deny lists\n"
	    "  report LOGFILE...    a summary of sluiced's logs [--json]\n"
	    "  web [user add|del|list NAME]  the web relay tester (see "
	    "sluice-web(1))\n"
	    "  passwd [USER]        hash a password for auth.passwd_file\n"
	    "  check-config [FILE]  check a sluiced configuration file\n"
	    "  version              print the version\n");
	return 2;
}

/* check_config - `sluice check-config [FILE]` */
static int
check_config(int argc, char **argv)
{
	struct conf *c;

	if (argc > 2)
		return usage();
	c = argc == 2 ? conf_load(argv[1], stderr) : conf_default();
	if (c == NULL) {
		fprintf(stderr, "sluice: %s has errors\n", argv[1]);
		return 1;
	}
	printf("%s: ok\n", argc == 2 ? argv[1] : "built-in configuration");
	conf_free(c);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	if (strcmp(argv[1], "policy") == 0)
		return cmd_policy(argc - 1, argv + 1);
	if (strcmp(argv[1], "probe") == 0)
		return cmd_probe(argc - 1, argv + 1);
	if (strcmp(argv[1], "queue") == 0)
		return cmd_queue(argc - 1, argv + 1);
	if (strcmp(argv[1], "stats") == 0)
		return cmd_stats(argc - 1, argv + 1);
	if (strcmp(argv[1], "list") == 0)
		return cmd_list(argc - 1, argv + 1);
	if (strcmp(argv[1], "report") == 0)
		return cmd_report(argc - 1, argv + 1);
	if (strcmp(argv[1], "web") == 0)
		return cmd_web(argc - 1, argv + 1);
	if (strcmp(argv[1], "passwd") == 0)
		return cmd_passwd(argc - 1, argv + 1);
	if (strcmp(argv[1], "check-config") == 0)
		return check_config(argc - 1, argv + 1);
	if (strcmp(argv[1], "version") == 0) {
		printf("sluice %s\n", VERSION);
		return 0;
	}
	return usage();
}

/*
 * report (cli) - `sluice report LOGFILE...`: the admin's daily summary of
 * sluiced's key=value log, as pflogsumm gives for Postfix.
 */
#ifndef SLUICE_CLI_REPORT_H
#define SLUICE_CLI_REPORT_H

#include <stddef.h>

struct logline {
	char	*keys[48];
	char	*vals[48];
	size_t	 n;
	char	 stamp[40];
};

int	cmd_report(int argc, char **argv);
int	logline_parse(char *line, struct logline *l);
const char *logline_get(const struct logline *l, const char *key);

#endif

/*
 * queue (cli) - `sluice queue`: list and control sluiced's queue through
 * its control socket.
 */
#ifndef SLUICE_CLI_QUEUE_H
#define SLUICE_CLI_QUEUE_H

#include <stddef.h>

int	cmd_queue(int argc, char **argv);
char	*cli_control_path(const char *config, const char *socket, char *dst,
	    size_t dstsize);
int	cli_call(const char *prog, const char *config, const char *socket,
	    const char *request, char **reply);

#endif

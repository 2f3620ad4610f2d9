/*
 * queue (cli) - `sluice queue`: list and control sluiced's queue through
 * its control socket.
 */
#ifndef SLUICE_CLI_QUEUE_H
#define SLUICE_CLI_QUEUE_H

int	cmd_queue(int argc, char **argv);
char	*cli_control_path(const char *config, const char *socket, char *dst,
	    size_t dstsize);

#endif

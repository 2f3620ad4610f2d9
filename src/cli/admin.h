/*
 * admin (cli) - `sluice stats` and `sluice list`: the running server's
 * counters, and its runtime allow/deny lists, through the control socket.
 */
#ifndef SLUICE_CLI_ADMIN_H
#define SLUICE_CLI_ADMIN_H

int	cmd_stats(int argc, char **argv);
int	cmd_list(int argc, char **argv);

#endif

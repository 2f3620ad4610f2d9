/*
 * probe (cli) - `sluice probe`: options, target lists, output, exit status.
 */
#ifndef SLUICE_CLI_PROBE_H
#define SLUICE_CLI_PROBE_H

int	cmd_probe(int argc, char **argv);

#endif

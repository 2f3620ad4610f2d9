/* web (cli) - `sluice web`: run the web relay tester; manage its users. */
#ifndef SLUICE_CLI_WEB_H
#define SLUICE_CLI_WEB_H

int	cmd_web(int argc, char **argv);

#endif

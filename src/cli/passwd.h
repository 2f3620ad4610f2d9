/* passwd (cli) - `sluice passwd`: make a crypt(3) hash for auth. */
#ifndef SLUICE_CLI_PASSWD_H
#define SLUICE_CLI_PASSWD_H

int	cmd_passwd(int argc, char **argv);

#endif

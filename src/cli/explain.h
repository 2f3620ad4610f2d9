/*
 * explain - `sluice policy explain`: the relay decision for one envelope,
 * step by step, from the configuration alone (no running server).
 */
#ifndef SLUICE_EXPLAIN_H
#define SLUICE_EXPLAIN_H

int	cmd_policy(int argc, char **argv);

#endif

/*
 * fs - small file-system helpers.
 */
#ifndef SLUICE_FS_H
#define SLUICE_FS_H

#include <sys/types.h>

int	fs_mkdir_p(const char *path, mode_t mode);

#endif

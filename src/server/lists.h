/*
 * lists - the runtime allow/deny lists on disk (SPOOL_DIR/lists), so they
 * survive a restart. Each change rewrites the file (temporary file,
 * fsync, rename). One entry per line:
 *   allow|deny TYPE PATTERN EXPIRES ADDED REASON...
 */
#ifndef SLUICE_LISTS_H
#define SLUICE_LISTS_H

#include <stddef.h>

struct dynlist;

int	lists_load(const char *path, struct dynlist *d, char *err,
	    size_t errsize);
int	lists_save(const char *path, const struct dynlist *d, char *err,
	    size_t errsize);

#endif

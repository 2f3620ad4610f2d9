#include <errno.h>
#include <sys/stat.h>

#include "util/fs.h"
#include "util/str.h"

/*
 * fs_mkdir_p - create path and its missing parents (parents 0755, path
 * itself mode). 0, or -1 with errno.
 */
int
fs_mkdir_p(const char *path, mode_t mode)
{
	char tmp[4096];
	char *p;

	if (str_copy(tmp, sizeof(tmp), path) == -1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = tmp + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			if (mkdir(tmp, 0755) == -1 && errno != EEXIST)
				return -1;
			*p = '/';
		}
	if (mkdir(tmp, mode) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

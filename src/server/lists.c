#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/dynlist.h"
#include "server/lists.h"
#include "util/str.h"

/* lists_load - read the file (a missing file is an empty list). 0 or -1 */
int
lists_load(const char *path, struct dynlist *d, char *err, size_t errsize)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	unsigned n = 0;

	if (f == NULL) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errsize, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		struct dl_entry e;
		char kind[8], type[16], pat[300], e2[300];
		long long exp, added;
		int off = 0;
		char *nl;

		n++;
		if ((nl = strchr(line, '\n')) != NULL)
			*nl = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		memset(&e, 0, sizeof(e));
		if (sscanf(line, "%7s %15s %299s %lld %lld %n", kind, type, pat,
		    &exp, &added, &off) < 5 || (strcmp(kind, "allow") &&
		    strcmp(kind, "deny")) || dynlist_parse_type(type,
		    &e.type) == -1) {
			snprintf(err, errsize, "%s:%u: bad entry", path, n);
			fclose(f);
			return -1;
		}
		e.kind = kind[0] == 'a' ? DL_ALLOW : DL_DENY;
		str_copy(e.pattern, sizeof(e.pattern), pat);
		e.expires = (time_t)exp;
		e.added = (time_t)added;
		str_copy(e.reason, sizeof(e.reason), off ? line + off : "");
		if (dynlist_add(d, &e, e2, sizeof(e2)) == -1) {
			snprintf(err, errsize, "%s:%u: %s", path, n, e2);
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	return 0;
}

/* lists_save - write every entry durably. 0 or -1 */
int
lists_save(const char *path, const struct dynlist *d, char *err,
    size_t errsize)
{
	char tmp[4200];
	FILE *f;
	size_t i;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1 || (f = fdopen(fd, "w")) == NULL) {
		snprintf(err, errsize, "%s: %s", tmp, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	fprintf(f, "# sluiced runtime lists (sluice list); rewritten on "
	    "every change\n");
	for (i = 0; i < dynlist_count(d); i++) {
		const struct dl_entry *e = dynlist_entry(d, i);
		char reason[sizeof(e->reason)];
		size_t k;

		/* a reason is one line of text */
		str_copy(reason, sizeof(reason), e->reason);
		for (k = 0; reason[k]; k++)
			if (reason[k] < ' ')
				reason[k] = ' ';
		fprintf(f, "%s %s %s %lld %lld %s\n", e->kind == DL_ALLOW ?
		    "allow" : "deny", dynlist_type_name(e->type), e->pattern,
		    (long long)e->expires, (long long)e->added, reason);
	}
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		snprintf(err, errsize, "%s: %s", tmp, strerror(errno));
		fclose(f);
		unlink(tmp);
		return -1;
	}
	fclose(f);
	if (rename(tmp, path) == -1) {
		snprintf(err, errsize, "%s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

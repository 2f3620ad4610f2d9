#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/passwd.h"
#include "util/hmap.h"
#include "util/str.h"
#include "util/xalloc.h"

struct passwd_db {
	struct hmap	*users;		/* lower-case user -> hash (owned) */
};

/* A hash of a random password, verified for unknown users so that a
 * failure takes as long whether or not the user exists. Made once, on
 * the loop thread, by the first passwd_load(). */
static char dummy[256];

/* passwd_free - free the table */
void
passwd_free(struct passwd_db *db)
{
	size_t pos = 0;
	const char *k;
	void *v;

	if (db == NULL)
		return;
	while (hmap_iter(db->users, &pos, &k, &v))
		free(v);
	hmap_free(db->users);
	free(db);
}

/* passwd_load - the whole file, or NULL with the first problem in err */
struct passwd_db *
passwd_load(const char *path, char *err, size_t errsize)
{
	struct passwd_db *db = xcalloc(1, sizeof(*db));
	FILE *f = fopen(path, "r");
	char line[2048];
	unsigned lineno = 0;

	db->users = hmap_new();
	if (dummy[0] == '\0') {
		char pw[32];

		snprintf(pw, sizeof(pw), "%08x%08x", arc4random(), arc4random());
		if (passwd_make(pw, dummy, sizeof(dummy)) == -1)
			str_copy(dummy, sizeof(dummy), "*");
	}
	if (f == NULL) {
		snprintf(err, errsize, "%s: cannot read", path);
		passwd_free(db);
		return NULL;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *colon, *hash, *end;

		lineno++;
		end = line + strlen(line);
		while (end > line && (end[-1] == '\n' || end[-1] == '\r'))
			*--end = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		colon = strchr(line, ':');
		if (colon == NULL || colon == line || colon[1] != '$') {
			snprintf(err, errsize, "%s:%u: want user:$id$...hash",
			    path, lineno);
			fclose(f);
			passwd_free(db);
			return NULL;
		}
		*colon = '\0';
		hash = colon + 1;
		/* extra fields after the hash are ignored, as in shadow */
		if ((end = strchr(hash, ':')) != NULL)
			*end = '\0';
		str_lower(line);
		free(hmap_get(db->users, line));
		hmap_put(db->users, line, xstrdup(hash));
	}
	fclose(f);
	return db;
}

/* passwd_hash - the user's hash, or a dummy one (never NULL) */
const char *
passwd_hash(const struct passwd_db *db, const char *user)
{
	char key[256];
	const char *h;

	if (db == NULL || str_copy(key, sizeof(key), user) == -1)
		return dummy;
	str_lower(key);
	h = hmap_get(db->users, key);
	return h ? h : dummy;
}

/* passwd_count - users in the table */
size_t
passwd_count(const struct passwd_db *db)
{
	return db ? hmap_count(db->users) : 0;
}

/* passwd_verify - does pass match hash? (slow; thread-safe) 1 or 0 */
int
passwd_verify(const char *hash, const char *pass)
{
	struct crypt_data *cd = xcalloc(1, sizeof(*cd));
	const char *out = crypt_r(pass, hash, cd);
	size_t n = strlen(hash), i;
	unsigned char diff = 0;
	int ok;

	if (hash == dummy || out == NULL || out[0] == '*' ||
	    strlen(out) != n) {
		explicit_bzero(cd, sizeof(*cd));
		free(cd);
		return 0;
	}
	for (i = 0; i < n; i++)
		diff |= (unsigned char)(out[i] ^ hash[i]);
	ok = diff == 0;
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ok;
}

/* passwd_make - a yescrypt hash of pass (libcrypt's preferred method) */
int
passwd_make(const char *pass, char *dst, size_t dstsize)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd = xcalloc(1, sizeof(*cd));
	const char *out;
	int rc = -1;

	if (crypt_gensalt_rn(NULL, 0, NULL, 0, salt, sizeof(salt)) != NULL &&
	    (out = crypt_r(pass, salt, cd)) != NULL && out[0] != '*')
		rc = str_copy(dst, dstsize, out);
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return rc;
}

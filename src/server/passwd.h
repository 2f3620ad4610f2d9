/*
 * passwd - the "user:hash" credentials file, hashes as in /etc/shadow
 * (yescrypt, bcrypt, sha512-crypt... whatever libcrypt knows).
 *
 * passwd_load reads the whole file or nothing: a file that cannot be read
 * or has a bad line is refused (fail closed), and on SIGHUP the old table
 * stays in use when the new file is bad. Lookups run on the event loop;
 * passwd_verify (slow by design) runs on a worker thread, on copies.
 */
#ifndef SLUICE_PASSWD_H
#define SLUICE_PASSWD_H

#include <stddef.h>

struct passwd_db;

struct passwd_db *passwd_load(const char *path, char *err, size_t errsize);
void	passwd_free(struct passwd_db *db);
const char *passwd_hash(const struct passwd_db *db, const char *user);
size_t	passwd_count(const struct passwd_db *db);
int	passwd_verify(const char *hash, const char *pass);
int	passwd_make(const char *pass, char *dst, size_t dstsize);

#endif

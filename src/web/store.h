/*
 * store - the web tester's data in SQLite: reports (kept across restarts,
 * one permalink each), the result per tested address (for
 * web.target_cache), accounts and login sessions.
 *
 * Calls block briefly (a local database file, WAL mode); the web server
 * makes few. Strings returned in rows are owned by the row (store_row_free).
 */
#ifndef SLUICE_STORE_H
#define SLUICE_STORE_H

#include <stddef.h>
#include <time.h>

struct store;

struct store_row {
	char	*id, *target, *mode, *owner, *status, *verdict, *summary,
		*json;
	int	 port;
	time_t	 created, finished;
};

struct store *store_open(const char *path, char *err, size_t errsize);
void	store_close(struct store *s);
int	store_put(struct store *s, const struct store_row *r);
int	store_get(struct store *s, const char *id, struct store_row *r);
void	store_row_free(struct store_row *r);
int	store_history(struct store *s, const char *target, size_t limit,
	    void (*fn)(void *, const struct store_row *), void *arg);
int	store_recent(struct store *s, size_t limit,
	    void (*fn)(void *, const struct store_row *), void *arg);
int	store_tested_put(struct store *s, const char *addr, int port,
	    const char *mode, const char *report, time_t created,
	    const char *json, time_t expire);
int	store_tested_get(struct store *s, const char *addr, int port,
	    const char *mode, time_t since, char **report, char **json,
	    time_t *created);
int	store_user_put(struct store *s, const char *name, const char *hash);
int	store_user_del(struct store *s, const char *name);
char	*store_user_hash(struct store *s, const char *name);
int	store_users(struct store *s, void (*fn)(void *, const char *),
	    void *arg);
int	store_session_put(struct store *s, const char *token,
	    const char *user, const char *csrf, time_t expires);
int	store_session_get(struct store *s, const char *token, time_t now,
	    char *user, size_t usersize, char *csrf, size_t csrfsize);
int	store_session_del(struct store *s, const char *token);

#endif

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/str.h"
#include "util/xalloc.h"
#include "web/store.h"

struct store {
	sqlite3	*db;
};

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS reports (id TEXT PRIMARY KEY, "
    "  created INTEGER, finished INTEGER, target TEXT, port INTEGER, "
    "  mode TEXT, owner TEXT, status TEXT, verdict TEXT, summary TEXT, "
    "  json TEXT);"
    "CREATE INDEX IF NOT EXISTS reports_target ON reports(target, created);"
    "CREATE TABLE IF NOT EXISTS tested (addr TEXT, port INTEGER, "
    "  mode TEXT, report TEXT, created INTEGER, json TEXT);"
    "CREATE INDEX IF NOT EXISTS tested_addr ON tested(addr, port, mode, "
    "  created);"
    "CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY, hash TEXT, "
    "  created INTEGER);"
    "CREATE TABLE IF NOT EXISTS sessions (token TEXT PRIMARY KEY, "
    "  user TEXT, csrf TEXT, expires INTEGER);";

/* store_open - open (creating) the database; NULL with err */
struct store *
store_open(const char *path, char *err, size_t errsize)
{
	struct store *s = xcalloc(1, sizeof(*s));
	char *msg = NULL;

	if (sqlite3_open(path, &s->db) != SQLITE_OK) {
		snprintf(err, errsize, "%s: %s", path, s->db ?
		    sqlite3_errmsg(s->db) : "cannot open");
		sqlite3_close(s->db);
		free(s);
		return NULL;
	}
	sqlite3_busy_timeout(s->db, 2000);
	if (sqlite3_exec(s->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errsize, "%s: %s", path, msg ? msg : "schema");
		sqlite3_free(msg);
		sqlite3_close(s->db);
		free(s);
		return NULL;
	}
	return s;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	sqlite3_close(s->db);
	free(s);
}

/* prep - a statement, or NULL */
static sqlite3_stmt *
prep(struct store *s, const char *sql)
{
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	return st;
}

/* text - a column as an owned string ("" for NULL) */
static char *
text(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	return xstrdup(t ? (const char *)t : "");
}

/* store_put - insert or replace a report; 0 or -1 */
int
store_put(struct store *s, const struct store_row *r)
{
	sqlite3_stmt *st = prep(s, "INSERT OR REPLACE INTO reports (id, "
	    "created, finished, target, port, mode, owner, status, verdict, "
	    "summary, json) VALUES (?,?,?,?,?,?,?,?,?,?,?)");
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, r->id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)r->created);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)r->finished);
	sqlite3_bind_text(st, 4, r->target, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 5, r->port);
	sqlite3_bind_text(st, 6, r->mode, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 7, r->owner ? r->owner : "", -1,
	    SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 8, r->status, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 9, r->verdict ? r->verdict : "", -1,
	    SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 10, r->summary ? r->summary : "", -1,
	    SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 11, r->json ? r->json : "", -1,
	    SQLITE_TRANSIENT);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_finalize(st);
	return rc;
}

/* row - read a reports row */
static void
row(sqlite3_stmt *st, struct store_row *r)
{
	r->id = text(st, 0);
	r->created = (time_t)sqlite3_column_int64(st, 1);
	r->finished = (time_t)sqlite3_column_int64(st, 2);
	r->target = text(st, 3);
	r->port = sqlite3_column_int(st, 4);
	r->mode = text(st, 5);
	r->owner = text(st, 6);
	r->status = text(st, 7);
	r->verdict = text(st, 8);
	r->summary = text(st, 9);
	r->json = text(st, 10);
}

#define COLS	"id, created, finished, target, port, mode, owner, status, " \
		"verdict, summary, json"

/* store_get - a report by id; 0, or -1 if absent */
int
store_get(struct store *s, const char *id, struct store_row *r)
{
	sqlite3_stmt *st = prep(s, "SELECT " COLS " FROM reports WHERE id=?");
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW) {
		row(st, r);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

/* store_row_free - free a row's strings */
void
store_row_free(struct store_row *r)
{
	free(r->id);
	free(r->target);
	free(r->mode);
	free(r->owner);
	free(r->status);
	free(r->verdict);
	free(r->summary);
	free(r->json);
	memset(r, 0, sizeof(*r));
}

/* each - run a query and call fn for each row */
static int
each(sqlite3_stmt *st, void (*fn)(void *, const struct store_row *),
    void *arg)
{
	struct store_row r;
	int n = 0;

	while (sqlite3_step(st) == SQLITE_ROW) {
		row(st, &r);
		fn(arg, &r);
		store_row_free(&r);
		n++;
	}
	sqlite3_finalize(st);
	return n;
}

/* store_history - a target's reports, newest first */
int
store_history(struct store *s, const char *target, size_t limit,
    void (*fn)(void *, const struct store_row *), void *arg)
{
	sqlite3_stmt *st = prep(s, "SELECT " COLS " FROM reports WHERE "
	    "target=? ORDER BY created DESC LIMIT ?");

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, target, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
	return each(st, fn, arg);
}

/* store_recent - the newest reports */
int
store_recent(struct store *s, size_t limit,
    void (*fn)(void *, const struct store_row *), void *arg)
{
	sqlite3_stmt *st = prep(s, "SELECT " COLS " FROM reports ORDER BY "
	    "created DESC LIMIT ?");

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)limit);
	return each(st, fn, arg);
}

/*
 * store_tested_put - one address's result (the probe's JSON object for
 * it) from report, which started at created, for web.target_cache; rows
 * older than expire go at the same time.
 */
int
store_tested_put(struct store *s, const char *addr, int port,
    const char *mode, const char *report, time_t created, const char *json,
    time_t expire)
{
	sqlite3_stmt *st = prep(s, "DELETE FROM tested WHERE created < ?");
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)expire);
	(void)sqlite3_step(st);
	sqlite3_finalize(st);
	if ((st = prep(s, "INSERT INTO tested (addr, port, mode, report, "
	    "created, json) VALUES (?,?,?,?,?,?)")) == NULL)
		return -1;
	sqlite3_bind_text(st, 1, addr, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 2, port);
	sqlite3_bind_text(st, 3, mode, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, report, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)created);
	sqlite3_bind_text(st, 6, json, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_finalize(st);
	return rc;
}

/*
 * store_tested_get - the newest result for addr, port and mode made at
 * or after since: 0 with *report and *json (the caller frees both) and
 * *created; -1 if none.
 */
int
store_tested_get(struct store *s, const char *addr, int port,
    const char *mode, time_t since, char **report, char **json,
    time_t *created)
{
	sqlite3_stmt *st = prep(s, "SELECT report, json, created FROM tested "
	    "WHERE addr=? AND port=? AND mode=? AND created >= ? ORDER BY "
	    "created DESC LIMIT 1");
	int rc = -1;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, addr, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 2, port);
	sqlite3_bind_text(st, 3, mode, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)since);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*report = text(st, 0);
		*json = text(st, 1);
		*created = (time_t)sqlite3_column_int64(st, 2);
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

/* simple - run a statement binding text values; 0 or -1 */
static int
simple(struct store *s, const char *sql, const char *a, const char *b,
    const char *c, sqlite3_int64 d)
{
	sqlite3_stmt *st = prep(s, sql);
	int rc, n;

	if (st == NULL)
		return -1;
	n = sqlite3_bind_parameter_count(st);
	if (n >= 1)
		sqlite3_bind_text(st, 1, a, -1, SQLITE_TRANSIENT);
	if (n >= 2)
		sqlite3_bind_text(st, 2, b, -1, SQLITE_TRANSIENT);
	if (n >= 3)
		sqlite3_bind_text(st, 3, c, -1, SQLITE_TRANSIENT);
	if (n >= 4)
		sqlite3_bind_int64(st, 4, d);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	if (rc == 0 && sqlite3_changes(s->db) == 0 &&
	    strncmp(sql, "DELETE", 6) == 0)
		rc = 1;		/* nothing was there */
	sqlite3_finalize(st);
	return rc;
}

int
store_user_put(struct store *s, const char *name, const char *hash)
{
	char now[32];

	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	return simple(s, "INSERT OR REPLACE INTO users (name, hash, created) "
	    "VALUES (?,?,?)", name, hash, now, 0);
}

int
store_user_del(struct store *s, const char *name)
{
	simple(s, "DELETE FROM sessions WHERE user=?", name, NULL, NULL, 0);
	return simple(s, "DELETE FROM users WHERE name=?", name, NULL, NULL, 0);
}

/* store_user_hash - the user's password hash (caller frees), or NULL */
char *
store_user_hash(struct store *s, const char *name)
{
	sqlite3_stmt *st = prep(s, "SELECT hash FROM users WHERE name=?");
	char *h = NULL;

	if (st == NULL)
		return NULL;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW)
		h = text(st, 0);
	sqlite3_finalize(st);
	return h;
}

/* store_users - every user name */
int
store_users(struct store *s, void (*fn)(void *, const char *), void *arg)
{
	sqlite3_stmt *st = prep(s, "SELECT name FROM users ORDER BY name");
	int n = 0;

	if (st == NULL)
		return -1;
	while (sqlite3_step(st) == SQLITE_ROW) {
		fn(arg, (const char *)sqlite3_column_text(st, 0));
		n++;
	}
	sqlite3_finalize(st);
	return n;
}

int
store_session_put(struct store *s, const char *token, const char *user,
    const char *csrf, time_t expires)
{
	/* old sessions go whenever a new one comes */
	simple(s, "DELETE FROM sessions WHERE expires < ?4", NULL, NULL, NULL,
	    (sqlite3_int64)time(NULL));
	return simple(s, "INSERT INTO sessions (token, user, csrf, expires) "
	    "VALUES (?1,?2,?3,?4)", token, user, csrf,
	    (sqlite3_int64)expires);
}

/* store_session_get - the session's user and CSRF token; 0, -1 if none */
int
store_session_get(struct store *s, const char *token, time_t now, char *user,
    size_t usersize, char *csrf, size_t csrfsize)
{
	sqlite3_stmt *st = prep(s, "SELECT user, csrf FROM sessions WHERE "
	    "token=? AND expires > ?");
	int rc = -1;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, token, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)now);
	if (sqlite3_step(st) == SQLITE_ROW) {
		str_copy(user, usersize,
		    (const char *)sqlite3_column_text(st, 0));
		str_copy(csrf, csrfsize,
		    (const char *)sqlite3_column_text(st, 1));
		rc = 0;
	}
	sqlite3_finalize(st);
	return rc;
}

int
store_session_del(struct store *s, const char *token)
{
	return simple(s, "DELETE FROM sessions WHERE token=?", token, NULL,
	    NULL, 0) == -1 ? -1 : 0;
}

/*
 * dynlist - the allow and deny lists changed at run time (`sluice list`).
 *
 * Pure: no I/O, the caller passes the time; persistence is the server's
 * (server/lists.c). Entries match like the configuration's lists (client
 * address or network; sender, recipient and HELO patterns), may expire,
 * and carry a reason that is logged with every hit. An allow entry only
 * exempts from deny entries and blocking rules: it never grants relay.
 */
#ifndef SLUICE_DYNLIST_H
#define SLUICE_DYNLIST_H

#include <stddef.h>
#include <time.h>

#include "util/buf.h"

enum dl_kind { DL_ALLOW, DL_DENY };
enum dl_type { DL_CLIENT, DL_SENDER, DL_RECIPIENT, DL_HELO, DL_NTYPES };

struct dl_entry {
	enum dl_kind	 kind;
	enum dl_type	 type;
	char		 pattern[300];
	time_t		 expires;	/* 0: never */
	time_t		 added;
	char		 reason[200];
};

struct dynlist;

struct dynlist *dynlist_new(void);
void	dynlist_free(struct dynlist *d);
int	dynlist_add(struct dynlist *d, const struct dl_entry *e, char *err,
	    size_t errsize);
int	dynlist_del(struct dynlist *d, enum dl_kind kind, enum dl_type type,
	    const char *pattern);
size_t	dynlist_expire(struct dynlist *d, time_t now);
size_t	dynlist_count(const struct dynlist *d);
const struct dl_entry *dynlist_entry(const struct dynlist *d, size_t i);
const struct dl_entry *dynlist_match_client(const struct dynlist *d,
	    enum dl_kind kind, int family, const unsigned char *ip, time_t now);
const struct dl_entry *dynlist_match_addr(const struct dynlist *d,
	    enum dl_kind kind, enum dl_type type, const char *local,
	    const char *domain, time_t now);
int	dynlist_parse_type(const char *s, enum dl_type *t);
const char *dynlist_type_name(enum dl_type t);
void	dynlist_json(const struct dynlist *d, struct buf *b);

#endif

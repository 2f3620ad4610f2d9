#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp/tx.h"
#include "util/str.h"
#include "util/xalloc.h"

/* tx_new - a transaction for this sender; owned by the caller */
struct tx *
tx_new(const struct addr *sender, const struct mail_params *mp, time_t now)
{
	struct tx *t = xcalloc(1, sizeof(*t));

	t->sender = *sender;
	t->mp = *mp;
	t->start = now;
	return t;
}

/* tx_free - free a transaction; NULL is a no-op */
void
tx_free(struct tx *t)
{
	if (t == NULL)
		return;
	free(t->rcpts);
	free(t);
}

/* same_rcpt - would both recipients end up in the same place? */
static int
same_rcpt(const struct tx_rcpt *r, const struct verdict *v)
{
	if (r->cls != v->cls)
		return 0;
	if (r->cls == RCPT_LOCAL)
		return strcmp(r->mailbox, v->mailbox) == 0;	/* one copy */
	return r->addr.dtype == v->resolved.dtype &&
	    strcmp(r->addr.domain, v->resolved.domain) == 0 &&
	    strcmp(r->addr.local, v->resolved.local) == 0;
}

/*
 * tx_add_rcpt - add an accepted recipient from its verdict. Returns 0 when
 * added, 1 when it was already there (RCPT repeated, or another address of
 * the same local mailbox: answered 250, stored and delivered once).
 */
int
tx_add_rcpt(struct tx *t, const struct verdict *v)
{
	struct tx_rcpt *r;
	size_t i;

	for (i = 0; i < t->nrcpt; i++)
		if (same_rcpt(&t->rcpts[i], v))
			return 1;
	if (t->nrcpt == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 4;
		t->rcpts = xreallocarray(t->rcpts, t->cap, sizeof(*t->rcpts));
	}
	r = &t->rcpts[t->nrcpt++];
	memset(r, 0, sizeof(*r));
	r->addr = v->resolved;
	r->cls = v->cls;
	str_copy(r->mailbox, sizeof(r->mailbox), v->mailbox);
	str_copy(r->rule, sizeof(r->rule), v->rule);
	return 0;
}

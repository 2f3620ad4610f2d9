/*
 * pages - the web tester's HTML, built only with html.h (every value
 * escaped). A report page is rendered from the report's JSON, the same
 * for a test under way and one read back from the database.
 */
#ifndef SLUICE_PAGES_H
#define SLUICE_PAGES_H

#include "util/buf.h"
#include "util/jsonp.h"

struct page {
	const char	*title;
	const char	*user;		/* logged in as, or NULL */
	const char	*csrf;		/* for the logout form */
	int		 refresh;	/* a test is running: reload (no JS) */
};

void	page_begin(struct buf *b, const struct page *p);
void	page_end(struct buf *b);
void	page_form(struct buf *b, const char *csrf, int logged_in,
	    int delivery, const char *error, const char *target);
void	page_report(struct buf *b, const struct jval *job);
void	page_message(struct buf *b, const char *heading, const char *text);
void	page_login(struct buf *b, const char *csrf, const char *error);
void	page_row(struct buf *b, const char *id, const char *target,
	    const char *mode, const char *status, const char *verdict,
	    const char *when);

extern const char style_css[];
extern const char app_js[];

#endif

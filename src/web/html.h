/*
 * html - the one way sluice builds HTML: templates whose placeholders are
 * escaped unless marked raw.
 *
 *   {{name}}    the value, HTML-escaped (& < > " ' and control bytes,
 *               which become a visible \xNN), cut at its variable's cap
 *   {{{name}}}  the value as is: only for fragments this module built
 *
 * Handlers never paste strings into HTML themselves: every byte that came
 * from a tested server or a visitor goes through html_text() or a {{}}.
 */
#ifndef SLUICE_HTML_H
#define SLUICE_HTML_H

#include <stddef.h>

#include "util/buf.h"

struct tvar {
	const char	*name;
	const char	*value;
	size_t		 max;	/* 0: no cap */
};

void	html_text(struct buf *b, const char *s, size_t max);
int	html_render(struct buf *out, const char *tmpl, const struct tvar *v,
	    size_t n);
void	html_attr_url(struct buf *b, const char *s);

#endif

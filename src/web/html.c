#include <stdio.h>
#include <string.h>

#include "web/html.h"

/*
 * html_text - append s escaped for HTML text and attribute values; bytes
 * below 0x20 (but tab and newline), DEL, and invalid or non-ASCII bytes are
 * shown as \xNN so escape sequences and NULs are visible, never acted on.
 * At most max input bytes (0: all), then "...".
 */
void
html_text(struct buf *b, const char *s, size_t max)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; s[i] && (max == 0 || i < max); i++) {
		unsigned char c = (unsigned char)s[i];

		switch (c) {
		case '&': (void)buf_puts(b, "&amp;"); break;
		case '<': (void)buf_puts(b, "&lt;"); break;
		case '>': (void)buf_puts(b, "&gt;"); break;
		case '"': (void)buf_puts(b, "&quot;"); break;
		case '\'': (void)buf_puts(b, "&#39;"); break;
		case '\\': (void)buf_puts(b, "\\\\"); break;
		case '\n': case '\t': (void)buf_putc(b, c); break;
		default:
			if (c < 0x20 || c >= 0x7f)
				(void)buf_printf(b, "\\x%02x", c);
			else
				(void)buf_putc(b, c);
		}
	}
	if (s[i])
		(void)buf_puts(b, "...");
}

/* html_attr_url - a path component for href: [A-Za-z0-9._~-], else %XX */
void
html_attr_url(struct buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("._~-", c))
			(void)buf_putc(b, c);
		else
			(void)buf_printf(b, "%%%02X", c);
	}
}

/* find - the variable named by tmpl[0..n) */
static const struct tvar *
find(const struct tvar *v, size_t nv, const char *name, size_t n)
{
	size_t i;

	for (i = 0; i < nv; i++)
		if (strlen(v[i].name) == n && memcmp(v[i].name, name, n) == 0)
			return &v[i];
	return NULL;
}

/*
 * html_render - fill tmpl into out. An unknown placeholder is a bug in
 * our own template: -1 (and the output so far is useless).
 */
int
html_render(struct buf *out, const char *tmpl, const struct tvar *v,
    size_t nv)
{
	const char *p = tmpl;

	while (*p) {
		const char *open = strstr(p, "{{"), *close;
		const struct tvar *var;
		int raw;

		if (open == NULL) {
			(void)buf_puts(out, p);
			return 0;
		}
		(void)buf_append(out, p, (size_t)(open - p));
		raw = open[2] == '{';
		close = strstr(open, raw ? "}}}" : "}}");
		if (close == NULL)
			return -1;
		var = find(v, nv, open + 2 + raw, (size_t)(close - open - 2 -
		    raw));
		if (var == NULL)
			return -1;
		if (raw)
			(void)buf_puts(out, var->value ? var->value : "");
		else
			html_text(out, var->value, var->max);
		p = close + 2 + raw;
	}
	return 0;
}

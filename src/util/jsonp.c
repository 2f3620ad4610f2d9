#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/jsonp.h"
#include "util/xalloc.h"

#define JSONP_DEPTH	64

struct p {
	const char	*s;
	size_t		 n, i;
};

static struct jval *value(struct p *p, int depth);

/* ws - skip white space */
static void
ws(struct p *p)
{
	while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' ||
	    p->s[p->i] == '\n' || p->s[p->i] == '\r'))
		p->i++;
}

/* hex4 - the 4 hex digits of a \u escape at p->i; -1 if they are not */
static int
hex4(struct p *p, unsigned *v)
{
	size_t k;

	*v = 0;
	for (k = 0; k < 4; k++, p->i++) {
		char h;

		if (p->i >= p->n)
			return -1;
		h = p->s[p->i];
		if (h >= '0' && h <= '9')
			*v = *v * 16 + (unsigned)(h - '0');
		else if (h >= 'a' && h <= 'f')
			*v = *v * 16 + (unsigned)(h - 'a' + 10);
		else if (h >= 'A' && h <= 'F')
			*v = *v * 16 + (unsigned)(h - 'A' + 10);
		else
			return -1;
	}
	return 0;
}

/*
 * string - a JSON string at p->i (on its quote); NULL if malformed: a raw
 * control character (a NUL would cut the C string short), an unknown
 * escape or a \u without its 4 hex digits (RFC 8259 section 7).
 */
static char *
string(struct p *p)
{
	struct buf b;
	unsigned v;

	buf_init(&b, p->n + 1);
	p->i++;
	while (p->i < p->n && p->s[p->i] != '"') {
		char c = p->s[p->i++];

		if ((unsigned char)c < 0x20)
			goto bad;
		if (c == '\\') {
			if (p->i >= p->n)
				goto bad;
			switch (p->s[p->i++]) {
			case '"': c = '"'; break;
			case '\\': c = '\\'; break;
			case '/': c = '/'; break;
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'u':
				if (hex4(p, &v) == -1)
					goto bad;
				/* NUL would end the C string: '?' like
				 * other characters it cannot keep */
				c = v > 0 && v < 0x80 ? (char)v : '?';
				break;
			default:
				goto bad;
			}
		}
		(void)buf_putc(&b, c);
	}
	if (p->i >= p->n)
		goto bad;
	p->i++;
	if (b.data == NULL)
		return xstrdup("");
	return b.data;
bad:
	buf_release(&b);
	return NULL;
}

/* digits - skip decimal digits; how many there were */
static size_t
digits(struct p *p)
{
	size_t k = 0;

	while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
		p->i++;
		k++;
	}
	return k;
}

/*
 * number - a JSON number (RFC 8259 section 6) of at most 63 characters
 * into *d; -1 if there is none ("+1", "01", ".5", "1." and a NUL are not
 * numbers).
 */
static int
number(struct p *p, double *d)
{
	char tmp[64], *end;
	size_t a = p->i;

	if (p->i < p->n && p->s[p->i] == '-')
		p->i++;
	if (p->i < p->n && p->s[p->i] == '0')
		p->i++;
	else if (digits(p) == 0)
		return -1;
	if (p->i < p->n && p->s[p->i] == '.') {
		p->i++;
		if (digits(p) == 0)
			return -1;
	}
	if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
		p->i++;
		if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-'))
			p->i++;
		if (digits(p) == 0)
			return -1;
	}
	if (p->i - a >= sizeof(tmp))
		return -1;
	memcpy(tmp, p->s + a, p->i - a);
	tmp[p->i - a] = '\0';
	*d = strtod(tmp, &end);
	return *end == '\0' ? 0 : -1;
}

/* container - an array or object; its children chained */
static struct jval *
container(struct p *p, int depth, int obj)
{
	struct jval *v = xcalloc(1, sizeof(*v)), **tail = &v->kids;
	char close = obj ? '}' : ']';

	v->type = obj ? J_OBJ : J_ARR;
	p->i++;
	ws(p);
	if (p->i < p->n && p->s[p->i] == close) {
		p->i++;
		return v;
	}
	for (;;) {
		char *key = NULL;
		struct jval *k;

		ws(p);
		if (obj) {
			if (p->i >= p->n || p->s[p->i] != '"' ||
			    (key = string(p)) == NULL)
				goto bad;
			ws(p);
			if (p->i >= p->n || p->s[p->i] != ':') {
				free(key);
				goto bad;
			}
			p->i++;
		}
		if ((k = value(p, depth + 1)) == NULL) {
			free(key);
			goto bad;
		}
		k->key = key;
		*tail = k;
		tail = &k->next;
		ws(p);
		if (p->i < p->n && p->s[p->i] == ',') {
			p->i++;
			continue;
		}
		if (p->i < p->n && p->s[p->i] == close) {
			p->i++;
			return v;
		}
		goto bad;
	}
bad:
	jsonp_free(v);
	return NULL;
}

/* value - any value */
static struct jval *
value(struct p *p, int depth)
{
	struct jval *v;

	ws(p);
	if (p->i >= p->n || depth > JSONP_DEPTH)
		return NULL;
	switch (p->s[p->i]) {
	case '{':
		return container(p, depth, 1);
	case '[':
		return container(p, depth, 0);
	case '"': {
		char *s = string(p);

		if (s == NULL)
			return NULL;
		v = xcalloc(1, sizeof(*v));
		v->type = J_STR;
		v->str = s;
		return v;
	}
	default:
		break;
	}
	v = xcalloc(1, sizeof(*v));
	if (p->n - p->i >= 4 && strncmp(p->s + p->i, "true", 4) == 0) {
		v->type = J_BOOL;
		v->num = 1;
		p->i += 4;
	} else if (p->n - p->i >= 5 && strncmp(p->s + p->i, "false", 5) == 0) {
		v->type = J_BOOL;
		p->i += 5;
	} else if (p->n - p->i >= 4 && strncmp(p->s + p->i, "null", 4) == 0) {
		v->type = J_NULL;
		p->i += 4;
	} else if (number(p, &v->num) == 0)
		v->type = J_NUM;
	else {
		free(v);
		return NULL;
	}
	return v;
}

/* jsonp_parse - the value in text, or NULL if it is not JSON */
struct jval *
jsonp_parse(const char *text, size_t len)
{
	struct p p = { text, len, 0 };
	struct jval *v = value(&p, 0);

	ws(&p);
	if (v != NULL && p.i != p.n) {
		jsonp_free(v);
		return NULL;
	}
	return v;
}

/* jsonp_free - free a tree */
void
jsonp_free(struct jval *v)
{
	while (v != NULL) {
		struct jval *next = v->next;

		jsonp_free(v->kids);
		free(v->str);
		free(v->key);
		free(v);
		v = next;
	}
}

/* jsonp_get - the member key of an object, or NULL */
const struct jval *
jsonp_get(const struct jval *obj, const char *key)
{
	const struct jval *k;

	if (obj == NULL || obj->type != J_OBJ)
		return NULL;
	for (k = obj->kids; k; k = k->next)
		if (strcmp(k->key, key) == 0)
			return k;
	return NULL;
}

/* jsonp_str - a string member, or "" */
const char *
jsonp_str(const struct jval *obj, const char *key)
{
	const struct jval *v = jsonp_get(obj, key);

	return v && v->type == J_STR ? v->str : "";
}

/* jsonp_num - a number member, or 0 */
double
jsonp_num(const struct jval *obj, const char *key)
{
	const struct jval *v = jsonp_get(obj, key);

	return v && (v->type == J_NUM || v->type == J_BOOL) ? v->num : 0;
}
